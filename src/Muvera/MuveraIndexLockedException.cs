// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Globalization;
using System.IO;

namespace Muvera;

/// <summary>
/// <see cref="MuveraIndex.Save(string, MuveraSaveOptions)"/> could not lock an index directory because another writer,
/// in this or another process, was saving into it (for longer than <see cref="MuveraSaveOptions.LockTimeout"/>). Nothing
/// was written; the directory still holds the other writer's index. Retry later, or give the save a lock timeout.
/// </summary>
public sealed class MuveraIndexLockedException : IOException
{
    /// <summary>Creates an exception with a default message.</summary>
    public MuveraIndexLockedException()
        : this("Another writer is saving into the index directory.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public MuveraIndexLockedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause, or <see langword="null"/>.</param>
    public MuveraIndexLockedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a directory that stayed locked.</summary>
    /// <param name="directory">The index directory (full path).</param>
    /// <param name="waited">How long the save waited.</param>
    /// <param name="innerException">The operating system's sharing error, or <see langword="null"/>.</param>
    public MuveraIndexLockedException(string directory, TimeSpan waited, Exception? innerException)
        : base(Describe(directory, waited), innerException)
    {
        Directory = directory;
    }

    /// <summary>The index directory that was locked, or <see langword="null"/> when not given.</summary>
    public string? Directory { get; }

    private static string Describe(string directory, TimeSpan waited) =>
        $"Another writer (in this or another process) is saving into the index directory '{directory}': its LOCK file " +
        (waited < TimeSpan.FromMilliseconds(1)
            ? "is locked, and this save does not wait (MuveraSaveOptions.LockTimeout is zero). "
            : $"stayed locked for the {waited.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture)} ms this save waited (MuveraSaveOptions.LockTimeout). ") +
        "Nothing was written. Save again later, or give the save a lock timeout to wait for the other writer.";
}
