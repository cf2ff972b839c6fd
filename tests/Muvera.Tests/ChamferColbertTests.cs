// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using Muvera.Scoring;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

/// <summary>
/// Exact Chamfer ranking on real ColBERTv2 vectors (<see cref="ColbertNanoFiqa"/>): a double-precision reference
/// and <see cref="CpuChamferScorer"/> must both reproduce the published retrieval quality of the sample.
/// </summary>
[TestFixture]
public sealed class CpuChamferScorerColbertTests
{
    // Exact Chamfer over the 35 documents: the expected figures for this sample, stated to 4 and 3 decimals, so each
    // tolerance is half a unit in the last stated place.
    private const double ExpectedMeanNdcgAt10 = 0.9363;
    private const double NdcgTolerance = 5e-5;
    private const string TopScoreQueryId = "10447";
    private const double ExpectedTopScore = 16.843;
    private const double TopScoreTolerance = 1e-3;

    // float32 dot products over 128 dimensions summed over 32 query tokens, against a double reference.
    private const double RelativeScoreTolerance = 1e-4;
    private const int Cutoff = 10;

    private static readonly Lazy<double[][]> s_referenceScores = new(ComputeReferenceScores);

    private static ColbertNanoFiqa Data => ColbertNanoFiqa.Instance;

    [Test]
    public void ReferenceChamfer_ExactRanking_ReproducesPublishedNdcgAndTopScore()
    {
        double[][] scores = s_referenceScores.Value;
        int[][] rankings = scores.Select(RankByScore).ToArray();
        double[] ndcg = Enumerable.Range(0, rankings.Length).Select(q => NdcgAt(rankings[q], q, Cutoff)).ToArray();
        Report("reference (double)", rankings, q => scores[q][rankings[q][0]], ndcg);

        // The float scorer must reproduce this ranking exactly, so report how close the nearest neighbours in it are.
        (double gap, int query, int rank) closest = Enumerable.Range(0, rankings.Length)
            .SelectMany(q => Enumerable.Range(1, rankings[q].Length - 1).Select(r => ((scores[q][rankings[q][r - 1]] - scores[q][rankings[q][r]]) / scores[q][rankings[q][r - 1]], q, r)))
            .Min();
        TestContext.Out.WriteLine($"  smallest relative gap between adjacent ranks: {closest.gap:E2} (query {Data.QueryIds[closest.query]}, ranks {closest.rank} and {closest.rank + 1})");

        int topQuery = IndexOfQuery(TopScoreQueryId);
        Assert.Multiple(() =>
        {
            Assert.That(ndcg.Average(), Is.EqualTo(ExpectedMeanNdcgAt10).Within(NdcgTolerance), "mean nDCG@10");
            for (int q = 0; q < rankings.Length; q++)
            {
                Assert.That(Data.IsRelevant(q, rankings[q][0]), Is.True, $"top-1 of query {Data.QueryIds[q]} is relevant");
                Assert.That(scores[q].Distinct().Count(), Is.EqualTo(scores[q].Length), $"no tied scores for query {Data.QueryIds[q]}");
            }

            Assert.That(scores[topQuery][rankings[topQuery][0]], Is.EqualTo(ExpectedTopScore).Within(TopScoreTolerance), $"top score of query {TopScoreQueryId}");
        });
    }

    [Test]
    public void Score_EveryQueryDocumentPair_EqualsDoubleReference()
    {
        var scorer = new CpuChamferScorer();
        double[][] reference = s_referenceScores.Value;
        double worst = 0;
        Assert.Multiple(() =>
        {
            for (int q = 0; q < Data.Queries.Count; q++)
            {
                for (int d = 0; d < Data.Documents.Count; d++)
                {
                    float actual = scorer.Score(Data.Queries[q], Data.Documents[d]);
                    double expected = reference[q][d];
                    worst = Math.Max(worst, Math.Abs(actual - expected) / Math.Abs(expected));
                    Assert.That(actual, Is.EqualTo(expected).Within(RelativeScoreTolerance * Math.Abs(expected)), $"query {Data.QueryIds[q]}, document {Data.DocumentIds[d]}");
                }
            }
        });
        TestContext.Out.WriteLine($"largest relative deviation from the double reference: {worst:E2}");
    }

