// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Numerics.Tensors;

namespace Muvera.Indexing;

/// <summary>
/// The argument checks and result ordering that every <see cref="IMipsIndex"/> backend shares, so that they all
/// refuse the same inputs with the same messages. Compiled into each backend assembly (linked source).
/// </summary>
internal static class MipsArguments
{
    /// <summary>Checks a single query: its length and finiteness.</summary>
    public static void ValidateQuery(ReadOnlySpan<float> query, int dimension, string paramName)
    {
        if (query.Length != dimension)
        {
            Throw($"{paramName} has length {query.Length}, but the index's dimension is {dimension}.", paramName);
        }

        ValidateFinite(query, dimension, paramName);
    }

    /// <summary>Checks a row-major batch and returns its row count.</summary>
    public static int ValidateRows(ReadOnlySpan<float> rows, int dimension, string paramName)
    {
        if (rows.Length % dimension != 0)
        {
            Throw($"{paramName} length {rows.Length} is not a multiple of the index's dimension {dimension}.", paramName);
        }

        ValidateFinite(rows, dimension, paramName);
        return rows.Length / dimension;
    }

    /// <summary>Checks k and the single-query results buffer, which must hold min(k, count) results.</summary>
    public static void ValidateSearch(int k, int count, int resultsLength, string resultsName)
    {
        ValidateK(k);
        int needed = Math.Min(k, count);
        if (resultsLength < needed)
        {
            Throw($"{resultsName} length {resultsLength} is shorter than min(k, Count) = {needed}.", resultsName);
        }
    }

    /// <summary>Checks k and the batch results buffer, which must hold queries·k results.</summary>
    public static void ValidateBatch(int k, int queries, int resultsLength, string resultsName)
    {
        ValidateK(k);
        long needed = (long)queries * k;
        if (resultsLength < needed)
        {
            Throw($"{resultsName} length {resultsLength} is shorter than queries × k = {queries} × {k} = {needed}.", resultsName);
        }
    }

    /// <summary>Checks that k is positive.</summary>
    public static void ValidateK(int k)
    {
        if (k <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be positive, but is {k}.");
        }
    }

    /// <summary>Sorts the first <paramref name="found"/> results into result order (best first, ties to the lower id)
    /// and fills the rest of <paramref name="row"/> with <see cref="ScoredId.None"/>.</summary>
    public static void SortAndPad(Span<ScoredId> row, int found)
    {
        row[..found].Sort();
        row[found..].Fill(ScoredId.None);
    }

    private static void ValidateFinite(ReadOnlySpan<float> values, int dimension, string paramName)
    {
        if (TensorPrimitives.IsFiniteAll(values))
        {
            return;
        }

        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                Throw($"{paramName} holds a non-finite value {values[i]} at row {i / dimension}, coordinate {i % dimension}; vectors must be finite.", paramName);
            }
        }
    }

    [DoesNotReturn]
    private static void Throw(string message, string paramName) => throw new ArgumentException(message, paramName);
}
