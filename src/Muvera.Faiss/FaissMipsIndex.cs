// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Faiss.Interop;
using Muvera.Indexing;

namespace Muvera.Faiss;

/// <summary>
/// A FAISS index behind <see cref="IMipsIndex"/>: any inner-product index FAISS's <c>index_factory</c> builds, such as
/// <c>"Flat"</c> (exact), <c>"HNSW32"</c>, <c>"IVF1024,PQ64x8"</c> or <c>"PQ64x8"</c>, over the native shim
/// libmuvera_faiss.so (Debian's static libfaiss, OpenBLAS, OpenMP).
/// </summary>
/// <remarks>
/// <para>Life cycle: <see cref="Create"/> → <see cref="Train(ReadOnlySpan{float})"/> when <see cref="IsTrained"/> is false (IVF and PQ
/// learn centroids/codebooks from representative vectors; flat and HNSW need no training) → <see cref="Add(ReadOnlySpan{float})"/> →
/// searches. <see cref="Save"/> / <see cref="Load"/> keep the trained index, its vectors and its default search
/// parameters.</para>
/// <para>Scores are FAISS's inner products, higher is better: exact for <c>"Flat"</c> and HNSW (float arithmetic),
/// approximate for PQ codes (the inner product with the vector's reconstruction, so they differ from the true inner
/// product by the quantisation error). Results are sorted by <see cref="ScoredId"/> order (highest first, ties to the
/// lower id); approximate indexes may return fewer than k (an IVF index whose probed lists hold fewer vectors).</para>
/// <para>Threading: searches may run concurrently with each other; <see cref="Train(ReadOnlySpan{float})"/>, <see cref="Add(ReadOnlySpan{float})"/>,
/// setting <see cref="DefaultSearchParameters"/>, <see cref="Save"/> and <see cref="Dispose"/> need exclusive access.
/// A single <see cref="Search(ReadOnlySpan{float}, int, Span{ScoredId})"/> runs on the calling thread; a batch
/// spreads its queries over OpenMP threads. Training and adding use every OpenMP thread (<c>OMP_NUM_THREADS</c>) and
/// OpenBLAS's own threads (<c>OPENBLAS_NUM_THREADS</c>).</para>
/// <para>Determinism: every query is searched on its own, so a query's results do not depend on the batch it is in
/// or on the thread count. FAISS trains with fixed seeds; HNSW graphs built by parallel adds can differ from run to
/// run.</para>
/// <para>Allocation: searches allocate nothing on the managed heap for k ≤ 128 (larger buffers are pooled). The
/// native index lives outside the managed heap: a flat index holds 4·Dimension bytes per vector, PQ m bytes per
/// vector (PQmx8), HNSW32 adds about 256 bytes per vector of graph links.</para>
/// <para>Runtime requirements: Linux x64 with libopenblas0 and libgomp1 (see <see cref="IsSupported"/>).</para>
/// </remarks>
public sealed class FaissMipsIndex : IMipsIndex
{
    private const int StackResults = 128;
    private const int MaxChunkResults = 1 << 20;

