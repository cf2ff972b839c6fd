// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Numerics.Tensors;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Muvera.Faiss;
using Muvera.Indexing;

namespace Muvera.Benchmarks.Indexing;

/// <summary>
/// Exact flat search over 50,000 FDE-sized vectors (10,240 floats: the (20, 5, 16) encoding), all cores: one query
/// against the machine's memory bandwidth, measured in the same run as a plain parallel sequential read of the same
/// number of bytes (the baseline: a ratio of 1.0 is the full bandwidth), and a batch of 64 queries, each beside
/// FAISS's exact IndexFlatIP (through the native shim, with OpenBLAS) over the same vectors.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "The indexes are disposed in [GlobalCleanup]; BenchmarkDotNet needs an unsealed class.")]
public class FlatSearchBenchmarks
{
    private const int Dimension = 10_240;
    private const int K = 100;
    private const int BatchSize = 64;
    private const int ChunkFloats = 1 << 22;

    private float[] _corpus = [];
    private float[] _queries = [];
    private ScoredId[] _results = [];
    private FlatMipsIndex? _flat;
    private FlatMipsIndex? _flatHalf;
    private FaissMipsIndex? _faiss;

    // FAISS's own batch search (BLAS sgemm from 20 queries on), not the shim's default one-search-per-query path.
    private static readonly FaissSearchParameters s_faissBatchPath = new() { UseFaissBatchPath = true };

    /// <summary>Vectors in the index.</summary>
    public static int Count => SyntheticData.Smoke ? 600 : 50_000;

    [GlobalSetup]
    public void Setup()
    {
        _corpus = SyntheticData.Uniform((long)Count * Dimension, seed: 1);
        _queries = SyntheticData.Uniform((long)BatchSize * Dimension, seed: 2);
        _results = new ScoredId[BatchSize * K];
        _flat = new FlatMipsIndex(Dimension);
        _flat.Add(_corpus);
        _flatHalf = new FlatMipsIndex(Dimension, StoreElementType.Float16);
        _flatHalf.Add(_corpus);
        _faiss = FaissMipsIndex.Create(Dimension, "Flat");
        _faiss.Add(_corpus);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _flat?.Dispose();
        _flatHalf?.Dispose();
        _faiss?.Dispose();
    }

    /// <summary>The yardstick: every float of an equally large array summed once, in parallel chunks.</summary>
    [Benchmark(Baseline = true)]
    public float SequentialRead()
    {
        float[] corpus = _corpus;
        int chunks = (int)((corpus.LongLength + ChunkFloats - 1) / ChunkFloats);
        float[] sums = new float[chunks];
        Parallel.For(0, chunks, c =>
        {
            int start = c * ChunkFloats;
            sums[c] = TensorPrimitives.Sum(corpus.AsSpan(start, (int)Math.Min(ChunkFloats, corpus.LongLength - start)));
        });
        return TensorPrimitives.Sum(sums);
    }

    [Benchmark]
    public int FlatOneQuery() => _flat!.Search(_queries.AsSpan(0, Dimension), K, _results);

    [Benchmark]
    public int FlatOneQueryFloat16() => _flatHalf!.Search(_queries.AsSpan(0, Dimension), K, _results);

    [Benchmark]
    public ScoredId FlatBatch64()
    {
        _flat!.SearchBatch(_queries, K, _results);
        return _results[0];
    }

    [Benchmark]
    public int FaissFlatOneQuery() => _faiss!.Search(_queries.AsSpan(0, Dimension), K, _results);

    [Benchmark]
    public ScoredId FaissFlatBatch64()
    {
        _faiss!.SearchBatch(_queries, K, _results, s_faissBatchPath);
        return _results[0];
    }
}
