// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Tests.Fixtures;

/// <summary>Calls back on the reporting thread (<see cref="Progress{T}"/> would post to the thread pool, so its
/// callbacks could arrive late and out of order).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
