// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading;

namespace Muvera.Samples.LocalSearch;

/// <summary>Entry point: <c>index &lt;folder&gt;</c> and <c>search &lt;folder&gt; [query]</c> (see README.md).</summary>
public static class Program
{
    /// <summary>Runs the command line. Ctrl+C during indexing cancels the run, which then saves nothing (a second Ctrl+C
    /// ends the process); at any other time it ends the process as usual.</summary>
    /// <param name="args">The command line.</param>
    /// <returns>The exit code.</returns>
    public static int Main(string[] args)
    {
        using var cancellation = new CancellationTokenSource();
        var cli = new LocalSearchCli(Console.Out, Console.Error, Console.In);
        ConsoleCancelEventHandler handler = (_, e) =>
        {
            e.Cancel = cli.IsIndexing && !cancellation.IsCancellationRequested;
            cancellation.Cancel();
        };
        Console.CancelKeyPress += handler;
        try
        {
            return cli.Run(args, cancellation.Token);
        }
        finally
        {
            Console.CancelKeyPress -= handler;
        }
    }
}
