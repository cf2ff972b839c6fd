// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using Muvera.Gpu.Tests.Fixtures;
using Muvera.Scoring;

namespace Muvera.Gpu.Tests;

/// <summary>
/// The ILGPU kernel, run on ILGPU's CPU accelerator, against <see cref="CpuChamferScorer"/> on random data: every
/// entry point, Float32 and Float16 stores, dimensions with and without a partial coordinate slab, query blocks and
/// document tiles with tails, empty documents. Tolerance: <see cref="CpuAccelerator.RelativeTolerance"/>.
/// </summary>
[TestFixture]
public sealed class GpuChamferScorerEquivalenceTests
{
    // 0 (empty), 1, tiles of the 2-wide warp with and without a tail, more than one 32-wide tile, and the maximum.
    private static readonly int[] s_documentTokens = [0, 1, 2, 3, 5, 31, 33, 64, 100, 17];
    private static readonly int[] s_queryTokens = [1, 2, 5, 8, 9, 17, 33, 40];

    public static IEnumerable<TestCaseData> Shapes =>
        from d in new[] { 1, 7, 128 }
        from type in new[] { StoreElementType.Float32, StoreElementType.Float16 }
        select new TestCaseData(d, type).SetArgDisplayNames($"d={d}", type.ToString());

    [TestCaseSource(nameof(Shapes))]
    public void TopKBatch_RandomShapes_EqualsCpuScorer(int dimension, StoreElementType elementType)
    {
        MultiVectorStore store = CpuAccelerator.RandomStore(dimension * 7, dimension, elementType, s_documentTokens);
        var random = new System.Random(dimension + 1);
        ReadOnlyMultiVector[] queries = s_queryTokens.Select(n => CpuAccelerator.RandomQuery(random, n, dimension)).ToArray();

        ScoredId[][] results = CpuAccelerator.Tiny.TopKBatch(queries, store, store.Count);

        var cpu = new CpuChamferScorer();
        double worst = 0;
        for (int q = 0; q < queries.Length; q++)
        {
            string what = $"|Q|={queries[q].Count}";
            Assert.That(results[q].Select(r => r.Id).Order(), Is.EqualTo(Enumerable.Range(0, store.Count)), $"{what}: every document once");
            worst = Math.Max(worst, CpuAccelerator.AssertEqualsCpu(queries[q], store, results[q], what));
            Assert.That(results[q][^1], Is.EqualTo(new ScoredId(0, float.NegativeInfinity)), $"{what}: the empty document ranks last");
            Assert.That(results[q].Select(r => r.Id), Is.EqualTo(cpu.TopK(queries[q], store, store.Count).Select(r => r.Id)), $"{what}: ranking");
        }

        TestContext.Out.WriteLine($"largest deviation from the CPU scorer relative to the magnitude: {worst:E2}");
    }

    [TestCaseSource(nameof(Shapes))]
    public void RerankBatch_RandomCandidatesWithRepeats_EqualsCpuRerank(int dimension, StoreElementType elementType)
    {
        MultiVectorStore store = CpuAccelerator.RandomStore(dimension * 11, dimension, elementType, s_documentTokens.Concat(s_documentTokens.Reverse()));
        var random = new System.Random(dimension + 2);
        ReadOnlyMultiVector[] queries = [.. new[] { 3, 40, 1 }.Select(n => CpuAccelerator.RandomQuery(random, n, dimension))];
        int[][] candidates =
        [
            [.. Enumerable.Range(0, 9).Select(_ => random.Next(store.Count)), 4, 4],
            [.. Enumerable.Range(0, store.Count).Reverse()],
            [],
        ];

        ScoredId[][] results = CpuAccelerator.Tiny.RerankBatch(queries, store, candidates, 5);

        var cpu = new CpuChamferScorer();
        for (int q = 0; q < queries.Length; q++)
        {
            ScoredId[] expected = cpu.Rerank(queries[q], store, candidates[q], 5);
            Assert.That(results[q].Select(r => r.Id), Is.EqualTo(expected.Select(r => r.Id)), $"query {q}: ids");
            CpuAccelerator.AssertEqualsCpu(queries[q], store, results[q], $"query {q}");
            Assert.That(CpuAccelerator.Tiny.Rerank(queries[q], store, candidates[q], 5), Is.EqualTo(results[q]), $"query {q}: Rerank equals RerankBatch");
        }
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(128)]
    public void ListOverloads_RandomDocuments_EqualCpuScorer(int dimension)
    {
        var random = new System.Random(dimension + 3);
        ReadOnlyMultiVector query = CpuAccelerator.RandomQuery(random, 9, dimension);
        ReadOnlyMultiVector[] documents = [.. s_documentTokens.Select(n => CpuAccelerator.RandomQuery(random, n, dimension)), default];
        var cpu = new CpuChamferScorer();
        float[] expected = new float[documents.Length];
        cpu.Score(query, documents, expected);

        float[] actual = new float[documents.Length + 1];
        CpuAccelerator.Tiny.Score(query, documents, actual);
        ScoredId[] top = CpuAccelerator.Tiny.TopK(query, documents, 4);

        for (int i = 0; i < documents.Length; i++)
        {
            if (documents[i].Count == 0)
            {
                Assert.That(actual[i], Is.EqualTo(float.NegativeInfinity), $"empty document {i}");
                continue;
            }

            double magnitude = Math.Max(CpuAccelerator.Magnitude(query, documents[i].Span, dimension), Math.Abs(expected[i]));
            Assert.That(Math.Abs(actual[i] - expected[i]) / magnitude, Is.LessThanOrEqualTo(CpuAccelerator.RelativeTolerance), $"document {i}");
            Assert.That(CpuAccelerator.Tiny.Score(query, documents[i]), Is.EqualTo(actual[i]), $"single pair {i} equals the batch score");
        }

        Assert.That(actual[^1], Is.Zero, "the slot past the documents is untouched");
        Assert.That(top.Select(r => r.Id), Is.EqualTo(cpu.TopK(query, documents, 4).Select(r => r.Id)));
    }

