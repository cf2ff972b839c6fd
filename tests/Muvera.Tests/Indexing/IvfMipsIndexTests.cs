// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Muvera.Indexing;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Indexing;

/// <summary><see cref="IvfMipsIndex"/> beyond the conformance suite: lists against a double-precision nearest-centroid
/// reference, searches against a brute-force reference over the probed lists' reconstructions, every list probed equal
/// to the quantized flat index, filters, save/load and corrupt files.</summary>
[TestFixture]
public sealed class IvfMipsIndexTests
{
    private const int Dimension = 48;
    private const int Lists = 12;

    private static readonly FdeStorage[] s_storages =
    [
        FdeStorage.ProductQuantization(4, 4) with { TrainingRows = 300 },
        FdeStorage.ProductQuantization(4, 4).WithRefinement(4, 2, 3) with { TrainingRows = 300 },
        FdeStorage.ProductQuantization(8, 8) with { TrainingRows = 300 },
        FdeStorage.Int8 with { TrainingRows = 300 },
    ];

    private string _directory = "";

    public static FdeStorage[] Storages => s_storages;

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "muvera-ivf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [TestCaseSource(nameof(Storages))]
    public void Untrained_SearchesExactly_ThenTrainsAtTrainingRows_AndEveryVectorIsInItsNearestList(FdeStorage storage)
    {
        float[] vectors = Vectors(700, seed: 1);
        using var index = new IvfMipsIndex(Dimension, storage, Lists);
        using var exact = new FlatMipsIndex(Dimension);
        Assert.That(index.TrainingRows, Is.EqualTo(300));
        index.Add(vectors.AsSpan(0, 200 * Dimension));
        exact.Add(vectors.AsSpan(0, 200 * Dimension));
        Assert.That(index.IsTrained, Is.False);
        float[] query = Vectors(1, seed: 2);
        var got = new ScoredId[10];
        var expected = new ScoredId[10];
        index.Search(query, 10, got);
        exact.Search(query, 10, expected);
        Assert.That(got, Is.EqualTo(expected), "before training the index is exact");

        index.Add(vectors.AsSpan(200 * Dimension, 300 * Dimension));
        index.Add(vectors.AsSpan(500 * Dimension));
        Assert.Multiple(() =>
        {
            Assert.That(index.IsTrained, Is.True);
            Assert.That(index.Count, Is.EqualTo(700));
            Assert.That(index.ListSizes.Sum(), Is.EqualTo(700));
            Assert.That(index.ListSizes.Count(size => size > 0), Is.GreaterThan(Lists / 2), "the clustered data spreads over the lists");
        });

        float[] centroids = index.Centroids.ToArray();
        for (int id = 0; id < 700; id++)
        {
            Assert.That(index.ListOf(id), Is.EqualTo(NearestReference(vectors.AsSpan(id * Dimension, Dimension), centroids)), $"vector {id}");
        }
    }

    [TestCaseSource(nameof(Storages))]
    public void Search_IsTheBruteForceTopKOfTheProbedListsReconstructions(FdeStorage storage)
    {
        float[] vectors = Vectors(900, seed: 3);
        using var index = new IvfMipsIndex(Dimension, storage, Lists);
        index.Add(vectors);
        float[] centroids = index.Centroids.ToArray();
        float[] decoded = new float[900 * Dimension];
        for (int id = 0; id < 900; id++)
        {
            index.CopyVector(id, decoded.AsSpan(id * Dimension, Dimension));
        }

        float[] queries = Vectors(20, seed: 4);
        foreach (int probes in new[] { 1, 3, Lists, Lists + 5 })
        {
            for (int q = 0; q < 20; q++)
            {
                float[] query = queries.AsSpan(q * Dimension, Dimension).ToArray();
                HashSet<int> probed = ProbedReference(query, centroids, probes);
                var got = new ScoredId[10];
                int found = index.Search(query, 10, got, probes, null);
                int[] candidates = Enumerable.Range(0, 900).Where(id => probed.Contains(index.ListOf(id))).ToArray();
                Assert.That(found, Is.EqualTo(Math.Min(10, candidates.Length)));
                int[] reference = candidates.OrderByDescending(id => Dot(query, decoded.AsSpan(id * Dimension, Dimension))).ThenBy(id => id).Take(10).ToArray();
                for (int i = 0; i < found; i++)
                {
                    Assert.That(probed, Does.Contain(index.ListOf(got[i].Id)), $"probes {probes}, query {q}: hit {i} is in a probed list");
                    if (storage.Kind == FdeStorageKind.Int8)
                    {
                        // int8 scans score the reconstruction with a quantized query: within 1% of the double-precision product.
                        double exact = Dot(query, decoded.AsSpan(got[i].Id * Dimension, Dimension));
                        Assert.That(got[i].Score, Is.EqualTo(exact).Within(0.01 * Math.Abs(exact) + 1e-3), $"probes {probes}, query {q}, rank {i}");
                    }
                }

                Assert.That(got.Take(found).Select(h => h.Score), Is.Ordered.Descending);
                if (storage.Kind == FdeStorageKind.Int8)
                {
                    Assert.That(got.Take(found).Select(h => h.Id).Intersect(reference).Count(), Is.GreaterThanOrEqualTo(found * 7 / 10),
                        $"probes {probes}, query {q}: the hits are mostly the reference's top k over the probed lists");
                }
            }
        }
    }

