// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Muvera.Orleans;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Muvera.Cli;

/// <summary>Settings of <c>muvera cluster silo</c>.</summary>
internal sealed record SiloSettings
{
    public required string DataRoot { get; init; }

    public required int Port { get; init; }

    public required int GatewayPort { get; init; }

    /// <summary><c>redis://host:port</c>.</summary>
    public required string Membership { get; init; }

    public string ClusterId { get; init; } = "muvera";

    public int Dimension { get; init; } = 128;

    public bool FastFailover { get; init; }
}

/// <summary><c>muvera cluster silo</c>: one Orleans silo on loopback hosting Muvera shards, Redis membership.</summary>
internal static class ClusterSilo
{
    /// <summary>Parses <c>redis://host:port</c> into a StackExchange.Redis configuration string.</summary>
    public static string RedisConfiguration(string membership)
    {
        if (!Uri.TryCreate(membership, UriKind.Absolute, out Uri? uri) || uri.Scheme != "redis" || string.IsNullOrEmpty(uri.Host))
        {
            throw new CliException($"--membership \"{membership}\" is not redis://<host>:<port> (Redis membership is the one supported).");
        }

        int port = uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port;
        return $"{uri.Host}:{port},abortConnect=false";
    }

    /// <summary>The failure detection of <c>--fast-failover</c>: a dead silo is declared within a few seconds (Orleans'
    /// defaults take tens of seconds and suit large clusters on noisy networks).</summary>
    public static void FastFailover(ClusterMembershipOptions options)
    {
        options.ProbeTimeout = TimeSpan.FromSeconds(1);
        options.NumMissedProbesLimit = 2;
        options.NumVotesForDeathDeclaration = 1;
        options.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
    }

    public static async Task RunAsync(SiloSettings settings, CancellationToken cancellationToken)
    {
        string redis = RedisConfiguration(settings.Membership);
        MuveraShardProfile profile;
        try
        {
            profile = MuveraShardProfile.CreateSimHash(settings.Dimension);
        }
        catch (ArgumentException e)
        {
            throw new CliException($"cluster silo: --dim {settings.Dimension}: {e.Message}", e);
        }

        // Shards score on their grain turns with a scorer that is itself parallel: more pool threads from the start keep
        // membership probes and messaging answering while searches run (the pool otherwise adds threads slowly).
        ThreadPool.GetMinThreads(out int workers, out int completion);
        ThreadPool.SetMinThreads(Math.Max(workers, 4 * Environment.ProcessorCount + 8), completion);
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Muvera", LogLevel.Information);
        builder.UseOrleans(silo =>
        {
            silo.UseRedisClustering(redis);
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = "muvera";
            });
            silo.ConfigureEndpoints(IPAddress.Loopback, settings.Port, settings.GatewayPort, listenOnAnyHostAddress: false);
            if (settings.FastFailover)
            {
                silo.Configure<ClusterMembershipOptions>(FastFailover);
            }

            silo.AddMuveraShards(o =>
            {
                o.DataRoot = settings.DataRoot;
                o.Profiles[MuveraSiloOptions.DefaultProfile] = profile;
            });
        });
        using IHost host = builder.Build();
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        Console.Error.WriteLine($"silo {settings.ClusterId} on 127.0.0.1:{settings.Port} (gateway {settings.GatewayPort}), data {settings.DataRoot}, membership {settings.Membership}; profile \"default\": {profile}");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await host.StopAsync(stopping.Token).ConfigureAwait(false);
    }
}
