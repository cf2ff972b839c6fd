// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Prng;
using Muvera.Serialization;
using Muvera.Training;

namespace Muvera;

/// <summary>
/// The learned partitions of an <see cref="FdePartitioning.KMeans"/> FDE: for every repetition, 2^k unit centroids of
/// the token dimension. A token goes to the centroid with the largest inner product (ties to the lower index).
/// </summary>
/// <remarks>
/// <para>Made by <see cref="FdeEncoder.Train(FdeOptions, IReadOnlyList{ReadOnlyMultiVector}, ParallelOptions)"/>
/// (<see cref="FdeEncoder.Partitions"/>), saved with <see cref="Save"/> and read back with <see cref="Load"/>; a saved
/// <see cref="MuveraIndex"/> keeps them in its <c>partitions.bin</c>. File format: <c>src/Muvera/Serialization/README.md</c>
/// ("FDE partitions").</para>
/// <para>Immutable and thread-safe. <see cref="Checksum"/> identifies the centroids: an
/// <see cref="FdeEncoderIdentity"/> records it, so that an index refuses an encoder with other partitions.</para>
/// </remarks>
public sealed class FdePartitions
{
    /// <summary>The format version <see cref="Save"/> writes.</summary>
    public const ushort FormatVersion = 1;

    /// <summary>The length of the file header in bytes.</summary>
    internal const int HeaderLength = 64;

    private static readonly ParallelOptions s_sequential = new() { MaxDegreeOfParallelism = 1 };

    private readonly float[] _centroids;

    internal FdePartitions(float[] centroids, int repetitions, int count, int dimension)
    {
        System.Diagnostics.Debug.Assert(centroids.Length == (long)repetitions * count * dimension);
        _centroids = centroids;
        Repetitions = repetitions;
        Count = count;
        Dimension = dimension;
        Checksum = Fnv64.Append(Fnv64.Basis, MemoryMarshal.AsBytes(centroids.AsSpan()));
    }

    private static ReadOnlySpan<byte> Magic => "MVFDEPT\0"u8;

    /// <summary>The number of repetitions R.</summary>
    public int Repetitions { get; }

    /// <summary>The number of partitions (centroids) per repetition, 2^k.</summary>
    public int Count { get; }

    /// <summary>The token dimension d.</summary>
    public int Dimension { get; }

    /// <summary>FNV-1a 64 of the centroids as little-endian float32, repetition after repetition, centroid after
    /// centroid: what an <see cref="FdeEncoderIdentity"/> records.</summary>
    public ulong Checksum { get; }

    /// <summary>All centroids, row-major: centroid b of repetition r at <c>[(r·Count + b)·Dimension, …)</c>.</summary>
    internal ReadOnlySpan<float> Centroids => _centroids;

