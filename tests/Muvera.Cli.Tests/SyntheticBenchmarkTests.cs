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
            "--queries", "10", "--candidates", "10,50,300", "--out", _output);
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
            Assert.That(report.FdeStorage, Is.EqualTo("pq:4,16+4,4x4"), "the default storage");
            Assert.That(report.FdeBytesPerDocument, Is.EqualTo(4L * report.Fde!.OutputDimension), "300 documents are below the 1,024 the quantizer trains on: float32 until then");
            Assert.That(report.TokenBytesPerDocument, Is.EqualTo(8L * 16 * 4));
            Assert.That(report.Runs.Select(r => (r.Mode, r.Candidates)), Is.EqualTo(new (RunMode, int?)[]
            {
                (RunMode.Exact, null), (RunMode.Muvera, 10), (RunMode.Fde, 10), (RunMode.Muvera, 50), (RunMode.Fde, 50), (RunMode.Muvera, 300), (RunMode.Fde, 300),
            }));
        });

        RunResult exact = report.Runs.Single(r => r.Mode == RunMode.Exact);
        double[] muvera = [.. report.Runs.Where(r => r.Mode == RunMode.Muvera).Select(r => r.RecallAt10!.Value)];
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
        Assert.That(File.Exists(Path.Combine(_output, "candidate-recall.png")), Is.True);
        Assert.That(output, Does.Contain("recall@10").And.Contain("muvera"));
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
            "--queries", "5", "--candidates", "20", "--fde", "4,3,64", "--fde-storage", storage, "--out", _output);
        Assert.That(exitCode, Is.Zero, error + output);
        EvaluationReport report = EvaluationReport.Load(Path.Combine(_output, "results.json"));
        Assert.Multiple(() =>
        {
            Assert.That(report.FdeStorage, Is.EqualTo(storage));
            Assert.That(report.FdeBytesPerDocument, Is.EqualTo(storage == "pq:8,8" ? 4L * 2048 : bytesPerDocument));
            Assert.That(report.Runs.Single(r => r.Mode == RunMode.Muvera).RecallAt10, Is.GreaterThan(0.5));
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
            "--queries", "3", "--candidates", "10", "--fde", "4,3,8", "--partitions", partitions, "--out", _output);
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
            "--queries", "4", "--candidates", "20", "--fde", "4,3,8", "--index", "flat,hnsw:m=8", "--out", _output);
        Assert.That(exitCode, Is.Zero, error);
        EvaluationReport hnsw = EvaluationReport.Load(Path.Combine(_output, "results-hnsw_m_8.json"));
        Assert.That(hnsw.Index, Is.EqualTo("hnsw:m=8"));
        Assert.That(hnsw.Fde!.OutputDimension, Is.EqualTo(4 * 8 * 8));
        Assert.That(File.Exists(Path.Combine(_output, "results-flat.json")), Is.True);
    }
}
