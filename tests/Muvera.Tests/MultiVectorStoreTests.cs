// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Muvera.Kernels;
using Muvera.Scoring;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

/// <summary>The multi-vector store: insertion, normalisation, the file format (round trips, memory mapping,
/// corruption) and Chamfer scoring over a store.</summary>
[TestFixture]
public sealed class MultiVectorStoreTests
{
    private const int Dimension = 12;

    private static readonly StoreElementType[] s_elementTypes = [StoreElementType.Float32, StoreElementType.Float16];

    // Document token counts, with empty documents at the start, middle and end.
    private static readonly int[] s_tokenCounts = [0, 3, 1, 17, 0, 5, 32, 2, 0];

    [TestCaseSource(nameof(s_elementTypes))]
    public void SaveStreamLoadStream_RoundTrip_EqualTokens(StoreElementType elementType)
    {
        using MultiVectorStore store = Build(elementType, normalize: false, out List<float[]> documents);
        using MultiVectorStore loaded = MultiVectorStore.Load(new MemoryStream(SaveToBytes(store)));
        AssertSameShape(loaded, store);
        AssertTokens(loaded, documents, elementType);
    }

    [TestCaseSource(nameof(s_elementTypes))]
    public void SavePathLoadPath_RoundTrip_EqualTokensAndNoTemporaryFile(StoreElementType elementType)
    {
        string path = TempPath();
        try
        {
            using MultiVectorStore store = Build(elementType, normalize: true, out List<float[]> documents);
            File.WriteAllText(path, "an older file to replace");
            store.Save(path);
            Assert.That(File.Exists(path + ".tmp"), Is.False, "temporary file left behind");
            using MultiVectorStore loaded = MultiVectorStore.Load(path);
            AssertSameShape(loaded, store);
            Assert.That(loaded.IsNormalized, Is.True);
            for (int id = 0; id < store.Count; id++)
            {
                TestVectors.AssertBitIdentical(Tokens(loaded, id), Tokens(store, id), $"document {id}");
            }
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".tmp");
        }
    }

    [Test]
    public void LoadPath_MemoryMapped_EqualsInMemoryStoreTokensDocumentsAndTopK()
    {
        string path = TempPath();
        try
        {
            using MultiVectorStore store = Build(StoreElementType.Float32, normalize: false, out _);
            store.Save(path);
            using MultiVectorStore mapped = MultiVectorStore.Load(path);
            Assert.That(mapped.IsMapped, Is.True);
            for (int id = 0; id < store.Count; id++)
            {
                TestVectors.AssertBitIdentical(Tokens(mapped, id), Tokens(store, id), $"document {id}");
                TestVectors.AssertBitIdentical(mapped.GetDocument(id).Span, store.GetDocument(id).Span, $"view {id}");
            }

            // A mapped store saves back to identical bytes.
            Assert.That(SaveToBytes(mapped), Is.EqualTo(File.ReadAllBytes(path)));

            var scorer = new CpuChamferScorer();
            var query = new ReadOnlyMultiVector(TestVectors.Gaussian(new Random(5), 4 * Dimension), Dimension);
            Assert.That(scorer.TopK(query, mapped, 5), Is.EqualTo(scorer.TopK(query, store, 5)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void LoadPath_Disposed_ThrowsObjectDisposedAndDisposeIsIdempotent()
    {
        string path = TempPath();
        try
        {
            using (MultiVectorStore store = Build(StoreElementType.Float32, normalize: false, out _))
            {
                store.Save(path);
            }

            MultiVectorStore mapped = MultiVectorStore.Load(path);
            ReadOnlyMultiVector view = mapped.GetDocument(1);
            mapped.Dispose();
            Assert.DoesNotThrow(mapped.Dispose);
            Assert.Throws<ObjectDisposedException>(() => mapped.GetDocument(1));
            Assert.Throws<ObjectDisposedException>(() => _ = view.Span.Length);
            var query = new ReadOnlyMultiVector(new float[Dimension], Dimension);
            Assert.Throws<ObjectDisposedException>(() => new CpuChamferScorer().TopK(query, mapped, 1));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Add_LoadedFromFile_ThrowsInvalidOperation()
    {
        string path = TempPath();
        try
        {
            using (var store = new MultiVectorStore(Dimension))
            {
                store.Add(new float[Dimension]);
                store.Save(path);
            }

            using MultiVectorStore mapped = MultiVectorStore.Load(path);
            InvalidOperationException? e = Assert.Throws<InvalidOperationException>(() => mapped.Add(new float[Dimension]));
            Assert.That(e!.Message, Does.Contain("read-only"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Add_LoadedFromStream_IsWritable()
    {
        using var store = new MultiVectorStore(Dimension);
        store.Add(new float[Dimension]);
        using MultiVectorStore loaded = MultiVectorStore.Load(new MemoryStream(SaveToBytes(store)));
        Assert.That(loaded.Add(new float[2 * Dimension]), Is.EqualTo(1));
        Assert.That(loaded.TokenCount, Is.EqualTo(3));
    }

    [TestCaseSource(nameof(s_elementTypes))]
    public void Add_Normalize_UnitNormsAndZeroRowsStayZero(StoreElementType elementType)
    {
        using var store = new MultiVectorStore(Dimension, elementType, normalize: true);
        float[] tokens = TestVectors.Gaussian(new Random(3), 4 * Dimension, scale: 7.0);
        tokens.AsSpan(Dimension, Dimension).Clear();
        tokens[(2 * Dimension) + 3] = 1e30f; // squares overflow float; the norm must not.
        int id = store.Add(tokens);
        float[] stored = Tokens(store, id);
        double tolerance = elementType == StoreElementType.Float32 ? 1e-6 : 2e-3;
        for (int t = 0; t < 4; t++)
        {
            double norm = Math.Sqrt(TestVectors.Dot(stored.AsSpan(t * Dimension, Dimension), stored.AsSpan(t * Dimension, Dimension)));
            Assert.That(norm, Is.EqualTo(t == 1 ? 0.0 : 1.0).Within(tolerance), $"token {t}");
        }

        Assert.That(stored.AsSpan(Dimension, Dimension).ToArray(), Is.All.EqualTo(0f));
        Assert.That(stored[(2 * Dimension) + 3], Is.EqualTo(1f).Within(tolerance));
    }

    [TestCaseSource(nameof(s_elementTypes))]
    public void Add_EmptyDocuments_GetDenseIdsAndZeroTokens(StoreElementType elementType)
    {
        using var store = new MultiVectorStore(Dimension, elementType, normalize: false);
        Assert.That(store.Add([]), Is.EqualTo(0));
        Assert.That(store.Add(new float[Dimension]), Is.EqualTo(1));
        Assert.That(store.Add(ReadOnlySpan<float>.Empty), Is.EqualTo(2));
        Assert.That(store.Count, Is.EqualTo(3));
        Assert.That(store.TokenCount, Is.EqualTo(1));
        Assert.That(store.TokenCountOf(0), Is.EqualTo(0));
        Assert.That(store.TokenCountOf(2), Is.EqualTo(0));
        store.CopyTokens(2, Span<float>.Empty);

        var query = new ReadOnlyMultiVector(new float[Dimension], Dimension);
        ScoredId[] top = new CpuChamferScorer().TopK(query, store, 3);
        Assert.That(top.Select(r => r.Id), Is.EqualTo(new[] { 1, 0, 2 }));
        Assert.That(top[1].Score, Is.EqualTo(float.NegativeInfinity));
    }

    [Test]
    public void Add_RaggedLength_ThrowsNamingLengthAndDimensionAndLeavesStoreUnchanged()
    {
        using var store = new MultiVectorStore(Dimension);
        ArgumentException? e = Assert.Throws<ArgumentException>(() => store.Add(new float[(2 * Dimension) + 5]));
        Assert.That(e!.Message, Does.Contain("29").And.Contain("12"));
        Assert.That(e.ParamName, Is.EqualTo("tokens"));
        Assert.That(store.Count, Is.EqualTo(0));
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    public void Add_NonFinite_ThrowsNamingTokenAndCoordinate(float bad)
    {
        using var store = new MultiVectorStore(Dimension);
        float[] tokens = new float[3 * Dimension];
        tokens[Dimension + 7] = bad;
        ArgumentException? e = Assert.Throws<ArgumentException>(() => store.Add(tokens));
        Assert.That(e!.Message, Does.Contain("token 1").And.Contain("coordinate 7"));
        Assert.That(store.Count, Is.EqualTo(0));
    }

    [Test]
    public void Add_Float16Overflow_ThrowsNamingValueTokenAndCoordinateAndLeavesStoreUnchanged()
    {
        using var store = new MultiVectorStore(Dimension, StoreElementType.Float16, normalize: false);
        store.Add(new float[Dimension]);
        float[] tokens = new float[2 * Dimension];
        tokens[Dimension + 2] = 1e6f;
        ArgumentException? e = Assert.Throws<ArgumentException>(() => store.Add(tokens));
        Assert.That(e!.Message, Does.Contain("1000000").And.Contain("token 1").And.Contain("coordinate 2").And.Contain("Float16"));
        Assert.That(store.Count, Is.EqualTo(1));
        Assert.That(store.TokenCount, Is.EqualTo(1));
    }

    [Test]
    public void Constructor_BadArguments_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new MultiVectorStore(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new MultiVectorStore(4, (StoreElementType)7, normalize: false));
    }

    [Test]
    public void Accessors_OutOfRangeId_ThrowNamingIdAndCount()
    {
        using MultiVectorStore store = Build(StoreElementType.Float32, normalize: false, out _);
        int count = store.Count;
        foreach (int id in new[] { -1, count, count + 100 })
        {
            AssertOutOfRange(() => store.TokenCountOf(id), id, count);
            AssertOutOfRange(() => store.CopyTokens(id, new float[1000]), id, count);
            AssertOutOfRange(() => store.GetDocument(id), id, count);
        }
    }

    [Test]
    public void CopyTokens_ShortDestination_Throws()
    {
        using MultiVectorStore store = Build(StoreElementType.Float32, normalize: false, out _);
        ArgumentException? e = Assert.Throws<ArgumentException>(() => store.CopyTokens(1, new float[(3 * Dimension) - 1]));
        Assert.That(e!.Message, Does.Contain("35").And.Contain("36"));
    }

    [Test]
    public void GetDocument_Float16_ThrowsNotSupportedPointingToCopyTokens()
    {
        using MultiVectorStore store = Build(StoreElementType.Float16, normalize: false, out _);
        NotSupportedException? e = Assert.Throws<NotSupportedException>(() => store.GetDocument(1));
        Assert.That(e!.Message, Does.Contain("CopyTokens"));
    }

    [Test]
    public void TopK_Float32Store_EqualsTopKOverDocumentListBitForBit()
    {
        using MultiVectorStore store = Build(StoreElementType.Float32, normalize: false, out List<float[]> documents);
        var list = documents.Select(d => new ReadOnlyMultiVector(d, Dimension)).ToList();
        var scorer = new CpuChamferScorer();
        var random = new Random(11);
        foreach (int queryTokens in new[] { 1, 4, 7 })
        {
            var query = new ReadOnlyMultiVector(TestVectors.Gaussian(random, queryTokens * Dimension), Dimension);
            foreach (int k in new[] { 1, 3, store.Count, store.Count + 5 })
            {
                ScoredId[] expected = scorer.TopK(query, list, k);
                ScoredId[] actual = scorer.TopK(query, store, k);
                Assert.That(actual.Select(r => r.Id), Is.EqualTo(expected.Select(r => r.Id)), $"|Q|={queryTokens} k={k}");
                TestVectors.AssertBitIdentical(actual.Select(r => r.Score).ToArray(), expected.Select(r => r.Score).ToArray(), $"|Q|={queryTokens} k={k}");
            }
        }
    }

    [Test]
    public void TopK_Float16UnitVectors_WithinOnePercentOfFloat32()
    {
        var random = new Random(21);
        const int d = 32;
        using var store32 = new MultiVectorStore(d, StoreElementType.Float32, normalize: false);
        using var store16 = new MultiVectorStore(d, StoreElementType.Float16, normalize: false);
        for (int i = 0; i < 40; i++)
        {
            float[] tokens = TestVectors.UnitTokens(random, 5 + (i % 13), d);
            store32.Add(tokens);
            store16.Add(tokens);
        }

        var scorer = new CpuChamferScorer();
        var query = new ReadOnlyMultiVector(TestVectors.UnitTokens(random, 6, d), d);
        Dictionary<int, float> exact = scorer.TopK(query, store32, store32.Count).ToDictionary(r => r.Id, r => r.Score);
        ScoredId[] half = scorer.TopK(query, store16, store16.Count);
        Assert.That(half, Has.Length.EqualTo(store16.Count));
        foreach (ScoredId result in half)
        {
            Assert.That(result.Score, Is.EqualTo(exact[result.Id]).Within(1e-2 * Math.Abs(exact[result.Id])), $"document {result.Id}");
        }
    }

    [TestCaseSource(nameof(s_elementTypes))]
    public void TopKAndRerank_WideDocuments_EqualTopKOverTheStoredFloatsAsAListBitForBit(StoreElementType elementType)
    {
        // d >= 16 takes the store's fast paths (float16 widened inside the register transposes at 512 bits, the next
        // document prefetched): scores must equal the list path's over the same floats, at one thread and at all.
        var random = new Random(31);
        foreach (int d in new[] { 128, 130 })
        {
            using var store = new MultiVectorStore(d, elementType, normalize: false);
            foreach (int tokens in new[] { 80, 0, 16, 1, 17, 33, 64, 15, 80 })
            {
                store.Add(TestVectors.Gaussian(random, tokens * d));
            }

            var list = Enumerable.Range(0, store.Count).Select(id => new ReadOnlyMultiVector(Tokens(store, id), d)).ToList();
            var query = new ReadOnlyMultiVector(TestVectors.Gaussian(random, 9 * d), d);
            foreach (int threads in new[] { 1, -1 })
            {
                var scorer = new CpuChamferScorer(new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = threads });
                ScoredId[] expected = scorer.TopK(query, list, store.Count);
                ScoredId[] actual = scorer.TopK(query, store, store.Count);
                Assert.That(actual.Select(r => r.Id), Is.EqualTo(expected.Select(r => r.Id)), $"d={d} threads={threads}");
                TestVectors.AssertBitIdentical(actual.Select(r => r.Score).ToArray(), expected.Select(r => r.Score).ToArray(), $"d={d} threads={threads}");

                int[] candidates = [8, 2, 0, 5, 3];
                ScoredId[] reranked = scorer.Rerank(query, store, candidates, candidates.Length);
                Assert.That(reranked, Is.EqualTo(expected.Where(r => candidates.Contains(r.Id)).ToArray()), $"d={d} threads={threads}");
            }
        }
    }

    [TestCaseSource(nameof(s_elementTypes))]
    public void Rerank_CandidateIds_EqualsScoringThoseDocumentsIndividually(StoreElementType elementType)
    {
        using MultiVectorStore store = Build(elementType, normalize: false, out _);
        store.Add(Tokens(store, 3)); // an exact duplicate of document 3: ties go to the lower id
        var scorer = new CpuChamferScorer();
        var query = new ReadOnlyMultiVector(TestVectors.Gaussian(new Random(8), 3 * Dimension), Dimension);
        int duplicate = store.Count - 1;
        int[] candidates = [duplicate, 6, 3, 0, 3, 7, 1];
        foreach (int k in new[] { 1, 2, 4, 10 })
        {
            ScoredId[] expected = candidates.Distinct()
                .Select(id => new ScoredId(id, scorer.Score(query, new ReadOnlyMultiVector(Tokens(store, id), Dimension))))
                .Order()
                .Take(k)
                .ToArray();
            ScoredId[] actual = scorer.Rerank(query, store, candidates, k);
            Assert.That(actual, Is.EqualTo(expected), $"k={k}");
        }

        ScoredId[] pair = scorer.Rerank(query, store, [duplicate, 3], 2);
        Assert.That(pair.Select(r => r.Id), Is.EqualTo(new[] { 3, duplicate }));
        Assert.That(scorer.Rerank(query, store, [], 3), Is.Empty);
    }

    [Test]
    public void Rerank_OutOfRangeCandidate_ThrowsNamingIdAndCount()
    {
        using MultiVectorStore store = Build(StoreElementType.Float32, normalize: false, out _);
        var query = new ReadOnlyMultiVector(new float[Dimension], Dimension);
        var scorer = new CpuChamferScorer();
        ArgumentOutOfRangeException? e = Assert.Throws<ArgumentOutOfRangeException>(() => scorer.Rerank(query, store, [1, 42], 2));
        Assert.That(e!.Message, Does.Contain("42").And.Contain(store.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(e.ParamName, Is.EqualTo("candidateIds"));
        Assert.Throws<ArgumentOutOfRangeException>(() => scorer.Rerank(query, store, [-1], 2));
    }

    [Test]
    public void TopK_QueryDimensionMismatch_ThrowsNamingBoth()
    {
        using MultiVectorStore store = Build(StoreElementType.Float32, normalize: false, out _);
        var query = new ReadOnlyMultiVector(new float[7], 7);
        var scorer = new CpuChamferScorer();
        ArgumentException? e = Assert.Throws<ArgumentException>(() => scorer.TopK(query, store, 3));
        Assert.That(e!.Message, Does.Contain("7").And.Contain("12"));
        Assert.Throws<ArgumentException>(() => scorer.Rerank(query, store, [0], 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => scorer.TopK(new ReadOnlyMultiVector(new float[Dimension], Dimension), store, 0));
        Assert.Throws<ArgumentNullException>(() => scorer.TopK(query, (MultiVectorStore)null!, 3));
    }

    [Test]
    public void ScoreStored_Float16_EqualsScoringTheConvertedFloatsAtEveryWidth()
    {
        using MultiVectorStore store = Build(StoreElementType.Float16, normalize: false, out _);
        var query = new ReadOnlyMultiVector(TestVectors.Gaussian(new Random(4), 5 * Dimension), Dimension);
        foreach (SimdWidth width in new[] { SimdWidth.Scalar, SimdWidth.Vector128, SimdWidth.Vector256, SimdWidth.Vector512 })
        {
            if (!SimdDispatch.IsAccelerated(width))
            {
                continue;
            }

            for (int id = 0; id < store.Count; id++)
            {
                float expected = CpuChamferScorer.ScoreUnchecked(query, new ReadOnlyMultiVector(Tokens(store, id), Dimension), width);
                float actual = CpuChamferScorer.ScoreStored(query, store, id, width);
                Assert.That(BitConverter.SingleToInt32Bits(actual), Is.EqualTo(BitConverter.SingleToInt32Bits(expected)), $"{width} document {id}");
            }
        }
    }

    public static IEnumerable<TestCaseData> Corruptions()
    {
        // Format version 1, as older writers left it. Layout of the fixture (9 documents): offsets 64..143, padding to
        // 192, data from 192.
        yield return Case("empty file", b => b[..0], "truncated");
        yield return Case("inside header", b => b[..40], "truncated");
        yield return Case("header only", b => b[..64], "truncated");
        yield return Case("inside offsets", b => b[..100], "truncated");
        yield return Case("inside padding", b => b[..150], "truncated");
        yield return Case("inside data", b => b[..(b.Length - 1)], "truncated");
        yield return Case("trailing byte", b => [.. b, 0], "trailing");
        yield return Case("wrong magic", b => Set(b, 0, (byte)'X'), "magic");
        yield return Case("unknown version", b => Set(b, 8, 3), "format version 3");
        yield return Case("bad element type", b => Set(b, 10, 9), "element type 9");
        yield return Case("unknown flag", b => Set(b, 12, 4), "flag");
        yield return Case("header checksum", b => Set(b, 17, 1), "header checksum");
        yield return Case("zero dimension", b => WithHeader(b, h => BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(16), 0)), "dimension 0");
        yield return Case("negative token count", b => WithHeader(b, h => BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(32), -5)), "negative");
        yield return Case("huge document count", b => WithHeader(b, h => BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(24), long.MaxValue / 16)), "truncated");
        yield return Case("overflowing document count", b => WithHeader(b, h => BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(24), long.MaxValue)), "overflow");
        yield return Case("huge token count", b => WithHeader(b, h => BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(32), 1L << 40)), "truncated");
        yield return Case("offsets checksum", b => Set(b, 64 + 8, 4), "offsets checksum");
        yield return Case("non-monotonic offsets", b => WithOffsets(b, o => o[2] = o[3] + 1), "non-decreasing");
        yield return Case("offsets not starting at 0", b => WithOffsets(b, o => o[0] = 1), "start at 1");
        yield return Case("data byte flipped", b => Set(b, b.Length - 3, (byte)(b[^3] ^ 0x10)), "data checksum");
        yield return Case("non-finite data", b => WithData(b, BitConverter.GetBytes(float.NaN)), "NaN");

        static TestCaseData Case(string name, Func<byte[], byte[]> corrupt, string cause) =>
            new TestCaseData(corrupt, cause).SetArgDisplayNames(name);
    }

    [TestCaseSource(nameof(Corruptions))]
    public void Load_CorruptInput_ThrowsInvalidDataNamingTheCause(Func<byte[], byte[]> corrupt, string cause)
    {
        using MultiVectorStore store = Build(StoreElementType.Float32, normalize: false, out _);
        byte[] bytes = corrupt(SaveToBytesVersion1(store));
        InvalidDataException? fromStream = Assert.Throws<InvalidDataException>(() => MultiVectorStore.Load(new MemoryStream(bytes)));
        Assert.That(fromStream!.Message, Does.Contain(cause).IgnoreCase);
        string path = TempPath();
        try
        {
            File.WriteAllBytes(path, bytes);
            InvalidDataException? fromFile = Assert.Throws<InvalidDataException>(() => MultiVectorStore.Load(path));
            Assert.That(fromFile!.Message, Is.EqualTo(fromStream.Message));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void SaveVersion1_FixtureLayout_MatchesTheDocumentedOffsets()
    {
        using MultiVectorStore store = Build(StoreElementType.Float16, normalize: true, out _);
        byte[] bytes = SaveToBytesVersion1(store);
        Assert.That(bytes.AsSpan(0, 8).ToArray(), Is.EqualTo("MVSTORE\0"u8.ToArray()));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)), Is.EqualTo(1));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(10)), Is.EqualTo(1));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(12)), Is.EqualTo(1));
        Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16)), Is.EqualTo(Dimension));
        Assert.That(BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(24)), Is.EqualTo(s_tokenCounts.Length));
        Assert.That(BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(32)), Is.EqualTo(s_tokenCounts.Sum()));
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(56)), Is.EqualTo(TestVectors.Fnv1a64(bytes.AsSpan(0, 56))));
        Assert.That(bytes, Has.Length.EqualTo(192 + (s_tokenCounts.Sum() * Dimension * 2)));
    }

    private static MultiVectorStore Build(StoreElementType elementType, bool normalize, out List<float[]> documents)
    {
        var random = new Random(1234);
        var store = new MultiVectorStore(Dimension, elementType, normalize);
        documents = [];
        foreach (int tokens in s_tokenCounts)
        {
            float[] values = TestVectors.Gaussian(random, tokens * Dimension);
            documents.Add(values);
            Assert.That(store.Add(values), Is.EqualTo(documents.Count - 1));
        }

        return store;
    }

    private static float[] Tokens(MultiVectorStore store, int id)
    {
        float[] values = new float[store.TokenCountOf(id) * store.Dimension];
        store.CopyTokens(id, values);
        return values;
    }

    private static byte[] SaveToBytes(MultiVectorStore store)
    {
        using var stream = new MemoryStream();
        store.Save(stream);
        return stream.ToArray();
    }

    // The old format (version 1, FNV-1a over everything), which readers still accept.
    private static byte[] SaveToBytesVersion1(MultiVectorStore store)
    {
        using var stream = new MemoryStream();
        store.SaveVersion1(stream);
        return stream.ToArray();
    }

    private static string TempPath() => Path.Combine(Path.GetTempPath(), $"muvera-store-{Guid.NewGuid():N}.mvs");

    private static void AssertSameShape(MultiVectorStore actual, MultiVectorStore expected)
    {
        Assert.That(actual.Dimension, Is.EqualTo(expected.Dimension));
        Assert.That(actual.Count, Is.EqualTo(expected.Count));
        Assert.That(actual.TokenCount, Is.EqualTo(expected.TokenCount));
        Assert.That(actual.ElementType, Is.EqualTo(expected.ElementType));
        Assert.That(actual.IsNormalized, Is.EqualTo(expected.IsNormalized));
    }

    private static void AssertTokens(MultiVectorStore store, List<float[]> documents, StoreElementType elementType)
    {
        for (int id = 0; id < documents.Count; id++)
        {
            float[] expected = elementType == StoreElementType.Float32
                ? documents[id]
                : documents[id].Select(x => (float)(Half)x).ToArray();
            Assert.That(store.TokenCountOf(id), Is.EqualTo(documents[id].Length / Dimension));
            TestVectors.AssertBitIdentical(Tokens(store, id), expected, $"document {id}");
        }
    }

    private static void AssertOutOfRange(Action action, int id, int count)
    {
        ArgumentOutOfRangeException? e = Assert.Throws<ArgumentOutOfRangeException>(action);
        Assert.That(e!.Message, Does.Contain($"id {id} ").And.Contain($"Count is {count}"));
    }

    private static byte[] Set(byte[] bytes, int index, byte value)
    {
        bytes[index] = value;
        return bytes;
    }

    private static byte[] WithHeader(byte[] bytes, Action<byte[]> edit)
    {
        edit(bytes);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(56), TestVectors.Fnv1a64(bytes.AsSpan(0, 56)));
        return bytes;
    }

    private static byte[] WithOffsets(byte[] bytes, Action<long[]> edit)
    {
        int count = (int)BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(24));
        long[] offsets = new long[count + 1];
        for (int i = 0; i <= count; i++)
        {
            offsets[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(64 + (8 * i)));
        }

        edit(offsets);
        for (int i = 0; i <= count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(64 + (8 * i)), offsets[i]);
        }

        return WithHeader(bytes, h => BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(40), TestVectors.Fnv1a64(h.AsSpan(64, 8 * (count + 1)))));
    }

    // Overwrites the first data bytes and recomputes the data checksum (the fixture's data starts at 192).
    private static byte[] WithData(byte[] bytes, byte[] prefix)
    {
        prefix.CopyTo(bytes, 192);
        return WithHeader(bytes, h => BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(48), TestVectors.Fnv1a64(h.AsSpan(192))));
    }
}
