// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.Numerics.Tensors;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.USearch.Interop;

namespace Muvera.USearch;

/// <summary>
/// Approximate maximum inner product search over an HNSW graph, built and searched by USearch's native C library
/// (<c>libusearch_c</c> from the Cloud.Unum.USearch package). Vectors are stored as float32, float16 or bfloat16
/// (<see cref="USearchOptions.ScalarKind"/>); the metric is always the inner product.
/// </summary>
/// <remarks>
/// <para>Scores: USearch's inner-product distance is 1 − ⟨q, x⟩; results carry ⟨q, x⟩ = 1 − distance (higher is
/// better), computed in float32 from the stored vector and the query converted to the storage kind. For Float16 and
/// BFloat16 that is the inner product of the quantized vectors. Results are sorted by
/// <see cref="ScoredId.CompareTo(ScoredId)"/> (highest score first, ties to the lower id); the ids are the dense
/// ordinals 0..Count−1 in insertion order.</para>
/// <para>Search: a beam of max(k, ef) candidates (ef = <see cref="ExpansionSearch"/> or the per-call value) walks the
/// graph, about O(ef · M · log n) inner products of length d, and the best k of the beam are returned. A search is
/// approximate (<see cref="IsExact"/> is false): it may miss some of the exact top k, and HNSW's neighbour pruning can
/// leave a few vectors without incoming links, which no search reaches (on 20,000 FDE-like vectors, 3–4 at
/// ef_add = 128 and about 40 at ef_add = 64; concurrent insertion can add a few more, USearch issue #735).
/// <see cref="SearchExact"/> and <see cref="SearchExactBatch(ReadOnlySpan{float}, int, Span{ScoredId}, ParallelOptions)"/>
/// give the exact top k by brute force (USearch's <c>usearch_exact_search</c>) over the stored vectors.</para>
/// <para>Insertion: <see cref="Add(ReadOnlySpan{float}, ParallelOptions)"/> inserts rows in parallel, each with a beam
/// of <see cref="USearchOptions.ExpansionAdd"/>; capacity grows by doubling (<see cref="Reserve"/> sets it ahead).
/// Rows that repeat an earlier row of the same call are inserted one at a time after the others: USearch's neighbour
/// heuristic keeps only one of several equidistant candidates, and identical vectors inserted at the same time could
/// otherwise leave a copy unreachable.
/// The graph depends on the interleaving of parallel insertions: one thread
/// (<see cref="ParallelOptions.MaxDegreeOfParallelism"/> = 1) builds the same graph every time, several threads may
/// build slightly different ones (and so slightly different approximate results). Searching a given graph is
/// deterministic at any thread count.</para>
/// <para>Threading: any number of searches may run at once; the native library keeps one context per processor
/// (<see cref="Environment.ProcessorCount"/>) and further concurrent callers wait for a free one. Adding, reserving,
/// saving and disposing need exclusive access (no search running).</para>
/// <para>Allocation: a search allocates nothing when max(k, ef) ≤ 128; larger requests rent from
/// <see cref="ArrayPool{T}"/>.</para>
/// <para>Files: <see cref="Save(string)"/> writes a 64-byte header (magic <c>MVUSRCH</c>, format version, options,
/// count, FNV-1a-64 checksums) followed by USearch's own serialization. <see cref="Load(string)"/> copies an index into
/// memory; <see cref="View(string)"/> maps the file read-only and searches it in place. Both check the header, the
/// checksums and the structure of USearch's serialization before any byte reaches native code. USearch writes its
/// serialization in the machine's byte order, so files are read and written on little-endian machines only.</para>
/// </remarks>
public sealed class USearchMipsIndex : IMipsIndex
{
    /// <summary>The largest supported vector length (2^24).</summary>
    public const int MaxDimension = 1 << 24;

    private const int StackCandidates = 128;
    private const long ExactChunkBytes = 1 << 24;
    private const float Float16Max = 65504f;
    private const float BFloat16Max = 3.38953139e38f;

