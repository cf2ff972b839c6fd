// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;

namespace Muvera;

/// <summary>The result of <see cref="MuveraIndex.Calibrate(System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector}, int, double)"/>: the smallest candidate count N whose reranked top-k
/// found, on the sample queries, at least the target share of the exact Chamfer top-k.</summary>
/// <param name="K">The k the recall was measured at.</param>
/// <param name="TargetRecall">The requested recall of the exact top-k.</param>
/// <param name="Candidates">The calibrated N (at least k).</param>
/// <param name="AchievedRecall">The mean recall of the exact top-k with N candidates on the sample.</param>
/// <param name="SampleQueries">How many queries were measured.</param>
/// <param name="Documents">The number of live documents when calibrated.</param>
/// <param name="Curve">Recall at a ladder of candidate counts (k, 10, 20, 50, 100, … up to the examined maximum and N),
/// ascending in N.</param>
public sealed record MuveraCalibration(int K, double TargetRecall, int Candidates, double AchievedRecall, int SampleQueries,
    int Documents, IReadOnlyList<CalibrationPoint> Curve)
{
    /// <summary>Whether <see cref="AchievedRecall"/> reached <see cref="TargetRecall"/> (up to 1e-9 of rounding in the
    /// mean; false when even the largest examined N fell short, and <see cref="Candidates"/> is then that N).</summary>
    public bool TargetReached => AchievedRecall >= TargetRecall - Tolerance;

    /// <summary>The lists an inverted-file index scans (<see cref="MuveraSearchOptions.Probes"/>), chosen with
    /// <see cref="Candidates"/> as the cheapest pair that reaches the target; null for other backends.</summary>
    public int? Probes { get; init; }

    /// <summary>The rounding allowance of <see cref="TargetReached"/>.</summary>
    internal const double Tolerance = 1e-9;
}

/// <summary>Recall of the exact top-k among N FDE candidates.</summary>
/// <param name="Candidates">N.</param>
/// <param name="Recall">The mean share of the exact top-k among the N candidates.</param>
public readonly record struct CalibrationPoint(int Candidates, double Recall);
