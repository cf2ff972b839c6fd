// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Hashing;
using System.Text;

namespace Muvera.Orleans;

/// <summary>The kind of a write-ahead log record.</summary>
internal enum ShardLogOperation : byte
{
    /// <summary>Documents added (replayed as upserts).</summary>
    Add = 1,

    /// <summary>Documents replaced (replayed as upserts).</summary>
    Update = 2,

    /// <summary>Documents deleted (replayed as deletes of whatever is present).</summary>
    Delete = 3,
}

/// <summary>One record of a shard's write-ahead log: an operation over a batch of documents (ids only for deletes).</summary>
internal sealed record ShardLogRecord(ShardLogOperation Operation, IReadOnlyList<ShardDocument> Documents);

/// <summary>
/// A shard's write-ahead log: one file, <c>wal.log</c>, in the shard's directory. Layout (little-endian): a 16-byte
/// header (<c>MUVWAL01</c>, format version u32 = 1, reserved u32 = 0), then records, each a u32 payload length, a u32
/// CRC-32 of the payload and the payload: operation u8, document count i32, then per document its id (i32 UTF-8 byte
/// count + bytes), dimension i32, value count i32 and the float32 values (none for deletes).
/// </summary>
/// <remarks>
/// <para>Durability: <see cref="Append"/> returns only after the record is flushed to the device
/// (<see cref="FileStream.Flush(bool)"/> with <c>true</c>: fsync), so an acknowledged write survives a crash of the
/// process or the machine.</para>
/// <para>Torn tails: a crash during an append leaves a short or checksum-failing last record, which was never
/// acknowledged; <see cref="ReadAll"/> stops there and cuts the file back to the last whole record.</para>
/// <para>Single writer: the file is opened with <see cref="FileShare.None"/>, which .NET enforces on Linux and macOS with
/// an advisory <c>flock</c> held until the file is closed or its process ends; a second activation of the same shard, in
/// this or another process on the same file system, fails to open it instead of interleaving records.</para>
/// </remarks>
internal sealed class ShardWriteAheadLog : IDisposable
{
    internal const int HeaderLength = 16;
    private const int RecordHeaderLength = 8;
    private const int FormatVersion = 1;
    private const int MaxRecordBytes = int.MaxValue - 64;
    private static ReadOnlySpan<byte> Magic => "MUVWAL01"u8;

    private readonly FileStream _file;

    private ShardWriteAheadLog(string path, FileStream file)
    {
        Path = path;
        _file = file;
    }

    /// <summary>The log file's path.</summary>
    public string Path { get; }

    /// <summary>The file's length in bytes (header included).</summary>
    public long Length => _file.Length;

    /// <summary>Whether the log holds any record.</summary>
    public bool IsEmpty => _file.Length <= HeaderLength;

