// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using Muvera.Beir;
using Muvera.Indexing;

namespace Muvera.Cli;

/// <summary>Parsers of the comma-separated option values.</summary>
internal static class ListParsers
{
    /// <summary>The default candidate counts N of the muvera and fde modes.</summary>
    public static readonly int[] DefaultCandidates = [10, 20, 50, 100, 200, 500, 1000];

    /// <summary>Every mode, in run order.</summary>
    public static readonly RunMode[] AllModes = [RunMode.Exact, RunMode.Muvera, RunMode.Fde, RunMode.Pooled];

    /// <summary><c>--candidates 10,20,50</c>: distinct positive integers, returned in ascending order.</summary>
    public static int[] ParseCandidates(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var values = new SortedSet<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value <= 0)
            {
                throw new CliException($"--candidates \"{text}\": \"{part}\" is not a positive integer.");
            }

            values.Add(value);
        }

        return [.. values];
    }

    /// <summary><c>--modes exact,muvera,fde,pooled</c>: distinct modes, returned in run order.</summary>
    public static RunMode[] ParseModes(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var modes = new HashSet<RunMode>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            RunMode mode = part.ToLowerInvariant() switch
            {
                "exact" => RunMode.Exact,
                "muvera" => RunMode.Muvera,
                "fde" => RunMode.Fde,
                "pooled" => RunMode.Pooled,
                _ => throw new CliException($"--modes \"{text}\": unknown mode \"{part}\"; expected exact, muvera, fde or pooled."),
            };
            modes.Add(mode);
        }

        return Array.FindAll(AllModes, modes.Contains);
    }

    /// <summary><c>--fde-storage f32|f16|int8|pq[:bits[,sub-space size]]</c>: how the flat index stores FDEs.</summary>
    public static FdeStorage ParseFdeStorage(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string value = text.Trim().ToLowerInvariant();
        switch (value)
        {
            case "f32" or "float32":
                return FdeStorage.Float32;
            case "f16" or "float16":
                return FdeStorage.Float16;
            case "int8":
                return FdeStorage.Int8;
            case "pq":
                return FdeStorage.ProductQuantization();
        }

        if (!value.StartsWith("pq:", StringComparison.Ordinal))
        {
            throw new CliException($"--fde-storage \"{text}\": expected f32, f16, int8 or pq[:<bits>[,<sub-space size>]] (for example pq:4,4 or pq:8,8).");
        }

        string[] parts = value[3..].Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int bits)
            || (parts.Length == 2 && !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            throw new CliException($"--fde-storage \"{text}\": expected pq:<bits>[,<sub-space size>] with integers (for example pq:4,4 or pq:8,8).");
        }

        int subspace = parts.Length == 2 ? int.Parse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture) : 4;
        try
        {
            return FdeStorage.ProductQuantization(bits, subspace);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new CliException($"--fde-storage \"{text}\": {e.Message}", e);
        }
    }

    /// <summary><c>--token-storage f32|f16|int8|residual[:bits[,centroids]]</c>: how the index stores token vectors.</summary>
    public static TokenStorage ParseTokenStorage(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string value = text.Trim().ToLowerInvariant();
        switch (value)
        {
            case "f32" or "float32":
                return TokenStorage.Float32;
            case "f16" or "float16":
                return TokenStorage.Float16;
            case "int8":
                return TokenStorage.Int8;
            case "residual":
                return TokenStorage.Residual();
        }

        if (!value.StartsWith("residual:", StringComparison.Ordinal))
        {
            throw new CliException($"--token-storage \"{text}\": expected f32, f16, int8 or residual[:<bits>[,<centroids>]] (for example residual:2 or residual:4,4096).");
        }

        string[] parts = value["residual:".Length..].Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int bits)
            || (parts.Length == 2 && !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            throw new CliException($"--token-storage \"{text}\": expected residual:<bits>[,<centroids>] with integers (for example residual:2 or residual:4,4096).");
        }

        int? centroids = parts.Length == 2 ? int.Parse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture) : null;
        try
        {
            return TokenStorage.Residual(bits, centroids);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new CliException($"--token-storage \"{text}\": {e.Message}", e);
        }
    }

    /// <summary>The name of a mode as results.json writes it.</summary>
    public static string Name(RunMode mode) => mode switch
    {
        RunMode.Exact => "exact",
        RunMode.Muvera => "muvera",
        RunMode.Fde => "fde",
        _ => "pooled",
    };
}
