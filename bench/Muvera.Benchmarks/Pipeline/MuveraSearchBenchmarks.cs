// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Muvera.Beir.Synthetic;
using Muvera.Indexing;
using Muvera.USearch;

namespace Muvera.Benchmarks.Pipeline;

/// <summary>
/// End-to-end <see cref="MuveraIndex"/> search latency on 100,000 synthetic documents (64 tokens × 128-d, float16
/// tokens; the clustered generator of <see cref="SyntheticCorpus"/>, seed 2024; <c>MUVERA_BENCH_DOCS</c> sets another
/// count, e.g. 20000) with the paper's (20, 5, 16) FDEs, per backend (flat with float32, int8, 4-bit or 8-bit
/// product-quantized FDEs — "Flat-f32", "Flat-int8", "Flat-pq4", "Flat-pq8"; USearch HNSW float16, M 32,
/// ef_construction 128, ef = N; <c>MUVERA_BENCH_BACKENDS</c> selects), against exact brute-force Chamfer over the same
/// store. One query per iteration (iterations cycle through 100 queries of 32 tokens), so the
/// P50/P99 columns are per-query latencies. Indexes are built once by <c>--prepare muvera</c> and cached as saved
/// MuveraIndex directories under the temp folder (<c>muvera-bench/</c>); the preparation prints build time, memory per
/// document and recall@10 against exact search for each mode.
/// </summary>
[Config(typeof(LatencyConfig))]
[SuppressMessage("Design", "CA1001", Justification = "The index is disposed in [GlobalCleanup]; BenchmarkDotNet needs an unsealed class.")]
public class MuveraSearchBenchmarks
{
    private const int K = 10;
    private const int QueryCount = 100;

    private MuveraIndex? _index;
    private ReadOnlyMultiVector[] _queries = [];
    private int _next;

    /// <summary>The MIPS backend (see the class summary).</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "Flat-pq4";

    /// <summary>The backends measured: MUVERA_BENCH_BACKENDS (comma-separated), else the flat storages and HNSW.</summary>
    public static IEnumerable<string> Backends =>
        Environment.GetEnvironmentVariable("MUVERA_BENCH_BACKENDS")?.Split(',') ?? ["Flat-f32", "Flat-int8", "Flat-pq4", "HNSW"];

    /// <summary>Documents in the corpus: MUVERA_BENCH_DOCS, else 100,000 (2,000 at smoke scale).</summary>
    public static int Count => SyntheticData.Smoke ? 2_000
        : Environment.GetEnvironmentVariable("MUVERA_BENCH_DOCS") is string docs ? int.Parse(docs, CultureInfo.InvariantCulture) : 100_000;

    /// <summary>The candidate counts measured (the table's MUVERA rows use <see cref="Candidates"/>).</summary>
    public static int[] CandidateLadder => [50, 100, 200, 300, 500, 1000, 2000];

    /// <summary>N for the timed MUVERA rows.</summary>
    public static int Candidates => 500;

    [GlobalSetup]
    public void Setup()
    {
        SyntheticCorpus corpus = Corpus();
        _queries = Enumerable.Range(0, QueryCount).Select(corpus.GetQuery).ToArray();
        _index = Open(Backend, corpus, report: false);
    }

    [GlobalCleanup]
    public void Cleanup() => _index?.Dispose();

    /// <summary>Exact brute-force Chamfer over every document: the baseline.</summary>
    [Benchmark(Baseline = true)]
    public MuveraSearchHit[] Exact() => _index!.SearchExact(NextQuery(), K);

    /// <summary>MUVERA: N FDE candidates, exact Chamfer rerank.</summary>
    [Benchmark]
    public MuveraSearchHit[] Muvera() => _index!.Search(NextQuery(), K, new MuveraSearchOptions { Candidates = Candidates });

    /// <summary>MUVERA with ball carving (τ = 0.7) before reranking.</summary>
    [Benchmark]
    public MuveraSearchHit[] MuveraBallCarving() =>
        _index!.Search(NextQuery(), K, new MuveraSearchOptions { Candidates = Candidates, BallCarving = true });

