// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Tests.Fixtures;

/// <summary>Test data from <see cref="System.Random"/> with fixed seeds (never used where production results must reproduce).</summary>
internal static class TestVectors
{
    /// <summary>A standard normal draw (Box–Muller).</summary>
    public static double NextGaussian(System.Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary><paramref name="count"/> floats with i.i.d. N(0, <paramref name="scale"/>²) entries.</summary>
    public static float[] Gaussian(System.Random random, int count, double scale = 1.0)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(scale * NextGaussian(random));
        }

        return values;
    }

    /// <summary><paramref name="tokens"/> random unit vectors of <paramref name="dimension"/> floats, row-major.</summary>
    public static float[] UnitTokens(System.Random random, int tokens, int dimension)
    {
        float[] values = new float[tokens * dimension];
        for (int t = 0; t < tokens; t++)
        {
            Span<float> row = values.AsSpan(t * dimension, dimension);
            double norm;
            do
            {
                norm = 0;
                for (int i = 0; i < dimension; i++)
                {
                    double x = NextGaussian(random);
                    row[i] = (float)x;
                    norm += x * x;
                }
            }
            while (norm == 0);

            Normalize(row);
        }

        return values;
    }

    /// <summary>Scales a vector to unit length (in double, rounded once per entry).</summary>
    public static void Normalize(Span<float> row)
    {
        double norm = 0;
        foreach (float x in row)
        {
            norm += (double)x * x;
        }

        norm = Math.Sqrt(norm);
        for (int i = 0; i < row.Length; i++)
        {
            row[i] = (float)(row[i] / norm);
        }
    }

    /// <summary>The exact dot product of two float vectors in double.</summary>
    public static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += (double)a[i] * b[i];
        }

        return sum;
    }

    /// <summary>Unnormalized Chamfer similarity Σ_q max_p ⟨q, p⟩ in double.</summary>
    public static double Chamfer(ReadOnlySpan<float> query, ReadOnlySpan<float> document, int dimension)
    {
        int nq = query.Length / dimension;
        int np = document.Length / dimension;
        double total = 0;
        for (int q = 0; q < nq; q++)
        {
            ReadOnlySpan<float> qv = query.Slice(q * dimension, dimension);
            double best = double.NegativeInfinity;
            for (int p = 0; p < np; p++)
            {
                best = Math.Max(best, Dot(qv, document.Slice(p * dimension, dimension)));
            }

            total += best;
        }

        return total;
    }

    /// <summary>Asserts two float arrays are equal bit for bit, naming the first difference.</summary>
    public static void AssertBitIdentical(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), what + " length");
        for (int i = 0; i < expected.Length; i++)
        {
            int a = BitConverter.SingleToInt32Bits(actual[i]);
            int e = BitConverter.SingleToInt32Bits(expected[i]);
            if (a != e)
            {
                Assert.Fail($"{what}[{i}]: {actual[i]:R} (0x{a:X8}) differs from {expected[i]:R} (0x{e:X8})");
            }
        }
    }

    /// <summary><paramref name="count"/> unit vectors (Gaussian directions) of <paramref name="dimension"/> floats from
    /// <c>new Random(seed)</c>: Box–Muller draws, scaled by one float reciprocal of the double norm. The MIPS tests'
    /// data; recall floors were measured on exactly these values.</summary>
    public static float[] UnitRows(int count, int dimension, int seed)
    {
        var random = new System.Random(seed);
        var vectors = new float[count * dimension];
        for (int i = 0; i < count; i++)
        {
            Span<float> row = vectors.AsSpan(i * dimension, dimension);
            double norm = 0;
            for (int j = 0; j < dimension; j++)
            {
                double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
                double g = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                row[j] = (float)g;
                norm += g * g;
            }

            float scale = (float)(1 / Math.Sqrt(norm));
            for (int j = 0; j < dimension; j++)
            {
                row[j] *= scale;
            }
        }

        return vectors;
    }

    /// <summary>FNV-1a 64-bit as specified in src/Muvera/Serialization/README.md (written out here, independently of
    /// the library's, for tests that forge or patch file checksums).</summary>
    public static ulong Fnv1a64(ReadOnlySpan<byte> bytes)
    {
        ulong hash = 0xCBF29CE484222325UL;
        foreach (byte b in bytes)
        {
            hash = unchecked((hash ^ b) * 0x100000001B3UL);
        }

        return hash;
    }
}
