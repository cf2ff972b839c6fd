// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace Muvera.Serialization;

/// <summary>
/// The one-writer lock of an index directory: its <c>LOCK</c> file, opened with <see cref="FileShare.None"/> for the
/// whole save. On Linux and macOS .NET takes an exclusive advisory <c>flock</c> on the open file, on Windows the share
/// mode excludes other opens; either way the lock belongs to the open file and dies with the process, so a writer that
/// crashes never leaves the directory locked. The file itself stays (deleting a lock file while another process waits
/// on it would let two writers in); only its lock matters, never its existence.
/// </summary>
/// <remarks>The lock is advisory towards programs that do not take it, and .NET skips it when
/// <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c> is set or the file system (some network mounts) rejects <c>flock</c>.</remarks>
internal sealed class DirectoryLock : IDisposable
{
    public const string FileName = "LOCK";

    private static readonly byte[] s_banner =
        "Muvera index writer lock: a save holds this file open exclusively. Its content is not read.\n"u8.ToArray();

    private readonly FileStream _stream;

    private DirectoryLock(FileStream stream) => _stream = stream;

    /// <summary>Locks <paramref name="directory"/> (which must exist), waiting up to <paramref name="timeout"/>.</summary>
    /// <exception cref="MuveraIndexLockedException">Another writer held the lock for the whole timeout.</exception>
    public static DirectoryLock Acquire(string directory, TimeSpan timeout)
    {
        string path = Path.Combine(directory, FileName);
        long start = Stopwatch.GetTimestamp();
        int delay = 1;
        while (true)
        {
            IOException conflict;
            try
            {
                var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
                try
                {
                    if (stream.Length == 0)
                    {
                        stream.Write(s_banner);
                        stream.Flush();
                    }
                }
                catch
                {
                    stream.Dispose();
                    throw;
                }

                return new DirectoryLock(stream);
            }
            catch (IOException e) when (IsLockConflict(e))
            {
                conflict = e;
            }

            TimeSpan waited = Stopwatch.GetElapsedTime(start);
            if (timeout != Timeout.InfiniteTimeSpan && waited >= timeout)
            {
                throw new MuveraIndexLockedException(directory, timeout == TimeSpan.Zero ? TimeSpan.Zero : waited, conflict);
            }

            TimeSpan left = timeout == Timeout.InfiniteTimeSpan ? TimeSpan.MaxValue : timeout - waited;
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(delay, Math.Max(1, left.TotalMilliseconds))));
            delay = Math.Min(delay * 2, 50);
        }
    }

    public void Dispose() => _stream.Dispose();

    // The sharing error of an open that another open's lock refuses: EWOULDBLOCK from flock (11 on Linux, 35 on macOS),
    // ERROR_SHARING_VIOLATION or ERROR_LOCK_VIOLATION on Windows. Anything else (a missing directory, no permission) is
    // a real failure and propagates.
    private static bool IsLockConflict(IOException e) =>
        e.GetType() == typeof(IOException)
        && (OperatingSystem.IsWindows()
            ? (e.HResult & 0xFFFF) is 32 or 33
            : e.HResult is 11 or 35);
}
