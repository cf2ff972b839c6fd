// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Muvera.Serialization;
using Muvera.USearch.Interop;

namespace Muvera.USearch;

/// <summary>
/// The <see cref="USearchMipsIndex"/> file: a 64-byte header of our own, then USearch's serialized index (the
/// payload, 64-byte aligned in the file). Every field is little-endian.
/// </summary>
/// <remarks>
/// <para>Header: 0 magic <c>"MVUSRCH\0"</c>; 8 u16 format version (1); 10 u16 scalar kind (0 = Float32,
/// 1 = Float16, 2 = BFloat16); 12 i32 dimension; 16 i64 count; 24 i32 connectivity; 28 i32 expansion add; 32 i32
/// expansion search; 36 u32 reserved (0); 40 i64 payload length; 48 u64 FNV-1a-64 of the payload; 56 u64 FNV-1a-64 of
/// bytes 0..55. The file is exactly 64 + payload length bytes.</para>
/// <para>Payload (USearch 2.x dense index, as written by <c>usearch_save_buffer</c>): u32 rows, u32 bytes per row,
/// the rows; a 64-byte head ("usearch", version, metric/scalar/key/slot kinds, present and deleted counts, dimensions,
/// multi); the graph header (u64 size, connectivity, base connectivity, max level (i64, −1 when empty), entry
/// slot); i16 level per node; then per node: u64 key, i16 level, and per level 0..level a u32 neighbour count and the
/// u32 neighbour slots (2·M of them on level 0, M above).</para>
/// <para>A reader checks the header, both checksums and then the payload's whole structure (kinds, counts, levels,
/// every neighbour slot, the key set 0..count−1, finite vectors) before any byte reaches the native library, so a
/// damaged or crafted file is refused with an <see cref="InvalidDataException"/> instead of reaching native code that
/// trusts its input.</para>
/// </remarks>
internal static class USearchIndexFile
{
    /// <summary>The header length; the payload starts here.</summary>
    public const int HeaderLength = 64;

    /// <summary>The format version this build writes and reads.</summary>
    public const ushort FormatVersion = 1;

    private const int ChunkBytes = 1 << 24;
    private const int DenseHeadLength = 64;
    private const int GraphHeaderLength = 40;
    private const int MaxLevel = 64;
    private const byte MetricInnerProduct = (byte)'i';
    private const byte KeyKindU64 = 0x0E;
    private const byte SlotKindU32 = 0x0F;
    private const ulong FreeKey = ulong.MaxValue;

    private static ReadOnlySpan<byte> Magic => "MVUSRCH\0"u8;

    private static ReadOnlySpan<byte> USearchMagic => "usearch"u8;

