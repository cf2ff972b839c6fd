// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Muvera.Beir;
using Muvera.Indexing;

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

    [TestCase("f32", "f32")]
    [TestCase("float16", "f16")]
    [TestCase(" INT8 ", "int8")]
    [TestCase("pq", "pq:4,4")]
    [TestCase("pq:8", "pq:8,4")]
    [TestCase("pq:8,8", "pq:8,8")]
    [TestCase("pq:4, 2", "pq:4,2")]
    public void ParseFdeStorage_Valid_ReturnsTheStorage(string text, string expected)
    {
        FdeStorage storage = ListParsers.ParseFdeStorage(text);
        Assert.That(storage.ToString(), Is.EqualTo(expected));
        Assert.That(storage.HasRefinement, Is.False);
        Assert.That(storage, Is.EqualTo(expected switch
        {
            "f32" => FdeStorage.Float32,
            "f16" => FdeStorage.Float16,
            "int8" => FdeStorage.Int8,
            _ => FdeStorage.ProductQuantization(int.Parse(expected[3..4]), int.Parse(expected[5..])),
        }));
    }

    [Test]
    public void ParseFdeStorage_Refinement_ReturnsTheTwoStages()
    {
        Assert.That(ListParsers.ParseFdeStorage("pq:4,4+4,4"), Is.EqualTo(FdeStorage.ProductQuantization(4, 4).WithRefinement(4, 4, 2)));
        Assert.That(ListParsers.ParseFdeStorage("pq:4,4+8,8x3"), Is.EqualTo(FdeStorage.ProductQuantization(4, 4).WithRefinement(8, 8, 3)));
        Assert.That(ListParsers.ParseFdeStorage(FdeStorage.Default.ToString()), Is.EqualTo(FdeStorage.Default), "the default's name reads back as the default");
        Assert.That(ListParsers.ParseFdeStorage("pq:4,16+4,4x4").ToString(), Is.EqualTo("pq:4,16+4,4x4"));
    }

    [TestCase("pq:4,4+4", "pq[:<bits>")]
    [TestCase("pq:4,4+4,4x0", "candidatesPerResult")]
    [TestCase("pq:4,4+4,4+4,4", "pq[:<bits>")]
    [TestCase("pq:4,4+4,4xa", "not a number")]
    [TestCase("pq:5", "4-bit or 8-bit")]
    [TestCase("pq:4,0", "subspaceDimension")]
    [TestCase("pq:4,4,4", "pq[:<bits>")]
    [TestCase("pq:x", "pq[:<bits>")]
    [TestCase("bf16", "f32, f16, int8 or pq")]
    public void ParseFdeStorage_Invalid_ThrowsNamingTheValue(string text, string detail)
    {
        var exception = Assert.Throws<CliException>(() => ListParsers.ParseFdeStorage(text));
        Assert.That(exception!.Message, Does.Contain($"\"{text}\"").And.Contain(detail));
    }
}
