// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace Muvera.Beir;

/// <summary>
/// PNG charts of one or more results.json reports (ScottPlot): candidate recall against the candidate count N, and
/// quality against throughput across N. Each report contributes one line per mode, labelled "mode (index)", so
/// reports of different indexes compare on one chart.
/// </summary>
/// <remarks>
/// <para>Candidate recall (<see cref="SaveCandidateRecallPlot(IReadOnlyList{EvaluationReport}, string)"/>): x = N on
/// a log10 axis, y = <c>candidate_recall@10</c>, or <c>recall@10</c> for runs without it (synthetic reports); runs
/// without N (exact, pooled) are left out.</para>
/// <para>Quality against speed (<see cref="SaveQualityVersusQpsPlot(IReadOnlyList{EvaluationReport}, string)"/>):
/// x = <c>qps</c> on a log10 axis, y = <c>ndcg@10</c>, or <c>recall@10</c> for runs without it; the points of a line
/// follow increasing N, each labelled "N=…", and a run without N (exact, pooled) is a single marker.</para>
/// <para>Rendering uses SkiaSharp's bundled native library and the system's fonts (on Linux, any fontconfig font such
/// as Debian's fonts-dejavu-core; without fonts the charts still render, without legible text). Each call builds its own
/// chart, so calls may run concurrently (on different files).</para>
/// </remarks>
public static class EvaluationPlots
{
    /// <summary>The default image width in pixels.</summary>
    public const int DefaultWidth = 900;

    /// <summary>The default image height in pixels.</summary>
    public const int DefaultHeight = 600;

    /// <summary>Saves the candidate recall chart as a <see cref="DefaultWidth"/> × <see cref="DefaultHeight"/> PNG.</summary>
    /// <param name="reports">The reports to draw.</param>
    /// <param name="path">The PNG file to create or replace.</param>
    /// <exception cref="ArgumentException">No run has both a candidate count and a recall.</exception>
    public static void SaveCandidateRecallPlot(IReadOnlyList<EvaluationReport> reports, string path) =>
        SaveCandidateRecallPlot(reports, path, DefaultWidth, DefaultHeight);

