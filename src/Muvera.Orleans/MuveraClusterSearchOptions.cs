// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Orleans;

/// <summary>Settings of <see cref="MuveraCluster.SearchAsync"/> and <see cref="MuveraCluster.SearchExactAsync"/>.</summary>
public sealed record MuveraClusterSearchOptions
{
    private readonly int? _candidates;

    /// <summary>The default options: each shard's default N, reranked, failing when a shard does not answer.</summary>
    public static MuveraClusterSearchOptions Default { get; } = new();

    /// <summary>FDE candidates per shard (N ≥ k). Null: each shard's calibrated N, else
    /// max(<see cref="MuveraSearchOptions.DefaultCandidates"/>, 10·k).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int? Candidates
    {
        get => _candidates;
        init
        {
            if (value is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(Candidates), value, $"Candidates must be positive; got {value}.");
            }

            _candidates = value;
        }
    }

    /// <summary>Whether every shard takes all its documents as candidates (N = shard size): every document is reranked
    /// with exact Chamfer, so the result equals <see cref="MuveraCluster.SearchExactAsync"/> and a single
    /// <see cref="MuveraIndex"/> searched with N = its size. Overrides <see cref="Candidates"/>. Default false.</summary>
    /// <remarks>The shards skip the FDE scan, which cannot change such a result, and score every document exactly; hits
    /// then carry <see cref="MuveraSearchHit.FdeScore"/> = NaN.</remarks>
    public bool AllCandidates { get; init; }

    /// <summary>Whether candidates are reranked with exact Chamfer (default true). False: hits are ranked by FDE inner
    /// product, comparable across shards only when every shard has the same encoder (SimHash partitions; learned ones
    /// are trained per shard).</summary>
    public bool Rerank { get; init; } = true;

    /// <summary>When a shard does not answer: false (default) throws <see cref="MuveraShardUnavailableException"/>
    /// naming it; true returns the other shards' merged hits with <see cref="MuveraClusterSearchResult.IsPartial"/> set and
    /// the missing shards listed.</summary>
    public bool AllowPartialResults { get; init; }
}
