// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading;
using System.Threading.Tasks;

namespace Muvera.Beir.Synthetic;

/// <summary>
/// A clustered synthetic multi-vector corpus with queries, for benchmarks without a model
/// (<c>muvera bench synthetic --docs 100000 --tokens 64 --dim 128</c>): documents and queries are drawn around shared
/// topic centres, so that exact Chamfer top-10 lists are structured rather than noise.
/// </summary>
/// <remarks>
/// <para>Distribution (d = <see cref="SyntheticCorpusOptions.Dimension"/>, g a vector of d independent approximately
/// standard normal values, normalise(v) = v / ‖v‖₂):</para>
/// <list type="number">
/// <item>Topics: <see cref="SyntheticCorpusOptions.TopicCount"/> centres c_k = normalise(g), shared by every document
/// and query.</item>
/// <item>Document i: <see cref="SyntheticCorpusOptions.AspectsPerDocument"/> aspects, each around a topic k drawn
/// uniformly: a_j = normalise(c_k + σ_a·g/√d). Token t belongs to aspect t mod A and is
/// normalise(a_j + σ_t·g/√d).</item>
/// <item>Query q: a source document s drawn uniformly (<see cref="GetQuerySource"/>); each token picks one of s's
/// aspects uniformly and is normalise(a_j + σ_t·g/√d), as a document token would be.</item>
/// </list>
/// <para>So ‖σ·g/√d‖ ≈ σ: with the defaults (σ_a = 0.5, σ_t = 0.6) a token's cosine to its aspect is about 0.86 and an
/// aspect's cosine to its topic about 0.89. A query's exact Chamfer top 1 is nearly always its source document; the rest
/// of its top 10 are documents sharing one or more of the source's topics, ranked by how close their aspects lie. The
/// same spirit as the test suite's clustered FDE data (topic centres plus normalised Gaussian noise), with a document
/// level added so that nearest neighbours are well defined.</para>
/// <para>Every token vector is unit length (normalised in double precision, then rounded to float). Randomness: one
/// SplitMix64 stream per topic table, document and query, seeded from <see cref="SyntheticCorpusOptions.Seed"/>;
/// the normal values are Irwin–Hall sums of four uniforms (support ±3.46), computed with basic IEEE arithmetic only.
/// Hence any document or query can be generated alone, in any order or thread, and the same options give the same bits
/// on every platform and instruction set, for this <see cref="GeneratorVersion"/>.</para>
/// <para>Memory: the topic table, TopicCount·d floats. Immutable and thread-safe (except that
/// <see cref="AddDocuments"/> mutates the store it is given). Generating a document or query costs O(T·d) time and allocates O(A·d) scratch.</para>
/// </remarks>
public sealed class SyntheticCorpus
{
    /// <summary>The version of the generator; a change of the stream or of the distribution bumps it.</summary>
    public const int GeneratorVersion = 1;

    private const ulong TopicStream = 0;
    private const ulong DocumentStream = 1;
    private const ulong QueryStream = 2;
    private const int AddBatch = 256;

    private readonly double[] _topics;

    /// <summary>A corpus with the given shape.</summary>
    /// <param name="options">The shape, noise levels and seed.</param>
    public SyntheticCorpus(SyntheticCorpusOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        int d = options.Dimension;
        _topics = new double[checked(options.TopicCount * d)];
        var random = new SyntheticRandom(options.Seed, TopicStream, 0);
        for (int k = 0; k < options.TopicCount; k++)
        {
            Span<double> centre = _topics.AsSpan(k * d, d);
            for (int j = 0; j < d; j++)
            {
                centre[j] = random.NextGaussian();
            }

            Normalize(centre);
        }
    }

    /// <summary>The shape, noise levels and seed.</summary>
    public SyntheticCorpusOptions Options { get; }

    /// <summary>The number of floats of one document, TokensPerDocument · Dimension.</summary>
    public int DocumentLength => Options.TokensPerDocument * Options.Dimension;

