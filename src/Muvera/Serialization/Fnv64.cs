// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Serialization;

/// <summary>FNV-1a, 64-bit, as the file formats in README.md specify: catches torn or edited bytes; it is not a
/// security boundary.</summary>
internal static class Fnv64
{
    /// <summary>The offset basis, the hash of no bytes.</summary>
    public const ulong Basis = 14695981039346656037UL;

    /// <summary>Continues <paramref name="hash"/> over <paramref name="bytes"/>.</summary>
    public static ulong Append(ulong hash, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            hash = unchecked((hash ^ b) * 1099511628211UL);
        }

        return hash;
    }
}
