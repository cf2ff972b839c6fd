// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.VectorData;
using Muvera.VectorData.Tests.Fixtures;

namespace Muvera.VectorData.Tests;

[TestFixture]
public sealed class MuveraVectorStoreTests
{
    private string _directory = "";

    [SetUp]
    public void SetUp() => _directory = TestData.NewDirectory();

    [TearDown]
    public void TearDown() => TestData.DeleteDirectory(_directory);

    [Test]
    public async Task ListCollectionNamesAsync_CreatedCollections_AreListedSortedUntilDeleted()
    {
        using var store = new MuveraVectorStore(_directory);
        using VectorStoreCollection<string, Product> beta = store.GetCollection<string, Product>("beta");
        using VectorStoreCollection<string, Product> alpha = store.GetCollection<string, Product>("alpha");
        using VectorStoreCollection<string, Product> never = store.GetCollection<string, Product>("never-created");
        await beta.EnsureCollectionExistsAsync();
        await alpha.EnsureCollectionExistsAsync();

        Assert.That(await TestData.ToListAsync(store.ListCollectionNamesAsync()), Is.EqualTo(new[] { "alpha", "beta" }));
        Assert.That(await store.CollectionExistsAsync("alpha"), Is.True);
        Assert.That(await store.CollectionExistsAsync("never-created"), Is.False);

        await alpha.UpsertAsync(TestData.Products(2, seed: 1));
        await store.EnsureCollectionDeletedAsync("alpha");

        Assert.That(await TestData.ToListAsync(store.ListCollectionNamesAsync()), Is.EqualTo(new[] { "beta" }));
        Assert.That(await alpha.CollectionExistsAsync(), Is.False, "an open collection object sees the deletion");
        Assert.ThrowsAsync<VectorStoreException>(() => alpha.GetAsync("p0000"));
    }

    [Test]
    public void ListCollectionNamesAsync_MissingFolder_IsEmpty()
    {
        using var store = new MuveraVectorStore(System.IO.Path.Combine(_directory, "not-there"));

        Assert.That(TestData.ToListAsync(store.ListCollectionNamesAsync()).Result, Is.Empty);
    }

    [Test]
    public void GetDynamicCollection_Always_ThrowsNotSupported()
    {
        using var store = new MuveraVectorStore(_directory);

        Assert.Throws<NotSupportedException>(() => store.GetDynamicCollection("dynamic", new VectorStoreCollectionDefinition()));
    }

    [Test]
    public async Task GetCollection_Definition_ReplacesAttributes()
    {
        var definition = new VectorStoreCollectionDefinition
        {
            Properties =
            [
                new VectorStoreKeyProperty(nameof(Plain.Name), typeof(string)),
                new VectorStoreDataProperty(nameof(Plain.Count), typeof(int)),
                new VectorStoreVectorProperty(nameof(Plain.Tokens), typeof(MultiVectorEmbedding), 4),
            ],
        };
        using var store = new MuveraVectorStore(_directory);
        using VectorStoreCollection<string, Plain> collection = store.GetCollection<string, Plain>("plain", definition);
        await collection.EnsureCollectionExistsAsync();

        await collection.UpsertAsync(new Plain { Name = "one", Count = 7, Tokens = TestData.RandomEmbedding(new Random(2), 4) });

        Assert.That((await collection.GetAsync("one"))!.Count, Is.EqualTo(7));
        List<Plain> found = await TestData.ToListAsync(collection.GetAsync(p => p.Count > 5, 3));
        Assert.That(found, Has.Count.EqualTo(1));
    }

    [Test]
    public void GetCollection_InvalidSchema_ThrowsNamingTheDefinitionOrTheRecordType()
    {
        var keyless = new VectorStoreCollectionDefinition
        {
            Properties = [new VectorStoreVectorProperty(nameof(Plain.Tokens), typeof(MultiVectorEmbedding), 4)],
        };
        using var store = new MuveraVectorStore(_directory);

        // Plain has no attributes: without a definition it has no key property either.
        ArgumentException? fromDefinition = Assert.Throws<ArgumentException>(() => store.GetCollection<string, Plain>("plain", keyless));
        ArgumentException? fromAttributes = Assert.Throws<ArgumentException>(() => store.GetCollection<string, Plain>("plain"));

        Assert.That(fromDefinition!.ParamName, Is.EqualTo("definition"));
        Assert.That(fromDefinition.Message, Does.Contain("'plain'").And.Contain("Plain has no key property"));
        Assert.That(fromAttributes!.ParamName, Is.EqualTo("TRecord"));
        Assert.That(fromAttributes.Message, Does.Contain("'plain'").And.Contain("Plain has no key property"));
    }

    [Test]
    public void GetService_Metadata_NamesSystemAndFolder()
    {
        using var store = new MuveraVectorStore(_directory);

        var metadata = (VectorStoreMetadata?)store.GetService(typeof(VectorStoreMetadata));

        Assert.That(metadata!.VectorStoreSystemName, Is.EqualTo("muvera"));
        Assert.That(metadata.VectorStoreName, Is.EqualTo(store.Directory));
    }

    /// <summary>A record class without attributes, described by a definition.</summary>
    public sealed class Plain
    {
        public string Name { get; set; } = "";

        public int Count { get; set; }

        public MultiVectorEmbedding? Tokens { get; set; }
    }
}
