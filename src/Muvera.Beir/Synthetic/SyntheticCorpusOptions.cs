// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Beir.Synthetic;

/// <summary>
/// The shape of a <see cref="SyntheticCorpus"/>. The defaults are those of <c>muvera bench synthetic</c>:
/// 100,000 documents of 64 tokens and 1,000 queries of 32 tokens in 128 dimensions, 1,000 topics.
/// </summary>
/// <remarks>Ranges are checked when a property is set (<see cref="ArgumentOutOfRangeException"/> naming it).</remarks>
public sealed record SyntheticCorpusOptions
{
    private readonly int _documentCount = 100_000;
    private readonly int _tokensPerDocument = 64;
    private readonly int _queryCount = 1_000;
    private readonly int _tokensPerQuery = 32;
    private readonly int _dimension = 128;
    private readonly int _topicCount = 1_000;
    private readonly int _aspectsPerDocument = 4;
    private readonly double _aspectNoise = 0.5;
    private readonly double _tokenNoise = 0.6;

    /// <summary>The number of documents (default 100,000); at least 1.</summary>
    public int DocumentCount { get => _documentCount; init => _documentCount = Positive(value, nameof(DocumentCount)); }

    /// <summary>Token vectors per document (default 64); at least 1.</summary>
    public int TokensPerDocument { get => _tokensPerDocument; init => _tokensPerDocument = Positive(value, nameof(TokensPerDocument)); }

    /// <summary>The number of queries (default 1,000); at least 1.</summary>
    public int QueryCount { get => _queryCount; init => _queryCount = Positive(value, nameof(QueryCount)); }

    /// <summary>Token vectors per query (default 32); at least 1.</summary>
    public int TokensPerQuery { get => _tokensPerQuery; init => _tokensPerQuery = Positive(value, nameof(TokensPerQuery)); }

    /// <summary>The token dimension d (default 128); 1 to 65,536.</summary>
    public int Dimension
    {
        get => _dimension;
        init
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(Positive(value, nameof(Dimension)), 65_536, nameof(Dimension));
            _dimension = value;
        }
    }

    /// <summary>The number of shared topic centres (default 1,000); at least 1.</summary>
    public int TopicCount { get => _topicCount; init => _topicCount = Positive(value, nameof(TopicCount)); }

    /// <summary>Aspects per document (default 4), each around a random topic; at least 1.</summary>
    public int AspectsPerDocument { get => _aspectsPerDocument; init => _aspectsPerDocument = Positive(value, nameof(AspectsPerDocument)); }

    /// <summary>σ_a, the spread of a document aspect around its topic centre (default 0.5); finite, ≥ 0.</summary>
    public double AspectNoise { get => _aspectNoise; init => _aspectNoise = NonNegative(value, nameof(AspectNoise)); }

    /// <summary>σ_t, the spread of a document or query token around its aspect (default 0.6); finite, ≥ 0.</summary>
    public double TokenNoise { get => _tokenNoise; init => _tokenNoise = NonNegative(value, nameof(TokenNoise)); }

    /// <summary>The seed (default 2024). The same options give bit-identical vectors on every platform.</summary>
    public int Seed { get; init; } = 2024;

    private static int Positive(int value, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, name);
        return value;
    }

    private static double NonNegative(double value, string name)
    {
        if (!double.IsFinite(value) || value < 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} = {value} must be finite and not negative.");
        }

        return value;
    }
}
