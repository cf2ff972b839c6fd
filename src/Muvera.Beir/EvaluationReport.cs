// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Muvera.Beir;

/// <summary>
/// The results.json of an evaluation: the data set, the model and FDE settings, the index, and one
/// <see cref="RunResult"/> per mode and candidate count. BEIR evaluations and the synthetic benchmark
/// (<c>"dataset": "synthetic"</c>) write the same schema.
/// </summary>
/// <remarks>
/// <para>Schema (property names exact; see README.md):
/// <c>{"dataset": str, "split": str|null, "documents": int, "queries": int, "model": str|null, "fde": {…}|null,
/// "index": str, "runs": [RunResult…], "build_seconds": float, "memory_bytes": int, …}</c> and the optional
/// properties below; the synthetic benchmark's build, persistence, ground-truth and calibration figures
/// (<c>generate_seconds</c> to <c>calibration</c>) are <c>null</c> in BEIR reports. <c>split</c> and <c>model</c>
/// are <c>null</c> in synthetic reports; <c>fde</c> is <c>null</c> when no FDE was built. Every property is always
/// written, except the run fields that <see cref="RunResult"/> lists as written only when set.</para>
/// <para>Numbers must be finite: JSON has no NaN or infinity, and <see cref="Write"/> refuses them by name. Reading
/// ignores unknown properties (so newer files stay readable) and requires every non-nullable property.</para>
/// </remarks>
public sealed class EvaluationReport
{
    /// <summary><c>dataset</c>: the BEIR data set name (<c>nfcorpus</c>), or <c>synthetic</c>.</summary>
    [JsonPropertyName("dataset")]
    public required string Dataset { get; init; }

    /// <summary><c>split</c>: the qrels split (<c>test</c>); <see langword="null"/> for synthetic data.</summary>
    [JsonPropertyName("split")]
    public required string? Split { get; init; }

    /// <summary><c>documents</c>: the number of indexed documents.</summary>
    [JsonPropertyName("documents")]
    public required int Documents { get; init; }

    /// <summary><c>queries</c>: the number of queries run (for BEIR, those averaged over).</summary>
    [JsonPropertyName("queries")]
    public required int Queries { get; init; }

    /// <summary><c>model</c>: the token encoder (a model name or folder); <see langword="null"/> for synthetic data.</summary>
    [JsonPropertyName("model")]
    public required string? Model { get; init; }

    /// <summary><c>fde</c>: the FDE parameters; <see langword="null"/> when no FDE was built.</summary>
    [JsonPropertyName("fde")]
    public required FdeSummary? Fde { get; init; }

    /// <summary><c>index</c>: the MIPS index over the FDEs, as its specification (<c>flat</c>, <c>hnsw:m=32,ef=128</c>).</summary>
    [JsonPropertyName("index")]
    public required string Index { get; init; }

    /// <summary><c>runs</c>: one entry per mode and candidate count.</summary>
    [JsonPropertyName("runs")]
    public required IReadOnlyList<RunResult> Runs { get; init; }

    /// <summary><c>build_seconds</c>: the wall-clock time to encode and index the corpus (synthetic: training on the
    /// sample plus adding every document, generation excluded).</summary>
    [JsonPropertyName("build_seconds")]
    public required double BuildSeconds { get; init; }

    /// <summary><c>memory_bytes</c>: the memory the index and the token vectors hold.</summary>
    [JsonPropertyName("memory_bytes")]
    public required long MemoryBytes { get; init; }

    /// <summary><c>fde_storage</c>: how the flat index stored FDEs (<c>f32</c>, <c>f16</c>, <c>int8</c>,
    /// <c>pq:&lt;bits&gt;,&lt;sub-space size&gt;</c>), or null for other backends and older reports.</summary>
    [JsonPropertyName("fde_storage")]
    public string? FdeStorage { get; init; }

    /// <summary><c>fde_bytes_per_document</c>: the bytes one document's FDE takes in the index (fixed costs such as a
    /// quantizer's codebook excluded; they are in <see cref="MemoryBytes"/>), or null when the backend does not report
    /// it (HNSW, FAISS) and in older reports.</summary>
    [JsonPropertyName("fde_bytes_per_document")]
    public long? FdeBytesPerDocument { get; init; }

    /// <summary><c>token_bytes_per_document</c>: the stored token-vector bytes per document (average, rounded); 0 in
    /// older reports.</summary>
    [JsonPropertyName("token_bytes_per_document")]
    public long TokenBytesPerDocument { get; init; }

    /// <summary><c>token_storage</c>: how the index stored token vectors (<c>f32</c>, <c>f16</c>, <c>int8</c>,
    /// <c>residual:&lt;bits&gt;</c>), or null in older reports.</summary>
    [JsonPropertyName("token_storage")]
    public string? TokenStorage { get; init; }

