// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Beir;

/// <summary>Summary statistics of per-query latencies, in milliseconds (the <c>latency_p50_ms</c> and
/// <c>latency_p99_ms</c> of results.json).</summary>
/// <remarks>
/// Percentiles use linear interpolation between the closest ranks: for n sorted values x_0 ≤ … ≤ x_{n−1} and
/// percentile p, h = (n − 1)·p/100 and the value is x_⌊h⌋ + (h − ⌊h⌋)·(x_⌊h⌋+1 − x_⌊h⌋). This is NumPy's default
/// (<c>numpy.percentile</c>, method "linear"; Hyndman and Fan's type 7; Excel's PERCENTILE.INC). With fewer than 100
/// samples p99 lies between the two largest values.
/// </remarks>
/// <param name="Count">The number of samples.</param>
/// <param name="MeanMs">The arithmetic mean.</param>
/// <param name="P50Ms">The median (50th percentile).</param>
/// <param name="P99Ms">The 99th percentile.</param>
/// <param name="MinMs">The smallest sample.</param>
/// <param name="MaxMs">The largest sample.</param>
public readonly record struct LatencyStatistics(int Count, double MeanMs, double P50Ms, double P99Ms, double MinMs, double MaxMs)
{
    /// <summary>Summarises latencies given in milliseconds.</summary>
    /// <param name="latenciesMs">The per-query latencies; not empty, finite, not negative.</param>
    /// <exception cref="ArgumentException">The span is empty or holds a negative or non-finite value.</exception>
    public static LatencyStatistics FromMilliseconds(ReadOnlySpan<double> latenciesMs)
    {
        double[] sorted = SortedCopy(latenciesMs, nameof(latenciesMs));
        double sum = 0;
        foreach (double value in sorted)
        {
            sum += value;
        }

        return new LatencyStatistics(sorted.Length, sum / sorted.Length, PercentileOfSorted(sorted, 50), PercentileOfSorted(sorted, 99), sorted[0], sorted[^1]);
    }

    /// <summary>Summarises latencies measured as <see cref="TimeSpan"/>s.</summary>
    /// <param name="latencies">The per-query latencies; not empty, not negative.</param>
    /// <exception cref="ArgumentException">The span is empty or holds a negative value.</exception>
    public static LatencyStatistics FromTimeSpans(ReadOnlySpan<TimeSpan> latencies)
    {
        double[] milliseconds = new double[latencies.Length];
        for (int i = 0; i < latencies.Length; i++)
        {
            milliseconds[i] = latencies[i].TotalMilliseconds;
        }

        return FromMilliseconds(milliseconds);
    }

    /// <summary>One percentile of a sample, by linear interpolation between closest ranks (see the remarks).</summary>
    /// <param name="values">The sample, in any order; not empty, finite, not negative.</param>
    /// <param name="percentile">The percentile, 0 to 100.</param>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty or holds a negative or non-finite value.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="percentile"/> is outside [0, 100].</exception>
    public static double Percentile(ReadOnlySpan<double> values, double percentile)
    {
        if (!(percentile is >= 0 and <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, $"Percentile {percentile} is outside [0, 100].");
        }

        return PercentileOfSorted(SortedCopy(values, nameof(values)), percentile);
    }

    private static double[] SortedCopy(ReadOnlySpan<double> values, string paramName)
    {
        if (values.IsEmpty)
        {
            throw new ArgumentException("No latency samples were given; statistics need at least one.", paramName);
        }

        double[] sorted = values.ToArray();
        for (int i = 0; i < sorted.Length; i++)
        {
            if (!double.IsFinite(sorted[i]) || sorted[i] < 0)
            {
                throw new ArgumentException($"{paramName}[{i}] = {sorted[i]} is not a finite, non-negative latency.", paramName);
            }
        }

        Array.Sort(sorted);
        return sorted;
    }

    private static double PercentileOfSorted(double[] sorted, double percentile)
    {
        double h = (sorted.Length - 1) * percentile / 100;
        int lower = (int)Math.Floor(h);
        if (lower >= sorted.Length - 1)
        {
            return sorted[^1];
        }

        return sorted[lower] + ((h - lower) * (sorted[lower + 1] - sorted[lower]));
    }
}
