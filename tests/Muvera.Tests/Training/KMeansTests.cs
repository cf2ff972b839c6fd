// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Linq;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Prng;
using Muvera.Tests.Fixtures;
using Muvera.Training;

namespace Muvera.Tests.Training;

/// <summary>The core k-means (<see cref="KMeans"/>, <see cref="CentroidSet"/>): assignment equals a brute-force nearest
/// centroid search, training is deterministic across SIMD widths and thread counts, and it finds planted clusters.</summary>
[TestFixture]
public sealed class KMeansTests
{
    private static readonly SimdWidth[] s_widths = [SimdWidth.Scalar, SimdWidth.Vector128, SimdWidth.Vector256, SimdWidth.Vector512];

    [Test]
    public void Nearest_EveryWidthAndMetric_EqualsBruteForce()
    {
        var random = new Random(3);
        foreach (KMeansMetric metric in new[] { KMeansMetric.L2, KMeansMetric.InnerProduct })
        {
            foreach ((int d, int k) in new[] { (1, 3), (4, 16), (8, 256), (5, 33), (128, 32) })
            {
                float[] centroids = TestVectors.Gaussian(random, k * d);
                var set = new CentroidSet(centroids, d, metric);
                float[] scratch = new float[set.Columns];
                for (int trial = 0; trial < 50; trial++)
                {
                    float[] point = TestVectors.Gaussian(random, d);
                    int expected = BruteForceNearest(point, centroids, d, metric);
                    foreach (SimdWidth width in s_widths)
                    {
                        Assert.That(set.Nearest(width, point, scratch, out _), Is.EqualTo(expected), $"{metric} d={d} k={k} {width} trial {trial}");
                    }
                }
            }
        }
    }

    [Test]
    public void Nearest_Ties_GoToTheLowerIndex()
    {
        float[] centroids = [1, 0, 5, 5, 1, 0, 1, 0];
        var set = new CentroidSet(centroids, 2, KMeansMetric.L2);
        float[] scratch = new float[set.Columns];
        Assert.That(set.Nearest(SimdWidth.Scalar, [1, 0], scratch, out float distance), Is.EqualTo(0));
        Assert.That(distance, Is.Zero);
        var ip = new CentroidSet(centroids, 2, KMeansMetric.InnerProduct);
        Assert.That(ip.Nearest(SimdDispatch.Preferred, [0, 1], scratch, out _), Is.EqualTo(1));
        Assert.That(ip.Nearest(SimdDispatch.Preferred, [1, -10], scratch, out _), Is.EqualTo(0), "three equal inner products: the first wins");
    }

    [Test]
    public void Train_PlantedClusters_FindsEveryClusterInEitherAssignmentForm()
    {
        // Eight well-separated clusters in 6-d: every centroid must end up near one planted centre, each centre taken once.
        const int d = 6, k = 8, perCluster = 200;
        var random = new Random(7);
        float[] centres = TestVectors.Gaussian(random, k * d, scale: 10);
        float[] points = new float[k * perCluster * d];
        for (int i = 0; i < k * perCluster; i++)
        {
            for (int j = 0; j < d; j++)
            {
                points[(i * d) + j] = centres[((i % k) * d) + j] + (float)(0.1 * TestVectors.NextGaussian(random));
            }
        }

        // k-means++ (uniform starts can merge two clusters into one local optimum, which is correct k-means behaviour).
        foreach (bool expanded in new[] { false, true })
        {
            float[] centroids = KMeans.Train(points, d, k, new KMeansSettings(25, 11, KMeansMetric.L2, KMeansInitialization.PlusPlus, Expanded: expanded));
            AssertFindsEveryCentre(centroids, centres, d, k);
        }
    }

    [Test]
    public void Train_SameInputs_BitIdenticalAtEveryWidthAndThreadCount()
    {
        var random = new Random(5);
        foreach ((int d, int k, KMeansMetric metric, KMeansInitialization init, bool expanded) in new[]
        {
            (4, 16, KMeansMetric.L2, KMeansInitialization.PlusPlus, false),
            (8, 256, KMeansMetric.L2, KMeansInitialization.Random, false),
            (32, 32, KMeansMetric.InnerProduct, KMeansInitialization.PlusPlus, false),
            (8, 200, KMeansMetric.L2, KMeansInitialization.Random, true),
            (37, 20, KMeansMetric.L2, KMeansInitialization.PlusPlus, true),
        })
        {
            float[] points = TestVectors.Gaussian(random, 9000 * d);
            float[] reference = KMeans.Train(points, d, k, new KMeansSettings(6, 42, metric, init, SimdWidth.Scalar, expanded));
            foreach (SimdWidth width in s_widths)
            {
                foreach (int threads in new[] { 1, 2, 4 })
                {
                    var settings = new KMeansSettings(6, 42, metric, init, width, expanded);
                    float[] actual = KMeans.Train(points, d, k, settings, new ParallelOptions { MaxDegreeOfParallelism = threads });
                    TestVectors.AssertBitIdentical(actual, reference, $"d={d} k={k} {metric} expanded={expanded} {width} {threads} threads");
                }

                float[] serial = KMeans.Train(points, d, k, new KMeansSettings(6, 42, metric, init, width, expanded));
                TestVectors.AssertBitIdentical(serial, reference, $"d={d} k={k} {metric} expanded={expanded} {width} without parallel options");
            }

            float[] otherSeed = KMeans.Train(points, d, k, new KMeansSettings(6, 43, metric, init, Expanded: expanded));
            Assert.That(otherSeed, Is.Not.EqualTo(reference), "another seed starts elsewhere");
        }
    }

