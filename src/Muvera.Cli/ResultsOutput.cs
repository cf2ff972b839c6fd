// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using Muvera.Beir;
using Spectre.Console;

namespace Muvera.Cli;

/// <summary>The summary table and the output files shared by both commands.</summary>
internal static class ResultsOutput
{
    public static void PrintTable(CliConsole console, IReadOnlyList<EvaluationReport> reports, bool synthetic)
    {
        var table = new Table().Border(TableBorder.Rounded);
        if (reports.Count > 1)
        {
            table.AddColumn("index");
        }

        table.AddColumn("mode");
        table.AddColumn(new TableColumn("N").RightAligned());
        bool probes = false;
        foreach (EvaluationReport report in reports)
        {
            foreach (RunResult run in report.Runs)
            {
                probes |= run.Probes is not null;
            }
        }

        if (probes)
        {
            table.AddColumn(new TableColumn("probes").RightAligned());
        }
        string[] quality = synthetic
            ? ["recall@10", "cand. recall@10"]
            : ["nDCG@10", "recall@100", "MRR@10", "MAP@100", "cand. recall@10"];
        foreach (string name in quality)
        {
            table.AddColumn(new TableColumn(name).RightAligned());
        }

        foreach (string name in new[] { "QPS 1 thread", "QPS", "p50 ms", "p99 ms" })
        {
            table.AddColumn(new TableColumn(name).RightAligned());
        }

        foreach (EvaluationReport report in reports)
        {
            foreach (RunResult run in report.Runs)
            {
                var cells = new List<string>();
                if (reports.Count > 1)
                {
                    cells.Add(report.Index);
                }

                cells.Add(run.Calibrated == true ? ListParsers.Name(run.Mode) + " (calibrated)" : ListParsers.Name(run.Mode));
                cells.Add(run.Candidates?.ToString(CultureInfo.InvariantCulture) ?? "");
                if (probes)
                {
                    cells.Add(run.Probes?.ToString(CultureInfo.InvariantCulture) ?? "");
                }

                if (synthetic)
                {
                    cells.Add(Format(run.RecallAt10));
                }
                else
                {
                    cells.Add(Format(run.NdcgAt10));
                    cells.Add(Format(run.RecallAt100));
                    cells.Add(Format(run.MrrAt10));
                    cells.Add(Format(run.MapAt100));
                }

                cells.Add(Format(run.CandidateRecallAt10));
                cells.Add(run.QpsOneThread.ToString("F1", CultureInfo.InvariantCulture));
                cells.Add(run.Qps.ToString("F1", CultureInfo.InvariantCulture));
                cells.Add(run.LatencyP50Ms.ToString("F2", CultureInfo.InvariantCulture));
                cells.Add(run.LatencyP99Ms.ToString("F2", CultureInfo.InvariantCulture));
                table.AddRow([.. cells.ConvertAll(c => (Spectre.Console.Rendering.IRenderable)new Text(c))]);
            }
        }

        console.Write(table);
    }

    /// <summary>results.json for one report, results-&lt;index&gt;.json each for several; then the two plots. A plot that
    /// cannot be drawn (no system font, for example) is a warning, not a failure.</summary>
    public static void Save(CliConsole console, string directory, IReadOnlyList<EvaluationReport> reports, IReadOnlyList<string> slugs)
    {
        Directory.CreateDirectory(directory);
        for (int i = 0; i < reports.Count; i++)
        {
            string path = Path.Combine(directory, reports.Count == 1 ? "results.json" : $"results-{slugs[i]}.json");
            reports[i].Save(path);
            console.Line($"wrote {path}");
        }

        SavePlot(console, Path.Combine(directory, "candidate-recall.png"), path => EvaluationPlots.SaveCandidateRecallPlot(reports, path));
        SavePlot(console, Path.Combine(directory, "quality-vs-qps.png"), path => EvaluationPlots.SaveQualityVersusQpsPlot(reports, path));
    }

    /// <summary>The synthetic benchmark's recall@10 against QPS chart (SVG); a failure is a warning.</summary>
    public static void SaveRecallVersusQps(CliConsole console, string path, IReadOnlyList<EvaluationReport> reports) =>
        SavePlot(console, path, file => EvaluationPlots.SaveRecallVersusQpsSvg(reports, file));

    private static void SavePlot(CliConsole console, string path, Action<string> save)
    {
        try
        {
            save(path);
            console.Line($"wrote {path}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            console.Line($"warning: could not draw {path}: {e.Message}");
        }
    }

    private static string Format(double? value) => value is double v ? v.ToString("F4", CultureInfo.InvariantCulture) : "";
}
