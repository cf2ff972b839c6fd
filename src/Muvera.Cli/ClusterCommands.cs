// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Muvera.Cli;

/// <summary><c>muvera cluster silo</c> and <c>muvera cluster demo</c>: the sharded index on Orleans (Muvera.Orleans).</summary>
internal static class ClusterCommands
{
    public static Command Create()
    {
        var cluster = new Command("cluster", "A sharded MUVERA index on Microsoft Orleans: run a silo, or a self-checking demo on loopback.");
        cluster.Subcommands.Add(CreateSiloCommand());
        cluster.Subcommands.Add(CreateDemoCommand());
        return cluster;
    }

    private static Command CreateSiloCommand()
    {
        var data = new Option<string>("--data") { Description = "The data root every silo reaches (a shared volume; a local folder on one machine).", Required = true };
        var port = new Option<int>("--port") { Description = "Silo-to-silo port on 127.0.0.1.", Required = true };
        var gatewayPort = new Option<int>("--gateway-port") { Description = "Client gateway port on 127.0.0.1.", Required = true };
        var membership = new Option<string>("--membership") { Description = "Membership table: redis://<host>:<port>.", DefaultValueFactory = _ => "redis://127.0.0.1:6379" };
        var clusterId = new Option<string>("--cluster-id") { Description = "Orleans cluster id (silos and clients of one cluster share it).", DefaultValueFactory = _ => "muvera" };
        var dimension = new Option<int>("--dim") { Description = "Token dimension of the \"default\" profile (SimHash FDEs, float32 flat backend, float32 tokens).", DefaultValueFactory = _ => 128 };
        var fast = new Option<bool>("--fast-failover") { Description = "Declare a dead silo within seconds (1 s probes, 2 missed, 1 vote) instead of Orleans' defaults." };
        var command = new Command("silo", "Runs one Orleans silo hosting Muvera shards until Ctrl+C or SIGTERM.")
        {
            data, port, gatewayPort, membership, clusterId, dimension, fast,
        };
        command.SetAction((parseResult, cancellationToken) => Execute(parseResult, async (output, token) =>
        {
            var settings = new SiloSettings
            {
                DataRoot = Path.GetFullPath(parseResult.GetValue(data)!),
                Port = PortValue(parseResult.GetValue(port), "--port"),
                GatewayPort = PortValue(parseResult.GetValue(gatewayPort), "--gateway-port"),
                Membership = parseResult.GetValue(membership)!,
                ClusterId = parseResult.GetValue(clusterId)!,
                Dimension = parseResult.GetValue(dimension),
                FastFailover = parseResult.GetValue(fast),
            };
            await ClusterSilo.RunAsync(settings, token).ConfigureAwait(false);
            return true;
        }, cancellationToken));
        return command;
    }

    private static Command CreateDemoCommand()
    {
        var silos = new Option<int>("--silos") { Description = "Silo processes to start.", DefaultValueFactory = _ => 3 };
        var documents = new Option<int>("--docs") { Description = "Synthetic documents.", DefaultValueFactory = _ => 20_000 };
        var queries = new Option<int>("--queries") { Description = "Synthetic queries.", DefaultValueFactory = _ => 50 };
        var killOne = new Option<bool>("--kill-one") { Description = "SIGKILL one silo after the writes are acknowledged, wait for recovery and check again." };
        var membership = new Option<string?>("--membership") { Description = "redis://<host>:<port> [default: start redis-server on a free 127.0.0.1 port]." };
        var data = new Option<string?>("--data") { Description = "Data root [default: a temporary folder, removed afterwards]." };
        var shards = new Option<int?>("--shards") { Description = "Shards [default: one per silo]." };
        var tokens = new Option<int>("--tokens") { Description = "Tokens per document.", DefaultValueFactory = _ => 32 };
        var queryTokens = new Option<int>("--query-tokens") { Description = "Tokens per query.", DefaultValueFactory = _ => 16 };
        var dimension = new Option<int>("--dim") { Description = "Token dimension.", DefaultValueFactory = _ => 128 };
        var checkpoint = new Option<string>("--checkpoint") { Description = "half: checkpoint after the first half of the writes; none: every write only in the logs when a silo dies.", DefaultValueFactory = _ => "half" };
        checkpoint.AcceptOnlyFromAmong("half", "none");
        var command = new Command("demo", "Starts silos on loopback, indexes a synthetic corpus through a client, checks every query's top 10 against a single in-process index (N = all candidates), optionally kills a silo and checks again, and prints one JSON line. Exit code 0 only when every check holds.")
        {
            silos, documents, queries, killOne, membership, data, shards, tokens, queryTokens, dimension, checkpoint,
        };
        command.Validators.Add(result =>
        {
            foreach (Option<int> option in new[] { silos, documents, queries, tokens, queryTokens, dimension })
            {
                if (result.GetResult(option) is OptionResult { Implicit: false } given && given.GetValueOrDefault<int>() <= 0)
                {
                    result.AddError($"{option.Name} must be positive; got {given.GetValueOrDefault<int>()}.");
                }
            }

            if (result.GetResult(shards) is OptionResult { Implicit: false } givenShards && givenShards.GetValueOrDefault<int?>() is <= 0)
            {
                result.AddError($"--shards must be positive; got {givenShards.GetValueOrDefault<int?>()}.");
            }

            if (result.GetResult(killOne) is OptionResult { Implicit: false } && result.GetResult(silos) is OptionResult { Implicit: false } givenSilos
                && givenSilos.GetValueOrDefault<int>() < 2)
            {
                result.AddError("--kill-one needs at least 2 silos (a survivor must take the dead silo's shards).");
            }
        });
        command.SetAction((parseResult, cancellationToken) => Execute(parseResult, (output, token) => ClusterDemo.RunAsync(new DemoSettings
        {
            Silos = parseResult.GetValue(silos),
            Documents = parseResult.GetValue(documents),
            Queries = parseResult.GetValue(queries),
            KillOne = parseResult.GetValue(killOne),
            Membership = parseResult.GetValue(membership),
            DataRoot = parseResult.GetValue(data) is { } root ? Path.GetFullPath(root) : null,
            Shards = parseResult.GetValue(shards),
            Tokens = parseResult.GetValue(tokens),
            QueryTokens = parseResult.GetValue(queryTokens),
            Dimension = parseResult.GetValue(dimension),
            CheckpointHalf = parseResult.GetValue(checkpoint) != "none",
        }, output, parseResult.InvocationConfiguration.Error, token), cancellationToken));
        return command;
    }

    private static int PortValue(int port, string name) =>
        port is > 0 and <= 65535 ? port : throw new CliException($"{name} {port} is not a TCP port (1 to 65535).");

    private static async Task<int> Execute(ParseResult parseResult, Func<TextWriter, CancellationToken, Task<bool>> run, CancellationToken cancellationToken)
    {
        TextWriter error = parseResult.InvocationConfiguration.Error;
        try
        {
            bool ok = await Task.Run(() => run(parseResult.InvocationConfiguration.Output, cancellationToken), cancellationToken).ConfigureAwait(false);
            return ok ? ExitCodes.Success : ExitCodes.Error;
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
