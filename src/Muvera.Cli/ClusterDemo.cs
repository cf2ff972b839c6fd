// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Muvera.Beir.Synthetic;
using Muvera.Orleans;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;

namespace Muvera.Cli;

/// <summary>Settings of <c>muvera cluster demo</c>.</summary>
internal sealed record DemoSettings
{
    public int Silos { get; init; } = 3;

    public int Documents { get; init; } = 20_000;

    public int Queries { get; init; } = 50;

    public bool KillOne { get; init; }

    /// <summary>Null: the demo starts its own <c>redis-server</c> on a free loopback port.</summary>
    public string? Membership { get; init; }

    /// <summary>Null: a temporary folder, removed afterwards.</summary>
    public string? DataRoot { get; init; }

    /// <summary>Null: one per silo.</summary>
    public int? Shards { get; init; }

    public int Tokens { get; init; } = 32;

    public int QueryTokens { get; init; } = 16;

    public int Dimension { get; init; } = 128;

    /// <summary>Whether the first half of the writes is checkpointed (false: every write is only in the logs when a silo
    /// dies).</summary>
    public bool CheckpointHalf { get; init; } = true;
}

/// <summary>
/// <c>muvera cluster demo</c>: starts silo processes on loopback (and a Redis server for membership unless one is given),
/// indexes the synthetic corpus through a client, compares every query's top 10 with a single in-process
/// <see cref="MuveraIndex"/> (N = all candidates on both sides), optionally SIGKILLs one silo and checks again after the
/// shards recover, prints one JSON line and stops every process it started (also on failure and Ctrl+C).
/// </summary>
internal static class ClusterDemo
{
    private const int TopK = 10;
    private const int BatchSize = 1000;
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan s_recoveryLimit = TimeSpan.FromSeconds(60);

