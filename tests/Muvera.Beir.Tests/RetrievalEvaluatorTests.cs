// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Muvera.Beir.Tests;

/// <summary>
/// The measures against values computed by hand from trec_eval 9.x's definitions (m_ndcg_cut.c, m_recall.c, m_P.c,
/// m_map_cut.c; ranking by form_res_rels.c's comp_sim_docno) and BEIR's mrr (custom_metrics.py).
/// </summary>
public sealed class RetrievalEvaluatorTests
{
    private const double Tolerance = 1e-12;

    private static Qrels MakeQrels(params (string Query, string Document, int Grade)[] judgments)
    {
        var qrels = new Qrels();
        foreach ((string query, string document, int grade) in judgments)
        {
            qrels.Set(query, document, grade);
        }

        return qrels;
    }

    private static RetrievedDocument[] Hits(params (string Id, double Score)[] hits) =>
        [.. hits.Select(hit => new RetrievedDocument(hit.Id, hit.Score))];

    [Test]
    public void EvaluateQuery_GradedJudgmentsWithUnjudgedDocument_MatchesHandComputedValues()
    {
        // Judged: d1 = 2, d2 = 1, d3 = 0 (judged non-relevant), d4 = 1; d5 is unjudged (non-relevant, no gain).
        Qrels qrels = MakeQrels(("q1", "d1", 2), ("q1", "d2", 1), ("q1", "d3", 0), ("q1", "d4", 1));
        var evaluator = new RetrievalEvaluator(qrels, new EvaluationOptions { Cutoffs = [1, 3, 5, 10] });

        // Ranking d1 (2), d5 (-), d2 (1), d3 (0), d4 (1); 3 relevant judged; ideal gains 2, 1, 1.
        QueryMetrics metrics = evaluator.EvaluateQuery("q1", Hits(("d3", 0.6), ("d1", 0.9), ("d4", 0.5), ("d2", 0.7), ("d5", 0.8)));

        Assert.Multiple(() =>
        {
            Assert.That(metrics.RelevantCount, Is.EqualTo(3));
            Assert.That(metrics.RetrievedCount, Is.EqualTo(5));

            // nDCG@1 = (2/log2 2) / (2/log2 2) = 1.
            Assert.That(metrics.Ndcg(1), Is.EqualTo(1.0).Within(Tolerance));
            // DCG@3 = 2/log2(2) + 0 + 1/log2(4) = 2.5; IDCG@3 = 2 + 1/log2(3) + 1/log2(4) = 3.1309297535714578.
            Assert.That(metrics.Ndcg(3), Is.EqualTo(0.7984848580994974).Within(Tolerance));
            // DCG@5 = 2.5 + 1/log2(6) = 2.8868528072345416; the ideal has only 3 gains, so IDCG@5 = IDCG@3.
            Assert.That(metrics.Ndcg(5), Is.EqualTo(0.9220433016555235).Within(Tolerance));
            // k beyond the run: nothing more is retrieved or ideal, so nDCG@10 = nDCG@5.
            Assert.That(metrics.Ndcg(10), Is.EqualTo(0.9220433016555235).Within(Tolerance));

            Assert.That(metrics.Recall(1), Is.EqualTo(1.0 / 3).Within(Tolerance));
            Assert.That(metrics.Recall(3), Is.EqualTo(2.0 / 3).Within(Tolerance));
            Assert.That(metrics.Recall(5), Is.EqualTo(1.0).Within(Tolerance));

            // P@k divides by k even past the run's end (trec_eval fills with non-relevant documents): 3/10.
            Assert.That(metrics.Precision(1), Is.EqualTo(1.0).Within(Tolerance));
            Assert.That(metrics.Precision(3), Is.EqualTo(2.0 / 3).Within(Tolerance));
            Assert.That(metrics.Precision(5), Is.EqualTo(0.6).Within(Tolerance));
            Assert.That(metrics.Precision(10), Is.EqualTo(0.3).Within(Tolerance));

            // MAP@k: precision at each relevant rank ≤ k (ranks 1, 3, 5: 1/1, 2/3, 3/5), over 3 relevant judged.
            Assert.That(metrics.Map(1), Is.EqualTo(1.0 / 3).Within(Tolerance));
            Assert.That(metrics.Map(3), Is.EqualTo((1 + (2.0 / 3)) / 3).Within(Tolerance));      // 5/9
            Assert.That(metrics.Map(5), Is.EqualTo((1 + (2.0 / 3) + 0.6) / 3).Within(Tolerance)); // 34/45
            Assert.That(metrics.Map(10), Is.EqualTo(34.0 / 45).Within(Tolerance));

            Assert.That(metrics.Mrr(1), Is.EqualTo(1.0));
            Assert.That(metrics.Mrr(10), Is.EqualTo(1.0));
        });
    }

