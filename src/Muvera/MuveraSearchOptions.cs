// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera;

/// <summary>Per-search settings of <see cref="MuveraIndex.Search(ReadOnlyMultiVector, int, MuveraSearchOptions)"/>.</summary>
public sealed record MuveraSearchOptions
{
    /// <summary>The ball-carving threshold the paper uses (§C.3): query tokens whose inner product with a cluster's
    /// first token is at least 0.7 join that cluster.</summary>
    public const float DefaultBallCarvingThreshold = 0.7f;

    /// <summary>The candidate count used when neither <see cref="Candidates"/> nor a calibration gives one: 100, or
    /// 10 × k when that is larger.</summary>
    public const int DefaultCandidates = 100;

    private readonly int? _candidates;
    private readonly int? _probes;
    private readonly float _ballCarvingThreshold = DefaultBallCarvingThreshold;

    /// <summary>The settings used when none are given: calibrated (or default) candidates, reranking on, no ball carving.</summary>
    public static MuveraSearchOptions Default { get; } = new();

    /// <summary>How many FDE candidates the MIPS index returns for reranking (N ≥ k). Null: the index's calibrated N
    /// (<see cref="MuveraIndex.Calibration"/>) when it has one, else max(<see cref="DefaultCandidates"/>, 10·k).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int? Candidates
    {
        get => _candidates;
        init
        {
            if (value is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(Candidates), value, $"Candidates must be positive; got {value}.");
            }

            _candidates = value;
        }
    }

    /// <summary>The lists an inverted-file index (<see cref="Indexing.IvfMipsBackend"/>) scans for the candidates:
    /// null (the default) for the calibrated probes (<see cref="MuveraCalibration.Probes"/>), else the backend's
    /// <see cref="Indexing.IvfMipsBackend.Probes"/>. More probes find more of the true candidates and cost more; other
    /// backends ignore it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int? Probes
    {
        get => _probes;
        init
        {
            if (value is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(Probes), value, $"Probes must be positive; got {value}.");
            }

            _probes = value;
        }
    }

    /// <summary>Whether candidates are reranked with exact Chamfer (default true). False: FDE-only search; hits are
    /// ranked by their FDE inner product.</summary>
    public bool Rerank { get; init; } = true;

    /// <summary>The documents the search may return (default null: all). See <see cref="MuveraFilter"/> for how a
    /// filtered search runs; with every allowed document a candidate it equals filtered exact search.</summary>
    public MuveraFilter? Filter { get; init; }

    /// <summary>Whether the query is reduced by ball carving before reranking (default false): tokens are clustered
    /// greedily and each cluster is replaced by the sum of its tokens, so reranking costs less and scores
    /// approximate Chamfer (see <see cref="Scoring.QueryReduction"/>). The FDE candidates use the full query.</summary>
    public bool BallCarving { get; init; }

    /// <summary>The ball-carving threshold τ on query-token inner products (default
    /// <see cref="DefaultBallCarvingThreshold"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is NaN or infinite.</exception>
    public float BallCarvingThreshold
    {
        get => _ballCarvingThreshold;
        init
        {
            if (!float.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(BallCarvingThreshold), value, $"BallCarvingThreshold must be finite; got {value}.");
            }

            _ballCarvingThreshold = value;
        }
    }
}
