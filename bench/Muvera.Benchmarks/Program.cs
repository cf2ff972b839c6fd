// Copyright (c) Muvera contributors. Licensed under the MIT License.

using BenchmarkDotNet.Running;

namespace Muvera.Benchmarks;

/// <summary>Entry point: <c>dotnet run -c Release --project bench/Muvera.Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
