// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;

namespace Muvera.Beir;

/// <summary>The measures of one query at every evaluated cutoff (see <see cref="RetrievalMeasure"/>).</summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class QueryMetrics
{
    private readonly MetricTable _table;

    internal QueryMetrics(string queryId, int relevantCount, int retrievedCount, MetricTable table)
    {
        QueryId = queryId;
        RelevantCount = relevantCount;
        RetrievedCount = retrievedCount;
        _table = table;
    }

    internal MetricTable Table => _table;

    /// <summary>The query id.</summary>
    public string QueryId { get; }

    /// <summary>The number of relevant judged documents (grade ≥ <see cref="Qrels.RelevanceLevel"/>), trec_eval's <c>num_rel</c>.</summary>
    public int RelevantCount { get; }

    /// <summary>The number of retrieved documents scored, after identical ids were dropped (trec_eval's <c>num_ret</c>).</summary>
    public int RetrievedCount { get; }

    /// <summary>The evaluated cutoffs, ascending.</summary>
    public IReadOnlyList<int> Cutoffs => _table.Cutoffs;

    /// <summary>A measure at a cutoff.</summary>
    /// <param name="measure">The measure.</param>
    /// <param name="k">An evaluated cutoff.</param>
    /// <exception cref="System.ArgumentOutOfRangeException"><paramref name="k"/> was not evaluated.</exception>
    public double Get(RetrievalMeasure measure, int k) => _table.Get(measure, k);

    /// <summary>nDCG@k (trec_eval <c>ndcg_cut.k</c>).</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Ndcg(int k) => _table.Get(RetrievalMeasure.Ndcg, k);

    /// <summary>Recall@k (trec_eval <c>recall.k</c>).</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Recall(int k) => _table.Get(RetrievalMeasure.Recall, k);

    /// <summary>P@k (trec_eval <c>P.k</c>).</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Precision(int k) => _table.Get(RetrievalMeasure.Precision, k);

    /// <summary>MAP@k (trec_eval <c>map_cut.k</c>).</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Map(int k) => _table.Get(RetrievalMeasure.Map, k);

    /// <summary>MRR@k (BEIR's <c>mrr</c>).</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Mrr(int k) => _table.Get(RetrievalMeasure.Mrr, k);

    /// <inheritdoc/>
    public override string ToString() => $"QueryMetrics({QueryId}: {RelevantCount} relevant, {RetrievedCount} retrieved)";
}
