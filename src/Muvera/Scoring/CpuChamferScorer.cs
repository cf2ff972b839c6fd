// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Kernels;

namespace Muvera.Scoring;

/// <summary>
/// Exact Chamfer (MaxSim) scoring on the CPU with a fused SIMD kernel (512 → 256 → 128 → scalar): the |Q| × |D|
/// score matrix is never stored; query tokens are tiled in registers against vectors of document tokens, keeping
/// running maxima.
/// </summary>
/// <remarks>
/// <para>Scores are Chamfer(Q, D) = Σ_q max_d ⟨q, d⟩, unnormalised (see <see cref="IChamferScorer"/>).</para>
/// <para>Determinism: a score is bit-identical at every SIMD width and CPU, and batch results do not depend on the
/// thread count. Thread safety: stateless apart from its options; safe for concurrent use.</para>
/// <para>Cost: |Q|·|D|·d multiply-adds per document plus a transpose of the document (|D|·d moves). The single-pair
/// <see cref="Score(ReadOnlyMultiVector, ReadOnlyMultiVector)"/> allocates nothing (pooled scratch).</para>
/// </remarks>
public sealed class CpuChamferScorer : IChamferScorer
{
    private readonly ParallelOptions _parallelOptions;

    /// <summary>A scorer whose batch methods use every core.</summary>
    public CpuChamferScorer()
        : this(new ParallelOptions())
    {
    }

    /// <summary>A scorer whose batch methods use the given thread limit and cancellation token.</summary>
    /// <param name="parallelOptions">Thread limit and cancellation for the batch methods.</param>
    public CpuChamferScorer(ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        _parallelOptions = parallelOptions;
    }

    /// <inheritdoc/>
    public float Score(ReadOnlyMultiVector query, ReadOnlyMultiVector document)
    {
        ValidateQuery(query, nameof(query));
        ValidateDocument(document, query.Dimension, nameof(document));
        return ScoreUnchecked(query, document, SimdDispatch.Preferred);
    }

    /// <inheritdoc/>
    public void Score(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, Span<float> scores)
    {
        ValidateQuery(query, nameof(query));
        ValidateDocuments(documents, query.Dimension);
        if (scores.Length < documents.Count)
        {
            ThrowHelper.ThrowDestinationTooShort(nameof(scores), scores.Length, documents.Count);
        }

        float[] results = ScoreAll(query, documents);
        results.CopyTo(scores);
    }

    /// <inheritdoc/>
    public ScoredId[] TopK(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ValidateQuery(query, nameof(query));
        ValidateDocuments(documents, query.Dimension);
        float[] scores = ScoreAll(query, documents);
        return SelectTop(scores, k);
    }

