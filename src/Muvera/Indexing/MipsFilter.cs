// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Muvera.Indexing;

/// <summary>
/// The ids a filtered MIPS search may return: a bit set over ids 0 … <see cref="Capacity"/> − 1 (ids at or past the
/// capacity are never allowed).
/// </summary>
/// <remarks>One bit per id (125 KB per million ids); <see cref="Allows"/> is one load and a shift. Not thread-safe while
/// being built; any number of searches may read a finished filter at once.</remarks>
public sealed class MipsFilter
{
    private readonly ulong[] _bits;
    private int _allowed;

    /// <summary>A filter over ids 0 … <paramref name="capacity"/> − 1 that allows none of them yet.</summary>
    /// <param name="capacity">The number of ids it covers (non-negative).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is negative.</exception>
    public MipsFilter(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Capacity = capacity;
        _bits = new ulong[(capacity + 63) / 64];
    }

    /// <summary>The number of ids the filter covers.</summary>
    public int Capacity { get; }

    /// <summary>How many ids are allowed.</summary>
    public int AllowedCount => _allowed;

    /// <summary>A filter that allows the ids for which <paramref name="allow"/> returns true.</summary>
    /// <param name="capacity">The number of ids (for example the index's <see cref="IMipsIndex.Count"/>).</param>
    /// <param name="allow">Called once per id, in order.</param>
    /// <returns>The filter.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="allow"/> is null.</exception>
    public static MipsFilter FromPredicate(int capacity, Func<int, bool> allow)
    {
        ArgumentNullException.ThrowIfNull(allow);
        var filter = new MipsFilter(capacity);
        for (int id = 0; id < capacity; id++)
        {
            if (allow(id))
            {
                filter.Allow(id);
            }
        }

        return filter;
    }

    /// <summary>Allows <paramref name="id"/> (allowing it twice changes nothing).</summary>
    /// <param name="id">An id in [0, <see cref="Capacity"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, Capacity).</exception>
    public void Allow(int id)
    {
        if ((uint)id >= (uint)Capacity)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(id), id, $"id {id} is outside the filter's [0, {Capacity}).");
        }

        ulong mask = 1UL << (id & 63);
        ref ulong word = ref _bits[id >> 6];
        if ((word & mask) == 0)
        {
            word |= mask;
            _allowed++;
        }
    }

    /// <summary>Whether <paramref name="id"/> is allowed (false for ids outside [0, <see cref="Capacity"/>)).</summary>
    /// <param name="id">Any id.</param>
    /// <returns>True when allowed.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Allows(int id) => (uint)id < (uint)Capacity && (_bits[id >> 6] & (1UL << (id & 63))) != 0;

    /// <summary>The allowed ids in ascending order.</summary>
    /// <returns>A new array of <see cref="AllowedCount"/> ids.</returns>
    public int[] ToArray()
    {
        int[] ids = new int[_allowed];
        int next = 0;
        for (int w = 0; w < _bits.Length; w++)
        {
            for (ulong word = _bits[w]; word != 0; word &= word - 1)
            {
                ids[next++] = (w << 6) + BitOperations.TrailingZeroCount(word);
            }
        }

        return ids;
    }
}
