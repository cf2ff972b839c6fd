// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;

namespace Muvera.Samples.Quickstart;

/// <summary>
/// MUVERA end to end on a synthetic ColBERT-like corpus: encode every document into one fixed dimensional encoding
/// (FDE), find candidates by FDE inner product, rerank them with exact Chamfer, and compare with exact Chamfer over
/// the whole corpus.
/// </summary>
internal static class Program
{
    private const int Dimension = 128;
    private const int DocumentCount = 2_000;
    private const int MinDocumentTokens = 40;
    private const int MaxDocumentTokens = 120;
    private const int TopicCount = 50;
    private const int QueryCount = 20;
    private const int QueryTokens = 32;
    private const int CandidateCount = 100;
    private const int TopK = 10;
    private const ulong CorpusSeed = 20_240_527;

    public static void Main()
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        Console.WriteLine("Muvera quickstart: MUVERA (FDE candidates + Chamfer rerank) vs exact Chamfer, synthetic corpus");

        SyntheticCorpus corpus = SyntheticCorpus.Generate(Dimension, DocumentCount, MinDocumentTokens, MaxDocumentTokens,
            TopicCount, QueryCount, QueryTokens, CorpusSeed);
        Console.WriteLine($"corpus   {DocumentCount:N0} documents, {corpus.DocumentTokenCount:N0} tokens ({MinDocumentTokens}-{MaxDocumentTokens} per document), " +
            $"d = {Dimension}, {TopicCount} topics; {QueryCount} queries x {QueryTokens} tokens");

        // 1. One encoder (immutable, thread-safe) serves documents and queries alike.
        var stopwatch = Stopwatch.StartNew();
        FdeOptions options = FdeOptions.CreateRecommended(Dimension);
        var encoder = new FdeEncoder(options);
        double buildMs = stopwatch.Elapsed.TotalMilliseconds;
        Console.WriteLine($"encoder  R = {options.Repetitions}, k = {options.SimHashProjections}, {options.Projection} d_proj = {options.ProjectionDimension}, " +
            $"fill = {options.FillEmptyPartitions} -> FDE dimension {encoder.OutputDimension:N0} (matrices drawn in {buildMs:F1} ms)");

        // 2. Encode every document (parallel on all cores) into one contiguous row-major matrix.
        stopwatch.Restart();
        float[] documentFdes = encoder.EncodeDocuments(corpus.Documents);
        double encodeSeconds = stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine($"encode   {DocumentCount:N0} documents in {encodeSeconds * 1000:F0} ms = {DocumentCount / encodeSeconds:N0} docs/s " +
            $"on {Environment.ProcessorCount} cores");

        // 3. Index the FDEs exactly.
        var index = new ExactFlatFdeIndex(documentFdes, encoder.OutputDimension);
        Console.WriteLine($"index    exact flat FDE index, {index.Count:N0} x {index.Dimension:N0} floats ({documentFdes.Length * 4.0 / (1 << 20):F1} MiB)");

        // Warm up the JIT (tiered compilation) so that the timed queries run optimized code.
        for (int i = 0; i < 5; i++)
        {
            Search(encoder, index, corpus, corpus.Queries[i % QueryCount], out _);
            ExactChamfer.BruteForce(corpus.Queries[i % QueryCount], corpus.Documents.Take(100).ToArray(), TopK);
        }

