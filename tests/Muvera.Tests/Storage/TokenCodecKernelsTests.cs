// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Linq;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Storage;

/// <summary>The kernels of quantized token storage at every SIMD width against double-precision references: int8
/// decoding, the residual centroid add, the batched nearest centroid, tile-wise MaxSim and the 4-point centroid
/// evaluation.</summary>
[TestFixture]
public sealed class TokenCodecKernelsTests
{
    private static readonly int[] s_widths = [(int)SimdWidth.Scalar, (int)SimdWidth.Vector128, (int)SimdWidth.Vector256, (int)SimdWidth.Vector512];

    private static readonly int[] s_dimensions = [.. Enumerable.Range(1, 70), 96, 127, 128, 130, 255, 256, 384, 1031];

    [Test]
    public void DecodeInt8_EveryWidth_EqualsFusedMultiplyAddReference([ValueSource(nameof(s_widths))] int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        Assume.That(SimdDispatch.IsAccelerated(width), $"{width} is not accelerated here");
        var random = new Random(11);
        foreach (int d in s_dimensions)
        {
            const int tokens = 3;
            byte[] codes = new byte[tokens * d];
            random.NextBytes(codes);
            float[] scales = TestVectors.Gaussian(random, d).Select(x => Math.Abs(x) * 1e-2f + 1e-4f).ToArray();
            float[] offsets = TestVectors.Gaussian(random, d);
            float[] actual = new float[tokens * d];
            TokenCodecKernels.DecodeInt8(width, codes, d, scales, offsets, actual);
            for (int i = 0; i < actual.Length; i++)
            {
                int j = i % d;
                double reference = ((double)scales[j] * codes[i]) + offsets[j];
                Assert.That(actual[i], Is.EqualTo(MathF.FusedMultiplyAdd(scales[j], codes[i], offsets[j])), $"d = {d}, value {i}");
                Assert.That(actual[i], Is.EqualTo(reference).Within(Math.Abs(reference) * 1e-6 + 1e-7), $"d = {d}, value {i} against double");
            }
        }
    }

    [Test]
    public void AddInPlace_EveryWidth_EqualsScalarSums([ValueSource(nameof(s_widths))] int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        Assume.That(SimdDispatch.IsAccelerated(width), $"{width} is not accelerated here");
        var random = new Random(12);
        foreach (int d in s_dimensions.Prepend(0))
        {
            float[] addend = TestVectors.Gaussian(random, d);
            float[] destination = TestVectors.Gaussian(random, d + 3);
            float[] expected = destination.Select((x, i) => i < d ? x + addend[i] : x).ToArray();
            TokenCodecKernels.AddInPlace(width, addend, destination);
            TestVectors.AssertBitIdentical(destination, expected, $"d = {d}");
        }
    }

    [Test]
    public void ExpandResidual_EveryBitWidth_WritesExactlyTheDimension([Values(1, 2, 4)] int bits)
    {
        var random = new Random(13);
        int perByte = 8 / bits;
        foreach (int d in new[] { 1, 3, 7, 8, 9, 128, 130 })
        {
            int codeBytes = ((d * bits) + 7) / 8;
            float[] lut = TestVectors.Gaussian(random, codeBytes * 256 * perByte);
            byte[] codes = new byte[codeBytes];
            random.NextBytes(codes);
            float[] destination = Enumerable.Repeat(float.NaN, d + 8).ToArray();
            TokenCodecKernels.ExpandResidual(codes, perByte, d, lut, destination);
            for (int j = 0; j < d; j++)
            {
                int p = j / perByte;
                Assert.That(destination[j], Is.EqualTo(lut[(((p * 256) + codes[p]) * perByte) + (j % perByte)]), $"d = {d}, coordinate {j}");
            }

            Assert.That(destination.Skip(d).All(float.IsNaN), Is.True, $"d = {d}: nothing past the dimension is written");
        }
    }

