// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Muvera.Cli.Tests;

[TestFixture]
public sealed class CliApplicationTests
{
    [Test]
    public async Task Invoke_Help_ListsCommands()
    {
        (int exitCode, string output, _) = await CliRunner.RunAsync("--help");
        Assert.That(exitCode, Is.Zero);
        Assert.That(output, Does.Contain("beir").And.Contain("bench"));
    }

    [Test]
    public async Task Invoke_BeirHelp_DescribesOptions()
    {
        (int exitCode, string output, _) = await CliRunner.RunAsync("beir", "--help");
        Assert.That(exitCode, Is.Zero);
        Assert.That(output, Does.Contain("--fde").And.Contain("--candidates").And.Contain("--modes").And.Contain("--index").And.Contain("--cache"));
    }

    [Test]
    public async Task Invoke_BadFde_FailsNamingTheValue()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "10", "--fde", "20,x,16");
        Assert.That(exitCode, Is.EqualTo(ExitCodes.Error));
        Assert.That(error, Does.Contain("20,x,16"));
    }

    [Test]
    public async Task Invoke_UnknownIndex_FailsNamingTheKind()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("bench", "synthetic", "--index", "flat,annoy");
        Assert.That(exitCode, Is.EqualTo(ExitCodes.Error));
        Assert.That(error, Does.Contain("annoy").And.Contain("unknown index kind"));
    }

    [Test]
    public async Task Invoke_UnknownMode_FailsNamingTheMode()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("beir", "some/dir", "--modes", "exact,bm25");
        Assert.That(exitCode, Is.EqualTo(ExitCodes.Error));
        Assert.That(error, Does.Contain("bm25"));
    }

    [Test]
    public async Task Invoke_NonPositiveCount_Fails()
    {
        (int exitCode, _, string error) = await CliRunner.RunAsync("bench", "synthetic", "--docs", "0");
        Assert.That(exitCode, Is.EqualTo(ExitCodes.Error));
        Assert.That(error, Does.Contain("--docs must be positive"));
    }

    [Test]
    public async Task Invoke_MissingDatasetFolder_FailsWithMessage()
    {
        string missing = Path.Combine(Path.GetTempPath(), "muvera-cli-tests", "no-such-dataset-" + Guid.NewGuid().ToString("N"));
        (int exitCode, _, string error) = await CliRunner.RunAsync("beir", missing);
        Assert.That(exitCode, Is.EqualTo(ExitCodes.Error));
        Assert.That(error, Does.Contain("does not exist").And.Contain(missing));
    }

    [Test]
    public async Task Invoke_MissingQrels_FailsWithMessage()
    {
        string directory = Path.Combine(Path.GetTempPath(), "muvera-cli-tests", "no-qrels-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "corpus.jsonl"), "{\"_id\": \"d1\", \"title\": \"\", \"text\": \"tea\"}\n");
            await File.WriteAllTextAsync(Path.Combine(directory, "queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"tea\"}\n");
            (int exitCode, _, string error) = await CliRunner.RunAsync("beir", directory);
            Assert.That(exitCode, Is.EqualTo(ExitCodes.Error));
            Assert.That(error, Does.Contain("Cannot load the BEIR data set").And.Contain("test.tsv"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task Invoke_Cancelled_ReturnsCancelledExitCode()
    {
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();
        (int exitCode, _, string error) = await CliRunner.RunAsync(cancellation.Token, "bench", "synthetic", "--docs", "50", "--tokens", "4", "--dim", "8", "--queries", "2");
        Assert.That(exitCode, Is.EqualTo(ExitCodes.Cancelled));
        Assert.That(error, Does.Contain("cancelled"));
    }
}
