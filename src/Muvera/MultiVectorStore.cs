// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Interop;
using Muvera.Kernels;
using Muvera.Scoring.Codecs;
using Muvera.Serialization;

namespace Muvera;

/// <summary>
/// Append-only storage of many documents' token vectors: one contiguous token buffer plus token offsets (document
/// <c>i</c> owns tokens <c>offsets[i]..offsets[i+1]</c>). Documents get dense ids <c>0..Count−1</c> in insertion order.
/// </summary>
/// <remarks>
/// <para>Storage (<see cref="Storage"/>): <see cref="StoreElementType.Float32"/> keeps the floats as given (or
/// normalised); <see cref="StoreElementType.Float16"/> keeps <c>(Half)value</c>; <see cref="StoreElementType.Int8"/>
/// and <see cref="StoreElementType.Residual"/> keep codes of a learned codec (<see cref="TokenStorage"/>) and hold the
/// codes' reconstruction: <see cref="CopyTokens"/> and scoring see the decoded values. A quantized store must be
/// trained (<see cref="Train(ReadOnlySpan{float})"/>) before its first <see cref="Add"/>. In memory the token buffer is
/// one array, so a store holds at most <see cref="Array.MaxLength"/> coordinates (bytes, for quantized kinds).</para>
/// <para>Files: <see cref="Save(string)"/> writes the format in <c>src/Muvera/Serialization/README.md</c>
/// ("Multi-vector store", version 2); <see cref="Load(string)"/> memory-maps it read-only and verifies, at open, only
/// the header, the offsets, the codec's parameters and the table of block checksums; each block of token data
/// (about 64 KB) is verified against its XXH3-64 checksum the first time a reader touches it, so a corrupt block throws
/// <see cref="InvalidDataException"/> on first use and never scores. <see cref="Verify"/> checks every block at once.
/// Version 1 files (float kinds, FNV-1a) are still read, verified in full at open. A loaded store rejects
/// <see cref="Add"/> and must be disposed.</para>
/// <para>Thread safety: reads (<see cref="CopyTokens"/>, <see cref="GetDocument"/>, scoring, <see cref="Verify"/>) may
/// run concurrently with each other, not with <see cref="Add"/> or <see cref="Train(ReadOnlySpan{float})"/>.</para>
/// </remarks>
public sealed class MultiVectorStore : IDisposable
{
    internal const int HeaderLength = 64;
    internal const int HeaderLengthV2 = 128;
    internal const ushort FormatVersion = 2;
    private const ushort NormalizedFlag = 1;
    private const ushort TrainedFlag = 2;
    private const int ChunkBytes = 1 << 24;
    private const int TargetBlockBytes = 1 << 16;

    private readonly MappedFileView? _view;
    private readonly long _dataOffset;
    private readonly int _blockTokens;
    private readonly ulong[]? _blockChecksums;
    private readonly int[]? _verified;
    private readonly bool _rejectBeyondTokenLimit;
    private readonly string _source = "Multi-vector store";
    private long[] _offsets;
    private float[] _floats;
    private Half[] _halves;
    private byte[] _codes;
    private TokenCodec? _codec;
    private int _count;

    /// <summary>An empty in-memory <see cref="StoreElementType.Float32"/> store that keeps tokens as given.</summary>
    /// <param name="dimension">The dimension of every token vector; must be positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is zero or negative.</exception>
    public MultiVectorStore(int dimension)
        : this(dimension, StoreElementType.Float32, normalize: false)
    {
    }

    /// <summary>An empty in-memory float store.</summary>
    /// <param name="dimension">The dimension of every token vector; must be positive.</param>
    /// <param name="elementType">How coordinates are stored: Float32 or Float16 (the quantized kinds need their
    /// settings: use <see cref="MultiVectorStore(int, TokenStorage, bool)"/>).</param>
    /// <param name="normalize">Whether <see cref="Add"/> L2-normalises each token vector (a zero vector stays zero).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not positive or
    /// <paramref name="elementType"/> is not Float32 or Float16.</exception>
    public MultiVectorStore(int dimension, StoreElementType elementType, bool normalize)
        : this(dimension, FloatStorage(elementType), normalize)
    {
    }

    /// <summary>An empty in-memory store of any token storage; a quantized store must be trained before its first
    /// <see cref="Add"/>.</summary>
    /// <param name="dimension">The dimension of every token vector; must be positive.</param>
    /// <param name="storage">How tokens are stored.</param>
    /// <param name="normalize">Whether <see cref="Add"/> L2-normalises each token vector (a zero vector stays zero);
    /// training normalises its sample the same way.</param>
    /// <exception cref="ArgumentNullException"><paramref name="storage"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not positive.</exception>
    public MultiVectorStore(int dimension, TokenStorage storage, bool normalize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        ArgumentNullException.ThrowIfNull(storage);
        Dimension = dimension;
        Storage = storage;
        IsNormalized = normalize;
        RecordBytes = storage.BytesPerToken(dimension);
        _offsets = new long[4];
        _floats = [];
        _halves = [];
        _codes = [];
    }

    private MultiVectorStore(Layout layout, float[] floats, Half[] halves, byte[] codes, MappedFileView? view, bool rejectBeyondTokenLimit)
    {
        Dimension = layout.Dimension;
        Storage = layout.Storage;
        IsNormalized = layout.Normalized;
        RecordBytes = layout.Storage.BytesPerToken(layout.Dimension);
        _offsets = layout.Offsets;
        _count = layout.Count;
        TokenCount = layout.TokenCount;
        _floats = floats;
        _halves = halves;
        _codes = codes;
        _codec = layout.Codec;
        _view = view;
        _dataOffset = view is null ? 0 : layout.DataOffset;
        _rejectBeyondTokenLimit = rejectBeyondTokenLimit;
        if (view is not null)
        {
            _source = $"Multi-vector store '{view.Path}'";
        }

        if (view is not null && layout.BlockChecksums is not null)
        {
            _blockTokens = layout.BlockTokens;
            _blockChecksums = layout.BlockChecksums;
            _verified = new int[(layout.BlockChecksums.Length + 31) / 32];
        }
    }

    private MultiVectorStore(MultiVectorStore source, long[] offsets, float[] floats, Half[] halves, byte[] codes)
    {
        Dimension = source.Dimension;
        Storage = source.Storage;
        IsNormalized = source.IsNormalized;
        RecordBytes = source.RecordBytes;
        _offsets = offsets;
        _count = source._count;
        TokenCount = source.TokenCount;
        _floats = floats;
        _halves = halves;
        _codes = codes;
        _codec = source._codec;
    }

    /// <summary>The dimension of every token vector.</summary>
    public int Dimension { get; }

    /// <summary>How tokens are stored (the encoding and, for quantized kinds, the training settings).</summary>
    public TokenStorage Storage { get; }

    /// <summary>How coordinates are stored (<see cref="Storage"/>'s kind).</summary>
    public StoreElementType ElementType => Storage.Kind;

    /// <summary>Whether every token vector was L2-normalised on insert (zero vectors stay zero).</summary>
    public bool IsNormalized { get; }

    /// <summary>Whether the store can take documents: always for float kinds; for quantized kinds once its codec is
    /// trained (or loaded).</summary>
    public bool IsTrained => !Storage.IsQuantized || _codec is not null;

    /// <summary>The number of documents (the next id <see cref="Add"/> returns).</summary>
    public int Count => _count;

    /// <summary>The number of token vectors over all documents.</summary>
    public long TokenCount { get; private set; }

    /// <summary>The bytes the tokens take as stored: <see cref="TokenCount"/> × bytes per token
    /// (<see cref="TokenStorage.BytesPerToken"/>) plus, for a trained quantized store, its codec's parameters as saved
    /// (centroids, cut-offs, scales). Offsets and file headers are not counted.</summary>
    public long EncodedBytes => (TokenCount * RecordBytes) + (_codec?.ParameterLength ?? 0);

    /// <summary>Whether the store was loaded from a file (memory-mapped) and is therefore read-only.</summary>
    internal bool IsMapped => _view is not null;

    /// <summary>Bytes per token in the data section.</summary>
    internal int RecordBytes { get; }

    /// <summary>The trained codec of a quantized store, or null.</summary>
    internal TokenCodec? Codec => _codec;

    private int ElementSize => ElementType == StoreElementType.Float32 ? sizeof(float) : 2;

