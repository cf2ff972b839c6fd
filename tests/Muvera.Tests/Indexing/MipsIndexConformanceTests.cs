// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Indexing;

/// <summary>
/// The contract every <see cref="IMipsIndex"/> backend must meet. A backend's fixture derives from this class and says
/// how to create and load its index; <see cref="MipsConformanceCoverageTests"/> fails when a backend has no fixture.
/// Exact backends must equal double-precision brute force (up to <see cref="ScoreTolerance"/>); approximate ones must
/// reach <see cref="RecallFloor"/>, whose reason <see cref="RecallFloorReason"/> states.
/// </summary>
/// <typeparam name="TIndex">The backend type.</typeparam>
public abstract class MipsIndexConformanceTests<TIndex>
    where TIndex : class, IMipsIndex
{
    /// <summary>The suite's vector length (a multiple of 8, so product quantizers can split it).</summary>
    protected const int Dimension = 64;

    private const int CorpusSize = 1500;
    private const int QueryCount = 40;
    private const int K = 10;

    private float[] _corpus = [];
    private float[] _queries = [];
    private string _directory = "";

    /// <summary>Creates an empty index of the given dimension with the fixture's settings.</summary>
    protected abstract TIndex Create(int dimension);

    /// <summary>Loads what <see cref="IMipsIndex.Save(string)"/> wrote.</summary>
    protected abstract TIndex Load(string path);

    /// <summary>Whether the backend can run here (its native library loads). A backend that cannot run is reported
    /// skipped, except under CI (<c>CI=true</c>), where that is a failure.</summary>
    protected virtual bool IsAvailable(out string reason)
    {
        reason = "";
        return true;
    }

    /// <summary>The largest allowed difference between a returned score and the exact inner product (unit vectors).</summary>
    protected virtual double ScoreTolerance => 1e-5;

    /// <summary>The minimum recall@10 against brute force; 1 for exact backends.</summary>
    protected virtual double RecallFloor => 1.0;

    /// <summary>Why <see cref="RecallFloor"/> is what it is.</summary>
    protected virtual string RecallFloorReason => "an exact backend returns the brute-force top k";

    /// <summary>Called before training-dependent backends are searched: adds the suite's corpus. Backends that must be
    /// trained (IVF, PQ) train on the vectors given here.</summary>
    protected virtual void Populate(TIndex index, ReadOnlySpan<float> vectors) => index.Add(vectors);

    [OneTimeSetUp]
    public void OneTimeSetUpConformance()
    {
        if (!IsAvailable(out string reason))
        {
            string message = $"{typeof(TIndex).Name} is not available on this machine: {reason}";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(message + " (CI=true: every backend must run in CI)");
            }

            Assert.Ignore(message);
        }

        _corpus = TestVectors.UnitRows(CorpusSize, Dimension, seed: 11);
        _queries = TestVectors.UnitRows(QueryCount, Dimension, seed: 12);
        _directory = Path.Combine(Path.GetTempPath(), "muvera-mips-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [OneTimeTearDown]
    public void OneTimeTearDownConformance()
    {
        if (_directory.Length > 0 && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Test]
    public void NewIndex_IsEmpty_AndSearchFindsNothing()
    {
        using TIndex index = Create(Dimension);
        Assert.That(index.Dimension, Is.EqualTo(Dimension));
        Assert.That(index.Count, Is.Zero);
        Assert.That(index.Search(_queries.AsSpan(0, Dimension), K, new ScoredId[K]), Is.Zero);

        var batch = new ScoredId[2 * K];
        index.SearchBatch(_queries.AsSpan(0, 2 * Dimension), K, batch);
        Assert.That(batch, Is.All.EqualTo(ScoredId.None));
    }

    [Test]
    public void Add_AssignsDenseOrdinals()
    {
        using TIndex index = Build();
        Assert.That(index.Count, Is.EqualTo(CorpusSize));
        Assert.That(index.Add(_corpus.AsSpan(0, 3 * Dimension)), Is.EqualTo(CorpusSize));
        Assert.That(index.Add([]), Is.EqualTo(CorpusSize + 3));
        Assert.That(index.Count, Is.EqualTo(CorpusSize + 3));
    }

    [Test]
    public void Search_MatchesBruteForce_OrMeetsTheRecallFloor()
    {
        using TIndex index = Build();
        var results = new ScoredId[K];
        double recall = 0;
        for (int q = 0; q < QueryCount; q++)
        {
            ReadOnlySpan<float> query = Query(q);
            int found = index.Search(query, K, results);
            ScoredId[] expected = BruteForce(query, K);
            AssertWellFormed(results.AsSpan(0, found), index.Count);
            AssertScoresAreInnerProducts(query, results.AsSpan(0, found));
            if (index.IsExact)
            {
                Assert.That(found, Is.EqualTo(K));
                for (int i = 0; i < K; i++)
                {
                    // The i-th result's true score equals the i-th best true score (ids may swap only within ties).
                    Assert.That(TrueScore(query, results[i].Id), Is.EqualTo(expected[i].Score).Within(2 * ScoreTolerance), $"query {q}, rank {i}");
                }
            }

            recall += results.Take(found).Select(r => r.Id).Intersect(expected.Select(e => e.Id)).Count() / (double)K;
        }

        recall /= QueryCount;
        TestContext.Out.WriteLine($"{GetType().Name}: recall@{K} = {recall:F4} (floor {RecallFloor}: {RecallFloorReason})");
        Assert.That(recall, Is.GreaterThanOrEqualTo(RecallFloor), RecallFloorReason);
    }

    [Test]
    public void Search_KLargerThanCount_ReturnsEveryVectorAtMost()
    {
        using TIndex index = Create(Dimension);
        Populate(index, _corpus.AsSpan(0, 300 * Dimension));
        var results = new ScoredId[400];
        int found = index.Search(Query(0), 400, results);
        Assert.That(found, Is.LessThanOrEqualTo(300));
        if (index.IsExact)
        {
            Assert.That(found, Is.EqualTo(300));
        }

        AssertWellFormed(results.AsSpan(0, found), 300);

        var batch = new ScoredId[2 * 400];
        index.SearchBatch(_queries.AsSpan(0, 2 * Dimension), 400, batch);
        Assert.That(batch.AsSpan(found, 400 - found).ToArray(), Is.All.EqualTo(ScoredId.None));
    }

    [Test]
    public void Ties_GoToTheLowerId()
    {
        // Eight copies of one vector among others: equal scores must come out in id order.
        using TIndex index = Create(Dimension);
        float[] vectors = TestVectors.UnitRows(300, Dimension, seed: 21);
        float[] query = vectors.AsSpan(0, Dimension).ToArray();
        foreach (int copy in new[] { 40, 7, 150, 299, 3, 88, 200 })
        {
            query.CopyTo(vectors.AsSpan(copy * Dimension, Dimension));
        }

        Populate(index, vectors);
        var results = new ScoredId[8];
        int found = index.Search(query, 8, results);
        Assert.That(found, Is.EqualTo(8));
        Assert.That(results.Select(r => r.Id), Is.EqualTo(new[] { 0, 3, 7, 40, 88, 150, 200, 299 }));
        Assert.That(results.Select(r => r.Score).Distinct().Count(), Is.EqualTo(1), "copies of one vector score alike");
    }

    [Test]
    public void SearchBatch_EqualsSingleSearches_AtEveryThreadCount()
    {
        using TIndex index = Build();
        ScoredId[] single = new ScoredId[QueryCount * K];
        for (int q = 0; q < QueryCount; q++)
        {
            int found = index.Search(Query(q), K, single.AsSpan(q * K, K));
            single.AsSpan(q * K + found, K - found).Fill(ScoredId.None);
        }

        foreach (int threads in new[] { 1, 2, 4 })
        {
            var batch = new ScoredId[QueryCount * K];
            index.SearchBatch(_queries, K, batch, new ParallelOptions { MaxDegreeOfParallelism = threads });
            Assert.That(batch, Is.EqualTo(single), $"{threads} threads");
        }

        var defaults = new ScoredId[QueryCount * K];
        index.SearchBatch(_queries, K, defaults);
        Assert.That(defaults, Is.EqualTo(single));
    }

    [Test]
    public void ConcurrentSearches_AgreeWithSequentialOnes()
    {
        using TIndex index = Build();
        ScoredId[][] expected = Enumerable.Range(0, QueryCount).Select(q => SearchArray(index, q)).ToArray();
        var failures = 0;
        Parallel.For(0, 4 * QueryCount, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            if (!SearchArray(index, i % QueryCount).SequenceEqual(expected[i % QueryCount]))
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.That(failures, Is.Zero);
    }

    [Test]
    public void AddInPieces_EqualsAddAtOnce()
    {
        using TIndex whole = Build();
        using TIndex pieces = Create(Dimension);
        Populate(pieces, _corpus.AsSpan(0, 1000 * Dimension));
        pieces.Add(_corpus.AsSpan(1000 * Dimension, 1 * Dimension));
        pieces.Add(_corpus.AsSpan(1001 * Dimension));
        Assert.That(pieces.Count, Is.EqualTo(whole.Count));
        if (whole.IsExact)
        {
            for (int q = 0; q < QueryCount; q++)
            {
                Assert.That(SearchArray(pieces, q), Is.EqualTo(SearchArray(whole, q)), $"query {q}");
            }
        }
    }

    [Test]
    public void SaveLoad_RoundTrips_WithIdenticalResults()
    {
        using TIndex index = Build();
        string path = Path.Combine(_directory, "roundtrip.idx");
        index.Save(path);
        Assert.That(File.Exists(path + ".tmp"), Is.False, "no temporary file is left behind");
        using TIndex loaded = Load(path);
        Assert.That(loaded.Dimension, Is.EqualTo(Dimension));
        Assert.That(loaded.Count, Is.EqualTo(index.Count));
        Assert.That(loaded.IsExact, Is.EqualTo(index.IsExact));
        for (int q = 0; q < QueryCount; q++)
        {
            Assert.That(SearchArray(loaded, q), Is.EqualTo(SearchArray(index, q)), $"query {q}");
        }

        // Saving over an existing file replaces it.
        index.Add(_corpus.AsSpan(0, Dimension));
        index.Save(path);
        using TIndex reloaded = Load(path);
        Assert.That(reloaded.Count, Is.EqualTo(CorpusSize + 1));
    }

    [Test]
    public void Load_TruncatedOrCorruptFile_ThrowsInvalidData()
    {
        using TIndex index = Create(Dimension);
        Populate(index, _corpus.AsSpan(0, 300 * Dimension));
        string path = Path.Combine(_directory, "corrupt-source.idx");
        index.Save(path);
        byte[] original = File.ReadAllBytes(path);
        string damaged = Path.Combine(_directory, "corrupt.idx");
        var random = new Random(5);

        var lengths = new List<int> { 0, 1, 7, 8, 16, 63, 64, original.Length - 1 };
        lengths.AddRange(Enumerable.Range(1, 12).Select(i => (int)((long)original.Length * i / 13)));
        foreach (int length in lengths.Distinct())
        {
            File.WriteAllBytes(damaged, original.AsSpan(0, length).ToArray());
            Assert.Throws<InvalidDataException>(() => Load(damaged).Dispose(), $"truncated to {length} of {original.Length} bytes");
        }

        var positions = Enumerable.Range(0, 96).Select(i => i < 64 ? i : random.Next(original.Length));
        foreach (int position in positions)
        {
            byte[] flipped = (byte[])original.Clone();
            flipped[position] ^= (byte)(1 << random.Next(8));
            File.WriteAllBytes(damaged, flipped);
            Assert.Throws<InvalidDataException>(() => Load(damaged).Dispose(), $"bit flipped at byte {position} of {original.Length}");
        }

        File.WriteAllBytes(damaged, [.. original, 0]);
        Assert.Throws<InvalidDataException>(() => Load(damaged).Dispose(), "a trailing byte");
    }

    [Test]
    public void Load_MissingFile_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => Load(Path.Combine(_directory, "missing.idx")).Dispose());
    }

    [Test]
    public void BadArguments_AreRefused_WithClearMessages()
    {
        using TIndex index = Build();
        var results = new ScoredId[K];

        var wrongLength = Assert.Throws<ArgumentException>(() => index.Search(new float[Dimension - 1], K, results));
        Assert.That(wrongLength!.ParamName, Is.EqualTo("query"));
        Assert.That(wrongLength.Message, Does.Contain((Dimension - 1).ToString()).And.Contain(Dimension.ToString()));

        float[] nan = Query(0).ToArray();
        nan[5] = float.NaN;
        var nonFinite = Assert.Throws<ArgumentException>(() => index.Search(nan, K, results));
        Assert.That(nonFinite!.Message, Does.Contain("non-finite").And.Contain("coordinate 5"));

        float[] infinite = Query(1).ToArray();
        infinite[Dimension - 1] = float.PositiveInfinity;
        Assert.Throws<ArgumentException>(() => index.SearchBatch([.. Query(0), .. infinite], K, new ScoredId[2 * K]));

        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search(Query(0), 0, results));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.SearchBatch(Query(0), -1, results));
        var tooShort = Assert.Throws<ArgumentException>(() => index.Search(Query(0), K, new ScoredId[K - 1]));
        Assert.That(tooShort!.ParamName, Is.EqualTo("results"));
        Assert.Throws<ArgumentException>(() => index.SearchBatch(_queries.AsSpan(0, 2 * Dimension), K, new ScoredId[2 * K - 1]));
        Assert.Throws<ArgumentException>(() => index.SearchBatch(new float[Dimension + 1], K, new ScoredId[2 * K]));
        Assert.Throws<ArgumentNullException>(() => index.SearchBatch(Query(0), K, results, null!));

        int count = index.Count;
        float[] bad = _corpus.AsSpan(0, 2 * Dimension).ToArray();
        bad[Dimension + 3] = float.NaN;
        var badAdd = Assert.Throws<ArgumentException>(() => index.Add(bad));
        Assert.That(badAdd!.Message, Does.Contain("row 1").And.Contain("coordinate 3"));
        Assert.Throws<ArgumentException>(() => index.Add(new float[Dimension + 2]));
        Assert.That(index.Count, Is.EqualTo(count), "a refused add adds nothing");
    }

    [Test]
    public void SearchBatch_Cancelled_Throws()
    {
        using TIndex index = Build();
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        var options = new ParallelOptions { CancellationToken = cancellation.Token };
        Assert.Throws<OperationCanceledException>(() => index.SearchBatch(_queries, K, new ScoredId[QueryCount * K], options));
    }

    [Test]
    public void Dispose_IsIdempotent_AndLaterUseThrows()
    {
        TIndex index = Build();
        index.Dispose();
        index.Dispose();
        Assert.Throws<ObjectDisposedException>(() => index.Search(Query(0), K, new ScoredId[K]));
        Assert.Throws<ObjectDisposedException>(() => index.Add(Query(0)));
    }

    private TIndex Build()
    {
        TIndex index = Create(Dimension);
        Populate(index, _corpus);
        return index;
    }

    private ReadOnlySpan<float> Query(int q) => _queries.AsSpan(q * Dimension, Dimension);

    private ScoredId[] SearchArray(TIndex index, int q)
    {
        var results = new ScoredId[K];
        int found = index.Search(Query(q), K, results);
        return results[..found];
    }

    private double TrueScore(ReadOnlySpan<float> query, int id)
    {
        ReadOnlySpan<float> row = _corpus.AsSpan(id * Dimension, Dimension);
        double dot = 0;
        for (int j = 0; j < Dimension; j++)
        {
            dot += (double)query[j] * row[j];
        }

        return dot;
    }

    private ScoredId[] BruteForce(ReadOnlySpan<float> query, int k)
    {
        var all = new (int Id, double Score)[CorpusSize];
        for (int i = 0; i < CorpusSize; i++)
        {
            all[i] = (i, TrueScore(query, i));
        }

        return all.OrderByDescending(s => s.Score).ThenBy(s => s.Id).Take(k).Select(s => new ScoredId(s.Id, (float)s.Score)).ToArray();
    }

    private void AssertScoresAreInnerProducts(ReadOnlySpan<float> query, ReadOnlySpan<ScoredId> results)
    {
        foreach (ScoredId result in results)
        {
            Assert.That(result.Score, Is.EqualTo(TrueScore(query, result.Id)).Within(ScoreTolerance), $"score of id {result.Id}");
        }
    }

    private static void AssertWellFormed(ReadOnlySpan<ScoredId> results, int count)
    {
        for (int i = 0; i < results.Length; i++)
        {
            Assert.That(results[i].Id, Is.InRange(0, count - 1));
            if (i > 0)
            {
                Assert.That(results[i - 1].CompareTo(results[i]), Is.Negative, $"results out of order at {i}");
            }
        }
    }
}
