// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Pipeline;

/// <summary>
/// Clustered synthetic multi-vector corpora for the pipeline tests (fixed seed). There are <c>topics</c> unit topic
/// centres; a document draws its tokens from 4 topics of its own choosing (normalise(centre + 0.8·g/√d), g standard
/// Gaussian), and a query takes 2 of the topics of a random document, so its exact Chamfer neighbours are the
/// documents that share both topics, with a graded tail of those sharing one.
/// </summary>
internal sealed class SyntheticCorpus
{
    private SyntheticCorpus(int dimension, string[] ids, ReadOnlyMultiVector[] documents, ReadOnlyMultiVector[] queries)
    {
        Dimension = dimension;
        Ids = ids;
        Documents = documents;
        Queries = queries;
    }

    public int Dimension { get; }

    public string[] Ids { get; }

    public ReadOnlyMultiVector[] Documents { get; }

    public ReadOnlyMultiVector[] Queries { get; }

    public static SyntheticCorpus Create(int documents, int queries, int seed, int dimension = 64, int tokens = 32, int queryTokens = 16, int topics = 500)
    {
        var random = new Random(seed);
        float[] centres = TestVectors.Gaussian(random, topics * dimension);
        for (int t = 0; t < topics; t++)
        {
            TestVectors.Normalize(centres.AsSpan(t * dimension, dimension));
        }

        var docTopics = new int[documents][];
        var ids = new string[documents];
        var docs = new ReadOnlyMultiVector[documents];
        for (int i = 0; i < documents; i++)
        {
            docTopics[i] = [random.Next(topics), random.Next(topics), random.Next(topics), random.Next(topics)];
            ids[i] = $"doc-{i:D6}";
            docs[i] = Draw(random, centres, dimension, docTopics[i], tokens);
        }

        var qs = new ReadOnlyMultiVector[queries];
        for (int q = 0; q < queries; q++)
        {
            int[] source = docTopics[random.Next(documents)];
            qs[q] = Draw(random, centres, dimension, [source[0], source[1]], queryTokens);
        }

        return new SyntheticCorpus(dimension, ids, docs, qs);
    }

    /// <summary>A "bag of contextual words" corpus: a vocabulary of random unit word vectors, topics of
    /// <paramref name="wordsPerTopic"/> words; a document draws each token as a word of one of its 2 topics plus
    /// contextual noise (normalise(w + noise·g/√d)); a query draws its tokens from the words of one random document, so
    /// relevant documents hold near-copies of the query's tokens, as with real ColBERT vectors.</summary>
    public static SyntheticCorpus CreateWords(int documents, int queries, int seed, int dimension = 64, int tokens = 32,
        int queryTokens = 16, int vocabulary = 20_000, int topics = 500, int wordsPerTopic = 40, float noise = 0.3f)
    {
        var random = new Random(seed);
        float[] words = TestVectors.Gaussian(random, vocabulary * dimension);
        for (int w = 0; w < vocabulary; w++)
        {
            TestVectors.Normalize(words.AsSpan(w * dimension, dimension));
        }

        int[][] topicWords = Enumerable.Range(0, topics).Select(_ => Enumerable.Range(0, wordsPerTopic).Select(_ => random.Next(vocabulary)).ToArray()).ToArray();
        var docWords = new int[documents][];
        var ids = new string[documents];
        var docs = new ReadOnlyMultiVector[documents];
        for (int i = 0; i < documents; i++)
        {
            int a = random.Next(topics), b = random.Next(topics);
            docWords[i] = Enumerable.Range(0, tokens).Select(t => (t % 2 == 0 ? topicWords[a] : topicWords[b])[random.Next(wordsPerTopic)]).ToArray();
            ids[i] = $"doc-{i:D6}";
            docs[i] = Embed(random, words, dimension, docWords[i], noise);
        }

        var qs = new ReadOnlyMultiVector[queries];
        for (int q = 0; q < queries; q++)
        {
            int[] source = docWords[random.Next(documents)];
            qs[q] = Embed(random, words, dimension, Enumerable.Range(0, queryTokens).Select(_ => source[random.Next(source.Length)]).ToArray(), noise);
        }

        return new SyntheticCorpus(dimension, ids, docs, qs);
    }

    private static ReadOnlyMultiVector Embed(Random random, float[] words, int dimension, int[] tokenWords, float noise)
    {
        float[] values = new float[tokenWords.Length * dimension];
        float scale = noise / MathF.Sqrt(dimension);
        for (int t = 0; t < tokenWords.Length; t++)
        {
            Span<float> token = values.AsSpan(t * dimension, dimension);
            for (int j = 0; j < dimension; j++)
            {
                token[j] = words[(tokenWords[t] * dimension) + j] + (scale * (float)TestVectors.NextGaussian(random));
            }

            TestVectors.Normalize(token);
        }

        return new ReadOnlyMultiVector(values, dimension);
    }

    public static IReadOnlyList<string> IdsOf(IEnumerable<MuveraSearchHit> hits)
    {
        var ids = new List<string>();
        foreach (MuveraSearchHit hit in hits)
        {
            ids.Add(hit.Id);
        }

        return ids;
    }

    private static ReadOnlyMultiVector Draw(Random random, float[] centres, int dimension, int[] topics, int tokens)
    {
        float[] values = new float[tokens * dimension];
        float scale = 0.8f / MathF.Sqrt(dimension);
        for (int t = 0; t < tokens; t++)
        {
            int topic = topics[t % topics.Length];
            Span<float> token = values.AsSpan(t * dimension, dimension);
            for (int j = 0; j < dimension; j++)
            {
                token[j] = centres[(topic * dimension) + j] + (scale * (float)TestVectors.NextGaussian(random));
            }

            TestVectors.Normalize(token);
        }

        return new ReadOnlyMultiVector(values, dimension);
    }
}
