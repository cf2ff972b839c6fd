// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Globalization;
using System.Threading.Tasks;

namespace Muvera.Indexing;

/// <summary>
/// The inverted-file backend (<see cref="IvfMipsIndex"/>): quantized FDEs in k-means lists, a search scanning the
/// <see cref="Probes"/> lists nearest the query. For large collections (hundreds of thousands of documents and more),
/// where scanning every FDE costs more than reranking; <see cref="MuveraIndex.Calibrate(System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector}, int, double)"/>
/// chooses the probes and candidates together for a recall target, and <see cref="MuveraSearchOptions.Probes"/> sets them per search.
/// </summary>
public sealed class IvfMipsBackend : MipsBackend
{
    /// <summary>The default list count: 256.</summary>
    public const int DefaultLists = 256;

    /// <summary>The default probes: 16 lists (1/16 of the default lists).</summary>
    public const int DefaultProbes = 16;

    private readonly int _probes = DefaultProbes;

    /// <summary>An IVF backend with <see cref="DefaultStorage"/> and <see cref="DefaultLists"/> lists.</summary>
    public IvfMipsBackend()
        : this(DefaultStorage)
    {
    }

    /// <summary>An IVF backend.</summary>
    /// <param name="storage">A quantized FDE storage (product quantization or int8).</param>
    /// <param name="lists">The list count (1 … <see cref="IvfMipsIndex.MaxLists"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="storage"/> is not quantized.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lists"/> is out of range.</exception>
    public IvfMipsBackend(FdeStorage storage, int lists = DefaultLists)
    {
        ArgumentNullException.ThrowIfNull(storage);
        if (!storage.IsQuantized)
        {
            ThrowHelper.ThrowArgument($"storage {storage} is not quantized; the IVF backend stores product-quantized or int8 codes (pq:…, int8).", nameof(storage));
        }

        IvfMipsIndex.ValidateLists(lists);
        Storage = storage;
        Lists = lists;
    }

    /// <summary>The IVF backend's default FDE storage: 4-bit product quantization over sub-spaces of 16 floats for the
    /// scan, refined by 4-bit codes over sub-spaces of 8 floats for 4 candidates per result (<c>pq:4,16+4,8x4</c>;
    /// 3,840 bytes per default 40,960-float FDE: a million documents' FDEs in 3.8 GB).</summary>
    public static FdeStorage DefaultStorage { get; } = FdeStorage.ProductQuantization(4, 16).WithRefinement(4, 8, 4);

    /// <summary>How FDEs are stored.</summary>
    public FdeStorage Storage { get; }

    /// <summary>The list count of new indexes (a loaded index keeps its own).</summary>
    public int Lists { get; }

    /// <summary>Lists scanned per search when neither the search options nor a calibration say (positive).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int Probes
    {
        get => _probes;
        init
        {
            if (value <= 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(Probes), value, $"Probes must be positive; got {value}.");
            }

            _probes = value;
        }
    }

    /// <inheritdoc/>
    public override string Kind => "ivf";

    /// <inheritdoc/>
    public override string Description => string.Create(CultureInfo.InvariantCulture, $"{Lists} lists, {Probes} probes, {Storage}");

    /// <inheritdoc/>
    public override IMipsIndex Create(int dimension) => new IvfMipsIndex(dimension, Storage, Lists) { Probes = Probes };

    /// <inheritdoc/>
    public override IMipsIndex Load(string path)
    {
        IvfMipsIndex index = IvfMipsIndex.Load(path);
        index.Probes = Probes;
        return index;
    }

    /// <inheritdoc/>
    public override int Add(IMipsIndex index, ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(index);
        return index is IvfMipsIndex ivf ? ivf.Add(vectors, parallelOptions) : index.Add(vectors);
    }

    /// <inheritdoc/>
    public override int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results, MipsFilter filter)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(filter);
        return index is IvfMipsIndex ivf ? ivf.Search(query, k, results, ivf.Probes, filter) : base.Search(index, query, k, results, filter);
    }

    /// <inheritdoc/>
    public override long? MemoryBytes(IMipsIndex index) => (index as IvfMipsIndex)?.MemoryBytes;

    /// <inheritdoc/>
    public override long? BytesPerVector(IMipsIndex index) => index is IvfMipsIndex ivf
        ? (ivf.IsTrained ? ivf.Storage.BytesPerVector(ivf.Dimension) : FdeStorage.Float32.BytesPerVector(ivf.Dimension)) + sizeof(int)
        : null;

    internal override int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results, int? probes, MipsFilter? filter)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (index is IvfMipsIndex ivf)
        {
            return ivf.Search(query, k, results, probes ?? ivf.Probes, filter);
        }

        return base.Search(index, query, k, results, probes, filter);
    }

    internal override IMipsIndex CreateEmptyLike(IMipsIndex current) =>
        current is IvfMipsIndex ivf ? ivf.CreateEmptyLike() : base.CreateEmptyLike(current);

    internal override bool? StoredMatches(IMipsIndex index, int ordinal, ReadOnlySpan<float> vector) =>
        (index as IvfMipsIndex)?.Stores(ordinal, vector);
}
