// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.VectorData;
using Muvera.VectorData.Tests.Fixtures;

namespace Muvera.VectorData.Tests;

/// <summary>Crash safety of a collection's writes: a crash at each step boundary (simulated by copying the folder as it
/// is on disk at that moment, then opening the copy) leaves every record entirely as before the write or entirely as
/// after it; a failed write in a running process leaves the collection usable.</summary>
[TestFixture]
[NonParallelizable]
public sealed class CollectionStoreTests
{
    private string _directory = "";

    [SetUp]
    public void SetUp() => _directory = TestData.NewDirectory();

    [TearDown]
    public void TearDown()
    {
        CollectionStore.CommitStepHook = null;
        TestData.DeleteDirectory(_directory);
    }

    [TestCase("pending-written", false)]
    [TestCase("index-saved", true)]
    [TestCase("committed", true)]
    public async Task Crash_AtStep_ReopenedCollectionIsEntirelyBeforeOrAfterTheWrite(string step, bool after)
    {
        List<Product> products = TestData.Products(30, seed: 1);
        string crashed = Path.Combine(_directory, "crashed");
        using (var collection = new MuveraCollection<string, Product>(_directory, "products"))
        {
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(products.Take(20));

            // The write: three new records, one replaced (data and vectors), one deleted — in two batches, the second
            // crashing. The folder is copied at the step boundary as a crash would leave it.
            await collection.DeleteAsync("p0005");
            CollectionStore.CommitStepHook = name =>
            {
                if (name == step)
                {
                    CopyDirectory(collection.Directory, Path.Combine(crashed, "products"));
                    throw new IOException($"simulated crash at {name}");
                }
            };
            Product replaced = Replacement(products[3]);
            Assert.ThrowsAsync<VectorStoreException>(() => collection.UpsertAsync([.. products.Skip(20).Take(3), replaced]));
            CollectionStore.CommitStepHook = null;
        }

        using var reopened = new MuveraCollection<string, Product>(crashed, "products");
        List<Product> all = await TestData.ToListAsync(reopened.GetAsync(p => true, 100));
        string[] expectedIds = after
            ? [.. products.Take(23).Select(p => p.Id).Where(id => id != "p0005")]
            : [.. products.Take(20).Select(p => p.Id).Where(id => id != "p0005")];
        Assert.That(all.Select(p => p.Id), Is.EquivalentTo(expectedIds));
        Product? third = await reopened.GetAsync("p0003", new RecordRetrievalOptions { IncludeVectors = true });
        Product expectedThird = after ? Replacement(products[3]) : products[3];
        Assert.That(third!.Category, Is.EqualTo(expectedThird.Category));
        Assert.That(third.Embedding!.Vectors.Span.ToArray(), Is.EqualTo(expectedThird.Embedding!.Vectors.Span.ToArray()), "vectors and data agree");
        List<VectorSearchResult<Product>> everything = await TestData.ToListAsync(reopened.SearchAsync(products[0].Embedding!, top: 100));
        Assert.That(everything.Select(r => r.Record.Id), Is.EquivalentTo(expectedIds), "every record has its vectors in the index, and only they");

        using SqliteConnection connection = OpenDatabase(crashed);
        Assert.That(Count(connection, "pending"), Is.Zero, "reconciled on open");
    }

    [TestCase("pending-written", false)]
    [TestCase("index-saved", true)]
    public async Task Crash_BatchWithUnchangedVectors_IsRolledBackOrForwardAsAWhole(string step, bool after)
    {
        // One record of the batch changes only its data: its vectors match the index whether or not the index was
        // saved, so only the batch as a whole tells whether the save happened.
        List<Product> products = TestData.Products(12, seed: 4);
        string crashed = Path.Combine(_directory, "crashed");
        using (var collection = new MuveraCollection<string, Product>(_directory, "products"))
        {
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(products.Take(10));
            CollectionStore.CommitStepHook = name =>
            {
                if (name == step)
                {
                    CopyDirectory(collection.Directory, Path.Combine(crashed, "products"));
                    throw new IOException($"simulated crash at {name}");
                }
            };
            Product relabelled = products[1];
            relabelled.Category = "relabelled";
            Assert.ThrowsAsync<VectorStoreException>(() => collection.UpsertAsync([relabelled, products[10]]));
            CollectionStore.CommitStepHook = null;
        }

        using var reopened = new MuveraCollection<string, Product>(crashed, "products");
        Product? first = await reopened.GetAsync("p0001");
        Product? added = await reopened.GetAsync("p0010");
        Assert.That(first!.Category == "relabelled", Is.EqualTo(after), "the data-only change");
        Assert.That(added is not null, Is.EqualTo(after), "the new record");
    }