    /// <summary>Exact search over a whole store: the <paramref name="k"/> documents with the highest Chamfer score,
    /// highest first, ties to the lower id.</summary>
    /// <param name="query">The query's token vectors (at least one), of the store's dimension.</param>
    /// <param name="store">The documents; a result's id is the store id.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <returns>min(k, store.Count) results.</returns>
    /// <remarks>Brute force, parallel over documents; deterministic (the same results at every thread count). Float32
    /// documents score bit-identically to <see cref="TopK(ReadOnlyMultiVector, IReadOnlyList{ReadOnlyMultiVector}, int)"/>
    /// over the same floats; Float16 documents are converted to float while being transposed; int8 and residual
    /// documents are decoded tile by tile and score as Chamfer over their reconstructions. A loaded store's blocks not
    /// verified yet are verified first. Allocates one score per document.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">An empty query, a NaN/∞ value, or a query dimension other than the store's.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    public ScoredId[] TopK(ReadOnlyMultiVector query, MultiVectorStore store, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ValidateStoreQuery(query, store);
        int count = store.Count;
        float[] scores = new float[count];
        SimdWidth width = SimdDispatch.Preferred;
        store.Verify();
        Parallel.For(0, count, _parallelOptions, i => scores[i] = ScoreStored(query, store, i, width, i + 1 < count ? i + 1 : -1));
        return SelectTop(scores, [], k);
    }

    /// <summary>The rerank step over a store: the <paramref name="k"/> best of <paramref name="candidateIds"/> by exact
    /// Chamfer score, highest first, ties to the lower id.</summary>
    /// <param name="query">The query's token vectors (at least one), of the store's dimension.</param>
    /// <param name="store">The documents.</param>
    /// <param name="candidateIds">Store ids to score, in any order; a repeated id is scored once.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <returns>min(k, number of distinct candidates) results carrying store ids.</returns>
    /// <remarks>Parallel over candidates and deterministic; allocates a copy of the ids and one score per candidate.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">An empty query, a NaN/∞ value, or a query dimension other than the store's.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive, or a candidate id is outside
    /// <c>[0, store.Count)</c> (the message names the id and the count).</exception>
    public ScoredId[] Rerank(ReadOnlyMultiVector query, MultiVectorStore store, ReadOnlySpan<int> candidateIds, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ValidateStoreQuery(query, store);
        foreach (int id in candidateIds)
        {
            store.ValidateId(id, nameof(candidateIds));
        }

        // Sorted and distinct: a repeated id cannot appear twice in the results.
        int[] ids = SortedDistinct(candidateIds);
        float[] scores = new float[ids.Length];
        SimdWidth width = SimdDispatch.Preferred;

        // A loaded store's blocks are verified on first use: here, before the parallel loop, so that a corrupt block
        // surfaces as its InvalidDataException (not wrapped in an AggregateException) and nothing is scored from it.
        store.EnsureVerified(ids);
        Parallel.For(0, ids.Length, _parallelOptions, i => scores[i] = ScoreStored(query, store, ids[i], width, i + 1 < ids.Length ? ids[i + 1] : -1));
        return SelectTop(scores, ids, k);
    }

    /// <summary>The candidate ids sorted ascending without repeats (a new array; every scorer's rerank uses it, so a
    /// repeated id is scored once and ties resolve the same way).</summary>
    internal static int[] SortedDistinct(ReadOnlySpan<int> candidateIds)
    {
        int[] ids = candidateIds.ToArray();
        Array.Sort(ids);
        int distinct = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            if (i == 0 || ids[i] != ids[i - 1])
            {
                ids[distinct++] = ids[i];
            }
        }

        return distinct == ids.Length ? ids : ids[..distinct];
    }

    /// <summary>Chamfer(query, store document <paramref name="id"/>) at a chosen width without validation. When
    /// <paramref name="next"/> is a document id (not −1), the CPU is asked to load that document's stored tokens while
    /// this one is scored: a hint that changes no result.</summary>
    /// <remarks>Why the hint: a stored float document is read once, by the transpose, whose 16 × 16 tiles walk 16 rows
    /// at a stride of one token; streamed from memory that pattern waits on each cache line (a store of 8,192
    /// documents of 80 × 128 floats scored about 20% slower than the same documents as a list, whose finiteness check
    /// happens to read each document linearly first). Prefetching the next document during this one's MaxSim hides
    /// the memory reads behind the multiply-adds, so the transpose reads from cache; this document's lines are also
    /// requested in order just before its transpose (nearly free when they are already cached, and a linear stream
    /// instead of the transpose's pattern when they are not: the first document, or lines evicted meanwhile).</remarks>
    internal static float ScoreStored(ReadOnlyMultiVector query, MultiVectorStore store, int id, SimdWidth width, int next = -1)
    {
        int n = store.TokenCountUnchecked(id);
        if (n == 0)
        {
            return float.NegativeInfinity;
        }

        int d = query.Dimension;
        if (store.Storage.IsQuantized)
        {
            return ScoreQuantized(query, store, id, n, width);
        }

        int columns = FdeKernels.PadColumns(n);
        bool half = store.ElementType == StoreElementType.Float16;
        int scratch = half && !ChamferKernels.WidensHalvesInRegisters(width, d) ? n * d : 0;
        float[] transposed = ArrayPool<float>.Shared.Rent((d * columns) + columns + scratch);
        try
        {
            Span<float> documentT = transposed.AsSpan(0, d * columns);
            Span<float> bias = transposed.AsSpan(d * columns, columns);
            ChamferKernels.Prefetch(store.StoredBytes(id));
            if (half)
            {
                ChamferKernels.Transpose(width, store.HalfTokens(id), n, d, transposed.AsSpan((d * columns) + columns, scratch), documentT, columns);
            }
            else
            {
                FdeKernels.Transpose(width, store.FloatTokens(id), n, d, documentT, columns);
            }

            bias[..n].Clear();
            bias[n..].Fill(float.NegativeInfinity);
            ReadOnlySpan<byte> upcoming = next >= 0 ? store.StoredBytes(next) : default;
            return ChamferKernels.MaxSimSum(width, query.Span, query.Count, d, documentT, columns, bias, upcoming);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(transposed);
        }
    }

    /// <summary>Tokens decoded and scored per tile of a quantized document (a multiple of every width's 4-vector
    /// column block).</summary>
    internal const int QuantizedTileTokens = 64;

    // A quantized document is decoded a tile of QuantizedTileTokens tokens at a time into row-major floats, transposed,
    // and scored into running per-query-token maxima (ChamferKernels.MaxSimUpdate): the whole document never exists as
    // floats, and the maxima equal those of scoring the decoded document at once (maxima are exact), so the score is
    // Chamfer over the reconstruction, bit-identical at every SIMD width.
    private static float ScoreQuantized(ReadOnlyMultiVector query, MultiVectorStore store, int id, int n, SimdWidth width)
    {
        int d = query.Dimension;
        int q = query.Count;
        int tile = QuantizedTileTokens;
        float[] buffer = ArrayPool<float>.Shared.Rent((tile * d) + (d * tile) + tile + q);
        try
        {
            Span<float> rows = buffer.AsSpan(0, tile * d);
            Span<float> transposed = buffer.AsSpan(tile * d, d * tile);
            Span<float> bias = buffer.AsSpan(2 * tile * d, tile);
            Span<float> maxima = buffer.AsSpan((2 * tile * d) + tile, q);
            maxima.Fill(float.NegativeInfinity);
            for (int start = 0; start < n; start += tile)
            {
                int count = Math.Min(tile, n - start);
                int columns = FdeKernels.PadColumns(count);
                store.DecodeTokens(id, start, count, rows, width);
                FdeKernels.Transpose(width, rows[..(count * d)], count, d, transposed[..(d * columns)], columns);
                bias[..count].Clear();
                bias[count..columns].Fill(float.NegativeInfinity);
                ChamferKernels.MaxSimUpdate(width, query.Span, q, d, transposed[..(d * columns)], columns, bias[..columns], maxima);
            }

            float total = 0f;
            foreach (float maximum in maxima)
            {
                total += maximum;
            }

            return total;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>The top <paramref name="k"/> of <paramref name="scores"/> (index = id): higher first, ties to the lower id.</summary>
    internal static ScoredId[] SelectTop(ReadOnlySpan<float> scores, int k) => SelectTop(scores, [], k);

    /// <summary>The top <paramref name="k"/> of <paramref name="scores"/> where score i belongs to id
    /// <paramref name="ids"/>[i] (or to id i when <paramref name="ids"/> is empty): higher first, ties to the lower id.</summary>
    internal static ScoredId[] SelectTop(ReadOnlySpan<float> scores, ReadOnlySpan<int> ids, int k)
    {
        Debug.Assert(ids.IsEmpty || ids.Length == scores.Length);
        int count = Math.Min(k, scores.Length);
        var heap = new PriorityQueue<int, ScoredId>(count + 1, WorstFirst.Instance);
        for (int i = 0; i < scores.Length; i++)
        {
            var candidate = new ScoredId(ids.IsEmpty ? i : ids[i], scores[i]);
            if (heap.Count < count)
            {
                heap.Enqueue(i, candidate);
            }
            else if (count > 0 && heap.TryPeek(out _, out ScoredId worst) && candidate < worst)
            {
                heap.EnqueueDequeue(i, candidate);
            }
        }

        var result = new ScoredId[heap.Count];
        for (int i = result.Length - 1; i >= 0; i--)
        {
            heap.TryDequeue(out _, out result[i]);
        }

        return result;
    }

    /// <summary>Scores one pair at a chosen width without validation (tests call every width).</summary>
    internal static float ScoreUnchecked(ReadOnlyMultiVector query, ReadOnlyMultiVector document, SimdWidth width)
    {
        int n = document.Count;
        if (n == 0)
        {
            return float.NegativeInfinity;
        }

        int d = query.Dimension;
        int columns = FdeKernels.PadColumns(n);
        float[] transposed = ArrayPool<float>.Shared.Rent((d * columns) + columns);
        try
        {
            Span<float> documentT = transposed.AsSpan(0, d * columns);
            Span<float> bias = transposed.AsSpan(d * columns, columns);
            FdeKernels.Transpose(width, document.Span, n, d, documentT, columns);
            bias[..n].Clear();
            bias[n..].Fill(float.NegativeInfinity);
            return ChamferKernels.MaxSimSum(width, query.Span, query.Count, d, documentT, columns, bias);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(transposed);
        }
    }

    // Each document is checked for NaN/∞ as it is scored (while it is being read anyway), not in a separate pass over
    // all documents; the lowest bad document is reported after the loop.
    private float[] ScoreAll(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents)
    {
        float[] scores = new float[documents.Count];
        SimdWidth width = SimdDispatch.Preferred;
        int firstBad = int.MaxValue;
        Parallel.For(0, documents.Count, _parallelOptions, i =>
        {
            ReadOnlyMultiVector document = documents[i];
            if (FdeKernels.HasNonFinite(width, document.Span))
            {
                int seen = Volatile.Read(ref firstBad);
                while (i < seen && Interlocked.CompareExchange(ref firstBad, i, seen) != seen)
                {
                    seen = Volatile.Read(ref firstBad);
                }

                return;
            }

            scores[i] = ScoreUnchecked(query, document, width);
        });

        if (firstBad != int.MaxValue)
        {
            ThrowHelper.ThrowNonFinite($"documents[{firstBad}]", documents[firstBad].Span, query.Dimension);
        }

        return scores;
    }

    private static void ValidateQuery(ReadOnlyMultiVector query, string paramName)
    {
        if (query.Count == 0)
        {
            ThrowHelper.ThrowArgument($"{paramName} has no tokens; Chamfer similarity needs at least one query token.", paramName);
        }

        if (FdeKernels.HasNonFinite(SimdDispatch.Preferred, query.Span))
        {
            ThrowHelper.ThrowNonFinite(paramName, query.Span, query.Dimension);
        }
    }

    private static void ValidateDocument(ReadOnlyMultiVector document, int dimension, string paramName)
    {
        if (document.Dimension != dimension && !(document.Dimension == 0 && document.Values.IsEmpty))
        {
            ThrowHelper.ThrowArgument($"{paramName} has token dimension {document.Dimension}, but the query's dimension is {dimension}.", paramName);
        }

        if (FdeKernels.HasNonFinite(SimdDispatch.Preferred, document.Span))
        {
            ThrowHelper.ThrowNonFinite(paramName, document.Span, dimension);
        }
    }

    // Shapes only: the values are checked as each document is scored (see ScoreAll).
    private static void ValidateDocuments(IReadOnlyList<ReadOnlyMultiVector> documents, int dimension)
    {
        ArgumentNullException.ThrowIfNull(documents);
        for (int i = 0; i < documents.Count; i++)
        {
            ReadOnlyMultiVector document = documents[i];
            if (document.Dimension != dimension && !(document.Dimension == 0 && document.Values.IsEmpty))
            {
                ThrowHelper.ThrowArgument($"documents[{i}] has token dimension {document.Dimension}, but the query's dimension is {dimension}.", nameof(documents));
            }
        }
    }

    private static void ValidateStoreQuery(ReadOnlyMultiVector query, MultiVectorStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        ValidateQuery(query, nameof(query));
        if (query.Dimension != store.Dimension)
        {
            ThrowHelper.ThrowArgument($"query has token dimension {query.Dimension}, but the store's dimension is {store.Dimension}.", nameof(query));
        }

        store.ThrowIfDisposed();
    }

    // Orders the bounded heap so that its root is the worst kept result.
    private sealed class WorstFirst : IComparer<ScoredId>
    {
        public static readonly WorstFirst Instance = new();

        public int Compare(ScoredId x, ScoredId y) => y.CompareTo(x);
    }
}
