// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Prng;

namespace Muvera.Training;

/// <summary>How centroids are first chosen.</summary>
internal enum KMeansInitialization
{
    /// <summary>k-means++ (D² sampling): better starts, O(n·k·d) extra work; for small k.</summary>
    PlusPlus,

    /// <summary>k distinct points drawn uniformly (FAISS's default); for large k.</summary>
    Random,
}

/// <summary>The settings of one k-means run.</summary>
/// <param name="Iterations">Lloyd iterations at most (stops early once no assignment changes).</param>
/// <param name="Seed">Seeds the initialisation.</param>
/// <param name="Metric">Squared L2 (means) or inner product (spherical: unit centroids).</param>
/// <param name="Initialization">k-means++ or uniform.</param>
/// <param name="Width">The SIMD width of the distance kernel (null: the widest here); every width gives the same result,
/// which tests check by running each.</param>
/// <param name="Expanded">L2 only: assign by the largest <c>⟨x, c⟩ − ‖c‖²/2</c> in cache-blocked panels
/// (<see cref="TokenCodecKernels.NearestCentroids{TLanes, TVec}"/>, the residual token codec's encoder) instead of the
/// smallest <c>Σ (x − c)²</c> chain: several times faster for thousands of centroids, and a different (equally
/// deterministic) rounding, so a trainer keeps one choice for good.</param>
internal readonly record struct KMeansSettings(int Iterations, ulong Seed, KMeansMetric Metric, KMeansInitialization Initialization,
    SimdWidth? Width = null, bool Expanded = false);

/// <summary>
/// The one k-means of the library: every trainer (product quantizers, coarse quantizers, learned partitions) calls it.
/// </summary>
/// <remarks>
/// <para>Lloyd's algorithm: assign every point to its nearest centroid (<see cref="CentroidSet"/>, SIMD, ties to the
/// lower index), then move each centroid to the mean of its points (sums in double, in point order; spherical
/// k-means normalises the sum). An empty cluster is re-seeded with the point farthest from its centroid (L2) or least
/// similar to it (inner product) among the points not used yet for re-seeding, ties to the lower point index.</para>
/// <para>Determinism: the result depends only on the points, k and the settings — not on the SIMD width (the
/// distance kernel is bit-identical at every width), nor on the thread count (assignment is per point; sums run in
/// point order on one thread), nor on the platform (<see cref="SplitMix64"/> draws).</para>
/// </remarks>
internal static class KMeans
{
    private const int ParallelChunk = 4096;

    // Points per call of the cache-blocked expanded assignment: enough that the centroid panels are read from memory
    // rarely, few enough that the points stay in L2.
    private const int ExpandedChunk = 256;

    /// <summary>Trains <paramref name="k"/> centroids on the rows of <paramref name="points"/>.</summary>
    /// <param name="points">n × d, row-major, finite.</param>
    /// <param name="dimension">d.</param>
    /// <param name="k">The centroid count (1 or more; may exceed n, then some centroids repeat).</param>
    /// <param name="settings">Iterations, seed, metric, initialisation.</param>
    /// <param name="parallelOptions">When given, assignment runs over chunks of points in parallel (same result).</param>
    /// <returns>k × d centroids, row-major.</returns>
    public static float[] Train(ReadOnlySpan<float> points, int dimension, int k, KMeansSettings settings, ParallelOptions? parallelOptions = null)
    {
        Debug.Assert(dimension > 0 && k > 0 && points.Length >= dimension && points.Length % dimension == 0);
        int n = points.Length / dimension;
        float[] centroids = settings.Initialization == KMeansInitialization.PlusPlus && n > k
            ? InitializePlusPlus(points, dimension, k, settings)
            : InitializeRandom(points, dimension, k, settings);
        if (settings.Metric == KMeansMetric.InnerProduct)
        {
            for (int c = 0; c < k; c++)
            {
                Normalize(centroids.AsSpan(c * dimension, dimension));
            }
        }

        if (settings.Expanded)
        {
            Debug.Assert(settings.Metric == KMeansMetric.L2);
            return TrainExpanded(points, dimension, k, centroids, settings, parallelOptions);
        }

        var set = new CentroidSet(centroids, dimension, settings.Metric);
        int[] assignments = new int[n];
        assignments.AsSpan().Fill(-1);
        float[] values = new float[n];
        double[] sums = new double[k * dimension];
        int[] counts = new int[k];
        float[] pointsCopy = parallelOptions is null ? [] : points.ToArray();
        for (int iteration = 0; iteration < settings.Iterations; iteration++)
        {
            parallelOptions?.CancellationToken.ThrowIfCancellationRequested();
            set.Load(centroids);
            SimdWidth width = settings.Width ?? SimdDispatch.Preferred;
            bool changed = parallelOptions is null
                ? AssignRange(width, points, set, assignments, values, 0, n)
                : AssignParallel(width, pointsCopy, set, assignments, values, parallelOptions);
            if (!changed && iteration > 0)
            {
                break;
            }

            Update(points, dimension, k, settings.Metric, assignments, values, sums, counts, centroids);
        }

        return centroids;
    }

