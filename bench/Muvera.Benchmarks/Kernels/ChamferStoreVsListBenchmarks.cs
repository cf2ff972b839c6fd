// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
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
/// time of float32.</remarks>
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
}
