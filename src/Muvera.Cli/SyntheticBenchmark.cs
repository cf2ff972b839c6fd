// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Beir;
using Muvera.Beir.Synthetic;
using Muvera.Indexing;
using Muvera.Scoring;

namespace Muvera.Cli;

/// <summary>The settings of <c>muvera bench synthetic</c>.</summary>
internal sealed record SyntheticSettings
{
    /// <summary>The default token storage: 1-bit residuals over 1,024 centroids (20 bytes per 128-float token). At a
    /// million documents of 80 tokens, float32 tokens are 41 GB, and 2-bit residuals (36 bytes per token, 2.9 GB) exceed
    /// the 2 GB of codes an in-memory <see cref="MultiVectorStore"/> holds; the centroid count of ColBERTv2's rule (up to
    /// 65,536) makes encoding 80 million tokens far slower, and 1,024 centroids keep it to minutes on 2 cores.</summary>
    public static TokenStorage DefaultTokenStorage { get; } = TokenStorage.Residual(1, 1024);

    public int Documents { get; init; } = 100_000;

    public int Tokens { get; init; } = 64;

    public int Dimension { get; init; } = 128;

    public int Queries { get; init; } = 100;

    public int QueryTokens { get; init; } = 32;

    public IReadOnlyList<IndexSpec> Indexes { get; init; } = [IndexSpec.SyntheticDefault];

    public IReadOnlyList<int> Candidates { get; init; } = ListParsers.DefaultCandidates;

    /// <summary>IVF probe counts of the muvera and fde runs; null: the calibrated count (or none for other indexes).</summary>
    public IReadOnlyList<int>? Probes { get; init; }

    public FdeSpec Fde { get; init; } = FdeSpec.Recommended;

    /// <summary>How FDEs are stored (<c>--fde-storage</c>); null: <see cref="SyntheticBenchmark.DefaultFdeStorage"/>
    /// for the flat index, the IVF backend's own default for IVF.</summary>
    public FdeStorage? FdeStorage { get; init; }

    /// <summary>How the index stores token vectors (<c>--token-storage</c>).</summary>
    public TokenStorage TokenStorage { get; init; } = DefaultTokenStorage;

    /// <summary>Extra queries, not evaluated, that calibrate the candidate count (<c>--calibration-queries</c>).</summary>
    public int CalibrationQueries { get; init; } = 20;

    /// <summary>The recall calibration aims for (<c>--target-recall</c>).</summary>
    public double TargetRecall { get; init; } = 0.95;

    /// <summary>Queries the exact run times; null: all of them up to 100,000 documents, else 10.</summary>
    public int? ExactQueries { get; init; }

    /// <summary>Whether failed checks (re-opened results, calibrated recall) fail the command (<c>--check</c>).</summary>
    public bool Check { get; init; }

    public int? Threads { get; init; }

    /// <summary>Null: <c>.muvera-results/synthetic</c> under the current folder.</summary>
    public string? OutputDirectory { get; init; }
}

/// <summary><c>muvera bench synthetic</c>: the deterministic synthetic corpus of Muvera.Beir streamed into one index per
/// backend (never held as float32), saved and re-opened, calibrated, and measured against the exact Chamfer top 10 over
/// the stored tokens (computed once and cached).</summary>
internal static class SyntheticBenchmark
{
    /// <summary>The flat index's FDE storage in <c>bench synthetic</c> unless <c>--fde-storage</c> says otherwise
    /// (<c>pq:4,64+4,8x16</c>): a 4-bit scan over 64-float groups (320 bytes per 40,960-float FDE, a quarter of the
    /// library default's 1,280) and a 4-bit refinement over 8-float groups re-scoring 16·N candidates (2,560 bytes):
    /// 2,880 bytes per document, so a million documents' FDEs take 2.9 GB beside 2.9 GB of residual:2 tokens, and a
    /// search scans 320 MB. At 100,000 documents it kept the library default's candidate recall (0.957 at N = 200;
    /// 8-bit refinement codes did no better and encoded 2.5x slower); bench/results/2026-12-07-one-million.md.</summary>
    public static Indexing.FdeStorage DefaultFdeStorage { get; } = Indexing.FdeStorage.ProductQuantization(4, 64).WithRefinement(4, 8, 16);

    private const int TopK = 10;

    // Documents generated and added per AddRange: 4,096 documents of 80 × 128 floats are 168 MB of tokens, and 4,096
    // default FDEs 671 MB while they are encoded; the training sample has the same size.
    private const int Batch = 4096;

