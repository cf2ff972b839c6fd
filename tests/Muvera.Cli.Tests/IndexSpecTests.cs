// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Linq;
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

    [Test]
    public void Parse_Ivf_HasTheBackendDefaults()
    {
        IndexSpec spec = IndexSpec.Parse("ivf");
        Assert.That(spec.Kind, Is.EqualTo(IndexKind.Ivf));
        Assert.That(spec.Slug, Is.EqualTo("ivf"));
        var backend = spec.CreateBackend(FdeStorage.Int8) as IvfMipsBackend;
        Assert.That(backend, Is.Not.Null);
        Assert.That(backend!.Kind, Is.EqualTo("ivf"));
        Assert.That(backend.Probes, Is.EqualTo(IvfMipsBackend.DefaultProbes));
    }

    [Test]
    public void Parse_IvfWithParameters_SetsListsAndProbes()
    {
        IndexSpec spec = IndexSpec.Parse("ivf:lists=64,probes=8");
        Assert.Multiple(() =>
        {
            Assert.That(spec.Kind, Is.EqualTo(IndexKind.Ivf));
            Assert.That(spec.IvfLists, Is.EqualTo(64));
            Assert.That(spec.IvfProbes, Is.EqualTo(8));
            Assert.That(spec.Slug, Is.EqualTo("ivf_lists_64_probes_8"));
            Assert.That(((IvfMipsBackend)spec.CreateBackend(FdeStorage.Default)).Probes, Is.EqualTo(8));
        });
    }

    [Test]
    public void ParseList_IvfWithParameters_SplitsOnKinds()
    {
        IndexSpec[] specs = IndexSpec.ParseList("ivf:lists=64,probes=8,flat,ivf");
        Assert.That(specs.Select(spec => spec.Text), Is.EqualTo(new[] { "ivf:lists=64,probes=8", "flat", "ivf" }));
    }

    [TestCase("ivf:lists=x", "key=integer")]
    [TestCase("ivf:lists", "key=integer")]
    [TestCase("ivf:nprobe=3", "unknown IVF parameter")]
    [TestCase("ivf:lists=0", "lists=0")]
    [TestCase("ivf:probes=0", "probes=0")]
    [TestCase("ivf:lists=4,probes=8", "probes=8 exceeds lists=4")]
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
