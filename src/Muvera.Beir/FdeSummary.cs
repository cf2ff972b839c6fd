// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Text.Json.Serialization;

namespace Muvera.Beir;

/// <summary>The FDE parameters of an evaluation (the <c>fde</c> object of results.json).</summary>
public sealed class FdeSummary
{
    // Null when read from a report written before these properties existed (the reader assigns what it did not find).
    private readonly string? _partitioning;
    private readonly string? _documentAggregation;

    /// <summary><c>repetitions</c>: R, the number of independent repetitions.</summary>
    [JsonPropertyName("repetitions")]
    public required int Repetitions { get; init; }

    /// <summary><c>simhash_projections</c>: k, the partition exponent per repetition (2^k partitions: SimHash bits, or
    /// k-means centroids).</summary>
    [JsonPropertyName("simhash_projections")]
    public required int SimHashProjections { get; init; }

    /// <summary><c>projection_dimension</c>: d_proj, the block dimension (the token dimension for the identity projection).</summary>
    [JsonPropertyName("projection_dimension")]
    public required int ProjectionDimension { get; init; }

    /// <summary><c>final_dimension</c>: the final Count Sketch length, or <see langword="null"/> (written as
    /// <c>null</c>) without a final projection.</summary>
    [JsonPropertyName("final_dimension")]
    public required int? FinalDimension { get; init; }

    /// <summary><c>output_dimension</c>: the FDE length.</summary>
    [JsonPropertyName("output_dimension")]
    public required int OutputDimension { get; init; }

    /// <summary><c>partitioning</c>: <c>simhash</c> (the reference's) or <c>kmeans</c> (learned); <c>simhash</c> in reports
    /// written before learned partitions existed.</summary>
    [JsonPropertyName("partitioning")]
    public string Partitioning { get => _partitioning ?? "simhash"; init => _partitioning = value; }

    /// <summary><c>document_aggregation</c>: <c>average</c> (the reference's) or <c>normalized_average</c>;
    /// <c>average</c> in older reports.</summary>
    [JsonPropertyName("document_aggregation")]
    public string DocumentAggregation { get => _documentAggregation ?? "average"; init => _documentAggregation = value; }

    /// <summary>The summary of an encoder's options.</summary>
    /// <param name="options">The FDE options.</param>
    /// <returns>The summary.</returns>
    public static FdeSummary FromOptions(FdeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new FdeSummary
        {
            Repetitions = options.Repetitions,
            SimHashProjections = options.SimHashProjections,
            ProjectionDimension = options.BlockDimension,
            FinalDimension = options.FinalDimension,
            OutputDimension = options.OutputDimension,
            Partitioning = options.Partitioning == FdePartitioning.SimHash ? "simhash" : "kmeans",
            DocumentAggregation = options.DocumentAggregation == FdeDocumentAggregation.Average ? "average" : "normalized_average",
        };
    }
}
