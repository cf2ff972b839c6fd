// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace Muvera.Serialization;

/// <summary>The id map of a <see cref="MuveraIndex"/> directory (<c>ids.bin</c>): for every ordinal, whether it is
/// deleted and, if not, its string id. Format in README.md ("MuveraIndex id map").</summary>
internal static class IdMapFile
{
    public const string FileName = "ids.bin";
    private const int HeaderLength = 64;
    private const ushort FormatVersion = 1;
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static ReadOnlySpan<byte> Magic => "MVIDMAP\0"u8;

    /// <summary>Writes <paramref name="ids"/> (null = deleted) to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IReadOnlyList<string?> ids)
    {
        using var payload = new MemoryStream();
        Span<byte> prefix = stackalloc byte[6];
        long live = 0;
        foreach (string? id in ids)
        {
            if (id is null)
            {
                payload.WriteByte(1);
                continue;
            }

            live++;
            byte[] bytes = s_strictUtf8.GetBytes(id);
            payload.WriteByte(0);
            int length = bytes.Length;
            int used = 0;
            do
            {
                byte b = (byte)(length & 0x7F);
                length >>= 7;
                prefix[used++] = length != 0 ? (byte)(b | 0x80) : b;
            }
            while (length != 0);

            payload.Write(prefix[..used]);
            payload.Write(bytes);
        }

        ReadOnlySpan<byte> body = payload.GetBuffer().AsSpan(0, (int)payload.Length);
        Span<byte> header = stackalloc byte[HeaderLength];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], ids.Count);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], live);
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], body.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(header[40..], Fnv64.Append(Fnv64.Basis, body));
        BinaryPrimitives.WriteUInt64LittleEndian(header[56..], Fnv64.Append(Fnv64.Basis, header[..56]));
        stream.Write(header);
        stream.Write(body);
    }

    /// <summary>Reads an id map; every count is checked against the file length before anything is allocated.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid id map (the message names the check).</exception>
    public static string?[] Read(string path, out int live)
    {
        byte[] bytes;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1))
        {
            long length = stream.Length;
            if (length < HeaderLength || length > int.MaxValue)
            {
                throw Invalid(path, $"its length {length} is outside [{HeaderLength}, {int.MaxValue}] bytes");
            }

            bytes = new byte[length];
            stream.ReadExactly(bytes);
        }

        ReadOnlySpan<byte> header = bytes.AsSpan(0, HeaderLength);
        if (!header[..8].SequenceEqual(Magic))
        {
            throw Invalid(path, "the magic is not MVIDMAP");
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(header[56..]) != Fnv64.Append(Fnv64.Basis, header[..56]))
        {
            throw Invalid(path, "the header checksum does not match");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (version != FormatVersion)
        {
            throw Invalid(path, $"its format version is {version}; this library reads version {FormatVersion}");
        }

        int reserved = header[10..16].IndexOfAnyExcept((byte)0);
        if (reserved < 0)
        {
            reserved = header[48..56].IndexOfAnyExcept((byte)0) is int late and >= 0 ? 48 + late : -1;
        }
        else
        {
            reserved += 10;
        }

        if (reserved >= 0)
        {
            throw Invalid(path, $"reserved header byte {reserved} is 0x{header[reserved]:X2}; reserved bytes must be 0");
        }

        long count = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        long liveCount = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        long payloadLength = BinaryPrimitives.ReadInt64LittleEndian(header[32..]);
        if (payloadLength != bytes.Length - HeaderLength)
        {
            throw Invalid(path, $"the header gives {payloadLength} payload bytes but the file holds {bytes.Length - HeaderLength}");
        }

        // Every entry takes at least one byte, so a count beyond the payload is rejected before allocating.
        if (count < 0 || count > payloadLength || count > int.MaxValue - 1 || liveCount < 0 || liveCount > count)
        {
            throw Invalid(path, $"its counts ({count} documents, {liveCount} live) do not fit its {payloadLength} payload bytes");
        }

        ReadOnlySpan<byte> payload = bytes.AsSpan(HeaderLength);
        if (BinaryPrimitives.ReadUInt64LittleEndian(header[40..]) != Fnv64.Append(Fnv64.Basis, payload))
        {
            throw Invalid(path, "the payload checksum does not match");
        }

        var ids = new string?[count];
        var seen = new HashSet<string>((int)liveCount, StringComparer.Ordinal);
        int position = 0;
        for (long i = 0; i < count; i++)
        {
            if (position >= payload.Length)
            {
                throw Invalid(path, $"entry {i} starts past the end of the payload");
            }

            byte flag = payload[position++];
            if (flag == 1)
            {
                continue;
            }

            if (flag != 0)
            {
                throw Invalid(path, $"entry {i} has flag {flag} (0 = live, 1 = deleted)");
            }

            int length = 0;
            for (int shift = 0; ; shift += 7)
            {
                if (position >= payload.Length || shift > 28)
                {
                    throw Invalid(path, $"entry {i} has a malformed length");
                }

                byte b = payload[position++];
                length |= (b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    break;
                }
            }

            if (length <= 0 || length > payload.Length - position)
            {
                throw Invalid(path, $"entry {i} has length {length}, outside (0, {payload.Length - position}]");
            }

            string id;
            try
            {
                id = s_strictUtf8.GetString(payload.Slice(position, length));
            }
            catch (DecoderFallbackException)
            {
                throw Invalid(path, $"entry {i} is not valid UTF-8");
            }

            position += length;
            if (!seen.Add(id))
            {
                throw Invalid(path, $"id \"{id}\" appears twice");
            }

            ids[i] = id;
        }

        if (position != payload.Length)
        {
            throw Invalid(path, $"{payload.Length - position} bytes follow the last entry");
        }

        if (seen.Count != liveCount)
        {
            throw Invalid(path, $"the header counts {liveCount} live ids but the payload holds {seen.Count}");
        }

        live = seen.Count;
        return ids;
    }

    /// <summary>The index of the first lone surrogate of <paramref name="id"/> (which UTF-8 cannot encode), or −1 when
    /// the id is well-formed UTF-16.</summary>
    public static int IndexOfLoneSurrogate(string id)
    {
        for (int i = 0; i < id.Length; i++)
        {
            char c = id[i];
            if (char.IsHighSurrogate(c) && i + 1 < id.Length && char.IsLowSurrogate(id[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary><paramref name="id"/> with every lone surrogate written as <c>\uXXXX</c>, so that a message naming it can
    /// itself be written as UTF-8.</summary>
    public static string Escape(string id)
    {
        var builder = new StringBuilder(id.Length + 8);
        for (int i = 0; i < id.Length; i++)
        {
            char c = id[i];
            if (char.IsHighSurrogate(c) && i + 1 < id.Length && char.IsLowSurrogate(id[i + 1]))
            {
                builder.Append(c).Append(id[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static InvalidDataException Invalid(string path, string reason) =>
        new($"The id map '{path}' is not valid: {reason}.");
}
