// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;

namespace Muvera.Tests.Fixtures;

/// <summary>A float32 array read from a <c>.npy</c> file: row-major values and the shape they have.</summary>
internal sealed record NpyArray(float[] Values, int[] Shape);

/// <summary>
/// Reads NumPy <c>.npz</c> archives (a zip of <c>.npy</c> files) and <c>.npy</c> files, format versions 1.0 and 2.0,
/// for the one element type our fixtures hold: little-endian float32 (<c>'&lt;f4'</c>) in C order.
/// </summary>
/// <remarks>
/// Arrays are read by name and only when asked for, so entries of other types in the same archive (the pickled
/// object arrays of ids, the int64 counts) are never touched. Anything else than <c>'&lt;f4'</c>, C order and a
/// payload of exactly the declared size throws <see cref="InvalidDataException"/> naming the cause.
/// </remarks>
internal sealed class NpzReader : IDisposable
{
    private const int PreambleLength = 8;
    private const string SupportedDescr = "<f4";
    private static readonly byte[] s_magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    private readonly ZipArchive _archive;
    private readonly string _source;

    private NpzReader(ZipArchive archive, string source)
    {
        _archive = archive;
        _source = source;
    }

    /// <summary>The array names in the archive (entry names without <c>.npy</c>), in ordinal order.</summary>
    public IReadOnlyList<string> Names =>
        _archive.Entries.Select(e => e.FullName.EndsWith(".npy", StringComparison.Ordinal) ? e.FullName[..^4] : e.FullName)
            .Order(StringComparer.Ordinal).ToArray();

    /// <summary>Opens the <c>.npz</c> file at <paramref name="path"/>.</summary>
    public static NpzReader Open(string path)
    {
        FileStream stream = File.OpenRead(path);
        try
        {
            return Open(stream, Path.GetFileName(path));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads the archive in <paramref name="stream"/>, which the reader then owns.</summary>
    public static NpzReader Open(Stream stream, string source) =>
        new(new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false), source);

    /// <summary>Reads the array stored as <c><paramref name="name"/>.npy</c>.</summary>
    public NpyArray Read(string name)
    {
        ZipArchiveEntry entry = _archive.GetEntry(name + ".npy")
            ?? throw new InvalidDataException($"{_source}: no array '{name}' (entry '{name}.npy' is missing).");
        if (entry.Length > int.MaxValue)
        {
            throw new InvalidDataException($"{_source}: entry '{entry.FullName}' is {entry.Length} bytes, too large to read.");
        }

        using Stream data = entry.Open();
        using var buffer = new MemoryStream((int)entry.Length);
        data.CopyTo(buffer);
        return ParseNpy(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), $"{_source}/{entry.FullName}");
    }

    public void Dispose() => _archive.Dispose();

    /// <summary>Parses one <c>.npy</c> file held in <paramref name="bytes"/>; <paramref name="source"/> names it in errors.</summary>
    public static NpyArray ParseNpy(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < PreambleLength || !bytes[..s_magic.Length].SequenceEqual(s_magic))
        {
            throw new InvalidDataException($"{source}: not a .npy file (the magic string \\x93NUMPY is missing).");
        }

        byte major = bytes[6];
        byte minor = bytes[7];
        int lengthSize = (major, minor) switch
        {
            (1, 0) => sizeof(ushort),
            (2, 0) => sizeof(uint),
            _ => throw new InvalidDataException($"{source}: .npy format version {major}.{minor} is not supported (only 1.0 and 2.0)."),
        };

        if (bytes.Length < PreambleLength + lengthSize)
        {
            throw new InvalidDataException($"{source}: truncated header ({bytes.Length} bytes, the header length field is cut off).");
        }

