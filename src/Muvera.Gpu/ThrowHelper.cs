// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace Muvera.Gpu;

/// <summary>Validation shared by the public methods; throw sites kept out of line. Messages follow
/// <see cref="Scoring.CpuChamferScorer"/>'s word for word, so both backends report bad input the same way.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowArgument(string message, string paramName) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowDestinationTooShort(string paramName, int length, int required) =>
        throw new ArgumentException($"{paramName} length {length} is shorter than the required {required}.", paramName);

    [DoesNotReturn]
    public static void ThrowNonFinite(string subject, string paramName, ReadOnlySpan<float> values, int dimension)
    {
        int index = 0;
        while (index < values.Length && float.IsFinite(values[index]))
        {
            index++;
        }

        float value = index < values.Length ? values[index] : float.NaN;
        throw new ArgumentException(
            $"{subject} holds a non-finite value {value} at token {index / dimension}, coordinate {index % dimension}; token vectors must be finite.",
            paramName);
    }

    /// <summary>Whether any value is NaN or ±∞: x − x is 0 for every finite x and NaN otherwise.</summary>
    public static bool HasNonFinite(ReadOnlySpan<float> values)
    {
        var accumulator = Vector<float>.Zero;
        int i = 0;
        for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var v = new Vector<float>(values.Slice(i, Vector<float>.Count));
            accumulator += v - v;
        }

        float tail = 0;
        for (; i < values.Length; i++)
        {
            tail += values[i] - values[i];
        }

        return !(Vector.EqualsAll(accumulator, Vector<float>.Zero) && tail == 0);
    }

    /// <summary>At least one token, every value finite.</summary>
    public static void ValidateQuery(ReadOnlyMultiVector query, string subject, string paramName)
    {
        if (query.Count == 0)
        {
            ThrowArgument($"{subject} has no tokens; Chamfer similarity needs at least one query token.", paramName);
        }

        if (HasNonFinite(query.Span))
        {
            ThrowNonFinite(subject, paramName, query.Span, query.Dimension);
        }
    }

    /// <summary>The query's dimension (or an empty default instance), every value finite.</summary>
    public static void ValidateDocument(ReadOnlyMultiVector document, int dimension, string paramName)
    {
        if (document.Dimension != dimension && !(document.Dimension == 0 && document.Values.IsEmpty))
        {
            ThrowArgument($"{paramName} has token dimension {document.Dimension}, but the query's dimension is {dimension}.", paramName);
        }

        if (HasNonFinite(document.Span))
        {
            ThrowNonFinite(paramName, paramName, document.Span, dimension);
        }
    }

    /// <summary>Shapes only; the values are checked while the documents are packed for upload.</summary>
    public static void ValidateDocumentShapes(System.Collections.Generic.IReadOnlyList<ReadOnlyMultiVector> documents, int dimension, string paramName)
    {
        ArgumentNullException.ThrowIfNull(documents, paramName);
        for (int i = 0; i < documents.Count; i++)
        {
            ReadOnlyMultiVector document = documents[i];
            if (document.Dimension != dimension && !(document.Dimension == 0 && document.Values.IsEmpty))
            {
                ThrowArgument($"{paramName}[{i}] has token dimension {document.Dimension}, but the query's dimension is {dimension}.", paramName);
            }
        }
    }

    /// <summary>A store, a valid query of its dimension, and a store that is still usable.</summary>
    public static void ValidateStoreQuery(ReadOnlyMultiVector query, MultiVectorStore store, string subject, string paramName)
    {
        ArgumentNullException.ThrowIfNull(store);
        ValidateQuery(query, subject, paramName);
        if (query.Dimension != store.Dimension)
        {
            ThrowArgument($"{subject} has token dimension {query.Dimension}, but the store's dimension is {store.Dimension}.", paramName);
        }

        store.ThrowIfDisposed();
        ThrowIfQuantized(store);
    }

    /// <summary>The GPU kernels read float32 and float16 tokens only: an int8 or residual store is refused with a
    /// message that says what to do instead.</summary>
    public static void ThrowIfQuantized(MultiVectorStore store)
    {
        if (store.Storage.IsQuantized)
        {
            throw new NotSupportedException(
                $"GpuChamferScorer scores float32 and float16 token stores only; this store keeps {store.Storage} tokens. " +
                "Score it with CpuChamferScorer (the MuveraIndex default), or build the index with TokenElementType Float32 or Float16 to rerank on the GPU.");
        }
    }
}
