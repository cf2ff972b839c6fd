// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading;

namespace Muvera;

/// <summary>Settings of <see cref="MuveraIndex.Save(string, MuveraSaveOptions)"/>.</summary>
public sealed record MuveraSaveOptions
{
    private readonly TimeSpan _lockTimeout = TimeSpan.Zero;

    /// <summary>How long a save waits for another writer (in this or another process) to finish with the directory
    /// before it throws <see cref="MuveraIndexLockedException"/>. Default <see cref="TimeSpan.Zero"/>: fail at once;
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits as long as it takes.</summary>
    /// <remarks>The wait polls the directory's <c>LOCK</c> file every few milliseconds (at most 50 ms apart); the lock
    /// is released when the other writer's save returns, or by the operating system when its process ends.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative (other than
    /// <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan LockTimeout
    {
        get => _lockTimeout;
        init
        {
            if (value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentOutOfRangeException(nameof(LockTimeout), value,
                    $"LockTimeout must be zero or positive, or Timeout.InfiniteTimeSpan; got {value}.");
            }

            _lockTimeout = value;
        }
    }
}
