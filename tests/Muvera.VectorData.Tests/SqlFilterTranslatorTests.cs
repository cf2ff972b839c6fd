// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Linq.Expressions;
using System.Threading.Tasks;
using Microsoft.Extensions.VectorData;
using Muvera.VectorData.Tests.Fixtures;

namespace Muvera.VectorData.Tests;

/// <summary>LINQ filters translated to SQL select exactly the records the same predicate selects in memory, on every
/// supported property type; filtered search equals brute force over the filtered records.</summary>
[TestFixture]
public sealed class SqlFilterTranslatorTests
{
    private const int RecordCount = 300;
    private string _directory = "";
    private MuveraCollection<string, Product> _collection = null!;
    private List<Product> _products = [];

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _directory = TestData.NewDirectory();
        _products = TestData.Products(RecordCount, seed: 42);
        _collection = new MuveraCollection<string, Product>(_directory, "products");
        await _collection.EnsureCollectionExistsAsync();
        await _collection.UpsertAsync(_products);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown()
    {
        _collection.Dispose();
        TestData.DeleteDirectory(_directory);
    }

    public static IEnumerable<TestCaseData> Filters()
    {
        string category = "b";
        int year = 2015;
        var categories = new List<string?> { "a", "c" };
        string?[] withNull = ["d", null];
        int[] years = [2001, 2003, 2005, 2027];
        var owner = Guid.Parse("22222222-2222-2222-2222-222222222222");
        var created = new DateTime(2021, 6, 1);
        var updated = new DateTimeOffset(2024, 6, 1, 12, 0, 0, TimeSpan.FromHours(3));
        string? nothing = null;

        TestCaseData Case(string name, Expression<Func<Product, bool>> filter) => new TestCaseData(filter).SetArgDisplayNames(name);

        yield return Case("string ==", p => p.Category == "a");
        yield return Case("string == captured", p => p.Category == category);
        yield return Case("string !=", p => p.Category != "a");
        yield return Case("string == null", p => p.Category == null);
        yield return Case("string != null variable", p => p.Category != nothing);
        yield return Case("value == property", p => "c" == p.Category);
        yield return Case("int <", p => p.Year < 2010);
        yield return Case("int >= captured", p => p.Year >= year);
        yield return Case("constant < int", p => 2020 < p.Year);
        yield return Case("int == computed", p => p.Year == year + 5);
        yield return Case("long? > (nulls excluded)", p => p.Views > 5000);
        yield return Case("!(long? > ) (nulls included)", p => !(p.Views > 5000));
        yield return Case("long? == null", p => p.Views == null);
        yield return Case("double <=", p => p.Rating <= 2.5);
        yield return Case("float > double", p => p.Weight > 4.5);
        yield return Case("bool", p => p.InStock);
        yield return Case("!bool", p => !p.InStock);
        yield return Case("bool == false", p => p.InStock == false);
        yield return Case("DateTime >", p => p.Created > created);
        yield return Case("DateTimeOffset <=", p => p.Updated <= updated);
        yield return Case("Guid ==", p => p.Owner == owner);
        yield return Case("Guid !=", p => p.Owner != owner);
        yield return Case("key ==", p => p.Id == "p0042");
        yield return Case("list.Contains", p => categories.Contains(p.Category));
        yield return Case("array.Contains with null", p => withNull.Contains(p.Category));
        yield return Case("int array Contains", p => years.Contains(p.Year));
        yield return Case("!Contains", p => !years.Contains(p.Year));
        yield return Case("string.Contains", p => p.Id.Contains("01"));
        yield return Case("&& and ||", p => (p.Category == "a" || p.Category == "b") && p.Year >= 2010 && !p.InStock);
        yield return Case("! over ||", p => !(p.Category == "e" || p.Rating > 4));
        yield return Case("constant true", p => true);
        yield return Case("captured false", p => year < 0);
    }

    [TestCaseSource(nameof(Filters))]
    public async Task GetAsync_Filter_SelectsWhatTheInMemoryPredicateSelects(Expression<Func<Product, bool>> filter)
    {
        Func<Product, bool> predicate = filter.Compile();
        string[] expected = [.. _products.Where(p => Safe(predicate, p)).Select(p => p.Id)];

        List<Product> found = await TestData.ToListAsync(_collection.GetAsync(filter, RecordCount));

        Assert.That(found.Select(p => p.Id), Is.EquivalentTo(expected));
    }

