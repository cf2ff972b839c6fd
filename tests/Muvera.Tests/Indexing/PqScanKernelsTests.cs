// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Indexing;

/// <summary><see cref="PqScanKernels"/> at every SIMD width against a plain reference kept here: the 4-bit fast scan
/// (every pair count through several 16-bit flushes, with the largest table values), the 8-bit lookup and the table
/// quantization.</summary>
[TestFixture]
public sealed class PqScanKernelsTests
{
    public static IEnumerable<int> Widths => [(int)SimdWidth.Scalar, (int)SimdWidth.Vector128, (int)SimdWidth.Vector256, (int)SimdWidth.Vector512];

    [TestCaseSource(nameof(Widths))]
    public void ScanBlock_EveryWidthAndLength_EqualsReference(int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        Assume.That(PqScanKernels.IsSupported(width), $"{width} byte shuffles are not supported here");
        var random = new Random(simdWidth);
        var pairCounts = new List<int>();
        for (int p = 1; p <= 40; p++)
        {
            pairCounts.Add(p);
        }

        // Past 128 steps of every width (flushes), odd lengths for the tails, and the (20, 5, 16) FDE's 1,280 pairs.
        pairCounts.AddRange([127, 128, 129, 255, 256, 257, 511, 512, 513, 515, 1280, 2051]);
        foreach (int pairs in pairCounts)
        {
            foreach (bool extreme in new[] { false, true })
            {
                byte[] codes = new byte[pairs * 16];
                byte[] low = new byte[pairs * 16];
                byte[] high = new byte[pairs * 16];
                random.NextBytes(codes);
                if (extreme)
                {
                    // Every entry 255: the largest sums, the overflow case of the 16-bit lanes.
                    low.AsSpan().Fill(255);
                    high.AsSpan().Fill(255);
                }
                else
                {
                    random.NextBytes(low);
                    random.NextBytes(high);
                }

                using var codeBuffer = new GuardedByteBuffer(codes);
                using var lowBuffer = new GuardedByteBuffer(low);
                using var highBuffer = new GuardedByteBuffer(high);
                uint[] totals = new uint[16];
                PqScanKernels.ScanBlock(width, codeBuffer.Span, lowBuffer.Span, highBuffer.Span, totals);
                for (int r = 0; r < 16; r++)
                {
                    ulong expected = 0;
                    for (int p = 0; p < pairs; p++)
                    {
                        byte packed = codes[(p * 16) + r];
                        expected += (ulong)low[(p * 16) + (packed & 15)] + high[(p * 16) + (packed >> 4)];
                    }

                    Assert.That(totals[r], Is.EqualTo(expected), $"{width} pairs={pairs} extreme={extreme} row {r}");
                }
            }
        }
    }

    [Test]
    public void Scan8_AnyShape_EqualsReference()
    {
        var random = new Random(8);
        foreach (int subspaces in new[] { 1, 3, 4, 5, 64, 1280, 1283 })
        {
            foreach (int rows in new[] { 1, 7, 64 })
            {
                byte[] codes = new byte[rows * subspaces];
                byte[] table = new byte[subspaces * 256];
                random.NextBytes(codes);
                random.NextBytes(table);
                uint[] totals = new uint[rows];
                PqScanKernels.Scan8(codes, subspaces, subspaces, rows, table, totals);
                for (int r = 0; r < rows; r++)
                {
                    ulong expected = 0;
                    for (int m = 0; m < subspaces; m++)
                    {
                        expected += table[(m * 256) + codes[(r * subspaces) + m]];
                    }

                    Assert.That(totals[r], Is.EqualTo(expected), $"subspaces={subspaces} rows={rows} row {r}");
                }
            }
        }
    }

    [Test]
    public void QuantizeTable_MatchesRoundHalfToEvenReference()
    {
        var random = new Random(4);
        foreach (int k in new[] { 16, 256 })
        {
            const int subspaces = 37;
            float[] table = TestVectors.Gaussian(random, subspaces * k);
            table[5] = 2.5f;
            table[6] = 3.5f;
            float[] minima = new float[subspaces];
            for (int m = 0; m < subspaces; m++)
            {
                minima[m] = m == 0 ? 0 : (float)(-3 + random.NextDouble());
            }

            const float inverse = 1f;
            byte[] actual = new byte[subspaces * k];
            PqScanKernels.QuantizeTable(table, k, minima, inverse, actual);
            for (int i = 0; i < table.Length; i++)
            {
                float scaled = (table[i] - minima[i / k]) * inverse;
                byte expected = (byte)Math.Clamp(Math.Round(scaled, MidpointRounding.ToEven), 0, 255);
                Assert.That(actual[i], Is.EqualTo(expected), $"k={k} entry {i}: {table[i]} - {minima[i / k]}");
            }

            Assert.That(actual[5], Is.EqualTo(2), "2.5 rounds to even");
            Assert.That(actual[6], Is.EqualTo(4), "3.5 rounds to even");
        }
    }
}