    /// <summary>Learns a quantized store's codec from <paramref name="sample"/> (see <see cref="TokenStorage"/>):
    /// int8 scales and offsets, or residual centroids and buckets. Every later <see cref="Add"/> uses it.</summary>
    /// <param name="sample">Row-major token vectors: at least <see cref="TokenStorage.MinTrainingTokens"/>, finite and
    /// below <see cref="FdeEncoder.TokenValueLimit"/> in magnitude; a normalising store normalises them first. The number
    /// of sample tokens sizes a residual codebook when <see cref="TokenStorage.Centroids"/> is not set.</param>
    /// <remarks>Deterministic (the same sample and settings give the same codec on every CPU, SIMD width and thread
    /// count); uses every core.</remarks>
    /// <exception cref="ArgumentException">The sample is ragged, too small, or holds a NaN, ∞ or too large value.</exception>
    /// <exception cref="InvalidOperationException">The store keeps float tokens (nothing to train), is already trained,
    /// or was loaded from a file.</exception>
    public void Train(ReadOnlySpan<float> sample)
    {
        if (!Storage.IsQuantized)
        {
            throw new InvalidOperationException($"This store keeps {Storage} tokens, which need no training.");
        }

        if (_view is not null || _codec is not null)
        {
            throw new InvalidOperationException($"This {Storage} store is already trained{(_view is not null ? " (it was loaded from a file)" : "")}; its codes depend on its codec, so it cannot be retrained.");
        }

        TokenCodec codec = TrainCodec(Storage, Dimension, IsNormalized, [sample.ToArray()], nameof(sample), new ParallelOptions());
        _codec = codec;
    }

    /// <summary>Trains a codec of <paramref name="storage"/> from documents' tokens (validated here; the caller installs
    /// it). Shared by <see cref="Train(ReadOnlySpan{float})"/> and <see cref="MuveraIndex"/>'s first batch.</summary>
    internal static TokenCodec TrainCodec(TokenStorage storage, int dimension, bool normalize, IReadOnlyList<ReadOnlyMemory<float>> documents,
        string paramName, ParallelOptions parallelOptions)
    {
        long tokens = 0;
        for (int i = 0; i < documents.Count; i++)
        {
            ReadOnlySpan<float> values = documents[i].Span;
            if (values.Length % dimension != 0)
            {
                ThrowHelper.ThrowRaggedLength(paramName, values.Length, dimension);
            }

            if (FdeKernels.HasOutOfRange(SimdDispatch.Preferred, values))
            {
                ThrowHelper.ThrowTokenValue(paramName, paramName, values, dimension);
            }

            tokens += values.Length / dimension;
        }

        if (tokens < TokenStorage.MinTrainingTokens)
        {
            ThrowHelper.ThrowArgument(
                $"{paramName} offers {tokens} token vectors; {storage} token storage trains on at least {TokenStorage.MinTrainingTokens}.", paramName);
        }

        return TokenCodec.Train(storage, dimension, new TokenSource(documents, dimension, normalize), parallelOptions);
    }

    /// <summary>Installs a codec trained outside (<see cref="MuveraIndex"/> trains from its first batch outside its
    /// lock); the store must be quantized, in memory and untrained.</summary>
    internal void SetCodec(TokenCodec? codec)
    {
        Debug.Assert(_view is null && Storage.IsQuantized && (codec is null ? _count == 0 : _codec is null));
        _codec = codec;
    }

    /// <summary>Appends one document.</summary>
    /// <param name="tokens">The document's token vectors, row-major; zero tokens is an empty document.</param>
    /// <returns>The new document's id (<see cref="Count"/> before the call).</returns>
    /// <remarks>Amortised O(|tokens|); the buffer grows by doubling. On any exception the store is unchanged.</remarks>
    /// <exception cref="ArgumentException">The length is not a multiple of <see cref="Dimension"/>, a value is NaN/∞,
    /// or (Float16) a value is too large for half precision; the message names the token and coordinate.</exception>
    /// <exception cref="InvalidOperationException">The store was loaded from a file (read-only), is full, or is a
    /// quantized store not trained yet.</exception>
    public int Add(ReadOnlySpan<float> tokens) => AddCore(tokens, IsNormalized);

    /// <summary>Appends values that are already what this store holds (normalised and rounded by
    /// <see cref="PrepareTokens"/> or copied out of a store of the same kind): no second normalisation, which is not
    /// the identity in float arithmetic. Float kinds only.</summary>
    internal int AddPrepared(ReadOnlySpan<float> tokens) => AddCore(tokens, normalize: false);

    /// <summary>Appends one document's records, encoded by this store's codec (quantized kinds).</summary>
    internal int AddEncoded(ReadOnlySpan<byte> records)
    {
        Debug.Assert(_codec is not null && records.Length % RecordBytes == 0);
        EnsureWritable();
        int n = records.Length / RecordBytes;
        long end = Reserve(n);
        records.CopyTo(_codes.AsSpan((int)(TokenCount * RecordBytes), records.Length));
        return Commit(n, end);
    }

    private void EnsureWritable()
    {
        if (_view is not null)
        {
            throw new InvalidOperationException("This multi-vector store was loaded from a file and is read-only; build a new store to add documents.");
        }

        if (_count >= int.MaxValue - 1)
        {
            throw new InvalidOperationException($"The store is full: it holds {_count} documents, the most an int id can address.");
        }
    }

    // Checks the capacity for n more tokens and grows the buffer; returns the new end in buffer units.
    private long Reserve(int n)
    {
        long units = Storage.IsQuantized ? RecordBytes : Dimension;
        long end = (TokenCount + n) * units;
        if (end > Array.MaxLength)
        {
            throw new InvalidOperationException($"The store is full: {end} {(Storage.IsQuantized ? "bytes" : "coordinates")} would exceed the {Array.MaxLength} an in-memory store can hold.");
        }

        switch (ElementType)
        {
            case StoreElementType.Float32:
                EnsureCapacity(ref _floats, (int)end);
                break;
            case StoreElementType.Float16:
                EnsureCapacity(ref _halves, (int)end);
                break;
            default:
                EnsureCapacity(ref _codes, (int)end);
                break;
        }

        if (_count + 2 > _offsets.Length)
        {
            Array.Resize(ref _offsets, (int)Math.Min((long)_offsets.Length * 2, Array.MaxLength));
        }

        return end;
    }

    private int Commit(int n, long end)
    {
        _ = end;
        int id = _count;
        _offsets[id + 1] = TokenCount + n;
        TokenCount += n;
        _count = id + 1;
        return id;
    }

