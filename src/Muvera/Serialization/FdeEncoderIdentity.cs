// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.Text;

namespace Muvera.Serialization;

/// <summary>
/// Everything that determines an <see cref="FdeEncoder"/>'s function: its options and the PRNG version its matrices
/// were drawn with. A stored index keeps it (<see cref="ToBytes"/>) and refuses a different encoder later
/// (<see cref="EnsureCompatible"/>).
/// </summary>
/// <param name="Options">The encoder options.</param>
/// <param name="PrngVersion">The version of the random stream (<see cref="FdeEncoder.PrngVersion"/>).</param>
/// <remarks>Binary layout: see <c>src/Muvera/Serialization/README.md</c> ("FDE encoder identity").</remarks>
public sealed record FdeEncoderIdentity(FdeOptions Options, int PrngVersion)
{
    /// <summary>The serialized length in bytes.</summary>
    public const int SerializedLength = 48;

    /// <summary>The format version written by <see cref="ToBytes"/>.</summary>
    public const ushort FormatVersion = 1;

    private static ReadOnlySpan<byte> Magic => "MVFDEID\0"u8;

    /// <summary>Writes the identity as <see cref="SerializedLength"/> little-endian bytes with a checksum.</summary>
    /// <returns>The bytes.</returns>
    public byte[] ToBytes()
    {
        byte[] bytes = new byte[SerializedLength];
        Span<byte> s = bytes;
        Magic.CopyTo(s);
        BinaryPrimitives.WriteUInt16LittleEndian(s[8..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(s[10..], (ushort)(Options.FillEmptyPartitions ? 1 : 0));
        BinaryPrimitives.WriteInt32LittleEndian(s[12..], PrngVersion);
        BinaryPrimitives.WriteInt32LittleEndian(s[16..], Options.Dimension);
        BinaryPrimitives.WriteInt32LittleEndian(s[20..], Options.Repetitions);
        BinaryPrimitives.WriteInt32LittleEndian(s[24..], Options.SimHashProjections);
        BinaryPrimitives.WriteInt32LittleEndian(s[28..], Options.Seed);
        BinaryPrimitives.WriteInt32LittleEndian(s[32..], (int)Options.Projection);
        BinaryPrimitives.WriteInt32LittleEndian(s[36..], Options.ProjectionDimension ?? 0);
        BinaryPrimitives.WriteInt32LittleEndian(s[40..], Options.FinalDimension ?? 0);
        BinaryPrimitives.WriteUInt32LittleEndian(s[44..], Checksum(s[..44]));
        return bytes;
    }

    /// <summary>Reads an identity written by <see cref="ToBytes"/>.</summary>
    /// <param name="bytes">The serialized identity.</param>
    /// <returns>The identity.</returns>
    /// <exception cref="InvalidDataException">The bytes are truncated, have the wrong magic, an unknown format
    /// version, a bad checksum, or options that do not validate; the message names the cause.</exception>
    public static FdeEncoderIdentity FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < SerializedLength)
        {
            throw new InvalidDataException($"FDE encoder identity is truncated: {bytes.Length} bytes, expected {SerializedLength}.");
        }

        if (!bytes[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException("FDE encoder identity has a wrong magic (expected \"MVFDEID\").");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"FDE encoder identity has format version {version}; this build reads version {FormatVersion}.");
        }

        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes[44..]);
        uint actual = Checksum(bytes[..44]);
        if (stored != actual)
        {
            throw new InvalidDataException($"FDE encoder identity checksum mismatch (stored 0x{stored:X8}, computed 0x{actual:X8}).");
        }

        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes[10..]);
        if ((flags & ~1) != 0)
        {
            throw new InvalidDataException($"FDE encoder identity has unknown flag bits 0x{flags & ~1:X4}; this build knows bit 0 (fill) only.");
        }

        int projectionDimension = BinaryPrimitives.ReadInt32LittleEndian(bytes[36..]);
        int finalDimension = BinaryPrimitives.ReadInt32LittleEndian(bytes[40..]);
        try
        {
            var options = new FdeOptions
            {
                Dimension = BinaryPrimitives.ReadInt32LittleEndian(bytes[16..]),
                Repetitions = BinaryPrimitives.ReadInt32LittleEndian(bytes[20..]),
                SimHashProjections = BinaryPrimitives.ReadInt32LittleEndian(bytes[24..]),
                Seed = BinaryPrimitives.ReadInt32LittleEndian(bytes[28..]),
                Projection = (FdeProjection)BinaryPrimitives.ReadInt32LittleEndian(bytes[32..]),
                ProjectionDimension = projectionDimension == 0 ? null : projectionDimension,
                FillEmptyPartitions = (flags & 1) != 0,
                FinalDimension = finalDimension == 0 ? null : finalDimension,
            };
            options.Validate();
            return new FdeEncoderIdentity(options, BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]));
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"FDE encoder identity holds invalid options: {e.Message}", e);
        }
    }

    /// <summary>
    /// Throws unless <paramref name="other"/> has the same PRNG version and equal options (record equality, which is
    /// stricter than equal functions: an identity projection with <see cref="FdeOptions.ProjectionDimension"/> null
    /// and one with it equal to the dimension are refused as different).
    /// </summary>
    /// <param name="other">The identity of the encoder about to be used.</param>
    /// <exception cref="InvalidDataException">The options or PRNG versions differ; the message lists both.</exception>
    public void EnsureCompatible(FdeEncoderIdentity other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (PrngVersion != other.PrngVersion)
        {
            throw new InvalidDataException($"FDE PRNG version mismatch: stored {PrngVersion}, encoder {other.PrngVersion}.");
        }

        if (Options != other.Options)
        {
            throw new InvalidDataException($"FDE options mismatch: stored {{ {Describe(Options)} }}, encoder {{ {Describe(other.Options)} }}.");
        }
    }

    private static string Describe(FdeOptions options)
    {
        string text = options.ToString();
        int open = text.IndexOf('{', StringComparison.Ordinal);
        return open < 0 ? text : text[(open + 1)..].TrimEnd('}', ' ');
    }

    // FNV-1a, 32-bit: catches torn or edited bytes; this is not a security boundary.
    private static uint Checksum(ReadOnlySpan<byte> bytes)
    {
        uint hash = 2166136261u;
        foreach (byte b in bytes)
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }

        return hash;
    }

    /// <inheritdoc/>
    public override string ToString() => new StringBuilder("FdeEncoderIdentity { ").Append(Describe(Options)).Append(", PrngVersion = ").Append(PrngVersion).Append(" }").ToString();
}