    /// <summary><c>fde_train_seconds</c>: the wall-clock time to learn the FDE partitions (included in
    /// <see cref="BuildSeconds"/>), or null when they need no training (SimHash) and in older reports.</summary>
    [JsonPropertyName("fde_train_seconds")]
    public double? FdeTrainSeconds { get; init; }

    /// <summary><c>generate_seconds</c> (synthetic only): the time spent generating the corpus's token vectors in
    /// batches (the training sample included; not part of <see cref="BuildSeconds"/>), or null.</summary>
    [JsonPropertyName("generate_seconds")]
    public double? GenerateSeconds { get; init; }

    /// <summary><c>train_seconds</c> (synthetic only): the time to train on the sample before adding documents: the token
    /// storage's codebook when it is quantized, the FDE partitions and the FDE index's quantizer or coarse lists
    /// (included in <see cref="BuildSeconds"/>), or null.</summary>
    [JsonPropertyName("train_seconds")]
    public double? TrainSeconds { get; init; }

    /// <summary><c>token_encode_seconds</c> (synthetic only): the index's cumulative time encoding token vectors into
    /// their storage while training and adding (as the index's build times report it), or null.</summary>
    [JsonPropertyName("token_encode_seconds")]
    public double? TokenEncodeSeconds { get; init; }

    /// <summary><c>fde_encode_seconds</c> (synthetic only): the index's cumulative time encoding document FDEs while
    /// training and adding, or null.</summary>
    [JsonPropertyName("fde_encode_seconds")]
    public double? FdeEncodeSeconds { get; init; }

    /// <summary><c>index_build_seconds</c> (synthetic only): the index's cumulative time adding FDEs to the MIPS index
    /// (quantizing, assigning to lists, linking graph nodes), or null.</summary>
    [JsonPropertyName("index_build_seconds")]
    public double? IndexBuildSeconds { get; init; }

    /// <summary><c>save_seconds</c> (synthetic only): the time to save the built index to its folder, or null.</summary>
    [JsonPropertyName("save_seconds")]
    public double? SaveSeconds { get; init; }

    /// <summary><c>open_seconds</c> (synthetic only): the time to load the saved index (every later run uses the
    /// loaded index), or null.</summary>
    [JsonPropertyName("open_seconds")]
    public double? OpenSeconds { get; init; }

    /// <summary><c>first_query_seconds</c> (synthetic only): the time of the first search after loading (default
    /// options: cold caches, first use of the loaded structures), or null.</summary>
    [JsonPropertyName("first_query_seconds")]
    public double? FirstQuerySeconds { get; init; }

    /// <summary><c>disk_bytes</c> (synthetic only): the size of the saved index folder (every file, recursively), or
    /// null.</summary>
    [JsonPropertyName("disk_bytes")]
    public long? DiskBytes { get; init; }

    /// <summary><c>resident_bytes</c> (synthetic only): the peak working set of the benchmark process, read at the end
    /// of the run (generation, build, ground truth and every run included), or null.</summary>
    [JsonPropertyName("resident_bytes")]
    public long? ResidentBytes { get; init; }

    /// <summary><c>exact_queries</c> (synthetic only): how many of the queries the <c>exact</c> run timed (its recall is
    /// over those), or null.</summary>
    [JsonPropertyName("exact_queries")]
    public int? ExactQueries { get; init; }

    /// <summary><c>ground_truth_seconds</c> (synthetic only): the time this run spent obtaining the exact Chamfer
    /// top 10 of every query over the stored tokens: computing it, or reading it from the cache
    /// (<see cref="GroundTruthCached"/>), or null.</summary>
    [JsonPropertyName("ground_truth_seconds")]
    public double? GroundTruthSeconds { get; init; }

    /// <summary><c>ground_truth_cached</c> (synthetic only): whether the ground truth was read from the output folder's
    /// cache rather than computed, or null.</summary>
    [JsonPropertyName("ground_truth_cached")]
    public bool? GroundTruthCached { get; init; }

    /// <summary><c>calibration</c> (synthetic only): the calibrated candidate count and probes, or null.</summary>
    [JsonPropertyName("calibration")]
    public CalibrationSummary? Calibration { get; init; }

