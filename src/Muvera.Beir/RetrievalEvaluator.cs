// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Muvera.Beir;

/// <summary>
/// Scores runs against judgements exactly as BEIR's <c>EvaluateRetrieval.evaluate</c> (pytrec_eval over trec_eval 9.x)
/// and <c>evaluate_custom(..., "mrr")</c> do: nDCG@k, Recall@k, P@k, MAP@k and MRR@k.
/// </summary>
/// <remarks>
/// <para>Per query (trec_eval 9.x sources cited in the code):</para>
/// <list type="bullet">
/// <item>With <see cref="EvaluationOptions.IgnoreIdenticalIds"/>, hits whose document id equals the query id are
/// dropped first (BEIR pops them from the results before calling pytrec_eval).</item>
/// <item>Ranking: score descending, ties by document id DEScending in byte order (trec_eval's <c>comp_sim_docno</c>);
/// the order the hits come in does not matter.</item>
/// <item>A document is relevant when its grade is ≥ 1; unjudged documents are not relevant and gain nothing.</item>
/// <item>nDCG@k = DCG@k / IDCG@k, DCG@k = Σ_{i&lt;k} grade_i / log2(i + 2) over positive grades; the ideal ranking
/// sorts every positive judgement of the query, retrieved or not. 0 when nothing is relevant.</item>
/// <item>Recall@k = relevant in the top k / relevant judged; P@k = relevant in the top k / k, also when fewer than
/// k documents were retrieved; MAP@k = Σ over relevant ranks r ≤ k of (relevant in the top r / r), divided by the
/// number of relevant judged. Recall and MAP are 0 for a query without relevant judgements.</item>
/// <item>MRR@k = 1 / rank of the first relevant document in the top k, else 0. BEIR's own <c>mrr</c> sorts by score
/// alone (ties in the retriever's order); here ties follow the trec_eval order above, so that every measure sees one
/// ranking.</item>
/// </list>
/// <para>Averaging: over <see cref="EvaluatedQueryIds"/>, the judged queries with at least one relevant document
/// (or every judged query with <see cref="EvaluationOptions.IncludeQueriesWithoutRelevant"/>). A query of that set
/// missing from the run scores 0 on every measure (as an empty result list does in BEIR); run queries without
/// judgements are ignored (as trec_eval ignores them).</para>
/// <para>Arithmetic follows trec_eval's order of operations in double precision, so per-query values equal
/// pytrec_eval's bit for bit barring the platform's <c>log2</c>. Thread-safe: the evaluator is immutable; do not
/// change the <see cref="Qrels"/> while it is in use. Cost O(n log n) per query for n retrieved documents.</para>
/// </remarks>
public sealed class RetrievalEvaluator
{
    private readonly int[] _cutoffs;
    private readonly string[] _evaluatedQueryIds;

    /// <summary>An evaluator with the default <see cref="EvaluationOptions"/>.</summary>
    /// <param name="qrels">The judgements.</param>
    /// <exception cref="ArgumentException">No judged query has a relevant document.</exception>
    public RetrievalEvaluator(Qrels qrels)
        : this(qrels, new EvaluationOptions())
    {
    }

    /// <summary>An evaluator.</summary>
    /// <param name="qrels">The judgements.</param>
    /// <param name="options">The cutoffs and query rules.</param>
    /// <exception cref="ArgumentException">No query is left to average over.</exception>
    public RetrievalEvaluator(Qrels qrels, EvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(qrels);
        ArgumentNullException.ThrowIfNull(options);
        Qrels = qrels;
        Options = options;
        _cutoffs = [.. options.Cutoffs];
        _evaluatedQueryIds = [.. qrels.QueryIds.Where(id => options.IncludeQueriesWithoutRelevant || qrels.CountRelevant(id) > 0)];
        if (_evaluatedQueryIds.Length == 0)
        {
            throw new ArgumentException(
                $"The qrels hold {qrels.QueryCount} judged queries, none with a relevant document (grade ≥ {Qrels.RelevanceLevel}); there is nothing to average over.",
                nameof(qrels));
        }
    }

