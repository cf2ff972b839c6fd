// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Faiss;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Indexing;

/// <summary>FAISS-specific behaviour beyond the conformance suite: factory validation, training, per-call search
/// parameters, thread counts, native errors and hostile files.</summary>
public sealed class FaissMipsIndexTests
{
    private const int Dimension = 64;
    private const int K = 10;

    private float[] _corpus = [];
    private float[] _queries = [];
    private string _directory = "";

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        if (!FaissTestSupport.IsAvailable(out string reason))
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail($"FAISS is not available: {reason} (CI=true: the FAISS backend must run in CI)");
            }

            Assert.Ignore($"FAISS is not available: {reason}");
        }

        _corpus = TestVectors.UnitRows(1500, Dimension, seed: 31);
        _queries = TestVectors.UnitRows(40, Dimension, seed: 32);
        _directory = Path.Combine(Path.GetTempPath(), "muvera-faiss-" + Guid.NewGuid().ToString("N"));
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
    public void IsSupported_WhenTheLibraryLoads_HasNoReason()
    {
        Assert.That(FaissMipsIndex.IsSupported, Is.True);
        Assert.That(FaissMipsIndex.UnsupportedReason, Is.Null);
    }

    [TestCase("Flat", true, true)]
    [TestCase("HNSW32", false, true)]
    [TestCase("IVF16,PQ16x8", false, false)]
    [TestCase("PQ16x8", false, false)]
    [TestCase("IVF16,Flat", false, false)]
    [TestCase("HNSW32,Flat", false, true)]
    public void Create_SupportedFactory_ReportsExactnessAndTraining(string factory, bool exact, bool trained)
    {
        using FaissMipsIndex index = FaissMipsIndex.Create(Dimension, factory);
        Assert.That(index.Factory, Is.EqualTo(factory));
        Assert.That(index.Dimension, Is.EqualTo(Dimension));
        Assert.That(index.Count, Is.Zero);
        Assert.That(index.IsExact, Is.EqualTo(exact));
        Assert.That(index.IsTrained, Is.EqualTo(trained));
    }

    [TestCase("NoSuchIndex", "could not parse")]
    [TestCase("PQ7x8", "")]
    [TestCase("HNSW32,PQ8", "inner product")]
    [TestCase("IDMap,Flat", "IDMap")]
    [TestCase("IDMap2,HNSW32", "IDMap")]
    [TestCase("LSH", "")]
    public void Create_UnsupportedFactory_ThrowsArgumentException_NamingTheString(string factory, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => FaissMipsIndex.Create(Dimension, factory).Dispose());
        Assert.That(e!.ParamName, Is.EqualTo("factory"));
        Assert.That(e.Message, Does.Contain($"'{factory}'").And.Contain(reason));
        Assert.That(e.InnerException, Is.TypeOf<FaissException>());
        Assert.That(((FaissException)e.InnerException!).NativeMessage, Is.Not.Null.And.Not.Empty);
    }

    [Test]
    public void Create_BadArguments_AreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FaissMipsIndex.Create(0, "Flat"));
        Assert.Throws<ArgumentNullException>(() => FaissMipsIndex.Create(Dimension, null!));
        Assert.Throws<ArgumentException>(() => FaissMipsIndex.Create(Dimension, " "));
        Assert.Throws<ArgumentException>(() => FaissMipsIndex.Create(Dimension, "Flat\0"));
        var tooLong = Assert.Throws<ArgumentException>(() => FaissMipsIndex.Create(Dimension, new string('F', 257)));
        Assert.That(tooLong!.Message, Does.Contain("257"));
    }

    [Test]
    public void Add_Untrained_ThrowsInvalidOperation()
    {
        using FaissMipsIndex index = FaissMipsIndex.Create(Dimension, "IVF16,PQ16x8");
        var e = Assert.Throws<InvalidOperationException>(() => index.Add(_corpus.AsSpan(0, 10 * Dimension)));
        Assert.That(e!.Message, Does.Contain("not trained").And.Contain("IVF16,PQ16x8"));
        Assert.That(index.Add([]), Is.Zero, "an empty add needs no training");
        Assert.That(index.Count, Is.Zero);
    }

    [Test]
    public void Train_TooFewVectors_SurfacesTheNativeErrorAsFaissException()
    {
        using FaissMipsIndex index = FaissMipsIndex.Create(Dimension, "IVF16,Flat");
        var e = Assert.Throws<FaissException>(() => index.Train(_corpus.AsSpan(0, 10 * Dimension)));
        Assert.That(e!.Status, Is.EqualTo("FAISS error"));
        Assert.That(e.NativeMessage, Does.Contain("Number of training points (10) should be at least as large as number of clusters (16)"));
        Assert.That(e.Message, Does.Contain(e.NativeMessage!).And.Contain("IVF16,Flat"));
        Assert.That(index.IsTrained, Is.False);
    }

    [Test]
    public void Train_BadArguments_AreRefused()
    {
        using FaissMipsIndex index = FaissMipsIndex.Create(Dimension, "IVF16,Flat");
        Assert.Throws<ArgumentException>(() => index.Train([]));
        Assert.Throws<ArgumentException>(() => index.Train(new float[Dimension + 1]));
        Assert.Throws<ArgumentNullException>(() => index.Train(_corpus, null!));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => index.Train(_corpus, new ParallelOptions { CancellationToken = cancelled.Token }));
        Assert.That(index.IsTrained, Is.False);

        index.Train(_corpus, FaissTestSupport.OneThread);
        index.Add(_corpus.AsSpan(0, 100 * Dimension));
        var e = Assert.Throws<InvalidOperationException>(() => index.Train(_corpus));
        Assert.That(e!.Message, Does.Contain("100 vectors"));
    }

    [Test]
    public void SearchParameters_Nprobe_ChangesResultsPerCall()
    {
        using FaissMipsIndex flat = Build("Flat");
        using FaissMipsIndex ivf = Build("IVF16,Flat");
        Assert.That(ivf.DefaultSearchParameters, Is.EqualTo(new FaissSearchParameters { Nprobe = 1 }), "FAISS's default nprobe");

        ScoredId[] exact = SearchAll(flat, null);
        ScoredId[] oneList = SearchAll(ivf, new FaissSearchParameters { Nprobe = 1 });
        ScoredId[] allLists = SearchAll(ivf, new FaissSearchParameters { Nprobe = 16 });
        ScoredId[] beyond = SearchAll(ivf, new FaissSearchParameters { Nprobe = 1000 });
        Assert.That(allLists.Select(r => r.Id), Is.EqualTo(exact.Select(r => r.Id)), "IVF-Flat over every list is exhaustive");
        Assert.That(beyond, Is.EqualTo(allLists), "nprobe above the list count scans every list");
        double recallOne = Recall(oneList, exact);
        TestContext.Out.WriteLine($"IVF16,Flat recall@{K}: nprobe 1 = {recallOne:F4}, nprobe 16 = 1");
        Assert.That(recallOne, Is.LessThan(0.9), "one list of 16 misses neighbours of random vectors");
        Assert.That(SearchAll(ivf, null), Is.EqualTo(oneList), "per-call values leave the defaults alone");

        ivf.DefaultSearchParameters = new FaissSearchParameters { Nprobe = 16 };
        Assert.That(SearchAll(ivf, null), Is.EqualTo(allLists));
        Assert.That(SearchAll(ivf, new FaissSearchParameters()), Is.EqualTo(allLists), "null properties take the defaults");
    }

    [Test]
    public void SearchParameters_EfSearch_ChangesResultsPerCall()
    {
        using FaissMipsIndex flat = Build("Flat");
        using FaissMipsIndex hnsw = Build("HNSW32");
        Assert.That(hnsw.DefaultSearchParameters, Is.EqualTo(new FaissSearchParameters { EfSearch = 16 }), "FAISS's default efSearch");
        ScoredId[] exact = SearchAll(flat, null);
        double narrow = Recall(SearchAll(hnsw, new FaissSearchParameters { EfSearch = K }), exact);
        double wide = Recall(SearchAll(hnsw, new FaissSearchParameters { EfSearch = 256 }), exact);
        TestContext.Out.WriteLine($"HNSW32 recall@{K}: efSearch {K} = {narrow:F4}, efSearch 256 = {wide:F4}");
        Assert.That(wide, Is.GreaterThan(narrow));
        Assert.That(wide, Is.GreaterThanOrEqualTo(0.99));
    }

    [Test]
    public void SearchParameters_ThatDoNotApply_AreRefused()
    {
        using FaissMipsIndex flat = Build("Flat");
        using FaissMipsIndex hnsw = Build("HNSW32");
        var results = new ScoredId[K];
        var nprobe = new FaissSearchParameters { Nprobe = 4 };
        var efSearch = new FaissSearchParameters { EfSearch = 32 };
        var e = Assert.Throws<ArgumentException>(() => flat.Search(Query(0), K, results, nprobe));
        Assert.That(e!.ParamName, Is.EqualTo("parameters"));
        Assert.That(e.Message, Does.Contain("Nprobe").And.Contain("'Flat'"));
        Assert.Throws<ArgumentException>(() => hnsw.SearchBatch(_queries, K, new ScoredId[40 * K], nprobe));
        Assert.Throws<ArgumentException>(() => flat.Search(Query(0), K, results, efSearch));
        Assert.Throws<ArgumentException>(() => flat.DefaultSearchParameters = efSearch);
        Assert.Throws<ArgumentNullException>(() => flat.Search(Query(0), K, results, null!));
        Assert.Throws<ArgumentNullException>(() => flat.DefaultSearchParameters = null!);
        Assert.That(flat.DefaultSearchParameters, Is.EqualTo(new FaissSearchParameters()));
    }

    [Test]
    public void SearchParameters_NonPositiveValues_AreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new FaissSearchParameters { Nprobe = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new FaissSearchParameters { EfSearch = -1 });
        Assert.That(new FaissSearchParameters { Nprobe = 3 } with { EfSearch = 9 }, Is.EqualTo(new FaissSearchParameters { Nprobe = 3, EfSearch = 9 }));
    }

    [Test]
    public void ConcurrentSearches_WithDifferentNprobe_DoNotInterfere()
    {
        using FaissMipsIndex ivf = Build("IVF16,PQ16x8");
        FaissSearchParameters[] settings = [new() { Nprobe = 1 }, new() { Nprobe = 4 }, new() { Nprobe = 16 }];
        ScoredId[][] expected = settings.Select(p => SearchAll(ivf, p)).ToArray();
        Assert.That(expected[0], Is.Not.EqualTo(expected[2]), "the settings give different results");
        int failures = 0;
        Parallel.For(0, 60, new ParallelOptions { MaxDegreeOfParallelism = 6 }, i =>
        {
            if (!SearchAll(ivf, settings[i % 3]).SequenceEqual(expected[i % 3]))
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.That(failures, Is.Zero);
    }

    [TestCase("Flat")]
    [TestCase("IVF16,PQ16x8")]
    [TestCase("HNSW32")]
    public void FaissBatchPath_FindsTheSameVectors_WithScoresEqualToTheLastBits(string factory)
    {
        using FaissMipsIndex index = Build(factory);
        var perQuery = new ScoredId[40 * K];
        var batched = new ScoredId[40 * K];
        var parameters = factory.StartsWith("IVF", StringComparison.Ordinal) ? new FaissSearchParameters { Nprobe = 4 } : new FaissSearchParameters();
        index.SearchBatch(_queries, K, perQuery, parameters);
        index.SearchBatch(_queries, K, batched, parameters with { UseFaissBatchPath = true });
        for (int i = 0; i < perQuery.Length; i++)
        {
            Assert.That(batched[i].Score, Is.EqualTo(perQuery[i].Score).Within(1e-5f), $"slot {i}");
        }

        // Ids agree except where two scores tie within rounding.
        int differing = Enumerable.Range(0, perQuery.Length).Count(i => batched[i].Id != perQuery[i].Id);
        Assert.That(differing, Is.LessThanOrEqualTo(perQuery.Length / 100), "ids that differ between the two paths");
    }

    [TestCase("HNSW32")]
    [TestCase("IVF16,PQ16x8")]
    [TestCase("Flat")]
    public void ThreadCount_OneAndAll_GiveEqualResults(string factory)
    {
        using FaissMipsIndex index = Build(factory);
        var one = new ScoredId[40 * K];
        var all = new ScoredId[40 * K];
        index.SearchBatch(_queries, K, one, new ParallelOptions { MaxDegreeOfParallelism = 1 });
        index.SearchBatch(_queries, K, all, new ParallelOptions { MaxDegreeOfParallelism = -1 });
        Assert.That(all, Is.EqualTo(one));

        if (!index.IsExact && factory != "HNSW32")
        {
            // Training is deterministic whatever the thread count (FAISS's k-means is seeded; HNSW inserts are not).
            using FaissMipsIndex allThreads = FaissMipsIndex.Create(Dimension, factory);
            allThreads.Train(_corpus, new ParallelOptions { MaxDegreeOfParallelism = -1 });
            allThreads.Add(_corpus, new ParallelOptions { MaxDegreeOfParallelism = -1 });
            var trainedOnAll = new ScoredId[40 * K];
            allThreads.SearchBatch(_queries, K, trainedOnAll);
            Assert.That(trainedOnAll, Is.EqualTo(one));
        }
    }

    [Test]
    public void DefaultSearchParameters_AreSavedWithTheIndex()
    {
        using FaissMipsIndex ivf = Build("IVF16,Flat");
        ivf.DefaultSearchParameters = new FaissSearchParameters { Nprobe = 5 };
        string path = Path.Combine(_directory, "defaults.idx");
        ivf.Save(path);
        using FaissMipsIndex loaded = FaissMipsIndex.Load(path);
        Assert.That(loaded.DefaultSearchParameters, Is.EqualTo(new FaissSearchParameters { Nprobe = 5 }));
        Assert.That(loaded.Factory, Is.EqualTo("IVF16,Flat"));
        Assert.That(loaded.IsTrained, Is.True);
        Assert.That(SearchAll(loaded, null), Is.EqualTo(SearchAll(ivf, null)));
    }

    [Test]
    public void Load_ChecksumValidButNotFaiss_ThrowsInvalidData_WithTheNativeMessage()
    {
        string path = SaveSmall("Flat", "garbage.idx");
        RewriteFile(path, payload: Encoding.ASCII.GetBytes("this is not a FAISS index, but its checksums are right"));
        var e = Assert.Throws<InvalidDataException>(() => FaissMipsIndex.Load(path).Dispose());
        Assert.That(e!.InnerException, Is.TypeOf<FaissException>());
        Assert.That(e.Message, Does.Contain(((FaissException)e.InnerException!).NativeMessage!));
        TestContext.Out.WriteLine(e.Message);

        // A FAISS payload cut short (valid checksums again): FAISS's reader fails cleanly.
        string truncated = SaveSmall("HNSW32", "truncated-payload.idx");
        byte[] payload = ReadFile(truncated).Payload;
        RewriteFile(truncated, payload: payload[..(payload.Length / 2)]);
        Assert.Throws<InvalidDataException>(() => FaissMipsIndex.Load(truncated).Dispose());
    }

    [Test]
    public void Load_HeaderThatDisagreesWithThePayload_ThrowsInvalidData()
    {
        string countPath = SaveSmall("Flat", "count.idx");
        RewriteFile(countPath, count: 299);
        Assert.That(Assert.Throws<InvalidDataException>(() => FaissMipsIndex.Load(countPath).Dispose())!.Message, Does.Contain("299"));

        string dimensionPath = SaveSmall("Flat", "dimension.idx");
        RewriteFile(dimensionPath, dimension: Dimension * 2);
        Assert.Throws<InvalidDataException>(() => FaissMipsIndex.Load(dimensionPath).Dispose());

        // An HNSW payload under the "Flat" factory string would claim to be exact.
        string kindPath = SaveSmall("HNSW32", "kind.idx");
        RewriteFile(kindPath, factory: "Flat");
        Assert.That(Assert.Throws<InvalidDataException>(() => FaissMipsIndex.Load(kindPath).Dispose())!.Message, Does.Contain("kind"));

        string factoryPath = SaveSmall("Flat", "factory.idx");
        RewriteFile(factoryPath, factory: "NoSuchIndex");
        Assert.Throws<InvalidDataException>(() => FaissMipsIndex.Load(factoryPath).Dispose());

        string versionPath = SaveSmall("Flat", "version.idx");
        RewriteFile(versionPath, version: 2);
        Assert.That(Assert.Throws<InvalidDataException>(() => FaissMipsIndex.Load(versionPath).Dispose())!.Message, Does.Contain("version 2"));
    }

    [Test]
    public void Load_HugeDeclaredLengths_AreRefusedBeforeAllocating()
    {
        string path = SaveSmall("Flat", "huge.idx");
        byte[] bytes = File.ReadAllBytes(path);
        int factoryLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24));
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(28 + factoryLength), long.MaxValue / 2);
        FixHeaderChecksum(bytes);
        File.WriteAllBytes(path, bytes);
        Assert.That(Assert.Throws<InvalidDataException>(() => FaissMipsIndex.Load(path).Dispose())!.Message, Does.Contain("truncated"));

        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(24), int.MaxValue);
        File.WriteAllBytes(path, bytes);
        Assert.That(Assert.Throws<InvalidDataException>(() => FaissMipsIndex.Load(path).Dispose())!.Message, Does.Contain("factory string length"));
    }

    [Test]
    public void Search_AllocatesNothing()
    {
        using FaissMipsIndex index = Build("HNSW32");
        var results = new ScoredId[K];
        var parameters = new FaissSearchParameters { EfSearch = 32 };
        index.Search(Query(0), K, results);
        index.Search(Query(0), K, results, parameters);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int q = 0; q < 40; q++)
        {
            index.Search(Query(q), K, results);
            index.Search(Query(q), K, results, parameters);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void Save_DisposedIndex_Throws()
    {
        FaissMipsIndex index = Build("Flat");
        index.Dispose();
        Assert.Throws<ObjectDisposedException>(() => index.Save(Path.Combine(_directory, "disposed.idx")));
        Assert.Throws<ObjectDisposedException>(() => index.SearchBatch(_queries, K, new ScoredId[40 * K]));
        Assert.Throws<ObjectDisposedException>(() => index.Train(_corpus));
        Assert.Throws<ObjectDisposedException>(() => _ = index.DefaultSearchParameters);
    }

    private FaissMipsIndex Build(string factory)
    {
        FaissMipsIndex index = FaissMipsIndex.Create(Dimension, factory);
        FaissTestSupport.TrainAndAdd(index, _corpus);
        return index;
    }

    private string SaveSmall(string factory, string name)
    {
        using FaissMipsIndex index = FaissMipsIndex.Create(Dimension, factory);
        FaissTestSupport.TrainAndAdd(index, _corpus.AsSpan(0, 300 * Dimension));
        string path = Path.Combine(_directory, name);
        index.Save(path);
        return path;
    }

    private ReadOnlySpan<float> Query(int q) => _queries.AsSpan(q * Dimension, Dimension);

    private ScoredId[] SearchAll(FaissMipsIndex index, FaissSearchParameters? parameters)
    {
        var results = new ScoredId[40 * K];
        if (parameters is null)
        {
            index.SearchBatch(_queries, K, results);
        }
        else
        {
            index.SearchBatch(_queries, K, results, parameters);
        }

        return results;
    }

    private static double Recall(ScoredId[] results, ScoredId[] exact)
    {
        int hits = 0;
        for (int q = 0; q < exact.Length / K; q++)
        {
            hits += results.Skip(q * K).Take(K).Select(r => r.Id).Intersect(exact.Skip(q * K).Take(K).Select(r => r.Id)).Count();
        }

        return hits / (double)exact.Length;
    }

    // The file layout of FaissIndexFile: fixed part (28 bytes), factory string, payload length, payload checksum,
    // header checksum, payload.
    private static (byte[] Header, byte[] Payload) ReadFile(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int factoryLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24));
        int headerLength = 28 + factoryLength + 24;
        return (bytes[..headerLength], bytes[headerLength..]);
    }

    private static void RewriteFile(string path, byte[]? payload = null, long? count = null, int? dimension = null,
        string? factory = null, ushort? version = null)
    {
        (byte[] header, byte[] oldPayload) = ReadFile(path);
        payload ??= oldPayload;
        int oldFactoryLength = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(24));
        byte[] factoryBytes = factory is null ? header.AsSpan(28, oldFactoryLength).ToArray() : Encoding.UTF8.GetBytes(factory);
        byte[] rewritten = new byte[28 + factoryBytes.Length + 24];
        header.AsSpan(0, 28).CopyTo(rewritten);
        if (version is ushort v)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(rewritten.AsSpan(8), v);
        }

        if (dimension is int d)
        {
            BinaryPrimitives.WriteInt32LittleEndian(rewritten.AsSpan(12), d);
        }

        if (count is long c)
        {
            BinaryPrimitives.WriteInt64LittleEndian(rewritten.AsSpan(16), c);
        }

        BinaryPrimitives.WriteInt32LittleEndian(rewritten.AsSpan(24), factoryBytes.Length);
        factoryBytes.CopyTo(rewritten, 28);
        int trailer = 28 + factoryBytes.Length;
        BinaryPrimitives.WriteInt64LittleEndian(rewritten.AsSpan(trailer), payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(rewritten.AsSpan(trailer + 8), TestVectors.Fnv1a64(payload));
        FixHeaderChecksum(rewritten);
        File.WriteAllBytes(path, [.. rewritten, .. payload]);
    }

    private static void FixHeaderChecksum(byte[] bytes)
    {
        int trailer = 28 + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(trailer + 16), TestVectors.Fnv1a64(bytes.AsSpan(0, trailer + 16)));
    }
}
