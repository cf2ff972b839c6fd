// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Orleans;

namespace Muvera.Orleans;

/// <summary>The outcome of calibrating one shard (<see cref="MuveraIndex.Calibrate(System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector}, int, double)"/> on the shard's documents); the
/// shard searches with <paramref name="Candidates"/> when a search sets no candidate count, from then on and after
/// fail-over (the calibration is checkpointed).</summary>
/// <param name="Shard">The shard.</param>
/// <param name="Candidates">The calibrated N of the shard.</param>
/// <param name="AchievedRecall">The recall of the exact top-k reached with that N on the sample.</param>
/// <param name="TargetReached">Whether it reached the target.</param>
[GenerateSerializer]
[Immutable]
[Alias("Muvera.Orleans.MuveraShardCalibration")]
public sealed record MuveraShardCalibration(
    [property: Id(0)] int Shard,
    [property: Id(1)] int Candidates,
    [property: Id(2)] double AchievedRecall,
    [property: Id(3)] bool TargetReached);
