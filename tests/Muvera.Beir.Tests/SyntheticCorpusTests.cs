// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Linq;
using System.Threading;
using Muvera.Beir.Synthetic;
using Muvera.Scoring;

namespace Muvera.Beir.Tests;

public sealed class SyntheticCorpusTests
{
    private static readonly SyntheticCorpusOptions s_small = new()
    {
        DocumentCount = 2000,
        TokensPerDocument = 32,
        QueryCount = 40,
        TokensPerQuery = 16,
        Dimension = 64,
        TopicCount = 200,
        Seed = 11,
    };

    private static ulong Fnv1a(ReadOnlySpan<float> values)
    {
        ulong hash = 14695981039346656037UL;
        foreach (float value in values)
        {
            uint bits = BitConverter.SingleToUInt32Bits(value);
            for (int b = 0; b < 4; b++)
            {
                hash = (hash ^ ((bits >> (8 * b)) & 0xFF)) * 1099511628211UL;
            }
        }

        return hash;
    }

    [Test]
    public void Options_Defaults_AreTheBenchmarksShape()
    {
        var options = new SyntheticCorpusOptions();

        Assert.Multiple(() =>
        {
            Assert.That(options.DocumentCount, Is.EqualTo(100_000));
            Assert.That(options.TokensPerDocument, Is.EqualTo(64));
            Assert.That(options.Dimension, Is.EqualTo(128));
            Assert.That(options.QueryCount, Is.EqualTo(1000));
            Assert.That(options.TokensPerQuery, Is.EqualTo(32));
        });
    }

    [Test]
    public void Options_OutOfRange_ThrowNamingTheProperty()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new SyntheticCorpusOptions { DocumentCount = 0 }, Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("DocumentCount"));
            Assert.That(() => new SyntheticCorpusOptions { Dimension = 70_000 }, Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("Dimension"));
            Assert.That(() => new SyntheticCorpusOptions { TokenNoise = double.NaN }, Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("TokenNoise"));
        });
    }

    [Test]
    public void GetDocumentAndQuery_TokensAreUnitLength()
    {
        var corpus = new SyntheticCorpus(s_small);

        Assert.Multiple(() =>
        {
            foreach (ReadOnlyMultiVector vectors in new[] { corpus.GetDocument(0), corpus.GetDocument(1999), corpus.GetQuery(39) })
            {
                for (int t = 0; t < vectors.Count; t++)
                {
                    double norm = Math.Sqrt(vectors[t].ToArray().Sum(x => (double)x * x));
                    Assert.That(norm, Is.EqualTo(1).Within(1e-6));
                }
            }
        });
    }

    [Test]
    public void CopyDocument_SameOptions_BitIdenticalAndIndependentOfOrder()
    {
        var first = new SyntheticCorpus(s_small);
        var second = new SyntheticCorpus(s_small with { });
        float[] late = first.GetDocument(1234).Values.ToArray();
        _ = second.GetDocument(0);

        Assert.Multiple(() =>
        {
            Assert.That(second.GetDocument(1234).Values.ToArray(), Is.EqualTo(late));
            Assert.That(second.GetQuery(3).Values.ToArray(), Is.EqualTo(first.GetQuery(3).Values.ToArray()));
            Assert.That(new SyntheticCorpus(s_small with { Seed = 12 }).GetDocument(1234).Values.ToArray(), Is.Not.EqualTo(late));
        });
    }

    [Test]
    public void Generator_GoldenHashes_Unchanged()
    {
        // Golden values of GeneratorVersion 1; the generator uses only IEEE basic arithmetic, so they hold on every
        // platform and instruction set. A mismatch is a bug (or a deliberate change that must bump GeneratorVersion).
        var corpus = new SyntheticCorpus(new SyntheticCorpusOptions
        {
            DocumentCount = 100, TokensPerDocument = 8, QueryCount = 5, TokensPerQuery = 4, Dimension = 16, TopicCount = 10, Seed = 7,
        });

        Assert.Multiple(() =>
        {
            Assert.That(SyntheticCorpus.GeneratorVersion, Is.EqualTo(1));
            Assert.That(Fnv1a(corpus.GetDocument(0).Span), Is.EqualTo(10898927609386513830UL), "document 0");
            Assert.That(Fnv1a(corpus.GetDocument(99).Span), Is.EqualTo(12983470723234549717UL), "document 99");
            Assert.That(Fnv1a(corpus.GetQuery(4).Span), Is.EqualTo(12350263392293282067UL), "query 4");
            Assert.That(corpus.GetQuerySource(4), Is.EqualTo(36), "source of query 4");
        });
    }

    [Test]
    public void AddDocuments_AppendsEveryDocumentInOrder()
    {
        var corpus = new SyntheticCorpus(s_small with { DocumentCount = 300 });
        using var store = new MultiVectorStore(64);
        store.Add(new float[64]);
        int reported = 0;

        int first = corpus.AddDocuments(store, new SynchronousProgress(n => reported = n), CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(1));
            Assert.That(store.Count, Is.EqualTo(301));
            Assert.That(reported, Is.EqualTo(300));
            Assert.That(store.GetDocument(1 + 257).Values.ToArray(), Is.EqualTo(corpus.GetDocument(257).Values.ToArray()));
            Assert.That(store.GetDocument(300).Values.ToArray(), Is.EqualTo(corpus.GetDocument(299).Values.ToArray()));
        });
    }

    [Test]
    public void AddDocuments_WrongDimensionOrCancelled_Throws()
    {
        var corpus = new SyntheticCorpus(s_small);
        using var wrong = new MultiVectorStore(32);
        using var store = new MultiVectorStore(64);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();

        Assert.Multiple(() =>
        {
            Assert.That(() => corpus.AddDocuments(wrong, null, CancellationToken.None), Throws.ArgumentException.With.Message.Contains("32"));
            Assert.That(() => corpus.AddDocuments(store, null, cancellation.Token), Throws.InstanceOf<OperationCanceledException>());
        });
    }

    [Test]
    public void ExactChamfer_QueriesFindTheirSourceAndAStructuredTopTen()
    {
        var corpus = new SyntheticCorpus(s_small);
        using var store = new MultiVectorStore(s_small.Dimension);
        corpus.AddDocuments(store, null, CancellationToken.None);
        var scorer = new CpuChamferScorer();

        int sourceFirst = 0;
        int standsOut = 0;
        for (int q = 0; q < s_small.QueryCount; q++)
        {
            ScoredId[] ranking = scorer.TopK(corpus.GetQuery(q), store, store.Count);
            sourceFirst += ranking[0].Id == corpus.GetQuerySource(q) ? 1 : 0;

            // The 10th best document shares a topic with the query's source: its Chamfer score stands well above the
            // median document's (about 1.9 times with these options), so the exact top 10 is not noise.
            standsOut += ranking[9].Score > 1.5 * ranking[ranking.Length / 2].Score ? 1 : 0;
        }

        Assert.Multiple(() =>
        {
            Assert.That(sourceFirst, Is.GreaterThanOrEqualTo(s_small.QueryCount * 9 / 10), "queries whose exact top 1 is their source document");
            Assert.That(standsOut, Is.GreaterThanOrEqualTo(s_small.QueryCount * 9 / 10), "queries whose 10th score is over 1.5 times the median");
        });
    }

    private sealed class SynchronousProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
