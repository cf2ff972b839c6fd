// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Text.Json.Serialization;

namespace Muvera.Beir;

/// <summary>
/// One run of results.json: a retrieval mode at one candidate count, with quality and speed. BEIR evaluations and the
/// synthetic benchmark share it.
/// </summary>
/// <remarks>
/// <para>Always written: <c>mode</c>, <c>candidates</c> and <c>candidate_recall@10</c> (both <c>null</c> when not
/// applicable), <c>qps_1_thread</c>, <c>qps</c>, <c>latency_p50_ms</c>, <c>latency_p99_ms</c>.</para>
/// <para>Written only when set: the BEIR measures <c>ndcg@10</c>, <c>recall@100</c>, <c>mrr@10</c>,
/// <c>map@100</c> (set by BEIR evaluations, absent from synthetic reports), and <c>recall@10</c> (set by the synthetic
/// benchmark, absent from BEIR reports), <c>probes</c> and <c>calibrated</c> (synthetic benchmark only).</para>
/// </remarks>
public sealed class RunResult
{
    /// <summary><c>mode</c>: how documents were retrieved.</summary>
    [JsonPropertyName("mode")]
    public required RunMode Mode { get; init; }

    /// <summary><c>candidates</c>: N, the FDE candidates reranked (muvera) or returned (fde); <see langword="null"/>
    /// for exact and pooled runs.</summary>
    [JsonPropertyName("candidates")]
    public int? Candidates { get; init; }

    /// <summary><c>probes</c> (synthetic only): the inverted lists an IVF index searched per query (its probe count);
    /// absent for runs of other indexes and for exact runs.</summary>
    [JsonPropertyName("probes")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Probes { get; init; }

    /// <summary><c>calibrated</c> (synthetic only): <see langword="true"/> on the muvera run at the calibrated candidate
    /// count and probes (the index's own defaults after calibration, see <see cref="EvaluationReport.Calibration"/>),
    /// <see langword="false"/> on the other muvera and fde runs; absent for exact runs and from BEIR reports.</summary>
    [JsonPropertyName("calibrated")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Calibrated { get; init; }

    /// <summary><c>ndcg@10</c> (BEIR only): mean nDCG@10.</summary>
    [JsonPropertyName("ndcg@10")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? NdcgAt10 { get; init; }

    /// <summary><c>recall@100</c> (BEIR only): mean Recall@100 against the qrels.</summary>
    [JsonPropertyName("recall@100")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? RecallAt100 { get; init; }

    /// <summary><c>mrr@10</c> (BEIR only): mean MRR@10.</summary>
    [JsonPropertyName("mrr@10")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? MrrAt10 { get; init; }

    /// <summary><c>map@100</c> (BEIR only): mean MAP@100.</summary>
    [JsonPropertyName("map@100")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? MapAt100 { get; init; }

    /// <summary><c>candidate_recall@10</c>: the mean share of the exact Chamfer top 10 among the N candidates
    /// (<see cref="NeighborRecall"/>); <see langword="null"/> when the run has no candidate stage.</summary>
    [JsonPropertyName("candidate_recall@10")]
    public double? CandidateRecallAt10 { get; init; }

    /// <summary><c>recall@10</c> (synthetic only): the mean share of the brute-force Chamfer top 10 in the run's top 10
    /// (<see cref="NeighborRecall"/>).</summary>
    [JsonPropertyName("recall@10")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? RecallAt10 { get; init; }

    /// <summary><c>qps_1_thread</c>: queries per second, one query at a time on one thread.</summary>
    [JsonPropertyName("qps_1_thread")]
    public required double QpsOneThread { get; init; }

    /// <summary><c>qps</c>: queries per second with every core busy.</summary>
    [JsonPropertyName("qps")]
    public required double Qps { get; init; }

    /// <summary><c>latency_p50_ms</c>: median single-query latency in milliseconds (<see cref="LatencyStatistics"/>).</summary>
    [JsonPropertyName("latency_p50_ms")]
    public required double LatencyP50Ms { get; init; }

    /// <summary><c>latency_p99_ms</c>: 99th-percentile single-query latency in milliseconds (<see cref="LatencyStatistics"/>).</summary>
    [JsonPropertyName("latency_p99_ms")]
    public required double LatencyP99Ms { get; init; }
}
