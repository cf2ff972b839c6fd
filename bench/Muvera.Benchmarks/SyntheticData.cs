// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Benchmarks;

/// <summary>Fixed-seed synthetic token vectors for benchmarks.</summary>
internal static class SyntheticData
{
    /// <summary>Whether the benchmarks run at smoke scale (environment variable <c>MUVERA_BENCH_SCALE=smoke</c>): tiny
    /// data sets, so that a dry run of every benchmark finishes in seconds. Recorded results never use it.</summary>
    public static bool Smoke => string.Equals(Environment.GetEnvironmentVariable("MUVERA_BENCH_SCALE"), "smoke", StringComparison.OrdinalIgnoreCase);

    /// <summary>Fast fixed-seed uniform values in [−1, 1) (a SplitMix64 hash of the index, so any slice can be made
    /// in parallel): the flat-search benchmarks need gigabytes of floats, whose content does not affect their speed.</summary>
    public static float[] Uniform(long count, ulong seed)
    {
        float[] values = new float[count];
        System.Threading.Tasks.Parallel.For(0, (count + 65535) / 65536, chunk =>
        {
            long end = Math.Min(count, (chunk + 1) * 65536);
            for (long i = chunk * 65536; i < end; i++)
            {
                ulong z = unchecked(((ulong)i + seed) * 0x9E3779B97F4A7C15UL);
                z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
                z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
                z ^= z >> 31;
                values[i] = ((z >> 40) * (1f / (1 << 23))) - 1f;
            }
        });
        return values;
    }

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
