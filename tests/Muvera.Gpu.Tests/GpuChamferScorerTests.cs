// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using Muvera.Gpu.Tests.Fixtures;
using Muvera.Scoring;
using Muvera.Tests.Fixtures;

namespace Muvera.Gpu.Tests;

/// <summary>The scorer's contract on the CPU accelerator: device selection without a GPU, validation (the same
/// exceptions and messages as <see cref="CpuChamferScorer"/>), tie order, duplicates, resident stores and memory
/// limits.</summary>
[TestFixture]
public sealed class GpuChamferScorerTests
{
    private static GpuChamferScorer Scorer => CpuAccelerator.Tiny;

    private static ReadOnlyMultiVector Vector(int dimension, params float[] values) => new(values, dimension);

    [Test]
    public void IsSupported_WithoutCudaDriver_IsFalse()
    {
        bool driver = NativeLibrary.TryLoad("libcuda.so.1", out IntPtr handle) || NativeLibrary.TryLoad("libcuda.so", out handle);
        if (driver)
        {
            NativeLibrary.Free(handle);
            Assert.Ignore("A CUDA driver is installed here; IsSupported then depends on the devices it reports.");
        }

        Assert.That(GpuChamferScorer.IsSupported, Is.False);
    }

    [Test]
    public void Create_NoCudaDevice_ThrowsNotSupportedNamingTheFallback()
    {
        Assume.That(GpuChamferScorer.IsSupported, Is.False, "a CUDA device is present");
        NotSupportedException? e = Assert.Throws<NotSupportedException>(() => GpuChamferScorer.Create());
        Assert.That(e!.Message, Does.Contain("No CUDA device").And.Contain("CpuChamferScorer"));
    }

    [Test]
    public void TryCreate_NoCudaDevice_ReturnsFalseAndNull()
    {
        Assume.That(GpuChamferScorer.IsSupported, Is.False, "a CUDA device is present");
        Assert.Multiple(() =>
        {
            Assert.That(GpuChamferScorer.TryCreate(out GpuChamferScorer? scorer), Is.False);
            Assert.That(scorer, Is.Null);
        });
    }

    [Test]
    public void DeviceInfo_CpuAccelerator_NamesDeviceAndMemory()
    {
        using GpuChamferScorer scorer = GpuChamferScorer.CreateCpuAccelerator(2, 2, 12345678);
        Assert.Multiple(() =>
        {
            Assert.That(scorer.DeviceName, Does.Contain("CPU accelerator"));
            Assert.That(scorer.DeviceMemorySize, Is.EqualTo(12345678));
            Assert.That(scorer.AllocatedBytes, Is.Zero);
            Assert.That(scorer.AvailableMemory, Is.EqualTo(12345678));
            Assert.That(scorer.ToString(), Does.Contain(scorer.DeviceName).And.Contain("warp 2"));
        });
    }

    [Test]
    public void Score_EmptyQuery_ThrowsNamingQuery()
    {
        ArgumentException? e = Assert.Throws<ArgumentException>(() => Scorer.Score(Vector(4), Vector(4, new float[4])));
        Assert.That(e!.ParamName, Is.EqualTo("query"));
        Assert.That(e.Message, Does.Contain("no tokens"));
    }