    /// <summary>Writes the report as indented UTF-8 JSON.</summary>
    /// <param name="stream">The destination; left open.</param>
    /// <exception cref="InvalidOperationException">A number is not finite or a count is negative; the message names the property.</exception>
    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Validate();
        JsonSerializer.Serialize(stream, this, ReportJsonContext.Default.EvaluationReport);
    }

    /// <summary>Writes the report to a file, replacing it only once the whole report is written.</summary>
    /// <param name="path">The file (conventionally <c>results.json</c>).</param>
    /// <exception cref="InvalidOperationException">A number is not finite or a count is negative.</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Validate();
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            Write(stream);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a report.</summary>
    /// <param name="stream">UTF-8 JSON.</param>
    /// <exception cref="InvalidDataException">The JSON is malformed or misses a required property; the message says which.</exception>
    public static EvaluationReport Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Read(stream, "results.json");
    }

    /// <summary>Reads a report from a file.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidDataException">The JSON is malformed or misses a required property; the message names the file.</exception>
    public static EvaluationReport Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using FileStream stream = File.OpenRead(path);
        return Read(stream, path);
    }

    private static EvaluationReport Read(Stream stream, string sourceName)
    {
        EvaluationReport? report;
        try
        {
            report = JsonSerializer.Deserialize(stream, ReportJsonContext.Default.EvaluationReport);
        }
        catch (JsonException exception)
        {
            throw new InvalidDataException($"{sourceName}: not a valid results.json ({exception.Message})", exception);
        }

        if (report is null)
        {
            throw new InvalidDataException($"{sourceName}: the JSON document is null, not a results.json object.");
        }

        for (int i = 0; i < report.Runs.Count; i++)
        {
            if (report.Runs[i] is null)
            {
                throw new InvalidDataException($"{sourceName}: runs[{i}] is null.");
            }
        }

        return report;
    }

    private void Validate()
    {
        if (Runs is null)
        {
            throw new InvalidOperationException("runs is null.");
        }

        NonNegative(Documents, "documents");
        NonNegative(Queries, "queries");
        NonNegative(MemoryBytes, "memory_bytes");
        NonNegative(FdeBytesPerDocument ?? 0, "fde_bytes_per_document");
        NonNegative(TokenBytesPerDocument, "token_bytes_per_document");
        Finite(BuildSeconds, "build_seconds");
        Finite(FdeTrainSeconds, "fde_train_seconds");
        Finite(GenerateSeconds, "generate_seconds");
        Finite(TrainSeconds, "train_seconds");
        Finite(TokenEncodeSeconds, "token_encode_seconds");
        Finite(FdeEncodeSeconds, "fde_encode_seconds");
        Finite(IndexBuildSeconds, "index_build_seconds");
        Finite(SaveSeconds, "save_seconds");
        Finite(OpenSeconds, "open_seconds");
        Finite(FirstQuerySeconds, "first_query_seconds");
        Finite(GroundTruthSeconds, "ground_truth_seconds");
        NonNegative(DiskBytes ?? 0, "disk_bytes");
        NonNegative(ResidentBytes ?? 0, "resident_bytes");
        NonNegative(ExactQueries ?? 0, "exact_queries");
        if (Calibration is CalibrationSummary calibration)
        {
            NonNegative(calibration.Candidates, "calibration.candidates");
            NonNegative(calibration.Probes ?? 0, "calibration.probes");
            NonNegative(calibration.Queries, "calibration.queries");
            Finite(calibration.AchievedRecall, "calibration.achieved_recall");
            Finite(calibration.TargetRecall, "calibration.target_recall");
        }

        for (int i = 0; i < Runs.Count; i++)
        {
            RunResult run = Runs[i] ?? throw new InvalidOperationException($"runs[{i}] is null.");
            string prefix = $"runs[{i}].";
            NonNegative(run.Candidates ?? 0, prefix + "candidates");
            NonNegative(run.Probes ?? 0, prefix + "probes");
            Finite(run.NdcgAt10, prefix + "ndcg@10");
            Finite(run.RecallAt100, prefix + "recall@100");
            Finite(run.MrrAt10, prefix + "mrr@10");
            Finite(run.MapAt100, prefix + "map@100");
            Finite(run.CandidateRecallAt10, prefix + "candidate_recall@10");
            Finite(run.RecallAt10, prefix + "recall@10");
            Finite(run.QpsOneThread, prefix + "qps_1_thread");
            Finite(run.Qps, prefix + "qps");
            Finite(run.LatencyP50Ms, prefix + "latency_p50_ms");
            Finite(run.LatencyP99Ms, prefix + "latency_p99_ms");
        }
    }

    private static void Finite(double? value, string name)
    {
        if (value is double number && !double.IsFinite(number))
        {
            throw new InvalidOperationException($"{name} is {number}; results.json numbers must be finite.");
        }
    }

    private static void NonNegative(long value, string name)
    {
        if (value < 0)
        {
            throw new InvalidOperationException($"{name} is {value}; it must not be negative.");
        }
    }
}

/// <summary>Source-generated serialization of results.json.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, RespectNullableAnnotations = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(EvaluationReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext
{
}