    /// <summary>Saves the candidate recall chart as a PNG.</summary>
    /// <param name="reports">The reports to draw.</param>
    /// <param name="path">The PNG file to create or replace.</param>
    /// <param name="width">The width in pixels, 100 to 10,000.</param>
    /// <param name="height">The height in pixels, 100 to 10,000.</param>
    /// <exception cref="ArgumentException">No run has both a candidate count and a recall, or an N is not positive.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is outside 100 to 10,000.</exception>
    public static void SaveCandidateRecallPlot(IReadOnlyList<EvaluationReport> reports, string path, int width, int height)
    {
        Validate(reports, path, width, height);
        List<Series> series = Collect(reports, run => run.Candidates is not null, run => run.Candidates!.Value, run => run.CandidateRecallAt10 ?? run.RecallAt10);
        if (series.Count == 0)
        {
            throw new ArgumentException("No run has both a candidate count and a candidate recall (or recall@10); there is nothing to plot.", nameof(reports));
        }

        EnsurePositive(series, "candidates", nameof(reports));
        using var plot = new Plot();
        bool synthetic = series.All(s => s.UsesFallback);
        foreach (Series line in series)
        {
            AddLine(plot, line, x => Math.Log10(x));
        }

        plot.Title("Candidate recall against candidates N");
        plot.XLabel("candidates N (log scale)");
        plot.YLabel(synthetic ? "recall@10 (exact Chamfer top 10)" : "candidate recall@10 (exact Chamfer top 10 among N)");
        plot.Axes.Bottom.TickGenerator = ValueTicks(series.SelectMany(s => s.X));
        plot.Axes.SetLimitsY(0, 1.02);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, width, height);
    }

    /// <summary>Saves the quality-against-throughput chart as a <see cref="DefaultWidth"/> × <see cref="DefaultHeight"/> PNG.</summary>
    /// <param name="reports">The reports to draw.</param>
    /// <param name="path">The PNG file to create or replace.</param>
    /// <exception cref="ArgumentException">No run has a quality value, or a QPS is not positive.</exception>
    public static void SaveQualityVersusQpsPlot(IReadOnlyList<EvaluationReport> reports, string path) =>
        SaveQualityVersusQpsPlot(reports, path, DefaultWidth, DefaultHeight);

    /// <summary>Saves the quality-against-throughput chart as a PNG.</summary>
    /// <param name="reports">The reports to draw.</param>
    /// <param name="path">The PNG file to create or replace.</param>
    /// <param name="width">The width in pixels, 100 to 10,000.</param>
    /// <param name="height">The height in pixels, 100 to 10,000.</param>
    /// <exception cref="ArgumentException">No run has a quality value, or a QPS is not positive.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is outside 100 to 10,000.</exception>
    public static void SaveQualityVersusQpsPlot(IReadOnlyList<EvaluationReport> reports, string path, int width, int height)
    {
        Validate(reports, path, width, height);
        List<Series> series = Collect(reports, run => true, run => run.Qps, run => run.NdcgAt10 ?? run.RecallAt10);
        List<Series> labels = Collect(reports, run => true, run => run.Candidates ?? 0, run => run.NdcgAt10 ?? run.RecallAt10);
        if (series.Count == 0)
        {
            throw new ArgumentException("No run has ndcg@10 or recall@10; there is nothing to plot.", nameof(reports));
        }

        EnsurePositive(series, "qps", nameof(reports));
        using var plot = new Plot();
        for (int i = 0; i < series.Count; i++)
        {
            AddLine(plot, series[i], x => Math.Log10(x));
            for (int p = 0; p < series[i].X.Length; p++)
            {
                if (labels[i].X[p] > 0)
                {
                    var label = plot.Add.Text($"N={labels[i].X[p].ToString(CultureInfo.InvariantCulture)}", Math.Log10(series[i].X[p]), series[i].Y[p]);
                    label.LabelFontSize = 11;
                    label.LabelAlignment = Alignment.LowerLeft;
                    label.OffsetX = 5;
                    label.OffsetY = -5;
                }
            }
        }

        bool anyFallback = series.Any(s => s.UsesFallback);
        bool allFallback = series.All(s => s.UsesFallback);
        string quality = allFallback ? "recall@10" : anyFallback ? "nDCG@10 / recall@10" : "nDCG@10";
        plot.Title($"{quality} against queries per second across N");
        plot.XLabel("queries per second, all cores (log scale)");
        plot.YLabel(quality);
        plot.Axes.Bottom.TickGenerator = DecadeTicks(series.SelectMany(s => s.X));
        plot.Axes.Margins(horizontal: 0.12, vertical: 0.1);
        plot.ShowLegend(Alignment.LowerLeft);
        plot.SavePng(path, width, height);
    }

    /// <summary>Saves the recall-against-throughput chart of synthetic reports as a <see cref="DefaultWidth"/> ×
    /// <see cref="DefaultHeight"/> SVG: x = <c>qps</c> on a log10 axis, y = <c>recall@10</c>, one point per muvera run
    /// (labelled with its N, and its probes when set; the calibrated run drawn as a star), one diamond per exact run.</summary>
    /// <param name="reports">The reports to draw.</param>
    /// <param name="path">The SVG file to create or replace.</param>
    /// <exception cref="ArgumentException">No muvera or exact run has a recall@10, or a QPS is not positive.</exception>
    public static void SaveRecallVersusQpsSvg(IReadOnlyList<EvaluationReport> reports, string path)
    {
        Validate(reports, path, DefaultWidth, DefaultHeight);
        var points = new List<(EvaluationReport Report, RunResult Run)>();
        foreach (EvaluationReport report in reports)
        {
            ArgumentNullException.ThrowIfNull(report, nameof(reports));
            foreach (RunResult run in report.Runs)
            {
                if (run.Mode is RunMode.Muvera or RunMode.Exact && run.RecallAt10 is not null)
                {
                    if (!(run.Qps > 0) || !double.IsFinite(run.Qps))
                    {
                        throw new ArgumentException($"A {ModeName(run.Mode)} run of {report.Index} has qps = {run.Qps}; a log axis needs positive, finite values.", nameof(reports));
                    }

                    points.Add((report, run));
                }
            }
        }

        if (points.Count == 0)
        {
            throw new ArgumentException("No muvera or exact run has recall@10; there is nothing to plot.", nameof(reports));
        }

        using var plot = new Plot();
        foreach (IGrouping<(string Index, RunMode Mode), (EvaluationReport Report, RunResult Run)> group in points.GroupBy(p => (p.Report.Index, p.Run.Mode)))
        {
            (EvaluationReport Report, RunResult Run)[] runs = [.. group.OrderBy(p => p.Run.Qps)];
            var scatter = plot.Add.Scatter(runs.Select(p => Math.Log10(p.Run.Qps)).ToArray(), runs.Select(p => p.Run.RecallAt10!.Value).ToArray());
            scatter.LegendText = $"{ModeName(group.Key.Mode)} ({group.Key.Index})";
            scatter.LineWidth = 0;
            scatter.MarkerSize = group.Key.Mode == RunMode.Exact ? 12 : 8;
            scatter.MarkerShape = group.Key.Mode == RunMode.Exact ? MarkerShape.FilledDiamond : MarkerShape.FilledCircle;
            foreach ((EvaluationReport _, RunResult run) in runs)
            {
                string text = run.Mode == RunMode.Exact ? "exact"
                    : run.Probes is int probes ? $"N={run.Candidates?.ToString(CultureInfo.InvariantCulture)} p={probes.ToString(CultureInfo.InvariantCulture)}"
                    : $"N={run.Candidates?.ToString(CultureInfo.InvariantCulture)}";
                if (run.Calibrated == true)
                {
                    var star = plot.Add.Marker(Math.Log10(run.Qps), run.RecallAt10!.Value, MarkerShape.FilledDiamond, 14);
                    star.Color = Colors.Black;
                    text += " (calibrated)";
                }

                var label = plot.Add.Text(text, Math.Log10(run.Qps), run.RecallAt10!.Value);
                label.LabelFontSize = 11;
                label.LabelAlignment = Alignment.LowerLeft;
                label.OffsetX = 5;
                label.OffsetY = -5;
            }
        }

        plot.Title("recall@10 against queries per second");
        plot.XLabel("queries per second, all cores (log scale)");
        plot.YLabel("recall@10 (exact Chamfer top 10)");
        plot.Axes.Bottom.TickGenerator = DecadeTicks(points.Select(p => p.Run.Qps));
        plot.Axes.Margins(horizontal: 0.12, vertical: 0.1);
        plot.ShowLegend(Alignment.LowerLeft);
        plot.SaveSvg(path, DefaultWidth, DefaultHeight);
    }

    private sealed record Series(string Label, RunMode Mode, double[] X, double[] Y, bool UsesFallback);

    private static List<Series> Collect(IReadOnlyList<EvaluationReport> reports, Func<RunResult, bool> include,
        Func<RunResult, double> x, Func<RunResult, double?> y)
    {
        var series = new List<Series>();
        foreach (EvaluationReport report in reports)
        {
            ArgumentNullException.ThrowIfNull(report, nameof(reports));
            foreach (IGrouping<RunMode, RunResult> group in report.Runs.Where(run => include(run) && y(run) is not null).GroupBy(run => run.Mode))
            {
                RunResult[] runs = [.. group.OrderBy(run => run.Candidates ?? 0)];
                bool fallback = runs.Any(run => run.CandidateRecallAt10 is null && run.NdcgAt10 is null);
                series.Add(new Series(
                    $"{ModeName(group.Key)} ({report.Index})",
                    group.Key,
                    [.. runs.Select(x)],
                    [.. runs.Select(run => y(run)!.Value)],
                    fallback));
            }
        }

        return series;
    }

    private static void AddLine(Plot plot, Series series, Func<double, double> transform)
    {
        double[] xs = [.. series.X.Select(transform)];
        var scatter = plot.Add.Scatter(xs, series.Y);
        scatter.LegendText = series.Label;
        scatter.MarkerSize = 8;
        scatter.LineWidth = xs.Length > 1 ? 2 : 0;
        scatter.MarkerShape = series.Mode switch
        {
            RunMode.Exact => MarkerShape.FilledDiamond,
            RunMode.Fde => MarkerShape.FilledSquare,
            RunMode.Pooled => MarkerShape.FilledTriangleUp,
            _ => MarkerShape.FilledCircle,
        };
    }

    /// <summary>Log-axis ticks labelled at exactly the given values (the candidate counts N), which are few.</summary>
    private static NumericManual ValueTicks(IEnumerable<double> values)
    {
        var ticks = new NumericManual();
        foreach (double value in values.Distinct().Order())
        {
            ticks.AddMajor(Math.Log10(value), FormatTick(value));
        }

        return ticks;
    }

    /// <summary>Log-axis ticks at 1, 2 and 5 × 10^e over the data range, minor ticks at the other integers × 10^e.</summary>
    private static NumericManual DecadeTicks(IEnumerable<double> values)
    {
        double[] data = [.. values];
        double low = data.Min() / 2;
        double high = data.Max() * 2;
        var ticks = new NumericManual();
        for (int exponent = (int)Math.Floor(Math.Log10(low)); exponent <= (int)Math.Ceiling(Math.Log10(high)); exponent++)
        {
            double decade = Math.Pow(10, exponent);
            for (int mantissa = 1; mantissa <= 9; mantissa++)
            {
                double value = mantissa * decade;
                if (value < low || value > high)
                {
                    continue;
                }

                if (mantissa is 1 or 2 or 5)
                {
                    ticks.AddMajor(Math.Log10(value), FormatTick(value));
                }
                else
                {
                    ticks.AddMinor(Math.Log10(value));
                }
            }
        }

        return ticks;
    }

    private static string FormatTick(double value) =>
        value.ToString(value >= 1 ? "#,0" : "0.###", CultureInfo.InvariantCulture);

    private static string ModeName(RunMode mode) => mode switch
    {
        RunMode.Exact => "exact",
        RunMode.Muvera => "muvera",
        RunMode.Fde => "fde",
        RunMode.Pooled => "pooled",
        _ => mode.ToString(),
    };

    private static void EnsurePositive(List<Series> series, string what, string paramName)
    {
        foreach (Series line in series)
        {
            foreach (double value in line.X)
            {
                if (!(value > 0) || !double.IsFinite(value))
                {
                    throw new ArgumentException($"The {line.Label} run has {what} = {value}; a log axis needs positive, finite values.", paramName);
                }
            }
        }
    }

    private static void Validate(IReadOnlyList<EvaluationReport> reports, string path, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(reports);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, 10_000);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, 10_000);
    }
}
