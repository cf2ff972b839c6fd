// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Threading;
using Muvera.Scoring;

namespace Muvera;

public sealed partial class MuveraIndex
{
    /// <summary>The largest candidate count <see cref="Calibrate(IReadOnlyList{ReadOnlyMultiVector}, int, double)"/> examines.</summary>
    public const int MaxCalibrationCandidates = 10_000;

    /// <summary>Calibrates the candidate count N for a target recall of the exact top-k: for each sample query the
    /// exact Chamfer top-k (brute force) is compared with the FDE ranking, and N is the smallest count whose candidates
    /// hold, on average over the queries, at least <paramref name="targetRecall"/> of the exact top-k (reranking then
    /// returns exactly those). The result is kept with the index (saved, and used by searches that leave
    /// <see cref="MuveraSearchOptions.Candidates"/> null).</summary>
    /// <param name="sampleQueries">Queries like the ones the index will serve (tens to hundreds).</param>
    /// <param name="k">The k the recall is measured at (positive).</param>
    /// <param name="targetRecall">The target, in (0, 1].</param>
    /// <returns>The calibration; <see cref="MuveraCalibration.TargetReached"/> is false when even
    /// <see cref="MaxCalibrationCandidates"/> (or every document) fell short.</returns>
    /// <remarks>Cost: one exact search per sample query (|sample| × corpus Chamfer evaluations) plus one FDE search for
    /// min(Count, <see cref="MaxCalibrationCandidates"/>) candidates. Writers wait while it runs; searches do not. An
    /// index whose learned partitions are not trained yet trains them first, on the documents it holds (see
    /// <see cref="Train()"/>).</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="sampleQueries"/> is null.</exception>
    /// <exception cref="ArgumentException">No sample queries, or a query is empty, of the wrong dimension or has a
    /// NaN, ∞ or too large value (<see cref="FdeEncoder.TokenValueLimit"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive or
    /// <paramref name="targetRecall"/> is outside (0, 1].</exception>
    /// <exception cref="InvalidOperationException">The index has no documents.</exception>
    public MuveraCalibration Calibrate(IReadOnlyList<ReadOnlyMultiVector> sampleQueries, int k, double targetRecall) =>
        Calibrate(sampleQueries, k, targetRecall, null);

