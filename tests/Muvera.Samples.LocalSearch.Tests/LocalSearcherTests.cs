// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Muvera.Samples.LocalSearch.Tests.Fixtures;

namespace Muvera.Samples.LocalSearch.Tests;

/// <summary>Search over the indexed test documents: the right file first, line ranges, snippets and highlights.</summary>
[TestFixture]
public sealed class LocalSearcherTests
{
    private LocalSearcher _searcher = null!;

    /// <summary>Queries a user would type, each about one page; the page must be the first hit. They paraphrase the page
    /// rather than quote it, and each won by a clear margin when the list was written.</summary>
    private static IEnumerable<TestCaseData> Queries()
    {
        yield return new TestCaseData("ball carving clusters query tokens with a threshold before reranking", "ball-carving.md");
        yield return new TestCaseData("crash during save leaves the previous version loadable", "persistence.md");
        yield return new TestCaseData("calibrate the number of candidates for a target recall", "calibration.md");
        yield return new TestCaseData("HNSW graph connectivity M and search expansion ef", "hnsw-usearch.md");
        yield return new TestCaseData("product quantization codebooks and inverted lists", "faiss-backend.md");
        yield return new TestCaseData("which license covers the default model", "licensing.md");
        yield return new TestCaseData("random hyperplanes assign each token to a SimHash partition", "simhash-partitions.md");
        yield return new TestCaseData("rerank candidates on an NVIDIA graphics card with CUDA", "gpu-reranking.md");
        yield return new TestCaseData("nDCG at 10 with qrels from a BEIR dataset", "beir-evaluation.md");
        yield return new TestCaseData("reclaim the space of deleted documents by compaction", "deletes-and-updates.md");
        yield return new TestCaseData("install the dotnet global tool and list its commands", "command-line-tool.md");
        yield return new TestCaseData("WordPiece splits words into pieces with a ## prefix", "tokenization.md");
    }

    [OneTimeSetUp]
    public void OpenBaseline() => _searcher = LocalSearcher.Open(new LocalIndexLocation(TestFolders.Baseline), TestFolders.Encoder);

    [OneTimeTearDown]
    public void Close() => _searcher?.Dispose();

    [TestCaseSource(nameof(Queries))]
    public void Search_TopicQuery_ExpectedFileRanksFirst(string query, string expected)
    {
        IReadOnlyList<LocalSearchHit> hits = _searcher.Search(query, 3);
        TestContext.Out.WriteLine(string.Join("\n", hits.Select(h => $"{h.Rank}. {h.Path}:{h.StartLine}-{h.EndLine} {h.Score:F2}")));
        Assert.That(hits[0].Path, Is.EqualTo(expected));
    }

    [Test]
    public void Search_Hit_LineRangeHoldsThePassageAndScoresDescend()
    {
        IReadOnlyList<LocalSearchHit> hits = _searcher.Search("product quantization codebooks and inverted lists", 5);
        string[] lines = File.ReadAllLines(Path.Combine(TestFolders.Baseline, hits[0].Path));
        string range = string.Join("\n", lines[(hits[0].StartLine - 1)..hits[0].EndLine]);
        string snippetWords = hits[0].Snippet.Replace("…", "", StringComparison.Ordinal).Trim();
        Assert.Multiple(() =>
        {
            Assert.That(hits.Select(h => h.Rank), Is.EqualTo(Enumerable.Range(1, hits.Count)));
            Assert.That(hits.Select(h => h.Score), Is.Ordered.Descending);
            Assert.That(hits[0].StartLine, Is.GreaterThanOrEqualTo(1).And.LessThanOrEqualTo(hits[0].EndLine));
            Assert.That(Collapse(range), Does.Contain(Collapse(snippetWords)));
        });
    }

    [Test]
    public void Search_Hit_HighlightsTheWordsTheQueryTokensMatchBest()
    {
        LocalSearchHit hit = _searcher.Search("ball carving", 1)[0];
        string[] highlighted = [.. hit.Highlights.Select(h => hit.Snippet.Substring(h.Start, h.Length).ToLowerInvariant())];
        TestContext.Out.WriteLine(hit.Snippet);
        TestContext.Out.WriteLine(string.Join(", ", hit.Highlights.Select(h => $"{hit.Snippet.Substring(h.Start, h.Length)} <- {h.Term}")));
        Assert.Multiple(() =>
        {
            Assert.That(hit.Path, Is.EqualTo("ball-carving.md"));
            Assert.That(highlighted, Is.EquivalentTo(new[] { "ball", "carving" }));
            Assert.That(hit.Highlights.Select(h => h.Term), Is.EquivalentTo(new[] { "ball", "carving" }));
            Assert.That(hit.Highlights.Zip(hit.Highlights.Skip(1)).All(p => p.First.Start + p.First.Length <= p.Second.Start), Is.True, "in order, not overlapping");
            Assert.That(hit.Snippet.Length, Is.LessThanOrEqualTo(LocalSearcher.SnippetCharacters + 4));
        });
    }

    [Test]
    public void Search_RareWord_SnippetMovesToAndHighlightsIt()
    {
        // "nprobe" is in the last paragraph of faiss-backend.md: the snippet window moves there.
        LocalSearchHit hit = _searcher.Search("nprobe", 1)[0];
        Assert.Multiple(() =>
        {
            Assert.That(hit.Path, Is.EqualTo("faiss-backend.md"));
            Assert.That(hit.Highlights.Select(h => hit.Snippet.Substring(h.Start, h.Length)), Does.Contain("nprobe"));
        });
    }

    [Test]
    public void Search_StopWordsOnly_NoHighlightsButStillResults()
    {
        IReadOnlyList<LocalSearchHit> hits = _searcher.Search("what is the", 2);
        Assert.Multiple(() =>
        {
            Assert.That(hits, Has.Count.EqualTo(2));
            Assert.That(hits.SelectMany(h => h.Highlights), Is.Empty);
        });
    }

    [Test]
    public void Search_InvalidArguments_Throw()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => _searcher.Search("   ", 5), Throws.ArgumentException);
            Assert.That(() => _searcher.Search("faiss", 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => _searcher.Search("faiss", 5, candidates: 4), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void Search_ExplicitCandidates_SameTopHitAsDefault()
    {
        string query = "HNSW graph connectivity M and search expansion ef";
        Assert.That(_searcher.Search(query, 1, candidates: 10)[0].Path, Is.EqualTo(_searcher.Search(query, 1)[0].Path));
    }

    [Test]
    public void Open_FolderWithoutIndex_ThrowsFileNotFound()
    {
        string folder = TestFolders.CreateTemporaryFolder();
        Assert.That(() => LocalSearcher.Open(new LocalIndexLocation(folder), TestFolders.Encoder),
            Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("run the index command"));
    }

    private static string Collapse(string text) => string.Join(" ", text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