    /// <summary>Writes <paramref name="index"/> to <paramref name="path"/> atomically: into <c>path + ".tmp"</c> (the
    /// payload serialized straight into the mapped file), flushed to disk, then renamed over <paramref name="path"/>.</summary>
    public static void Save(string path, NativeIndex index, Header header)
    {
        string temporary = path + ".tmp";
        try
        {
            long payloadLength = index.SerializedLength;
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1))
            {
                using (MappedFile file = MappedFile.CreateWritable(stream, HeaderLength + payloadLength))
                {
                    index.Save(file, HeaderLength, payloadLength);
                    ulong checksum = Checksum(file, HeaderLength, payloadLength);
                    WriteHeader(file.WritableBytes(0, HeaderLength), header with { PayloadLength = payloadLength }, checksum);
                    file.Flush();
                }

                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Checks the whole file (header, checksums, payload structure) and returns its header.</summary>
    /// <exception cref="InvalidDataException">The first failed check, named.</exception>
    public static Header Read(MappedFile file)
    {
        Header header = ReadHeader(file.Bytes(0, HeaderLength), file.Length);
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(file.Bytes(48, 8));
        ulong actual = Checksum(file, HeaderLength, header.PayloadLength);
        if (stored != actual)
        {
            throw new InvalidDataException($"USearch index file payload checksum mismatch (stored 0x{stored:X16}, computed 0x{actual:X16}).");
        }

        ValidatePayload(file, header);
        return header;
    }

    /// <summary>The exception for a file shorter than its header or than its header implies.</summary>
    public static InvalidDataException Truncated(long length, long expected) =>
        new($"USearch index file is truncated: the file has {length} bytes, but {(expected == HeaderLength ? "the header alone needs" : "the header implies")} {expected}.");

    /// <summary>USearch's code for a storage kind, inside its own payload head.</summary>
    private static byte PayloadScalarCode(USearchScalarKind kind) => kind switch
    {
        USearchScalarKind.Float32 => 0x0B,
        USearchScalarKind.Float16 => 0x0C,
        _ => 0x04,
    };

    private static void WriteHeader(Span<byte> header, Header h, ulong payloadChecksum)
    {
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], (ushort)h.ScalarKind);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], h.Dimension);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], h.Count);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], h.Connectivity);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], h.ExpansionAdd);
        BinaryPrimitives.WriteInt32LittleEndian(header[32..], h.ExpansionSearch);
        BinaryPrimitives.WriteInt64LittleEndian(header[40..], h.PayloadLength);
        BinaryPrimitives.WriteUInt64LittleEndian(header[48..], payloadChecksum);
        BinaryPrimitives.WriteUInt64LittleEndian(header[56..], Fnv64.Append(Fnv64.Basis, header[..56]));
    }

    private static Header ReadHeader(ReadOnlySpan<byte> header, long fileLength)
    {
        if (!header[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException("USearch index file has a wrong magic (expected \"MVUSRCH\").");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"USearch index file has format version {version}; this build reads version {FormatVersion}.");
        }

        ulong storedHeader = BinaryPrimitives.ReadUInt64LittleEndian(header[56..]);
        ulong actualHeader = Fnv64.Append(Fnv64.Basis, header[..56]);
        if (storedHeader != actualHeader)
        {
            throw new InvalidDataException($"USearch index file header checksum mismatch (stored 0x{storedHeader:X16}, computed 0x{actualHeader:X16}).");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(header[36..]) != 0)
        {
            throw new InvalidDataException("USearch index file has non-zero reserved header bytes (36..39).");
        }

        ushort kind = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        if (kind > (ushort)USearchScalarKind.BFloat16)
        {
            throw new InvalidDataException($"USearch index file has unknown scalar kind {kind} (0 = Float32, 1 = Float16, 2 = BFloat16).");
        }

        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        if (dimension <= 0 || dimension > USearchMipsIndex.MaxDimension)
        {
            throw new InvalidDataException($"USearch index file has dimension {dimension}; it must be in [1, {USearchMipsIndex.MaxDimension}].");
        }

        long count = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        if (count < 0 || count > int.MaxValue - 1)
        {
            throw new InvalidDataException($"USearch index file has count {count}; it must be in [0, {int.MaxValue - 1}].");
        }

        int connectivity = BinaryPrimitives.ReadInt32LittleEndian(header[24..]);
        int expansionAdd = BinaryPrimitives.ReadInt32LittleEndian(header[28..]);
        int expansionSearch = BinaryPrimitives.ReadInt32LittleEndian(header[32..]);
        if (connectivity is < USearchOptions.MinConnectivity or > USearchOptions.MaxConnectivity
            || expansionAdd is < 1 or > USearchOptions.MaxExpansion
            || expansionSearch is < 1 or > USearchOptions.MaxExpansion)
        {
            throw new InvalidDataException($"USearch index file has options out of range (connectivity {connectivity}, expansion add {expansionAdd}, expansion search {expansionSearch}).");
        }

        long payloadLength = BinaryPrimitives.ReadInt64LittleEndian(header[40..]);
        if (payloadLength <= 0 || payloadLength > long.MaxValue - HeaderLength)
        {
            throw new InvalidDataException($"USearch index file has payload length {payloadLength}; it must be positive.");
        }

        long total = HeaderLength + payloadLength;
        if (total > fileLength)
        {
            throw Truncated(fileLength, total);
        }

        if (total < fileLength)
        {
            throw new InvalidDataException($"USearch index file size mismatch: the file has {fileLength} bytes, but the header implies {total} ({fileLength - total} trailing bytes).");
        }

        return new Header((USearchScalarKind)kind, dimension, (int)count, connectivity, expansionAdd, expansionSearch, payloadLength);
    }

    private static ulong Checksum(MappedFile file, long offset, long length)
    {
        ulong hash = Fnv64.Basis;
        for (long position = 0; position < length;)
        {
            int chunk = (int)Math.Min(ChunkBytes, length - position);
            hash = Fnv64.Append(hash, file.Bytes(offset + position, chunk));
            position += chunk;
        }

        return hash;
    }

    // Walks USearch's serialization field by field; every length is checked against the bytes that remain before it
    // is used, and every allocation is bounded by bytes that the file really holds.
    private static void ValidatePayload(MappedFile file, Header header)
    {
        var reader = new PayloadReader(file, HeaderLength, header.PayloadLength);

        // 1. The vectors: u32 rows, u32 bytes per row, then the rows.
        uint rows = reader.UInt32();
        uint rowBytes = reader.UInt32();
        if (rows > int.MaxValue)
        {
            throw Corrupt($"{rows} vector rows, more than an int id can address");
        }

        int scalarBytes = header.ScalarKind == USearchScalarKind.Float32 ? 4 : 2;
        if (rowBytes != (long)header.Dimension * scalarBytes)
        {
            throw Corrupt($"vector rows of {rowBytes} bytes, but dimension {header.Dimension} of {header.ScalarKind} needs {(long)header.Dimension * scalarBytes}");
        }

        long matrixBytes = (long)rows * rowBytes;
        reader.Require(matrixBytes, "the vectors");
        if (HasNonFinite(file, reader.Position, matrixBytes, header.ScalarKind))
        {
            throw Corrupt("a NaN or infinite vector coordinate");
        }

        reader.Skip(matrixBytes);

        // 2. The dense head.
        ReadOnlySpan<byte> head = reader.Bytes(DenseHeadLength, "the index head");
        if (!head[..7].SequenceEqual(USearchMagic))
        {
            throw Corrupt("no \"usearch\" magic in the index head");
        }

        ushort major = BinaryPrimitives.ReadUInt16LittleEndian(head[7..]);
        if (major != 2)
        {
            throw Corrupt($"USearch format major version {major}; this build reads 2");
        }

        if (head[13] != MetricInnerProduct || head[14] != PayloadScalarCode(header.ScalarKind) || head[15] != KeyKindU64 || head[16] != SlotKindU32)
        {
            throw Corrupt($"index kinds metric 0x{head[13]:X2}, scalar 0x{head[14]:X2}, key 0x{head[15]:X2}, slot 0x{head[16]:X2}; expected inner product, {header.ScalarKind}, u64 keys and u32 slots");
        }

        ulong present = BinaryPrimitives.ReadUInt64LittleEndian(head[17..]);
        ulong deleted = BinaryPrimitives.ReadUInt64LittleEndian(head[25..]);
        ulong dimensions = BinaryPrimitives.ReadUInt64LittleEndian(head[33..]);
        if (present != (ulong)header.Count || deleted > rows || present + deleted != rows || dimensions != (ulong)header.Dimension || head[41] != 0)
        {
            throw Corrupt($"index head counts {present} present + {deleted} deleted of {rows} rows, dimension {dimensions}, multi {head[41]}; the header says count {header.Count}, dimension {header.Dimension}, single");
        }

        if (head[42..].ContainsAnyExcept((byte)0))
        {
            throw Corrupt("non-zero bytes after the multi flag in the index head (this USearch version leaves them zero)");
        }

        // 3. The graph header.
        ReadOnlySpan<byte> graph = reader.Bytes(GraphHeaderLength, "the graph header");
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(graph);
        ulong connectivity = BinaryPrimitives.ReadUInt64LittleEndian(graph[8..]);
        ulong connectivityBase = BinaryPrimitives.ReadUInt64LittleEndian(graph[16..]);
        long maxLevel = BinaryPrimitives.ReadInt64LittleEndian(graph[24..]);
        ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(graph[32..]);
        if (size != rows || connectivity != (ulong)header.Connectivity || connectivityBase != 2 * connectivity)
        {
            throw Corrupt($"graph of {size} nodes with connectivity {connectivity} (base {connectivityBase}); expected {rows} nodes and connectivity {header.Connectivity} (base {2 * header.Connectivity})");
        }

        if (size == 0 ? maxLevel != -1 : (maxLevel < 0 || maxLevel > MaxLevel || entry >= size))
        {
            throw Corrupt($"graph max level {maxLevel} and entry slot {entry} for {size} nodes");
        }

        // 4. Levels: allocated only after the file proved to hold them.
        int nodes = (int)size;
        ReadOnlySpan<byte> levelBytes = reader.Bytes((long)nodes * sizeof(short), "the node levels");
        short[] levels = new short[nodes];
        for (int slot = 0; slot < nodes; slot++)
        {
            short level = BinaryPrimitives.ReadInt16LittleEndian(levelBytes[(slot * sizeof(short))..]);
            if (level < 0 || level > maxLevel)
            {
                throw Corrupt($"node {slot} at level {level}, outside [0, {maxLevel}]");
            }

            levels[slot] = level;
        }

        if (nodes > 0 && levels[(int)entry] != maxLevel)
        {
            throw Corrupt($"entry slot {entry} at level {levels[(int)entry]}, not the max level {maxLevel}");
        }

        // 5. Nodes: key, level, then a neighbour list per level; every neighbour must exist on that level.
        int m = header.Connectivity;
        int baseListBytes = sizeof(uint) * (1 + (2 * m));
        int listBytes = sizeof(uint) * (1 + m);
        bool[] seen = new bool[header.Count];
        long deletedNodes = 0;
        for (int slot = 0; slot < nodes; slot++)
        {
            int level = levels[slot];
            long nodeBytes = sizeof(ulong) + sizeof(short) + baseListBytes + ((long)level * listBytes);
            ReadOnlySpan<byte> node = reader.Bytes(nodeBytes, $"node {slot}");
            ulong key = BinaryPrimitives.ReadUInt64LittleEndian(node);
            if (key == FreeKey)
            {
                deletedNodes++;
            }
            else if (key >= (ulong)header.Count || seen[(int)key])
            {
                throw Corrupt($"node {slot} has key {key}, {(key >= (ulong)header.Count ? $"outside the ids 0..{header.Count - 1}" : "a duplicate")}");
            }
            else
            {
                seen[(int)key] = true;
            }

            if (BinaryPrimitives.ReadInt16LittleEndian(node[8..]) != level)
            {
                throw Corrupt($"node {slot} stores level {BinaryPrimitives.ReadInt16LittleEndian(node[8..])}, but the level table says {level}");
            }

            int offset = sizeof(ulong) + sizeof(short);
            for (int l = 0; l <= level; l++)
            {
                int capacity = l == 0 ? 2 * m : m;
                uint neighbours = BinaryPrimitives.ReadUInt32LittleEndian(node[offset..]);
                if (neighbours > capacity)
                {
                    throw Corrupt($"node {slot} has {neighbours} neighbours on level {l}, more than the {capacity} it holds");
                }

                for (int i = 0; i < (int)neighbours; i++)
                {
                    uint neighbour = BinaryPrimitives.ReadUInt32LittleEndian(node[(offset + sizeof(uint) + (i * sizeof(uint)))..]);
                    if (neighbour >= (uint)nodes || levels[neighbour] < l)
                    {
                        throw Corrupt($"node {slot} links on level {l} to slot {neighbour}, which {(neighbour >= (uint)nodes ? "does not exist" : "is not on that level")}");
                    }
                }

                offset += l == 0 ? baseListBytes : listBytes;
            }
        }

        if (deletedNodes != (long)deleted)
        {
            throw Corrupt($"{deletedNodes} deleted nodes, but the index head says {deleted}");
        }

        if (reader.Remaining != 0)
        {
            throw Corrupt($"{reader.Remaining} bytes after the last node");
        }
    }

    private static bool HasNonFinite(MappedFile file, long offset, long length, USearchScalarKind kind)
    {
        for (long position = 0; position < length;)
        {
            // An even chunk length keeps 2- and 4-byte scalars whole (rows are whole scalars and the chunk is 2^24).
            int chunk = (int)Math.Min(ChunkBytes, length - position);
            ReadOnlySpan<byte> bytes = file.Bytes(offset + position, chunk);
            bool nonFinite = kind switch
            {
                USearchScalarKind.Float32 => !TensorPrimitives.IsFiniteAll(MemoryMarshal.Cast<byte, float>(bytes)),
                USearchScalarKind.Float16 => AnyExponentAllOnes(MemoryMarshal.Cast<byte, ushort>(bytes), 0x7C00),
                _ => AnyExponentAllOnes(MemoryMarshal.Cast<byte, ushort>(bytes), 0x7F80),
            };
            if (nonFinite)
            {
                return true;
            }

            position += chunk;
        }

        return false;
    }

    // Exponent bits all ones: ∞ or NaN (binary16 and bfloat16 differ only in the mask).
    private static bool AnyExponentAllOnes(ReadOnlySpan<ushort> bits, ushort mask)
    {
        int seen = 0;
        foreach (ushort value in bits)
        {
            seen |= (value & mask) == mask ? 1 : 0;
        }

        return seen != 0;
    }

    private static InvalidDataException Corrupt(string what) =>
        new($"USearch index file payload is inconsistent: {what}.");

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The original failure is the one worth reporting.
        }
    }

    /// <summary>What the header records.</summary>
    /// <param name="ScalarKind">The storage kind.</param>
    /// <param name="Dimension">The vector length.</param>
    /// <param name="Count">The number of vectors (ids 0..Count−1).</param>
    /// <param name="Connectivity">M.</param>
    /// <param name="ExpansionAdd">The insertion beam width.</param>
    /// <param name="ExpansionSearch">The default search beam width.</param>
    /// <param name="PayloadLength">The length of USearch's serialization after the header.</param>
    internal readonly record struct Header(USearchScalarKind ScalarKind, int Dimension, int Count, int Connectivity,
        int ExpansionAdd, int ExpansionSearch, long PayloadLength);

    // A forward-only cursor over the payload that refuses to read past its end.
    private struct PayloadReader
    {
        private readonly MappedFile _file;
        private readonly long _end;

        public PayloadReader(MappedFile file, long start, long length)
        {
            _file = file;
            Position = start;
            _end = start + length;
        }

        public long Position { get; private set; }

        public readonly long Remaining => _end - Position;

        public readonly void Require(long bytes, string what)
        {
            if (bytes < 0 || bytes > Remaining)
            {
                throw Corrupt($"{what} need {bytes} bytes, but only {Remaining} remain");
            }
        }

        public void Skip(long bytes)
        {
            Require(bytes, "a field");
            Position += bytes;
        }

        public ReadOnlySpan<byte> Bytes(long bytes, string what)
        {
            Require(bytes, what);
            if (bytes > int.MaxValue)
            {
                throw Corrupt($"{what} need {bytes} bytes, more than one read can hold");
            }

            ReadOnlySpan<byte> span = _file.Bytes(Position, (int)bytes);
            Position += bytes;
            return span;
        }

        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(sizeof(uint), "a u32 field"));
    }
}
