// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Threading;

namespace Muvera.Beir;

/// <summary>Line-oriented readers for BEIR's files: plain or gzip-compressed, strict UTF-8, errors with file and line.</summary>
internal static class BeirFileReader
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Returns <c>directory/baseName</c> when it exists, else <c>directory/baseName.gz</c>.</summary>
    /// <exception cref="FileNotFoundException">Neither exists.</exception>
    public static string ResolvePlainOrGzip(string directory, string baseName)
    {
        string plain = Path.Combine(directory, baseName);
        if (File.Exists(plain))
        {
            return plain;
        }

        string compressed = plain + ".gz";
        if (File.Exists(compressed))
        {
            return compressed;
        }

        throw new FileNotFoundException($"Neither {plain} nor {compressed} exists.", plain);
    }

    /// <summary>Opens a text file for reading, decompressing it when its name ends in <c>.gz</c>.</summary>
    public static StreamReader OpenText(string path)
    {
        Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            stream = new GZipStream(stream, CompressionMode.Decompress);
        }

        return new StreamReader(stream, s_strictUtf8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
    }

    /// <summary>The lines of <paramref name="reader"/> with their 1-based numbers; blank lines are skipped.</summary>
    /// <exception cref="InvalidDataException">The bytes are not valid UTF-8 or the gzip stream is corrupt.</exception>
    public static IEnumerable<(int Number, string Line)> ReadLines(TextReader reader, string sourceName, CancellationToken cancellationToken)
    {
        int number = 0;
        while (true)
        {
            string? line;
            try
            {
                line = reader.ReadLine();
            }
            catch (DecoderFallbackException exception)
            {
                throw new InvalidDataException($"{sourceName} line {number + 1}: the file is not valid UTF-8 ({exception.Message})", exception);
            }
            catch (InvalidDataException exception)
            {
                throw new InvalidDataException($"{sourceName} line {number + 1}: the compressed stream is corrupt ({exception.Message})", exception);
            }

            if (line is null)
            {
                yield break;
            }

            number++;
            if ((number & 1023) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            if (!string.IsNullOrWhiteSpace(line))
            {
                yield return (number, line);
            }
        }
    }

    /// <summary>Parses <c>corpus.jsonl</c> lines.</summary>
    public static IEnumerable<BeirDocument> ReadDocuments(TextReader reader, string sourceName, CancellationToken cancellationToken)
    {
        foreach ((int number, string line) in ReadLines(reader, sourceName, cancellationToken))
        {
            yield return ParseDocument(line, sourceName, number);
        }
    }

    /// <summary>Parses <c>queries.jsonl</c> lines.</summary>
    public static IEnumerable<BeirQuery> ReadQueries(TextReader reader, string sourceName, CancellationToken cancellationToken)
    {
        foreach ((int number, string line) in ReadLines(reader, sourceName, cancellationToken))
        {
            yield return ParseQuery(line, sourceName, number);
        }
    }

    /// <summary>Reads every document of a corpus file (plain or gzip), streaming.</summary>
    public static IEnumerable<BeirDocument> ReadDocuments(string path, CancellationToken cancellationToken)
    {
        using StreamReader reader = OpenText(path);
        foreach (BeirDocument document in ReadDocuments(reader, path, cancellationToken))
        {
            yield return document;
        }
    }

    /// <summary>Reads every query of a queries file (plain or gzip), streaming.</summary>
    public static IEnumerable<BeirQuery> ReadQueries(string path, CancellationToken cancellationToken)
    {
        using StreamReader reader = OpenText(path);
        foreach (BeirQuery query in ReadQueries(reader, path, cancellationToken))
        {
            yield return query;
        }
    }

    internal static BeirDocument ParseDocument(string line, string sourceName, int number)
    {
        using JsonDocument json = ParseObject(line, sourceName, number);
        JsonElement root = json.RootElement;
        string id = ReadId(root, sourceName, number);
        string text = ReadString(root, "text", sourceName, number, required: true)!;
        string? title = ReadString(root, "title", sourceName, number, required: false);
        return new BeirDocument(id, title, text);
    }

    internal static BeirQuery ParseQuery(string line, string sourceName, int number)
    {
        using JsonDocument json = ParseObject(line, sourceName, number);
        JsonElement root = json.RootElement;
        string id = ReadId(root, sourceName, number);
        string text = ReadString(root, "text", sourceName, number, required: true)!;
        return new BeirQuery(id, text);
    }

    private static JsonDocument ParseObject(string line, string sourceName, int number)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(line);
        }
        catch (JsonException exception)
        {
            throw Malformed(sourceName, number, $"not valid JSON ({exception.Message})", exception);
        }

        if (json.RootElement.ValueKind != JsonValueKind.Object)
        {
            JsonValueKind kind = json.RootElement.ValueKind;
            json.Dispose();
            throw Malformed(sourceName, number, $"expected a JSON object, found {kind}");
        }

        return json;
    }

    /// <summary>BEIR ids are strings; a JSON number is taken by its literal text (as a string id would be written).</summary>
    private static string ReadId(JsonElement root, string sourceName, int number)
    {
        if (!root.TryGetProperty("_id", out JsonElement id))
        {
            throw Malformed(sourceName, number, "the \"_id\" property is missing");
        }

        string value = id.ValueKind switch
        {
            JsonValueKind.String => id.GetString()!,
            JsonValueKind.Number => id.GetRawText(),
            _ => throw Malformed(sourceName, number, $"\"_id\" must be a string, found {id.ValueKind}"),
        };
        if (value.Length == 0)
        {
            throw Malformed(sourceName, number, "\"_id\" is empty");
        }

        return value;
    }

    private static string? ReadString(JsonElement root, string name, string sourceName, int number, bool required)
    {
        if (!root.TryGetProperty(name, out JsonElement element) || element.ValueKind == JsonValueKind.Null)
        {
            return required ? throw Malformed(sourceName, number, $"the \"{name}\" property is missing or null") : null;
        }

        return element.ValueKind == JsonValueKind.String
            ? element.GetString()!
            : throw Malformed(sourceName, number, $"\"{name}\" must be a string, found {element.ValueKind}");
    }

    internal static InvalidDataException Malformed(string sourceName, int number, string cause, Exception? inner = null) =>
        new($"{sourceName} line {number}: {cause}.", inner);
}
