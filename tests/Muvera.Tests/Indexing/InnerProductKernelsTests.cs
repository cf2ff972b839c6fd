// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Indexing;

/// <summary>
/// The flat index's inner-product kernels at every SIMD width: scores against a double-precision reference, and the
/// determinism contract (a score does not depend on batch size, tiling, block size or thread count).
/// </summary>
public sealed class InnerProductKernelsTests
{
    public static IEnumerable<int> Widths => [(int)SimdWidth.Scalar, (int)SimdWidth.Vector128, (int)SimdWidth.Vector256, (int)SimdWidth.Vector512];

    public static IEnumerable<TestCaseData> WidthsAndShapes =>
        from width in Widths
        from shape in new (int Dimension, int Count)[] { (1, 5), (3, 70), (16, 33), (61, 129), (1100, 37), (2048, 9) }
        from type in new[] { StoreElementType.Float32, StoreElementType.Float16 }
        select new TestCaseData(width, shape.Dimension, shape.Count, type);

    [TestCaseSource(nameof(WidthsAndShapes))]
    public void Scores_MatchDoubleReference_AndBatchesEqualSingles(int simdWidth, int dimension, int count, StoreElementType type)
    {
        var random = new Random((simdWidth * 7919) + dimension);
        float[] vectors = TestVectors.Gaussian(random, count * dimension);
        float[] queries = TestVectors.Gaussian(random, 7 * dimension);

        // Several blocks (7 vectors each) so block boundaries fall inside row tiles' ranges.
        using var index = new FlatMipsIndex(dimension, type, rowsPerBlock: 7);
        index.Add(vectors);
        float[] stored = type == StoreElementType.Float32 ? vectors : vectors.Select(v => (float)(Half)v).ToArray();

        var options = new ParallelOptions { MaxDegreeOfParallelism = 1 };
        TopKHeap[] batch = SearchBlock(index, (SimdWidth)simdWidth, queries, 7, count, options);
        for (int q = 0; q < 7; q++)
        {
            var results = new ScoredId[count];
            Assert.That(batch[q].CopySorted(results), Is.EqualTo(count));
            TopKHeap[] single = SearchBlock(index, (SimdWidth)simdWidth, queries.AsSpan(q * dimension, dimension).ToArray(), 1, count, options);
            var singleResults = new ScoredId[count];
            single[0].CopySorted(singleResults);
            Assert.That(singleResults, Is.EqualTo(results), $"query {q}: batch and single search differ");

            foreach (ScoredId result in results)
            {
                double sum = 0, magnitude = 0;
                for (int j = 0; j < dimension; j++)
                {
                    double term = (double)queries[(q * dimension) + j] * stored[(result.Id * dimension) + j];
                    sum += term;
                    magnitude += Math.Abs(term);
                }

                if (!(Math.Abs(result.Score - sum) <= 1e-6 * Math.Max(magnitude, 1e-30)))
                {
                    Assert.Fail($"{(SimdWidth)simdWidth} d={dimension} {type}: score of id {result.Id} is {result.Score:R}, reference {sum:R}");
                }
            }
        }
    }

    [TestCase(StoreElementType.Float32)]
    [TestCase(StoreElementType.Float16)]
    public void ParallelScan_EqualsSequential_AtEveryThreadCount(StoreElementType type)
    {
        // 4,000 × 1,100 is above the parallel threshold even for one query; 1,100 leaves a tail at every width and
        // spans two depth chunks.
        const int Dimension = 1100, Count = 4000, K = 50;
        var random = new Random(99);
        using var index = new FlatMipsIndex(Dimension, type, rowsPerBlock: 999);
        index.Add(TestVectors.Gaussian(random, Count * Dimension));
        float[] queries = TestVectors.Gaussian(random, 5 * Dimension);

        var expected = new ScoredId[5 * K];
        index.SearchBatch(queries, K, expected, new ParallelOptions { MaxDegreeOfParallelism = 1 });
        foreach (int threads in new[] { 2, 3, -1 })
        {
            var actual = new ScoredId[5 * K];
            index.SearchBatch(queries, K, actual, new ParallelOptions { MaxDegreeOfParallelism = threads });
            Assert.That(actual, Is.EqualTo(expected), $"{threads} threads");
            var single = new ScoredId[K];
            index.Search(queries.AsSpan(2 * Dimension, Dimension), K, single, new ParallelOptions { MaxDegreeOfParallelism = threads });
            Assert.That(single, Is.EqualTo(expected.AsSpan(2 * K, K).ToArray()));
        }
    }

