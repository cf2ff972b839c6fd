// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Prng;

/// <summary>
/// Muvera's versioned random stream (<see cref="FdeEncoder.PrngVersion"/> 1): <see cref="Mt19937"/> plus the three
/// libstdc++ distributions the MUVERA reference draws from, re-implemented from their algorithms so that no
/// result depends on the platform's C library.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><see cref="UniformIndex"/>: <c>std::uniform_int_distribution&lt;size_t&gt;(0, n-1)</c> on a 32-bit engine,
/// i.e. Lemire's multiply-shift on one word with rejection when the low word is below <c>(2^32 - n) mod n</c>.</item>
/// <item><see cref="CoinFlip"/>: <c>std::bernoulli_distribution(0.5)</c>: a 53-bit canonical double from two words
/// (<c>(u1 + u2·2^32) / 2^64</c>), true when below one half.</item>
/// <item><see cref="NextGaussian"/>: <c>std::normal_distribution&lt;float&gt;(0, 1)</c>: the Marsaglia polar method
/// in single precision with the second value cached. The one transcendental step, <c>logf</c>, is computed by
/// <see cref="DeterministicMath.Log"/> (IEEE basic operations only) and rounded once to float, which makes it
/// identical everywhere; glibc's <c>logf</c> is not correctly rounded, so about one entry in 400 differs from the
/// reference build by one ulp (bucket assignments never depend on that in practice).</item>
/// </list>
/// Changing any of these algorithms changes every encoding: bump <see cref="FdeEncoder.PrngVersion"/>.
/// </remarks>
internal sealed class ReferenceRandom
{
    private const double TwoPow32 = 4294967296.0;
    private const double TwoPow64 = 18446744073709551616.0;

    private readonly Mt19937 _engine;
    private float _savedGaussian;
    private bool _hasSavedGaussian;

    /// <summary>Creates a stream seeded like <c>std::mt19937(seed)</c>.</summary>
    public ReferenceRandom(uint seed) => _engine = new Mt19937(seed);

    /// <summary>Restarts the stream as if it had just been constructed with <paramref name="seed"/> (the saved
    /// Gaussian of the polar method is dropped too).</summary>
    public void Reseed(uint seed)
    {
        _engine.Reseed(seed);
        _savedGaussian = 0f;
        _hasSavedGaussian = false;
    }

    /// <summary>Draws an integer uniformly from <c>[0, count)</c> like libstdc++'s <c>uniform_int_distribution</c>.</summary>
    public int UniformIndex(int count)
    {
        uint range = (uint)count;
        ulong product = (ulong)_engine.Next() * range;
        uint low = (uint)product;
        if (low < range)
        {
            uint threshold = unchecked(0u - range) % range;
            while (low < threshold)
            {
                product = (ulong)_engine.Next() * range;
                low = (uint)product;
            }
        }

        return (int)(product >> 32);
    }

    /// <summary>Draws <see langword="true"/> with probability one half like libstdc++'s <c>bernoulli_distribution(0.5)</c>.</summary>
    public bool CoinFlip()
    {
        // generate_canonical<double, 53> with a 32-bit engine: two words, summed in double (one rounding), / 2^64.
        double low = _engine.Next();
        double high = _engine.Next();
        double canonical = (low + (high * TwoPow32)) / TwoPow64;
        if (canonical >= 1.0)
        {
            canonical = Math.BitDecrement(1.0);
        }

        return canonical < 0.5;
    }

    /// <summary>Draws a standard normal float like libstdc++'s <c>normal_distribution&lt;float&gt;(0, 1)</c>.</summary>
    public float NextGaussian()
    {
        if (_hasSavedGaussian)
        {
            _hasSavedGaussian = false;
            return _savedGaussian;
        }

        float x, y, r2;
        do
        {
            x = (2.0f * NextCanonicalFloat()) - 1.0f;
            y = (2.0f * NextCanonicalFloat()) - 1.0f;
            r2 = (x * x) + (y * y);
        }
        while (r2 > 1.0f || r2 == 0.0f);

        float log = (float)DeterministicMath.Log(r2);
        float multiplier = MathF.Sqrt(-2.0f * log / r2);
        _savedGaussian = x * multiplier;
        _hasSavedGaussian = true;
        return y * multiplier;
    }

    // generate_canonical<float, 24> with a 32-bit engine: float(u) / 2^32, clamped below 1.
    private float NextCanonicalFloat()
    {
        float value = (float)_engine.Next() / 4294967296.0f;
        return value >= 1.0f ? MathF.BitDecrement(1.0f) : value;
    }
}
