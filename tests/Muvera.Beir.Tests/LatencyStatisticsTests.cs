// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Beir.Tests;

public sealed class LatencyStatisticsTests
{
    [Test]
    public void FromMilliseconds_FourValues_InterpolatesLikeNumPy()
    {
        // numpy.percentile([4, 1, 3, 2], [50, 99]) = [2.5, 3.97]
        LatencyStatistics statistics = LatencyStatistics.FromMilliseconds([4, 1, 3, 2]);

        Assert.Multiple(() =>
        {
            Assert.That(statistics.Count, Is.EqualTo(4));
            Assert.That(statistics.P50Ms, Is.EqualTo(2.5).Within(1e-12));
            Assert.That(statistics.P99Ms, Is.EqualTo(3.97).Within(1e-12));
            Assert.That(statistics.MeanMs, Is.EqualTo(2.5));
            Assert.That(statistics.MinMs, Is.EqualTo(1));
            Assert.That(statistics.MaxMs, Is.EqualTo(4));
        });
    }

    [Test]
    public void Percentile_HundredAndOneValues_HitsRanksExactly()
    {
        double[] values = new double[101];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = 100 - i;
        }

        Assert.Multiple(() =>
        {
            Assert.That(LatencyStatistics.Percentile(values, 99), Is.EqualTo(99));
            Assert.That(LatencyStatistics.Percentile(values, 50), Is.EqualTo(50));
            Assert.That(LatencyStatistics.Percentile(values, 0), Is.EqualTo(0));
            Assert.That(LatencyStatistics.Percentile(values, 100), Is.EqualTo(100));
        });
    }

    [Test]
    public void FromMilliseconds_SingleValue_EveryStatisticIsIt()
    {
        LatencyStatistics statistics = LatencyStatistics.FromMilliseconds([7.5]);

        Assert.That(statistics, Is.EqualTo(new LatencyStatistics(1, 7.5, 7.5, 7.5, 7.5, 7.5)));
    }

    [Test]
    public void FromTimeSpans_ConvertsToMilliseconds()
    {
        LatencyStatistics statistics = LatencyStatistics.FromTimeSpans([TimeSpan.FromMilliseconds(2), TimeSpan.FromMicroseconds(500)]);

        Assert.That(statistics.MinMs, Is.EqualTo(0.5).Within(1e-12));
    }

    [Test]
    public void FromMilliseconds_InvalidInput_Throws()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => LatencyStatistics.FromMilliseconds([]), Throws.ArgumentException);
            Assert.That(() => LatencyStatistics.FromMilliseconds([1, double.NaN]), Throws.ArgumentException.With.Message.Contains("[1]"));
            Assert.That(() => LatencyStatistics.FromMilliseconds([-1]), Throws.ArgumentException);
            Assert.That(() => LatencyStatistics.Percentile([1], 101), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }
}
