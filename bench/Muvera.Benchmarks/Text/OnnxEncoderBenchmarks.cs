// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using Muvera.Onnx;

namespace Muvera.Benchmarks.Text;

/// <summary>
/// Document encoding with the embedded all-MiniLM-L6-v2 (documents cut to 256 tokens, batches of 32, one session, every
/// core): batches formed from length-sorted documents against batches in input order, side by side, 256 documents per
/// operation. Two corpora from the committed NFCorpus slice: the abstracts as they are (most reach the 256-token cap, so
/// there is almost no padding to save) and passages, the same abstracts cut to 8–200 words (a spread of lengths like a
/// passage collection's). Results: bench/results/2026-11-28-onnx-encoder.md.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Config))]
public class OnnxEncoderBenchmarks
{
    private OnnxTokenEncoder _sorted = null!;
    private OnnxTokenEncoder _fixedOrder = null!;
    private string[] _documents = null!;

    /// <summary>Documents per operation.</summary>
    public static int Count => SyntheticData.Smoke ? 8 : 256;

    [Params("abstracts", "passages")]
    public string Corpus { get; set; } = "abstracts";

    [GlobalSetup]
    public void Setup()
    {
        _sorted = OnnxTokenEncoder.CreateDefault();
        _fixedOrder = OnnxTokenEncoder.CreateDefault(new OnnxEncoderSettings { SortByLength = false });
        string[] abstracts = [.. ReadSlice().Take(Count)];
        _documents = Corpus == "abstracts"
            ? abstracts
            : [.. abstracts.Select((text, i) => string.Join(' ', text.Split(' ').Take(8 + ((i * 37) % 193))))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sorted.Dispose();
        _fixedOrder.Dispose();
    }

    /// <summary>Batches of 32 in input order (each padded to its longest document).</summary>
    [Benchmark(Baseline = true)]
    public int FixedOrder() => _fixedOrder.EncodeDocuments(_documents).Sum(d => d.Count);

    /// <summary>Batches of 32 after sorting by token count.</summary>
    [Benchmark]
    public int SortedByLength() => _sorted.EncodeDocuments(_documents).Sum(d => d.Count);

    // The committed slice, found by walking up from the benchmark process (BenchmarkDotNet runs it from a generated
    // folder below bin/).
    private static List<string> ReadSlice()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            string path = Path.Combine(directory.FullName, "tests", "testdata", "nfcorpus-slice", "corpus.jsonl");
            if (File.Exists(path))
            {
                return File.ReadLines(path).Select(line =>
                {
                    using JsonDocument json = JsonDocument.Parse(line);
                    return $"{json.RootElement.GetProperty("title").GetString()} {json.RootElement.GetProperty("text").GetString()}".Trim();
                }).ToList();
            }
        }

        throw new FileNotFoundException("tests/testdata/nfcorpus-slice/corpus.jsonl was not found above the benchmark's folder.");
    }

    /// <summary>One operation takes seconds: one warm-up and five measured operations, each its own iteration. A job named
    /// on the command line (CI's <c>--job Dry</c>) replaces this one instead of running beside it, so the smoke run
    /// encodes each case once.</summary>
    private sealed class Config : ManualConfig
    {
        public Config()
        {
            string[] arguments = Environment.GetCommandLineArgs();
            if (!arguments.Contains("--job") && !arguments.Contains("-j"))
            {
                AddJob(Job.Default.WithStrategy(RunStrategy.Monitoring).WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(5));
            }
        }
    }
}
