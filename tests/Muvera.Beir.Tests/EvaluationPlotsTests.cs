// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using Muvera.Beir.Tests.Fixtures;

namespace Muvera.Beir.Tests;

public sealed class EvaluationPlotsTests
{
    private static readonly byte[] s_pngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Asserts a PNG signature, an IHDR chunk of the given size, and a file big enough to hold drawn content.</summary>
    private static void AssertPng(string path, int width, int height)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Multiple(() =>
        {
            Assert.That(bytes.AsSpan(0, 8).ToArray(), Is.EqualTo(s_pngSignature));
            Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 12, 4), Is.EqualTo("IHDR"));
            Assert.That(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), Is.EqualTo(width));
            Assert.That(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)), Is.EqualTo(height));
            Assert.That(bytes.Length, Is.GreaterThan(10_000), "a chart with axes, lines and a legend");
        });
    }

    [Test]
    public void SaveCandidateRecallPlot_TwoIndexes_WritesPng()
    {
        using var directory = new TempDirectory();
        string path = directory.Combine("candidate-recall.png");

        EvaluationPlots.SaveCandidateRecallPlot([EvaluationReportTests.BeirReport("flat"), EvaluationReportTests.BeirReport("hnsw:m=32")], path);

        AssertPng(path, EvaluationPlots.DefaultWidth, EvaluationPlots.DefaultHeight);
    }

    [Test]
    public void SaveQualityVersusQpsPlot_BeirReport_WritesPngOfRequestedSize()
    {
        using var directory = new TempDirectory();
        string path = directory.Combine("ndcg-qps.png");

        EvaluationPlots.SaveQualityVersusQpsPlot([EvaluationReportTests.BeirReport()], path, 640, 480);

        AssertPng(path, 640, 480);
    }

    [Test]
    public void SavePlots_SyntheticReport_UseRecallAt10()
    {
        using var directory = new TempDirectory();

        EvaluationPlots.SaveCandidateRecallPlot([EvaluationReportTests.SyntheticReport()], directory.Combine("a.png"));
        EvaluationPlots.SaveQualityVersusQpsPlot([EvaluationReportTests.SyntheticReport()], directory.Combine("b.png"));

        AssertPng(directory.Combine("a.png"), EvaluationPlots.DefaultWidth, EvaluationPlots.DefaultHeight);
        AssertPng(directory.Combine("b.png"), EvaluationPlots.DefaultWidth, EvaluationPlots.DefaultHeight);
    }

    [Test]
    public void SaveCandidateRecallPlot_NoCandidateRuns_Throws()
    {
        using var directory = new TempDirectory();
        EvaluationReport report = EvaluationReportTests.BeirReport();
        var exactOnly = new EvaluationReport
        {
            Dataset = report.Dataset, Split = report.Split, Documents = 1, Queries = 1, Model = null, Fde = null, Index = "flat",
            Runs = [report.Runs[0]], BuildSeconds = 0, MemoryBytes = 0,
        };

        Assert.Throws<ArgumentException>(() => EvaluationPlots.SaveCandidateRecallPlot([exactOnly], directory.Combine("x.png")));
    }

    [Test]
    public void SavePlot_TinySize_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EvaluationPlots.SaveQualityVersusQpsPlot([EvaluationReportTests.BeirReport()], "unused.png", 10, 480));
    }
}
