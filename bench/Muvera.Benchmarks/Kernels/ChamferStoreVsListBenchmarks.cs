// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Muvera.Scoring;

namespace Muvera.Benchmarks.Kernels;

/// <summary>
/// Exact brute-force Chamfer (top 10) of a 32-token query (d = 128) over the same 8,192 documents of 80 tokens on one
/// thread, side by side: as a list of <see cref="ReadOnlyMultiVector"/> (the baseline), and through a
/// <see cref="MultiVectorStore"/> holding them as float32 and as float16. Times are per document (documents/s = 1 / time).
/// </summary>
/// <remarks>The corpus (335 MB as floats) does not fit in any cache, so every path streams its documents from memory,
/// as a store's search does. The store path must be at least as fast as the list path, and float16 at most 1.3x the
/// time of float32. <see cref="FmaPeak"/> is the roofline measured in the same run: one document's multiply-adds at
/// the core's fused multiply-add peak.</remarks>
[MemoryDiagnoser]
[MedianColumn]
[SuppressMessage("Design", "CA1001", Justification = "The stores are disposed in [GlobalCleanup]; BenchmarkDotNet needs an unsealed class.")]
public class ChamferStoreVsListBenchmarks
{
    private const int Tokens = 80;
    private const int Dimension = 128;

    private const int Documents = 8192;

    private ReadOnlyMultiVector _query;
    private ReadOnlyMultiVector[] _documents = null!;
    private MultiVectorStore _float32 = null!;
    private MultiVectorStore _float16 = null!;
    private CpuChamferScorer _scorer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _query = SyntheticData.ChamferQuery();
        float[] all = SyntheticData.ChamferCorpus(Documents);
        _documents = new ReadOnlyMultiVector[Documents];
        _float32 = new MultiVectorStore(Dimension, StoreElementType.Float32, normalize: false);
        _float16 = new MultiVectorStore(Dimension, StoreElementType.Float16, normalize: false);
        for (int i = 0; i < Documents; i++)
        {
            ReadOnlyMemory<float> document = all.AsMemory(i * Tokens * Dimension, Tokens * Dimension);
            _documents[i] = new ReadOnlyMultiVector(document, Dimension);
            _float32.Add(document.Span);
            _float16.Add(document.Span);
        }

        _scorer = new CpuChamferScorer(new ParallelOptions { MaxDegreeOfParallelism = 1 });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _float32?.Dispose();
        _float16?.Dispose();
    }

    /// <summary>Top 10 over the documents as a list.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Documents)]
    public ScoredId[] List() => _scorer.TopK(_query, _documents, 10);

    /// <summary>Top 10 over the float32 store.</summary>
    [Benchmark(OperationsPerInvoke = Documents)]
    public ScoredId[] StoreFloat32() => _scorer.TopK(_query, _float32, 10);

    /// <summary>Top 10 over the float16 store.</summary>
    [Benchmark(OperationsPerInvoke = Documents)]
    public ScoredId[] StoreFloat16() => _scorer.TopK(_query, _float16, 10);

    /// <summary>The roofline per document: its 32 × 80 × 128 = 327,680 multiply-adds as 512-bit fused multiply-adds in
    /// 16 independent register chains (no loads; enough chains to cover the FMA latency on every port).</summary>
    [Benchmark]
    public Vector512<float> FmaPeak()
    {
        Vector512<float> x = Vector512.Create(0.5f), y = Vector512.Create(1f);
        Vector512<float> a0 = y, a1 = y, a2 = y, a3 = y, a4 = y, a5 = y, a6 = y, a7 = y;
        Vector512<float> a8 = y, a9 = y, a10 = y, a11 = y, a12 = y, a13 = y, a14 = y, a15 = y;
        for (int i = 0; i < 32 * 80 * 128 / (16 * 16); i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y);
            a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y);
            a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y);
            a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y);
            a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y);
            a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y);
            a11 = Vector512.FusedMultiplyAdd(a11, x, y);
            a12 = Vector512.FusedMultiplyAdd(a12, x, y);
            a13 = Vector512.FusedMultiplyAdd(a13, x, y);
            a14 = Vector512.FusedMultiplyAdd(a14, x, y);
            a15 = Vector512.FusedMultiplyAdd(a15, x, y);
        }

        return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
    }
}
