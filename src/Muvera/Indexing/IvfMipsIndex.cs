// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Hashing;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using Muvera.Indexing.Codecs;
using Muvera.Kernels;
using Muvera.Prng;
using Muvera.Serialization;
using Muvera.Training;

namespace Muvera.Indexing;

/// <summary>
/// An inverted-file (IVF) MIPS index over quantized vectors: k-means (L2) splits the vectors into <see cref="Lists"/>
/// lists, and a search scans only the <c>probes</c> lists whose centroids have the largest inner product with the query,
/// with the fast scan and refinement of the vectors' <see cref="FdeStorage"/> codec. With every list probed the scores
/// equal those of a <see cref="QuantizedMipsIndex"/> with the same storage and training.
/// </summary>
/// <remarks>
/// <para>Training: until <see cref="TrainingRows"/> vectors are held (or <see cref="Train(ReadOnlySpan{float})"/> is
/// called) the vectors are kept as float32 and searched exactly; then the codec and the centroids are trained on a sample
/// of them (at most the storage's <see cref="FdeStorage.MaxTrainingSample"/>, and at most 2^28 floats), every held vector
/// is encoded into its list, and later vectors are assigned and encoded as they are added. The centroids and codebooks
/// are fixed from then on.</para>
/// <para>Cost: a search computes the query's inner product with every centroid (<see cref="Lists"/> × dimension
/// multiply-adds), then scans the probed lists' codes (about <c>probes / Lists</c> of the vectors). Adding a vector
/// costs its distance to every centroid on top of its encoding.</para>
/// <para>Thread safety: searches may run concurrently with each other; adds, training and disposal must not run
/// concurrently with anything else (<see cref="MuveraIndex"/> guarantees this with its lock).</para>
/// </remarks>
public sealed class IvfMipsIndex : IMipsIndex
{
    internal const int HeaderLength = 64;

    internal const ushort FormatVersion = 1;

    /// <summary>The most lists an index may have.</summary>
    public const int MaxLists = 65_536;

    /// <summary>Vectors held per list for each list before training starts by itself (so that k-means has material).</summary>
    public const int TrainingRowsPerList = 8;

    private const ushort TrainedFlag = 1;

    // Rows per list segment: a multiple of every codec's block rows (16 or 1).
    private const int SegmentRows = 256;

    // Rows assigned per call of the cache-blocked nearest-centroid kernel.
    private const int AssignChunk = 64;

    private static readonly byte[] s_magic = "MVIVFDE\0"u8.ToArray();
    private static readonly ParallelOptions s_defaultParallelOptions = new();

    private readonly int _dimension;
    private readonly int _lists;
    private FlatMipsIndex? _pending;
    private FdeCodec? _codec;
    private float[] _centroids = [];
    private float[] _panels = [];
    private float[] _bias = [];
    private int _columns;
    private ListData[] _data = [];
    private int[] _listOf = [];
    private int[] _rowOf = [];
    private int _count;
    private int _probes = IvfMipsBackend.DefaultProbes;
    private bool _disposed;

