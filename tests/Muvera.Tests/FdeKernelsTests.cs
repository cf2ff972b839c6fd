// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

/// <summary>
/// <see cref="FdeKernels"/> at every SIMD width against double-precision or scalar references kept here, on
/// guard-page buffers (an over-read or over-write past a span crashes the run).
/// </summary>
[TestFixture]
public sealed class FdeKernelsTests
{
    private static readonly int[] s_depths = [1, 7, 96, 128, 130];

    public static IEnumerable<int> Widths => [(int)SimdWidth.Scalar, (int)SimdWidth.Vector128, (int)SimdWidth.Vector256, (int)SimdWidth.Vector512];

    public static IEnumerable<TestCaseData> WidthsAndDepths =>
        from width in Widths
        from depth in s_depths
        select new TestCaseData(width, depth).SetArgDisplayNames(((SimdWidth)width).ToString(), depth.ToString());

    [Test]
    public void PadColumns_AnyCount_RoundsUpToMultipleOf16()
    {
        for (int n = 0; n <= 100; n++)
        {
            int padded = FdeKernels.PadColumns(n);
            Assert.That(padded % FdeKernels.ColumnAlignment == 0 && padded >= n && padded - n < FdeKernels.ColumnAlignment, Is.True, $"n={n}: {padded}");
        }
    }

