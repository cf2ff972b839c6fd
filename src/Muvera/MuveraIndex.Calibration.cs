// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Threading;
using Muvera.Indexing;
using Muvera.Scoring;

namespace Muvera;

public sealed partial class MuveraIndex
{
    /// <summary>The largest candidate count <see cref="Calibrate(IReadOnlyList{ReadOnlyMultiVector}, int, double)"/> examines.</summary>
    public const int MaxCalibrationCandidates = 10_000;

    /// <summary>Calibrates the candidate count N for a target recall of the exact top-k: for each sample query the
    /// exact Chamfer top-k (brute force) is compared with the FDE ranking, and N is the smallest count whose candidates
    /// hold, on average over the queries, at least <paramref name="targetRecall"/> of the exact top-k (reranking then
    /// returns exactly those). With an inverted-file backend (<see cref="IvfMipsBackend"/>) the probes are calibrated
    /// with N: every probe count 1, 2, 4, … up to all lists is measured, and the pair that reaches the target at the least
    /// estimated search cost (rows scanned plus candidates reranked) wins (<see cref="MuveraCalibration.Probes"/>). The
    /// result is kept with the index (saved, and used by searches that leave <see cref="MuveraSearchOptions.Candidates"/>
    /// and <see cref="MuveraSearchOptions.Probes"/> null).</summary>
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

        // Per probe count (one null entry unless the index is an inverted file): one (rank, weight) pair per exact
        // top-k document of each query, its position in the FDE ranking (int.MaxValue when beyond the examined
        // candidates) and 1 / (k_q · |sample|).
        int examined;
        int live;
        int[] probeLadder;
        List<(int Rank, double Weight)>[] ranks;
        double[] scannedRows;
        double rerankSeconds;
        double scanSecondsPerRow;
        (int Candidates, double Recall)[] verified;
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
            var exact = new ScoredId[sampleQueries.Count][];
            long queryTokens = 0;
            for (int q = 0; q < sampleQueries.Count; q++)
            {
                exact[q] = ExactUnderLock(scorer, sampleQueries[q], k);
                queryTokens += sampleQueries[q].Count;
                if (q + 1 < sampleQueries.Count)
                {
                    progress?.Report(new MuveraProgress(MuveraProgressStage.Calibrating, q + 1, sampleQueries.Count));
                }
            }

            IvfMipsIndex? ivf = _mips is IvfMipsIndex { IsTrained: true } trainedIvf ? trainedIvf : null;
            probeLadder = ivf is null ? [0] : ProbeLadder(ivf.Lists);
            ranks = new List<(int Rank, double Weight)>[probeLadder.Length];
            verified = new (int, double)[probeLadder.Length];
            scannedRows = new double[probeLadder.Length];
            for (int p = 0; p < probeLadder.Length; p++)
            {
                ranks[p] = [];
                int? probes = ivf is null ? null : probeLadder[p];
                for (int q = 0; q < sampleQueries.Count; q++)
                {
                    ReadOnlySpan<float> fde = fdes.AsSpan(q * fdeDimension, fdeDimension);
                    List<ScoredId> candidates = CandidatesUnderLock(fde, examined, probes);
                    var position = new Dictionary<int, int>(candidates.Count);
                    for (int i = 0; i < candidates.Count; i++)
                    {
                        position[candidates[i].Id] = i;
                    }

                    double weight = 1.0 / (exact[q].Length * (double)sampleQueries.Count);
                    foreach (ScoredId hit in exact[q])
                    {
                        ranks[p].Add((position.TryGetValue(hit.Id, out int rank) ? rank : int.MaxValue, weight));
                    }

                    scannedRows[p] += ivf is null ? live : ivf.ScannedRows(fde, probeLadder[p]) / (double)sampleQueries.Count;
                }

                ranks[p].Sort((a, b) => a.Rank.CompareTo(b.Rank));

                // The ranks come from one search for every examined candidate; a search for fewer candidates may find
                // others (a quantizer's refinement re-scores a pool sized by the request): the count is verified with
                // searches of that size, and raised until they reach the target.
                (int guess, bool guessReached) = Smallest(ranks[p], targetRecall, Math.Min(k, live), examined);
                verified[p] = guessReached ? VerifyCandidates(fdes, fdeDimension, exact, probes, guess, examined, targetRecall) : (examined, RecallAt(ranks[p], examined));
            }

