// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Samples.Quickstart;

/// <summary>
/// SplitMix64 with a polar-method Gaussian. Unlike <see cref="System.Random"/>, whose seeded sequence may change
/// between .NET versions, its stream for a seed is fixed, so the synthetic corpus is the same on every run.
/// </summary>
internal sealed class SampleRandom
{
    private ulong _state;
    private double _savedGaussian;
    private bool _hasSavedGaussian;

    public SampleRandom(ulong seed) => _state = seed;

    public ulong NextUInt64()
    {
        ulong z = unchecked(_state += 0x9E3779B97F4A7C15ul);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBul);
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1ul << 53));

    /// <summary>Uniform in [minInclusive, maxExclusive); the modulo bias is irrelevant at these sizes.</summary>
    public int Next(int minInclusive, int maxExclusive) =>
        minInclusive + (int)(NextUInt64() % (ulong)(maxExclusive - minInclusive));

    public double NextGaussian()
    {
        if (_hasSavedGaussian)
        {
            _hasSavedGaussian = false;
            return _savedGaussian;
        }

        double x, y, r2;
        do
        {
            x = (2.0 * NextDouble()) - 1.0;
            y = (2.0 * NextDouble()) - 1.0;
            r2 = (x * x) + (y * y);
        }
        while (r2 >= 1.0 || r2 == 0.0);

        double multiplier = Math.Sqrt(-2.0 * Math.Log(r2) / r2);
        _savedGaussian = x * multiplier;
        _hasSavedGaussian = true;
        return y * multiplier;
    }
}
