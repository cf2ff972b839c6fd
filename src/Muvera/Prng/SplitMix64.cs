// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Prng;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014): the seeded stream of the trainers (k-means initialisation, training
/// samples). Integer arithmetic only, so every platform draws the same values; a trained codebook depends on these
/// draws, so changing them changes saved codebooks' reproducibility (not their validity: codebooks are stored, never
/// re-derived on load).
/// </summary>
internal struct SplitMix64
{
    private ulong _state;

    /// <summary>Starts a stream at <paramref name="seed"/>.</summary>
    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>Mixes two values into an independent seed (for example a trainer's seed and a sub-space index).</summary>
    public static ulong Mix(ulong seed, ulong stream)
    {
        var random = new SplitMix64(seed ^ (stream * 0xD1B54A32D192ED03UL));
        random.Next();
        return random.Next();
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>An index in [0, <paramref name="count"/>) (multiply-shift on 32 random bits; the bias below 2^-32 · count
    /// does not matter to the trainers).</summary>
    public int NextIndex(int count) => (int)(((Next() >> 32) * (ulong)(uint)count) >> 32);

    /// <summary>An index in [0, <paramref name="count"/>) for counts beyond <see cref="int.MaxValue"/> (multiply-shift on
    /// 64 random bits, as a 128-bit product).</summary>
    public long NextLongIndex(long count) => (long)(ulong)(((UInt128)Next() * (ulong)count) >> 64);
}
