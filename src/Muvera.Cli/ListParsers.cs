// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using Muvera.Beir;

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

    /// <summary>The name of a mode as results.json writes it.</summary>
    public static string Name(RunMode mode) => mode switch
    {
        RunMode.Exact => "exact",
        RunMode.Muvera => "muvera",
        RunMode.Fde => "fde",
        _ => "pooled",
    };
}
