// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Muvera.Beir.Tests.Fixtures;

namespace Muvera.Beir.Tests;

public sealed class EvaluationReportTests
{
    internal static EvaluationReport BeirReport(string index = "flat", FdeOptions? fde = null) => new()
    {
        Dataset = "nfcorpus",
        Split = "test",
        Documents = 3633,
        Queries = 323,
        Model = "all-MiniLM-L6-v2",
        Fde = FdeSummary.FromOptions(fde ?? FdeOptions.CreateRecommended(384)),
        Index = index,
        Runs =
        [
            new RunResult { Mode = RunMode.Exact, NdcgAt10 = 0.36, RecallAt100 = 0.31, MrrAt10 = 0.55, MapAt100 = 0.17, QpsOneThread = 40, Qps = 75, LatencyP50Ms = 24.5, LatencyP99Ms = 31 },
            new RunResult { Mode = RunMode.Muvera, Candidates = 100, NdcgAt10 = 0.33, RecallAt100 = 0.25, MrrAt10 = 0.52, MapAt100 = 0.15, CandidateRecallAt10 = 0.81, QpsOneThread = 900, Qps = 1500, LatencyP50Ms = 1.1, LatencyP99Ms = 2.5 },
            new RunResult { Mode = RunMode.Muvera, Candidates = 500, NdcgAt10 = 0.355, RecallAt100 = 0.3, MrrAt10 = 0.545, MapAt100 = 0.165, CandidateRecallAt10 = 0.97, QpsOneThread = 300, Qps = 560, LatencyP50Ms = 3.2, LatencyP99Ms = 5.75 },
            new RunResult { Mode = RunMode.Fde, Candidates = 100, NdcgAt10 = 0.29, RecallAt100 = 0.24, MrrAt10 = 0.48, MapAt100 = 0.12, CandidateRecallAt10 = 0.81, QpsOneThread = 2000, Qps = 3500, LatencyP50Ms = 0.45, LatencyP99Ms = 0.9 },
            new RunResult { Mode = RunMode.Pooled, NdcgAt10 = 0.318, RecallAt100 = 0.28, MrrAt10 = 0.5, MapAt100 = 0.14, QpsOneThread = 5000, Qps = 9000, LatencyP50Ms = 0.2, LatencyP99Ms = 0.4 },
        ],
        BuildSeconds = 12.5,
        MemoryBytes = 123_456_789_012,
        FdeStorage = "pq:4,4",
        FdeBytesPerDocument = 1280,
        TokenBytesPerDocument = 123_904,
        FdeTrainSeconds = 21.5,
    };

    internal static EvaluationReport SyntheticReport() => new()
    {
        Dataset = "synthetic",
        Split = null,
        Documents = 100_000,
        Queries = 1000,
        Model = null,
        Fde = FdeSummary.FromOptions(FdeOptions.CreateRecommended(128) with { FinalDimension = 2048 }),
        Index = "hnsw:m=32,ef=128",
        Runs =
        [
            new RunResult { Mode = RunMode.Exact, RecallAt10 = 1, QpsOneThread = 2, Qps = 4, LatencyP50Ms = 500, LatencyP99Ms = 620 },
            new RunResult { Mode = RunMode.Muvera, Candidates = 50, RecallAt10 = 0.7, QpsOneThread = 800, Qps = 2400, LatencyP50Ms = 1.2, LatencyP99Ms = 2 },
            new RunResult { Mode = RunMode.Muvera, Candidates = 200, RecallAt10 = 0.9, QpsOneThread = 400, Qps = 1200, LatencyP50Ms = 2.4, LatencyP99Ms = 4 },
            new RunResult { Mode = RunMode.Muvera, Candidates = 1000, RecallAt10 = 0.98, QpsOneThread = 90, Qps = 300, LatencyP50Ms = 11, LatencyP99Ms = 15 },
        ],
        BuildSeconds = 300,
        MemoryBytes = 4_000_000_000,
    };