    [TestCaseSource(nameof(Filters))]
    public async Task SearchAsync_Filter_EqualsBruteForceOverTheFilteredRecords(Expression<Func<Product, bool>> filter)
    {
        Func<Product, bool> predicate = filter.Compile();
        var random = new Random(7);
        for (int q = 0; q < 3; q++)
        {
            MultiVectorEmbedding query = TestData.RandomEmbedding(random, Product.Dimension);
            // Exact: N covers every record.
            var options = new VectorSearchOptions<Product> { Filter = filter };
            List<VectorSearchResult<Product>> found = await TestData.ToListAsync(SearchAll(query, options));
            (string Id, double Score)[] expected = [.. _products.Where(p => Safe(predicate, p))
                .Select(p => (p.Id, Score: TestData.Chamfer(query.Vectors, p.Embedding!.Vectors)))
                .OrderByDescending(h => h.Score).Take(10)];

            Assert.That(found.Select(r => r.Record.Id), Is.EqualTo(expected.Select(h => h.Id)), $"query {q}");
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.That(found[i].Score, Is.EqualTo(expected[i].Score).Within(1e-4), $"query {q}, rank {i}");
            }
        }
    }

    [Test]
    public async Task SearchAsync_SelectiveFilterAtDefaultCandidates_IsExact()
    {
        // Up to N = 100 allowed records are all reranked, so the default search is exact among them.
        Expression<Func<Product, bool>> filter = p => p.Category == "a" && p.Year < 2020;
        Func<Product, bool> predicate = filter.Compile();
        Assert.That(_products.Count(predicate), Is.InRange(10, 100));
        MultiVectorEmbedding query = TestData.RandomEmbedding(new Random(8), Product.Dimension);
        string[] expected = [.. _products.Where(predicate).OrderByDescending(p => TestData.Chamfer(query.Vectors, p.Embedding!.Vectors)).Take(10).Select(p => p.Id)];

        List<VectorSearchResult<Product>> found = await TestData.ToListAsync(_collection.SearchAsync(query, 10, new VectorSearchOptions<Product> { Filter = filter }));

        Assert.That(found.Select(r => r.Record.Id), Is.EqualTo(expected));
    }

    public static IEnumerable<TestCaseData> UnsupportedFilters()
    {
        TestCaseData Case(Expression<Func<Product, bool>> filter, string named) => new TestCaseData(filter, named).SetArgDisplayNames(named);

        yield return Case(p => p.Id.Length > 3, "p.Id.Length");
        yield return Case(p => p.Id.StartsWith('p'), "StartsWith");
        yield return Case(p => p.Year > p.Views, "p.Views");
        yield return Case(p => string.Compare(p.Category, "b", StringComparison.Ordinal) > 0, "Compare");
        yield return Case(p => p.Owner.ToString() == "x", "ToString");
        yield return Case(p => p.Embedding == null, "p.Embedding");
        yield return Case(p => p.Year % 2 == 0, "(p.Year % 2)");
    }

    [TestCaseSource(nameof(UnsupportedFilters))]
    public void SearchAndGet_UnsupportedFilter_ThrowNotSupportedNamingTheExpression(Expression<Func<Product, bool>> filter, string named)
    {
        MultiVectorEmbedding query = TestData.RandomEmbedding(new Random(9), Product.Dimension);

        NotSupportedException? search = Assert.Throws<NotSupportedException>(() => _collection.SearchAsync(query, 5, new VectorSearchOptions<Product> { Filter = filter }));
        NotSupportedException? get = Assert.Throws<NotSupportedException>(() => _collection.GetAsync(filter, 5));

        Assert.That(search!.Message, Does.Contain(named));
        Assert.That(get!.Message, Does.Contain(named));
    }

    [Test]
    public void Translate_CapturedValues_BecomeParametersNotSqlText()
    {
        string hostile = "a' OR 1=1 --";
        Expression<Func<Product, bool>> filter = p => p.Category == hostile && p.Year > 2000;
        var model = RecordModel<string, Product>.Build("products", null, null);

        SqlFilter sql = SqlFilterTranslator.Translate(filter, model.ByPropertyName);

        Assert.That(sql.Sql, Does.Not.Contain("OR 1=1").And.Not.Contain("2000"));
        Assert.That(sql.Parameters.Select(p => p.Value), Is.EqualTo(new object[] { hostile, 2000L }));
    }

    private IAsyncEnumerable<VectorSearchResult<Product>> SearchAll(MultiVectorEmbedding query, VectorSearchOptions<Product> options)
    {
        var exact = new MuveraCollection<string, Product>(_directory, "products", new MuveraCollectionOptions { SearchCandidates = RecordCount });
        return DisposeAfter(exact, exact.SearchAsync(query, 10, options));
    }

    private static async IAsyncEnumerable<T> DisposeAfter<T>(IDisposable owner, IAsyncEnumerable<T> items)
    {
        using (owner)
        {
            await foreach (T item in items)
            {
                yield return item;
            }
        }
    }

    // C# semantics where a property is null: string.Contains on null throws in memory and matches nothing in SQL.
    private static bool Safe(Func<Product, bool> predicate, Product product)
    {
        try
        {
            return predicate(product);
        }
        catch (NullReferenceException)
        {
            return false;
        }
    }
}
