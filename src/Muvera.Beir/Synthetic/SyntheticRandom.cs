// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera.Beir.Synthetic;

/// <summary>
/// The synthetic corpus's random stream: SplitMix64 (Steele, Lea and Flood, 2014), one independent stream per
/// (seed, kind, index), so that any document or query can be generated alone, in any order, on any thread.
/// </summary>
/// <remarks>
/// Only integer arithmetic and IEEE-754 +, −, ×, ÷ in double precision, so the output is bit-identical on every
/// platform and instruction set. Changing anything here changes every corpus: bump
/// <see cref="SyntheticCorpus.GeneratorVersion"/>.
/// </remarks>
internal struct SyntheticRandom
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    // √3: scales the centred Irwin–Hall sum of four uniforms (variance 1/3) to unit variance.
    private const double Sqrt3 = 1.7320508075688772;

    private ulong _state;

    public SyntheticRandom(int seed, ulong kind, ulong index)
    {
        _state = Mix(Mix(Mix((ulong)(uint)seed + Golden) ^ (kind * Golden)) ^ (index + 1));
    }

    public ulong NextUInt64()
    {
        _state += Golden;
        return Mix(_state);
    }

    /// <summary>An integer in [0, bound): the high 32 bits times the bound (Lemire's multiply-shift; the bias is below
    /// bound / 2^32).</summary>
    public int NextInt(int bound) => (int)(((NextUInt64() >> 32) * (ulong)(uint)bound) >> 32);

    /// <summary>
    /// An approximately standard normal value: the Irwin–Hall sum of four uniforms on (0, 1) (four 16-bit slices of one
    /// 64-bit draw, each (c + ½) / 65536), centred and scaled to variance 1. Its support is ±2√3 ≈ ±3.46; no
    /// transcendental function is involved, which keeps it bit-reproducible.
    /// </summary>
    public double NextGaussian()
    {
        ulong bits = NextUInt64();
        ulong sum = (bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) + ((bits >> 32) & 0xFFFF) + (bits >> 48);
        return (((sum + 2.0) / 65536.0) - 2.0) * Sqrt3;
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
