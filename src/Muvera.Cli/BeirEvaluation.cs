// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Beir;
using Muvera.Onnx;

namespace Muvera.Cli;

/// <summary>The settings of <c>muvera beir</c>.</summary>
internal sealed record BeirSettings
{
    public required string DatasetDirectory { get; init; }

    public string Split { get; init; } = "test";

    /// <summary><c>default</c> (the embedded all-MiniLM-L6-v2) or a model folder.</summary>
    public string Model { get; init; } = "default";

    /// <summary>Null keeps the model's convention (256 for the default model).</summary>
    public int? DocumentMaxTokens { get; init; }

    /// <summary>Null keeps the model's convention (32 for the default model).</summary>
    public int? QueryMaxTokens { get; init; }

    public FdeSpec Fde { get; init; } = FdeSpec.Recommended;

    public Indexing.FdeStorage? FdeStorage { get; init; }

    /// <summary>How the index stores token vectors (<c>--token-storage</c>).</summary>
    public TokenStorage TokenStorage { get; init; } = TokenStorage.Float32;

    public IndexSpec Index { get; init; } = IndexSpec.Flat;

    public IReadOnlyList<int> Candidates { get; init; } = ListParsers.DefaultCandidates;

    public IReadOnlyList<RunMode> Modes { get; init; } = ListParsers.AllModes;

    /// <summary>Null: <c>&lt;dataset&gt;/.muvera-cache</c>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Null: every core.</summary>
    public int? Threads { get; init; }

    /// <summary>Null: <c>&lt;dataset&gt;/.muvera-results</c>.</summary>
    public string? OutputDirectory { get; init; }
}

/// <summary><c>muvera beir</c>: encodes a BEIR data set with the ONNX token encoder, builds a MUVERA index and evaluates
/// every mode.</summary>
internal static class BeirEvaluation
{
    /// <summary>Every mode retrieves this many documents, so that recall@100 and MAP@100 are defined.</summary>
    public const int RunDepth = 100;

    private const string DefaultModelName = "all-MiniLM-L6-v2";