    /// <summary>Opens (or creates) the log, taking its exclusive lock.</summary>
    /// <exception cref="IOException">Another process or activation holds the log, or the file is not a log.</exception>
    public static ShardWriteAheadLog Open(string path)
    {
        FileStream file = new(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.None);
        try
        {
            if (file.Length == 0)
            {
                Span<byte> header = stackalloc byte[HeaderLength];
                header.Clear();
                Magic.CopyTo(header);
                BinaryPrimitives.WriteInt32LittleEndian(header[8..], FormatVersion);
                file.Write(header);
                file.Flush(true);
            }
            else
            {
                Span<byte> header = stackalloc byte[HeaderLength];
                file.Position = 0;
                if (file.Length < HeaderLength || file.ReadAtLeast(header, HeaderLength, false) < HeaderLength || !header[..8].SequenceEqual(Magic))
                {
                    throw new InvalidDataException($"The write-ahead log '{path}' does not start with the magic MUVWAL01.");
                }

                int version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
                if (version != FormatVersion)
                {
                    throw new InvalidDataException($"The write-ahead log '{path}' has format version {version}; this library reads version {FormatVersion}.");
                }
            }

            file.Position = file.Length;
            return new ShardWriteAheadLog(path, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads every whole record from the start; a torn tail is cut off (the file then ends after the last whole
    /// record) and counted in <paramref name="tornBytes"/>.</summary>
    public List<ShardLogRecord> ReadAll(out long tornBytes)
    {
        var records = new List<ShardLogRecord>();
        long length = _file.Length;
        long position = HeaderLength;
        _file.Position = position;
        Span<byte> recordHeader = stackalloc byte[RecordHeaderLength];
        while (true)
        {
            if (length - position < RecordHeaderLength || _file.ReadAtLeast(recordHeader, RecordHeaderLength, false) < RecordHeaderLength)
            {
                break;
            }

            uint payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(recordHeader);
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(recordHeader[4..]);
            if (payloadLength == 0 || payloadLength > MaxRecordBytes || payloadLength > length - position - RecordHeaderLength)
            {
                break;
            }

            byte[] payload = new byte[payloadLength];
            if (_file.ReadAtLeast(payload, payload.Length, false) < payload.Length || Crc32.HashToUInt32(payload) != crc)
            {
                break;
            }

            ShardLogRecord? record = Decode(payload);
            if (record is null)
            {
                break;
            }

            records.Add(record);
            position += RecordHeaderLength + payloadLength;
        }

        tornBytes = length - position;
        if (tornBytes > 0)
        {
            _file.SetLength(position);
            _file.Flush(true);
        }

        _file.Position = position;
        return records;
    }

    /// <summary>Appends one record and flushes it to the device before returning.</summary>
    public void Append(ShardLogRecord record)
    {
        byte[] payload = Encode(record);
        byte[] header = new byte[RecordHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), Crc32.HashToUInt32(payload));
        long start = _file.Length;
        try
        {
            _file.Position = start;
            _file.Write(header);
            _file.Write(payload);
            _file.Flush(true);
        }
        catch
        {
            // Leave no partial record behind a failed append (best effort; replay cuts one off anyway).
            try
            {
                _file.SetLength(start);
            }
            catch (IOException)
            {
            }

            throw;
        }
    }

    /// <summary>Removes every record (after a checkpoint made them redundant) and flushes.</summary>
    public void Truncate()
    {
        _file.SetLength(HeaderLength);
        _file.Position = HeaderLength;
        _file.Flush(true);
    }

    /// <summary>Closes the file, releasing its lock.</summary>
    public void Dispose() => _file.Dispose();

    internal static byte[] Encode(ShardLogRecord record)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write((byte)record.Operation);
            writer.Write(record.Documents.Count);
            foreach (ShardDocument document in record.Documents)
            {
                byte[] id = Encoding.UTF8.GetBytes(document.Id);
                writer.Write(id.Length);
                writer.Write(id);
                writer.Write(document.Dimension);
                float[] values = document.Tokens ?? [];
                writer.Write(values.Length);
                byte[] bytes = new byte[values.Length * sizeof(float)];
                for (int i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
                }

                writer.Write(bytes);
            }
        }

        return buffer.ToArray();
    }

    // Null when the payload is not a well-formed record (treated as the torn tail).
    private static ShardLogRecord? Decode(byte[] payload)
    {
        try
        {
            ReadOnlySpan<byte> span = payload;
            var operation = (ShardLogOperation)span[0];
            if (operation is not (ShardLogOperation.Add or ShardLogOperation.Update or ShardLogOperation.Delete))
            {
                return null;
            }

            int count = BinaryPrimitives.ReadInt32LittleEndian(span[1..]);
            int offset = 5;
            if (count < 0)
            {
                return null;
            }

            var documents = new List<ShardDocument>(Math.Min(count, 1 << 16));
            for (int d = 0; d < count; d++)
            {
                int idLength = BinaryPrimitives.ReadInt32LittleEndian(span[offset..]);
                offset += 4;
                string id = Encoding.UTF8.GetString(span.Slice(offset, idLength));
                offset += idLength;
                int dimension = BinaryPrimitives.ReadInt32LittleEndian(span[offset..]);
                int valueCount = BinaryPrimitives.ReadInt32LittleEndian(span[(offset + 4)..]);
                offset += 8;
                if (valueCount < 0)
                {
                    return null;
                }

                float[] values = new float[valueCount];
                ReadOnlySpan<byte> bytes = span.Slice(offset, valueCount * sizeof(float));
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * sizeof(float))..]);
                }

                offset += bytes.Length;
                documents.Add(new ShardDocument(id, dimension, values));
            }

            return offset == span.Length ? new ShardLogRecord(operation, documents) : null;
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
