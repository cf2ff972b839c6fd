// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Faiss;

/// <summary>
/// Search-time settings of a <see cref="FaissMipsIndex"/>, for one call or as the index's defaults
/// (<see cref="FaissMipsIndex.DefaultSearchParameters"/>). A <see langword="null"/> property means "the index's
/// default".
/// </summary>
/// <remarks>Each value applies to one kind of index, and a search refuses a value its index does not use (an
/// <see cref="ArgumentException"/>), so that a setting never silently does nothing. Per-call values are passed to
/// FAISS as <c>faiss::SearchParametersIVF</c> / <c>SearchParametersHNSW</c>: they are never written into the index,
/// so concurrent searches with different values do not interfere.</remarks>
public sealed record FaissSearchParameters
{
    private readonly int? _nprobe;
    private readonly int? _efSearch;

    /// <summary>IVF indexes only: how many inverted lists (nearest coarse centroids) a query scans. More lists find
    /// more true neighbours and cost proportionally more; a value above the list count scans every list. FAISS's
    /// default is 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public int? Nprobe
    {
        get => _nprobe;
        init
        {
            if (value is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(Nprobe), value, $"Nprobe must be positive, but is {value}.");
            }

            _nprobe = value;
        }
    }

    /// <summary>HNSW indexes only: the size of the candidate list a query keeps while walking the graph (FAISS uses
    /// at least k). Larger values find more true neighbours and cost more. FAISS's default is 16.</summary>
    /// <remarks>FAISS 1.7.3 (Debian 12) sizes the candidate queue from the index's efSearch rather than the per-call
    /// one (fixed in FAISS 1.8); the native shim works around it by fetching max(k, EfSearch) results, so a larger
    /// per-call value behaves as in FAISS 1.8. A per-call value below the index's default keeps the default's longer
    /// queue: results at least as good, at the default's cost.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public int? EfSearch
    {
        get => _efSearch;
        init
        {
            if (value is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(EfSearch), value, $"EfSearch must be positive, but is {value}.");
            }

            _efSearch = value;
        }
    }

    /// <summary>Batch searches only: search the whole batch with FAISS's own batch path (one FAISS search call, with
    /// FAISS's parallelism and, for flat and IVF coarse search from 20 queries on, BLAS matrix products) instead of
    /// one FAISS search per query. Faster for large batches; a query's scores may then differ in the last bits from
    /// its single-query search, so the results can depend on the batch. HNSW indexes always search per query. Default
    /// false.</summary>
    public bool UseFaissBatchPath { get; init; }
}
