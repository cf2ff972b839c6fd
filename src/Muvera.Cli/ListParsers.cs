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
    public static int[] ParseCandidates(string text) => ParsePositiveIntegers("--candidates", text);

    /// <summary><c>--probes 4,8,16</c>: distinct positive integers, returned in ascending order.</summary>
    public static int[] ParseProbes(string text) => ParsePositiveIntegers("--probes", text);

    private static int[] ParsePositiveIntegers(string option, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var values = new SortedSet<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value <= 0)
            {
                throw new CliException($"{option} \"{text}\": \"{part}\" is not a positive integer.");
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

    /// <summary><c>--fde-storage f32|f16|int8|pq[:bits[,sub-space size][+bits,sub-space size[xcandidates]]]</c>: how the
    /// flat index stores FDEs (product quantization with an optional refinement stage).</summary>
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

        const string Usage = "expected f32, f16, int8 or pq[:<bits>[,<sub-space size>][+<bits>,<sub-space size>[x<candidates per result>]]] (for example pq:4,4, pq:8,8 or pq:4,4+4,4x2)";
        if (!value.StartsWith("pq:", StringComparison.Ordinal))
        {
            throw new CliException($"--fde-storage \"{text}\": {Usage}.");
        }

        string[] stages = value[3..].Split('+', StringSplitOptions.TrimEntries);
        if (stages.Length > 2)
        {
            throw new CliException($"--fde-storage \"{text}\": {Usage}.");
        }

        try
        {
            int[] first = ParseIntegers(text, stages[0], 1, 2, Usage);
            FdeStorage storage = FdeStorage.ProductQuantization(first[0], first.Length == 2 ? first[1] : 4);
            if (stages.Length == 2)
            {
                string[] refinement = stages[1].Split('x', StringSplitOptions.TrimEntries);
                int[] second = ParseIntegers(text, refinement[0], 2, 2, Usage);
                int candidates = refinement.Length switch
                {
                    1 => 2,
                    2 => ParseIntegers(text, refinement[1], 1, 1, Usage)[0],
                    _ => throw new CliException($"--fde-storage \"{text}\": {Usage}."),
                };
                storage = storage.WithRefinement(second[0], second[1], candidates);
            }

            return storage;
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

    private static int[] ParseIntegers(string text, string part, int minimum, int maximum, string usage)
    {
        string[] pieces = part.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[pieces.Length];
        for (int i = 0; i < pieces.Length; i++)
        {
            if (!int.TryParse(pieces[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]))
            {
                throw new CliException($"--fde-storage \"{text}\": \"{pieces[i]}\" is not a number; {usage}.");
            }
        }

        if (pieces.Length < minimum || pieces.Length > maximum)
        {
            throw new CliException($"--fde-storage \"{text}\": {usage}.");
        }

        return values;
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
