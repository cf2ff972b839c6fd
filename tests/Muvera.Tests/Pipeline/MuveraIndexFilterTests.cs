// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using Muvera.Faiss;
using Muvera.Indexing;
using Muvera.Tests.Fixtures;
using Muvera.USearch;

namespace Muvera.Tests.Pipeline;

/// <summary>Filtered search (<see cref="MuveraFilter"/>): with every allowed document a candidate it equals filtered
/// exact search, on the flat (float32 and quantized) and USearch backends, at 1%, 10% and 50% selectivity; deleted and
/// unknown documents never come back; FAISS says it cannot filter.</summary>
[TestFixture]
public sealed class MuveraIndexFilterTests
{
    private const int Documents = 10_000;

    public static IEnumerable<TestCaseData> Backends()
    {
        yield return new TestCaseData(new FlatMipsBackend(FdeStorage.Float32)).SetArgDisplayNames("flat-f32");
        yield return new TestCaseData(new FlatMipsBackend(FdeStorage.Default)).SetArgDisplayNames("flat-pq");
        yield return new TestCaseData(new USearchMipsBackend(new USearchOptions { ScalarKind = USearchScalarKind.Float32 })).SetArgDisplayNames("usearch");
    }

    [TestCaseSource(nameof(Backends))]
    public void FilteredSearch_AllCandidates_EqualsFilteredExact_AtEverySelectivity(MipsBackend backend)
    {
        MuveraIndexPersistenceTests.RequireBackend(backend);
        SyntheticCorpus corpus = SyntheticCorpus.Create(Documents, 20, seed: 5, dimension: MuveraIndexTests.Dimension, tokens: 10, queryTokens: 6, topics: 200);
        using var index = MuveraIndex.Create(new MuveraIndexOptions { Fde = MuveraIndexTests.SmallFde }, backend);
        for (int first = 0; first < Documents; first += 2_000)
        {
            index.AddRange(corpus.Ids[first..(first + 2_000)], corpus.Documents[first..(first + 2_000)]);
        }

        foreach (double selectivity in new[] { 0.01, 0.02, 0.05, 0.10, 0.50 })
        {
            int modulus = (int)Math.Round(1 / selectivity);
            MuveraFilter filter = MuveraFilter.Where(id => IsAllowed(id, modulus));
            int allowed = Documents / modulus;
            double recall = 0;
            foreach (ReadOnlyMultiVector query in corpus.Queries)
            {
                MuveraSearchHit[] exact = index.SearchExact(query, 10, filter);
                Assert.That(exact, Has.Length.EqualTo(10));
                Assert.That(exact.All(h => IsAllowed(h.Id, modulus)), Is.True, "exact hits are allowed");
                MuveraSearchHit[] all = index.Search(query, 10, new MuveraSearchOptions { Candidates = allowed, Filter = filter });
                Assert.That(all.Select(h => h.Id), Is.EqualTo(exact.Select(h => h.Id)), $"{backend}: N = all allowed ({allowed}), selectivity {selectivity}");
                Assert.That(all.Select(h => h.Score), Is.EqualTo(exact.Select(h => h.Score)));
                MuveraSearchHit[] defaults = index.Search(query, 10, new MuveraSearchOptions { Filter = filter });
                Assert.That(defaults.All(h => IsAllowed(h.Id, modulus)), Is.True, "hits at the default N are allowed documents");
                recall += defaults.Count(h => exact.Any(e => e.Id == h.Id)) / 10.0;
            }

            recall /= corpus.Queries.Length;
            TestContext.Out.WriteLine($"{backend.Kind} {backend.Description}: selectivity {selectivity:P0} ({allowed} documents), recall@10 vs filtered exact at the default N (100) = {recall:F3}");
            Assert.That(recall, Is.GreaterThan(0.5), "the default N finds most of the filtered top 10 on this corpus");
        }
    }

    [Test]
    public void Filter_FromIdsAndWhere_Agree_SkipDeletedAndUnknown()
    {
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, backend: new FlatMipsBackend(FdeStorage.Float32));
        string[] chosen = [.. corpus.Ids.Where((_, i) => i % 7 == 0)];
        index.Delete(chosen[0]);
        var fromIds = MuveraFilter.FromIds(chosen.Append("no-such-id"));
        var where = MuveraFilter.Where(id => Array.IndexOf(chosen, id) >= 0);
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            foreach (int candidates in new[] { 10, 20, 300 })
            {
                var options = new MuveraSearchOptions { Candidates = candidates };
                MuveraSearchHit[] a = index.Search(query, 5, options with { Filter = fromIds });
                MuveraSearchHit[] b = index.Search(query, 5, options with { Filter = where });
                Assert.That(a, Is.EqualTo(b));
                Assert.That(a.Select(h => h.Id), Is.All.Not.EqualTo(chosen[0]), "a deleted document is never returned");
                Assert.That(a.Select(h => h.Id), Is.SubsetOf(chosen));
            }

