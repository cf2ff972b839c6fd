// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Muvera.Gpu.Tests.Fixtures;

namespace Muvera.Gpu.Tests;

/// <summary>Disposes the shared CPU-accelerator scorers once every test of the assembly has run.</summary>
[SetUpFixture]
public sealed class CpuAcceleratorTeardown
{
    [OneTimeTearDown]
    public void DisposeScorers() => CpuAccelerator.DisposeAll();
}