    [Test]
    public void TopK_AllDocuments_EqualsReferenceRankingAndNdcg()
    {
        var scorer = new CpuChamferScorer();
        double[][] reference = s_referenceScores.Value;
        int count = Data.Documents.Count;
        ScoredId[][] hits = Data.Queries.Select(query => scorer.TopK(query, Data.Documents, count)).ToArray();
        int[][] rankings = hits.Select(h => h.Select(hit => hit.Id).ToArray()).ToArray();
        double[] ndcg = Enumerable.Range(0, rankings.Length).Select(q => NdcgAt(rankings[q], q, Cutoff)).ToArray();
        Report("CpuChamferScorer.TopK", rankings, q => hits[q][0].Score, ndcg);

        Assert.Multiple(() =>
        {
            for (int q = 0; q < hits.Length; q++)
            {
                string id = Data.QueryIds[q];
                Assert.That(rankings[q], Is.EqualTo(RankByScore(reference[q])), $"ranking of query {id}");
                Assert.That(Data.IsRelevant(q, rankings[q][0]), Is.True, $"top-1 of query {id} is relevant");
                foreach (ScoredId hit in hits[q])
                {
                    double expected = reference[q][hit.Id];
                    Assert.That(hit.Score, Is.EqualTo(expected).Within(RelativeScoreTolerance * Math.Abs(expected)), $"score of document {Data.DocumentIds[hit.Id]} for query {id}");
                }
            }

            Assert.That(ndcg.Average(), Is.EqualTo(ExpectedMeanNdcgAt10).Within(NdcgTolerance), "mean nDCG@10");
        });
    }

    /// <summary>Chamfer(Q, D) = Σ_q max_d ⟨q, d⟩, every product and sum in double.</summary>
    internal static double ReferenceChamfer(ReadOnlyMultiVector query, ReadOnlyMultiVector document)
    {
        Assert.That(query.Dimension, Is.EqualTo(document.Dimension));
        double total = 0;
        for (int i = 0; i < query.Count; i++)
        {
            ReadOnlySpan<float> q = query[i];
            double best = double.NegativeInfinity;
            for (int j = 0; j < document.Count; j++)
            {
                ReadOnlySpan<float> d = document[j];
                double dot = 0;
                for (int k = 0; k < q.Length; k++)
                {
                    dot += (double)q[k] * d[k];
                }

                best = Math.Max(best, dot);
            }

            total += best;
        }

        return total;
    }

    /// <summary>
    /// nDCG@k as pytrec_eval's <c>ndcg_cut_k</c> computes it: linear gain (the qrels grade, here 1), discount
    /// log2(rank + 1) with ranks from 1, ideal DCG from the judged relevant documents cut at k.
    /// </summary>
    internal static double NdcgAt(IReadOnlyList<int> ranking, int query, int k)
    {
        double dcg = 0;
        for (int rank = 1; rank <= Math.Min(k, ranking.Count); rank++)
        {
            if (Data.IsRelevant(query, ranking[rank - 1]))
            {
                dcg += 1.0 / Math.Log2(rank + 1);
            }
        }

        int relevant = Data.Relevant[Data.QueryIds[query]].Count;
        double ideal = 0;
        for (int rank = 1; rank <= Math.Min(k, relevant); rank++)
        {
            ideal += 1.0 / Math.Log2(rank + 1);
        }

        return ideal == 0 ? 0 : dcg / ideal;
    }

    /// <summary>Document indices by descending score, ties to the lower index (the <see cref="ScoredId"/> convention).</summary>
    private static int[] RankByScore(double[] scores) =>
        Enumerable.Range(0, scores.Length).OrderByDescending(d => scores[d]).ThenBy(d => d).ToArray();

    private static double[][] ComputeReferenceScores() =>
        Data.Queries.Select(query => Data.Documents.Select(document => ReferenceChamfer(query, document)).ToArray()).ToArray();

    private static int IndexOfQuery(string id)
    {
        int index = Data.QueryIds.ToList().IndexOf(id);
        Assert.That(index, Is.GreaterThanOrEqualTo(0), $"query {id} is in the sample");
        return index;
    }

    private static void Report(string what, int[][] rankings, Func<int, double> topScore, double[] ndcg)
    {
        TestContext.Out.WriteLine($"{what}: exact Chamfer over {Data.Documents.Count} documents");
        for (int q = 0; q < rankings.Length; q++)
        {
            int top = rankings[q][0];
            int relevantInTop10 = rankings[q].Take(Cutoff).Count(d => Data.IsRelevant(q, d));
            TestContext.Out.WriteLine(
                $"  query {Data.QueryIds[q],6}: nDCG@10 {ndcg[q]:F6}, relevant in top 10 {relevantInTop10}/{Data.Relevant[Data.QueryIds[q]].Count}, " +
                $"top-1 {Data.DocumentIds[top]} ({(Data.IsRelevant(q, top) ? "relevant" : "NOT relevant")}) score {topScore(q):F5}");
        }

        TestContext.Out.WriteLine($"  mean nDCG@10 {ndcg.Average():F7}");
    }
}
