// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Muvera.Beir;

namespace Muvera.Cli.Tests;

/// <summary><c>muvera beir</c> end to end on the committed NFCorpus slice (300 documents, 30 queries) with the default
/// model. The slice is encoded once per machine: the embedding cache lives in a fixed temporary folder.</summary>
[TestFixture]
public sealed class BeirEvaluationTests
{
    /// <summary>The slice's exact Chamfer nDCG@10 stated in tests/testdata/nfcorpus-slice/SOURCE.md.</summary>
    private const double SliceExactNdcg = 0.4159;

    private static readonly string s_root = Path.Combine(Path.GetTempPath(), "muvera-cli-tests");
    private static readonly string s_cache = Path.Combine(s_root, "nfcorpus-slice-cache");

    private string _dataset = "";
    private string _output = "";
    private string _log = "";
    private EvaluationReport _report = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        // The slice keeps its qrels beside the corpus; a BEIR folder keeps them in qrels/<split>.tsv.
        string slice = Path.Combine(AppContext.BaseDirectory, "testdata", "nfcorpus-slice");
        _dataset = Path.Combine(s_root, "nfcorpus-slice-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(_dataset, "qrels"));
        File.Copy(Path.Combine(slice, "corpus.jsonl"), Path.Combine(_dataset, "corpus.jsonl"));
        File.Copy(Path.Combine(slice, "queries.jsonl"), Path.Combine(_dataset, "queries.jsonl"));
        File.Copy(Path.Combine(slice, "qrels-test.tsv"), Path.Combine(_dataset, "qrels", "test.tsv"));
        _output = Path.Combine(_dataset, "out");

        (int exitCode, string output, string error) = await CliRunner.RunAsync("beir", _dataset, "--cache", s_cache, "--out", _output,
            "--candidates", "10,100,300");
        _log = output;
        TestContext.Progress.WriteLine(output);
        Assert.That(exitCode, Is.Zero, error);
        _report = EvaluationReport.Load(Path.Combine(_output, "results.json"));
    }

    [OneTimeTearDown]
    public void OneTimeTearDown()
    {
        if (Directory.Exists(_dataset))
        {
            Directory.Delete(_dataset, recursive: true);
        }
    }

    [Test]
    public void Run_Slice_ReportDescribesTheRun()
    {
        Assert.Multiple(() =>
        {
            Assert.That(_report.Dataset, Does.StartWith("nfcorpus-slice"));
            Assert.That(_report.Split, Is.EqualTo("test"));
            Assert.That(_report.Documents, Is.EqualTo(300));
            Assert.That(_report.Queries, Is.EqualTo(30));
            Assert.That(_report.Model, Is.EqualTo("all-MiniLM-L6-v2"));
            Assert.That(_report.Index, Is.EqualTo("flat"));
            Assert.That(_report.Fde!.OutputDimension, Is.EqualTo(FdeOptions.CreateRecommended(384).OutputDimension));
            Assert.That(_report.Fde.Partitioning, Is.EqualTo("kmeans"), "learned partitions are the default");
            Assert.That(_report.Fde.DocumentAggregation, Is.EqualTo("normalized_average"));
            Assert.That(_report.FdeTrainSeconds, Is.GreaterThan(0));
            Assert.That(_report.Runs.Select(r => (r.Mode, r.Candidates)), Is.EqualTo(new (RunMode, int?)[]
            {
                (RunMode.Exact, null), (RunMode.Muvera, 10), (RunMode.Fde, 10), (RunMode.Muvera, 100), (RunMode.Fde, 100),
                (RunMode.Muvera, 300), (RunMode.Fde, 300), (RunMode.Pooled, null),
            }));
        });
    }

    [Test]
    public void Run_Slice_ExactReproducesSourceNdcg()
    {
        RunResult exact = _report.Runs.Single(r => r.Mode == RunMode.Exact);
        Assert.That(exact.NdcgAt10, Is.EqualTo(SliceExactNdcg).Within(0.0005));
        Assert.That(exact.CandidateRecallAt10, Is.Null);
    }

    [Test]
    public void Run_Slice_MuveraWithEveryDocumentEqualsExact()
    {
        RunResult exact = _report.Runs.Single(r => r.Mode == RunMode.Exact);
        RunResult all = _report.Runs.Single(r => r.Mode == RunMode.Muvera && r.Candidates == 300);
        Assert.That(all.CandidateRecallAt10, Is.EqualTo(1.0));
        Assert.That(all.NdcgAt10, Is.EqualTo(exact.NdcgAt10!.Value).Within(1e-9));
        double[] recalls = [.. _report.Runs.Where(r => r.Mode == RunMode.Muvera).Select(r => r.CandidateRecallAt10!.Value)];
        Assert.That(recalls, Is.Ordered.Ascending);
    }

    [Test]
    public void Run_Slice_TokensAndPooledVectorsNeverTakeTwoModelPasses()
    {
        // The cache folder is kept between test runs: the first run on a machine encodes, later ones read it (a cache
        // written by an earlier version holds pooled vectors in its own file, still read). One summary line says which.
        string[] corpusLines = [.. _log.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("encoding corpus: ", StringComparison.Ordinal) && l.Contains("model pass", StringComparison.Ordinal))];
        Assert.That(corpusLines, Has.Length.EqualTo(1));
        Assert.That(corpusLines[0], Is.AnyOf(
            "encoding corpus: one model pass for tokens and pooled vectors",
            "encoding corpus: tokens and pooled vectors from the cache, no model pass",
            "encoding corpus: token vectors from the cache, one model pass for pooled vectors",
            "encoding corpus: pooled vectors from an older cache file, no model pass for them"));
        Assert.That(_log, Does.Not.Contain("pooled document vectors"), "no second pass over the corpus for the pooled mode");
    }

    [Test]
    public void Run_Slice_PooledIsARealBaseline()
    {
        RunResult pooled = _report.Runs.Single(r => r.Mode == RunMode.Pooled);
        Assert.That(pooled.NdcgAt10, Is.InRange(0.2, 0.6));
        Assert.That(pooled.RecallAt100, Is.InRange(0.5, 1.0));
    }

    [Test]
    public void Run_Slice_WritesRunsAndPlots()
    {
        foreach (string name in new[] { "exact", "muvera-N10", "muvera-N100", "fde-N300", "pooled" })
        {
            string path = Path.Combine(_output, "runs", name + ".trec");
            TrecRun run = TrecRun.Load(path);
            Assert.That(run.QueryCount, Is.EqualTo(30), path);
            Assert.That(run.QueryIds.Max(q => run.GetDocuments(q).Count), Is.EqualTo(name == "muvera-N10" ? 10 : 100), path);
        }

        Assert.That(File.Exists(Path.Combine(_output, "quality-vs-qps.png")), Is.True);
        Assert.That(_log, Does.Contain("nDCG@10").And.Contain("pooled"));
    }
}