    private static readonly int s_threadContexts = Math.Max(1, Environment.ProcessorCount);
    private static readonly ParallelOptions s_allCores = new();
    private static readonly Lazy<bool> s_isSupported = new(ProbeNativeLibrary, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly NativeIndex _native;
    private readonly SemaphoreSlim _contexts;
    private USearchOptions _options;
    private int _expansionSearch;
    private int _count;

    /// <summary>An empty index with the default <see cref="USearchOptions"/> (Float16, M = 16, ef_add = 128, ef = 64).</summary>
    /// <param name="dimension">The length of every vector, in [1, <see cref="MaxDimension"/>].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is out of range.</exception>
    /// <exception cref="DllNotFoundException">The native library cannot be loaded (see <see cref="IsSupported"/>).</exception>
    public USearchMipsIndex(int dimension)
        : this(dimension, new USearchOptions())
    {
    }

    /// <summary>An empty index.</summary>
    /// <param name="dimension">The length of every vector, in [1, <see cref="MaxDimension"/>].</param>
    /// <param name="options">Storage precision and graph parameters.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is out of range.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="DllNotFoundException">The native library cannot be loaded (see <see cref="IsSupported"/>).</exception>
    /// <exception cref="USearchException">The native library could not create the index.</exception>
    public USearchMipsIndex(int dimension, USearchOptions options)
        : this(CreateNative(dimension, options), dimension, options, count: 0, isReadOnly: false)
    {
    }

    private USearchMipsIndex(NativeIndex native, int dimension, USearchOptions options, int count, bool isReadOnly)
    {
        _native = native;
        _contexts = new SemaphoreSlim(s_threadContexts, s_threadContexts);
        _options = options;
        _expansionSearch = options.ExpansionSearch;
        _count = count;
        Dimension = dimension;
        IsReadOnly = isReadOnly;
    }

    /// <summary>Whether the native library loads on this machine (probed once; never throws).</summary>
    public static bool IsSupported => s_isSupported.Value;

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <inheritdoc/>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Always <see langword="false"/>: HNSW search is approximate (see <see cref="SearchExact"/> for the
    /// exact top k).</summary>
    public bool IsExact => false;

    /// <summary>Whether the index views a file (<see cref="View(string)"/>) and therefore refuses
    /// <see cref="Add(ReadOnlySpan{float})"/> and <see cref="Reserve"/>.</summary>
    public bool IsReadOnly { get; }

    /// <summary>The options: those the index was created or loaded with, with the current
    /// <see cref="ExpansionSearch"/>.</summary>
    public USearchOptions Options => _options;

    /// <summary>How vectors are stored.</summary>
    public USearchScalarKind ScalarKind => _options.ScalarKind;

    /// <summary>The number of vectors the index holds before it must grow.</summary>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public int Capacity
    {
        get
        {
            ThrowIfDisposed();
            return (int)Math.Min(_native.Capacity, int.MaxValue);
        }
    }

    /// <summary>The default search beam width ef used when a call gives none; in [1,
    /// <see cref="USearchOptions.MaxExpansion"/>]. Changing it is safe while searches run (each search reads it once)
    /// and it is saved with the index.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is out of range.</exception>
    public int ExpansionSearch
    {
        get => Volatile.Read(ref _expansionSearch);
        set
        {
            _options = _options with { ExpansionSearch = value };
            Volatile.Write(ref _expansionSearch, value);
        }
    }

    /// <summary>Appends vectors in parallel on all cores; the first gets id <see cref="Count"/>.</summary>
    /// <param name="vectors">Row-major vectors, a multiple of <see cref="Dimension"/> long (empty adds nothing).</param>
    /// <returns>The id of the first added vector (the old <see cref="Count"/>).</returns>
    /// <remarks>See <see cref="Add(ReadOnlySpan{float}, ParallelOptions)"/>.</remarks>
    /// <exception cref="ArgumentException">A wrong length, a non-finite value, or a value beyond the storage kind's
    /// range (Float16: ±65,504); nothing is added then.</exception>
    /// <exception cref="InvalidOperationException">The index views a file (read-only) or is full.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    /// <exception cref="USearchException">The native library failed (for example out of memory); nothing is added.</exception>
    public int Add(ReadOnlySpan<float> vectors) => Add(vectors, s_allCores);

    /// <summary>Appends vectors, inserting rows in parallel with a thread limit and cancellation.</summary>
    /// <param name="vectors">Row-major vectors, a multiple of <see cref="Dimension"/> long (empty adds nothing).</param>
    /// <param name="parallelOptions">The thread limit (<see cref="ParallelOptions.MaxDegreeOfParallelism"/>; 1 builds
    /// a reproducible graph) and the cancellation token.</param>
    /// <returns>The id of the first added vector (the old <see cref="Count"/>).</returns>
    /// <remarks>All-or-nothing: when the call is cancelled or the native library fails midway, the vectors it had
    /// inserted are removed again (their graph slots are reused by later insertions) and <see cref="Count"/> is
    /// unchanged. Each insertion costs about O(ef_add · M · log n) inner products.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">A wrong length, a non-finite value, or a value beyond the storage kind's
    /// range (Float16: ±65,504); nothing is added then.</exception>
    /// <exception cref="InvalidOperationException">The index views a file (read-only) or is full.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; nothing is added.</exception>
    /// <exception cref="USearchException">The native library failed (for example out of memory); nothing is added.</exception>
    public int Add(ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(parallelOptions);
        ThrowIfReadOnly();
        int rows = MipsArguments.ValidateRows(vectors, Dimension, nameof(vectors));
        ValidateStorageRange(vectors, nameof(vectors));
        parallelOptions.CancellationToken.ThrowIfCancellationRequested();
        int first = _count;
        if (rows == 0)
        {
            return first;
        }

        if (rows > int.MaxValue - 1 - first)
        {
            throw new InvalidOperationException($"The index is full: {first} + {rows} vectors would exceed the {int.MaxValue - 1} that int ids can address.");
        }

        EnsureCapacity((long)first + rows);
        bool[]? repeats = FindRepeats(vectors, Dimension, rows);
        string? failure = null;
        try
        {
            PinnedRows.For<byte>(vectors, Dimension, [], 0, rows, parallelOptions, (row, vector, _) =>
            {
                if (repeats is not null && repeats[row])
                {
                    return true;
                }

                string? error = Insert(first + row, vector);
                if (error is null)
                {
                    return true;
                }

                Interlocked.CompareExchange(ref failure, error, null);
                return false;
            });

            for (int row = 0; failure is null && repeats is not null && row < rows; row++)
            {
                if (repeats[row])
                {
                    parallelOptions.CancellationToken.ThrowIfCancellationRequested();
                    failure = Insert(first + row, vectors.Slice(row * Dimension, Dimension));
                }
            }
        }
        catch
        {
            RemoveRange(first, rows);
            throw;
        }

        if (failure is not null)
        {
            RemoveRange(first, rows);
            throw new USearchException($"USearch usearch_add failed: {failure}.", failure);
        }

        Volatile.Write(ref _count, first + rows);
        return first;
    }

    /// <summary>Grows the capacity to at least <paramref name="capacity"/> vectors ahead of insertions (an
    /// <see cref="Add(ReadOnlySpan{float})"/> beyond it grows the index by doubling anyway).</summary>
    /// <param name="capacity">The total number of vectors to make room for; a value at or below the current
    /// <see cref="Capacity"/> does nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The index views a file (read-only).</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    /// <exception cref="USearchException">The native library could not allocate the memory.</exception>
    public void Reserve(int capacity)
    {
        ThrowIfDisposed();
        ThrowIfReadOnly();
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        if (capacity > _native.Capacity)
        {
            _native.Reserve(capacity, s_threadContexts);
        }
    }

    /// <summary>The (at most) <paramref name="k"/> vectors with the highest inner product with the query, with a beam
    /// of max(k, <see cref="ExpansionSearch"/>).</summary>
    /// <param name="query">A vector of <see cref="Dimension"/> finite values.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <param name="results">Receives the results, best first; at least min(k, Count) long.</param>
    /// <returns>How many results were written (at most min(k, Count)).</returns>
    /// <exception cref="ArgumentException">A wrong query length, a non-finite or out-of-range value, or
    /// <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results) =>
        Search(query, k, results, ExpansionSearch);

    /// <summary>The (at most) <paramref name="k"/> vectors with the highest inner product with the query, with a beam
    /// of max(k, <paramref name="expansionSearch"/>).</summary>
    /// <param name="query">A vector of <see cref="Dimension"/> finite values.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <param name="results">Receives the results, best first; at least min(k, Count) long.</param>
    /// <param name="expansionSearch">The beam width ef for this call, in [1, <see cref="USearchOptions.MaxExpansion"/>].</param>
    /// <returns>How many results were written (at most min(k, Count)).</returns>
    /// <exception cref="ArgumentException">A wrong query length, a non-finite or out-of-range value, or
    /// <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive or
    /// <paramref name="expansionSearch"/> is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results, int expansionSearch)
    {
        ThrowIfDisposed();
        MipsArguments.ValidateQuery(query, Dimension, nameof(query));
        ValidateStorageRange(query, nameof(query));
        int count = Count;
        MipsArguments.ValidateSearch(k, count, results.Length, nameof(results));
        USearchOptions.ValidateRange(expansionSearch, 1, USearchOptions.MaxExpansion, nameof(expansionSearch));
        return SearchCore(query, k, expansionSearch, count, results);
    }

    /// <summary>The (at most) <paramref name="k"/> best vectors among those <paramref name="filter"/> allows, with a beam
    /// of max(k, <paramref name="expansionSearch"/>): USearch skips disallowed vectors while it walks the graph, so a very
    /// selective filter leaves the beam few allowed neighbours to expand and may find fewer than k (see the README on
    /// filtered search).</summary>
    /// <param name="query">A vector of <see cref="Dimension"/> finite values.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <param name="results">Receives the results, best first; at least min(k, Count) long.</param>
    /// <param name="expansionSearch">The beam width ef, in [1, <see cref="USearchOptions.MaxExpansion"/>].</param>
    /// <param name="filter">The allowed ids.</param>
    /// <returns>How many results were written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="filter"/> is null.</exception>
    /// <exception cref="ArgumentException">A wrong query length, a non-finite or out-of-range value, or
    /// <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> or <paramref name="expansionSearch"/> is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results, int expansionSearch, MipsFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ThrowIfDisposed();
        MipsArguments.ValidateQuery(query, Dimension, nameof(query));
        ValidateStorageRange(query, nameof(query));
        int count = Count;
        MipsArguments.ValidateSearch(k, count, results.Length, nameof(results));
        USearchOptions.ValidateRange(expansionSearch, 1, USearchOptions.MaxExpansion, nameof(expansionSearch));
        return SearchCore(query, k, expansionSearch, count, results, filter);
    }

    /// <inheritdoc/>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results) =>
        SearchBatch(queries, k, results, ExpansionSearch, s_allCores);

    /// <inheritdoc/>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, ParallelOptions parallelOptions) =>
        SearchBatch(queries, k, results, ExpansionSearch, parallelOptions);

    /// <summary>Searches a batch of queries in parallel with a given beam width, thread limit and cancellation.</summary>
    /// <param name="queries">Row-major queries, a multiple of <see cref="Dimension"/> long.</param>
    /// <param name="k">How many results per query (positive).</param>
    /// <param name="results">Receives query i's results in <c>results[(i·k)..((i + 1)·k)]</c>, best first; slots past
    /// the results found are set to <see cref="ScoredId.None"/>. At least (queries / Dimension)·k long.</param>
    /// <param name="expansionSearch">The beam width ef, in [1, <see cref="USearchOptions.MaxExpansion"/>].</param>
    /// <param name="parallelOptions">The thread limit and the cancellation token.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">A wrong length, a non-finite or out-of-range value, or
    /// <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive or
    /// <paramref name="expansionSearch"/> is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; the results are then incomplete.</exception>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, int expansionSearch, ParallelOptions parallelOptions)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(parallelOptions);
        int rows = MipsArguments.ValidateRows(queries, Dimension, nameof(queries));
        ValidateStorageRange(queries, nameof(queries));
        MipsArguments.ValidateBatch(k, rows, results.Length, nameof(results));
        USearchOptions.ValidateRange(expansionSearch, 1, USearchOptions.MaxExpansion, nameof(expansionSearch));
        CancellationToken token = parallelOptions.CancellationToken;
        token.ThrowIfCancellationRequested();
        int count = Count;
        if (rows == 1 || parallelOptions.MaxDegreeOfParallelism == 1)
        {
            for (int row = 0; row < rows; row++)
            {
                token.ThrowIfCancellationRequested();
                Span<ScoredId> output = results.Slice(row * k, k);
                MipsArguments.SortAndPad(output, SearchCore(queries.Slice(row * Dimension, Dimension), k, expansionSearch, count, output));
            }

            return;
        }

        PinnedRows.For(queries, Dimension, results, k, rows, parallelOptions, (_, query, output) =>
        {
            MipsArguments.SortAndPad(output, SearchCore(query, k, expansionSearch, count, output));
            return true;
        });
    }

