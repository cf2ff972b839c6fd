// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.Scoring;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Pipeline;

/// <summary>The MUVERA pipeline on small corpora: search against brute-force references, deletes, updates,
/// compaction, options, ball carving, calibration and bad input.</summary>
[TestFixture]
public sealed class MuveraIndexTests
{
    internal const int Dimension = 16;

    internal static FdeOptions SmallFde => new()
    {
        Dimension = Dimension,
        Repetitions = 6,
        SimHashProjections = 3,
        Projection = FdeProjection.Ams,
        ProjectionDimension = 8,
        FillEmptyPartitions = true,
        Seed = 7,
    };

    internal static MuveraIndex BuildSmall(out SyntheticCorpus corpus, int documents = 300, MipsBackend? backend = null,
        StoreElementType tokens = StoreElementType.Float32, bool normalize = false, TokenStorage? tokenStorage = null)
    {
        corpus = SyntheticCorpus.Create(documents, 12, seed: 11, dimension: Dimension, tokens: 10, queryTokens: 6, topics: 40);
        var options = new MuveraIndexOptions { Fde = SmallFde, TokenElementType = tokens, NormalizeTokens = normalize, TokenStorage = tokenStorage };
        MuveraIndex index = MuveraIndex.Create(options, backend ?? new FlatMipsBackend(FdeStorage.Float32));
        index.AddRange(corpus.Ids, corpus.Documents);
        return index;
    }

    // Brute force in double precision over the given documents: (id, score) best first, ties to the lower position.
    internal static List<(string Id, double Score)> ReferenceTopK(ReadOnlyMultiVector query, IReadOnlyList<string> ids,
        IReadOnlyList<ReadOnlyMultiVector> documents, int k, ISet<string>? excluded = null)
    {
        return Enumerable.Range(0, ids.Count)
            .Where(i => excluded is null || !excluded.Contains(ids[i]))
            .Select(i => (Id: ids[i], Score: TestVectors.Chamfer(query.Span, documents[i].Span, query.Dimension), Position: i))
            .OrderByDescending(x => x.Score).ThenBy(x => x.Position)
            .Take(k).Select(x => (x.Id, x.Score)).ToList();
    }

