// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Onnx;
using Spectre.Console;

namespace Muvera.Samples.LocalSearch;

/// <summary>
/// The command line of the sample: <c>index &lt;folder&gt;</c> and <c>search &lt;folder&gt; [query]</c>, with progress,
/// tables and highlights through Spectre.Console, or JSON for scripts (<c>--json</c>).
/// </summary>
/// <remarks>Writes to the given writers only, so tests run it in-process. Exit codes: 0 success, 1 failure (no index,
/// unreadable folder), 2 usage error, 130 cancelled.</remarks>
public sealed class LocalSearchCli
{
    /// <summary>The exit code of a run cancelled by Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int CancelledExitCode = 130;

    // Snippets print "…" and non-ASCII text as they are, not as \u escapes (the output is not embedded in HTML).
    private static readonly CliJsonContext s_json = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    // The width plain-text output is laid out for: no line of this program comes near it.
    private const int UnwrappedWidth = 4096;

    private readonly TextWriter _output;
    private readonly TextWriter _error;
    private readonly TextReader _input;
    private readonly OnnxTokenEncoder? _sharedEncoder;
    private readonly IAnsiConsole _console;
    private volatile bool _indexing;

    /// <summary>Creates the command line over the given streams.</summary>
    /// <param name="output">Results (tables, JSON).</param>
    /// <param name="error">Progress, warnings and errors.</param>
    /// <param name="input">Queries of interactive search.</param>
    /// <param name="encoder">An encoder to use (not owned), or null to load the default model per command.</param>
    public LocalSearchCli(TextWriter output, TextWriter error, TextReader input, OnnxTokenEncoder? encoder = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(input);
        _output = output;
        _error = error;
        _input = input;
        _sharedEncoder = encoder;
        _console = CreateConsole(output);
    }

    /// <summary>Whether an index run is in progress: Ctrl+C should then cancel the run's token (so that nothing is saved)
    /// rather than end the process.</summary>
    public bool IsIndexing => _indexing;