    // Lloyd iterations with the expanded-form, cache-blocked assignment (KMeansSettings.Expanded); the update and the
    // re-seeding are the shared ones, with each point's squared distance computed as ‖x‖² − 2·best (‖x‖² in double).
    private static float[] TrainExpanded(ReadOnlySpan<float> points, int d, int k, float[] centroids, KMeansSettings settings,
        ParallelOptions? parallelOptions)
    {
        int n = points.Length / d;
        int columns = TokenCodecKernels.PadPanelColumns(k);
        float[] panels = new float[columns * d];
        float[] bias = new float[columns];
        int[] assignments = new int[n];
        assignments.AsSpan().Fill(-1);
        int[] next = new int[n];
        float[] best = new float[n];
        float[] values = new float[n];
        double[] norms = new double[n];
        for (int i = 0; i < n; i++)
        {
            double norm = 0;
            foreach (float value in points.Slice(i * d, d))
            {
                norm += (double)value * value;
            }

            norms[i] = norm;
        }

        double[] sums = new double[k * d];
        int[] counts = new int[k];
        float[] pointsCopy = parallelOptions is null ? [] : points.ToArray();
        SimdWidth width = settings.Width ?? SimdDispatch.Preferred;
        for (int iteration = 0; iteration < settings.Iterations; iteration++)
        {
            parallelOptions?.CancellationToken.ThrowIfCancellationRequested();
            TokenCodecKernels.PackCentroidPanels(centroids, d, panels, bias);
            int chunks = (n + ExpandedChunk - 1) / ExpandedChunk;
            if (parallelOptions is null)
            {
                for (int chunk = 0; chunk < chunks; chunk++)
                {
                    AssignExpanded(width, points, d, panels, columns, bias, next, best, chunk);
                }
            }
            else
            {
                Parallel.For(0, chunks, parallelOptions, chunk => AssignExpanded(width, pointsCopy, d, panels, columns, bias, next, best, chunk));
            }

            bool changed = false;
            for (int i = 0; i < n; i++)
            {
                changed |= next[i] != assignments[i];
                assignments[i] = next[i];
                values[i] = (float)(norms[i] - (2.0 * best[i]));
            }

            if (!changed && iteration > 0)
            {
                break;
            }

            Update(points, d, k, settings.Metric, assignments, values, sums, counts, centroids);
        }

        return centroids;
    }

    private static void AssignExpanded(SimdWidth width, ReadOnlySpan<float> points, int d, float[] panels, int columns, float[] bias,
        int[] assignments, float[] best, int chunk)
    {
        int start = chunk * ExpandedChunk;
        int count = Math.Min(ExpandedChunk, assignments.Length - start);
        TokenCodecKernels.NearestCentroids(width, points.Slice(start * d, count * d), d, panels, columns, bias,
            assignments.AsSpan(start, count), best.AsSpan(start, count));
    }

    /// <summary>Assigns every point of <paramref name="points"/> to its nearest centroid of <paramref name="set"/>.</summary>
    public static void Assign(ReadOnlySpan<float> points, CentroidSet set, Span<int> assignments)
    {
        int d = set.Dimension;
        Span<float> scratch = set.Columns <= 1024 ? stackalloc float[set.Columns] : new float[set.Columns];
        SimdWidth width = SimdDispatch.Preferred;
        for (int i = 0; i < assignments.Length; i++)
        {
            assignments[i] = set.Nearest(width, points.Slice(i * d, d), scratch, out _);
        }
    }

    private static bool AssignParallel(SimdWidth width, float[] points, CentroidSet set, int[] assignments, float[] values, ParallelOptions parallelOptions)
    {
        int n = assignments.Length;
        int chunks = (n + ParallelChunk - 1) / ParallelChunk;
        int changed = 0;
        Parallel.For(0, chunks, parallelOptions, chunk =>
        {
            int start = chunk * ParallelChunk;
            if (AssignRange(width, points, set, assignments, values, start, Math.Min(n, start + ParallelChunk)))
            {
                Volatile.Write(ref changed, 1);
            }
        });
        return changed != 0;
    }

