// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Numerics.Tensors;

namespace Muvera.Samples.Quickstart;

/// <summary>
/// A clustered multi-vector corpus that behaves like ColBERT token embeddings: unit vectors grouped around a few
/// dozen topic centres. Each document draws a private "aspect" of each of its topics (a perturbed centre) and its
/// tokens are noisy copies of those aspects. A query is built from the aspects of one planted target document, so
/// exact Chamfer ranks the target first and other documents on the same topics next.
/// </summary>
internal sealed class SyntheticCorpus
{
    // Noise scales: cos(centre, aspect) ≈ 0.82 and cos(aspect, token) ≈ 0.89, so a query token scores ≈ 0.8 against
    // its target's tokens and ≈ 0.5 against a document that only shares the topic.
    private const double AspectNoise = 0.7;
    private const double TokenNoise = 0.5;

    private SyntheticCorpus(int dimension, ReadOnlyMultiVector[] documents, ReadOnlyMultiVector[] queries, int[] targets, long tokenCount)
    {
        Dimension = dimension;
        Documents = documents;
        Queries = queries;
        QueryTargets = targets;
        DocumentTokenCount = tokenCount;
    }

    public int Dimension { get; }

    public IReadOnlyList<ReadOnlyMultiVector> Documents { get; }

    public IReadOnlyList<ReadOnlyMultiVector> Queries { get; }

    /// <summary>The document each query was built from.</summary>
    public IReadOnlyList<int> QueryTargets { get; }

    public long DocumentTokenCount { get; }

    public static SyntheticCorpus Generate(int dimension, int documentCount, int minTokens, int maxTokens, int topicCount,
        int queryCount, int queryTokens, ulong seed)
    {
        var random = new SampleRandom(seed);

        float[][] centres = new float[topicCount][];
        for (int t = 0; t < topicCount; t++)
        {
            centres[t] = RandomUnitVector(random, dimension);
        }

        var documents = new ReadOnlyMultiVector[documentCount];
        float[][][] aspects = new float[documentCount][][];
        long tokenCount = 0;
        for (int i = 0; i < documentCount; i++)
        {
            int[] topics = DistinctTopics(random, random.Next(2, 6), topicCount);
            aspects[i] = new float[topics.Length][];
            for (int a = 0; a < topics.Length; a++)
            {
                aspects[i][a] = NoisyCopy(random, centres[topics[a]], AspectNoise);
            }

            int n = random.Next(minTokens, maxTokens + 1);
            float[] tokens = new float[n * dimension];
            for (int t = 0; t < n; t++)
            {
                float[] aspect = aspects[i][random.Next(0, topics.Length)];
                NoisyCopy(random, aspect, TokenNoise).CopyTo(tokens.AsSpan(t * dimension, dimension));
            }

            documents[i] = new ReadOnlyMultiVector(tokens, dimension);
            tokenCount += n;
        }

        var queries = new ReadOnlyMultiVector[queryCount];
        int[] targets = new int[queryCount];
        var used = new HashSet<int>();
        for (int q = 0; q < queryCount; q++)
        {
            int target;
            do
            {
                target = random.Next(0, documentCount);
            }
            while (!used.Add(target));

            // Every aspect of the target contributes tokens, round-robin, like a query that touches all its topics.
            float[] tokens = new float[queryTokens * dimension];
            for (int t = 0; t < queryTokens; t++)
            {
                float[] aspect = aspects[target][t % aspects[target].Length];
                NoisyCopy(random, aspect, TokenNoise).CopyTo(tokens.AsSpan(t * dimension, dimension));
            }

            queries[q] = new ReadOnlyMultiVector(tokens, dimension);
            targets[q] = target;
        }

        return new SyntheticCorpus(dimension, documents, queries, targets, tokenCount);
    }

    private static int[] DistinctTopics(SampleRandom random, int count, int topicCount)
    {
        int[] topics = new int[count];
        for (int a = 0; a < count; a++)
        {
            int topic;
            do
            {
                topic = random.Next(0, topicCount);
            }
            while (Array.IndexOf(topics, topic, 0, a) >= 0);

            topics[a] = topic;
        }

        return topics;
    }

    private static float[] RandomUnitVector(SampleRandom random, int dimension)
    {
        float[] v = new float[dimension];
        for (int i = 0; i < dimension; i++)
        {
            v[i] = (float)random.NextGaussian();
        }

        Normalize(v);
        return v;
    }

    // normalize(source + noise · g / √d) with g standard normal: the perturbation has norm ≈ noise.
    private static float[] NoisyCopy(SampleRandom random, float[] source, double noise)
    {
        double scale = noise / Math.Sqrt(source.Length);
        float[] v = new float[source.Length];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = source[i] + (float)(scale * random.NextGaussian());
        }

        Normalize(v);
        return v;
    }

    private static void Normalize(Span<float> v) => TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
}
