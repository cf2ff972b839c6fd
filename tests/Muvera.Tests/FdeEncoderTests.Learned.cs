// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;
using Muvera.Training;

namespace Muvera.Tests;

/// <summary><see cref="FdeEncoder"/> with learned (k-means) partitions and normalized document averages: training is
/// deterministic across SIMD widths and thread counts, encodings are bit-identical at every width and after a
/// save/load of the partitions, and the function is the one documented (nearest centroid by inner product, sums,
/// rescaled averages, fill with the token nearest to an empty partition's centroid).</summary>
public sealed partial class FdeEncoderTests
{
    public static IEnumerable<TestCaseData> LearnedWidthConfigs
    {
        get
        {
            foreach (int d in new[] { 1, 7, 96, 130 })
            {
                foreach (string config in new[] { "identity", "ams", "dense", "final", "average" })
                {
                    yield return new TestCaseData(config, d).SetArgDisplayNames(config, d.ToString());
                }
            }
        }
    }

    [Test]
    public void TrainLearned_EveryWidthAndThreadCount_BitIdenticalPartitions([Values(7, 96)] int dimension)
    {
        FdeOptions options = LearnedOptions(dimension, "ams");
        ReadOnlyMultiVector[] documents = ClusteredDocuments(dimension, 40, seed: dimension);
        FdePartitions expected = FdePartitions.TrainSequential(options, documents, SimdWidth.Scalar);
        foreach (SimdWidth width in s_widths.Skip(1))
        {
            FdePartitions partitions = FdePartitions.TrainSequential(options, documents, width);
            AssertSamePartitions(partitions, expected, width.ToString());
        }

        foreach (int degree in new[] { 1, 2, 3, -1 })
        {
            FdeEncoder encoder = FdeEncoder.Train(options, documents, new ParallelOptions { MaxDegreeOfParallelism = degree });
            AssertSamePartitions(encoder.Partitions!, expected, $"{degree} threads");
        }
    }

    [Test]
    public void TrainLearned_OtherSeed_OtherPartitionsAndSameSeedSamePartitions()
    {
        ReadOnlyMultiVector[] documents = ClusteredDocuments(16, 30, seed: 4);
        FdeOptions options = LearnedOptions(16, "ams");
        FdePartitions a = FdeEncoder.Train(options, documents).Partitions!;
        FdePartitions b = FdeEncoder.Train(options, documents).Partitions!;
        FdePartitions c = FdeEncoder.Train(options with { Seed = options.Seed + 1 }, documents).Partitions!;
        Assert.Multiple(() =>
        {
            Assert.That(b.Checksum, Is.EqualTo(a.Checksum));
            Assert.That(c.Checksum, Is.Not.EqualTo(a.Checksum));
            Assert.That(a.Repetitions, Is.EqualTo(options.Repetitions));
            Assert.That(a.Count, Is.EqualTo(options.PartitionCount));
            Assert.That(a.Dimension, Is.EqualTo(16));
        });
    }

    [Test]
    public void TrainLearned_Centroids_AreUnitVectors()
    {
        FdeOptions options = LearnedOptions(32, "ams");
        FdePartitions partitions = FdeEncoder.Train(options, ClusteredDocuments(32, 30, seed: 5)).Partitions!;
        for (int r = 0; r < partitions.Repetitions; r++)
        {
            ReadOnlySpan<float> centroids = partitions.GetCentroids(r);
            for (int b = 0; b < partitions.Count; b++)
            {
                double norm = Math.Sqrt(TestVectors.Dot(centroids.Slice(b * 32, 32), centroids.Slice(b * 32, 32)));
                Assert.That(norm, Is.EqualTo(1).Within(1e-5), $"repetition {r} centroid {b}");
            }
        }
    }

