// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using Muvera.Samples.LocalSearch.Tests.Fixtures;

namespace Muvera.Samples.LocalSearch.Tests;

/// <summary>The command line, run in-process as a script would run it: arguments in, exit code and output out.</summary>
[TestFixture]
public sealed class LocalSearchCliTests
{
    [Test]
    public void Search_Json_OneParsableObjectWithRankedHits()
    {
        (int exit, string output, string error) = Run(["search", TestFolders.Baseline, "product quantization codebooks and inverted lists", "--json", "--k", "3"]);

        Assert.That(exit, Is.Zero, error);
        using JsonDocument json = JsonDocument.Parse(output);
        JsonElement root = json.RootElement;
        JsonElement[] hits = [.. root.GetProperty("hits").EnumerateArray()];
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("query").GetString(), Is.EqualTo("product quantization codebooks and inverted lists"));
            Assert.That(root.GetProperty("k").GetInt32(), Is.EqualTo(3));
            Assert.That(hits, Has.Length.EqualTo(3));
            Assert.That(hits[0].GetProperty("path").GetString(), Is.EqualTo("faiss-backend.md"));
            Assert.That(hits[0].GetProperty("rank").GetInt32(), Is.EqualTo(1));
            Assert.That(hits[0].GetProperty("startLine").GetInt32(), Is.Positive);
            Assert.That(hits[0].GetProperty("score").GetSingle(), Is.GreaterThan(hits[2].GetProperty("score").GetSingle()));
            string snippet = hits[0].GetProperty("snippet").GetString()!;
            foreach (JsonElement span in hits[0].GetProperty("highlights").EnumerateArray())
            {
                int start = span.GetProperty("start").GetInt32();
                int length = span.GetProperty("length").GetInt32();
                Assert.That(start + length, Is.LessThanOrEqualTo(snippet.Length));
                Assert.That(span.GetProperty("term").GetString(), Is.Not.Empty);
            }
        });
    }

    [Test]
    public void Search_InteractiveJson_OneLinePerQueryUntilEmptyLine()
    {
        (int exit, string output, string error) = Run(["search", TestFolders.Baseline, "--json", "-k", "1"],
            "which license covers the default model\nnDCG at 10 with qrels from a BEIR dataset\n\nnot read\n");

        string[] lines = output.Split('\n', System.StringSplitOptions.RemoveEmptyEntries);
        Assert.That(exit, Is.Zero, error);
        Assert.That(lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("hits")[0].GetProperty("path").GetString()),
            Is.EqualTo(new[] { "licensing.md", "beir-evaluation.md" }));
    }

    [Test]
    public void Search_Table_ShowsPathLinesScoreAndSnippet()
    {
        (int exit, string output, string error) = Run(["search", TestFolders.Baseline, "HNSW graph connectivity M and search expansion ef", "-k", "2"]);

        Assert.That(exit, Is.Zero, error);
        Assert.That(output, Does.Match(@"1\. hnsw-usearch\.md:\d+-\d+\s+score \d+\.\d\d"));
    }

    [Test]
    public void Index_Json_ReportOfAnUnchangedFolder()
    {
        string folder = TestFolders.CopyOfBaseline();
        (int exit, string output, string error) = Run(["index", folder, "--json"]);

        Assert.That(exit, Is.Zero, error);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Multiple(() =>
        {
            Assert.That(json.RootElement.GetProperty("filesUnchanged").GetInt32(), Is.EqualTo(TestFolders.DocumentCount));
            Assert.That(json.RootElement.GetProperty("passagesEncoded").GetInt32(), Is.Zero);
        });
    }

    [Test]
    public void Search_NoIndex_ExitCodeOneWithMessage()
    {
        (int exit, _, string error) = Run(["search", TestFolders.CreateTemporaryFolder(), "anything"]);
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(error, Does.Contain("run the index command first"));
        });
    }

    [Test]
    public void Search_FolderThatDoesNotExist_SaysSoInsteadOfAskingForAnIndexRun()
    {
        string missing = Path.Combine(TestFolders.CreateTemporaryFolder(), "no-such-folder");
        (int exit, _, string error) = Run(["search", missing, "anything"]);
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(error, Does.Contain($"The folder '{missing}' does not exist"));
            Assert.That(error, Does.Not.Contain("run the index command first"));
        });
    }

    [Test]
    public void Index_OutputRedirectedToFiles_PrintsEachProgressLineOnce_AndTheSummaryUnwrapped()
    {
        // The sample as a user runs it, with both streams redirected (`index <folder> > out 2> err`): the live display
        // used to print every task again at each update ("saving: 0%" between encoding lines), and the summary's long
        // path wrapped at 80 columns.
        string folder = Path.Combine(TestFolders.CreateTemporaryFolder(), "a-folder-whose-path-is-long-enough-to-wrap-at-eighty-columns");
        Directory.CreateDirectory(folder);
        for (int i = 0; i < 3; i++)
        {
            File.WriteAllText(Path.Combine(folder, $"note-{i}.md"), $"Note {i}. Product quantization splits a vector into sub-vectors and encodes each with a codebook.");
        }

        (int exit, string output, string error) = RunProcess("index", folder);
        string[] lines = error.Split('\n', System.StringSplitOptions.RemoveEmptyEntries | System.StringSplitOptions.TrimEntries);
        string state = Path.Combine(folder, LocalIndexLocation.DefaultDirectoryName);
        Assert.That(exit, Is.Zero, error);
        Assert.That(lines, Has.Length.GreaterThanOrEqualTo(5), error);
        Assert.Multiple(() =>
        {
            Assert.That(lines, Is.Unique);
            Assert.That(lines[0], Is.EqualTo("scanned 3 files"));
            Assert.That(lines[1], Does.Match(@"^encoding passages: 0/\d+ \(0%\)$"));
            Assert.That(lines[^3], Does.Match(@"^encoding passages: (\d+)/\1 \(100%\)$"));
            Assert.That(lines[^2..], Is.EqualTo(new[] { "saving", "saved" }));
            Assert.That(lines[1..^2], Has.All.StartWith("encoding passages: "), "no line of another stage between them");
            Assert.That(output.Split('\n').Any(l => l.Contains($"-> {state}", System.StringComparison.Ordinal)), Is.True, output);
            Assert.That(output.Contains('\u001b', System.StringComparison.Ordinal) || error.Contains('\u001b', System.StringComparison.Ordinal), Is.False,
                "no terminal escapes in a file");
        });
    }

    [Test]
    public void Index_WhileAnotherRunHoldsTheFolder_FailsAtOnceWithAMessage()
    {
        string folder = TestFolders.CreateTemporaryFolder();
        File.WriteAllText(Path.Combine(folder, "a.md"), "Some text.");
        var location = new LocalIndexLocation(folder);
        Directory.CreateDirectory(location.StateDirectory);
        using (new FileStream(location.LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            (int exit, _, string error) = Run(["index", folder]);
            Assert.Multiple(() =>
            {
                Assert.That(exit, Is.EqualTo(1));
                Assert.That(error, Does.Contain("Another index run is updating").And.Contain(location.StateDirectory));
                Assert.That(Directory.Exists(location.IndexDirectory), Is.False, "nothing was encoded or saved");
            });
        }

        Assert.That(Run(["index", folder, "--json"]).Exit, Is.Zero, "the lock dies with its holder");
    }

    [Test]
    public void Search_CandidatesBelowK_UsageError()
    {
        (int exit, _, string error) = Run(["search", TestFolders.Baseline, "faiss", "--k", "5", "--candidates", "2"]);
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(2));
            Assert.That(error, Does.Contain("--candidates (2) must be at least --k (5)"));
        });
    }

    [Test]
    public void Run_UnknownOptionOrMissingFolder_UsageErrorTwo()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Run(["search", TestFolders.Baseline, "faiss", "--no-such-option"]).Exit, Is.EqualTo(2));
            Assert.That(Run(["index"]).Exit, Is.EqualTo(2));
            Assert.That(Run(["search", TestFolders.Baseline, "faiss", "--k", "0"]).Exit, Is.EqualTo(2));
        });
    }

    [Test]
    public void Index_CancelledBeforeStart_ExitCode130AndNothingSaved()
    {
        string folder = TestFolders.CreateTemporaryFolder();
        File.WriteAllText(Path.Combine(folder, "a.md"), "Some text.");
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();

        var output = new StringWriter();
        var error = new StringWriter();
        int exit = new LocalSearchCli(output, error, TextReader.Null, TestFolders.Encoder).Run(["index", folder], cancellation.Token);

        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(LocalSearchCli.CancelledExitCode));
            Assert.That(error.ToString(), Does.Contain("nothing was saved"));
            Assert.That(Directory.Exists(Path.Combine(folder, LocalIndexLocation.DefaultDirectoryName)), Is.False);
        });
    }

    // Runs the sample's own executable (copied next to the tests) with redirected streams, the way a shell redirects them.
    private static (int Exit, string Output, string Error) RunProcess(params string[] args)
    {
        string host = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(System.AppContext.BaseDirectory, "Muvera.Samples.LocalSearch.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        try
        {
            process.StandardInput.Close();
            System.Threading.Tasks.Task<string> output = process.StandardOutput.ReadToEndAsync();
            System.Threading.Tasks.Task<string> error = process.StandardError.ReadToEndAsync();
            Assert.That(process.WaitForExit(System.TimeSpan.FromMinutes(5)), Is.True, "the sample did not finish");
            return (process.ExitCode, output.Result, error.Result);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static (int Exit, string Output, string Error) Run(string[] args, string input = "")
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = new LocalSearchCli(output, error, new StringReader(input), TestFolders.Encoder).Run(args, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }
}