    /// <summary>The centroids of one repetition, row-major (<see cref="Count"/> × <see cref="Dimension"/>).</summary>
    /// <param name="repetition">The repetition, 0 ≤ r &lt; <see cref="Repetitions"/>.</param>
    /// <returns>A read-only view.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="repetition"/> is out of range.</exception>
    public ReadOnlySpan<float> GetCentroids(int repetition)
    {
        if ((uint)repetition >= (uint)Repetitions)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(repetition), repetition, $"repetition is {repetition}; it must be in 0..{Repetitions - 1}.");
        }

        int length = Count * Dimension;
        return _centroids.AsSpan(repetition * length, length);
    }

    /// <summary>Writes the partitions (format in <c>src/Muvera/Serialization/README.md</c>, "FDE partitions").</summary>
    /// <param name="stream">A writable stream.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian.</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("FDE partitions are saved on little-endian machines only.");
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], Repetitions);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], Count);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], Dimension);
        BinaryPrimitives.WriteUInt64LittleEndian(header[24..], Checksum);
        BinaryPrimitives.WriteUInt64LittleEndian(header[56..], Fnv64.Append(Fnv64.Basis, header[..56]));
        stream.Write(header);
        stream.Write(MemoryMarshal.AsBytes(_centroids.AsSpan()));
    }

    /// <summary>Reads partitions written by <see cref="Save"/>, checking every field before it allocates.</summary>
    /// <param name="stream">A readable stream positioned at the partitions; read to its end.</param>
    /// <returns>The partitions.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="InvalidDataException">Truncated, trailing bytes, wrong magic or version, a bad checksum, a shape
    /// out of range, or a centroid coordinate that is not finite or exceeds 1 in magnitude; the message names the
    /// cause.</exception>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian.</exception>
    public static FdePartitions Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("FDE partitions are read on little-endian machines only.");
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        int read = stream.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false);
        Check(read == HeaderLength, $"truncated: {read} bytes, shorter than the {HeaderLength}-byte header");
        Check(header[..8].SequenceEqual(Magic), "wrong magic (expected \"MVFDEPT\")");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        Check(version == FormatVersion, $"format version {version}; this build reads version {FormatVersion}");
        ulong headerChecksum = BinaryPrimitives.ReadUInt64LittleEndian(header[56..]);
        ulong actualHeader = Fnv64.Append(Fnv64.Basis, header[..56]);
        Check(headerChecksum == actualHeader, $"header checksum mismatch (stored 0x{headerChecksum:X16}, computed 0x{actualHeader:X16})");
        Check(BinaryPrimitives.ReadUInt16LittleEndian(header[10..]) == 0 && !header[32..56].ContainsAnyExcept((byte)0), "a reserved header field is not zero");
        int repetitions = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        int count = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        Check(repetitions > 0, $"repetitions {repetitions} is not positive");
        Check(count > 0 && (count & (count - 1)) == 0 && count <= 1 << FdeOptions.MaxSimHashProjections,
            $"the partition count {count} is not a power of two in 1..2^{FdeOptions.MaxSimHashProjections}");
        Check(dimension > 0 && dimension <= FdeOptions.MaxDimension, $"dimension {dimension} is outside 1..{FdeOptions.MaxDimension}");
        long entries = (long)repetitions * count;
        Check(entries <= FdeOptions.MaxMatrixEntries && entries * dimension <= FdeOptions.MaxMatrixEntries,
            $"{repetitions} × {count} × {dimension} centroid coordinates exceed the limit of {FdeOptions.MaxMatrixEntries} (FdeOptions.MaxMatrixEntries)");
        long dataBytes = entries * dimension * sizeof(float);
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            Check(remaining >= dataBytes, $"truncated: {remaining} data bytes, expected {dataBytes}");
            Check(remaining == dataBytes, $"{remaining - dataBytes} trailing bytes after the centroids");
        }

        float[] centroids = new float[entries * dimension];
        Span<byte> data = MemoryMarshal.AsBytes(centroids.AsSpan());
        read = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        Check(read == data.Length, $"truncated: {read} data bytes, expected {dataBytes}");
        Check(stream.CanSeek || stream.ReadByte() < 0, "trailing bytes after the centroids");
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(header[24..]);
        ulong actual = Fnv64.Append(Fnv64.Basis, data);
        Check(stored == actual, $"data checksum mismatch (stored 0x{stored:X16}, computed 0x{actual:X16})");
        for (int i = 0; i < centroids.Length; i++)
        {
            float value = centroids[i];
            Check(value is >= -1f and <= 1f,
                $"coordinate {i % dimension} of centroid {i / dimension % count} of repetition {i / dimension / count} is {value}, not a coordinate of a unit vector");
        }

        return new FdePartitions(centroids, repetitions, count, dimension);
    }

    /// <summary>
    /// Trains the partitions of <paramref name="options"/> (validated, k-means) on the tokens of
    /// <paramref name="documents"/>: for each repetition r, independently and in parallel over repetitions,
    /// <see cref="FdeOptions.TrainingSample"/> tokens (all when there are fewer) drawn uniformly without replacement with
    /// the stream <c>SplitMix64.Mix(seed, 2r)</c>, then spherical k-means (<see cref="KMeans"/>, uniform initialisation
    /// seeded <c>SplitMix64.Mix(seed, 2r + 1)</c>, <see cref="FdeOptions.TrainingIterations"/> iterations), where seed is
    /// <see cref="FdeOptions.Seed"/> as an unsigned 32-bit value.
    /// </summary>
    /// <remarks>Deterministic: the result depends only on the options and the tokens in document order, not on the
    /// thread count (each repetition runs on one thread), the SIMD width (<paramref name="width"/> forces one in tests)
    /// or the platform. Memory: one sample of TrainingSample × d floats per repetition in flight.</remarks>
    internal static FdePartitions Train(FdeOptions options, IReadOnlyList<ReadOnlyMultiVector> documents, long tokenCount,
        ParallelOptions parallelOptions, SimdWidth? width = null)
    {
        System.Diagnostics.Debug.Assert(options.Partitioning == FdePartitioning.KMeans && tokenCount > 0);
        int r = options.Repetitions;
        int count = options.PartitionCount;
        int d = options.Dimension;
        int sample = (int)Math.Min(options.TrainingSample, tokenCount);
        ulong seed = unchecked((uint)options.Seed);
        long[] starts = new long[documents.Count + 1];
        for (int i = 0; i < documents.Count; i++)
        {
            starts[i + 1] = starts[i] + documents[i].Count;
        }

        System.Diagnostics.Debug.Assert(starts[^1] == tokenCount);
        float[] centroids = new float[(long)r * count * d];
        var settings = new KMeansSettings(options.TrainingIterations, 0, KMeansMetric.InnerProduct, KMeansInitialization.Random, width);
        Parallel.For(0, r, parallelOptions, repetition =>
        {
            var random = new SplitMix64(SplitMix64.Mix(seed, 2 * (ulong)repetition));
            long[] indices = KMeans.SampleIndices(tokenCount, sample, ref random);
            float[] points = new float[(long)sample * d];
            int document = 0;
            for (int i = 0; i < indices.Length; i++)
            {
                long index = indices[i];
                while (starts[document + 1] <= index)
                {
                    document++;
                }

                documents[document].Span.Slice((int)(index - starts[document]) * d, d).CopyTo(points.AsSpan(i * d, d));
            }

            float[] trained = KMeans.Train(points, d, count, settings with { Seed = SplitMix64.Mix(seed, (2 * (ulong)repetition) + 1) },
                parallelOptions: null);
            trained.CopyTo(centroids, (long)repetition * count * d);
        });

        return new FdePartitions(centroids, r, count, d);
    }

    /// <summary><see cref="Train"/> on one thread (tests).</summary>
    internal static FdePartitions TrainSequential(FdeOptions options, IReadOnlyList<ReadOnlyMultiVector> documents, SimdWidth? width) =>
        Train(options, documents, CountTokens(documents), s_sequential, width);

    /// <summary>The total token count of <paramref name="documents"/>.</summary>
    internal static long CountTokens(IReadOnlyList<ReadOnlyMultiVector> documents)
    {
        long total = 0;
        for (int i = 0; i < documents.Count; i++)
        {
            total += documents[i].Count;
        }

        return total;
    }

    private static void Check(bool condition, string reason)
    {
        if (!condition)
        {
            throw new InvalidDataException($"FDE partitions are not valid: {reason}.");
        }
    }
}
