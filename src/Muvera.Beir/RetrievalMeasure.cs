// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera.Beir;

/// <summary>The measures <see cref="RetrievalEvaluator"/> computes at every cutoff k.</summary>
public enum RetrievalMeasure
{
    /// <summary>nDCG@k: trec_eval's <c>ndcg_cut.k</c> (linear gain = grade, log2 discount, ideal from every judged document).</summary>
    Ndcg = 0,

    /// <summary>Recall@k: trec_eval's <c>recall.k</c>, relevant retrieved in the top k / relevant judged.</summary>
    Recall = 1,

    /// <summary>P@k: trec_eval's <c>P.k</c>, relevant retrieved in the top k / k (missing ranks count as not relevant).</summary>
    Precision = 2,

    /// <summary>MAP@k: trec_eval's <c>map_cut.k</c>, the sum of precision at each relevant rank ≤ k / relevant judged.</summary>
    Map = 3,

    /// <summary>MRR@k: BEIR's <c>mrr</c>, 1 / rank of the first relevant document within the top k, else 0.</summary>
    Mrr = 4,
}
