// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Hashing;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Indexing.Codecs;
using Muvera.Prng;
using Muvera.Serialization;
using Muvera.Training;

namespace Muvera.Indexing;

/// <summary>
/// A flat MIPS index over quantized vectors (<see cref="FdeStorageKind.Int8"/> or
/// <see cref="FdeStorageKind.ProductQuantization"/>): every search scans all codes with SIMD integer kernels (the 4-bit
/// product-quantization "fast scan", or exact int8 dot products), then re-scores its best candidates against their
/// reconstructions. Many times smaller and faster than float32 (<see cref="FlatMipsIndex"/>), at approximate scores.
/// </summary>
/// <remarks>
/// <para>Training: the index keeps its first vectors as float32 and searches them exactly (<see cref="IsTrained"/> is
/// false, <see cref="IsExact"/> true) until it holds <see cref="FdeStorage.TrainingRows"/> vectors, or until
/// <see cref="Train(ReadOnlySpan{float})"/> is called. It then learns the quantizer from up to
/// <see cref="FdeStorage.MaxTrainingSample"/> of its vectors (a uniform sample drawn with <see cref="FdeStorage.Seed"/>),
/// encodes them and frees the floats; later adds are encoded with the same quantizer. Training is deterministic on
/// every CPU, SIMD width and thread count, and never happens again (a quantizer is saved with the index).</para>
/// <para>Search: the scan ranks every row by an integer approximation of its inner product with the query (exact
/// integer sums over quantized lookup tables or a quantized query) and returns the best k, ties to the lower id. A
/// score is <c>offset + step · sum</c>, the inner product with the row's reconstruction (<see cref="CopyVector"/>) up to
/// the rounding of the query's tables to bytes (measured: re-scoring the best 2k rows exactly against their
/// reconstructions found the same candidates).</para>
/// <para>Threading: searches may run concurrently; <see cref="Add(ReadOnlySpan{float})"/>, <see cref="Train(ReadOnlySpan{float})"/>,
/// <see cref="Save(string)"/> and <see cref="Dispose"/> need exclusive access.</para>
/// <para>File format: see <c>Serialization/README.md</c> ("Quantized MIPS index").</para>
/// </remarks>
public sealed class QuantizedMipsIndex : IMipsIndex
{
    internal const int HeaderLength = 64;
    internal const ushort FormatVersion = 2;
    private const ushort TrainedFlag = 1;
    private const int ChunkBytes = 1 << 26;
    private const long ParallelBytes = 1L << 22;
    private const int SegmentBytes = 1 << 20;
    private static readonly byte[] s_magic = "MVQFDE\0\0"u8.ToArray();
    private static readonly ParallelOptions s_defaultParallelOptions = new();

    private readonly int _dimension;
    private readonly List<byte[]> _chunks = [];
    private FlatMipsIndex? _pending;
    private FdeCodec? _codec;
    private int _rowsPerChunk;
    private int _count;
    private bool _disposed;