        Console.WriteLine();
        Console.WriteLine("query  target  fde-rank  muvera-rank  exact-rank  recall@10  muvera-ms  exact-ms");
        double recallSum = 0;
        int muveraFound = 0;
        int exactFound = 0;
        var muveraTimes = new StageTimes();
        double exactMsSum = 0;
        for (int q = 0; q < QueryCount; q++)
        {
            // 4. MUVERA: FDE top-100 candidates, exact Chamfer rerank to the top 10.
            ScoredDocument[] muvera = Search(encoder, index, corpus, corpus.Queries[q], out StageTimes times);
            muveraTimes.Add(times);

            // 5. The ground truth: exact Chamfer against every document.
            stopwatch.Restart();
            ScoredDocument[] exact = ExactChamfer.BruteForce(corpus.Queries[q], corpus.Documents, TopK);
            double exactMs = stopwatch.Elapsed.TotalMilliseconds;
            exactMsSum += exactMs;

            double recall = muvera.Select(hit => hit.Id).Intersect(exact.Select(hit => hit.Id)).Count() / (double)TopK;
            recallSum += recall;
            int target = corpus.QueryTargets[q];
            int muveraRank = RankOf(muvera, target);
            int exactRank = RankOf(exact, target);
            muveraFound += muveraRank > 0 ? 1 : 0;
            exactFound += exactRank > 0 ? 1 : 0;
            Console.WriteLine($"{q,5}  {target,6}  {Rank(RankOf(times.Candidates, target)),8}  {Rank(muveraRank),11}  {Rank(exactRank),10}  " +
                $"{recall,9:F2}  {times.TotalMs,9:F2}  {exactMs,8:F1}");
        }

        double muveraMs = muveraTimes.TotalMs / QueryCount;
        double bruteMs = exactMsSum / QueryCount;
        Console.WriteLine();
        Console.WriteLine($"recall@{TopK}        {recallSum / QueryCount:F3} (MUVERA top-{CandidateCount} FDE candidates + Chamfer rerank vs exact Chamfer top-{TopK})");
        Console.WriteLine($"planted target   in the top {TopK}: MUVERA {muveraFound}/{QueryCount}, exact Chamfer {exactFound}/{QueryCount}");
        Console.WriteLine($"latency (mean)   MUVERA {muveraMs:F2} ms/query (encode {muveraTimes.EncodeMs / QueryCount:F2} + FDE scan {muveraTimes.ScanMs / QueryCount:F2} " +
            $"+ rerank {muveraTimes.RerankMs / QueryCount:F2}), exact brute force {bruteMs:F1} ms/query ({bruteMs / muveraMs:F0}x), one thread");
    }

    private static ScoredDocument[] Search(FdeEncoder encoder, ExactFlatFdeIndex index, SyntheticCorpus corpus, ReadOnlyMultiVector query,
        out StageTimes times)
    {
        times = new StageTimes();
        long start = Stopwatch.GetTimestamp();
        float[] queryFde = encoder.EncodeQuery(query);
        long encoded = Stopwatch.GetTimestamp();
        ScoredDocument[] candidates = index.Search(queryFde, CandidateCount);
        long scanned = Stopwatch.GetTimestamp();
        ScoredDocument[] top = ExactChamfer.Rerank(query, corpus.Documents, candidates, TopK);
        long reranked = Stopwatch.GetTimestamp();

        times.EncodeMs = Stopwatch.GetElapsedTime(start, encoded).TotalMilliseconds;
        times.ScanMs = Stopwatch.GetElapsedTime(encoded, scanned).TotalMilliseconds;
        times.RerankMs = Stopwatch.GetElapsedTime(scanned, reranked).TotalMilliseconds;
        times.Candidates = candidates;
        return top;
    }

    // 1-based rank of a document in a result list, 0 when absent.
    private static int RankOf(ScoredDocument[] results, int id) => Array.FindIndex(results, hit => hit.Id == id) + 1;

    private static string Rank(int rank) => rank > 0 ? rank.ToString(CultureInfo.InvariantCulture) : "-";

    private sealed class StageTimes
    {
        public double EncodeMs { get; set; }

        public double ScanMs { get; set; }

        public double RerankMs { get; set; }

        public double TotalMs => EncodeMs + ScanMs + RerankMs;

        public ScoredDocument[] Candidates { get; set; } = [];

        public void Add(StageTimes other)
        {
            EncodeMs += other.EncodeMs;
            ScanMs += other.ScanMs;
            RerankMs += other.RerankMs;
        }
    }
}
