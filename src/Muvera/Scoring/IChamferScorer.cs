// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;

namespace Muvera.Scoring;

/// <summary>
/// Exact Chamfer (MaxSim) similarity of a query and documents: Chamfer(Q, D) = Σ_{q ∈ Q} max_{d ∈ D} ⟨q, d⟩.
/// </summary>
/// <remarks>
/// Unnormalised: the sum over query tokens is not divided by |Q| (divide by it for the paper's NChamfer). Higher is
/// better. A document with no tokens scores −∞ (the maximum over an empty set), so it ranks after every other
/// document; an empty query is rejected.
/// </remarks>
public interface IChamferScorer
{
    /// <summary>Chamfer(query, document).</summary>
    /// <param name="query">The query's token vectors (at least one).</param>
    /// <param name="document">The document's token vectors, of the query's dimension (may be empty).</param>
    /// <returns>The score; −∞ for an empty document.</returns>
    /// <exception cref="ArgumentException">An empty query, a dimension mismatch or a NaN/∞ value.</exception>
    float Score(ReadOnlyMultiVector query, ReadOnlyMultiVector document);

    /// <summary>Chamfer(query, documents[i]) into <paramref name="scores"/>[i], for every document.</summary>
    /// <param name="query">The query's token vectors (at least one).</param>
    /// <param name="documents">The documents.</param>
    /// <param name="scores">Receives one score per document.</param>
    /// <exception cref="ArgumentException">An empty query, a dimension mismatch, a NaN/∞ value or a short
    /// <paramref name="scores"/>; the message names the document.</exception>
    void Score(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, Span<float> scores);

    /// <summary>The <paramref name="k"/> best documents by Chamfer score (the rerank step, or exact search when given
    /// every document): highest score first, ties to the lower id.</summary>
    /// <param name="query">The query's token vectors (at least one).</param>
    /// <param name="documents">The documents; a result's id is the document's index in this list.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <returns>min(k, documents.Count) results.</returns>
    /// <exception cref="ArgumentException">An empty query, a dimension mismatch or a NaN/∞ value.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    ScoredId[] TopK(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, int k);

    /// <summary>Exact search over a whole store: the <paramref name="k"/> documents with the highest Chamfer score,
    /// highest first, ties to the lower id.</summary>
    /// <param name="query">The query's token vectors (at least one), of the store's dimension.</param>
    /// <param name="store">The documents; a result's id is the store id.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <returns>min(k, store.Count) results.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">An empty query, a NaN/∞ value, or a query dimension other than the store's.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    ScoredId[] TopK(ReadOnlyMultiVector query, MultiVectorStore store, int k);

    /// <summary>The rerank step over a store: the <paramref name="k"/> best of <paramref name="candidateIds"/> by exact
    /// Chamfer score, highest first, ties to the lower id.</summary>
    /// <param name="query">The query's token vectors (at least one), of the store's dimension.</param>
    /// <param name="store">The documents.</param>
    /// <param name="candidateIds">Store ids to score, in any order; a repeated id is scored once.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <returns>min(k, number of distinct candidates) results carrying store ids.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">An empty query, a NaN/∞ value, or a query dimension other than the store's.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive, or a candidate id is outside
    /// <c>[0, store.Count)</c>.</exception>
    ScoredId[] Rerank(ReadOnlyMultiVector query, MultiVectorStore store, ReadOnlySpan<int> candidateIds, int k);
}
