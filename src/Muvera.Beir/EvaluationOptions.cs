// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Muvera.Beir;

/// <summary>How <see cref="RetrievalEvaluator"/> scores a run.</summary>
public sealed record EvaluationOptions
{
    private readonly IReadOnlyList<int> _cutoffs = [1, 3, 5, 10, 100, 1000];

    /// <summary>
    /// The cutoffs k of every measure, ascending. Default <c>[1, 3, 5, 10, 100, 1000]</c>, BEIR's <c>k_values</c>.
    /// Each must be positive and appear once (as trec_eval requires); the setter stores a sorted copy.
    /// </summary>
    /// <exception cref="ArgumentException">The list is empty, holds a value below 1, or a duplicate.</exception>
    public IReadOnlyList<int> Cutoffs
    {
        get => _cutoffs;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            int[] sorted = [.. value.Order()];
            if (sorted.Length == 0)
            {
                throw new ArgumentException("At least one cutoff is needed.", nameof(Cutoffs));
            }

            for (int i = 0; i < sorted.Length; i++)
            {
                if (sorted[i] < 1)
                {
                    throw new ArgumentException($"Cutoff {sorted[i]} is not positive; cutoffs must be at least 1.", nameof(Cutoffs));
                }

                if (i > 0 && sorted[i] == sorted[i - 1])
                {
                    throw new ArgumentException($"Cutoff {sorted[i]} appears twice; cutoffs must be distinct.", nameof(Cutoffs));
                }
            }

            _cutoffs = sorted;
        }
    }

    /// <summary>
    /// Whether a retrieved document whose id equals the query id is dropped before scoring (default
    /// <see langword="true"/>, BEIR's <c>ignore_identical_ids</c>; it matters for ArguAna and Quora, where a query is
    /// also a corpus document).
    /// </summary>
    public bool IgnoreIdenticalIds { get; init; } = true;

    /// <summary>
    /// Whether judged queries without any relevant document (every grade below <see cref="Qrels.RelevanceLevel"/>) are
    /// averaged in, each scoring 0 on every measure. Default <see langword="false"/>: the mean is over queries with at
    /// least one relevant judgement. BEIR (through pytrec_eval) averages over every judged query it retrieved for, so
    /// set this to <see langword="true"/> to reproduce its figures on a data set whose qrels hold such queries; the
    /// BEIR test qrels of NFCorpus, SciFact, FiQA and ArguAna hold none, where both settings agree.
    /// </summary>
    public bool IncludeQueriesWithoutRelevant { get; init; }
}
