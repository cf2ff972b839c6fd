// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;

namespace Muvera.Orleans;

/// <summary>The merged hits of a cluster search.</summary>
/// <param name="Hits">Up to k hits, best first: by <see cref="MuveraSearchHit.Score"/> descending, ties by id in ordinal
/// order.</param>
/// <param name="MissingShards">The shards that did not answer (empty unless
/// <see cref="MuveraClusterSearchOptions.AllowPartialResults"/> is set).</param>
public sealed record MuveraClusterSearchResult(IReadOnlyList<MuveraSearchHit> Hits, IReadOnlyList<int> MissingShards)
{
    /// <summary>Whether some shards did not answer, so hits from their documents are missing.</summary>
    public bool IsPartial => MissingShards.Count > 0;
}
