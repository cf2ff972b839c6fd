// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera.Cli.Tests;

[TestFixture]
public sealed class FdeSpecTests
{
    [Test]
    public void Parse_ThreeValues_SetsRkDproj()
    {
        FdeSpec spec = FdeSpec.Parse("20,5,16");
        Assert.That(spec, Is.EqualTo(new FdeSpec(20, 5, 16, null)));
        Assert.That(spec.ToString(), Is.EqualTo("20,5,16"));
    }

    [Test]
    public void Parse_FourValues_SetsFinalDimension()
    {
        FdeSpec spec = FdeSpec.Parse(" 10 , 4 , 8 , 2048 ");
        Assert.That(spec, Is.EqualTo(new FdeSpec(10, 4, 8, 2048)));
    }

    [TestCase("20,5", "2 value(s)")]
    [TestCase("20,5,16,2048,7", "5 value(s)")]
    [TestCase("20,x,16", "\"x\"")]
    [TestCase("0,5,16", "R (repetitions)")]
    [TestCase("20,5,-16", "\"-16\"")]
    [TestCase("20,31,16", "maximum")]
    public void Parse_Invalid_ThrowsNamingTheValue(string text, string detail)
    {
        var exception = Assert.Throws<CliException>(() => FdeSpec.Parse(text));
        Assert.That(exception!.Message, Does.Contain($"--fde \"{text}\"").And.Contain(detail));
    }

    [Test]
    public void ToOptions_Recommended_EqualsCreateRecommended()
    {
        Assert.That(FdeSpec.Recommended.ToOptions(128), Is.EqualTo(FdeOptions.CreateRecommended(128)));
    }

    [Test]
    public void ToOptions_SimHash_EqualsCreateSimHash()
    {
        Assert.That(FdeSpec.SimHash.ToOptions(128), Is.EqualTo(FdeOptions.CreateSimHash(128)));
        Assert.That(FdeSpec.DefaultFor(FdePartitioning.SimHash), Is.EqualTo(FdeSpec.SimHash));
        Assert.That(FdeSpec.DefaultFor(FdePartitioning.KMeans), Is.EqualTo(FdeSpec.Recommended));
    }

    [Test]
    public void ToOptions_PartitioningOfAParsedShape_KeepsTheShape([Values] FdePartitioning partitioning)
    {
        FdeOptions options = (FdeSpec.Parse("10,4,8") with { Partitioning = partitioning }).ToOptions(64);
        FdeOptions defaults = partitioning == FdePartitioning.SimHash ? FdeOptions.CreateSimHash(64) : FdeOptions.CreateRecommended(64);
        Assert.That(options, Is.EqualTo(defaults with { Repetitions = 10, SimHashProjections = 4, ProjectionDimension = 8 }));
        Assert.That((FdeSpec.Parse("10,4,8") with { Partitioning = partitioning }).Describe(), Is.EqualTo("10,4,8 " + FdeSpec.Name(partitioning)));
    }

    [TestCase("kmeans", FdePartitioning.KMeans)]
    [TestCase(" KMeans ", FdePartitioning.KMeans)]
    [TestCase("k-means", FdePartitioning.KMeans)]
    [TestCase("simhash", FdePartitioning.SimHash)]
    [TestCase("SimHash", FdePartitioning.SimHash)]
    public void ParsePartitioning_KnownNames_Parse(string text, FdePartitioning expected) =>
        Assert.That(FdeSpec.ParsePartitioning(text), Is.EqualTo(expected));

    [Test]
    public void ParsePartitioning_Unknown_ThrowsNamingTheChoices()
    {
        var exception = Assert.Throws<CliException>(() => FdeSpec.ParsePartitioning("lsh"));
        Assert.That(exception!.Message, Does.Contain("--partitions \"lsh\"").And.Contain("kmeans").And.Contain("simhash"));
    }

    [Test]
    public void ToOptions_FinalDimension_SetsOutputDimension()
    {
        FdeOptions options = FdeSpec.Parse("20,5,16,2048").ToOptions(128);
        Assert.That(options.OutputDimension, Is.EqualTo(2048));
    }
}
