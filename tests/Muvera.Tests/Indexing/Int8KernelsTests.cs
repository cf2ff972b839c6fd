// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Indexing;

/// <summary><see cref="Int8Kernels"/> on every path (VNNI, 512/256/128-bit widening, scalar) against an exact 64-bit
/// reference, every length 0..256 and a few large ones, including the extreme products and the 2^16 chunking.</summary>
[TestFixture]
public sealed class Int8KernelsTests
{
    public static IEnumerable<int> Paths => Enum.GetValues<Int8DotPath>().Select(p => (int)p);

    [TestCaseSource(nameof(Paths))]
    public void Dot_EveryPathAndLength_EqualsExactReference(int pathValue)
    {
        var path = (Int8DotPath)pathValue;
        Assume.That(Int8Kernels.IsSupported(path), $"{path} is not supported here");
        var random = new Random(pathValue);
        foreach (int length in Enumerable.Range(0, 257).Concat([1000, 10_240, 65_535, 65_536, 65_537, 200_003]))
        {
            byte[] codes = new byte[length];
            sbyte[] query = new sbyte[length];
            random.NextBytes(codes);
            for (int i = 0; i < length; i++)
            {
                query[i] = (sbyte)random.Next(-127, 128);
            }

            Check(path, codes, query, $"random, length {length}");
        }

        foreach (int length in new[] { 64, 65_536, 200_003 })
        {
            Check(path, Enumerable.Repeat((byte)255, length).ToArray(), Enumerable.Repeat((sbyte)127, length).ToArray(), $"largest, length {length}");
            Check(path, Enumerable.Repeat((byte)255, length).ToArray(), Enumerable.Repeat((sbyte)-127, length).ToArray(), $"smallest, length {length}");
        }
    }

    private static void Check(Int8DotPath path, byte[] codes, sbyte[] query, string what)
    {
        using var codeBuffer = new GuardedByteBuffer(codes);
        long expected = 0;
        for (int i = 0; i < codes.Length; i++)
        {
            expected += codes[i] * (long)query[i];
        }

        Assert.That(Int8Kernels.Dot(path, codeBuffer.Span, query), Is.EqualTo(expected), $"{path} {what}");
    }
}