    /// <summary>Parses <paramref name="args"/> and runs the command.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="cancellationToken">Cancels indexing (nothing is saved) or ends interactive search after the current
    /// query.</param>
    /// <returns>The exit code.</returns>
    public int Run(string[] args, CancellationToken cancellationToken)
    {
        var folder = new Argument<DirectoryInfo>("folder") { Description = "The folder of .txt and .md files." };
        var stateDirectory = new Option<DirectoryInfo?>("--index")
        {
            Description = $"Where the index lives (default: <folder>/{LocalIndexLocation.DefaultDirectoryName}).",
        };
        var json = new Option<bool>("--json") { Description = "Print JSON (one object per query) instead of tables." };

        var index = new Command("index", "Index (or bring up to date) the .txt and .md files under a folder.") { folder, stateDirectory, json };
        index.SetAction(parse => Index(
            new LocalIndexLocation(parse.GetRequiredValue(folder).FullName, parse.GetValue(stateDirectory)?.FullName),
            parse.GetValue(json), cancellationToken));

        var query = new Argument<string?>("query")
        {
            Description = "The query; omit it to type queries one per line (an empty line exits).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var k = new Option<int>("--k", "-k") { Description = "How many passages to show.", DefaultValueFactory = _ => 5 };
        k.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() <= 0)
            {
                result.AddError("--k must be positive.");
            }
        });
        var candidates = new Option<int?>("--candidates")
        {
            Description = "FDE candidates reranked with exact Chamfer (default: the index's calibrated N, else max(100, 10k)).",
        };
        candidates.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is <= 0)
            {
                result.AddError("--candidates must be positive.");
            }
        });
        var search = new Command("search", "Search a folder's index: one query, or interactively.") { folder, query, stateDirectory, k, candidates, json };
        search.SetAction(parse => Search(
            new LocalIndexLocation(parse.GetRequiredValue(folder).FullName, parse.GetValue(stateDirectory)?.FullName),
            parse.GetValue(query), parse.GetValue(k), parse.GetValue(candidates), parse.GetValue(json), cancellationToken));

        var root = new RootCommand("Semantic search over a folder of text and Markdown files with Muvera (all-MiniLM-L6-v2 token vectors, MUVERA FDE candidates, exact Chamfer reranking).")
        {
            index,
            search,
        };
        ParseResult parse = root.Parse(args);
        int exitCode = parse.Invoke(new InvocationConfiguration { Output = _output, Error = _error, EnableDefaultExceptionHandler = false });
        return parse.Errors.Count > 0 ? 2 : exitCode;
    }

    private int Index(LocalIndexLocation location, bool json, CancellationToken cancellationToken)
    {
        try
        {
            using EncoderLease lease = Encoder();
            var indexer = new LocalIndexer(location, lease.Encoder);
            IndexReport report;
            _indexing = true;
            try
            {
                report = json ? indexer.Run(null, cancellationToken) : RunWithProgress(indexer, cancellationToken);
            }
            finally
            {
                _indexing = false;
            }

            if (json)
            {
                _output.WriteLine(JsonSerializer.Serialize(report, s_json.IndexReport));
                return 0;
            }

            foreach (string warning in report.Warnings)
            {
                _error.WriteLine($"warning: {warning}");
            }

            var table = new Table().AddColumns("files", "count");
            table.AddRow("scanned", Count(report.FilesScanned));
            table.AddRow("added", Count(report.FilesAdded));
            table.AddRow("changed", Count(report.FilesChanged));
            table.AddRow("removed", Count(report.FilesRemoved));
            table.AddRow("unchanged", Count(report.FilesUnchanged));
            if (report.FilesRepaired > 0)
            {
                table.AddRow("repaired", Count(report.FilesRepaired));
            }

            if (report.FilesSkipped > 0)
            {
                table.AddRow("skipped", Count(report.FilesSkipped));
            }

            _console.Write(table);
            _console.MarkupLine(CultureInfo.InvariantCulture,
                "{0} passages encoded, {1} removed, {2} in the index; {3:F1} s{4}",
                report.PassagesEncoded, report.PassagesRemoved, report.PassagesTotal, report.Elapsed.TotalSeconds,
                report.Saved ? $" -> {Markup.Escape(location.StateDirectory)}" : " (nothing changed)");
            return 0;
        }
        catch (OperationCanceledException)
        {
            _error.WriteLine("cancelled: nothing was saved; the previous index is unchanged.");
            return CancelledExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            _error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    private IndexReport RunWithProgress(LocalIndexer indexer, CancellationToken cancellationToken)
    {
        // Progress goes to the error stream, so that the output stays clean for redirection. A live display redraws
        // itself; into a file or pipe it would print every task again at every update, so there it is plain lines.
        if (!IsTerminal(_error))
        {
            return indexer.Run(new LineProgress(_error), cancellationToken);
        }

        IAnsiConsole console = CreateConsole(_error);
        IndexReport? report = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                ProgressTask scan = context.AddTask("scanning files");
                ProgressTask encode = context.AddTask("encoding passages", autoStart: false);
                ProgressTask add = context.AddTask("adding to the index", autoStart: false);
                ProgressTask save = context.AddTask("saving", autoStart: false);
                report = indexer.Run(new SyncProgress(p =>
                {
                    ProgressTask task = p.Stage switch
                    {
                        LocalIndexer.ScanStage => scan,
                        LocalIndexer.EncodeStage => encode,
                        LocalIndexer.AddStage => add,
                        _ => save,
                    };
                    if (!task.IsStarted)
                    {
                        scan.Value = scan.MaxValue;
                        task.StartTask();
                    }

                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Total == 0 ? 0 : p.Done;
                    task.Description = p.Stage == LocalIndexer.EncodeStage && p.Total > 0
                        ? $"encoding {p.Done}/{p.Total} passages"
                        : task.Description;
                }), cancellationToken);
                foreach (ProgressTask task in new[] { scan, encode, add, save })
                {
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            });
        return report!;
    }

    private int Search(LocalIndexLocation location, string? query, int k, int? candidates, bool json, CancellationToken cancellationToken)
    {
        if (candidates is int n && n < k)
        {
            _error.WriteLine($"error: --candidates ({n}) must be at least --k ({k}).");
            return 2;
        }

        // The model loads on another thread while the index and its sidecar are read (each takes a few hundred ms).
        Task<EncoderLease> encoder = Task.Run(Encoder, CancellationToken.None);
        try
        {
            using LocalSearcher searcher = LocalSearcher.Open(location, () => encoder.GetAwaiter().GetResult().Encoder);
            foreach (string warning in searcher.Warnings)
            {
                _error.WriteLine($"warning: {warning}");
            }

            if (query is not null)
            {
                return SearchOnce(searcher, query, k, candidates, json) ? 0 : 2;
            }

            if (!json)
            {
                _console.MarkupLine(CultureInfo.InvariantCulture, "[grey]{0} passages of {1} files. Type a query (an empty line exits).[/]",
                    searcher.PassageCount, searcher.FileCount);
            }

            while (!cancellationToken.IsCancellationRequested)
            {
                if (!json)
                {
                    _console.Markup("[bold]> [/]");
                }

                string? line = _input.ReadLine();
                if (string.IsNullOrWhiteSpace(line))
                {
                    break;
                }

                SearchOnce(searcher, line, k, candidates, json);
            }

            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            _error.WriteLine($"error: {e.Message}");
            return 1;
        }
        finally
        {
            // A model that failed to load after the index did has thrown above; one that failed after the index failed
            // to open is not reported (the index's error was).
            Task.WhenAny(encoder).Wait(CancellationToken.None);
            if (encoder.IsCompletedSuccessfully)
            {
                encoder.Result.Dispose();
            }
        }
    }

    private bool SearchOnce(LocalSearcher searcher, string query, int k, int? candidates, bool json)
    {
        IReadOnlyList<LocalSearchHit> hits;
        try
        {
            hits = searcher.Search(query, k, candidates);
        }
        catch (ArgumentException e)
        {
            _error.WriteLine($"error: the query cannot be searched ({e.Message})");
            return false;
        }

        if (json)
        {
            var result = new SearchResult(query, k, candidates ?? searcher.DefaultCandidates, hits);
            _output.WriteLine(JsonSerializer.Serialize(result, s_json.SearchResult));
            return true;
        }

        if (hits.Count == 0)
        {
            _console.MarkupLine("[grey]no results[/]");
            return true;
        }

        foreach (LocalSearchHit hit in hits)
        {
            _console.MarkupLine(CultureInfo.InvariantCulture, "[bold]{0}.[/] [blue]{1}[/]:{2}-{3}  [grey]score {4:F2}[/]",
                hit.Rank, Markup.Escape(hit.Path), hit.StartLine, hit.EndLine, hit.Score);
            _console.Write(new Padder(new Markup(SnippetMarkup(hit)), new Padding(3, 0, 0, 1)));
        }

        return true;
    }

    private static string SnippetMarkup(LocalSearchHit hit)
    {
        var builder = new StringBuilder();
        int at = 0;
        foreach (HighlightSpan span in hit.Highlights)
        {
            builder.Append(Markup.Escape(hit.Snippet[at..span.Start]))
                .Append("[bold yellow]").Append(Markup.Escape(hit.Snippet.Substring(span.Start, span.Length))).Append("[/]");
            at = span.Start + span.Length;
        }

        return builder.Append(Markup.Escape(hit.Snippet[at..])).ToString();
    }

    // Colours, links and live progress only on the process's own terminal; plain text into any other writer, with no
    // line wrapping (a file or pipe has no width, and a wrapped path cannot be copied).
    private static IAnsiConsole CreateConsole(TextWriter writer)
    {
        bool terminal = IsTerminal(writer);
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
        {
            console.Profile.Width = UnwrappedWidth;
        }

        return console;
    }

    // The process's own standard output or error, not redirected to a file or pipe.
    private static bool IsTerminal(TextWriter writer) =>
        (ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected)
        || (ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected);

    private static string Count(int value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private EncoderLease Encoder() => _sharedEncoder is { } shared
        ? new EncoderLease(shared, owned: false)
        : new EncoderLease(OnnxTokenEncoder.CreateDefault(), owned: true);

    /// <summary>The JSON printed by <c>search --json</c>, one object per query.</summary>
    /// <param name="Query">The query.</param>
    /// <param name="K">The k asked for.</param>
    /// <param name="Candidates">The candidate count asked for, or the index's calibrated one; null: the library
    /// default.</param>
    /// <param name="Hits">The hits, best first.</param>
    public sealed record SearchResult(string Query, int K, int? Candidates, IReadOnlyList<LocalSearchHit> Hits);

    private sealed class EncoderLease(OnnxTokenEncoder encoder, bool owned) : IDisposable
    {
        public OnnxTokenEncoder Encoder { get; } = encoder;

        public void Dispose()
        {
            if (owned)
            {
                Encoder.Dispose();
            }
        }
    }

    private sealed class SyncProgress(Action<IndexProgress> report) : IProgress<IndexProgress>
    {
        public void Report(IndexProgress value) => report(value);
    }

    // Progress as plain lines, for an error stream that is not a terminal: one line when the scan ends, one at every
    // tenth of the encoding, one when the save starts and one when it ends; never a line of a stage that has not started,
    // never the same line twice.
    private sealed class LineProgress(TextWriter writer) : IProgress<IndexProgress>
    {
        private readonly Lock _gate = new();
        private int _encodedTenths = -1;
        private string? _last;

        public void Report(IndexProgress value)
        {
            lock (_gate)
            {
                string? line = value.Stage switch
                {
                    LocalIndexer.ScanStage => value.Total > 0 && value.Done == value.Total ? $"scanned {value.Total} files" : null,
                    LocalIndexer.EncodeStage => EncodeLine(value.Done, value.Total),
                    // Adding alternates with encoding group by group and takes a fraction of its time: the encoding lines
                    // already show the run is alive, so plain output stays one stage at a time.
                    LocalIndexer.AddStage => null,
                    _ => value.Done < value.Total ? "saving" : "saved",
                };
                if (line is not null && line != _last)
                {
                    writer.WriteLine(line);
                    _last = line;
                }
            }
        }

        private string? EncodeLine(int done, int total)
        {
            if (total == 0)
            {
                return "no passages to encode";
            }

            int tenths = (int)(10L * done / total);
            if (tenths <= _encodedTenths)
            {
                return null;
            }

            _encodedTenths = tenths;
            return $"encoding passages: {done}/{total} ({tenths * 10}%)";
        }
    }
}

/// <summary>Source-generated JSON metadata for the command line's output.</summary>
[JsonSerializable(typeof(LocalSearchCli.SearchResult))]
[JsonSerializable(typeof(IndexReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
}
