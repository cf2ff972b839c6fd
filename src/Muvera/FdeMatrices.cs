// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using Muvera.Prng;

namespace Muvera;

/// <summary>
/// The random matrices of an FDE, in the reference's shapes. <see cref="Generate"/> draws them from
/// <see cref="ReferenceRandom"/> (PRNG version 1); tests inject the golden fixtures' matrices instead.
/// </summary>
internal sealed class FdeMatrices
{
    /// <summary>Per repetition, the d × k Gaussian SimHash matrix G_r, row-major (<c>[i·k + j]</c>); null when k = 0 or
    /// the partitions are learned.</summary>
    public float[][]? SimHash { get; init; }

    /// <summary>Per repetition, the AMS column of each input coordinate; null unless the projection is AMS.</summary>
    public int[][]? AmsColumns { get; init; }

    /// <summary>Per repetition, the AMS sign (±1) of each input coordinate; null unless the projection is AMS.</summary>
    public float[][]? AmsSigns { get; init; }

    /// <summary>Per repetition, the dense d × d_proj matrix (±1/√d_proj), row-major; null unless the projection is dense.</summary>
    public float[][]? Dense { get; init; }

    /// <summary>The Count Sketch bucket of each pre-final coordinate; null without a final projection.</summary>
    public int[]? CountSketchIndices { get; init; }

    /// <summary>The Count Sketch sign (±1) of each pre-final coordinate; null without a final projection.</summary>
    public float[]? CountSketchSigns { get; init; }

    /// <summary>The seed of repetition r: <c>Seed + r</c> as unsigned 32-bit, like the reference.</summary>
    public static uint RepetitionSeed(int seed, int repetition) => unchecked((uint)(seed + repetition));

    /// <summary>
    /// The seed of the dense projection of repetition r (Muvera's own function, not in the reference): MurmurHash3's
    /// 32-bit finaliser of the repetition seed XOR a constant, so its stream is unrelated to G_r's.
    /// </summary>
    public static uint DenseSeed(int seed, int repetition)
    {
        uint h = RepetitionSeed(seed, repetition) ^ 0x9E3779B9u;
        h ^= h >> 16;
        h = unchecked(h * 0x85EBCA6Bu);
        h ^= h >> 13;
        h = unchecked(h * 0xC2B2AE35u);
        h ^= h >> 16;
        return h;
    }

    /// <summary>Draws every matrix the options need. Requires validated options.</summary>
    public static FdeMatrices Generate(FdeOptions options)
    {
        int d = options.Dimension;
        int r = options.Repetitions;
        int k = options.SimHashProjections;
        int p = options.BlockDimension;

        // One engine, reseeded per matrix: the draws equal fresh engines' (tests compare with the reference), without
        // allocating an engine state per repetition.
        var random = new ReferenceRandom(0);
        float[][]? simHash = null;
        if (k > 0 && options.Partitioning == FdePartitioning.SimHash)
        {
            simHash = new float[r][];
            for (int rep = 0; rep < r; rep++)
            {
                // std::normal_distribution<float> filling an Eigen d × k matrix in column-major order.
                random.Reseed(RepetitionSeed(options.Seed, rep));
                float[] g = new float[d * k];
                for (int j = 0; j < k; j++)
                {
                    for (int i = 0; i < d; i++)
                    {
                        g[(i * k) + j] = random.NextGaussian();
                    }
                }

                simHash[rep] = g;
            }
        }

        int[][]? amsColumns = null;
        float[][]? amsSigns = null;
        float[][]? dense = null;
        if (options.Projection == FdeProjection.Ams)
        {
            amsColumns = new int[r][];
            amsSigns = new float[r][];
            for (int rep = 0; rep < r; rep++)
            {
                // A fresh stream from the same seed as G_r, as the reference does.
                random.Reseed(RepetitionSeed(options.Seed, rep));
                int[] columns = new int[d];
                float[] signs = new float[d];
                for (int i = 0; i < d; i++)
                {
                    columns[i] = random.UniformIndex(p);
                    signs[i] = random.CoinFlip() ? 1f : -1f;
                }

                amsColumns[rep] = columns;
                amsSigns[rep] = signs;
            }
        }
        else if (options.Projection == FdeProjection.Dense)
        {
            dense = new float[r][];
            float scale = 1f / MathF.Sqrt(p);
            for (int rep = 0; rep < r; rep++)
            {
                random.Reseed(DenseSeed(options.Seed, rep));
                float[] s = new float[d * p];
                for (int i = 0; i < s.Length; i++)
                {
                    s[i] = random.CoinFlip() ? scale : -scale;
                }

                dense[rep] = s;
            }
        }

        int[]? sketchIndices = null;
        float[]? sketchSigns = null;
        if (options.FinalDimension is int final)
        {
            // The reference restarts from the plain seed (not seed + r) for the Count Sketch.
            random.Reseed(unchecked((uint)options.Seed));
            int length = (int)options.PreFinalDimension;
            sketchIndices = new int[length];
            sketchSigns = new float[length];
            for (int i = 0; i < length; i++)
            {
                sketchIndices[i] = random.UniformIndex(final);
                sketchSigns[i] = random.CoinFlip() ? 1f : -1f;
            }
        }

        return new FdeMatrices
        {
            SimHash = simHash,
            AmsColumns = amsColumns,
            AmsSigns = amsSigns,
            Dense = dense,
            CountSketchIndices = sketchIndices,
            CountSketchSigns = sketchSigns,
        };
    }
}
