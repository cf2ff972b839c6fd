// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Orleans;

namespace Muvera.Orleans;

/// <summary>A document as it travels to and from a shard: its id and token vectors (row-major, <see cref="Dimension"/>
/// values per token).</summary>
[GenerateSerializer]
[Immutable]
[Alias("Muvera.Orleans.ShardDocument")]
internal sealed record ShardDocument(
    [property: Id(0)] string Id,
    [property: Id(1)] int Dimension,
    [property: Id(2)] float[] Tokens)
{
    public static ShardDocument From(string id, ReadOnlyMultiVector document) => new(id, document.Dimension, document.Span.ToArray());

    public ReadOnlyMultiVector ToMultiVector() => new(Tokens, Dimension);
}

/// <summary>One hit of a shard's search.</summary>
[GenerateSerializer]
[Immutable]
[Alias("Muvera.Orleans.ShardHit")]
internal readonly record struct ShardHit(
    [property: Id(0)] string Id,
    [property: Id(1)] float Score,
    [property: Id(2)] float FdeScore);

/// <summary>A search request sent to every shard.</summary>
[GenerateSerializer]
[Immutable]
[Alias("Muvera.Orleans.ShardSearchRequest")]
internal sealed record ShardSearchRequest(
    [property: Id(0)] float[] Query,
    [property: Id(1)] int Dimension,
    [property: Id(2)] int K,
    [property: Id(3)] int? Candidates,
    [property: Id(4)] bool AllCandidates,
    [property: Id(5)] bool Rerank,
    [property: Id(6)] bool Exact);

/// <summary>A shard's figures, as its current activation reports them (<see cref="MuveraCluster.GetShardStatusAsync"/>).</summary>
/// <param name="Shard">The shard.</param>
/// <param name="Documents">Live documents.</param>
/// <param name="LogBytes">The write-ahead log's length (16 bytes when empty: its header).</param>
/// <param name="ReplayedRecords">Log records the activation replayed when it started.</param>
/// <param name="TokenBytes">Bytes of stored token vectors (<see cref="MuveraIndex.TokenBytes"/>).</param>
/// <param name="FdeBytes">Bytes of stored FDEs (<see cref="MuveraIndex.FdeBytes"/>; 0 when the backend does not say).</param>
/// <param name="Silo">The hosting silo's address, as Orleans prints it (<c>S&lt;ip&gt;:&lt;port&gt;:&lt;generation&gt;</c>).</param>
[GenerateSerializer]
[Immutable]
[Alias("Muvera.Orleans.MuveraShardStatus")]
public sealed record MuveraShardStatus(
    [property: Id(0)] int Shard,
    [property: Id(1)] int Documents,
    [property: Id(2)] long LogBytes,
    [property: Id(3)] int ReplayedRecords,
    [property: Id(4)] long TokenBytes,
    [property: Id(5)] long FdeBytes,
    [property: Id(6)] string Silo);