    /// <summary>Builds (or loads) the cached indexes and prints build time, memory and recall for every mode.</summary>
    /// <param name="backends">The backends to prepare ("Flat-f32", "Flat-int8", "Flat-pq4", "Flat-pq8", "HNSW",
    /// "HNSW-R10k4"); none means <see cref="Backends"/>.</param>
    public static void Prepare(params string[] backends)
    {
        SyntheticCorpus corpus = Corpus();
        foreach (string backend in backends.Length > 0 ? backends : Backends)
        {
            using MuveraIndex index = Open(backend, corpus, report: true);
        }
    }

    internal static SyntheticCorpus Corpus() => new(new SyntheticCorpusOptions
    {
        DocumentCount = Count,
        TokensPerDocument = 64,
        Dimension = 128,
        QueryCount = QueryCount,
        TokensPerQuery = 32,
    });

    private ReadOnlyMultiVector NextQuery() => _queries[_next++ % _queries.Length];

    internal static MuveraIndex Open(string backend, SyntheticCorpus corpus, bool report)
    {
        string directory = Path.Combine(Indexing.FdeCorpus.CacheDirectory, $"muvera-{backend.ToLowerInvariant()}-v{SyntheticCorpus.GeneratorVersion}-{Count}");
        MipsBackend mips = backend switch
        {
            "Flat-f32" => new FlatMipsBackend(FdeStorage.Float32),
            "Flat-int8" => new FlatMipsBackend(FdeStorage.Int8),
            "Flat-pq4" => new FlatMipsBackend(FdeStorage.ProductQuantization(4, 4)),
            "Flat-pq8" => new FlatMipsBackend(FdeStorage.ProductQuantization(8, 8)),
            "HNSW" or "HNSW-R10k4" => new USearchMipsBackend(new USearchOptions { ScalarKind = USearchScalarKind.Float16, Connectivity = 32, ExpansionAdd = 128, ExpansionSearch = 16 }),
            _ => throw new InvalidOperationException($"Unknown backend {backend}."),
        };

        // "HNSW-R10k4": a 2,560-float FDE (R 10, k 4, d_proj 16) for a 4x cheaper graph, paid for with more candidates.
        FdeOptions fde = backend == "HNSW-R10k4"
            ? FdeOptions.CreateSimHash(128) with { Repetitions = 10, SimHashProjections = 4 }
            : FdeOptions.CreateSimHash(128);

        if (!File.Exists(Path.Combine(directory, "CURRENT")))
        {
            var clock = Stopwatch.StartNew();
            using MuveraIndex building = MuveraIndex.Create(new MuveraIndexOptions
            {
                Fde = fde,
                TokenElementType = StoreElementType.Float16,
            }, mips);
            const int batch = 2_000;
            for (int first = 0; first < Count; first += batch)
            {
                int n = Math.Min(batch, Count - first);
                building.AddRange(
                    Enumerable.Range(first, n).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray(),
                    Enumerable.Range(first, n).Select(corpus.GetDocument).ToArray());
                Console.Error.Write($"\r{backend}: {first + n:N0} / {Count:N0} documents, {clock.Elapsed.TotalSeconds:F0} s");
            }

            Console.Error.WriteLine();
            double seconds = clock.Elapsed.TotalSeconds;
            building.Save(directory);
            File.WriteAllText(Path.Combine(directory, "..", $"muvera-{backend.ToLowerInvariant()}-{Count}.build.txt"),
                $"{seconds:F1} s to encode and add {Count} documents on {Environment.ProcessorCount} cores\n");
        }

        long before = Environment.WorkingSet;
        MuveraIndex index = MuveraIndex.Load(directory, new MuveraLoadOptions { Backends = [mips] });
        if (report)
        {
            Report(backend, index, corpus, Environment.WorkingSet - before);
        }

        return index;
    }

