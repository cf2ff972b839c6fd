// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Muvera.Beir;

namespace Muvera.Cli.Tests;

[TestFixture]
public sealed class SyntheticBenchmarkTests
{
    private string _output = "";

    [SetUp]
    public void SetUp() => _output = Path.Combine(Path.GetTempPath(), "muvera-cli-tests", "synthetic-" + Guid.NewGuid().ToString("N"));

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_output))
        {
            Directory.Delete(_output, recursive: true);
        }
    }

    [Test]
    public async Task Run_TinyCorpus_WritesSaneResults()
    {
        (int exitCode, string output, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "300", "--tokens", "8", "--dim", "16",
            "--queries", "10", "--candidates", "10,50,300", "--index", "flat", "--token-storage", "f32", "--out", _output);
        TestContext.Out.WriteLine(output);
        Assert.That(exitCode, Is.Zero, error);

        EvaluationReport report = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        Assert.Multiple(() =>
        {
            Assert.That(report.Dataset, Is.EqualTo("synthetic"));
            Assert.That(report.Split, Is.Null);
            Assert.That(report.Model, Is.Null);
            Assert.That(report.Documents, Is.EqualTo(300));
            Assert.That(report.Queries, Is.EqualTo(10));
            Assert.That(report.Index, Is.EqualTo("flat"));
            Assert.That(report.Fde!.Repetitions, Is.EqualTo(20));
            Assert.That(report.BuildSeconds, Is.GreaterThan(0));
            Assert.That(report.MemoryBytes, Is.GreaterThan(0));
            Assert.That(report.FdeStorage, Is.EqualTo("pq:4,64+4,8x16"), "bench synthetic's default flat storage (SyntheticBenchmark.DefaultFdeStorage)");
            Assert.That(report.FdeBytesPerDocument, Is.EqualTo(4L * report.Fde!.OutputDimension), "300 documents are below the 1,024 the quantizer trains on: float32 until then");
            Assert.That(report.TokenBytesPerDocument, Is.EqualTo(8L * 16 * 4));
            Assert.That(report.Runs.Select(r => (r.Mode, r.Candidates)), Is.EqualTo(new (RunMode, int?)[]
            {
                (RunMode.Exact, null), (RunMode.Muvera, 10), (RunMode.Fde, 10), (RunMode.Muvera, 50), (RunMode.Fde, 50), (RunMode.Muvera, 300), (RunMode.Fde, 300),
                (RunMode.Muvera, report.Calibration!.Candidates),
            }));
            Assert.That(report.Runs.Select(r => r.Calibrated), Is.EqualTo(new bool?[] { null, false, false, false, false, false, false, true }));
            Assert.That(report.Runs.Select(r => r.Probes), Is.All.Null, "a flat index has no probes");
        });

        RunResult exact = report.Runs.Single(r => r.Mode == RunMode.Exact);
        double[] muvera = [.. report.Runs.Where(r => r.Mode == RunMode.Muvera && r.Calibrated == false).Select(r => r.RecallAt10!.Value)];
        Assert.Multiple(() =>
        {
            Assert.That(exact.RecallAt10, Is.EqualTo(1.0));
            Assert.That(muvera, Is.Ordered.Ascending);
            Assert.That(muvera[^1], Is.EqualTo(1.0), "N = every document reranks exactly");
            foreach (RunResult run in report.Runs)
            {
                Assert.That(run.QpsOneThread, Is.GreaterThan(0));
                Assert.That(run.Qps, Is.GreaterThan(0));
                Assert.That(run.LatencyP99Ms, Is.GreaterThanOrEqualTo(run.LatencyP50Ms));
            }
        });
        Assert.That(muvera, Is.EqualTo(new[] { 0.71, 1.0, 1.0 }).Within(1e-9), "pinned: streaming the corpus changes nothing for float32 tokens");
        Assert.Multiple(() =>
        {
            Assert.That(report.TokenStorage, Is.EqualTo("f32"));
            Assert.That(report.OpenSeconds, Is.GreaterThan(0));
            Assert.That(report.SaveSeconds, Is.GreaterThan(0));
            Assert.That(report.FirstQuerySeconds, Is.GreaterThan(0));
            Assert.That(report.DiskBytes, Is.GreaterThan(report.TokenBytesPerDocument * 300), "the saved folder holds at least the tokens");
            Assert.That(report.ResidentBytes, Is.GreaterThan(report.MemoryBytes));
            Assert.That(report.ExactQueries, Is.EqualTo(10), "every query up to 100,000 documents");
            Assert.That(report.GenerateSeconds, Is.GreaterThan(0));
            Assert.That(report.TrainSeconds, Is.GreaterThanOrEqualTo(report.FdeTrainSeconds!.Value));
            Assert.That(report.BuildSeconds, Is.GreaterThan(report.TrainSeconds!.Value));
            Assert.That(report.GroundTruthSeconds, Is.GreaterThan(0));
            Assert.That(report.GroundTruthCached, Is.False);
            Assert.That(report.Calibration!.TargetRecall, Is.EqualTo(0.95));
            Assert.That(report.Calibration.Queries, Is.EqualTo(20));
            Assert.That(report.Calibration.AchievedRecall, Is.GreaterThanOrEqualTo(0.95));
            Assert.That(report.Calibration.Probes, Is.Null);
            Assert.That(Directory.Exists(Path.Combine(_output, "index-flat")), Is.True);
        });
        Assert.That(output, Does.Contain("returns identical hits (ids and scores) for 10 queries: ok"));
        Assert.That(File.Exists(Path.Combine(_output, "candidate-recall.png")), Is.True);
        Assert.That(File.ReadAllText(Path.Combine(_output, "recall-qps.svg")), Does.Contain("<svg"));
        Assert.That(output, Does.Contain("recall@10").And.Contain("muvera"));
    }

    private static readonly string[] s_small = ["bench", "synthetic", "--docs", "300", "--tokens", "8", "--dim", "16", "--queries", "10",
        "--candidates", "10,50", "--index", "flat", "--token-storage", "f32"];

    [Test]
    public async Task Run_SameParametersTwice_ReusesTheGroundTruthCache()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync([.. s_small, "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport first = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        string[] caches = Directory.GetFiles(_output, "ground-truth-*.json");
        Assert.That(caches, Has.Length.EqualTo(1));

        (exitCode, string output, error) = await CliRunner.RunAsync([.. s_small, "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport second = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        Assert.Multiple(() =>
        {
            Assert.That(output, Does.Contain("ground truth: read from the cache " + caches[0]));
            Assert.That(first.GroundTruthCached, Is.False);
            Assert.That(second.GroundTruthCached, Is.True);
            Assert.That(second.Runs.Select(r => (r.Mode, r.Candidates, r.RecallAt10, r.CandidateRecallAt10)),
                Is.EqualTo(first.Runs.Select(r => (r.Mode, r.Candidates, r.RecallAt10, r.CandidateRecallAt10))));
        });
    }

    [Test]
    public async Task Run_OtherTokenStorage_UsesAnotherGroundTruthCache()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync([.. s_small, "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        (exitCode, string output, error) = await CliRunner.RunAsync([.. s_small.Select(a => a == "f32" ? "int8" : a), "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        Assert.That(output, Does.Not.Contain("read from the cache"), "ground truth is over the stored tokens");
        Assert.That(Directory.GetFiles(_output, "ground-truth-*.json"), Has.Length.EqualTo(2));
    }

    [TestCase("not json")]
    [TestCase("{\"key\": \"other\", \"ids\": []}")]
    public async Task Run_CorruptGroundTruthCache_IsRecomputed(string content)
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync([.. s_small, "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport first = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        string cache = Directory.GetFiles(_output, "ground-truth-*.json").Single();
        string original = File.ReadAllText(cache);
        File.WriteAllText(cache, content);

        (exitCode, string output, error) = await CliRunner.RunAsync([.. s_small, "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport second = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        Assert.Multiple(() =>
        {
            Assert.That(output, Does.Contain($"the cache {cache} is not usable").And.Contain("ground truth: wrote the cache"));
            Assert.That(second.GroundTruthCached, Is.False);
            Assert.That(File.ReadAllText(cache), Is.EqualTo(original));
            Assert.That(second.Runs.Select(r => r.RecallAt10), Is.EqualTo(first.Runs.Select(r => r.RecallAt10)));
        });
    }

    [Test]
    public async Task Run_CacheWithAnIdOutsideTheCorpus_IsRecomputed()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync([.. s_small, "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        string cache = Directory.GetFiles(_output, "ground-truth-*.json").Single();
        string original = File.ReadAllText(cache);
        int start = original.IndexOf("[[", StringComparison.Ordinal) + 2;
        int end = original.IndexOf(',', start);
        File.WriteAllText(cache, original[..start] + "300" + original[end..]);

        (exitCode, string output, error) = await CliRunner.RunAsync([.. s_small, "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        Assert.That(output, Does.Contain("names document 300, outside 0..299"));
        Assert.That(File.ReadAllText(cache), Is.EqualTo(original));
    }

    [Test]
    public async Task Run_CheckWithCalibrationThatDoesNotCarryOver_FailsNamingTheRecall()
    {
        // Calibrated on 20 queries of their own, N = 25 holds 0.96 of their exact top 10 but only 0.92 of the
        // evaluation queries' (deterministic: the corpus, FDEs and calibration do not depend on the machine).
        (int exitCode, string output, string error) = await CliRunner.RunAsync([.. s_small, "--check", "--out", _output]);
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(ExitCodes.Error));
            Assert.That(error, Does.Contain("--check failed").And.Contain("calibrated muvera run's recall@10 0.9200 is below the target 0.95"));
            Assert.That(output, Does.Contain("identical hits (ids and scores) for 10 queries: ok"));
            Assert.That(output, Does.Contain("< target 0.95: FAILED"));
            Assert.That(File.Exists(Path.Combine(_output, "results.json")), Is.True, "results are written before the check fails");
        });
    }

    [Test]
    public async Task Run_WithoutCheck_ReportsAMissedTargetButSucceeds()
    {
        (int exitCode, string output, string error) = await CliRunner.RunAsync([.. s_small, "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        Assert.That(output, Does.Contain("< target 0.95: FAILED"));
    }

    [Test]
    public async Task Run_ExactQueries_TimesThatMany()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync([.. s_small, "--exact-queries", "3", "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport report = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        Assert.That(report.ExactQueries, Is.EqualTo(3));
        Assert.That(report.Runs.Single(r => r.Mode == RunMode.Exact).RecallAt10, Is.EqualTo(1.0));
    }

    // A small IVF run: FDEs of 8 × 16 × 16 floats in int8 (quantized, as IVF needs), 16 lists.
    private static readonly string[] s_ivf = ["bench", "synthetic", "--docs", "1200", "--tokens", "8", "--dim", "16", "--queries", "10",
        "--fde", "8,4,16", "--fde-storage", "int8", "--token-storage", "f32"];

    [Test]
    public async Task Run_CheckOnASmallIvfRun_Passes()
    {
        (int exitCode, string output, string error) = await CliRunner.RunAsync([.. s_ivf, "--index", "ivf:lists=16", "--candidates", "20", "--check", "--out", _output]);
        TestContext.Out.WriteLine(output);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport report = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        RunResult calibrated = report.Runs.Single(r => r.Calibrated == true);
        Assert.Multiple(() =>
        {
            Assert.That(report.Index, Is.EqualTo("ivf:lists=16"));
            Assert.That(report.FdeStorage, Is.EqualTo("int8"));
            Assert.That(report.Calibration!.Probes, Is.InRange(1, 16));
            Assert.That(calibrated.Probes, Is.EqualTo(report.Calibration.Probes));
            Assert.That(calibrated.Candidates, Is.EqualTo(report.Calibration.Candidates));
            Assert.That(calibrated.RecallAt10, Is.GreaterThanOrEqualTo(0.95));
            Assert.That(report.Runs.Where(r => r.Mode != RunMode.Exact).Select(r => r.Probes), Is.All.EqualTo(report.Calibration.Probes), "--probes defaults to the calibrated count");
            Assert.That(report.IndexBuildSeconds, Is.GreaterThan(0));
            Assert.That(report.FdeEncodeSeconds, Is.GreaterThan(0));
            Assert.That(Directory.Exists(Path.Combine(_output, "index-ivf_lists_16")), Is.True);
            Assert.That(output, Does.Contain("identical hits (ids and scores) for 10 queries: ok").And.Contain(">= target 0.95: ok"));
            Assert.That(output, Does.Contain("probes"), "the table's probes column");
        });
    }

    [Test]
    public async Task Run_Probes_RunsEveryCandidateCountAtEveryProbeCount()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync([.. s_ivf, "--index", "ivf:lists=16", "--candidates", "10,20", "--probes", "16,2", "--out", _output]);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport report = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        Assert.That(report.Runs.Where(r => r.Calibrated == false).Select(r => (r.Mode, r.Candidates, r.Probes)), Is.EqualTo(new (RunMode, int?, int?)[]
        {
            (RunMode.Muvera, 10, 2), (RunMode.Fde, 10, 2), (RunMode.Muvera, 10, 16), (RunMode.Fde, 10, 16),
            (RunMode.Muvera, 20, 2), (RunMode.Fde, 20, 2), (RunMode.Muvera, 20, 16), (RunMode.Fde, 20, 16),
        }));
        double fewer = report.Runs.Single(r => r.Mode == RunMode.Muvera && r.Candidates == 20 && r.Probes == 2).RecallAt10!.Value;
        double all = report.Runs.Single(r => r.Mode == RunMode.Muvera && r.Candidates == 20 && r.Probes == 16).RecallAt10!.Value;
        Assert.That(all, Is.GreaterThanOrEqualTo(fewer), "probing every list is the flat scan");
    }

    [Test]
    public async Task Run_IvfOverUnquantizedFdes_IsAnErrorNamingTheStorage()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "50", "--index", "ivf", "--fde-storage", "f32", "--out", _output);
        Assert.That(exitCode, Is.EqualTo(ExitCodes.Error));
        Assert.That(error, Does.Contain("--index ivf").And.Contain("not quantized"));
    }

    [TestCase("--target-recall", "1.5", "--target-recall must be in (0, 1]")]
    [TestCase("--target-recall", "0", "--target-recall must be in (0, 1]")]
    [TestCase("--calibration-queries", "0", "--calibration-queries must be positive")]
    [TestCase("--exact-queries", "0", "--exact-queries must be positive")]
    [TestCase("--probes", "4,x", "--probes \"4,x\": \"x\" is not a positive integer")]
    public async Task Run_BadNewOption_IsAUsageError(string option, string value, string message)
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "10", option, value);
        Assert.That(exitCode, Is.Not.Zero);
        Assert.That(error, Does.Contain(message));
    }

    [TestCase("int8", 2048)]
    [TestCase("pq:4,4", 256)]
    [TestCase("pq:8,8", 128)]
    [TestCase("f16", 4096)]
    public async Task Run_FdeStorage_ReportsItAndItsBytes(string storage, long bytesPerDocument)
    {
        // (4, 3, 64)-FDEs of 2,048 floats; 1,100 documents pass the 1,024 that int8 and 4-bit PQ train on. 8-bit PQ
        // trains on 8,192 by default, so this run keeps it untrained: float32 bytes.
        (int exitCode, string output, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "1100", "--tokens", "4", "--dim", "64",
            "--queries", "5", "--candidates", "20", "--fde", "4,3,64", "--fde-storage", storage, "--index", "flat", "--token-storage", "f32", "--out", _output);
        Assert.That(exitCode, Is.Zero, error + output);
        EvaluationReport report = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        Assert.Multiple(() =>
        {
            Assert.That(report.FdeStorage, Is.EqualTo(storage));
            Assert.That(report.FdeBytesPerDocument, Is.EqualTo(storage == "pq:8,8" ? 4L * 2048 : bytesPerDocument));
            Assert.That(report.Runs.Single(r => r.Mode == RunMode.Muvera && r.Calibrated == false).RecallAt10, Is.GreaterThan(0.5));
        });
    }

    [Test]
    public async Task Run_BadFdeStorage_IsAUsageError()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "10", "--fde-storage", "pq:3");
        Assert.That(exitCode, Is.Not.Zero);
        Assert.That(error, Does.Contain("--fde-storage \"pq:3\""));
    }

    [Test]
    public async Task Run_Partitions_AreRecordedInTheReport([Values("simhash", "kmeans")] string partitions)
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "60", "--tokens", "4", "--dim", "8",
            "--queries", "3", "--candidates", "10", "--fde", "4,3,8", "--partitions", partitions, "--index", "flat", "--token-storage", "f32", "--out", _output);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport report = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        Assert.Multiple(() =>
        {
            Assert.That(report.Fde!.Partitioning, Is.EqualTo(partitions));
            Assert.That(report.Fde.OutputDimension, Is.EqualTo(4 * 8 * 8));
            Assert.That(report.Fde.DocumentAggregation, Is.EqualTo(partitions == "simhash" ? "average" : "normalized_average"));
            Assert.That(report.FdeTrainSeconds, partitions == "simhash" ? Is.Null : Is.GreaterThan(0));
        });
    }

    [Test]
    public async Task Run_UnknownPartitions_FailsNamingTheChoices()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "10", "--partitions", "voronoi");
        Assert.That(exitCode, Is.Not.Zero);
        Assert.That(error, Does.Contain("--partitions \"voronoi\"").And.Contain("kmeans").And.Contain("simhash"));
    }

    [Test]
    public async Task Run_TwoIndexes_WritesOneReportEach()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "200", "--tokens", "4", "--dim", "8",
            "--queries", "4", "--candidates", "20", "--fde", "4,3,8", "--index", "flat,hnsw:m=8", "--token-storage", "f32", "--out", _output);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport hnsw = EvaluationReport.Load(Path.Combine(_output, "results-hnsw_m_8.json"));
        Assert.That(hnsw.Index, Is.EqualTo("hnsw:m=8"));
        Assert.That(hnsw.Fde!.OutputDimension, Is.EqualTo(4 * 8 * 8));
        Assert.That(File.Exists(Path.Combine(_output, "results-flat.json")), Is.True);
    }
}
