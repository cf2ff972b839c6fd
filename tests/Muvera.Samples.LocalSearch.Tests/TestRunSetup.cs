// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Muvera.Samples.LocalSearch.Tests.Fixtures;

namespace Muvera.Samples.LocalSearch.Tests;

/// <summary>Releases the shared encoder and removes temporary folders after the last test of the assembly.</summary>
[SetUpFixture]
public sealed class TestRunSetup
{
    [OneTimeTearDown]
    public void CleanUp() => TestFolders.CleanUp();
}