    /// <summary>Calibrates the candidate count N for a target recall of the exact top-k, with progress (see
    /// <see cref="Calibrate(IReadOnlyList{ReadOnlyMultiVector}, int, double)"/>).</summary>
    /// <param name="sampleQueries">Queries like the ones the index will serve (tens to hundreds).</param>
    /// <param name="k">The k the recall is measured at (positive).</param>
    /// <param name="targetRecall">The target, in (0, 1].</param>
    /// <param name="progress">Receives <see cref="MuveraProgressStage.Calibrating"/> reports, or null: after each
    /// sample query's exact and FDE rankings (the bulk of the cost), then <c>Completed == Total</c> once the calibration
    /// is stored. Called on this thread while the index is read-locked: a handler must not call this index's writing
    /// methods synchronously (they would wait for the calibration, which waits for the handler).</param>
    /// <returns>The calibration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sampleQueries"/> is null.</exception>
    /// <exception cref="ArgumentException">No sample queries, or a query is empty, of the wrong dimension or has a
    /// bad value.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive or
    /// <paramref name="targetRecall"/> is outside (0, 1].</exception>
    /// <exception cref="InvalidOperationException">The index has no documents.</exception>
    public MuveraCalibration Calibrate(IReadOnlyList<ReadOnlyMultiVector> sampleQueries, int k, double targetRecall, IProgress<MuveraProgress>? progress)
    {
        ArgumentNullException.ThrowIfNull(sampleQueries);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (!(targetRecall > 0 && targetRecall <= 1))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(targetRecall), targetRecall, $"targetRecall must be in (0, 1]; got {targetRecall}.");
        }

        if (sampleQueries.Count == 0)
        {
            ThrowHelper.ThrowArgument($"{nameof(sampleQueries)} is empty; calibration needs at least one query.", nameof(sampleQueries));
        }

        for (int q = 0; q < sampleQueries.Count; q++)
        {
            ValidateQuery(sampleQueries[q]);
        }

        if (!IsTrained)
        {
            // The candidate count of learned partitions means nothing before they exist: train them on what is held.
            if (Count == 0)
            {
                throw new InvalidOperationException("The index has no documents to calibrate against.");
            }

            TrainCore(null, s_defaultParallelOptions, throwIfTrained: false);
        }

        float[] fdes = Encoder.EncodeQueries(sampleQueries);
        int fdeDimension = Encoder.OutputDimension;
        IChamferScorer scorer = Scorer;

        // One (rank, weight) pair per exact top-k document of each query: its position in the live FDE ranking
        // (int.MaxValue when beyond the examined candidates) and 1 / (k_q · |sample|).
        var ranks = new List<(int Rank, double Weight)>();
        int examined;
        int live;
        _lock.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            live = _ordinals.Count;
            if (live == 0)
            {
                throw new InvalidOperationException("The index has no documents to calibrate against.");
            }

            examined = Math.Min(live, MaxCalibrationCandidates);
            for (int q = 0; q < sampleQueries.Count; q++)
            {
                ScoredId[] exact = ExactUnderLock(scorer, sampleQueries[q], k);
                List<ScoredId> candidates = CandidatesUnderLock(fdes.AsSpan(q * fdeDimension, fdeDimension), examined);
                var position = new Dictionary<int, int>(candidates.Count);
                for (int i = 0; i < candidates.Count; i++)
                {
                    position[candidates[i].Id] = i;
                }

                double weight = 1.0 / (exact.Length * (double)sampleQueries.Count);
                foreach (ScoredId hit in exact)
                {
                    ranks.Add((position.TryGetValue(hit.Id, out int rank) ? rank : int.MaxValue, weight));
                }

                if (q + 1 < sampleQueries.Count)
                {
                    progress?.Report(new MuveraProgress(MuveraProgressStage.Calibrating, q + 1, sampleQueries.Count));
                }
            }
        }
        finally
        {
            _lock.ExitReadLock();
        }

        ranks.Sort((a, b) => a.Rank.CompareTo(b.Rank));
        int minimum = Math.Min(k, live);
        int chosen = examined;
        double cumulative = 0;
        foreach ((int rank, double weight) in ranks)
        {
            if (rank == int.MaxValue)
            {
                break;
            }

            cumulative += weight;
            if (cumulative >= targetRecall - MuveraCalibration.Tolerance)
            {
                chosen = Math.Max(rank + 1, minimum);
                break;
            }
        }

        double RecallAt(int n)
        {
            double sum = 0;
            foreach ((int rank, double weight) in ranks)
            {
                if (rank >= n)
                {
                    break;
                }

                sum += weight;
            }

            return Math.Min(1.0, sum);
        }

        var ladder = new SortedSet<int> { minimum, chosen, examined };
        foreach (int step in (ReadOnlySpan<int>)[10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000])
        {
            if (step > minimum && step < examined)
            {
                ladder.Add(step);
            }
        }

        var curve = new List<CalibrationPoint>(ladder.Count);
        foreach (int n in ladder)
        {
            curve.Add(new CalibrationPoint(n, RecallAt(n)));
        }

        var calibration = new MuveraCalibration(k, targetRecall, chosen, RecallAt(chosen), sampleQueries.Count, live, curve);
        Volatile.Write(ref _calibration, calibration);
        progress?.Report(new MuveraProgress(MuveraProgressStage.Calibrating, sampleQueries.Count, sampleQueries.Count));
        return calibration;
    }

    /// <summary>Forgets the stored calibration (searches fall back to the default candidate count).</summary>
    public void ClearCalibration() => Volatile.Write(ref _calibration, null);
}
