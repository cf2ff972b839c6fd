// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using Muvera.Interop;
using Muvera.Kernels;
using Muvera.Serialization;

namespace Muvera;

/// <summary>
/// Append-only storage of many documents' token vectors: one contiguous token buffer plus token offsets (document
/// <c>i</c> owns tokens <c>offsets[i]..offsets[i+1]</c>). Documents get dense ids <c>0..Count−1</c> in insertion order.
/// </summary>
/// <remarks>
/// <para>Storage: <see cref="StoreElementType.Float32"/> keeps the floats as given (or normalised);
/// <see cref="StoreElementType.Float16"/> keeps <c>(Half)value</c> and converts back to <see cref="float"/> on read.
/// In memory the token buffer is one array, so a store holds at most <see cref="Array.MaxLength"/> coordinates.</para>
/// <para>Files: <see cref="Save(string)"/> writes the format in <c>src/Muvera/Serialization/README.md</c>
/// ("Multi-vector store"); <see cref="Load(string)"/> memory-maps it read-only, so the token data stays in the OS page
/// cache instead of the managed heap. A loaded store rejects <see cref="Add"/> and must be disposed.</para>
/// <para>Thread safety: reads (<see cref="CopyTokens"/>, <see cref="GetDocument"/>, scoring) may run concurrently with
/// each other, not with <see cref="Add"/>.</para>
/// </remarks>
public sealed class MultiVectorStore : IDisposable
{
    internal const int HeaderLength = 64;
    internal const ushort FormatVersion = 1;
    private const ushort NormalizedFlag = 1;
    private const int ChunkBytes = 1 << 24;

    private readonly MappedFileView? _view;
    private readonly long _dataOffset;
    private long[] _offsets;
    private float[] _floats;
    private Half[] _halves;
    private int _count;

    /// <summary>An empty in-memory <see cref="StoreElementType.Float32"/> store that keeps tokens as given.</summary>
    /// <param name="dimension">The dimension of every token vector; must be positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is zero or negative.</exception>
    public MultiVectorStore(int dimension)
        : this(dimension, StoreElementType.Float32, normalize: false)
    {
    }

