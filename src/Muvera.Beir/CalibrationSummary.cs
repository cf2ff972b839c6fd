// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Text.Json.Serialization;

namespace Muvera.Beir;

/// <summary>
/// The <c>calibration</c> object of results.json: the candidate count (and IVF probe count) that calibration chose for a
/// target recall of the exact top 10 among the candidates, on sample queries that are not the evaluation queries.
/// </summary>
/// <remarks>Schema: <c>{"candidates": int, "probes": int|null, "achieved_recall": float, "target_recall": float,
/// "queries": int}</c>; every property is always written.</remarks>
public sealed class CalibrationSummary
{
    /// <summary><c>candidates</c>: the calibrated candidate count N.</summary>
    [JsonPropertyName("candidates")]
    public required int Candidates { get; init; }

    /// <summary><c>probes</c>: the calibrated IVF probe count, or <see langword="null"/> for other indexes.</summary>
    [JsonPropertyName("probes")]
    public required int? Probes { get; init; }

    /// <summary><c>achieved_recall</c>: the mean share of the exact top 10 among the calibrated candidates, on the
    /// calibration queries.</summary>
    [JsonPropertyName("achieved_recall")]
    public required double AchievedRecall { get; init; }

    /// <summary><c>target_recall</c>: the recall calibration aimed for (<c>--target-recall</c>).</summary>
    [JsonPropertyName("target_recall")]
    public required double TargetRecall { get; init; }

    /// <summary><c>queries</c>: the number of calibration queries.</summary>
    [JsonPropertyName("queries")]
    public required int Queries { get; init; }
}