        long headerLength = lengthSize == sizeof(ushort)
            ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[PreambleLength..])
            : BinaryPrimitives.ReadUInt32LittleEndian(bytes[PreambleLength..]);
        long dataOffset = PreambleLength + lengthSize + headerLength;
        if (dataOffset > bytes.Length)
        {
            throw new InvalidDataException($"{source}: truncated header (it declares {headerLength} bytes, {bytes.Length - PreambleLength - lengthSize} are present).");
        }

        // Versions 1.0 and 2.0 store the header as latin-1 (ASCII in practice).
        string header = Encoding.Latin1.GetString(bytes[(PreambleLength + lengthSize)..(int)dataOffset]);
        (string descr, bool fortranOrder, long[] shape) = HeaderParser.Parse(header, source);
        if (descr != SupportedDescr)
        {
            throw new InvalidDataException($"{source}: dtype '{descr}' is not supported (only little-endian float32 '{SupportedDescr}').");
        }

        if (fortranOrder)
        {
            throw new InvalidDataException($"{source}: Fortran order is not supported (only C order).");
        }

        long count = 1;
        foreach (long extent in shape)
        {
            count *= extent;
            if (count > Array.MaxLength / sizeof(float))
            {
                throw new InvalidDataException($"{source}: shape ({string.Join(", ", shape)}) is too large to read.");
            }
        }

        long expected = count * sizeof(float);
        long actual = bytes.Length - dataOffset;
        if (actual != expected)
        {
            string what = actual < expected ? "truncated data" : "unexpected trailing data";
            throw new InvalidDataException($"{source}: {what}: shape ({string.Join(", ", shape)}) needs {expected} bytes of float32, the payload has {actual}.");
        }

        ReadOnlySpan<byte> payload = bytes[(int)dataOffset..];
        float[] values = new float[count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(payload[(i * sizeof(float))..]);
        }

        return new NpyArray(values, shape.Select(e => (int)e).ToArray());
    }

    /// <summary>The Python dict literal of a header: string keys; string, bool or tuple-of-int values.</summary>
    private sealed class HeaderParser
    {
        private readonly string _text;
        private readonly string _source;
        private int _position;

        private HeaderParser(string text, string source)
        {
            _text = text;
            _source = source;
        }

        public static (string Descr, bool FortranOrder, long[] Shape) Parse(string text, string source)
        {
            var parser = new HeaderParser(text, source);
            Dictionary<string, object> dict = parser.ParseDict();
            parser.SkipWhitespace();
            if (parser._position != text.Length)
            {
                throw parser.Error("text after the closing brace");
            }

            string[] keys = ["descr", "fortran_order", "shape"];
            if (dict.Count != keys.Length || !keys.All(dict.ContainsKey))
            {
                throw new InvalidDataException($"{source}: header keys are [{string.Join(", ", dict.Keys.Order(StringComparer.Ordinal))}], expected exactly [{string.Join(", ", keys)}].");
            }

            return (
                dict["descr"] as string ?? throw new InvalidDataException($"{source}: header 'descr' is not a string (structured dtypes are not supported)."),
                dict["fortran_order"] as bool? ?? throw new InvalidDataException($"{source}: header 'fortran_order' is not True or False."),
                dict["shape"] as long[] ?? throw new InvalidDataException($"{source}: header 'shape' is not a tuple of integers."));
        }

        private Dictionary<string, object> ParseDict()
        {
            var dict = new Dictionary<string, object>(StringComparer.Ordinal);
            Expect('{');
            while (true)
            {
                SkipWhitespace();
                if (TryConsume('}'))
                {
                    return dict;
                }

                string key = ParseString();
                Expect(':');
                object value = ParseValue();
                if (!dict.TryAdd(key, value))
                {
                    throw Error($"duplicate key '{key}'");
                }

                SkipWhitespace();
                if (!TryConsume(','))
                {
                    Expect('}');
                    return dict;
                }
            }
        }

        private object ParseValue()
        {
            SkipWhitespace();
            if (_position < _text.Length && _text[_position] is '\'' or '"')
            {
                return ParseString();
            }

            if (TryConsume('('))
            {
                var items = new List<long>();
                while (true)
                {
                    SkipWhitespace();
                    if (TryConsume(')'))
                    {
                        return items.ToArray();
                    }

                    items.Add(ParseInteger());
                    SkipWhitespace();
                    if (!TryConsume(','))
                    {
                        Expect(')');
                        return items.ToArray();
                    }
                }
            }

            if (TryConsumeWord("True"))
            {
                return true;
            }

            if (TryConsumeWord("False"))
            {
                return false;
            }

            return ParseInteger();
        }

        private string ParseString()
        {
            SkipWhitespace();
            if (_position >= _text.Length || _text[_position] is not ('\'' or '"'))
            {
                throw Error("expected a quoted string");
            }

            char quote = _text[_position];
            int end = _text.IndexOf(quote, _position + 1);
            if (end < 0)
            {
                throw Error("unterminated string");
            }

            string value = _text[(_position + 1)..end];
            _position = end + 1;
            return value;
        }

        private long ParseInteger()
        {
            SkipWhitespace();
            int start = _position;
            while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
            {
                _position++;
            }

            // Python 2 era writers appended L to longs.
            string digits = _text[start.._position];
            TryConsume('L');
            if (digits.Length == 0 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            {
                _position = start;
                throw Error("expected a non-negative integer");
            }

            return value;
        }

        private bool TryConsumeWord(string word)
        {
            if (string.CompareOrdinal(_text, _position, word, 0, word.Length) == 0)
            {
                _position += word.Length;
                return true;
            }

            return false;
        }

        private bool TryConsume(char c)
        {
            SkipWhitespace();
            if (_position < _text.Length && _text[_position] == c)
            {
                _position++;
                return true;
            }

            return false;
        }

        private void Expect(char c)
        {
            if (!TryConsume(c))
            {
                throw Error($"expected '{c}'");
            }
        }

        private void SkipWhitespace()
        {
            while (_position < _text.Length && char.IsWhiteSpace(_text[_position]))
            {
                _position++;
            }
        }

        private InvalidDataException Error(string what) =>
            new($"{_source}: malformed header dict ({what} at offset {_position}): {_text.TrimEnd()}");
    }
}