    private static string ToJson(EvaluationReport report)
    {
        using var stream = new MemoryStream();
        report.Write(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static EvaluationReport FromJson(string json) => EvaluationReport.Read(new MemoryStream(Encoding.UTF8.GetBytes(json)));

    [Test]
    public void WriteRead_BeirReport_RoundTrips()
    {
        EvaluationReport report = BeirReport();

        string json = ToJson(report);
        EvaluationReport read = FromJson(json);

        Assert.Multiple(() =>
        {
            Assert.That(ToJson(read), Is.EqualTo(json));
            Assert.That(read.Runs, Has.Count.EqualTo(5));
            Assert.That(read.Runs[1].Mode, Is.EqualTo(RunMode.Muvera));
            Assert.That(read.Runs[1].CandidateRecallAt10, Is.EqualTo(0.81));
            Assert.That(read.MemoryBytes, Is.EqualTo(123_456_789_012));
            Assert.That(read.Fde!.OutputDimension, Is.EqualTo(report.Fde!.OutputDimension));
        });
    }

    [Test]
    public void SaveLoad_SyntheticReport_RoundTrips()
    {
        using var directory = new TempDirectory();
        string path = directory.Combine("results.json");
        EvaluationReport report = SyntheticReport();

        report.Save(path);
        EvaluationReport loaded = EvaluationReport.Load(path);

        Assert.Multiple(() =>
        {
            Assert.That(ToJson(loaded), Is.EqualTo(ToJson(report)));
            Assert.That(loaded.Split, Is.Null);
            Assert.That(loaded.Runs[3].RecallAt10, Is.EqualTo(0.98));
            Assert.That(File.Exists(path + ".tmp"), Is.False);
        });
    }

    [Test]
    public void Write_BeirReport_HasTheSchemasPropertyNames()
    {
        using JsonDocument json = JsonDocument.Parse(ToJson(BeirReport()));
        JsonElement root = json.RootElement;

        Assert.Multiple(() =>
        {
            Assert.That(root.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[]
            {
                "dataset", "split", "documents", "queries", "model", "fde", "index", "runs", "build_seconds", "memory_bytes",
                "fde_storage", "fde_bytes_per_document", "token_bytes_per_document", "token_storage", "fde_train_seconds",
                "generate_seconds", "train_seconds", "token_encode_seconds", "fde_encode_seconds", "index_build_seconds",
                "save_seconds", "open_seconds", "first_query_seconds", "disk_bytes", "resident_bytes", "exact_queries",
                "ground_truth_seconds", "ground_truth_cached", "calibration",
            }));
            Assert.That(root.GetProperty("calibration").ValueKind, Is.EqualTo(JsonValueKind.Null), "synthetic only");
            Assert.That(root.GetProperty("disk_bytes").ValueKind, Is.EqualTo(JsonValueKind.Null), "synthetic only");
            Assert.That(root.GetProperty("fde").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[]
            {
                "repetitions", "simhash_projections", "projection_dimension", "final_dimension", "output_dimension",
                "partitioning", "document_aggregation",
            }));
            Assert.That(root.GetProperty("fde").GetProperty("final_dimension").ValueKind, Is.EqualTo(JsonValueKind.Null));
            JsonElement exact = root.GetProperty("runs")[0];
            Assert.That(exact.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[]
            {
                "mode", "candidates", "ndcg@10", "recall@100", "mrr@10", "map@100", "candidate_recall@10",
                "qps_1_thread", "qps", "latency_p50_ms", "latency_p99_ms",
            }));
            Assert.That(exact.GetProperty("mode").GetString(), Is.EqualTo("exact"));
            Assert.That(exact.GetProperty("candidates").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(exact.GetProperty("candidate_recall@10").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(root.GetProperty("runs")[1].GetProperty("candidates").GetInt32(), Is.EqualTo(100));
            Assert.That(root.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("mode").GetString()),
                Is.EqualTo(new[] { "exact", "muvera", "muvera", "fde", "pooled" }));
        });
    }

