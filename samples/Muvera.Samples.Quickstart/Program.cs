// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Muvera.Samples.Quickstart;

/// <summary>
/// MUVERA end to end on a synthetic ColBERT-like corpus with <see cref="MuveraIndex"/>: add documents (their FDEs go
/// into the exact flat index, their tokens into the store), search (FDE candidates reranked with exact Chamfer), compare
/// with exact Chamfer over the whole corpus, calibrate the candidate count for a target recall, save and load.
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

        // 1. An index with the recommended FDEs (partitions learned from the corpus) and the default flat MIPS backend
        //    (product-quantized FDEs).
        FdeOptions fde = FdeOptions.CreateRecommended(Dimension);
        using MuveraIndex index = MuveraIndex.Create(new MuveraIndexOptions { Fde = fde });

        // 2. Add every document. The index learns its FDE partitions in this call (it holds at least 1,024 documents),
        //    then encodes the FDEs in parallel on all cores.
        string[] ids = Enumerable.Range(0, DocumentCount).Select(i => $"doc-{i}").ToArray();
        var stopwatch = Stopwatch.StartNew();
        index.AddRange(ids, corpus.Documents);
        double addSeconds = stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine($"encoder  {fde.Partitioning} partitions (trained: {index.IsTrained}), R = {fde.Repetitions}, 2^{fde.SimHashProjections} partitions, " +
            $"{fde.Projection} d_proj = {fde.ProjectionDimension} -> FDE dimension {index.Encoder.OutputDimension:N0}; backend {index.Backend}");
        Console.WriteLine($"add      {DocumentCount:N0} documents in {addSeconds * 1000:F0} ms = {DocumentCount / addSeconds:N0} docs/s (training included); " +
            $"FDEs {index.FdeBytes / (1 << 20):N1} MiB, tokens {index.TokenBytes / (1 << 20):N1} MiB");

        // Warm up the JIT (tiered compilation) so that the timed queries run optimized code.
        var options = new MuveraSearchOptions { Candidates = CandidateCount };
        for (int i = 0; i < 5; i++)
        {
            index.Search(corpus.Queries[i], TopK, options);
            index.SearchExact(corpus.Queries[i], TopK);
        }

        Console.WriteLine();
        Console.WriteLine("query  target  muvera-rank  exact-rank  recall@10  muvera-ms  exact-ms");
        double recallSum = 0, muveraMs = 0, exactMs = 0;
        int muveraFound = 0, exactFound = 0;
        for (int q = 0; q < QueryCount; q++)
        {
            // 3. MUVERA: FDE top-100 candidates, exact Chamfer rerank to the top 10.
            stopwatch.Restart();
            MuveraSearchHit[] muvera = index.Search(corpus.Queries[q], TopK, options);
            double oneMuvera = stopwatch.Elapsed.TotalMilliseconds;

            // 4. The ground truth: exact Chamfer against every document.
            stopwatch.Restart();
            MuveraSearchHit[] exact = index.SearchExact(corpus.Queries[q], TopK);
            double oneExact = stopwatch.Elapsed.TotalMilliseconds;

            double recall = muvera.Select(hit => hit.Id).Intersect(exact.Select(hit => hit.Id)).Count() / (double)TopK;
            string target = ids[corpus.QueryTargets[q]];
            int muveraRank = Array.FindIndex(muvera, hit => hit.Id == target) + 1;
            int exactRank = Array.FindIndex(exact, hit => hit.Id == target) + 1;
            recallSum += recall;
            muveraMs += oneMuvera;
            exactMs += oneExact;
            muveraFound += muveraRank > 0 ? 1 : 0;
            exactFound += exactRank > 0 ? 1 : 0;
            Console.WriteLine($"{q,5}  {target,6}  {Rank(muveraRank),11}  {Rank(exactRank),10}  {recall,9:F2}  {oneMuvera,9:F2}  {oneExact,8:F1}");
        }

        Console.WriteLine();
        Console.WriteLine($"recall@{TopK}        {recallSum / QueryCount:F3} (MUVERA top-{CandidateCount} FDE candidates + Chamfer rerank vs exact Chamfer top-{TopK})");
        Console.WriteLine($"planted target   in the top {TopK}: MUVERA {muveraFound}/{QueryCount}, exact Chamfer {exactFound}/{QueryCount}");
        Console.WriteLine($"latency (mean)   MUVERA {muveraMs / QueryCount:F2} ms/query, exact brute force {exactMs / QueryCount:F1} ms/query " +
            $"({exactMs / muveraMs:F0}x), all cores");

        // 5. Calibrate N for 95% recall of the exact top-10 on half the queries; searches then use it by default.
        MuveraCalibration calibration = index.Calibrate(corpus.Queries.Take(QueryCount / 2).ToArray(), TopK, 0.95);
        Console.WriteLine($"calibrate        N = {calibration.Candidates} reaches recall {calibration.AchievedRecall:F3} of the exact top-{TopK} " +
            $"(curve {string.Join(", ", calibration.Curve.Select(p => $"{p.Candidates}: {p.Recall:F2}"))})");

        // 6. Save (crash-safe, versioned directory) and load (verified, token store memory-mapped).
        string directory = Path.Combine(Path.GetTempPath(), "muvera-quickstart-" + Environment.ProcessId);
        try
        {
            index.Save(directory);
            using MuveraIndex loaded = MuveraIndex.Load(directory);
            bool same = corpus.Queries.All(query => loaded.Search(query, TopK).SequenceEqual(index.Search(query, TopK)));
            Console.WriteLine($"save/load        {loaded.Count:N0} documents, calibration N = {loaded.Calibration?.Candidates}, identical results: {same}");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Rank(int rank) => rank > 0 ? rank.ToString(CultureInfo.InvariantCulture) : "-";
}
