// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Training;

/// <summary><see cref="CentroidKernels"/> at every SIMD width: bit-identical to the scalar twin and within rounding of a
/// double-precision reference, on guard-page buffers.</summary>
[TestFixture]
public sealed class CentroidKernelsTests
{
    public static IEnumerable<int> Widths => [(int)SimdWidth.Scalar, (int)SimdWidth.Vector128, (int)SimdWidth.Vector256, (int)SimdWidth.Vector512];

    [TestCaseSource(nameof(Widths))]
    public void Evaluate_EveryWidth_EqualsScalarAndDoubleReference(int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        var random = new Random(simdWidth);
        foreach (int d in new[] { 1, 2, 4, 7, 8, 16, 128 })
        {
            foreach (int k in new[] { 1, 5, 16, 17, 64, 256 })
            {
                int columns = CentroidKernels.PadColumns(k);
                float[] centroids = TestVectors.Gaussian(random, k * d);
                float[] point = TestVectors.Gaussian(random, d);
                using GuardedBuffer table = GuardedBuffer.From(Transpose(centroids, d, k, columns));
                float[] bias = new float[columns];
                bias.AsSpan(k).Fill(float.PositiveInfinity);
                foreach (bool innerProduct in new[] { false, true })
                {
                    using var actual = new GuardedBuffer(columns);
                    using var expected = new GuardedBuffer(columns);
                    CentroidKernels.Evaluate(width, point, table.Span, columns, bias, innerProduct, actual.Span);
                    CentroidKernels.Evaluate(SimdWidth.Scalar, point, table.Span, columns, bias, innerProduct, expected.Span);
                    TestVectors.AssertBitIdentical(actual.Span, expected.Span, $"{width} d={d} k={k} ip={innerProduct}");
                    for (int c = 0; c < k; c++)
                    {
                        double reference = 0, magnitude = 0;
                        for (int j = 0; j < d; j++)
                        {
                            double term = innerProduct
                                ? (double)point[j] * centroids[(c * d) + j]
                                : Math.Pow((double)point[j] - centroids[(c * d) + j], 2);
                            reference += term;
                            magnitude += Math.Abs(term);
                        }

                        Assert.That(actual.Span[c], Is.EqualTo(reference).Within((1e-6 * magnitude) + 1e-30), $"{width} d={d} k={k} c={c}");
                    }

                    Assert.That(actual.Span[k..columns].ToArray(), Is.All.EqualTo(float.PositiveInfinity), "padding columns keep their bias");
                }
            }
        }
    }

    [TestCaseSource(nameof(Widths))]
    public void InnerProductTables_EveryWidth_EqualEvaluatePerSubspace(int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        var random = new Random(100 + simdWidth);
        foreach ((int m, int s, int k) in new[] { (1, 1, 16), (3, 4, 16), (7, 2, 16), (5, 8, 256), (2, 3, 32) })
        {
            float[] codebook = TestVectors.Gaussian(random, m * k * s);
            float[] query = TestVectors.Gaussian(random, m * s);
            float[] transposed = new float[m * s * k];
            for (int sub = 0; sub < m; sub++)
            {
                Transpose(codebook.AsSpan(sub * k * s, k * s).ToArray(), s, k, k).CopyTo(transposed.AsSpan(sub * s * k));
            }

            using var actual = new GuardedBuffer(m * k);
            CentroidKernels.InnerProductTables(width, query, transposed, m, s, k, actual.Span);
            for (int sub = 0; sub < m; sub++)
            {
                float[] expected = new float[k];
                CentroidKernels.Evaluate(SimdWidth.Scalar, query.AsSpan(sub * s, s), transposed.AsSpan(sub * s * k, s * k), k, new float[k], innerProduct: true, expected);
                TestVectors.AssertBitIdentical(actual.Span.Slice(sub * k, k), expected, $"{width} m={m} s={s} k={k} sub-space {sub}");
            }
        }
    }

    private static float[] Transpose(float[] rows, int d, int k, int columns)
    {
        float[] table = new float[d * columns];
        for (int c = 0; c < k; c++)
        {
            for (int j = 0; j < d; j++)
            {
                table[(j * columns) + c] = rows[(c * d) + j];
            }
        }

        return table;
    }
}