    private static bool AssignRange(SimdWidth width, ReadOnlySpan<float> points, CentroidSet set, int[] assignments, float[] values, int start, int end)
    {
        int d = set.Dimension;
        Span<float> scratch = set.Columns <= 1024 ? stackalloc float[4 * set.Columns] : new float[4 * set.Columns];
        Span<int> four = stackalloc int[4];
        Span<float> fourValues = stackalloc float[4];
        bool changed = false;
        int i = start;

        // Four points per pass over the centroids (the same ids and values as one at a time).
        for (; i + 4 <= end; i += 4)
        {
            set.Nearest4(width, points.Slice(i * d, 4 * d), scratch, four, fourValues);
            for (int p = 0; p < 4; p++)
            {
                changed |= four[p] != assignments[i + p];
                assignments[i + p] = four[p];
                values[i + p] = fourValues[p];
            }
        }

        for (; i < end; i++)
        {
            int nearest = set.Nearest(width, points.Slice(i * d, d), scratch, out float value);
            changed |= nearest != assignments[i];
            assignments[i] = nearest;
            values[i] = value;
        }

        return changed;
    }

    private static void Update(ReadOnlySpan<float> points, int d, int k, KMeansMetric metric, int[] assignments, float[] values,
        double[] sums, int[] counts, float[] centroids)
    {
        Array.Clear(sums);
        Array.Clear(counts);
        for (int i = 0; i < assignments.Length; i++)
        {
            int c = assignments[i];
            counts[c]++;
            ReadOnlySpan<float> point = points.Slice(i * d, d);
            Span<double> sum = sums.AsSpan(c * d, d);
            for (int j = 0; j < d; j++)
            {
                sum[j] += point[j];
            }
        }

        bool anyEmpty = false;
        for (int c = 0; c < k; c++)
        {
            if (counts[c] == 0)
            {
                anyEmpty = true;
                continue;
            }

            Span<float> centroid = centroids.AsSpan(c * d, d);
            Span<double> sum = sums.AsSpan(c * d, d);
            if (metric == KMeansMetric.L2)
            {
                for (int j = 0; j < d; j++)
                {
                    centroid[j] = (float)(sum[j] / counts[c]);
                }
            }
            else
            {
                double norm = 0;
                for (int j = 0; j < d; j++)
                {
                    norm += sum[j] * sum[j];
                }

                // A cluster whose points cancel out keeps its previous direction.
                if (norm > 0)
                {
                    double scale = 1 / Math.Sqrt(norm);
                    for (int j = 0; j < d; j++)
                    {
                        centroid[j] = (float)(sum[j] * scale);
                    }
                }
            }
        }

        if (anyEmpty)
        {
            Reseed(points, d, k, metric, assignments, values, counts, centroids);
        }
    }

    // Each empty cluster takes the worst-served point not taken yet: largest distance (L2) or smallest inner product.
    private static void Reseed(ReadOnlySpan<float> points, int d, int k, KMeansMetric metric, int[] assignments, float[] values,
        int[] counts, float[] centroids)
    {
        int n = assignments.Length;
        bool[] taken = new bool[n];
        for (int c = 0; c < k; c++)
        {
            if (counts[c] != 0)
            {
                continue;
            }

            int worst = -1;
            for (int i = 0; i < n; i++)
            {
                if (taken[i] || counts[assignments[i]] <= 1)
                {
                    // Never strip a cluster of its last point.
                    continue;
                }

                if (worst < 0 || (metric == KMeansMetric.L2 ? values[i] > values[worst] : values[i] < values[worst]))
                {
                    worst = i;
                }
            }

            if (worst < 0)
            {
                // Fewer distinct points than centroids: the centroid stays where it is.
                continue;
            }

            taken[worst] = true;
            counts[assignments[worst]]--;
            counts[c] = 1;
            Span<float> centroid = centroids.AsSpan(c * d, d);
            points.Slice(worst * d, d).CopyTo(centroid);
            if (metric == KMeansMetric.InnerProduct)
            {
                Normalize(centroid);
            }
        }
    }

    private static float[] InitializeRandom(ReadOnlySpan<float> points, int d, int k, KMeansSettings settings)
    {
        int n = points.Length / d;
        var random = new SplitMix64(settings.Seed);
        int[] order = SampleIndices(n, Math.Min(n, k), ref random);
        float[] centroids = new float[k * d];
        for (int c = 0; c < k; c++)
        {
            points.Slice(order[c % order.Length] * d, d).CopyTo(centroids.AsSpan(c * d, d));
        }

        return centroids;
    }

