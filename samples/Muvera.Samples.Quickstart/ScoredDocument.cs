// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Samples.Quickstart;

/// <summary>A search hit: higher scores are better.</summary>
internal readonly record struct ScoredDocument(int Id, float Score)
{
    /// <summary>The <paramref name="count"/> best of <paramref name="scores"/> (score i belongs to <c>ids[i]</c>),
    /// best first; ties go to the lower id.</summary>
    public static ScoredDocument[] TopN(ReadOnlySpan<float> scores, ReadOnlySpan<int> ids, int count)
    {
        var all = new ScoredDocument[scores.Length];
        for (int i = 0; i < scores.Length; i++)
        {
            all[i] = new ScoredDocument(ids.IsEmpty ? i : ids[i], scores[i]);
        }

        Array.Sort(all, static (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Id.CompareTo(b.Id));
        return all.AsSpan(0, Math.Min(count, all.Length)).ToArray();
    }
}
