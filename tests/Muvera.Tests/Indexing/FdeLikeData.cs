// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Numerics.Tensors;
using System.Threading;
using System.Threading.Tasks;

namespace Muvera.Tests.Indexing;

/// <summary>
/// FDE-like vectors for the backends' recall tests: clustered synthetic multi-vector documents and queries encoded
/// with the recommended (20, 5, 16) FDE (10,240 floats), plus the exact top 100 of every query by brute force. Built
/// once per test run (it costs a few seconds) and shared by every backend's test.
/// </summary>
/// <remarks>
/// Generator (fixed seeds): 400 topic centres, unit Gaussian directions in 128-d. A document picks a topic and draws
/// 32 tokens, each normalise(centre + 0.8·g/√128) with g a standard Gaussian vector; a query picks a topic and draws 16
/// tokens the same way. Documents are encoded with <see cref="FdeEncoder.EncodeDocuments(System.ReadOnlySpan{float}, System.ReadOnlySpan{int}, System.Span{float})"/>
/// (with fill) and queries with EncodeQueries, so inner products approximate Chamfer similarity as in MUVERA.
/// </remarks>
public sealed class FdeLikeData
{
    /// <summary>Documents in the shared set.</summary>
    public const int DocumentCount = 20_000;

    /// <summary>Queries in the shared set.</summary>
    public const int QueryCount = 100;

    /// <summary>Exact neighbours kept per query.</summary>
    public const int TruthDepth = 100;

    private const int TokenDimension = 128;
    private const int Topics = 400;

    private static readonly Lazy<FdeLikeData> s_shared = new(() => new FdeLikeData(), LazyThreadSafetyMode.ExecutionAndPublication);

    private FdeLikeData()
    {
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(TokenDimension));
        Dimension = encoder.OutputDimension;
        var random = new Random(2024);
        float[] centres = Gaussian(random, Topics * TokenDimension, 1f);
        for (int t = 0; t < Topics; t++)
        {
            Normalize(centres.AsSpan(t * TokenDimension, TokenDimension));
        }

        Documents = Encode(encoder, random, centres, DocumentCount, 32, document: true);
        Queries = Encode(encoder, random, centres, QueryCount, 16, document: false);

        Truth = new int[QueryCount * TruthDepth];
        Parallel.For(0, QueryCount, q =>
        {
            ReadOnlySpan<float> query = Queries.AsSpan(q * Dimension, Dimension);
            var scores = new float[DocumentCount];
            var ids = new int[DocumentCount];
            for (int i = 0; i < DocumentCount; i++)
            {
                scores[i] = -TensorPrimitives.Dot(query, Documents.AsSpan(i * Dimension, Dimension));
                ids[i] = i;
            }

            Array.Sort(scores, ids);
            ids.AsSpan(0, TruthDepth).CopyTo(Truth.AsSpan(q * TruthDepth));
        });
    }

    /// <summary>The shared instance, built on first use.</summary>
    public static FdeLikeData Shared => s_shared.Value;

    /// <summary>The FDE length (10,240).</summary>
    public int Dimension { get; }

    /// <summary><see cref="DocumentCount"/> document FDEs, row-major.</summary>
    public float[] Documents { get; }

    /// <summary><see cref="QueryCount"/> query FDEs, row-major.</summary>
    public float[] Queries { get; }

    /// <summary>Per query, the ids of its <see cref="TruthDepth"/> highest inner products, best first.</summary>
    public int[] Truth { get; }

    /// <summary>Mean share of the exact top <paramref name="k"/> found in each query's first k results.</summary>
    /// <param name="results">Per query, k results (row-major, as SearchBatch writes them).</param>
    /// <param name="k">The depth (at most <see cref="TruthDepth"/>).</param>
    public double Recall(ReadOnlySpan<ScoredId> results, int k)
    {
        long hits = 0;
        var truth = new System.Collections.Generic.HashSet<int>();
        for (int q = 0; q < QueryCount; q++)
        {
            truth.Clear();
            foreach (int id in Truth.AsSpan(q * TruthDepth, k))
            {
                truth.Add(id);
            }

            foreach (ScoredId result in results.Slice(q * k, k))
            {
                hits += truth.Contains(result.Id) ? 1 : 0;
            }
        }

        return hits / (double)(QueryCount * k);
    }

    private static float[] Encode(FdeEncoder encoder, Random random, float[] centres, int count, int tokens, bool document)
    {
        float[] values = new float[count * tokens * TokenDimension];
        for (int i = 0; i < count; i++)
        {
            int topic = random.Next(Topics);
            for (int t = 0; t < tokens; t++)
            {
                Span<float> token = values.AsSpan(((i * tokens) + t) * TokenDimension, TokenDimension);
                float[] noise = Gaussian(random, TokenDimension, 0.8f / MathF.Sqrt(TokenDimension));
                for (int j = 0; j < TokenDimension; j++)
                {
                    token[j] = centres[(topic * TokenDimension) + j] + noise[j];
                }

                Normalize(token);
            }
        }

        int[] counts = new int[count];
        counts.AsSpan().Fill(tokens);
        float[] encoded = new float[count * encoder.OutputDimension];
        if (document)
        {
            encoder.EncodeDocuments(values, counts, encoded);
        }
        else
        {
            encoder.EncodeQueries(values, counts, encoded);
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

    private static void Normalize(Span<float> vector)
    {
        float norm = TensorPrimitives.Norm(vector);
        TensorPrimitives.Divide(vector, norm, vector);
    }
}