    [Test]
    public void ManyQueries_SpanSeveralQueryBlocks()
    {
        const int Dimension = 40, Count = 500, K = 3;
        var random = new Random(3);
        using var index = new FlatMipsIndex(Dimension);
        index.Add(TestVectors.Gaussian(random, Count * Dimension));
        int queryCount = FlatMipsIndex.QueryBlock * 2 + 5;
        float[] queries = TestVectors.Gaussian(random, queryCount * Dimension);
        var batch = new ScoredId[queryCount * K];
        index.SearchBatch(queries, K, batch);
        for (int q = 0; q < queryCount; q++)
        {
            var single = new ScoredId[K];
            index.Search(queries.AsSpan(q * Dimension, Dimension), K, single);
            Assert.That(batch.AsSpan(q * K, K).ToArray(), Is.EqualTo(single), $"query {q}");
        }
    }

    internal static TopKHeap[] SearchBlock(FlatMipsIndex index, SimdWidth width, float[] queries, int queryCount, int k, ParallelOptions options) => width switch
    {
        SimdWidth.Vector512 => index.SearchBlock<Lanes512, Vector512<float>>(queries, queryCount, k, options),
        SimdWidth.Vector256 => index.SearchBlock<Lanes256, Vector256<float>>(queries, queryCount, k, options),
        SimdWidth.Vector128 => index.SearchBlock<Lanes128, Vector128<float>>(queries, queryCount, k, options),
        _ => index.SearchBlock<LanesScalar, float>(queries, queryCount, k, options),
    };
}

/// <summary>Flat-index behaviour beyond the shared conformance suite: blocks, capacity, streams and hostile headers.</summary>
public sealed class FlatMipsIndexTests
{
    [Test]
    public void Constructor_RefusesBadArguments()
    {
        var dimension = Assert.Throws<ArgumentOutOfRangeException>(() => new FlatMipsIndex(0));
        Assert.That(dimension!.ParamName, Is.EqualTo("dimension"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlatMipsIndex(4, (StoreElementType)7));
    }

    [Test]
    public void Reserve_ThenAdd_KeepsEveryVector_AcrossBlocks()
    {
        var random = new Random(1);
        float[] vectors = TestVectors.Gaussian(random, 100 * 8);
        using var index = new FlatMipsIndex(8, StoreElementType.Float32, rowsPerBlock: 16);
        index.Reserve(40);
        for (int i = 0; i < 100; i += 9)
        {
            index.Add(vectors.AsSpan(i * 8, Math.Min(9, 100 - i) * 8));
        }

        Assert.That(index.Count, Is.EqualTo(100));
        Assert.That(index.MemoryBytes, Is.GreaterThanOrEqualTo(100 * 8 * sizeof(float)));
        for (int i = 0; i < 100; i++)
        {
            // A vector's best match among unit-free Gaussians is not always itself, but its own score must be found.
            var results = new ScoredId[100];
            index.Search(vectors.AsSpan(i * 8, 8), 100, results);
            float self = results.Single(r => r.Id == i).Score;
            float expected = System.Numerics.Tensors.TensorPrimitives.Dot(vectors.AsSpan(i * 8, 8), vectors.AsSpan(i * 8, 8));
            Assert.That(self, Is.EqualTo(expected).Within(1e-5f * expected));
        }
    }

    [TestCase(StoreElementType.Float32)]
    [TestCase(StoreElementType.Float16)]
    public void CopyVector_ReturnsTheStoredVector(StoreElementType type)
    {
        var random = new Random(4);
        float[] vectors = TestVectors.Gaussian(random, 30 * 6);
        using var index = new FlatMipsIndex(6, type, rowsPerBlock: 4);
        index.Add(vectors);
        var copy = new float[6];
        for (int id = 0; id < 30; id++)
        {
            index.CopyVector(id, copy);
            float[] expected = vectors.AsSpan(id * 6, 6).ToArray();
            Assert.That(copy, Is.EqualTo(type == StoreElementType.Float32 ? expected : expected.Select(v => (float)(Half)v)), $"id {id}");
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => index.CopyVector(30, copy));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.CopyVector(-1, copy));
        Assert.Throws<ArgumentException>(() => index.CopyVector(0, new float[5]));
    }