    [Test]
    public void EvaluateQuery_RelevantDocumentNotRetrieved_CountsInRecallAndIdealOnly()
    {
        // d9 (grade 2) is judged relevant but never retrieved: it lowers recall and raises the ideal DCG.
        Qrels qrels = MakeQrels(("q", "d1", 1), ("q", "d9", 2));
        var evaluator = new RetrievalEvaluator(qrels, new EvaluationOptions { Cutoffs = [1, 2, 10] });

        QueryMetrics metrics = evaluator.EvaluateQuery("q", Hits(("d1", 3), ("d2", 2)));

        Assert.Multiple(() =>
        {
            // DCG@2 = 1/log2(2) = 1; IDCG@2 = 2/log2(2) + 1/log2(3) = 2.6309297535714578.
            Assert.That(metrics.Ndcg(2), Is.EqualTo(1 / 2.6309297535714578).Within(Tolerance));
            // nDCG@1 = 1 / 2.
            Assert.That(metrics.Ndcg(1), Is.EqualTo(0.5).Within(Tolerance));
            Assert.That(metrics.Recall(10), Is.EqualTo(0.5).Within(Tolerance));
            Assert.That(metrics.Map(10), Is.EqualTo(0.5).Within(Tolerance)); // (1/1) / 2
            Assert.That(metrics.Precision(2), Is.EqualTo(0.5).Within(Tolerance));
        });
    }

    [Test]
    public void EvaluateQuery_TiedScores_BreakTiesByDocumentIdDescending()
    {
        // trec_eval's comp_sim_docno: equal scores rank by strcmp(p2->docno, p1->docno), i.e. docno DEScending, so
        // "c", "b", "a"; the relevant "a" is third (an ascending tie-break would put it first).
        Qrels qrels = MakeQrels(("q", "a", 1));
        var evaluator = new RetrievalEvaluator(qrels, new EvaluationOptions { Cutoffs = [1, 3, 10] });

        QueryMetrics inOrder = evaluator.EvaluateQuery("q", Hits(("a", 1.0), ("b", 1.0), ("c", 1.0)));
        QueryMetrics reversed = evaluator.EvaluateQuery("q", Hits(("c", 1.0), ("b", 1.0), ("a", 1.0)));

        Assert.Multiple(() =>
        {
            Assert.That(inOrder.Mrr(10), Is.EqualTo(1.0 / 3).Within(Tolerance));
            Assert.That(inOrder.Ndcg(1), Is.EqualTo(0.0));
            Assert.That(inOrder.Ndcg(3), Is.EqualTo(0.5).Within(Tolerance)); // (1/log2 4) / 1
            Assert.That(inOrder.Map(10), Is.EqualTo(1.0 / 3).Within(Tolerance));
            Assert.That(reversed.Ndcg(3), Is.EqualTo(inOrder.Ndcg(3)), "input order must not matter");
            Assert.That(reversed.Mrr(10), Is.EqualTo(inOrder.Mrr(10)), "input order must not matter");
        });
    }

    [Test]
    public void EvaluateQuery_TiedScores_CompareIdsAsStrcmpNotNumerically()
    {
        // strcmp("d9", "d10") > 0 ('9' > '1'), so descending order puts d9 first; a higher score still wins.
        Qrels qrels = MakeQrels(("q", "d10", 1));
        var evaluator = new RetrievalEvaluator(qrels, new EvaluationOptions { Cutoffs = [10] });

        QueryMetrics tied = evaluator.EvaluateQuery("q", Hits(("d10", 0.5), ("d9", 0.5)));
        QueryMetrics better = evaluator.EvaluateQuery("q", Hits(("d10", 0.50001), ("d9", 0.5)));

        Assert.Multiple(() =>
        {
            Assert.That(tied.Mrr(10), Is.EqualTo(0.5));
            Assert.That(better.Mrr(10), Is.EqualTo(1.0));
        });
    }

    [Test]
    public void EvaluateQuery_NegativeZeroAndZeroScores_Tie()
    {
        Qrels qrels = MakeQrels(("q", "a", 1));
        var evaluator = new RetrievalEvaluator(qrels, new EvaluationOptions { Cutoffs = [10] });

        QueryMetrics metrics = evaluator.EvaluateQuery("q", Hits(("a", 0.0), ("b", -0.0)));

        Assert.That(metrics.Mrr(10), Is.EqualTo(0.5), "0.0 and -0.0 compare equal in C, so the tie goes to docno b > a");
    }

