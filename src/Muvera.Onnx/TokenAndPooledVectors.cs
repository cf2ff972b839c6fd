// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace Muvera.Onnx;

/// <summary>
/// The token vectors and the mean-pooled single vectors of the same texts, from one model run per batch
/// (<see cref="OnnxTokenEncoder.EncodeDocumentsWithPooled"/>, <see cref="OnnxTokenEncoder.EncodeQueriesWithPooled"/>).
/// </summary>
/// <remarks>Immutable once built; safe to read from several threads. <see cref="GetPooled"/> allocates nothing.</remarks>
public sealed class TokenAndPooledVectors
{
    private readonly ReadOnlyMultiVector[] _tokens;
    private readonly float[] _pooled;

    internal TokenAndPooledVectors(ReadOnlyMultiVector[] tokens, float[] pooled, int dimension)
    {
        Debug.Assert(pooled.Length == (long)tokens.Length * dimension);
        _tokens = tokens;
        _pooled = pooled;
        Dimension = dimension;
    }

    /// <summary>The number of texts.</summary>
    public int Count => _tokens.Length;

    /// <summary>The dimension of every token vector and pooled vector.</summary>
    public int Dimension { get; }

    /// <summary>One multi-vector per text, in input order (what
    /// <see cref="OnnxTokenEncoder.EncodeDocuments(IReadOnlyList{string}, IProgress{int}, System.Threading.CancellationToken)"/>
    /// returns).</summary>
    public IReadOnlyList<ReadOnlyMultiVector> Tokens => _tokens;

    /// <summary>Row-major <c>Count × Dimension</c> floats: text i's pooled vector is
    /// <c>[i × Dimension, (i + 1) × Dimension)</c> (what <see cref="OnnxTokenEncoder.EncodePooledDocuments"/> returns).</summary>
    public ReadOnlyMemory<float> Pooled => _pooled;

    /// <summary>Text <paramref name="index"/>'s pooled vector.</summary>
    /// <param name="index">The text's position in the input, 0 ≤ index &lt; <see cref="Count"/>.</param>
    /// <returns><see cref="Dimension"/> floats.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, Count).</exception>
    public ReadOnlySpan<float> GetPooled(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return _pooled.AsSpan(index * Dimension, Dimension);
    }
}
