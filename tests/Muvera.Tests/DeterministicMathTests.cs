// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using Muvera.Prng;

namespace Muvera.Tests;

[TestFixture]
public sealed class DeterministicMathTests
{
    private const long MaxUlps = 4;

    [Test]
    public void Log_ManyValuesInUnitInterval_WithinFourUlpsOfMathLog()
    {
        var random = new System.Random(17);
        for (int i = 0; i < 200000; i++)
        {
            double x = i switch
            {
                < 100000 => 1.0 - random.NextDouble(), // (0, 1]
                < 150000 => Math.Pow(2, -1022 * random.NextDouble()), // log-uniform down to the smallest normal
                _ => 1.0 - (random.NextDouble() * 1e-6), // just below 1, where ln x is tiny
            };
            AssertClose(x);
        }
    }

    [Test]
    public void Log_PolarMethodRadii_WithinFourUlpsOfMathLog()
    {
        // The values NextGaussian feeds it: r² = x² + y² in float, x, y uniform in (−1, 1).
        var random = new System.Random(18);
        for (int i = 0; i < 100000; i++)
        {
            float x = (float)((2 * random.NextDouble()) - 1);
            float y = (float)((2 * random.NextDouble()) - 1);
            float r2 = (x * x) + (y * y);
            if (r2 > 0f && r2 <= 1f && float.IsNormal(r2))
            {
                AssertClose(r2);
            }
        }
    }

    [TestCase(1.0)]
    [TestCase(0.5)]
    [TestCase(0.7071067811865476)]
    [TestCase(1.4142135623730951)]
    [TestCase(1.0000000000000002)]
    [TestCase(0.9999999999999999)]
    [TestCase(2.0)]
    [TestCase(Math.E)]
    [TestCase(10.0)]
    [TestCase(12345.678)]
    [TestCase(1e10)]
    [TestCase(1e300)]
    [TestCase(double.MaxValue)]
    [TestCase(2.2250738585072014E-308)]
    public void Log_SpecialPoints_WithinFourUlpsOfMathLog(double x) => AssertClose(x);

    [Test]
    public void Log_One_IsExactlyZero() => Assert.That(DeterministicMath.Log(1.0), Is.EqualTo(0.0));

    private static void AssertClose(double x)
    {
        double expected = Math.Log(x);
        double actual = DeterministicMath.Log(x);
        long ulps = UlpDistance(actual, expected);
        if (ulps > MaxUlps)
        {
            Assert.Fail($"Log({x:R}) = {actual:R}, Math.Log gives {expected:R}: {ulps} ulps apart");
        }
    }

    private static long UlpDistance(double a, double b)
    {
        long ia = BitConverter.DoubleToInt64Bits(a);
        long ib = BitConverter.DoubleToInt64Bits(b);
        ia = ia < 0 ? long.MinValue - ia : ia;
        ib = ib < 0 ? long.MinValue - ib : ib;
        return Math.Abs(ia - ib);
    }
}
