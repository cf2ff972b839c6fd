// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading;

namespace Muvera.Cli;

/// <summary>Adapts a library's <see cref="IProgress{T}"/> of int counts to a bar of long steps, synchronously (no
/// synchronization context), optionally offset so that several phases share one bar.</summary>
internal sealed class SyncProgress(IProgress<long> target, long offset = 0) : IProgress<int>
{
    public void Report(int value) => target.Report(offset + value);
}

/// <summary>Shows a <see cref="MuveraIndex"/> operation's progress on a bar of its items.</summary>
internal sealed class IndexProgress(IProgress<long> target, long offset = 0) : IProgress<MuveraProgress>
{
    public void Report(MuveraProgress value) => target.Report(offset + value.Completed);
}

/// <summary>A thread-safe step counter that reports to a bar.</summary>
internal sealed class StepCounter(IProgress<long> target)
{
    private long _done;

    public void Step() => target.Report(Interlocked.Increment(ref _done));
}
