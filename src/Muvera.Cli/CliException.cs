// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Cli;

/// <summary>A user error (bad option value, missing file, unsupported backend): the command prints the message alone,
/// without a stack trace, and exits with <see cref="ExitCodes.Error"/>.</summary>
internal sealed class CliException : Exception
{
    public CliException()
    {
    }

    public CliException(string message)
        : base(message)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Process exit codes of the <c>muvera</c> command.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A user error or a failed run; also what System.CommandLine returns for a command line it cannot parse.</summary>
    public const int Error = 1;

    /// <summary>Cancelled with Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}
