// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Beir;
using Muvera.Indexing;

namespace Muvera.Cli;

/// <summary>The <c>muvera</c> command line: <c>beir</c> and <c>bench synthetic</c>.</summary>
internal static class CliApplication
{
    /// <summary>Parses and runs <paramref name="args"/>. With <paramref name="output"/> null the process console is used
    /// (progress bars on a terminal) and Ctrl+C cancels the run; otherwise plain text goes to the writers.</summary>
    /// <returns>The exit code: 0, <see cref="ExitCodes.Error"/> or <see cref="ExitCodes.Cancelled"/>.</returns>
    public static Task<int> InvokeAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        bool process = output is null;
        CliConsole console = process ? CliConsole.CreateForProcess() : CliConsole.ForWriter(output!);
        RootCommand root = CreateRootCommand(console);
        var configuration = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? output ?? Console.Error,
        };
        if (!process)
        {
            // In-process callers cancel through the token; no Ctrl+C handler is installed.
            configuration.ProcessTerminationTimeout = null;
        }

        return root.Parse(args).InvokeAsync(configuration, cancellationToken);
    }

    internal static RootCommand CreateRootCommand(CliConsole console)
    {
        var root = new RootCommand("MUVERA multi-vector retrieval: BEIR evaluation and benchmarks (exact Chamfer, FDE candidates + rerank, FDE only, mean-pooled).");
        root.Subcommands.Add(CreateBeirCommand(console));
        var bench = new Command("bench", "Benchmarks without a model.");
        bench.Subcommands.Add(CreateSyntheticCommand(console));
        root.Subcommands.Add(bench);
        root.Subcommands.Add(ClusterCommands.Create());
        return root;
    }

    private static Command CreateBeirCommand(CliConsole console)
    {
        var directory = new Argument<string>("dir") { Description = "BEIR data set folder: corpus.jsonl[.gz], queries.jsonl[.gz], qrels/<split>.tsv." };
        var split = new Option<string>("--split") { Description = "Qrels split.", DefaultValueFactory = _ => "test" };
        var model = new Option<string>("--model") { Description = "\"default\" (embedded all-MiniLM-L6-v2) or a folder with model.onnx, tokenizer.json or vocab.txt and muvera-onnx.json.", DefaultValueFactory = _ => "default" };
        var documentTokens = new Option<int?>("--doc-max-tokens") { Description = "Document length in tokens, [CLS]/[SEP] included [default: the model's, 256 for the default model]." };
        var queryTokens = new Option<int?>("--query-max-tokens") { Description = "Query length in tokens, [CLS]/[SEP] included [default: the model's, 32 for the default model]." };
        Option<FdeSpec?> fde = FdeOption();
        Option<FdePartitioning> partitions = PartitionsOption();
        Option<FdeStorage?> fdeStorage = FdeStorageOption();
        Option<TokenStorage> tokenStorage = TokenStorageOption();
        var index = new Option<IndexSpec>("--index")
        {
            Description = "FDE index: flat (exact scan), hnsw[:m=16,ef=64,efc=128] (USearch) or faiss:<factory> (for example faiss:HNSW32).",
            DefaultValueFactory = _ => IndexSpec.Flat,
            CustomParser = result => Parse(result, IndexSpec.Parse, IndexSpec.Flat),
        };
        Option<int[]> candidates = CandidatesOption();
        var modes = new Option<RunMode[]>("--modes")
        {
            Description = "Modes to run: exact (brute-force Chamfer), muvera (N FDE candidates + exact rerank), fde (FDE ranking alone), pooled (mean-pooled single vector).",
            DefaultValueFactory = _ => ListParsers.AllModes,
            CustomParser = result => Parse(result, ListParsers.ParseModes, ListParsers.AllModes),
        };
        var cache = new Option<string?>("--cache") { Description = "Embedding cache folder [default: <dir>/.muvera-cache]." };
        Option<int?> threads = ThreadsOption();
        var output = new Option<string?>("--out") { Description = "Output folder for results.json, TREC runs and plots [default: <dir>/.muvera-results]." };

        var command = new Command("beir", "Evaluates a BEIR data set: encodes it with the ONNX token encoder (cached), builds a MUVERA index and reports nDCG@10, recall@100, MRR@10, MAP@100, candidate recall, QPS and latency per mode.")
        {
            directory, split, model, documentTokens, queryTokens, fde, partitions, fdeStorage, tokenStorage, index, candidates, modes, cache, threads, output,
        };
        command.Validators.Add(result => Positive(result, documentTokens, queryTokens, threads));
        command.SetAction((parseResult, cancellationToken) => Execute(parseResult, token =>
        {
            var settings = new BeirSettings
            {
                DatasetDirectory = parseResult.GetRequiredValue(directory),
                Split = parseResult.GetValue(split) ?? "test",
                Model = parseResult.GetValue(model) ?? "default",
                DocumentMaxTokens = parseResult.GetValue(documentTokens),
                QueryMaxTokens = parseResult.GetValue(queryTokens),
                Fde = ResolveFde(parseResult.GetValue(fde), parseResult.GetValue(partitions)),
                FdeStorage = parseResult.GetValue(fdeStorage),
                TokenStorage = parseResult.GetValue(tokenStorage) ?? TokenStorage.Float32,
                Index = parseResult.GetValue(index) ?? IndexSpec.Flat,
                Candidates = parseResult.GetValue(candidates) ?? ListParsers.DefaultCandidates,
                Modes = parseResult.GetValue(modes) ?? ListParsers.AllModes,
                CacheDirectory = parseResult.GetValue(cache),
                Threads = parseResult.GetValue(threads),
                OutputDirectory = parseResult.GetValue(output),
            };
            BeirEvaluation.Run(settings, console, token);
        }, cancellationToken));
        return command;
    }

    private static Command CreateSyntheticCommand(CliConsole console)
    {
        var documents = new Option<int>("--docs") { Description = "Documents.", DefaultValueFactory = _ => 100_000 };
        var tokens = new Option<int>("--tokens") { Description = "Tokens per document.", DefaultValueFactory = _ => 64 };
        var dimension = new Option<int>("--dim") { Description = "Token dimension.", DefaultValueFactory = _ => 128 };
        var queries = new Option<int>("--queries") { Description = "Evaluation queries.", DefaultValueFactory = _ => 100 };
        var queryTokens = new Option<int>("--query-tokens") { Description = "Tokens per query.", DefaultValueFactory = _ => 32 };
        var indexes = new Option<IndexSpec[]>("--index")
        {
            Description = $"Comma-separated FDE indexes, each ivf[:lists=256,probes=16], flat, hnsw[:m=16,ef=64,efc=128] or faiss:<factory> [default: {IndexSpec.SyntheticDefault}].",
            DefaultValueFactory = _ => [IndexSpec.SyntheticDefault],
            CustomParser = result => Parse(result, IndexSpec.ParseList, [IndexSpec.SyntheticDefault]),
        };
        Option<int[]> candidates = CandidatesOption();
        var probes = new Option<int[]?>("--probes")
        {
            Description = "Comma-separated IVF probe counts of the muvera and fde runs, each run at every N [default: the calibrated probes].",
            CustomParser = result => Parse<int[]?>(result, ListParsers.ParseProbes, null),
        };
        Option<FdeSpec?> fde = FdeOption();
        Option<FdePartitioning> partitions = PartitionsOption();
        Option<FdeStorage?> fdeStorage = FdeStorageOption();
        Option<TokenStorage> tokenStorage = TokenStorageOption(SyntheticSettings.DefaultTokenStorage);
        var calibrationQueries = new Option<int>("--calibration-queries") { Description = "Extra queries (not evaluated) that calibrate the candidate count and probes.", DefaultValueFactory = _ => 20 };
        var targetRecall = new Option<double>("--target-recall") { Description = "The recall of the exact top 10 among the candidates that calibration aims for, in (0, 1].", DefaultValueFactory = _ => 0.95 };
        var exactQueries = new Option<int?>("--exact-queries") { Description = "Queries the exact run times [default: all up to 100,000 documents, else 10]." };
        var check = new Option<bool>("--check") { Description = "Exit with an error unless the re-opened index returns identical hits and the calibrated muvera run reaches --target-recall." };
        Option<int?> threads = ThreadsOption();
        var output = new Option<string?>("--out") { Description = "Output folder for results.json, plots, the saved indexes and the ground-truth cache [default: .muvera-results/synthetic]." };

        var command = new Command("synthetic", "Benchmarks index backends on the deterministic synthetic clustered corpus, streamed into the index: build, save and open times, disk and memory, QPS, latency and recall@10 against exact Chamfer over the stored tokens, with a calibrated run.")
        {
            documents, tokens, dimension, queries, queryTokens, indexes, candidates, probes, fde, partitions, fdeStorage, tokenStorage,
            calibrationQueries, targetRecall, exactQueries, check, threads, output,
        };
        command.Validators.Add(result => Positive(result, documents, tokens, dimension, queries, queryTokens, calibrationQueries));
        command.Validators.Add(result => Positive(result, threads, exactQueries));
        command.Validators.Add(result =>
        {
            if (result.GetResult(targetRecall) is OptionResult { Implicit: false } recallResult
                && recallResult.GetValueOrDefault<double>() is double value && !(value > 0 && value <= 1))
            {
                result.AddError($"--target-recall must be in (0, 1]; got {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
            }
        });
        command.SetAction((parseResult, cancellationToken) => Execute(parseResult, token =>
        {
            var settings = new SyntheticSettings
            {
                Documents = parseResult.GetValue(documents),
                Tokens = parseResult.GetValue(tokens),
                Dimension = parseResult.GetValue(dimension),
                Queries = parseResult.GetValue(queries),
                QueryTokens = parseResult.GetValue(queryTokens),
                Indexes = parseResult.GetValue(indexes) ?? [IndexSpec.SyntheticDefault],
                Candidates = parseResult.GetValue(candidates) ?? ListParsers.DefaultCandidates,
                Probes = parseResult.GetValue(probes),
                Fde = ResolveFde(parseResult.GetValue(fde), parseResult.GetValue(partitions)),
                FdeStorage = parseResult.GetValue(fdeStorage),
                TokenStorage = parseResult.GetValue(tokenStorage) ?? SyntheticSettings.DefaultTokenStorage,
                CalibrationQueries = parseResult.GetValue(calibrationQueries),
                TargetRecall = parseResult.GetValue(targetRecall),
                ExactQueries = parseResult.GetValue(exactQueries),
                Check = parseResult.GetValue(check),
                Threads = parseResult.GetValue(threads),
                OutputDirectory = parseResult.GetValue(output),
            };
            SyntheticBenchmark.Run(settings, console, token);
        }, cancellationToken));
        return command;
    }

    private static Option<FdeSpec?> FdeOption() => new("--fde")
    {
        Description = "FDE parameters R,k,dproj[,final]: repetitions, partition exponent (2^k partitions), AMS projection dimension, optional final projection [default: 20,6,32 with kmeans, 20,5,16 with simhash].",
        CustomParser = result => Parse<FdeSpec?>(result, FdeSpec.Parse, null),
    };

    private static Option<FdePartitioning> PartitionsOption() => new("--partitions")
    {
        Description = "FDE partitions: kmeans (learned from a sample of the corpus, normalized document averages; the default) or simhash (the reference's data-oblivious function, golden-tested).",
        DefaultValueFactory = _ => FdePartitioning.KMeans,
        CustomParser = result => Parse(result, FdeSpec.ParsePartitioning, FdePartitioning.KMeans),
    };

    // --fde without --partitions keeps k-means; --partitions without --fde takes that partitioning's default shape.
    private static FdeSpec ResolveFde(FdeSpec? spec, FdePartitioning partitioning) =>
        spec is null ? FdeSpec.DefaultFor(partitioning) : spec with { Partitioning = partitioning };

    private static Option<FdeStorage?> FdeStorageOption() => new("--fde-storage")
    {
        Description = "How the flat or IVF index stores FDEs (IVF needs int8 or pq): f32, f16, int8 or pq[:<bits>[,<sub-space size>]] (product quantization, 4 or 8 bits, with an optional refinement stage +bits,sub-space[xN]) [default for flat: pq:4,16+4,4x4 in beir, pq:4,64+4,8x16 in bench synthetic; for ivf: pq:4,16+4,8x4].",
        CustomParser = result => Parse<FdeStorage?>(result, text => ListParsers.ParseFdeStorage(text), null),
    };

    private static Option<TokenStorage> TokenStorageOption() => TokenStorageOption(TokenStorage.Float32);

    private static Option<TokenStorage> TokenStorageOption(TokenStorage defaultValue) => new("--token-storage")
    {
        Description = $"How the index stores token vectors for reranking: f32, f16, int8 (per-coordinate scale and offset) or residual[:<bits>[,<centroids>]] (ColBERTv2-style centroid id + 1/2/4-bit residual codes; centroids default to 2^floor(log2(16 sqrt(tokens)))) [default: {defaultValue}].",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result => Parse(result, ListParsers.ParseTokenStorage, defaultValue),
    };

    private static Option<int[]> CandidatesOption() => new("--candidates")
    {
        Description = "Comma-separated candidate counts N of the muvera and fde modes [default: 10,20,50,100,200,500,1000].",
        DefaultValueFactory = _ => ListParsers.DefaultCandidates,
        CustomParser = result => Parse(result, ListParsers.ParseCandidates, ListParsers.DefaultCandidates),
    };

    private static Option<int?> ThreadsOption() => new("--threads")
    {
        Description = "Maximum degree of parallelism everywhere (encoding, index build, all-threads QPS) [default: every core].",
    };

    // Turns a CliException of a value parser into a parse error, which System.CommandLine prints with the usage.
    private static T Parse<T>(ArgumentResult result, Func<string, T> parse, T defaultValue)
    {
        if (result.Tokens.Count == 0)
        {
            return defaultValue;
        }

        try
        {
            return parse(result.Tokens[^1].Value);
        }
        catch (CliException e)
        {
            result.AddError(e.Message);
            return defaultValue;
        }
    }

    private static void Positive(CommandResult result, params Option[] options)
    {
        foreach (Option option in options)
        {
            if (result.GetResult(option) is OptionResult { Implicit: false } optionResult)
            {
                object? value = option switch
                {
                    Option<int> typed => optionResult.GetValueOrDefault<int>(),
                    Option<int?> typed => optionResult.GetValueOrDefault<int?>(),
                    _ => null,
                };
                if (value is int number && number <= 0)
                {
                    result.AddError($"{option.Name} must be positive; got {number}.");
                }
            }
        }
    }

    private static async Task<int> Execute(ParseResult parseResult, Action<CancellationToken> run, CancellationToken cancellationToken)
    {
        TextWriter error = parseResult.InvocationConfiguration.Error;
        try
        {
            await Task.Run(() => run(cancellationToken), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (CliException e)
        {
            await error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            return ExitCodes.Error;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("cancelled").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
    }
}
