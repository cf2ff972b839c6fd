// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Muvera.Faiss;
using Muvera.Indexing;
using Muvera.USearch;

namespace Muvera.Benchmarks.Indexing;

/// <summary>
/// One query (top 100) over 100,000 FDE-like vectors (10,240 floats, the (20, 5, 16) encoding of clustered synthetic
/// multi-vectors) per backend: the exact flat index, USearch HNSW (float16 vectors, M = 32, ef_construction = 128) at
/// two search expansions,
/// and FAISS PQ1280x8 (the paper's PQ-256-8: 1,280 bytes per vector). The setup prints, per backend, its recall@100
/// against the exact top 100, its build time and its memory; indexes are cached under the temp folder
/// (<c>muvera-bench/</c>), so the build time printed is the one measured when the cache was made.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "The index is disposed in [GlobalCleanup]; BenchmarkDotNet needs an unsealed class.")]
public class FdeIndexBenchmarks
{
    private const int K = 100;
    private const int ExpansionAdd = 128;

    private FdeCorpus? _corpus;
    private IMipsIndex? _index;
    private ScoredId[] _results = [];
    private int _next;

    /// <summary>The backend and its search setting ("HNSW-M{connectivity}-ef{expansion search}").</summary>
    [Params("Flat", "HNSW-M32-ef256", "HNSW-M32-ef512", "PQ1280x8")]
    public string Backend { get; set; } = "Flat";

    /// <summary>Vectors in the index.</summary>
    public static int Count => SyntheticData.Smoke ? 2_000 : 100_000;

    [GlobalSetup]
    public void Setup()
    {
        _corpus = FdeCorpus.Get(Count);
        long before = PrivateBytes();
        var clock = Stopwatch.StartNew();
        (_index, string buildNote) = Backend switch
        {
            "Flat" => ((IMipsIndex)_corpus.Documents, "the corpus itself (float32)"),
            _ when Backend.StartsWith("HNSW-M", StringComparison.Ordinal) => Hnsw(
                int.Parse(Backend["HNSW-M".Length..Backend.IndexOf("-ef", StringComparison.Ordinal)], CultureInfo.InvariantCulture),
                int.Parse(Backend[(Backend.IndexOf("-ef", StringComparison.Ordinal) + 3)..], CultureInfo.InvariantCulture)),
            "PQ1280x8" => ProductQuantizer(),
            _ => throw new InvalidOperationException($"Unknown backend {Backend}."),
        };
        double loadSeconds = clock.Elapsed.TotalSeconds;
        long memory = Backend == "Flat" ? _corpus.Documents.MemoryBytes : PrivateBytes() - before;

        _results = new ScoredId[FdeCorpus.QueryCount * K];
        _index.SearchBatch(_corpus.Queries, K, _results);
        double recall = _corpus.Recall(_results, K);
        Console.WriteLine(FormattableString.Invariant(
            $"# {Backend}: n = {_index.Count}, recall@{K} = {recall:F4}, memory ≈ {memory / (double)_index.Count:F0} bytes/vector, {buildNote}, setup {loadSeconds:F1} s"));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (!ReferenceEquals(_index, _corpus?.Documents))
        {
            _index?.Dispose();
        }

        _corpus?.Documents.Dispose();
    }

    [Benchmark]
    public int OneQuery()
    {
        int q = _next++ % FdeCorpus.QueryCount;
        return _index!.Search(_corpus!.Queries.AsSpan(q * _corpus.Dimension, _corpus.Dimension), K, _results);
    }

    private (IMipsIndex, string) Hnsw(int connectivity, int expansionSearch)
    {
        string path = Path.Combine(FdeCorpus.CacheDirectory, $"hnsw-f16-m{connectivity}-ef{ExpansionAdd}-{Count}.usearch");
        string note = path + ".build.txt";
        if (!File.Exists(path))
        {
            var clock = Stopwatch.StartNew();
            var options = new USearchOptions { ScalarKind = USearchScalarKind.Float16, Connectivity = connectivity, ExpansionAdd = ExpansionAdd };
            using var built = new USearchMipsIndex(_corpus!.Dimension, options);
            built.Reserve(Count);
            for (int start = 0; start < Count; start += 5_000)
            {
                built.Add(_corpus.DocumentVectors(start, Math.Min(5_000, Count - start)));
            }

            double seconds = clock.Elapsed.TotalSeconds;
            built.Save(path);
            File.WriteAllText(note, FormattableString.Invariant($"build {seconds:F1} s on {Environment.ProcessorCount} threads (M = {connectivity}, ef_construction = {ExpansionAdd})"));
        }

        USearchMipsIndex index = USearchMipsIndex.Load(path);
        index.ExpansionSearch = expansionSearch;
        return (index, File.ReadAllText(note));
    }

    private (IMipsIndex, string) ProductQuantizer()
    {
        string path = Path.Combine(FdeCorpus.CacheDirectory, $"faiss-pq1280x8-{Count}.faiss");
        string note = path + ".build.txt";
        if (!File.Exists(path))
        {
            var clock = Stopwatch.StartNew();
            using FaissMipsIndex built = FaissMipsIndex.Create(_corpus!.Dimension, "PQ1280x8");
            // A training sample on one thread: PQ training costs about 35 CPU-seconds per 1,000 vectors with Debian's
            // generic libfaiss, and FAISS's k-means threads busy-wait against each other on a shared 2-core machine.
            int training = SyntheticData.Smoke ? 256 : 5_000;
            built.Train(_corpus.DocumentVectors(0, training), new ParallelOptions { MaxDegreeOfParallelism = 1 });
            double trainSeconds = clock.Elapsed.TotalSeconds;
            for (int start = 0; start < Count; start += 5_000)
            {
                built.Add(_corpus.DocumentVectors(start, Math.Min(5_000, Count - start)));
            }

            double seconds = clock.Elapsed.TotalSeconds;
            built.Save(path);
            File.WriteAllText(note, FormattableString.Invariant($"train {trainSeconds:F1} s on {training} vectors, train + add {seconds:F1} s"));
        }

        return (FaissMipsIndex.Load(path), File.ReadAllText(note));
    }

    private static long PrivateBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PrivateMemorySize64;
    }
}
