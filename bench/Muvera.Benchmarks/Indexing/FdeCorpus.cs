// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Numerics.Tensors;
using System.Threading.Tasks;
using Muvera.Indexing;

namespace Muvera.Benchmarks.Indexing;

/// <summary>
/// FDE-like vectors for the index benchmarks: clustered synthetic multi-vector documents and queries encoded with the
/// recommended (20, 5, 16) FDE (10,240 floats), the same generator as the tests' <c>FdeLikeData</c> at any size, plus
/// every query's exact top 100 (flat search). Built once and cached under the temp folder (<c>muvera-bench/</c>), since
/// several benchmark processes need the same gigabytes.
/// </summary>
/// <remarks>Generator: 400 topic centres (unit Gaussian directions in 128-d); a document picks a topic and draws 32
/// tokens normalise(centre + 0.8·g/√128); a query draws 16 the same way. Documents are chunked by 1,000 with a seed per
/// chunk, so the corpus does not depend on the thread count.</remarks>
internal sealed class FdeCorpus
{
    public const int QueryCount = 100;
    public const int TruthDepth = 100;
    private const int TokenDimension = 128;
    private const int Topics = 400;
    private const int Chunk = 1000;

    private FdeCorpus(FlatMipsIndex documents, float[] queries, int[] truth)
    {
        Documents = documents;
        Queries = queries;
        Truth = truth;
    }

    /// <summary>The documents' FDEs in an exact float32 index (ids 0..count−1).</summary>
    public FlatMipsIndex Documents { get; }

    /// <summary><see cref="QueryCount"/> query FDEs, row-major.</summary>
    public float[] Queries { get; }

    /// <summary>Per query, its exact top <see cref="TruthDepth"/> ids.</summary>
    public int[] Truth { get; }

    public int Dimension => Documents.Dimension;

    public static string CacheDirectory
    {
        get
        {
            string directory = Path.Combine(Path.GetTempPath(), "muvera-bench");
            Directory.CreateDirectory(directory);
            return directory;
        }
    }

    /// <summary>Loads the cached corpus of <paramref name="count"/> documents, building and caching it first if needed.</summary>
    public static FdeCorpus Get(int count)
    {
        string prefix = Path.Combine(CacheDirectory, $"fde-corpus-v1-{count}");
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(TokenDimension));
        float[] centres = Centres();
        float[] queries = Encode(encoder, centres, QueryCount, 16, seed: 1_000_000, document: false);
        FlatMipsIndex documents;
        if (File.Exists(prefix + ".flat"))
        {
            documents = FlatMipsIndex.Load(prefix + ".flat");
        }
        else
        {
            documents = new FlatMipsIndex(encoder.OutputDimension);
            documents.Reserve(count);
            for (int start = 0; start < count; start += Chunk)
            {
                documents.Add(Encode(encoder, centres, Math.Min(Chunk, count - start), 32, seed: start / Chunk, document: true));
            }

            documents.Save(prefix + ".flat");
        }

        int[] truth;
        if (File.Exists(prefix + ".truth"))
        {
            byte[] bytes = File.ReadAllBytes(prefix + ".truth");
            truth = new int[bytes.Length / sizeof(int)];
            Buffer.BlockCopy(bytes, 0, truth, 0, bytes.Length);
        }
        else
        {
            var results = new ScoredId[QueryCount * TruthDepth];
            documents.SearchBatch(queries, TruthDepth, results);
            truth = Array.ConvertAll(results, r => r.Id);
            byte[] bytes = new byte[truth.Length * sizeof(int)];
            Buffer.BlockCopy(truth, 0, bytes, 0, bytes.Length);
            File.WriteAllBytes(prefix + ".truth", bytes);
        }

        return new FdeCorpus(documents, queries, truth);
    }

    /// <summary>Mean share of each query's exact top <paramref name="k"/> among its first k results.</summary>
    public double Recall(ReadOnlySpan<ScoredId> results, int k)
    {
        long hits = 0;
        for (int q = 0; q < QueryCount; q++)
        {
            ReadOnlySpan<int> truth = Truth.AsSpan(q * TruthDepth, k);
            foreach (ScoredId result in results.Slice(q * k, k))
            {
                hits += truth.Contains(result.Id) ? 1 : 0;
            }
        }

        return hits / (double)(QueryCount * k);
    }

    /// <summary>Copies documents [<paramref name="start"/>, start + count) out of the flat index (to build another backend).</summary>
    public float[] DocumentVectors(int start, int count)
    {
        int d = Dimension;
        float[] vectors = new float[(long)count * d];
        for (int i = 0; i < count; i++)
        {
            Documents.CopyVector(start + i, vectors.AsSpan(i * d, d));
        }

        return vectors;
    }

    private static float[] Centres()
    {
        var random = new Random(2024);
        float[] centres = Gaussian(random, Topics * TokenDimension, 1f);
        for (int t = 0; t < Topics; t++)
        {
            Span<float> centre = centres.AsSpan(t * TokenDimension, TokenDimension);
            TensorPrimitives.Divide(centre, TensorPrimitives.Norm(centre), centre);
        }

        return centres;
    }

    private static float[] Encode(FdeEncoder encoder, float[] centres, int count, int tokens, int seed, bool document)
    {
        var random = new Random(seed);
        float[] values = new float[count * tokens * TokenDimension];
        for (int i = 0; i < count; i++)
        {
            int topic = random.Next(Topics);
            for (int t = 0; t < tokens; t++)
            {
                Span<float> token = values.AsSpan(((i * tokens) + t) * TokenDimension, TokenDimension);
                float[] noise = Gaussian(random, TokenDimension, 0.8f / MathF.Sqrt(TokenDimension));
                TensorPrimitives.Add(centres.AsSpan(topic * TokenDimension, TokenDimension), noise, token);
                TensorPrimitives.Divide(token, TensorPrimitives.Norm(token), token);
            }
        }

        int[] counts = new int[count];
        counts.AsSpan().Fill(tokens);
        float[] encoded = new float[count * encoder.OutputDimension];
        var options = new ParallelOptions();
        if (document)
        {
            encoder.EncodeDocuments(values, counts, encoded, options);
        }
        else
        {
            encoder.EncodeQueries(values, counts, encoded, options);
        }

        return encoded;
    }

    private static float[] Gaussian(Random random, int count, float scale)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = scale * (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return values;
    }
}
