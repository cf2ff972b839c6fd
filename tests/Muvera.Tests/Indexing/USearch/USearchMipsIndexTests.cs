// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Tests.Fixtures;
using Muvera.USearch;

namespace Muvera.Tests.Indexing;

/// <summary>What the conformance suite does not cover for <see cref="USearchMipsIndex"/>: options, scalar kinds and
/// their scores, memory-mapped views, parallel and incremental insertion, capacity, exact search, range checks,
/// cancellation and crafted files whose checksums are valid.</summary>
[TestFixture]
public sealed class USearchMipsIndexTests
{
    private const int Dimension = 32;

    private static readonly USearchScalarKind[] s_kinds = [USearchScalarKind.Float32, USearchScalarKind.Float16, USearchScalarKind.BFloat16];

    private string _directory = "";

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        if (!USearchMipsIndex.IsSupported)
        {
            const string message = "the native library libusearch_c (package Cloud.Unum.USearch) could not be loaded";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(message + " (CI=true: every backend must run in CI)");
            }

            Assert.Ignore(message);
        }

        _directory = Path.Combine(Path.GetTempPath(), "muvera-usearch-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown()
    {
        if (_directory.Length > 0 && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Test]
    public void Options_Defaults_AreFloat16M16Ef128Ef64()
    {
        var options = new USearchOptions();
        Assert.That(options.ScalarKind, Is.EqualTo(USearchScalarKind.Float16));
        Assert.That(options.Connectivity, Is.EqualTo(16));
        Assert.That(options.ExpansionAdd, Is.EqualTo(128));
        Assert.That(options.ExpansionSearch, Is.EqualTo(64));

        using var index = new USearchMipsIndex(Dimension);
        Assert.That(index.Options, Is.EqualTo(options));
        Assert.That(index.IsExact, Is.False);
        Assert.That(index.IsReadOnly, Is.False);
    }

    [TestCase(nameof(USearchOptions.Connectivity), 1)]
    [TestCase(nameof(USearchOptions.Connectivity), 1025)]
    [TestCase(nameof(USearchOptions.ExpansionAdd), 0)]
    [TestCase(nameof(USearchOptions.ExpansionAdd), 65537)]
    [TestCase(nameof(USearchOptions.ExpansionSearch), 0)]
    [TestCase(nameof(USearchOptions.ExpansionSearch), -5)]
    [TestCase(nameof(USearchOptions.ScalarKind), 3)]
    [TestCase(nameof(USearchOptions.ScalarKind), -1)]
    public void Options_OutOfRange_ThrowNamingThePropertyAndValue(string property, int value)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _ = property switch
        {
            nameof(USearchOptions.Connectivity) => new USearchOptions { Connectivity = value },
            nameof(USearchOptions.ExpansionAdd) => new USearchOptions { ExpansionAdd = value },
            nameof(USearchOptions.ExpansionSearch) => new USearchOptions { ExpansionSearch = value },
            _ => new USearchOptions { ScalarKind = (USearchScalarKind)value },
        });
        Assert.That(e!.ParamName, Is.EqualTo(property));
        Assert.That(e.Message, Does.Contain(value.ToString()).And.Contain(property));
    }

    [Test]
    public void Options_Bounds_AreAccepted()
    {
        var low = new USearchOptions { Connectivity = USearchOptions.MinConnectivity, ExpansionAdd = 1, ExpansionSearch = 1 };
        var high = new USearchOptions { Connectivity = USearchOptions.MaxConnectivity, ExpansionAdd = USearchOptions.MaxExpansion, ExpansionSearch = USearchOptions.MaxExpansion };
        Assert.That(low.Connectivity, Is.EqualTo(2));
        Assert.That(high.ExpansionSearch, Is.EqualTo(1 << 16));
    }

    [Test]
    public void Constructor_BadArguments_Throw()
    {
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new USearchMipsIndex(0).Dispose())!.ParamName, Is.EqualTo("dimension"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new USearchMipsIndex(-3).Dispose());
        var tooLarge = Assert.Throws<ArgumentOutOfRangeException>(() => new USearchMipsIndex(USearchMipsIndex.MaxDimension + 1).Dispose());
        Assert.That(tooLarge!.Message, Does.Contain((USearchMipsIndex.MaxDimension + 1).ToString()));
        Assert.Throws<ArgumentNullException>(() => new USearchMipsIndex(Dimension, null!).Dispose());
    }

    [Test]
    public void ExpansionSearch_PropertyAndPerCall_AreEquivalentAndChecked()
    {
        float[] corpus = TestVectors.UnitRows(2000, Dimension, seed: 1);
        float[] queries = TestVectors.UnitRows(60, Dimension, seed: 2);
        using var index = new USearchMipsIndex(Dimension, new USearchOptions { ScalarKind = USearchScalarKind.Float32, ExpansionSearch = 16 });
        // One thread builds the same graph every time: the recall floor below is about ef, not about a graph that
        // parallel insertion happened to make worse (a parallel build once gave 0.978 at ef 400 on a loaded machine).
        index.Add(corpus, new ParallelOptions { MaxDegreeOfParallelism = 1 });

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => index.ExpansionSearch = 0);
        Assert.That(e!.ParamName, Is.EqualTo(nameof(USearchOptions.ExpansionSearch)));
        var perCall = Assert.Throws<ArgumentOutOfRangeException>(() => index.Search(queries.AsSpan(0, Dimension), 10, new ScoredId[10], 0));
        Assert.That(perCall!.ParamName, Is.EqualTo("expansionSearch"));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.SearchBatch(queries, 10, new ScoredId[600], USearchOptions.MaxExpansion + 1, new ParallelOptions()));
        Assert.That(index.ExpansionSearch, Is.EqualTo(16), "a refused value changes nothing");

        ScoredId[] narrow = SearchAll(index, queries, 10, expansionSearch: 16);
        ScoredId[] wide = SearchAll(index, queries, 10, expansionSearch: 400);
        index.ExpansionSearch = 400;
        Assert.That(index.Options.ExpansionSearch, Is.EqualTo(400));
        var viaProperty = new ScoredId[60 * 10];
        index.SearchBatch(queries, 10, viaProperty);
        Assert.That(viaProperty, Is.EqualTo(wide), "the property and the per-call value give the same search");

        double narrowRecall = Recall(corpus, queries, narrow, 10);
        double wideRecall = Recall(corpus, queries, wide, 10);
        TestContext.Out.WriteLine($"recall@10 at ef 16: {narrowRecall:F4}, at ef 400: {wideRecall:F4}");
        Assert.That(wideRecall, Is.GreaterThanOrEqualTo(narrowRecall));
        Assert.That(wideRecall, Is.GreaterThanOrEqualTo(0.99));

        string path = Path.Combine(_directory, "ef.idx");
        index.Save(path);
        using USearchMipsIndex loaded = USearchMipsIndex.Load(path);
        Assert.That(loaded.ExpansionSearch, Is.EqualTo(400), "the default ef is saved with the index");
        Assert.That(loaded.Options, Is.EqualTo(index.Options));
    }

    [TestCaseSource(nameof(s_kinds))]
    public void ScalarKind_ScoresAreInnerProductsOfTheStoredVectors_AndSurviveSaveLoad(USearchScalarKind kind)
    {
        float[] corpus = TestVectors.UnitRows(500, Dimension, seed: 3);
        float[] queries = TestVectors.UnitRows(20, Dimension, seed: 4);
        var options = new USearchOptions { ScalarKind = kind, Connectivity = 8, ExpansionAdd = 40, ExpansionSearch = 50 };
        using var index = new USearchMipsIndex(Dimension, options);
        index.Add(corpus);
        Assert.That(index.ScalarKind, Is.EqualTo(kind));

        var results = new ScoredId[5];
        for (int q = 0; q < 20; q++)
        {
            float[] query = queries.AsSpan(q * Dimension, Dimension).ToArray();
            int found = index.Search(query, 5, results);
            Assert.That(found, Is.EqualTo(5));
            foreach (ScoredId result in results)
            {
                double stored = QuantizedDot(query, corpus.AsSpan(result.Id * Dimension, Dimension), kind);
                Assert.That(result.Score, Is.EqualTo(stored).Within(2e-6), $"{kind}: query {q}, id {result.Id}");
            }
        }

        string path = Path.Combine(_directory, $"kind-{kind}.idx");
        index.Save(path);
        using USearchMipsIndex loaded = USearchMipsIndex.Load(path);
        Assert.That(loaded.Options, Is.EqualTo(options));
        Assert.That(SearchAll(loaded, queries, 5, 50), Is.EqualTo(SearchAll(index, queries, 5, 50)));
    }

    [Test]
    public void View_SearchesLikeLoad_RefusesAddAndReserve_AndCanBeSaved()
    {
        float[] corpus = TestVectors.UnitRows(1000, Dimension, seed: 5);
        float[] queries = TestVectors.UnitRows(30, Dimension, seed: 6);
        using var index = new USearchMipsIndex(Dimension, new USearchOptions { ExpansionSearch = 80 });
        index.Add(corpus);
        string path = Path.Combine(_directory, "view.idx");
        index.Save(path);

        using USearchMipsIndex loaded = USearchMipsIndex.Load(path);
        USearchMipsIndex view = USearchMipsIndex.View(path);
        Assert.That(view.IsReadOnly, Is.True);
        Assert.That(loaded.IsReadOnly, Is.False);
        Assert.That(view.Count, Is.EqualTo(1000));
        Assert.That(view.Options, Is.EqualTo(index.Options));
        Assert.That(SearchAll(view, queries, 10, 80), Is.EqualTo(SearchAll(loaded, queries, 10, 80)));
        Assert.That(SearchAll(view, queries, 10, 80), Is.EqualTo(SearchAll(index, queries, 10, 80)));

        var exactView = new ScoredId[30 * 7];
        var exactLoaded = new ScoredId[30 * 7];
        view.SearchExactBatch(queries, 7, exactView);
        loaded.SearchExactBatch(queries, 7, exactLoaded);
        Assert.That(exactView, Is.EqualTo(exactLoaded));

        var add = Assert.Throws<InvalidOperationException>(() => view.Add(corpus.AsSpan(0, Dimension)));
        Assert.That(add!.Message, Does.Contain("read-only").And.Contain("Load"));
        Assert.Throws<InvalidOperationException>(() => view.Add(corpus.AsSpan(0, Dimension), new ParallelOptions()));
        Assert.Throws<InvalidOperationException>(() => view.Reserve(5000));
        Assert.That(view.Count, Is.EqualTo(1000));

        string copy = Path.Combine(_directory, "view-copy.idx");
        view.Save(copy);
        using (USearchMipsIndex reloaded = USearchMipsIndex.Load(copy))
        {
            Assert.That(SearchAll(reloaded, queries, 10, 80), Is.EqualTo(SearchAll(loaded, queries, 10, 80)));
        }

        view.Dispose();
        view.Dispose();
        Assert.Throws<ObjectDisposedException>(() => view.Search(queries.AsSpan(0, Dimension), 10, new ScoredId[10]));
        Assert.Throws<ObjectDisposedException>(() => view.Save(copy));
    }

    [Test]
    public void View_MissingOrTruncatedFile_Throws()
    {
        Assert.Throws<FileNotFoundException>(() => USearchMipsIndex.View(Path.Combine(_directory, "absent.idx")).Dispose());
        string path = Path.Combine(_directory, "short.idx");
        File.WriteAllBytes(path, new byte[10]);
        var e = Assert.Throws<InvalidDataException>(() => USearchMipsIndex.View(path).Dispose());
        Assert.That(e!.Message, Does.Contain("truncated"));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    public void ParallelAdd_AtEachThreadCount_GivesValidResults(int threads)
    {
        const int n = 3000, queryCount = 50, k = 10;
        float[] corpus = TestVectors.UnitRows(n, Dimension, seed: 7);
        float[] queries = TestVectors.UnitRows(queryCount, Dimension, seed: 8);
        using var index = new USearchMipsIndex(Dimension, new USearchOptions { ScalarKind = USearchScalarKind.Float32, ExpansionSearch = 128 });
        Assert.That(index.Add(corpus.AsSpan(0, 1000 * Dimension), new ParallelOptions { MaxDegreeOfParallelism = threads }), Is.Zero);
        Assert.That(index.Add(corpus.AsSpan(1000 * Dimension), new ParallelOptions { MaxDegreeOfParallelism = threads }), Is.EqualTo(1000));
        Assert.That(index.Count, Is.EqualTo(n));

        var results = new ScoredId[queryCount * k];
        index.SearchBatch(queries, k, results, new ParallelOptions { MaxDegreeOfParallelism = threads });
        for (int q = 0; q < queryCount; q++)
        {
            ScoredId[] row = results.AsSpan(q * k, k).ToArray();
            Assert.That(row.Select(r => r.Id), Is.All.InRange(0, n - 1), $"query {q}");
            Assert.That(row.Select(r => r.Id).Distinct().Count(), Is.EqualTo(k), $"query {q}: distinct ids");
            for (int i = 1; i < k; i++)
            {
                Assert.That(row[i - 1].CompareTo(row[i]), Is.Negative, $"query {q}: order at {i}");
            }

            foreach (ScoredId result in row)
            {
                double dot = Dot(queries.AsSpan(q * Dimension, Dimension), corpus.AsSpan(result.Id * Dimension, Dimension));
                Assert.That(result.Score, Is.EqualTo(dot).Within(1e-5), $"query {q}, id {result.Id}");
            }
        }

        double recall = Recall(corpus, queries, results, k);
        TestContext.Out.WriteLine($"{threads} thread(s): recall@{k} = {recall:F4}");
        Assert.That(recall, Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    public void Add_OneThread_BuildsTheSameGraphEveryTime()
    {
        float[] corpus = TestVectors.UnitRows(1500, Dimension, seed: 9);
        float[] queries = TestVectors.UnitRows(40, Dimension, seed: 10);
        var sequential = new ParallelOptions { MaxDegreeOfParallelism = 1 };
        using var first = new USearchMipsIndex(Dimension);
        using var second = new USearchMipsIndex(Dimension);
        first.Add(corpus, sequential);
        second.Add(corpus, sequential);
        Assert.That(SearchAll(second, queries, 10, 32), Is.EqualTo(SearchAll(first, queries, 10, 32)));
    }

    [Test]
    public void Add_RepeatedRowsInParallel_EveryCopyIsFoundInIdOrder()
    {
        // Identical vectors inserted at the same time could leave a copy unreachable; repeats are inserted after the rest.
        for (int run = 0; run < 20; run++)
        {
            float[] vectors = TestVectors.UnitRows(300, Dimension, seed: 100 + run);
            int[] copies = [0, 3, 7, 40, 88, 150, 200, 299];
            float[] query = vectors.AsSpan(0, Dimension).ToArray();
            foreach (int copy in copies)
            {
                query.CopyTo(vectors.AsSpan(copy * Dimension, Dimension));
            }

            using var index = new USearchMipsIndex(Dimension, new USearchOptions { ScalarKind = USearchScalarKind.Float32 });
            index.Add(vectors, new ParallelOptions { MaxDegreeOfParallelism = 4 });
            var results = new ScoredId[8];
            Assert.That(index.Search(query, 8, results), Is.EqualTo(8));
            Assert.That(results.Select(r => r.Id), Is.EqualTo(copies), $"run {run}");
        }
    }

    [Test]
    public void Add_OneRowAtATime_GrowsCapacityByDoublingAndKeepsIdsDense()
    {
        float[] corpus = TestVectors.UnitRows(300, Dimension, seed: 11);
        using var index = new USearchMipsIndex(Dimension, new USearchOptions { ScalarKind = USearchScalarKind.Float32 });
        var capacities = new List<int>();
        for (int i = 0; i < 300; i++)
        {
            Assert.That(index.Add(corpus.AsSpan(i * Dimension, Dimension)), Is.EqualTo(i));
            if (capacities.Count == 0 || capacities[^1] != index.Capacity)
            {
                capacities.Add(index.Capacity);
            }
        }

        TestContext.Out.WriteLine($"capacities: {string.Join(", ", capacities)}");
        Assert.That(index.Count, Is.EqualTo(300));
        Assert.That(capacities[^1], Is.GreaterThanOrEqualTo(300));
        Assert.That(capacities.Count, Is.LessThanOrEqualTo(5), "capacity grows geometrically, not per row");

        var best = new ScoredId[1];
        for (int i = 0; i < 300; i++)
        {
            // Unit vectors: each vector's best inner product is with itself (1).
            Assert.That(index.Search(corpus.AsSpan(i * Dimension, Dimension), 1, best, 64), Is.EqualTo(1));
            Assert.That(best[0].Id, Is.EqualTo(i));
        }
    }

    [Test]
    public void Reserve_GrowsCapacity_NeverShrinks_AndRefusesNegative()
    {
        using var index = new USearchMipsIndex(Dimension);
        index.Reserve(5000);
        int reserved = index.Capacity;
        Assert.That(reserved, Is.GreaterThanOrEqualTo(5000));
        index.Reserve(10);
        Assert.That(index.Capacity, Is.EqualTo(reserved));
        index.Add(TestVectors.UnitRows(5000, Dimension, seed: 12));
        Assert.That(index.Capacity, Is.EqualTo(reserved), "no growth was needed");
        Assert.That(index.Count, Is.EqualTo(5000));
        index.Add(TestVectors.UnitRows(1, Dimension, seed: 13));
        Assert.That(index.Capacity, Is.GreaterThanOrEqualTo(5001));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => index.Reserve(-1))!.ParamName, Is.EqualTo("capacity"));
    }

    [Test]
    public void Add_ValueBeyondTheStorageRange_IsRefusedAndAddsNothing()
    {
        float[] rows = TestVectors.UnitRows(3, Dimension, seed: 14);
        rows[Dimension + 2] = 70000f;
        using (var half = new USearchMipsIndex(Dimension, new USearchOptions { ScalarKind = USearchScalarKind.Float16 }))
        {
            var e = Assert.Throws<ArgumentException>(() => half.Add(rows));
            Assert.That(e!.ParamName, Is.EqualTo("vectors"));
            Assert.That(e.Message, Does.Contain("70000").And.Contain("row 1").And.Contain("coordinate 2").And.Contain("Float16"));
            Assert.That(half.Count, Is.Zero);
            var query = Assert.Throws<ArgumentException>(() => half.Search(rows.AsSpan(Dimension, Dimension), 3, new ScoredId[3]));
            Assert.That(query!.ParamName, Is.EqualTo("query"));
            Assert.Throws<ArgumentException>(() => half.SearchBatch(rows, 3, new ScoredId[9]));
        }

        using (var single = new USearchMipsIndex(Dimension, new USearchOptions { ScalarKind = USearchScalarKind.Float32 }))
        {
            Assert.That(single.Add(rows), Is.Zero, "float32 holds 70000");
        }

        using var brain = new USearchMipsIndex(Dimension, new USearchOptions { ScalarKind = USearchScalarKind.BFloat16 });
        Assert.That(brain.Add(rows), Is.Zero, "bfloat16 has float32's range");
        rows[5] = float.MaxValue;
        var overflow = Assert.Throws<ArgumentException>(() => brain.Add(rows));
        Assert.That(overflow!.Message, Does.Contain("BFloat16").And.Contain("row 0").And.Contain("coordinate 5"));
        Assert.That(brain.Count, Is.EqualTo(3));
    }

    [Test]
    public void Add_Cancelled_AddsNothing_AndTheIndexStaysUsable()
    {
        float[] corpus = TestVectors.UnitRows(20000, Dimension, seed: 15);
        using var index = new USearchMipsIndex(Dimension, new USearchOptions { ScalarKind = USearchScalarKind.Float32 });
        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            Assert.Throws<OperationCanceledException>(() => index.Add(corpus, new ParallelOptions { CancellationToken = cancelled.Token }));
            Assert.That(index.Count, Is.Zero);
        }

        // Cancelled midway: the token is cancelled as soon as the index has reserved room for the rows (the insertion
        // loop comes next), so that 200,000 insertions cannot all finish first and the rollback path always runs.
        float[] large = TestVectors.UnitRows(200_000, Dimension, seed: 15);
        using (var midway = new CancellationTokenSource())
        {
            var canceller = Task.Run(() =>
            {
                while (index.Capacity < 200_000)
                {
                    Thread.SpinWait(100);
                }

                midway.Cancel();
            });
            Assert.Throws<OperationCanceledException>(() =>
                index.Add(large, new ParallelOptions { CancellationToken = midway.Token, MaxDegreeOfParallelism = 2 }));
            canceller.Wait();
            Assert.That(index.Count, Is.Zero, "a cancelled insertion is rolled back");
        }

        // The removed rows' slots are reused; ids stay dense and every stored vector is the new one.
        float[] fresh = TestVectors.UnitRows(500, Dimension, seed: 16);
        Assert.That(index.Add(fresh), Is.Zero);
        Assert.That(index.Count, Is.EqualTo(500));
        float[] queries = TestVectors.UnitRows(10, Dimension, seed: 17);
        var exact = new ScoredId[10 * 5];
        index.SearchExactBatch(queries, 5, exact);
        Assert.That(exact, Is.EqualTo(BruteForce(fresh, queries, 5)).Using<ScoredId>(SameIdAndScore));
        ScoredId[] approximate = SearchAll(index, queries, 5, 200);
        Assert.That(approximate.Select(r => r.Id), Is.All.InRange(0, 499));
    }

    [Test]
    public void SearchExact_EqualsBruteForce_AcrossSeveralBlocks()
    {
        // 16 MB blocks of 8192-d floats hold 512 vectors: 1300 vectors take three blocks.
        const int d = 8192, n = 1300, queryCount = 6;
        float[] corpus = TestVectors.UnitRows(n, d, seed: 18);
        float[] queries = TestVectors.UnitRows(queryCount, d, seed: 19);
        using var index = new USearchMipsIndex(d, new USearchOptions { ScalarKind = USearchScalarKind.Float32, Connectivity = 4, ExpansionAdd = 8 });
        index.Add(corpus);

        ScoredId[] expected = BruteForce(corpus, queries, 20, d);
        var batch = new ScoredId[queryCount * 20];
        index.SearchExactBatch(queries, 20, batch, new ParallelOptions { MaxDegreeOfParallelism = 2 });
        Assert.That(batch, Is.EqualTo(expected).Using<ScoredId>(SameIdAndScore));

        var single = new ScoredId[20];
        Assert.That(index.SearchExact(queries.AsSpan(0, d), 20, single), Is.EqualTo(20));
        Assert.That(single, Is.EqualTo(batch.AsSpan(0, 20).ToArray()));

        // k beyond Count: every vector, then padding.
        var all = new ScoredId[2 * 1500];
        index.SearchExactBatch(queries.AsSpan(0, 2 * d), 1500, all);
        Assert.That(all.AsSpan(0, n).ToArray().Select(r => r.Id).Distinct().Count(), Is.EqualTo(n));
        Assert.That(all.AsSpan(n, 1500 - n).ToArray(), Is.All.EqualTo(ScoredId.None));
        Assert.That(index.SearchExact(queries.AsSpan(0, d), 1500, new ScoredId[n]), Is.EqualTo(n));

        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.Throws<OperationCanceledException>(() => index.SearchExactBatch(queries, 20, batch, new ParallelOptions { CancellationToken = cancellation.Token }));
    }

    [Test]
    public void SearchExact_EmptyIndexAndBadArguments()
    {
        using var index = new USearchMipsIndex(Dimension);
        float[] query = TestVectors.UnitRows(1, Dimension, seed: 20);
        Assert.That(index.SearchExact(query, 5, []), Is.Zero);
        var batch = new ScoredId[5];
        index.SearchExactBatch(query, 5, batch);
        Assert.That(batch, Is.All.EqualTo(ScoredId.None));

        Assert.That(Assert.Throws<ArgumentException>(() => index.SearchExact(new float[Dimension + 1], 5, new ScoredId[5]))!.ParamName, Is.EqualTo("query"));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.SearchExact(query, 0, new ScoredId[5]));
        Assert.Throws<ArgumentNullException>(() => index.SearchExactBatch(query, 5, batch, null!));
        query[3] = float.NaN;
        Assert.That(Assert.Throws<ArgumentException>(() => index.SearchExactBatch(query, 5, batch))!.Message, Does.Contain("coordinate 3"));
    }

    [Test]
    public void Search_SmallK_AllocatesNothing()
    {
        float[] corpus = TestVectors.UnitRows(1000, Dimension, seed: 21);
        float[] queries = TestVectors.UnitRows(20, Dimension, seed: 22);
        using var index = new USearchMipsIndex(Dimension);
        index.Add(corpus);
        var results = new ScoredId[10];
        for (int q = 0; q < 20; q++)
        {
            index.Search(queries.AsSpan(q * Dimension, Dimension), 10, results);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int q = 0; q < 20; q++)
        {
            index.Search(queries.AsSpan(q * Dimension, Dimension), 10, results);
            index.Search(queries.AsSpan(q * Dimension, Dimension), 10, results, 100);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void Disposed_EveryMemberThrowsObjectDisposed()
    {
        var index = new USearchMipsIndex(Dimension);
        index.Add(TestVectors.UnitRows(10, Dimension, seed: 23));
        index.Dispose();
        float[] query = new float[Dimension];
        Assert.Throws<ObjectDisposedException>(() => _ = index.Capacity);
        Assert.Throws<ObjectDisposedException>(() => index.Reserve(100));
        Assert.Throws<ObjectDisposedException>(() => index.Add(query, new ParallelOptions()));
        Assert.Throws<ObjectDisposedException>(() => index.SearchBatch(query, 1, new ScoredId[1]));
        Assert.Throws<ObjectDisposedException>(() => index.SearchExact(query, 1, new ScoredId[1]));
        Assert.Throws<ObjectDisposedException>(() => index.SearchExactBatch(query, 1, new ScoredId[1]));
        Assert.Throws<ObjectDisposedException>(() => index.Save(Path.Combine(_directory, "disposed.idx")));
        Assert.That(index.Count, Is.EqualTo(10), "plain properties stay readable");
    }

    private static IEnumerable<TestCaseData> Tampering()
    {
        static TestCaseData Case(string name, string message, Action<byte[], FileLayout> edit) =>
            new TestCaseData(edit, message).SetArgDisplayNames(name);

        yield return Case("neighbour slot out of range", "does not exist", (f, l) => WriteU32(f, l.Node(0) + 14, 0xFFFF_FFF0));
        yield return Case("neighbour count above capacity", "more than", (f, l) => WriteU32(f, l.Node(0) + 10, (uint)(2 * l.Connectivity + 1)));
        yield return Case("upper-level link to a base-level node", "not on that level", (f, l) =>
        {
            int high = l.FirstSlotAtLevel(1);
            int low = l.FirstSlotAtLevel(0, exactly: true);
            int upper = l.Node(high) + 10 + (4 * (1 + (2 * l.Connectivity)));
            WriteU32(f, upper, 1);
            WriteU32(f, upper + 4, (uint)low);
        });
        yield return Case("duplicate key", "a duplicate", (f, l) => BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(l.Node(1)), BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(l.Node(0)))));
        yield return Case("key beyond count", "outside the ids", (f, l) => BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(l.Node(0)), (ulong)l.Size));
        yield return Case("node level differs from the table", "level table", (f, l) => BinaryPrimitives.WriteInt16LittleEndian(f.AsSpan(l.Node(l.FirstSlotAtLevel(0, exactly: true)) + 8), 1));
        yield return Case("level above the max level", "outside", (f, l) => BinaryPrimitives.WriteInt16LittleEndian(f.AsSpan(l.Levels), (short)(l.MaxLevel + 1)));
        yield return Case("entry slot out of range", "entry slot", (f, l) => BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(l.Graph + 32), (ulong)l.Size));
        yield return Case("graph size differs", "nodes", (f, l) => BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(l.Graph), (ulong)l.Size - 1));
        yield return Case("graph connectivity differs", "connectivity", (f, l) => BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(l.Graph + 8), 5));
        yield return Case("head count differs", "present", (f, l) => BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(l.Head + 17), (ulong)l.Size - 1));
        yield return Case("head metric cosine", "kinds", (f, l) => f[l.Head + 13] = (byte)'c');
        yield return Case("head magic", "magic", (f, l) => f[l.Head] = (byte)'U');
        yield return Case("head major version", "major version", (f, l) => BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(l.Head + 7), 3));
        yield return Case("head reserved bytes", "after the multi flag", (f, l) => f[l.Head + 50] = 1);
        yield return Case("row size differs", "vector rows", (f, l) => WriteU32(f, 68, (uint)(4 * Dimension + 4)));
        yield return Case("row count huge", "remain", (f, l) => WriteU32(f, 64, 0x7FFF_FFFF));
        yield return Case("NaN coordinate", "NaN", (f, l) => WriteU32(f, 72 + 8, 0x7FC0_0000));
        yield return Case("bytes after the last node", "after the last node", (f, l) => { });
    }

    [TestCaseSource(nameof(Tampering))]
    public void Load_TamperedPayloadWithValidChecksums_ThrowsInvalidDataBeforeNativeCode(Action<byte[], FileLayout> edit, string message)
    {
        // Checksums catch accidents, not intent: a crafted file with recomputed checksums must still be refused.
        using var index = new USearchMipsIndex(8, new USearchOptions { ScalarKind = USearchScalarKind.Float32, Connectivity = 4 });
        index.Add(TestVectors.UnitRows(200, 8, seed: 24));
        string path = Path.Combine(_directory, "tamper-source.idx");
        index.Save(path);
        byte[] file = File.ReadAllBytes(path);
        var layout = new FileLayout(file);
        edit(file, layout);
        if (message == "after the last node")
        {
            file = [.. file, 0, 0, 0, 0];
        }

        Reseal(file);
        string damaged = Path.Combine(_directory, "tampered.idx");
        File.WriteAllBytes(damaged, file);
        var loaded = Assert.Throws<InvalidDataException>(() => USearchMipsIndex.Load(damaged).Dispose());
        Assert.That(loaded!.Message, Does.Contain(message));
        Assert.Throws<InvalidDataException>(() => USearchMipsIndex.View(damaged).Dispose());
    }

    [TestCase(10, (ushort)3, "scalar kind")]
    [TestCase(12, (ushort)0, "dimension")]
    [TestCase(8, (ushort)2, "format version")]
    [TestCase(36, (ushort)1, "reserved")]
    [TestCase(24, (ushort)1, "options out of range")]
    public void Load_TamperedHeaderWithValidChecksum_ThrowsNamingTheField(int offset, ushort value, string message)
    {
        using var index = new USearchMipsIndex(8);
        index.Add(TestVectors.UnitRows(20, 8, seed: 25));
        string path = Path.Combine(_directory, "header-source.idx");
        index.Save(path);
        byte[] file = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(offset), value);
        if (offset == 12 || offset == 24)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(offset + 2), 0);
        }

        Reseal(file);
        string damaged = Path.Combine(_directory, "header.idx");
        File.WriteAllBytes(damaged, file);
        Assert.That(Assert.Throws<InvalidDataException>(() => USearchMipsIndex.Load(damaged).Dispose())!.Message, Does.Contain(message));
    }

    [Test]
    public void Save_EmptyIndex_RoundTrips()
    {
        using var index = new USearchMipsIndex(Dimension, new USearchOptions { ScalarKind = USearchScalarKind.BFloat16, Connectivity = 5 });
        string path = Path.Combine(_directory, "empty.idx");
        index.Save(path);
        using USearchMipsIndex loaded = USearchMipsIndex.Load(path);
        Assert.That(loaded.Count, Is.Zero);
        Assert.That(loaded.Options, Is.EqualTo(index.Options));
        Assert.That(loaded.Add(TestVectors.UnitRows(5, Dimension, seed: 26)), Is.Zero);
        Assert.That(loaded.Count, Is.EqualTo(5));
        using USearchMipsIndex view = USearchMipsIndex.View(path);
        Assert.That(view.Search(new float[Dimension], 3, []), Is.Zero);
    }

    private static bool SameIdAndScore(ScoredId a, ScoredId b) => a.Id == b.Id && Math.Abs(a.Score - b.Score) <= 1e-4;

    private static ScoredId[] SearchAll(USearchMipsIndex index, float[] queries, int k, int expansionSearch)
    {
        var results = new ScoredId[queries.Length / index.Dimension * k];
        index.SearchBatch(queries, k, results, expansionSearch, new ParallelOptions());
        return results;
    }

    private static double Recall(float[] corpus, float[] queries, ScoredId[] results, int k)
    {
        ScoredId[] truth = BruteForce(corpus, queries, k);
        int queryCount = queries.Length / Dimension;
        int hits = 0;
        for (int q = 0; q < queryCount; q++)
        {
            hits += results.AsSpan(q * k, k).ToArray().Select(r => r.Id).Intersect(truth.AsSpan(q * k, k).ToArray().Select(r => r.Id)).Count();
        }

        return hits / (double)(queryCount * k);
    }

    private static ScoredId[] BruteForce(float[] corpus, float[] queries, int k, int dimension = Dimension)
    {
        int n = corpus.Length / dimension, queryCount = queries.Length / dimension;
        var results = new ScoredId[queryCount * k];
        for (int q = 0; q < queryCount; q++)
        {
            float[] query = queries.AsSpan(q * dimension, dimension).ToArray();
            ScoredId[] best = Enumerable.Range(0, n)
                .Select(i => new ScoredId(i, (float)Dot(query, corpus.AsSpan(i * dimension, dimension))))
                .OrderBy(s => s).Take(k).ToArray();
            best.CopyTo(results, q * k);
        }

        return results;
    }

    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += (double)a[i] * b[i];
        }

        return sum;
    }

    // The inner product USearch computes for a stored vector: both sides rounded to the storage kind (round to nearest
    // even), products summed exactly enough in double.
    private static double QuantizedDot(ReadOnlySpan<float> query, ReadOnlySpan<float> stored, USearchScalarKind kind)
    {
        double sum = 0;
        for (int i = 0; i < query.Length; i++)
        {
            sum += (double)Quantize(query[i], kind) * Quantize(stored[i], kind);
        }

        return sum;
    }

    private static float Quantize(float value, USearchScalarKind kind)
    {
        switch (kind)
        {
            case USearchScalarKind.Float16:
                return (float)(Half)value;
            case USearchScalarKind.BFloat16:
                uint bits = BitConverter.SingleToUInt32Bits(value);
                bits += 0x7FFF + ((bits >> 16) & 1);
                return BitConverter.UInt32BitsToSingle(bits & 0xFFFF_0000);
            default:
                return value;
        }
    }

    private static void WriteU32(byte[] file, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(offset), value);

    // Recomputes what a forger would: the payload length, the payload checksum and the header checksum.
    private static void Reseal(byte[] file)
    {
        BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(40), file.Length - 64);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(48), TestVectors.Fnv1a64(file.AsSpan(64)));
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(56), TestVectors.Fnv1a64(file.AsSpan(0, 56)));
    }

    /// <summary>Offsets inside a saved file (64-byte header, then USearch's serialization).</summary>
    public sealed class FileLayout
    {
        private readonly int[] _nodes;
        private readonly short[] _levels;

        public FileLayout(byte[] file)
        {
            uint rows = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(64));
            uint rowBytes = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(68));
            Head = 72 + (int)(rows * rowBytes);
            Graph = Head + 64;
            Size = (int)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(Graph));
            Connectivity = (int)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(Graph + 8));
            MaxLevel = (int)BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(Graph + 24));
            Levels = Graph + 40;
            _levels = new short[Size];
            _nodes = new int[Size];
            int at = Levels + (2 * Size);
            for (int slot = 0; slot < Size; slot++)
            {
                _levels[slot] = BinaryPrimitives.ReadInt16LittleEndian(file.AsSpan(Levels + (2 * slot)));
                _nodes[slot] = at;
                at += 10 + (4 * (1 + (2 * Connectivity))) + (_levels[slot] * 4 * (1 + Connectivity));
            }
        }

        public int Head { get; }

        public int Graph { get; }

        public int Levels { get; }

        public int Size { get; }

        public int Connectivity { get; }

        public int MaxLevel { get; }

        public int Node(int slot) => _nodes[slot];

        public int FirstSlotAtLevel(int level, bool exactly = false) =>
            Array.FindIndex(_levels, l => exactly ? l == level : l >= level);
    }
}
