// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Muvera.Indexing;
using Muvera.USearch;

namespace Muvera.Cli.Tests;

[TestFixture]
public sealed class IndexSpecTests
{
    [Test]
    public void Parse_Flat_IsFlatBackend()
    {
        IndexSpec spec = IndexSpec.Parse("flat");
        Assert.That(spec.Kind, Is.EqualTo(IndexKind.Flat));
        Assert.That(spec.CreateBackend(FdeStorage.Int8), Is.InstanceOf<FlatMipsBackend>().With.Property(nameof(FlatMipsBackend.Storage)).EqualTo(FdeStorage.Int8));
    }

    [Test]
    public void Parse_HnswWithParameters_SetsUSearchOptions()
    {
        IndexSpec spec = IndexSpec.Parse("hnsw:m=32,ef=128,efc=200");
        Assert.That(spec.Kind, Is.EqualTo(IndexKind.Hnsw));
        Assert.That(spec.USearch, Is.EqualTo(new USearchOptions { Connectivity = 32, ExpansionSearch = 128, ExpansionAdd = 200 }));
    }

    [Test]
    public void Parse_Faiss_KeepsFactory()
    {
        IndexSpec spec = IndexSpec.Parse("faiss:IVF256,PQ32");
        Assert.That(spec.Kind, Is.EqualTo(IndexKind.Faiss));
        Assert.That(spec.FaissFactory, Is.EqualTo("IVF256,PQ32"));
        Assert.That(spec.Slug, Is.EqualTo("faiss_IVF256_PQ32"));
    }

    [Test]
    public void ParseList_CommasInsideSpecs_SplitsOnKinds()
    {
        IndexSpec[] specs = IndexSpec.ParseList("flat,hnsw:m=32,ef=128,faiss:IVF256,PQ32");
        Assert.That(specs, Has.Length.EqualTo(3));
        Assert.That(specs[0].Text, Is.EqualTo("flat"));
        Assert.That(specs[1].USearch!.Connectivity, Is.EqualTo(32));
        Assert.That(specs[1].USearch!.ExpansionSearch, Is.EqualTo(128));
        Assert.That(specs[2].FaissFactory, Is.EqualTo("IVF256,PQ32"));
    }

    [TestCase("annoy", "unknown index kind")]
    [TestCase("faiss:", "factory string is empty")]
    [TestCase("hnsw:m=x", "key=integer")]
    [TestCase("hnsw:q=3", "unknown HNSW parameter")]
    [TestCase("hnsw:m=1", "m=1")]
    public void Parse_Invalid_ThrowsNamingTheValue(string text, string detail)
    {
        var exception = Assert.Throws<CliException>(() => IndexSpec.Parse(text));
        Assert.That(exception!.Message, Does.Contain(text).And.Contain(detail));
    }

    [Test]
    public void ParseList_Duplicate_Throws()
    {
        Assert.Throws<CliException>(() => IndexSpec.ParseList("flat,flat"));
    }
}
