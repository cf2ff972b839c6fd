// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using Muvera.Faiss;
using Muvera.Indexing;
using Muvera.USearch;

namespace Muvera.Cli;

/// <summary>The kind of MIPS index over the FDEs.</summary>
internal enum IndexKind
{
    /// <summary>Exact inner-product scan (<see cref="FlatMipsBackend"/>).</summary>
    Flat,

    /// <summary>HNSW graph (<see cref="USearchMipsBackend"/>).</summary>
    Hnsw,

    /// <summary>A FAISS index factory string (<see cref="FaissMipsBackend"/>).</summary>
    Faiss,

    /// <summary>An inverted file over the FDEs (<see cref="IvfMipsBackend"/>).</summary>
    Ivf,
}

/// <summary>One <c>--index</c> value: <c>flat</c>, <c>ivf[:lists=256,probes=16]</c>, <c>hnsw[:m=16,ef=64,efc=128]</c> or
/// <c>faiss:&lt;factory&gt;</c>.</summary>
internal sealed record IndexSpec(IndexKind Kind, string Text, USearchOptions? USearch, string? FaissFactory)
{
    public static IndexSpec Flat { get; } = new(IndexKind.Flat, "flat", null, null);

    /// <summary>An IVF index with the backend's default lists and probes.</summary>
    public static IndexSpec Ivf { get; } = new(IndexKind.Ivf, "ivf", null, null);

    /// <summary>The default index of <c>bench synthetic</c>: flat. IVF lists do not prune the synthetic corpus, whose
    /// documents mix 4 of 1,000 topics (at 100,000 documents, 32 of 256 lists held 0.47 of the exact top 10;
    /// bench/results/2026-12-07-one-million.md).</summary>
    public static IndexSpec SyntheticDefault => Flat;

    /// <summary>The IVF lists (<c>lists=</c>); null: the backend's default.</summary>
    public int? IvfLists { get; init; }

    /// <summary>The IVF probes per query (<c>probes=</c>); null: the backend's default.</summary>
    public int? IvfProbes { get; init; }

    /// <summary>A name for file names: the spec with every character other than letters, digits, '-' and '.' as '_'.</summary>
    public string Slug
    {
        get
        {
            char[] chars = Text.ToCharArray();
            for (int i = 0; i < chars.Length; i++)
            {
                if (!char.IsAsciiLetterOrDigit(chars[i]) && chars[i] is not ('-' or '.'))
                {
                    chars[i] = '_';
                }
            }

            return new string(chars);
        }
    }

    /// <summary>Parses one spec.</summary>
    public static IndexSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        if (trimmed.Equals("flat", StringComparison.OrdinalIgnoreCase))
        {
            return Flat;
        }

        if (trimmed.Equals("hnsw", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("hnsw:", StringComparison.OrdinalIgnoreCase))
        {
            return new IndexSpec(IndexKind.Hnsw, trimmed, ParseHnsw(trimmed), null);
        }

        if (trimmed.Equals("ivf", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("ivf:", StringComparison.OrdinalIgnoreCase))
        {
            return ParseIvf(trimmed);
        }

        if (trimmed.StartsWith("faiss:", StringComparison.OrdinalIgnoreCase))
        {
            string factory = trimmed["faiss:".Length..].Trim();
            if (factory.Length == 0)
            {
                throw new CliException($"--index \"{text}\": the FAISS factory string is empty (for example faiss:HNSW32 or faiss:IVF256,PQ32).");
            }

            return new IndexSpec(IndexKind.Faiss, "faiss:" + factory, null, factory);
        }

        throw new CliException($"--index \"{text}\": unknown index kind; expected flat, ivf[:lists=256,probes=16], hnsw[:m=16,ef=64,efc=128] or faiss:<factory>.");
    }

    /// <summary>Parses a comma-separated list. FAISS factories, HNSW and IVF parameters contain commas themselves, so a
    /// piece that does not start a new spec (<c>flat</c>, <c>ivf</c>, <c>hnsw</c>, <c>faiss:</c>) continues the previous one:
    /// <c>flat,hnsw:m=32,ef=128,faiss:IVF256,PQ32</c> is three specs.</summary>
    public static IndexSpec[] ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var specs = new List<string>();
        foreach (string piece in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (piece.Length == 0)
            {
                throw new CliException($"--index \"{text}\" has an empty entry.");
            }

            bool starts = piece.Equals("flat", StringComparison.OrdinalIgnoreCase) || piece.Equals("hnsw", StringComparison.OrdinalIgnoreCase)
                || piece.StartsWith("hnsw:", StringComparison.OrdinalIgnoreCase) || piece.StartsWith("faiss:", StringComparison.OrdinalIgnoreCase)
                || piece.Equals("ivf", StringComparison.OrdinalIgnoreCase) || piece.StartsWith("ivf:", StringComparison.OrdinalIgnoreCase);
            if (starts || specs.Count == 0)
            {
                specs.Add(piece);
            }
            else
            {
                specs[^1] += "," + piece;
            }
        }

        var result = new IndexSpec[specs.Count];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < specs.Count; i++)
        {
            result[i] = Parse(specs[i]);
            if (!seen.Add(result[i].Text))
            {
                throw new CliException($"--index \"{text}\" names {result[i].Text} twice.");
            }
        }

