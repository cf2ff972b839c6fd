// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Muvera.Samples.LocalSearch.Tests.Fixtures;

namespace Muvera.Samples.LocalSearch.Tests;

/// <summary>Incremental indexing of a folder: what is encoded again, what is removed, and what survives a cancelled or
/// interrupted run.</summary>
[TestFixture]
public sealed class LocalIndexerTests
{
    [Test]
    public void Run_NewFolder_EncodesEveryFileAndSavesIndexBesideSidecar()
    {
        IndexReport report = TestFolders.BaselineReport;
        var location = new LocalIndexLocation(TestFolders.Baseline);
        IndexState state = IndexState.Load(location.StateFile)!;
        using MuveraIndex index = MuveraIndex.Load(location.IndexDirectory);
        Assert.Multiple(() =>
        {
            Assert.That(report.FilesScanned, Is.EqualTo(TestFolders.DocumentCount));
            Assert.That(report.FilesAdded, Is.EqualTo(TestFolders.DocumentCount));
            Assert.That(report.PassagesEncoded, Is.EqualTo(state.Files.Sum(f => f.Passages.Count)));
            Assert.That(report.PassagesTotal, Is.EqualTo(report.PassagesEncoded));
            Assert.That(report.Warnings, Is.Empty);
            Assert.That(state.Files.Select(f => f.Path), Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
            Assert.That(index.GetIds(), Is.EquivalentTo(state.Files.SelectMany(f => f.Passages).Select(p => p.Id)));
            Assert.That(state.Files.All(f => f.Sha256.Length == 64 && f.Passages.Count > 0), Is.True);
            Assert.That(index.Options.TokenStorage, Is.EqualTo(LocalIndexer.PassageTokenStorage), "residual tokens, trained on the first batch");
            Assert.That(index.IsTokenStorageTrained, Is.True);
        });
        TestContext.Out.WriteLine($"indexed {report.FilesScanned} files, {report.PassagesEncoded} passages in {report.Elapsed.TotalSeconds:F2} s");
    }

    [Test]
    public void Run_NothingChanged_EncodesNothingAndWritesNothing()
    {
        string folder = TestFolders.CopyOfBaseline();
        var location = new LocalIndexLocation(folder);
        DateTime sidecarTime = File.GetLastWriteTimeUtc(location.StateFile);

        IndexReport report = new LocalIndexer(location, TestFolders.Encoder).Run(null, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(report.FilesUnchanged, Is.EqualTo(TestFolders.DocumentCount));
            Assert.That(report.FilesTouched, Is.Zero);
            Assert.That(report.PassagesEncoded, Is.Zero);
            Assert.That(report.Saved, Is.False);
            Assert.That(File.GetLastWriteTimeUtc(location.StateFile), Is.EqualTo(sidecarTime));
        });
    }

    [Test]
    public void Run_OneChangedOneDeletedOneAdded_EncodesOnlyThoseAndForgetsTheDeleted()
    {
        string folder = TestFolders.CopyOfBaseline();
        var location = new LocalIndexLocation(folder);
        File.AppendAllText(Path.Combine(folder, "thread-safety.md"),
            "\nA separate paragraph about lighthouses: the keeper trims the lamp wick at dusk and logs passing schooners.\n");
        File.Delete(Path.Combine(folder, "gpu-reranking.md"));
        Directory.CreateDirectory(Path.Combine(folder, "notes"));
        File.WriteAllText(Path.Combine(folder, "notes", "sourdough.txt"),
            "Sourdough bread rises with a starter of wild yeast and lactic acid bacteria.\n\nFeed the starter flour and water daily and bake when it doubles.\n");

        IndexReport report = new LocalIndexer(location, TestFolders.Encoder).Run(null, CancellationToken.None);

        IndexState state = IndexState.Load(location.StateFile)!;
        int encodedPassages = state.Files.Where(f => f.Path is "thread-safety.md" or "notes/sourdough.txt").Sum(f => f.Passages.Count);
        int oldPassages = IndexState.Load(new LocalIndexLocation(TestFolders.Baseline).StateFile)!.Files
            .Where(f => f.Path is "thread-safety.md" or "gpu-reranking.md").Sum(f => f.Passages.Count);
        Assert.Multiple(() =>
        {
            Assert.That(report.FilesScanned, Is.EqualTo(TestFolders.DocumentCount));
            Assert.That(report.FilesAdded, Is.EqualTo(1));
            Assert.That(report.FilesChanged, Is.EqualTo(1));
            Assert.That(report.FilesRemoved, Is.EqualTo(1));
            Assert.That(report.FilesUnchanged, Is.EqualTo(TestFolders.DocumentCount - 2));
            Assert.That(report.FilesRepaired, Is.Zero);
            Assert.That(report.PassagesEncoded, Is.EqualTo(encodedPassages));
            Assert.That(report.PassagesRemoved, Is.EqualTo(oldPassages));
            Assert.That(state.Files.Select(f => f.Path), Does.Contain("notes/sourdough.txt").And.Not.Contain("gpu-reranking.md"));
        });

        using LocalSearcher searcher = LocalSearcher.Open(location, TestFolders.Encoder);
        var deletedTopic = searcher.Search("rerank candidates on an NVIDIA graphics card with CUDA", searcher.PassageCount);
        Assert.Multiple(() =>
        {
            Assert.That(deletedTopic, Has.Count.EqualTo(searcher.PassageCount), "every live passage is returned when k = count");
            Assert.That(deletedTopic.Select(h => h.Path), Has.None.EqualTo("gpu-reranking.md"));
            Assert.That(searcher.Search("wild yeast starter for baking bread", 1)[0].Path, Is.EqualTo("notes/sourdough.txt"));
            Assert.That(searcher.Search("lighthouse keeper trims the lamp", 1)[0].Path, Is.EqualTo("thread-safety.md"));
        });
    }

