// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading.Tasks;

namespace Muvera.Indexing;

/// <summary>
/// A kind of MIPS index that a <see cref="MuveraIndex"/> keeps its FDEs in: how to create an empty one, how to load
/// one from its file, and how to search it. Subclasses: <see cref="FlatMipsBackend"/> (exact, here) and the backends
/// of the Muvera.USearch and Muvera.Faiss packages.
/// </summary>
/// <remarks>
/// A backend object is a small immutable description (options, search parameters); the indexes it creates hold the
/// data. <see cref="Kind"/> is written to an index's manifest so that <see cref="MuveraIndex.Load(string)"/> can pick
/// the matching backend again.
/// </remarks>
public abstract class MipsBackend
{
    /// <summary>The stable name written to manifests (lowercase ASCII, e.g. <c>flat</c>, <c>usearch</c>, <c>faiss</c>).</summary>
    public abstract string Kind { get; }

    /// <summary>A human-readable description of the parameters (written to manifests and reports).</summary>
    public abstract string Description { get; }

    /// <summary>The file name, inside an index directory, of this backend's index file.</summary>
    public virtual string FileName => "fde." + Kind;

    /// <summary>Creates an empty index for FDEs of <paramref name="dimension"/> floats.</summary>
    /// <param name="dimension">The FDE dimension (positive).</param>
    /// <returns>The new index; the caller owns it.</returns>
    public abstract IMipsIndex Create(int dimension);

    /// <summary>Loads an index written by <see cref="IMipsIndex.Save(string)"/> of an index this backend created.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The loaded index; the caller owns it.</returns>
    /// <exception cref="System.IO.InvalidDataException">The file is not a valid index of this kind.</exception>
    public abstract IMipsIndex Load(string path);

    /// <summary>Adds <paramref name="vectors"/> (row-major) to <paramref name="index"/>; backends that must be trained
    /// before the first add (IVF, PQ) train on these vectors first.</summary>
    /// <param name="index">An index this backend created or loaded.</param>
    /// <param name="vectors">The vectors, row-major.</param>
    /// <param name="parallelOptions">Thread limit and cancellation, where the backend supports them.</param>
    /// <returns>The ordinal of the first added vector.</returns>
    public virtual int Add(IMipsIndex index, ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(index);
        return index.Add(vectors);
    }

    /// <summary>The <paramref name="k"/> best vectors of <paramref name="index"/> for <paramref name="query"/>, with
    /// this backend's search parameters (for example an HNSW expansion of at least <paramref name="k"/>).</summary>
    /// <param name="index">An index this backend created or loaded.</param>
    /// <param name="query">The query vector.</param>
    /// <param name="k">How many results (positive).</param>
    /// <param name="results">Receives the results, best first.</param>
    /// <returns>The number of results written.</returns>
    public virtual int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results)
    {
        ArgumentNullException.ThrowIfNull(index);
        return index.Search(query, k, results);
    }

    /// <summary>The bytes <paramref name="index"/> holds in memory, when the backend knows; otherwise null.</summary>
    /// <param name="index">An index this backend created or loaded.</param>
    /// <returns>The byte count, or null.</returns>
    public virtual long? MemoryBytes(IMipsIndex index) => null;

    /// <summary>
    /// Whether <paramref name="index"/> holds at <paramref name="ordinal"/> exactly what this backend would store for
    /// <paramref name="vector"/>, after its own rounding or encoding (half precision, quantisation codes, ...); null
    /// when the backend cannot read a stored vector back cheaply, which skips the check.
    /// </summary>
    /// <remarks>
    /// <see cref="MuveraIndex.Load(string, MuveraLoadOptions)"/> re-encodes a few stored documents (at most four, spread
    /// over the live ordinals) and refuses the index when this returns false: an FDE file that does not belong to the
    /// manifest's encoder would otherwise load and search at chance. Contract: <paramref name="ordinal"/> is in
    /// [0, Count) and <paramref name="vector"/> has the index's dimension; the call only reads, is deterministic, and
    /// answers true for every vector added unchanged; a lossy encoding must compare after applying itself to
    /// <paramref name="vector"/>, never with a tolerance. The flat backend compares bit for bit.
    /// </remarks>
    internal virtual bool? StoredMatches(IMipsIndex index, int ordinal, ReadOnlySpan<float> vector) => null;

    /// <inheritdoc/>
    public override string ToString() => $"{Kind} ({Description})";
}

/// <summary>The exact SIMD flat index (<see cref="FlatMipsIndex"/>): the default backend.</summary>
/// <param name="elementType">How FDE coordinates are stored (Float32 is exact; Float16 halves the memory).</param>
public sealed class FlatMipsBackend(StoreElementType elementType) : MipsBackend
{
    /// <summary>A float32 flat backend.</summary>
    public FlatMipsBackend()
        : this(StoreElementType.Float32)
    {
    }

    /// <summary>How FDE coordinates are stored.</summary>
    public StoreElementType ElementType { get; } = elementType;

    /// <summary>The thread limit of each search (default: every core; a search splits the rows across threads).
    /// Set <c>MaxDegreeOfParallelism = 1</c> when many searches run in parallel, or to measure one-thread latency.</summary>
    public ParallelOptions? SearchParallelOptions { get; init; }

    /// <inheritdoc/>
    public override string Kind => "flat";

    /// <inheritdoc/>
    public override string Description => ElementType == StoreElementType.Float32 ? "float32" : "float16";

    /// <inheritdoc/>
    public override IMipsIndex Create(int dimension) => new FlatMipsIndex(dimension, ElementType);

    /// <inheritdoc/>
    public override IMipsIndex Load(string path) => FlatMipsIndex.Load(path);

    /// <inheritdoc/>
    public override int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results)
    {
        ArgumentNullException.ThrowIfNull(index);
        return index is FlatMipsIndex flat && SearchParallelOptions is { } parallelOptions
            ? flat.Search(query, k, results, parallelOptions)
            : index.Search(query, k, results);
    }

    /// <inheritdoc/>
    public override long? MemoryBytes(IMipsIndex index) => (index as FlatMipsIndex)?.MemoryBytes;

    /// <inheritdoc/>
    internal override bool? StoredMatches(IMipsIndex index, int ordinal, ReadOnlySpan<float> vector) =>
        index is FlatMipsIndex flat ? flat.Stores(ordinal, vector) : null;
}
