// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.Text;

namespace Muvera.Serialization;

/// <summary>
/// Everything that determines an <see cref="FdeEncoder"/>'s function: its options, the PRNG version its matrices
/// were drawn with and, for learned partitions, the checksum of the centroids. A stored index keeps it
/// (<see cref="ToBytes"/>) and refuses a different encoder later (<see cref="EnsureCompatible"/>).
/// </summary>
/// <param name="Options">The encoder options.</param>
/// <param name="PrngVersion">The version of the random stream (<see cref="FdeEncoder.PrngVersion"/>).</param>
/// <remarks>Binary layout: see <c>src/Muvera/Serialization/README.md</c> ("FDE encoder identity"). The centroids
/// themselves are not part of it: they travel as <see cref="FdePartitions"/> (a saved index's <c>partitions.bin</c>),
/// and <see cref="PartitionsChecksum"/> ties them to the identity.</remarks>
public sealed record FdeEncoderIdentity(FdeOptions Options, int PrngVersion)
{
    /// <summary>The serialized length in bytes of format version 1 (SimHash options that need nothing newer).</summary>
    public const int SerializedLength = 48;

    /// <summary>The serialized length in bytes of format version 2 (learned partitions, normalized averages or training
    /// settings).</summary>
    public const int SerializedLengthVersion2 = 72;

    /// <summary>The newest format version: <see cref="ToBytes"/> writes version 1 when the identity fits it (so that
    /// SimHash indexes stay readable by older builds) and version 2 otherwise; <see cref="FromBytes"/> reads both.</summary>
    public const ushort FormatVersion = 2;

    private const ushort FillFlag = 1;
    private const ushort TrainedFlag = 2;

    private static ReadOnlySpan<byte> Magic => "MVFDEID\0"u8;

    /// <summary>
    /// The <see cref="FdePartitions.Checksum"/> of the learned partitions the encoder uses, or null when it has none
    /// (SimHash, or learned partitions not trained yet: an index that has not trained stores its options alone).
    /// </summary>
    public ulong? PartitionsChecksum { get; init; }

    /// <summary>Writes the identity as little-endian bytes with a checksum: format version 1
    /// (<see cref="SerializedLength"/> bytes) when the options are SimHash with plain averages and default training
    /// settings and there are no partitions, else format version 2 (<see cref="SerializedLengthVersion2"/> bytes).</summary>
    /// <returns>The bytes.</returns>
    public byte[] ToBytes()
    {
        bool version1 = Options.Partitioning == FdePartitioning.SimHash && Options.DocumentAggregation == FdeDocumentAggregation.Average
            && Options.TrainingSample == FdeOptions.DefaultTrainingSample && Options.TrainingIterations == FdeOptions.DefaultTrainingIterations
            && PartitionsChecksum is null;
        byte[] bytes = new byte[version1 ? SerializedLength : SerializedLengthVersion2];
        Span<byte> s = bytes;
        Magic.CopyTo(s);
        BinaryPrimitives.WriteUInt16LittleEndian(s[8..], version1 ? (ushort)1 : FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(s[10..], (ushort)((Options.FillEmptyPartitions ? FillFlag : 0) | (PartitionsChecksum is null ? 0 : TrainedFlag)));
        BinaryPrimitives.WriteInt32LittleEndian(s[12..], PrngVersion);
        BinaryPrimitives.WriteInt32LittleEndian(s[16..], Options.Dimension);
        BinaryPrimitives.WriteInt32LittleEndian(s[20..], Options.Repetitions);
        BinaryPrimitives.WriteInt32LittleEndian(s[24..], Options.SimHashProjections);
        BinaryPrimitives.WriteInt32LittleEndian(s[28..], Options.Seed);
        BinaryPrimitives.WriteInt32LittleEndian(s[32..], (int)Options.Projection);
        BinaryPrimitives.WriteInt32LittleEndian(s[36..], Options.ProjectionDimension ?? 0);
        BinaryPrimitives.WriteInt32LittleEndian(s[40..], Options.FinalDimension ?? 0);
        if (version1)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[44..], Checksum(s[..44]));
            return bytes;
        }