    /// <summary>The exact top <paramref name="k"/> by brute force over the stored vectors (converted to float32), with
    /// USearch's <c>usearch_exact_search</c> on all cores.</summary>
    /// <param name="query">A vector of <see cref="Dimension"/> finite values.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <param name="results">Receives the results, best first; at least min(k, Count) long.</param>
    /// <returns>How many results were written: min(k, Count).</returns>
    /// <remarks>O(Count · d) per query, streamed through a 16 MB buffer of vectors copied out of the index. Scores are
    /// float32 inner products of the query with the stored vectors (for Float16/BFloat16, the quantized ones), so
    /// they can differ slightly from <see cref="Search(ReadOnlySpan{float}, int, Span{ScoredId})"/>'s, which also
    /// quantizes the query. Ties at the k-th place may go either way.</remarks>
    /// <exception cref="ArgumentException">A wrong query length, a non-finite value, or <paramref name="results"/>
    /// too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public int SearchExact(ReadOnlySpan<float> query, int k, Span<ScoredId> results)
    {
        ThrowIfDisposed();
        MipsArguments.ValidateQuery(query, Dimension, nameof(query));
        int count = Count;
        MipsArguments.ValidateSearch(k, count, results.Length, nameof(results));
        int found = Math.Min(k, count);
        if (found == 0)
        {
            return 0;
        }

        ScoredId[] scratch = ArrayPool<ScoredId>.Shared.Rent(found);
        try
        {
            ExactCore(query, 1, found, count, scratch.AsSpan(0, found), s_threadContexts, CancellationToken.None);
            scratch.AsSpan(0, found).CopyTo(results);
            return found;
        }
        finally
        {
            ArrayPool<ScoredId>.Shared.Return(scratch);
        }
    }

