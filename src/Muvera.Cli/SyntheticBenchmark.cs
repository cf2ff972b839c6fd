// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Beir;
using Muvera.Beir.Synthetic;
using Muvera.Scoring;

namespace Muvera.Cli;

/// <summary>The settings of <c>muvera bench synthetic</c>.</summary>
internal sealed record SyntheticSettings
{
    public int Documents { get; init; } = 100_000;

    public int Tokens { get; init; } = 64;

    public int Dimension { get; init; } = 128;

    public int Queries { get; init; } = 100;

    public int QueryTokens { get; init; } = 32;

    public IReadOnlyList<IndexSpec> Indexes { get; init; } = [IndexSpec.Flat];

    public IReadOnlyList<int> Candidates { get; init; } = ListParsers.DefaultCandidates;

    public FdeSpec Fde { get; init; } = FdeSpec.Recommended;

    public Indexing.FdeStorage FdeStorage { get; init; } = Indexing.FdeStorage.Default;

    /// <summary>How the index stores token vectors (<c>--token-storage</c>).</summary>
    public TokenStorage TokenStorage { get; init; } = TokenStorage.Float32;

    public int? Threads { get; init; }

    /// <summary>Null: <c>.muvera-results/synthetic</c> under the current folder.</summary>
    public string? OutputDirectory { get; init; }
}

/// <summary><c>muvera bench synthetic</c>: the deterministic synthetic corpus of Muvera.Beir, one index per backend,
/// recall@10 against brute-force Chamfer computed once.</summary>
internal static class SyntheticBenchmark
{
    private const int TopK = 10;