    [Test]
    public void Write_SyntheticReport_OmitsBeirMeasuresAndWritesRecallAt10()
    {
        using JsonDocument json = JsonDocument.Parse(ToJson(SyntheticReport()));
        JsonElement root = json.RootElement;
        JsonElement run = root.GetProperty("runs")[1];

        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("dataset").GetString(), Is.EqualTo("synthetic"));
            Assert.That(root.GetProperty("split").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(root.GetProperty("model").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(root.GetProperty("fde").GetProperty("final_dimension").GetInt32(), Is.EqualTo(2048));
            Assert.That(root.GetProperty("fde").GetProperty("output_dimension").GetInt32(), Is.EqualTo(2048));
            Assert.That(run.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[]
            {
                "mode", "candidates", "candidate_recall@10", "recall@10", "qps_1_thread", "qps", "latency_p50_ms", "latency_p99_ms",
            }));
            Assert.That(run.GetProperty("recall@10").GetDouble(), Is.EqualTo(0.7));
        });
    }

    [Test]
    public void FdeSummary_FromOptions_ReportsTheBlockDimension()
    {
        FdeOptions options = FdeOptions.CreateRecommended(128);

        FdeSummary summary = FdeSummary.FromOptions(options);

        Assert.Multiple(() =>
        {
            Assert.That(summary.Repetitions, Is.EqualTo(options.Repetitions));
            Assert.That(summary.SimHashProjections, Is.EqualTo(options.SimHashProjections));
            Assert.That(summary.ProjectionDimension, Is.EqualTo(options.BlockDimension));
            Assert.That(summary.FinalDimension, Is.EqualTo(options.FinalDimension));
            Assert.That(summary.OutputDimension, Is.EqualTo(options.OutputDimension));
            Assert.That(summary.Partitioning, Is.EqualTo("kmeans"));
            Assert.That(summary.DocumentAggregation, Is.EqualTo("normalized_average"));
            Assert.That(FdeSummary.FromOptions(FdeOptions.CreateSimHash(128)).Partitioning, Is.EqualTo("simhash"));
            Assert.That(FdeSummary.FromOptions(FdeOptions.CreateSimHash(128)).DocumentAggregation, Is.EqualTo("average"));
        });
    }

    [Test]
    public void Read_ReportWithoutPartitioning_IsASimHashReport()
    {
        // results.json files written before learned partitions have no partitioning, aggregation or training time.
        string json = ToJson(BeirReport(fde: FdeOptions.CreateSimHash(384)))
            .Replace(",\n    \"partitioning\": \"simhash\"", "", StringComparison.Ordinal)
            .Replace(",\n    \"document_aggregation\": \"average\"", "", StringComparison.Ordinal)
            .Replace(",\n  \"fde_train_seconds\": 21.5", "", StringComparison.Ordinal);
        Assert.That(json, Does.Not.Contain("partitioning").And.Not.Contain("fde_train_seconds"));

        EvaluationReport report = FromJson(json);

        Assert.Multiple(() =>
        {
            Assert.That(report.Fde!.Partitioning, Is.EqualTo("simhash"));
            Assert.That(report.Fde.DocumentAggregation, Is.EqualTo("average"));
            Assert.That(report.FdeTrainSeconds, Is.Null);
        });
    }

    [Test]
    public void Read_MissingRequiredProperty_ThrowsInvalidData()
    {
        string json = ToJson(BeirReport()).Replace("\"index\": \"flat\",", "", StringComparison.Ordinal);

        var exception = Assert.Throws<InvalidDataException>(() => FromJson(json));

        Assert.That(exception!.Message, Does.Contain("index"));
    }

    [Test]
    public void Read_UnknownModeOrNullDataset_ThrowsInvalidData()
    {
        string json = ToJson(BeirReport());

        Assert.Multiple(() =>
        {
            Assert.That(() => FromJson(json.Replace("\"pooled\"", "\"magic\"", StringComparison.Ordinal)), Throws.TypeOf<InvalidDataException>());
            Assert.That(() => FromJson(json.Replace("\"nfcorpus\"", "null", StringComparison.Ordinal)), Throws.TypeOf<InvalidDataException>());
            Assert.That(() => FromJson("null"), Throws.TypeOf<InvalidDataException>());
            Assert.That(() => FromJson("{"), Throws.TypeOf<InvalidDataException>());
        });
    }

    [Test]
    public void Read_UnknownProperty_Ignored()
    {
        string json = ToJson(BeirReport()).Replace("\"dataset\":", "\"added_later\": [1, 2], \"dataset\":", StringComparison.Ordinal);

        Assert.That(FromJson(json).Dataset, Is.EqualTo("nfcorpus"));
    }

    [Test]
    public void Write_NonFiniteNumber_ThrowsNamingTheProperty()
    {
        EvaluationReport report = BeirReport();
        var broken = new EvaluationReport
        {
            Dataset = report.Dataset,
            Split = report.Split,
            Documents = report.Documents,
            Queries = report.Queries,
            Model = report.Model,
            Fde = report.Fde,
            Index = report.Index,
            Runs = [report.Runs[0], new RunResult { Mode = RunMode.Fde, Candidates = 10, QpsOneThread = 1, Qps = double.PositiveInfinity, LatencyP50Ms = 1, LatencyP99Ms = 1 }],
            BuildSeconds = 1,
            MemoryBytes = 1,
        };

        var exception = Assert.Throws<InvalidOperationException>(() => broken.Write(new MemoryStream()));

        Assert.That(exception!.Message, Does.Contain("runs[1].qps"));
    }

    [Test]
    public void Write_NegativeByteCounts_ThrowNamingTheProperty()
    {
        EvaluationReport report = BeirReport();
        var fde = Assert.Throws<InvalidOperationException>(() => CopyWith(report, fdeBytes: -1, tokenBytes: 0).Write(new MemoryStream()));
        Assert.That(fde!.Message, Does.Contain("fde_bytes_per_document"));
        var tokens = Assert.Throws<InvalidOperationException>(() => CopyWith(report, fdeBytes: null, tokenBytes: -5).Write(new MemoryStream()));
        Assert.That(tokens!.Message, Does.Contain("token_bytes_per_document"));
    }

    [Test]
    public void Read_ReportWithoutStorageFields_ReadsThemAsUnknown()
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(ToJson(BeirReport()))!.AsObject();
        Assert.That(node.Remove("fde_storage") && node.Remove("fde_bytes_per_document") && node.Remove("token_bytes_per_document"), Is.True);
        string json = node.ToJsonString();
        EvaluationReport read = EvaluationReport.Read(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Multiple(() =>
        {
            Assert.That(read.FdeStorage, Is.Null);
            Assert.That(read.FdeBytesPerDocument, Is.Null);
            Assert.That(read.TokenBytesPerDocument, Is.Zero);
        });
    }

    private static EvaluationReport CopyWith(EvaluationReport report, long? fdeBytes, long tokenBytes) => new()
    {
        Dataset = report.Dataset,
        Split = report.Split,
        Documents = report.Documents,
        Queries = report.Queries,
        Model = report.Model,
        Fde = report.Fde,
        Index = report.Index,
        Runs = report.Runs,
        BuildSeconds = report.BuildSeconds,
        MemoryBytes = report.MemoryBytes,
        FdeBytesPerDocument = fdeBytes,
        TokenBytesPerDocument = tokenBytes,
    };
}