    [TestCase("pending-written", false)]
    [TestCase("index-saved", true)]
    public async Task FailedWrite_InTheRunningProcess_LeavesTheCollectionConsistentAndUsable(string step, bool after)
    {
        List<Product> products = TestData.Products(10, seed: 2);
        using var collection = new MuveraCollection<string, Product>(_directory, "products");
        await collection.EnsureCollectionExistsAsync();
        await collection.UpsertAsync(products.Take(5));
        CollectionStore.CommitStepHook = name =>
        {
            if (name == step)
            {
                throw new IOException($"simulated failure at {name}");
            }
        };

        Assert.ThrowsAsync<VectorStoreException>(() => collection.UpsertAsync(products.Skip(5).Take(2)));
        CollectionStore.CommitStepHook = null;

        Assert.That(await collection.GetAsync("p0005") is not null, Is.EqualTo(after));
        await collection.UpsertAsync(products.Skip(7));
        List<Product> all = await TestData.ToListAsync(collection.GetAsync(p => true, 100));
        Assert.That(all, Has.Count.EqualTo(after ? 10 : 8));
        List<VectorSearchResult<Product>> hits = await TestData.ToListAsync(collection.SearchAsync(products[9].Embedding!, top: 1));
        Assert.That(hits[0].Record.Id, Is.EqualTo("p0009"));
    }

    [Test]
    public async Task Open_RowWithoutDocumentOrDocumentWithoutRow_IsRemoved()
    {
        List<Product> products = TestData.Products(6, seed: 3);
        using (var collection = new MuveraCollection<string, Product>(_directory, "products"))
        {
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(products);
        }

        // Files changed by hand: one row removed (its document stays in the index), one row added without a document.
        using (SqliteConnection connection = OpenDatabase(_directory))
        {
            using SqliteCommand delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM records WHERE _muvera_key = 'p0002'; INSERT INTO records (_muvera_key, _muvera_hash) VALUES ('ghost', 0);";
            delete.ExecuteNonQuery();
        }

        SqliteConnection.ClearAllPools();
        using var reopened = new MuveraCollection<string, Product>(_directory, "products");
        List<Product> all = await TestData.ToListAsync(reopened.GetAsync(p => true, 100));
        List<VectorSearchResult<Product>> hits = await TestData.ToListAsync(reopened.SearchAsync(products[2].Embedding!, top: 10));

        Assert.That(all.Select(p => p.Id), Is.EquivalentTo(new[] { "p0000", "p0001", "p0003", "p0004", "p0005" }));
        Assert.That(hits.Select(h => h.Record.Id), Has.No.Member("p0002"));
    }

    private static Product Replacement(Product original) => new()
    {
        Id = original.Id,
        Category = "replaced",
        Year = 1990,
        Embedding = TestData.RandomEmbedding(new Random(1234), Product.Dimension),
    };

    private static SqliteConnection OpenDatabase(string storeDirectory)
    {
        var connection = new SqliteConnection($"Data Source={Path.Combine(storeDirectory, "products", CollectionStore.DatabaseFileName)};Pooling=False");
        connection.Open();
        return connection;
    }

    private static long Count(SqliteConnection connection, string table)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {table};";
        return (long)command.ExecuteScalar()!;
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.GetFiles(source))
        {
            // LOCK is held exclusively by the running collection (a crash releases it); SQLite rebuilds -shm.
            if (Path.GetFileName(file) == CollectionStore.LockFileName || file.EndsWith("-shm", StringComparison.Ordinal))
            {
                continue;
            }

            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }

        foreach (string folder in Directory.GetDirectories(source))
        {
            CopyDirectory(folder, Path.Combine(destination, Path.GetFileName(folder)));
        }
    }
}
