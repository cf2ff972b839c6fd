// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using Muvera.Scoring;
using Muvera.Tests.Fixtures;

namespace Muvera.Gpu.Tests.Fixtures;

/// <summary>
/// Scorers on ILGPU's CPU accelerator, shared by the tests (creating one and compiling the kernel costs a few hundred
/// milliseconds), plus the comparison against <see cref="CpuChamferScorer"/>.
/// </summary>
/// <remarks>The CPU accelerator runs every simulated thread of a group as an OS thread and each group barrier as a
/// real synchronisation, so small groups are fastest on a 2-core machine. The configurations still cover what matters
/// for the kernel: a warp of 2 (tails of every document tile), a group of 4 warps, and a 32-wide warp as on CUDA.</remarks>
internal static class CpuAccelerator
{
    /// <summary>GPU scores must equal the CPU scorer's within this fraction of the score's magnitude
    /// Σ_q max_d Σ_k |q_k·d_k| (the bound on rounding error of both summation orders), stated before any run.</summary>
    public const double RelativeTolerance = 1e-4;

    private const long SimulatedMemory = 1L << 30;

    private static readonly Lazy<GpuChamferScorer> s_tiny = new(() => GpuChamferScorer.CreateCpuAccelerator(2, 2, SimulatedMemory));
    private static readonly Lazy<GpuChamferScorer> s_fourWarps = new(() => GpuChamferScorer.CreateCpuAccelerator(4, 4, SimulatedMemory));
    private static readonly Lazy<GpuChamferScorer> s_cudaWarp = new(() => GpuChamferScorer.CreateCpuAccelerator(32, 1, SimulatedMemory));

    /// <summary>Warp 2, 2 warps per group: the cheapest configuration; most tests use it.</summary>
    public static GpuChamferScorer Tiny => s_tiny.Value;

    /// <summary>Warp 4, 4 warps per group (16 threads).</summary>
    public static GpuChamferScorer FourWarps => s_fourWarps.Value;

    /// <summary>One 32-wide warp, the CUDA warp size.</summary>
    public static GpuChamferScorer CudaWarp => s_cudaWarp.Value;

    /// <summary>Disposes the scorers that were created.</summary>
    public static void DisposeAll()
    {
        foreach (Lazy<GpuChamferScorer> scorer in new[] { s_tiny, s_fourWarps, s_cudaWarp })
        {
            if (scorer.IsValueCreated)
            {
                scorer.Value.Dispose();
            }
        }
    }

    /// <summary>A store of random Gaussian documents with the given token counts.</summary>
    public static MultiVectorStore RandomStore(int seed, int dimension, StoreElementType elementType, IEnumerable<int> tokenCounts)
    {
        var random = new System.Random(seed);
        var store = new MultiVectorStore(dimension, elementType, normalize: false);
        foreach (int tokens in tokenCounts)
        {
            store.Add(TestVectors.Gaussian(random, tokens * dimension));
        }

        return store;
    }

    /// <summary>A random Gaussian query.</summary>
    public static ReadOnlyMultiVector RandomQuery(System.Random random, int tokens, int dimension) =>
        new(TestVectors.Gaussian(random, tokens * dimension), dimension);

    /// <summary>Σ_q max_d Σ_k |q_k·d_k| over the best document token of each query token (in double): the scale of a
    /// Chamfer score's rounding error.</summary>
    public static double Magnitude(ReadOnlyMultiVector query, ReadOnlySpan<float> document, int dimension)
    {
        double magnitude = 0;
        for (int q = 0; q < query.Count; q++)
        {
            ReadOnlySpan<float> row = query[q];
            double best = double.NegativeInfinity;
            double bestMagnitude = 0;
            for (int t = 0; t < document.Length / dimension; t++)
            {
                ReadOnlySpan<float> token = document.Slice(t * dimension, dimension);
                double dot = 0;
                double abs = 0;
                for (int k = 0; k < dimension; k++)
                {
                    double product = (double)row[k] * token[k];
                    dot += product;
                    abs += Math.Abs(product);
                }

                if (dot > best)
                {
                    best = dot;
                    bestMagnitude = abs;
                }
            }

            magnitude += bestMagnitude;
        }

        return magnitude;
    }

    /// <summary>Asserts that <paramref name="actual"/> scores equal the CPU scorer's for the same store ids, within
    /// <see cref="RelativeTolerance"/>; returns the largest deviation relative to the magnitude.</summary>
    public static double AssertEqualsCpu(ReadOnlyMultiVector query, MultiVectorStore store, IEnumerable<ScoredId> actual, string what)
    {
        var cpu = new CpuChamferScorer();
        double worst = 0;
        float[] tokens = new float[store.Dimension * Math.Max(1, Enumerable.Range(0, store.Count).Select(store.TokenCountOf).DefaultIfEmpty(1).Max())];
        foreach (ScoredId hit in actual)
        {
            float expected = cpu.Rerank(query, store, [hit.Id], 1)[0].Score;
            if (float.IsNegativeInfinity(expected))
            {
                Assert.That(hit.Score, Is.EqualTo(float.NegativeInfinity), $"{what}: empty document {hit.Id}");
                continue;
            }

            int length = store.TokenCountOf(hit.Id) * store.Dimension;
            store.CopyTokens(hit.Id, tokens);
            double magnitude = Math.Max(Magnitude(query, tokens.AsSpan(0, length), store.Dimension), Math.Abs(expected));
            double deviation = Math.Abs(hit.Score - expected) / magnitude;
            worst = Math.Max(worst, deviation);
            Assert.That(deviation, Is.LessThanOrEqualTo(RelativeTolerance),
                $"{what}: document {hit.Id} scored {hit.Score:R} on the GPU kernel, {expected:R} on the CPU (magnitude {magnitude:G4})");
        }

        return worst;
    }
}