    /// <summary>The exact top <paramref name="k"/> of each query by brute force on all cores (see
    /// <see cref="SearchExact"/>).</summary>
    /// <param name="queries">Row-major queries, a multiple of <see cref="Dimension"/> long.</param>
    /// <param name="k">How many results per query (positive).</param>
    /// <param name="results">Receives query i's results in <c>results[(i·k)..((i + 1)·k)]</c>, best first, padded with
    /// <see cref="ScoredId.None"/> past Count. At least (queries / Dimension)·k long.</param>
    /// <exception cref="ArgumentException">A wrong length, a non-finite value, or <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    public void SearchExactBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results) =>
        SearchExactBatch(queries, k, results, s_allCores);

    /// <summary>The exact top <paramref name="k"/> of each query by brute force, with a thread limit and cancellation
    /// (checked between 16 MB blocks of vectors).</summary>
    /// <param name="queries">Row-major queries, a multiple of <see cref="Dimension"/> long.</param>
    /// <param name="k">How many results per query (positive).</param>
    /// <param name="results">Receives query i's results in <c>results[(i·k)..((i + 1)·k)]</c>, best first, padded with
    /// <see cref="ScoredId.None"/> past Count. At least (queries / Dimension)·k long.</param>
    /// <param name="parallelOptions">The thread limit (native threads of the brute-force kernel) and the cancellation
    /// token.</param>
    /// <remarks>Every query is compared with each block of vectors in one native call, so a batch copies the vectors
    /// out of the index once, not once per query.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">A wrong length, a non-finite value, or <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; the results are then incomplete.</exception>
    public void SearchExactBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, ParallelOptions parallelOptions)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(parallelOptions);
        int rows = MipsArguments.ValidateRows(queries, Dimension, nameof(queries));
        MipsArguments.ValidateBatch(k, rows, results.Length, nameof(results));
        parallelOptions.CancellationToken.ThrowIfCancellationRequested();
        if (rows == 0)
        {
            return;
        }

        int threads = parallelOptions.MaxDegreeOfParallelism > 0 ? parallelOptions.MaxDegreeOfParallelism : s_threadContexts;
        ExactCore(queries, rows, k, Count, results[..(rows * k)], threads, parallelOptions.CancellationToken);
    }

    /// <summary>Writes the index to a file atomically: to <c>path + ".tmp"</c> (USearch serializes straight into the
    /// mapped file), flushed to disk, then renamed over <paramref name="path"/>.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <remarks>Reads the serialized bytes once more to checksum them. A viewed index can be saved too.</remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="ObjectDisposedException">The index has been disposed.</exception>
    /// <exception cref="IOException">Writing, flushing or renaming failed (the temporary file is removed).</exception>
    /// <exception cref="USearchException">The native library could not serialize the index.</exception>
    public void Save(string path)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrEmpty(path);
        EnsureLittleEndian();
        USearchOptions options = _options;
        USearchIndexFile.Save(path, _native, new USearchIndexFile.Header(options.ScalarKind, Dimension, Count,
            options.Connectivity, options.ExpansionAdd, options.ExpansionSearch, PayloadLength: 0));
    }

    /// <summary>Reads an index written by <see cref="Save(string)"/> into memory (writable; the file is not kept
    /// open).</summary>
    /// <param name="path">The file.</param>
    /// <returns>The index, with the options and <see cref="ExpansionSearch"/> it was saved with.</returns>
    /// <remarks>Checks everything before native code sees the bytes: header fields, both checksums (one sequential
    /// read of the file) and the structure of USearch's serialization.</remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid index; the message names the first failed
    /// check (truncated, magic, version, header checksum, header fields, size, payload checksum, payload structure).</exception>
    /// <exception cref="IOException">The file cannot be read or mapped.</exception>
    /// <exception cref="USearchException">The native library could not load the index (for example out of memory).</exception>
    public static USearchMipsIndex Load(string path) => Open(path, view: false);

    /// <summary>Opens an index written by <see cref="Save(string)"/> as a read-only memory-mapped view: the vectors and
    /// the graph stay in the OS page cache instead of being copied. Dispose it to unmap the file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The read-only index (<see cref="IsReadOnly"/>); <see cref="Add(ReadOnlySpan{float})"/> throws
    /// <see cref="InvalidOperationException"/>. Searches return what a loaded copy returns.</returns>
    /// <remarks>Checks everything before native code sees the bytes, as <see cref="Load(string)"/> does (which also
    /// warms the page cache). The file must not be modified while the view is open.</remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid index; the message names the first failed check.</exception>
    /// <exception cref="IOException">The file cannot be read or mapped.</exception>
    /// <exception cref="USearchException">The native library could not open the view.</exception>
    public static USearchMipsIndex View(string path) => Open(path, view: true);

    /// <summary>Frees the native index (and unmaps the file of a view). Idempotent; never throws; later use throws
    /// <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _native.Dispose();
        _contexts.Dispose();
    }

    private static NativeIndex CreateNative(int dimension, USearchOptions options)
    {
        if (dimension <= 0 || dimension > MaxDimension)
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, $"dimension must be in [1, {MaxDimension}], but is {dimension}.");
        }

        ArgumentNullException.ThrowIfNull(options);
        NativeIndex native = NativeIndex.Create(NativeScalarKind(options.ScalarKind), dimension, options.Connectivity, options.ExpansionAdd);
        try
        {
            native.EnsureThreads(s_threadContexts);
            return native;
        }
        catch
        {
            native.Dispose();
            throw;
        }
    }

    private static USearchMipsIndex Open(string path, bool view)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        EnsureLittleEndian();
        MappedFile file = MappedFile.OpenRead(path, USearchIndexFile.HeaderLength, out long length)
            ?? throw USearchIndexFile.Truncated(length, USearchIndexFile.HeaderLength);
        NativeIndex? native = null;
        try
        {
            USearchIndexFile.Header header = USearchIndexFile.Read(file);
            native = NativeIndex.Create(NativeScalarKind(header.ScalarKind), header.Dimension, header.Connectivity, header.ExpansionAdd);
            if (view)
            {
                native.View(file, USearchIndexFile.HeaderLength, header.PayloadLength);
            }
            else
            {
                native.Load(file, USearchIndexFile.HeaderLength, header.PayloadLength);
                file.Dispose();
            }

            if (native.Size != header.Count || native.Dimensions != header.Dimension)
            {
                throw new InvalidDataException($"USearch index file holds {native.Size} vectors of dimension {native.Dimensions} once loaded, but its header says {header.Count} of dimension {header.Dimension}.");
            }

            native.EnsureThreads(s_threadContexts);
            var options = new USearchOptions
            {
                ScalarKind = header.ScalarKind,
                Connectivity = header.Connectivity,
                ExpansionAdd = header.ExpansionAdd,
                ExpansionSearch = header.ExpansionSearch,
            };
            return new USearchMipsIndex(native, header.Dimension, options, header.Count, isReadOnly: view);
        }
        catch
        {
            // The native index goes first: a view reads the mapping until it is freed (disposal is idempotent).
            native?.Dispose();
            file.Dispose();
            throw;
        }
    }

    private static int NativeScalarKind(USearchScalarKind kind) => kind switch
    {
        USearchScalarKind.Float32 => NativeMethods.ScalarFloat32,
        USearchScalarKind.Float16 => NativeMethods.ScalarFloat16,
        _ => NativeMethods.ScalarBFloat16,
    };

    private static bool ProbeNativeLibrary()
    {
        try
        {
            return NativeIndex.Version().Length > 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return false;
        }
    }

    private static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("USearch index files hold USearch's serialization in the machine's byte order; they are read and written only on little-endian machines.");
        }
    }

    // The beam keeps max(k, ef) candidates; asking USearch for that many results (its own ef stays 1) searches with
    // exactly that beam, and the best k of them, in result order, are the answer.
    private int SearchCore(ReadOnlySpan<float> query, int k, int expansion, int count, Span<ScoredId> destination, MipsFilter? filter = null)
    {
        if (count == 0)
        {
            return 0;
        }

        int wanted = Math.Min(Math.Max(k, expansion), count);
        ulong[]? rentedKeys = null;
        float[]? rentedDistances = null;
        ScoredId[]? rentedCandidates = null;
        Span<ulong> keys = wanted <= StackCandidates ? stackalloc ulong[StackCandidates] : (rentedKeys = ArrayPool<ulong>.Shared.Rent(wanted));
        Span<float> distances = wanted <= StackCandidates ? stackalloc float[StackCandidates] : (rentedDistances = ArrayPool<float>.Shared.Rent(wanted));
        Span<ScoredId> candidates = wanted <= StackCandidates ? stackalloc ScoredId[StackCandidates] : (rentedCandidates = ArrayPool<ScoredId>.Shared.Rent(wanted));
        try
        {
            int found;
            _contexts.Wait();
            try
            {
                found = filter is null
                    ? _native.Search(query, keys[..wanted], distances[..wanted])
                    : _native.FilteredSearch(query, keys[..wanted], distances[..wanted], filter);
            }
            finally
            {
                _contexts.Release();
            }

            candidates = candidates[..found];
            for (int i = 0; i < found; i++)
            {
                candidates[i] = new ScoredId((int)keys[i], 1f - distances[i]);
            }

            candidates.Sort();
            int written = Math.Min(found, k);
            candidates[..written].CopyTo(destination);
            return written;
        }
        finally
        {
            if (rentedKeys is not null)
            {
                ArrayPool<ulong>.Shared.Return(rentedKeys);
                ArrayPool<float>.Shared.Return(rentedDistances!);
                ArrayPool<ScoredId>.Shared.Return(rentedCandidates!);
            }
        }
    }

    // Streams the stored vectors through a float buffer in blocks and keeps each query's best min(k, count) across
    // blocks; result rows are k apart, and slots past count keep ScoredId.None.
    private void ExactCore(ReadOnlySpan<float> queries, int queryCount, int k, int count, Span<ScoredId> results, int threads, CancellationToken token)
    {
        results.Fill(ScoredId.None);
        if (count == 0)
        {
            return;
        }

        int d = Dimension;
        int kept = Math.Min(k, count);
        int blockRows = (int)Math.Clamp(ExactChunkBytes / ((long)d * sizeof(float)), 1, count);
        int blockK = Math.Min(kept, blockRows);
        float[] block = ArrayPool<float>.Shared.Rent(blockRows * d);
        ulong[] keys = ArrayPool<ulong>.Shared.Rent(queryCount * blockK);
        float[] distances = ArrayPool<float>.Shared.Rent(queryCount * blockK);
        ScoredId[] merged = ArrayPool<ScoredId>.Shared.Rent(kept + blockK);
        try
        {
            for (int start = 0; start < count; start += blockRows)
            {
                token.ThrowIfCancellationRequested();
                int rows = Math.Min(blockRows, count - start);
                for (int r = 0; r < rows; r++)
                {
                    _native.CopyVector((ulong)(start + r), block.AsSpan(r * d, d));
                }

                int rowK = Math.Min(kept, rows);
                NativeIndex.ExactSearch(block, rows, queries, queryCount, d, rowK, threads, keys, distances);
                for (int q = 0; q < queryCount; q++)
                {
                    Span<ScoredId> best = results.Slice(q * k, kept);
                    Span<ScoredId> all = merged.AsSpan(0, kept + rowK);
                    best.CopyTo(all);
                    for (int i = 0; i < rowK; i++)
                    {
                        int at = (q * rowK) + i;
                        all[kept + i] = new ScoredId(start + (int)keys[at], 1f - distances[at]);
                    }

                    all.Sort();
                    all[..kept].CopyTo(best);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(block);
            ArrayPool<ulong>.Shared.Return(keys);
            ArrayPool<float>.Shared.Return(distances);
            ArrayPool<ScoredId>.Shared.Return(merged);
        }
    }

    // Rows equal (as float vectors, −0 = +0) to an earlier row of the same batch. USearch's neighbour heuristic keeps
    // only the first of several equidistant candidates, so identical vectors inserted at the same time can leave one of
    // them without incoming links (about 1 run in 100 with 8 copies among 300 vectors on 2 threads); inserting the
    // repeats one at a time after the rest, as a sequential build would, keeps every copy reachable.
    private static bool[]? FindRepeats(ReadOnlySpan<float> vectors, int dimension, int rows)
    {
        if (rows < 2)
        {
            return null;
        }

        ulong[] hashes = new ulong[rows];
        int[] order = new int[rows];
        for (int row = 0; row < rows; row++)
        {
            hashes[row] = RowHash(vectors.Slice(row * dimension, dimension));
            order[row] = row;
        }

        Array.Sort(hashes, order);
        bool[]? repeats = null;
        var distinct = new List<int>();
        for (int start = 0, end; start < rows; start = end)
        {
            for (end = start + 1; end < rows && hashes[end] == hashes[start]; end++)
            {
            }

            if (end - start == 1)
            {
                continue;
            }

            Array.Sort(order, start, end - start);
            distinct.Clear();
            for (int i = start; i < end; i++)
            {
                ReadOnlySpan<float> row = vectors.Slice(order[i] * dimension, dimension);
                bool repeat = false;
                foreach (int earlier in distinct)
                {
                    if (row.SequenceEqual(vectors.Slice(earlier * dimension, dimension)))
                    {
                        repeat = true;
                        break;
                    }
                }

                if (repeat)
                {
                    (repeats ??= new bool[rows])[order[i]] = true;
                }
                else
                {
                    distinct.Add(order[i]);
                }
            }
        }

        return repeats;
    }

    private static ulong RowHash(ReadOnlySpan<float> row)
    {
        ulong hash = 14695981039346656037UL;
        foreach (float value in row)
        {
            // Adding +0 turns −0 into +0, so that values equal as floats hash alike.
            hash = unchecked((hash ^ BitConverter.SingleToUInt32Bits(value + 0f)) * 1099511628211UL);
        }

        return hash;
    }

    // One native insertion under a thread context; returns the native error message, or null.
    private string? Insert(int id, ReadOnlySpan<float> vector)
    {
        _contexts.Wait();
        try
        {
            return _native.TryAdd((ulong)id, vector);
        }
        finally
        {
            _contexts.Release();
        }
    }

    private void EnsureCapacity(long required)
    {
        long capacity = _native.Capacity;
        if (required <= capacity)
        {
            return;
        }

        long doubled = Math.Min(Math.Max(2 * capacity, 64), int.MaxValue);
        _native.Reserve(Math.Max(required, doubled), s_threadContexts);
    }

    // Best effort: undo a partial insertion so that ids stay dense (removing an absent key does nothing).
    private void RemoveRange(int first, int rows)
    {
        for (int i = 0; i < rows; i++)
        {
            try
            {
                _native.Remove((ulong)(first + i));
            }
            catch (USearchException)
            {
                // Nothing more can be done for this key; the others are still worth removing.
            }
        }
    }

    // Float16 overflows to ∞ beyond ±65,504 and bfloat16 just below float's own limit; refuse such values instead of
    // letting USearch store or compare infinities.
    private void ValidateStorageRange(ReadOnlySpan<float> values, string paramName)
    {
        float limit = ScalarKind switch
        {
            USearchScalarKind.Float16 => Float16Max,
            USearchScalarKind.BFloat16 => BFloat16Max,
            _ => float.PositiveInfinity,
        };
        if (values.IsEmpty || float.IsPositiveInfinity(limit) || Math.Abs(TensorPrimitives.MaxMagnitude(values)) <= limit)
        {
            return;
        }

        for (int i = 0; i < values.Length; i++)
        {
            if (Math.Abs(values[i]) > limit)
            {
                throw new ArgumentException(
                    $"{paramName} holds {values[i]} at row {i / Dimension}, coordinate {i % Dimension}, which overflows {ScalarKind} (largest finite value {limit}).",
                    paramName);
            }
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_native.IsClosed, this);

    private void ThrowIfReadOnly()
    {
        if (IsReadOnly)
        {
            throw new InvalidOperationException("This USearch index is a read-only view of a file (USearchMipsIndex.View); open it with USearchMipsIndex.Load to add vectors.");
        }
    }
}