            // The cost model that trades probes for candidates: scanning a row reads its scan codes at about
            // ScanBytesPerSecond; reranking a candidate costs its Chamfer multiply-adds at about RerankMultiplyAddsPerSecond
            // (one core, decoding included). Only the ratio matters.
            double tokensPerDocument = _store.Count == 0 ? 1 : _store.TokenCount / (double)_store.Count;
            rerankSeconds = queryTokens / (double)sampleQueries.Count * tokensPerDocument * Dimension / RerankMultiplyAddsPerSecond;
            scanSecondsPerRow = ivf is null ? 0 : ivf.ScanBytesPerRow / ScanBytesPerSecond;
        }
        finally
        {
            _lock.ExitReadLock();
        }

        int minimum = Math.Min(k, live);
        int best = -1;
        int bestCandidates = examined;
        double bestCost = double.PositiveInfinity;
        double bestRecall = -1;
        for (int p = 0; p < probeLadder.Length; p++)
        {
            (int chosen, double recall) = verified[p];
            bool reached = recall >= targetRecall - MuveraCalibration.Tolerance;
            double cost = (scannedRows[p] * scanSecondsPerRow) + (chosen * rerankSeconds);
            bool better = best < 0
                || (reached && (!(bestRecall >= targetRecall - MuveraCalibration.Tolerance) || cost < bestCost))
                || (!reached && !(bestRecall >= targetRecall - MuveraCalibration.Tolerance) && recall > bestRecall);
            if (better)
            {
                best = p;
                bestCandidates = chosen;
                bestCost = cost;
                bestRecall = recall;
            }
        }

        List<(int Rank, double Weight)> bestRanks = ranks[best];
        var ladder = new SortedSet<int> { minimum, bestCandidates, examined };
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
            curve.Add(new CalibrationPoint(n, RecallAt(bestRanks, n)));
        }

        var calibration = new MuveraCalibration(k, targetRecall, bestCandidates, bestRecall, sampleQueries.Count, live, curve)
        {
            Probes = probeLadder[best] == 0 ? null : probeLadder[best],
        };
        Volatile.Write(ref _calibration, calibration);
        progress?.Report(new MuveraProgress(MuveraProgressStage.Calibrating, sampleQueries.Count, sampleQueries.Count));
        return calibration;
    }

    // The smallest count from `guess` up (by a quarter at a time) whose searches hold the target share of the exact
    // top-k, or `examined` and its recall. Under the read lock.
    private (int Candidates, double Recall) VerifyCandidates(float[] fdes, int fdeDimension, ScoredId[][] exact, int? probes, int guess, int examined,
        double targetRecall)
    {
        int n = guess;
        while (true)
        {
            // Σ_q hits_q / k_q / |sample|, summed as integers where every query has the same k (one rounding).
            double recall = 0;
            long totalHits = 0;
            bool sameLength = true;
            for (int q = 0; q < exact.Length; q++)
            {
                var found = new HashSet<int>();
                foreach (ScoredId candidate in CandidatesUnderLock(fdes.AsSpan(q * fdeDimension, fdeDimension), n, probes))
                {
                    found.Add(candidate.Id);
                }

                int hits = 0;
                foreach (ScoredId hit in exact[q])
                {
                    hits += found.Contains(hit.Id) ? 1 : 0;
                }

                recall += hits / (double)(exact[q].Length * exact.Length);
                totalHits += hits;
                sameLength &= exact[q].Length == exact[0].Length;
            }

            if (sameLength && exact[0].Length > 0)
            {
                recall = totalHits / ((double)exact[0].Length * exact.Length);
            }

            if (recall >= targetRecall - MuveraCalibration.Tolerance || n >= examined)
            {
                return (n, Math.Min(1.0, recall));
            }

            n = (int)Math.Min(examined, Math.Max(n + 1L, n + (n / 4L)));
        }
    }

    // Reranking cost model (see Calibrate): Chamfer multiply-adds per second on one core, decoding included.
    private const double RerankMultiplyAddsPerSecond = 2.5e10;

    // Scan cost model (see Calibrate): code bytes scanned per second on one core.
    private const double ScanBytesPerSecond = 8e9;

    // 1, 2, 4, … up to every list.
    private static int[] ProbeLadder(int lists)
    {
        var ladder = new List<int>();
        for (long p = 1; p < lists; p *= 2)
        {
            ladder.Add((int)p);
        }

        ladder.Add(lists);
        return [.. ladder];
    }

    // The smallest N (at least `minimum`) whose candidates hold the target share of the exact top-k, and whether it
    // exists among the examined candidates (else N = examined).
    private static (int Candidates, bool Reached) Smallest(List<(int Rank, double Weight)> ranks, double targetRecall, int minimum, int examined)
    {
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
                return (Math.Max(rank + 1, minimum), true);
            }
        }

        return (examined, false);
    }

    // The share of the exact top-k among the first n candidates.
    private static double RecallAt(List<(int Rank, double Weight)> ranks, int n)
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


    /// <summary>Forgets the stored calibration (searches fall back to the default candidate count).</summary>
    public void ClearCalibration() => Volatile.Write(ref _calibration, null);
}
