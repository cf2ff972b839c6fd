// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Threading.Tasks;

namespace Muvera.Cli;

internal static class Program
{
    public static Task<int> Main(string[] args) => CliApplication.InvokeAsync(args);
}
