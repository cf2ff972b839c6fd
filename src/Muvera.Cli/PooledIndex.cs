// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Numerics.Tensors;

namespace Muvera.Cli;

/// <summary>Exact inner-product search over single vectors (the mean-pooled baseline): a scan of every document and a
/// bounded min-heap, on the calling thread. Thread-safe for concurrent searches.</summary>
internal sealed class PooledIndex(float[] vectors, int dimension)
{
    public int Count { get; } = vectors.Length / dimension;

    /// <summary>The top <paramref name="k"/> ordinals, best first; ties go to the lower ordinal.</summary>
    public ScoredId[] Search(ReadOnlySpan<float> query, int k)
    {
        k = Math.Min(k, Count);
        var heap = new PriorityQueue<int, ScoredId>(k + 1, WorstFirst.Instance);
        for (int i = 0; i < Count; i++)
        {
            var hit = new ScoredId(i, TensorPrimitives.Dot(query, vectors.AsSpan(i * dimension, dimension)));
            if (heap.Count < k)
            {
                heap.Enqueue(i, hit);
            }
            else if (heap.TryPeek(out _, out ScoredId worst) && WorstFirst.Instance.Compare(hit, worst) > 0)
            {
                heap.DequeueEnqueue(i, hit);
            }
        }

        var result = new ScoredId[heap.Count];
        for (int i = result.Length - 1; i >= 0; i--)
        {
            heap.TryDequeue(out _, out result[i]);
        }

        return result;
    }

    // Orders hits from worst to best: lower score first, then the higher ordinal.
    private sealed class WorstFirst : IComparer<ScoredId>
    {
        public static readonly WorstFirst Instance = new();

        public int Compare(ScoredId x, ScoredId y)
        {
            int byScore = x.Score.CompareTo(y.Score);
            return byScore != 0 ? byScore : y.Id.CompareTo(x.Id);
        }
    }
}
