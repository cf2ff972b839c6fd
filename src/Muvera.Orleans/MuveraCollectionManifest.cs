// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Text.Json;
using Orleans;

namespace Muvera.Orleans;

/// <summary>A collection's fixed layout, stored as <c>collection.json</c> in its folder under
/// <see cref="MuveraSiloOptions.DataRoot"/> when the collection is created and never changed afterwards.</summary>
/// <param name="Name">The collection's name.</param>
/// <param name="ShardCount">How many shards; ids are routed by <see cref="MuveraShardRouter.ShardOf"/>.</param>
/// <param name="Profile">The name of the silo-side <see cref="MuveraShardProfile"/> every shard builds its index with.</param>
/// <param name="Dimension">The token dimension.</param>
[GenerateSerializer]
[Immutable]
[Alias("Muvera.Orleans.MuveraCollectionManifest")]
public sealed record MuveraCollectionManifest(
    [property: Id(0)] string Name,
    [property: Id(1)] int ShardCount,
    [property: Id(2)] string Profile,
    [property: Id(3)] int Dimension)
{
    /// <summary>The manifest's file name.</summary>
    public const string FileName = "collection.json";

    /// <summary>The most shards a collection may have.</summary>
    public const int MaxShards = 4096;

    internal static void ValidateName(string name, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(name, parameterName);
        bool valid = name.Length is > 0 and <= 64;
        foreach (char c in name)
        {
            valid &= char.IsAsciiLetterOrDigit(c) || c is '-' or '_';
        }

        if (!valid)
        {
            throw new ArgumentException($"Collection name \"{name}\" must be 1 to 64 ASCII letters, digits, '-' or '_' (it names a folder on every silo).", parameterName);
        }
    }

    internal static string CollectionDirectory(string root, string name) => Path.Combine(root, name);

    internal static string ShardDirectory(string root, string name, int shard) =>
        Path.Combine(root, name, FormattableString.Invariant($"shard-{shard:D4}"));

    internal static MuveraCollectionManifest? Read(string root, string name)
    {
        string path = Path.Combine(CollectionDirectory(root, name), FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        MuveraCollectionManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<MuveraCollectionManifest>(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The collection manifest '{path}' is not valid JSON: {e.Message}", e);
        }

        if (manifest is null || manifest.Name != name || manifest.ShardCount is < 1 or > MaxShards || manifest.Dimension < 1 || string.IsNullOrEmpty(manifest.Profile))
        {
            throw new InvalidDataException($"The collection manifest '{path}' is inconsistent: {manifest}.");
        }

        return manifest;
    }

    // Written to a temporary file, flushed and renamed over the final name, so a crash leaves no half manifest.
    internal void Write(string root)
    {
        string directory = CollectionDirectory(root, Name);
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName);
        string temporary = path + ".partial";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(JsonSerializer.SerializeToUtf8Bytes(this));
            file.Flush(true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