    [Test]
    public void TopKBatch_GroupOfFourWarps_EqualsCpuScorer()
    {
        MultiVectorStore store = CpuAccelerator.RandomStore(41, 96, StoreElementType.Float16, [0, 1, 3, 4, 15, 16, 17, 50]);
        var random = new System.Random(42);
        ReadOnlyMultiVector[] queries = [.. new[] { 1, 15, 16, 17 }.Select(n => CpuAccelerator.RandomQuery(random, n, 96))];
        ScoredId[][] results = CpuAccelerator.FourWarps.TopKBatch(queries, store, store.Count);
        for (int q = 0; q < queries.Length; q++)
        {
            CpuAccelerator.AssertEqualsCpu(queries[q], store, results[q], $"|Q|={queries[q].Count}");
        }
    }

    [Test]
    public void TopKBatch_CudaWarpWidth_EqualsCpuScorer()
    {
        // A 32-wide warp as on CUDA: document tiles of 32 tokens with tails of 1 and 16, one warp per group.
        MultiVectorStore store = CpuAccelerator.RandomStore(43, 128, StoreElementType.Float16, [0, 31, 32, 33, 80]);
        var random = new System.Random(44);
        ReadOnlyMultiVector[] queries = [.. new[] { 3, 32 }.Select(n => CpuAccelerator.RandomQuery(random, n, 128))];
        ScoredId[][] results = CpuAccelerator.CudaWarp.TopKBatch(queries, store, store.Count);
        for (int q = 0; q < queries.Length; q++)
        {
            CpuAccelerator.AssertEqualsCpu(queries[q], store, results[q], $"|Q|={queries[q].Count}");
        }
    }

    [Test]
    public void TopKBatch_SplitIntoManyLaunches_SameResultsAsOneLaunch()
    {
        MultiVectorStore store = CpuAccelerator.RandomStore(45, 7, StoreElementType.Float32, [4, 0, 9, 2, 6, 1, 3]);
        var random = new System.Random(46);
        ReadOnlyMultiVector[] queries = [.. new[] { 2, 5, 1 }.Select(n => CpuAccelerator.RandomQuery(random, n, 7))];
        using GpuChamferScorer scorer = GpuChamferScorer.CreateCpuAccelerator(2, 2, 1L << 20);
        ScoredId[][] whole = scorer.TopKBatch(queries, store, 4);
        ScoredId[][] reranked = scorer.RerankBatch(queries, store, [[0, 1, 2, 3, 4, 5, 6], [6, 5, 4], [2]], 4);

        scorer.MaxItemsPerLaunch = 3;
        Assert.Multiple(() =>
        {
            Assert.That(scorer.TopKBatch(queries, store, 4), Is.EqualTo(whole));
            Assert.That(scorer.RerankBatch(queries, store, [[0, 1, 2, 3, 4, 5, 6], [6, 5, 4], [2]], 4), Is.EqualTo(reranked));
            Assert.That(scorer.TopK(queries[0], [.. Enumerable.Range(0, store.Count).Select(store.GetDocument)], 4), Is.EqualTo(whole[0]));
        });
    }
}
