// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;

namespace Muvera.Beir;

/// <summary>The mean of every measure over the evaluated queries, with the per-query values.</summary>
/// <remarks>
/// Each mean is the plain average over <see cref="Queries"/> (summed in their order, then divided by
/// <see cref="QueryCount"/>), as BEIR averages pytrec_eval's per-query values. BEIR then rounds to 5 decimals; these
/// values are not rounded. Immutable and thread-safe.
/// </remarks>
public sealed class RetrievalMetrics
{
    private readonly MetricTable _means;

    internal RetrievalMetrics(IReadOnlyList<QueryMetrics> queries, MetricTable means)
    {
        Queries = queries;
        _means = means;
    }

    /// <summary>The number of queries averaged over.</summary>
    public int QueryCount => Queries.Count;

    /// <summary>The per-query values, in <see cref="RetrievalEvaluator.EvaluatedQueryIds"/> order.</summary>
    public IReadOnlyList<QueryMetrics> Queries { get; }

    /// <summary>The evaluated cutoffs, ascending.</summary>
    public IReadOnlyList<int> Cutoffs => _means.Cutoffs;

    /// <summary>The mean of a measure at a cutoff.</summary>
    /// <param name="measure">The measure.</param>
    /// <param name="k">An evaluated cutoff.</param>
    /// <exception cref="System.ArgumentOutOfRangeException"><paramref name="k"/> was not evaluated.</exception>
    public double Get(RetrievalMeasure measure, int k) => _means.Get(measure, k);

    /// <summary>Mean nDCG@k.</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Ndcg(int k) => _means.Get(RetrievalMeasure.Ndcg, k);

    /// <summary>Mean Recall@k.</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Recall(int k) => _means.Get(RetrievalMeasure.Recall, k);

    /// <summary>Mean P@k.</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Precision(int k) => _means.Get(RetrievalMeasure.Precision, k);

    /// <summary>Mean MAP@k.</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Map(int k) => _means.Get(RetrievalMeasure.Map, k);

    /// <summary>Mean MRR@k.</summary>
    /// <param name="k">An evaluated cutoff.</param>
    public double Mrr(int k) => _means.Get(RetrievalMeasure.Mrr, k);

    /// <inheritdoc/>
    public override string ToString() => $"RetrievalMetrics({QueryCount} queries)";
}
