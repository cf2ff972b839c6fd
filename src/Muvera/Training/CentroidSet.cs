// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using Muvera.Kernels;

namespace Muvera.Training;

/// <summary>How k-means measures closeness.</summary>
internal enum KMeansMetric
{
    /// <summary>Squared Euclidean distance; centroids are means (product quantizers, coarse quantizers).</summary>
    L2,

    /// <summary>Inner product with unit-length centroids (spherical k-means; partitions of normalised tokens).</summary>
    InnerProduct,
}

/// <summary>
/// k centroids of dimension d laid out for <see cref="CentroidKernels"/>: transposed, with padding columns that never
/// win. Finds a point's nearest centroid (smallest squared distance, or largest inner product), ties to the lower
/// index, identically at every SIMD width.
/// </summary>
internal sealed class CentroidSet
{
    private readonly float[] _table;
    private readonly float[] _bias;

    /// <summary>Lays out <paramref name="centroids"/> (row-major, k × d).</summary>
    public CentroidSet(ReadOnlySpan<float> centroids, int dimension, KMeansMetric metric)
    {
        Debug.Assert(dimension > 0 && centroids.Length % dimension == 0 && centroids.Length > 0);
        Dimension = dimension;
        Count = centroids.Length / dimension;
        Metric = metric;
        Columns = CentroidKernels.PadColumns(Count);
        _table = new float[dimension * Columns];
        _bias = new float[Columns];
        _bias.AsSpan(Count).Fill(metric == KMeansMetric.L2 ? float.PositiveInfinity : float.NegativeInfinity);
        Load(centroids);
    }

    public int Dimension { get; }

    public int Count { get; }

    /// <summary>Padded centroid count: the length of a scratch buffer for <see cref="Nearest"/>.</summary>
    public int Columns { get; }

    public KMeansMetric Metric { get; }

    /// <summary>Replaces the centroids (same count and dimension).</summary>
    public void Load(ReadOnlySpan<float> centroids)
    {
        Debug.Assert(centroids.Length == Count * Dimension);
        for (int c = 0; c < Count; c++)
        {
            for (int j = 0; j < Dimension; j++)
            {
                _table[(j * Columns) + c] = centroids[(c * Dimension) + j];
            }
        }
    }

    /// <summary>Writes every centroid's squared distance (L2) or inner product (inner product) with
    /// <paramref name="point"/> into <paramref name="scratch"/> (<see cref="Columns"/> long; padding columns get ±∞).</summary>
    public void Evaluate(SimdWidth width, ReadOnlySpan<float> point, Span<float> scratch) =>
        Evaluate(width, point, scratch, Metric == KMeansMetric.InnerProduct);

    /// <summary>Writes every centroid's inner product (<paramref name="innerProduct"/>) or squared distance with
    /// <paramref name="point"/> into <paramref name="scratch"/>, whatever the set's metric (product quantizers build
    /// their query tables from their L2 sets this way).</summary>
    public void Evaluate(SimdWidth width, ReadOnlySpan<float> point, Span<float> scratch, bool innerProduct) =>
        CentroidKernels.Evaluate(width, point, _table, Columns, _bias, innerProduct, scratch);

    /// <summary>The nearest centroid of <paramref name="point"/> (ties to the lower index) and its distance or inner
    /// product.</summary>
    /// <param name="width">The SIMD width (every width gives the same answer).</param>
    /// <param name="point">d coordinates.</param>
    /// <param name="scratch"><see cref="Columns"/> floats of scratch.</param>
    /// <param name="value">The squared distance (L2) or inner product.</param>
    public int Nearest(SimdWidth width, ReadOnlySpan<float> point, Span<float> scratch, out float value)
    {
        Evaluate(width, point, scratch);
        return ArgBest(scratch, out value);
    }

    /// <summary><see cref="Nearest"/> for the 4 points of <paramref name="points"/> (4 rows of d) at once, reading the
    /// centroids once for all 4 (<see cref="CentroidKernels.Evaluate4"/>); the same ids and values as 4 calls.</summary>
    /// <param name="width">The SIMD width.</param>
    /// <param name="points">4 × d coordinates.</param>
    /// <param name="scratch">4 × <see cref="Columns"/> floats of scratch.</param>
    /// <param name="ids">Receives 4 ids.</param>
    /// <param name="values">Receives 4 distances or inner products.</param>
    public void Nearest4(SimdWidth width, ReadOnlySpan<float> points, Span<float> scratch, Span<int> ids, Span<float> values)
    {
        CentroidKernels.Evaluate4(width, points, _table, Columns, _bias, Metric == KMeansMetric.InnerProduct, scratch);
        for (int p = 0; p < 4; p++)
        {
            ids[p] = ArgBest(scratch.Slice(p * Columns, Columns), out values[p]);
        }
    }

    private int ArgBest(ReadOnlySpan<float> scratch, out float value)
    {
        int best = 0;
        float bestValue = scratch[0];
        if (Metric == KMeansMetric.L2)
        {
            for (int c = 1; c < Count; c++)
            {
                if (scratch[c] < bestValue)
                {
                    bestValue = scratch[c];
                    best = c;
                }
            }
        }
        else
        {
            for (int c = 1; c < Count; c++)
            {
                if (scratch[c] > bestValue)
                {
                    bestValue = scratch[c];
                    best = c;
                }
            }
        }

        value = bestValue;
        return best;
    }
}
