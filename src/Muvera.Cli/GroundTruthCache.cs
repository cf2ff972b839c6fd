// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using Muvera.Beir.Synthetic;

namespace Muvera.Cli;

/// <summary>The exact Chamfer top k of every evaluation query (document indices), and how it was obtained.</summary>
/// <param name="Ids">Per query, the top-k document indices, best first.</param>
/// <param name="Seconds">The time spent computing it, or reading it from the cache.</param>
/// <param name="Cached">Whether it was read from the cache.</param>
internal sealed record GroundTruth(int[][] Ids, double Seconds, bool Cached);

/// <summary>
/// The synthetic benchmark's ground truth: exact Chamfer top k over the stored tokens (<see cref="MuveraIndex.SearchExact(ReadOnlyMultiVector, int)"/>),
/// cached in the output folder as <c>ground-truth-&lt;key&gt;.json</c>, where the key hashes everything the result
/// depends on: the generator version, seed, corpus and query shapes, noise options and the token storage.
/// </summary>
/// <remarks>The file: <c>{"key": str, "k": int, "documents": int, "ids": [[int…]…]}</c>, one list per query. A file that
/// does not parse, names another key, or holds the wrong number of queries or ids, or an id outside the corpus, is
/// recomputed and replaced.</remarks>
internal static class GroundTruthCache
{
    private const int FormatVersion = 1;

    /// <summary>The canonical description of the ground truth's inputs.</summary>
    public static string Describe(SyntheticCorpusOptions options, int queries, TokenStorage tokenStorage, int k) => string.Create(CultureInfo.InvariantCulture,
        $"synthetic-ground-truth v{FormatVersion}; generator {SyntheticCorpus.GeneratorVersion}; seed {options.Seed}; documents {options.DocumentCount}; tokens {options.TokensPerDocument}; dimension {options.Dimension}; queries {queries}; query tokens {options.TokensPerQuery}; topics {options.TopicCount}; aspects {options.AspectsPerDocument}; aspect noise {options.AspectNoise:R}; token noise {options.TokenNoise:R}; token storage {tokenStorage}; k {k}");

    /// <summary>The file name's key: the first 16 hex digits of the SHA-256 of <see cref="Describe"/>.</summary>
    public static string Key(SyntheticCorpusOptions options, int queries, TokenStorage tokenStorage, int k) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Describe(options, queries, tokenStorage, k))))[..16];

    /// <summary>Reads the ground truth from <paramref name="path"/> when it holds a valid one, else computes it over
    /// <paramref name="index"/>'s stored tokens (queries in parallel) and writes it there.</summary>
    public static GroundTruth Obtain(CliConsole console, string path, MuveraIndex index, ReadOnlyMultiVector[] queries,
        SyntheticCorpusOptions options, int queryCount, TokenStorage tokenStorage, int k, ParallelOptions parallel)
    {
        string description = Describe(options, queryCount, tokenStorage, k);
        int expected = Math.Min(k, options.DocumentCount);
        var watch = Stopwatch.StartNew();
        if (File.Exists(path))
        {
            try
            {
                int[][] cached = Read(path, description, queryCount, expected, options.DocumentCount);
                console.Line($"ground truth: read from the cache {path} ({watch.Elapsed.TotalSeconds:F2} s)");
                return new GroundTruth(cached, watch.Elapsed.TotalSeconds, Cached: true);
            }
            catch (Exception e) when (e is InvalidDataException or JsonException or IOException or FormatException or InvalidOperationException or KeyNotFoundException)
            {
                console.Line($"ground truth: the cache {path} is not usable ({e.Message}); recomputing");
            }
        }

        watch.Restart();
        int[][] ids = console.Run($"exact Chamfer top {k} over the stored tokens", queries.Length, progress =>
        {
            var top = new int[queries.Length][];
            var counter = new StepCounter(progress);
            Parallel.For(0, queries.Length, parallel, q =>
            {
                MuveraSearchHit[] hits = index.SearchExact(queries[q], k);
                top[q] = Array.ConvertAll(hits, hit => int.Parse(hit.Id, NumberStyles.None, CultureInfo.InvariantCulture));
                counter.Step();
            });
            return top;
        });
        double seconds = watch.Elapsed.TotalSeconds;
        Write(path, description, k, options.DocumentCount, ids);
        console.Line($"ground truth: wrote the cache {path}");
        return new GroundTruth(ids, seconds, Cached: false);
    }

    private static int[][] Read(string path, string description, int queries, int expected, int documents)
    {
        using FileStream stream = File.OpenRead(path);
        using JsonDocument document = JsonDocument.Parse(stream);
        JsonElement root = document.RootElement;
        string? key = root.GetProperty("key").GetString();
        if (key != description)
        {
            throw new InvalidDataException($"it describes \"{key}\"");
        }

        JsonElement lists = root.GetProperty("ids");
        if (lists.GetArrayLength() != queries)
        {
            throw new InvalidDataException($"{lists.GetArrayLength()} queries, expected {queries}");
        }

        var ids = new int[queries][];
        int q = 0;
        foreach (JsonElement list in lists.EnumerateArray())
        {
            if (list.GetArrayLength() != expected)
            {
                throw new InvalidDataException($"query {q} has {list.GetArrayLength()} ids, expected {expected}");
            }

            ids[q] = new int[expected];
            int i = 0;
            foreach (JsonElement id in list.EnumerateArray())
            {
                int value = id.GetInt32();
                if (value < 0 || value >= documents)
                {
                    throw new InvalidDataException($"query {q} names document {value}, outside 0..{documents - 1}");
                }

                ids[q][i++] = value;
            }

            q++;
        }

        return ids;
    }

    private static void Write(string path, string description, int k, int documents, int[][] ids)
    {
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("key", description);
            writer.WriteNumber("k", k);
            writer.WriteNumber("documents", documents);
            writer.WriteStartArray("ids");
            foreach (int[] list in ids)
            {
                writer.WriteStartArray();
                foreach (int id in list)
                {
                    writer.WriteNumberValue(id);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        File.Move(temporary, path, overwrite: true);
    }
}
