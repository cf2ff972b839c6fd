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

    /// <summary>The bytes one stored vector of <paramref name="index"/> takes, fixed costs (a quantizer's parameters,
    /// graph links) excluded, when the backend knows; otherwise null.</summary>
    /// <param name="index">An index this backend created or loaded.</param>
    /// <returns>The byte count, or null.</returns>
    public virtual long? BytesPerVector(IMipsIndex index) => null;

    /// <summary>The (at most) <paramref name="k"/> best vectors of <paramref name="index"/> among those
    /// <paramref name="filter"/> allows. The flat backend scans every vector and skips the others (the exact top k of
    /// the allowed ones, or the quantized scan's); HNSW backends filter during the graph walk. Backends that cannot
    /// filter throw <see cref="NotSupportedException"/> (the default).</summary>
    /// <param name="index">An index this backend created or loaded.</param>
    /// <param name="query">The query vector.</param>
    /// <param name="k">How many results (positive).</param>
    /// <param name="results">Receives the results, best first.</param>
    /// <param name="filter">The allowed ids.</param>
    /// <returns>The number of results written.</returns>
    /// <exception cref="NotSupportedException">The backend cannot search with a filter.</exception>
    public virtual int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results, MipsFilter filter) =>
        throw new NotSupportedException($"The {Kind} backend cannot search with a filter; use the flat or the USearch backend, or search without a filter.");

    /// <summary>An empty index to move <paramref name="current"/>'s live vectors into when compacting (default: a new
    /// index, as <see cref="Create"/>).</summary>
    internal virtual IMipsIndex CreateEmptyLike(IMipsIndex current) => Create(current.Dimension);

    // The search MuveraIndex calls: with the probes of an inverted-file backend (others ignore them) and an optional filter.
    internal virtual int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results, int? probes, MipsFilter? filter) =>
        filter is null ? Search(index, query, k, results) : Search(index, query, k, results, filter);

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

/// <summary>
/// The flat backend: every search scans every stored FDE. Its <see cref="Storage"/> decides how: float32 or float16 in a
/// <see cref="FlatMipsIndex"/> (exact), or int8 / product-quantized codes in a <see cref="QuantizedMipsIndex"/> (a SIMD
/// integer scan, approximate scores). The default, <see cref="FdeStorage.Default"/>, is 4-bit product quantization with
/// a refinement stage (<c>pq:4,16+4,4x4</c>).
/// </summary>
public sealed class FlatMipsBackend : MipsBackend
{
    /// <summary>A flat backend with the default storage (<see cref="FdeStorage.Default"/>).</summary>
    public FlatMipsBackend()
        : this(FdeStorage.Default)
    {
    }

    /// <summary>A float flat backend (exact).</summary>
    /// <param name="elementType">Float32 (exact) or Float16 (half the memory).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementType"/> is not a defined value.</exception>
    public FlatMipsBackend(StoreElementType elementType)
        : this(FdeStorage.FromElementType(elementType))
    {
    }

    /// <summary>A flat backend with the given storage.</summary>
    /// <param name="storage">Float32, Float16, Int8 or product quantization, with its training settings.</param>
    /// <exception cref="ArgumentNullException"><paramref name="storage"/> is null.</exception>
    public FlatMipsBackend(FdeStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        Storage = storage;
    }

    /// <summary>How FDEs are stored.</summary>
    public FdeStorage Storage { get; }

    /// <summary>The float element type: Float16 for <see cref="FdeStorageKind.Float16"/> storage, else Float32 (the
    /// vectors quantized storage keeps until it is trained).</summary>
    public StoreElementType ElementType => Storage.ElementType;

    /// <summary>The thread limit of each search (default: every core; a search splits the rows across threads).
    /// Set <c>MaxDegreeOfParallelism = 1</c> when many searches run in parallel, or to measure one-thread latency.</summary>
    public ParallelOptions? SearchParallelOptions { get; init; }

    /// <inheritdoc/>
    public override string Kind => "flat";

    /// <inheritdoc/>
    public override string Description => Storage.Kind switch
    {
        FdeStorageKind.Float32 => "float32",
        FdeStorageKind.Float16 => "float16",
        _ => Storage.ToString(),
    };

