// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Numerics.Tensors;

namespace Muvera.Samples.Quickstart;

/// <summary>Exact (unnormalized) Chamfer similarity, Σ_q max_d ⟨q, d⟩, the score MUVERA approximates.</summary>
internal static class ExactChamfer
{
    public static float Score(ReadOnlyMultiVector query, ReadOnlyMultiVector document)
    {
        int dimension = query.Dimension;
        ReadOnlySpan<float> queryTokens = query.Span;
        ReadOnlySpan<float> documentTokens = document.Span;
        float total = 0f;
        for (int q = 0; q < queryTokens.Length; q += dimension)
        {
            ReadOnlySpan<float> token = queryTokens.Slice(q, dimension);
            float best = float.NegativeInfinity;
            for (int d = 0; d < documentTokens.Length; d += dimension)
            {
                best = MathF.Max(best, TensorPrimitives.Dot(token, documentTokens.Slice(d, dimension)));
            }

            total += best;
        }

        return total;
    }

    /// <summary>Reranks candidate documents by exact Chamfer and keeps the best <paramref name="count"/>.</summary>
    public static ScoredDocument[] Rerank(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents,
        ReadOnlySpan<ScoredDocument> candidates, int count)
    {
        float[] scores = new float[candidates.Length];
        int[] ids = new int[candidates.Length];
        for (int i = 0; i < candidates.Length; i++)
        {
            ids[i] = candidates[i].Id;
            scores[i] = Score(query, documents[ids[i]]);
        }

        return ScoredDocument.TopN(scores, ids, count);
    }

    /// <summary>The exact answer: Chamfer against every document.</summary>
    public static ScoredDocument[] BruteForce(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, int count)
    {
        float[] scores = new float[documents.Count];
        for (int i = 0; i < documents.Count; i++)
        {
            scores[i] = Score(query, documents[i]);
        }

        return ScoredDocument.TopN(scores, ReadOnlySpan<int>.Empty, count);
    }
}