    private static readonly Lazy<string?> s_unsupportedReason = new(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly FaissIndexHandle _handle;
    private readonly int _kind;
    private int _count;
    private bool _isTrained;

    private FaissMipsIndex(FaissIndexHandle handle, string factory)
    {
        _handle = handle;
        Factory = factory;
        FaissInfo info = GetInfo();
        Dimension = info.Dimension;
        _kind = info.Kind;
        _count = checked((int)info.NTotal);
        _isTrained = info.IsTrained != 0;
        IsExact = factory == "Flat" && _kind == NativeMethods.KindFlat;
    }

    /// <summary>Whether the native library (libmuvera_faiss.so and its dependencies) loads in this process; when
    /// not, <see cref="UnsupportedReason"/> says why, and <see cref="Create"/> and <see cref="Load"/> throw
    /// <see cref="PlatformNotSupportedException"/>.</summary>
    /// <remarks>Probed once, on first use; never throws.</remarks>
    public static bool IsSupported => s_unsupportedReason.Value is null;

    /// <summary>Why FAISS is unavailable (the loader's message, or an ABI version mismatch), or <see langword="null"/>
    /// when <see cref="IsSupported"/>.</summary>
    public static string? UnsupportedReason => s_unsupportedReason.Value;

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <inheritdoc/>
    public int Count => _count;

    /// <summary>True only for the <c>"Flat"</c> factory string (exhaustive search); every other index is
    /// approximate.</summary>
    public bool IsExact { get; }

    /// <summary>Whether the index can take vectors: true from the start for flat and HNSW indexes, after
    /// <see cref="Train(ReadOnlySpan{float})"/> for IVF and PQ.</summary>
    public bool IsTrained => _isTrained;

    /// <summary>The FAISS factory string the index was built from (kept in saved files).</summary>
    public string Factory { get; }

    /// <summary>The search parameters used when a search passes none, and for the properties a
    /// <see cref="FaissSearchParameters"/> leaves <see langword="null"/>: <see cref="FaissSearchParameters.Nprobe"/>
    /// for IVF indexes and <see cref="FaissSearchParameters.EfSearch"/> for HNSW ones (the other is
    /// <see langword="null"/>). Saved with the index.</summary>
    /// <remarks>Setting changes only the non-null values, needs exclusive access (no search running), and refuses a
    /// value the index does not use.</remarks>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    /// <exception cref="ArgumentException">The value sets a parameter this kind of index does not use.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public FaissSearchParameters DefaultSearchParameters
    {
        get
        {
            ThrowIfDisposed();
            FaissInfo info = GetInfo();
            return new FaissSearchParameters
            {
                Nprobe = _kind == NativeMethods.KindIvf ? info.Nprobe : null,
                EfSearch = _kind == NativeMethods.KindHnsw ? info.EfSearch : null,
            };
        }

        set
        {
            ThrowIfDisposed();
            (int nprobe, int efSearch) = Resolve(value, nameof(value));
            NativeMethods.Check(NativeMethods.SetDefaults(_handle, nprobe, efSearch), $"set the default search parameters of '{Factory}'");
        }
    }

    /// <summary>Builds an empty inner-product index with FAISS's <c>index_factory</c>.</summary>
    /// <param name="dimension">The vector length (positive; PQ needs a multiple of its sub-quantizer count).</param>
    /// <param name="factory">A FAISS factory string, for example <c>"Flat"</c>, <c>"HNSW32"</c>,
    /// <c>"IVF1024,PQ64x8"</c> or <c>"PQ64x8"</c> (at most 256 UTF-8 bytes). Polysemous training, which FAISS turns on
    /// for PQ codes unless the string ends in <c>np</c>, is always off: it only serves Hamming-filtered search, which
    /// this class does not use, and does not change scores.</param>
    /// <returns>The empty index; dispose it to free the native memory.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="factory"/> is empty, too long, or FAISS cannot build an
    /// inner-product index from it (a parse error, a dimension it cannot split, an L2-only index such as
    /// <c>"HNSW32,PQ8"</c>, or an <c>IDMap</c> wrapper, whose ids would not be dense ordinals); the message names the
    /// string and carries FAISS's reason.</exception>
    /// <exception cref="PlatformNotSupportedException">The native library cannot be loaded
    /// (<see cref="UnsupportedReason"/>).</exception>
    public static FaissMipsIndex Create(int dimension, string factory)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        ValidateFactory(factory);
        ThrowIfUnsupported();
        int status = NativeMethods.Create(factory, dimension, out FaissIndexHandle handle);
        if (status != NativeMethods.Ok)
        {
            handle.Dispose();
            string native = NativeMethods.LastError();
            var inner = new FaissException($"FAISS failed to create '{factory}': {native}", NativeMethods.StatusName(status), native);
            if (status is NativeMethods.FaissError or NativeMethods.Unsupported)
            {
                throw new ArgumentException($"FAISS cannot build an inner-product index of dimension {dimension} from the factory string '{factory}': {native}", nameof(factory), inner);
            }

            throw inner;
        }

        return Wrap(handle, factory);
    }

