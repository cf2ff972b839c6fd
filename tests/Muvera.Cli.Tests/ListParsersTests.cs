// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Muvera.Beir;

namespace Muvera.Cli.Tests;

[TestFixture]
public sealed class ListParsersTests
{
    [Test]
    public void ParseCandidates_Unordered_ReturnsDistinctAscending()
    {
        Assert.That(ListParsers.ParseCandidates("100,10, 50,10"), Is.EqualTo(new[] { 10, 50, 100 }));
    }

    [TestCase("10,,20", "\"\"")]
    [TestCase("10,0", "\"0\"")]
    [TestCase("ten", "\"ten\"")]
    public void ParseCandidates_Invalid_ThrowsNamingTheValue(string text, string detail)
    {
        var exception = Assert.Throws<CliException>(() => ListParsers.ParseCandidates(text));
        Assert.That(exception!.Message, Does.Contain(text).And.Contain(detail));
    }

    [Test]
    public void ParseModes_AnyOrderAndCase_ReturnsRunOrder()
    {
        Assert.That(ListParsers.ParseModes("Pooled,exact,fde"), Is.EqualTo(new[] { RunMode.Exact, RunMode.Fde, RunMode.Pooled }));
    }

    [Test]
    public void ParseModes_Unknown_ThrowsNamingTheMode()
    {
        var exception = Assert.Throws<CliException>(() => ListParsers.ParseModes("exact,bm25"));
        Assert.That(exception!.Message, Does.Contain("\"bm25\"").And.Contain("exact, muvera, fde or pooled"));
    }
}
