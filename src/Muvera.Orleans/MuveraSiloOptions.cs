// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;

namespace Muvera.Orleans;

/// <summary>Silo-side settings of the Muvera shard grains (<see cref="MuveraSiloBuilderExtensions.AddMuveraShards"/>).</summary>
public sealed class MuveraSiloOptions
{
    /// <summary>The default profile's name.</summary>
    public const string DefaultProfile = "default";

    /// <summary>The folder that holds every collection (<c>&lt;root&gt;/&lt;collection&gt;/collection.json</c> and
    /// <c>shard-NNNN/</c> with the checkpoint in <c>index/</c> and the write-ahead log <c>wal.log</c>).</summary>
    /// <remarks><para>Every silo must reach the same root at the same path: a shard moves to another silo when its silo
    /// dies and must find its checkpoint and log there. In production it is a shared volume (NFS, SMB, a cloud file
    /// share, a cluster file system) that supports <c>fsync</c> and advisory locks; on one machine, a local folder.</para>
    /// <para>When it is violated (each silo has its own local folder), a shard reactivated on another silo finds no
    /// checkpoint and no log and starts empty: its documents are not lost from the dead silo's disk, but they are
    /// missing from searches until the shard is activated again where its folder is. A volume without working locks
    /// loses the guard against two activations of one shard appending to one log.</para></remarks>
    public string DataRoot { get; set; } = string.Empty;

    /// <summary>Index profiles by name; a collection names one when it is created.</summary>
    public IDictionary<string, MuveraShardProfile> Profiles { get; } = new Dictionary<string, MuveraShardProfile>(StringComparer.Ordinal);

    /// <summary>How long a checkpoint waits for the index directory's lock (held by a save of a dying duplicate
    /// activation). Default 10 s.</summary>
    public TimeSpan CheckpointLockTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A shard checkpoints by itself after a write that leaves its log at least this long. Default 256 MiB;
    /// <see cref="long.MaxValue"/> checkpoints only when asked.</summary>
    public long CheckpointLogBytes { get; set; } = 256L << 20;
}