    [Test]
    public void Train_Spherical_GivesUnitCentroids()
    {
        float[] points = TestVectors.UnitRows(2000, 16, seed: 4);
        float[] centroids = KMeans.Train(points, 16, 10, new KMeansSettings(10, 1, KMeansMetric.InnerProduct, KMeansInitialization.PlusPlus));
        for (int c = 0; c < 10; c++)
        {
            double norm = Math.Sqrt(centroids.AsSpan(c * 16, 16).ToArray().Sum(v => (double)v * v));
            Assert.That(norm, Is.EqualTo(1).Within(1e-5), $"centroid {c}");
        }
    }

    [Test]
    public void Train_MoreCentroidsThanPoints_ReturnsEveryPointAndRepeats()
    {
        float[] points = [0, 0, 1, 1, 2, 2];
        float[] centroids = KMeans.Train(points, 2, 5, new KMeansSettings(5, 1, KMeansMetric.L2, KMeansInitialization.PlusPlus));
        Assert.That(centroids, Has.Length.EqualTo(10));
        var rows = Enumerable.Range(0, 5).Select(c => (centroids[2 * c], centroids[(2 * c) + 1])).ToArray();
        Assert.That(rows.Distinct(), Is.EquivalentTo(new[] { (0f, 0f), (1f, 1f), (2f, 2f) }), "each point is a centroid; the extra centroids repeat points");
    }

    [Test]
    public void Train_EmptyCluster_IsReseededWithTheWorstServedPoint()
    {
        // Two far groups, three centroids all started inside the first group: Lloyd empties one centroid, which must move
        // to the far group rather than stay dead.
        float[] points = [0, 0.1f, 0.2f, 0.3f, 100, 100.1f];
        foreach (bool expanded in new[] { false, true })
        {
            float[] centroids = KMeans.Train(points, 1, 3, new KMeansSettings(10, 1, KMeansMetric.L2, KMeansInitialization.Random, Expanded: expanded));
            Assert.That(centroids.Count(c => c > 50), Is.GreaterThanOrEqualTo(1), $"a centroid serves the far group (expanded: {expanded})");
            Assert.That(centroids.Count(c => c < 1), Is.GreaterThanOrEqualTo(1), $"a centroid serves the near group (expanded: {expanded})");
        }
    }

    [Test]
    public void SampleIndices_IsUniformDistinctSortedAndSeeded()
    {
        var random = new SplitMix64(1);
        int[] sample = KMeans.SampleIndices(1000, 300, ref random);
        Assert.That(sample, Is.Ordered.And.Unique);
        Assert.That(sample, Is.All.InRange(0, 999));
        var again = new SplitMix64(1);
        Assert.That(KMeans.SampleIndices(1000, 300, ref again), Is.EqualTo(sample));
        var counts = new int[10];
        var many = new SplitMix64(2);
        for (int trial = 0; trial < 200; trial++)
        {
            foreach (int i in KMeans.SampleIndices(1000, 100, ref many))
            {
                counts[i / 100]++;
            }
        }

        Assert.That(counts, Is.All.InRange(1600, 2400), "each tenth of the range gets about a tenth of 20,000 draws");
        var all = new SplitMix64(3);
        Assert.That(KMeans.SampleIndices(5, 5, ref all), Is.EqualTo(new[] { 0, 1, 2, 3, 4 }));
    }

    private static void AssertFindsEveryCentre(float[] centroids, float[] centres, int d, int k)
    {
        int[] matched = Enumerable.Range(0, k).Select(c => BruteForceNearest(centroids.AsSpan(c * d, d).ToArray(), centres, d, KMeansMetric.L2)).ToArray();
        Assert.That(matched.Distinct().Count(), Is.EqualTo(k), "every planted cluster gets its own centroid");
        for (int c = 0; c < k; c++)
        {
            double distance = Math.Sqrt(Enumerable.Range(0, d).Sum(j => Math.Pow(centroids[(c * d) + j] - centres[(matched[c] * d) + j], 2)));
            Assert.That(distance, Is.LessThan(0.1), $"centroid {c} is the mean of its cluster");
        }
    }

    private static int BruteForceNearest(float[] point, float[] centroids, int d, KMeansMetric metric)
    {
        int best = -1;
        double bestValue = 0;
        for (int c = 0; c < centroids.Length / d; c++)
        {
            double value = 0;
            for (int j = 0; j < d; j++)
            {
                value += metric == KMeansMetric.L2
                    ? Math.Pow((double)point[j] - centroids[(c * d) + j], 2)
                    : (double)point[j] * centroids[(c * d) + j];
            }

            if (best < 0 || (metric == KMeansMetric.L2 ? value < bestValue : value > bestValue))
            {
                best = c;
                bestValue = value;
            }
        }

        return best;
    }
}
