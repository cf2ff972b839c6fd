// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Muvera.Cli.Tests;

/// <summary>Runs the command line in process and captures what it prints.</summary>
internal static class CliRunner
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = await CliApplication.InvokeAsync(args, output, error, cancellationToken).ConfigureAwait(false);
        return (exitCode, output.ToString(), error.ToString());
    }

    public static Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => RunAsync(CancellationToken.None, args);
}