    /// <inheritdoc/>
    public override IMipsIndex Create(int dimension) => Storage.IsQuantized
        ? new QuantizedMipsIndex(dimension, Storage)
        : new FlatMipsIndex(dimension, Storage.ElementType);

    /// <summary>Loads a flat index file: a <see cref="FlatMipsIndex"/> or a <see cref="QuantizedMipsIndex"/>, told apart
    /// by the file's magic.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The loaded index.</returns>
    /// <exception cref="System.IO.InvalidDataException">The file is neither kind of flat index, or is corrupt.</exception>
    public override IMipsIndex Load(string path) => LoadFile(path);

    /// <inheritdoc/>
    public override int Add(IMipsIndex index, ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(index);
        return index is QuantizedMipsIndex quantized ? quantized.Add(vectors, parallelOptions) : index.Add(vectors);
    }

    /// <inheritdoc/>
    public override int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (SearchParallelOptions is { } parallelOptions)
        {
            switch (index)
            {
                case FlatMipsIndex flat:
                    return flat.Search(query, k, results, parallelOptions);
                case QuantizedMipsIndex quantized:
                    return quantized.Search(query, k, results, parallelOptions);
            }
        }

        return index.Search(query, k, results);
    }

    /// <inheritdoc/>
    public override int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results, MipsFilter filter)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(filter);
        ParallelOptions parallelOptions = SearchParallelOptions ?? s_allCores;
        return index switch
        {
            FlatMipsIndex flat => flat.Search(query, k, results, parallelOptions, filter),
            QuantizedMipsIndex quantized => quantized.Search(query, k, results, parallelOptions, filter),
            _ => base.Search(index, query, k, results, filter),
        };
    }

    /// <inheritdoc/>
    public override long? MemoryBytes(IMipsIndex index) => index switch
    {
        FlatMipsIndex flat => flat.MemoryBytes,
        QuantizedMipsIndex quantized => quantized.MemoryBytes,
        _ => null,
    };

    /// <inheritdoc/>
    public override long? BytesPerVector(IMipsIndex index) => index switch
    {
        FlatMipsIndex flat => FdeStorage.FromElementType(flat.ElementType).BytesPerVector(flat.Dimension),
        QuantizedMipsIndex { IsTrained: true } quantized => quantized.Storage.BytesPerVector(quantized.Dimension),
        QuantizedMipsIndex untrained => FdeStorage.Float32.BytesPerVector(untrained.Dimension),
        _ => null,
    };

    /// <summary>An empty index for compaction: a quantized index keeps its trained quantizer, so documents keep their
    /// codes and FDE scores across <see cref="MuveraIndex.Compact"/>.</summary>
    internal override IMipsIndex CreateEmptyLike(IMipsIndex current) =>
        current is QuantizedMipsIndex quantized ? quantized.CreateEmptyLike() : base.CreateEmptyLike(current);

    private static readonly ParallelOptions s_allCores = new();

    /// <summary>The storage a flat index file holds.</summary>
    internal static FdeStorage StorageOf(IMipsIndex index) => index switch
    {
        FlatMipsIndex flat => FdeStorage.FromElementType(flat.ElementType),
        QuantizedMipsIndex quantized => quantized.Storage,
        _ => throw new ArgumentException($"{index.GetType().Name} is not a flat index.", nameof(index)),
    };

    private static IMipsIndex LoadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Span<byte> magic = stackalloc byte[8];
        using (var stream = new System.IO.FileStream(path, System.IO.FileMode.Open, System.IO.FileAccess.Read, System.IO.FileShare.Read, 1))
        {
            if (stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) < magic.Length)
            {
                throw new System.IO.InvalidDataException($"'{path}' is not a flat index: it is shorter than its magic.");
            }
        }

        return magic.SequenceEqual("MVQFDE\0\0"u8) ? QuantizedMipsIndex.Load(path) : FlatMipsIndex.Load(path);
    }

    /// <inheritdoc/>
    internal override bool? StoredMatches(IMipsIndex index, int ordinal, ReadOnlySpan<float> vector) => index switch
    {
        FlatMipsIndex flat => flat.Stores(ordinal, vector),
        QuantizedMipsIndex quantized => quantized.Stores(ordinal, vector),
        _ => null,
    };
}
