// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Runtime.InteropServices;

namespace Muvera.Serialization;

/// <summary>Flushes files and directory entries to disk, so that a rename is durable before the next step relies on
/// it (POSIX needs an fsync of the directory; .NET has no API for it).</summary>
internal static partial class DirectorySync
{
    private const int ReadOnly = 0; // O_RDONLY: enough to open a directory for fsync on Linux

    /// <summary>fsyncs an existing file.</summary>
    public static void FlushFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>fsyncs a directory's entries on Linux (elsewhere a no-op: Windows commits renames with the file
    /// system's journal, and other systems are not supported targets).</summary>
    /// <exception cref="IOException">The directory could not be opened or flushed.</exception>
    public static void FlushDirectory(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int fd = Open(path, ReadOnly);
        if (fd < 0)
        {
            throw new IOException($"Could not open directory '{path}' to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"Could not flush directory '{path}' to disk (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc.so.6", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc.so.6", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
