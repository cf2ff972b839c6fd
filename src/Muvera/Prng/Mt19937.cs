// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Diagnostics;

namespace Muvera.Prng;

/// <summary>
/// The 32-bit Mersenne Twister MT19937 (Matsumoto and Nishimura 1998), exactly as <c>std::mt19937</c>:
/// the same seeding (<c>x[i] = 1812433253 · (x[i-1] ^ (x[i-1] &gt;&gt; 30)) + i</c>) and the same tempering,
/// so a given seed yields the same word sequence as the C++ reference on every platform.
/// </summary>
/// <remarks>Integer arithmetic only: the output is identical across .NET versions, operating systems and CPUs.</remarks>
internal sealed class Mt19937
{
    private const int N = 624;
    private const int M = 397;
    private const uint MatrixA = 0x9908B0DFu;
    private const uint UpperMask = 0x80000000u;
    private const uint LowerMask = 0x7FFFFFFFu;

    private readonly uint[] _state = new uint[N];
    private int _index;

    /// <summary>Seeds the generator like <c>std::mt19937(seed)</c>.</summary>
    public Mt19937(uint seed) => Reseed(seed);

    /// <summary>Restarts the generator as if it had just been constructed with <paramref name="seed"/> (no new state
    /// array: drawing the matrices of many repetitions allocates one engine).</summary>
    public void Reseed(uint seed)
    {
        _state[0] = seed;
        for (int i = 1; i < N; i++)
        {
            uint previous = _state[i - 1];
            _state[i] = unchecked((1812433253u * (previous ^ (previous >> 30))) + (uint)i);
        }

        _index = N;
    }

    /// <summary>Returns the next 32-bit word.</summary>
    public uint Next()
    {
        if (_index >= N)
        {
            Twist();
        }

        uint y = _state[_index++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C5680u;
        y ^= (y << 15) & 0xEFC60000u;
        y ^= y >> 18;
        return y;
    }

    private void Twist()
    {
        uint[] mt = _state;
        for (int i = 0; i < N; i++)
        {
            uint y = (mt[i] & UpperMask) | (mt[(i + 1) % N] & LowerMask);
            uint next = mt[(i + M) % N] ^ (y >> 1);
            if ((y & 1) != 0)
            {
                next ^= MatrixA;
            }

            mt[i] = next;
        }

        _index = 0;
        Debug.Assert(_index == 0);
    }
}