    /// <summary>The judgements.</summary>
    public Qrels Qrels { get; }

    /// <summary>The options.</summary>
    public EvaluationOptions Options { get; }

    /// <summary>The queries a run is averaged over, in qrels order.</summary>
    public IReadOnlyList<string> EvaluatedQueryIds => _evaluatedQueryIds;

    /// <summary>Scores a run: every measure per evaluated query, and their means.</summary>
    /// <param name="run">The run; its ranking is recomputed from the scores.</param>
    public RetrievalMetrics Evaluate(TrecRun run)
    {
        ArgumentNullException.ThrowIfNull(run);

        // Which queries count: trec_eval 9.x, trec_eval.c, evaluates "each topic which has both qrels and top results
        // information" ("Find rel info for this query (skip if no rel info)"), with no special case for num_rel == 0;
        // pytrec_eval's RelevanceEvaluator_evaluate likewise skips run queries "not found in relevance judgments".
        // BEIR then divides the summed per-query values by len(scores) (evaluation.py), and its retrievers return an
        // entry, possibly empty, for every judged query. Hence: judged queries, a missing one scoring 0, and, unless
        // IncludeQueriesWithoutRelevant is set, only those with a relevant judgement.
        var queries = new QueryMetrics[_evaluatedQueryIds.Length];
        var means = new MetricTable(_cutoffs);
        for (int i = 0; i < queries.Length; i++)
        {
            string queryId = _evaluatedQueryIds[i];
            queries[i] = Compute(queryId, Qrels.GetJudgments(queryId), run.GetDocuments(queryId));
            means.Add(queries[i].Table);
        }

        means.Divide(queries.Length);
        return new RetrievalMetrics(queries, means);
    }

    /// <summary>Scores the results of one judged query.</summary>
    /// <param name="queryId">A query with judgements.</param>
    /// <param name="documents">Its retrieved documents, in any order.</param>
    /// <exception cref="ArgumentException">The query has no judgements, a document appears twice, or a score is NaN.</exception>
    public QueryMetrics EvaluateQuery(string queryId, IEnumerable<RetrievedDocument> documents)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        ArgumentNullException.ThrowIfNull(documents);
        if (!Qrels.Contains(queryId))
        {
            throw new ArgumentException($"The query \"{queryId}\" has no judgements in the qrels.", nameof(queryId));
        }

