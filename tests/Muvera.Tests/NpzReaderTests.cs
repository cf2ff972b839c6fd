// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Text;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

[TestFixture]
public sealed class NpzReaderTests
{
    private const string MatrixHeader = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    private static readonly float[] s_matrix = [1f, -2.5f, 3.25f, float.Epsilon, -0f, 1e30f];

    [TestCase(1)]
    [TestCase(2)]
    public void ParseNpy_Float32COrder_ReturnsValuesAndShape(int major)
    {
        NpyArray array = NpzReader.ParseNpy(Npy(MatrixHeader, Floats(s_matrix), major), "matrix.npy");
        Assert.Multiple(() =>
        {
            Assert.That(array.Shape, Is.EqualTo(new[] { 2, 3 }));
            Assert.That(array.Values, Is.EqualTo(s_matrix));
            Assert.That(BitConverter.SingleToInt32Bits(array.Values[4]), Is.EqualTo(BitConverter.SingleToInt32Bits(-0f)), "bits survive");
        });
    }

    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", new int[0], 1)]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new[] { 4 }, 4)]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 128), }", new[] { 0, 128 }, 0)]
    [TestCase("{\"shape\": (1, 2, 2), \"fortran_order\": False, \"descr\": \"<f4\"}", new[] { 1, 2, 2 }, 4)]
    public void ParseNpy_OtherShapesAndKeyOrders_ReadsDeclaredShape(string header, int[] shape, int count)
    {
        NpyArray array = NpzReader.ParseNpy(Npy(header, new byte[count * sizeof(float)]), "shape.npy");
        Assert.Multiple(() =>
        {
            Assert.That(array.Shape, Is.EqualTo(shape));
            Assert.That(array.Values, Has.Length.EqualTo(count));
        });
    }

    [Test]
    public void ParseNpy_WrongMagic_ThrowsInvalidDataNamingMagic()
    {
        byte[] bytes = Npy(MatrixHeader, Floats(s_matrix));
        bytes[1] = (byte)'n';
        AssertInvalid(bytes, "magic");
    }

    [Test]
    public void ParseNpy_NotEvenAPreamble_ThrowsInvalidDataNamingMagic() =>
        AssertInvalid([0x93, (byte)'N', (byte)'U'], "magic");

    [TestCase(3, 0)]
    [TestCase(1, 1)]
    [TestCase(0, 9)]
    public void ParseNpy_UnsupportedVersion_ThrowsInvalidDataNamingVersion(int major, int minor)
    {
        byte[] bytes = Npy(MatrixHeader, Floats(s_matrix));
        bytes[6] = (byte)major;
        bytes[7] = (byte)minor;
        AssertInvalid(bytes, $"version {major}.{minor}");
    }

    [Test]
    public void ParseNpy_FortranOrder_ThrowsInvalidDataNamingFortranOrder() =>
        AssertInvalid(Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", Floats(s_matrix)), "Fortran order");

    [TestCase("<f8")]
    [TestCase(">f4")]
    [TestCase("<f2")]
    [TestCase("<i4")]
    [TestCase("|O")]
    public void ParseNpy_OtherDtype_ThrowsInvalidDataNamingDtype(string descr) =>
        AssertInvalid(Npy($"{{'descr': '{descr}', 'fortran_order': False, 'shape': (2, 3), }}", new byte[48]), $"dtype '{descr}'");

    [Test]
    public void ParseNpy_TruncatedPayload_ThrowsInvalidDataNamingTruncation()
    {
        byte[] bytes = Npy(MatrixHeader, Floats(s_matrix));
        AssertInvalid(bytes.AsSpan(0, bytes.Length - 1).ToArray(), "truncated data");
    }

    [Test]
    public void ParseNpy_TrailingBytes_ThrowsInvalidData()
    {
        byte[] bytes = Npy(MatrixHeader, [.. Floats(s_matrix), 0, 0, 0, 0]);
        AssertInvalid(bytes, "trailing data");
    }

    [TestCase(9)]
    [TestCase(40)]
    public void ParseNpy_TruncatedHeader_ThrowsInvalidDataNamingTruncation(int length)
    {
        byte[] bytes = Npy(MatrixHeader, Floats(s_matrix));
        AssertInvalid(bytes.AsSpan(0, length).ToArray(), "truncated header");
    }

    [TestCase("{'descr': '<f4', 'shape': (2, 3), }", "header keys")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", "header keys")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", "malformed header")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", "malformed header")]
    [TestCase("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", "fortran_order")]
    [TestCase("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }", "malformed header")]
    [TestCase("'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "malformed header")]
    public void ParseNpy_MalformedHeader_ThrowsInvalidData(string header, string cause) =>
        AssertInvalid(Npy(header, Floats(s_matrix)), cause);

    [Test]
    public void Read_ArchiveWithObjectEntry_ReadsFloatArraysByNameAndRefusesTheObjectOne()
    {
        using var stream = new MemoryStream();
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            AddEntry(archive, "ids.npy", Npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", [0x80, 0x04, 0x95, 0x2e]));
            AddEntry(archive, "emb_0.npy", Npy(MatrixHeader, Floats(s_matrix)));
            AddEntry(archive, "emb_1.npy", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", Floats([7f, 8f]), major: 2));
        }

        stream.Position = 0;
        using NpzReader reader = NpzReader.Open(stream, "test.npz");
        Assert.Multiple(() =>
        {
            Assert.That(reader.Names, Is.EqualTo(new[] { "emb_0", "emb_1", "ids" }));
            Assert.That(reader.Read("emb_0").Values, Is.EqualTo(s_matrix));
            Assert.That(reader.Read("emb_1").Shape, Is.EqualTo(new[] { 1, 2 }));
            Assert.That(reader.Read("emb_1").Values, Is.EqualTo(new[] { 7f, 8f }));
            Assert.That(() => reader.Read("ids"), Throws.TypeOf<InvalidDataException>().With.Message.Contains("test.npz/ids.npy").And.Message.Contains("dtype '|O'"));
            Assert.That(() => reader.Read("emb_2"), Throws.TypeOf<InvalidDataException>().With.Message.Contains("emb_2"));
        });
    }

    [Test]
    public void Open_NotAZipFile_ThrowsInvalidData() =>
        Assert.Throws<InvalidDataException>(() => NpzReader.Open(new MemoryStream(Npy(MatrixHeader, Floats(s_matrix))), "plain.npy").Dispose());

    [Test]
    public void Read_CheckedInQueries_ReadsFloat32Matrices()
    {
        using NpzReader reader = NpzReader.Open(Path.Combine(ColbertNanoFiqa.Directory, "queries.npz"));
        NpyArray first = reader.Read("emb_0");
        Assert.Multiple(() =>
        {
            Assert.That(reader.Names, Is.EqualTo(new[] { "emb_0", "emb_1", "emb_2", "emb_3", "emb_4", "ids", "n" }));
            Assert.That(first.Shape, Is.EqualTo(new[] { 32, 128 }));
            Assert.That(first.Values, Has.All.Matches<float>(float.IsFinite));
        });
    }

    /// <summary>A .npy file: magic, version, header length, the header padded with spaces and a newline to a multiple of 64, payload.</summary>
    private static byte[] Npy(string header, byte[] payload, int major = 1)
    {
        int lengthSize = major == 1 ? sizeof(ushort) : sizeof(uint);
        int prefix = 8 + lengthSize;
        int padded = (prefix + header.Length + 1 + 63) / 64 * 64 - prefix;
        string text = header.PadRight(padded - 1) + "\n";
        byte[] bytes = new byte[prefix + padded + payload.Length];
        bytes[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY", bytes.AsSpan(1));
        bytes[6] = (byte)major;
        bytes[7] = 0;
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)padded);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)padded);
        }

        Encoding.Latin1.GetBytes(text, bytes.AsSpan(prefix));
        payload.CopyTo(bytes, prefix + padded);
        return bytes;
    }

    private static byte[] Floats(float[] values)
    {
        byte[] bytes = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        return bytes;
    }

    private static void AddEntry(ZipArchive archive, string name, byte[] content)
    {
        using Stream stream = archive.CreateEntry(name).Open();
        stream.Write(content);
    }

    private static void AssertInvalid(byte[] bytes, string cause)
    {
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => NpzReader.ParseNpy(bytes, "case.npy"))!;
        Assert.That(e.Message, Does.Contain("case.npy").And.Contain(cause));
    }
}
