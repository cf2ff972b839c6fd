// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using BenchmarkDotNet.Running;

namespace Muvera.Benchmarks;

/// <summary>Entry point: <c>dotnet run -c Release --project bench/Muvera.Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["--prepare", .. var backends])
        {
            // Builds the index benchmarks' cached corpora and indexes ahead of a recorded run, e.g.
            // `-- --prepare Flat HNSW-M32-ef256 PQ1280x8` (each setup prints recall, memory and build time), or
            // `-- --prepare muvera` (or `muvera:HNSW-R10k4`) for the end-to-end MuveraIndex benchmarks.
            foreach (string backend in backends)
            {
                if (backend == "muvera" || backend.StartsWith("muvera:", StringComparison.Ordinal))
                {
                    Pipeline.MuveraSearchBenchmarks.Prepare(backend == "muvera" ? [] : backend["muvera:".Length..].Split(','));
                    continue;
                }

                var benchmark = new Indexing.FdeIndexBenchmarks { Backend = backend };
                benchmark.Setup();
                benchmark.Cleanup();
            }

            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
