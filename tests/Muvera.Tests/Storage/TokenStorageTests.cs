// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Muvera.Kernels;
using Muvera.Scoring;
using Muvera.Scoring.Codecs;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Storage;

/// <summary>Quantized token storage in <see cref="MultiVectorStore"/>: int8 and residual codecs (reconstruction error,
/// nearest centroids, deterministic training), scores equal to Chamfer over the reconstruction at every width, format
/// version 2 round trips, lazy block verification of corrupt data, and corrupt codebooks refused at open.</summary>
[TestFixture]
public sealed class TokenStorageTests
{
    private const int Dimension = 40;

    public static IEnumerable<TestCaseData> Storages()
    {
        yield return new TestCaseData(TokenStorage.Float32).SetArgDisplayNames("f32");
        yield return new TestCaseData(TokenStorage.Float16).SetArgDisplayNames("f16");
        yield return new TestCaseData(TokenStorage.Int8).SetArgDisplayNames("int8");
        yield return new TestCaseData(TokenStorage.Residual(1)).SetArgDisplayNames("residual1");
        yield return new TestCaseData(TokenStorage.Residual(2)).SetArgDisplayNames("residual2");
        yield return new TestCaseData(TokenStorage.Residual(4, 32)).SetArgDisplayNames("residual4");
    }

    [Test]
    public void BytesPerToken_EveryKind_IsTheDocumentedSize()
    {
        Assert.Multiple(() =>
        {
            Assert.That(TokenStorage.Float32.BytesPerToken(128), Is.EqualTo(512));
            Assert.That(TokenStorage.Float16.BytesPerToken(128), Is.EqualTo(256));
            Assert.That(TokenStorage.Int8.BytesPerToken(128), Is.EqualTo(128));
            Assert.That(TokenStorage.Residual(1).BytesPerToken(128), Is.EqualTo(20), "u16 id, f16 scale, 16 code bytes");
            Assert.That(TokenStorage.Residual(2).BytesPerToken(128), Is.EqualTo(36));
            Assert.That(TokenStorage.Residual(4).BytesPerToken(130), Is.EqualTo(69));
            Assert.That(TokenStorage.Residual().CentroidsFor(880_000), Is.EqualTo(8192), "ColBERTv2: 2^floor(log2(16 sqrt(T)))");
            Assert.That(TokenStorage.Residual().CentroidsFor(4430), Is.EqualTo(1024));
            Assert.That(TokenStorage.Residual().CentroidsFor(300), Is.EqualTo(64), "at most T/4");
            Assert.That(TokenStorage.Residual(2, 100).CentroidsFor(50), Is.EqualTo(50));
            Assert.That(TokenStorage.Residual(2, 300).ToString(), Is.EqualTo("residual:2,300"));
        });
    }

