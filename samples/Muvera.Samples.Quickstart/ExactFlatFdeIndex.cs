// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Numerics.Tensors;

namespace Muvera.Samples.Quickstart;

/// <summary>
/// The "exact flat index" of this sample: brute-force maximum inner product search over the contiguous row-major
/// FDE matrix that <see cref="FdeEncoder.EncodeDocuments(System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector})"/>
/// returns. Muvera has no index type yet; approximate (HNSW, FAISS) indexes are planned.
/// </summary>
internal sealed class ExactFlatFdeIndex
{
    private readonly float[] _vectors;
    private readonly float[] _scores;

    public ExactFlatFdeIndex(float[] vectors, int dimension)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        if (vectors.Length % dimension != 0)
        {
            throw new ArgumentException($"length {vectors.Length} is not a multiple of dimension {dimension}", nameof(vectors));
        }

        _vectors = vectors;
        Dimension = dimension;
        Count = vectors.Length / dimension;
        _scores = new float[Count];
    }

    public int Dimension { get; }

    public int Count { get; }

    /// <summary>The <paramref name="count"/> rows with the largest inner product with <paramref name="query"/>.
    /// Not thread-safe (it reuses one score buffer).</summary>
    public ScoredDocument[] Search(ReadOnlySpan<float> query, int count)
    {
        if (query.Length != Dimension)
        {
            throw new ArgumentException($"query length {query.Length} differs from the index dimension {Dimension}", nameof(query));
        }

        for (int i = 0; i < Count; i++)
        {
            _scores[i] = TensorPrimitives.Dot(query, _vectors.AsSpan(i * Dimension, Dimension));
        }

        return ScoredDocument.TopN(_scores, ReadOnlySpan<int>.Empty, count);
    }
}
