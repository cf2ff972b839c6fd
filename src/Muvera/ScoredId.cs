// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera;

/// <summary>A search result: a dense document id and its score, higher is better.</summary>
/// <param name="Id">The document's dense ordinal.</param>
/// <param name="Score">The score; higher is better.</param>
public readonly record struct ScoredId(int Id, float Score) : IComparable<ScoredId>
{
    /// <summary>The filler for a result slot that holds no result: id −1 and score −∞ (it ranks after every real
    /// result).</summary>
    public static ScoredId None => new(-1, float.NegativeInfinity);

    /// <summary>Result order: higher score first, and on equal scores the lower id first.</summary>
    /// <param name="other">The result to compare with.</param>
    /// <returns>Negative when this result ranks before <paramref name="other"/>.</returns>
    public int CompareTo(ScoredId other)
    {
        int byScore = other.Score.CompareTo(Score);
        return byScore != 0 ? byScore : Id.CompareTo(other.Id);
    }

    /// <summary>Whether <paramref name="left"/> ranks before <paramref name="right"/>.</summary>
    public static bool operator <(ScoredId left, ScoredId right) => left.CompareTo(right) < 0;

    /// <summary>Whether <paramref name="left"/> ranks after <paramref name="right"/>.</summary>
    public static bool operator >(ScoredId left, ScoredId right) => left.CompareTo(right) > 0;

    /// <summary>Whether <paramref name="left"/> ranks before or equal to <paramref name="right"/>.</summary>
    public static bool operator <=(ScoredId left, ScoredId right) => left.CompareTo(right) <= 0;

    /// <summary>Whether <paramref name="left"/> ranks after or equal to <paramref name="right"/>.</summary>
    public static bool operator >=(ScoredId left, ScoredId right) => left.CompareTo(right) >= 0;
}