        return result;
    }

    /// <summary>The backend, after checking that its native library loads.</summary>
    /// <param name="storage">How a flat or IVF index stores FDEs (the other kinds ignore it).</param>
    public MipsBackend CreateBackend(FdeStorage? storage)
    {
        switch (Kind)
        {
            case IndexKind.Hnsw:
                if (!USearchMipsIndex.IsSupported)
                {
                    throw new CliException($"--index {Text}: the USearch native library is not available on this platform.");
                }

                return new USearchMipsBackend(USearch!);
            case IndexKind.Faiss:
                if (!FaissMipsIndex.IsSupported)
                {
                    throw new CliException($"--index {Text}: FAISS is not available ({FaissMipsIndex.UnsupportedReason ?? "native library missing"}).");
                }

                return new FaissMipsBackend(FaissFactory!);
            case IndexKind.Ivf:
                try
                {
                    return new IvfMipsBackend(storage ?? IvfMipsBackend.DefaultStorage, IvfLists ?? IvfMipsBackend.DefaultLists) { Probes = IvfProbes ?? IvfMipsBackend.DefaultProbes };
                }
                catch (ArgumentException e)
                {
                    throw new CliException($"--index {Text}: {e.Message}", e);
                }

            default:
                // One thread per search: searches are timed one at a time on one thread, and in parallel across queries.
                return new FlatMipsBackend(storage ?? FdeStorage.Default) { SearchParallelOptions = new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = 1 } };
        }
    }

    public override string ToString() => Text;

    private static IndexSpec ParseIvf(string text)
    {
        var spec = new IndexSpec(IndexKind.Ivf, text, null, null);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return spec;
        }

        foreach (string parameter in text[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries))
        {
            string[] pair = parameter.Split('=', StringSplitOptions.TrimEntries);
            if (pair.Length != 2 || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            {
                throw new CliException($"--index \"{text}\": \"{parameter}\" is not key=integer (keys lists, probes).");
            }

            if (value <= 0)
            {
                throw new CliException($"--index \"{text}\": {pair[0]}={value} is not positive.");
            }

            spec = pair[0].ToLowerInvariant() switch
            {
                "lists" => spec with { IvfLists = value },
                "probes" => spec with { IvfProbes = value },
                _ => throw new CliException($"--index \"{text}\": unknown IVF parameter \"{pair[0]}\" (keys lists, probes)."),
            };
        }

        if (spec.IvfProbes > spec.IvfLists)
        {
            throw new CliException($"--index \"{text}\": probes={spec.IvfProbes} exceeds lists={spec.IvfLists}.");
        }

        return spec;
    }

    private static USearchOptions ParseHnsw(string text)
    {
        var options = new USearchOptions();
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return options;
        }

        foreach (string parameter in text[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries))
        {
            string[] pair = parameter.Split('=', StringSplitOptions.TrimEntries);
            if (pair.Length != 2 || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            {
                throw new CliException($"--index \"{text}\": \"{parameter}\" is not key=integer (keys m, ef, efc).");
            }

            try
            {
                options = pair[0].ToLowerInvariant() switch
                {
                    "m" => options with { Connectivity = value },
                    "ef" => options with { ExpansionSearch = value },
                    "efc" => options with { ExpansionAdd = value },
                    _ => throw new CliException($"--index \"{text}\": unknown HNSW parameter \"{pair[0]}\" (keys m, ef, efc)."),
                };
            }
            catch (ArgumentException e)
            {
                throw new CliException($"--index \"{text}\": {e.Message}", e);
            }
        }

        return options;
    }
}
