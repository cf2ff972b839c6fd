// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Serialization;

namespace Muvera.Indexing;

/// <summary>
/// The exact MIPS index: every search computes the inner product of the query with every stored vector (SIMD, in
/// parallel) and keeps the top k in a bounded heap. The embedded default backend: no native dependency, no training,
/// exact results.
/// </summary>
/// <remarks>
/// <para>Storage: <see cref="StoreElementType.Float32"/> keeps the vectors as given; <see cref="StoreElementType.Float16"/>
/// halves the memory (and the bytes a search reads) at about three significant digits per coordinate; scores are
/// always computed in float32 (half values are widened first).</para>
/// <para>Speed: a search streams the stored vectors once per block of up to 64 queries. Batches are tiled (4 queries ×
/// 4 vectors in registers, the dimension in chunks that stay in cache), so a batch of 64 queries costs little more
/// memory traffic than one query. Searches over more than about 4 million multiply-adds run on several threads.</para>
/// <para>Determinism: each score is the same float sum whatever the batch size, tiling or thread count, so a batch
/// search returns exactly what single searches return, at every thread count.</para>
/// <para>Threading: searches may run concurrently; <see cref="Add(ReadOnlySpan{float})"/>, <see cref="Save(string)"/>
/// and <see cref="Dispose"/> need exclusive access.</para>
/// <para>File format: see <c>Serialization/README.md</c> ("Flat MIPS index").</para>
/// </remarks>
public sealed class FlatMipsIndex : IMipsIndex
{
    /// <summary>The largest supported vector length (2^24 floats, 64 MB per vector; FDEs are at most 2^22).</summary>
    public const int MaxDimension = 1 << 24;

    /// <summary>Queries searched together in one pass over the vectors.</summary>
    internal const int QueryBlock = 64;

    /// <summary>Vectors per tile: their current depth chunk stays in the L2 cache while every query visits it.</summary>
    internal const int RowTile = 32;

    /// <summary>Depth chunk in floats: a 4-query group's chunk (16 KB) stays in the L1 cache across a row tile.</summary>
    internal const int ChunkFloats = 1024;

    internal const int HeaderLength = 64;
    internal const ushort FormatVersion = 1;

    private const int BlockFloats = 1 << 24;
    private const long ParallelThreshold = 1L << 22;
    private static readonly byte[] s_magic = "MVFLAT\0\0"u8.ToArray();

    private readonly int _dimension;
    private readonly int _rowsPerBlock;
    private readonly List<float[]> _floatBlocks = [];
    private readonly List<Half[]> _halfBlocks = [];
    private int _count;
    private bool _disposed;

    /// <summary>Creates an empty float32 index.</summary>
    /// <param name="dimension">The vector length (positive).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not in [1, <see cref="MaxDimension"/>].</exception>
    public FlatMipsIndex(int dimension)
        : this(dimension, StoreElementType.Float32)
    {
    }

    /// <summary>Creates an empty index with the given storage.</summary>
    /// <param name="dimension">The vector length (positive).</param>
    /// <param name="elementType">How each coordinate is stored.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not in [1, <see cref="MaxDimension"/>],
    /// or <paramref name="elementType"/> is not a defined value.</exception>
    public FlatMipsIndex(int dimension, StoreElementType elementType)
        : this(dimension, elementType, 0)
    {
    }