    [Test]
    public void EvaluateQuery_IdenticalIds_DroppedByDefaultKeptWhenDisabled()
    {
        // ArguAna-style: the query "x" is itself a corpus document and would otherwise rank first.
        Qrels qrels = MakeQrels(("x", "y", 1));
        RetrievedDocument[] hits = Hits(("x", 0.9), ("y", 0.5), ("z", 0.1));

        QueryMetrics dropped = new RetrievalEvaluator(qrels).EvaluateQuery("x", hits);
        QueryMetrics kept = new RetrievalEvaluator(qrels, new EvaluationOptions { IgnoreIdenticalIds = false }).EvaluateQuery("x", hits);

        Assert.Multiple(() =>
        {
            Assert.That(dropped.RetrievedCount, Is.EqualTo(2));
            Assert.That(dropped.Ndcg(1), Is.EqualTo(1.0));
            Assert.That(dropped.Mrr(10), Is.EqualTo(1.0));
            Assert.That(kept.RetrievedCount, Is.EqualTo(3));
            Assert.That(kept.Ndcg(1), Is.EqualTo(0.0));
            Assert.That(kept.Mrr(10), Is.EqualTo(0.5));
            Assert.That(kept.Ndcg(3), Is.EqualTo(1 / Math.Log2(3)).Within(Tolerance)); // 0.6309297535714575
        });
    }

    [Test]
    public void EvaluateQuery_NegativeGrade_NeitherRelevantNorInIdeal()
    {
        Qrels qrels = MakeQrels(("q", "a", -1), ("q", "b", 1));
        var evaluator = new RetrievalEvaluator(qrels, new EvaluationOptions { Cutoffs = [1, 2] });

        QueryMetrics metrics = evaluator.EvaluateQuery("q", Hits(("a", 2), ("b", 1)));

        Assert.Multiple(() =>
        {
            Assert.That(metrics.RelevantCount, Is.EqualTo(1));
            Assert.That(metrics.Ndcg(1), Is.EqualTo(0.0));
            Assert.That(metrics.Ndcg(2), Is.EqualTo(1 / Math.Log2(3)).Within(Tolerance));
            Assert.That(metrics.Precision(2), Is.EqualTo(0.5));
        });
    }

    [Test]
    public void EvaluateQuery_EmptyRun_ScoresZero()
    {
        Qrels qrels = MakeQrels(("q", "a", 1));
        QueryMetrics metrics = new RetrievalEvaluator(qrels).EvaluateQuery("q", []);

        Assert.Multiple(() =>
        {
            foreach (RetrievalMeasure measure in Enum.GetValues<RetrievalMeasure>())
            {
                foreach (int k in metrics.Cutoffs)
                {
                    Assert.That(metrics.Get(measure, k), Is.EqualTo(0.0), $"{measure}@{k}");
                }
            }
        });
    }

    [Test]
    public void Evaluate_QueriesWithoutRelevantDocuments_ExcludedByDefault()
    {
        // q1 is answered perfectly; q2 has only a grade-0 judgement; q3 is relevant-judged but missing from the run.
        Qrels qrels = MakeQrels(("q1", "d1", 1), ("q2", "d2", 0), ("q3", "d3", 2));
        var run = new TrecRun("test");
        run.Add("q1", Hits(("d1", 1.0), ("d7", 0.5)));
        run.Add("q2", Hits(("d2", 1.0)));
        run.Add("q9", Hits(("d9", 1.0))); // no judgements: ignored, as trec_eval ignores it

        var evaluator = new RetrievalEvaluator(qrels);
        RetrievalMetrics metrics = evaluator.Evaluate(run);
        RetrievalMetrics all = new RetrievalEvaluator(qrels, new EvaluationOptions { IncludeQueriesWithoutRelevant = true }).Evaluate(run);

        Assert.Multiple(() =>
        {
            Assert.That(evaluator.EvaluatedQueryIds, Is.EqualTo(new[] { "q1", "q3" }));
            Assert.That(metrics.QueryCount, Is.EqualTo(2));
            // q1: nDCG@10 = 1, MRR@10 = 1, P@1 = 1, P@10 = 1/10; q3 (not in the run): all 0.
            Assert.That(metrics.Ndcg(10), Is.EqualTo(0.5));
            Assert.That(metrics.Mrr(10), Is.EqualTo(0.5));
            Assert.That(metrics.Precision(10), Is.EqualTo(0.05).Within(Tolerance));
            Assert.That(metrics.Recall(100), Is.EqualTo(0.5));
            Assert.That(metrics.Queries.Select(q => q.QueryId), Is.EqualTo(new[] { "q1", "q3" }));

            // With every judged query: q2 adds a 0 (BEIR's averaging over all judged queries).
            Assert.That(all.QueryCount, Is.EqualTo(3));
            Assert.That(all.Ndcg(10), Is.EqualTo(1.0 / 3).Within(Tolerance));
        });
    }