        return Compute(queryId, Qrels.GetJudgments(queryId), documents);
    }

    private QueryMetrics Compute(string queryId, IReadOnlyDictionary<string, int> judged, IEnumerable<RetrievedDocument> documents)
    {
        var ranked = new List<RetrievedDocument>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (RetrievedDocument document in documents)
        {
            ArgumentNullException.ThrowIfNull(document.DocumentId, nameof(documents));
            if (double.IsNaN(document.Score))
            {
                throw new ArgumentException($"Query \"{queryId}\": document \"{document.DocumentId}\" has score NaN.", nameof(documents));
            }

            if (!seen.Add(document.DocumentId))
            {
                // trec_eval, form_res_rels.c: "trec_eval.form_res_qrels: duplicate docs" is an error, not a merge.
                throw new ArgumentException($"Query \"{queryId}\": document \"{document.DocumentId}\" appears twice.", nameof(documents));
            }

            // BEIR, evaluation.py (ignore_identical_ids=True): "if qid == pid: results[qid].pop(pid)".
            if (Options.IgnoreIdenticalIds && string.Equals(document.DocumentId, queryId, StringComparison.Ordinal))
            {
                continue;
            }

            ranked.Add(document);
        }

        // trec_eval, form_res_rels.c: qsort(..., comp_sim_docno): sim descending, then strcmp(p2->docno, p1->docno).
        ranked.Sort(TrecOrder.Instance);

        // The ideal gains: every positive judgement, best first. trec_eval, m_ndcg_cut.c, walks rel_levels from the
        // highest level down to level 1 (cur_lvl > 0), so negative and zero grades never enter the ideal.
        int[] idealGains = [.. judged.Values.Where(grade => grade > 0).OrderDescending()];
        // form_res_rels.c: num_rel sums rel_levels[i] for i >= relevance_level (1).
        int relevantCount = judged.Values.Count(grade => grade >= Qrels.RelevanceLevel);

        var table = new MetricTable(_cutoffs);
        double dcg = 0;
        double ideal = 0;
        double precisionSum = 0;
        int relevantSoFar = 0;
        int firstRelevantRank = 0;
        int cutoffIndex = 0;
        int depth = _cutoffs[^1];
        for (int i = 0; i <= depth && cutoffIndex < _cutoffs.Length; i++)
        {
            // As in trec_eval's m_ndcg_cut.c / m_recall.c / m_P.c / m_map_cut.c: when i reaches a cutoff, the values
            // of the first i ranks are recorded before rank i + 1 is added.
            while (cutoffIndex < _cutoffs.Length && i == _cutoffs[cutoffIndex])
            {
                Record(table, cutoffIndex, i, dcg, ideal, relevantSoFar, precisionSum, relevantCount, firstRelevantRank);
                cutoffIndex++;
            }

            if (cutoffIndex == _cutoffs.Length)
            {
                break;
            }

            if (i < idealGains.Length)
            {
                // m_ndcg_cut.c: ideal_dcg += gain / (double) log2((double) (i + 2)).
                ideal += idealGains[i] / Math.Log2(i + 2);
            }

            if (i < ranked.Count)
            {
                int grade = judged.TryGetValue(ranked[i].DocumentId, out int g) ? g : 0;
                if (grade > 0)
                {
                    // m_ndcg_cut.c: "Note: i+2 since doc i has rank i+1": sum += gain / log2((double) (i + 2)).
                    dcg += grade / Math.Log2(i + 2);
                }

                if (grade >= Qrels.RelevanceLevel)
                {
                    relevantSoFar++;
                    // m_map_cut.c: sum += (double) rel_so_far / (double) (i + 1).
                    precisionSum += relevantSoFar / (double)(i + 1);
                    if (firstRelevantRank == 0)
                    {
                        firstRelevantRank = i + 1;
                    }
                }
            }
        }

        return new QueryMetrics(queryId, relevantCount, ranked.Count, table);
    }

    private static void Record(MetricTable table, int cutoffIndex, int k, double dcg, double ideal, int relevantSoFar,
        double precisionSum, int relevantCount, int firstRelevantRank)
    {
        // m_ndcg_cut.c: "if (ideal_dcg > 0.0) value /= ideal_dcg" (the DCG itself is 0 when the ideal is).
        table[RetrievalMeasure.Ndcg, cutoffIndex] = ideal > 0 ? dcg / ideal : dcg;
        // m_recall.c and m_map_cut.c: "if (0 == res_rels.num_rel) return (0)".
        table[RetrievalMeasure.Recall, cutoffIndex] = relevantCount == 0 ? 0 : relevantSoFar / (double)relevantCount;
        table[RetrievalMeasure.Map, cutoffIndex] = relevantCount == 0 ? 0 : precisionSum / relevantCount;
        // m_P.c: rel_so_far / cutoff, "assumed nonrelevant docs fill in the rest" below k retrieved.
        table[RetrievalMeasure.Precision, cutoffIndex] = relevantSoFar / (double)k;
        // BEIR, custom_metrics.py mrr: "MRR[f"MRR@{k}"] += 1.0 / (rank + 1)" for the first relevant hit in top k.
        table[RetrievalMeasure.Mrr, cutoffIndex] = firstRelevantRank is > 0 && firstRelevantRank <= k ? 1.0 / firstRelevantRank : 0;
    }
}
