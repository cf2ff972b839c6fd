// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Globalization;

namespace Muvera.Cli;

/// <summary>The <c>--fde R,k,dproj[,final]</c> value with the <c>--partitions</c> choice: repetitions, partition exponent
/// (2^k SimHash cells or k-means centroids), AMS projection dimension and optional final projection dimension; the rest
/// of the options are those of <see cref="FdeOptions.CreateRecommended(int, int)"/> (k-means) or
/// <see cref="FdeOptions.CreateSimHash(int, int)"/> (SimHash).</summary>
internal sealed record FdeSpec(int Repetitions, int SimHashProjections, int ProjectionDimension, int? FinalDimension)
{
    /// <summary>(20, 6, 32) with learned partitions, no final projection: <see cref="FdeOptions.CreateRecommended(int, int)"/>.</summary>
    public static FdeSpec Recommended { get; } = new(20, 6, 32, null);

    /// <summary>(20, 5, 16) with SimHash, no final projection: <see cref="FdeOptions.CreateSimHash(int, int)"/>.</summary>
    public static FdeSpec SimHash { get; } = new(20, 5, 16, null) { Partitioning = FdePartitioning.SimHash };

    /// <summary>How tokens are partitioned (<c>--partitions kmeans|simhash</c>; default k-means).</summary>
    public FdePartitioning Partitioning { get; init; } = FdePartitioning.KMeans;

    /// <summary>The default shape for a partitioning: <see cref="Recommended"/> or <see cref="SimHash"/>.</summary>
    public static FdeSpec DefaultFor(FdePartitioning partitioning) => partitioning == FdePartitioning.SimHash ? SimHash : Recommended;

    /// <summary>Parses <c>--partitions</c>: <c>kmeans</c> or <c>simhash</c> (case-insensitive).</summary>
    public static FdePartitioning ParsePartitioning(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "kmeans" or "k-means" => FdePartitioning.KMeans,
            "simhash" => FdePartitioning.SimHash,
            _ => throw new CliException($"--partitions \"{text}\" is not a partitioning; expected kmeans (learned, the default) or simhash (the reference's)."),
        };
    }

    /// <summary>The <c>--partitions</c> name of a partitioning (<c>kmeans</c>, <c>simhash</c>).</summary>
    public static string Name(FdePartitioning partitioning) => partitioning == FdePartitioning.SimHash ? "simhash" : "kmeans";

    public static FdeSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is not (3 or 4))
        {
            throw new CliException($"--fde \"{text}\" has {parts.Length} value(s); expected R,k,dproj or R,k,dproj,final (for example 20,5,16 or 20,5,16,2048).");
        }

        int repetitions = ParsePart(text, parts[0], "R (repetitions)", allowZero: false);
        int projections = ParsePart(text, parts[1], "k (SimHash projections)", allowZero: true);
        int projectionDimension = ParsePart(text, parts[2], "dproj (projection dimension)", allowZero: false);
        int? finalDimension = parts.Length == 4 ? ParsePart(text, parts[3], "final (final dimension)", allowZero: false) : null;
        if (projections > FdeOptions.MaxSimHashProjections)
        {
            throw new CliException($"--fde \"{text}\": k = {projections} is above the maximum of {FdeOptions.MaxSimHashProjections} SimHash projections.");
        }

        return new FdeSpec(repetitions, projections, projectionDimension, finalDimension);
    }

    /// <summary>The FDE options for token dimension <paramref name="dimension"/>; out-of-range combinations are reported
    /// as a <see cref="CliException"/> naming this spec.</summary>
    public FdeOptions ToOptions(int dimension)
    {
        try
        {
            FdeOptions defaults = Partitioning == FdePartitioning.SimHash ? FdeOptions.CreateSimHash(dimension) : FdeOptions.CreateRecommended(dimension);
            FdeOptions options = defaults with
            {
                Repetitions = Repetitions,
                SimHashProjections = SimHashProjections,
                ProjectionDimension = ProjectionDimension,
                FinalDimension = FinalDimension,
            };
            options.Validate();
            return options;
        }
        catch (ArgumentException e)
        {
            throw new CliException($"--fde \"{this}\" --partitions {Name(Partitioning)} does not fit token dimension {dimension}: {e.Message}", e);
        }
    }

    /// <summary>The numbers and the partitioning, for progress lines: <c>20,6,32 kmeans</c>.</summary>
    public string Describe() => $"{this} {Name(Partitioning)}";

    public override string ToString() => FinalDimension is int final
        ? string.Create(CultureInfo.InvariantCulture, $"{Repetitions},{SimHashProjections},{ProjectionDimension},{final}")
        : string.Create(CultureInfo.InvariantCulture, $"{Repetitions},{SimHashProjections},{ProjectionDimension}");

    private static int ParsePart(string text, string part, string name, bool allowZero)
    {
        if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || (value == 0 && !allowZero))
        {
            string expected = allowZero ? "a non-negative integer" : "a positive integer";
            throw new CliException($"--fde \"{text}\": {name} \"{part}\" is not {expected}.");
        }

        return value;
    }
}
