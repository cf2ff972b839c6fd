// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Beir;

namespace Muvera.Cli;

/// <summary>The results and timings of one query set under one search mode.</summary>
internal sealed record Measured<T>(T[] Results, LatencyStatistics Latency, double QpsOneThread, double Qps);

/// <summary>Times a query set twice: one query after another on one thread (per-query latency and 1-thread QPS; the
/// search itself must be single-threaded, which the callers arrange with a one-thread Chamfer scorer), then all queries
/// in parallel over the queries (all-threads QPS). The results come from the sequential pass.</summary>
internal static class QueryMeasurement
{
    public static Measured<T> Measure<T>(CliConsole console, string description, int queryCount, Func<int, T> search, ParallelOptions parallelOptions)
    {
        CancellationToken cancellationToken = parallelOptions.CancellationToken;
        var results = new T[queryCount];
        var latencies = new double[queryCount];
        double sequentialSeconds = 0;
        double parallelSeconds = 0;
        if (queryCount > 0)
        {
            // Warm-up: JIT and first-touch costs stay out of the timings.
            search(0);
        }

        console.Run(description, 2L * queryCount, progress =>
        {
            var counter = new StepCounter(progress);
            long start = Stopwatch.GetTimestamp();
            for (int q = 0; q < queryCount; q++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long queryStart = Stopwatch.GetTimestamp();
                results[q] = search(q);
                latencies[q] = Stopwatch.GetElapsedTime(queryStart).TotalMilliseconds;
                counter.Step();
            }

            sequentialSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            Parallel.For(0, queryCount, parallelOptions, q =>
            {
                search(q);
                counter.Step();
            });
            parallelSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return 0;
        });

        LatencyStatistics latency = queryCount > 0 ? LatencyStatistics.FromMilliseconds(latencies) : default;
        return new Measured<T>(results, latency, Rate(queryCount, sequentialSeconds), Rate(queryCount, parallelSeconds));
    }

    private static double Rate(int count, double seconds) => count == 0 ? 0 : count / Math.Max(seconds, 1e-9);
}