        BinaryPrimitives.WriteInt32LittleEndian(s[44..], (int)Options.Partitioning);
        BinaryPrimitives.WriteInt32LittleEndian(s[48..], (int)Options.DocumentAggregation);
        BinaryPrimitives.WriteInt32LittleEndian(s[52..], Options.TrainingSample);
        BinaryPrimitives.WriteInt32LittleEndian(s[56..], Options.TrainingIterations);
        BinaryPrimitives.WriteUInt64LittleEndian(s[60..], PartitionsChecksum ?? 0);
        BinaryPrimitives.WriteUInt32LittleEndian(s[68..], Checksum(s[..68]));
        return bytes;
    }

    /// <summary>Reads an identity written by <see cref="ToBytes"/> (format version 1 or 2).</summary>
    /// <param name="bytes">The serialized identity.</param>
    /// <returns>The identity.</returns>
    /// <exception cref="InvalidDataException">The bytes are truncated, have the wrong magic, an unknown format
    /// version, a bad checksum, unknown flags, a partitions checksum without learned partitions, or options that do not
    /// validate; the message names the cause.</exception>
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
        if (version is not (1 or FormatVersion))
        {
            throw new InvalidDataException($"FDE encoder identity has format version {version}; this build reads versions 1 and {FormatVersion}.");
        }

        int length = version == 1 ? SerializedLength : SerializedLengthVersion2;
        if (bytes.Length < length)
        {
            throw new InvalidDataException($"FDE encoder identity is truncated: {bytes.Length} bytes, expected {length} for format version {version}.");
        }

        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(length - 4)..]);
        uint actual = Checksum(bytes[..(length - 4)]);
        if (stored != actual)
        {
            throw new InvalidDataException($"FDE encoder identity checksum mismatch (stored 0x{stored:X8}, computed 0x{actual:X8}).");
        }

        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes[10..]);
        ushort known = version == 1 ? FillFlag : (ushort)(FillFlag | TrainedFlag);
        if ((flags & ~known) != 0)
        {
            throw new InvalidDataException(version == 1
                ? $"FDE encoder identity has unknown flag bits 0x{flags & ~known:X4}; format version 1 knows bit 0 (fill) only."
                : $"FDE encoder identity has unknown flag bits 0x{flags & ~known:X4}; format version 2 knows bits 0 (fill) and 1 (trained partitions) only.");
        }

        int projectionDimension = BinaryPrimitives.ReadInt32LittleEndian(bytes[36..]);
        int finalDimension = BinaryPrimitives.ReadInt32LittleEndian(bytes[40..]);
        FdeOptions options;
        try
        {
            options = new FdeOptions
            {
                Dimension = BinaryPrimitives.ReadInt32LittleEndian(bytes[16..]),
                Repetitions = BinaryPrimitives.ReadInt32LittleEndian(bytes[20..]),
                SimHashProjections = BinaryPrimitives.ReadInt32LittleEndian(bytes[24..]),
                Seed = BinaryPrimitives.ReadInt32LittleEndian(bytes[28..]),
                Projection = (FdeProjection)BinaryPrimitives.ReadInt32LittleEndian(bytes[32..]),
                ProjectionDimension = projectionDimension == 0 ? null : projectionDimension,
                FillEmptyPartitions = (flags & FillFlag) != 0,
                FinalDimension = finalDimension == 0 ? null : finalDimension,
            };
            if (version > 1)
            {
                options = options with
                {
                    Partitioning = (FdePartitioning)BinaryPrimitives.ReadInt32LittleEndian(bytes[44..]),
                    DocumentAggregation = (FdeDocumentAggregation)BinaryPrimitives.ReadInt32LittleEndian(bytes[48..]),
                    TrainingSample = BinaryPrimitives.ReadInt32LittleEndian(bytes[52..]),
                    TrainingIterations = BinaryPrimitives.ReadInt32LittleEndian(bytes[56..]),
                };
            }

            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"FDE encoder identity holds invalid options: {e.Message}", e);
        }

        ulong? partitionsChecksum = null;
        if (version > 1)
        {
            ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(bytes[60..]);
            bool trained = (flags & TrainedFlag) != 0;
            if (trained && !options.RequiresTraining)
            {
                throw new InvalidDataException($"FDE encoder identity claims trained partitions, but its partitioning is {options.Partitioning}, which learns none.");
            }

            if (!trained && checksum != 0)
            {
                throw new InvalidDataException($"FDE encoder identity has a partitions checksum 0x{checksum:X16} without its trained flag.");
            }

            partitionsChecksum = trained ? checksum : null;
        }

        return new FdeEncoderIdentity(options, BinaryPrimitives.ReadInt32LittleEndian(bytes[12..])) { PartitionsChecksum = partitionsChecksum };
    }

    /// <summary>
    /// Throws unless <paramref name="other"/> has the same PRNG version, equal options (record equality, which is
    /// stricter than equal functions: an identity projection with <see cref="FdeOptions.ProjectionDimension"/> null
    /// and one with it equal to the dimension are refused as different) and the same partitions checksum.
    /// </summary>
    /// <param name="other">The identity of the encoder about to be used.</param>
    /// <exception cref="InvalidDataException">The options, PRNG versions or learned partitions differ; the message lists
    /// both.</exception>
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

        if (PartitionsChecksum != other.PartitionsChecksum)
        {
            throw new InvalidDataException(
                $"FDE partitions mismatch: stored {DescribeChecksum(PartitionsChecksum)}, encoder {DescribeChecksum(other.PartitionsChecksum)}.");
        }
    }

    private static string DescribeChecksum(ulong? checksum) => checksum is ulong value ? $"checksum 0x{value:X16}" : "none (not trained)";

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
    public override string ToString()
    {
        var builder = new StringBuilder("FdeEncoderIdentity { ").Append(Describe(Options)).Append(", PrngVersion = ").Append(PrngVersion);
        if (PartitionsChecksum is ulong checksum)
        {
            builder.Append(", PartitionsChecksum = 0x").Append(checksum.ToString("X16", System.Globalization.CultureInfo.InvariantCulture));
        }

        return builder.Append(" }").ToString();
    }
}