    private int AddCore(ReadOnlySpan<float> tokens, bool normalize)
    {
        EnsureWritable();
        int d = Dimension;
        if (tokens.Length % d != 0)
        {
            ThrowHelper.ThrowRaggedLength(nameof(tokens), tokens.Length, d);
        }

        if (FdeKernels.HasNonFinite(SimdDispatch.Preferred, tokens))
        {
            ThrowHelper.ThrowNonFinite(nameof(tokens), tokens, d);
        }

        if (Storage.IsQuantized && _codec is null)
        {
            throw new InvalidOperationException($"This {Storage} store is not trained yet: call Train with a sample of token vectors before the first Add.");
        }

        int n = tokens.Length / d;
        long start = TokenCount * d;
        long end = Reserve(n);

        // Written past the committed end first; the document becomes visible only when the offsets advance. The
        // values go through PrepareTokens, the same normalisation and half rounding a caller can apply beforehand.
        if (ElementType == StoreElementType.Float32)
        {
            Span<float> destination = _floats.AsSpan((int)start, tokens.Length);
            tokens.CopyTo(destination);
            if (normalize)
            {
                PrepareTokens(destination, d, StoreElementType.Float32, normalize: true, nameof(tokens));
            }

            return Commit(n, end);
        }

        float[] prepared = ArrayPool<float>.Shared.Rent(Math.Max(1, tokens.Length));
        try
        {
            Span<float> values = prepared.AsSpan(0, tokens.Length);
            tokens.CopyTo(values);
            if (ElementType == StoreElementType.Float16)
            {
                PrepareTokens(values, d, StoreElementType.Float16, normalize, nameof(tokens));
                Span<Half> destination = _halves.AsSpan((int)start, tokens.Length);
                for (int i = 0; i < values.Length; i++)
                {
                    destination[i] = (Half)values[i];
                }
            }
            else
            {
                PrepareTokens(values, d, StoreElementType.Float32, normalize, nameof(tokens));
                _codec!.Encode(values, _codes.AsSpan((int)(TokenCount * RecordBytes), n * RecordBytes));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(prepared);
        }

        return Commit(n, end);
    }

    /// <summary>The number of token vectors of document <paramref name="id"/>.</summary>
    /// <param name="id">A document id in <c>[0, Count)</c>.</param>
    /// <returns>Its token count (0 for an empty document).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is out of range; the message names it and
    /// <see cref="Count"/>.</exception>
    public int TokenCountOf(int id)
    {
        ValidateId(id, nameof(id));
        return TokenCountUnchecked(id);
    }

    /// <summary>Copies document <paramref name="id"/>'s token vectors (as floats, row-major) into
    /// <paramref name="destination"/>.</summary>
    /// <param name="id">A document id in <c>[0, Count)</c>.</param>
    /// <param name="destination">At least <c>TokenCountOf(id) × Dimension</c> floats.</param>
    /// <remarks>Float16 values are converted exactly (every half is a float); quantized tokens are decoded (their
    /// reconstruction). Allocates nothing.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    /// <exception cref="ObjectDisposedException">The store was loaded from a file and has been disposed.</exception>
    /// <exception cref="InvalidDataException">A loaded store's block holding the document fails its checksum.</exception>
    public void CopyTokens(int id, Span<float> destination)
    {
        ValidateId(id, nameof(id));
        int length = TokenCountUnchecked(id) * Dimension;
        if (destination.Length < length)
        {
            ThrowHelper.ThrowDestinationTooShort(nameof(destination), destination.Length, length);
        }

        switch (ElementType)
        {
            case StoreElementType.Float32:
                FloatTokens(id).CopyTo(destination);
                break;
            case StoreElementType.Float16:
                ReadOnlySpan<Half> source = HalfTokens(id);
                for (int i = 0; i < source.Length; i++)
                {
                    destination[i] = (float)source[i];
                }

                break;
            default:
                DecodeTokens(id, 0, TokenCountUnchecked(id), destination, SimdDispatch.Preferred);
                break;
        }
    }

    /// <summary>Document <paramref name="id"/> as a view over the store's buffer (no copy); Float32 stores only.</summary>
    /// <param name="id">A document id in <c>[0, Count)</c>.</param>
    /// <returns>The view. For an in-memory store it stays valid while no later <see cref="Add"/> regrows the buffer
    /// (it then still shows the old, equal values); for a loaded store only until <see cref="Dispose"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is out of range.</exception>
    /// <exception cref="NotSupportedException">The store keeps another storage; use <see cref="CopyTokens"/>.</exception>
    /// <exception cref="ObjectDisposedException">The store was loaded from a file and has been disposed.</exception>
    /// <exception cref="InvalidDataException">A loaded store's block holding the document fails its checksum.</exception>
    public ReadOnlyMultiVector GetDocument(int id)
    {
        ValidateId(id, nameof(id));
        if (ElementType != StoreElementType.Float32)
        {
            throw new NotSupportedException($"GetDocument returns a view of float storage, but this store keeps {Storage}; use CopyTokens to convert a document to floats.");
        }

        EnsureVerified(id);
        int length = TokenCountUnchecked(id) * Dimension;
        long start = _offsets[id] * Dimension;
        ReadOnlyMemory<float> values = _view is not null
            ? _view.FloatMemory(_dataOffset + (start * sizeof(float)), length)
            : new ReadOnlyMemory<float>(_floats, (int)start, length);
        return new ReadOnlyMultiVector(values, Dimension);
    }

    /// <summary>Checks every block of a loaded store's token data against its checksum (and its values) now, instead of
    /// on first use; does nothing for an in-memory store or a version 1 file (verified in full when loaded).</summary>
    /// <remarks>One sequential pass over the unverified blocks (XXH3-64, many GB/s); blocks already verified are
    /// skipped. Safe to call concurrently with reads.</remarks>
    /// <exception cref="InvalidDataException">A block fails its checksum or holds an invalid value; the message names
    /// the block and its tokens.</exception>
    /// <exception cref="ObjectDisposedException">The store was loaded from a file and has been disposed.</exception>
    public void Verify()
    {
        ThrowIfDisposed();
        if (_blockChecksums is null)
        {
            return;
        }

        for (int block = 0; block < _blockChecksums.Length; block++)
        {
            if (!IsVerified(block))
            {
                VerifyBlock(block);
            }
        }
    }

    /// <summary>Whether every block of a loaded store has been verified (always true in memory).</summary>
    internal bool IsFullyVerified
    {
        get
        {
            if (_blockChecksums is null)
            {
                return true;
            }

            for (int block = 0; block < _blockChecksums.Length; block++)
            {
                if (!IsVerified(block))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Verifies the blocks holding document <paramref name="id"/> (the id is not validated).</summary>
    internal void EnsureVerified(int id)
    {
        if (_blockChecksums is null)
        {
            return;
        }

        long first = _offsets[id];
        long end = _offsets[id + 1];
        if (end == first)
        {
            return;
        }

        int firstBlock = (int)(first / _blockTokens);
        int lastBlock = (int)((end - 1) / _blockTokens);
        for (int block = firstBlock; block <= lastBlock; block++)
        {
            if (!IsVerified(block))
            {
                VerifyBlock(block);
            }
        }
    }

    /// <summary>Verifies the blocks holding every document of <paramref name="ids"/> (validated ids), so that a scorer's
    /// parallel loop never meets an unverified block.</summary>
    internal void EnsureVerified(ReadOnlySpan<int> ids)
    {
        if (_blockChecksums is null)
        {
            return;
        }

        foreach (int id in ids)
        {
            EnsureVerified(id);
        }
    }

    private bool IsVerified(int block) => (Volatile.Read(ref _verified![block >> 5]) & (1 << (block & 31))) != 0;

    // Hashes one block of the mapped data (XXH3-64) against the table, then checks its values; marks it verified.
    private void VerifyBlock(int block)
    {
        ThrowIfDisposed();
        long firstToken = (long)block * _blockTokens;
        int tokens = (int)Math.Min(_blockTokens, TokenCount - firstToken);
        ReadOnlySpan<byte> bytes = _view!.Bytes(_dataOffset + (firstToken * RecordBytes), tokens * RecordBytes);
        ulong actual = XxHash3.HashToUInt64(bytes);
        ulong stored = _blockChecksums![block];
        if (actual != stored)
        {
            throw new InvalidDataException(
                $"{_source} block {block} (tokens {firstToken}..{firstToken + tokens - 1}) fails its checksum (stored 0x{stored:X16}, computed 0x{actual:X16}): the token data is corrupt.");
        }

        CheckValues(bytes, block, firstToken);
        Interlocked.Or(ref _verified![block >> 5], 1 << (block & 31));
    }

    private void CheckValues(ReadOnlySpan<byte> bytes, int block, long firstToken)
    {
        switch (ElementType)
        {
            case StoreElementType.Float32:
                ReadOnlySpan<float> values = MemoryMarshal.Cast<byte, float>(bytes);
                if (FdeKernels.HasOutOfRange(SimdDispatch.Preferred, values))
                {
                    if (FdeKernels.HasNonFinite(SimdDispatch.Preferred, values))
                    {
                        throw new InvalidDataException($"{_source} block {block} (from token {firstToken}) holds a NaN or infinite value; token vectors must be finite.");
                    }

                    if (_rejectBeyondTokenLimit)
                    {
                        throw new InvalidDataException(
                            $"{_source} block {block} (from token {firstToken}) holds a value of magnitude {FdeEncoder.TokenValueLimit} (FdeEncoder.TokenValueLimit) or more, which no index add accepts.");
                    }
                }

                break;
            case StoreElementType.Float16:
                if (HasNonFiniteHalf(MemoryMarshal.Cast<byte, ushort>(bytes)))
                {
                    throw new InvalidDataException($"{_source} block {block} (from token {firstToken}) holds a NaN or infinite value; token vectors must be finite.");
                }

                break;
            default:
                _codec!.ValidateRecords(bytes);
                break;
        }
    }

    /// <summary>Writes the store in the multi-vector store format (version 2) to <paramref name="stream"/> (from its
    /// current position).</summary>
    /// <param name="stream">A writable stream.</param>
    /// <remarks>One pass over the data to compute the block checksums, then one to write it. A loaded store verifies
    /// every block first, so corrupt data is never written out under fresh checksums.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The store was loaded from a file and has been disposed.</exception>
    /// <exception cref="InvalidDataException">A loaded store's block fails its checksum.</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        EnsureLittleEndian();
        ThrowIfDisposed();
        Verify();
        int count = _count;
        long offsetsLength = ((long)count + 1) * sizeof(long);
        byte[] parameters = _codec is null ? [] : new byte[_codec.ParameterLength];
        _codec?.WriteParameters(parameters);
        int blockTokens = BlockTokensFor(RecordBytes);
        long blocks = (TokenCount + blockTokens - 1) / blockTokens;
        long parametersOffset = AlignTo64(HeaderLengthV2 + offsetsLength);
        long tableOffset = AlignTo64(parametersOffset + parameters.Length);
        long dataOffset = AlignTo64(tableOffset + (blocks * sizeof(ulong)));
        long dataLength = TokenCount * RecordBytes;

        byte[] offsetBytes = new byte[offsetsLength];
        for (int i = 0; i <= count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(offsetBytes.AsSpan(i * sizeof(long)), _offsets[i]);
        }

        byte[] table = new byte[blocks * sizeof(ulong)];
        for (long block = 0; block < blocks; block++)
        {
            long first = block * blockTokens;
            int tokens = (int)Math.Min(blockTokens, TokenCount - first);
            BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan((int)(block * sizeof(ulong))), XxHash3.HashToUInt64(DataBytes(first * RecordBytes, tokens * RecordBytes)));
        }

        Span<byte> header = stackalloc byte[HeaderLengthV2];
        header.Clear();
        "MVSTORE\0"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], (ushort)ElementType);
        BinaryPrimitives.WriteUInt16LittleEndian(header[12..], (ushort)((IsNormalized ? NormalizedFlag : 0) | (_codec is not null ? TrainedFlag : 0)));
        BinaryPrimitives.WriteUInt16LittleEndian(header[14..], (ushort)Storage.Bits);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], Dimension);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], RecordBytes);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], count);
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], TokenCount);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], blockTokens);
        BinaryPrimitives.WriteInt32LittleEndian(header[44..], Storage.Centroids ?? 0);
        BinaryPrimitives.WriteInt32LittleEndian(header[48..], Storage.MaxTrainingSample);
        BinaryPrimitives.WriteInt32LittleEndian(header[52..], Storage.IsQuantized ? Storage.Iterations : 0);
        BinaryPrimitives.WriteInt32LittleEndian(header[56..], Storage.IsQuantized ? Storage.Seed : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(header[64..], XxHash3.HashToUInt64(offsetBytes));
        BinaryPrimitives.WriteInt64LittleEndian(header[72..], parameters.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(header[80..], XxHash3.HashToUInt64(parameters));
        BinaryPrimitives.WriteUInt64LittleEndian(header[88..], XxHash3.HashToUInt64(table));
        BinaryPrimitives.WriteUInt64LittleEndian(header[120..], XxHash3.HashToUInt64(header[..120]));
        stream.Write(header);
        stream.Write(offsetBytes);
        Span<byte> padding = stackalloc byte[64];
        padding.Clear();
        stream.Write(padding[..(int)(parametersOffset - HeaderLengthV2 - offsetsLength)]);
        stream.Write(parameters);
        stream.Write(padding[..(int)(tableOffset - parametersOffset - parameters.Length)]);
        stream.Write(table);
        stream.Write(padding[..(int)(dataOffset - tableOffset - table.Length)]);
        for (long position = 0; position < dataLength;)
        {
            ReadOnlySpan<byte> chunk = DataBytes(position, (int)Math.Min(ChunkBytes, dataLength - position));
            stream.Write(chunk);
            position += chunk.Length;
        }
    }

    /// <summary>Writes a float store in the old format version 1 (FNV-1a checksums over everything): tests use it to
    /// check that version 1 files are still read.</summary>
    internal void SaveVersion1(Stream stream)
    {
        Debug.Assert(!Storage.IsQuantized);
        EnsureLittleEndian();
        ThrowIfDisposed();
        int count = _count;
        long offsetsLength = ((long)count + 1) * sizeof(long);
        long dataOffset = AlignTo64(HeaderLength + offsetsLength);
        long dataLength = TokenCount * Dimension * ElementSize;

        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            ulong offsetsChecksum = Fnv64.Basis;
            for (long written = 0; written < offsetsLength;)
            {
                int bytes = FillOffsetBytes(buffer, written, (int)Math.Min(ChunkBytes, offsetsLength - written));
                offsetsChecksum = Fnv64.Append(offsetsChecksum, buffer.AsSpan(0, bytes));
                written += bytes;
            }

            ulong dataChecksum = Fnv64.Basis;
            for (long position = 0; position < dataLength;)
            {
                ReadOnlySpan<byte> chunk = DataBytes(position, (int)Math.Min(ChunkBytes, dataLength - position));
                dataChecksum = Fnv64.Append(dataChecksum, chunk);
                position += chunk.Length;
            }

            Span<byte> header = stackalloc byte[HeaderLength];
            header.Clear();
            "MVSTORE\0"u8.CopyTo(header);
            BinaryPrimitives.WriteUInt16LittleEndian(header[8..], 1);
            BinaryPrimitives.WriteUInt16LittleEndian(header[10..], (ushort)ElementType);
            BinaryPrimitives.WriteUInt16LittleEndian(header[12..], IsNormalized ? NormalizedFlag : (ushort)0);
            BinaryPrimitives.WriteInt32LittleEndian(header[16..], Dimension);
            BinaryPrimitives.WriteInt64LittleEndian(header[24..], count);
            BinaryPrimitives.WriteInt64LittleEndian(header[32..], TokenCount);
            BinaryPrimitives.WriteUInt64LittleEndian(header[40..], offsetsChecksum);
            BinaryPrimitives.WriteUInt64LittleEndian(header[48..], dataChecksum);
            BinaryPrimitives.WriteUInt64LittleEndian(header[56..], Fnv64.Append(Fnv64.Basis, header[..56]));
            stream.Write(header);

            for (long written = 0; written < offsetsLength;)
            {
                int bytes = FillOffsetBytes(buffer, written, (int)Math.Min(ChunkBytes, offsetsLength - written));
                stream.Write(buffer, 0, bytes);
                written += bytes;
            }

            Span<byte> padding = stackalloc byte[64];
            padding.Clear();
            stream.Write(padding[..(int)(dataOffset - HeaderLength - offsetsLength)]);

            for (long position = 0; position < dataLength;)
            {
                ReadOnlySpan<byte> chunk = DataBytes(position, (int)Math.Min(ChunkBytes, dataLength - position));
                stream.Write(chunk);
                position += chunk.Length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Writes the store to <paramref name="path"/> atomically: to <c>path + ".tmp"</c>, flushed to disk, then
    /// renamed over <paramref name="path"/>, so a crash never leaves a half-written file at <paramref name="path"/>.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="IOException">Writing, flushing or renaming failed (the temporary file is removed).</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, 1 << 16, Save);
    }

    /// <summary>Reads a store from <paramref name="stream"/> into memory (the result is writable and needs no
    /// disposal).</summary>
    /// <param name="stream">A readable stream positioned at the store; it is read to its end, and the store must end
    /// there (at most 2 GB).</param>
    /// <returns>The store.</returns>
    /// <remarks>Validation as for <see cref="Load(string)"/>, with every block verified at once; memory is allocated
    /// only for bytes actually read.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="InvalidDataException">The bytes are not a valid store; the message names the cause.</exception>
    public static MultiVectorStore Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        EnsureLittleEndian();
        byte[] bytes;
        long length;
        using (var copy = new MemoryStream())
        {
            stream.CopyTo(copy);
            bytes = copy.GetBuffer();
            length = copy.Length;
        }

        Layout layout = ReadLayout((offset, count) => bytes.AsSpan((int)offset, count), length, verifyData: true, rejectBeyondTokenLimit: false);
        ReadOnlySpan<byte> data = bytes.AsSpan((int)layout.DataOffset, (int)layout.DataLength);
        float[] floats = layout.Storage.Kind == StoreElementType.Float32 ? MemoryMarshal.Cast<byte, float>(data).ToArray() : [];
        Half[] halves = layout.Storage.Kind == StoreElementType.Float16 ? MemoryMarshal.Cast<byte, Half>(data).ToArray() : [];
        byte[] codes = layout.Storage.IsQuantized ? data.ToArray() : [];
        return new MultiVectorStore(layout with { BlockChecksums = null }, floats, halves, codes, view: null, rejectBeyondTokenLimit: false);
    }

    /// <summary>Opens a store file memory-mapped and read-only: token data is not copied onto the managed heap.</summary>
    /// <param name="path">The file written by <see cref="Save(string)"/>.</param>
    /// <returns>The read-only store; dispose it to unmap the file.</returns>
    /// <remarks>Version 2: the header, offsets, codec parameters and block checksum table are verified before this
    /// returns (they are small: the offsets are (Count + 1) × 8 bytes, the table 8 bytes per block of about 64 KB); each
    /// block of token data is verified the first time it is read (<see cref="Verify"/> checks all of them at once), so
    /// opening costs O(Count + blocks), not O(token data). Version 1 files are verified in full here (one sequential
    /// read of the whole file).</remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid store; the message names the first failed
    /// check (truncated, magic, version, element type, flags, header checksum, dimension, size, offsets checksum,
    /// offsets, parameters, block table, and for version 1 the data checksum and non-finite values).</exception>
    /// <exception cref="IOException">The file cannot be opened or mapped.</exception>
    public static MultiVectorStore Load(string path) => Load(path, rejectBeyondTokenLimit: false, verifyData: false);

    /// <summary><see cref="Load(string)"/>; <paramref name="rejectBeyondTokenLimit"/> makes a float32 value of magnitude
    /// <see cref="FdeEncoder.TokenValueLimit"/> or more an <see cref="InvalidDataException"/> (at open for version 1, on
    /// the block's first use for version 2: a <see cref="MuveraIndex"/> refuses such tokens, a bare store does not), and
    /// <paramref name="verifyData"/> verifies every block before returning.</summary>
    internal static MultiVectorStore Load(string path, bool rejectBeyondTokenLimit, bool verifyData)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        EnsureLittleEndian();
        MappedFileView? view = MappedFileView.Open(path, HeaderLength, out long length);
        if (view is null)
        {
            throw Truncated(length, HeaderLength);
        }

        try
        {
            Layout layout = ReadLayout(view.Bytes, length, verifyData: false, rejectBeyondTokenLimit);
            var store = new MultiVectorStore(layout, [], [], [], view, rejectBeyondTokenLimit);
            if (verifyData)
            {
                store.Verify();
            }

            return store;
        }
        catch
        {
            view.Dispose();
            throw;
        }
    }

    /// <summary>Unmaps the file of a loaded store; does nothing for an in-memory store. Never throws; idempotent.</summary>
    public void Dispose() => _view?.Dispose();

    /// <summary>Document <paramref name="id"/>'s floats (Float32 stores; the id is not validated; verified).</summary>
    internal ReadOnlySpan<float> FloatTokens(int id)
    {
        Debug.Assert(ElementType == StoreElementType.Float32 && (uint)id < (uint)_count);
        EnsureVerified(id);
        long start = _offsets[id] * Dimension;
        int length = TokenCountUnchecked(id) * Dimension;
        return _view is not null
            ? _view.Elements<float>(_dataOffset + (start * sizeof(float)), length)
            : _floats.AsSpan((int)start, length);
    }

    /// <summary>Document <paramref name="id"/>'s halves (Float16 stores; the id is not validated; verified).</summary>
    internal ReadOnlySpan<Half> HalfTokens(int id)
    {
        Debug.Assert(ElementType == StoreElementType.Float16 && (uint)id < (uint)_count);
        EnsureVerified(id);
        long start = _offsets[id] * Dimension;
        int length = TokenCountUnchecked(id) * Dimension;
        return _view is not null
            ? _view.Elements<Half>(_dataOffset + (start * 2), length)
            : _halves.AsSpan((int)start, length);
    }

    /// <summary>Document <paramref name="id"/>'s stored bytes in any storage, neither verified nor decoded (the id is
    /// not validated): only for prefetch hints, never for values.</summary>
    internal ReadOnlySpan<byte> StoredBytes(int id)
    {
        Debug.Assert((uint)id < (uint)_count);
        long firstToken = _offsets[id];
        int tokens = TokenCountUnchecked(id);
        ReadOnlySpan<byte> bytes;
        if (_view is not null)
        {
            bytes = _view.Bytes(_dataOffset + (firstToken * RecordBytes), tokens * RecordBytes);
        }
        else
        {
            bytes = ElementType switch
            {
                StoreElementType.Float32 => MemoryMarshal.AsBytes(_floats.AsSpan((int)(firstToken * Dimension), tokens * Dimension)),
                StoreElementType.Float16 => MemoryMarshal.AsBytes(_halves.AsSpan((int)(firstToken * Dimension), tokens * Dimension)),
                _ => _codes.AsSpan((int)(firstToken * RecordBytes), tokens * RecordBytes),
            };
        }

        return bytes;
    }

    /// <summary>Document <paramref name="id"/>'s records (quantized stores; the id is not validated; verified).</summary>
    internal ReadOnlySpan<byte> Records(int id)
    {
        Debug.Assert(Storage.IsQuantized && (uint)id < (uint)_count);
        EnsureVerified(id);
        long start = _offsets[id] * RecordBytes;
        int length = TokenCountUnchecked(id) * RecordBytes;
        return _view is not null ? _view.Bytes(_dataOffset + start, length) : _codes.AsSpan((int)start, length);
    }

    /// <summary>Decodes tokens <paramref name="firstToken"/> .. + <paramref name="count"/> − 1 of document
    /// <paramref name="id"/> (quantized stores) into <paramref name="destination"/> at <paramref name="width"/>.</summary>
    internal void DecodeTokens(int id, int firstToken, int count, Span<float> destination, SimdWidth width)
    {
        ReadOnlySpan<byte> records = Records(id).Slice(firstToken * RecordBytes, count * RecordBytes);
        _codec!.Decode(width, records, destination);
    }

    /// <summary>Document <paramref name="id"/>'s token count (the id is not validated).</summary>
    internal int TokenCountUnchecked(int id) => (int)(_offsets[id + 1] - _offsets[id]);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the id and <see cref="Count"/>.</summary>
    internal void ValidateId(int id, string paramName)
    {
        if ((uint)id >= (uint)_count)
        {
            ThrowHelper.ThrowArgumentOutOfRange(paramName, id, $"Document id {id} is outside [0, {_count}) (the store's Count is {_count}).");
        }
    }

    /// <summary>Removes the documents from <paramref name="count"/> on (the rollback of a failed batch append; in-memory
    /// stores only).</summary>
    internal void Truncate(int count)
    {
        Debug.Assert(_view is null && (uint)count <= (uint)_count);
        _count = count;
        TokenCount = _offsets[count];
    }

    /// <summary>An empty in-memory store of the same storage, normalisation and codec (compaction).</summary>
    internal MultiVectorStore CreateEmptyLike() =>
        new(this, new long[4], [], [], []) { _count = 0, TokenCount = 0 };

    /// <summary>An in-memory, writable copy of this store (bit-identical tokens; no renormalisation; every block of a
    /// loaded store verified first).</summary>
    internal MultiVectorStore ToInMemory()
    {
        ThrowIfDisposed();
        Verify();
        long[] offsets = new long[Math.Max(4, _count + 1)];
        _offsets.AsSpan(0, _count + 1).CopyTo(offsets);
        int units = checked((int)(TokenCount * (Storage.IsQuantized ? RecordBytes : Dimension)));
        float[] floats = ElementType == StoreElementType.Float32 ? new float[units] : [];
        Half[] halves = ElementType == StoreElementType.Float16 ? new Half[units] : [];
        byte[] codes = Storage.IsQuantized ? new byte[units] : [];
        long totalBytes = TokenCount * RecordBytes;
        for (long position = 0; position < totalBytes; position += ChunkBytes)
        {
            int length = (int)Math.Min(ChunkBytes, totalBytes - position);
            Span<byte> destination = ElementType switch
            {
                StoreElementType.Float32 => MemoryMarshal.AsBytes(floats.AsSpan((int)(position / sizeof(float)), length / sizeof(float))),
                StoreElementType.Float16 => MemoryMarshal.AsBytes(halves.AsSpan((int)(position / 2), length / 2)),
                _ => codes.AsSpan((int)position, length),
            };
            DataBytes(position, length).CopyTo(destination);
        }

        return new MultiVectorStore(this, offsets, floats, halves, codes);
    }

    /// <summary>Applies what <see cref="Add"/> does to token values (L2 normalisation, rounding to half precision) in
    /// place, so that a caller can compute from exactly the values a store of this kind will hold (float kinds; a
    /// quantized kind's values also go through its codec).</summary>
    /// <exception cref="ArgumentException">A value overflows Float16.</exception>
    internal static void PrepareTokens(Span<float> tokens, int dimension, StoreElementType elementType, bool normalize, string paramName)
    {
        int n = tokens.Length / dimension;
        for (int t = 0; t < n; t++)
        {
            Span<float> row = tokens.Slice(t * dimension, dimension);
            if (normalize)
            {
                NormalizeRow(row);
            }

            if (elementType == StoreElementType.Float16)
            {
                for (int i = 0; i < row.Length; i++)
                {
                    Half value = (Half)row[i];
                    if (!Half.IsFinite(value))
                    {
                        ThrowHelper.ThrowArgument(
                            $"{paramName} holds {row[i]} at token {t}, coordinate {i}, which overflows Float16 (largest finite value {Half.MaxValue}).",
                            paramName);
                    }

                    row[i] = (float)value;
                }
            }
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> for a disposed loaded store.</summary>
    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_view is not null && _view.IsDisposed, this);

    // Scales the row by 1/‖row‖ computed in double (no overflow for any finite float row); a zero row stays zero.
    internal static void NormalizeRow(Span<float> row)
    {
        double sum = 0;
        foreach (float value in row)
        {
            sum += (double)value * value;
        }

        if (sum == 0)
        {
            return;
        }

        double scale = 1.0 / Math.Sqrt(sum);
        for (int i = 0; i < row.Length; i++)
        {
            row[i] = (float)(row[i] * scale);
        }
    }

    /// <summary>Tokens per verification block for records of <paramref name="recordBytes"/>: the largest power of two
    /// whose block is at most 64 KB, between 16 and 65,536 tokens.</summary>
    internal static int BlockTokensFor(int recordBytes)
    {
        int tokens = Math.Max(1, TargetBlockBytes / recordBytes);
        tokens = 1 << (31 - int.LeadingZeroCount(tokens));
        return Math.Clamp(tokens, 16, 1 << 16);
    }

    private static TokenStorage FloatStorage(StoreElementType elementType)
    {
        if (elementType is not (StoreElementType.Float32 or StoreElementType.Float16))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(elementType), elementType,
                $"Element type {(int)elementType} is not a float storage (0 = Float32, 1 = Float16); quantized stores need a TokenStorage (TokenStorage.Int8, TokenStorage.Residual).");
        }

        return TokenStorage.FromElementType(elementType);
    }

    private static void EnsureCapacity<T>(ref T[] array, int required)
    {
        if (array.Length >= required)
        {
            return;
        }

        long grown = Math.Max(required, Math.Min((long)array.Length * 2, Array.MaxLength));
        Array.Resize(ref array, (int)Math.Max(grown, 256));
    }

    private int FillOffsetBytes(byte[] buffer, long byteOffset, int length)
    {
        Debug.Assert(byteOffset % sizeof(long) == 0 && length % sizeof(long) == 0);
        long first = byteOffset / sizeof(long);
        for (int i = 0; i < length / sizeof(long); i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(i * sizeof(long)), _offsets[first + i]);
        }

        return length;
    }

    private ReadOnlySpan<byte> DataBytes(long byteOffset, int length)
    {
        if (_view is not null)
        {
            return _view.Bytes(_dataOffset + byteOffset, length);
        }

        if (Storage.IsQuantized)
        {
            return _codes.AsSpan((int)byteOffset, length);
        }

        // Sliced in elements before the cast: the arrays may hold more than 2 GB, which a byte span cannot address.
        Debug.Assert(byteOffset % ElementSize == 0 && length % ElementSize == 0);
        int first = checked((int)(byteOffset / ElementSize));
        int count = length / ElementSize;
        return ElementType == StoreElementType.Float32
            ? MemoryMarshal.AsBytes(_floats.AsSpan(first, count))
            : MemoryMarshal.AsBytes(_halves.AsSpan(first, count));
    }

    private static long AlignTo64(long value) => checked(value + 63) & ~63L;

    private static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Multi-vector store files keep token data little-endian and are read and written only on little-endian machines.");
        }
    }

    private static InvalidDataException Truncated(long length, long expected) =>
        new($"Multi-vector store is truncated: the file has {length} bytes, but {(expected is HeaderLength or HeaderLengthV2 ? "the header alone needs" : "the header implies")} {expected}.");

    private static Layout ReadLayout(ByteReader read, long length, bool verifyData, bool rejectBeyondTokenLimit)
    {
        if (length < 10)
        {
            throw Truncated(length, HeaderLength);
        }

        ReadOnlySpan<byte> start = read(0, 10);
        if (!start[..8].SequenceEqual("MVSTORE\0"u8))
        {
            throw new InvalidDataException("Multi-vector store has a wrong magic (expected \"MVSTORE\").");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(start[8..]);
        if (version == 1)
        {
            Layout v1 = ReadLayoutV1(read, length);
            if (rejectBeyondTokenLimit && v1.BeyondTokenLimit)
            {
                throw new InvalidDataException(
                    $"Multi-vector store holds a value of magnitude {FdeEncoder.TokenValueLimit} (FdeEncoder.TokenValueLimit) or more, which no index add accepts.");
            }

            return v1;
        }

        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Multi-vector store has format version {version}; this build reads versions 1 and {FormatVersion}.");
        }

        Layout layout = ReadLayoutV2(read, length);
        if (verifyData)
        {
            // In-memory loads check every block now (the caller holds all bytes anyway).
            var probe = new LayoutVerifier(layout, read, rejectBeyondTokenLimit);
            probe.VerifyAll();
        }

        return layout;
    }

    // Format version 2: header, offsets, parameters and block table, each XXH3-64-checked, before anything is built;
    // the data's blocks are checked later (on first use, Verify, or at once by an in-memory load).
    private static Layout ReadLayoutV2(ByteReader read, long length)
    {
        if (length < HeaderLengthV2)
        {
            throw Truncated(length, HeaderLengthV2);
        }

        ReadOnlySpan<byte> header = read(0, HeaderLengthV2);
        ulong storedHeader = BinaryPrimitives.ReadUInt64LittleEndian(header[120..]);
        ulong actualHeader = XxHash3.HashToUInt64(header[..120]);
        if (storedHeader != actualHeader)
        {
            throw new InvalidDataException($"Multi-vector store header checksum mismatch (stored 0x{storedHeader:X16}, computed 0x{actualHeader:X16}).");
        }

        ushort kindValue = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        if (kindValue > (ushort)StoreElementType.Residual)
        {
            throw new InvalidDataException($"Multi-vector store has unknown element type {kindValue} (0 = Float32, 1 = Float16, 2 = Int8, 3 = Residual).");
        }

        var kind = (StoreElementType)kindValue;
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(header[12..]);
        if ((flags & ~(NormalizedFlag | TrainedFlag)) != 0)
        {
            throw new InvalidDataException($"Multi-vector store has unknown flag bits 0x{flags & ~(NormalizedFlag | TrainedFlag):X4}; this build knows bits 0 (normalised) and 1 (trained).");
        }

        if (BinaryPrimitives.ReadInt32LittleEndian(header[60..]) != 0 || header[96..120].ContainsAnyExcept((byte)0))
        {
            throw new InvalidDataException("Multi-vector store has non-zero reserved header fields (bytes 60..63 or 96..119).");
        }

        int bits = BinaryPrimitives.ReadUInt16LittleEndian(header[14..]);
        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int recordBytes = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        long count = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        long tokenCount = BinaryPrimitives.ReadInt64LittleEndian(header[32..]);
        int blockTokens = BinaryPrimitives.ReadInt32LittleEndian(header[40..]);
        int centroids = BinaryPrimitives.ReadInt32LittleEndian(header[44..]);
        int maxTrainingSample = BinaryPrimitives.ReadInt32LittleEndian(header[48..]);
        int iterations = BinaryPrimitives.ReadInt32LittleEndian(header[52..]);
        int seed = BinaryPrimitives.ReadInt32LittleEndian(header[56..]);
        if (dimension <= 0)
        {
            throw new InvalidDataException($"Multi-vector store has dimension {dimension}; it must be positive.");
        }

        TokenStorage storage;
        try
        {
            storage = kind switch
            {
                StoreElementType.Float32 or StoreElementType.Float16 when centroids == 0 && maxTrainingSample == 0 && iterations == 0 && seed == 0 =>
                    TokenStorage.FromElementType(kind),
                StoreElementType.Int8 when centroids == 0 => TokenStorage.Int8 with { MaxTrainingSample = maxTrainingSample, Iterations = iterations, Seed = seed },
                StoreElementType.Residual => TokenStorage.Residual(bits, centroids == 0 ? null : centroids) with
                {
                    MaxTrainingSample = maxTrainingSample,
                    Iterations = iterations,
                    Seed = seed,
                },
                _ => throw new InvalidDataException($"Multi-vector store of element type {kind} has training settings it cannot have (centroids {centroids}, sample {maxTrainingSample}, iterations {iterations}, seed {seed})."),
            };
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Multi-vector store has invalid token storage settings: {e.Message}", e);
        }

        if (storage.Bits != bits)
        {
            throw new InvalidDataException($"Multi-vector store of element type {kind} has {bits} bits per coordinate; {storage} stores {storage.Bits}.");
        }

        long expectedRecord = kind switch
        {
            StoreElementType.Float32 => 4L * dimension,
            StoreElementType.Float16 => 2L * dimension,
            StoreElementType.Int8 => dimension,
            _ => 4 + ((((long)dimension * bits) + 7) / 8),
        };
        if (recordBytes != expectedRecord)
        {
            throw new InvalidDataException($"Multi-vector store has {recordBytes} bytes per token; {storage} at dimension {dimension} stores {expectedRecord}.");
        }

        bool trained = (flags & TrainedFlag) != 0;
        if (trained != storage.IsQuantized && !(storage.IsQuantized && !trained))
        {
            throw new InvalidDataException($"Multi-vector store of {storage} tokens is marked trained; only quantized stores have a codec.");
        }

        if (blockTokens < 1 || blockTokens > (1 << 16) || (blockTokens & (blockTokens - 1)) != 0)
        {
            throw new InvalidDataException($"Multi-vector store has {blockTokens} tokens per block; expected a power of two up to 65,536.");
        }

        if (count < 0 || tokenCount < 0)
        {
            throw new InvalidDataException($"Multi-vector store has a negative count (document count {count}, token count {tokenCount}).");
        }

        long parameterLength = BinaryPrimitives.ReadInt64LittleEndian(header[72..]);
        if (parameterLength < 0 || (!trained && parameterLength != 0) || (trained && parameterLength == 0) || parameterLength > int.MaxValue)
        {
            throw new InvalidDataException($"Multi-vector store has {parameterLength} bytes of codec parameters (trained: {trained}).");
        }

        if (!trained && tokenCount > 0 && storage.IsQuantized)
        {
            throw new InvalidDataException($"Multi-vector store holds {tokenCount} {storage} tokens but no codec.");
        }

        long offsetsLength, parametersOffset, tableOffset, blocks, dataOffset, dataLength, total;
        try
        {
            checked
            {
                offsetsLength = (count + 1) * sizeof(long);
                parametersOffset = AlignTo64(HeaderLengthV2 + offsetsLength);
                tableOffset = AlignTo64(parametersOffset + parameterLength);
                blocks = (tokenCount + blockTokens - 1) / blockTokens;
                dataOffset = AlignTo64(tableOffset + (blocks * sizeof(ulong)));
                dataLength = tokenCount * recordBytes;
                total = dataOffset + dataLength;
            }
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"Multi-vector store header implies an impossible size (document count {count}, token count {tokenCount}, {recordBytes} bytes per token): it overflows 64 bits.");
        }

        if (total > length)
        {
            throw Truncated(length, total);
        }

        if (total < length)
        {
            throw new InvalidDataException($"Multi-vector store size mismatch: the file has {length} bytes, but the header implies {total} ({length - total} trailing bytes).");
        }

        if (count > int.MaxValue - 1)
        {
            throw new InvalidDataException($"Multi-vector store has document count {count}, more than an int id can address.");
        }

        // Allocated only now: the file really holds (count + 1) × 8 bytes of offsets.
        long[] offsets = new long[count + 1];
        var hash = new XxHash3();
        for (long position = 0; position < offsetsLength;)
        {
            ReadOnlySpan<byte> chunk = read(HeaderLengthV2 + position, (int)Math.Min(ChunkBytes, offsetsLength - position));
            hash.Append(chunk);
            long first = position / sizeof(long);
            for (int i = 0; i < chunk.Length / sizeof(long); i++)
            {
                offsets[first + i] = BinaryPrimitives.ReadInt64LittleEndian(chunk[(i * sizeof(long))..]);
            }

            position += chunk.Length;
        }

        ulong storedOffsets = BinaryPrimitives.ReadUInt64LittleEndian(header[64..]);
        ulong actualOffsets = hash.GetCurrentHashAsUInt64();
        if (storedOffsets != actualOffsets)
        {
            throw new InvalidDataException($"Multi-vector store offsets checksum mismatch (stored 0x{storedOffsets:X16}, computed 0x{actualOffsets:X16}).");
        }

        CheckOffsets(offsets, (int)count, tokenCount, dimension);

        ReadOnlySpan<byte> parameters = read(parametersOffset, (int)parameterLength);
        ulong storedParameters = BinaryPrimitives.ReadUInt64LittleEndian(header[80..]);
        ulong actualParameters = XxHash3.HashToUInt64(parameters);
        if (storedParameters != actualParameters)
        {
            throw new InvalidDataException($"Multi-vector store codec parameters checksum mismatch (stored 0x{storedParameters:X16}, computed 0x{actualParameters:X16}): the codebook is corrupt.");
        }

        TokenCodec? codec = trained ? TokenCodec.Read(storage, dimension, parameters) : null;

        ulong[] table = new ulong[blocks];
        hash.Reset();
        for (long position = 0; position < blocks * sizeof(ulong);)
        {
            ReadOnlySpan<byte> chunk = read(tableOffset + position, (int)Math.Min(ChunkBytes, (blocks * sizeof(ulong)) - position));
            hash.Append(chunk);
            long first = position / sizeof(ulong);
            for (int i = 0; i < chunk.Length / sizeof(ulong); i++)
            {
                table[first + i] = BinaryPrimitives.ReadUInt64LittleEndian(chunk[(i * sizeof(ulong))..]);
            }

            position += chunk.Length;
        }

        ulong storedTable = BinaryPrimitives.ReadUInt64LittleEndian(header[88..]);
        ulong actualTable = hash.GetCurrentHashAsUInt64();
        if (storedTable != actualTable)
        {
            throw new InvalidDataException($"Multi-vector store block table checksum mismatch (stored 0x{storedTable:X16}, computed 0x{actualTable:X16}).");
        }

        return new Layout(dimension, storage, (flags & NormalizedFlag) != 0, (int)count, tokenCount, offsets, dataOffset, dataLength, false,
            codec, blockTokens, table);
    }

    private static void CheckOffsets(long[] offsets, int count, long tokenCount, int dimension)
    {
        if (offsets[0] != 0)
        {
            throw new InvalidDataException($"Multi-vector store offsets start at {offsets[0]}, not 0.");
        }

        for (int i = 0; i < count; i++)
        {
            long tokens = offsets[i + 1] - offsets[i];
            if (tokens < 0)
            {
                throw new InvalidDataException($"Multi-vector store offsets are not non-decreasing: document {i} would span tokens {offsets[i]}..{offsets[i + 1]}.");
            }

            if (tokens * dimension > Array.MaxLength)
            {
                throw new InvalidDataException($"Multi-vector store document {i} has {tokens} tokens of dimension {dimension}, more coordinates than one span can hold.");
            }
        }

        if (offsets[count] != tokenCount)
        {
            throw new InvalidDataException($"Multi-vector store offsets end at {offsets[count]}, but the header's token count is {tokenCount}.");
        }
    }

    // Format version 1 (float kinds, FNV-1a): validates everything, data included (see the README's reader rules, in that
    // order), before any object is built.
    private static Layout ReadLayoutV1(ByteReader read, long length)
    {
        if (length < HeaderLength)
        {
            throw Truncated(length, HeaderLength);
        }

        ReadOnlySpan<byte> header = read(0, HeaderLength);
        if (!header[..8].SequenceEqual("MVSTORE\0"u8))
        {
            throw new InvalidDataException("Multi-vector store has a wrong magic (expected \"MVSTORE\").");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (version != 1)
        {
            throw new InvalidDataException($"Multi-vector store has format version {version}; this build reads versions 1 and {FormatVersion}.");
        }

        ushort elementType = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        if (elementType > (ushort)StoreElementType.Float16)
        {
            throw new InvalidDataException($"Multi-vector store has unknown element type {elementType} (0 = Float32, 1 = Float16).");
        }

        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(header[12..]);
        if ((flags & ~NormalizedFlag) != 0)
        {
            throw new InvalidDataException($"Multi-vector store has unknown flag bits 0x{flags & ~NormalizedFlag:X4}; this build knows bit 0 (normalised) only.");
        }

        ulong storedHeader = BinaryPrimitives.ReadUInt64LittleEndian(header[56..]);
        ulong actualHeader = Fnv64.Append(Fnv64.Basis, header[..56]);
        if (storedHeader != actualHeader)
        {
            throw new InvalidDataException($"Multi-vector store header checksum mismatch (stored 0x{storedHeader:X16}, computed 0x{actualHeader:X16}).");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(header[14..]) != 0 || BinaryPrimitives.ReadInt32LittleEndian(header[20..]) != 0)
        {
            throw new InvalidDataException("Multi-vector store has non-zero reserved header fields (bytes 14..15 or 20..23).");
        }

        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        if (dimension <= 0)
        {
            throw new InvalidDataException($"Multi-vector store has dimension {dimension}; it must be positive.");
        }

        long count = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        long tokenCount = BinaryPrimitives.ReadInt64LittleEndian(header[32..]);
        if (count < 0 || tokenCount < 0)
        {
            throw new InvalidDataException($"Multi-vector store has a negative count (document count {count}, token count {tokenCount}).");
        }

        var storeType = (StoreElementType)elementType;
        int elementSize = storeType == StoreElementType.Float32 ? sizeof(float) : 2;
        long offsetsLength, dataOffset, dataLength, total;
        try
        {
            checked
            {
                offsetsLength = (count + 1) * sizeof(long);
                dataOffset = AlignTo64(HeaderLength + offsetsLength);
                dataLength = tokenCount * dimension * elementSize;
                total = dataOffset + dataLength;
            }
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"Multi-vector store header implies an impossible size (document count {count}, token count {tokenCount}, dimension {dimension}): it overflows 64 bits.");
        }

        if (total > length)
        {
            throw Truncated(length, total);
        }

        if (total < length)
        {
            throw new InvalidDataException($"Multi-vector store size mismatch: the file has {length} bytes, but the header implies {total} ({length - total} trailing bytes).");
        }

        if (count > int.MaxValue - 1)
        {
            throw new InvalidDataException($"Multi-vector store has document count {count}, more than an int id can address.");
        }

        // Allocated only now: the file really holds (count + 1) × 8 bytes of offsets.
        long[] offsets = new long[count + 1];
        ulong offsetsChecksum = Fnv64.Basis;
        for (long position = 0; position < offsetsLength;)
        {
            ReadOnlySpan<byte> chunk = read(HeaderLength + position, (int)Math.Min(ChunkBytes, offsetsLength - position));
            offsetsChecksum = Fnv64.Append(offsetsChecksum, chunk);
            long first = position / sizeof(long);
            for (int i = 0; i < chunk.Length / sizeof(long); i++)
            {
                offsets[first + i] = BinaryPrimitives.ReadInt64LittleEndian(chunk[(i * sizeof(long))..]);
            }

            position += chunk.Length;
        }

        ulong storedOffsets = BinaryPrimitives.ReadUInt64LittleEndian(header[40..]);
        if (storedOffsets != offsetsChecksum)
        {
            throw new InvalidDataException($"Multi-vector store offsets checksum mismatch (stored 0x{storedOffsets:X16}, computed 0x{offsetsChecksum:X16}).");
        }

        if (offsets[0] != 0)
        {
            throw new InvalidDataException($"Multi-vector store offsets start at {offsets[0]}, not 0.");
        }

        for (int i = 0; i < count; i++)
        {
            long tokens = offsets[i + 1] - offsets[i];
            if (tokens < 0)
            {
                throw new InvalidDataException($"Multi-vector store offsets are not non-decreasing: document {i} would span tokens {offsets[i]}..{offsets[i + 1]}.");
            }

            if (tokens * dimension > Array.MaxLength)
            {
                throw new InvalidDataException($"Multi-vector store document {i} has {tokens} tokens of dimension {dimension}, more coordinates than one span can hold.");
            }
        }

        if (offsets[count] != tokenCount)
        {
            throw new InvalidDataException($"Multi-vector store offsets end at {offsets[count]}, but the header's token count is {tokenCount}.");
        }

        ulong dataChecksum = Fnv64.Basis;
        bool nonFinite = false;
        bool beyondTokenLimit = false;
        for (long position = 0; position < dataLength;)
        {
            ReadOnlySpan<byte> chunk = read(dataOffset + position, (int)Math.Min(ChunkBytes, dataLength - position));
            dataChecksum = Fnv64.Append(dataChecksum, chunk);
            if (storeType == StoreElementType.Float32)
            {
                // Non-finite values are a subset of those beyond the token limit, so only a chunk with one is scanned twice.
                ReadOnlySpan<float> values = MemoryMarshal.Cast<byte, float>(chunk);
                if (FdeKernels.HasOutOfRange(SimdDispatch.Preferred, values))
                {
                    beyondTokenLimit = true;
                    nonFinite |= FdeKernels.HasNonFinite(SimdDispatch.Preferred, values);
                }
            }
            else
            {
                nonFinite |= HasNonFiniteHalf(MemoryMarshal.Cast<byte, ushort>(chunk));
            }

            position += chunk.Length;
        }

        ulong storedData = BinaryPrimitives.ReadUInt64LittleEndian(header[48..]);
        if (storedData != dataChecksum)
        {
            throw new InvalidDataException($"Multi-vector store data checksum mismatch (stored 0x{storedData:X16}, computed 0x{dataChecksum:X16}).");
        }

        if (nonFinite)
        {
            throw new InvalidDataException("Multi-vector store data holds a NaN or infinite value; token vectors must be finite.");
        }

        return new Layout(dimension, TokenStorage.FromElementType(storeType), (flags & NormalizedFlag) != 0, (int)count, tokenCount, offsets,
            dataOffset, dataLength, beyondTokenLimit, null, 0, null);
    }

    // Exponent bits all ones: ∞ or NaN.
    private static bool HasNonFiniteHalf(ReadOnlySpan<ushort> bits)
    {
        int seen = 0;
        foreach (ushort value in bits)
        {
            seen |= (value & 0x7C00) == 0x7C00 ? 1 : 0;
        }

        return seen != 0;
    }

    private delegate ReadOnlySpan<byte> ByteReader(long offset, int length);

    private sealed record Layout(int Dimension, TokenStorage Storage, bool Normalized, int Count, long TokenCount,
        long[] Offsets, long DataOffset, long DataLength, bool BeyondTokenLimit, TokenCodec? Codec, int BlockTokens, ulong[]? BlockChecksums);

    // Checks every block of a version 2 layout through a byte reader (in-memory loads): the same checks as a mapped
    // store's first use of each block.
    private sealed class LayoutVerifier(Layout layout, ByteReader read, bool rejectBeyondTokenLimit)
    {
        public void VerifyAll()
        {
            var store = new MultiVectorStore(layout with { BlockChecksums = null }, [], [], [], view: null, rejectBeyondTokenLimit);
            int recordBytes = store.RecordBytes;
            ulong[] table = layout.BlockChecksums!;
            for (int block = 0; block < table.Length; block++)
            {
                long firstToken = (long)block * layout.BlockTokens;
                int tokens = (int)Math.Min(layout.BlockTokens, layout.TokenCount - firstToken);
                ReadOnlySpan<byte> bytes = read(layout.DataOffset + (firstToken * recordBytes), tokens * recordBytes);
                ulong actual = XxHash3.HashToUInt64(bytes);
                if (actual != table[block])
                {
                    throw new InvalidDataException(
                        $"Multi-vector store block {block} (tokens {firstToken}..{firstToken + tokens - 1}) fails its checksum (stored 0x{table[block]:X16}, computed 0x{actual:X16}): the token data is corrupt.");
                }

                store.CheckValues(bytes, block, firstToken);
            }
        }
    }
}