    [TestCaseSource(nameof(LearnedWidthConfigs))]
    public void EncodeLearned_EveryWidth_BitIdentical(string config, int dimension)
    {
        FdeOptions options = LearnedOptions(dimension, config);
        FdeEncoder encoder = FdeEncoder.Train(options, ClusteredDocuments(dimension, 30, seed: 100 + dimension));
        var random = new System.Random(3000 + dimension);
        float[] expected = new float[encoder.OutputDimension];
        float[] actual = new float[encoder.OutputDimension];
        foreach (int n in (int[])[.. Enumerable.Range(0, 41), 80, 200])
        {
            float[] tokens = TestVectors.Gaussian(random, n * dimension);
            foreach (bool document in new[] { false, true })
            {
                encoder.Encode(tokens, expected, document, SimdWidth.Scalar);
                foreach (SimdWidth width in s_widths.Skip(1))
                {
                    Array.Fill(actual, float.NaN);
                    encoder.Encode(tokens, actual, document, width);
                    TestVectors.AssertBitIdentical(actual, expected, $"{config} d={dimension} n={n} {(document ? "document" : "query")} {width}");
                }
            }
        }
    }

    [Test]
    public void ComputePartitionIdsLearned_EveryWidth_EqualsNearestCentroidOfCentroidSet([Values(7, 96, 130)] int dimension)
    {
        FdeOptions options = LearnedOptions(dimension, "identity") with { SimHashProjections = 5 };
        FdeEncoder encoder = FdeEncoder.Train(options, ClusteredDocuments(dimension, 30, seed: dimension));
        var random = new System.Random(dimension);
        foreach (int n in new[] { 1, 15, 16, 17, 80 })
        {
            float[] tokens = TestVectors.Gaussian(random, n * dimension);
            int r = options.Repetitions;
            int[] expected = new int[r * n];
            for (int rep = 0; rep < r; rep++)
            {
                var set = new CentroidSet(encoder.Partitions!.GetCentroids(rep), dimension, KMeansMetric.InnerProduct);
                float[] scratch = new float[set.Columns];
                for (int t = 0; t < n; t++)
                {
                    expected[(rep * n) + t] = set.Nearest(SimdWidth.Scalar, tokens.AsSpan(t * dimension, dimension), scratch, out _);
                }
            }

            foreach (SimdWidth width in s_widths)
            {
                int[] actual = new int[r * n];
                encoder.ComputePartitionIds(tokens, actual, width);
                Assert.That(actual, Is.EqualTo(expected), $"n={n} {width}");
            }
        }
    }

    [Test]
    public void EncodeQueryLearned_Identity_SumsTokensPerNearestCentroid()
    {
        const int D = 24;
        FdeOptions options = LearnedOptions(D, "identity");
        FdeEncoder encoder = FdeEncoder.Train(options, ClusteredDocuments(D, 30, seed: 8));
        float[] tokens = TestVectors.UnitTokens(new System.Random(9), 50, D);
        float[] fde = encoder.EncodeQuery(new ReadOnlyMultiVector(tokens, D));
        double[] expected = new double[fde.Length];
        int partitions = options.PartitionCount;
        for (int r = 0; r < options.Repetitions; r++)
        {
            for (int t = 0; t < 50; t++)
            {
                int b = NearestCentroid(encoder.Partitions!.GetCentroids(r), tokens.AsSpan(t * D, D), partitions);
                for (int j = 0; j < D; j++)
                {
                    expected[(((r * partitions) + b) * D) + j] += tokens[(t * D) + j];
                }
            }
        }

        for (int i = 0; i < fde.Length; i++)
        {
            Assert.That(fde[i], Is.EqualTo(expected[i]).Within(1e-5), $"coordinate {i}");
        }
    }

