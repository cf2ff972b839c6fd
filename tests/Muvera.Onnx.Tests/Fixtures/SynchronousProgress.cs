// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Onnx.Tests.Fixtures;

/// <summary>Calls back on the reporting thread (<see cref="Progress{T}"/> would post to the thread pool, so its
/// callbacks could arrive after the call returns).</summary>
internal sealed class SynchronousProgress(Action<int> report) : IProgress<int>
{
    public void Report(int value) => report(value);
}
