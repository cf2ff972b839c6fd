// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;

namespace Muvera.Beir;

/// <summary>
/// Recall against an exact reference: the share of the exact nearest neighbours (by exact Chamfer scoring) that an
/// approximate search returned. No judgements are involved.
/// </summary>
/// <remarks>
/// <para>Two uses, both the same formula |exact ∩ retrieved| / |exact|:</para>
/// <list type="bullet">
/// <item><c>candidate_recall@10</c> in results.json: <c>exact</c> = the exact Chamfer top 10, <c>retrieved</c> = the
/// N candidates the FDE index returned before reranking (how many of the true top 10 reranking can still find).</item>
/// <item><c>recall@10</c> of the synthetic benchmark: <c>exact</c> = the brute-force Chamfer top 10,
/// <c>retrieved</c> = the final top 10 of the mode under test.</item>
/// </list>
/// <para>Ids are document ordinals; duplicates in <c>retrieved</c> count once. Allocates one small set per call.</para>
/// </remarks>
public static class NeighborRecall
{
    /// <summary>|exact ∩ retrieved| / |exact| for one query.</summary>
    /// <param name="exact">The exact neighbours (distinct ids); not empty.</param>
    /// <param name="retrieved">The ids an approximate search returned, any length.</param>
    /// <exception cref="ArgumentException"><paramref name="exact"/> is empty or holds an id twice.</exception>
    public static double Compute(ReadOnlySpan<int> exact, ReadOnlySpan<int> retrieved)
    {
        if (exact.IsEmpty)
        {
            throw new ArgumentException("The exact neighbour list is empty; recall needs at least one exact neighbour.", nameof(exact));
        }

        var remaining = new HashSet<int>(exact.Length);
        foreach (int id in exact)
        {
            if (!remaining.Add(id))
            {
                throw new ArgumentException($"The exact neighbour list holds id {id} twice.", nameof(exact));
            }
        }

        int found = 0;
        foreach (int id in retrieved)
        {
            found += remaining.Remove(id) ? 1 : 0;
        }

        return found / (double)exact.Length;
    }

    /// <summary>|exact ∩ retrieved| / |exact| for one query, on scored results (only the ids are compared).</summary>
    /// <param name="exact">The exact neighbours (distinct ids); not empty.</param>
    /// <param name="retrieved">The results of an approximate search, any length.</param>
    /// <exception cref="ArgumentException"><paramref name="exact"/> is empty or holds an id twice.</exception>
    public static double Compute(ReadOnlySpan<ScoredId> exact, ReadOnlySpan<ScoredId> retrieved)
    {
        int[] exactIds = new int[exact.Length];
        for (int i = 0; i < exact.Length; i++)
        {
            exactIds[i] = exact[i].Id;
        }

        int[] retrievedIds = new int[retrieved.Length];
        for (int i = 0; i < retrieved.Length; i++)
        {
            retrievedIds[i] = retrieved[i].Id;
        }

        return Compute(exactIds, retrievedIds);
    }
}
