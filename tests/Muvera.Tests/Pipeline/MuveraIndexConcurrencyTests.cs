// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Muvera.Tests.Pipeline;

/// <summary>Searches racing one writer: no search returns a document deleted before it started, a document that was
/// never completely added, or a score that does not belong to the stored document.</summary>
[TestFixture]
public sealed class MuveraIndexConcurrencyTests
{
    [Test]
    [CancelAfter(120_000)]
    public void Searches_DuringAddsDeletesUpdatesAndCompactions_SeeConsistentSnapshots()
    {
        const int d = MuveraIndexTests.Dimension;
        SyntheticCorpus corpus = SyntheticCorpus.Create(1200, 16, seed: 5, dimension: d, tokens: 8, queryTokens: 6, topics: 30);
        using MuveraIndex index = MuveraIndex.Create(new MuveraIndexOptions { Fde = MuveraIndexTests.SmallFde, CompactOnSaveFraction = 1 });
        index.AddRange(corpus.Ids[..200], corpus.Documents[..200]);

        // Every document the writer stores (recorded before it is added), so a reader can check a hit's score against the
        // whole document: a half-added one would score differently.
        var bodies = new ConcurrentDictionary<string, ReadOnlyMultiVector>(corpus.Ids[..200].Zip(corpus.Documents[..200]).ToDictionary(x => x.First, x => x.Second));
        var deletedAt = new ConcurrentDictionary<string, long>();
        long clock = 0;
        using var stop = new CancellationTokenSource();
        var failures = new ConcurrentQueue<string>();
        long searches = 0;

        // Readers run on their own threads; the writer starts once each has searched, and after every batch waits (up to
        // a second) for at least one more search, so that searches interleave with the writes on any machine.
        using var readersStarted = new CountdownEvent(3);
        Task writer = Task.Factory.StartNew(() =>
        {
            var random = new Random(1);
            readersStarted.Wait(TimeSpan.FromSeconds(30));
            for (int next = 200; next < corpus.Ids.Length; next += 20)
            {
                long seen = Interlocked.Read(ref searches);
                SpinWait.SpinUntil(() => Interlocked.Read(ref searches) > seen, TimeSpan.FromSeconds(1));
                for (int i = next; i < next + 20; i++)
                {
                    bodies[corpus.Ids[i]] = corpus.Documents[i];
                }

                index.AddRange(corpus.Ids[next..(next + 20)], corpus.Documents[next..(next + 20)]);

                string victim = corpus.Ids[random.Next(next)];
                if (!deletedAt.ContainsKey(victim) && index.Delete(victim))
                {
                    deletedAt[victim] = Interlocked.Increment(ref clock);
                }

                if (next % 200 == 0)
                {
                    index.Compact();
                }
            }

            stop.Cancel();
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        Task[] readers = Enumerable.Range(0, 3).Select(r => Task.Factory.StartNew(() =>
        {
            var scorer = new Muvera.Scoring.CpuChamferScorer();
            int q = r;
            bool signalled = false;
            while (!stop.IsCancellationRequested)
            {
                ReadOnlyMultiVector query = corpus.Queries[q++ % corpus.Queries.Length];
                long started = Interlocked.Read(ref clock);
                MuveraSearchHit[] hits = (q % 3) switch
                {
                    0 => index.Search(query, 10, new MuveraSearchOptions { Candidates = 50 }),
                    1 => index.Search(query, 10, new MuveraSearchOptions { Rerank = false, Candidates = 50 }),
                    _ => index.SearchExact(query, 10),
                };
                Interlocked.Increment(ref searches);
                if (!signalled)
                {
                    readersStarted.Signal();
                    signalled = true;
                }
                if (hits.Select(h => h.Id).Distinct().Count() != hits.Length)
                {
                    failures.Enqueue($"duplicate ids in one result: {string.Join(", ", hits.Select(h => h.Id))}");
                }

                foreach (MuveraSearchHit hit in hits)
                {
                    if (deletedAt.TryGetValue(hit.Id, out long when) && when <= started)
                    {
                        failures.Enqueue($"{hit.Id} was deleted at {when}, before the search started at {started}");
                    }

                    if (!bodies.TryGetValue(hit.Id, out ReadOnlyMultiVector body))
                    {
                        failures.Enqueue($"{hit.Id} was never added");
                    }
                    else if (q % 3 != 1 && scorer.Score(query, body) != hit.Score)
                    {
                        failures.Enqueue($"{hit.Id} scored {hit.Score}, but its stored document scores {scorer.Score(query, body)}");
                    }
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        Task.WaitAll([writer, .. readers]);
        TestContext.Out.WriteLine($"{Interlocked.Read(ref searches)} searches during {corpus.Ids.Length - 200} adds, {deletedAt.Count} deletes and compactions");
        Assert.That(failures, Is.Empty);
        Assert.That(Interlocked.Read(ref searches), Is.GreaterThan(50), "the readers really ran during the writes");
        Assert.That(index.Count, Is.EqualTo(corpus.Ids.Length - deletedAt.Count));
        foreach (string id in deletedAt.Keys)
        {
            Assert.That(index.Contains(id), Is.False);
        }
    }
}
