// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.IO;

namespace Muvera.Beir.Tests.Fixtures;

/// <summary>Paths inside the repository, found by walking up from the test assembly to Muvera.sln.</summary>
internal static class RepositoryPaths
{
    public static string Root
    {
        get
        {
            for (DirectoryInfo? directory = new(TestContext.CurrentContext.TestDirectory); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Muvera.sln")))
                {
                    return directory.FullName;
                }
            }

            throw new DirectoryNotFoundException($"No Muvera.sln above {TestContext.CurrentContext.TestDirectory}.");
        }
    }

    /// <summary>samples/data/nfcorpus: the complete BEIR NFCorpus (see its SOURCE.md).</summary>
    public static string NfCorpus => Path.Combine(Root, "samples", "data", "nfcorpus");
}