    [Test]
    public void Residual_BadArguments_ThrowNamingTheValue()
    {
        Assert.That(() => TokenStorage.Residual(3), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contain("bits is 3"));
        Assert.That(() => TokenStorage.Residual(2, 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contain("got 0"));
        Assert.That(() => TokenStorage.Float32 with { Seed = 2, MaxTrainingSample = 1000 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new MultiVectorStore(4, StoreElementType.Int8, false), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contain("TokenStorage"));
    }

    [TestCaseSource(nameof(Storages))]
    public void Add_Untrained_ThrowsUntilTrained(TokenStorage storage)
    {
        var store = new MultiVectorStore(Dimension, storage, normalize: true);
        float[] tokens = TestVectors.Gaussian(new Random(1), 3 * Dimension);
        if (!storage.IsQuantized)
        {
            Assert.That(store.IsTrained, Is.True);
            Assert.That(() => store.Train(tokens), Throws.InvalidOperationException);
            return;
        }

        Assert.That(() => store.Add(tokens), Throws.InvalidOperationException.With.Message.Contain("Train"));
        Assert.That(() => store.Train(tokens), Throws.ArgumentException.With.Message.Contain($"at least {TokenStorage.MinTrainingTokens}"));
        Assert.That(store.Count, Is.Zero);
    }

    [TestCaseSource(nameof(Storages))]
    public void Scores_EveryWidth_EqualChamferOverTheReconstructionBitForBit(TokenStorage storage)
    {
        MultiVectorStore store = Build(storage, out List<float[]> documents);
        var random = new Random(7);
        float[] query = TestVectors.Gaussian(random, 7 * Dimension);
        var q = new ReadOnlyMultiVector(query, Dimension);
        foreach (SimdWidth width in new[] { SimdWidth.Scalar, SimdWidth.Vector128, SimdWidth.Vector256, SimdWidth.Vector512 }.Where(SimdDispatch.IsAccelerated))
        {
            for (int id = 0; id < store.Count; id++)
            {
                float[] stored = Tokens(store, id);
                float expected = CpuChamferScorer.ScoreUnchecked(q, new ReadOnlyMultiVector(stored, Dimension), width);
                Assert.That(CpuChamferScorer.ScoreStored(q, store, id, width), Is.EqualTo(expected), $"{storage}, {width}, document {id}");
            }
        }
    }

    [TestCaseSource(nameof(Storages))]
    public void Reconstruction_IsCloseToTheOriginal(TokenStorage storage)
    {
        MultiVectorStore store = Build(storage, out List<float[]> documents);
        double worst = 0, sum = 0;
        int count = 0;
        for (int id = 0; id < documents.Count; id++)
        {
            float[] stored = Tokens(store, id);
            for (int i = 0; i < stored.Length; i++)
            {
                double error = Math.Abs(stored[i] - documents[id][i]);
                worst = Math.Max(worst, error);
                sum += error;
                count++;
            }
        }

        // Unit tokens of dimension 40 (coordinates about ±0.16): int8 errs by at most half a step of the range over
        // 255 levels; residual codes by the spread of one bucket.
        double bound = storage.Kind switch
        {
            StoreElementType.Float32 => 0,
            StoreElementType.Float16 => 1e-3,
            StoreElementType.Int8 => 0.005,
            _ => 0.5,
        };
        TestContext.Out.WriteLine($"{storage}: mean |error| {sum / count:E2}, max {worst:E2}");
        Assert.That(worst, Is.LessThanOrEqualTo(bound));
        if (storage.Kind == StoreElementType.Residual)
        {
            Assert.That(sum / count, Is.LessThan(storage.Bits switch { 1 => 0.08, 2 => 0.05, _ => 0.03 }), "mean error shrinks with bits");
        }
    }

    [Test]
    public void Residual_Encode_PicksTheNearestCentroidAndDecodesScaledCentroidPlusBucketValue()
    {
        MultiVectorStore store = Build(TokenStorage.Residual(2), out List<float[]> documents);
        var codec = (ResidualTokenCodec)store.Codec!;
        int k = codec.CentroidCount;
        ReadOnlySpan<byte> records = store.Records(3);
        int n = store.TokenCountOf(3);
        for (int t = 0; t < n; t++)
        {
            float[] token = documents[3].AsSpan(t * Dimension, Dimension).ToArray();
            ReadOnlySpan<byte> record = records.Slice(t * codec.RecordBytes, codec.RecordBytes);
            int id = BinaryPrimitives.ReadUInt16LittleEndian(record);
            float scale = (float)BinaryPrimitives.ReadHalfLittleEndian(record[2..]);
            double Distance(int c) => Enumerable.Range(0, Dimension).Sum(j => Math.Pow((double)token[j] - codec.Centroids[(c * Dimension) + j], 2));
            double best = Enumerable.Range(0, k).Min(Distance);
            Assert.That(Distance(id), Is.LessThanOrEqualTo(best + 1e-6), $"token {t}");
            float[] decoded = new float[Dimension];
            codec.Decode(SimdWidth.Scalar, record, decoded);
            double unscaledNorm = 0;
            for (int j = 0; j < Dimension; j++)
            {
                int code = (record[ResidualTokenCodec.RecordHeaderBytes + (j / 4)] >> ((j % 4) * 2)) & 3;
                float unscaled = codec.Centroids[(id * Dimension) + j] + codec.Values[(j * 4) + code];
                unscaledNorm += (double)unscaled * unscaled;
                Assert.That(decoded[j], Is.EqualTo(unscaled * scale), $"token {t}, coordinate {j}");
                float residual = token[j] - codec.Centroids[(id * Dimension) + j];
                int expected = Enumerable.Range(0, 3).Count(i => codec.Cutoffs[(j * 3) + i] < residual);
                Assert.That(code, Is.EqualTo(expected), $"token {t}, coordinate {j}: the number of cut-offs below the residual");
            }

            // The tokens are unit vectors: the scale restores norm 1 (to half precision).
            Assert.That(scale * Math.Sqrt(unscaledNorm), Is.EqualTo(1).Within(1e-3), $"token {t}: the decoded norm");
        }
    }

    [TestCaseSource(nameof(Storages))]
    public void Train_SameSample_SameParametersAtAnyThreadCount(TokenStorage storage)
    {
        if (!storage.IsQuantized)
        {
            return;
        }

        float[] sample = TestVectors.Gaussian(new Random(3), 2000 * Dimension);
        TokenCodec one = MultiVectorStore.TrainCodec(storage, Dimension, true, [sample], "sample", new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = 1 });
        TokenCodec many = MultiVectorStore.TrainCodec(storage, Dimension, true, [sample.AsMemory(0, 1000 * Dimension), sample.AsMemory(1000 * Dimension)], "sample", new System.Threading.Tasks.ParallelOptions());
        byte[] a = new byte[one.ParameterLength];
        byte[] b = new byte[many.ParameterLength];
        one.WriteParameters(a);
        many.WriteParameters(b);
        Assert.That(b, Is.EqualTo(a));
    }

    [TestCaseSource(nameof(Storages))]
    public void SaveLoad_PathAndStream_SameTokensScoresAndEncodedBytes(TokenStorage storage)
    {
        MultiVectorStore store = Build(storage, out _);
        string path = TempPath();
        try
        {
            store.Save(path);
            using MultiVectorStore mapped = MultiVectorStore.Load(path);
            MultiVectorStore streamed = MultiVectorStore.Load(new MemoryStream(File.ReadAllBytes(path)));
            Assert.That(mapped.Storage, Is.EqualTo(storage));
            Assert.That(mapped.EncodedBytes, Is.EqualTo(store.EncodedBytes));
            Assert.That(mapped.IsFullyVerified, Is.EqualTo(store.TokenCount == 0));
            var query = new ReadOnlyMultiVector(TestVectors.Gaussian(new Random(5), 4 * Dimension), Dimension);
            var scorer = new CpuChamferScorer();
            Assert.That(scorer.TopK(query, mapped, 5), Is.EqualTo(scorer.TopK(query, store, 5)));
            Assert.That(scorer.TopK(query, streamed, 5), Is.EqualTo(scorer.TopK(query, store, 5)));
            for (int id = 0; id < store.Count; id++)
            {
                TestVectors.AssertBitIdentical(Tokens(mapped, id), Tokens(store, id), $"document {id}");
            }

            Assert.That(mapped.IsFullyVerified, Is.True, "TopK verified every block");
            long expected = (store.TokenCount * storage.BytesPerToken(Dimension)) + (store.Codec?.ParameterLength ?? 0);
            Assert.That(store.EncodedBytes, Is.EqualTo(expected));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestCaseSource(nameof(Storages))]
    public void Load_CorruptDataBlock_OpensThenThrowsInvalidDataOnFirstUseOfThatBlockOnly(TokenStorage storage)
    {
        MultiVectorStore store = Build(storage, out _, documents: 100, tokensPerDocument: 100);
        string path = TempPath();
        try
        {
            store.Save(path);
            byte[] bytes = File.ReadAllBytes(path);
            int blockTokens = MultiVectorStore.BlockTokensFor(storage.BytesPerToken(Dimension));
            long dataOffset = bytes.Length - (store.TokenCount * storage.BytesPerToken(Dimension));
            bytes[dataOffset + 5] ^= 0x04; // block 0, document 0
            File.WriteAllBytes(path, bytes);

            using MultiVectorStore loaded = MultiVectorStore.Load(path);
            int clean = store.Count - 1;
            Assert.That((long)clean * 100 / blockTokens, Is.GreaterThan(0), "the last document lies in a later block");
            Assert.That(() => Tokens(loaded, clean), Throws.Nothing);
            var query = new ReadOnlyMultiVector(TestVectors.Gaussian(new Random(5), 4 * Dimension), Dimension);
            var scorer = new CpuChamferScorer();
            Assert.That(() => scorer.Rerank(query, loaded, [clean], 1), Throws.Nothing);
            InvalidDataException e = Assert.Throws<InvalidDataException>(() => Tokens(loaded, 0))!;
            Assert.That(e.Message, Does.Contain("block 0").And.Contain("checksum").And.Contain(path));
            Assert.That(() => scorer.Rerank(query, loaded, [clean, 0], 1), Throws.InstanceOf<InvalidDataException>());
            Assert.That(() => scorer.TopK(query, loaded, 1), Throws.InstanceOf<InvalidDataException>());
            Assert.That(loaded.Verify, Throws.InstanceOf<InvalidDataException>());
            Assert.That(() => MultiVectorStore.Load(new MemoryStream(bytes)), Throws.InstanceOf<InvalidDataException>(), "an in-memory load verifies every block");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestCaseSource(nameof(Storages))]
    public void Load_EveryFlippedByteOutsideTheData_ThrowsInvalidDataAtOpen(TokenStorage storage)
    {
        MultiVectorStore store = Build(storage, out _);
        string path = TempPath();
        try
        {
            store.Save(path);
            byte[] original = File.ReadAllBytes(path);
            long dataOffset = original.Length - (store.TokenCount * storage.BytesPerToken(Dimension));
            var random = new Random(9);
            int refused = 0;
            for (int position = 0; position < dataOffset; position++)
            {
                byte[] bytes = (byte[])original.Clone();
                bytes[position] ^= (byte)(1 << random.Next(8));
                File.WriteAllBytes(path, bytes);
                try
                {
                    using MultiVectorStore loaded = MultiVectorStore.Load(path);

                    // Only padding bytes are covered by no checksum; a load that succeeds must hold the original store.
                    loaded.Verify();
                    for (int id = 0; id < store.Count; id++)
                    {
                        TestVectors.AssertBitIdentical(Tokens(loaded, id), Tokens(store, id), $"byte {position}");
                    }
                }
                catch (InvalidDataException)
                {
                    refused++;
                }
            }

            TestContext.Out.WriteLine($"{storage}: {refused} of {dataOffset} flipped header, offset, codebook and table bytes refused");
            Assert.That(refused, Is.GreaterThan(dataOffset / 2));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static MultiVectorStore Build(TokenStorage storage, out List<float[]> originals, int documents = 12, int tokensPerDocument = 0)
    {
        var random = new Random(1234);
        var store = new MultiVectorStore(Dimension, storage, normalize: true);
        var list = new List<float[]>();
        for (int i = 0; i < documents; i++)
        {
            int tokens = tokensPerDocument > 0 ? tokensPerDocument : (i % 5 == 4 ? 0 : 20 + (i * 7 % 90));
            float[] values = TestVectors.Gaussian(random, tokens * Dimension);
            for (int t = 0; t < tokens; t++)
            {
                TestVectors.Normalize(values.AsSpan(t * Dimension, Dimension));
            }

            list.Add(values);
        }

        if (storage.IsQuantized)
        {
            store.Train(list.SelectMany(x => x).ToArray());
        }

        foreach (float[] values in list)
        {
            store.Add(values);
        }

        originals = list;
        return store;
    }

    private static float[] Tokens(MultiVectorStore store, int id)
    {
        float[] values = new float[store.TokenCountOf(id) * store.Dimension];
        store.CopyTokens(id, values);
        return values;
    }

    private static string TempPath() => Path.Combine(Path.GetTempPath(), $"muvera-tokens-{Guid.NewGuid():N}.mvs");
}