    [TestCaseSource(nameof(Storages))]
    public void EveryListProbed_EqualsTheQuantizedFlatIndexWithTheSameTraining(FdeStorage storage)
    {
        float[] vectors = Vectors(800, seed: 5);
        float[] sample = vectors.AsSpan(0, 400 * Dimension).ToArray();
        using var ivf = new IvfMipsIndex(Dimension, storage, Lists) { Probes = Lists };
        using var flat = new QuantizedMipsIndex(Dimension, storage);
        ivf.Train(sample);
        flat.Train(sample);
        ivf.Add(vectors);
        flat.Add(vectors);
        float[] queries = Vectors(15, seed: 6);
        for (int q = 0; q < 15; q++)
        {
            var got = new ScoredId[20];
            var expected = new ScoredId[20];
            ivf.Search(queries.AsSpan(q * Dimension, Dimension), 20, got);
            flat.Search(queries.AsSpan(q * Dimension, Dimension), 20, expected);
            Assert.That(got, Is.EqualTo(expected), $"query {q}");
        }
    }

    [Test]
    public void Filter_ReturnsOnlyAllowedIds_AndWidensTheProbesUntilKAreFound()
    {
        float[] vectors = Vectors(900, seed: 7);
        using var index = new IvfMipsIndex(Dimension, FdeStorage.Int8 with { TrainingRows = 300 }, Lists) { Probes = 1 };
        index.Add(vectors);
        var filter = MipsFilter.FromPredicate(900, id => id % 37 == 0);
        float[] query = Vectors(1, seed: 8);
        var got = new ScoredId[10];
        int found = index.Search(query, 10, got, 1, filter);
        Assert.Multiple(() =>
        {
            Assert.That(found, Is.EqualTo(10), "25 vectors are allowed; one list holds fewer, so more lists are scanned");
            Assert.That(got.All(h => h.Id % 37 == 0), Is.True);
        });
    }

    [TestCaseSource(nameof(Storages))]
    public void SaveLoad_RoundTripsSearchesBitForBit_AndLaterAddsMatch(FdeStorage storage)
    {
        float[] vectors = Vectors(900, seed: 9);
        using var index = new IvfMipsIndex(Dimension, storage, Lists) { Probes = 5 };
        index.Add(vectors.AsSpan(0, 600 * Dimension));
        string path = Path.Combine(_directory, "fde.ivf");
        index.Save(path);
        using IvfMipsIndex loaded = IvfMipsIndex.Load(path);
        Assert.That(loaded.Probes, Is.EqualTo(5));
        index.Add(vectors.AsSpan(600 * Dimension));
        loaded.Add(vectors.AsSpan(600 * Dimension));
        float[] queries = Vectors(10, seed: 10);
        for (int q = 0; q < 10; q++)
        {
            var a = new ScoredId[15];
            var b = new ScoredId[15];
            index.Search(queries.AsSpan(q * Dimension, Dimension), 15, a);
            loaded.Search(queries.AsSpan(q * Dimension, Dimension), 15, b);
            Assert.That(b, Is.EqualTo(a), $"query {q}");
        }

        for (int id = 0; id < 900; id += 97)
        {
            Assert.That(loaded.Stores(id, vectors.AsSpan(id * Dimension, Dimension)), Is.True, $"vector {id}");
        }
    }