    [Test]
    public void SaveToStream_LoadFromNonSeekableStream_RoundTrips()
    {
        var random = new Random(2);
        using var index = new FlatMipsIndex(24, StoreElementType.Float16, rowsPerBlock: 10);
        index.Add(TestVectors.Gaussian(random, 55 * 24));
        using var buffer = new MemoryStream();
        index.Save(buffer);
        using var loaded = FlatMipsIndex.Load(new ForwardOnlyStream(buffer.ToArray()));
        Assert.That(loaded.ElementType, Is.EqualTo(StoreElementType.Float16));
        float[] query = TestVectors.Gaussian(random, 24);
        var expected = new ScoredId[10];
        var actual = new ScoredId[10];
        index.Search(query, 10, expected);
        loaded.Search(query, 10, actual);
        Assert.That(actual, Is.EqualTo(expected));

        byte[] withTrailer = [.. buffer.ToArray(), 1];
        Assert.Throws<InvalidDataException>(() => FlatMipsIndex.Load(new ForwardOnlyStream(withTrailer)));
    }

    [Test]
    public void HostileHeader_HugeCount_IsRefusedWithoutAllocating()
    {
        using var index = new FlatMipsIndex(4);
        index.Add(new float[8]);
        using var buffer = new MemoryStream();
        index.Save(buffer);
        byte[] bytes = buffer.ToArray();

        // Headers with correct checksums that claim absurd sizes.
        BitConverter.TryWriteBytes(bytes.AsSpan(16), 1 << 30);
        RewriteHeaderChecksum(bytes);
        var tooWide = Assert.Throws<InvalidDataException>(() => FlatMipsIndex.Load(new ForwardOnlyStream(bytes)));
        Assert.That(tooWide!.Message, Does.Contain("dimension 1073741824"));

        BitConverter.TryWriteBytes(bytes.AsSpan(16), FlatMipsIndex.MaxDimension);
        BitConverter.TryWriteBytes(bytes.AsSpan(24), (long)int.MaxValue - 1);
        RewriteHeaderChecksum(bytes);
        var seekable = Assert.Throws<InvalidDataException>(() => FlatMipsIndex.Load(new MemoryStream(bytes)));
        Assert.That(seekable!.Message, Does.Contain("truncated"));
        Assert.Throws<InvalidDataException>(() => FlatMipsIndex.Load(new ForwardOnlyStream(bytes)));

        // A plausible count that the data does not back: fails at the real end of a forward-only stream.
        bytes = buffer.ToArray();
        BitConverter.TryWriteBytes(bytes.AsSpan(24), 50_000_000L);
        RewriteHeaderChecksum(bytes);
        var forward = Assert.Throws<InvalidDataException>(() => FlatMipsIndex.Load(new ForwardOnlyStream(bytes)));
        Assert.That(forward!.Message, Does.Contain("truncated"));
    }

    [Test]
    public void Load_FileWithNonFiniteValue_IsRefused()
    {
        using var index = new FlatMipsIndex(4);
        index.Add(new float[] { 1, 2, 3, 4 });
        using var buffer = new MemoryStream();
        index.Save(buffer);
        byte[] bytes = buffer.ToArray();
        BitConverter.TryWriteBytes(bytes.AsSpan(FlatMipsIndex.HeaderLength + 8), float.NaN);
        ulong checksum = TestVectors.Fnv1a64(bytes.AsSpan(FlatMipsIndex.HeaderLength));
        BitConverter.TryWriteBytes(bytes.AsSpan(32), checksum);
        RewriteHeaderChecksum(bytes);
        var error = Assert.Throws<InvalidDataException>(() => FlatMipsIndex.Load(new MemoryStream(bytes)));
        Assert.That(error!.Message, Does.Contain("non-finite"));
    }

    [Test]
    public void Search_CancelledToken_Throws()
    {
        using var index = new FlatMipsIndex(4);
        index.Add(new float[40]);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.Throws<OperationCanceledException>(() =>
            index.Search(new float[4], 3, new ScoredId[3], new ParallelOptions { CancellationToken = cancellation.Token }));
    }

    private static void RewriteHeaderChecksum(byte[] bytes) =>
        BitConverter.TryWriteBytes(bytes.AsSpan(56), TestVectors.Fnv1a64(bytes.AsSpan(0, 56)));

    /// <summary>A read-only stream that cannot seek (as a network or pipe stream).</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
