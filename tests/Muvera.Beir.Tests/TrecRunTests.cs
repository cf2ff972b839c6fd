// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using Muvera.Beir.Tests.Fixtures;

namespace Muvera.Beir.Tests;

public sealed class TrecRunTests
{
    [Test]
    public void Write_RanksByScoreThenDocumentIdDescending()
    {
        var run = new TrecRun("muvera");
        run.Add("q1", [new("a", 0.5), new("c", 0.25), new("b", 0.5)]);
        run.Add("q0", [new("z", 1)]);

        var writer = new StringWriter();
        run.Write(writer);

        Assert.That(writer.ToString(), Is.EqualTo(
            "q1 Q0 b 1 0.5 muvera\n" +
            "q1 Q0 a 2 0.5 muvera\n" +
            "q1 Q0 c 3 0.25 muvera\n" +
            "q0 Q0 z 1 1 muvera\n"));
    }

    [Test]
    public void SaveAndLoad_RoundTripsScoresExactly()
    {
        using var directory = new TempDirectory();
        double[] scores = [0.1f, 1e-300, -3.5, 0.30000000000000004, 123456789.125, double.Epsilon];
        var run = new TrecRun("tag-1");
        run.Add("q", scores.Select((s, i) => new RetrievedDocument("d" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), s)));
        run.Add("empty", []);
        string path = directory.Combine("run.trec");

        run.Save(path);
        TrecRun loaded = TrecRun.Load(path);

        Assert.Multiple(() =>
        {
            Assert.That(loaded.Tag, Is.EqualTo("tag-1"));
            Assert.That(loaded.QueryIds, Is.EqualTo(new[] { "q" }), "a query without hits writes no line");
            Assert.That(loaded.GetDocuments("q"), Is.EqualTo(run.GetDocuments("q")));
        });
    }

    [Test]
    public void Read_LinesOfAQueryInterleaved_GroupsThemAndReRanks()
    {
        const string Text = "q1 Q0 a 1 0.1 t\nq2 Q0 x 1 5 t\n\nq1 Q0 b 9 0.9 t\n";

        TrecRun run = TrecRun.Read(new StringReader(Text), "run.trec");

        Assert.Multiple(() =>
        {
            Assert.That(run.QueryIds, Is.EqualTo(new[] { "q1", "q2" }));
            Assert.That(run.GetDocuments("q1").Select(d => d.DocumentId), Is.EqualTo(new[] { "b", "a" }), "the rank column is ignored, as trec_eval ignores it");
        });
    }

    [TestCase("q1 Q0 a 1 0.5\n", "line 1", "6 fields")]
    [TestCase("q1 Q0 a 1 0.5 t\nq1 Q0 b 2 high t\n", "line 2", "not a number")]
    [TestCase("q1 Q0 a 1 0.5 t\nq1 Q0 b 2 0.4 t\nq1 Q0 a 3 0.3 t\n", "line 3", "twice")]
    [TestCase("q1 Q0 a 1 NaN t\n", "line 1", "not a number")]
    public void Read_MalformedLine_ThrowsNamingSourceAndLine(string text, string line, string cause)
    {
        var exception = Assert.Throws<InvalidDataException>(() => TrecRun.Read(new StringReader(text), "my.run"));

        Assert.That(exception!.Message, Does.Contain("my.run " + line).And.Contain(cause));
    }

    [Test]
    public void Add_ScoredIds_MapsOrdinalsToDocumentIds()
    {
        var run = new TrecRun("t");
        string[] ids = ["MED-1", "MED-2", "MED-3"];

        run.Add("q", [new ScoredId(2, 0.75f), new ScoredId(0, 0.5f)], ids);

        Assert.That(run.GetDocuments("q"), Is.EqualTo(new[] { new RetrievedDocument("MED-3", 0.75), new RetrievedDocument("MED-1", 0.5) }));
    }

    [Test]
    public void Add_OrdinalOutOfRange_Throws()
    {
        var run = new TrecRun("t");

        Assert.Throws<ArgumentOutOfRangeException>(() => run.Add("q", [new ScoredId(3, 1f)], ["a", "b", "c"]));
    }

    [Test]
    public void Add_DuplicateDocumentOrQuery_Throws()
    {
        var run = new TrecRun("t");
        run.Add("q", [new("a", 1)]);

        Assert.Multiple(() =>
        {
            Assert.That(() => run.Add("q", [new("b", 1)]), Throws.ArgumentException.With.Message.Contains("already"));
            Assert.That(() => run.Add("r", [new("b", 1), new("b", 2)]), Throws.ArgumentException.With.Message.Contains("twice"));
            Assert.That(() => run.Add("s", [new("b", double.NaN)]), Throws.ArgumentException.With.Message.Contains("NaN"));
        });
    }

    [Test]
    public void Constructor_TagWithWhiteSpace_Throws()
    {
        var exception = Assert.Throws<ArgumentException>(() => _ = new TrecRun("my run"));

        Assert.That(exception!.ParamName, Is.EqualTo("tag"));
    }

    [Test]
    public void Write_DocumentIdWithWhiteSpace_Throws()
    {
        var run = new TrecRun("t");
        run.Add("q", [new("doc 1", 1)]);

        Assert.Throws<InvalidOperationException>(() => run.Write(new StringWriter()));
    }

    [Test]
    public void RemoveIdenticalIds_DropsHitsEqualToTheirQuery()
    {
        var run = new TrecRun("t");
        run.Add("a", [new("a", 1), new("b", 0.5)]);
        run.Add("c", [new("d", 1)]);

        int removed = run.RemoveIdenticalIds();

        Assert.Multiple(() =>
        {
            Assert.That(removed, Is.EqualTo(1));
            Assert.That(run.GetDocuments("a").Select(d => d.DocumentId), Is.EqualTo(new[] { "b" }));
            Assert.That(run.GetDocuments("c"), Has.Count.EqualTo(1));
        });
    }

    [Test]
    public void GetDocuments_UnknownQuery_Empty()
    {
        Assert.That(new TrecRun("t").GetDocuments("nope"), Is.Empty);
    }
}
