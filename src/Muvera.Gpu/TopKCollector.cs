// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;

namespace Muvera.Gpu;

/// <summary>
/// The best <c>k</c> of a stream of scored ids: higher score first, ties to the lower id (the <see cref="ScoredId"/>
/// order), the same selection <see cref="Scoring.CpuChamferScorer"/> makes. Scores arrive in launch-sized chunks, so
/// no more than k results are ever held per query.
/// </summary>
internal sealed class TopKCollector
{
    private readonly PriorityQueue<int, ScoredId> _heap;
    private readonly int _k;

    /// <param name="k">Results to keep (positive).</param>
    /// <param name="expected">An upper bound on the offers, to size the heap.</param>
    public TopKCollector(int k, long expected)
    {
        _k = k;
        _heap = new PriorityQueue<int, ScoredId>((int)Math.Min(k, expected) + 1, WorstFirst.Instance);
    }

    /// <summary>Considers one result.</summary>
    public void Offer(int id, float score)
    {
        var candidate = new ScoredId(id, score);
        if (_heap.Count < _k)
        {
            _heap.Enqueue(id, candidate);
        }
        else if (_heap.TryPeek(out _, out ScoredId worst) && candidate < worst)
        {
            _heap.EnqueueDequeue(id, candidate);
        }
    }

    /// <summary>The kept results, best first; empties the collector.</summary>
    public ScoredId[] Drain()
    {
        var result = new ScoredId[_heap.Count];
        for (int i = result.Length - 1; i >= 0; i--)
        {
            _heap.TryDequeue(out _, out result[i]);
        }

        return result;
    }

    // The heap's root is the worst kept result.
    private sealed class WorstFirst : IComparer<ScoredId>
    {
        public static readonly WorstFirst Instance = new();

        public int Compare(ScoredId x, ScoredId y) => y.CompareTo(x);
    }
}