    [TestCaseSource(nameof(WidthsAndDepths))]
    public void MultiplyTransposed_AnyShape_MatchesDoubleReference(int simdWidth, int depth)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random((simdWidth * 1000) + depth);
        foreach (int columns in new[] { 16, 32, 80, 96 })
        {
            for (int rows = 1; rows <= 9; rows++)
            {
                using GuardedBuffer a = GuardedBuffer.From(TestVectors.Gaussian(random, rows * depth));
                using GuardedBuffer b = GuardedBuffer.From(TestVectors.Gaussian(random, depth * columns));
                using var c = new GuardedBuffer(rows * columns);
                c.Span.Fill(float.NaN);
                FdeKernels.MultiplyTransposed(width, a.Span, rows, depth, b.Span, columns, c.Span);
                for (int i = 0; i < rows; i++)
                {
                    for (int j = 0; j < columns; j++)
                    {
                        double sum = 0;
                        double magnitude = 0;
                        for (int k = 0; k < depth; k++)
                        {
                            double term = (double)a.Span[(i * depth) + k] * b.Span[(k * columns) + j];
                            sum += term;
                            magnitude += Math.Abs(term);
                        }

                        float actual = c.Span[(i * columns) + j];
                        if (!(Math.Abs(actual - sum) <= 1e-6 * Math.Max(magnitude, 1e-30)))
                        {
                            Assert.Fail($"{width} rows={rows} depth={depth} columns={columns} C[{i},{j}] = {actual:R}, reference {sum:R}");
                        }
                    }
                }
            }
        }
    }

    [TestCaseSource(nameof(WidthsAndDepths))]
    public void MultiplyTransposed_EveryWidth_BitIdenticalToScalar(int simdWidth, int depth)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random(depth);
        foreach (int columns in new[] { 16, 32, 80, 96 })
        {
            for (int rows = 1; rows <= 9; rows++)
            {
                float[] a = TestVectors.Gaussian(random, rows * depth);
                float[] b = TestVectors.Gaussian(random, depth * columns);
                float[] expected = new float[rows * columns];
                FdeKernels.MultiplyTransposed(SimdWidth.Scalar, a, rows, depth, b, columns, expected);
                using var c = new GuardedBuffer(rows * columns);
                FdeKernels.MultiplyTransposed(width, a, rows, depth, b, columns, c.Span);
                TestVectors.AssertBitIdentical(c.Span, expected, $"{width} rows={rows} depth={depth} columns={columns}");
            }
        }
    }

    [TestCaseSource(nameof(WidthsAndDepths))]
    public void Transpose_AnyCount_WritesColumnsThenZeroPadding(int simdWidth, int dimension)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random(dimension);
        foreach (int count in Enumerable.Range(0, 41).Append(80).Append(83))
        {
            foreach (int columns in new[] { FdeKernels.PadColumns(count), FdeKernels.PadColumns(count) + 16 })
            {
                using GuardedBuffer tokens = GuardedBuffer.From(TestVectors.Gaussian(random, count * dimension));
                using var transposed = new GuardedBuffer(dimension * columns);
                transposed.Span.Fill(float.NaN);
                FdeKernels.Transpose(width, tokens.Span, count, dimension, transposed.Span, columns);
                for (int i = 0; i < dimension; i++)
                {
                    for (int t = 0; t < columns; t++)
                    {
                        float expected = t < count ? tokens.Span[(t * dimension) + i] : 0f;
                        float actual = transposed.Span[(i * columns) + t];
                        if (BitConverter.SingleToInt32Bits(actual) != BitConverter.SingleToInt32Bits(expected))
                        {
                            Assert.Fail($"{width} count={count} d={dimension} columns={columns}: Xᵀ[{i},{t}] = {actual:R}, expected {expected:R}");
                        }
                    }
                }
            }
        }
    }

    [TestCaseSource(nameof(Widths))]
    public void HasNonFinite_FiniteValuesOfEveryLength_ReturnsFalse(int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        float[] special = [float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon, -0f, 0f, 1e-40f, 3.4e38f];
        var random = new System.Random(simdWidth);
        foreach (int length in Enumerable.Range(0, 257).Append(1031).Append((6 * 512) + 7))
        {
            using var buffer = new GuardedBuffer(length);
            Span<float> values = buffer.Span;
            for (int i = 0; i < length; i++)
            {
                values[i] = i % 5 == 0 ? special[random.Next(special.Length)] : (float)TestVectors.NextGaussian(random);
            }

            Assert.That(FdeKernels.HasNonFinite(width, values), Is.False, $"{width} length {length}");
        }
    }

    [Test]
    public void HasNonFinite_NonFiniteAtEveryPosition_ReturnsTrue(
        [ValueSource(nameof(Widths))] int simdWidth,
        [Values(float.NaN, float.PositiveInfinity, float.NegativeInfinity)] float bad)
    {
        var width = (SimdWidth)simdWidth;
        int[] lengths = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 127, 128, 129, 255, 256, (6 * 512) + 7];
        foreach (int length in lengths)
        {
            using var buffer = new GuardedBuffer(length);
            Span<float> values = buffer.Span;
            values.Fill(1.5f);
            for (int position = 0; position < length; position++)
            {
                values[position] = bad;
                if (!FdeKernels.HasNonFinite(width, values))
                {
                    Assert.Fail($"{width}: {bad} at {position} of {length} not detected");
                }

                values[position] = -float.MaxValue;
            }
        }
    }

    [TestCaseSource(nameof(Widths))]
    public void HasOutOfRange_ValuesBelowTheTokenLimitOfEveryLength_ReturnsFalse(int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        float below = MathF.BitDecrement(FdeEncoder.TokenValueLimit);
        float[] special = [below, -below, float.Epsilon, -float.Epsilon, -0f, 0f, 1e-40f, 65504f, 1e6f];
        var random = new System.Random(simdWidth + 100);
        foreach (int length in Enumerable.Range(0, 257).Append(1031).Append((6 * 512) + 7))
        {
            using var buffer = new GuardedBuffer(length);
            Span<float> values = buffer.Span;
            for (int i = 0; i < length; i++)
            {
                values[i] = i % 5 == 0 ? special[random.Next(special.Length)] : (float)TestVectors.NextGaussian(random) * 1000f;
            }

            Assert.That(FdeKernels.HasOutOfRange(width, values), Is.False, $"{width} length {length}");
        }
    }

    [Test]
    public void HasOutOfRange_ValueAtOrBeyondTheLimitAtEveryPosition_ReturnsTrue(
        [ValueSource(nameof(Widths))] int simdWidth,
        [Values(1048576f, -1048576f, 1048576.125f, 3e38f, -float.MaxValue, float.NaN, float.PositiveInfinity, float.NegativeInfinity)] float bad)
    {
        var width = (SimdWidth)simdWidth;
        float below = MathF.BitDecrement(FdeEncoder.TokenValueLimit);
        int[] lengths = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 127, 128, 129, 255, 256, (6 * 512) + 7];
        foreach (int length in lengths)
        {
            using var buffer = new GuardedBuffer(length);
            Span<float> values = buffer.Span;
            values.Fill(below);
            for (int position = 0; position < length; position++)
            {
                values[position] = bad;
                if (!FdeKernels.HasOutOfRange(width, values))
                {
                    Assert.Fail($"{width}: {bad} at {position} of {length} not detected");
                }

                values[position] = -below;
            }
        }
    }

    [Test]
    public void GrayCodeIds_AnySketch_EqualsScalarReferenceOfReferenceAlgorithm(
        [ValueSource(nameof(Widths))] int simdWidth,
        [Values(0, 1, 2, 3, 4, 5, 6)] int k)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random((k * 7) + simdWidth);
        float[] special = [0f, -0f, float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f];
        foreach (int columns in new[] { 16, 32, 80 })
        {
            float[] sketch = new float[k * columns];
            for (int i = 0; i < sketch.Length; i++)
            {
                sketch[i] = random.Next(4) == 0 ? special[random.Next(special.Length)] : (float)TestVectors.NextGaussian(random);
            }

            using GuardedBuffer guarded = GuardedBuffer.From(sketch);
            int[] ids = Enumerable.Repeat(-1, columns).ToArray();
            GrayCodeIds(width, guarded.Span, k, columns, ids);
            for (int t = 0; t < columns; t++)
            {
                // Reference SimHashPartitionIndex: bit j = sketch_j > 0 (hyperplane 0 most significant), read as a
                // Gray code: out_1 = b_1, out_j = out_{j−1} XOR b_j, index = Σ out_j · 2^(k−j).
                int expected = 0;
                bool previous = false;
                for (int j = 0; j < k; j++)
                {
                    bool bit = sketch[(j * columns) + t] > 0f;
                    bool output = j == 0 ? bit : previous ^ bit;
                    expected += output ? 1 << (k - 1 - j) : 0;
                    previous = output;
                }

                Assert.That(ids[t], Is.EqualTo(expected), $"{width} k={k} columns={columns} token {t}");
            }
        }
    }

    [Test]
    public void GrayCodeIds_BucketBitPattern_InvertsWithBinaryToGray([Values(1, 2, 3, 5, 8)] int k)
    {
        // For every bucket b, the sign pattern b XOR (b >> 1) (MSB = hyperplane 0) maps back to b.
        const int Columns = 16;
        for (int b = 0; b < 1 << k; b++)
        {
            int pattern = b ^ (b >> 1);
            float[] sketch = new float[k * Columns];
            for (int j = 0; j < k; j++)
            {
                sketch.AsSpan(j * Columns, Columns).Fill(((pattern >> (k - 1 - j)) & 1) != 0 ? 1f : -1f);
            }

            int[] ids = new int[Columns];
            GrayCodeIds(SimdDispatch.Preferred, sketch, k, Columns, ids);
            Assert.That(ids, Is.All.EqualTo(b), $"k={k} bucket {b}");
        }
    }

    [Test]
    public void TransposeToRows_AnyShape_IsExactTranspose(
        [ValueSource(nameof(Widths))] int simdWidth,
        [Values(1, 7, 12, 16, 32, 48, 130)] int outputs)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random(outputs);
        foreach (int count in Enumerable.Range(1, 40).Append(80))
        {
            int columns = FdeKernels.PadColumns(count);
            using GuardedBuffer transposed = GuardedBuffer.From(TestVectors.Gaussian(random, outputs * columns));
            using var rows = new GuardedBuffer(count * outputs);
            rows.Span.Fill(float.NaN);
            TransposeToRows(width, transposed.Span, outputs, columns, count, rows.Span);
            for (int t = 0; t < count; t++)
            {
                for (int j = 0; j < outputs; j++)
                {
                    if (BitConverter.SingleToInt32Bits(rows.Span[(t * outputs) + j]) != BitConverter.SingleToInt32Bits(transposed.Span[(j * columns) + t]))
                    {
                        Assert.Fail($"{width} outputs={outputs} count={count}: row {t}, entry {j}");
                    }
                }
            }
        }
    }

    [Test]
    public void AccumulateRows_RandomIds_EqualsSequentialScalarSums(
        [ValueSource(nameof(Widths))] int simdWidth,
        [Values(1, 7, 16, 96, 130)] int length)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random(length + simdWidth);
        foreach (int count in new[] { 0, 1, 5, 17, 40 })
        {
            const int Partitions = 8;
            float[] rows = TestVectors.Gaussian(random, count * length);
            int[] ids = Enumerable.Range(0, count).Select(_ => random.Next(Partitions)).ToArray();
            float[] expected = new float[Partitions * length];
            int[] expectedCounts = new int[Partitions];
            for (int t = 0; t < count; t++)
            {
                expectedCounts[ids[t]]++;
                for (int j = 0; j < length; j++)
                {
                    expected[(ids[t] * length) + j] += rows[(t * length) + j];
                }
            }

            using var blocks = new GuardedBuffer(Partitions * length);
            blocks.Span.Clear();
            int[] counts = new int[Partitions];
            int[] firstTokens = new int[Math.Min(count, Partitions)];
            int hit = AccumulateRows(width, rows, length, ids, count, blocks.Span, counts, firstTokens);
            TestVectors.AssertBitIdentical(blocks.Span, expected, $"{width} length={length} count={count}");
            Assert.That(counts, Is.EqualTo(expectedCounts));
            int[] expectedFirsts = Enumerable.Range(0, count).Where(t => Array.IndexOf(ids, ids[t]) == t).ToArray();
            Assert.That(firstTokens.AsSpan(0, hit).ToArray(), Is.EqualTo(expectedFirsts), "first token of each partition, in token order");
        }
    }

    [TestCaseSource(nameof(Widths))]
    public void Divide_EveryLength_EqualsScalarDivision(int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random(simdWidth);
        foreach (int length in Enumerable.Range(0, 70).Append(130))
        {
            float[] values = TestVectors.Gaussian(random, length);
            float divisor = random.Next(2, 40);
            using GuardedBuffer block = GuardedBuffer.From(values);
            Divide(width, block.Span, divisor);
            float[] expected = values.Select(v => v / divisor).ToArray();
            TestVectors.AssertBitIdentical(block.Span, expected, $"{width} length {length} / {divisor}");
        }
    }

    [Test]
    public void ArgMaxIds_AnyScores_EqualsFirstLargestRow(
        [ValueSource(nameof(Widths))] int simdWidth,
        [Values(1, 2, 3, 7, 16, 33, 64, 128)] int rows)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random((rows * 13) + simdWidth);
        float[] special = [0f, -0f, float.Epsilon, -float.Epsilon, 1f, -1f];
        foreach (int columns in new[] { 16, 32, 80, 256 })
        {
            float[] scores = new float[rows * columns];
            for (int i = 0; i < scores.Length; i++)
            {
                // Many exact ties (and ±0) so that the tie rule is exercised in every lane.
                scores[i] = random.Next(3) == 0 ? special[random.Next(special.Length)] : (float)Math.Round(TestVectors.NextGaussian(random), 1);
            }

            using GuardedBuffer guarded = GuardedBuffer.From(scores);
            int[] ids = Enumerable.Repeat(-1, columns).ToArray();
            FdeKernels.ArgMaxIds(width, guarded.Span, rows, columns, ids);
            for (int t = 0; t < columns; t++)
            {
                int expected = 0;
                for (int b = 1; b < rows; b++)
                {
                    if (scores[(b * columns) + t] > scores[(expected * columns) + t])
                    {
                        expected = b;
                    }
                }

                Assert.That(ids[t], Is.EqualTo(expected), $"{width} rows={rows} columns={columns} token {t}");
            }
        }
    }

    [Test]
    public void ArgMaxIds_EveryWidth_AgreesWithScalarBitForBit([Values(5, 64)] int rows)
    {
        var random = new System.Random(rows);
        const int Columns = 4096;
        float[] scores = TestVectors.Gaussian(random, rows * Columns);
        int[] scalar = new int[Columns];
        FdeKernels.ArgMaxIds(SimdWidth.Scalar, scores, rows, Columns, scalar);
        foreach (int simdWidth in Widths)
        {
            int[] ids = new int[Columns];
            FdeKernels.ArgMaxIds((SimdWidth)simdWidth, scores, rows, Columns, ids);
            Assert.That(ids, Is.EqualTo(scalar), ((SimdWidth)simdWidth).ToString());
        }
    }

    [TestCaseSource(nameof(Widths))]
    public void Scale_EveryLength_EqualsScalarFusedProduct(int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random(simdWidth + 100);
        foreach (int length in Enumerable.Range(0, 70).Append(130))
        {
            float[] values = TestVectors.Gaussian(random, length);
            if (length > 0)
            {
                values[0] = -0f;
            }

            float factor = (float)(1 + (3 * random.NextDouble()));
            using GuardedBuffer block = GuardedBuffer.From(values);
            Scale(width, block.Span, factor);

            // One rounding of the exact product; −0 · f + (+0) is +0.
            float[] expected = values.Select(v => (float)((double)v * factor) + 0f).ToArray();
            TestVectors.AssertBitIdentical(block.Span, expected, $"{width} length {length} × {factor}");
        }
    }

    private static void Scale(SimdWidth width, Span<float> block, float factor)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                FdeKernels.Scale<Lanes512, Vector512<float>>(block, factor);
                break;
            case SimdWidth.Vector256:
                FdeKernels.Scale<Lanes256, Vector256<float>>(block, factor);
                break;
            case SimdWidth.Vector128:
                FdeKernels.Scale<Lanes128, Vector128<float>>(block, factor);
                break;
            default:
                FdeKernels.Scale<LanesScalar, float>(block, factor);
                break;
        }
    }

    private static void GrayCodeIds(SimdWidth width, ReadOnlySpan<float> sketch, int k, int columns, Span<int> ids)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                FdeKernels.GrayCodeIds<Lanes512, Vector512<float>>(sketch, k, columns, ids);
                break;
            case SimdWidth.Vector256:
                FdeKernels.GrayCodeIds<Lanes256, Vector256<float>>(sketch, k, columns, ids);
                break;
            case SimdWidth.Vector128:
                FdeKernels.GrayCodeIds<Lanes128, Vector128<float>>(sketch, k, columns, ids);
                break;
            default:
                FdeKernels.GrayCodeIds<LanesScalar, float>(sketch, k, columns, ids);
                break;
        }
    }

    private static void TransposeToRows(SimdWidth width, ReadOnlySpan<float> transposed, int outputs, int columns, int count, Span<float> rows)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                FdeKernels.TransposeToRows<Lanes512, Vector512<float>>(transposed, outputs, columns, count, rows);
                break;
            case SimdWidth.Vector256:
                FdeKernels.TransposeToRows<Lanes256, Vector256<float>>(transposed, outputs, columns, count, rows);
                break;
            case SimdWidth.Vector128:
                FdeKernels.TransposeToRows<Lanes128, Vector128<float>>(transposed, outputs, columns, count, rows);
                break;
            default:
                FdeKernels.TransposeToRows<LanesScalar, float>(transposed, outputs, columns, count, rows);
                break;
        }
    }

    private static int AccumulateRows(SimdWidth width, ReadOnlySpan<float> rows, int length, ReadOnlySpan<int> ids, int count,
        Span<float> blocks, Span<int> counts, Span<int> firstTokens) => width switch
        {
            SimdWidth.Vector512 => FdeKernels.AccumulateRows<Lanes512, Vector512<float>>(rows, length, ids, count, blocks, counts, firstTokens),
            SimdWidth.Vector256 => FdeKernels.AccumulateRows<Lanes256, Vector256<float>>(rows, length, ids, count, blocks, counts, firstTokens),
            SimdWidth.Vector128 => FdeKernels.AccumulateRows<Lanes128, Vector128<float>>(rows, length, ids, count, blocks, counts, firstTokens),
            _ => FdeKernels.AccumulateRows<LanesScalar, float>(rows, length, ids, count, blocks, counts, firstTokens),
        };

    private static void Divide(SimdWidth width, Span<float> block, float count)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                FdeKernels.Divide<Lanes512, Vector512<float>>(block, count);
                break;
            case SimdWidth.Vector256:
                FdeKernels.Divide<Lanes256, Vector256<float>>(block, count);
                break;
            case SimdWidth.Vector128:
                FdeKernels.Divide<Lanes128, Vector128<float>>(block, count);
                break;
            default:
                FdeKernels.Divide<LanesScalar, float>(block, count);
                break;
        }
    }
}