    /// <summary>Creates an empty, untrained index.</summary>
    /// <param name="dimension">The vector length, in [1, <see cref="FlatMipsIndex.MaxDimension"/>].</param>
    /// <param name="storage">A quantized storage (<see cref="FdeStorage.Int8"/> or
    /// <see cref="FdeStorage.ProductQuantization(int, int)"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="storage"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="storage"/> is a float kind (use <see cref="FlatMipsIndex"/>).</exception>
    public QuantizedMipsIndex(int dimension, FdeStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        if (dimension is <= 0 or > FlatMipsIndex.MaxDimension)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(dimension), dimension, $"dimension must be in [1, {FlatMipsIndex.MaxDimension}], but is {dimension}.");
        }

        if (!storage.IsQuantized)
        {
            ThrowHelper.ThrowArgument($"storage {storage} is not quantized; float storage belongs in a FlatMipsIndex.", nameof(storage));
        }

        _dimension = dimension;
        Storage = storage;
        _pending = new FlatMipsIndex(dimension, StoreElementType.Float32);
    }

    private QuantizedMipsIndex(FdeCodec codec)
    {
        _dimension = codec.Dimension;
        Storage = codec.Storage;
        SetCodec(codec);
    }

    /// <inheritdoc/>
    public int Dimension => _dimension;

    /// <inheritdoc/>
    public int Count => _count;

    /// <summary>True while the index is untrained (its vectors are float32 and searched exactly); false once trained.</summary>
    public bool IsExact => _codec is null;

    /// <summary>Whether the quantizer has been learned (and the vectors encoded).</summary>
    public bool IsTrained => _codec is not null;

    /// <summary>The storage kind and its training settings.</summary>
    public FdeStorage Storage { get; }

    /// <summary>Bytes held: codes (allocated capacity included), the quantizer's parameters, and float32 vectors while
    /// untrained.</summary>
    public long MemoryBytes
    {
        get
        {
            long bytes = _pending?.MemoryBytes ?? 0;
            foreach (byte[] chunk in _chunks)
            {
                bytes += chunk.LongLength;
            }

            return bytes + (_codec?.ParameterLength ?? 0);
        }
    }

    /// <summary>Learns the quantizer from <paramref name="sample"/> now (instead of waiting for
    /// <see cref="FdeStorage.TrainingRows"/> vectors), then encodes the vectors already added.</summary>
    /// <param name="sample">Row-major training vectors (at least one; up to <see cref="FdeStorage.MaxTrainingSample"/> of
    /// them are used).</param>
    /// <exception cref="ArgumentException">The sample is empty, ragged or not finite.</exception>
    /// <exception cref="InvalidOperationException">The index is already trained.</exception>
    public void Train(ReadOnlySpan<float> sample) => Train(sample, s_defaultParallelOptions);

    /// <summary>Learns the quantizer from <paramref name="sample"/> with a thread limit and cancellation (see
    /// <see cref="Train(ReadOnlySpan{float})"/>); a cancelled call changes nothing.</summary>
    /// <param name="sample">Row-major training vectors.</param>
    /// <param name="parallelOptions">Thread limit and cancellation token.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">The sample is empty, ragged or not finite.</exception>
    /// <exception cref="InvalidOperationException">The index is already trained.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
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
            throw new InvalidOperationException("The index is already trained; its codes depend on its quantizer, so it cannot be retrained (build a new index).");
        }

        float[] copy = sample.ToArray();
        FdeCodec codec = TrainCodec(rows, i => copy.AsSpan(i * _dimension, _dimension), parallelOptions);
        EncodePending(codec, parallelOptions);
    }

    /// <inheritdoc/>
    public int Add(ReadOnlySpan<float> vectors) => Add(vectors, s_defaultParallelOptions);

    /// <summary>Appends vectors (see <see cref="IMipsIndex.Add(ReadOnlySpan{float})"/>), encoding them on several
    /// threads; the add that brings the index to <see cref="FdeStorage.TrainingRows"/> vectors trains it first. All or
    /// nothing: a failed or cancelled add leaves the index unchanged.</summary>
    /// <param name="vectors">Row-major vectors, a multiple of <see cref="Dimension"/> long.</param>
    /// <param name="parallelOptions">Thread limit and cancellation of the training and encoding.</param>
    /// <returns>The id of the first added vector.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">A ragged length or a non-finite value.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
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

        if (_codec is { } codec)
        {
            EnsureCapacity(first + rows);
            EncodeRows(codec, vectors, first, parallelOptions);
            _count = first + rows;
            return first;
        }

        FlatMipsIndex pending = _pending!;
        pending.Add(vectors);
        _count = pending.Count;
        if (pending.Count >= Storage.TrainingRows)
        {
            try
            {
                int sampleCount = Math.Min(pending.Count, Storage.MaxTrainingSample);
                var random = new SplitMix64(SplitMix64.Mix((ulong)(uint)Storage.Seed, 0x5A4D504CUL));
                int[] sample = KMeans.SampleIndices(pending.Count, sampleCount, ref random);
                FdeCodec trained = TrainCodec(sampleCount, i => pending.Row(sample[i]), parallelOptions);
                EncodePending(trained, parallelOptions);
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

    /// <summary>Copies vector <paramref name="id"/> as the index holds it: its reconstruction once trained, the float32
    /// vector before.</summary>
    /// <param name="id">The vector's id, in [0, <see cref="Count"/>).</param>
    /// <param name="destination">Receives <see cref="Dimension"/> floats.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, Count).</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than the dimension.</exception>
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

        _codec.Decode(_chunks[id / _rowsPerChunk], id % _rowsPerChunk, destination);
    }

    /// <inheritdoc/>
    public int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results) => Search(query, k, results, s_defaultParallelOptions);

    /// <summary>Searches one query with a thread limit and cancellation (large indexes split the scan across threads).</summary>
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

    /// <summary>Searches one query among the vectors <paramref name="filter"/> allows: the scan skips the others, so the
    /// result is the search's top k restricted to the allowed vectors.</summary>
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
        return SearchCore(query, k, results, parallelOptions, filter);
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
        if (_codec is null)
        {
            _pending!.SearchBatch(queries, k, results, parallelOptions);
            return;
        }

        // One query per thread: each scan runs on one thread, so the results equal single searches.
        float[] queryCopy = queries.ToArray();
        var rows = new ScoredId[count * k];
        var single = new ParallelOptions { MaxDegreeOfParallelism = 1, CancellationToken = parallelOptions.CancellationToken };
        Parallel.For(0, count, parallelOptions, q =>
        {
            Span<ScoredId> row = rows.AsSpan(q * k, k);
            MipsArguments.SortAndPad(row, SearchCore(queryCopy.AsSpan(q * _dimension, _dimension), k, row, single, null));
        });
        rows.CopyTo(results);
    }

    /// <summary>Writes the index to a stream in the quantized index format.</summary>
    /// <param name="stream">A writable stream; it is not closed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Quantized index files are read and written on little-endian machines only.");
        }

        byte[] parameters = new byte[_codec?.ParameterLength ?? 0];
        _codec?.WriteParameters(parameters);
        Span<byte> header = stackalloc byte[HeaderLength];
        WriteHeader(header);
        stream.Write(header);
        WriteSection(stream, sink => sink(parameters));
        if (_codec is null)
        {
            WriteSection(stream, _pending!.WriteRowBytes);
        }
        else
        {
            WriteSection(stream, WriteCodeBytes);
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
    /// <exception cref="InvalidDataException">The file is not a quantized index of a supported version, or is truncated
    /// or corrupt (every byte is covered by a checksum); the message names the file and the first check that failed.</exception>
    public static QuantizedMipsIndex Load(string path)
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

    /// <summary>Reads an index from a stream positioned at its first byte; reads to the end of the stream.</summary>
    /// <param name="stream">A readable stream; it is not closed.</param>
    /// <returns>The index.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="InvalidDataException">The data is not a quantized index of a supported version, or is truncated
    /// or corrupt. Section lengths are checked against the header (and a seekable stream's length) before anything is
    /// allocated.</exception>
    public static QuantizedMipsIndex Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Quantized index files are read and written on little-endian machines only.");
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        if (stream.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false) < HeaderLength)
        {
            throw new InvalidDataException("Quantized index is truncated: the header is incomplete.");
        }

        (FdeStorage storage, int dimension, int count, bool trained, ushort version) = ReadHeader(header);
        bool xxHash = version >= 2;
        (int blockRows, int blockBytes) = FdeCodec.BlockShape(storage, dimension);
        long parameterLength = trained ? FdeCodec.ExpectedParameterLength(storage, dimension) : 0;
        long dataLength = trained
            ? (((long)count + blockRows - 1) / blockRows) * blockBytes
            : (long)count * dimension * sizeof(float);
        if (parameterLength > int.MaxValue)
        {
            throw new InvalidDataException($"Quantized index header is invalid: a {parameterLength}-byte quantizer is too large.");
        }

        if (stream.CanSeek)
        {
            long expected = 32 + parameterLength + dataLength;
            long remaining = stream.Length - stream.Position;
            if (remaining != expected)
            {
                throw new InvalidDataException(remaining < expected
                    ? $"Quantized index is truncated: {remaining} bytes after the header, expected {expected}."
                    : $"Quantized index has {remaining - expected} trailing bytes.");
            }
        }

        byte[] parameters = ReadSection(stream, parameterLength, "quantizer parameters (codebook)", xxHash)[0];
        QuantizedMipsIndex index;
        if (trained)
        {
            FdeCodec codec = FdeCodec.Read(storage, dimension, parameters);
            index = new QuantizedMipsIndex(codec);
            index.LoadCodes(stream, count, dataLength, xxHash);
        }
        else
        {
            index = new QuantizedMipsIndex(dimension, storage);
            List<byte[]> pieces = ReadSection(stream, dataLength, "float vectors", xxHash, dimension * sizeof(float));
            foreach (byte[] piece in pieces)
            {
                ReadOnlySpan<float> rows = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(piece);
                if (rows.IsEmpty)
                {
                    continue;
                }

                if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(rows))
                {
                    throw new InvalidDataException("Quantized index holds a non-finite float vector.");
                }

                index._pending!.Add(rows);
            }

            index._count = count;
        }

        if (!stream.CanSeek && stream.ReadByte() >= 0)
        {
            throw new InvalidDataException("Quantized index has trailing bytes after its data.");
        }

        return index;
    }

    /// <summary>Releases the codes; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        _pending?.Dispose();
        _chunks.Clear();
        _count = 0;
    }

    /// <summary>An empty index with this index's trained quantizer (compaction keeps the quantizer, so unchanged
    /// documents keep their codes and scores); an untrained index gives a new untrained one.</summary>
    internal QuantizedMipsIndex CreateEmptyLike() => _codec is null ? new QuantizedMipsIndex(_dimension, Storage) : new QuantizedMipsIndex(_codec);

    /// <summary>Whether vector <paramref name="id"/> is what this index stores for <paramref name="vector"/>: the same
    /// float32 values while untrained, the same reconstruction (hence codes) once trained.</summary>
    internal bool Stores(int id, ReadOnlySpan<float> vector)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_codec is null)
        {
            return _pending!.Stores(id, vector);
        }

        byte[] block = new byte[_codec.BlockBytes];
        int lane = id % _codec.BlockRows;
        _codec.Encode(vector, block, lane);
        float[] fresh = new float[_dimension];
        float[] stored = new float[_dimension];
        _codec.Decode(block, lane, fresh);
        CopyVector(id, stored);
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(fresh.AsSpan()).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(stored.AsSpan()));
    }

    /// <summary>The trained codec (tests).</summary>
    internal FdeCodec? Codec => _codec;

    private int SearchCore(ReadOnlySpan<float> query, int k, Span<ScoredId> results, ParallelOptions parallelOptions, MipsFilter? filter)
    {
        parallelOptions.CancellationToken.ThrowIfCancellationRequested();
        if (_codec is null)
        {
            return _pending!.Search(query, k, results, parallelOptions, filter);
        }

        if (_count == 0)
        {
            return 0;
        }

        using FdeCodecQuery prepared = _codec.Prepare(query);
        int pool = (int)Math.Min(_count, (long)k * prepared.CandidatesPerResult);
        TopKHeap heap = Scan(prepared, pool, parallelOptions, filter);
        if (pool == k)
        {
            return heap.CopySorted(results);
        }

        // A refinement stage re-scores the scan's candidates and keeps the best k.
        var candidates = new ScoredId[heap.Count];
        heap.CopySorted(candidates);
        for (int i = 0; i < candidates.Length; i++)
        {
            int id = candidates[i].Id;
            candidates[i] = new ScoredId(id, prepared.Refine(_chunks[id / _rowsPerChunk], id % _rowsPerChunk, candidates[i].Score));
        }

        Array.Sort(candidates);
        int found = Math.Min(k, candidates.Length);
        candidates.AsSpan(0, found).CopyTo(results);
        return found;
    }

    private TopKHeap Scan(FdeCodecQuery prepared, int pool, ParallelOptions parallelOptions, MipsFilter? filter)
    {
        FdeCodec codec = _codec!;
        int blockRows = codec.BlockRows;
        int segmentRows = Math.Max(1, SegmentBytes / codec.BlockBytes) * blockRows;
        var segments = new List<(int Start, int Rows)>();
        for (int start = 0; start < _count;)
        {
            int chunkEnd = Math.Min(_count, ((start / _rowsPerChunk) + 1) * _rowsPerChunk);
            int take = Math.Min(segmentRows, chunkEnd - start);
            segments.Add((start, take));
            start += take;
        }

        long bytes = ((long)_count + blockRows - 1) / blockRows * codec.BlockBytes;
        int threads = parallelOptions.MaxDegreeOfParallelism is > 0 and var limit ? limit : Environment.ProcessorCount;
        if (bytes < ParallelBytes || threads == 1 || segments.Count < 2)
        {
            var heap = new TopKHeap(pool);
            foreach ((int start, int rows) in segments)
            {
                parallelOptions.CancellationToken.ThrowIfCancellationRequested();
                ScanSegment(prepared, start, rows, heap, filter);
            }

            return heap;
        }

        var merged = new TopKHeap(pool);
        var gate = new Lock();
        Parallel.For(0, segments.Count, parallelOptions, () => new TopKHeap(pool), (s, _, heap) =>
        {
            parallelOptions.CancellationToken.ThrowIfCancellationRequested();
            ScanSegment(prepared, segments[s].Start, segments[s].Rows, heap, filter);
            return heap;
        }, heap =>
        {
            lock (gate)
            {
                merged.PushAll(heap);
            }
        });
        return merged;
    }

    private void ScanSegment(FdeCodecQuery prepared, int start, int rows, TopKHeap heap, MipsFilter? filter)
    {
        FdeCodec codec = _codec!;
        int inChunk = start % _rowsPerChunk;
        ReadOnlySpan<byte> blocks = _chunks[start / _rowsPerChunk].AsSpan(inChunk / codec.BlockRows * codec.BlockBytes);
        prepared.Scan(blocks, rows, start, heap, filter);
    }

    private FdeCodec TrainCodec(int sampleCount, RowSource rows, ParallelOptions parallelOptions) =>
        FdeCodec.Train(Storage, _dimension, rows, sampleCount, parallelOptions);

    // Encodes the float vectors kept so far with a new codec and switches to it; all or nothing.
    private void EncodePending(FdeCodec codec, ParallelOptions parallelOptions)
    {
        FlatMipsIndex pending = _pending!;
        int count = pending.Count;
        List<byte[]> previousChunks = [.. _chunks];
        int previousRowsPerChunk = _rowsPerChunk;
        SetCodec(codec);
        try
        {
            EnsureCapacity(count);
            int batch = 256;
            int batches = (count + batch - 1) / batch;
            Parallel.For(0, batches, parallelOptions, b =>
            {
                int first = b * batch;
                int rows = Math.Min(batch, count - first);
                float[] buffer = new float[rows * _dimension];
                for (int i = 0; i < rows; i++)
                {
                    pending.Row(first + i).CopyTo(buffer.AsSpan(i * _dimension));
                }

                EncodeInto(codec, buffer, first);
            });
        }
        catch
        {
            _codec = null;
            _chunks.Clear();
            _chunks.AddRange(previousChunks);
            _rowsPerChunk = previousRowsPerChunk;
            throw;
        }

        pending.Dispose();
        _pending = null;
    }

    private void SetCodec(FdeCodec codec)
    {
        _codec = codec;
        _rowsPerChunk = Math.Max(1, ChunkBytes / codec.BlockBytes) * codec.BlockRows;
    }

    private void EncodeRows(FdeCodec codec, ReadOnlySpan<float> vectors, int first, ParallelOptions parallelOptions)
    {
        int rows = vectors.Length / _dimension;
        if (rows < 64 || parallelOptions.MaxDegreeOfParallelism == 1)
        {
            EncodeInto(codec, vectors, first);
            return;
        }

        float[] copy = vectors.ToArray();
        const int batch = 64;
        Parallel.For(0, (rows + batch - 1) / batch, parallelOptions, b =>
        {
            int start = b * batch;
            int take = Math.Min(batch, rows - start);
            EncodeInto(codec, copy.AsSpan(start * _dimension, take * _dimension), first + start);
        });
    }

    // Encodes rows into their chunks; rows that share a chunk are written by one call per chunk piece.
    private void EncodeInto(FdeCodec codec, ReadOnlySpan<float> vectors, int first)
    {
        int rows = vectors.Length / _dimension;
        int row = 0;
        while (row < rows)
        {
            int id = first + row;
            int inChunk = id % _rowsPerChunk;
            int take = Math.Min(rows - row, _rowsPerChunk - inChunk);
            codec.Encode(vectors.Slice(row * _dimension, take * _dimension), _chunks[id / _rowsPerChunk], inChunk);
            row += take;
        }
    }

    private void EnsureCapacity(int rows)
    {
        FdeCodec codec = _codec!;
        while (true)
        {
            long capacity = _chunks.Count == 0 ? 0 : ((long)(_chunks.Count - 1) * _rowsPerChunk) + ChunkRows(_chunks[^1].Length);
            if (capacity >= rows)
            {
                return;
            }

            int lastRows = _chunks.Count == 0 ? 0 : ChunkRows(_chunks[^1].Length);
            if (_chunks.Count > 0 && lastRows < _rowsPerChunk)
            {
                // Grow the last chunk geometrically, up to the chunk size, in whole blocks.
                long needed = rows - ((long)(_chunks.Count - 1) * _rowsPerChunk);
                int grown = (int)Math.Min(_rowsPerChunk, Math.Max(needed, 2L * lastRows));
                byte[] chunk = _chunks[^1];
                Array.Resize(ref chunk, BlocksFor(grown) * codec.BlockBytes);
                _chunks[^1] = chunk;
            }
            else
            {
                int size = (int)Math.Min(_rowsPerChunk, Math.Max(rows - capacity, Math.Min(_rowsPerChunk, 64)));
                _chunks.Add(new byte[BlocksFor(size) * codec.BlockBytes]);
            }
        }
    }

    private int BlocksFor(int rows) => (rows + _codec!.BlockRows - 1) / _codec.BlockRows;

    private int ChunkRows(int bytes) => bytes / _codec!.BlockBytes * _codec.BlockRows;

    // The code bytes of rows 0..Count−1, block-padded, chunk by chunk.
    private void WriteCodeBytes(ByteSink sink)
    {
        for (int start = 0; start < _count; start += _rowsPerChunk)
        {
            int rows = Math.Min(_rowsPerChunk, _count - start);
            sink(_chunks[start / _rowsPerChunk].AsSpan(0, BlocksFor(rows) * _codec!.BlockBytes));
        }
    }

    private void LoadCodes(Stream stream, int count, long dataLength, bool xxHash)
    {
        if (count > 0)
        {
            EnsureCapacity(count);
        }

        var targets = new List<Memory<byte>>();
        for (int start = 0; start < count; start += _rowsPerChunk)
        {
            int rows = Math.Min(_rowsPerChunk, count - start);
            targets.Add(_chunks[start / _rowsPerChunk].AsMemory(0, BlocksFor(rows) * _codec!.BlockBytes));
        }

        ReadSectionInto(stream, dataLength, targets, "codes", xxHash);
        _count = count;
    }

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
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], _count);
        BinaryPrimitives.WriteInt32LittleEndian(header[32..], Storage.MaxTrainingSample);
        BinaryPrimitives.WriteInt32LittleEndian(header[36..], Storage.Iterations);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], Storage.Seed);
        BinaryPrimitives.WriteUInt16LittleEndian(header[44..], _codec is null ? (ushort)0 : TrainedFlag);
        header[46] = (byte)Storage.RefineBits;
        header[47] = (byte)Storage.RefineCandidates;
        BinaryPrimitives.WriteUInt16LittleEndian(header[48..], (ushort)Storage.RefineSubspaceDimension);
        BinaryPrimitives.WriteUInt64LittleEndian(header[56..], Fnv64.Append(Fnv64.Basis, header[..56]));
    }

    private static (FdeStorage Storage, int Dimension, int Count, bool Trained, ushort Version) ReadHeader(ReadOnlySpan<byte> header)
    {
        if (!header[..8].SequenceEqual(s_magic))
        {
            throw new InvalidDataException("Not a quantized MIPS index: the magic is wrong.");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (version is not (1 or FormatVersion))
        {
            throw new InvalidDataException($"Quantized index format version {version} is not supported (this library reads versions 1 and {FormatVersion}).");
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(header[56..]) != Fnv64.Append(Fnv64.Basis, header[..56]))
        {
            throw new InvalidDataException("Quantized index header checksum mismatch: the header is corrupt.");
        }

        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(header[44..]);
        if ((flags & ~TrainedFlag) != 0 || header[50..56].ContainsAnyExcept((byte)0))
        {
            throw new InvalidDataException("Quantized index header has unknown flags or non-zero reserved fields (written by a later version?).");
        }

        var kind = (FdeStorageKind)BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(header[12..]);
        int subspace = BinaryPrimitives.ReadUInt16LittleEndian(header[14..]);
        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        long count = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        FdeStorage storage;
        try
        {
            storage = kind switch
            {
                FdeStorageKind.Int8 when bits == 8 && subspace == 1 => FdeStorage.Int8,
                FdeStorageKind.ProductQuantization => FdeStorage.ProductQuantization(bits, subspace),
                _ => throw new InvalidDataException($"Quantized index header names storage kind {(int)kind} with {bits} bits and sub-space {subspace}, which is not a quantized storage."),
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
                    throw new InvalidDataException("Quantized index header gives a refinement stage to int8 storage.");
                }

                storage = storage.WithRefinement(refineBits, refineSubspace, refineCandidates);
            }
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Quantized index header holds invalid storage settings: {e.Message}", e);
        }

        if (dimension is <= 0 or > FlatMipsIndex.MaxDimension || count < 0 || count > int.MaxValue - 1)
        {
            throw new InvalidDataException($"Quantized index header is invalid: dimension {dimension}, count {count}.");
        }

        return (storage, dimension, (int)count, (flags & TrainedFlag) != 0, version);
    }

    // A section: u64 length, u64 checksum of the bytes (XxHash3 since format version 2, FNV-1a 64 in version 1), the
    // bytes; `pieces` is called twice (to hash, then to write).
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

    // Reads a section into pieces of at most 64 MB, each a multiple of `granularity` bytes.
    private static List<byte[]> ReadSection(Stream stream, long expectedLength, string what, bool xxHash, int granularity = 1)
    {
        var pieces = new List<byte[]>();
        var targets = new List<Memory<byte>>();
        int pieceBytes = Math.Max(1, ChunkBytes / granularity) * granularity;
        for (long done = 0; done < expectedLength || pieces.Count == 0;)
        {
            int size = (int)Math.Min(pieceBytes, expectedLength - done);
            byte[] piece = new byte[size];
            pieces.Add(piece);
            targets.Add(piece);
            done += size;
            if (size == 0)
            {
                break;
            }
        }

        ReadSectionInto(stream, expectedLength, targets, what, xxHash);
        return pieces;
    }

    private static void ReadSectionInto(Stream stream, long expectedLength, List<Memory<byte>> targets, string what, bool xxHash)
    {
        Span<byte> prefix = stackalloc byte[16];
        if (stream.ReadAtLeast(prefix, 16, throwOnEndOfStream: false) < 16)
        {
            throw new InvalidDataException($"Quantized index is truncated before its {what}.");
        }

        long length = BinaryPrimitives.ReadInt64LittleEndian(prefix);
        if (length != expectedLength)
        {
            throw new InvalidDataException($"Quantized index {what} section has length {length}; the header implies {expectedLength}.");
        }

        ulong fnv = Fnv64.Basis;
        var hash = new XxHash3();
        foreach (Memory<byte> target in targets)
        {
            if (stream.ReadAtLeast(target.Span, target.Length, throwOnEndOfStream: false) < target.Length)
            {
                throw new InvalidDataException($"Quantized index is truncated inside its {what}.");
            }

            if (xxHash)
            {
                hash.Append(target.Span);
            }
            else
            {
                fnv = Fnv64.Append(fnv, target.Span);
            }
        }

        if ((xxHash ? hash.GetCurrentHashAsUInt64() : fnv) != BinaryPrimitives.ReadUInt64LittleEndian(prefix[8..]))
        {
            throw new InvalidDataException($"Quantized index {what} checksum mismatch: the {what} are corrupt.");
        }
    }
}
