// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.Text;
using Muvera.Faiss.Interop;
using Muvera.Serialization;

namespace Muvera.Faiss;

/// <summary>
/// The FAISS index file: our header around FAISS's own serialized bytes (<c>faiss::write_index</c>), so that a file
/// is checked completely before a single byte reaches FAISS's reader.
/// </summary>
/// <remarks>
/// <para>Layout (little-endian; L = factory length, P = payload length):</para>
/// <code>
///  offset  size  field
///       0     8  magic "MVFAISS\0"
///       8     2  format version (1)
///      10     2  reserved, 0
///      12     4  dimension (int32, positive)
///      16     8  vector count (int64, 0..int.MaxValue)
///      24     4  factory string length L in UTF-8 bytes (int32, 1..256)
///      28     L  factory string (UTF-8), as given to FaissMipsIndex.Create
///  28 + L     8  payload length P (int64, positive)
///  36 + L     8  payload checksum: FNV-1a 64 of the payload
///  44 + L     8  header checksum: FNV-1a 64 of bytes [0, 44 + L)
///  52 + L     P  payload: faiss::write_index bytes of an inner-product index
/// </code>
/// <para>The file is exactly 52 + L + P bytes. Reader order: length, magic, version, factory length, header
/// checksum, reserved, dimension, count, factory string, payload length against the file length, payload checksum;
/// then FAISS reads the payload (which must consume it exactly), and the index's dimension, count, metric and kind
/// must match the header and the factory string. FNV-1a catches torn and damaged files; it is not a defence against
/// a forged file (whose payload FAISS would then parse).</para>
/// </remarks>
internal static class FaissIndexFile
{
    /// <summary>The longest factory string a file may hold, in UTF-8 bytes.</summary>
    public const int MaxFactoryBytes = 256;

    public const ushort FormatVersion = 1;

    private const int FixedLength = 28;
    private const int TrailerLength = 24;
    private const int ChunkBytes = 1 << 24;

    private static ReadOnlySpan<byte> Magic => "MVFAISS\0"u8;

    /// <summary>What a valid file's header says, and its payload in native memory (the caller disposes it).</summary>
    public readonly record struct Contents(int Dimension, long Count, string Factory, NativeBytes Payload);

