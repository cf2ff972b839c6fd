// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;

namespace Muvera.Serialization;

/// <summary>Writes a file so that a crash never leaves a torn one: into <c>path + ".tmp"</c>, flushed to disk, then
/// renamed over the path (the old file, if any, stays intact until the rename). On failure the temporary file is
/// removed and the exception propagates.</summary>
internal static class AtomicFile
{
    public static void Write(string path, int bufferSize, Action<Stream> write)
    {
        string temporary = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original failure is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Receives one piece of a byte stream (a writer or a checksum).</summary>
internal delegate void ByteSink(ReadOnlySpan<byte> bytes);
