// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using Muvera.Indexing;

namespace Muvera.Orleans;

/// <summary>How the shards of a collection build their <see cref="MuveraIndex"/>: index options (FDE, token storage)
/// and the MIPS backend (flat with any <see cref="FdeStorage"/>, USearch, FAISS). Registered on every silo under a name
/// (<see cref="MuveraSiloOptions.Profiles"/>); a collection's manifest records the name, so backends, which are code, never
/// travel between processes.</summary>
/// <remarks>Every silo must register the same profile under the same name: a shard loads its checkpoint with
/// <see cref="MuveraLoadOptions.ExpectedFde"/> set to this profile's FDE options and fails to activate when they differ.
/// Calibration (<see cref="MuveraIndex.Calibrate(System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector}, int, double)"/>) is per shard and saved in its checkpoints
/// (<see cref="MuveraCluster.CalibrateAsync"/>).</remarks>
public sealed class MuveraShardProfile
{
    /// <summary>A profile.</summary>
    /// <param name="indexOptions">The options of every shard's index.</param>
    /// <param name="backend">The MIPS backend of every shard's index.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public MuveraShardProfile(MuveraIndexOptions indexOptions, MipsBackend backend)
    {
        ArgumentNullException.ThrowIfNull(indexOptions);
        ArgumentNullException.ThrowIfNull(backend);
        IndexOptions = indexOptions;
        Backend = backend;
    }

    /// <summary>The options of every shard's index.</summary>
    public MuveraIndexOptions IndexOptions { get; }

    /// <summary>The MIPS backend of every shard's index.</summary>
    public MipsBackend Backend { get; }

    /// <summary>The token dimension (<see cref="FdeOptions.Dimension"/>).</summary>
    public int Dimension => IndexOptions.Fde.Dimension;

    /// <summary>A profile whose shards are trained from the start and whose scores do not depend on how documents are
    /// spread over shards: SimHash FDEs (<see cref="FdeOptions.CreateSimHash"/>; the same encoder on every shard, so FDE
    /// scores are comparable across shards), float32 FDEs in a <see cref="FlatMipsBackend"/>, float32 tokens.</summary>
    /// <param name="dimension">The token dimension.</param>
    /// <returns>The profile.</returns>
    /// <remarks>The index defaults (learned partitions trained at <see cref="MuveraIndex.PartitionTrainingDocuments"/>
    /// documents, product-quantized FDEs) train per shard, on each shard's own documents: fine for MUVERA candidates, but
    /// each shard then has its own encoder, and a shard below 1,024 documents searches exactly.</remarks>
    public static MuveraShardProfile CreateSimHash(int dimension) => new(
        new MuveraIndexOptions { Fde = FdeOptions.CreateSimHash(dimension) },
        new FlatMipsBackend(FdeStorage.Float32));

    /// <inheritdoc/>
    public override string ToString() => $"{IndexOptions.Fde.Dimension}-d, {Backend}";
}
