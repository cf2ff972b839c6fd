// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Numerics.Tensors;

namespace Muvera.Scoring;

/// <summary>Query reduction before reranking (MUVERA paper, §C.3 "ball carving").</summary>
public static class QueryReduction
{
    /// <summary>Greedy ball carving: the first unassigned token opens a cluster, every later unassigned token whose
    /// inner product with it is at least <paramref name="threshold"/> joins it, and each cluster is replaced by the sum
    /// of its tokens. Clusters keep the order of their first tokens.</summary>
    /// <param name="query">The query's token vectors (at least one).</param>
    /// <param name="threshold">τ: the inner-product threshold (0.7 in the paper, for unit vectors).</param>
    /// <returns>The reduced query (at most as many tokens; the same query when no two tokens cluster).</returns>
    /// <remarks>Σ_{q ∈ C} max_d ⟨q, d⟩ ≥ max_d ⟨Σ_{q ∈ C} q, d⟩, so Chamfer of the reduced query never exceeds Chamfer
    /// of the original; reranking cost falls in proportion to the token count. O(|Q|² · d).</remarks>
    /// <exception cref="ArgumentException"><paramref name="query"/> has no tokens or a NaN/∞ value.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is NaN or infinite.</exception>
    public static ReadOnlyMultiVector BallCarve(ReadOnlyMultiVector query, float threshold)
    {
        if (query.Count == 0)
        {
            ThrowHelper.ThrowArgument($"{nameof(query)} has no tokens; ball carving needs at least one query token.", nameof(query));
        }

        if (!float.IsFinite(threshold))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(threshold), threshold, $"threshold must be finite; got {threshold}.");
        }

        ReadOnlySpan<float> values = query.Span;
        foreach (float value in values)
        {
            if (!float.IsFinite(value))
            {
                ThrowHelper.ThrowNonFinite(nameof(query), values, query.Dimension);
            }
        }

        int n = query.Count;
        int d = query.Dimension;
        int[] cluster = new int[n];
        Array.Fill(cluster, -1);
        int clusters = 0;
        for (int i = 0; i < n; i++)
        {
            if (cluster[i] >= 0)
            {
                continue;
            }

            cluster[i] = clusters;
            ReadOnlySpan<float> center = query[i];
            for (int j = i + 1; j < n; j++)
            {
                if (cluster[j] < 0 && TensorPrimitives.Dot(center, query[j]) >= threshold)
                {
                    cluster[j] = clusters;
                }
            }

            clusters++;
        }

        if (clusters == n)
        {
            return query;
        }

        float[] reduced = new float[clusters * d];
        for (int i = 0; i < n; i++)
        {
            Span<float> sum = reduced.AsSpan(cluster[i] * d, d);
            TensorPrimitives.Add(sum, query[i], sum);
        }

        return new ReadOnlyMultiVector(reduced, d);
    }
}