    [Test]
    public void EncodeDocumentLearned_NormalizedAverage_IsTheAverageRescaledToTheTokensMeanLength()
    {
        const int D = 20;
        FdeOptions options = LearnedOptions(D, "identity") with { FillEmptyPartitions = false };
        FdeEncoder encoder = FdeEncoder.Train(options, ClusteredDocuments(D, 30, seed: 10));
        var random = new System.Random(11);

        // Tokens of several lengths, so that the mean length is not 1.
        float[] tokens = TestVectors.Gaussian(random, 60 * D, scale: 0.7);
        float[] fde = encoder.EncodeDocument(new ReadOnlyMultiVector(tokens, D));
        int partitions = options.PartitionCount;
        for (int r = 0; r < options.Repetitions; r++)
        {
            var members = new List<int>[partitions];
            for (int t = 0; t < 60; t++)
            {
                int b = NearestCentroid(encoder.Partitions!.GetCentroids(r), tokens.AsSpan(t * D, D), partitions);
                (members[b] ??= []).Add(t);
            }

            for (int b = 0; b < partitions; b++)
            {
                double[] sum = new double[D];
                double lengths = 0;
                foreach (int t in members[b] ?? [])
                {
                    lengths += Math.Sqrt(TestVectors.Dot(tokens.AsSpan(t * D, D), tokens.AsSpan(t * D, D)));
                    for (int j = 0; j < D; j++)
                    {
                        sum[j] += tokens[(t * D) + j];
                    }
                }

                double sumNorm = Math.Sqrt(sum.Sum(x => x * x));
                int count = members[b]?.Count ?? 0;
                for (int j = 0; j < D; j++)
                {
                    // Σx · Σ‖x‖ / (n · ‖Σx‖) / n · n: the mean's direction at the mean length; zeros when empty.
                    double expected = count == 0 ? 0 : sum[j] * lengths / (count * sumNorm);
                    float actual = fde[(((r * partitions) + b) * D) + j];
                    Assert.That(actual, Is.EqualTo(expected).Within(2e-5 * (1 + Math.Abs(expected))), $"repetition {r} partition {b} coordinate {j} ({count} tokens)");
                }

                if (count > 1)
                {
                    double blockNorm = Math.Sqrt(Enumerable.Range(0, D).Sum(j => Math.Pow(fde[(((r * partitions) + b) * D) + j], 2)));
                    Assert.That(blockNorm, Is.EqualTo(lengths / count).Within(1e-4), "the block is as long as the tokens on average");
                }
            }
        }
    }

    [Test]
    public void EncodeDocumentLearned_OneTokenPerPartition_EqualsPlainAverage()
    {
        // Single-token partitions are never rescaled, so both aggregations give the same bits for a one-token document.
        const int D = 16;
        FdeOptions normalized = LearnedOptions(D, "ams");
        FdeEncoder a = FdeEncoder.Train(normalized, ClusteredDocuments(D, 30, seed: 12));
        var b = new FdeEncoder(normalized with { DocumentAggregation = FdeDocumentAggregation.Average }, a.Partitions!);
        float[] token = TestVectors.UnitTokens(new System.Random(13), 1, D);
        TestVectors.AssertBitIdentical(a.EncodeDocument(new ReadOnlyMultiVector(token, D)), b.EncodeDocument(new ReadOnlyMultiVector(token, D)), "one token");
    }

    [Test]
    public void EncodeDocumentLearned_Fill_CopiesTheTokenNearestToTheEmptyPartitionsCentroid()
    {
        const int D = 12;
        FdeOptions options = LearnedOptions(D, "identity") with { DocumentAggregation = FdeDocumentAggregation.Average };
        FdeEncoder encoder = FdeEncoder.Train(options, ClusteredDocuments(D, 30, seed: 14));
        float[] tokens = TestVectors.UnitTokens(new System.Random(15), 3, D);
        float[] fde = encoder.EncodeDocument(new ReadOnlyMultiVector(tokens, D));
        int partitions = options.PartitionCount;
        for (int r = 0; r < options.Repetitions; r++)
        {
            ReadOnlySpan<float> centroids = encoder.Partitions!.GetCentroids(r);
            var hit = new HashSet<int>();
            for (int t = 0; t < 3; t++)
            {
                hit.Add(NearestCentroid(centroids, tokens.AsSpan(t * D, D), partitions));
            }

            for (int b = 0; b < partitions; b++)
            {
                if (hit.Contains(b))
                {
                    continue;
                }

                int best = 0;
                for (int t = 1; t < 3; t++)
                {
                    if (InnerProduct(centroids, b, tokens.AsSpan(t * D, D)) > InnerProduct(centroids, b, tokens.AsSpan(best * D, D)))
                    {
                        best = t;
                    }
                }

                TestVectors.AssertBitIdentical(fde.AsSpan((((r * partitions) + b) * D), D), tokens.AsSpan(best * D, D), $"repetition {r} empty partition {b}");
            }
        }
    }