    /// <summary>The number of floats of one query, TokensPerQuery · Dimension.</summary>
    public int QueryLength => Options.TokensPerQuery * Options.Dimension;

    /// <summary>Writes document <paramref name="index"/>'s token vectors, row-major, into <paramref name="destination"/>.</summary>
    /// <param name="index">The document, 0 to DocumentCount − 1.</param>
    /// <param name="destination">At least <see cref="DocumentLength"/> floats.</param>
    /// <returns>The number of floats written, <see cref="DocumentLength"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the corpus.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public int CopyDocument(int index, Span<float> destination)
    {
        CheckIndex(index, Options.DocumentCount, nameof(index));
        CheckLength(destination.Length, DocumentLength, nameof(destination));
        int d = Options.Dimension;
        int aspects = Options.AspectsPerDocument;
        double[] aspectVectors = new double[aspects * d];
        var random = new SyntheticRandom(Options.Seed, DocumentStream, (ulong)index);
        DrawAspects(ref random, aspectVectors);
        double[] token = new double[d];
        for (int t = 0; t < Options.TokensPerDocument; t++)
        {
            DrawToken(ref random, aspectVectors.AsSpan((t % aspects) * d, d), token, destination.Slice(t * d, d));
        }

        return DocumentLength;
    }

    /// <summary>Document <paramref name="index"/> as a new multi-vector.</summary>
    /// <param name="index">The document, 0 to DocumentCount − 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the corpus.</exception>
    public ReadOnlyMultiVector GetDocument(int index)
    {
        float[] values = new float[DocumentLength];
        CopyDocument(index, values);
        return new ReadOnlyMultiVector(values, Options.Dimension);
    }

    /// <summary>The document query <paramref name="index"/> was drawn from.</summary>
    /// <param name="index">The query, 0 to QueryCount − 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the query set.</exception>
    public int GetQuerySource(int index)
    {
        CheckIndex(index, Options.QueryCount, nameof(index));
        var random = new SyntheticRandom(Options.Seed, QueryStream, (ulong)index);
        return random.NextInt(Options.DocumentCount);
    }

    /// <summary>Writes query <paramref name="index"/>'s token vectors, row-major, into <paramref name="destination"/>.</summary>
    /// <param name="index">The query, 0 to QueryCount − 1.</param>
    /// <param name="destination">At least <see cref="QueryLength"/> floats.</param>
    /// <returns>The number of floats written, <see cref="QueryLength"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the query set.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public int CopyQuery(int index, Span<float> destination)
    {
        CheckIndex(index, Options.QueryCount, nameof(index));
        CheckLength(destination.Length, QueryLength, nameof(destination));
        int d = Options.Dimension;
        int aspects = Options.AspectsPerDocument;
        var random = new SyntheticRandom(Options.Seed, QueryStream, (ulong)index);
        int source = random.NextInt(Options.DocumentCount);

        // The source document's aspects: the first draws of its own stream, exactly as CopyDocument makes them.
        double[] aspectVectors = new double[aspects * d];
        var sourceRandom = new SyntheticRandom(Options.Seed, DocumentStream, (ulong)source);
        DrawAspects(ref sourceRandom, aspectVectors);

        double[] token = new double[d];
        for (int t = 0; t < Options.TokensPerQuery; t++)
        {
            int aspect = random.NextInt(aspects);
            DrawToken(ref random, aspectVectors.AsSpan(aspect * d, d), token, destination.Slice(t * d, d));
        }

        return QueryLength;
    }

    /// <summary>Query <paramref name="index"/> as a new multi-vector.</summary>
    /// <param name="index">The query, 0 to QueryCount − 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the query set.</exception>
    public ReadOnlyMultiVector GetQuery(int index)
    {
        float[] values = new float[QueryLength];
        CopyQuery(index, values);
        return new ReadOnlyMultiVector(values, Options.Dimension);
    }

