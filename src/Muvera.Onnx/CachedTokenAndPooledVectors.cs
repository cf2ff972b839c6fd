// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;

namespace Muvera.Onnx;

/// <summary>
/// Token vectors and mean-pooled vectors of the same texts from an <see cref="EmbeddingCache"/>
/// (<see cref="EmbeddingCache.GetOrEncodeDocumentsWithPooled"/>), with what it took to get them: nothing (both cached)
/// or one model pass.
/// </summary>
/// <remarks>Owns <see cref="Tokens"/> (memory-mapped): <see cref="Dispose"/> releases it. Reads are thread-safe;
/// <see cref="GetPooled"/> allocates nothing.</remarks>
public sealed class CachedTokenAndPooledVectors : IDisposable
{
    private readonly float[] _pooled;

    internal CachedTokenAndPooledVectors(MultiVectorStore tokens, float[] pooled, int modelPasses, bool tokensEncoded, bool pooledEncoded)
    {
        Debug.Assert(pooled.Length == (long)tokens.Count * tokens.Dimension);
        Debug.Assert(modelPasses is 0 or 1 && (modelPasses == 1) == (tokensEncoded || pooledEncoded));
        Tokens = tokens;
        _pooled = pooled;
        ModelPasses = modelPasses;
        TokensEncoded = tokensEncoded;
        PooledEncoded = pooledEncoded;
    }

    /// <summary>The token vectors: store id i is text i (a read-only, memory-mapped store).</summary>
    public MultiVectorStore Tokens { get; }

    /// <summary>Row-major <c>Count × Dimension</c> floats: text i's pooled vector is
    /// <c>[i × Dimension, (i + 1) × Dimension)</c>.</summary>
    public ReadOnlyMemory<float> Pooled => _pooled;

    /// <summary>The number of texts.</summary>
    public int Count => Tokens.Count;

    /// <summary>The dimension of every token vector and pooled vector.</summary>
    public int Dimension => Tokens.Dimension;

    /// <summary>Model passes over the texts this call ran: 0 when both came from the cache, else 1 (never 2: a missing
    /// token store is encoded together with the pooled vectors).</summary>
    public int ModelPasses { get; }

    /// <summary>Whether the token vectors were encoded by this call (false: read from the cache).</summary>
    public bool TokensEncoded { get; }

    /// <summary>Whether the pooled vectors were encoded by this call (false: read from the cache).</summary>
    public bool PooledEncoded { get; }

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

    /// <summary>Releases <see cref="Tokens"/>. Idempotent; never throws.</summary>
    public void Dispose() => Tokens.Dispose();
}