    [Test]
    public void Score_DimensionMismatch_ThrowsNamingBothDimensions()
    {
        ArgumentException? e = Assert.Throws<ArgumentException>(() => Scorer.Score(Vector(4, new float[8]), Vector(3, new float[6])));
        Assert.That(e!.ParamName, Is.EqualTo("document"));
        Assert.That(e.Message, Does.Contain("3").And.Contain("4"));
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NegativeInfinity)]
    public void Score_NonFiniteValue_ThrowsNamingParameterTokenAndCoordinate(float bad)
    {
        float[] values = new float[12];
        values[7] = bad;
        ArgumentException? document = Assert.Throws<ArgumentException>(() => Scorer.Score(Vector(4, new float[4]), Vector(4, values)));
        ArgumentException? query = Assert.Throws<ArgumentException>(() => Scorer.Score(Vector(4, values), Vector(4, new float[4])));
        Assert.Multiple(() =>
        {
            Assert.That(document!.ParamName, Is.EqualTo("document"));
            Assert.That(document.Message, Does.Contain("token 1").And.Contain("coordinate 3"));
            Assert.That(query!.ParamName, Is.EqualTo("query"));
            Assert.That(query.Message, Does.Contain("token 1").And.Contain("coordinate 3"));
        });
    }

    [Test]
    public void Score_BatchWithNonFiniteDocuments_NamesTheLowestBadDocument()
    {
        ReadOnlyMultiVector[] documents = [.. Enumerable.Range(0, 40).Select(_ => Vector(4, new float[8]))];
        float[] bad = new float[8];
        bad[5] = float.NaN;
        documents[23] = Vector(4, bad);
        documents[7] = Vector(4, bad);
        ArgumentException? e = Assert.Throws<ArgumentException>(() => Scorer.Score(Vector(4, new float[4]), documents, new float[40]));
        Assert.That(e!.ParamName, Is.EqualTo("documents"));
        Assert.That(e.Message, Does.Contain("documents[7]").And.Contain("token 1").And.Contain("coordinate 1"));
    }

    [Test]
    public void Score_ShortScoresSpan_ThrowsNamingScores()
    {
        ArgumentException? e = Assert.Throws<ArgumentException>(() => Scorer.Score(Vector(4, new float[4]), [Vector(4, new float[4]), Vector(4, new float[4])], new float[1]));
        Assert.That(e!.ParamName, Is.EqualTo("scores"));
    }

    [Test]
    public void Score_NullDocuments_ThrowsArgumentNull() =>
        Assert.Throws<ArgumentNullException>(() => Scorer.Score(Vector(4, new float[4]), null!, new float[1]));

    [Test]
    public void Score_EmptyDocument_IsNegativeInfinity() =>
        Assert.That(Scorer.Score(Vector(2, 1f, 2f), Vector(2)), Is.EqualTo(float.NegativeInfinity));

    [Test]
    public void Score_AllDotProductsNegative_ReturnsTheLeastNegative()
    {
        float score = Scorer.Score(Vector(2, 1f, 0f), Vector(2, -1f, -0.5f, -2f, 0f, -0.25f, -0.25f));
        Assert.That(score, Is.EqualTo(-0.25f));
    }

    [Test]
    public void NonPositiveK_EveryOverload_ThrowsArgumentOutOfRange()
    {
        ReadOnlyMultiVector query = Vector(4, new float[4]);
        using var store = new MultiVectorStore(4);
        store.Add(new float[4]);
        Assert.Multiple(() =>
        {
            Assert.That(() => Scorer.TopK(query, [query], 0), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => Scorer.TopK(query, store, -1), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => Scorer.Rerank(query, store, [0], 0), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => Scorer.TopKBatch([query], store, 0), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => Scorer.RerankBatch([query], store, [[0]], 0), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    [TestCase(-1)]
    [TestCase(3)]
    public void Rerank_IdOutOfRange_ThrowsNamingIdAndCount(int id)
    {
        using MultiVectorStore store = CpuAccelerator.RandomStore(1, 4, StoreElementType.Float32, [1, 2, 3]);
        ArgumentOutOfRangeException? single = Assert.Throws<ArgumentOutOfRangeException>(() => Scorer.Rerank(Vector(4, new float[4]), store, [0, id], 2));
        ArgumentOutOfRangeException? batch = Assert.Throws<ArgumentOutOfRangeException>(() => Scorer.RerankBatch([Vector(4, new float[4])], store, [[id]], 2));
        Assert.Multiple(() =>
        {
            Assert.That(single!.ParamName, Is.EqualTo("candidateIds"));
            Assert.That(single.Message, Does.Contain(id.ToString(System.Globalization.CultureInfo.InvariantCulture)).And.Contain("Count is 3"));
            Assert.That(batch!.ParamName, Is.EqualTo("candidateIds"));
        });
    }

    [Test]
    public void StoreOverloads_QueryDimensionDiffersFromStore_ThrowsNamingQuery()
    {
        using MultiVectorStore store = CpuAccelerator.RandomStore(2, 4, StoreElementType.Float32, [1]);
        ArgumentException? topK = Assert.Throws<ArgumentException>(() => Scorer.TopK(Vector(3, new float[3]), store, 1));
        ArgumentException? batch = Assert.Throws<ArgumentException>(() => Scorer.TopKBatch([Vector(4, new float[4]), Vector(3, new float[3])], store, 1));
        Assert.Multiple(() =>
        {
            Assert.That(topK!.ParamName, Is.EqualTo("query"));
            Assert.That(topK.Message, Does.Contain("dimension 3").And.Contain("dimension is 4"));
            Assert.That(batch!.ParamName, Is.EqualTo("queries"));
            Assert.That(batch.Message, Does.Contain("queries[1]"));
        });
    }

    [Test]
    public void StoreOverloads_NullArguments_ThrowArgumentNull()
    {
        ReadOnlyMultiVector query = Vector(4, new float[4]);
        using var store = new MultiVectorStore(4);
        Assert.Multiple(() =>
        {
            Assert.That(() => Scorer.TopK(query, (MultiVectorStore)null!, 1), Throws.ArgumentNullException);
            Assert.That(() => Scorer.Rerank(query, null!, [], 1), Throws.ArgumentNullException);
            Assert.That(() => Scorer.TopKBatch(null!, store, 1), Throws.ArgumentNullException);
            Assert.That(() => Scorer.RerankBatch([query], store, null!, 1), Throws.ArgumentNullException);
            Assert.That(() => Scorer.Upload(null!), Throws.ArgumentNullException);
            Assert.That(() => Scorer.Release(null!), Throws.ArgumentNullException);
        });
    }

    [Test]
    public void RerankBatch_MismatchedOrNullLists_ThrowsNamingCandidateIds()
    {
        using MultiVectorStore store = CpuAccelerator.RandomStore(3, 4, StoreElementType.Float32, [1, 1]);
        ReadOnlyMultiVector query = Vector(4, new float[4]);
        ArgumentException? count = Assert.Throws<ArgumentException>(() => Scorer.RerankBatch([query, query], store, [[0]], 1));
        ArgumentException? missing = Assert.Throws<ArgumentException>(() => Scorer.RerankBatch([query], store, [null!], 1));
        ArgumentException? empty = Assert.Throws<ArgumentException>(() => Scorer.RerankBatch([Vector(4)], store, [[0]], 1));
        Assert.Multiple(() =>
        {
            Assert.That(count!.ParamName, Is.EqualTo("candidateIds"));
            Assert.That(count.Message, Does.Contain("1 lists").And.Contain("2 queries"));
            Assert.That(missing!.ParamName, Is.EqualTo("candidateIds"));
            Assert.That(missing.Message, Does.Contain("candidateIds[0]"));
            Assert.That(empty!.ParamName, Is.EqualTo("queries"));
            Assert.That(empty.Message, Does.Contain("queries[0] has no tokens"));
        });
    }

    [Test]
    public void Rerank_RepeatedIds_ScoredOnce()
    {
        using MultiVectorStore store = CpuAccelerator.RandomStore(4, 8, StoreElementType.Float32, [3, 2, 5, 1]);
        ReadOnlyMultiVector query = CpuAccelerator.RandomQuery(new System.Random(4), 3, 8);
        ScoredId[] results = Scorer.Rerank(query, store, [3, 3, 1, 3, 1], 10);
        Assert.That(results.Select(r => r.Id).Order(), Is.EqualTo(new[] { 1, 3 }));
        Assert.That(Scorer.Rerank(query, store, [], 10), Is.Empty);
    }

    [Test]
    public void TopK_TiedScores_LowerIdFirst()
    {
        float[] token = [1f, 0f];
        ReadOnlyMultiVector[] documents = [Vector(2, 0.5f, 0f), Vector(2, token), Vector(2, 0.5f, 0f), Vector(2, token), Vector(2)];
        using var store = new MultiVectorStore(2, StoreElementType.Float16, normalize: false);
        foreach (ReadOnlyMultiVector document in documents)
        {
            store.Add(document.Span);
        }

        ReadOnlyMultiVector query = Vector(2, token);
        Assert.Multiple(() =>
        {
            Assert.That(Scorer.TopK(query, documents, 10).Select(r => r.Id), Is.EqualTo(new[] { 1, 3, 0, 2, 4 }));
            Assert.That(Scorer.TopK(query, store, 10).Select(r => r.Id), Is.EqualTo(new[] { 1, 3, 0, 2, 4 }));
            Assert.That(Scorer.Rerank(query, store, [4, 3, 2, 1, 0], 3).Select(r => r.Id), Is.EqualTo(new[] { 1, 3, 0 }));
            Assert.That(Scorer.TopK(query, store, 1), Is.EqualTo(new[] { new ScoredId(1, 1f) }));
        });
    }

    [Test]
    public void TopK_EmptyStore_ReturnsNothing()
    {
        using var store = new MultiVectorStore(3);
        Assert.That(Scorer.TopK(Vector(3, 1f, 2f, 3f), store, 5), Is.Empty);
        Assert.That(Scorer.TopKBatch([], store, 5), Is.Empty);
    }

    [Test]
    public void TopK_StoreGrowsAfterUpload_UploadsTheTailAndSeesNewDocuments()
    {
        using GpuChamferScorer scorer = GpuChamferScorer.CreateCpuAccelerator(2, 2, 1L << 24);
        using MultiVectorStore store = CpuAccelerator.RandomStore(5, 16, StoreElementType.Float32, [4, 5, 6]);
        var random = new System.Random(5);
        ReadOnlyMultiVector query = CpuAccelerator.RandomQuery(random, 3, 16);
        scorer.Upload(store);
        long firstUpload = scorer.AllocatedBytes;
        Assert.That(firstUpload, Is.EqualTo((4 * sizeof(long)) + (15 * 16 * sizeof(float))), "the first upload is exact");

        // Regrowth with headroom, then a tail that fits the headroom, then another regrowth.
        for (int round = 0; round < 3; round++)
        {
            store.Add(TestVectors.Gaussian(random, (round == 1 ? 1 : 7) * 16));
            ScoredId[] results = scorer.TopK(query, store, store.Count);
            Assert.That(results.Select(r => r.Id).Order(), Is.EqualTo(Enumerable.Range(0, store.Count)), $"round {round}");
            CpuAccelerator.AssertEqualsCpu(query, store, results, $"round {round}");
        }

        Assert.That(scorer.AllocatedBytes, Is.GreaterThan(firstUpload));
    }

    [Test]
    public void Release_ResidentStore_FreesItsDeviceMemory()
    {
        using GpuChamferScorer scorer = GpuChamferScorer.CreateCpuAccelerator(2, 2, 1L << 24);
        using MultiVectorStore store = CpuAccelerator.RandomStore(6, 8, StoreElementType.Float16, [10, 20]);
        ScoredId[] before = scorer.TopK(CpuAccelerator.RandomQuery(new System.Random(6), 2, 8), store, 2);
        long held = scorer.AllocatedBytes;
        Assert.Multiple(() =>
        {
            Assert.That(scorer.Release(store), Is.True);
            Assert.That(scorer.AllocatedBytes, Is.EqualTo(held - (3 * sizeof(long)) - (30 * 8 * 2)), "offsets and halves freed");
            Assert.That(scorer.Release(store), Is.False);
            Assert.That(scorer.TopK(CpuAccelerator.RandomQuery(new System.Random(6), 2, 8), store, 2), Is.EqualTo(before), "uploaded again on demand");
        });
    }

    [Test]
    public void Upload_StoreLargerThanDeviceMemory_RefusedNamingBytesNeededAndAvailable()
    {
        using GpuChamferScorer scorer = GpuChamferScorer.CreateCpuAccelerator(2, 2, 64 * 1024);
        using MultiVectorStore big = CpuAccelerator.RandomStore(7, 128, StoreElementType.Float32, [100, 100]);
        long needed = (3 * sizeof(long)) + (200 * 128 * sizeof(float));

        InvalidOperationException? e = Assert.Throws<InvalidOperationException>(() => scorer.Upload(big));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.Contain($"needs {needed} bytes").And.Contain("only 65536 bytes are available").And.Contain("2 documents"));
            Assert.That(scorer.AllocatedBytes, Is.Zero, "nothing was allocated");
            Assert.That(() => scorer.TopK(CpuAccelerator.RandomQuery(new System.Random(7), 1, 128), big, 1), Throws.InvalidOperationException);
        });

        using MultiVectorStore small = CpuAccelerator.RandomStore(8, 128, StoreElementType.Float16, [10, 10]);
        Assert.That(scorer.TopK(CpuAccelerator.RandomQuery(new System.Random(8), 1, 128), small, 2), Has.Length.EqualTo(2), "a store that fits still works");
    }

    [Test]
    public void Upload_GrowthBeyondTheLimit_RefusedAndTheOldCopyKept()
    {
        using GpuChamferScorer scorer = GpuChamferScorer.CreateCpuAccelerator(2, 2, 1L << 20);
        using MultiVectorStore store = CpuAccelerator.RandomStore(9, 64, StoreElementType.Float32, [50]);
        scorer.Upload(store);
        long held = scorer.AllocatedBytes;
        scorer.MemoryLimit = held + 1024;
        store.Add(new float[64 * 64]);
        Assert.Multiple(() =>
        {
            Assert.That(() => scorer.Upload(store), Throws.InvalidOperationException.With.Message.Contains("needs"));
            Assert.That(scorer.AllocatedBytes, Is.EqualTo(held));
        });

        scorer.MemoryLimit = 1L << 20;
        Assert.That(scorer.TopK(CpuAccelerator.RandomQuery(new System.Random(9), 2, 64), store, 5), Has.Length.EqualTo(2));
    }

    [Test]
    public void Dispose_Twice_DoesNotThrowAndLaterCallsThrowObjectDisposed()
    {
        GpuChamferScorer scorer = GpuChamferScorer.CreateCpuAccelerator(2, 2, 1L << 20);
        using MultiVectorStore store = CpuAccelerator.RandomStore(10, 4, StoreElementType.Float32, [1]);
        scorer.Upload(store);
        scorer.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(scorer.Dispose, Throws.Nothing);
            Assert.That(() => scorer.TopK(Vector(4, new float[4]), store, 1), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => scorer.Score(Vector(4, new float[4]), Vector(4, new float[4])), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(scorer.Release(store), Is.False);
            Assert.That(scorer.AllocatedBytes, Is.Zero);
        });
    }

    [Test]
    public void TopK_DisposedLoadedStore_ThrowsObjectDisposed()
    {
        string path = Path.Combine(Path.GetTempPath(), $"muvera-gpu-{Guid.NewGuid():N}.mvs");
        try
        {
            using (MultiVectorStore store = CpuAccelerator.RandomStore(11, 4, StoreElementType.Float32, [2]))
            {
                store.Save(path);
            }

            MultiVectorStore loaded = MultiVectorStore.Load(path);
            ReadOnlyMultiVector query = Vector(4, 1f, 0f, 0f, 0f);
            Assert.That(Scorer.TopK(query, loaded, 1), Has.Length.EqualTo(1), "a memory-mapped store uploads like any other");
            Assert.That(Scorer.Release(loaded), Is.True);
            loaded.Dispose();
            Assert.That(() => Scorer.TopK(query, loaded, 1), Throws.TypeOf<ObjectDisposedException>());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
