// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Tasks;
using Muvera.Gpu;
using Muvera.Scoring;

namespace Muvera.GpuCheck;

/// <summary>
/// Checks <see cref="GpuChamferScorer"/> on a CUDA device: GPU scores equal the CPU scorer's on random documents, then
/// rerank and brute-force throughput for ColBERT-shaped data (queries of 32 × 128, documents of 80 × 128 in Float16),
/// written to a JSON file. Exit codes: 0 passed, 1 a score differs, 2 no CUDA device, 64 bad arguments.
/// </summary>
internal static class Program
{
    private const int Dimension = 128;
    private const int QueryTokens = 32;
    private const int DocumentTokens = 80;
    private const int BatchQueries = 32;
    private const int Candidates = 1000;
    private const int K = 100;

    // Every token is a unit vector, so Σ_k |q_k·d_k| ≤ 1 per query token: |Q| bounds the magnitude of a score and
    // 1e-4·max(|score|, |Q|) bounds the rounding difference between the two summation orders.
    private const double RelativeTolerance = 1e-4;

    private static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"Muvera.GpuCheck: {e.Message}");
            Console.Error.WriteLine(Options.Usage);
            return 64;
        }

        if (options.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        GpuChamferScorer? scorer;
        if (options.CpuAccelerator)
        {
            scorer = GpuChamferScorer.CreateCpuAccelerator(2, 2, 1L << 30);
        }
        else if (!GpuChamferScorer.TryCreate(out scorer))
        {
            Console.Error.WriteLine(
                "Muvera.GpuCheck: no CUDA device found (GpuChamferScorer.IsSupported is false). This check needs an NVIDIA GPU " +
                "with its driver (libcuda.so.1). Run it with --cpu-accelerator for a small smoke run on the CPU.");
            return 2;
        }

        using (scorer)
        {
            return Run(scorer, options);
        }
    }

    private static int Run(GpuChamferScorer scorer, Options options)
    {
        Console.WriteLine($"device: {scorer}");
        var total = Stopwatch.StartNew();
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("schema", 1);
            writer.WriteString("date", DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            writer.WriteString("commit", options.Commit);
            writer.WriteString("device", scorer.DeviceName);
            writer.WriteNumber("deviceMemoryBytes", scorer.DeviceMemorySize);
            writer.WriteBoolean("cpuAccelerator", options.CpuAccelerator);
            writer.WriteNumber("warpSize", scorer.WarpSize);
            writer.WriteNumber("groupSize", scorer.GroupSize);
            writer.WriteString("dotnet", RuntimeInformation.FrameworkDescription);
            writer.WriteString("os", RuntimeInformation.OSDescription);
            writer.WriteNumber("hostCores", Environment.ProcessorCount);

            bool passed = true;
            writer.WriteStartArray("correctness");
            foreach (StoreElementType type in new[] { StoreElementType.Float32, StoreElementType.Float16 })
            {
                passed &= CheckCorrectness(scorer, type, options, writer);
            }

            writer.WriteEndArray();
            writer.WriteBoolean("passed", passed);
            if (passed)
            {
                MeasureThroughput(scorer, options, writer);
            }

            writer.WriteNumber("totalSeconds", total.Elapsed.TotalSeconds);
            writer.WriteEndObject();
            writer.Flush();
            string? folder = Path.GetDirectoryName(Path.GetFullPath(options.Output));
            if (folder is not null)
            {
                Directory.CreateDirectory(folder);
            }

            File.WriteAllBytes(options.Output, json.ToArray());
            Console.WriteLine($"{(passed ? "PASSED" : "FAILED")}: GPU scores {(passed ? "equal" : "differ from")} the CPU scorer's; results in {options.Output} ({total.Elapsed.TotalSeconds:F1} s)");
            return passed ? 0 : 1;
        }
    }

    // GPU against CPU on random documents of 0..100 unit tokens (empty ones included): every score of a brute-force
    // pass for queries of several lengths, and a rerank of random candidate lists with repeats.
    private static bool CheckCorrectness(GpuChamferScorer scorer, StoreElementType type, Options options, Utf8JsonWriter writer)
    {
        var random = new Random(20_261_128 + (int)type);
        int documents = options.CheckDocuments;
        int[] tokens = [.. Enumerable.Range(0, documents).Select(_ => random.Next(0, 101))];
        using MultiVectorStore store = RandomStore(type, tokens, seed: 7 + (int)type);
        int[] queryLengths = [1, 7, 32, 33, 64];
        ReadOnlyMultiVector[] queries = [.. queryLengths.Select((n, i) => RandomQuery(n, seed: 100 + i))];

        var timer = Stopwatch.StartNew();
        ScoredId[][] gpu = scorer.TopKBatch(queries, store, documents);
        double gpuSeconds = timer.Elapsed.TotalSeconds;
        int[][] candidates = [.. queries.Select(_ => Enumerable.Range(0, Math.Min(Candidates, documents)).Select(_ => random.Next(documents)).ToArray())];
        ScoredId[][] gpuRerank = scorer.RerankBatch(queries, store, candidates, K);

        var cpu = new CpuChamferScorer();
        double worst = 0;
        int failures = 0;
        int top10Agreement = 0;
        int rerankIdMismatches = 0;
        for (int q = 0; q < queries.Length; q++)
        {
            ScoredId[] expected = cpu.TopK(queries[q], store, documents);
            var expectedById = new float[documents];
            foreach (ScoredId hit in expected)
            {
                expectedById[hit.Id] = hit.Score;
            }

            foreach (ScoredId hit in gpu[q])
            {
                float want = expectedById[hit.Id];
                if (float.IsNegativeInfinity(want) || float.IsNegativeInfinity(hit.Score))
                {
                    failures += want == hit.Score ? 0 : 1;
                    continue;
                }

                double deviation = Math.Abs(hit.Score - want) / Math.Max(Math.Abs(want), queries[q].Count);
                worst = Math.Max(worst, deviation);
                if (!(deviation <= RelativeTolerance))
                {
                    failures++;
                    if (failures <= 5)
                    {
                        Console.Error.WriteLine($"  {type} |Q|={queries[q].Count} document {hit.Id}: GPU {hit.Score:R}, CPU {want:R}");
                    }
                }
            }

            failures += gpu[q].Length == documents ? 0 : 1;
            top10Agreement += gpu[q].Take(10).Select(h => h.Id).Intersect(expected.Take(10).Select(h => h.Id)).Count();
            ScoredId[] cpuRerank = cpu.Rerank(queries[q], store, candidates[q], K);
            rerankIdMismatches += cpuRerank.Select(h => h.Id).Zip(gpuRerank[q].Select(h => h.Id)).Count(pair => pair.First != pair.Second)
                + Math.Abs(cpuRerank.Length - gpuRerank[q].Length);
            foreach (ScoredId hit in gpuRerank[q])
            {
                float want = expectedById[hit.Id];
                double deviation = want == hit.Score ? 0 : Math.Abs(hit.Score - want) / Math.Max(Math.Abs(want), queries[q].Count);
                failures += deviation <= RelativeTolerance ? 0 : 1;
            }
        }

        bool passed = failures == 0;
        Console.WriteLine($"correctness {type}: {documents} documents × {queries.Length} queries, largest deviation {worst:E2} (tolerance {RelativeTolerance:E0}), " +
            $"top-10 agreement {top10Agreement}/{10 * queries.Length}, rerank rank mismatches {rerankIdMismatches}: {(passed ? "ok" : $"{failures} FAILURES")}");
        writer.WriteStartObject();
        writer.WriteString("elementType", type.ToString());
        writer.WriteNumber("documents", documents);
        writer.WriteNumber("documentTokensMin", 0);
        writer.WriteNumber("documentTokensMax", 100);
        writer.WriteStartArray("queryTokens");
        foreach (int n in queryLengths)
        {
            writer.WriteNumberValue(n);
        }

        writer.WriteEndArray();
        writer.WriteNumber("maxRelativeDeviation", worst);
        writer.WriteNumber("tolerance", RelativeTolerance);
        writer.WriteNumber("failures", failures);
        writer.WriteNumber("top10Agreement", top10Agreement);
        writer.WriteNumber("top10Possible", 10 * queries.Length);
        writer.WriteNumber("rerankRankMismatches", rerankIdMismatches);
        writer.WriteNumber("gpuSecondsIncludingUpload", gpuSeconds);
        writer.WriteBoolean("passed", passed);
        writer.WriteEndObject();
        scorer.Release(store);
        return passed;
    }

    private static void MeasureThroughput(GpuChamferScorer scorer, Options options, Utf8JsonWriter writer)
    {
        int documents = options.Documents;
        Console.WriteLine($"throughput: generating {documents} documents of {DocumentTokens} × {Dimension} (Float16) ...");
        using MultiVectorStore store = RandomStore(StoreElementType.Float16, Enumerable.Repeat(DocumentTokens, documents).ToArray(), seed: 11);
        ReadOnlyMultiVector[] queries = [.. Enumerable.Range(0, BatchQueries).Select(i => RandomQuery(QueryTokens, seed: 1000 + i))];
        var random = new Random(12);
        int candidates = Math.Min(Candidates, documents);
        int[][] candidateIds = [.. queries.Select(_ => RandomDistinct(random, documents, candidates))];

        var timer = Stopwatch.StartNew();
        scorer.Upload(store);
        double uploadSeconds = timer.Elapsed.TotalSeconds;
        long uploadBytes = store.TokenCount * Dimension * 2;

        writer.WriteStartObject("throughput");
        writer.WriteNumber("dimension", Dimension);
        writer.WriteNumber("queryTokens", QueryTokens);
        writer.WriteNumber("documentTokens", DocumentTokens);
        writer.WriteString("elementType", nameof(StoreElementType.Float16));
        writer.WriteNumber("documents", documents);
        writer.WriteNumber("repeats", options.Repeats);
        writer.WriteString("statistic", "median seconds over the repeats, after one warm-up call");
        writer.WriteNumber("uploadSeconds", uploadSeconds);
        writer.WriteNumber("uploadBytes", uploadBytes);
        writer.WriteNumber("deviceBytesHeld", scorer.AllocatedBytes);

        Measure(writer, "bruteForceBatch", $"TopKBatch: {BatchQueries} queries × all documents, k={K}", (long)BatchQueries * documents, options.Repeats,
            () => scorer.TopKBatch(queries, store, K));
        Measure(writer, "bruteForceSingleQuery", $"TopK: 1 query × all documents, k={K}", documents, options.Repeats,
            () => scorer.TopK(queries[0], store, K));
        Measure(writer, "rerankBatch", $"RerankBatch: {BatchQueries} queries × {candidates} candidates, k={K}", (long)BatchQueries * candidates, options.Repeats,
            () => scorer.RerankBatch(queries, store, candidateIds, K));
        Measure(writer, "rerankSingleQuery", $"Rerank: 1 query × {candidates} candidates, k={K}", candidates, options.Repeats,
            () => scorer.Rerank(queries[0], store, candidateIds[0], K));

        var cpu = new CpuChamferScorer();
        writer.WriteStartObject("cpuBaseline");
        writer.WriteNumber("hostCores", Environment.ProcessorCount);
        Measure(writer, "bruteForceSingleQuery", "CpuChamferScorer.TopK: 1 query × all documents", documents, 1,
            () => cpu.TopK(queries[0], store, K));
        Measure(writer, "rerankSingleQuery", $"CpuChamferScorer.Rerank: 1 query × {candidates} candidates", candidates, options.Repeats,
            () => cpu.Rerank(queries[0], store, candidateIds[0], K));
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    // One warm-up call, then the median of the timed calls; "documentsPerSecond" counts (query, document) pairs.
    private static void Measure(Utf8JsonWriter writer, string name, string what, long pairs, int repeats, Action action)
    {
        action();
        double[] seconds = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            seconds[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        Array.Sort(seconds);
        double median = seconds[repeats / 2];
        double rate = pairs / median;
        Console.WriteLine($"  {what}: {median * 1e3:F2} ms, {rate:E3} documents/s");
        writer.WriteStartObject(name);
        writer.WriteString("what", what);
        writer.WriteNumber("pairs", pairs);
        writer.WriteNumber("seconds", median);
        writer.WriteNumber("minSeconds", seconds[0]);
        writer.WriteNumber("documentsPerSecond", rate);
        writer.WriteEndObject();
    }

    // Uniform coordinates in [-1, 1), L2-normalised by the store. Generated in parallel chunks with fixed seeds, added
    // in order, so the data is the same on every run and machine.
    private static MultiVectorStore RandomStore(StoreElementType type, int[] tokenCounts, int seed)
    {
        var store = new MultiVectorStore(Dimension, type, normalize: true);
        const int Chunk = 4096;
        for (int first = 0; first < tokenCounts.Length; first += Chunk)
        {
            int count = Math.Min(Chunk, tokenCounts.Length - first);
            float[][] chunk = new float[count][];
            Parallel.For(0, count, i =>
            {
                var random = new Random(HashCode.Combine(seed, first + i));
                float[] values = new float[tokenCounts[first + i] * Dimension];
                for (int j = 0; j < values.Length; j++)
                {
                    values[j] = (random.NextSingle() * 2) - 1;
                }

                chunk[i] = values;
            });

            foreach (float[] values in chunk)
            {
                store.Add(values);
            }
        }

        return store;
    }

    private static ReadOnlyMultiVector RandomQuery(int tokens, int seed)
    {
        var random = new Random(seed);
        float[] values = new float[tokens * Dimension];
        for (int t = 0; t < tokens; t++)
        {
            Span<float> row = values.AsSpan(t * Dimension, Dimension);
            double norm = 0;
            for (int j = 0; j < Dimension; j++)
            {
                row[j] = (random.NextSingle() * 2) - 1;
                norm += row[j] * row[j];
            }

            float scale = (float)(1 / Math.Sqrt(norm));
            for (int j = 0; j < Dimension; j++)
            {
                row[j] *= scale;
            }
        }

        return new ReadOnlyMultiVector(values, Dimension);
    }

    private static int[] RandomDistinct(Random random, int range, int count)
    {
        var chosen = new HashSet<int>();
        while (chosen.Count < count)
        {
            chosen.Add(random.Next(range));
        }

        return [.. chosen];
    }

    private sealed class Options
    {
        public const string Usage =
            "usage: Muvera.GpuCheck [--out FILE] [--documents N] [--check-documents N] [--repeats N] [--commit SHA] [--cpu-accelerator]\n" +
            "  --out FILE            JSON result file (default gpu-check.json)\n" +
            "  --documents N         throughput store size, 80-token Float16 documents (default 100000)\n" +
            "  --check-documents N   random documents of the GPU == CPU check (default 10000)\n" +
            "  --repeats N           timed calls per measurement, median reported (default 5)\n" +
            "  --commit SHA          recorded in the result file\n" +
            "  --cpu-accelerator     run the kernels on ILGPU's CPU accelerator (no GPU needed; small sizes, for a smoke run)";

        public string Output { get; private set; } = "gpu-check.json";

        public int Documents { get; private set; } = 100_000;

        public int CheckDocuments { get; private set; } = 10_000;

        public int Repeats { get; private set; } = 5;

        public string Commit { get; private set; } = "unknown";

        public bool CpuAccelerator { get; private set; }

        public bool Help { get; private set; }

        public static Options Parse(string[] args)
        {
            var options = new Options();
            bool documentsGiven = false;
            bool checkGiven = false;
            bool repeatsGiven = false;
            for (int i = 0; i < args.Length; i++)
            {
                string arg = args[i];
                switch (arg)
                {
                    case "--out":
                        options.Output = Value(args, ref i);
                        break;
                    case "--documents":
                        options.Documents = Positive(args, ref i);
                        documentsGiven = true;
                        break;
                    case "--check-documents":
                        options.CheckDocuments = Positive(args, ref i);
                        checkGiven = true;
                        break;
                    case "--repeats":
                        options.Repeats = Positive(args, ref i);
                        repeatsGiven = true;
                        break;
                    case "--commit":
                        options.Commit = Value(args, ref i);
                        break;
                    case "--cpu-accelerator":
                        options.CpuAccelerator = true;
                        break;
                    case "--help" or "-h":
                        options.Help = true;
                        break;
                    default:
                        throw new ArgumentException($"unknown argument '{arg}'.");
                }
            }

            // The CPU accelerator simulates every GPU thread with an OS thread: keep its smoke run small.
            if (options.CpuAccelerator)
            {
                options.Documents = documentsGiven ? options.Documents : 4;
                options.CheckDocuments = checkGiven ? options.CheckDocuments : 16;
                options.Repeats = repeatsGiven ? options.Repeats : 1;
            }

            return options;
        }

        private static string Value(string[] args, ref int i) =>
            ++i < args.Length ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value.");

        private static int Positive(string[] args, ref int i)
        {
            string text = Value(args, ref i);
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
                ? value
                : throw new ArgumentException($"{args[i - 1]} needs a positive integer, not '{text}'.");
        }
    }
}