    /// <summary>Creates an empty, untrained index.</summary>
    /// <param name="dimension">The vector length (1 … <see cref="FlatMipsIndex.MaxDimension"/>).</param>
    /// <param name="storage">A quantized storage (product quantization or int8).</param>
    /// <param name="lists">The list count (1 … <see cref="MaxLists"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> or <paramref name="lists"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="storage"/> is not quantized.</exception>
    public IvfMipsIndex(int dimension, FdeStorage storage, int lists)
    {
        ArgumentNullException.ThrowIfNull(storage);
        if (dimension is <= 0 or > FlatMipsIndex.MaxDimension)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(dimension), dimension, $"dimension must be in [1, {FlatMipsIndex.MaxDimension}], but is {dimension}.");
        }

        ValidateLists(lists);
        if (!storage.IsQuantized)
        {
            ThrowHelper.ThrowArgument($"storage {storage} is not quantized; an IVF index stores product-quantized or int8 codes (pq:…, int8).", nameof(storage));
        }

        _dimension = dimension;
        _lists = lists;
        Storage = storage;
        _pending = new FlatMipsIndex(dimension, StoreElementType.Float32);
    }

    /// <inheritdoc/>
    public int Dimension => _dimension;

    /// <inheritdoc/>
    public int Count => _count;

    /// <summary>True until the index is trained: the vectors are held as float32 and searched exactly.</summary>
    public bool IsExact => _codec is null;

    /// <summary>Whether the codec and the centroids are trained.</summary>
    public bool IsTrained => _codec is not null;

    /// <summary>How the vectors are stored once trained.</summary>
    public FdeStorage Storage { get; }

    /// <summary>The number of lists (k-means centroids).</summary>
    public int Lists => _lists;

    /// <summary>Vectors held before the index trains by itself: the storage's <see cref="FdeStorage.TrainingRows"/>, and
    /// at least <see cref="TrainingRowsPerList"/> per list.</summary>
    public int TrainingRows => (int)Math.Min(int.MaxValue, Math.Max(Storage.TrainingRows, (long)_lists * TrainingRowsPerList));

    /// <summary>The lists <see cref="Search(ReadOnlySpan{float}, int, Span{ScoredId})"/> scans (1 … <see cref="Lists"/>;
    /// a larger value scans every list). Default <see cref="IvfMipsBackend.DefaultProbes"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int Probes
    {
        get => _probes;
        set
        {
            if (value <= 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(Probes), value, $"Probes must be positive; got {value}.");
            }

            _probes = value;
        }
    }

    /// <summary>The sizes of the lists (empty before training).</summary>
    public IReadOnlyList<int> ListSizes
    {
        get
        {
            var sizes = new int[_data.Length];
            for (int l = 0; l < sizes.Length; l++)
            {
                sizes[l] = _data[l].Count;
            }

            return sizes;
        }
    }

    /// <summary>Bytes held: codes, ids, centroids and codebooks (or the float vectors before training).</summary>
    public long MemoryBytes
    {
        get
        {
            long bytes = _pending?.MemoryBytes ?? 0;
            foreach (ListData list in _data)
            {
                foreach (byte[] segment in list.Segments)
                {
                    bytes += segment.LongLength;
                }

                bytes += 4L * list.Ids.Count;
            }

            return bytes + (4L * (_centroids.LongLength + _panels.LongLength + _listOf.LongLength + _rowOf.LongLength)) + (_codec?.ParameterLength ?? 0);
        }
    }

    /// <summary>Trains the codec and the centroids on <paramref name="sample"/> (rows of <see cref="Dimension"/>) and
    /// encodes the vectors held so far.</summary>
    /// <param name="sample">The training vectors, row-major, finite, at least one.</param>
    /// <exception cref="ArgumentException">The sample is empty, not a whole number of rows, or holds a non-finite value.</exception>
    /// <exception cref="InvalidOperationException">The index is already trained.</exception>
    public void Train(ReadOnlySpan<float> sample) => Train(sample, s_defaultParallelOptions);

    /// <summary>Trains the codec and the centroids on <paramref name="sample"/>, in parallel (see <see cref="Train(ReadOnlySpan{float})"/>).</summary>
    /// <param name="sample">The training vectors, row-major, finite, at least one.</param>
    /// <param name="parallelOptions">Threads and cancellation (a cancelled call changes nothing).</param>
    /// <exception cref="ArgumentException">The sample is empty, not a whole number of rows, or holds a non-finite value.</exception>
    /// <exception cref="InvalidOperationException">The index is already trained.</exception>
    public void Train(ReadOnlySpan<float> sample, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int rows = MipsArguments.ValidateRows(sample, _dimension, nameof(sample));
        if (rows == 0)
        {
            ThrowHelper.ThrowArgument("sample is empty; training needs at least one vector.", nameof(sample));
        }

        if (_codec is not null)
        {
            throw new InvalidOperationException("The IVF index is already trained; its lists and codes depend on its centroids and quantizer, so it cannot be retrained (build a new index).");
        }

        TrainAndEncodePending(sample.ToArray(), rows, parallelOptions);
    }

    /// <inheritdoc/>
    public int Add(ReadOnlySpan<float> vectors) => Add(vectors, s_defaultParallelOptions);

    /// <summary>Adds vectors (all or nothing), assigning and encoding them in parallel; returns the id of the first.</summary>
    /// <param name="vectors">Rows of <see cref="Dimension"/>, finite.</param>
    /// <param name="parallelOptions">Threads and cancellation.</param>
    /// <returns>The id of the first vector added (ids are consecutive).</returns>
    /// <exception cref="ArgumentException">Not a whole number of rows, or a non-finite value.</exception>
    public int Add(ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int rows = MipsArguments.ValidateRows(vectors, _dimension, nameof(vectors));
        int first = _count;
        if ((long)first + rows > int.MaxValue - 1)
        {
            throw new InvalidOperationException($"The index holds {first} vectors; adding {rows} more would exceed the id range of {int.MaxValue - 1}.");
        }

        if (rows == 0)
        {
            return first;
        }

        if (_codec is not null)
        {
            AddEncoded(vectors, parallelOptions);
            return first;
        }

        FlatMipsIndex pending = _pending!;
        pending.Add(vectors);
        _count = pending.Count;
        if (pending.Count >= TrainingRows)
        {
            try
            {
                int sampleCount = (int)Math.Min(Math.Min(pending.Count, Storage.MaxTrainingSample), (1L << 28) / _dimension);
                sampleCount = Math.Max(sampleCount, Math.Min(pending.Count, _lists));
                var random = new SplitMix64(SplitMix64.Mix((ulong)(uint)Storage.Seed, 0x49564650UL));
                int[] chosen = KMeans.SampleIndices(pending.Count, sampleCount, ref random);
                Array.Sort(chosen);
                float[] sample = new float[(long)sampleCount * _dimension];
                for (int i = 0; i < sampleCount; i++)
                {
                    pending.Row(chosen[i]).CopyTo(sample.AsSpan(i * _dimension, _dimension));
                }

                TrainAndEncodePending(sample, sampleCount, parallelOptions);
            }
            catch
            {
                pending.Truncate(first);
                _count = first;
                throw;
            }
        }

        return first;
    }

    /// <summary>Writes the vector with id <paramref name="id"/> as stored (decoded once trained) into <paramref name="destination"/>.</summary>
    /// <param name="id">An id in [0, <see cref="Count"/>).</param>
    /// <param name="destination">At least <see cref="Dimension"/> floats.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public void CopyVector(int id, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)id >= (uint)_count)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(id), id, $"id {id} is outside [0, {_count}).");
        }

        if (destination.Length < _dimension)
        {
            ThrowHelper.ThrowDestinationTooShort(nameof(destination), destination.Length, _dimension);
        }

        if (_codec is null)
        {
            _pending!.CopyVector(id, destination);
            return;
        }

        ListData list = _data[_listOf[id]];
        int row = _rowOf[id];
        _codec.Decode(list.Segments[row / SegmentRows], row % SegmentRows, destination);
    }

    /// <summary>The list that holds vector <paramref name="id"/> (−1 before training).</summary>
    /// <param name="id">An id in [0, <see cref="Count"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is out of range.</exception>
    public int ListOf(int id)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)id >= (uint)_count)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(id), id, $"id {id} is outside [0, {_count}).");
        }

        return _codec is null ? -1 : _listOf[id];
    }

    /// <inheritdoc/>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results) => Search(query, k, results, _probes, null);

    /// <summary>The <paramref name="k"/> best vectors by (quantized) inner product among the <paramref name="probes"/>
    /// lists nearest the query (exact over every vector before training), best first.</summary>
    /// <param name="query">A vector of <see cref="Dimension"/> finite floats.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <param name="results">Receives min(k, found) results.</param>
    /// <param name="probes">Lists to scan (positive; more than <see cref="Lists"/> scans all).</param>
    /// <param name="filter">Only ids the filter allows, or null for all. With a filter, more lists are scanned (doubling
    /// the probes) until k allowed vectors are found or every list was scanned.</param>
    /// <returns>The number of results written.</returns>
    /// <exception cref="ArgumentException">A wrong query length or a non-finite value, or <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> or <paramref name="probes"/> is not positive.</exception>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results, int probes, MipsFilter? filter)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        MipsArguments.ValidateQuery(query, _dimension, nameof(query));
        MipsArguments.ValidateSearch(k, _count, results.Length, nameof(results));
        if (probes <= 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(probes), probes, $"probes must be positive; got {probes}.");
        }

        return SearchCore(query, k, results, probes, filter);
    }

    /// <inheritdoc/>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results) => SearchBatch(queries, k, results, s_defaultParallelOptions);

    /// <inheritdoc/>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int count = MipsArguments.ValidateRows(queries, _dimension, nameof(queries));
        MipsArguments.ValidateBatch(k, count, results.Length, nameof(results));
        float[] queryCopy = queries.ToArray();
        var rows = new ScoredId[(long)count * k];
        int probes = _probes;
        Parallel.For(0, count, parallelOptions, q =>
        {
            Span<ScoredId> row = rows.AsSpan(q * k, k);
            MipsArguments.SortAndPad(row, SearchCore(queryCopy.AsSpan(q * _dimension, _dimension), k, row, probes, null));
        });
        rows.CopyTo(results);
    }

    /// <inheritdoc/>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(_disposed, this);
        AtomicFile.Write(path, 1 << 20, Save);
    }

    /// <summary>Writes the index to <paramref name="stream"/>: a checksummed header, then checksummed sections (XxHash3):
    /// the codec's parameters, the centroids, the list sizes, the ids list by list and the codes list by list (or the
    /// float vectors before training).</summary>
    /// <param name="stream">A writable stream.</param>
    /// <exception cref="PlatformNotSupportedException">On a big-endian machine.</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("IVF index files are read and written on little-endian machines only.");
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        WriteHeader(header);
        stream.Write(header);
        if (_codec is null)
        {
            WriteSection(stream, _pending!.WriteRowBytes);
            return;
        }

        byte[] parameters = new byte[_codec.ParameterLength];
        _codec.WriteParameters(parameters);
        WriteSection(stream, sink => sink(parameters));
        WriteSection(stream, sink => sink(MemoryMarshal.AsBytes(_centroids.AsSpan())));
        int[] sizes = new int[_lists];
        for (int l = 0; l < _lists; l++)
        {
            sizes[l] = _data[l].Count;
        }

        WriteSection(stream, sink => sink(MemoryMarshal.AsBytes(sizes.AsSpan())));
        WriteSection(stream, sink =>
        {
            foreach (ListData list in _data)
            {
                sink(MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(list.Ids)));
            }
        });
        WriteSection(stream, sink =>
        {
            foreach (ListData list in _data)
            {
                for (int s = 0; s < list.Segments.Count; s++)
                {
                    int rows = Math.Min(SegmentRows, list.Count - (s * SegmentRows));
                    sink(list.Segments[s].AsSpan(0, BlocksFor(rows) * _codec.BlockBytes));
                }
            }
        });
    }

    /// <summary>Reads an index written by <see cref="Save(string)"/>.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The index.</returns>
    /// <exception cref="InvalidDataException">The file is not an IVF index, is truncated or corrupt (the message names the part).</exception>
    public static IvfMipsIndex Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        try
        {
            return Load(stream);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}': {e.Message}", e);
        }
    }

    /// <summary>Reads an index written by <see cref="Save(Stream)"/>.</summary>
    /// <param name="stream">A readable stream positioned at the index.</param>
    /// <returns>The index.</returns>
    /// <exception cref="InvalidDataException">The data is not an IVF index, is truncated or corrupt (the message names the part).</exception>
    public static IvfMipsIndex Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("IVF index files are read and written on little-endian machines only.");
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        if (stream.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false) < HeaderLength)
        {
            throw new InvalidDataException("IVF index is truncated: the header is incomplete.");
        }

        (FdeStorage storage, int dimension, int lists, int count, bool trained, int probes) = ReadHeader(header);
        var index = new IvfMipsIndex(dimension, storage, lists) { Probes = probes };
        if (!trained)
        {
            byte[] floats = ReadSection(stream, (long)count * dimension * sizeof(float), "float vectors");
            ReadOnlySpan<float> rows = MemoryMarshal.Cast<byte, float>(floats);
            if (!TensorPrimitives.IsFiniteAll(rows))
            {
                throw new InvalidDataException("IVF index holds a non-finite float vector.");
            }

            index._pending!.Add(rows);
            index._count = count;
            EnsureEnd(stream);
            return index;
        }

        long parameterLength = FdeCodec.ExpectedParameterLength(storage, dimension);
        if (parameterLength > int.MaxValue || (long)lists * dimension > Array.MaxLength)
        {
            throw new InvalidDataException($"IVF index header is invalid: {parameterLength} bytes of codebooks, {lists} × {dimension} centroid floats.");
        }

        FdeCodec codec = FdeCodec.Read(storage, dimension, ReadSection(stream, parameterLength, "quantizer parameters (codebook)"));
        float[] centroids = MemoryMarshal.Cast<byte, float>(ReadSection(stream, 4L * lists * dimension, "centroids")).ToArray();
        if (!TensorPrimitives.IsFiniteAll(centroids))
        {
            throw new InvalidDataException("IVF index centroids hold a non-finite value.");
        }

        int[] sizes = MemoryMarshal.Cast<byte, int>(ReadSection(stream, 4L * lists, "list sizes")).ToArray();
        long total = 0;
        long codeBytes = 0;
        (int blockRows, int blockBytes) = FdeCodec.BlockShape(storage, dimension);
        foreach (int size in sizes)
        {
            if (size < 0)
            {
                throw new InvalidDataException($"IVF index list sizes are invalid: a list holds {size} vectors.");
            }

            total += size;
            codeBytes += ((long)size + blockRows - 1) / blockRows * blockBytes;
        }

        if (total != count)
        {
            throw new InvalidDataException($"IVF index list sizes add up to {total}; the header counts {count} vectors.");
        }

        index.Install(codec, centroids);
        int[] ids = MemoryMarshal.Cast<byte, int>(ReadSection(stream, 4L * count, "ids")).ToArray();
        index.EnsureIdCapacity(count);
        index._listOf.AsSpan(0, count).Fill(-1);
        int next = 0;
        for (int l = 0; l < lists; l++)
        {
            ListData list = index._data[l];
            for (int r = 0; r < sizes[l]; r++)
            {
                int id = ids[next++];
                if ((uint)id >= (uint)count || index._listOf[id] != -1)
                {
                    throw new InvalidDataException($"IVF index ids are invalid: id {id} in list {l} is out of range or repeated.");
                }

                index._listOf[id] = l;
                index._rowOf[id] = r;
                list.Ids.Add(id);
            }
        }

        ReadCodes(stream, index, sizes, codeBytes);
        index._count = count;
        EnsureEnd(stream);
        return index;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        _pending?.Dispose();
        _data = [];
        _count = 0;
    }

    internal FdeCodec? Codec => _codec;

    // The centroids, lists × dimension (empty before training).
    internal ReadOnlySpan<float> Centroids => _centroids;

    // A new, empty index with the same storage, lists and (when trained) the same codec and centroids.
    internal IvfMipsIndex CreateEmptyLike()
    {
        var index = new IvfMipsIndex(_dimension, Storage, _lists) { Probes = _probes };
        if (_codec is not null)
        {
            index.Install(_codec, _centroids);
        }

        return index;
    }

    // Whether vector `id` holds what `vector` encodes to: the same list (nearest centroid) and the same codes.
    internal bool Stores(int id, ReadOnlySpan<float> vector)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_codec is null)
        {
            return _pending!.Stores(id, vector);
        }

        int[] nearest = new int[1];
        Assign(vector, nearest);
        if (nearest[0] != _listOf[id])
        {
            return false;
        }

        byte[] block = new byte[_codec.BlockBytes];
        int lane = _rowOf[id] % _codec.BlockRows;
        _codec.Encode(vector, block, lane);
        float[] fresh = new float[_dimension];
        float[] stored = new float[_dimension];
        _codec.Decode(block, lane, fresh);
        CopyVector(id, stored);
        return MemoryMarshal.AsBytes(fresh.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(stored.AsSpan()));
    }

    // Scan-code bytes per row: what a search reads for each row of a probed list.
    internal double ScanBytesPerRow => Storage.Kind == FdeStorageKind.Int8
        ? _dimension
        : FdeStorage.CodeBytes(Storage.Bits, Storage.Subspaces(_dimension));

    // The rows a search with `probes` scans for `query` (the sizes of its probed lists).
    internal long ScannedRows(ReadOnlySpan<float> query, int probes)
    {
        if (_codec is null)
        {
            return _count;
        }

        int[] order = RankLists(query);
        long rows = 0;
        for (int j = 0; j < Math.Min(probes, _lists); j++)
        {
            rows += _data[order[j]].Count;
        }

        return rows;
    }

    internal static void ValidateLists(int lists)
    {
        if (lists is < 1 or > MaxLists)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(lists), lists, $"lists must be in [1, {MaxLists}]; got {lists}.");
        }
    }

    private int SearchCore(ReadOnlySpan<float> query, int k, Span<ScoredId> results, int probes, MipsFilter? filter)
    {
        if (_codec is null)
        {
            return _pending!.Search(query, k, results, s_single, filter);
        }

        if (_count == 0)
        {
            return 0;
        }

        int[] order = RankLists(query);
        using FdeCodecQuery prepared = _codec.Prepare(query);
        int scanned = Math.Min(probes, _lists);
        while (true)
        {
            ScoredId[] found = ScanLists(prepared, order.AsSpan(0, scanned), k, filter);
            if (filter is null || found.Length >= Math.Min(k, filter.AllowedCount) || scanned == _lists)
            {
                found.AsSpan().CopyTo(results);
                return found.Length;
            }

            // Too few allowed vectors in the lists scanned: scan twice as many.
            scanned = (int)Math.Min(_lists, 2L * scanned);
        }
    }

    private static readonly ParallelOptions s_single = new() { MaxDegreeOfParallelism = 1 };

    // Lists by decreasing inner product of their centroid with the query (ties to the lower list).
    private int[] RankLists(ReadOnlySpan<float> query)
    {
        var scored = new ScoredId[_lists];
        for (int l = 0; l < _lists; l++)
        {
            scored[l] = new ScoredId(l, TensorPrimitives.Dot(query, _centroids.AsSpan(l * _dimension, _dimension)));
        }

        Array.Sort(scored);
        int[] order = new int[_lists];
        for (int l = 0; l < _lists; l++)
        {
            order[l] = scored[l].Id;
        }

        return order;
    }

    // Scans the lists (their rows numbered consecutively, list after list, while scanning), refines, and returns the best
    // k as vector ids, best first.
    private ScoredId[] ScanLists(FdeCodecQuery prepared, ReadOnlySpan<int> lists, int k, MipsFilter? filter)
    {
        long rows = 0;
        foreach (int l in lists)
        {
            rows += _data[l].Count;
        }

        if (rows == 0)
        {
            return [];
        }

        int pool = (int)Math.Min(rows, (long)k * prepared.CandidatesPerResult);
        var heap = new TopKHeap(pool);
        int[] starts = new int[lists.Length + 1];
        MipsFilter? local = filter is null ? null : new MipsFilter((int)rows);
        int start = 0;
        for (int j = 0; j < lists.Length; j++)
        {
            starts[j] = start;
            ListData list = _data[lists[j]];
            if (local is not null)
            {
                for (int r = 0; r < list.Count; r++)
                {
                    if (filter!.Allows(list.Ids[r]))
                    {
                        local.Allow(start + r);
                    }
                }
            }

            for (int s = 0; s < list.Segments.Count; s++)
            {
                int segmentRows = Math.Min(SegmentRows, list.Count - (s * SegmentRows));
                prepared.Scan(list.Segments[s], segmentRows, start + (s * SegmentRows), heap, local);
            }

            start += list.Count;
        }

        starts[lists.Length] = start;
        var candidates = new ScoredId[heap.Count];
        heap.CopySorted(candidates);
        bool refine = pool != Math.Min(rows, (long)k);
        for (int i = 0; i < candidates.Length; i++)
        {
            int position = candidates[i].Id;
            int j = Array.BinarySearch(starts, position);
            if (j < 0)
            {
                j = ~j - 1;
            }

            while (j + 1 < starts.Length && starts[j + 1] <= position)
            {
                // Empty lists share their start with the next one.
                j++;
            }

            ListData list = _data[lists[j]];
            int row = position - starts[j];
            float score = refine ? prepared.Refine(list.Segments[row / SegmentRows], row % SegmentRows, candidates[i].Score) : candidates[i].Score;
            candidates[i] = new ScoredId(list.Ids[row], score);
        }

        Array.Sort(candidates);
        return candidates.Length > k ? candidates[..k] : candidates;
    }

    private void TrainAndEncodePending(float[] sample, int rows, ParallelOptions parallelOptions)
    {
        FdeCodec codec = FdeCodec.Train(Storage, _dimension, i => sample.AsSpan(i * _dimension, _dimension), rows, parallelOptions);
        var settings = new KMeansSettings(Storage.Iterations, SplitMix64.Mix((ulong)(uint)Storage.Seed, 0x49564643UL), KMeansMetric.L2,
            KMeansInitialization.Random, Expanded: true);
        float[] centroids = KMeans.Train(sample.AsSpan(0, rows * _dimension), _dimension, _lists, settings, parallelOptions);
        FlatMipsIndex pending = _pending!;
        Install(codec, centroids);
        try
        {
            int held = pending.Count;
            _count = 0;
            const int batch = 1024;
            for (int first = 0; first < held; first += batch)
            {
                int take = Math.Min(batch, held - first);
                float[] rowsCopy = new float[(long)take * _dimension];
                for (int i = 0; i < take; i++)
                {
                    pending.Row(first + i).CopyTo(rowsCopy.AsSpan(i * _dimension, _dimension));
                }

                AddEncoded(rowsCopy, parallelOptions);
            }
        }
        catch
        {
            _codec = null;
            _data = [];
            _centroids = [];
            _panels = [];
            _bias = [];
            _count = pending.Count;
            throw;
        }

        pending.Dispose();
        _pending = null;
    }

    private void Install(FdeCodec codec, float[] centroids)
    {
        _codec = codec;
        _centroids = centroids;
        _columns = TokenCodecKernels.PadPanelColumns(_lists);
        _panels = new float[(long)_columns * _dimension];
        _bias = new float[_columns];
        TokenCodecKernels.PackCentroidPanels(centroids, _dimension, _panels, _bias);
        _data = new ListData[_lists];
        for (int l = 0; l < _lists; l++)
        {
            _data[l] = new ListData();
        }
    }

    // Nearest centroid (L2) of each row.
    private void Assign(ReadOnlySpan<float> rows, Span<int> lists)
    {
        float[] best = new float[lists.Length];
        TokenCodecKernels.NearestCentroids(SimdDispatch.Preferred, rows, _dimension, _panels, _columns, _bias, lists, best);
    }

    // Assigns and encodes rows (in parallel), then appends them to their lists; all or nothing.
    private void AddEncoded(ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        FdeCodec codec = _codec!;
        int rows = vectors.Length / _dimension;
        float[] copy = vectors.ToArray();
        int[] assigned = new int[rows];
        int blockRows = codec.BlockRows;
        int chunks = (rows + AssignChunk - 1) / AssignChunk;
        byte[] encoded = new byte[(long)((rows + blockRows - 1) / blockRows) * codec.BlockBytes];
        Parallel.For(0, chunks, parallelOptions, chunk =>
        {
            int start = chunk * AssignChunk;
            int take = Math.Min(AssignChunk, rows - start);
            ReadOnlySpan<float> part = copy.AsSpan(start * _dimension, take * _dimension);
            Assign(part, assigned.AsSpan(start, take));

            // AssignChunk is a multiple of the block rows, so each chunk encodes whole blocks of its own.
            codec.Encode(part, encoded.AsSpan(start / blockRows * codec.BlockBytes), 0);
        });

        int first = _count;
        EnsureIdCapacity(first + rows);
        int[] before = new int[_lists];
        for (int l = 0; l < _lists; l++)
        {
            before[l] = _data[l].Count;
        }

        try
        {
            for (int i = 0; i < rows; i++)
            {
                ListData list = _data[assigned[i]];
                int row = list.Count;
                if (row % SegmentRows == 0)
                {
                    list.Segments.Add(new byte[SegmentRows / blockRows * codec.BlockBytes]);
                }

                codec.CopyRow(encoded, i, list.Segments[row / SegmentRows], row % SegmentRows);
                list.Ids.Add(first + i);
                list.Count = row + 1;
                _listOf[first + i] = assigned[i];
                _rowOf[first + i] = row;
            }
        }
        catch
        {
            for (int l = 0; l < _lists; l++)
            {
                ListData list = _data[l];
                list.Count = before[l];
                list.Ids.RemoveRange(before[l], list.Ids.Count - before[l]);
                list.Segments.RemoveRange((before[l] + SegmentRows - 1) / SegmentRows, list.Segments.Count - ((before[l] + SegmentRows - 1) / SegmentRows));
            }

            throw;
        }

        _count = first + rows;
    }

    private void EnsureIdCapacity(int count)
    {
        if (_listOf.Length >= count)
        {
            return;
        }

        int capacity = (int)Math.Min(Array.MaxLength, Math.Max(count, Math.Max(1024, (long)_listOf.Length * 3 / 2)));
        Array.Resize(ref _listOf, capacity);
        Array.Resize(ref _rowOf, capacity);
    }

    private int BlocksFor(int rows) => (rows + _codec!.BlockRows - 1) / _codec.BlockRows;

    private void WriteHeader(Span<byte> header)
    {
        header.Clear();
        s_magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], (ushort)Storage.Kind);
        BinaryPrimitives.WriteUInt16LittleEndian(header[12..], (ushort)Storage.Bits);
        BinaryPrimitives.WriteUInt16LittleEndian(header[14..], (ushort)Storage.SubspaceDimension);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], _dimension);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], Storage.TrainingRows);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], _count);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], _lists);
        BinaryPrimitives.WriteInt32LittleEndian(header[32..], Storage.MaxTrainingSample);
        BinaryPrimitives.WriteInt32LittleEndian(header[36..], Storage.Iterations);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], Storage.Seed);
        BinaryPrimitives.WriteUInt16LittleEndian(header[44..], _codec is null ? (ushort)0 : TrainedFlag);
        header[46] = (byte)Storage.RefineBits;
        header[47] = (byte)Storage.RefineCandidates;
        BinaryPrimitives.WriteUInt16LittleEndian(header[48..], (ushort)Storage.RefineSubspaceDimension);
        BinaryPrimitives.WriteInt32LittleEndian(header[50..], _probes);
        BinaryPrimitives.WriteUInt64LittleEndian(header[56..], XxHash3.HashToUInt64(header[..56]));
    }

    private static (FdeStorage Storage, int Dimension, int Lists, int Count, bool Trained, int Probes) ReadHeader(ReadOnlySpan<byte> header)
    {
        if (!header[..8].SequenceEqual(s_magic))
        {
            throw new InvalidDataException("Not an IVF MIPS index: the magic is wrong.");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"IVF index format version {version} is not supported (this library reads version {FormatVersion}).");
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(header[56..]) != XxHash3.HashToUInt64(header[..56]))
        {
            throw new InvalidDataException("IVF index header checksum mismatch: the header is corrupt.");
        }

        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(header[44..]);
        if ((flags & ~TrainedFlag) != 0 || header[54..56].ContainsAnyExcept((byte)0))
        {
            throw new InvalidDataException("IVF index header has unknown flags or non-zero reserved fields (written by a later version?).");
        }

        var kind = (FdeStorageKind)BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(header[12..]);
        int subspace = BinaryPrimitives.ReadUInt16LittleEndian(header[14..]);
        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int count = BinaryPrimitives.ReadInt32LittleEndian(header[24..]);
        int lists = BinaryPrimitives.ReadInt32LittleEndian(header[28..]);
        int probes = BinaryPrimitives.ReadInt32LittleEndian(header[50..]);
        FdeStorage storage;
        try
        {
            storage = kind switch
            {
                FdeStorageKind.Int8 when bits == 8 && subspace == 1 => FdeStorage.Int8,
                FdeStorageKind.ProductQuantization => FdeStorage.ProductQuantization(bits, subspace),
                _ => throw new InvalidDataException($"IVF index header names storage kind {(int)kind} with {bits} bits and sub-space {subspace}, which is not a quantized storage."),
            };
            storage = storage with
            {
                TrainingRows = BinaryPrimitives.ReadInt32LittleEndian(header[20..]),
                MaxTrainingSample = BinaryPrimitives.ReadInt32LittleEndian(header[32..]),
                Iterations = BinaryPrimitives.ReadInt32LittleEndian(header[36..]),
                Seed = BinaryPrimitives.ReadInt32LittleEndian(header[40..]),
            };
            int refineBits = header[46], refineCandidates = header[47], refineSubspace = BinaryPrimitives.ReadUInt16LittleEndian(header[48..]);
            if (refineBits != 0 || refineCandidates != 0 || refineSubspace != 0)
            {
                if (kind != FdeStorageKind.ProductQuantization)
                {
                    throw new InvalidDataException("IVF index header gives a refinement stage to int8 storage.");
                }

                storage = storage.WithRefinement(refineBits, refineSubspace, refineCandidates);
            }
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"IVF index header holds invalid storage settings: {e.Message}", e);
        }

        if (dimension is <= 0 or > FlatMipsIndex.MaxDimension || count is < 0 or > int.MaxValue - 1 || lists is < 1 or > MaxLists || probes <= 0)
        {
            throw new InvalidDataException($"IVF index header is invalid: dimension {dimension}, count {count}, lists {lists}, probes {probes}.");
        }

        return (storage, dimension, lists, count, (flags & TrainedFlag) != 0, probes);
    }

    // A section: i64 length, u64 XxHash3 of the bytes, the bytes; `pieces` is called twice (to hash, then to write).
    private static void WriteSection(Stream stream, Action<ByteSink> pieces)
    {
        long length = 0;
        var hash = new XxHash3();
        pieces(piece =>
        {
            length += piece.Length;
            hash.Append(piece);
        });
        Span<byte> prefix = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, length);
        BinaryPrimitives.WriteUInt64LittleEndian(prefix[8..], hash.GetCurrentHashAsUInt64());
        stream.Write(prefix);
        pieces(stream.Write);
    }

    private static (long Length, ulong Checksum) ReadPrefix(Stream stream, long expectedLength, string what)
    {
        Span<byte> prefix = stackalloc byte[16];
        if (stream.ReadAtLeast(prefix, 16, throwOnEndOfStream: false) < 16)
        {
            throw new InvalidDataException($"IVF index is truncated before its {what}.");
        }

        long length = BinaryPrimitives.ReadInt64LittleEndian(prefix);
        if (length != expectedLength)
        {
            throw new InvalidDataException($"IVF index {what} section has length {length}; the header implies {expectedLength}.");
        }

        return (length, BinaryPrimitives.ReadUInt64LittleEndian(prefix[8..]));
    }

    private static byte[] ReadSection(Stream stream, long expectedLength, string what)
    {
        if (expectedLength > Array.MaxLength)
        {
            throw new InvalidDataException($"IVF index {what} section of {expectedLength} bytes is too large.");
        }

        (_, ulong checksum) = ReadPrefix(stream, expectedLength, what);
        byte[] bytes = new byte[expectedLength];
        if (stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length)
        {
            throw new InvalidDataException($"IVF index is truncated inside its {what}.");
        }

        if (XxHash3.HashToUInt64(bytes) != checksum)
        {
            throw new InvalidDataException($"IVF index {what} checksum mismatch: the {what} are corrupt.");
        }

        return bytes;
    }

    private static void ReadCodes(Stream stream, IvfMipsIndex index, int[] sizes, long codeBytes)
    {
        (_, ulong checksum) = ReadPrefix(stream, codeBytes, "codes");
        FdeCodec codec = index._codec!;
        var hash = new XxHash3();
        for (int l = 0; l < sizes.Length; l++)
        {
            ListData list = index._data[l];
            for (int start = 0; start < sizes[l]; start += SegmentRows)
            {
                int rows = Math.Min(SegmentRows, sizes[l] - start);
                byte[] segment = new byte[SegmentRows / codec.BlockRows * codec.BlockBytes];
                int bytes = index.BlocksFor(rows) * codec.BlockBytes;
                if (stream.ReadAtLeast(segment.AsSpan(0, bytes), bytes, throwOnEndOfStream: false) < bytes)
                {
                    throw new InvalidDataException("IVF index is truncated inside its codes.");
                }

                hash.Append(segment.AsSpan(0, bytes));
                list.Segments.Add(segment);
            }

            list.Count = sizes[l];
        }

        if (hash.GetCurrentHashAsUInt64() != checksum)
        {
            throw new InvalidDataException("IVF index codes checksum mismatch: the codes are corrupt.");
        }
    }

    private static void EnsureEnd(Stream stream)
    {
        if (stream.ReadByte() >= 0)
        {
            throw new InvalidDataException("IVF index has trailing bytes after its data.");
        }
    }

    private sealed class ListData
    {
        public List<byte[]> Segments { get; } = [];

        public List<int> Ids { get; } = [];

        public int Count { get; set; }
    }
}
