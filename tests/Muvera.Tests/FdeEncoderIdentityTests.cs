// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using Muvera.Serialization;

namespace Muvera.Tests;

[TestFixture]
public sealed class FdeEncoderIdentityTests
{
    public static IEnumerable<TestCaseData> OptionSets
    {
        get
        {
            yield return Case("identity-defaults", new FdeOptions { Dimension = 128 });
            yield return Case("identity-explicit-projection", new FdeOptions { Dimension = 96, Repetitions = 3, SimHashProjections = 4, ProjectionDimension = 96 });
            yield return Case("recommended", FdeOptions.CreateSimHash(128));
            yield return Case("recommended-final", FdeOptions.CreateSimHash(128, seed: -7) with { FinalDimension = 4096 });
            yield return Case("dense-nofill", new FdeOptions
            {
                Dimension = 130, Repetitions = 5, SimHashProjections = 2, Projection = FdeProjection.Dense,
                ProjectionDimension = 12, Seed = int.MaxValue,
            });
            yield return Case("identity-fill-final", new FdeOptions
            {
                Dimension = 7, Repetitions = 2, SimHashProjections = 3, FillEmptyPartitions = true, FinalDimension = 1, Seed = int.MinValue,
            });
        }
    }

    [TestCaseSource(nameof(OptionSets))]
    public void FromBytes_ToBytesOutput_RoundTrips(FdeOptions options)
    {
        var identity = new FdeEncoderIdentity(options, FdeEncoder.PrngVersion);
        byte[] bytes = identity.ToBytes();
        Assert.That(bytes, Has.Length.EqualTo(FdeEncoderIdentity.SerializedLength));
        FdeEncoderIdentity read = FdeEncoderIdentity.FromBytes(bytes);
        Assert.Multiple(() =>
        {
            Assert.That(read, Is.EqualTo(identity));
            Assert.That(read.Options, Is.EqualTo(options));
            Assert.That(read.Options.ProjectionDimension, Is.EqualTo(options.ProjectionDimension));
            Assert.That(read.Options.FinalDimension, Is.EqualTo(options.FinalDimension));
            Assert.That(read.Options.FillEmptyPartitions, Is.EqualTo(options.FillEmptyPartitions));
            Assert.That(read.PrngVersion, Is.EqualTo(FdeEncoder.PrngVersion));
            Assert.That(read.ToBytes(), Is.EqualTo(bytes));
        });
        Assert.DoesNotThrow(() => identity.EnsureCompatible(read));
    }