    [Test]
    public void Load_RejectsCorruptAndTruncatedFiles_NamingThePart()
    {
        float[] vectors = Vectors(600, seed: 11);
        using var index = new IvfMipsIndex(Dimension, FdeStorage.ProductQuantization(4, 4) with { TrainingRows = 300 }, Lists);
        index.Add(vectors);
        string path = Path.Combine(_directory, "fde.ivf");
        index.Save(path);
        byte[] bytes = File.ReadAllBytes(path);

        byte[] codes = (byte[])bytes.Clone();
        codes[^5] ^= 0x5A;
        File.WriteAllBytes(path, codes);
        Assert.That(() => IvfMipsIndex.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("codes checksum mismatch"));

        byte[] header = (byte[])bytes.Clone();
        header[30] ^= 1;
        File.WriteAllBytes(path, header);
        Assert.That(() => IvfMipsIndex.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("header checksum"));

        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length - 100).ToArray());
        Assert.That(() => IvfMipsIndex.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("truncated"));

        File.WriteAllBytes(path, [.. bytes, 0]);
        Assert.That(() => IvfMipsIndex.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("trailing"));
    }

    [Test]
    public void Arguments_AreCheckedWithTheirNames()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new IvfMipsIndex(Dimension, FdeStorage.Float32, Lists), Throws.ArgumentException.With.Message.Contains("not quantized"));
            Assert.That(() => new IvfMipsIndex(Dimension, FdeStorage.Int8, 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("lists"));
            Assert.That(() => new IvfMipsBackend(FdeStorage.Int8, IvfMipsIndex.MaxLists + 1), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("lists"));
            Assert.That(() => new IvfMipsBackend { Probes = 0 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("Probes"));
            Assert.That(() => new MuveraSearchOptions { Probes = -1 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("Probes"));
        });
        using var index = new IvfMipsIndex(Dimension, FdeStorage.Int8, Lists);
        index.Add(Vectors(5, seed: 12));
        Assert.That(() => index.Search(new float[Dimension], 3, new ScoredId[3], 0, null),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("probes"));
    }

    // Nearest centroid in double precision, ties to the lower list.
    private static int NearestReference(ReadOnlySpan<float> vector, float[] centroids)
    {
        int best = 0;
        double bestDistance = double.PositiveInfinity;
        for (int c = 0; c < centroids.Length / Dimension; c++)
        {
            double distance = 0;
            for (int j = 0; j < Dimension; j++)
            {
                double d = vector[j] - (double)centroids[(c * Dimension) + j];
                distance += d * d;
            }

            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = c;
            }
        }

        return best;
    }

    // The lists with the largest inner product with the query (double precision).
    private static HashSet<int> ProbedReference(ReadOnlySpan<float> query, float[] centroids, int probes)
    {
        var scores = new List<(int List, double Score)>();
        for (int c = 0; c < centroids.Length / Dimension; c++)
        {
            scores.Add((c, Dot(query, centroids.AsSpan(c * Dimension, Dimension))));
        }

        return [.. scores.OrderByDescending(s => s.Score).ThenBy(s => s.List).Take(probes).Select(s => s.List)];
    }

    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += (double)a[i] * b[i];
        }

        return sum;
    }

    // Clustered: 20 centres plus noise, so the lists have structure to follow.
    private static float[] Vectors(int count, int seed)
    {
        var random = new Random(seed);
        float[] centres = TestVectors.Gaussian(new Random(2000), 20 * Dimension);
        float[] vectors = new float[count * Dimension];
        for (int i = 0; i < count; i++)
        {
            int centre = random.Next(20);
            for (int j = 0; j < Dimension; j++)
            {
                vectors[(i * Dimension) + j] = centres[(centre * Dimension) + j] + (float)(0.3 * TestVectors.NextGaussian(random));
            }
        }

        return vectors;
    }
}