    /// <summary>Writes the file atomically: to <c>path + ".tmp"</c>, flushed to disk, renamed over
    /// <paramref name="path"/>.</summary>
    public static void Write(string path, int dimension, long count, string factory, NativeBytes payload)
    {
        EnsureLittleEndian();
        byte[] factoryBytes = Encoding.UTF8.GetBytes(factory);
        int headerLength = FixedLength + factoryBytes.Length + TrailerLength;
        byte[] header = new byte[headerLength];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), dimension);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), count);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(24), factoryBytes.Length);
        factoryBytes.CopyTo(header, FixedLength);
        int trailer = FixedLength + factoryBytes.Length;
        ulong payloadChecksum = Fnv64.Basis;
        for (long position = 0; position < payload.Length; position += ChunkBytes)
        {
            payloadChecksum = Fnv64.Append(payloadChecksum, payload.Slice(position, (int)Math.Min(ChunkBytes, payload.Length - position)));
        }

        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(trailer), payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(trailer + 8), payloadChecksum);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(trailer + 16), Fnv64.Append(Fnv64.Basis, header.AsSpan(0, trailer + 16)));

        string temporary = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                stream.Write(header);
                for (long position = 0; position < payload.Length; position += ChunkBytes)
                {
                    stream.Write(payload.Slice(position, (int)Math.Min(ChunkBytes, payload.Length - position)));
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

    /// <summary>Reads and checks a file (everything but the FAISS-level checks, which need the native index).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid FAISS index file; the message names the first
    /// failed check.</exception>
    public static Contents Read(string path)
    {
        EnsureLittleEndian();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        long length = stream.Length;
        if (length < FixedLength)
        {
            throw Truncated(length, FixedLength, "the fixed header alone needs");
        }

        Span<byte> fixedPart = stackalloc byte[FixedLength];
        stream.ReadExactly(fixedPart);
        if (!fixedPart[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException("FAISS index file has a wrong magic (expected \"MVFAISS\").");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(fixedPart[8..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"FAISS index file has format version {version}; this build reads version {FormatVersion}.");
        }

        int factoryLength = BinaryPrimitives.ReadInt32LittleEndian(fixedPart[24..]);
        if (factoryLength is <= 0 or > MaxFactoryBytes)
        {
            throw new InvalidDataException($"FAISS index file has factory string length {factoryLength}; it must be 1..{MaxFactoryBytes} bytes.");
        }

        int headerLength = FixedLength + factoryLength + TrailerLength;
        if (length < headerLength)
        {
            throw Truncated(length, headerLength, "the header alone needs");
        }

        byte[] header = new byte[headerLength];
        fixedPart.CopyTo(header);
        stream.ReadExactly(header.AsSpan(FixedLength));
        int trailer = FixedLength + factoryLength;
        ulong storedHeader = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(trailer + 16));
        ulong actualHeader = Fnv64.Append(Fnv64.Basis, header.AsSpan(0, trailer + 16));
        if (storedHeader != actualHeader)
        {
            throw new InvalidDataException($"FAISS index file header checksum mismatch (stored 0x{storedHeader:X16}, computed 0x{actualHeader:X16}).");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(10)) != 0)
        {
            throw new InvalidDataException("FAISS index file has non-zero reserved header bytes (10..11).");
        }

        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12));
        if (dimension <= 0)
        {
            throw new InvalidDataException($"FAISS index file has dimension {dimension}; it must be positive.");
        }

        long count = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16));
        if (count is < 0 or > int.MaxValue)
        {
            throw new InvalidDataException($"FAISS index file has vector count {count}; it must be in 0..{int.MaxValue}.");
        }

        string factory;
        try
        {
            factory = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(header, FixedLength, factoryLength);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException("FAISS index file has a factory string that is not valid UTF-8.", e);
        }

        long payloadLength = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(trailer));
        long available = length - headerLength;
        if (payloadLength <= 0)
        {
            throw new InvalidDataException($"FAISS index file has payload length {payloadLength}; it must be positive.");
        }

        if (payloadLength > available)
        {
            throw Truncated(length, headerLength + payloadLength, "the header implies");
        }

        if (payloadLength < available)
        {
            throw new InvalidDataException($"FAISS index file size mismatch: the file has {length} bytes, but the header implies {headerLength + payloadLength} ({available - payloadLength} trailing bytes).");
        }

        // Allocated only now: the file really holds payloadLength more bytes.
        NativeBytes payload = NativeBytes.Allocate(payloadLength);
        try
        {
            ulong payloadChecksum = Fnv64.Basis;
            for (long position = 0; position < payloadLength; position += ChunkBytes)
            {
                Span<byte> chunk = payload.Slice(position, (int)Math.Min(ChunkBytes, payloadLength - position));
                stream.ReadExactly(chunk);
                payloadChecksum = Fnv64.Append(payloadChecksum, chunk);
            }

            ulong storedPayload = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(trailer + 8));
            if (storedPayload != payloadChecksum)
            {
                throw new InvalidDataException($"FAISS index file payload checksum mismatch (stored 0x{storedPayload:X16}, computed 0x{payloadChecksum:X16}).");
            }

            return new Contents(dimension, count, factory, payload);
        }
        catch
        {
            payload.Dispose();
            throw;
        }
    }

    private static InvalidDataException Truncated(long length, long expected, string what) =>
        new($"FAISS index file is truncated: the file has {length} bytes, but {what} {expected}.");

    private static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("FAISS index files are little-endian and are read and written only on little-endian machines.");
        }
    }

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
}
