// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace Muvera.Cli.Tests;

/// <summary><c>muvera cluster demo</c> end to end: real silo processes and a real redis-server on 127.0.0.1, one silo
/// SIGKILLed after its writes are acknowledged and before any checkpoint, so the shards it hosted come back from their
/// write-ahead logs alone.</summary>
[NonParallelizable]
public sealed class ClusterDemoTests
{
    [Test]
    [CancelAfter(240_000)]
    public async Task Demo_KillOneBeforeAnyCheckpoint_EveryAcknowledgedWriteIsSearchableAfterRecovery(CancellationToken cancellationToken)
    {
        if (!(Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, "redis-server"))))
        {
            Assert.Ignore("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it).");
        }

        var (exitCode, output, error) = await CliRunner.RunAsync(cancellationToken,
            "cluster", "demo", "--silos", "2", "--docs", "400", "--queries", "5", "--tokens", "8", "--query-tokens", "4", "--dim", "32",
            "--shards", "4", "--kill-one", "--checkpoint", "none");

        Assert.That(exitCode, Is.Zero, error + output);
        string line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single(l => l.StartsWith('{'));
        using var json = JsonDocument.Parse(line);
        JsonElement root = json.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("silos").GetInt32(), Is.EqualTo(2));
            Assert.That(root.GetProperty("docs").GetInt32(), Is.EqualTo(400));
            Assert.That(root.GetProperty("identical_to_single_index").GetBoolean(), Is.True);
            Assert.That(root.GetProperty("acknowledged_writes_lost").GetInt32(), Is.Zero);
            Assert.That(root.GetProperty("searches_failed_after_recovery").GetInt32(), Is.Zero);
            Assert.That(root.GetProperty("recovery_seconds").GetDouble(), Is.InRange(0, 60));
            Assert.That(error, Does.Contain("no checkpoint: all in the write-ahead logs").And.Contain("SIGKILL silo-"));
        });
    }

    [Test]
    public async Task Demo_KillOneWithOneSilo_IsAUsageError()
    {
        var (exitCode, _, error) = await CliRunner.RunAsync("cluster", "demo", "--silos", "1", "--kill-one");
        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error, Does.Contain("--kill-one needs at least 2 silos"));
    }
}
