// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

/// <summary>The Chamfer kernels' store paths: the half-precision transpose (widened in registers at 512 bits) against a
/// plain convert-then-transpose reference, and MaxSim with a prefetch against the call without one and a double
/// reference, at every width.</summary>
[TestFixture]
public sealed class ChamferKernelsTests
{
    private static readonly SimdWidth[] s_widths = [SimdWidth.Scalar, SimdWidth.Vector128, SimdWidth.Vector256, SimdWidth.Vector512];

    public static IEnumerable<TestCaseData> Widths =>
        s_widths.Select(w => new TestCaseData((int)w).SetArgDisplayNames(w.ToString()));

    [Test]
    public void HalfToSingle_AllBitPatterns_EqualsHalfConversionBitForBit()
    {
        Assume.That(Avx512F.IsSupported, "the register widening runs only with AVX-512F");
        uint[] lanes = new uint[16];
        for (int start = 0; start < 65536; start += 16)
        {
            for (int j = 0; j < 16; j++)
            {
                lanes[j] = (uint)(start + j);
            }

            Vector512<float> converted = ChamferKernels.HalfToSingle(Vector512.Create(lanes));
            for (int j = 0; j < 16; j++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf((ushort)(start + j));
                Assert.That(BitConverter.SingleToInt32Bits(converted[j]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected)),
                    $"half bits 0x{start + j:X4}");
            }
        }
    }

    [TestCaseSource(nameof(Widths))]
    public void TransposeHalf_EveryTokenCountAndDimension_EqualsConvertThenTransposeBitForBit(int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        var random = new Random(17 + simdWidth);
        foreach (int dimension in new[] { 1, 7, 15, 16, 17, 33, 96, 128, 130 })
        {
            foreach (int count in Enumerable.Range(0, 72).Concat([129, 257]))
            {
                Half[] tokens = RandomHalves(random, count * dimension);
                int columns = FdeKernels.PadColumns(count);
                float[] expected = ReferenceTranspose(tokens, count, dimension, columns);

                using var input = new GuardedByteBuffer(MemoryMarshal.AsBytes(tokens.AsSpan()));
                using var output = new GuardedBuffer(dimension * columns);
                output.Span.Fill(float.NaN); // every element must be written
                float[] scratch = new float[count * dimension];
                ChamferKernels.Transpose(width, MemoryMarshal.Cast<byte, Half>(input.Span), count, dimension, scratch, output.Span, columns);
                TestVectors.AssertBitIdentical(output.Span, expected, $"{width} d={dimension} n={count}");
            }
        }
    }

    [Test]
    public void TransposeHalf512_EveryHalfValue_EqualsConvertThenTransposeBitForBit()
    {
        Assume.That(ChamferKernels.WidensHalvesInRegisters(SimdWidth.Vector512, 16), "the register widening runs only with AVX-512F");

        // All 65,536 bit patterns (zeros, subnormals, normals, ±∞, NaNs) as 4,096 tokens of 16 coordinates, then
        // shuffled into 130-coordinate tokens so that they also land in the scalar remainders.
        Half[] all = new Half[65536];
        for (int i = 0; i < all.Length; i++)
        {
            all[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        }

        foreach ((int dimension, Half[] tokens) in new[] { (16, all), (130, Shuffled(all, 65520 / 130 * 130, seed: 3)) })
        {
            int count = tokens.Length / dimension;
            int columns = FdeKernels.PadColumns(count);
            float[] actual = new float[dimension * columns];
            ChamferKernels.TransposeHalf512(tokens, count, dimension, actual, columns);
            TestVectors.AssertBitIdentical(actual, ReferenceTranspose(tokens, count, dimension, columns), $"d={dimension}");
        }
    }

    [TestCaseSource(nameof(Widths))]
    public void MaxSimSumWithPrefetch_AnyQueryAndPrefetchLength_EqualsWithoutPrefetchAndDoubleReference(int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        var random = new Random(29 + simdWidth);
        byte[] next = new byte[40_000];
        foreach (int dimension in new[] { 7, 96, 128, 130 })
        {
            foreach (int queryTokens in new[] { 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33 })
            {
                foreach (int documentTokens in new[] { 1, 15, 16, 17, 80 })
                {
                    float[] query = TestVectors.Gaussian(random, queryTokens * dimension);
                    float[] document = TestVectors.Gaussian(random, documentTokens * dimension);
                    int columns = FdeKernels.PadColumns(documentTokens);
                    float[] transposed = new float[dimension * columns];
                    FdeKernels.Transpose(width, document, documentTokens, dimension, transposed, columns);
                    float[] bias = new float[columns];
                    bias.AsSpan(documentTokens).Fill(float.NegativeInfinity);

                    float without = ChamferKernels.MaxSimSum(width, query, queryTokens, dimension, transposed, columns, bias);
                    foreach (int prefetchLength in new[] { 0, 1, 63, 64, 65, 3 * 64, next.Length })
                    {
                        float with = ChamferKernels.MaxSimSum(width, query, queryTokens, dimension, transposed, columns, bias, next.AsSpan(0, prefetchLength));
                        Assert.That(BitConverter.SingleToInt32Bits(with), Is.EqualTo(BitConverter.SingleToInt32Bits(without)),
                            $"{width} d={dimension} |Q|={queryTokens} |D|={documentTokens} prefetch={prefetchLength}");
                    }

                    (double expected, double magnitude) = ReferenceChamfer(query, document, dimension);
                    Assert.That(without, Is.EqualTo(expected).Within((1e-5 * magnitude) + 1e-6), $"{width} d={dimension} |Q|={queryTokens} |D|={documentTokens}");
                }
            }
        }
    }

    [Test]
    public void Prefetch_AnyLength_ChangesNothing()
    {
        byte[] bytes = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        byte[] copy = bytes.ToArray();
        foreach (int length in new[] { 0, 1, 63, 64, 65, 1000 })
        {
            using var guarded = new GuardedByteBuffer(bytes.AsSpan(0, length));
            ChamferKernels.Prefetch(guarded.Span);
            Assert.That(guarded.Span.ToArray(), Is.EqualTo(copy[..length]));
        }
    }

    // Random halves of a unit-Gaussian spread, with exact zeros, both signs of zero, subnormals and the largest finite
    // values mixed in.
    private static Half[] RandomHalves(Random random, int count)
    {
        var halves = new Half[count];
        for (int i = 0; i < count; i++)
        {
            halves[i] = random.Next(16) switch
            {
                0 => BitConverter.UInt16BitsToHalf((ushort)random.Next(0x0400)), // +0 or a positive subnormal
                1 => BitConverter.UInt16BitsToHalf((ushort)(0x8000 | random.Next(0x0400))), // −0 or a negative subnormal
                2 => random.Next(2) == 0 ? Half.MaxValue : Half.MinValue,
                _ => (Half)TestVectors.NextGaussian(random),
            };
        }

        return halves;
    }

    private static Half[] Shuffled(Half[] values, int count, int seed)
    {
        Half[] copy = values[..count];
        new Random(seed).Shuffle(copy);
        return copy;
    }

    // Dᵀ by the definition: row i holds coordinate i of tokens 0..count−1 as floats, then zeros.
    private static float[] ReferenceTranspose(Half[] tokens, int count, int dimension, int columns)
    {
        float[] transposed = new float[dimension * columns];
        for (int t = 0; t < count; t++)
        {
            for (int i = 0; i < dimension; i++)
            {
                transposed[(i * columns) + t] = (float)tokens[(t * dimension) + i];
            }
        }

        return transposed;
    }

    private static (double Value, double Magnitude) ReferenceChamfer(float[] query, float[] document, int d)
    {
        double total = 0;
        double magnitude = 0;
        for (int q = 0; q < query.Length / d; q++)
        {
            double best = double.NegativeInfinity;
            double bestMagnitude = 0;
            for (int t = 0; t < document.Length / d; t++)
            {
                double dot = 0;
                double abs = 0;
                for (int i = 0; i < d; i++)
                {
                    dot += (double)query[(q * d) + i] * document[(t * d) + i];
                    abs += Math.Abs((double)query[(q * d) + i] * document[(t * d) + i]);
                }

                if (dot > best)
                {
                    best = dot;
                    bestMagnitude = abs;
                }
            }

            total += best;
            magnitude += bestMagnitude;
        }

        return (total, magnitude);
    }
}
