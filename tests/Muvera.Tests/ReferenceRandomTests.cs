// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Linq;
using Muvera.Prng;

namespace Muvera.Tests;

/// <summary>libstdc++'s distributions over MT19937, re-implemented independently here from their published algorithms.</summary>
[TestFixture]
public sealed class ReferenceRandomTests
{
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(7)]
    [TestCase(16)]
    [TestCase(1000)]
    [TestCase(1 << 20)]
    [TestCase(1610612736)]
    [TestCase(int.MaxValue)]
    public void UniformIndex_AnyCount_StaysInRange(int count)
    {
        var random = new ReferenceRandom(12345);
        for (int i = 0; i < 20000; i++)
        {
            int value = random.UniformIndex(count);
            if ((uint)value >= (uint)count)
            {
                Assert.Fail($"draw {i}: {value} outside [0, {count})");
            }
        }
    }

    [TestCase(1, 0)]
    [TestCase(3, 0)]
    [TestCase(16, 0)]
    [TestCase(1610612736, 1000)]
    [TestCase(int.MaxValue, 0)]
    public void UniformIndex_AnyCount_EqualsLemireWithRejectionOnRawWords(int count, int minimumRejections)
    {
        // libstdc++ uniform_int_distribution on a 32-bit engine: m = u·n (64-bit); if low(m) < n, redraw while
        // low(m) < (2^32 − n) mod n; the result is high(m). For n = 3·2^29 the threshold is 2^30 (a quarter of draws
        // are redrawn), for n = 3 only u = 0 is rejected.
        var random = new ReferenceRandom(5489);
        var words = new Mt19937(5489);
        int rejections = 0;
        for (int i = 0; i < 5000; i++)
        {
            ulong product = (ulong)words.Next() * (uint)count;
            uint threshold = unchecked(0u - (uint)count) % (uint)count;
            while ((uint)product < threshold)
            {
                rejections++;
                product = (ulong)words.Next() * (uint)count;
            }

            Assert.That(random.UniformIndex(count), Is.EqualTo((int)(product >> 32)), $"draw {i}");
        }

        Assert.That(rejections, Is.GreaterThanOrEqualTo(minimumRejections), "the rejection path ran");
    }

    [Test]
    public void UniformIndex_SmallCounts_AreRoughlyUniform()
    {
        var random = new ReferenceRandom(7);
        foreach (int count in new[] { 3, 7, 16 })
        {
            int[] histogram = new int[count];
            const int Draws = 70000;
            for (int i = 0; i < Draws; i++)
            {
                histogram[random.UniformIndex(count)]++;
            }

            double expected = (double)Draws / count;
            Assert.That(histogram, Is.All.InRange(expected * 0.95, expected * 1.05), $"count {count}: {string.Join(", ", histogram)}");
        }
    }

    [Test]
    public void CoinFlip_ManyDraws_FrequencyNearOneHalf()
    {
        var random = new ReferenceRandom(2024);
        const int Draws = 100000;
        int heads = 0;
        for (int i = 0; i < Draws; i++)
        {
            heads += random.CoinFlip() ? 1 : 0;
        }

        Assert.That(heads / (double)Draws, Is.InRange(0.49, 0.51));
    }

    [Test]
    public void CoinFlip_AnySeed_EqualsCanonicalDoubleFromTwoWords()
    {
        // bernoulli_distribution(0.5): generate_canonical<double, 53> = (u1 + u2·2^32) / 2^64 (clamped below 1), < 0.5.
        // That is true exactly when the high word's top bit is clear (u1 only matters through the rounding at 2^63).
        foreach (uint seed in new uint[] { 1, 5489, 4242, uint.MaxValue })
        {
            var random = new ReferenceRandom(seed);
            var words = new Mt19937(seed);
            for (int i = 0; i < 2000; i++)
            {
                double low = words.Next();
                double high = words.Next();
                double canonical = Math.Min((low + (high * 4294967296.0)) / 18446744073709551616.0, Math.BitDecrement(1.0));
                Assert.That(random.CoinFlip(), Is.EqualTo(canonical < 0.5), $"seed {seed}, draw {i}");
            }
        }
    }

    [Test]
    public void NextGaussian_100kDraws_HasStandardNormalMoments()
    {
        var random = new ReferenceRandom(99);
        const int Draws = 100000;
        double sum = 0;
        double sumSquares = 0;
        int beyondThreeSigma = 0;
        for (int i = 0; i < Draws; i++)
        {
            double x = random.NextGaussian();
            Assert.That(double.IsFinite(x), Is.True);
            sum += x;
            sumSquares += x * x;
            beyondThreeSigma += Math.Abs(x) > 3 ? 1 : 0;
        }

        double mean = sum / Draws;
        double variance = (sumSquares / Draws) - (mean * mean);
        Assert.Multiple(() =>
        {
            Assert.That(mean, Is.EqualTo(0).Within(0.02));
            Assert.That(variance, Is.EqualTo(1).Within(0.03));
            Assert.That(beyondThreeSigma, Is.InRange(150, 400), "P(|x| > 3) ≈ 0.27%");
        });
    }

    [Test]
    public void NextGaussian_SameSeed_SameSequenceAndOtherSeedDiffers()
    {
        var a = new ReferenceRandom(31337);
        var b = new ReferenceRandom(31337);
        var c = new ReferenceRandom(31338);
        float[] first = Enumerable.Range(0, 1001).Select(_ => a.NextGaussian()).ToArray();
        float[] second = Enumerable.Range(0, 1001).Select(_ => b.NextGaussian()).ToArray();
        float[] other = Enumerable.Range(0, 1001).Select(_ => c.NextGaussian()).ToArray();
        Assert.That(first.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(second.Select(BitConverter.SingleToInt32Bits)));
        Assert.That(first.Zip(other).Count(pair => pair.First == pair.Second), Is.LessThan(5));
    }

    [Test]
    public void NextGaussian_AnySeed_EqualsMarsagliaPolarOnRawWords()
    {
        // normal_distribution<float>: x, y = 2·(u / 2^32 in float) − 1 until 0 < r² ≤ 1; m = √(−2·ln r² / r²);
        // returns y·m and caches x·m for the next call.
        foreach (uint seed in new uint[] { 1, 5489, 777 })
        {
            var random = new ReferenceRandom(seed);
            var words = new Mt19937(seed);
            for (int i = 0; i < 1000; i++)
            {
                float x, y, r2;
                do
                {
                    x = (2.0f * Canonical(words)) - 1.0f;
                    y = (2.0f * Canonical(words)) - 1.0f;
                    r2 = (x * x) + (y * y);
                }
                while (r2 > 1.0f || r2 == 0.0f);

                float multiplier = MathF.Sqrt(-2.0f * (float)DeterministicMath.Log(r2) / r2);
                Assert.That(random.NextGaussian(), Is.EqualTo(y * multiplier), $"seed {seed}, pair {i}, first");
                Assert.That(random.NextGaussian(), Is.EqualTo(x * multiplier), $"seed {seed}, pair {i}, cached");
            }
        }
    }

    [Test]
    public void Streams_Interleaved_ShareOneEngine()
    {
        // Each draw consumes whole words: UniformIndex(16) one (no rejection possible), CoinFlip two, so a CoinFlip
        // after a UniformIndex reads words 1 and 2.
        var random = new ReferenceRandom(5489);
        var words = new Mt19937(5489);
        Assert.That(random.UniformIndex(16), Is.EqualTo((int)(((ulong)words.Next() * 16) >> 32)));
        double low = words.Next();
        double high = words.Next();
        Assert.That(random.CoinFlip(), Is.EqualTo((low + (high * 4294967296.0)) / 18446744073709551616.0 < 0.5));
    }

    private static float Canonical(Mt19937 words)
    {
        float value = (float)words.Next() / 4294967296.0f;
        return value >= 1.0f ? MathF.BitDecrement(1.0f) : value;
    }
}