    private static void Report(string backend, MuveraIndex index, SyntheticCorpus corpus, long loadedBytes)
    {
        string buildNote = Path.Combine(Indexing.FdeCorpus.CacheDirectory, $"muvera-{backend.ToLowerInvariant()}-{Count}.build.txt");
        Console.WriteLine($"== {backend}: {index.Count:N0} documents; build: {(File.Exists(buildNote) ? File.ReadAllText(buildNote).Trim() : "?")}");
        Console.WriteLine($"   memory per document: tokens {index.TokenBytes / (double)index.Count:N0} B (float16), FDE {(index.FdeBytes is long fde ? (fde / (double)index.Count).ToString("N0", CultureInfo.InvariantCulture) : "n/a")} B (stored {index.FdeBytesPerDocument?.ToString(CultureInfo.InvariantCulture) ?? "n/a"} B); " +
            $"working set after load +{loadedBytes / (double)index.Count:N0} B/doc (token file mapped, not all resident)");

        ReadOnlyMultiVector[] queries = Enumerable.Range(0, QueryCount).Select(corpus.GetQuery).ToArray();
        var exactTimes = new double[queries.Length];
        var exact = new string[queries.Length][];
        for (int q = 0; q < queries.Length; q++)
        {
            long start = Stopwatch.GetTimestamp();
            exact[q] = index.SearchExact(queries[q], K).Select(h => h.Id).ToArray();
            exactTimes[q] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Console.WriteLine($"   exact brute force: p50 {Percentile(exactTimes, 50):F1} ms, p99 {Percentile(exactTimes, 99):F1} ms");
        foreach (bool carve in new[] { false, true })
        {
            foreach (int n in CandidateLadder)
            {
                var options = new MuveraSearchOptions { Candidates = n, BallCarving = carve };
                var times = new double[queries.Length];
                double recall = 0;
                for (int q = 0; q < queries.Length; q++)
                {
                    long start = Stopwatch.GetTimestamp();
                    MuveraSearchHit[] hits = index.Search(queries[q], K, options);
                    times[q] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    recall += hits.Count(h => exact[q].Contains(h.Id)) / (double)K;
                }

                double p50 = Percentile(times, 50);
                Console.WriteLine($"   MUVERA{(carve ? " + ball carving" : "")}, N = {n}: recall@10 {recall / queries.Length:F3}, p50 {p50:F2} ms, p99 {Percentile(times, 99):F2} ms, " +
                    $"{Percentile(exactTimes, 50) / p50:F0}x exact's p50");
            }
        }
    }

    internal static double Percentile(double[] values, int percentile)
    {
        double[] sorted = [.. values.Order()];
        int rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    /// <summary>One query per iteration (no unrolling, one invocation) so that iteration statistics are per-query
    /// latencies; P50 and P99 columns.</summary>
    private sealed class LatencyConfig : ManualConfig
    {
        public LatencyConfig()
        {
            AddJob(Job.Default.WithStrategy(RunStrategy.Monitoring).WithInvocationCount(1).WithUnrollFactor(1)
                .WithWarmupCount(5).WithIterationCount(SyntheticData.Smoke ? 3 : 100).WithLaunchCount(1).WithId("PerQuery"));
            AddColumn(StatisticColumn.P50, new PercentileColumn(99));
        }
    }

    private sealed class PercentileColumn(int percentile) : IColumn
    {
        public string Id => $"P{percentile}";

        public string ColumnName => $"P{percentile}";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Statistics;

        public int PriorityInCategory => 10;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Time;

        public string Legend => $"{percentile}th percentile of the per-query times";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            double? nanoseconds = summary[benchmarkCase]?.ResultStatistics?.Percentiles.Percentile(percentile);
            return nanoseconds is double value ? (value / 1e6).ToString("N2", CultureInfo.InvariantCulture) + " ms" : "NA";
        }

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;
    }
}

/// <summary>
/// Throughput (QPS with every core busy) of the same indexes as <see cref="MuveraSearchBenchmarks"/>: one operation
/// searches a batch of 20 queries in parallel (one query per core at a time), for exact brute-force Chamfer and for
/// MUVERA at N candidates. QPS = 20 / the operation time. The setup prints recall@10 of MUVERA at N against exact search
/// over all 100 queries (exact top-10 lists cached next to the indexes).
/// </summary>
[Config(typeof(ThroughputConfig))]
[SuppressMessage("Design", "CA1001", Justification = "The index is disposed in [GlobalCleanup]; BenchmarkDotNet needs an unsealed class.")]
public class MuveraThroughputBenchmarks
{
    private const int K = 10;
    private const int Batch = 20;