    /// <summary>Reads an index that <see cref="Save"/> wrote.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The index, trained and holding its vectors, with its saved default search parameters.</returns>
    /// <remarks>The whole file is checked (lengths against the real file length, both checksums) before FAISS reads
    /// any byte, and the loaded index must match the header (dimension, count, inner product, the kind its factory
    /// string builds). The FAISS payload is read into native memory once; loading costs about one pass over the
    /// file.</remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid FAISS index file; the message names the first
    /// failed check (truncated, magic, version, checksums, sizes, FAISS's reader, header mismatch).</exception>
    /// <exception cref="PlatformNotSupportedException">The native library cannot be loaded.</exception>
    public static FaissMipsIndex Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        FaissIndexFile.Contents contents = FaissIndexFile.Read(path);
        using NativeBytes payload = contents.Payload;
        ThrowIfUnsupported();
        int status = NativeMethods.Deserialize(payload.Pointer, payload.Length, out FaissIndexHandle handle);
        if (status != NativeMethods.Ok)
        {
            handle.Dispose();
            string native = NativeMethods.LastError();
            throw new InvalidDataException($"FAISS index file '{path}': FAISS could not read its payload: {native}",
                new FaissException($"FAISS failed to read an index: {native}", NativeMethods.StatusName(status), native));
        }