    /// <summary>An empty in-memory store.</summary>
    /// <param name="dimension">The dimension of every token vector; must be positive.</param>
    /// <param name="elementType">How coordinates are stored.</param>
    /// <param name="normalize">Whether <see cref="Add"/> L2-normalises each token vector (a zero vector stays zero).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not positive or
    /// <paramref name="elementType"/> is not defined.</exception>
    public MultiVectorStore(int dimension, StoreElementType elementType, bool normalize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        if (elementType is not (StoreElementType.Float32 or StoreElementType.Float16))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(elementType), elementType, $"Element type {(int)elementType} is not defined (0 = Float32, 1 = Float16).");
        }

        Dimension = dimension;
        ElementType = elementType;
        IsNormalized = normalize;
        _offsets = new long[4];
        _floats = [];
        _halves = [];
    }

    private MultiVectorStore(int dimension, StoreElementType elementType, bool normalized, long[] offsets, int count,
        long tokenCount, float[] floats, Half[] halves, MappedFileView? view, long dataOffset)
    {
        Dimension = dimension;
        ElementType = elementType;
        IsNormalized = normalized;
        _offsets = offsets;
        _count = count;
        TokenCount = tokenCount;
        _floats = floats;
        _halves = halves;
        _view = view;
        _dataOffset = dataOffset;
    }

    /// <summary>The dimension of every token vector.</summary>
    public int Dimension { get; }

    /// <summary>How coordinates are stored.</summary>
    public StoreElementType ElementType { get; }

    /// <summary>Whether every token vector was L2-normalised on insert (zero vectors stay zero).</summary>
    public bool IsNormalized { get; }

    /// <summary>The number of documents (the next id <see cref="Add"/> returns).</summary>
    public int Count => _count;

    /// <summary>The number of token vectors over all documents.</summary>
    public long TokenCount { get; private set; }

    /// <summary>Whether the store was loaded from a file (memory-mapped) and is therefore read-only.</summary>
    internal bool IsMapped => _view is not null;

    private int ElementSize => ElementType == StoreElementType.Float32 ? sizeof(float) : 2;

    /// <summary>Appends one document.</summary>
    /// <param name="tokens">The document's token vectors, row-major; zero tokens is an empty document.</param>
    /// <returns>The new document's id (<see cref="Count"/> before the call).</returns>
    /// <remarks>Amortised O(|tokens|); the buffer grows by doubling. On any exception the store is unchanged.</remarks>
    /// <exception cref="ArgumentException">The length is not a multiple of <see cref="Dimension"/>, a value is NaN/∞,
    /// or (Float16) a value is too large for half precision; the message names the token and coordinate.</exception>
    /// <exception cref="InvalidOperationException">The store was loaded from a file (read-only) or is full.</exception>
    public int Add(ReadOnlySpan<float> tokens) => AddCore(tokens, IsNormalized);

    /// <summary>Appends values that are already what this store holds (normalised and rounded by
    /// <see cref="PrepareTokens"/> or copied out of a store of the same kind): no second normalisation, which is not
    /// the identity in float arithmetic.</summary>
    internal int AddPrepared(ReadOnlySpan<float> tokens) => AddCore(tokens, normalize: false);

    private int AddCore(ReadOnlySpan<float> tokens, bool normalize)
    {
        if (_view is not null)
        {
            throw new InvalidOperationException("This multi-vector store was loaded from a file and is read-only; build a new store to add documents.");
        }

        int d = Dimension;
        if (tokens.Length % d != 0)
        {
            ThrowHelper.ThrowRaggedLength(nameof(tokens), tokens.Length, d);
        }

        if (FdeKernels.HasNonFinite(SimdDispatch.Preferred, tokens))
        {
            ThrowHelper.ThrowNonFinite(nameof(tokens), tokens, d);
        }

        if (_count >= int.MaxValue - 1)
        {
            throw new InvalidOperationException($"The store is full: it holds {_count} documents, the most an int id can address.");
        }

        int n = tokens.Length / d;
        long start = TokenCount * d;
        long end = start + tokens.Length;
        if (end > Array.MaxLength)
        {
            throw new InvalidOperationException($"The store is full: {end} coordinates would exceed the {Array.MaxLength} an in-memory store can hold.");
        }

        // Written past the committed end first; the document becomes visible only when the offsets advance. The
        // values go through PrepareTokens, the same normalisation and half rounding a caller can apply beforehand.
        if (ElementType == StoreElementType.Float32)
        {
            EnsureCapacity(ref _floats, (int)end);
            Span<float> destination = _floats.AsSpan((int)start, tokens.Length);
            tokens.CopyTo(destination);
            if (normalize)
            {
                PrepareTokens(destination, d, StoreElementType.Float32, normalize: true, nameof(tokens));
            }
        }
        else
        {
            float[] prepared = ArrayPool<float>.Shared.Rent(tokens.Length);
            try
            {
                Span<float> values = prepared.AsSpan(0, tokens.Length);
                tokens.CopyTo(values);
                PrepareTokens(values, d, StoreElementType.Float16, normalize, nameof(tokens));
                EnsureCapacity(ref _halves, (int)end);
                Span<Half> destination = _halves.AsSpan((int)start, tokens.Length);
                for (int i = 0; i < values.Length; i++)
                {
                    destination[i] = (Half)values[i];
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(prepared);
            }
        }

        if (_count + 2 > _offsets.Length)
        {
            Array.Resize(ref _offsets, (int)Math.Min((long)_offsets.Length * 2, Array.MaxLength));
        }

        int id = _count;
        _offsets[id + 1] = TokenCount + n;
        TokenCount += n;
        _count = id + 1;
        return id;
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
    /// <remarks>Float16 values are converted exactly (every half is a float). Allocates nothing.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    /// <exception cref="ObjectDisposedException">The store was loaded from a file and has been disposed.</exception>
    public void CopyTokens(int id, Span<float> destination)
    {
        ValidateId(id, nameof(id));
        int length = TokenCountUnchecked(id) * Dimension;
        if (destination.Length < length)
        {
            ThrowHelper.ThrowDestinationTooShort(nameof(destination), destination.Length, length);
        }

        if (ElementType == StoreElementType.Float32)
        {
            FloatTokens(id).CopyTo(destination);
        }
        else
        {
            ReadOnlySpan<Half> source = HalfTokens(id);
            for (int i = 0; i < source.Length; i++)
            {
                destination[i] = (float)source[i];
            }
        }
    }

    /// <summary>Document <paramref name="id"/> as a view over the store's buffer (no copy); Float32 stores only.</summary>
    /// <param name="id">A document id in <c>[0, Count)</c>.</param>
    /// <returns>The view. For an in-memory store it stays valid while no later <see cref="Add"/> regrows the buffer
    /// (it then still shows the old, equal values); for a loaded store only until <see cref="Dispose"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is out of range.</exception>
    /// <exception cref="NotSupportedException">The store keeps Float16; use <see cref="CopyTokens"/>.</exception>
    /// <exception cref="ObjectDisposedException">The store was loaded from a file and has been disposed.</exception>
    public ReadOnlyMultiVector GetDocument(int id)
    {
        ValidateId(id, nameof(id));
        if (ElementType != StoreElementType.Float32)
        {
            throw new NotSupportedException($"GetDocument returns a view of float storage, but this store keeps {ElementType}; use CopyTokens to convert a document to floats.");
        }

        int length = TokenCountUnchecked(id) * Dimension;
        long start = _offsets[id] * Dimension;
        ReadOnlyMemory<float> values = _view is not null
            ? _view.FloatMemory(_dataOffset + (start * sizeof(float)), length)
            : new ReadOnlyMemory<float>(_floats, (int)start, length);
        return new ReadOnlyMultiVector(values, Dimension);
    }

    /// <summary>Writes the store in the multi-vector store format to <paramref name="stream"/> (from its current position).</summary>
    /// <param name="stream">A writable stream.</param>
    /// <remarks>One sequential pass over the data to compute the checksums, then one to write it.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The store was loaded from a file and has been disposed.</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
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
            BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
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
    /// <remarks>Validation as for <see cref="Load(string)"/>; memory is allocated only for bytes actually read.</remarks>
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

        Layout layout = ReadLayout((offset, count) => bytes.AsSpan((int)offset, count), length);
        int elements = checked((int)(layout.TokenCount * layout.Dimension));
        ReadOnlySpan<byte> data = bytes.AsSpan((int)layout.DataOffset, (int)layout.DataLength);
        float[] floats = layout.ElementType == StoreElementType.Float32 ? MemoryMarshal.Cast<byte, float>(data).ToArray() : [];
        Half[] halves = layout.ElementType == StoreElementType.Float16 ? MemoryMarshal.Cast<byte, Half>(data).ToArray() : [];
        Debug.Assert(floats.Length + halves.Length == elements);
        return new MultiVectorStore(layout.Dimension, layout.ElementType, layout.Normalized, layout.Offsets, layout.Count,
            layout.TokenCount, floats, halves, view: null, dataOffset: 0);
    }

    /// <summary>Opens a store file memory-mapped and read-only: token data is not copied onto the managed heap.</summary>
    /// <param name="path">The file written by <see cref="Save(string)"/>.</param>
    /// <returns>The read-only store; dispose it to unmap the file.</returns>
    /// <remarks>Every checksum is verified before this returns: one sequential read of the whole file (which also
    /// warms the page cache). Only the offsets ((Count + 1) × 8 bytes) are copied to the heap.</remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid store; the message names the first failed
    /// check (truncated, magic, version, element type, flags, header checksum, dimension, size, offsets checksum,
    /// offsets, data checksum, non-finite value).</exception>
    /// <exception cref="IOException">The file cannot be opened or mapped.</exception>
    public static MultiVectorStore Load(string path) => Load(path, out _);

    /// <summary><see cref="Load(string)"/>, also telling whether a float32 value is at least
    /// <see cref="FdeEncoder.TokenValueLimit"/> in magnitude (found in the same pass as the checksum; a
    /// <see cref="MuveraIndex"/> refuses such a store, a bare store does not).</summary>
    internal static MultiVectorStore Load(string path, out bool valuesBeyondTokenLimit)
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
            Layout layout = ReadLayout(view.Bytes, length);
            valuesBeyondTokenLimit = layout.BeyondTokenLimit;
            return new MultiVectorStore(layout.Dimension, layout.ElementType, layout.Normalized, layout.Offsets, layout.Count,
                layout.TokenCount, [], [], view, layout.DataOffset);
        }
        catch
        {
            view.Dispose();
            throw;
        }
    }

    /// <summary>Unmaps the file of a loaded store; does nothing for an in-memory store. Never throws; idempotent.</summary>
    public void Dispose() => _view?.Dispose();

    /// <summary>Document <paramref name="id"/>'s floats (Float32 stores; the id is not validated).</summary>
    internal ReadOnlySpan<float> FloatTokens(int id)
    {
        Debug.Assert(ElementType == StoreElementType.Float32 && (uint)id < (uint)_count);
        long start = _offsets[id] * Dimension;
        int length = TokenCountUnchecked(id) * Dimension;
        return _view is not null
            ? _view.Elements<float>(_dataOffset + (start * sizeof(float)), length)
            : _floats.AsSpan((int)start, length);
    }

    /// <summary>Document <paramref name="id"/>'s halves (Float16 stores; the id is not validated).</summary>
    internal ReadOnlySpan<Half> HalfTokens(int id)
    {
        Debug.Assert(ElementType == StoreElementType.Float16 && (uint)id < (uint)_count);
        long start = _offsets[id] * Dimension;
        int length = TokenCountUnchecked(id) * Dimension;
        return _view is not null
            ? _view.Elements<Half>(_dataOffset + (start * 2), length)
            : _halves.AsSpan((int)start, length);
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

    /// <summary>An in-memory, writable copy of this store (bit-identical tokens; no renormalisation).</summary>
    internal MultiVectorStore ToInMemory()
    {
        ThrowIfDisposed();
        long[] offsets = new long[Math.Max(4, _count + 1)];
        _offsets.AsSpan(0, _count + 1).CopyTo(offsets);
        int elements = checked((int)(TokenCount * Dimension));
        float[] floats = ElementType == StoreElementType.Float32 ? new float[elements] : [];
        Half[] halves = ElementType == StoreElementType.Float16 ? new Half[elements] : [];
        int chunkElements = ChunkBytes / ElementSize;
        for (int position = 0; position < elements; position += chunkElements)
        {
            int length = Math.Min(chunkElements, elements - position);
            Span<byte> destination = ElementType == StoreElementType.Float32
                ? MemoryMarshal.AsBytes(floats.AsSpan(position, length))
                : MemoryMarshal.AsBytes(halves.AsSpan(position, length));
            DataBytes((long)position * ElementSize, destination.Length).CopyTo(destination);
        }

        return new MultiVectorStore(Dimension, ElementType, IsNormalized, offsets, _count, TokenCount, floats, halves, view: null, dataOffset: 0);
    }

    /// <summary>Applies what <see cref="Add"/> does to token values (L2 normalisation, rounding to half precision) in
    /// place, so that a caller can compute from exactly the values a store of this kind will hold.</summary>
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
        new($"Multi-vector store is truncated: the file has {length} bytes, but {(expected == HeaderLength ? "the header alone needs" : "the header implies")} {expected}.");

    // Validates everything (see the README's reader rules, in that order) before any object is built.
    private static Layout ReadLayout(ByteReader read, long length)
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
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Multi-vector store has format version {version}; this build reads version {FormatVersion}.");
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

        return new Layout(dimension, storeType, (flags & NormalizedFlag) != 0, (int)count, tokenCount, offsets, dataOffset, dataLength,
            beyondTokenLimit);
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

    private sealed record Layout(int Dimension, StoreElementType ElementType, bool Normalized, int Count, long TokenCount,
        long[] Offsets, long DataOffset, long DataLength, bool BeyondTokenLimit);
}
