// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Numerics.Tensors;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Muvera.Kernels;
using Muvera.Scoring;

namespace Muvera.Benchmarks.Kernels;

/// <summary>Exact Chamfer of a 32-token query against one 80-token document, d = 128, float32, at every SIMD width
/// (documents/s per thread = 1 / time).</summary>
[MemoryDiagnoser]
public class ChamferBenchmarks
{
    private ReadOnlyMultiVector _query;
    private ReadOnlyMultiVector _document;

    /// <summary>Bits per vector: 512, 256, 128, or 1 for the scalar twin.</summary>
    [Params(512, 256, 128, 1)]
    public int Bits { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _query = SyntheticData.ChamferQuery();
        _document = new ReadOnlyMultiVector(SyntheticData.UnitTokens(80, 128, seed: 6), 128);
    }

    /// <summary>One query–document pair at the chosen width.</summary>
    [Benchmark]
    public float ScorePair() => CpuChamferScorer.ScoreUnchecked(_query, _document, (SimdWidth)Bits);
}

/// <summary>
/// Brute-force exact Chamfer of a 32-token query against 4,096 documents of 80 tokens (d = 128, float32) through the
/// public API, on one thread and on all cores; times are per document.
/// </summary>
[MemoryDiagnoser]
public class ChamferBatchBenchmarks
{
    private const int Documents = 4096;

    private ReadOnlyMultiVector _query;
    private ReadOnlyMultiVector[] _documents = null!;
    private float[] _scores = null!;
    private CpuChamferScorer _scorer = null!;

    [Params(1, -1)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _query = SyntheticData.ChamferQuery();
        float[] all = SyntheticData.ChamferCorpus(Documents);
        _documents = new ReadOnlyMultiVector[Documents];
        for (int i = 0; i < Documents; i++)
        {
            _documents[i] = new ReadOnlyMultiVector(all.AsMemory(i * 80 * 128, 80 * 128), 128);
        }

        _scores = new float[Documents];
        _scorer = new CpuChamferScorer(new ParallelOptions { MaxDegreeOfParallelism = Threads });
    }

    /// <summary>Scores every document.</summary>
    [Benchmark(OperationsPerInvoke = Documents)]
    public void ScoreAll() => _scorer.Score(_query, _documents, _scores);
}

/// <summary>
/// Exact brute-force search (TopK 10) of a 32-token query over a <see cref="MultiVectorStore"/> of 4,096 documents of
/// 80 tokens (d = 128), float32 vs float16 storage, one thread vs all cores; times are per document.
/// </summary>
[MemoryDiagnoser]
[SuppressMessage("Design", "CA1001", Justification = "The store is disposed in [GlobalCleanup]; BenchmarkDotNet needs an unsealed class.")]
public class ChamferStoreBenchmarks
{
    private const int Documents = 4096;

    private ReadOnlyMultiVector _query;
    private MultiVectorStore _store = null!;
    private CpuChamferScorer _scorer = null!;

    [Params(StoreElementType.Float32, StoreElementType.Float16)]
    public StoreElementType ElementType { get; set; }

    [Params(1, -1)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _query = SyntheticData.ChamferQuery();
        float[] all = SyntheticData.ChamferCorpus(Documents);
        _store = new MultiVectorStore(128, ElementType, normalize: false);
        for (int i = 0; i < Documents; i++)
        {
            _store.Add(all.AsSpan(i * 80 * 128, 80 * 128));
        }

        _scorer = new CpuChamferScorer(new ParallelOptions { MaxDegreeOfParallelism = Threads });
    }

    [GlobalCleanup]
    public void Cleanup() => _store?.Dispose();

    /// <summary>Top 10 over the whole store.</summary>
    [Benchmark(OperationsPerInvoke = Documents)]
    public ScoredId[] TopK() => _scorer.TopK(_query, _store, 10);
}

/// <summary>
/// The baseline the fused kernel must beat (STYLE): Chamfer of one 32-token query and one 80-token document (d = 128)
/// as 32 × 80 calls of <see cref="TensorPrimitives.Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/> with a running max.
/// </summary>
[MemoryDiagnoser]
public class ChamferBaselineBenchmarks
{
    private float[] _query = null!;
    private float[] _document = null!;

    [GlobalSetup]
    public void Setup()
    {
        _query = SyntheticData.UnitTokens(32, 128, seed: 5);
        _document = SyntheticData.UnitTokens(80, 128, seed: 6);
    }

    /// <summary>Σ_q max_d TensorPrimitives.Dot(q, d).</summary>
    [Benchmark]
    public float ScorePairWithTensorPrimitivesDot()
    {
        float total = 0f;
        for (int q = 0; q < 32; q++)
        {
            ReadOnlySpan<float> query = _query.AsSpan(q * 128, 128);
            float best = float.NegativeInfinity;
            for (int t = 0; t < 80; t++)
            {
                best = MathF.Max(best, TensorPrimitives.Dot(query, _document.AsSpan(t * 128, 128)));
            }

            total += best;
        }

        return total;
    }
}
