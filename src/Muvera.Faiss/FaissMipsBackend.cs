// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading.Tasks;
using Muvera.Indexing;

namespace Muvera.Faiss;

/// <summary>The FAISS backend of a <see cref="MuveraIndex"/>: any inner-product <c>index_factory</c> string
/// (<c>Flat</c>, <c>HNSW32</c>, <c>IVF1024,PQ1280x8</c>, …).</summary>
/// <remarks>Indexes that need training (IVF, PQ) train on the first documents added: the first
/// <see cref="MuveraIndex.AddRange(System.Collections.Generic.IReadOnlyList{string}, System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector})"/>
/// batch must hold enough of them (FAISS needs at least as many as the coarse centroids, and 256 per PQ code book),
/// up to <see cref="TrainingSampleSize"/> of which are used.</remarks>
public sealed class FaissMipsBackend : MipsBackend
{
    /// <summary>The default <see cref="TrainingSampleSize"/>.</summary>
    public const int DefaultTrainingSampleSize = 65_536;

    private readonly int _trainingSampleSize = DefaultTrainingSampleSize;

    /// <summary>A backend for loading saved FAISS indexes (the factory string is read from the file; new indexes get
    /// <c>Flat</c>).</summary>
    public FaissMipsBackend()
        : this("Flat")
    {
    }

    /// <summary>A backend that builds indexes from <paramref name="factory"/>.</summary>
    /// <param name="factory">A FAISS factory string (see <see cref="FaissMipsIndex.Create"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="factory"/> is null or empty.</exception>
    public FaissMipsBackend(string factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(factory);
        Factory = factory;
    }

    /// <summary>The factory string new indexes are built from.</summary>
    public string Factory { get; }

    /// <summary>Per-search parameters (nprobe, efSearch); null uses each index's defaults.</summary>
    public FaissSearchParameters? SearchParameters { get; init; }

    /// <summary>At most this many vectors of the first batch train an index that needs training (default
    /// <see cref="DefaultTrainingSampleSize"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int TrainingSampleSize
    {
        get => _trainingSampleSize;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(TrainingSampleSize));
            _trainingSampleSize = value;
        }
    }

    /// <inheritdoc/>
    public override string Kind => "faiss";

    /// <inheritdoc/>
    public override string Description => SearchParameters is { } p ? $"{Factory} (nprobe {p.Nprobe}, efSearch {p.EfSearch})" : Factory;

    /// <inheritdoc/>
    public override IMipsIndex Create(int dimension) => FaissMipsIndex.Create(dimension, Factory);

    /// <inheritdoc/>
    public override IMipsIndex Load(string path) => FaissMipsIndex.Load(path);

    /// <inheritdoc/>
    public override int Add(IMipsIndex index, ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(parallelOptions);
        if (index is not FaissMipsIndex faiss)
        {
            return index.Add(vectors);
        }

        if (!faiss.IsTrained)
        {
            int rows = vectors.Length / faiss.Dimension;
            faiss.Train(vectors[..(Math.Min(rows, TrainingSampleSize) * faiss.Dimension)], parallelOptions);
        }

        return faiss.Add(vectors, parallelOptions);
    }

    /// <inheritdoc/>
    public override int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results)
    {
        ArgumentNullException.ThrowIfNull(index);
        return index is FaissMipsIndex faiss && SearchParameters is { } parameters
            ? faiss.Search(query, k, results, parameters)
            : index.Search(query, k, results);
    }
}
