// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Muvera.Kernels;

/// <summary>Which instructions an int8 dot product runs on.</summary>
internal enum Int8DotPath
{
    /// <summary>The scalar twin.</summary>
    Scalar,

    /// <summary>Portable 128-bit vectors: widen both sides to 16 bits, multiply-add pairs into 32 bits.</summary>
    Widen128,

    /// <summary>AVX2: the same widening, 256 bits at a time.</summary>
    Widen256,

    /// <summary>AVX-512BW: the same widening, 512 bits at a time.</summary>
    Widen512,

    /// <summary>AVX-VNNI: <c>vpdpbusd</c> (unsigned × signed bytes, four products summed into each 32-bit lane), 256 bits.</summary>
    Vnni256,
}

/// <summary>
/// Exact integer dot products of unsigned 8-bit codes with a signed 8-bit query: the scan of int8 FDE storage.
/// </summary>
/// <remarks>
/// Every path computes the exact integer sum (no saturation: <c>vpdpbusd</c> and <c>vpmaddwd</c> both add exact
/// 32-bit products), so all paths return the same value. Lane layout: 32-bit lanes hold partial sums of interleaved
/// coordinates; they are added at the end. Overflow: a chunk of <see cref="ChunkLength"/> coordinates sums to at most
/// 65,536 · 255 · 127 &lt; 2^31 in any lane, and chunks are added in 64 bits. Tails (the last length mod W
/// coordinates) run on the scalar twin.
/// </remarks>
internal static class Int8Kernels
{
    /// <summary>Coordinates per 32-bit accumulation chunk.</summary>
    public const int ChunkLength = 1 << 16;

    /// <summary>Whether <paramref name="path"/> runs here.</summary>
    public static bool IsSupported(Int8DotPath path) => path switch
    {
        Int8DotPath.Vnni256 => AvxVnni.IsSupported,
        Int8DotPath.Widen512 => Avx512BW.IsSupported,
        Int8DotPath.Widen256 => Avx2.IsSupported,
        _ => true,
    };

    /// <summary>The path the index uses: VNNI where the CPU has it, else the widest widening path.</summary>
    public static Int8DotPath Preferred { get; } =
        AvxVnni.IsSupported ? Int8DotPath.Vnni256 :
        Avx512BW.IsSupported ? Int8DotPath.Widen512 :
        Avx2.IsSupported ? Int8DotPath.Widen256 :
        Vector128.IsHardwareAccelerated ? Int8DotPath.Widen128 :
        Int8DotPath.Scalar;

    /// <summary>Σ codes[i] · query[i] over the common length, exactly.</summary>
    public static long Dot(Int8DotPath path, ReadOnlySpan<byte> codes, ReadOnlySpan<sbyte> query)
    {
        Debug.Assert(codes.Length == query.Length);
        long total = 0;
        for (int start = 0; start < codes.Length; start += ChunkLength)
        {
            int length = Math.Min(ChunkLength, codes.Length - start);
            ReadOnlySpan<byte> c = codes.Slice(start, length);
            ReadOnlySpan<sbyte> q = query.Slice(start, length);
            total += path switch
            {
                Int8DotPath.Vnni256 => DotVnni256(c, q),
                Int8DotPath.Widen512 => DotWiden512(c, q),
                Int8DotPath.Widen256 => DotWiden256(c, q),
                Int8DotPath.Widen128 => DotWiden128(c, q),
                _ => DotScalar(c, q),
            };
        }

        return total;
    }

    /// <summary>The scalar twin.</summary>
    internal static int DotScalar(ReadOnlySpan<byte> codes, ReadOnlySpan<sbyte> query)
    {
        int sum = 0;
        for (int i = 0; i < codes.Length; i++)
        {
            sum += codes[i] * query[i];
        }

        return sum;
    }

    internal static int DotVnni256(ReadOnlySpan<byte> codes, ReadOnlySpan<sbyte> query)
    {
        ref byte c = ref MemoryMarshal.GetReference(codes);
        ref sbyte q = ref MemoryMarshal.GetReference(query);
        Vector256<int> a0 = Vector256<int>.Zero, a1 = Vector256<int>.Zero;
        nuint length = (nuint)codes.Length;
        nuint i = 0;
        for (; i + 64 <= length; i += 64)
        {
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.LoadUnsafe(ref c, i), Vector256.LoadUnsafe(ref q, i));
            a1 = AvxVnni.MultiplyWideningAndAdd(a1, Vector256.LoadUnsafe(ref c, i + 32), Vector256.LoadUnsafe(ref q, i + 32));
        }

        for (; i + 32 <= length; i += 32)
        {
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.LoadUnsafe(ref c, i), Vector256.LoadUnsafe(ref q, i));
        }

        return Vector256.Sum(a0 + a1) + DotScalar(codes[(int)i..], query[(int)i..]);
    }

    internal static int DotWiden512(ReadOnlySpan<byte> codes, ReadOnlySpan<sbyte> query)
    {
        ref byte c = ref MemoryMarshal.GetReference(codes);
        ref sbyte q = ref MemoryMarshal.GetReference(query);
        Vector512<int> a0 = Vector512<int>.Zero, a1 = Vector512<int>.Zero;
        nuint length = (nuint)codes.Length;
        nuint i = 0;
        for (; i + 64 <= length; i += 64)
        {
            Vector512<short> c0 = Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref c, i));
            Vector512<short> c1 = Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref c, i + 32));
            Vector512<short> q0 = Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref q, i));
            Vector512<short> q1 = Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref q, i + 32));
            a0 += Avx512BW.MultiplyAddAdjacent(c0, q0);
            a1 += Avx512BW.MultiplyAddAdjacent(c1, q1);
        }

        return Vector512.Sum(a0 + a1) + DotScalar(codes[(int)i..], query[(int)i..]);
    }

    internal static int DotWiden256(ReadOnlySpan<byte> codes, ReadOnlySpan<sbyte> query)
    {
        ref byte c = ref MemoryMarshal.GetReference(codes);
        ref sbyte q = ref MemoryMarshal.GetReference(query);
        Vector256<int> a0 = Vector256<int>.Zero;
        nuint length = (nuint)codes.Length;
        nuint i = 0;
        for (; i + 16 <= length; i += 16)
        {
            Vector256<short> c0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref c, i));
            Vector256<short> q0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref q, i));
            a0 += Avx2.MultiplyAddAdjacent(c0, q0);
        }

        return Vector256.Sum(a0) + DotScalar(codes[(int)i..], query[(int)i..]);
    }

    internal static int DotWiden128(ReadOnlySpan<byte> codes, ReadOnlySpan<sbyte> query)
    {
        ref byte c = ref MemoryMarshal.GetReference(codes);
        ref sbyte q = ref MemoryMarshal.GetReference(query);
        Vector128<int> a0 = Vector128<int>.Zero;
        nuint length = (nuint)codes.Length;
        nuint i = 0;
        for (; i + 16 <= length; i += 16)
        {
            (Vector128<ushort> cl, Vector128<ushort> ch) = Vector128.Widen(Vector128.LoadUnsafe(ref c, i));
            (Vector128<short> ql, Vector128<short> qh) = Vector128.Widen(Vector128.LoadUnsafe(ref q, i));
            (Vector128<int> p0, Vector128<int> p1) = Vector128.Widen(cl.AsInt16() * ql);
            (Vector128<int> p2, Vector128<int> p3) = Vector128.Widen(ch.AsInt16() * qh);
            a0 += (p0 + p1) + (p2 + p3);
        }

        return Vector128.Sum(a0) + DotScalar(codes[(int)i..], query[(int)i..]);
    }
}