    [Test]
    public void Evaluate_TwoQueries_MeanOfHandComputedValues()
    {
        Qrels qrels = MakeQrels(("q1", "a", 1), ("q2", "b", 2), ("q2", "c", 1));
        var run = new TrecRun("test");
        run.Add("q1", Hits(("x", 2), ("a", 1)));           // a at rank 2
        run.Add("q2", Hits(("c", 3), ("b", 2), ("y", 1)));  // c (1) then b (2)

        RetrievalMetrics metrics = new RetrievalEvaluator(qrels, new EvaluationOptions { Cutoffs = [2, 10] }).Evaluate(run);

        // q1: nDCG@2 = (1/log2 3) / 1 = 0.6309297535714575; MRR = 1/2; MAP@2 = (1/2) / 1.
        // q2: DCG@2 = 1 + 2/log2 3 = 2.2618595071429150; IDCG@2 = 2 + 1/log2 3 = 2.6309297535714578;
        //     nDCG@2 = 0.8597186998521691; MRR = 1; MAP@2 = (1/1 + 2/2) / 2 = 1.
        double q1Ndcg = 1 / Math.Log2(3);
        double q2Ndcg = (1 + (2 / Math.Log2(3))) / (2 + (1 / Math.Log2(3)));
        Assert.Multiple(() =>
        {
            Assert.That(q2Ndcg, Is.EqualTo(0.8597186998521691).Within(Tolerance));
            Assert.That(metrics.Ndcg(2), Is.EqualTo((q1Ndcg + q2Ndcg) / 2).Within(Tolerance));
            Assert.That(metrics.Mrr(10), Is.EqualTo(0.75));
            Assert.That(metrics.Map(2), Is.EqualTo(0.75));
            Assert.That(metrics.Recall(2), Is.EqualTo(1.0));
            Assert.That(metrics.Precision(2), Is.EqualTo(0.75)); // (1/2 + 2/2) / 2
        });
    }

