// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;

namespace Muvera.Beir.Tests;

public sealed class QrelsTests
{
    [Test]
    public void Set_SamePairTwice_LastGradeWinsAndCountsOnce()
    {
        var qrels = new Qrels();
        qrels.Set("q", "d", 1);
        qrels.Set("q", "d", 2);
        qrels.Set("q", "e", 0);

        Assert.Multiple(() =>
        {
            Assert.That(qrels.JudgmentCount, Is.EqualTo(2));
            Assert.That(qrels.GetGrade("q", "d"), Is.EqualTo(2));
            Assert.That(qrels.GetGrade("q", "unjudged"), Is.Zero);
            Assert.That(qrels.GetGrade("other", "d"), Is.Zero);
            Assert.That(qrels.CountRelevant("q"), Is.EqualTo(1));
            Assert.That(qrels.GetJudgments("other"), Is.Empty);
        });
    }

    [Test]
    public void Read_HeaderSkippedWhitespaceTolerated_PreservesQueryOrder()
    {
        const string Text = "query-id\tcorpus-id\tscore\nb\tx\t 1\r\na\ty\t2\nb\tz\t0\n\n";

        Qrels qrels = Qrels.Read(new StringReader(Text), "qrels.tsv");

        Assert.Multiple(() =>
        {
            Assert.That(qrels.QueryIds, Is.EqualTo(new[] { "b", "a" }));
            Assert.That(qrels.GetGrade("b", "x"), Is.EqualTo(1));
            Assert.That(qrels.JudgmentCount, Is.EqualTo(3));
        });
    }

    [Test]
    public void WriteTrec_WritesTrecEvalQrelsFormat()
    {
        var qrels = new Qrels();
        qrels.Set("q1", "d1", 2);
        qrels.Set("q1", "d2", 0);
        qrels.Set("q0", "d3", 1);
        var writer = new StringWriter();

        qrels.WriteTrec(writer);

        Assert.That(writer.ToString(), Is.EqualTo("q1 0 d1 2\nq1 0 d2 0\nq0 0 d3 1\n"));
    }

    [Test]
    public void Set_EmptyId_Throws()
    {
        Assert.Throws<ArgumentException>(() => new Qrels().Set("", "d", 1));
    }
}