            MuveraSearchHit[] fdeOnly = index.Search(query, 50, new MuveraSearchOptions { Candidates = 50, Rerank = false, Filter = fromIds });
            Assert.That(fdeOnly.Select(h => h.Id), Is.SubsetOf(chosen).And.Unique);
            Assert.That(fdeOnly, Has.Length.EqualTo(chosen.Length - 1), "FDE-only returns every allowed live document when N exceeds them");
            Assert.That(index.Search(query, 5, new MuveraSearchOptions { Filter = MuveraFilter.FromIds(["none"]) }), Is.Empty);
            Assert.That(index.SearchExact(query, 5, MuveraFilter.FromIds([])), Is.Empty);
        }
    }

    [Test]
    public void SelectiveFilter_RerankAllAllowed_ExactWithoutFdeScores()
    {
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, backend: new FlatMipsBackend(FdeStorage.Float32));
        var filter = MuveraFilter.FromIds(corpus.Ids.Take(30));
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            MuveraSearchHit[] hits = index.Search(query, 10, new MuveraSearchOptions { Candidates = 40, Filter = filter });
            Assert.That(hits, Is.EqualTo(index.SearchExact(query, 10, filter)), "30 allowed ≤ 40 candidates: all reranked");
            Assert.That(hits.All(h => float.IsNaN(h.FdeScore)), Is.True);
            MuveraSearchHit[] staged = index.Search(query, 10, new MuveraSearchOptions { Candidates = 20, Filter = filter });
            Assert.That(staged.All(h => !float.IsNaN(h.FdeScore)), Is.True, "30 allowed > 20 candidates: the FDE stage runs");
        }
    }

    [Test]
    public void FaissBackend_FilteredSearch_SaysItCannot()
    {
        var backend = new FaissMipsBackend("Flat");
        MuveraIndexPersistenceTests.RequireBackend(backend);
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 100, backend: backend);
        var filter = MuveraFilter.Where(id => id.EndsWith('1'));
        Assert.That(() => index.Search(corpus.Queries[0], 5, new MuveraSearchOptions { Candidates = 5, Filter = filter }),
            Throws.InstanceOf<NotSupportedException>().With.Message.Contains("faiss"));
        Assert.That(index.Search(corpus.Queries[0], 5, new MuveraSearchOptions { Candidates = 50, Filter = filter }), Has.Length.EqualTo(5),
            "a filter allowing at most N documents reranks them all, on any backend");
    }

    [Test]
    public void MipsFilter_BitSet_Semantics()
    {
        var filter = new MipsFilter(130);
        Assert.That(filter.AllowedCount, Is.Zero);
        filter.Allow(0);
        filter.Allow(64);
        filter.Allow(129);
        filter.Allow(64);
        Assert.Multiple(() =>
        {
            Assert.That(filter.AllowedCount, Is.EqualTo(3));
            Assert.That(filter.ToArray(), Is.EqualTo(new[] { 0, 64, 129 }));
            Assert.That(filter.Allows(63), Is.False);
            Assert.That(filter.Allows(-1), Is.False);
            Assert.That(filter.Allows(130), Is.False);
            Assert.That(() => filter.Allow(130), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("130"));
            Assert.That(MipsFilter.FromPredicate(10, i => i % 3 == 0).ToArray(), Is.EqualTo(new[] { 0, 3, 6, 9 }));
        });
    }

    [Test]
    public void FilteredMipsSearch_FlatAndQuantized_EqualTheUnfilteredRankingRestricted()
    {
        float[] vectors = TestVectors.UnitRows(1_500, 32, seed: 3);
        float[] query = TestVectors.UnitRows(1, 32, seed: 4);
        MipsFilter filter = MipsFilter.FromPredicate(1_500, i => i % 3 == 1);
        var options = new System.Threading.Tasks.ParallelOptions();
        using var flat = new FlatMipsIndex(32);
        // Plain PQ: its scan ranks by one score, so filtering restricts that ranking (a refinement stage re-scores a
        // candidate pool whose size depends on k, which the restriction property does not cover).
        using var quantized = new QuantizedMipsIndex(32, FdeStorage.ProductQuantization());
        flat.Add(vectors);
        quantized.Add(vectors);
        foreach ((string name, Func<int, MipsFilter?, ScoredId[]> search) in new (string, Func<int, MipsFilter?, ScoredId[]>)[]
        {
            ("flat", (k, f) => Run(r => flat.Search(query, k, r, options, f), k)),
            ("quantized", (k, f) => Run(r => quantized.Search(query, k, r, options, f), k)),
        })
        {
            ScoredId[] everything = search(1_500, null);
            ScoredId[] expected = [.. everything.Where(h => filter.Allows(h.Id)).Take(25)];
            Assert.That(search(25, filter), Is.EqualTo(expected), name);
        }
    }

    private static ScoredId[] Run(Func<ScoredId[], int> search, int k)
    {
        var results = new ScoredId[k];
        return results[..search(results)];
    }

    // Corpus ids are "doc-000123".
    private static bool IsAllowed(string id, int modulus) => int.Parse(id.AsSpan(4), provider: System.Globalization.CultureInfo.InvariantCulture) % modulus == 0;
}
