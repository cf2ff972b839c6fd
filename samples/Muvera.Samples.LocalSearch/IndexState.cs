// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Muvera.Samples.LocalSearch;

/// <summary>One passage of an indexed file, as the sidecar records it.</summary>
public sealed class PassageRecord
{
    /// <summary>The passage's id in the <see cref="MuveraIndex"/>: <c>path#hash-n</c>, so that a new version of a file
    /// never reuses the ids of the old one and a stale sidecar can be told from the index it describes.</summary>
    public required string Id { get; init; }

    /// <summary>The first line (1-based).</summary>
    public required int StartLine { get; init; }

    /// <summary>The last line (1-based, inclusive).</summary>
    public required int EndLine { get; init; }

    /// <summary>The passage text (snippets are cut from it, so search does not read the files).</summary>
    public required string Text { get; init; }
}

/// <summary>One indexed file, as the sidecar records it.</summary>
public sealed class FileRecord
{
    /// <summary>The path relative to the indexed folder, with '/' separators.</summary>
    public required string Path { get; init; }

    /// <summary>The size in bytes when it was last read.</summary>
    public required long Size { get; set; }

    /// <summary>The last write time (UTC ticks) when it was last read.</summary>
    public required long ModifiedTicks { get; set; }

    /// <summary>SHA-256 of the content (lower-case hex).</summary>
    public required string Sha256 { get; init; }

    /// <summary>Its passages, in file order (none for a file with no text).</summary>
    public required List<PassageRecord> Passages { get; init; }
}

/// <summary>
/// The sidecar of a local index (<c>files.json</c> beside the <see cref="MuveraIndex"/> directory): which files are
/// indexed, in which version, under which passage ids. It is written after the index is saved, atomically (temporary
/// file, flush, rename); see the README for how the pair is kept consistent.
/// </summary>
public sealed class IndexState
{
    /// <summary>The value of <see cref="Format"/>.</summary>
    public const string FormatName = "muvera-localsearch-files";

    /// <summary>The value of <see cref="Version"/> this sample writes and reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Identifies the file.</summary>
    public string Format { get; init; } = FormatName;

    /// <summary>The sidecar format version.</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The encoder's model fingerprint; another model means every file is encoded again.</summary>
    public required string Model { get; init; }

    /// <summary>The passage size the files were cut with; another size means every file is cut again.</summary>
    public required int PassageTokens { get; init; }

    /// <summary>The passage overlap the files were cut with.</summary>
    public required int OverlapTokens { get; init; }

    /// <summary>The indexed files, by path.</summary>
    public required List<FileRecord> Files { get; init; }

    /// <summary>Reads a sidecar.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The state, or null when the file does not exist.</returns>
    /// <exception cref="InvalidDataException">The file is not a sidecar of this version.</exception>
    public static IndexState? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        IndexState? state;
        try
        {
            state = JsonSerializer.Deserialize(File.ReadAllBytes(path), IndexStateJsonContext.Default.IndexState);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {e.Message}", e);
        }

        if (state is null || state.Format != FormatName || state.Version != CurrentVersion || state.Files is null)
        {
            throw new InvalidDataException($"'{path}' is not a {FormatName} file of version {CurrentVersion}.");
        }

        return state;
    }

    /// <summary>Writes the sidecar atomically: to a temporary file beside it, flushed to disk, then renamed over it, so a
    /// crash leaves either the old or the new file, never a torn one.</summary>
    /// <param name="path">The file.</param>
    public void Save(string path)
    {
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, this, IndexStateJsonContext.Default.IndexState);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}

/// <summary>Source-generated JSON metadata for the sidecar.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(IndexState))]
internal sealed partial class IndexStateJsonContext : JsonSerializerContext
{
}