        FaissMipsIndex? index = null;
        try
        {
            index = Wrap(handle, contents.Factory);
            index.CheckAgainstHeader(contents, path);
            return index;
        }
        catch
        {
            if (index is null)
            {
                handle.Dispose();
            }
            else
            {
                index.Dispose();
            }

            throw;
        }
    }

    /// <summary>Trains the index (IVF coarse centroids, PQ codebooks) on representative vectors, on every OpenMP
    /// thread; a no-op for flat and HNSW indexes.</summary>
    /// <param name="vectors">Row-major training vectors, a positive multiple of <see cref="Dimension"/> long. FAISS
    /// needs at least as many as the largest centroid count (nlist for IVF, 256 for 8-bit PQ), recommends 39 or more
    /// per centroid, and samples at most 256 per centroid.</param>
    /// <remarks><para>Cost: k-means, about iterations (10 for IVF, 25 for PQ) × n × centroids × Dimension
    /// multiply-adds, on OpenMP and BLAS threads. Deterministic for a given input (FAISS's fixed seeds).</para>
    /// <para>FAISS's k-means runs many short OpenMP parallel regions (for PQ, several per iteration and
    /// sub-quantizer), and GNU OpenMP threads spin between them. On a machine whose cores are busy with other work
    /// that spinning can make training many times slower (measured on 2 shared cores: 90 s instead of 10 s for
    /// PQ128x8 on 2,000 vectors of 1,024 floats). Run such processes with <c>OMP_WAIT_POLICY=PASSIVE</c>, or train
    /// on one OpenMP thread with <see cref="Train(ReadOnlySpan{float}, ParallelOptions)"/> (BLAS keeps its own
    /// threads).</para></remarks>
    /// <exception cref="ArgumentException">The length is zero or not a multiple of the dimension, or a value is not
    /// finite.</exception>
    /// <exception cref="InvalidOperationException">The index already holds vectors (new centroids would invalidate
    /// their codes).</exception>
    /// <exception cref="FaissException">FAISS refused, for example too few training vectors for the centroid
    /// count.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public void Train(ReadOnlySpan<float> vectors) => TrainCore(vectors, 0);

    /// <summary>Trains the index as <see cref="Train(ReadOnlySpan{float})"/> does, with an OpenMP thread limit.</summary>
    /// <param name="vectors">Row-major training vectors, a positive multiple of <see cref="Dimension"/> long.</param>
    /// <param name="parallelOptions"><see cref="ParallelOptions.MaxDegreeOfParallelism"/> is the OpenMP thread count
    /// of this call (−1: all); the token is checked once, before training starts (FAISS cannot be interrupted).</param>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">The length is zero or not a multiple of the dimension, or a value is not
    /// finite.</exception>
    /// <exception cref="InvalidOperationException">The index already holds vectors.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled before training started.</exception>
    /// <exception cref="FaissException">FAISS refused, for example too few training vectors.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public void Train(ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        TrainCore(vectors, Threads(parallelOptions), parallelOptions.CancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>Cost: flat O(n·Dimension) copy; HNSW O(n·log Count) graph insertions; IVF/PQ encode each vector
    /// (coarse assignment and PQ encoding). Uses every OpenMP thread.</remarks>
    /// <exception cref="InvalidOperationException">The index is not trained (call <see cref="Train(ReadOnlySpan{float})"/>
    /// first), or it would hold more than <see cref="int.MaxValue"/> vectors.</exception>
    /// <exception cref="FaissException">FAISS failed (for example out of memory).</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public int Add(ReadOnlySpan<float> vectors) => AddCore(vectors, 0, CancellationToken.None);

    /// <summary>Appends vectors as <see cref="Add(ReadOnlySpan{float})"/> does, with an OpenMP thread limit.</summary>
    /// <param name="vectors">Row-major vectors, a multiple of <see cref="Dimension"/> long (empty adds nothing).</param>
    /// <param name="parallelOptions"><see cref="ParallelOptions.MaxDegreeOfParallelism"/> is the OpenMP thread count
    /// of this call (−1: all); the token is checked once, before anything is added.</param>
    /// <returns>The id of the first added vector (the old <see cref="Count"/>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">The length is not a multiple of the dimension, or a value is not finite;
    /// nothing is added then.</exception>
    /// <exception cref="InvalidOperationException">The index is not trained, or would be too large.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; nothing was added.</exception>
    /// <exception cref="FaissException">FAISS failed.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public int Add(ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        return AddCore(vectors, Threads(parallelOptions), parallelOptions.CancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>Uses <see cref="DefaultSearchParameters"/>; runs on the calling thread.</remarks>
    /// <exception cref="FaissException">FAISS failed.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results) =>
        SearchCore(query, k, results, 0, 0);

    /// <summary>The (at most) <paramref name="k"/> vectors with the highest inner product with the query, with
    /// search parameters for this call only.</summary>
    /// <param name="query">A vector of <see cref="Dimension"/> finite values.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <param name="results">Receives the results, best first; at least min(k, Count) long.</param>
    /// <param name="parameters">This call's parameters; null properties take the index's defaults.</param>
    /// <returns>How many results were written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentException">A wrong query length, a non-finite value, <paramref name="results"/> too
    /// short, or a parameter this kind of index does not use.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="FaissException">FAISS failed.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results, FaissSearchParameters parameters)
    {
        (int nprobe, int efSearch) = Resolve(parameters, nameof(parameters));
        return SearchCore(query, k, results, nprobe, efSearch);
    }

    /// <inheritdoc/>
    /// <remarks>Uses <see cref="DefaultSearchParameters"/> and every OpenMP thread.</remarks>
    /// <exception cref="FaissException">FAISS failed.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results) =>
        SearchBatchCore(queries, k, results, 0, 0, 0, CancellationToken.None);

    /// <inheritdoc/>
    /// <remarks>Uses <see cref="DefaultSearchParameters"/>. <see cref="ParallelOptions.MaxDegreeOfParallelism"/> is
    /// the OpenMP thread count of this call (−1: all); the token is checked between chunks of queries (at most
    /// max(64, 16 × threads) queries each); <see cref="ParallelOptions.TaskScheduler"/> is not used.</remarks>
    /// <exception cref="FaissException">FAISS failed.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        SearchBatchCore(queries, k, results, 0, 0, Threads(parallelOptions), parallelOptions.CancellationToken);
    }

    /// <summary>Searches a batch of queries with search parameters for this call only, on every OpenMP thread.</summary>
    /// <param name="queries">Row-major queries, a multiple of <see cref="Dimension"/> long.</param>
    /// <param name="k">How many results per query (positive).</param>
    /// <param name="results">Receives query i's results in <c>results[(i·k)..((i + 1)·k)]</c>, best first, padded with
    /// <see cref="ScoredId.None"/>; at least (queries / Dimension)·k long.</param>
    /// <param name="parameters">This call's parameters; null properties take the index's defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentException">A wrong length, a non-finite value, <paramref name="results"/> too short,
    /// or a parameter this kind of index does not use.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="FaissException">FAISS failed.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, FaissSearchParameters parameters)
    {
        (int nprobe, int efSearch) = Resolve(parameters, nameof(parameters));
        SearchBatchCore(queries, k, results, nprobe, efSearch, 0, CancellationToken.None, parameters.UseFaissBatchPath);
    }

    /// <summary>Searches a batch of queries with search parameters for this call only, a thread limit and
    /// cancellation.</summary>
    /// <param name="queries">Row-major queries, a multiple of <see cref="Dimension"/> long.</param>
    /// <param name="k">How many results per query (positive).</param>
    /// <param name="results">As in <see cref="SearchBatch(ReadOnlySpan{float}, int, Span{ScoredId}, FaissSearchParameters)"/>.</param>
    /// <param name="parameters">This call's parameters; null properties take the index's defaults.</param>
    /// <param name="parallelOptions"><see cref="ParallelOptions.MaxDegreeOfParallelism"/> is the OpenMP thread count
    /// (−1: all); the token is checked between chunks of queries.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> or <paramref name="parallelOptions"/> is
    /// null.</exception>
    /// <exception cref="ArgumentException">A wrong length, a non-finite value, <paramref name="results"/> too short,
    /// or a parameter this kind of index does not use.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; the results are then incomplete.</exception>
    /// <exception cref="FaissException">FAISS failed.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, FaissSearchParameters parameters, ParallelOptions parallelOptions)
    {
        (int nprobe, int efSearch) = Resolve(parameters, nameof(parameters));
        ArgumentNullException.ThrowIfNull(parallelOptions);
        SearchBatchCore(queries, k, results, nprobe, efSearch, Threads(parallelOptions), parallelOptions.CancellationToken,
            parameters.UseFaissBatchPath);
    }

    /// <inheritdoc/>
    /// <remarks>Writes the format described on the internal <c>FaissIndexFile</c> type: a checked header (magic
    /// "MVFAISS", version, dimension, count, factory string, payload length and checksum, header checksum) around
    /// FAISS's own <c>write_index</c> bytes, to <c>path + ".tmp"</c>, flushed to disk, then renamed over
    /// <paramref name="path"/>. The index is serialized into native memory first, so saving briefly needs about
    /// the index's size again.</remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="IOException">Writing, flushing or renaming failed (the temporary file is removed).</exception>
    /// <exception cref="FaissException">FAISS failed to serialize the index.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ThrowIfDisposed();
        using NativeBytes payload = NativeBytes.Serialize(_handle);
        FaissIndexFile.Write(path, Dimension, _count, Factory, payload);
    }

    /// <summary>Frees the native index (after any search still running on it returns). Idempotent; never
    /// throws.</summary>
    public void Dispose() => _handle.Dispose();

    private static FaissMipsIndex Wrap(FaissIndexHandle handle, string factory)
    {
        try
        {
            return new FaissMipsIndex(handle, factory);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static void ValidateFactory(string factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(factory);
        if (factory.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("The factory string contains a NUL character.", nameof(factory));
        }

        int bytes = Encoding.UTF8.GetByteCount(factory);
        if (bytes > FaissIndexFile.MaxFactoryBytes)
        {
            throw new ArgumentException($"The factory string is {bytes} UTF-8 bytes long; at most {FaissIndexFile.MaxFactoryBytes} are supported.", nameof(factory));
        }
    }

    private static void ThrowIfUnsupported()
    {
        if (s_unsupportedReason.Value is string reason)
        {
            throw new PlatformNotSupportedException($"FAISS is not available in this process: {reason}");
        }
    }

    private static string? Probe()
    {
        try
        {
            int abi = NativeMethods.GetAbiVersion();
            return abi == NativeMethods.AbiVersion
                ? null
                : $"libmuvera_faiss.so has ABI version {abi}, but this Muvera.Faiss assembly needs version {NativeMethods.AbiVersion} (the two come from different builds).";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return $"the native library libmuvera_faiss.so (which needs libopenblas.so.0 and libgomp.so.1) could not be loaded: {e.Message}";
        }
    }

    private static int Threads(ParallelOptions parallelOptions) =>
        parallelOptions.MaxDegreeOfParallelism > 0 ? parallelOptions.MaxDegreeOfParallelism : 0;

    private void TrainCore(ReadOnlySpan<float> vectors, int threads, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        int n = MipsArguments.ValidateRows(vectors, Dimension, nameof(vectors));
        if (n == 0)
        {
            throw new ArgumentException($"{nameof(vectors)} is empty; training needs at least one vector of dimension {Dimension}.", nameof(vectors));
        }

        if (_count > 0)
        {
            throw new InvalidOperationException($"The FAISS index '{Factory}' already holds {_count} vectors; train it before adding any (new centroids would invalidate their codes).");
        }

        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            NativeMethods.Check(NativeMethods.Train(_handle, n, vectors, threads), $"train '{Factory}' on {n} vectors");
        }
        finally
        {
            RefreshState();
        }
    }

    private int AddCore(ReadOnlySpan<float> vectors, int threads, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        int n = MipsArguments.ValidateRows(vectors, Dimension, nameof(vectors));
        int first = _count;
        if (n == 0)
        {
            return first;
        }

        if (!_isTrained)
        {
            throw new InvalidOperationException($"The FAISS index '{Factory}' is not trained: call Train with representative vectors (at least one per centroid, ideally 39 or more) before Add.");
        }

        if ((long)first + n > int.MaxValue)
        {
            throw new InvalidOperationException($"The FAISS index holds {first} vectors; adding {n} more would exceed the {int.MaxValue} an int id can address.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            NativeMethods.Check(NativeMethods.Add(_handle, n, vectors, threads), $"add {n} vectors to '{Factory}'");
        }
        finally
        {
            RefreshState();
        }

        Debug.Assert(_count == first + n);
        return first;
    }

    private int SearchCore(ReadOnlySpan<float> query, int k, Span<ScoredId> results, int nprobe, int efSearch)
    {
        ThrowIfDisposed();
        MipsArguments.ValidateQuery(query, Dimension, nameof(query));
        MipsArguments.ValidateSearch(k, _count, results.Length, nameof(results));
        int depth = Math.Min(k, _count);
        if (depth == 0)
        {
            return 0;
        }

        long[]? rentedLabels = null;
        float[]? rentedDistances = null;
        Span<long> labels = depth <= StackResults ? stackalloc long[StackResults] : (rentedLabels = ArrayPool<long>.Shared.Rent(depth));
        Span<float> distances = depth <= StackResults ? stackalloc float[StackResults] : (rentedDistances = ArrayPool<float>.Shared.Rent(depth));
        labels = labels[..depth];
        distances = distances[..depth];
        try
        {
            int status = NativeMethods.Search(_handle, 1, query, depth, nprobe, efSearch, 1, distances, labels);
            if (status != NativeMethods.Ok)
            {
                NativeMethods.ThrowFailure(status, $"search '{Factory}'");
            }

            Span<ScoredId> row = results[..Math.Min(k, results.Length)];
            int found = Collect(labels, distances, row);
            MipsArguments.SortAndPad(row, found);
            return found;
        }
        finally
        {
            if (rentedLabels is not null)
            {
                ArrayPool<long>.Shared.Return(rentedLabels);
                ArrayPool<float>.Shared.Return(rentedDistances!);
            }
        }
    }

    private void SearchBatchCore(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, int nprobe, int efSearch,
        int threads, CancellationToken cancellationToken, bool faissBatchPath = false)
    {
        ThrowIfDisposed();
        int n = MipsArguments.ValidateRows(queries, Dimension, nameof(queries));
        MipsArguments.ValidateBatch(k, n, results.Length, nameof(results));
        cancellationToken.ThrowIfCancellationRequested();
        int depth = Math.Min(k, _count);
        if (depth == 0 || n == 0)
        {
            results[..(n * k)].Fill(ScoredId.None);
            return;
        }

        int parallel = threads > 0 ? threads : Environment.ProcessorCount;
        int chunk = Math.Min(n, Math.Clamp(MaxChunkResults / depth, 1, Math.Max(64, 16 * parallel)));
        long[] labels = ArrayPool<long>.Shared.Rent(chunk * depth);
        float[] distances = ArrayPool<float>.Shared.Rent(chunk * depth);
        try
        {
            for (int first = 0; first < n; first += chunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int count = Math.Min(chunk, n - first);
                int status = faissBatchPath
                    ? NativeMethods.SearchBatched(_handle, count, queries.Slice(first * Dimension, count * Dimension), depth,
                        nprobe, efSearch, threads, distances.AsSpan(0, count * depth), labels.AsSpan(0, count * depth))
                    : NativeMethods.Search(_handle, count, queries.Slice(first * Dimension, count * Dimension), depth,
                        nprobe, efSearch, threads, distances.AsSpan(0, count * depth), labels.AsSpan(0, count * depth));
                if (status != NativeMethods.Ok)
                {
                    NativeMethods.ThrowFailure(status, $"search '{Factory}'");
                }

                for (int q = 0; q < count; q++)
                {
                    Span<ScoredId> row = results.Slice((first + q) * k, k);
                    int found = Collect(labels.AsSpan(q * depth, depth), distances.AsSpan(q * depth, depth), row);
                    MipsArguments.SortAndPad(row, found);
                }
            }
        }
        finally
        {
            ArrayPool<long>.Shared.Return(labels);
            ArrayPool<float>.Shared.Return(distances);
        }
    }

    // FAISS marks empty slots with label −1; the others become results (their order is fixed by SortAndPad).
    private static int Collect(ReadOnlySpan<long> labels, ReadOnlySpan<float> distances, Span<ScoredId> row)
    {
        int found = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= 0)
            {
                row[found++] = new ScoredId((int)labels[i], distances[i]);
            }
        }

        return found;
    }

    private (int Nprobe, int EfSearch) Resolve(FaissSearchParameters parameters, string paramName)
    {
        ArgumentNullException.ThrowIfNull(parameters, paramName);
        if (parameters.Nprobe is not null && _kind != NativeMethods.KindIvf)
        {
            throw new ArgumentException($"Nprobe ({parameters.Nprobe}) applies only to IVF indexes, but '{Factory}' is not one.", paramName);
        }

        if (parameters.EfSearch is not null && _kind != NativeMethods.KindHnsw)
        {
            throw new ArgumentException($"EfSearch ({parameters.EfSearch}) applies only to HNSW indexes, but '{Factory}' is not one.", paramName);
        }

        return (parameters.Nprobe ?? 0, parameters.EfSearch ?? 0);
    }

    private FaissInfo GetInfo()
    {
        NativeMethods.Check(NativeMethods.GetInfo(_handle, out FaissInfo info), "describe the index");
        return info;
    }

    private void RefreshState()
    {
        FaissInfo info = GetInfo();
        _count = checked((int)info.NTotal);
        _isTrained = info.IsTrained != 0;
    }

    private void CheckAgainstHeader(FaissIndexFile.Contents contents, string path)
    {
        if (Dimension != contents.Dimension || _count != contents.Count)
        {
            throw new InvalidDataException($"FAISS index file '{path}': the header says dimension {contents.Dimension} and {contents.Count} vectors, but the FAISS index has dimension {Dimension} and {_count} vectors.");
        }

        // The factory string decides IsExact and which search parameters apply, so it must build this kind of index.
        int status = NativeMethods.Create(contents.Factory, contents.Dimension, out FaissIndexHandle reference);
        using (reference)
        {
            if (status != NativeMethods.Ok)
            {
                throw new InvalidDataException($"FAISS index file '{path}': FAISS does not accept its factory string '{contents.Factory}': {NativeMethods.LastError()}");
            }

            NativeMethods.Check(NativeMethods.GetInfo(reference, out FaissInfo expected), "describe the index");
            if (expected.Kind != _kind)
            {
                throw new InvalidDataException($"FAISS index file '{path}': its factory string '{contents.Factory}' builds an index of kind {expected.Kind}, but the payload holds kind {_kind}.");
            }
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
}