    [Test]
    public void NearestCentroids_EveryWidth_SameIdsAsScalarAndNearestByDoubleReference([ValueSource(nameof(s_widths))] int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        Assume.That(SimdDispatch.IsAccelerated(width), $"{width} is not accelerated here");
        var random = new Random(14);
        foreach ((int d, int k, int n) in new[] { (1, 1, 3), (5, 17, 9), (16, 64, 13), (130, 100, 21), (384, 40, 7) })
        {
            float[] centroids = TestVectors.Gaussian(random, k * d);
            float[] points = TestVectors.Gaussian(random, n * d);
            int columns = CentroidKernels.PadColumns(k);
            float[] transposed = new float[d * columns];
            float[] bias = Enumerable.Repeat(float.NegativeInfinity, columns).ToArray();
            for (int c = 0; c < k; c++)
            {
                double norm = 0;
                for (int j = 0; j < d; j++)
                {
                    transposed[(j * columns) + c] = centroids[(c * d) + j];
                    norm += (double)centroids[(c * d) + j] * centroids[(c * d) + j];
                }

                bias[c] = (float)(-0.5 * norm);
            }

            int[] scalar = new int[n];
            int[] actual = new int[n];
            TokenCodecKernels.NearestCentroids(SimdWidth.Scalar, points, d, transposed, columns, bias, scalar);
            TokenCodecKernels.NearestCentroids(width, points, d, transposed, columns, bias, actual);
            Assert.That(actual, Is.EqualTo(scalar), $"d = {d}, k = {k}: identical at every width");
            for (int p = 0; p < n; p++)
            {
                double[] distances = Enumerable.Range(0, k).Select(c =>
                    Enumerable.Range(0, d).Sum(j => Math.Pow((double)points[(p * d) + j] - centroids[(c * d) + j], 2))).ToArray();
                double best = distances.Min();
                Assert.That(distances[actual[p]], Is.LessThanOrEqualTo(best + (1e-4 * (1 + best))), $"d = {d}, k = {k}, point {p}");
            }
        }
    }

    [Test]
    public void MaxSimUpdate_EveryWidth_TilesEqualTheWholeDocumentBitForBit([ValueSource(nameof(s_widths))] int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        Assume.That(SimdDispatch.IsAccelerated(width), $"{width} is not accelerated here");
        var random = new Random(15);
        foreach ((int d, int q, int n) in new[] { (1, 1, 1), (7, 5, 70), (128, 32, 80), (130, 9, 200) })
        {
            float[] query = TestVectors.Gaussian(random, q * d);
            float[] document = TestVectors.Gaussian(random, n * d);
            int columns = FdeKernels.PadColumns(n);
            float[] whole = new float[d * columns];
            float[] bias = Enumerable.Range(0, columns).Select(c => c < n ? 0f : float.NegativeInfinity).ToArray();
            FdeKernels.Transpose(width, document, n, d, whole, columns);
            float expected = ChamferKernels.MaxSimSum(width, query, q, d, whole, columns, bias);

            float[] maxima = Enumerable.Repeat(float.NegativeInfinity, q).ToArray();
            for (int start = 0; start < n; start += 64)
            {
                int count = Math.Min(64, n - start);
                int tileColumns = FdeKernels.PadColumns(count);
                float[] tile = new float[d * tileColumns];
                FdeKernels.Transpose(width, document.AsSpan(start * d, count * d), count, d, tile, tileColumns);
                float[] tileBias = Enumerable.Range(0, tileColumns).Select(c => c < count ? 0f : float.NegativeInfinity).ToArray();
                ChamferKernels.MaxSimUpdate(width, query, q, d, tile, tileColumns, tileBias, maxima);
            }

            float total = 0f;
            foreach (float maximum in maxima)
            {
                total += maximum;
            }

            Assert.That(total, Is.EqualTo(expected), $"d = {d}, |Q| = {q}, |D| = {n}");
            double reference = Enumerable.Range(0, q).Sum(i => Enumerable.Range(0, n).Max(t =>
                Enumerable.Range(0, d).Sum(j => (double)query[(i * d) + j] * document[(t * d) + j])));
            Assert.That(total, Is.EqualTo(reference).Within(1e-4 * (1 + Math.Abs(reference))), "against double");
        }
    }

    [Test]
    public void Evaluate4_EveryWidth_EqualsFourSingleEvaluations([ValueSource(nameof(s_widths))] int simdWidth, [Values] bool innerProduct)
    {
        var width = (SimdWidth)simdWidth;
        Assume.That(SimdDispatch.IsAccelerated(width), $"{width} is not accelerated here");
        var random = new Random(16);
        foreach ((int d, int k) in new[] { (1, 3), (9, 40), (128, 70) })
        {
            int columns = CentroidKernels.PadColumns(k);
            float[] table = TestVectors.Gaussian(random, d * columns);
            float[] bias = Enumerable.Range(0, columns).Select(c => c < k ? 0f : float.PositiveInfinity).ToArray();
            float[] points = TestVectors.Gaussian(random, 4 * d);
            float[] four = new float[4 * columns];
            CentroidKernels.Evaluate4(width, points, table, columns, bias, innerProduct, four);
            for (int p = 0; p < 4; p++)
            {
                float[] single = new float[columns];
                CentroidKernels.Evaluate(SimdWidth.Scalar, points.AsSpan(p * d, d), table, columns, bias, innerProduct, single);
                TestVectors.AssertBitIdentical(four.AsSpan(p * columns, columns).ToArray(), single, $"d = {d}, point {p}");
            }
        }
    }
}
