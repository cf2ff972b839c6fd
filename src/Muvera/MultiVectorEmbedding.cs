// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using Microsoft.Extensions.AI;

namespace Muvera;

/// <summary>
/// A multi-vector (ColBERT-style) embedding for the .NET AI stack: one vector per token, as an
/// <see cref="Embedding"/> that <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> implementations return
/// (Muvera.Onnx's generator does) and that vector stores accept (Muvera.VectorData's collections do). Two multi-vector
/// embeddings are compared by Chamfer (MaxSim) similarity: Σ over query vectors of the largest inner product with a
/// document vector.
/// </summary>
/// <remarks>
/// <para>Queries and documents are encoded differently under ColBERT conventions (markers, query augmentation), so a
/// generator needs to know which one it is asked for: callers say it with <see cref="InputKindPropertyName"/> in
/// <see cref="EmbeddingGenerationOptions.AdditionalProperties"/> (<see cref="QueryInputKind"/> or
/// <see cref="DocumentInputKind"/>); a generator that honours the key documents its default.</para>
/// <para>The embedding holds its vectors without copying them; treat them as immutable.</para>
/// </remarks>
public sealed class MultiVectorEmbedding : Embedding
{
    /// <summary>The key of <see cref="EmbeddingGenerationOptions.AdditionalProperties"/> that tells a multi-vector
    /// generator whether its inputs are queries or documents: <c>"muvera.input_kind"</c>.</summary>
    public const string InputKindPropertyName = "muvera.input_kind";

    /// <summary>The <see cref="InputKindPropertyName"/> value for queries: <c>"query"</c>.</summary>
    public const string QueryInputKind = "query";

    /// <summary>The <see cref="InputKindPropertyName"/> value for documents: <c>"document"</c>.</summary>
    public const string DocumentInputKind = "document";

    /// <summary>Wraps token vectors.</summary>
    /// <param name="vectors">The token vectors (at least one).</param>
    /// <exception cref="ArgumentException"><paramref name="vectors"/> holds no vector.</exception>
    public MultiVectorEmbedding(ReadOnlyMultiVector vectors)
    {
        if (vectors.Count == 0)
        {
            throw new ArgumentException(
                $"A multi-vector embedding needs at least one vector; got {vectors.Count} vectors of dimension {vectors.Dimension}.", nameof(vectors));
        }

        Vectors = vectors;
    }

    /// <summary>The token vectors, row-major (<see cref="ReadOnlyMultiVector"/>).</summary>
    public ReadOnlyMultiVector Vectors { get; }

    /// <summary>The dimension of each token vector.</summary>
    public override int Dimensions => Vectors.Dimension;

    /// <summary>The number of token vectors.</summary>
    public int Count => Vectors.Count;

    /// <summary>Whether <paramref name="options"/> asks for query embeddings: true when its
    /// <see cref="InputKindPropertyName"/> property is <see cref="QueryInputKind"/>, false when it is
    /// <see cref="DocumentInputKind"/>, and <paramref name="defaultIsQuery"/> when it is absent.</summary>
    /// <param name="options">The generation options, or null.</param>
    /// <param name="defaultIsQuery">The answer when the options do not say.</param>
    /// <returns>True for queries, false for documents.</returns>
    /// <exception cref="ArgumentException">The property holds another value (the message names it).</exception>
    public static bool IsQuery(EmbeddingGenerationOptions? options, bool defaultIsQuery)
    {
        if (options?.AdditionalProperties is not { } properties || !properties.TryGetValue(InputKindPropertyName, out object? value))
        {
            return defaultIsQuery;
        }

        return value switch
        {
            QueryInputKind => true,
            DocumentInputKind => false,
            _ => throw new ArgumentException(
                $"options.AdditionalProperties[\"{InputKindPropertyName}\"] is \"{value}\"; expected \"{QueryInputKind}\" or \"{DocumentInputKind}\".", nameof(options)),
        };
    }
}
