// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO.Hashing;
using System.Text;

namespace Muvera.Orleans;

/// <summary>Routes document ids to shards: shard = XxHash64(UTF-8 bytes of the id, seed 0) mod shard count.</summary>
/// <remarks>The route depends only on the id's characters and the shard count (not on the process, platform, runtime
/// version or <see cref="string.GetHashCode()"/>'s per-process randomization), so every client and silo, on any
/// machine, sends an id to the same shard, and a collection's shard count can never change once documents are
/// stored.</remarks>
public static class MuveraShardRouter
{
    /// <summary>The shard that holds <paramref name="id"/>.</summary>
    /// <param name="id">The document id (not null).</param>
    /// <param name="shardCount">The collection's shard count (positive).</param>
    /// <returns>A shard index in [0, <paramref name="shardCount"/>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="id"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shardCount"/> is not positive.</exception>
    /// <remarks>Allocation-free for ids up to 256 UTF-8 bytes; thread-safe.</remarks>
    public static int ShardOf(string id, int shardCount)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shardCount);
        int byteCount = Encoding.UTF8.GetByteCount(id);
        Span<byte> bytes = byteCount <= 256 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(id, bytes);
        return (int)(XxHash64.HashToUInt64(bytes) % (ulong)shardCount);
    }
}
