// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Linq.Expressions;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.VectorData;
using Muvera.Indexing;
using Muvera.USearch;
using Muvera.VectorData.Tests.Fixtures;

namespace Muvera.VectorData.Tests;

/// <summary>The connector's behaviour as Microsoft.Extensions.VectorData documents it.</summary>
[TestFixture]
public sealed class MuveraCollectionTests
{
    private string _directory = "";

    [SetUp]
    public void SetUp() => _directory = TestData.NewDirectory();

    [TearDown]
    public void TearDown() => TestData.DeleteDirectory(_directory);

    [Test]
    public async Task GetAsync_AfterUpsert_ReturnsEveryDataPropertyAsWritten()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        List<Product> products = TestData.Products(20, seed: 1);
        await collection.UpsertAsync(products);

        foreach (Product expected in products)
        {
            Product? actual = await collection.GetAsync(expected.Id);
            Assert.That(actual, Is.Not.Null);
            Assert.Multiple(() =>
            {
                Assert.That(actual!.Category, Is.EqualTo(expected.Category));
                Assert.That(actual.Year, Is.EqualTo(expected.Year));
                Assert.That(actual.Views, Is.EqualTo(expected.Views));
                Assert.That(actual.Rating, Is.EqualTo(expected.Rating));
                Assert.That(actual.Weight, Is.EqualTo(expected.Weight));
                Assert.That(actual.InStock, Is.EqualTo(expected.InStock));
                Assert.That(actual.Created, Is.EqualTo(expected.Created));
                Assert.That(actual.Updated, Is.EqualTo(expected.Updated), "the same instant");
                Assert.That(actual.Owner, Is.EqualTo(expected.Owner));
                Assert.That(actual.Embedding, Is.Null, "vectors only when asked for");
            });
        }
    }

    [Test]
    public async Task GetAsync_IncludeVectors_ReturnsTheStoredTokenVectors()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        List<Product> products = TestData.Products(3, seed: 2);
        await collection.UpsertAsync(products);

        Product? actual = await collection.GetAsync(products[1].Id, new RecordRetrievalOptions { IncludeVectors = true });

        Assert.That(actual!.Embedding, Is.Not.Null);
        Assert.That(actual.Embedding!.Vectors.Span.ToArray(), Is.EqualTo(products[1].Embedding!.Vectors.Span.ToArray()));
        Assert.That(actual.Embedding.Dimensions, Is.EqualTo(Product.Dimension));
    }

    [Test]
    public async Task GetAsync_MissingKey_ReturnsNull()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        await collection.UpsertAsync(TestData.Products(2, seed: 3));

        Assert.That(await collection.GetAsync("missing"), Is.Null);
    }

    [Test]
    public async Task GetAsync_Keys_ReturnsFoundRecordsInKeyOrderAndSkipsMissing()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        await collection.UpsertAsync(TestData.Products(5, seed: 4));

        List<Product> found = await TestData.ToListAsync(collection.GetAsync(["p0003", "missing", "p0001"]));

        Assert.That(found.Select(p => p.Id), Is.EqualTo(new[] { "p0003", "p0001" }));
    }

    [Test]
    public async Task UpsertAsync_ExistingKey_ReplacesDataAndVectors()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        List<Product> products = TestData.Products(4, seed: 5);
        await collection.UpsertAsync(products);
        MultiVectorEmbedding replacement = TestData.RandomEmbedding(new Random(99), Product.Dimension);

        await collection.UpsertAsync(new Product { Id = products[2].Id, Category = "z", Year = 1999, Embedding = replacement });

        Product? actual = await collection.GetAsync(products[2].Id, new RecordRetrievalOptions { IncludeVectors = true });
        Assert.That(actual!.Category, Is.EqualTo("z"));
        Assert.That(actual.Year, Is.EqualTo(1999));
        Assert.That(actual.Embedding!.Vectors.Span.ToArray(), Is.EqualTo(replacement.Vectors.Span.ToArray()));
        List<Product> all = await TestData.ToListAsync(collection.GetAsync(p => true, 100));
        Assert.That(all, Has.Count.EqualTo(4));
        List<VectorSearchResult<Product>> hits = await TestData.ToListAsync(collection.SearchAsync(replacement, top: 1));
        Assert.That(hits[0].Record.Id, Is.EqualTo(products[2].Id), "the index holds the new vectors");
    }

    [Test]
    public async Task UpsertAsync_KeyRepeatedInBatch_LastRecordWins()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        var random = new Random(6);

        await collection.UpsertAsync(
        [
            new Product { Id = "x", Category = "first", Embedding = TestData.RandomEmbedding(random, Product.Dimension) },
            new Product { Id = "x", Category = "last", Embedding = TestData.RandomEmbedding(random, Product.Dimension) },
        ]);

        Assert.That((await collection.GetAsync("x"))!.Category, Is.EqualTo("last"));
        Assert.That(await TestData.ToListAsync(collection.GetAsync(p => true, 10)), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task UpsertAsync_RecordWithoutVectors_ThrowsNamingTheKeyAndWritesNothing()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        var random = new Random(7);

        ArgumentException? error = Assert.ThrowsAsync<ArgumentException>(() => collection.UpsertAsync(
        [
            new Product { Id = "ok", Embedding = TestData.RandomEmbedding(random, Product.Dimension) },
            new Product { Id = "empty" },
        ]));

        Assert.That(error!.Message, Does.Contain("\"empty\""));
        Assert.That(await collection.GetAsync("ok"), Is.Null);
    }

    [Test]
    public async Task UpsertAsync_WrongDimension_ThrowsNamingTheKeyAndDimensions()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();

        ArgumentException? error = Assert.ThrowsAsync<ArgumentException>(() =>
            collection.UpsertAsync(new Product { Id = "wide", Embedding = TestData.RandomEmbedding(new Random(8), 9) }));

        Assert.That(error!.Message, Does.Contain("\"wide\"").And.Contain("9").And.Contain("8"));
    }

    [Test]
    public async Task UpsertAsync_EmptyKey_ThrowsArgumentException()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();

        Assert.ThrowsAsync<ArgumentException>(() => collection.UpsertAsync(new Product { Id = "", Embedding = TestData.RandomEmbedding(new Random(9), 8) }));
    }

    [Test]
    public async Task DeleteAsync_ExistingAndMissingKeys_RemovesExistingOnes()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        List<Product> products = TestData.Products(5, seed: 10);
        await collection.UpsertAsync(products);

        await collection.DeleteAsync(["p0001", "missing", "p0003"]);
        await collection.DeleteAsync("also-missing");

        List<Product> left = await TestData.ToListAsync(collection.GetAsync(p => true, 10));
        Assert.That(left.Select(p => p.Id), Is.EquivalentTo(new[] { "p0000", "p0002", "p0004" }));
        List<VectorSearchResult<Product>> hits = await TestData.ToListAsync(collection.SearchAsync(products[1].Embedding!, top: 10));
        Assert.That(hits.Select(h => h.Record.Id), Has.No.Member("p0001").And.No.Member("p0003"));
    }

    [Test]
    public async Task SearchAsync_TopAndSkip_PageThroughTheExactRanking()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        List<Product> products = TestData.Products(60, seed: 11);
        await collection.UpsertAsync(products);
        MultiVectorEmbedding query = TestData.RandomEmbedding(new Random(12), Product.Dimension);
        string[] expected = [.. products.OrderByDescending(p => TestData.Chamfer(query.Vectors, p.Embedding!.Vectors)).Select(p => p.Id)];

        List<VectorSearchResult<Product>> first = await TestData.ToListAsync(collection.SearchAsync(query, top: 5));
        List<VectorSearchResult<Product>> second = await TestData.ToListAsync(collection.SearchAsync(query, top: 5, new VectorSearchOptions<Product> { Skip = 5 }));

        Assert.That(first.Select(r => r.Record.Id), Is.EqualTo(expected[..5]));
        Assert.That(second.Select(r => r.Record.Id), Is.EqualTo(expected[5..10]));
        Assert.That(first[0].Score, Is.EqualTo(TestData.Chamfer(query.Vectors, products.Single(p => p.Id == expected[0]).Embedding!.Vectors)).Within(1e-4));
        Assert.That(first.Select(r => r.Score), Is.Ordered.Descending);
    }

    [Test]
    public async Task SearchAsync_ScoreThreshold_DropsLowerScores()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        await collection.UpsertAsync(TestData.Products(30, seed: 13));
        MultiVectorEmbedding query = TestData.RandomEmbedding(new Random(14), Product.Dimension);
        List<VectorSearchResult<Product>> all = await TestData.ToListAsync(collection.SearchAsync(query, top: 30));
        double threshold = all[10].Score!.Value;

        List<VectorSearchResult<Product>> kept = await TestData.ToListAsync(collection.SearchAsync(query, top: 30, new VectorSearchOptions<Product> { ScoreThreshold = threshold }));

        Assert.That(kept, Has.Count.EqualTo(11));
        Assert.That(kept.Select(r => r.Score), Has.All.GreaterThanOrEqualTo(threshold));
    }

    [Test]
    public async Task SearchAsync_IncludeVectors_FillsTheVectorProperty()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        List<Product> products = TestData.Products(5, seed: 15);
        await collection.UpsertAsync(products);

        List<VectorSearchResult<Product>> hits = await TestData.ToListAsync(
            collection.SearchAsync(products[0].Embedding!, top: 2, new VectorSearchOptions<Product> { IncludeVectors = true }));
        List<VectorSearchResult<Product>> plain = await TestData.ToListAsync(collection.SearchAsync(products[0].Embedding!, top: 2));

        Assert.That(hits.Select(h => h.Record.Embedding), Has.None.Null);
        Assert.That(plain.Select(h => h.Record.Embedding), Has.All.Null);
    }

    [Test]
    public async Task SearchAsync_UnsupportedInputType_ThrowsNotSupportedNamingTheType()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();

        NotSupportedException? error = Assert.Throws<NotSupportedException>(() => collection.SearchAsync("text without a generator", top: 1));

        Assert.That(error!.Message, Does.Contain("System.String"));
    }

    [Test]
    public async Task SearchAsync_EmptyCollection_ReturnsNothing()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();

        Assert.That(await TestData.ToListAsync(collection.SearchAsync(TestData.RandomEmbedding(new Random(16), 8), top: 3)), Is.Empty);
    }

    [Test]
    public async Task Operations_CancelledToken_ThrowAndWriteNothing()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        List<Product> products = TestData.Products(3, seed: 17);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(() => collection.UpsertAsync(products, cancelled.Token));
        Assert.CatchAsync<OperationCanceledException>(() => collection.GetAsync("p0000", null, cancelled.Token));
        Assert.CatchAsync<OperationCanceledException>(() => TestData.ToListAsync(collection.SearchAsync(products[0].Embedding!, 1, null, cancelled.Token)));
        Assert.CatchAsync<OperationCanceledException>(() => TestData.ToListAsync(collection.GetAsync(p => true, 1, null, cancelled.Token)));
        Assert.CatchAsync<OperationCanceledException>(() => collection.DeleteAsync("p0000", cancelled.Token));

        Assert.That(await TestData.ToListAsync(collection.GetAsync(p => true, 10)), Is.Empty);
    }

    [Test]
    public async Task Collection_ReopenedByAnotherStore_HasTheSameRecordsAndSearches()
    {
        List<Product> products = TestData.Products(40, seed: 18);
        MultiVectorEmbedding query = TestData.RandomEmbedding(new Random(19), Product.Dimension);
        List<string> before;
        using (MuveraCollection<string, Product> collection = await CreateAsync())
        {
            await collection.UpsertAsync(products);
            await collection.DeleteAsync("p0007");
            before = [.. (await TestData.ToListAsync(collection.SearchAsync(query, top: 10))).Select(r => r.Record.Id)];
        }

        using var store = new MuveraVectorStore(_directory);
        using VectorStoreCollection<string, Product> reopened = store.GetCollection<string, Product>("products");
        List<string> after = [.. (await TestData.ToListAsync(reopened.SearchAsync(query, top: 10))).Select(r => r.Record.Id)];

        Assert.That(after, Is.EqualTo(before));
        Assert.That(await reopened.GetAsync("p0007"), Is.Null);
        Assert.That((await reopened.GetAsync("p0008"))!.Year, Is.EqualTo(products[8].Year));
    }

    public static IEnumerable<TestCaseData> Backends()
    {
        // The default flat backend stores FDEs product-quantized once it holds 1,024 of them (trained then, saved with
        // the index): 1,200 records get there. USearch filters during its graph walk.
        yield return new TestCaseData(new FlatMipsBackend(), 1_200).SetArgDisplayNames("flat-default-pq");
        yield return new TestCaseData(new USearchMipsBackend(), 200).SetArgDisplayNames("usearch");
    }

    [TestCaseSource(nameof(Backends))]
    public async Task Backend_FilteredSearchBeyondN_ReturnsAllowedRecordsWithExactScoresAndReopens(MipsBackend backend, int count)
    {
        // About half the records allowed, N = 20: more records pass the filter than N, so the search goes through the
        // backend's filtered FDE stage rather than reranking the allowed set.
        List<Product> products = TestData.Products(count, seed: 21);
        const int Candidates = 20;
        var options = new MuveraCollectionOptions { Backend = backend, SearchCandidates = Candidates };
        Expression<Func<Product, bool>> filter = p => p.Year < 2015;
        Func<Product, bool> allowed = filter.Compile();
        Assert.That(products.Count(allowed), Is.GreaterThan(2 * Candidates));
        MultiVectorEmbedding query = TestData.RandomEmbedding(new Random(22), Product.Dimension);
        List<VectorSearchResult<Product>> found;
        using (var collection = new MuveraCollection<string, Product>(_directory, "products", options))
        {
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(products);
            found = await TestData.ToListAsync(collection.SearchAsync(query, top: 10, new VectorSearchOptions<Product> { Filter = filter }));
        }

        Assert.That(found, Has.Count.EqualTo(10));
        Dictionary<string, Product> byId = products.ToDictionary(p => p.Id);
        foreach (VectorSearchResult<Product> result in found)
        {
            Assert.That(allowed(byId[result.Record.Id]), Is.True, result.Record.Id);
            Assert.That(result.Score, Is.EqualTo(TestData.Chamfer(query.Vectors, byId[result.Record.Id].Embedding!.Vectors)).Within(1e-4), result.Record.Id);
        }

        Assert.That(found.Select(r => r.Score), Is.Ordered.Descending);
        using var reopened = new MuveraCollection<string, Product>(_directory, "products", options);
        List<VectorSearchResult<Product>> again = await TestData.ToListAsync(reopened.SearchAsync(query, top: 10, new VectorSearchOptions<Product> { Filter = filter }));
        Assert.That(again.Select(r => r.Record.Id), Is.EqualTo(found.Select(r => r.Record.Id)), "the saved FDE index is reloaded as it was");
    }

    [Test]
    public async Task Collection_LifeCycle_ExistsCreatesAndDeletes()
    {
        using var store = new MuveraVectorStore(_directory);
        using VectorStoreCollection<string, Product> collection = store.GetCollection<string, Product>("life");

        Assert.That(await collection.CollectionExistsAsync(), Is.False);
        Assert.ThrowsAsync<VectorStoreException>(() => collection.GetAsync("x"));
        await collection.EnsureCollectionExistsAsync();
        await collection.EnsureCollectionExistsAsync();
        Assert.That(await collection.CollectionExistsAsync(), Is.True);
        await collection.UpsertAsync(TestData.Products(2, seed: 20));
        await collection.EnsureCollectionDeletedAsync();

        Assert.That(await collection.CollectionExistsAsync(), Is.False);
        Assert.That(Directory.Exists(Path.Combine(_directory, "life")), Is.False);
        Assert.ThrowsAsync<VectorStoreException>(() => collection.GetAsync("p0000"));
        await collection.EnsureCollectionDeletedAsync();
    }

    [Test]
    public async Task Collection_ExistingWithAnotherDimension_ThrowsVectorStoreException()
    {
        using (MuveraCollection<string, Product> collection = await CreateAsync())
        {
            await collection.UpsertAsync(TestData.Products(1, seed: 21));
        }

        using var other = new MuveraCollection<string, GuidRecordAsString>(_directory, "products");
        VectorStoreException? error = Assert.ThrowsAsync<VectorStoreException>(() => other.GetAsync("p0000"));
        Assert.That(error!.Message, Does.Contain("dimension"));
    }

    [Test]
    public async Task Collection_LockedByAnotherProcess_ThrowsVectorStoreException()
    {
        using (MuveraCollection<string, Product> collection = await CreateAsync())
        {
            await collection.UpsertAsync(TestData.Products(1, seed: 22));
        }

        // An exclusive lock on LOCK is what another process holding the collection open has.
        using var otherProcess = new FileStream(Path.Combine(_directory, "products", "LOCK"), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        using var store = new MuveraVectorStore(_directory);
        using VectorStoreCollection<string, Product> blocked = store.GetCollection<string, Product>("products");

        VectorStoreException? error = Assert.ThrowsAsync<VectorStoreException>(() => blocked.GetAsync("p0000"));
        Assert.That(error!.Message, Does.Contain("another process"));
    }

    [Test]
    public async Task GuidKeys_EmptyKey_IsGeneratedAndSetOnTheRecord()
    {
        using var collection = new MuveraCollection<Guid, GuidRecord>(_directory, "guids");
        await collection.EnsureCollectionExistsAsync();
        var random = new Random(23);
        var generated = new GuidRecord { Name = "new", Vectors = TestData.RandomEmbedding(random, 4) };
        var given = new GuidRecord { Key = Guid.Parse("33333333-3333-3333-3333-333333333333"), Name = "given", Vectors = TestData.RandomEmbedding(random, 4) };

        await collection.UpsertAsync([generated, given]);

        Assert.That(generated.Key, Is.Not.EqualTo(Guid.Empty));
        Assert.That((await collection.GetAsync(generated.Key))!.Name, Is.EqualTo("new"));
        Assert.That((await collection.GetAsync(given.Key))!.Name, Is.EqualTo("given"));
        List<GuidRecord> filtered = await TestData.ToListAsync(collection.GetAsync(r => r.Key == given.Key, 5));
        Assert.That(filtered.Single().Name, Is.EqualTo("given"));
    }

    [Test]
    public async Task IntKeys_FilterComparesKeysAsNumbers()
    {
        using var collection = new MuveraCollection<int, IntRecord>(_directory, "ints");
        await collection.EnsureCollectionExistsAsync();
        var random = new Random(24);
        await collection.UpsertAsync(Enumerable.Range(1, 20).Select(i => new IntRecord { Key = i, Rank = 100 - i, Vectors = TestData.RandomEmbedding(random, 4) }));

        List<IntRecord> found = await TestData.ToListAsync(collection.GetAsync(r => r.Key >= 9 && r.Key < 12, 10,
            new FilteredRecordRetrievalOptions<IntRecord> { OrderBy = o => o.Descending(r => r.Key) }));

        Assert.That(found.Select(r => r.Key), Is.EqualTo(new[] { 11, 10, 9 }));
    }

    [Test]
    public async Task GetAsync_FilterWithOrderBySkipAndTop_ReturnsThePage()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();
        List<Product> products = TestData.Products(50, seed: 25);
        await collection.UpsertAsync(products);
        string[] expected = [.. products.Where(p => p.Year >= 2010).OrderBy(p => p.Rating).ThenBy(p => products.IndexOf(p)).Skip(3).Take(4).Select(p => p.Id)];

        List<Product> page = await TestData.ToListAsync(collection.GetAsync(p => p.Year >= 2010, 4,
            new FilteredRecordRetrievalOptions<Product> { Skip = 3, OrderBy = o => o.Ascending(p => p.Rating) }));

        Assert.That(page.Select(p => p.Id), Is.EqualTo(expected));
    }

    [Test]
    public void GetCollection_UnsupportedKeyType_ThrowsNamingTheType()
    {
        using var store = new MuveraVectorStore(_directory);

        NotSupportedException? error = Assert.Throws<NotSupportedException>(() => store.GetCollection<DateTime, DateKeyed>("dates"));

        Assert.That(error!.Message, Does.Contain("System.DateTime"));
    }

    [Test]
    public void GetCollection_UnsupportedDistanceFunction_ThrowsNamingIt()
    {
        using var store = new MuveraVectorStore(_directory);

        NotSupportedException? error = Assert.Throws<NotSupportedException>(() => store.GetCollection<string, CosineRecord>("cosine"));

        Assert.That(error!.Message, Does.Contain(DistanceFunction.CosineSimilarity).And.Contain(MuveraDistanceFunction.MaxSim));
    }

    [Test]
    public void GetCollection_UnsupportedDataPropertyType_ThrowsNamingPropertyAndType()
    {
        using var store = new MuveraVectorStore(_directory);

        NotSupportedException? error = Assert.Throws<NotSupportedException>(() => store.GetCollection<string, DecimalRecord>("decimals"));

        Assert.That(error!.Message, Does.Contain("Price").And.Contain("System.Decimal"));
    }

    [Test]
    public void GetCollection_TextVectorWithoutGenerator_ThrowsInvalidOperation()
    {
        using var store = new MuveraVectorStore(_directory);

        Assert.Throws<InvalidOperationException>(() => store.GetCollection<string, Note>("notes"));
    }

    [TestCase("")]
    [TestCase("../escape")]
    [TestCase(".hidden")]
    [TestCase("a/b")]
    public void GetCollection_InvalidName_ThrowsNamingIt(string name)
    {
        using var store = new MuveraVectorStore(_directory);

        ArgumentException? error = Assert.Throws<ArgumentException>(() => store.GetCollection<string, Product>(name));

        Assert.That(error!.ParamName, Is.EqualTo("name"));
        Assert.That(error.Message, Does.Contain($"\"{name}\""));
    }

    [Test]
    public async Task TextVectors_UpsertAndSearch_EncodeRecordsAsDocumentsAndSearchTextAsQueries()
    {
        var generator = new FakeGenerator();
        using var store = new MuveraVectorStore(_directory, new MuveraVectorStoreOptions { EmbeddingGenerator = generator });
        using VectorStoreCollection<string, Note> notes = store.GetCollection<string, Note>("notes");
        await notes.EnsureCollectionExistsAsync();
        await notes.UpsertAsync(
        [
            new Note { Id = "tower", Text = "the iron tower of paris" },
            new Note { Id = "tea", Text = "green tea lowers blood pressure" },
            new Note { Id = "faiss", Text = "faiss compresses vectors" },
        ]);

        List<VectorSearchResult<Note>> hits = await TestData.ToListAsync(notes.SearchAsync("iron tower", top: 2));

        Assert.That(hits[0].Record.Id, Is.EqualTo("tower"));
        Assert.That(hits[0].Record.Text, Is.EqualTo("the iron tower of paris"));
        Assert.That(generator.InputKinds, Is.EqualTo(new[] { MultiVectorEmbedding.DocumentInputKind, MultiVectorEmbedding.QueryInputKind }));
        Assert.Throws<NotSupportedException>(() => notes.SearchAsync("x", 1, new VectorSearchOptions<Note> { IncludeVectors = true }));
    }

    [Test]
    public async Task GetService_Metadata_NamesSystemStoreAndCollection()
    {
        using MuveraCollection<string, Product> collection = await CreateAsync();

        var metadata = (VectorStoreCollectionMetadata?)collection.GetService(typeof(VectorStoreCollectionMetadata));

        Assert.That(metadata!.VectorStoreSystemName, Is.EqualTo("muvera"));
        Assert.That(metadata.CollectionName, Is.EqualTo("products"));
        Assert.That(collection.GetService(typeof(string)), Is.Null);
    }

    private async Task<MuveraCollection<string, Product>> CreateAsync()
    {
        var collection = new MuveraCollection<string, Product>(_directory, "products");
        await collection.EnsureCollectionExistsAsync();
        return collection;
    }

    /// <summary>Same key type as <see cref="Product"/>, other dimension.</summary>
    public sealed class GuidRecordAsString
    {
        [VectorStoreKey]
        public string Id { get; set; } = "";

        [VectorStoreVector(4)]
        public MultiVectorEmbedding? Vectors { get; set; }
    }
}