    private static float[] InitializePlusPlus(ReadOnlySpan<float> points, int d, int k, KMeansSettings settings)
    {
        int n = points.Length / d;
        var random = new SplitMix64(settings.Seed);
        float[] centroids = new float[k * d];
        double[] weights = new double[n];
        int first = random.NextIndex(n);
        points.Slice(first * d, d).CopyTo(centroids.AsSpan(0, d));
        weights.AsSpan().Fill(double.PositiveInfinity);
        bool spherical = settings.Metric == KMeansMetric.InnerProduct;
        for (int c = 1; c < k; c++)
        {
            ReadOnlySpan<float> latest = centroids.AsSpan((c - 1) * d, d);
            double total = 0;
            for (int i = 0; i < n; i++)
            {
                double distance = Distance(points.Slice(i * d, d), latest, spherical);
                if (distance < weights[i])
                {
                    weights[i] = distance;
                }

                total += weights[i];
            }

            int chosen;
            if (total > 0)
            {
                double target = random.NextDouble() * total;
                double running = 0;
                chosen = n - 1;
                for (int i = 0; i < n; i++)
                {
                    running += weights[i];
                    if (running > target && weights[i] > 0)
                    {
                        chosen = i;
                        break;
                    }
                }
            }
            else
            {
                chosen = random.NextIndex(n);
            }

            points.Slice(chosen * d, d).CopyTo(centroids.AsSpan(c * d, d));
        }

        return centroids;
    }

    // Squared L2, or for spherical k-means the squared distance between the directions (2 − 2·cos).
    private static double Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b, bool spherical)
    {
        if (!spherical)
        {
            double sum = 0;
            for (int j = 0; j < a.Length; j++)
            {
                double diff = (double)a[j] - b[j];
                sum += diff * diff;
            }

            return sum;
        }

        double dot = 0, na = 0, nb = 0;
        for (int j = 0; j < a.Length; j++)
        {
            dot += (double)a[j] * b[j];
            na += (double)a[j] * a[j];
            nb += (double)b[j] * b[j];
        }

        return na == 0 || nb == 0 ? 2 : Math.Max(0, 2 - (2 * dot / Math.Sqrt(na * nb)));
    }

    /// <summary><paramref name="count"/> distinct indices of [0, <paramref name="n"/>) drawn uniformly (partial
    /// Fisher–Yates), in ascending order.</summary>
    public static int[] SampleIndices(int n, int count, ref SplitMix64 random)
    {
        Debug.Assert(count <= n);
        if (count == n)
        {
            int[] all = new int[n];
            for (int i = 0; i < n; i++)
            {
                all[i] = i;
            }

            return all;
        }

        // Sparse Fisher–Yates: only the swapped positions are remembered.
        var swapped = new System.Collections.Generic.Dictionary<int, int>();
        int[] result = new int[count];
        for (int i = 0; i < count; i++)
        {
            int j = i + random.NextIndex(n - i);
            int atJ = swapped.TryGetValue(j, out int vj) ? vj : j;
            int atI = swapped.TryGetValue(i, out int vi) ? vi : i;
            swapped[j] = atI;
            result[i] = atJ;
        }

        Array.Sort(result);
        return result;
    }

    /// <summary><paramref name="count"/> distinct indices of [0, <paramref name="n"/>) drawn uniformly (Floyd's
    /// algorithm), in ascending order, for populations beyond <see cref="int.MaxValue"/> (all the tokens of a corpus).</summary>
    public static long[] SampleIndices(long n, int count, ref SplitMix64 random)
    {
        Debug.Assert(count >= 0 && count <= n);
        long[] result = new long[count];
        if (count == n)
        {
            for (int i = 0; i < count; i++)
            {
                result[i] = i;
            }

            return result;
        }

        // Floyd: for j = n − count … n − 1, take a uniform t in [0, j]; keep t unless already taken, then j.
        var taken = new System.Collections.Generic.HashSet<long>(count);
        int next = 0;
        for (long j = n - count; j < n; j++)
        {
            long t = random.NextLongIndex(j + 1);
            long chosen = taken.Add(t) ? t : j;
            if (chosen == j && t != j)
            {
                taken.Add(j);
            }

            result[next++] = chosen;
        }

        Array.Sort(result);
        return result;
    }

    private static void Normalize(Span<float> vector)
    {
        double norm = 0;
        foreach (float v in vector)
        {
            norm += (double)v * v;
        }

        if (norm > 0)
        {
            double scale = 1 / Math.Sqrt(norm);
            for (int j = 0; j < vector.Length; j++)
            {
                vector[j] = (float)(vector[j] * scale);
            }
        }
    }
}