    [Test]
    public void Run_TimeChangedContentSame_HashMatchesAndNothingIsEncoded()
    {
        string folder = TestFolders.CopyOfBaseline();
        File.SetLastWriteTimeUtc(Path.Combine(folder, "licensing.md"), DateTime.UtcNow.AddMinutes(5));

        IndexReport report = new LocalIndexer(new LocalIndexLocation(folder), TestFolders.Encoder).Run(null, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(report.FilesTouched, Is.EqualTo(1));
            Assert.That(report.FilesChanged, Is.Zero);
            Assert.That(report.PassagesEncoded, Is.Zero);
            Assert.That(report.Saved, Is.True, "the sidecar records the new time");
        });
        IndexReport again = new LocalIndexer(new LocalIndexLocation(folder), TestFolders.Encoder).Run(null, CancellationToken.None);
        Assert.That(again.FilesTouched, Is.Zero, "the new time was recorded, so the file is not hashed again");
    }

    [Test]
    public void Run_ChangedFiles_AddStageReportsFromTheIndexAreMonotoneAndEndAtThePassagesEncoded()
    {
        string folder = TestFolders.CopyOfBaseline();
        var location = new LocalIndexLocation(folder);
        foreach (string file in Directory.GetFiles(folder, "*.md"))
        {
            File.AppendAllText(file, "\nRevised again.\n");
        }

        var adds = new List<IndexProgress>();
        int caller = Environment.CurrentManagedThreadId;
        var threads = new HashSet<int>();
        IndexReport report = new LocalIndexer(location, TestFolders.Encoder).Run(new SyncProgress(p =>
        {
            if (p.Stage == LocalIndexer.AddStage)
            {
                adds.Add(p);
                threads.Add(Environment.CurrentManagedThreadId);
            }
        }), CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(report.PassagesEncoded, Is.GreaterThan(0));
            Assert.That(adds, Is.Not.Empty);
            Assert.That(adds.Select(p => p.Done), Is.Ordered.Ascending);
            Assert.That(adds.Select(p => p.Total), Is.All.EqualTo(report.PassagesEncoded));
            Assert.That(adds[^1].Done, Is.EqualTo(report.PassagesEncoded));
            Assert.That(threads, Is.EquivalentTo(new[] { caller }), "reported synchronously on the indexing thread");
        });
    }

    [Test]
    public void Run_CancelledWhileEncoding_PreviousIndexAndSidecarUnchangedAndSearchable()
    {
        string folder = TestFolders.CopyOfBaseline();
        var location = new LocalIndexLocation(folder);
        byte[] sidecar = File.ReadAllBytes(location.StateFile);
        string current = File.ReadAllText(Path.Combine(location.IndexDirectory, "CURRENT"));
        foreach (string file in Directory.GetFiles(folder, "*.md"))
        {
            File.AppendAllText(file, "\nRevised.\n");
        }

        using var cancellation = new CancellationTokenSource();
        int encodeReports = 0;
        var progress = new SyncProgress(p =>
        {
            if (p.Stage == LocalIndexer.EncodeStage && p.Done > 0 && Interlocked.Increment(ref encodeReports) == 1)
            {
                cancellation.Cancel();
            }
        });

        Assert.That(() => new LocalIndexer(location, TestFolders.Encoder).Run(progress, cancellation.Token),
            Throws.InstanceOf<OperationCanceledException>());

        Assert.Multiple(() =>
        {
            Assert.That(encodeReports, Is.GreaterThan(0), "cancelled in the middle of encoding");
            Assert.That(File.ReadAllBytes(location.StateFile), Is.EqualTo(sidecar));
            Assert.That(File.ReadAllText(Path.Combine(location.IndexDirectory, "CURRENT")), Is.EqualTo(current));
            Assert.That(Directory.GetDirectories(location.IndexDirectory), Has.Length.EqualTo(1));
        });
        using LocalSearcher searcher = LocalSearcher.Open(location, TestFolders.Encoder);
        Assert.Multiple(() =>
        {
            Assert.That(searcher.Warnings, Is.Empty);
            Assert.That(searcher.PassageCount, Is.EqualTo(TestFolders.BaselineReport.PassagesTotal));
            Assert.That(searcher.Search("product quantization codebooks and inverted lists", 1)[0].Path, Is.EqualTo("faiss-backend.md"));
        });
    }

    [Test]
    public void Run_SidecarOlderThanIndex_RepairsOnlyTheFilesTheyDisagreeOn()
    {
        // A crash after MuveraIndex.Save and before the sidecar's rename: the index has the new version of a file, the
        // sidecar the old one.
        string folder = TestFolders.CopyOfBaseline();
        var location = new LocalIndexLocation(folder);
        byte[] oldSidecar = File.ReadAllBytes(location.StateFile);
        File.AppendAllText(Path.Combine(folder, "calibration.md"), "\nCalibrate again after large changes to the corpus.\n");
        new LocalIndexer(location, TestFolders.Encoder).Run(null, CancellationToken.None);
        File.WriteAllBytes(location.StateFile, oldSidecar);

        using (LocalSearcher stale = LocalSearcher.Open(location, TestFolders.Encoder))
        {
            var hits = stale.Search("calibrate the number of candidates for a target recall", stale.PassageCount);
            Assert.Multiple(() =>
            {
                Assert.That(stale.Warnings, Has.Some.Contains("disagree"));
                Assert.That(hits.Select(h => h.Path), Has.None.EqualTo("calibration.md"), "passages the sidecar cannot describe are not shown");
            });
        }

        IndexReport report = new LocalIndexer(location, TestFolders.Encoder).Run(null, CancellationToken.None);

        using LocalSearcher searcher = LocalSearcher.Open(location, TestFolders.Encoder);
        Assert.Multiple(() =>
        {
            Assert.That(report.FilesRepaired, Is.EqualTo(1));
            Assert.That(report.FilesAdded + report.FilesChanged + report.FilesRemoved, Is.Zero);
            Assert.That(report.FilesUnchanged, Is.EqualTo(TestFolders.DocumentCount - 1));
            Assert.That(searcher.Warnings, Is.Empty);
            Assert.That(searcher.Search("calibrate the number of candidates for a target recall", 1)[0].Path, Is.EqualTo("calibration.md"));
        });
    }

    [Test]
    public void Run_BinaryAndInvalidUtf8Files_SkippedWithWarnings()
    {
        string folder = TestFolders.CopyOfBaseline();
        File.WriteAllBytes(Path.Combine(folder, "image.txt"), [0x89, 0x50, 0x4E, 0x47, 0x00, 0x00, 0x1A, 0x0A]);
        File.WriteAllBytes(Path.Combine(folder, "latin1.md"), [0x63, 0x61, 0x66, 0xE9, 0x20, 0x6F, 0x6C, 0xE9]);
        File.WriteAllText(Path.Combine(folder, "empty.md"), "\n\n   \n");

        IndexReport report = new LocalIndexer(new LocalIndexLocation(folder), TestFolders.Encoder).Run(null, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(report.FilesSkipped, Is.EqualTo(2));
            Assert.That(report.Warnings, Has.Some.StartsWith("image.txt: skipped").And.Some.StartsWith("latin1.md: skipped"));
            Assert.That(report.FilesAdded, Is.EqualTo(1), "the empty file is recorded, with no passage");
            Assert.That(report.PassagesEncoded, Is.Zero);
        });
    }

    [Test]
    public void Run_IndexInsideFolderAndHiddenFiles_NotIndexed()
    {
        string folder = TestFolders.CreateTemporaryFolder();
        File.WriteAllText(Path.Combine(folder, "visible.md"), "The only file that is indexed.");
        File.WriteAllText(Path.Combine(folder, "other.json"), "{ \"not\": \"text or markdown\" }");
        File.WriteAllText(Path.Combine(folder, ".hidden.md"), "A hidden file.");
        Directory.CreateDirectory(Path.Combine(folder, ".git"));
        File.WriteAllText(Path.Combine(folder, ".git", "notes.txt"), "Inside a hidden folder.");
        Directory.CreateDirectory(Path.Combine(folder, "custom-index"));
        File.WriteAllText(Path.Combine(folder, "custom-index", "stray.md"), "A file inside the index directory.");
        var location = new LocalIndexLocation(folder, Path.Combine(folder, "custom-index"));

        IndexReport report = new LocalIndexer(location, TestFolders.Encoder).Run(null, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(report.FilesScanned, Is.EqualTo(1));
            Assert.That(IndexState.Load(location.StateFile)!.Files.Select(f => f.Path), Is.EqualTo(new[] { "visible.md" }));
            Assert.That(Directory.Exists(Path.Combine(folder, LocalIndexLocation.DefaultDirectoryName)), Is.False);
        });
    }

    [Test]
    public void Run_EmptyFolder_SavesAnEmptyIndexThatSearchesToNothing()
    {
        var location = new LocalIndexLocation(TestFolders.CreateTemporaryFolder());

        IndexReport report = new LocalIndexer(location, TestFolders.Encoder).Run(null, CancellationToken.None);

        using LocalSearcher searcher = LocalSearcher.Open(location, TestFolders.Encoder);
        Assert.Multiple(() =>
        {
            Assert.That(report.FilesScanned, Is.Zero);
            Assert.That(report.Saved, Is.True);
            Assert.That(searcher.Search("anything", 5), Is.Empty);
        });

        // The saved index is empty and untrained: the next run with files trains it on its first batch.
        TestFolders.CopyDirectory(TestFolders.Documents, location.Folder);
        IndexReport second = new LocalIndexer(location, TestFolders.Encoder).Run(null, CancellationToken.None);
        using MuveraIndex index = MuveraIndex.Load(location.IndexDirectory);
        Assert.Multiple(() =>
        {
            Assert.That(second.PassagesTotal, Is.EqualTo(TestFolders.BaselineReport.PassagesTotal));
            Assert.That(index.Options.TokenStorage, Is.EqualTo(LocalIndexer.PassageTokenStorage));
            Assert.That(index.IsTokenStorageTrained, Is.True);
        });
    }

    [Test]
    public void Run_FirstBatchTooSmallToTrain_KeepsFloat16TokensAsTheIndexGrows()
    {
        string folder = TestFolders.CreateTemporaryFolder();
        File.WriteAllText(Path.Combine(folder, "short.md"), "Too few tokens to train a residual codebook.");
        var location = new LocalIndexLocation(folder);

        new LocalIndexer(location, TestFolders.Encoder).Run(null, CancellationToken.None);
        using (MuveraIndex small = MuveraIndex.Load(location.IndexDirectory))
        {
            Assert.That(small.Options.TokenElementType, Is.EqualTo(StoreElementType.Float16));
            Assert.That(small.Count, Is.EqualTo(1));
        }

        TestFolders.CopyDirectory(TestFolders.Documents, folder);
        new LocalIndexer(location, TestFolders.Encoder).Run(null, CancellationToken.None);
        using MuveraIndex grown = MuveraIndex.Load(location.IndexDirectory);
        using LocalSearcher searcher = LocalSearcher.Open(location, TestFolders.Encoder);
        Assert.Multiple(() =>
        {
            Assert.That(grown.Options.TokenElementType, Is.EqualTo(StoreElementType.Float16));
            Assert.That(grown.Count, Is.EqualTo(TestFolders.BaselineReport.PassagesTotal + 1));
            Assert.That(searcher.Search("residual codebook", 5), Is.Not.Empty);
        });
    }

    private sealed class SyncProgress(Action<IndexProgress> report) : IProgress<IndexProgress>
    {
        public void Report(IndexProgress value) => report(value);
    }
}
