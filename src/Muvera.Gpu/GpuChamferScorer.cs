// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Muvera.Scoring;

namespace Muvera.Gpu;

/// <summary>
/// Exact Chamfer (MaxSim) scoring on an NVIDIA GPU with ILGPU kernels: the rerank step (a query against candidate
/// documents of a <see cref="MultiVectorStore"/>, or a batch of queries each against its own candidates) and
/// brute-force exact search over a whole store.
/// </summary>
/// <remarks>
/// <para>Scores are Chamfer(Q, D) = Σ_q max_d ⟨q, d⟩, unnormalised (see <see cref="IChamferScorer"/>); higher is
/// better, an empty document scores −∞, ties go to the lower id. Results equal <see cref="CpuChamferScorer"/>'s within
/// 1e-4 relative to the score's magnitude (Σ_q max_d Σ_k |q_k·d_k|): the kernel sums in another order and fuses
/// multiply-adds. On one device and group configuration a score is deterministic.</para>
/// <para>Device memory: a store's tokens (as stored, Float32 or Float16) and token offsets are uploaded on first use
/// and kept resident, keyed by the store instance, until <see cref="Release"/> or <see cref="Dispose"/>; the scorer
/// therefore holds a reference to every store it has scored. A store that grew since (stores are append-only) gets
/// only its new documents uploaded when they fit the spare capacity, else it is uploaded again with 25 % headroom.
/// Queries, candidate ids and per-call score buffers are uploaded per call into buffers that grow and are reused. An
/// allocation that does not fit the free device memory is refused up front with an
/// <see cref="InvalidOperationException"/> naming the bytes needed and available.</para>
/// <para>Thread safety: every public member may be called concurrently; device work (uploads, launches, reading the
/// scores back and the streaming top-k selection of brute force) is serialised on one stream under one lock;
/// validation, deduplication of candidate ids and the rerank selection run outside it.</para>
/// <para>Create instances with <see cref="Create"/> or <see cref="TryCreate"/>; <see cref="IsSupported"/> says whether
/// a CUDA device exists. Nothing throws from the static probe or from <see cref="Dispose"/>.</para>
/// </remarks>
public sealed class GpuChamferScorer : IChamferScorer, IDisposable
{
    private const int PreferredGroupSize = 256;
    private const int MaxGroups = 1 << 16;

    private static readonly Lazy<bool> s_isSupported = new(ProbeCuda);

    private readonly object _sync = new();
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly DeviceMemory _memory;
    private readonly Dictionary<MultiVectorStore, ResidentStore> _stores = new(ReferenceEqualityComparer.Instance);
    private readonly int _groupSize;
    private readonly int _sharedFloats;
    private Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, ChamferLaunch>? _floatKernel;
    private Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<long>, ArrayView<ILGPU.Half>, ArrayView<float>, ChamferLaunch>? _halfKernel;
    private MemoryBuffer1D<float, Stride1D.Dense>? _queries;
    private MemoryBuffer1D<int, Stride1D.Dense>? _queryStarts;
    private MemoryBuffer1D<int, Stride1D.Dense>? _itemQueries;
    private MemoryBuffer1D<int, Stride1D.Dense>? _itemDocuments;
    private MemoryBuffer1D<float, Stride1D.Dense>? _scores;
    private MemoryBuffer1D<float, Stride1D.Dense>? _listTokens;
    private MemoryBuffer1D<long, Stride1D.Dense>? _listStarts;
    private bool _disposed;

    private GpuChamferScorer(Context context, Accelerator accelerator, long memoryLimit, string deviceName)
    {
        _context = context;
        _accelerator = accelerator;
        _memory = new DeviceMemory(accelerator, memoryLimit);
        DeviceName = deviceName;
        DeviceMemorySize = memoryLimit;

        int warpSize = accelerator.WarpSize;
        int groupSize = Math.Min(PreferredGroupSize, accelerator.MaxNumThreadsPerGroup) / warpSize * warpSize;
        Debug.Assert(groupSize >= warpSize);
        _groupSize = groupSize;
        _sharedFloats = ChamferKernels.SharedFloats(groupSize, warpSize);
        if ((long)_sharedFloats * sizeof(float) > accelerator.MaxSharedMemoryPerGroup)
        {
            throw new NotSupportedException(
                $"{deviceName} offers {accelerator.MaxSharedMemoryPerGroup} bytes of shared memory per group; the Chamfer kernel needs {_sharedFloats * sizeof(float)}.");
        }

        WarpSize = warpSize;
    }