    /// <summary>
    /// Appends every document, in order, to <paramref name="store"/> through its public
    /// <see cref="MultiVectorStore.Add"/>; documents are generated in parallel batches of 256.
    /// </summary>
    /// <param name="store">An in-memory store of dimension <see cref="SyntheticCorpusOptions.Dimension"/>.</param>
    /// <param name="progress">Receives the number of documents added after each batch; may be null.</param>
    /// <param name="cancellationToken">Checked between batches; documents already added stay in the store.</param>
    /// <returns>The store id of document 0 (the store's <see cref="MultiVectorStore.Count"/> before the call); document
    /// i gets that id + i.</returns>
    /// <exception cref="ArgumentException">The store's dimension differs.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public int AddDocuments(MultiVectorStore store, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (store.Dimension != Options.Dimension)
        {
            throw new ArgumentException($"The store's dimension {store.Dimension} differs from the corpus dimension {Options.Dimension}.", nameof(store));
        }

        int first = store.Count;
        int length = DocumentLength;
        float[] buffer = new float[checked(Math.Min(AddBatch, Options.DocumentCount) * length)];
        var parallelOptions = new ParallelOptions { CancellationToken = cancellationToken };
        for (int start = 0; start < Options.DocumentCount; start += AddBatch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(AddBatch, Options.DocumentCount - start);
            Parallel.For(0, count, parallelOptions, i => CopyDocument(start + i, buffer.AsSpan(i * length, length)));
            for (int i = 0; i < count; i++)
            {
                store.Add(buffer.AsSpan(i * length, length));
            }

            progress?.Report(start + count);
        }

        return first;
    }

    private void DrawAspects(ref SyntheticRandom random, Span<double> aspectVectors)
    {
        int d = Options.Dimension;
        double scale = Options.AspectNoise / Math.Sqrt(d);
        for (int j = 0; j < Options.AspectsPerDocument; j++)
        {
            int topic = random.NextInt(Options.TopicCount);
            ReadOnlySpan<double> centre = _topics.AsSpan(topic * d, d);
            Span<double> aspect = aspectVectors.Slice(j * d, d);
            for (int c = 0; c < d; c++)
            {
                aspect[c] = centre[c] + (scale * random.NextGaussian());
            }

            Normalize(aspect);
        }
    }

    private void DrawToken(ref SyntheticRandom random, ReadOnlySpan<double> aspect, Span<double> scratch, Span<float> destination)
    {
        int d = Options.Dimension;
        double scale = Options.TokenNoise / Math.Sqrt(d);
        for (int c = 0; c < d; c++)
        {
            scratch[c] = aspect[c] + (scale * random.NextGaussian());
        }

        Normalize(scratch);
        for (int c = 0; c < d; c++)
        {
            destination[c] = (float)scratch[c];
        }
    }

    /// <summary>Scales to unit length with a sequential double sum (no SIMD reduction, so the result does not depend on
    /// the instruction set); a zero vector (probability 0) becomes the first basis vector.</summary>
    private static void Normalize(Span<double> vector)
    {
        double sum = 0;
        foreach (double value in vector)
        {
            sum += value * value;
        }

        if (sum == 0)
        {
            vector.Clear();
            vector[0] = 1;
            return;
        }

        double norm = Math.Sqrt(sum);
        for (int i = 0; i < vector.Length; i++)
        {
            vector[i] /= norm;
        }
    }

    private static void CheckIndex(int index, int count, string paramName)
    {
        if ((uint)index >= (uint)count)
        {
            throw new ArgumentOutOfRangeException(paramName, index, $"Index {index} is outside [0, {count}).");
        }
    }

    private static void CheckLength(int length, int required, string paramName)
    {
        if (length < required)
        {
            throw new ArgumentException($"{paramName} length {length} is shorter than the required {required}.", paramName);
        }
    }
}