    /// <summary>Test seam: a block size of <paramref name="rowsPerBlock"/> vectors (0 = the default, 64 MB blocks).</summary>
    internal FlatMipsIndex(int dimension, StoreElementType elementType, int rowsPerBlock)
    {
        if (dimension is <= 0 or > MaxDimension)
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, $"dimension must be in [1, {MaxDimension}], but is {dimension}.");
        }

        if (elementType is not (StoreElementType.Float32 or StoreElementType.Float16))
        {
            throw new ArgumentOutOfRangeException(nameof(elementType), elementType, $"elementType {elementType} is not a defined storage type.");
        }

        _dimension = dimension;
        ElementType = elementType;
        _rowsPerBlock = rowsPerBlock > 0 ? rowsPerBlock : Math.Max(1, BlockFloats / dimension);
    }

    /// <inheritdoc/>
    public int Dimension => _dimension;

    /// <inheritdoc/>
    public int Count => _count;

    /// <summary>Always true: searches return the exact top k.</summary>
    public bool IsExact => true;

    /// <summary>How each coordinate is stored.</summary>
    public StoreElementType ElementType { get; }

    /// <summary>The bytes held for vectors (allocated capacity included).</summary>
    public long MemoryBytes
    {
        get
        {
            long elements = 0;
            foreach (float[] block in _floatBlocks)
            {
                elements += block.LongLength;
            }

            foreach (Half[] block in _halfBlocks)
            {
                elements += block.LongLength;
            }

            return elements * ElementSize;
        }
    }

    private int ElementSize => ElementType == StoreElementType.Float32 ? sizeof(float) : 2;

    /// <inheritdoc/>
    public int Add(ReadOnlySpan<float> vectors)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int rows = MipsArguments.ValidateRows(vectors, _dimension, nameof(vectors));
        int first = _count;
        if ((long)first + rows > int.MaxValue - 1)
        {
            throw new InvalidOperationException($"The index holds {first} vectors; adding {rows} more would exceed the id range of {int.MaxValue - 1}.");
        }

        EnsureCapacity(first + rows);
        int row = 0;
        while (row < rows)
        {
            int id = first + row;
            int block = id / _rowsPerBlock;
            int offset = id % _rowsPerBlock;
            int take = Math.Min(rows - row, _rowsPerBlock - offset);
            ReadOnlySpan<float> source = vectors.Slice(row * _dimension, take * _dimension);
            if (ElementType == StoreElementType.Float32)
            {
                source.CopyTo(_floatBlocks[block].AsSpan(offset * _dimension));
            }
            else
            {
                TensorPrimitives.ConvertToHalf(source, _halfBlocks[block].AsSpan(offset * _dimension));
            }

            row += take;
        }

        _count = first + rows;
        return first;
    }

    /// <summary>Copies stored vector <paramref name="id"/> into <paramref name="destination"/> (Float16 storage is
    /// widened to float), e.g. to build another backend from this index.</summary>
    /// <param name="id">The vector's id, in [0, <see cref="Count"/>).</param>
    /// <param name="destination">Receives <see cref="Dimension"/> floats.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, Count).</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than the dimension.</exception>
    public void CopyVector(int id, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)id >= (uint)_count)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, $"id {id} is outside [0, {_count}).");
        }

        if (destination.Length < _dimension)
        {
            throw new ArgumentException($"destination length {destination.Length} is shorter than the dimension {_dimension}.", nameof(destination));
        }

        int block = id / _rowsPerBlock;
        int offset = (id % _rowsPerBlock) * _dimension;
        if (ElementType == StoreElementType.Float32)
        {
            _floatBlocks[block].AsSpan(offset, _dimension).CopyTo(destination);
        }
        else
        {
            TensorPrimitives.ConvertToSingle(_halfBlocks[block].AsSpan(offset, _dimension), destination);
        }
    }

    /// <summary>Stored vector <paramref name="id"/> in place (Float32 storage only; no checks): the training source of a
    /// <see cref="QuantizedMipsIndex"/> that keeps its first vectors here.</summary>
    internal ReadOnlySpan<float> Row(int id)
    {
        System.Diagnostics.Debug.Assert(ElementType == StoreElementType.Float32 && (uint)id < (uint)_count);
        return _floatBlocks[id / _rowsPerBlock].AsSpan((id % _rowsPerBlock) * _dimension, _dimension);
    }

    /// <summary>Passes the stored vectors' bytes (little-endian, in id order) to <paramref name="sink"/>, piece by piece.</summary>
    internal void WriteRowBytes(ByteSink sink)
    {
        for (int row = 0, take; row < _count; row += take)
        {
            take = ChunkRows(row);
            sink(BlockBytes(row, take));
        }
    }

    /// <summary>Forgets vectors <paramref name="count"/> and later (their memory is kept for later adds).</summary>
    internal void Truncate(int count)
    {
        System.Diagnostics.Debug.Assert((uint)count <= (uint)_count);
        _count = count;
    }

    /// <summary>Whether vector <paramref name="id"/> is bit for bit what <see cref="Add(ReadOnlySpan{float})"/> stores for
    /// <paramref name="vector"/> (rounded to half precision the same way for Float16 storage).</summary>
    internal bool Stores(int id, ReadOnlySpan<float> vector)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Debug.Assert((uint)id < (uint)_count && vector.Length == _dimension);
        int block = id / _rowsPerBlock;
        int offset = (id % _rowsPerBlock) * _dimension;
        if (ElementType == StoreElementType.Float32)
        {
            return MemoryMarshal.AsBytes(_floatBlocks[block].AsSpan(offset, _dimension)).SequenceEqual(MemoryMarshal.AsBytes(vector));
        }

        Half[] rounded = new Half[_dimension];
        TensorPrimitives.ConvertToHalf(vector, rounded);
        return MemoryMarshal.AsBytes(_halfBlocks[block].AsSpan(offset, _dimension)).SequenceEqual(MemoryMarshal.AsBytes(rounded.AsSpan()));
    }

    /// <summary>Allocates room for <paramref name="capacity"/> vectors, so that adds up to it do not reallocate.</summary>
    /// <param name="capacity">The number of vectors to make room for.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is negative.</exception>
    public void Reserve(int capacity)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        EnsureCapacity(capacity);
    }

    /// <inheritdoc/>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results) =>
        Search(query, k, results, s_defaultParallelOptions);

    /// <summary>Searches one query with a thread limit and cancellation (large indexes split the vectors across threads).</summary>
    /// <param name="query">A vector of <see cref="Dimension"/> finite values.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <param name="results">Receives min(k, Count) results, best first.</param>
    /// <param name="parallelOptions">The thread limit and the cancellation token.</param>
    /// <returns>min(k, Count).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">A wrong query length, a non-finite value, or <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results, ParallelOptions parallelOptions) =>
        Search(query, k, results, parallelOptions, null);

    /// <summary>Searches one query among the vectors <paramref name="filter"/> allows (see
    /// <see cref="Search(ReadOnlySpan{float}, int, Span{ScoredId}, ParallelOptions)"/>): the exact top k of the allowed
    /// vectors.</summary>
    /// <param name="query">A vector of <see cref="Dimension"/> finite values.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <param name="results">Receives min(k, allowed) results, best first; at least min(k, Count) long.</param>
    /// <param name="parallelOptions">The thread limit and the cancellation token.</param>
    /// <param name="filter">The allowed ids, or null for all.</param>
    /// <returns>min(k, number of allowed vectors).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">A wrong query length, a non-finite value, or <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results, ParallelOptions parallelOptions, MipsFilter? filter)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        ObjectDisposedException.ThrowIf(_disposed, this);
        MipsArguments.ValidateQuery(query, _dimension, nameof(query));
        MipsArguments.ValidateSearch(k, _count, results.Length, nameof(results));
        TopKHeap[] heaps = SearchBlock(query, 1, k, parallelOptions, filter);
        return heaps[0].CopySorted(results);
    }

    /// <inheritdoc/>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results) =>
        SearchBatch(queries, k, results, s_defaultParallelOptions);

    /// <inheritdoc/>
    public void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int count = MipsArguments.ValidateRows(queries, _dimension, nameof(queries));
        MipsArguments.ValidateBatch(k, count, results.Length, nameof(results));
        for (int start = 0; start < count; start += QueryBlock)
        {
            int size = Math.Min(QueryBlock, count - start);
            TopKHeap[] heaps = SearchBlock(queries.Slice(start * _dimension, size * _dimension), size, k, parallelOptions, null);
            for (int q = 0; q < size; q++)
            {
                Span<ScoredId> row = results.Slice((start + q) * k, k);
                MipsArguments.SortAndPad(row, heaps[q].CopySorted(row));
            }
        }
    }

    /// <summary>Writes the index to a stream in the flat index format.</summary>
    /// <param name="stream">A writable stream; it is not closed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        EnsureLittleEndian();
        ulong checksum = Fnv64.Basis;
        for (int row = 0, take; row < _count; row += take)
        {
            take = ChunkRows(row);
            checksum = Fnv64.Append(checksum, BlockBytes(row, take));
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        header.Clear();
        s_magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], (ushort)ElementType);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], _dimension);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], _count);
        BinaryPrimitives.WriteUInt64LittleEndian(header[32..], checksum);
        BinaryPrimitives.WriteUInt64LittleEndian(header[56..], Fnv64.Append(Fnv64.Basis, header[..56]));
        stream.Write(header);
        for (int row = 0, take; row < _count; row += take)
        {
            take = ChunkRows(row);
            stream.Write(BlockBytes(row, take));
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(_disposed, this);
        AtomicFile.Write(path, 1 << 20, Save);
    }

    /// <summary>Reads an index that <see cref="Save(string)"/> wrote, into memory.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The index.</returns>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a flat index of a supported version, or is truncated
    /// or corrupt (every byte is covered by a checksum); the message names the first check that failed.</exception>
    public static FlatMipsIndex Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Load(stream);
    }

    /// <summary>Reads an index from a stream positioned at its first byte; reads to the end of the stream.</summary>
    /// <param name="stream">A readable stream; it is not closed.</param>
    /// <returns>The index.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="InvalidDataException">The data is not a flat index of a supported version, or is truncated or
    /// corrupt. A seekable stream's length is checked before any vector buffer is allocated; on a forward-only stream
    /// buffers are allocated as the data arrives, at most one 64 MB block beyond what the stream really holds.</exception>
    public static FlatMipsIndex Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        EnsureLittleEndian();
        Span<byte> header = stackalloc byte[HeaderLength];
        int read = stream.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false);
        if (read < HeaderLength)
        {
            throw new InvalidDataException($"Flat index is truncated: {read} bytes, shorter than the {HeaderLength}-byte header.");
        }

        if (!header[..8].SequenceEqual(s_magic))
        {
            throw new InvalidDataException("Not a flat MIPS index: the magic bytes are not \"MVFLAT\\0\\0\".");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Flat index format version {version} is not supported (this library reads version {FormatVersion}).");
        }

        ulong headerChecksum = BinaryPrimitives.ReadUInt64LittleEndian(header[56..]);
        if (headerChecksum != Fnv64.Append(Fnv64.Basis, header[..56]))
        {
            throw new InvalidDataException("Flat index header checksum mismatch: the header is corrupt.");
        }

        ushort elementType = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        if (elementType > 1)
        {
            throw new InvalidDataException($"Flat index element type {elementType} is unknown (0 = Float32, 1 = Float16).");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(header[12..]) != 0 || BinaryPrimitives.ReadUInt16LittleEndian(header[14..]) != 0 ||
            BinaryPrimitives.ReadInt32LittleEndian(header[20..]) != 0 || header[40..56].ContainsAnyExcept((byte)0))
        {
            throw new InvalidDataException("Flat index header has non-zero flags or reserved fields (written by a later version?).");
        }

        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        long count = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        if (dimension is <= 0 or > MaxDimension || count < 0 || count > int.MaxValue - 1)
        {
            throw new InvalidDataException($"Flat index header is invalid: dimension {dimension}, count {count}.");
        }

        var index = new FlatMipsIndex(dimension, (StoreElementType)elementType);
        long dataBytes;
        try
        {
            dataBytes = checked(count * dimension * index.ElementSize);
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"Flat index header is invalid: {count} vectors of dimension {dimension} overflow.");
        }

        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (remaining != dataBytes)
            {
                throw new InvalidDataException(remaining < dataBytes
                    ? $"Flat index is truncated: {remaining} data bytes, expected {dataBytes}."
                    : $"Flat index has {remaining - dataBytes} trailing bytes after its {dataBytes} data bytes.");
            }
        }

        // Blocks are allocated as their bytes arrive, so a lying count on a non-seekable stream fails at the real end.
        ulong checksum = Fnv64.Basis;
        int loaded = 0;
        while (loaded < count)
        {
            int take = (int)Math.Min(count - loaded, index._rowsPerBlock - (loaded % index._rowsPerBlock));
            index.EnsureCapacity(loaded + take);
            Span<byte> target = index.BlockBytes(loaded, take);
            int got = stream.ReadAtLeast(target, target.Length, throwOnEndOfStream: false);
            if (got < target.Length)
            {
                throw new InvalidDataException($"Flat index is truncated: the data ends inside vector {loaded + (got / (dimension * index.ElementSize))} of {count}.");
            }

            checksum = Fnv64.Append(checksum, target);
            loaded += take;
        }

        if (!stream.CanSeek && stream.ReadByte() >= 0)
        {
            throw new InvalidDataException("Flat index has trailing bytes after its data.");
        }

        if (checksum != BinaryPrimitives.ReadUInt64LittleEndian(header[32..]))
        {
            throw new InvalidDataException("Flat index data checksum mismatch: the vectors are corrupt.");
        }

        index._count = (int)count;
        index.EnsureFiniteContents();
        return index;
    }

    /// <summary>Releases the vectors; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        _floatBlocks.Clear();
        _halfBlocks.Clear();
        _count = 0;
    }

    // Never mutated: the default of every overload without ParallelOptions (all cores, no cancellation).
    private static readonly ParallelOptions s_defaultParallelOptions = new();

    /// <summary>Searches <paramref name="queryCount"/> (≤ <see cref="QueryBlock"/>) queries in one pass; returns a heap
    /// per query.</summary>
    private TopKHeap[] SearchBlock(ReadOnlySpan<float> queries, int queryCount, int k, ParallelOptions options, MipsFilter? filter)
    {
        options.CancellationToken.ThrowIfCancellationRequested();
        return SimdDispatch.Preferred switch
        {
            SimdWidth.Vector512 => SearchBlock<Lanes512, Vector512<float>>(queries, queryCount, k, options, filter),
            SimdWidth.Vector256 => SearchBlock<Lanes256, Vector256<float>>(queries, queryCount, k, options, filter),
            SimdWidth.Vector128 => SearchBlock<Lanes128, Vector128<float>>(queries, queryCount, k, options, filter),
            _ => SearchBlock<LanesScalar, float>(queries, queryCount, k, options, filter),
        };
    }

    internal TopKHeap[] SearchBlock<TLanes, TVec>(ReadOnlySpan<float> queries, int queryCount, int k, ParallelOptions options, MipsFilter? filter = null)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        // Segments: runs of whole row tiles inside one block, about a million multiply-adds per query each.
        int segmentRows = Math.Max(RowTile, ((1 << 20) / _dimension) / RowTile * RowTile);
        var segments = new List<(int Start, int Count)>();
        for (int start = 0; start < _count;)
        {
            int blockEnd = Math.Min(_count, ((start / _rowsPerBlock) + 1) * _rowsPerBlock);
            int take = Math.Min(segmentRows, blockEnd - start);
            segments.Add((start, take));
            start += take;
        }

        float[] queryCopy = queries.ToArray();
        long work = (long)_count * _dimension * queryCount;
        int threads = options.MaxDegreeOfParallelism is > 0 and var limit ? limit : Environment.ProcessorCount;
        if (work < ParallelThreshold || threads == 1 || segments.Count < 2)
        {
            var worker = new Worker<TLanes, TVec>(this, queryCopy, queryCount, k, filter);
            foreach ((int start, int rows) in segments)
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                worker.Scan(start, rows);
            }

            return worker.Heaps;
        }

        var merged = new TopKHeap[queryCount];
        for (int q = 0; q < queryCount; q++)
        {
            merged[q] = new TopKHeap(k);
        }

        var gate = new Lock();
        Parallel.For(0, segments.Count, options,
            () => new Worker<TLanes, TVec>(this, queryCopy, queryCount, k, filter),
            (s, _, worker) =>
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                worker.Scan(segments[s].Start, segments[s].Count);
                return worker;
            },
            worker =>
            {
                lock (gate)
                {
                    for (int q = 0; q < queryCount; q++)
                    {
                        merged[q].PushAll(worker.Heaps[q]);
                    }
                }
            });
        return merged;
    }

    private void EnsureCapacity(int rows)
    {
        while (true)
        {
            int blocks = ElementType == StoreElementType.Float32 ? _floatBlocks.Count : _halfBlocks.Count;
            long capacity = blocks == 0 ? 0 : ((long)(blocks - 1) * _rowsPerBlock) + LastBlockRows();
            if (capacity >= rows)
            {
                return;
            }

            int lastRows = blocks == 0 ? 0 : LastBlockRows();
            if (blocks > 0 && lastRows < _rowsPerBlock)
            {
                // Grow the last block geometrically, up to the block size.
                int needed = (int)Math.Min(_rowsPerBlock, rows - ((long)(blocks - 1) * _rowsPerBlock));
                int grown = (int)Math.Min(_rowsPerBlock, Math.Max(needed, 2L * lastRows));
                ResizeLast(grown);
            }
            else
            {
                int needed = (int)Math.Min(_rowsPerBlock, rows - capacity);
                int size = blocks == 0 ? Math.Max(needed, Math.Min(_rowsPerBlock, 64)) : needed;
                if (ElementType == StoreElementType.Float32)
                {
                    _floatBlocks.Add(new float[(long)size * _dimension]);
                }
                else
                {
                    _halfBlocks.Add(new Half[(long)size * _dimension]);
                }
            }
        }
    }

    private int LastBlockRows() => ElementType == StoreElementType.Float32
        ? _floatBlocks[^1].Length / _dimension
        : _halfBlocks[^1].Length / _dimension;

    private void ResizeLast(int rows)
    {
        if (ElementType == StoreElementType.Float32)
        {
            float[] block = _floatBlocks[^1];
            Array.Resize(ref block, rows * _dimension);
            _floatBlocks[^1] = block;
        }
        else
        {
            Half[] block = _halfBlocks[^1];
            Array.Resize(ref block, rows * _dimension);
            _halfBlocks[^1] = block;
        }
    }

    private Span<byte> BlockBytes(int firstRow, int rows)
    {
        int block = firstRow / _rowsPerBlock;
        int offset = (firstRow % _rowsPerBlock) * _dimension;
        return ElementType == StoreElementType.Float32
            ? MemoryMarshal.AsBytes(_floatBlocks[block].AsSpan(offset, rows * _dimension))
            : MemoryMarshal.AsBytes(_halfBlocks[block].AsSpan(offset, rows * _dimension));
    }

    /// <summary>Rows in the data chunk that starts at <paramref name="row"/> (bounded, and inside one block).</summary>
    private int ChunkRows(int row) => Math.Min(Math.Min(1 << 12, _count - row), _rowsPerBlock - (row % _rowsPerBlock));

    private void EnsureFiniteContents()
    {
        for (int row = 0; row < _count; row += _rowsPerBlock)
        {
            int rows = Math.Min(_rowsPerBlock, _count - row);
            int block = row / _rowsPerBlock;
            bool finite = ElementType == StoreElementType.Float32
                ? TensorPrimitives.IsFiniteAll(_floatBlocks[block].AsSpan(0, rows * _dimension))
                : TensorPrimitives.IsFiniteAll(_halfBlocks[block].AsSpan(0, rows * _dimension));
            if (!finite)
            {
                throw new InvalidDataException($"Flat index holds a non-finite value among vectors {row}..{row + rows - 1}.");
            }
        }
    }

    private static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Flat index files are read and written on little-endian machines only.");
        }
    }

    /// <summary>One thread's scan state: a heap per query, the tile accumulators and the Float16 widening scratch.</summary>
    private sealed class Worker<TLanes, TVec>
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        private readonly FlatMipsIndex _index;
        private readonly float[] _queries;
        private readonly int _queryCount;
        private readonly TVec[] _accumulators;
        private readonly float[] _scratch;
        private readonly float[] _tail;
        private readonly MipsFilter? _filter;

        public Worker(FlatMipsIndex index, float[] queries, int queryCount, int k, MipsFilter? filter)
        {
            _index = index;
            _filter = filter;
            _queries = queries;
            _queryCount = queryCount;
            Heaps = new TopKHeap[queryCount];
            for (int q = 0; q < queryCount; q++)
            {
                Heaps[q] = new TopKHeap(k);
            }

            _accumulators = new TVec[queryCount * RowTile];
            _scratch = index.ElementType == StoreElementType.Float16 ? new float[RowTile * ChunkFloats] : [];
            _tail = new float[TLanes.Count];
        }

        public TopKHeap[] Heaps { get; }

        public void Scan(int start, int rows)
        {
            int dimension = _index._dimension;
            int w = TLanes.Count;
            int vectors = dimension / w;
            int tailStart = vectors * w;
            int chunkVectors = ChunkFloats / w;
            int block = start / _index._rowsPerBlock;
            int blockRow = start % _index._rowsPerBlock;
            bool half = _index.ElementType == StoreElementType.Float16;
            float[] floats = half ? [] : _index._floatBlocks[block];
            Half[] halves = half ? _index._halfBlocks[block] : [];

            for (int tile = 0; tile < rows; tile += RowTile)
            {
                int tileRows = Math.Min(RowTile, rows - tile);
                int firstRow = blockRow + tile;
                Span<TVec> accumulators = _accumulators.AsSpan(0, _queryCount * tileRows);
                accumulators.Clear();
                for (int v = 0; v < vectors; v += chunkVectors)
                {
                    int vEnd = Math.Min(vectors, v + chunkVectors);
                    if (half)
                    {
                        int chunkStart = v * w;
                        int chunkLength = (vEnd - v) * w;
                        for (int r = 0; r < tileRows; r++)
                        {
                            TensorPrimitives.ConvertToSingle(
                                halves.AsSpan(((firstRow + r) * dimension) + chunkStart, chunkLength),
                                _scratch.AsSpan(r * ChunkFloats, chunkLength));
                        }

                        InnerProductKernels.AccumulateTile<TLanes, TVec>(_queries, _queryCount, dimension,
                            _scratch, tileRows, ChunkFloats, chunkStart, v, vEnd, accumulators);
                    }
                    else
                    {
                        InnerProductKernels.AccumulateTile<TLanes, TVec>(_queries, _queryCount, dimension,
                            floats.AsSpan(firstRow * dimension), tileRows, dimension, 0, v, vEnd, accumulators);
                    }
                }

                for (int r = 0; r < tileRows; r++)
                {
                    int rowOffset = (firstRow + r) * dimension;
                    ReadOnlySpan<float> rowTail;
                    if (half)
                    {
                        Span<float> tail = _tail.AsSpan(0, dimension - tailStart);
                        TensorPrimitives.ConvertToSingle(halves.AsSpan(rowOffset + tailStart, tail.Length), tail);
                        rowTail = tail;
                    }
                    else
                    {
                        rowTail = floats.AsSpan(rowOffset + tailStart, dimension - tailStart);
                    }

                    int id = start + tile + r;
                    if (_filter is not null && !_filter.Allows(id))
                    {
                        continue;
                    }

                    for (int q = 0; q < _queryCount; q++)
                    {
                        float score = InnerProductKernels.Finish<TLanes, TVec>(accumulators[(q * tileRows) + r],
                            _queries.AsSpan((q * dimension) + tailStart, dimension - tailStart), rowTail);
                        Heaps[q].Push(id, score);
                    }
                }
            }
        }
    }
}
