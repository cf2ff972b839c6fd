// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

/// <summary><see cref="FdePartitions"/>: the file format round-trips bit for bit, its checksum is the documented one,
/// and every corrupt or hostile file is refused with a message naming the cause.</summary>
[TestFixture]
public sealed class FdePartitionsTests
{
    [Test]
    public void SaveLoad_TrainedPartitions_RoundTripBitForBit()
    {
        FdePartitions partitions = Trained();
        FdePartitions loaded = RoundTrip(Bytes(partitions));
        Assert.Multiple(() =>
        {
            Assert.That(loaded.Repetitions, Is.EqualTo(partitions.Repetitions));
            Assert.That(loaded.Count, Is.EqualTo(partitions.Count));
            Assert.That(loaded.Dimension, Is.EqualTo(partitions.Dimension));
            Assert.That(loaded.Checksum, Is.EqualTo(partitions.Checksum));
        });
        for (int r = 0; r < partitions.Repetitions; r++)
        {
            TestVectors.AssertBitIdentical(loaded.GetCentroids(r), partitions.GetCentroids(r), $"repetition {r}");
        }
    }

    [Test]
    public void Save_Layout_IsTheDocumentedHeaderThenLittleEndianFloats()
    {
        FdePartitions partitions = Trained();
        byte[] bytes = Bytes(partitions);
        int floats = partitions.Repetitions * partitions.Count * partitions.Dimension;
        Assert.Multiple(() =>
        {
            Assert.That(bytes, Has.Length.EqualTo(64 + (4 * floats)));
            Assert.That(bytes[..8], Is.EqualTo("MVFDEPT\0"u8.ToArray()));
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)), Is.EqualTo(1));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12)), Is.EqualTo(partitions.Repetitions));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16)), Is.EqualTo(partitions.Count));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20)), Is.EqualTo(partitions.Dimension));
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(24)), Is.EqualTo(partitions.Checksum));
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(56)), Is.EqualTo(Fnv1a64(bytes.AsSpan(0, 56))));
            Assert.That(partitions.Checksum, Is.EqualTo(Fnv1a64(bytes.AsSpan(64))), "the checksum covers the centroids as stored");
            Assert.That(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(64 + (4 * (partitions.Dimension + 2)))),
                Is.EqualTo(partitions.GetCentroids(0)[partitions.Dimension + 2]), "centroid 1, coordinate 2 of repetition 0");
        });
    }

    [Test]
    public void GetCentroids_RepetitionOutOfRange_ThrowsNamingIt([Values(-1, 3)] int repetition)
    {
        FdePartitions partitions = Trained();
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => partitions.GetCentroids(repetition))!;
        Assert.That(e.ParamName, Is.EqualTo("repetition"));
    }

    [Test]
    public void Load_Null_ThrowsArgumentNullException() => Assert.Throws<ArgumentNullException>(() => FdePartitions.Load(null!));

    [TestCase(0, "truncated")]
    [TestCase(63, "truncated")]
    [TestCase(64, "truncated")]
    [TestCase(-1, "truncated")]
    public void Load_Truncated_ThrowsNamingIt(int keep, string cause)
    {
        byte[] bytes = Bytes(Trained());
        byte[] cut = bytes[..(keep < 0 ? bytes.Length - 1 : keep)];
        AssertRefused(cut, cause);
        AssertRefused(cut, cause, seekable: false);
    }

    [Test]
    public void Load_TrailingBytes_ThrowsNamingThem()
    {
        byte[] bytes = [.. Bytes(Trained()), 0];
        AssertRefused(bytes, "trailing");
        AssertRefused(bytes, "trailing", seekable: false);
    }

    [Test]
    public void Load_WrongMagic_ThrowsNamingIt() => AssertRefused(Edit(Bytes(Trained()), b => b[0] = (byte)'X', fixHeader: true), "magic");

    [Test]
    public void Load_NewerVersion_ThrowsNamingIt() => AssertRefused(Edit(Bytes(Trained()), b => b[8] = 2, fixHeader: true), "format version 2");

    [Test]
    public void Load_EditedHeader_ThrowsHeaderChecksum() => AssertRefused(Edit(Bytes(Trained()), b => b[12]++, fixHeader: false), "header checksum");

    [Test]
    public void Load_ReservedByteSet_ThrowsNamingIt() => AssertRefused(Edit(Bytes(Trained()), b => b[40] = 1, fixHeader: true), "reserved");

    [TestCase(12, 0, "repetitions 0")]
    [TestCase(16, 3, "power of two")]
    [TestCase(16, 0, "power of two")]
    [TestCase(20, 0, "dimension 0")]
    [TestCase(20, 70_000, "dimension 70000")]
    [TestCase(12, 1 << 30, "exceed")]
    public void Load_ShapeOutOfRange_ThrowsNamingIt(int offset, int value, string cause) =>
        AssertRefused(Edit(Bytes(Trained()), b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(offset), value), fixHeader: true), cause);

    [Test]
    public void Load_EditedCentroid_ThrowsDataChecksum() => AssertRefused(Edit(Bytes(Trained()), b => b[100] ^= 1, fixHeader: false), "data checksum");

    [Test]
    public void Load_CoordinateBeyondUnitLength_ThrowsNamingCentroid([Values(1.5f, float.NaN, float.PositiveInfinity)] float value)
    {
        FdePartitions partitions = Trained();
        byte[] bytes = Edit(Bytes(partitions), b =>
        {
            int index = (((2 * partitions.Count) + 3) * partitions.Dimension) + 1;
            BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(64 + (4 * index)), value);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), Fnv1a64(b.AsSpan(64)));
        }, fixHeader: true);
        AssertRefused(bytes, "coordinate 1 of centroid 3 of repetition 2");
    }

    private static FdePartitions Trained()
    {
        var options = new FdeOptions
        {
            Dimension = 10, Partitioning = FdePartitioning.KMeans, Repetitions = 3, SimHashProjections = 3, Projection = FdeProjection.Ams,
            ProjectionDimension = 4, TrainingSample = 200,
        };
        float[] tokens = TestVectors.UnitTokens(new System.Random(5), 300, 10);
        return FdeEncoder.Train(options, [new ReadOnlyMultiVector(tokens, 10)]).Partitions!;
    }

    private static byte[] Bytes(FdePartitions partitions)
    {
        using var stream = new MemoryStream();
        partitions.Save(stream);
        return stream.ToArray();
    }

    private static FdePartitions RoundTrip(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        return FdePartitions.Load(stream);
    }

    // Applies an edit; with fixHeader the header checksum is recomputed so that the edit itself is what gets refused.
    private static byte[] Edit(byte[] bytes, Action<byte[]> edit, bool fixHeader)
    {
        byte[] copy = [.. bytes];
        edit(copy);
        if (fixHeader)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(56), Fnv1a64(copy.AsSpan(0, 56)));
        }

        return copy;
    }

    private static void AssertRefused(byte[] bytes, string cause, bool seekable = true)
    {
        using Stream stream = seekable ? new MemoryStream(bytes) : new ForwardOnlyStream(bytes);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdePartitions.Load(stream))!;
        Assert.That(e.Message, Does.Contain("FDE partitions").And.Contain(cause));
    }

    private static ulong Fnv1a64(ReadOnlySpan<byte> bytes)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in bytes)
        {
            hash = unchecked((hash ^ b) * 1099511628211UL);
        }

        return hash;
    }

    // A stream that cannot seek, like a network stream: Load must find truncation and trailing bytes by reading.
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => base.Position; set => throw new NotSupportedException(); }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    }
}