    [Test]
    public void ConstructorLearned_NoPartitions_ThrowsNamingTrain()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => _ = new FdeEncoder(FdeOptions.CreateRecommended(64)))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("options"));
            Assert.That(e.Message, Does.Contain("KMeans").And.Contain("FdeEncoder.Train"));
        });
    }

    [Test]
    public void ConstructorLearned_PartitionsOfOtherShape_ThrowsNamingBothShapes()
    {
        FdeOptions options = LearnedOptions(16, "ams");
        FdePartitions partitions = FdeEncoder.Train(options, ClusteredDocuments(16, 20, seed: 16)).Partitions!;
        ArgumentException e = Assert.Throws<ArgumentException>(() => _ = new FdeEncoder(options with { Repetitions = options.Repetitions + 1 }, partitions))!;
        Assert.That(e.ParamName, Is.EqualTo("partitions"));
        Assert.That(e.Message, Does.Contain($"{options.Repetitions} repetitions").And.Contain($"{options.Repetitions + 1} ×"));
        Assert.Throws<ArgumentException>(() => _ = new FdeEncoder(options with { SimHashProjections = 2 }, partitions));
        Assert.Throws<ArgumentException>(() => _ = new FdeEncoder(options with { Dimension = 15 }, partitions));
        ArgumentException simHash = Assert.Throws<ArgumentException>(() => _ = new FdeEncoder(options with { Partitioning = FdePartitioning.SimHash }, partitions))!;
        Assert.That(simHash.Message, Does.Contain("SimHash"));
        Assert.Throws<ArgumentNullException>(() => _ = new FdeEncoder(options, (FdePartitions)null!));
    }

    [Test]
    public void TrainLearned_NoTokens_ThrowsArgumentException()
    {
        FdeOptions options = LearnedOptions(8, "ams");
        ArgumentException e = Assert.Throws<ArgumentException>(() => FdeEncoder.Train(options, [default, new ReadOnlyMultiVector(Array.Empty<float>(), 8)]))!;
        Assert.That(e.ParamName, Is.EqualTo("documents"));
        Assert.That(e.Message, Does.Contain("no token"));
        Assert.Throws<ArgumentException>(() => FdeEncoder.Train(options, []));
    }

    [Test]
    public void TrainLearned_BadDocuments_ThrowNamingTheDocument()
    {
        FdeOptions options = LearnedOptions(8, "ams");
        ReadOnlyMultiVector good = new(TestVectors.UnitTokens(new System.Random(1), 4, 8), 8);
        ArgumentException dimension = Assert.Throws<ArgumentException>(() => FdeEncoder.Train(options, [good, new ReadOnlyMultiVector(new float[9], 9)]))!;
        float[] bad = TestVectors.UnitTokens(new System.Random(2), 4, 8);
        bad[13] = float.NaN;
        ArgumentException value = Assert.Throws<ArgumentException>(() => FdeEncoder.Train(options, [good, good, new ReadOnlyMultiVector(bad, 8)]))!;
        Assert.Multiple(() =>
        {
            Assert.That(dimension.Message, Does.Contain("documents[1]").And.Contain("9").And.Contain("8"));
            Assert.That(value.Message, Does.Contain("documents[2]").And.Contain("token 1").And.Contain("coordinate 5"));
            Assert.Throws<ArgumentNullException>(() => FdeEncoder.Train(null!, [good]));
            Assert.Throws<ArgumentNullException>(() => FdeEncoder.Train(options, null!));
            Assert.Throws<ArgumentNullException>(() => FdeEncoder.Train(options, [good], null!));
        });
    }

    [Test]
    public void TrainLearned_SimHashOptions_GiveTheUntrainedEncoder()
    {
        FdeOptions options = FdeOptions.CreateSimHash(16);
        FdeEncoder trained = FdeEncoder.Train(options, ClusteredDocuments(16, 5, seed: 17));
        float[] tokens = TestVectors.UnitTokens(new System.Random(18), 30, 16);
        Assert.Multiple(() =>
        {
            Assert.That(trained.Partitions, Is.Null);
            Assert.That(trained.Identity, Is.EqualTo(new FdeEncoder(options).Identity));
            TestVectors.AssertBitIdentical(trained.EncodeDocument(new ReadOnlyMultiVector(tokens, 16)), new FdeEncoder(options).EncodeDocument(new ReadOnlyMultiVector(tokens, 16)), "document");
        });
    }

    [Test]
    public void TrainLearned_FewerTokensThanCentroids_TrainsAndEncodes()
    {
        FdeOptions options = LearnedOptions(8, "ams") with { SimHashProjections = 6 };
        FdeEncoder encoder = FdeEncoder.Train(options, [new ReadOnlyMultiVector(TestVectors.UnitTokens(new System.Random(19), 5, 8), 8)]);
        float[] fde = encoder.EncodeDocument(new ReadOnlyMultiVector(TestVectors.UnitTokens(new System.Random(20), 9, 8), 8));
        Assert.That(fde, Is.All.Matches<float>(float.IsFinite));
        Assert.That(fde.Any(x => x != 0), Is.True);
    }

    [Test]
    public void TrainLearned_SampleSmallerThanTheTokens_UsesTrainingSampleTokens()
    {
        // A one-token sample: every centroid of a repetition is that token (k-means repeats it), so two documents that
        // differ only outside the sampled token cannot tell partitions apart: all tokens go to partition 0.
        FdeOptions options = LearnedOptions(8, "identity") with { TrainingSample = 1, SimHashProjections = 3 };
        FdeEncoder encoder = FdeEncoder.Train(options, ClusteredDocuments(8, 10, seed: 21));
        float[] tokens = TestVectors.UnitTokens(new System.Random(22), 20, 8);
        int[] ids = new int[options.Repetitions * 20];
        encoder.ComputePartitionIds(tokens, ids, SimdDispatch.Preferred);
        Assert.That(ids, Is.All.EqualTo(0));
    }

    [Test]
    public void TrainLearned_PartitionsSavedAndLoaded_EncodeBitIdentically()
    {
        const int D = 40;
        FdeOptions options = LearnedOptions(D, "ams");
        FdeEncoder encoder = FdeEncoder.Train(options, ClusteredDocuments(D, 30, seed: 23));
        using var stream = new MemoryStream();
        encoder.Partitions!.Save(stream);
        stream.Position = 0;
        var loaded = new FdeEncoder(options, FdePartitions.Load(stream));
        float[] tokens = TestVectors.UnitTokens(new System.Random(24), 70, D);
        Assert.Multiple(() =>
        {
            Assert.That(loaded.Identity, Is.EqualTo(encoder.Identity));
            Assert.That(loaded.Identity.PartitionsChecksum, Is.EqualTo(encoder.Partitions.Checksum));
            TestVectors.AssertBitIdentical(loaded.EncodeDocument(new ReadOnlyMultiVector(tokens, D)), encoder.EncodeDocument(new ReadOnlyMultiVector(tokens, D)), "document");
            TestVectors.AssertBitIdentical(loaded.EncodeQuery(new ReadOnlyMultiVector(tokens, D)), encoder.EncodeQuery(new ReadOnlyMultiVector(tokens, D)), "query");
        });
    }

    [Test]
    public void TrainLearned_CancelledToken_ThrowsOperationCanceled()
    {
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.Throws(Is.InstanceOf<OperationCanceledException>(), () => FdeEncoder.Train(LearnedOptions(8, "ams"), ClusteredDocuments(8, 10, seed: 25),
            new ParallelOptions { CancellationToken = cancellation.Token }));
    }

    [Test]
    public void EncodeLearned_SpanOverloadsAfterWarmUp_AllocateNothing()
    {
        const int D = 64;
        FdeOptions options = LearnedOptions(D, "ams") with { Repetitions = 4, SimHashProjections = 5 };
        FdeEncoder encoder = FdeEncoder.Train(options, ClusteredDocuments(D, 20, seed: 26));
        float[] tokens = TestVectors.UnitTokens(new System.Random(27), 70, D);
        float[] destination = new float[encoder.OutputDimension];
        for (int i = 0; i < 5; i++)
        {
            encoder.EncodeQuery(tokens, destination);
            encoder.EncodeDocument(tokens, destination);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++)
        {
            encoder.EncodeQuery(tokens, destination);
            encoder.EncodeDocument(tokens, destination);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void EncodeBatchLearned_AnyThreadCount_BitIdenticalToSingleEncodes([Values(1, 2, -1)] int degree, [Values(false, true)] bool document)
    {
        const int D = 24;
        FdeEncoder encoder = FdeEncoder.Train(LearnedOptions(D, "ams"), ClusteredDocuments(D, 20, seed: 28));
        (float[] tokens, float[][] items) = RaggedBatch(D, 29);
        float[] expected = SingleEncodes(encoder, document, items);
        float[] actual = new float[expected.Length];
        EncodeBatch(encoder, document, tokens, s_raggedCounts, actual, new ParallelOptions { MaxDegreeOfParallelism = degree });
        TestVectors.AssertBitIdentical(actual, expected, $"{degree} threads");
    }

    [Test]
    public void EncodeLearned_DotProduct_TracksChamferBetterThanSimHashOnClusteredData()
    {
        // Clustered tokens, as real token embeddings are: learned partitions put a query token and its nearest
        // document token together far more often than random hyperplanes, so the FDE ranking agrees with Chamfer more.
        const int D = 32;
        ReadOnlyMultiVector[] documents = ClusteredDocuments(D, 300, seed: 30);
        ReadOnlyMultiVector[] queries = ClusteredDocuments(D, 20, seed: 31);
        FdeOptions shape = new()
        {
            Dimension = D, Repetitions = 8, SimHashProjections = 4, Projection = FdeProjection.Ams, ProjectionDimension = 8, FillEmptyPartitions = true,
        };
        double simHash = MeanTopTenOverlap(new FdeEncoder(shape), documents, queries);
        double learned = MeanTopTenOverlap(FdeEncoder.Train(shape with { Partitioning = FdePartitioning.KMeans, DocumentAggregation = FdeDocumentAggregation.NormalizedAverage }, documents), documents, queries);
        TestContext.Out.WriteLine($"top-10 overlap with Chamfer among 20 FDE candidates: SimHash {simHash:P1}, learned {learned:P1}");
        Assert.That(learned, Is.GreaterThan(simHash));
    }

    private static double MeanTopTenOverlap(FdeEncoder encoder, ReadOnlyMultiVector[] documents, ReadOnlyMultiVector[] queries)
    {
        float[] fdes = encoder.EncodeDocuments(documents);
        int length = encoder.OutputDimension;
        double overlap = 0;
        foreach (ReadOnlyMultiVector query in queries)
        {
            float[] q = encoder.EncodeQuery(query);
            int[] byChamfer = Enumerable.Range(0, documents.Length)
                .OrderByDescending(i => TestVectors.Chamfer(query.Span, documents[i].Span, query.Dimension)).ThenBy(i => i).Take(10).ToArray();
            var byFde = Enumerable.Range(0, documents.Length)
                .OrderByDescending(i => TestVectors.Dot(q, fdes.AsSpan(i * length, length))).ThenBy(i => i).Take(20).ToHashSet();
            overlap += byChamfer.Count(byFde.Contains) / 10.0;
        }

        return overlap / queries.Length;
    }

    // Small learned configurations of every projection (k = 3, R = 3).
    private static FdeOptions LearnedOptions(int dimension, string config)
    {
        var options = new FdeOptions
        {
            Dimension = dimension,
            Partitioning = FdePartitioning.KMeans,
            Repetitions = 3,
            SimHashProjections = 3,
            FillEmptyPartitions = true,
            DocumentAggregation = FdeDocumentAggregation.NormalizedAverage,
            TrainingSample = 500,
            TrainingIterations = 6,
            Seed = 5,
        };
        return config switch
        {
            "identity" => options,
            "ams" => options with { Projection = FdeProjection.Ams, ProjectionDimension = 8 },
            "dense" => options with { Projection = FdeProjection.Dense, ProjectionDimension = 12 },
            "final" => options with { Projection = FdeProjection.Ams, ProjectionDimension = 16, FinalDimension = 100 },
            _ => options with { Projection = FdeProjection.Ams, ProjectionDimension = 8, DocumentAggregation = FdeDocumentAggregation.Average },
        };
    }

    // Documents of 5..24 unit tokens around 12 shared topic directions (normalise(topic + 0.5·noise)).
    private static ReadOnlyMultiVector[] ClusteredDocuments(int dimension, int count, int seed)
    {
        var random = new System.Random(seed);
        float[] topics = TestVectors.UnitTokens(new System.Random(777 + dimension), 12, dimension);
        var documents = new ReadOnlyMultiVector[count];
        for (int i = 0; i < count; i++)
        {
            int n = 5 + random.Next(20);
            float[] tokens = new float[n * dimension];
            for (int t = 0; t < n; t++)
            {
                int topic = random.Next(12);
                Span<float> token = tokens.AsSpan(t * dimension, dimension);
                for (int j = 0; j < dimension; j++)
                {
                    token[j] = topics[(topic * dimension) + j] + (float)(0.5 * TestVectors.NextGaussian(random) / Math.Sqrt(dimension));
                }

                TestVectors.Normalize(token);
            }

            documents[i] = new ReadOnlyMultiVector(tokens, dimension);
        }

        return documents;
    }

    // The encoder's own arithmetic (one fused multiply-add chain per inner product, as CentroidSet), so that near-ties
    // are decided as it decides them; KMeansTests checks CentroidSet against a double-precision brute force.
    private static int NearestCentroid(ReadOnlySpan<float> centroids, ReadOnlySpan<float> token, int partitions)
    {
        var set = new CentroidSet(centroids[..(partitions * token.Length)], token.Length, KMeansMetric.InnerProduct);
        return set.Nearest(SimdWidth.Scalar, token, new float[set.Columns], out _);
    }

    private static float InnerProduct(ReadOnlySpan<float> centroids, int partition, ReadOnlySpan<float> token)
    {
        var set = new CentroidSet(centroids.Slice(partition * token.Length, token.Length), token.Length, KMeansMetric.InnerProduct);
        float[] scratch = new float[set.Columns];
        set.Evaluate(SimdWidth.Scalar, token, scratch);
        return scratch[0];
    }

    private static void AssertSamePartitions(FdePartitions actual, FdePartitions expected, string what)
    {
        Assert.That(actual.Checksum, Is.EqualTo(expected.Checksum), what);
        for (int r = 0; r < expected.Repetitions; r++)
        {
            TestVectors.AssertBitIdentical(actual.GetCentroids(r), expected.GetCentroids(r), $"{what} repetition {r}");
        }
    }
}