    private MuveraIndex? _index;
    private ReadOnlyMultiVector[] _queries = [];

    /// <summary>The MIPS backend, as in <see cref="MuveraSearchBenchmarks"/> (MUVERA_BENCH_BACKENDS selects).</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "Flat-pq4";

    /// <summary>N, the FDE candidates reranked (default 300 and 500; MUVERA_BENCH_CANDIDATES overrides).</summary>
    [ParamsSource(nameof(CandidateCounts))]
    public int Candidates { get; set; } = 300;

    /// <summary>The backends measured.</summary>
    public static IEnumerable<string> Backends => MuveraSearchBenchmarks.Backends;

    /// <summary>The candidate counts measured.</summary>
    public static IEnumerable<int> CandidateCounts =>
        Environment.GetEnvironmentVariable("MUVERA_BENCH_CANDIDATES")?.Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture)) ?? [300, 500];

    [GlobalSetup]
    public void Setup()
    {
        SyntheticCorpus corpus = MuveraSearchBenchmarks.Corpus();
        _queries = Enumerable.Range(0, 100).Select(corpus.GetQuery).ToArray();
        _index = MuveraSearchBenchmarks.Open(Backend, corpus, report: false);
        string[][] exact = ExactTopTen(_index, _queries);
        var options = new MuveraSearchOptions { Candidates = Candidates };
        double recall = Enumerable.Range(0, _queries.Length)
            .Average(q => _index.Search(_queries[q], K, options).Count(h => exact[q].Contains(h.Id)) / (double)K);
        Console.WriteLine($"// {Backend}, N = {Candidates}: recall@10 against exact search over {_queries.Length} queries = {recall:F3}");
    }

    [GlobalCleanup]
    public void Cleanup() => _index?.Dispose();

    /// <summary>20 exact brute-force searches, in parallel.</summary>
    [Benchmark(Baseline = true)]
    public void ExactBatch() => Parallel.For(0, Batch, q => _index!.SearchExact(_queries[q], K));

    /// <summary>20 MUVERA searches (N candidates, exact rerank), in parallel.</summary>
    [Benchmark]
    public void MuveraBatch()
    {
        var options = new MuveraSearchOptions { Candidates = Candidates };
        Parallel.For(0, Batch, q => _index!.Search(_queries[q], K, options));
    }

    private static string[][] ExactTopTen(MuveraIndex index, ReadOnlyMultiVector[] queries)
    {
        string path = Path.Combine(Indexing.FdeCorpus.CacheDirectory, $"muvera-exact-top10-v{SyntheticCorpus.GeneratorVersion}-{MuveraSearchBenchmarks.Count}.txt");
        if (File.Exists(path))
        {
            return File.ReadAllLines(path).Select(line => line.Split(' ')).ToArray();
        }

        string[][] exact = queries.Select(q => index.SearchExact(q, K).Select(h => h.Id).ToArray()).ToArray();
        File.WriteAllLines(path, exact.Select(ids => string.Join(' ', ids)));
        return exact;
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig()
        {
            AddJob(Job.Default.WithStrategy(RunStrategy.Monitoring).WithInvocationCount(1).WithUnrollFactor(1)
                .WithWarmupCount(1).WithIterationCount(SyntheticData.Smoke ? 2 : 5).WithLaunchCount(1).WithId("Batch20"));
        }
    }
}
