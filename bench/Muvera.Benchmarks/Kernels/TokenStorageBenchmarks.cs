// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Muvera.Kernels;
using Muvera.Scoring;

namespace Muvera.Benchmarks.Kernels;

/// <summary>
/// Exact Chamfer throughput over each token storage, side by side (issue #15): a 32-token query (d = 128) against a
/// <see cref="MultiVectorStore"/> of 4,096 documents of 80 tokens on one thread, float32 vs float16 vs int8 vs 2-bit
/// residual codes. <see cref="TopK"/> streams the whole store from memory (times per document); <see cref="ScoreOne"/>
/// scores one document that stays in cache (decode + transpose + MaxSim only).
/// </summary>
/// <remarks>The quantized stores train on the corpus itself in the setup (ColBERTv2's rule gives 8,192 centroids for
/// these 327,680 tokens); the tokens are unit Gaussian, so the residual codebook is only realistic in its shape and
/// size, which is what throughput depends on. At smoke scale the residual store has 256 centroids (a quick setup).</remarks>
[MemoryDiagnoser]
[SuppressMessage("Design", "CA1001", Justification = "The store is disposed in [GlobalCleanup]; BenchmarkDotNet needs an unsealed class.")]
public class TokenStorageChamferBenchmarks
{
    private const int Documents = 4096;
    private const int Dimension = 128;

    private ReadOnlyMultiVector _query;
    private MultiVectorStore _store = null!;
    private CpuChamferScorer _scorer = null!;

    /// <summary>The token storage, as the CLI's <c>--token-storage</c> names it.</summary>
    [Params("f32", "f16", "int8", "residual:2")]
    public string Storage { get; set; } = "f32";

    [GlobalSetup]
    public void Setup()
    {
        TokenStorage storage = Storage switch
        {
            "f32" => TokenStorage.Float32,
            "f16" => TokenStorage.Float16,
            "int8" => TokenStorage.Int8,
            "residual:2" => SyntheticData.Smoke ? TokenStorage.Residual(2, 256) : TokenStorage.Residual(2),
            _ => throw new ArgumentOutOfRangeException(nameof(Storage), Storage, "Expected f32, f16, int8 or residual:2."),
        };
        _query = SyntheticData.ChamferQuery();
        float[] all = SyntheticData.ChamferCorpus(Documents);
        _store = new MultiVectorStore(Dimension, storage, normalize: false);
        if (storage.IsQuantized)
        {
            _store.Train(all);
        }

        for (int i = 0; i < Documents; i++)
        {
            _store.Add(all.AsSpan(i * 80 * Dimension, 80 * Dimension));
        }

        _scorer = new CpuChamferScorer(new ParallelOptions { MaxDegreeOfParallelism = 1 });
        Console.WriteLine($"// {Storage}: {_store.EncodedBytes / (double)_store.TokenCount:F1} bytes per token with the codebook");
    }

    [GlobalCleanup]
    public void Cleanup() => _store?.Dispose();

    /// <summary>Top 10 over the whole store on one thread (per document).</summary>
    [Benchmark(OperationsPerInvoke = Documents)]
    public ScoredId[] TopK() => _scorer.TopK(_query, _store, 10);

    /// <summary>One document, in cache, at the widest width.</summary>
    [Benchmark]
    public float ScoreOne() => CpuChamferScorer.ScoreStored(_query, _store, 17, SimdDispatch.Preferred);
}
