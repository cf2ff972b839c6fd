// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Linq;
using System.Runtime.InteropServices;
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
    public void AddScaleInPlace_EveryWidth_EqualsScalarSumTimesScale([ValueSource(nameof(s_widths))] int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        Assume.That(SimdDispatch.IsAccelerated(width), $"{width} is not accelerated here");
        var random = new Random(12);
        foreach (int d in s_dimensions.Prepend(0))
        {
            float[] addend = TestVectors.Gaussian(random, d);
            float[] destination = TestVectors.Gaussian(random, d + 3);
            const float scale = 1.0371f;
            float[] expected = destination.Select((x, i) => i < d ? (x + addend[i]) * scale : x).ToArray();
            TokenCodecKernels.AddScaleInPlace(width, addend, scale, destination);
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
    public void DecodeResidual_EveryWidth_EqualsScaledCentroidPlusLevelBitForBit([ValueSource(nameof(s_widths))] int simdWidth, [Values(1, 2)] int bits)
    {
        var width = (SimdWidth)simdWidth;
        Assume.That(SimdDispatch.IsAccelerated(width), $"{width} is not accelerated here");
        var random = new Random(17 + bits);
        int levels = 1 << bits;
        foreach (int d in s_dimensions)
        {
            const int k = 5;
            const int tokens = 3;
            int recordBytes = 4 + (((d * bits) + 7) / 8);
            float[] centroids = TestVectors.Gaussian(random, k * d);
            float[] levelValues = TestVectors.Gaussian(random, levels * d);
            byte[] bytes = new byte[tokens * recordBytes];
            random.NextBytes(bytes);
            for (int t = 0; t < tokens; t++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(t * recordBytes), (ushort)random.Next(k));
                BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan((t * recordBytes) + 2), (Half)(0.5 + random.NextDouble()));
            }

            // The records end at a guard page, and so does the output: a read or write past either crashes the run.
            using var recordBuffer = new GuardedBuffer((bytes.Length + 3) / 4);
            Span<byte> records = MemoryMarshal.AsBytes(recordBuffer.Span)[^bytes.Length..];
            bytes.CopyTo(records);
            using var output = new GuardedBuffer(tokens * d);
            TokenCodecKernels.DecodeResidual(width, records, recordBytes, bits, d, centroids, levelValues, output.Span);
            float[] expected = new float[tokens * d];
            for (int t = 0; t < tokens; t++)
            {
                int id = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(t * recordBytes));
                float scale = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan((t * recordBytes) + 2));
                for (int j = 0; j < d; j++)
                {
                    int code = (bytes[(t * recordBytes) + 4 + (j * bits / 8)] >> (j * bits % 8)) & (levels - 1);
                    expected[(t * d) + j] = (centroids[(id * d) + j] + levelValues[(code * d) + j]) * scale;
                }
            }

            TestVectors.AssertBitIdentical(output.Span.ToArray(), expected, $"d = {d}, {bits}-bit codes");
        }
    }

    [Test]
    public void NearestCentroids_EveryWidth_SameIdsAsScalarAndNearestByDoubleReference([ValueSource(nameof(s_widths))] int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        Assume.That(SimdDispatch.IsAccelerated(width), $"{width} is not accelerated here");
        var random = new Random(14);
        foreach ((int d, int k, int n) in new[] { (1, 1, 3), (5, 17, 9), (16, 64, 13), (16, 65, 4), (130, 100, 21), (384, 40, 7), (33, 200, 1), (7, 129, 5) })
        {
            float[] centroids = TestVectors.Gaussian(random, k * d);
            float[] points = TestVectors.Gaussian(random, n * d);
            int columns = TokenCodecKernels.PadPanelColumns(k);
            Assert.That(columns % TokenCodecKernels.PanelColumns, Is.Zero);
            float[] panels = new float[d * columns];
            float[] bias = new float[columns];
            TokenCodecKernels.PackCentroidPanels(centroids, d, panels, bias);

            int[] scalar = new int[n];
            float[] scalarBest = new float[n];
            int[] actual = new int[n];
            float[] actualBest = new float[n];
            TokenCodecKernels.NearestCentroids(SimdWidth.Scalar, points, d, panels, columns, bias, scalar, scalarBest);
            TokenCodecKernels.NearestCentroids(width, points, d, panels, columns, bias, actual, actualBest);
            Assert.That(actual, Is.EqualTo(scalar), $"d = {d}, k = {k}: identical at every width");
            TestVectors.AssertBitIdentical(actualBest, scalarBest, $"d = {d}, k = {k}: best values");
            for (int p = 0; p < n; p++)
            {
                double[] distances = Enumerable.Range(0, k).Select(c =>
                    Enumerable.Range(0, d).Sum(j => Math.Pow((double)points[(p * d) + j] - centroids[(c * d) + j], 2))).ToArray();
                double best = distances.Min();
                Assert.That(distances[actual[p]], Is.LessThanOrEqualTo(best + (1e-4 * (1 + best))), $"d = {d}, k = {k}, point {p}");
                double norm = Enumerable.Range(0, d).Sum(j => (double)points[(p * d) + j] * points[(p * d) + j]);
                Assert.That(actualBest[p], Is.EqualTo((norm - distances[actual[p]]) / 2).Within(1e-4 * (1 + norm)), $"d = {d}, k = {k}, point {p}: ⟨x, c⟩ − ‖c‖²/2");
            }
        }
    }

    [Test]
    public void NearestCentroids_DuplicateCentroids_TiesGoToTheLowerId()
    {
        const int d = 9;
        var random = new Random(19);
        float[] one = TestVectors.Gaussian(random, d);
        float[] centroids = [.. TestVectors.Gaussian(random, 70 * d), .. one, .. TestVectors.Gaussian(random, 10 * d), .. one];
        int k = centroids.Length / d;
        int columns = TokenCodecKernels.PadPanelColumns(k);
        float[] panels = new float[d * columns];
        float[] bias = new float[columns];
        TokenCodecKernels.PackCentroidPanels(centroids, d, panels, bias);
        foreach (int simdWidth in s_widths.Where(w => SimdDispatch.IsAccelerated((SimdWidth)w)))
        {
            int[] ids = new int[5];
            float[] points = [.. one, .. one, .. one, .. one, .. one];
            TokenCodecKernels.NearestCentroids((SimdWidth)simdWidth, points, d, panels, columns, bias, ids, new float[5]);
            Assert.That(ids, Is.All.EqualTo(70), $"width {(SimdWidth)simdWidth}: centroid 70 and {k - 1} are equal; the lower id wins");
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
