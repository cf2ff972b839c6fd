// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.Scoring;

namespace Muvera.Cli;

/// <summary>A built index with its build time (learning the FDE partitions included: <paramref name="TrainSeconds"/>,
/// null for SimHash), memory and storage sizes.</summary>
internal sealed record BuiltIndex(MuveraIndex Index, double BuildSeconds, double? TrainSeconds, long MemoryBytes, string MemorySource)
{
    /// <summary>The flat or IVF backend's FDE storage (<c>f32</c>, <c>pq:4,4</c>, …), or null for another backend.</summary>
    public string? FdeStorage => Index.Backend switch
    {
        FlatMipsBackend flat => flat.Storage.ToString(),
        IvfMipsBackend ivf => ivf.Storage.ToString(),
        _ => null,
    };

    /// <summary>Bytes per document's FDE, when the backend reports it.</summary>
    public long? FdeBytesPerDocument => Index.FdeBytesPerDocument;

    /// <summary>Stored token bytes per document (average, rounded; a quantized storage's codebook amortised).</summary>
    public long TokenBytesPerDocument => Index.Count == 0 ? 0 : (long)Math.Round(Index.TokenBytes / (double)Index.Count);

    /// <summary>The token storage's short name (<c>f32</c>, <c>int8</c>, <c>residual:2</c>, …).</summary>
    public string TokenStorage => (Index.Options.TokenStorage ?? Muvera.TokenStorage.FromElementType(Index.Options.TokenElementType)).ToString();

    /// <summary>Stored token bytes per token (codebook amortised).</summary>
    public double TokenBytesPerToken { get; init; }
}

/// <summary>Builds a <see cref="MuveraIndex"/> from a token store, under a progress bar.</summary>
internal static class IndexBuilder
{
    // Documents per AddRange: 4,096 default FDEs are 671 MB of floats while they are encoded.
    private const int AddPiece = 4096;

    /// <summary>Adds documents <c>0..store.Count-1</c> with ids <paramref name="ids"/>. Learned partitions are trained
    /// first, on a sample drawn from the whole corpus (<see cref="MuveraIndex.Train(IReadOnlyList{ReadOnlyMultiVector}, ParallelOptions)"/>),
    /// rather than on the first batches added. Memory is the index's own count (token bytes + FDE bytes) when the
    /// backend reports FDE bytes, else the growth of the process working set during the build (native HNSW/FAISS memory
    /// is not visible otherwise).</summary>
    public static BuiltIndex Build(CliConsole console, string description, MultiVectorStore store, IReadOnlyList<string> ids,
        FdeOptions fde, MipsBackend backend, TokenStorage tokenStorage, ParallelOptions parallelOptions)
    {
        long workingSetBefore = WorkingSet();
        var index = MuveraIndex.Create(new MuveraIndexOptions { Fde = fde, TokenStorage = tokenStorage }, backend);
        try
        {
            var watch = Stopwatch.StartNew();
            ReadOnlyMultiVector[]? corpus = null;
            if (tokenStorage.IsQuantized)
            {
                // Trained on the whole corpus (K sized from all its tokens, ColBERTv2's rule), not on the first batch.
                corpus = Corpus(store);
                console.Line($"training {tokenStorage} token storage on {store.TokenCount} tokens ...");
                index.TrainTokenStorage(corpus, parallelOptions);
                console.Line($"trained in {watch.Elapsed.TotalSeconds:F1} s");
            }

            double? trainSeconds = null;
            if (!index.IsTrained)
            {
                corpus ??= Corpus(store);
                var trainWatch = Stopwatch.StartNew();
                console.Run($"training FDE partitions ({fde.TrainingSample:N0} tokens × {fde.Repetitions} repetitions, {fde.PartitionCount} centroids)", 1, progress =>
                {
                    index.Train(corpus, parallelOptions);
                    progress.Report(1);
                    return 0;
                });
                trainSeconds = trainWatch.Elapsed.TotalSeconds;
            }

            // Pieces of AddPiece documents, each reporting its progress as the index encodes its FDEs: one AddRange holds
            // the FDEs of all its documents in one array, which for 100,000 documents of the default 40,960-float FDEs
            // is more than an array can hold.
            corpus ??= Corpus(store);
            console.Run(description, store.Count, progress =>
            {
                for (int first = 0; first < corpus.Length; first += AddPiece)
                {
                    int count = Math.Min(AddPiece, corpus.Length - first);
                    var pieceIds = new string[count];
                    for (int i = 0; i < count; i++)
                    {
                        pieceIds[i] = ids[first + i];
                    }

                    index.AddRange(pieceIds, new ArraySegment<ReadOnlyMultiVector>(corpus, first, count), parallelOptions,
                        new IndexProgress(progress, first));
                }

                return 0;
            });
            double seconds = watch.Elapsed.TotalSeconds;

            // Search timings use one thread inside a query; the all-threads figure runs queries in parallel.
            index.Scorer = new CpuChamferScorer(new ParallelOptions { MaxDegreeOfParallelism = 1 });
            if (index.FdeBytes is long fdeBytes)
            {
                return new BuiltIndex(index, seconds, trainSeconds, index.TokenBytes + fdeBytes, "tokens + FDEs") { TokenBytesPerToken = PerToken(index, store) };
            }

            long delta = Math.Max(0, WorkingSet() - workingSetBefore);
            return new BuiltIndex(index, seconds, trainSeconds, delta, "working-set growth") { TokenBytesPerToken = PerToken(index, store) };
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    private static ReadOnlyMultiVector[] Corpus(MultiVectorStore store)
    {
        var corpus = new ReadOnlyMultiVector[store.Count];
        for (int i = 0; i < corpus.Length; i++)
        {
            corpus[i] = store.GetDocument(i);
        }

        return corpus;
    }

    private static double PerToken(MuveraIndex index, MultiVectorStore store) => store.TokenCount == 0 ? 0 : index.TokenBytes / (double)store.TokenCount;

    /// <summary>The process working set after a full collection.</summary>
    internal static long WorkingSet()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}