    public static EvaluationReport Run(BeirSettings settings, CliConsole console, CancellationToken cancellationToken)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.Threads ?? -1, CancellationToken = cancellationToken };
        string datasetDirectory = Path.GetFullPath(settings.DatasetDirectory);
        BeirDataset dataset = LoadDataset(datasetDirectory, settings.Split, cancellationToken);
        string cacheDirectory = Path.GetFullPath(settings.CacheDirectory ?? Path.Combine(datasetDirectory, ".muvera-cache"));
        string outputDirectory = Path.GetFullPath(settings.OutputDirectory ?? Path.Combine(datasetDirectory, ".muvera-results"));
        console.Line($"{dataset.Name} ({settings.Split}): {dataset.Documents.Count} documents, {dataset.Queries.Count} judged queries");

        using OnnxTokenEncoder encoder = CreateEncoder(settings);
        string modelName = settings.Model.Equals("default", StringComparison.OrdinalIgnoreCase)
            ? DefaultModelName
            : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(settings.Model)));
        console.Line($"model {modelName}: dimension {encoder.Dimension}, documents cut to {encoder.Conventions.DocumentMaxLength} tokens, queries to {encoder.Conventions.QueryMaxLength}");
        FdeOptions fde = settings.Fde.ToOptions(encoder.Dimension);
        _ = settings.Index.CreateBackend(settings.FdeStorage); // fails early, before encoding, when the backend's native library is missing

        // Texts without a single token cannot be encoded (and MuveraIndex rejects empty documents): such documents stay
        // out of the index (they can never be retrieved) and such queries out of the runs (they score 0).
        List<BeirDocument> documents = KeepEncodable(dataset.Documents, d => d.FullText, encoder.TokenizeDocument, out List<string> droppedDocuments, d => d.Id);
        List<BeirQuery> queries = KeepEncodable(dataset.Queries, q => q.Text, encoder.TokenizeQuery, out List<string> droppedQueries, q => q.Id);
        ReportDropped(console, "documents", droppedDocuments, "left out of the index");
        ReportDropped(console, "queries", droppedQueries, "not run (they score 0)");
        string[] documentIds = [.. documents.Select(d => d.Id)];
        string[] documentTexts = [.. documents.Select(d => d.FullText)];
        string[] queryTexts = [.. queries.Select(q => q.Text)];
        if (documentIds.Length == 0)
        {
            throw new CliException($"No document of {datasetDirectory} has any token; nothing to index.");
        }

        var cache = new EmbeddingCache(cacheDirectory);
        console.Line($"embedding cache {cacheDirectory}");
        bool pooledMode = settings.Modes.Contains(RunMode.Pooled);
        (MultiVectorStore documentTokens, float[]? pooledDocuments) = GetOrEncode(console, cache, encoder, documentTexts, queries: false, pooledMode, cancellationToken);
        using MultiVectorStore documentStore = documentTokens;
        (MultiVectorStore queryTokens, float[]? pooledQueries) = GetOrEncode(console, cache, encoder, queryTexts, queries: true, pooledMode, cancellationToken);
        using MultiVectorStore queryStore = queryTokens;
        var queryVectors = new ReadOnlyMultiVector[queryStore.Count];
        for (int q = 0; q < queryVectors.Length; q++)
        {
            queryVectors[q] = queryStore.GetDocument(q);
        }

        BuiltIndex built = IndexBuilder.Build(console, $"building {settings.Index} index, FDE ({settings.Fde.Describe()})", documentStore, documentIds, fde,
            settings.Index.CreateBackend(settings.FdeStorage), settings.TokenStorage, parallel);
        using MuveraIndex index = built.Index;
        string trained = built.TrainSeconds is double train ? $" (partitions trained in {train:F1} s)" : "";
        console.Line($"index: {index.Count} documents, FDE dimension {fde.OutputDimension} ({settings.Fde.Describe()}), built in {built.BuildSeconds:F1} s{trained}, memory {built.MemoryBytes / (1024.0 * 1024.0):F1} MiB ({built.MemorySource}); tokens {built.TokenStorage}: {built.TokenBytesPerToken:F1} bytes per token, codebook included");

        var ordinals = new Dictionary<string, int>(documentIds.Length, StringComparer.Ordinal);
        for (int i = 0; i < documentIds.Length; i++)
        {
            ordinals[documentIds[i]] = i;
        }

        var evaluator = new RetrievalEvaluator(dataset.Qrels);
        var runs = new List<RunResult>();
        string runDirectory = Path.Combine(outputDirectory, "runs");
        Directory.CreateDirectory(runDirectory);
        int[][]? exactTop10 = null;

        if (settings.Modes.Contains(RunMode.Exact) || settings.Modes.Contains(RunMode.Muvera) || settings.Modes.Contains(RunMode.Fde))
        {
            if (settings.Modes.Contains(RunMode.Exact))
            {
                Measured<MuveraSearchHit[]> exact = QueryMeasurement.Measure(console, "exact Chamfer", queryVectors.Length,
                    q => index.SearchExact(queryVectors[q], RunDepth), parallel);
                exactTop10 = [.. exact.Results.Select(hits => ToOrdinals(hits, ordinals, 10))];
                runs.Add(Evaluate(evaluator, queries, exact, RunMode.Exact, null, null, runDirectory, "exact"));
            }
            else
            {
                // Candidate recall needs the exact top 10 even when the exact mode is not reported.
                exactTop10 = console.Run("exact top 10 (for candidate recall)", queryVectors.Length, progress =>
                {
                    var counter = new StepCounter(progress);
                    var top = new int[queryVectors.Length][];
                    Parallel.For(0, queryVectors.Length, parallel, q =>
                    {
                        top[q] = ToOrdinals(index.SearchExact(queryVectors[q], 10), ordinals, 10);
                        counter.Step();
                    });
                    return top;
                });
            }
        }

        foreach (int n in settings.Candidates)
        {
            if (settings.Modes.Contains(RunMode.Muvera))
            {
                // Reranking is exact, so an exact top-10 document that is among the N candidates is in the reranked top 10:
                // candidate recall@10 is read off the final top min(N, 100).
                int k = Math.Min(n, RunDepth);
                var options = new MuveraSearchOptions { Candidates = n };
                Measured<MuveraSearchHit[]> measured = QueryMeasurement.Measure(console, $"muvera N={n}", queryVectors.Length,
                    q => index.Search(queryVectors[q], k, options), parallel);
                double candidateRecall = CandidateRecall(exactTop10!, measured.Results, ordinals);
                runs.Add(Evaluate(evaluator, queries, measured, RunMode.Muvera, n, candidateRecall, runDirectory, $"muvera-N{n}"));
            }

            if (settings.Modes.Contains(RunMode.Fde))
            {
                // All N candidates are fetched (for candidate recall); the run keeps the first 100.
                var options = new MuveraSearchOptions { Candidates = n, Rerank = false };
                Measured<MuveraSearchHit[]> measured = QueryMeasurement.Measure(console, $"fde N={n}", queryVectors.Length,
                    q => index.Search(queryVectors[q], n, options), parallel);
                double candidateRecall = CandidateRecall(exactTop10!, measured.Results, ordinals);
                runs.Add(Evaluate(evaluator, queries, measured, RunMode.Fde, n, candidateRecall, runDirectory, $"fde-N{n}"));
            }
        }

        if (settings.Modes.Contains(RunMode.Pooled))
        {
            var pooledIndex = new PooledIndex(pooledDocuments!, encoder.Dimension);
            int d = encoder.Dimension;
            Measured<MuveraSearchHit[]> measured = QueryMeasurement.Measure(console, "pooled", queryTexts.Length, q =>
            {
                ScoredId[] top = pooledIndex.Search(pooledQueries!.AsSpan(q * d, d), RunDepth);
                return Array.ConvertAll(top, hit => new MuveraSearchHit(documentIds[hit.Id], hit.Score, float.NaN));
            }, parallel);
            runs.Add(Evaluate(evaluator, queries, measured, RunMode.Pooled, null, null, runDirectory, "pooled"));
        }

        var report = new EvaluationReport
        {
            Dataset = dataset.Name,
            Split = settings.Split,
            Documents = index.Count,
            Queries = evaluator.EvaluatedQueryIds.Count,
            Model = modelName,
            Fde = FdeSummary.FromOptions(fde),
            Index = settings.Index.Text,
            Runs = runs,
            BuildSeconds = built.BuildSeconds,
            MemoryBytes = built.MemoryBytes,
            FdeStorage = built.FdeStorage,
            FdeBytesPerDocument = built.FdeBytesPerDocument,
            TokenBytesPerDocument = built.TokenBytesPerDocument,
            TokenStorage = built.TokenStorage,
            FdeTrainSeconds = built.TrainSeconds,
        };

        ResultsOutput.PrintTable(console, [report], synthetic: false);
        if (settings.Candidates.Any(n => n < RunDepth) && (settings.Modes.Contains(RunMode.Muvera) || settings.Modes.Contains(RunMode.Fde)))
        {
            console.Line($"note: muvera and fde runs with N < {RunDepth} retrieve only N documents, which caps their recall@100 and MAP@100.");
        }

        console.Line($"memory: {built.MemorySource}; build: FDE encoding + MIPS add, token encoding not included");
        console.Line($"TREC runs in {runDirectory}");
        ResultsOutput.Save(console, outputDirectory, [report], [settings.Index.Slug]);
        return report;
    }

    // Token vectors, and with the pooled mode the mean-pooled vectors too, from one model pass over the texts (or none
    // when the cache has them). A cache written before pooled vectors moved into EmbeddingCache keeps its pooled file
    // (PooledVectorCache): it is still read, so such a cache costs no pass either.
    private static (MultiVectorStore Tokens, float[]? Pooled) GetOrEncode(CliConsole console, EmbeddingCache cache, OnnxTokenEncoder encoder,
        string[] texts, bool queries, bool pooled, CancellationToken cancellationToken)
    {
        string side = queries ? "queries" : "corpus";
        float[]? legacy = pooled ? PooledVectorCache.TryRead(cache.Directory, encoder, texts, queries) : null;
        if (!pooled || legacy is not null)
        {
            MultiVectorStore store = console.Run($"encoding {side}", texts.Length, progress => queries
                ? cache.GetOrEncodeQueries(encoder, texts, new SyncProgress(progress), cancellationToken)
                : cache.GetOrEncodeDocuments(encoder, texts, new SyncProgress(progress), cancellationToken));
            if (legacy is not null)
            {
                console.Line($"encoding {side}: pooled vectors from an older cache file, no model pass for them");
            }

            return (store, legacy);
        }

        CachedTokenAndPooledVectors both = console.Run($"encoding {side} (tokens and pooled vectors)", texts.Length, progress => queries
            ? cache.GetOrEncodeQueriesWithPooled(encoder, texts, new SyncProgress(progress), cancellationToken)
            : cache.GetOrEncodeDocumentsWithPooled(encoder, texts, new SyncProgress(progress), cancellationToken));
        string what = both.ModelPasses == 0 ? "tokens and pooled vectors from the cache, no model pass"
            : both.TokensEncoded ? "one model pass for tokens and pooled vectors"
            : "token vectors from the cache, one model pass for pooled vectors";
        console.Line($"encoding {side}: {what}");
        return (both.Tokens, both.Pooled.ToArray());
    }

    private static BeirDataset LoadDataset(string directory, string split, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory))
        {
            throw new CliException($"The data set folder {directory} does not exist.");
        }

        try
        {
            return BeirDataset.Load(directory, split, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
        {
            throw new CliException($"Cannot load the BEIR data set in {directory} (split {split}): {e.Message}", e);
        }
    }

    private static OnnxTokenEncoder CreateEncoder(BeirSettings settings)
    {
        OnnxEncoderSettings encoderSettings = settings.Threads is int threads ? new OnnxEncoderSettings { IntraOpThreads = threads } : new OnnxEncoderSettings();
        try
        {
            if (settings.Model.Equals("default", StringComparison.OrdinalIgnoreCase))
            {
                return OnnxTokenEncoder.CreateDefault(WithLengths(ColbertConventions.MiniLM, settings), encoderSettings);
            }

            string directory = Path.GetFullPath(settings.Model);
            if (!Directory.Exists(directory))
            {
                throw new CliException($"--model {settings.Model}: the folder {directory} does not exist (use \"default\" or a folder with model.onnx).");
            }

            if (settings.DocumentMaxTokens is null && settings.QueryMaxTokens is null)
            {
                return OnnxTokenEncoder.FromDirectory(directory, encoderSettings);
            }

            string config = Path.Combine(directory, ColbertConventions.ConfigFileName);
            ColbertConventions conventions = File.Exists(config) ? ColbertConventions.Load(config) : new ColbertConventions();
            string tokenizer = Path.Combine(directory, OnnxTokenEncoder.TokenizerFileName);
            if (!File.Exists(tokenizer))
            {
                tokenizer = Path.Combine(directory, OnnxTokenEncoder.VocabularyFileName);
            }

            return OnnxTokenEncoder.Create(Path.Combine(directory, OnnxTokenEncoder.ModelFileName), tokenizer, WithLengths(conventions, settings), encoderSettings);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException)
        {
            throw new CliException($"--model {settings.Model}: {e.Message}", e);
        }
    }

    private static ColbertConventions WithLengths(ColbertConventions conventions, BeirSettings settings)
    {
        try
        {
            return conventions with
            {
                DocumentMaxLength = settings.DocumentMaxTokens ?? conventions.DocumentMaxLength,
                QueryMaxLength = settings.QueryMaxTokens ?? conventions.QueryMaxLength,
            };
        }
        catch (ArgumentException e)
        {
            throw new CliException($"--doc-max-tokens/--query-max-tokens: {e.Message}", e);
        }
    }

    private static List<T> KeepEncodable<T>(IReadOnlyList<T> items, Func<T, string> text, Func<string, int[]> tokenize, out List<string> dropped, Func<T, string> id)
    {
        var kept = new List<T>(items.Count);
        dropped = [];
        foreach (T item in items)
        {
            bool encodable;
            try
            {
                encodable = tokenize(text(item)).Length > 0;
            }
            catch (ArgumentException)
            {
                encodable = false;
            }

            if (encodable)
            {
                kept.Add(item);
            }
            else
            {
                dropped.Add(id(item));
            }
        }

        return kept;
    }

    private static void ReportDropped(CliConsole console, string what, List<string> ids, string consequence)
    {
        if (ids.Count > 0)
        {
            string sample = string.Join(", ", ids.Take(10)) + (ids.Count > 10 ? ", …" : "");
            console.Line($"warning: {ids.Count} {what} have no tokens and are {consequence}: {sample}");
        }
    }

    private static int[] ToOrdinals(MuveraSearchHit[] hits, Dictionary<string, int> ordinals, int take)
    {
        int count = Math.Min(take, hits.Length);
        int[] result = new int[count];
        for (int i = 0; i < count; i++)
        {
            result[i] = ordinals[hits[i].Id];
        }

        return result;
    }

    private static double CandidateRecall(int[][] exactTop10, MuveraSearchHit[][] results, Dictionary<string, int> ordinals)
    {
        double sum = 0;
        int counted = 0;
        for (int q = 0; q < results.Length; q++)
        {
            if (exactTop10[q].Length == 0)
            {
                continue;
            }

            sum += NeighborRecall.Compute(exactTop10[q], ToOrdinals(results[q], ordinals, int.MaxValue));
            counted++;
        }

        return counted == 0 ? 0 : sum / counted;
    }

    private static RunResult Evaluate(RetrievalEvaluator evaluator, List<BeirQuery> queries, Measured<MuveraSearchHit[]> measured, RunMode mode,
        int? candidates, double? candidateRecall, string runDirectory, string name)
    {
        var run = new TrecRun("muvera-" + name);
        for (int q = 0; q < queries.Count; q++)
        {
            MuveraSearchHit[] hits = measured.Results[q];
            int count = Math.Min(hits.Length, RunDepth);
            var retrieved = new RetrievedDocument[count];
            for (int i = 0; i < count; i++)
            {
                retrieved[i] = new RetrievedDocument(hits[i].Id, hits[i].Score);
            }

            run.Add(queries[q].Id, retrieved);
        }

        RetrievalMetrics metrics = evaluator.Evaluate(run);
        run.RemoveIdenticalIds();
        run.Save(Path.Combine(runDirectory, name + ".trec"));
        return new RunResult
        {
            Mode = mode,
            Candidates = candidates,
            NdcgAt10 = metrics.Ndcg(10),
            RecallAt100 = metrics.Recall(100),
            MrrAt10 = metrics.Mrr(10),
            MapAt100 = metrics.Map(100),
            CandidateRecallAt10 = candidateRecall,
            QpsOneThread = measured.QpsOneThread,
            Qps = measured.Qps,
            LatencyP50Ms = measured.Latency.P50Ms,
            LatencyP99Ms = measured.Latency.P99Ms,
        };
    }
}