    [Test]
    public void ToBytes_Recommended_HasDocumentedLayout()
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128) with { FinalDimension = 999 }, 1).ToBytes();
        Assert.Multiple(() =>
        {
            Assert.That(bytes[..8], Is.EqualTo("MVFDEID\0"u8.ToArray()));
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)), Is.EqualTo(1), "SimHash options need nothing of format version 2");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(10)), Is.EqualTo(1), "flags: fill");
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12)), Is.EqualTo(1), "PRNG version");
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16)), Is.EqualTo(128));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20)), Is.EqualTo(20));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24)), Is.EqualTo(5));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(28)), Is.EqualTo(1));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(32)), Is.EqualTo((int)FdeProjection.Ams));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(36)), Is.EqualTo(16));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(40)), Is.EqualTo(999));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(44)), Is.EqualTo(Fnv1a32(bytes.AsSpan(0, 44))));
        });
    }

    [Test]
    public void ToBytes_Recommended128_EqualsSpecificationExample()
    {
        // src/Muvera/Serialization/README.md, "Example".
        byte[] expected = Convert.FromHexString(string.Concat(
            "4D56464445494400", "0100", "0100", "01000000", "80000000", "14000000", "05000000",
            "01000000", "01000000", "10000000", "00000000", "7EDADA73"));
        Assert.That(new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes(), Is.EqualTo(expected));
    }

    [Test]
    public void FromBytes_TrailingBytes_AreNotRead()
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes();
        byte[] longer = [.. bytes, 0xFF, 0x00, 0x12];
        Assert.That(FdeEncoderIdentity.FromBytes(longer), Is.EqualTo(FdeEncoderIdentity.FromBytes(bytes)));
    }

    [TestCase((ushort)0x0002)]
    [TestCase((ushort)0x8001)]
    [TestCase((ushort)0xFFFE)]
    public void FromBytes_UnknownFlagBits_ThrowsInvalidDataNamingFlags(ushort flags)
    {
        // A flag from a later writer is refused rather than misread (README, reader rule 5).
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(10), flags);
        Reseal(bytes);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes))!;
        Assert.That(e.Message, Does.Contain("flag"));
    }

    [Test]
    public void FromBytes_OtherPrngVersion_IsReadAndLeftToEnsureCompatible()
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 7).ToBytes();
        FdeEncoderIdentity read = FdeEncoderIdentity.FromBytes(bytes);
        Assert.That(read.PrngVersion, Is.EqualTo(7));
        Assert.Throws<InvalidDataException>(() => read.EnsureCompatible(new FdeEncoder(FdeOptions.CreateSimHash(128)).Identity));
    }

    [Test]
    public void FromBytes_SeveralFaults_ReportsTheFirstInSpecifiedOrder()
    {
        // Order: length, magic, format version, checksum, flags, options.
        byte[] original = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes();
        byte[] all = (byte[])original.Clone();
        all[0] = (byte)'X';
        BinaryPrimitives.WriteUInt16LittleEndian(all.AsSpan(8), 9);
        BinaryPrimitives.WriteInt32LittleEndian(all.AsSpan(24), 31);
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(all.AsSpan(0, 47)))!.Message, Does.Contain("truncated"));
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(all))!.Message, Does.Contain("magic"));
        all[0] = original[0];
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(all))!.Message, Does.Contain("version 9"));
        BinaryPrimitives.WriteUInt16LittleEndian(all.AsSpan(8), 1);
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(all))!.Message, Does.Contain("checksum"));
        BinaryPrimitives.WriteUInt16LittleEndian(all.AsSpan(10), 0x0101);
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(all))!.Message, Does.Contain("checksum"));
        Reseal(all);
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(all))!.Message, Does.Contain("flag"));
        BinaryPrimitives.WriteUInt16LittleEndian(all.AsSpan(10), 0x0001);
        Reseal(all);
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(all))!.Message, Does.Contain("invalid options"));
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(8)]
    [TestCase(44)]
    [TestCase(47)]
    public void FromBytes_Truncated_ThrowsInvalidDataNamingLength(int length)
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes();
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes.AsSpan(0, length)))!;
        Assert.That(e.Message, Does.Contain("truncated").And.Contain(length.ToString()).And.Contain("48"));
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(7)]
    public void FromBytes_WrongMagic_ThrowsInvalidDataNamingMagic(int index)
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes();
        bytes[index] ^= 0x20;
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes))!;
        Assert.That(e.Message, Does.Contain("magic"));
    }

    [TestCase((ushort)0)]
    [TestCase((ushort)3)]
    [TestCase(ushort.MaxValue)]
    public void FromBytes_WrongFormatVersion_ThrowsInvalidDataNamingVersion(ushort version)
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), version);
        Reseal(bytes);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes))!;
        Assert.That(e.Message, Does.Contain("version").And.Contain(version.ToString()));
    }

    [Test]
    public void FromBytes_AnyFlippedPayloadByte_ThrowsChecksumMismatch()
    {
        byte[] original = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128) with { FinalDimension = 512 }, 1).ToBytes();
        for (int index = 10; index < FdeEncoderIdentity.SerializedLength; index++)
        {
            foreach (int bit in new[] { 0, 7 })
            {
                byte[] bytes = (byte[])original.Clone();
                bytes[index] ^= (byte)(1 << bit);
                InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes), $"byte {index}, bit {bit}")!;
                Assert.That(e.Message, Does.Contain("checksum"), $"byte {index}, bit {bit}");
            }
        }
    }

    [TestCase(24, 31, "SimHashProjections")]
    [TestCase(24, -1, "SimHashProjections")]
    [TestCase(16, 0, "Dimension")]
    [TestCase(20, -2, "Repetitions")]
    [TestCase(32, 9, "Projection")]
    [TestCase(36, -4, "ProjectionDimension")]
    [TestCase(40, -5, "FinalDimension")]
    public void FromBytes_ValidChecksumButInvalidField_ThrowsInvalidDataWithCause(int offset, int value, string cause)
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), value);
        Reseal(bytes);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Message, Does.Contain("invalid options").And.Contain(cause).And.Contain(value.ToString()));
            Assert.That(e.InnerException, Is.InstanceOf<ArgumentException>());
        });
    }

    [Test]
    public void FromBytes_ValidChecksumButInconsistentOptions_ThrowsInvalidDataWithCause()
    {
        // AMS without a projection dimension (0 is read as null), and an output over the size limit.
        byte[] noProjection = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes();
        BinaryPrimitives.WriteInt32LittleEndian(noProjection.AsSpan(36), 0);
        Reseal(noProjection);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(noProjection))!;
        Assert.That(e.Message, Does.Contain("ProjectionDimension"));

        byte[] huge = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToBytes();
        BinaryPrimitives.WriteInt32LittleEndian(huge.AsSpan(24), 20);
        Reseal(huge);
        e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(huge))!;
        Assert.That(e.Message, Does.Contain("exceeds").And.Contain(FdeOptions.MaxOutputFloats.ToString()));
    }

    [Test]
    public void EnsureCompatible_EqualIdentities_Passes()
    {
        var a = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), FdeEncoder.PrngVersion);
        var b = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), FdeEncoder.PrngVersion);
        Assert.DoesNotThrow(() => a.EnsureCompatible(b));
        Assert.DoesNotThrow(() => a.EnsureCompatible(new FdeEncoder(FdeOptions.CreateSimHash(128)).Identity));
    }

    [Test]
    public void EnsureCompatible_DifferentOptions_ThrowsInvalidDataListingBoth()
    {
        var stored = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), FdeEncoder.PrngVersion);
        FdeOptions[] others =
        [
            FdeOptions.CreateSimHash(128, seed: 2),
            FdeOptions.CreateSimHash(128) with { FillEmptyPartitions = false },
            FdeOptions.CreateSimHash(128) with { FinalDimension = 1000 },
            FdeOptions.CreateSimHash(128) with { Projection = FdeProjection.Dense },
            FdeOptions.CreateSimHash(96),
        ];
        foreach (FdeOptions other in others)
        {
            InvalidDataException e = Assert.Throws<InvalidDataException>(
                () => stored.EnsureCompatible(new FdeEncoderIdentity(other, FdeEncoder.PrngVersion)), other.ToString())!;
            Assert.That(e.Message, Does.Contain("options").And.Contain("Repetitions = 20"), other.ToString());
        }

        InvalidDataException seed = Assert.Throws<InvalidDataException>(
            () => stored.EnsureCompatible(new FdeEncoderIdentity(others[0], FdeEncoder.PrngVersion)))!;
        Assert.That(seed.Message, Does.Contain("Seed = 1").And.Contain("Seed = 2"));
    }

    [Test]
    public void EnsureCompatible_DifferentPrngVersion_ThrowsInvalidDataNamingVersions()
    {
        var stored = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), FdeEncoder.PrngVersion);
        var other = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), FdeEncoder.PrngVersion + 1);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => stored.EnsureCompatible(other))!;
        Assert.That(e.Message, Does.Contain("PRNG").And.Contain(FdeEncoder.PrngVersion.ToString()).And.Contain((FdeEncoder.PrngVersion + 1).ToString()));
    }

    [Test]
    public void EnsureCompatible_Null_ThrowsArgumentNullException() =>
        Assert.Throws<ArgumentNullException>(() => new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).EnsureCompatible(null!));

    [TestCaseSource(nameof(OptionSets))]
    public void Identity_OfEncoder_EqualsOptionsWithCurrentPrngVersion(FdeOptions options)
    {
        var encoder = new FdeEncoder(options);
        Assert.That(encoder.Identity, Is.EqualTo(new FdeEncoderIdentity(options, FdeEncoder.PrngVersion)));
        Assert.That(FdeEncoderIdentity.FromBytes(encoder.Identity.ToBytes()), Is.EqualTo(encoder.Identity));
    }

    [Test]
    public void ToString_Identity_ListsOptionsAndPrngVersion()
    {
        string text = new FdeEncoderIdentity(FdeOptions.CreateSimHash(128), 1).ToString();
        Assert.That(text, Does.StartWith("FdeEncoderIdentity {").And.Contain("Dimension = 128").And.Contain("PrngVersion = 1"));
    }

    public static IEnumerable<TestCaseData> Version2Identities
    {
        get
        {
            FdeOptions learned = FdeOptions.CreateRecommended(128);
            yield return new TestCaseData(new FdeEncoderIdentity(learned, 1)).SetArgDisplayNames("kmeans-untrained");
            yield return new TestCaseData(new FdeEncoderIdentity(learned, 1) { PartitionsChecksum = 0x0123456789ABCDEF }).SetArgDisplayNames("kmeans-trained");
            yield return new TestCaseData(new FdeEncoderIdentity(learned with { TrainingSample = 1, TrainingIterations = 1000, Seed = -3 }, 1) { PartitionsChecksum = 0 })
                .SetArgDisplayNames("kmeans-checksum-0");
            yield return new TestCaseData(new FdeEncoderIdentity(FdeOptions.CreateSimHash(64) with { DocumentAggregation = FdeDocumentAggregation.NormalizedAverage }, 1))
                .SetArgDisplayNames("simhash-normalized");
            yield return new TestCaseData(new FdeEncoderIdentity(FdeOptions.CreateSimHash(64) with { TrainingSample = 7 }, 1)).SetArgDisplayNames("simhash-training-setting");
        }
    }

    [TestCaseSource(nameof(Version2Identities))]
    public void FromBytes_Version2_RoundTrips(FdeEncoderIdentity identity)
    {
        byte[] bytes = identity.ToBytes();
        Assert.That(bytes, Has.Length.EqualTo(FdeEncoderIdentity.SerializedLengthVersion2));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)), Is.EqualTo(2));
        FdeEncoderIdentity read = FdeEncoderIdentity.FromBytes(bytes);
        Assert.Multiple(() =>
        {
            Assert.That(read, Is.EqualTo(identity));
            Assert.That(read.PartitionsChecksum, Is.EqualTo(identity.PartitionsChecksum));
            Assert.That(read.ToBytes(), Is.EqualTo(bytes));
        });
        Assert.DoesNotThrow(() => identity.EnsureCompatible(read));
    }

    [Test]
    public void ToBytes_Version2_HasDocumentedLayout()
    {
        var identity = new FdeEncoderIdentity(FdeOptions.CreateRecommended(384) with { TrainingSample = 70_000 }, 1) { PartitionsChecksum = 0xFEDCBA9876543210 };
        byte[] bytes = identity.ToBytes();
        Assert.Multiple(() =>
        {
            Assert.That(bytes[..8], Is.EqualTo("MVFDEID\0"u8.ToArray()));
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)), Is.EqualTo(2));
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(10)), Is.EqualTo(3), "flags: fill, trained");
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16)), Is.EqualTo(384));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24)), Is.EqualTo(identity.Options.SimHashProjections));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(44)), Is.EqualTo((int)FdePartitioning.KMeans));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(48)), Is.EqualTo((int)FdeDocumentAggregation.NormalizedAverage));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(52)), Is.EqualTo(70_000));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(56)), Is.EqualTo(FdeOptions.DefaultTrainingIterations));
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(60)), Is.EqualTo(0xFEDCBA9876543210));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(68)), Is.EqualTo(Fnv1a32(bytes.AsSpan(0, 68))));
        });
    }

    [TestCase(48)]
    [TestCase(60)]
    [TestCase(71)]
    public void FromBytes_Version2Truncated_ThrowsNamingBothLengths(int length)
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateRecommended(128), 1).ToBytes();
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes.AsSpan(0, length)))!;
        Assert.That(e.Message, Does.Contain("truncated").And.Contain(length.ToString()).And.Contain("72"));
    }

    [Test]
    public void FromBytes_Version2AnyFlippedPayloadByte_ThrowsChecksumMismatch()
    {
        byte[] original = new FdeEncoderIdentity(FdeOptions.CreateRecommended(128), 1) { PartitionsChecksum = 42 }.ToBytes();
        for (int index = 10; index < FdeEncoderIdentity.SerializedLengthVersion2; index++)
        {
            byte[] bytes = (byte[])original.Clone();
            bytes[index] ^= 0x10;
            InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes), $"byte {index}")!;
            Assert.That(e.Message, Does.Contain("checksum"), $"byte {index}");
        }
    }

    [TestCase((ushort)0x0004, "unknown flag")]
    [TestCase((ushort)0x8003, "unknown flag")]
    public void FromBytes_Version2UnknownFlags_ThrowsNamingThem(ushort flags, string cause)
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateRecommended(128), 1) { PartitionsChecksum = 5 }.ToBytes();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(10), flags);
        ResealVersion2(bytes);
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes))!.Message, Does.Contain(cause));
    }

    [Test]
    public void FromBytes_TrainedFlagOnSimHash_ThrowsNamingPartitioning()
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateRecommended(128), 1) { PartitionsChecksum = 5 }.ToBytes();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(44), (int)FdePartitioning.SimHash);
        ResealVersion2(bytes);
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes))!.Message, Does.Contain("trained partitions").And.Contain("SimHash"));
    }

    [Test]
    public void FromBytes_ChecksumWithoutTrainedFlag_ThrowsNamingIt()
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateRecommended(128), 1) { PartitionsChecksum = 5 }.ToBytes();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(10), 1);
        ResealVersion2(bytes);
        Assert.That(Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes))!.Message, Does.Contain("without its trained flag"));
    }

    [TestCase(44, 2, "Partitioning")]
    [TestCase(48, -1, "DocumentAggregation")]
    [TestCase(52, 0, "TrainingSample")]
    [TestCase(56, 1001, "TrainingIterations")]
    public void FromBytes_Version2InvalidField_ThrowsInvalidOptionsNamingIt(int offset, int value, string cause)
    {
        byte[] bytes = new FdeEncoderIdentity(FdeOptions.CreateRecommended(128), 1).ToBytes();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), value);
        ResealVersion2(bytes);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => FdeEncoderIdentity.FromBytes(bytes))!;
        Assert.That(e.Message, Does.Contain("invalid options").And.Contain(cause));
    }

    [Test]
    public void EnsureCompatible_DifferentPartitions_ThrowsNamingBothChecksums()
    {
        var stored = new FdeEncoderIdentity(FdeOptions.CreateRecommended(128), 1) { PartitionsChecksum = 0xAB };
        InvalidDataException other = Assert.Throws<InvalidDataException>(() => stored.EnsureCompatible(stored with { PartitionsChecksum = 0xCD }))!;
        InvalidDataException untrained = Assert.Throws<InvalidDataException>(() => stored.EnsureCompatible(stored with { PartitionsChecksum = null }))!;
        Assert.Multiple(() =>
        {
            Assert.That(other.Message, Does.Contain("partitions").And.Contain("00000000000000AB").And.Contain("00000000000000CD"));
            Assert.That(untrained.Message, Does.Contain("not trained"));
        });
    }

    [Test]
    public void ToString_TrainedIdentity_ListsPartitionsChecksum()
    {
        string text = new FdeEncoderIdentity(FdeOptions.CreateRecommended(128), 1) { PartitionsChecksum = 0xAB }.ToString();
        Assert.That(text, Does.Contain("Partitioning = KMeans").And.Contain("PartitionsChecksum = 0x00000000000000AB"));
    }

    private static void ResealVersion2(byte[] bytes) =>
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(68), Fnv1a32(bytes.AsSpan(0, 68)));

    private static TestCaseData Case(string name, FdeOptions options) => new TestCaseData(options).SetArgDisplayNames(name);

    /// <summary>Rewrites the checksum after an edit so that only the edited field is wrong.</summary>
    private static void Reseal(byte[] bytes) =>
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(44), Fnv1a32(bytes.AsSpan(0, 44)));

    private static uint Fnv1a32(ReadOnlySpan<byte> bytes)
    {
        uint hash = 2166136261u;
        foreach (byte b in bytes)
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }

        return hash;
    }
}
