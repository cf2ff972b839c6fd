// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Benchmarks;

/// <summary>Fixed-seed synthetic token vectors for benchmarks.</summary>
internal static class SyntheticData
{
    /// <summary>Row-major unit-length Gaussian token vectors.</summary>
    public static float[] UnitTokens(int count, int dimension, int seed)
    {
        var random = new Random(seed);
        float[] values = new float[count * dimension];
        for (int t = 0; t < count; t++)
        {
            Span<float> row = values.AsSpan(t * dimension, dimension);
            double norm = 0;
            for (int i = 0; i < dimension; i++)
            {
                // Box–Muller from two uniforms.
                double u1 = 1.0 - random.NextDouble();
                double u2 = random.NextDouble();
                row[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
                norm += row[i] * row[i];
            }

            float scale = (float)(1 / Math.Sqrt(norm));
            for (int i = 0; i < dimension; i++)
            {
                row[i] *= scale;
            }
        }

        return values;
    }

    /// <summary>The Chamfer benchmarks' query: 32 unit tokens of 128 dimensions.</summary>
    public static ReadOnlyMultiVector ChamferQuery() => new(UnitTokens(32, 128, seed: 5), 128);

    /// <summary>The Chamfer benchmarks' corpus: <paramref name="count"/> documents of 80 unit tokens, row after row.</summary>
    public static float[] ChamferCorpus(int count) => UnitTokens(count * 80, 128, seed: 7);
}
