// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
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

/// <summary>A shard's figures.</summary>
[GenerateSerializer]
[Immutable]
[Alias("Muvera.Orleans.ShardStatistics")]
internal sealed record ShardStatistics(
    [property: Id(0)] int Count,
    [property: Id(1)] long LogBytes,
    [property: Id(2)] int ReplayedRecords,
    [property: Id(3)] long TokenBytes,
    [property: Id(4)] long FdeBytes,
    [property: Id(5)] string Silo)
{
    public static readonly ShardStatistics Empty = new(0, 0, 0, 0, 0, string.Empty);

    public override string ToString() => FormattableString.Invariant($"{Count} documents, {LogBytes} log bytes, {ReplayedRecords} records replayed, on {Silo}");
}
