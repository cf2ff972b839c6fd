// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;

namespace Muvera.VectorData.Tests.Fixtures;

/// <summary>A record with a data property of every supported type.</summary>
public sealed class Product
{
    public const int Dimension = 8;

    [VectorStoreKey]
    public string Id { get; set; } = "";

    [VectorStoreData]
    public string? Category { get; set; }

    [VectorStoreData(StorageName = "year_made")]
    public int Year { get; set; }

    [VectorStoreData]
    public long? Views { get; set; }

    [VectorStoreData]
    public double Rating { get; set; }

    [VectorStoreData]
    public float Weight { get; set; }

    [VectorStoreData]
    public bool InStock { get; set; }

    [VectorStoreData]
    public DateTime Created { get; set; }

    [VectorStoreData]
    public DateTimeOffset Updated { get; set; }

    [VectorStoreData]
    public Guid Owner { get; set; }

    [VectorStoreVector(Dimension, DistanceFunction = MuveraDistanceFunction.MaxSim)]
    public MultiVectorEmbedding? Embedding { get; set; }
}

/// <summary>A record keyed by Guid (auto-generated when empty).</summary>
public sealed class GuidRecord
{
    [VectorStoreKey]
    public Guid Key { get; set; }

    [VectorStoreData]
    public string Name { get; set; } = "";

    [VectorStoreVector(4)]
    public MultiVectorEmbedding? Vectors { get; set; }
}

/// <summary>A record keyed by int.</summary>
public sealed class IntRecord
{
    [VectorStoreKey]
    public int Key { get; set; }

    [VectorStoreData]
    public int Rank { get; set; }

    [VectorStoreVector(4)]
    public MultiVectorEmbedding? Vectors { get; set; }
}

/// <summary>A record whose vector property is text, encoded by the collection's generator.</summary>
public sealed class Note
{
    [VectorStoreKey]
    public string Id { get; set; } = "";

    [VectorStoreData]
    public string Text { get; set; } = "";

    [VectorStoreVector(FakeGenerator.Dimension)]
    public string Embedding => Text;
}

/// <summary>A record with an unsupported key type.</summary>
public sealed class DateKeyed
{
    [VectorStoreKey]
    public DateTime Key { get; set; }

    [VectorStoreVector(4)]
    public MultiVectorEmbedding? Vectors { get; set; }
}

/// <summary>A record with an unsupported distance function.</summary>
public sealed class CosineRecord
{
    [VectorStoreKey]
    public string Id { get; set; } = "";

    [VectorStoreVector(4, DistanceFunction = DistanceFunction.CosineSimilarity)]
    public MultiVectorEmbedding? Vectors { get; set; }
}

/// <summary>A record with an unsupported data property type.</summary>
public sealed class DecimalRecord
{
    [VectorStoreKey]
    public string Id { get; set; } = "";

    [VectorStoreData]
    public decimal Price { get; set; }

    [VectorStoreVector(4)]
    public MultiVectorEmbedding? Vectors { get; set; }
}

/// <summary>Deterministic text → multi-vector generator: each word becomes a vector from its hash, so texts sharing
/// words score higher. Records the input kind of every call.</summary>
public sealed class FakeGenerator : IEmbeddingGenerator<string, MultiVectorEmbedding>
{
    public const int Dimension = 16;

    public List<string?> InputKinds { get; } = [];

    public Task<GeneratedEmbeddings<MultiVectorEmbedding>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (InputKinds)
        {
            InputKinds.Add(options?.AdditionalProperties?.GetValueOrDefault(MultiVectorEmbedding.InputKindPropertyName) as string);
        }

        var result = new GeneratedEmbeddings<MultiVectorEmbedding>();
        foreach (string text in values)
        {
            string[] words = text.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            float[] vectors = new float[words.Length * Dimension];
            for (int w = 0; w < words.Length; w++)
            {
                var random = new Random(StableHash(words[w]));
                double norm = 0;
                for (int d = 0; d < Dimension; d++)
                {
                    float v = (float)(random.NextDouble() * 2 - 1);
                    vectors[w * Dimension + d] = v;
                    norm += v * v;
                }

                for (int d = 0; d < Dimension; d++)
                {
                    vectors[w * Dimension + d] /= (float)Math.Sqrt(norm);
                }
            }

            result.Add(new MultiVectorEmbedding(new ReadOnlyMultiVector(vectors, Dimension)));
        }

        return Task.FromResult(result);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    private static int StableHash(string word)
    {
        int hash = 17;
        foreach (char c in word)
        {
            hash = unchecked(hash * 31 + c);
        }

        return hash;
    }
}

/// <summary>Random data and a temporary folder per test.</summary>
public static class TestData
{
    public static string NewDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "muvera-vectordata-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    public static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    public static MultiVectorEmbedding RandomEmbedding(Random random, int dimension, int minTokens = 2, int maxTokens = 7)
    {
        int count = random.Next(minTokens, maxTokens + 1);
        float[] values = new float[count * dimension];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }

        return new MultiVectorEmbedding(new ReadOnlyMultiVector(values, dimension));
    }

    /// <summary>Products with varied, partly null values: categories a..e, years 2000..2029.</summary>
    public static List<Product> Products(int count, int seed)
    {
        var random = new Random(seed);
        string?[] categories = ["a", "b", "c", "d", "e", null];
        var owners = new[] { Guid.Parse("11111111-1111-1111-1111-111111111111"), Guid.Parse("22222222-2222-2222-2222-222222222222") };
        var products = new List<Product>(count);
        for (int i = 0; i < count; i++)
        {
            products.Add(new Product
            {
                Id = "p" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture),
                Category = categories[random.Next(categories.Length)],
                Year = 2000 + random.Next(30),
                Views = random.Next(4) == 0 ? null : random.Next(10_000),
                Rating = Math.Round(random.NextDouble() * 5, 2),
                Weight = (float)Math.Round(random.NextDouble() * 10, 1),
                InStock = random.Next(2) == 0,
                Created = new DateTime(2020, 1, 1).AddDays(random.Next(1000)),
                Updated = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.FromHours(random.Next(-5, 6))).AddHours(random.Next(10_000)),
                Owner = owners[random.Next(2)],
                Embedding = RandomEmbedding(random, Product.Dimension),
            });
        }

        return products;
    }

    /// <summary>Exact Chamfer in double precision: Σ over query vectors of the largest inner product.</summary>
    public static double Chamfer(ReadOnlyMultiVector query, ReadOnlyMultiVector document)
    {
        double total = 0;
        for (int q = 0; q < query.Count; q++)
        {
            double best = double.NegativeInfinity;
            for (int d = 0; d < document.Count; d++)
            {
                double dot = 0;
                for (int i = 0; i < query.Dimension; i++)
                {
                    dot += (double)query[q][i] * document[d][i];
                }

                best = Math.Max(best, dot);
            }

            total += best;
        }

        return total;
    }

    public static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (T item in items)
        {
            list.Add(item);
        }

        return list;
    }
}
