// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.IO;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Muvera.Indexing;

namespace Muvera.Benchmarks.Indexing;

/// <summary>
/// The MUVERA candidate stage per FDE storage, one thread: one query's top N = 200 over 100,000 (20, 5, 16) FDEs
/// (10,240 floats; <see cref="FdeCorpus"/>) stored as float32 (the baseline), float16, int8, 4-bit product quantization
/// over 4-float sub-spaces (1,280 bytes), the same with a 4-bit refinement stage that re-scores the scan's best 2N (1,280 bytes
/// scanned, 2,560 stored) and 8-bit over 8-float sub-spaces (PQ-256-8, 1,280 bytes), side by
/// side in one run; and a one-thread sequential read of 128 MB (the bytes 4-bit PQ scans), the machine's roofline.
/// Quantized indexes are trained the way <see cref="MuveraIndex"/> trains them (on the first rows added, batches of
/// 2,000) and cached under the temp folder; the setup prints each storage's recall@10 of the exact FDE top 10 at N.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "The index is disposed in [GlobalCleanup]; BenchmarkDotNet needs an unsealed class.")]
public class FdeStorageScanBenchmarks
{
    private const int N = 200;
    private static readonly ParallelOptions s_oneThread = new() { MaxDegreeOfParallelism = 1 };

    private FdeCorpus? _corpus;
    private IMipsIndex? _index;
    private ScoredId[] _results = [];
    private byte[] _readBuffer = [];
    private int _next;

    /// <summary>The storage: f32, f16, int8, pq:4,4, pq:4,4+4,4 (the scan plus the refinement of 2N candidates) or pq:8,8.</summary>
    [Params("f32", "f16", "int8", "pq:4,4", "pq:4,4+4,4", "pq:8,8")]
    public string Storage { get; set; } = "f32";

    /// <summary>Documents in the index.</summary>
    public static int Count => SyntheticData.Smoke ? 1_500 : 100_000;

    [GlobalSetup]
    public void Setup()
    {
        _corpus = FdeCorpus.Get(Count);
        _results = new ScoredId[N];
        _readBuffer = new byte[SyntheticData.Smoke ? 1 << 20 : 128 << 20];
        new Random(1).NextBytes(_readBuffer);
        _index = Storage switch
        {
            "f32" => _corpus.Documents,
            "f16" => Convert(new FlatMipsIndex(_corpus.Dimension, StoreElementType.Float16)),
            "int8" => Quantized(FdeStorage.Int8),
            "pq:4,4" => Quantized(FdeStorage.ProductQuantization(4, 4)),
            "pq:4,4+4,4" => Quantized(FdeStorage.ProductQuantization(4, 4).WithRefinement(4, 4)),
            _ => Quantized(FdeStorage.ProductQuantization(8, 8)),
        };

        var results = new ScoredId[FdeCorpus.QueryCount * N];
        for (int q = 0; q < FdeCorpus.QueryCount; q++)
        {
            Search(_index, _corpus.Queries.AsSpan(q * _corpus.Dimension, _corpus.Dimension), results.AsSpan(q * N, N));
        }

        long hits = 0;
        for (int q = 0; q < FdeCorpus.QueryCount; q++)
        {
            var found = results.AsSpan(q * N, N).ToArray().Select(r => r.Id).ToHashSet();
            hits += _corpus.Truth.AsSpan(q * FdeCorpus.TruthDepth, 10).ToArray().Count(found.Contains);
        }

        long bytes = _index is QuantizedMipsIndex quantized ? quantized.MemoryBytes : ((FlatMipsIndex)_index).MemoryBytes;
        Console.WriteLine($"// {Storage}: {Count:N0} FDEs, {bytes / (double)Count:N0} bytes per document in memory, " +
            $"recall@10 of the exact FDE top 10 within the top {N}: {hits / (10.0 * FdeCorpus.QueryCount):F3}");
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

    /// <summary>One query's top 200 on one thread.</summary>
    [Benchmark]
    public int Scan()
    {
        int q = _next++ % FdeCorpus.QueryCount;
        return Search(_index!, _corpus!.Queries.AsSpan(q * _corpus.Dimension, _corpus.Dimension), _results);
    }

    /// <summary>Reads 128 MB once on one thread (the roofline of a scan of that many bytes).</summary>
    [Benchmark]
    public Vector512<byte> SequentialRead128MB()
    {
        Vector512<byte> sum = Vector512<byte>.Zero;
        ref byte start = ref _readBuffer[0];
        for (nuint i = 0; i + 256 <= (nuint)_readBuffer.Length; i += 256)
        {
            sum += Vector512.LoadUnsafe(ref start, i) ^ Vector512.LoadUnsafe(ref start, i + 64)
                ^ Vector512.LoadUnsafe(ref start, i + 128) ^ Vector512.LoadUnsafe(ref start, i + 192);
        }

        return sum;
    }

    private static int Search(IMipsIndex index, ReadOnlySpan<float> query, Span<ScoredId> results) => index switch
    {
        FlatMipsIndex flat => flat.Search(query, N, results, s_oneThread),
        QuantizedMipsIndex quantized => quantized.Search(query, N, results, s_oneThread),
        _ => index.Search(query, N, results),
    };

    private FlatMipsIndex Convert(FlatMipsIndex target)
    {
        for (int start = 0; start < Count; start += 2_000)
        {
            target.Add(_corpus!.DocumentVectors(start, Math.Min(2_000, Count - start)));
        }

        return target;
    }

    private QuantizedMipsIndex Quantized(FdeStorage storage)
    {
        string path = Path.Combine(FdeCorpus.CacheDirectory, $"fde-corpus-v1-{Count}-{storage.ToString().Replace(':', '-').Replace(',', '-')}.quantized");
        if (File.Exists(path))
        {
            return QuantizedMipsIndex.Load(path);
        }

        var index = new QuantizedMipsIndex(_corpus!.Dimension, storage);
        for (int start = 0; start < Count; start += 2_000)
        {
            index.Add(_corpus.DocumentVectors(start, Math.Min(2_000, Count - start)));
        }

        index.Save(path);
        return index;
    }
}
