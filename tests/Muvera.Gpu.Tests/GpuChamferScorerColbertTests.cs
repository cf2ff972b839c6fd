// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Linq;
using Muvera.Gpu.Tests.Fixtures;
using Muvera.Scoring;
using Muvera.Tests.Fixtures;

namespace Muvera.Gpu.Tests;

/// <summary>
/// The GPU kernel (on the CPU accelerator) on real ColBERTv2 vectors (<see cref="ColbertNanoFiqa"/>: 5 queries of 32
/// tokens, 35 documents, d = 128): the same ranking as <see cref="CpuChamferScorer"/> and the same scores within
/// <see cref="CpuAccelerator.RelativeTolerance"/>, for Float32 and Float16 stores.
/// </summary>
[TestFixture]
public sealed class GpuChamferScorerColbertTests
{
    private static ColbertNanoFiqa Data => ColbertNanoFiqa.Instance;

    [TestCase(StoreElementType.Float32)]
    [TestCase(StoreElementType.Float16)]
    public void TopKBatch_EveryQuery_SameRankingAndScoresAsCpuScorer(StoreElementType elementType)
    {
        using MultiVectorStore store = BuildStore(elementType);
        int count = store.Count;

        ScoredId[][] gpu = CpuAccelerator.Tiny.TopKBatch([.. Data.Queries], store, count);

        var cpu = new CpuChamferScorer();
        double worst = 0;
        Assert.Multiple(() =>
        {
            for (int q = 0; q < Data.Queries.Count; q++)
            {
                ScoredId[] expected = cpu.TopK(Data.Queries[q], store, count);
                string id = Data.QueryIds[q];
                Assert.That(gpu[q].Select(r => r.Id), Is.EqualTo(expected.Select(r => r.Id)), $"ranking of query {id}");
                Assert.That(Data.IsRelevant(q, gpu[q][0].Id), Is.True, $"top-1 of query {id} is relevant");
                for (int r = 0; r < count; r++)
                {
                    double deviation = Math.Abs(gpu[q][r].Score - expected[r].Score) / Math.Abs(expected[r].Score);
                    worst = Math.Max(worst, deviation);
                    Assert.That(deviation, Is.LessThanOrEqualTo(CpuAccelerator.RelativeTolerance), $"score of rank {r} for query {id}");
                }
            }
        });
        TestContext.Out.WriteLine($"{elementType}: largest relative deviation from the CPU scorer {worst:E2}");
    }

    [Test]
    public void RerankBatch_RandomCandidatesWithRepeats_SameTopTenAsCpuRerank()
    {
        using MultiVectorStore store = BuildStore(StoreElementType.Float16);
        var random = new System.Random(35);
        // 12 distinct random candidates per query (the cost of the CPU accelerator is per candidate), 3 of them repeated.
        int[][] candidates = [.. Data.Queries.Select(_ =>
        {
            int[] distinct = [.. Enumerable.Range(0, store.Count).OrderBy(_ => random.Next()).Take(12)];
            return distinct.Concat(distinct.Take(3)).OrderBy(_ => random.Next()).ToArray();
        })];

        ScoredId[][] gpu = CpuAccelerator.Tiny.RerankBatch([.. Data.Queries], store, candidates, 10);

        var cpu = new CpuChamferScorer();
        Assert.Multiple(() =>
        {
            for (int q = 0; q < Data.Queries.Count; q++)
            {
                ScoredId[] expected = cpu.Rerank(Data.Queries[q], store, candidates[q], 10);
                Assert.That(gpu[q].Select(r => r.Id), Is.EqualTo(expected.Select(r => r.Id)), $"top 10 of query {Data.QueryIds[q]}");
            }
        });
    }

    private static MultiVectorStore BuildStore(StoreElementType elementType)
    {
        var store = new MultiVectorStore(ColbertNanoFiqa.Dimension, elementType, normalize: false);
        foreach (ReadOnlyMultiVector document in Data.Documents)
        {
            store.Add(document.Span);
        }

        return store;
    }
}