    [Test]
    public void Evaluate_RandomRunsWithTies_MatchStraightforwardReference()
    {
        // A direct transcription of the definitions (LINQ, no shared code) on random graded qrels and heavily tied
        // scores; ASCII ids, so ordinal order equals strcmp's.
        var random = new Random(7);
        var qrels = new Qrels();
        var run = new TrecRun("random");
        string[] documents = [.. Enumerable.Range(0, 40).Select(i => "doc" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        for (int q = 0; q < 30; q++)
        {
            string queryId = "q" + q.ToString(System.Globalization.CultureInfo.InvariantCulture);
            foreach (string document in documents.OrderBy(_ => random.Next()).Take(random.Next(1, 12)))
            {
                qrels.Set(queryId, document, random.Next(0, 4));
            }

            run.Add(queryId, documents.OrderBy(_ => random.Next()).Take(random.Next(0, 30))
                .Select(d => new RetrievedDocument(d, random.Next(0, 5) / 4.0)));
        }

        int[] cutoffs = [1, 3, 5, 10, 20];
        var evaluator = new RetrievalEvaluator(qrels, new EvaluationOptions { Cutoffs = cutoffs, IncludeQueriesWithoutRelevant = true });
        RetrievalMetrics metrics = evaluator.Evaluate(run);

        Assert.Multiple(() =>
        {
            foreach (QueryMetrics query in metrics.Queries)
            {
                IReadOnlyDictionary<string, int> judged = qrels.GetJudgments(query.QueryId);
                string[] ranked = [.. run.GetDocuments(query.QueryId)
                    .OrderByDescending(d => d.Score)
                    .ThenByDescending(d => d.DocumentId, StringComparer.Ordinal)
                    .Select(d => d.DocumentId)];
                int[] gains = [.. ranked.Select(d => judged.TryGetValue(d, out int g) ? g : 0)];
                int[] ideal = [.. judged.Values.Where(g => g > 0).OrderDescending()];
                int relevant = ideal.Length;
                foreach (int k in cutoffs)
                {
                    double dcg = gains.Take(k).Select((g, i) => g > 0 ? g / Math.Log2(i + 2) : 0).Sum();
                    double idcg = ideal.Take(k).Select((g, i) => g / Math.Log2(i + 2)).Sum();
                    int hits = gains.Take(k).Count(g => g >= 1);
                    double ap = gains.Take(k).Select((g, i) => g >= 1 ? gains.Take(i + 1).Count(x => x >= 1) / (double)(i + 1) : 0).Sum();
                    int first = Array.FindIndex(gains, g => g >= 1);
                    string at = $"{query.QueryId}@{k}";
                    Assert.That(query.Ndcg(k), Is.EqualTo(idcg > 0 ? dcg / idcg : 0).Within(1e-12), "nDCG " + at);
                    Assert.That(query.Recall(k), Is.EqualTo(relevant > 0 ? hits / (double)relevant : 0).Within(1e-12), "recall " + at);
                    Assert.That(query.Precision(k), Is.EqualTo(hits / (double)k).Within(1e-12), "P " + at);
                    Assert.That(query.Map(k), Is.EqualTo(relevant > 0 ? ap / relevant : 0).Within(1e-12), "MAP " + at);
                    Assert.That(query.Mrr(k), Is.EqualTo(first >= 0 && first < k ? 1.0 / (first + 1) : 0).Within(1e-12), "MRR " + at);
                }
            }
        });
    }

    [Test]
    public void Evaluate_NfCorpusSliceRun_MatchesTheFiguresItsSourceStates()
    {
        // tests/testdata/nfcorpus-slice/SOURCE.md: "The slice's nDCG@10 (30 queries, pytrec_eval rules) is 0.4159"
        // for expected-run-chamfer.trec (20 hits per query) against qrels-test.tsv.
        string slice = System.IO.Path.Combine(Fixtures.RepositoryPaths.Root, "tests", "testdata", "nfcorpus-slice");
        Qrels qrels = Qrels.Load(System.IO.Path.Combine(slice, "qrels-test.tsv"));
        TrecRun run = TrecRun.Load(System.IO.Path.Combine(slice, "expected-run-chamfer.trec"));

        RetrievalMetrics metrics = new RetrievalEvaluator(qrels).Evaluate(run);

        Assert.Multiple(() =>
        {
            Assert.That(metrics.QueryCount, Is.EqualTo(30));
            Assert.That(run.QueryCount, Is.EqualTo(30));
            Assert.That(Math.Round(metrics.Ndcg(10), 4), Is.EqualTo(0.4159));
        });
    }

    [Test]
    public void EvaluateQuery_DuplicateDocument_Throws()
    {
        var evaluator = new RetrievalEvaluator(MakeQrels(("q", "a", 1)));

        var exception = Assert.Throws<ArgumentException>(() => evaluator.EvaluateQuery("q", Hits(("a", 1), ("a", 0.5))));

        Assert.That(exception!.Message, Does.Contain("\"a\" appears twice"));
    }

    [Test]
    public void EvaluateQuery_NaNScore_Throws()
    {
        var evaluator = new RetrievalEvaluator(MakeQrels(("q", "a", 1)));

        Assert.Throws<ArgumentException>(() => evaluator.EvaluateQuery("q", Hits(("a", double.NaN))));
    }

    [Test]
    public void EvaluateQuery_UnjudgedQuery_Throws()
    {
        var evaluator = new RetrievalEvaluator(MakeQrels(("q", "a", 1)));

        var exception = Assert.Throws<ArgumentException>(() => evaluator.EvaluateQuery("other", Hits(("a", 1))));

        Assert.That(exception!.ParamName, Is.EqualTo("queryId"));
    }

    [Test]
    public void Get_CutoffNotEvaluated_ThrowsNamingTheCutoffs()
    {
        QueryMetrics metrics = new RetrievalEvaluator(MakeQrels(("q", "a", 1))).EvaluateQuery("q", []);

        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => metrics.Ndcg(7));

        Assert.That(exception!.Message, Does.Contain("1, 3, 5, 10, 100, 1000"));
    }

    [Test]
    public void Constructor_NoQueryWithRelevantDocument_Throws()
    {
        Assert.Throws<ArgumentException>(() => new RetrievalEvaluator(MakeQrels(("q", "a", 0))));
    }
}