    public static IReadOnlyList<EvaluationReport> Run(SyntheticSettings settings, CliConsole console, CancellationToken cancellationToken)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.Threads ?? -1, CancellationToken = cancellationToken };
        string outputDirectory = Path.GetFullPath(settings.OutputDirectory ?? Path.Combine(".muvera-results", "synthetic"));
        SyntheticCorpusOptions corpusOptions;
        try
        {
            corpusOptions = new SyntheticCorpusOptions
            {
                DocumentCount = settings.Documents,
                TokensPerDocument = settings.Tokens,
                Dimension = settings.Dimension,
                QueryCount = settings.Queries,
                TokensPerQuery = settings.QueryTokens,
            };
        }
        catch (ArgumentException e)
        {
            throw new CliException($"bench synthetic: {e.Message}", e);
        }

        FdeOptions fde = settings.Fde.ToOptions(settings.Dimension);
        var backends = new Indexing.MipsBackend[settings.Indexes.Count];
        for (int i = 0; i < backends.Length; i++)
        {
            backends[i] = settings.Indexes[i].CreateBackend(settings.FdeStorage);
        }

        var corpus = new SyntheticCorpus(corpusOptions);
        console.Line($"synthetic corpus: {settings.Documents} documents × {settings.Tokens} tokens, {settings.Queries} queries × {settings.QueryTokens} tokens, d = {settings.Dimension}, seed {corpusOptions.Seed}");
        using var store = new MultiVectorStore(settings.Dimension);
        console.Run("generating documents", settings.Documents, progress => corpus.AddDocuments(store, new SyncProgress(progress), cancellationToken));
        var queries = new ReadOnlyMultiVector[settings.Queries];
        for (int q = 0; q < queries.Length; q++)
        {
            queries[q] = corpus.GetQuery(q);
        }

        // Ground truth, once: brute-force Chamfer over the generated store, parallel over documents.
        var truthScorer = new CpuChamferScorer(parallel);
        int[][] truth = console.Run("brute-force Chamfer top 10", queries.Length, progress =>
        {
            var top = new int[queries.Length][];
            for (int q = 0; q < queries.Length; q++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                top[q] = Array.ConvertAll(truthScorer.TopK(queries[q], store, TopK), hit => hit.Id);
                progress.Report(q + 1);
            }

            return top;
        });

        string[] ids = new string[store.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = i.ToString(CultureInfo.InvariantCulture);
        }

        RunResult? exactRun = null;
        var reports = new List<EvaluationReport>();
        for (int b = 0; b < backends.Length; b++)
        {
            IndexSpec spec = settings.Indexes[b];
            BuiltIndex built = IndexBuilder.Build(console, $"building {spec} index, FDE ({settings.Fde.Describe()})", store, ids, fde, backends[b], settings.TokenStorage, parallel);
            using MuveraIndex index = built.Index;
            console.Line($"{spec}: built in {built.BuildSeconds:F1} s, memory {built.MemoryBytes / (1024.0 * 1024.0):F1} MiB ({built.MemorySource})");
            var runs = new List<RunResult>();

            // The exact mode does not depend on the FDE index: measured once, through the first index.
            if (exactRun is null)
            {
                Measured<MuveraSearchHit[]> exact = QueryMeasurement.Measure(console, "exact Chamfer", queries.Length,
                    q => index.SearchExact(queries[q], TopK), parallel);
                exactRun = Result(RunMode.Exact, null, Recall(truth, exact.Results, TopK), null, exact);
            }

            runs.Add(exactRun);
            foreach (int n in settings.Candidates)
            {
                int k = Math.Min(n, TopK);
                var rerank = new MuveraSearchOptions { Candidates = n };
                Measured<MuveraSearchHit[]> muvera = QueryMeasurement.Measure(console, $"{spec} muvera N={n}", queries.Length,
                    q => index.Search(queries[q], k, rerank), parallel);

                // Reranking is exact: the true top-10 documents among the N candidates are exactly those in the reranked top 10.
                double recall = Recall(truth, muvera.Results, TopK);
                runs.Add(Result(RunMode.Muvera, n, recall, recall, muvera));

                var fdeOnly = new MuveraSearchOptions { Candidates = n, Rerank = false };
                Measured<MuveraSearchHit[]> fdeRun = QueryMeasurement.Measure(console, $"{spec} fde N={n}", queries.Length,
                    q => index.Search(queries[q], n, fdeOnly), parallel);
                runs.Add(Result(RunMode.Fde, n, Recall(truth, fdeRun.Results, TopK), Recall(truth, fdeRun.Results, int.MaxValue), fdeRun));
            }

            reports.Add(new EvaluationReport
            {
                Dataset = "synthetic",
                Split = null,
                Documents = store.Count,
                Queries = queries.Length,
                Model = null,
                Fde = FdeSummary.FromOptions(fde),
                Index = spec.Text,
                Runs = runs,
                BuildSeconds = built.BuildSeconds,
                MemoryBytes = built.MemoryBytes,
                FdeStorage = built.FdeStorage,
                FdeBytesPerDocument = built.FdeBytesPerDocument,
                TokenBytesPerDocument = built.TokenBytesPerDocument,
                TokenStorage = built.TokenStorage,
                FdeTrainSeconds = built.TrainSeconds,
            });
        }

        ResultsOutput.PrintTable(console, reports, synthetic: true);
        foreach (EvaluationReport report in reports)
        {
            console.Line($"{report.Index}: build {report.BuildSeconds:F1} s, memory {report.MemoryBytes / (1024.0 * 1024.0):F1} MiB");
        }

        var slugs = new List<string>();
        foreach (IndexSpec spec in settings.Indexes)
        {
            slugs.Add(spec.Slug);
        }

        ResultsOutput.Save(console, outputDirectory, reports, slugs);
        return reports;
    }

    // Mean share of the true top 10 among the first `take` results.
    private static double Recall(int[][] truth, MuveraSearchHit[][] results, int take)
    {
        double sum = 0;
        for (int q = 0; q < truth.Length; q++)
        {
            int count = Math.Min(take, results[q].Length);
            int[] retrieved = new int[count];
            for (int i = 0; i < count; i++)
            {
                retrieved[i] = int.Parse(results[q][i].Id, NumberStyles.None, CultureInfo.InvariantCulture);
            }

            sum += NeighborRecall.Compute(truth[q], retrieved);
        }

        return truth.Length == 0 ? 0 : sum / truth.Length;
    }

    private static RunResult Result(RunMode mode, int? candidates, double recall, double? candidateRecall, Measured<MuveraSearchHit[]> measured) => new()
    {
        Mode = mode,
        Candidates = candidates,
        RecallAt10 = recall,
        CandidateRecallAt10 = candidateRecall,
        QpsOneThread = measured.QpsOneThread,
        Qps = measured.Qps,
        LatencyP50Ms = measured.Latency.P50Ms,
        LatencyP99Ms = measured.Latency.P99Ms,
    };
}