    // Queries whose default-option results must be identical after saving and re-opening.
    private const int ReopenQueries = 10;

    private const int LargeCorpus = 100_000;
    private const int LargeCorpusExactQueries = 10;

    public static IReadOnlyList<EvaluationReport> Run(SyntheticSettings settings, CliConsole console, CancellationToken cancellationToken)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.Threads ?? -1, CancellationToken = cancellationToken };
        string outputDirectory = Path.GetFullPath(settings.OutputDirectory ?? Path.Combine(".muvera-results", "synthetic"));
        if (!(settings.TargetRecall > 0 && settings.TargetRecall <= 1))
        {
            throw new CliException($"bench synthetic: --target-recall must be in (0, 1]; got {settings.TargetRecall.ToString(CultureInfo.InvariantCulture)}.");
        }

        SyntheticCorpusOptions corpusOptions;
        try
        {
            // Calibration queries follow the evaluation queries: a query depends only on its index, so queries
            // 0..Queries-1 are the same as without them.
            corpusOptions = new SyntheticCorpusOptions
            {
                DocumentCount = settings.Documents,
                TokensPerDocument = settings.Tokens,
                Dimension = settings.Dimension,
                QueryCount = checked(settings.Queries + settings.CalibrationQueries),
                TokensPerQuery = settings.QueryTokens,
            };
        }
        catch (ArgumentException e)
        {
            throw new CliException($"bench synthetic: {e.Message}", e);
        }

        FdeOptions fde = settings.Fde.ToOptions(settings.Dimension);
        var backends = new MipsBackend[settings.Indexes.Count];
        for (int i = 0; i < backends.Length; i++)
        {
            backends[i] = settings.Indexes[i].CreateBackend(settings.FdeStorage ?? (settings.Indexes[i].Kind == IndexKind.Flat ? DefaultFdeStorage : null));
        }

        var corpus = new SyntheticCorpus(corpusOptions);
        console.Line($"synthetic corpus: {settings.Documents} documents × {settings.Tokens} tokens, {settings.Queries} queries (+ {settings.CalibrationQueries} for calibration) × {settings.QueryTokens} tokens, d = {settings.Dimension}, seed {corpusOptions.Seed}, tokens stored as {settings.TokenStorage}");
        var queries = new ReadOnlyMultiVector[settings.Queries];
        for (int q = 0; q < queries.Length; q++)
        {
            queries[q] = corpus.GetQuery(q);
        }

        var calibrationQueries = new ReadOnlyMultiVector[settings.CalibrationQueries];
        for (int q = 0; q < calibrationQueries.Length; q++)
        {
            calibrationQueries[q] = corpus.GetQuery(settings.Queries + q);
        }

        int exactQueries = Math.Min(queries.Length, settings.ExactQueries ?? (settings.Documents <= LargeCorpus ? queries.Length : LargeCorpusExactQueries));
        string groundTruthPath = Path.Combine(outputDirectory, $"ground-truth-{GroundTruthCache.Key(corpusOptions, settings.Queries, settings.TokenStorage, TopK)}.json");
        Directory.CreateDirectory(outputDirectory);

        GroundTruth? truth = null;
        RunResult? exactRun = null;
        var reports = new List<EvaluationReport>();
        var failures = new List<string>();
        for (int b = 0; b < backends.Length; b++)
        {
            IndexSpec spec = settings.Indexes[b];
            Built built = Build(console, spec, settings.Fde.Describe(), corpus, fde, backends[b], settings.TokenStorage, parallel);
            Reopened reopened = SaveAndReopen(console, built, Path.Combine(outputDirectory, $"index-{spec.Slug}"), queries);
            using MuveraIndex index = reopened.Index;
            string reopenOutcome = reopened.Mismatch is null
                ? $"check: the re-opened {spec} index returns identical hits (ids and scores) for {reopened.Compared} queries: ok"
                : $"check: the re-opened {spec} index returns different hits: FAILED ({reopened.Mismatch})";
            console.Line($"{reopenOutcome}");
            if (reopened.Mismatch is not null)
            {
                failures.Add($"the re-opened {spec} index returns different hits ({reopened.Mismatch})");
            }

            // The ground truth depends on the stored tokens (the token storage), not on the FDE index: one for all.
            truth ??= GroundTruthCache.Obtain(console, groundTruthPath, index, queries, corpusOptions, settings.Queries, settings.TokenStorage, TopK, parallel);

            MuveraCalibration calibration = Calibrate(console, spec, index, calibrationQueries, settings.TargetRecall, parallel);
            int? calibratedProbes = calibration.Probes;
            console.Line($"{spec}: calibrated N = {calibration.Candidates}{(calibratedProbes is int cp ? $", probes = {cp}" : "")}, recall {calibration.AchievedRecall:F4} on {calibrationQueries.Length} calibration queries (target {settings.TargetRecall})");

            var runs = new List<RunResult>();

            // The exact mode does not depend on the FDE index: measured once, through the first index.
            if (exactRun is null)
            {
                Measured<MuveraSearchHit[]> exact = QueryMeasurement.Measure(console, $"exact Chamfer ({exactQueries} queries)", exactQueries,
                    q => index.SearchExact(queries[q], TopK), parallel);
                exactRun = Result(RunMode.Exact, null, null, null, Recall(truth.Ids, exact.Results, TopK), null, exact);
            }

            runs.Add(exactRun);
            var probesList = new List<int?>();
            foreach (int p in settings.Probes ?? [])
            {
                probesList.Add(p);
            }

            if (probesList.Count == 0)
            {
                probesList.Add(calibratedProbes);
            }

            foreach (int n in settings.Candidates)
            {
                foreach (int? probes in probesList)
                {
                    string label = probes is int p ? $"N={n} probes={p}" : $"N={n}";
                    int k = Math.Min(n, TopK);
                    var rerank = new MuveraSearchOptions { Candidates = n, Probes = probes };
                    Measured<MuveraSearchHit[]> muvera = QueryMeasurement.Measure(console, $"{spec} muvera {label}", queries.Length,
                        q => index.Search(queries[q], k, rerank), parallel);

                    // Reranking is exact: the true top-10 documents among the N candidates are exactly those in the reranked top 10.
                    double recall = Recall(truth.Ids, muvera.Results, TopK);
                    runs.Add(Result(RunMode.Muvera, n, probes, false, recall, recall, muvera));

                    var fdeOnly = new MuveraSearchOptions { Candidates = n, Rerank = false, Probes = probes };
                    Measured<MuveraSearchHit[]> fdeRun = QueryMeasurement.Measure(console, $"{spec} fde {label}", queries.Length,
                        q => index.Search(queries[q], n, fdeOnly), parallel);
                    runs.Add(Result(RunMode.Fde, n, probes, false, Recall(truth.Ids, fdeRun.Results, TopK), Recall(truth.Ids, fdeRun.Results, int.MaxValue), fdeRun));
                }
            }

            // The index's own defaults after calibration: the calibrated N and probes.
            Measured<MuveraSearchHit[]> calibrated = QueryMeasurement.Measure(console, $"{spec} muvera calibrated", queries.Length,
                q => index.Search(queries[q], TopK), parallel);
            double calibratedRecall = Recall(truth.Ids, calibrated.Results, TopK);
            runs.Add(Result(RunMode.Muvera, calibration.Candidates, calibratedProbes, true, calibratedRecall, calibratedRecall, calibrated));
            bool reached = calibratedRecall >= settings.TargetRecall - 1e-9;
            console.Line($"check: {spec} calibrated muvera recall@10 {calibratedRecall:F4} on the evaluation queries {(reached ? ">=" : "<")} target {settings.TargetRecall}: {(reached ? "ok" : "FAILED")}");
            if (!reached)
            {
                failures.Add($"{spec}: the calibrated muvera run's recall@10 {calibratedRecall.ToString("F4", CultureInfo.InvariantCulture)} is below the target {settings.TargetRecall.ToString(CultureInfo.InvariantCulture)} (calibrated N = {calibration.Candidates}{(calibratedProbes is int p2 ? $", probes = {p2}" : "")})");
            }

            reports.Add(new EvaluationReport
            {
                Dataset = "synthetic",
                Split = null,
                Documents = settings.Documents,
                Queries = queries.Length,
                Model = null,
                Fde = FdeSummary.FromOptions(fde),
                Index = spec.Text,
                Runs = runs,
                BuildSeconds = built.TrainSeconds + built.AddSeconds,
                MemoryBytes = built.MemoryBytes,
                FdeStorage = FdeStorageName(index),
                FdeBytesPerDocument = index.FdeBytesPerDocument,
                TokenBytesPerDocument = index.Count == 0 ? 0 : (long)Math.Round(index.TokenBytes / (double)index.Count),
                TokenStorage = (index.Options.TokenStorage ?? TokenStorage.FromElementType(index.Options.TokenElementType)).ToString(),
                FdeTrainSeconds = built.FdeTrainSeconds,
                GenerateSeconds = built.GenerateSeconds,
                TrainSeconds = built.TrainSeconds,
                TokenEncodeSeconds = built.TokenEncodeSeconds,
                FdeEncodeSeconds = built.FdeEncodeSeconds,
                IndexBuildSeconds = built.IndexBuildSeconds,
                SaveSeconds = reopened.SaveSeconds,
                OpenSeconds = reopened.OpenSeconds,
                FirstQuerySeconds = reopened.FirstQuerySeconds,
                DiskBytes = reopened.DiskBytes,
                ResidentBytes = PeakWorkingSet(),
                ExactQueries = exactQueries,
                GroundTruthSeconds = truth.Seconds,
                GroundTruthCached = truth.Cached,
                Calibration = new CalibrationSummary
                {
                    Candidates = calibration.Candidates,
                    Probes = calibratedProbes,
                    AchievedRecall = calibration.AchievedRecall,
                    TargetRecall = settings.TargetRecall,
                    Queries = calibrationQueries.Length,
                },
            });
        }

        ResultsOutput.PrintTable(console, reports, synthetic: true);
        foreach (EvaluationReport report in reports)
        {
            console.Line($"{report.Index}: build {report.BuildSeconds:F1} s (train {report.TrainSeconds:F1} s; generating took {report.GenerateSeconds:F1} s more), save {report.SaveSeconds:F2} s, {report.DiskBytes / (1024.0 * 1024.0):F1} MiB on disk, open {report.OpenSeconds:F2} s, first query {report.FirstQuerySeconds * 1000:F1} ms, memory {report.MemoryBytes / (1024.0 * 1024.0):F1} MiB, peak working set {report.ResidentBytes / (1024.0 * 1024.0):F0} MiB");
        }

        var slugs = new List<string>();
        foreach (IndexSpec spec in settings.Indexes)
        {
            slugs.Add(spec.Slug);
        }

        ResultsOutput.Save(console, outputDirectory, reports, slugs);
        ResultsOutput.SaveRecallVersusQps(console, Path.Combine(outputDirectory, "recall-qps.svg"), reports);
        if (settings.Check && failures.Count > 0)
        {
            throw new CliException("bench synthetic --check failed: " + string.Join("; ", failures));
        }

        return reports;
    }

    /// <summary>An index built from the streamed corpus, with its timings.</summary>
    private sealed record Built(MuveraIndex Index, double GenerateSeconds, double TrainSeconds, double? FdeTrainSeconds, double AddSeconds,
        double TokenEncodeSeconds, double FdeEncodeSeconds, double IndexBuildSeconds, long MemoryBytes);

    /// <summary>The saved and re-opened index, with the persistence timings and the comparison of its hits.</summary>
    private sealed record Reopened(MuveraIndex Index, double SaveSeconds, double OpenSeconds, double FirstQuerySeconds, long DiskBytes, int Compared, string? Mismatch);

    /// <summary>Trains on a sample spread evenly over the corpus, then generates and adds the documents in batches of
    /// <see cref="Batch"/> into one reused buffer: the corpus is never held as float32.</summary>
    private static Built Build(CliConsole console, IndexSpec spec, string fdeDescription, SyntheticCorpus corpus, FdeOptions fde, MipsBackend backend,
        TokenStorage tokenStorage, ParallelOptions parallel)
    {
        int documents = corpus.Options.DocumentCount;
        int dimension = corpus.Options.Dimension;
        int length = corpus.DocumentLength;
        long workingSetBefore = IndexBuilder.WorkingSet();
        var index = MuveraIndex.Create(new MuveraIndexOptions { Fde = fde, TokenStorage = tokenStorage }, backend);
        try
        {
            // The training sample: documents at evenly spaced indices (the corpus is not ordered, but a sample spread
            // over it is what a real build would use).
            int sampleCount = Math.Min(documents, Batch);
            float[] buffer = new float[checked(sampleCount * length)];
            long generateStart = Stopwatch.GetTimestamp();
            Parallel.For(0, sampleCount, parallel, i => corpus.CopyDocument(SampleIndex(i, sampleCount, documents), buffer.AsSpan(i * length, length)));
            double generateSeconds = Stopwatch.GetElapsedTime(generateStart).TotalSeconds;
            var sample = new ReadOnlyMultiVector[sampleCount];
            for (int i = 0; i < sampleCount; i++)
            {
                sample[i] = new ReadOnlyMultiVector(buffer.AsMemory(i * length, length), dimension);
            }

            var trainWatch = Stopwatch.StartNew();
            if (tokenStorage.IsQuantized)
            {
                console.Run($"training {tokenStorage} token storage on {sampleCount} sample documents", 1, progress =>
                {
                    index.TrainTokenStorage(sample, parallel);
                    progress.Report(1);
                    return 0;
                });
            }

            double? fdeTrainSeconds = null;
            if (!index.IsTrained)
            {
                var fdeWatch = Stopwatch.StartNew();
                console.Run($"training FDE partitions and the {spec} index on {sampleCount} sample documents", 1, progress =>
                {
                    index.Train(sample, parallel);
                    progress.Report(1);
                    return 0;
                });
                fdeTrainSeconds = fdeWatch.Elapsed.TotalSeconds;
            }

            double trainSeconds = trainWatch.Elapsed.TotalSeconds;
            double addSeconds = 0;
            console.Run($"building {spec} index, FDE ({fdeDescription})", documents, progress =>
            {
                for (int first = 0; first < documents; first += Batch)
                {
                    int count = Math.Min(Batch, documents - first);
                    long start = Stopwatch.GetTimestamp();
                    int offset = first;
                    Parallel.For(0, count, parallel, i => corpus.CopyDocument(offset + i, buffer.AsSpan(i * length, length)));
                    generateSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;

                    var ids = new string[count];
                    var batch = new ReadOnlyMultiVector[count];
                    for (int i = 0; i < count; i++)
                    {
                        ids[i] = (first + i).ToString(CultureInfo.InvariantCulture);
                        batch[i] = new ReadOnlyMultiVector(buffer.AsMemory(i * length, length), dimension);
                    }

                    start = Stopwatch.GetTimestamp();
                    index.AddRange(ids, batch, parallel, new IndexProgress(progress, first));
                    addSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
                }

                return 0;
            });

            // Search timings use one thread inside a query; the all-threads figure runs queries in parallel.
            index.Scorer = new CpuChamferScorer(new ParallelOptions { MaxDegreeOfParallelism = 1 });
            MuveraBuildTimes times = index.BuildTimes;
            long memory = index.FdeBytes is long fdeBytes ? index.TokenBytes + fdeBytes : Math.Max(0, IndexBuilder.WorkingSet() - workingSetBefore);
            console.Line($"{spec}: trained in {trainSeconds:F1} s, added in {addSeconds:F1} s (generating {generateSeconds:F1} s), memory {memory / (1024.0 * 1024.0):F1} MiB ({(index.FdeBytes is null ? "working-set growth" : "tokens + FDEs")})");
            return new Built(index, generateSeconds, trainSeconds, fdeTrainSeconds, addSeconds, times.TokenEncoding.TotalSeconds, times.FdeEncoding.TotalSeconds,
                times.Indexing.TotalSeconds, memory);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    private static int SampleIndex(int i, int sampleCount, int documents) => (int)((long)i * documents / sampleCount);

    /// <summary>Saves the built index into <paramref name="directory"/> (replacing an older one), disposes it, loads it
    /// again and checks that the first queries' default-option hits are identical.</summary>
    private static Reopened SaveAndReopen(CliConsole console, Built built, string directory, ReadOnlyMultiVector[] queries)
    {
        int compared = Math.Min(ReopenQueries, queries.Length);
        MuveraSearchHit[][] before;
        double saveSeconds;
        using (MuveraIndex index = built.Index)
        {
            before = new MuveraSearchHit[compared][];
            for (int q = 0; q < compared; q++)
            {
                before[q] = index.Search(queries[q], TopK);
            }

            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }

            var saveWatch = Stopwatch.StartNew();
            index.Save(directory);
            saveSeconds = saveWatch.Elapsed.TotalSeconds;
        }

        // The built index's arrays are garbage now: collect them before loading, so that the peak working set holds one
        // index, not two (at a million documents each is about 9 GB).
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        long diskBytes = 0;
        foreach (string file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            diskBytes += new FileInfo(file).Length;
        }

        var openWatch = Stopwatch.StartNew();
        MuveraIndex reopened;
        try
        {
            reopened = MuveraIndex.Load(directory);
        }
        catch (InvalidDataException e)
        {
            throw new CliException($"bench synthetic: the index saved in {directory} does not load: {e.Message}", e);
        }

        double openSeconds = openWatch.Elapsed.TotalSeconds;
        try
        {
            reopened.Scorer = new CpuChamferScorer(new ParallelOptions { MaxDegreeOfParallelism = 1 });
            double firstQuerySeconds = 0;
            string? mismatch = null;
            for (int q = 0; q < compared; q++)
            {
                long start = Stopwatch.GetTimestamp();
                MuveraSearchHit[] after = reopened.Search(queries[q], TopK);
                if (q == 0)
                {
                    firstQuerySeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                }

                mismatch ??= Compare(q, before[q], after);
            }

            console.Line($"saved {directory} in {saveSeconds:F2} s ({diskBytes / (1024.0 * 1024.0):F1} MiB), opened in {openSeconds:F2} s, first query {firstQuerySeconds * 1000:F1} ms");
            return new Reopened(reopened, saveSeconds, openSeconds, firstQuerySeconds, diskBytes, compared, mismatch);
        }
        catch
        {
            reopened.Dispose();
            throw;
        }
    }

    private static string? Compare(int query, MuveraSearchHit[] before, MuveraSearchHit[] after)
    {
        if (before.Length != after.Length)
        {
            return $"query {query}: {before.Length} hits before saving, {after.Length} after";
        }

        for (int i = 0; i < before.Length; i++)
        {
            if (before[i].Id != after[i].Id || BitConverter.SingleToInt32Bits(before[i].Score) != BitConverter.SingleToInt32Bits(after[i].Score))
            {
                return $"query {query}, hit {i}: {before[i].Id} ({before[i].Score.ToString("R", CultureInfo.InvariantCulture)}) before saving, {after[i].Id} ({after[i].Score.ToString("R", CultureInfo.InvariantCulture)}) after";
            }
        }

        return null;
    }

    /// <summary>Calibrates with a scorer on every core (calibration runs one exact search per query, one after another),
    /// then restores the one-thread scorer of the timed runs.</summary>
    private static MuveraCalibration Calibrate(CliConsole console, IndexSpec spec, MuveraIndex index, ReadOnlyMultiVector[] calibrationQueries,
        double targetRecall, ParallelOptions parallel)
    {
        IChamferScorer scorer = index.Scorer;
        index.Scorer = new CpuChamferScorer(parallel);
        try
        {
            return console.Run($"calibrating {spec} for recall {targetRecall.ToString(CultureInfo.InvariantCulture)} on {calibrationQueries.Length} queries",
                calibrationQueries.Length, progress => index.Calibrate(calibrationQueries, TopK, targetRecall, new IndexProgress(progress)));
        }
        finally
        {
            index.Scorer = scorer;
        }
    }

    private static string? FdeStorageName(MuveraIndex index) => index.Backend switch
    {
        FlatMipsBackend flat => flat.Storage.ToString(),
        IvfMipsBackend ivf => ivf.Storage.ToString(),
        _ => null,
    };

    private static long PeakWorkingSet()
    {
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }

    // Mean share of the true top 10 among the first `take` results, over the queries that have results.
    private static double Recall(int[][] truth, MuveraSearchHit[][] results, int take)
    {
        double sum = 0;
        for (int q = 0; q < results.Length; q++)
        {
            int count = Math.Min(take, results[q].Length);
            int[] retrieved = new int[count];
            for (int i = 0; i < count; i++)
            {
                retrieved[i] = int.Parse(results[q][i].Id, NumberStyles.None, CultureInfo.InvariantCulture);
            }

            sum += NeighborRecall.Compute(truth[q], retrieved);
        }

        return results.Length == 0 ? 0 : sum / results.Length;
    }

    private static RunResult Result(RunMode mode, int? candidates, int? probes, bool? calibrated, double recall, double? candidateRecall,
        Measured<MuveraSearchHit[]> measured) => new()
    {
        Mode = mode,
        Candidates = candidates,
        Probes = probes,
        Calibrated = calibrated,
        RecallAt10 = recall,
        CandidateRecallAt10 = candidateRecall,
        QpsOneThread = measured.QpsOneThread,
        Qps = measured.Qps,
        LatencyP50Ms = measured.Latency.P50Ms,
        LatencyP99Ms = measured.Latency.P99Ms,
    };
}