    [Test]
    public void Search_WithEveryDocumentAsCandidate_EqualsDoublePrecisionBruteForce()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus);
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            MuveraSearchHit[] hits = index.Search(query, 10, new MuveraSearchOptions { Candidates = corpus.Ids.Length });
            List<(string Id, double Score)> expected = ReferenceTopK(query, corpus.Ids, corpus.Documents, 10);
            Assert.That(hits.Select(h => h.Id), Is.EqualTo(expected.Select(e => e.Id)));
            for (int i = 0; i < hits.Length; i++)
            {
                Assert.That(hits[i].Score, Is.EqualTo(expected[i].Score).Within(1e-4 * Math.Abs(expected[i].Score)));
            }
        }
    }

    [Test]
    public void SearchExact_EqualsDoublePrecisionBruteForce_AndHasNoFdeScore()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus);
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            MuveraSearchHit[] hits = index.SearchExact(query, 7);
            Assert.That(hits.Select(h => h.Id), Is.EqualTo(ReferenceTopK(query, corpus.Ids, corpus.Documents, 7).Select(e => e.Id)));
            Assert.That(hits.All(h => float.IsNaN(h.FdeScore)), Is.True);
        }
    }

    [Test]
    public void Search_FdeScores_AreTheInnerProductsOfTheEncodings()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus);
        var encoder = new FdeEncoder(SmallFde);
        ReadOnlyMultiVector query = corpus.Queries[0];
        float[] fde = encoder.EncodeQuery(query);
        var byId = corpus.Ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);

        MuveraSearchHit[] fdeOnly = index.Search(query, 20, new MuveraSearchOptions { Rerank = false, Candidates = 20 });
        MuveraSearchHit[] reranked = index.Search(query, 20, new MuveraSearchOptions { Candidates = 50 });
        Assert.That(fdeOnly, Has.Length.EqualTo(20));
        foreach (MuveraSearchHit hit in fdeOnly.Concat(reranked))
        {
            double dot = TestVectors.Dot(fde, encoder.EncodeDocument(corpus.Documents[byId[hit.Id]]));
            Assert.That(hit.FdeScore, Is.EqualTo(dot).Within(1e-4 * Math.Max(1, Math.Abs(dot))), hit.Id);
        }

        // FDE-only hits are ranked by FDE score and carry it as their score.
        Assert.That(fdeOnly.Select(h => h.Score), Is.EqualTo(fdeOnly.Select(h => h.FdeScore)));
        Assert.That(fdeOnly.Select(h => h.Score), Is.Ordered.Descending);

        // The brute-force FDE ranking's top 20 is the FDE-only result (the flat backend is exact).
        string[] expected = corpus.Ids.OrderByDescending(id => TestVectors.Dot(fde, encoder.EncodeDocument(corpus.Documents[byId[id]])))
            .Take(20).ToArray();
        Assert.That(fdeOnly.Select(h => h.Id), Is.EqualTo(expected));
    }

    [Test]
    public void Delete_RemovesFromEverySearch_AndUpdateReplacesTheDocument()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus);
        ReadOnlyMultiVector query = corpus.Queries[3];
        string[] top = index.Search(query, 5, new MuveraSearchOptions { Candidates = 300 }).Select(h => h.Id).ToArray();

        Assert.That(index.Delete(top[0]), Is.True);
        Assert.That(index.Delete(top[0]), Is.False, "second delete");
        Assert.That(index.Delete("no-such-id"), Is.False);
        Assert.That(index.Contains(top[0]), Is.False);
        Assert.That(index.Count, Is.EqualTo(299));
        Assert.That(index.DeletedCount, Is.EqualTo(1));
        Assert.That(index.GetIds(), Has.Length.EqualTo(299).And.Not.Contains(top[0]));
        var deleted = new HashSet<string> { top[0] };
        foreach (MuveraSearchOptions options in new[] { new MuveraSearchOptions { Candidates = 300 }, new MuveraSearchOptions { Rerank = false, Candidates = 300 } })
        {
            Assert.That(index.Search(query, 300, options).Select(h => h.Id), Does.Not.Contain(top[0]));
        }

        Assert.That(index.SearchExact(query, 5).Select(h => h.Id), Is.EqualTo(ReferenceTopK(query, corpus.Ids, corpus.Documents, 5, deleted).Select(e => e.Id)));

        // Update: the query itself as the new body of top[1] makes it the best match.
        index.Update(top[1], query);
        Assert.That(index.GetDocument(top[1]).Span.ToArray(), Is.EqualTo(query.Span.ToArray()));
        Assert.That(index.Search(query, 1, new MuveraSearchOptions { Candidates = 300 })[0].Id, Is.EqualTo(top[1]));
        Assert.That(index.Count, Is.EqualTo(299));
        Assert.That(index.DeletedCount, Is.EqualTo(2), "an update leaves the old version deleted until compaction");
        Assert.Throws<KeyNotFoundException>(() => index.Update(top[0], query));
        Assert.Throws<KeyNotFoundException>(() => index.GetDocument(top[0]));
    }

    [Test]
    public void Compact_KeepsIdsAndResults_AndDropsDeletedDocuments([Values(StoreElementType.Float32, StoreElementType.Float16)] StoreElementType tokens, [Values] bool normalize)
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus, tokens: tokens, normalize: normalize);
        for (int i = 0; i < 300; i += 3)
        {
            index.Delete(corpus.Ids[i]);
        }

        var options = new MuveraSearchOptions { Candidates = 40 };
        MuveraSearchHit[][] before = corpus.Queries.Select(q => index.Search(q, 10, options)).ToArray();
        MuveraSearchHit[][] fdeBefore = corpus.Queries.Select(q => index.Search(q, 10, options with { Rerank = false })).ToArray();
        index.Compact();
        Assert.That(index.DeletedCount, Is.Zero);
        Assert.That(index.Count, Is.EqualTo(200));
        Assert.That(index.FdeBytes, Is.EqualTo(200L * index.Encoder.OutputDimension * sizeof(float)));
        for (int q = 0; q < corpus.Queries.Length; q++)
        {
            // FDEs are re-encoded from the stored tokens, which is what they were encoded from: bit-identical.
            Assert.That(index.Search(corpus.Queries[q], 10, options), Is.EqualTo(before[q]), $"query {q}");
            Assert.That(index.Search(corpus.Queries[q], 10, options with { Rerank = false }), Is.EqualTo(fdeBefore[q]), $"query {q}, FDE only");
        }
    }

    [Test]
    public void StoredTokens_AreNormalisedAndRounded_AndScoresUseTheStoredValues()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus, tokens: StoreElementType.Float16, normalize: true);
        float[] raw = corpus.Documents[5].Span.ToArray();
        for (int t = 0; t < raw.Length / Dimension; t++)
        {
            Span<float> row = raw.AsSpan(t * Dimension, Dimension);
            double norm = Math.Sqrt(row.ToArray().Sum(v => (double)v * v));
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = (float)(Half)(float)(row[i] / norm);
            }
        }

        Assert.That(index.GetDocument(corpus.Ids[5]).Span.ToArray(), Is.EqualTo(raw));
        Assert.That(index.TokenBytes, Is.EqualTo(300L * 10 * Dimension * 2));
        MuveraSearchHit hit = index.Search(corpus.Queries[0], 300, new MuveraSearchOptions { Candidates = 300 }).Single(h => h.Id == corpus.Ids[5]);
        double expected = TestVectors.Chamfer(corpus.Queries[0].Span, raw, Dimension);
        Assert.That(hit.Score, Is.EqualTo(expected).Within(1e-4 * Math.Abs(expected)));
    }

    [Test]
    public void BallCarving_MatchesAGreedyReference_AndNeverRaisesChamfer()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 50; trial++)
        {
            int n = random.Next(1, 30);
            var query = new ReadOnlyMultiVector(TestVectors.UnitTokens(random, n, 8), 8);
            float tau = (float)(random.NextDouble() * 1.2) - 0.2f;
            ReadOnlyMultiVector reduced = QueryReduction.BallCarve(query, tau);

            // Reference: the same greedy rule in double precision.
            var assigned = new int[n];
            Array.Fill(assigned, -1);
            var sums = new List<double[]>();
            for (int i = 0; i < n; i++)
            {
                if (assigned[i] >= 0)
                {
                    continue;
                }

                assigned[i] = sums.Count;
                double[] sum = query[i].ToArray().Select(v => (double)v).ToArray();
                for (int j = i + 1; j < n; j++)
                {
                    if (assigned[j] < 0 && TestVectors.Dot(query[i], query[j]) >= tau)
                    {
                        assigned[j] = sums.Count;
                        for (int c = 0; c < 8; c++)
                        {
                            sum[c] += query[j][c];
                        }
                    }
                }

                sums.Add(sum);
            }

            Assert.That(reduced.Count, Is.EqualTo(sums.Count), $"trial {trial}: cluster count at tau {tau}");
            for (int c = 0; c < sums.Count; c++)
            {
                Assert.That(reduced[c].ToArray(), Is.EqualTo(sums[c].Select(v => (float)v)).Within(1e-5), $"trial {trial}, cluster {c}");
            }

            var document = new ReadOnlyMultiVector(TestVectors.UnitTokens(random, 12, 8), 8);
            Assert.That(TestVectors.Chamfer(reduced.Span, document.Span, 8), Is.LessThanOrEqualTo(TestVectors.Chamfer(query.Span, document.Span, 8) + 1e-5));
        }
    }

    [Test]
    public void BallCarving_SearchScoresAreChamferOfTheReducedQuery()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus);
        var options = new MuveraSearchOptions { Candidates = 300, BallCarving = true, BallCarvingThreshold = 0.5f };
        var byId = corpus.Ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);
        foreach (ReadOnlyMultiVector query in corpus.Queries.Take(4))
        {
            ReadOnlyMultiVector reduced = QueryReduction.BallCarve(query, 0.5f);
            Assert.That(reduced.Count, Is.LessThan(query.Count), "the synthetic queries repeat topics, so tokens cluster");
            MuveraSearchHit[] hits = index.Search(query, 5, options);
            Assert.That(hits.Select(h => h.Id), Is.EqualTo(ReferenceTopK(reduced, corpus.Ids, corpus.Documents, 5).Select(e => e.Id)));
            foreach (MuveraSearchHit hit in hits)
            {
                double expected = TestVectors.Chamfer(reduced.Span, corpus.Documents[byId[hit.Id]].Span, Dimension);
                Assert.That(hit.Score, Is.EqualTo(expected).Within(1e-4 * Math.Abs(expected)));
            }
        }
    }

    [Test]
    public void Calibrate_FindsTheSmallestCandidateCountThatReachesTheTarget()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus, documents: 600);
        const int k = 10;
        MuveraCalibration calibration = index.Calibrate(corpus.Queries, k, 0.9);
        TestContext.Out.WriteLine($"calibrated N = {calibration.Candidates}, recall {calibration.AchievedRecall:F3}; curve: " +
            string.Join(", ", calibration.Curve.Select(p => $"{p.Candidates}:{p.Recall:F3}")));

        double RecallAt(int n) => corpus.Queries.Average(q =>
        {
            var exact = index.SearchExact(q, k).Select(h => h.Id).ToHashSet();
            return index.Search(q, k, new MuveraSearchOptions { Candidates = n }).Count(h => exact.Contains(h.Id)) / (double)exact.Count;
        });

        Assert.Multiple(() =>
        {
            Assert.That(calibration.TargetReached, Is.True);
            Assert.That(calibration.K, Is.EqualTo(k));
            Assert.That(calibration.SampleQueries, Is.EqualTo(corpus.Queries.Length));
            Assert.That(calibration.Documents, Is.EqualTo(600));
            Assert.That(index.Calibration, Is.SameAs(calibration));
            Assert.That(RecallAt(calibration.Candidates), Is.EqualTo(calibration.AchievedRecall).Within(1e-9), "recall at N, measured by searching");
            Assert.That(calibration.AchievedRecall, Is.GreaterThanOrEqualTo(0.9 - 1e-9));
            if (calibration.Candidates > k)
            {
                Assert.That(RecallAt(calibration.Candidates - 1), Is.LessThan(0.9 - 1e-9), "N is the smallest count that reaches the target");
            }

            Assert.That(calibration.Curve.Select(p => p.Candidates), Is.Ordered.Ascending.And.Contains(calibration.Candidates));
            Assert.That(calibration.Curve.Select(p => p.Recall), Is.Ordered.Ascending);

            // Searches without an explicit candidate count use the calibrated one.
            foreach (ReadOnlyMultiVector query in corpus.Queries)
            {
                Assert.That(index.Search(query, k), Is.EqualTo(index.Search(query, k, new MuveraSearchOptions { Candidates = calibration.Candidates })));
            }
        });

        MuveraCalibration perfect = index.Calibrate(corpus.Queries, k, 1.0);
        Assert.That(RecallAt(perfect.Candidates), Is.EqualTo(1.0).Within(1e-9));
        index.ClearCalibration();
        Assert.That(index.Calibration, Is.Null);
    }

    [Test]
    public void FlatBackend_WithOneSearchThread_GivesTheSameResults()
    {
        using MuveraIndex parallel = BuildSmall(out SyntheticCorpus corpus);
        using MuveraIndex serial = BuildSmall(out _, backend: new FlatMipsBackend { SearchParallelOptions = new ParallelOptions { MaxDegreeOfParallelism = 1 } });
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            var options = new MuveraSearchOptions { Candidates = 30 };
            Assert.That(serial.Search(query, 10, options), Is.EqualTo(parallel.Search(query, 10, options)));
            Assert.That(serial.Search(query, 10, options with { Rerank = false }), Is.EqualTo(parallel.Search(query, 10, options with { Rerank = false })));
        }
    }

    [Test]
    public void Scorer_CanBeReplaced_AndIsUsedForReranking()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus);
        var counting = new CountingScorer();
        index.Scorer = counting;
        index.Search(corpus.Queries[0], 5);
        index.SearchExact(corpus.Queries[0], 5);
        Assert.That((counting.Reranks, counting.TopKs), Is.EqualTo((1, 1)));
        Assert.Throws<ArgumentNullException>(() => index.Scorer = null!);
    }

    [Test]
    public void AddRange_WithProgress_ReportsEachStepOnTheCallersThreadAndEndsAtTotal()
    {
        SyntheticCorpus corpus = SyntheticCorpus.Create(600, 4, seed: 23, dimension: Dimension, tokens: 10, queryTokens: 6, topics: 40);
        using MuveraIndex index = MuveraIndex.Create(new MuveraIndexOptions { Fde = SmallFde }, new FlatMipsBackend(FdeStorage.Float32));
        using MuveraIndex reference = MuveraIndex.Create(new MuveraIndexOptions { Fde = SmallFde }, new FlatMipsBackend(FdeStorage.Float32));
        var reports = new List<(MuveraProgress Progress, int Thread, int Count)>();
        int caller = Environment.CurrentManagedThreadId;
        index.AddRange(corpus.Ids, corpus.Documents, new ParallelOptions { MaxDegreeOfParallelism = 2 },
            new SynchronousProgress<MuveraProgress>(p => reports.Add((p, Environment.CurrentManagedThreadId, index.Count))));
        reference.AddRange(corpus.Ids, corpus.Documents);

        Assert.Multiple(() =>
        {
            Assert.That(reports.Select(r => r.Progress), Is.EqualTo(new[]
            {
                new MuveraProgress(MuveraProgressStage.AddingDocuments, 256, 600),
                new MuveraProgress(MuveraProgressStage.AddingDocuments, 512, 600),
                new MuveraProgress(MuveraProgressStage.AddingDocuments, 600, 600),
            }));
            Assert.That(reports.Select(r => r.Thread), Is.All.EqualTo(caller));
            Assert.That(reports.Select(r => r.Count), Is.EqualTo(new[] { 0, 0, 600 }), "documents appear at once, before the last report");
            foreach (ReadOnlyMultiVector query in corpus.Queries)
            {
                var options = new MuveraSearchOptions { Candidates = 20, Rerank = false };
                Assert.That(index.Search(query, 10, options), Is.EqualTo(reference.Search(query, 10, options)), "FDEs encoded in steps equal one call's");
            }
        });
    }

    [Test]
    public void AddRange_WithProgress_SmallOrEmptyBatchReportsOnlyTheEnd()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus, documents: 20);
        var reports = new List<MuveraProgress>();
        var good = new ReadOnlyMultiVector(TestVectors.UnitTokens(new Random(3), 4, Dimension), Dimension);
        index.AddRange(["one", "two"], [good, good], new ParallelOptions(), new SynchronousProgress<MuveraProgress>(reports.Add));
        index.AddRange([], [], new ParallelOptions(), new SynchronousProgress<MuveraProgress>(reports.Add));
        Assert.That(reports, Is.EqualTo(new[]
        {
            new MuveraProgress(MuveraProgressStage.AddingDocuments, 2, 2),
            new MuveraProgress(MuveraProgressStage.AddingDocuments, 0, 0),
        }));
        Assert.That(index.Count, Is.EqualTo(22));
    }

    [Test]
    public void AddRange_CancelledFromProgress_LeavesTheIndexUnchangedAndNeverReportsTheEnd()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus existing, documents: 50);
        SyntheticCorpus corpus = SyntheticCorpus.Create(600, 4, seed: 29, dimension: Dimension, tokens: 10, queryTokens: 6, topics: 40);
        string[] ids = [.. corpus.Ids.Select(id => "new-" + id)];
        using var cancellation = new CancellationTokenSource();
        var reports = new List<MuveraProgress>();
        var progress = new SynchronousProgress<MuveraProgress>(p =>
        {
            reports.Add(p);
            cancellation.Cancel();
        });
        Assert.Catch<OperationCanceledException>(() => index.AddRange(ids, corpus.Documents, new ParallelOptions { CancellationToken = cancellation.Token }, progress));
        Assert.Multiple(() =>
        {
            Assert.That(reports, Is.EqualTo(new[] { new MuveraProgress(MuveraProgressStage.AddingDocuments, 256, 600) }));
            Assert.That(index.Count, Is.EqualTo(50));
            Assert.That(index.Contains(ids[0]), Is.False);
        });

        // Still writable afterwards.
        index.AddRange(ids, corpus.Documents, new ParallelOptions(), null);
        Assert.That(index.Count, Is.EqualTo(650));
    }

    [Test]
    public void Calibrate_WithProgress_ReportsEveryQueryInOrderAndEndsAtTotal()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus, documents: 200);
        var reports = new List<MuveraProgress>();
        bool storedAtLastReport = false;
        MuveraCalibration calibration = index.Calibrate(corpus.Queries, 5, 0.9, new SynchronousProgress<MuveraProgress>(p =>
        {
            reports.Add(p);
            storedAtLastReport = index.Calibration is not null;
        }));
        int n = corpus.Queries.Length;
        Assert.That(reports, Is.EqualTo(Enumerable.Range(1, n).Select(q => new MuveraProgress(MuveraProgressStage.Calibrating, q, n))));
        Assert.That(storedAtLastReport, Is.True, "the last report comes after the calibration is stored");
        Assert.That(index.Calibration, Is.SameAs(calibration));
        Assert.That(index.Calibrate(corpus.Queries, 5, 0.9).Candidates, Is.EqualTo(calibration.Candidates), "progress changes nothing");
    }

    [Test]
    public void AddRange_IsAllOrNothing()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus, documents: 50);
        var good = new ReadOnlyMultiVector(TestVectors.UnitTokens(new Random(1), 3, Dimension), Dimension);
        Assert.Throws<ArgumentException>(() => index.AddRange(["new-1", corpus.Ids[0]], [good, good]));
        Assert.That(index.Contains("new-1"), Is.False);
        Assert.That(index.Count, Is.EqualTo(50));

        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.Catch<OperationCanceledException>(() => index.AddRange(["new-2"], [good], new ParallelOptions { CancellationToken = cancellation.Token }));
        Assert.That(index.Contains("new-2"), Is.False);

        var huge = new ReadOnlyMultiVector(Enumerable.Repeat(1e6f, Dimension).ToArray(), Dimension);
        using MuveraIndex half = MuveraIndex.Create(new MuveraIndexOptions { Fde = SmallFde, TokenElementType = StoreElementType.Float16 });
        ArgumentException overflow = Assert.Throws<ArgumentException>(() => half.AddRange(["ok", "too-big"], [good, huge]))!;
        Assert.That(overflow.Message, Does.Contain("Float16"));
        Assert.That(half.Count, Is.Zero);
        half.Add("ok", good);
        Assert.That(half.Count, Is.EqualTo(1));
    }

    [Test]
    public void BadInput_ThrowsClearExceptions()
    {
        using MuveraIndex index = BuildSmall(out SyntheticCorpus corpus, documents: 20);
        ReadOnlyMultiVector query = corpus.Queries[0];
        var wrongDimension = new ReadOnlyMultiVector(new float[2 * (Dimension + 1)], Dimension + 1);
        float[] nan = query.Span.ToArray();
        nan[Dimension + 3] = float.NaN;
        var withNan = new ReadOnlyMultiVector(nan, Dimension);
        var empty = new ReadOnlyMultiVector(Array.Empty<float>(), Dimension);

        Assert.Multiple(() =>
        {
            Assert.That(() => index.Add(corpus.Ids[1], query), Throws.ArgumentException.With.Message.Contains(corpus.Ids[1]).And.Message.Contains("already"));
            Assert.That(() => index.AddRange(["a", "a"], [query, query]), Throws.ArgumentException.With.Message.Contains("\"a\" appears twice"));
            Assert.That(() => index.Add("", query), Throws.ArgumentException.With.Message.Contains("null or empty"));
            Assert.That(() => index.AddRange(["a"], [query, query]), Throws.ArgumentException.With.Message.Contains("pair up"));
            Assert.That(() => index.Add("w", wrongDimension), Throws.ArgumentException.With.Message.Contains("dimension 17").And.Message.Contains("\"w\""));
            Assert.That(() => index.Add("n", withNan), Throws.ArgumentException.With.Message.Contains("NaN").Or.Message.Contains("finite"));
            Assert.That(() => index.Add("e", empty), Throws.ArgumentException.With.Message.Contains("no tokens"));
            Assert.That(() => index.Search(empty, 5), Throws.ArgumentException.With.Message.Contains("no tokens"));
            Assert.That(() => index.Search(wrongDimension, 5), Throws.ArgumentException.With.Message.Contains("dimension 17"));
            Assert.That(() => index.Search(withNan, 5), Throws.ArgumentException);
            Assert.That(() => index.Search(query, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => index.SearchExact(query, -1), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => index.Search(query, 10, new MuveraSearchOptions { Candidates = 5 }),
                Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("Candidates (5) must be at least k (10)"));
            Assert.That(() => new MuveraSearchOptions { Candidates = 0 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new MuveraSearchOptions { BallCarvingThreshold = float.NaN }, Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new MuveraIndexOptions { Fde = SmallFde, CompactOnSaveFraction = 1.5 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => MuveraIndex.Create(new MuveraIndexOptions { Fde = SmallFde with { ProjectionDimension = null } }), Throws.ArgumentException);
            Assert.That(() => index.Calibrate([], 10, 0.9), Throws.ArgumentException.With.Message.Contains("empty"));
            Assert.That(() => index.Calibrate([query], 10, 1.5), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => QueryReduction.BallCarve(empty, 0.7f), Throws.ArgumentException);
        });
        Assert.That(index.Count, Is.EqualTo(20), "no bad call changed the index");

        using MuveraIndex blank = MuveraIndex.Create(new MuveraIndexOptions { Fde = SmallFde });
        Assert.That(blank.Search(query, 3), Is.Empty);
        Assert.That(blank.SearchExact(query, 3), Is.Empty);
        Assert.That(() => blank.Calibrate([query], 3, 0.9), Throws.InvalidOperationException);
        blank.Dispose();
        Assert.That(() => blank.Search(query, 3), Throws.InstanceOf<ObjectDisposedException>());
    }

    private sealed class CountingScorer : IChamferScorer
    {
        private readonly CpuChamferScorer _inner = new();

        public int Reranks { get; private set; }

        public int TopKs { get; private set; }

        public float Score(ReadOnlyMultiVector query, ReadOnlyMultiVector document) => _inner.Score(query, document);

        public void Score(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, Span<float> scores) => _inner.Score(query, documents, scores);

        public ScoredId[] TopK(ReadOnlyMultiVector query, IReadOnlyList<ReadOnlyMultiVector> documents, int k) => _inner.TopK(query, documents, k);

        public ScoredId[] TopK(ReadOnlyMultiVector query, MultiVectorStore store, int k)
        {
            TopKs++;
            return _inner.TopK(query, store, k);
        }

        public ScoredId[] Rerank(ReadOnlyMultiVector query, MultiVectorStore store, ReadOnlySpan<int> candidateIds, int k)
        {
            Reranks++;
            return _inner.Rerank(query, store, candidateIds, k);
        }
    }
}