    public static async Task<bool> RunAsync(DemoSettings settings, TextWriter output, TextWriter log, CancellationToken cancellationToken)
    {
        using var children = new ChildProcesses();
        string root = settings.DataRoot ?? Path.Combine(Path.GetTempPath(), "muvera-cluster-demo-" + Guid.NewGuid().ToString("N")[..8]);
        bool ownRoot = settings.DataRoot is null;
        string logs = Path.Combine(root, "logs");
        Directory.CreateDirectory(logs);
        IHost? client = null;
        try
        {
            string membership = settings.Membership ?? await StartRedisAsync(children, logs, log, cancellationToken).ConfigureAwait(false);
            string clusterId = "demo-" + Guid.NewGuid().ToString("N")[..8];
            var siloPorts = new int[settings.Silos];
            for (int i = 0; i < settings.Silos; i++)
            {
                siloPorts[i] = FreePort();
                int gateway = FreePort();
                children.Start($"silo-{i}", SelfCommand(
                [
                    "cluster", "silo", "--data", root, "--port", Invariant(siloPorts[i]), "--gateway-port", Invariant(gateway),
                    "--membership", membership, "--cluster-id", clusterId, "--dim", Invariant(settings.Dimension), "--fast-failover",
                ]), Path.Combine(logs, $"silo-{i}.log"));
            }

            log.WriteLine($"started {settings.Silos} silos (ports {string.Join(", ", siloPorts)}), cluster {clusterId}, data {root}");
            client = await ConnectAsync(membership, clusterId, settings.Silos, children, cancellationToken).ConfigureAwait(false);
            IClusterClient grains = client.Services.GetRequiredService<IClusterClient>();
            int shards = settings.Shards ?? settings.Silos;
            MuveraCluster cluster = await MuveraCluster.CreateCollectionAsync(grains, "demo", shards, cancellationToken: cancellationToken).ConfigureAwait(false);

            var corpus = new SyntheticCorpus(new SyntheticCorpusOptions
            {
                DocumentCount = settings.Documents,
                TokensPerDocument = settings.Tokens,
                Dimension = settings.Dimension,
                QueryCount = settings.Queries,
                TokensPerQuery = settings.QueryTokens,
            });
            var ids = new string[settings.Documents];
            var documents = new ReadOnlyMultiVector[settings.Documents];
            for (int i = 0; i < ids.Length; i++)
            {
                ids[i] = "doc" + i.ToString("D8", CultureInfo.InvariantCulture);
                documents[i] = corpus.GetDocument(i);
            }

            var queries = new ReadOnlyMultiVector[settings.Queries];
            for (int q = 0; q < queries.Length; q++)
            {
                queries[q] = corpus.GetQuery(q);
            }

            // Writes: the first half is checkpointed, the second half is only in the write-ahead logs when a silo dies.
            var acknowledged = new List<string>(ids.Length);
            var writes = Stopwatch.StartNew();
            for (int start = 0; start < ids.Length; start += BatchSize)
            {
                int count = Math.Min(BatchSize, ids.Length - start);
                await cluster.AddRangeAsync(new ArraySegment<string>(ids, start, count), new ArraySegment<ReadOnlyMultiVector>(documents, start, count), cancellationToken).ConfigureAwait(false);
                acknowledged.AddRange(new ArraySegment<string>(ids, start, count));
                if (settings.CheckpointHalf && start < ids.Length / 2 && start + count >= ids.Length / 2)
                {
                    await cluster.CheckpointAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            log.WriteLine($"{acknowledged.Count} documents acknowledged in {writes.Elapsed.TotalSeconds:F1} s over {shards} shards ({(settings.CheckpointHalf ? "first half checkpointed, second half" : "no checkpoint: all")} in the write-ahead logs)");
            foreach (MuveraShardStatus status in await cluster.GetShardStatusAsync(cancellationToken).ConfigureAwait(false))
            {
                log.WriteLine($"  shard {status.Shard}: {status.Documents} documents, {status.TokenBytes} token bytes, {status.FdeBytes} FDE bytes, log {status.LogBytes} bytes, on {status.Silo}");
            }

            MuveraShardProfile profile = MuveraShardProfile.CreateSimHash(settings.Dimension);
            using MuveraIndex single = MuveraIndex.Create(profile.IndexOptions, profile.Backend);
            single.AddRange(ids, documents);
            log.WriteLine($"single in-process index built ({single.Count} documents)");

            Check before = await CompareAsync(cluster, single, queries, cancellationToken).ConfigureAwait(false);
            log.WriteLine($"before: identical {before.Identical}, failed {before.Failed}, p50 cluster {before.P50Cluster:F2} ms, single {before.P50Single:F2} ms");

            bool identical = before.Identical && before.Failed == 0;
            int lost = 0;
            int failedAfter = 0;
            double? recoverySeconds = null;
            double p50Cluster = before.P50Cluster;
            double p50Single = before.P50Single;
            if (settings.KillOne)
            {
                IReadOnlyList<MuveraShardStatus> placement = await cluster.GetShardStatusAsync(cancellationToken).ConfigureAwait(false);
                int victim = Enumerable.Range(0, settings.Silos).First(i =>
                    placement.Any(p => p.Silo.Contains($"127.0.0.1:{siloPorts[i]}:", StringComparison.Ordinal)) || i == settings.Silos - 1);
                int[] lostShards = placement.Where(p => p.Silo.Contains($"127.0.0.1:{siloPorts[victim]}:", StringComparison.Ordinal)).Select(p => p.Shard).ToArray();
                log.WriteLine($"SIGKILL silo-{victim} (port {siloPorts[victim]}), hosting shards {string.Join(", ", lostShards)}");
                var recovery = Stopwatch.StartNew();
                children.Kill($"silo-{victim}");
                int failedDuringGap = 0;
                var pending = new List<Task>();
                while (true)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (recovery.Elapsed > 2 * s_recoveryLimit)
                    {
                        throw new CliException($"cluster demo: the shards did not recover within {2 * s_recoveryLimit.TotalSeconds} s.");
                    }

                    // A request sent just before the kill may sit queued to the dead silo's gateway until the client's
                    // response timeout; rather than wait for it, a fresh search is issued every 2 s, and the gap ends when
                    // one of them answers completely.
                    Task<MuveraClusterSearchResult> attempt = cluster.SearchAsync(queries[0], TopK, new MuveraClusterSearchOptions { AllCandidates = true }, cancellationToken);
                    await Task.WhenAny(attempt, Task.Delay(2000, cancellationToken)).ConfigureAwait(false);
                    if (attempt.IsCompletedSuccessfully)
                    {
                        break;
                    }

                    if (attempt.IsCompleted)
                    {
                        if (failedDuringGap++ == 0 && attempt.Exception?.InnerException is { } first)
                        {
                            log.WriteLine($"during the gap: {first.Message}");
                        }

                        await Task.Delay(200, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        pending.Add(attempt.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
                    }
                }

                recoverySeconds = recovery.Elapsed.TotalSeconds;
                log.WriteLine($"recovered in {recoverySeconds:F1} s ({failedDuringGap} searches failed with MuveraShardUnavailableException during the gap, {pending.Count} still waiting)");
                var present = new HashSet<string>(await cluster.GetIdsAsync(cancellationToken).ConfigureAwait(false), StringComparer.Ordinal);
                lost = acknowledged.Count(id => !present.Contains(id));
                Check after = await CompareAsync(cluster, single, queries, cancellationToken).ConfigureAwait(false);
                log.WriteLine($"after: identical {after.Identical}, failed {after.Failed}, p50 cluster {after.P50Cluster:F2} ms, single {after.P50Single:F2} ms, lost {lost}");
                identical &= after.Identical;
                failedAfter = after.Failed;
            }

            bool ok = identical && lost == 0 && failedAfter == 0 && before.Failed == 0
                && (recoverySeconds is null || recoverySeconds <= s_recoveryLimit.TotalSeconds);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"silos\":{settings.Silos},\"docs\":{settings.Documents},\"queries\":{settings.Queries},\"identical_to_single_index\":{(identical ? "true" : "false")},\"acknowledged_writes_lost\":{lost},\"searches_failed_after_recovery\":{failedAfter},\"recovery_seconds\":{(recoverySeconds is double r ? r.ToString("F2", CultureInfo.InvariantCulture) : "null")},\"p50_ms_cluster\":{p50Cluster:F2},\"p50_ms_single\":{p50Single:F2}}}"));
            return ok;
        }
        catch (Exception e) when (e is not OperationCanceledException and not CliException)
        {
            log.WriteLine($"cluster demo failed: {e.GetType().Name}: {e.Message}");
            children.PrintLogTails(log);
            throw new CliException($"cluster demo: {e.Message}", e);
        }
        finally
        {
            if (client is not null)
            {
                try
                {
                    using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await client.StopAsync(stopping.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or OrleansException or IOException)
                {
                }

                client.Dispose();
            }

            children.Dispose();
            if (ownRoot)
            {
                try
                {
                    Directory.Delete(root, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    private readonly record struct Check(bool Identical, int Failed, double P50Cluster, double P50Single);

    private static async Task<Check> CompareAsync(MuveraCluster cluster, MuveraIndex single, ReadOnlyMultiVector[] queries, CancellationToken cancellationToken)
    {
        var all = new MuveraClusterSearchOptions { AllCandidates = true };
        var singleOptions = new MuveraSearchOptions { Candidates = Math.Max(TopK, single.Count) };

        // Warm-up (JIT, connections), not timed.
        await cluster.SearchAsync(queries[0], TopK, all, cancellationToken).ConfigureAwait(false);
        single.Search(queries[0], TopK, singleOptions);

        bool identical = true;
        int failed = 0;
        var clusterMs = new List<double>(queries.Length);
        var singleMs = new List<double>(queries.Length);
        foreach (ReadOnlyMultiVector query in queries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long start = Stopwatch.GetTimestamp();
            MuveraSearchHit[] expected = single.Search(query, TopK, singleOptions);
            singleMs.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            MuveraClusterSearchResult result;
            start = Stopwatch.GetTimestamp();
            try
            {
                result = await cluster.SearchAsync(query, TopK, all, cancellationToken).ConfigureAwait(false);
            }
            catch (MuveraShardUnavailableException)
            {
                failed++;
                identical = false;
                continue;
            }

            clusterMs.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            identical &= !result.IsPartial && result.Hits.Select(h => (h.Id, h.Score)).SequenceEqual(expected.Select(h => (h.Id, h.Score)));
        }

        return new Check(identical, failed, Median(clusterMs), Median(singleMs));
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        int middle = values.Count / 2;
        return values.Count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }

    private static async Task<IHost> ConnectAsync(string membership, string clusterId, int silos, ChildProcesses children, CancellationToken cancellationToken)
    {
        string redis = ClusterSilo.RedisConfiguration(membership);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            children.ThrowIfAnyExited();
            HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Error);
            builder.UseOrleansClient(c =>
            {
                c.UseRedisClustering(redis);
                c.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clusterId;
                    o.ServiceId = "muvera";
                });
                c.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));

                // A request queued to a gateway that was just killed is answered by this timeout (default 30 s); it must
                // still cover a search of a shard that is replaying its log on a loaded machine.
                c.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(20));
            });
            IHost host = builder.Build();
            try
            {
                await host.StartAsync(cancellationToken).ConfigureAwait(false);
                IManagementGrain management = host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0);
                while (true)
                {
                    Dictionary<SiloAddress, SiloStatus> active = await management.GetHosts(true, cancellationToken).ConfigureAwait(false);
                    if (active.Count >= silos)
                    {
                        return host;
                    }

                    children.ThrowIfAnyExited();
                    if (deadline.Elapsed > s_startTimeout)
                    {
                        throw new CliException($"cluster demo: only {active.Count} of {silos} silos became active within {s_startTimeout.TotalSeconds} s.");
                    }

                    await Task.Delay(250, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is not CliException and not OperationCanceledException && deadline.Elapsed < s_startTimeout)
            {
                host.Dispose();
                await Task.Delay(500, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                host.Dispose();
                throw;
            }
        }
    }

    private static async Task<string> StartRedisAsync(ChildProcesses children, string logs, TextWriter log, CancellationToken cancellationToken)
    {
        string? server = FindOnPath("redis-server")
            ?? throw new CliException("cluster demo: redis-server is not on PATH; install it (Debian: apt-get install redis-server) or pass --membership redis://127.0.0.1:<port>.");
        int port = FreePort();
        children.Start("redis", [server, "--port", Invariant(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
            Path.Combine(logs, "redis.log"));
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            children.ThrowIfAnyExited();
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }

        log.WriteLine($"redis-server on 127.0.0.1:{port}");
        return $"redis://127.0.0.1:{port}";
    }

    private static string? FindOnPath(string name)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    // This tool again: the apphost, or `dotnet Muvera.Cli.dll` when run through the dotnet host.
    private static string[] SelfCommand(string[] args)
    {
        string process = Environment.ProcessPath ?? throw new CliException("cluster demo: cannot find this program's path to start silos.");
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, typeof(ClusterDemo).Assembly.Location, .. args]
            : [process, .. args];
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The processes the demo started: killed (with their children) on dispose, and on process exit if the demo
    /// itself is stopped before it can dispose them.</summary>
    private sealed class ChildProcesses : IDisposable
    {
        private readonly List<(string Name, Process Process, string Log)> _started = [];
        private readonly object _gate = new();

        public ChildProcesses()
        {
            AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        }

        public void Start(string name, string[] command, string logPath)
        {
            var info = new ProcessStartInfo(command[0])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (string arg in command.AsSpan(1))
            {
                info.ArgumentList.Add(arg);
            }

            var writer = new StreamWriter(logPath) { AutoFlush = true };
            var process = new Process { StartInfo = info };
            process.OutputDataReceived += (_, e) => Write(writer, e.Data);
            process.ErrorDataReceived += (_, e) => Write(writer, e.Data);
            lock (_gate)
            {
                process.Start();
                _started.Add((name, process, logPath));
            }

            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public void Kill(string name)
        {
            lock (_gate)
            {
                foreach (var (n, process, _) in _started)
                {
                    if (n == name)
                    {
                        // SIGKILL on Linux and macOS: no shutdown code runs, as in a crash.
                        process.Kill(entireProcessTree: false);
                        process.WaitForExit(10_000);
                    }
                }
            }
        }

        public void ThrowIfAnyExited()
        {
            lock (_gate)
            {
                foreach (var (name, process, log) in _started)
                {
                    if (process.HasExited)
                    {
                        throw new CliException($"cluster demo: {name} exited with code {process.ExitCode} (log: {log}).");
                    }
                }
            }
        }

        public void PrintLogTails(TextWriter log)
        {
            lock (_gate)
            {
                foreach (var (name, _, path) in _started)
                {
                    try
                    {
                        string[] lines = File.ReadAllLines(path);
                        log.WriteLine($"--- {name} (last lines of {path})");
                        foreach (string line in lines.TakeLast(15))
                        {
                            log.WriteLine(line);
                        }
                    }
                    catch (IOException)
                    {
                    }
                }
            }
        }

        public void Dispose()
        {
            AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
            StopAll();
        }

        private void OnProcessExit(object? sender, EventArgs e) => StopAll();

        private void StopAll()
        {
            lock (_gate)
            {
                foreach (var (_, process, _) in _started)
                {
                    try
                    {
                        if (!process.HasExited)
                        {
                            process.Kill(entireProcessTree: true);
                            process.WaitForExit(10_000);
                        }
                    }
                    catch (InvalidOperationException)
                    {
                    }

                    process.Dispose();
                }

                _started.Clear();
            }
        }

        private static void Write(StreamWriter writer, string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (writer)
            {
                try
                {
                    writer.WriteLine(line);
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }
}