    /// <summary>Whether a CUDA device (an NVIDIA GPU with a working driver) is present. Probed once; never throws.</summary>
    public static bool IsSupported => s_isSupported.Value;

    /// <summary>The device's name, e.g. "NVIDIA H100 80GB HBM3", for logs.</summary>
    public string DeviceName { get; }

    /// <summary>The device's total memory in bytes.</summary>
    public long DeviceMemorySize { get; }

    /// <summary>Device memory in bytes that this scorer holds now: resident stores plus its reusable per-call
    /// buffers.</summary>
    public long AllocatedBytes
    {
        get
        {
            lock (_sync)
            {
                return _memory.Allocated;
            }
        }
    }

    /// <summary>Device memory in bytes that this scorer could still allocate now (the driver's free memory).</summary>
    /// <exception cref="ObjectDisposedException">The scorer has been disposed.</exception>
    public long AvailableMemory
    {
        get
        {
            lock (_sync)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                Bind();
                return _memory.Available;
            }
        }
    }

    /// <summary>Threads per warp of the device (32 on NVIDIA GPUs).</summary>
    internal int WarpSize { get; }

    /// <summary>Threads per group of each launch.</summary>
    internal int GroupSize => _groupSize;

    /// <summary>The device memory this scorer may use at most (tests lower it to exercise the refusal).</summary>
    internal long MemoryLimit
    {
        get => _memory.Limit;
        set
        {
            lock (_sync)
            {
                _memory.Limit = value;
            }
        }
    }

    /// <summary>Work items (scores) per kernel launch at most; larger jobs are split (tests lower it).</summary>
    internal int MaxItemsPerLaunch { get; set; } = 1 << 22;

    /// <summary>A scorer on the first CUDA device.</summary>
    /// <returns>The scorer; dispose it to free the device memory it holds.</returns>
    /// <exception cref="NotSupportedException">No CUDA device is present (check <see cref="IsSupported"/>, or use
    /// <see cref="TryCreate"/>), or the device cannot run the kernel.</exception>
    public static GpuChamferScorer Create()
    {
        if (!IsSupported)
        {
            throw new NotSupportedException(
                "No CUDA device found: GpuChamferScorer needs an NVIDIA GPU with a CUDA driver (libcuda). " +
                "Check GpuChamferScorer.IsSupported or call TryCreate, and fall back to CpuChamferScorer.");
        }

        Context context = Context.Create(builder => builder.Cuda());
        try
        {
            Context.DeviceCollection<CudaDevice> devices = context.GetCudaDevices();
            if (devices.Count == 0)
            {
                throw new NotSupportedException("No CUDA device found: the CUDA driver loaded but reports no device.");
            }

            CudaAccelerator accelerator = devices[0].CreateCudaAccelerator(context);
            try
            {
                return new GpuChamferScorer(context, accelerator, accelerator.MemorySize, accelerator.Name);
            }
            catch
            {
                accelerator.Dispose();
                throw;
            }
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>A scorer on the first CUDA device, if there is one that works.</summary>
    /// <param name="scorer">The scorer, or null.</param>
    /// <returns>Whether a scorer was created.</returns>
    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "A failed probe means 'no GPU', whatever the driver threw.")]
    public static bool TryCreate([NotNullWhen(true)] out GpuChamferScorer? scorer)
    {
        scorer = null;
        if (!IsSupported)
        {
            return false;
        }

        try
        {
            scorer = Create();
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>A scorer on ILGPU's CPU accelerator, which runs the same kernel with simulated warps and groups: for
    /// tests and smoke runs without a GPU, not for speed.</summary>
    /// <param name="warpSize">Simulated threads per warp.</param>
    /// <param name="warpsPerGroup">Simulated warps per group.</param>
    /// <param name="memoryLimit">The simulated device memory in bytes.</param>
    internal static GpuChamferScorer CreateCpuAccelerator(int warpSize, int warpsPerGroup, long memoryLimit)
    {
        var device = new CPUDevice(warpSize, warpsPerGroup, 1);
        Context context = Context.Create(builder => builder.CPU(device).Assertions());
        try
        {
            CPUAccelerator accelerator = device.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
            try
            {
                string name = string.Create(CultureInfo.InvariantCulture, $"ILGPU CPU accelerator (warp {warpSize}, {warpsPerGroup} warps per group)");
                return new GpuChamferScorer(context, accelerator, memoryLimit, name);
            }
            catch
            {
                accelerator.Dispose();
                throw;
            }
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    /// <remarks>One launch with one work item; for many documents use the list or store overloads.</remarks>
    public float Score(ReadOnlyMultiVector query, ReadOnlyMultiVector document)
    {
        ThrowHelper.ValidateQuery(query, nameof(query), nameof(query));
        ThrowHelper.ValidateDocument(document, query.Dimension, nameof(document));
        if (document.Count == 0)
        {
            return float.NegativeInfinity;
        }

        float[] scores = ScoreList(query, [document], nameof(document));
        return scores[0];
    }

    /// <inheritdoc/>
    /// <remarks>The documents are packed and uploaded for this call (not kept); store them in a
    /// <see cref="MultiVectorStore"/> to keep them on the device across calls.</remarks>
    public void Score(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, Span<float> scores)
    {
        ThrowHelper.ValidateQuery(query, nameof(query), nameof(query));
        ThrowHelper.ValidateDocumentShapes(documents, query.Dimension, nameof(documents));
        if (scores.Length < documents.Count)
        {
            ThrowHelper.ThrowDestinationTooShort(nameof(scores), scores.Length, documents.Count);
        }

        ScoreList(query, documents, nameof(documents)).CopyTo(scores);
    }

    /// <inheritdoc/>
    /// <remarks>The documents are packed and uploaded for this call (not kept).</remarks>
    public ScoredId[] TopK(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ThrowHelper.ValidateQuery(query, nameof(query), nameof(query));
        ThrowHelper.ValidateDocumentShapes(documents, query.Dimension, nameof(documents));
        float[] scores = ScoreList(query, documents, nameof(documents));
        var top = new TopKCollector(k, scores.Length);
        for (int i = 0; i < scores.Length; i++)
        {
            top.Offer(i, scores[i]);
        }

        return top.Drain();
    }

    /// <summary>Exact search over a whole store on the GPU: the <paramref name="k"/> documents with the highest Chamfer
    /// score, highest first, ties to the lower id.</summary>
    /// <param name="query">The query's token vectors (at least one), of the store's dimension.</param>
    /// <param name="store">The documents; a result's id is the store id. Uploaded on first use and kept resident.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <returns>min(k, store.Count) results.</returns>
    /// <remarks>Brute force: one work item per document, no id list. Scores come back in chunks of a few million and
    /// the top k is kept on the host (O(k) memory).</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">An empty query, a NaN/∞ value, or a query dimension other than the store's.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="InvalidOperationException">The store does not fit the free device memory.</exception>
    public ScoredId[] TopK(ReadOnlyMultiVector query, MultiVectorStore store, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ArgumentNullException.ThrowIfNull(store);
        ValidateStoreQueries([query], store, batchName: null);
        return TopKCore([query], store, k)[0];
    }

    /// <summary>Exact search over a whole store for several queries in one pass: result i belongs to
    /// <paramref name="queries"/>[i].</summary>
    /// <param name="queries">The queries (each with at least one token, of the store's dimension).</param>
    /// <param name="store">The documents; uploaded on first use and kept resident.</param>
    /// <param name="k">How many results per query at most (positive).</param>
    /// <returns>One array of min(k, store.Count) results per query, highest score first, ties to the lower id.</returns>
    /// <remarks>Every (query, document) pair is one work item; launches hold a few million pairs each.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="queries"/> or <paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">A query is empty, holds a NaN/∞ value or has another dimension than the
    /// store; the message names the query.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="InvalidOperationException">The store does not fit the free device memory.</exception>
    public ScoredId[][] TopKBatch(IReadOnlyList<ReadOnlyMultiVector> queries, MultiVectorStore store, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(store);
        ValidateStoreQueries(queries, store, nameof(queries));
        return TopKCore(queries, store, k);
    }

    /// <summary>The rerank step over a store on the GPU: the <paramref name="k"/> best of
    /// <paramref name="candidateIds"/> by exact Chamfer score, highest first, ties to the lower id.</summary>
    /// <param name="query">The query's token vectors (at least one), of the store's dimension.</param>
    /// <param name="store">The documents; uploaded on first use and kept resident.</param>
    /// <param name="candidateIds">Store ids to score, in any order; a repeated id is scored once.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <returns>min(k, number of distinct candidates) results carrying store ids.</returns>
    /// <remarks>The distinct ids are uploaded per call (4 bytes each); one thread group per candidate.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">An empty query, a NaN/∞ value, or a query dimension other than the store's.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive, or a candidate id is outside
    /// <c>[0, store.Count)</c> (the message names the id and the count).</exception>
    /// <exception cref="InvalidOperationException">The store does not fit the free device memory.</exception>
    public ScoredId[] Rerank(ReadOnlyMultiVector query, MultiVectorStore store, ReadOnlySpan<int> candidateIds, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ThrowHelper.ValidateStoreQuery(query, store, nameof(query), nameof(query));
        foreach (int id in candidateIds)
        {
            store.ValidateId(id, nameof(candidateIds));
        }

        int[] ids = CpuChamferScorer.SortedDistinct(candidateIds);
        return RerankCore([query], store, [ids], k)[0];
    }

    /// <summary>The rerank step for a batch of queries in one launch: query i against its own candidates
    /// <paramref name="candidateIds"/>[i].</summary>
    /// <param name="queries">The queries (each with at least one token, of the store's dimension).</param>
    /// <param name="store">The documents; uploaded on first use and kept resident.</param>
    /// <param name="candidateIds">One list of store ids per query, in any order; a repeated id is scored once per
    /// list; a list may be empty.</param>
    /// <param name="k">How many results per query at most (positive).</param>
    /// <returns>One array per query of min(k, number of distinct candidates) results, highest score first, ties to the
    /// lower id.</returns>
    /// <remarks>All (query, candidate) pairs of the batch are one launch (or a few, beyond a few million pairs), which
    /// is what keeps a large GPU busy; one query with a few hundred candidates cannot.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="queries"/>, <paramref name="store"/> or
    /// <paramref name="candidateIds"/> is null.</exception>
    /// <exception cref="ArgumentException">The list counts differ, a list is null, or a query is empty, holds a NaN/∞
    /// value or has another dimension than the store; the message names the query or list.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive, or a candidate id is outside
    /// <c>[0, store.Count)</c> (the message names the id and the count).</exception>
    /// <exception cref="InvalidOperationException">The store does not fit the free device memory.</exception>
    public ScoredId[][] RerankBatch(IReadOnlyList<ReadOnlyMultiVector> queries, MultiVectorStore store, IReadOnlyList<int[]> candidateIds, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(candidateIds);
        if (candidateIds.Count != queries.Count)
        {
            ThrowHelper.ThrowArgument($"candidateIds has {candidateIds.Count} lists, but there are {queries.Count} queries.", nameof(candidateIds));
        }

        ValidateStoreQueries(queries, store, nameof(queries));
        int[][] distinct = new int[queries.Count][];
        for (int q = 0; q < queries.Count; q++)
        {
            int[]? list = candidateIds[q];
            if (list is null)
            {
                ThrowHelper.ThrowArgument($"candidateIds[{q}] is null.", nameof(candidateIds));
            }

            foreach (int id in list)
            {
                store.ValidateId(id, nameof(candidateIds));
            }

            distinct[q] = CpuChamferScorer.SortedDistinct(list);
        }

        return RerankCore(queries, store, distinct, k);
    }

    /// <summary>Uploads <paramref name="store"/> now (or its new documents, if it grew since), instead of on the first
    /// search; later searches then measure scoring alone.</summary>
    /// <param name="store">The store to make resident.</param>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The store does not fit the free device memory (the message names the
    /// bytes needed and available).</exception>
    public void Upload(MultiVectorStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        store.ThrowIfDisposed();
        ThrowHelper.ThrowIfQuantized(store);
        lock (_sync)
        {
            BeginStoreCall(store);
        }
    }

    /// <summary>Frees the device copy of <paramref name="store"/> and drops the scorer's reference to it.</summary>
    /// <param name="store">A store this scorer has scored.</param>
    /// <returns>Whether the store was resident.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    public bool Release(MultiVectorStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        lock (_sync)
        {
            if (_disposed || !_stores.Remove(store, out ResidentStore? resident))
            {
                return false;
            }

            Bind();
            resident.Dispose();
            return true;
        }
    }

    /// <summary>Frees every device buffer, the accelerator and the ILGPU context. Idempotent; never throws.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Bind();
            foreach (ResidentStore resident in _stores.Values)
            {
                resident.Dispose();
            }

            _stores.Clear();
            _memory.Free(ref _queries);
            _memory.Free(ref _queryStarts);
            _memory.Free(ref _itemQueries);
            _memory.Free(ref _itemDocuments);
            _memory.Free(ref _scores);
            _memory.Free(ref _listTokens);
            _memory.Free(ref _listStarts);
            _accelerator.Dispose();
            _context.Dispose();
        }
    }

    /// <summary>The device, its memory and what this scorer holds, for logs.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{DeviceName} ({DeviceMemorySize / (1024.0 * 1024 * 1024):F1} GiB, warp {WarpSize}, group {_groupSize}; holding {_memory.Allocated} bytes)");

    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "A probe must not throw: any driver failure means 'no GPU'.")]
    private static bool ProbeCuda()
    {
        try
        {
            CudaDriver.RegisterResolver();
            using Context context = Context.Create(builder => builder.Cuda());
            return context.GetCudaDevices().Count > 0;
        }
        catch (Exception)
        {
            return false;
        }
    }

    private static void ValidateStoreQueries(IReadOnlyList<ReadOnlyMultiVector> queries, MultiVectorStore store, string? batchName)
    {
        ArgumentNullException.ThrowIfNull(store);
        ThrowHelper.ThrowIfQuantized(store);
        for (int q = 0; q < queries.Count; q++)
        {
            string subject = batchName is null ? "query" : $"{batchName}[{q}]";
            ThrowHelper.ValidateStoreQuery(queries[q], store, subject, batchName ?? "query");
        }

        store.ThrowIfDisposed();
    }

    private ScoredId[][] TopKCore(IReadOnlyList<ReadOnlyMultiVector> queries, MultiVectorStore store, int k)
    {
        int count = store.Count;
        var top = new TopKCollector[queries.Count];
        for (int q = 0; q < top.Length; q++)
        {
            top[q] = new TopKCollector(k, count);
        }

        if (count > 0 && queries.Count > 0)
        {
            long total = (long)queries.Count * count;
            lock (_sync)
            {
                ResidentStore resident = BeginStoreCall(store);
                UploadQueries(queries);
                int chunk = MaxItemsPerLaunch;
                float[] scores = new float[(int)Math.Min(chunk, total)];
                for (long offset = 0; offset < total; offset += chunk)
                {
                    int items = (int)Math.Min(chunk, total - offset);
                    ArrayView<float> output = _memory.Ensure(ref _scores, items, "the scores of one launch");
                    ArrayView<int> none = _memory.Ensure(ref _itemQueries, 1, "the work-item list");
                    Launch(resident.IsHalf, resident.Starts, resident.IsHalf ? default : resident.Floats, resident.IsHalf ? resident.Halves : default, none, none, output,
                        new ChamferLaunch(store.Dimension, items, count, offset));
                    output.SubView(0, items).CopyToCPU(scores.AsSpan(0, items));
                    for (int i = 0; i < items; i++)
                    {
                        long global = offset + i;
                        int q = (int)(global / count);
                        top[q].Offer((int)(global - ((long)q * count)), scores[i]);
                    }
                }
            }
        }

        var results = new ScoredId[top.Length][];
        for (int q = 0; q < top.Length; q++)
        {
            results[q] = top[q].Drain();
        }

        return results;
    }

    private ScoredId[][] RerankCore(IReadOnlyList<ReadOnlyMultiVector> queries, MultiVectorStore store, int[][] ids, int k)
    {
        long total = 0;
        foreach (int[] list in ids)
        {
            total += list.Length;
        }

        if (total > Array.MaxLength)
        {
            ThrowHelper.ThrowArgument($"The batch holds {total} candidates, more than one launch plan can address ({Array.MaxLength}).", "candidateIds");
        }

        float[] scores = new float[total];
        if (total > 0)
        {
            int[] itemQueries = new int[total];
            int[] itemDocuments = new int[total];
            int position = 0;
            for (int q = 0; q < ids.Length; q++)
            {
                itemQueries.AsSpan(position, ids[q].Length).Fill(q);
                ids[q].CopyTo(itemDocuments, position);
                position += ids[q].Length;
            }

            lock (_sync)
            {
                ResidentStore resident = BeginStoreCall(store);
                UploadQueries(queries);
                ArrayView<int> queryView = _memory.Ensure(ref _itemQueries, total, "the candidates' query indices");
                ArrayView<int> documentView = _memory.Ensure(ref _itemDocuments, total, "the candidate ids");
                queryView.SubView(0, total).CopyFromCPU(itemQueries);
                documentView.SubView(0, total).CopyFromCPU(itemDocuments);
                int chunk = MaxItemsPerLaunch;
                for (int offset = 0; offset < total; offset += chunk)
                {
                    int items = (int)Math.Min(chunk, total - offset);
                    ArrayView<float> output = _memory.Ensure(ref _scores, items, "the scores of one launch");
                    Launch(resident.IsHalf, resident.Starts, resident.IsHalf ? default : resident.Floats, resident.IsHalf ? resident.Halves : default,
                        queryView.SubView(offset, items), documentView.SubView(offset, items), output,
                        new ChamferLaunch(store.Dimension, items, 0, 0));
                    output.SubView(0, items).CopyToCPU(scores.AsSpan(offset, items));
                }
            }
        }

        var results = new ScoredId[ids.Length][];
        int start = 0;
        for (int q = 0; q < ids.Length; q++)
        {
            var top = new TopKCollector(k, ids[q].Length);
            for (int i = 0; i < ids[q].Length; i++)
            {
                top.Offer(ids[q][i], scores[start + i]);
            }

            results[q] = top.Drain();
            start += ids[q].Length;
        }

        return results;
    }

    // Packs the documents (checking values; the lowest bad document is reported, as the CPU scorer does), uploads
    // them and scores them against one query.
    private float[] ScoreList(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, string paramName)
    {
        int count = documents.Count;
        float[] scores = new float[count];
        if (count == 0)
        {
            return scores;
        }

        int d = query.Dimension;
        long tokens = 0;
        for (int i = 0; i < count; i++)
        {
            ReadOnlyMultiVector document = documents[i];
            if (ThrowHelper.HasNonFinite(document.Span))
            {
                ThrowHelper.ThrowNonFinite($"{paramName}[{i}]", paramName, document.Span, d);
            }

            tokens += document.Count;
        }

        lock (_sync)
        {
            BeginCall();
            UploadQueries([query]);
            ArrayView<long> starts = _memory.Ensure(ref _listStarts, (long)count + 1, "the documents' token offsets");
            ArrayView<float> values = _memory.Ensure(ref _listTokens, tokens * d, "the documents' tokens");
            using (var upload = new StagedUpload<long>(starts, (long)count + 1))
            {
                long position = 0;
                upload.Append(position);
                foreach (ReadOnlyMultiVector document in documents)
                {
                    position += document.Count;
                    upload.Append(position);
                }

                upload.Flush();
            }

            if (tokens > 0)
            {
                using var upload = new StagedUpload<float>(values, tokens * d);
                foreach (ReadOnlyMultiVector document in documents)
                {
                    upload.Append(document.Span);
                }

                upload.Flush();
            }

            int chunk = MaxItemsPerLaunch;
            ArrayView<int> none = _memory.Ensure(ref _itemQueries, 1, "the work-item list");
            for (int offset = 0; offset < count; offset += chunk)
            {
                int items = Math.Min(chunk, count - offset);
                ArrayView<float> output = _memory.Ensure(ref _scores, items, "the scores of one launch");
                Launch(false, starts, values, default, none, none, output, new ChamferLaunch(d, items, count, offset));
                output.SubView(0, items).CopyToCPU(scores.AsSpan(offset, items));
            }
        }

        return scores;
    }

    private void BeginCall()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Bind();
    }

    // Under the lock: the store's device copy, brought up to date.
    private ResidentStore BeginStoreCall(MultiVectorStore store)
    {
        BeginCall();
        if (!_stores.TryGetValue(store, out ResidentStore? resident))
        {
            resident = new ResidentStore(_memory, store);
            _stores.Add(store, resident);
        }

        try
        {
            resident.Synchronize(store);
        }
        catch
        {
            // A failed first upload leaves nothing worth keeping; a refused regrowth keeps the old copy.
            if (resident.Count == 0)
            {
                _stores.Remove(store);
                resident.Dispose();
            }

            throw;
        }

        return resident;
    }

    // Under the lock: every query's tokens, concatenated, and their token offsets.
    private void UploadQueries(IReadOnlyList<ReadOnlyMultiVector> queries)
    {
        long tokens = 0;
        foreach (ReadOnlyMultiVector query in queries)
        {
            tokens += query.Count;
        }

        if (tokens > int.MaxValue)
        {
            ThrowHelper.ThrowArgument($"The batch holds {tokens} query tokens; at most {int.MaxValue} fit one launch.", nameof(queries));
        }

        int d = queries[0].Dimension;
        ArrayView<float> values = _memory.Ensure(ref _queries, tokens * d, "the queries' tokens");
        ArrayView<int> starts = _memory.Ensure(ref _queryStarts, queries.Count + 1L, "the queries' token offsets");
        int[] offsets = new int[queries.Count + 1];
        using var upload = new StagedUpload<float>(values, tokens * d);
        for (int q = 0; q < queries.Count; q++)
        {
            upload.Append(queries[q].Span);
            offsets[q + 1] = offsets[q] + queries[q].Count;
        }

        upload.Flush();
        starts.SubView(0, offsets.Length).CopyFromCPU(offsets);
    }

    private void Launch(bool half, ArrayView<long> documentStarts, ArrayView<float> floats, ArrayView<ILGPU.Half> halves,
        ArrayView<int> itemQueries, ArrayView<int> itemDocuments, ArrayView<float> scores, ChamferLaunch launch)
    {
        var config = new KernelConfig(
            new Index1D(Math.Min(launch.ItemCount, MaxGroups)),
            new Index1D(_groupSize),
            SharedMemoryConfig.RequestDynamic<float>(_sharedFloats));
        ArrayView<float> queries = _queries!.View.AsContiguous();
        ArrayView<int> queryStarts = _queryStarts!.View.AsContiguous();
        if (half)
        {
            _halfKernel ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<long>, ArrayView<ILGPU.Half>, ArrayView<float>, ChamferLaunch>(
                ChamferKernels.Score<ILGPU.Half, HalfTokenConverter>);
            _halfKernel(config, queries, queryStarts, itemQueries, itemDocuments, documentStarts, halves, scores, launch);
        }
        else
        {
            _floatKernel ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, ChamferLaunch>(
                ChamferKernels.Score<float, FloatTokenConverter>);
            _floatKernel(config, queries, queryStarts, itemQueries, itemDocuments, documentStarts, floats, scores, launch);
        }
    }

    // CUDA contexts are per thread; calls may come from any thread.
    private void Bind() => _accelerator.Bind();
}
