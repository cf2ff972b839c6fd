// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Muvera.Kernels;

/// <summary>
/// The kernels of quantized token storage: decoding int8 codes and residual codes to floats (the reconstruction every
/// reader of a quantized store sees) and finding each token's nearest residual centroid.
/// </summary>
/// <remarks>
/// <para>Decoding is element-wise exact float arithmetic (int8: one fused multiply-add per coordinate,
/// <c>fma(scale_j, (float)c, offset_j)</c>; residual: one addition, <c>centroid_j + bucket_j[code]</c>), so the
/// 512/256/128-bit paths equal the scalar twin bit for bit: a byte converts to float exactly and a lane computes the
/// same single IEEE operation as the scalar code. Tails: the int8 decoder re-does the last full vector over the
/// coordinates <c>[d − W, d)</c> (overlapping, writing the same values again); the residual adder finishes on the scalar
/// twin, since it accumulates in place.</para>
/// <para>Nearest centroid: inner products with the transposed centroids in register tiles of 4 tokens × 4 vectors of
/// centroids (one fused multiply-add chain over the coordinates in order, from 0, per pair, then + bias = −‖c‖²/2),
/// written to a small tile buffer and reduced by a scalar argmax in increasing centroid order (ties to the lower id).
/// Every pair's value is the same chain at every width, so the chosen ids are identical at every width.</para>
/// </remarks>
internal static class TokenCodecKernels
{
    /// <summary>Decodes <c>codes.Length / d</c> int8 tokens (row-major bytes) into floats:
    /// <c>destination[t·d + j] = fma(scales[j], codes[t·d + j], offsets[j])</c>.</summary>
    public static void DecodeInt8(SimdWidth width, ReadOnlySpan<byte> codes, int dimension, ReadOnlySpan<float> scales,
        ReadOnlySpan<float> offsets, Span<float> destination)
    {
        Debug.Assert(codes.Length % dimension == 0 && destination.Length >= codes.Length && scales.Length >= dimension && offsets.Length >= dimension);
        int tokens = codes.Length / dimension;
        int w = width switch
        {
            SimdWidth.Vector512 => 16,
            SimdWidth.Vector256 => 8,
            SimdWidth.Vector128 => 4,
            _ => 1,
        };
        ref byte c = ref MemoryMarshal.GetReference(codes);
        ref float s = ref MemoryMarshal.GetReference(scales);
        ref float o = ref MemoryMarshal.GetReference(offsets);
        ref float x = ref MemoryMarshal.GetReference(destination);
        for (int t = 0; t < tokens; t++)
        {
            ref byte row = ref Unsafe.Add(ref c, t * dimension);
            ref float output = ref Unsafe.Add(ref x, t * dimension);
            if (w == 1 || dimension < w)
            {
                DecodeInt8Scalar(ref row, ref s, ref o, ref output, 0, dimension);
                continue;
            }

            int j = 0;
            for (; j + w <= dimension; j += w)
            {
                DecodeInt8Vector(width, ref row, ref s, ref o, ref output, j);
            }

            if (j < dimension)
            {
                // The overlapping last vector: recomputes a few coordinates with the same operation and value.
                DecodeInt8Vector(width, ref row, ref s, ref o, ref output, dimension - w);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DecodeInt8Vector(SimdWidth width, ref byte row, ref float scales, ref float offsets, ref float output, int j)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref scales, (nuint)j), Bytes512(ref Unsafe.Add(ref row, j)), Vector512.LoadUnsafe(ref offsets, (nuint)j))
                    .StoreUnsafe(ref output, (nuint)j);
                break;
            case SimdWidth.Vector256:
                Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref scales, (nuint)j), Bytes256(ref Unsafe.Add(ref row, j)), Vector256.LoadUnsafe(ref offsets, (nuint)j))
                    .StoreUnsafe(ref output, (nuint)j);
                break;
            default:
                Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref scales, (nuint)j), Bytes128(ref Unsafe.Add(ref row, j)), Vector128.LoadUnsafe(ref offsets, (nuint)j))
                    .StoreUnsafe(ref output, (nuint)j);
                break;
        }
    }

    private static void DecodeInt8Scalar(ref byte row, ref float scales, ref float offsets, ref float output, int start, int end)
    {
        for (int j = start; j < end; j++)
        {
            Unsafe.Add(ref output, j) = MathF.FusedMultiplyAdd(Unsafe.Add(ref scales, j), Unsafe.Add(ref row, j), Unsafe.Add(ref offsets, j));
        }
    }

    // 16 bytes as 16 floats (exact): vpmovzxbd + vcvtdq2ps where AVX-512 is present, else two 8-byte halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Bytes512(ref byte source)
    {
        if (Avx512F.IsSupported)
        {
            return Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref source)));
        }

        return Vector512.Create(Bytes256(ref source), Bytes256(ref Unsafe.Add(ref source, 8)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Bytes256(ref byte source)
    {
        if (Avx2.IsSupported)
        {
            Vector128<byte> eight = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref source)).AsByte();
            return Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(eight));
        }

        return Vector256.Create(Bytes128(ref source), Bytes128(ref Unsafe.Add(ref source, 4)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Bytes128(ref byte source)
    {
        if (Sse41.IsSupported)
        {
            Vector128<byte> four = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<uint>(ref source)).AsByte();
            return Sse2.ConvertToVector128Single(Sse41.ConvertToVector128Int32(four));
        }

        return Vector128.Create((float)source, Unsafe.Add(ref source, 1), Unsafe.Add(ref source, 2), Unsafe.Add(ref source, 3));
    }

    /// <summary><c>destination[j] += addend[j]</c> for j &lt; addend.Length (the residual decoder adds each token's
    /// centroid to its expanded bucket values).</summary>
    public static void AddInPlace(SimdWidth width, ReadOnlySpan<float> addend, Span<float> destination)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                AddInPlace<Lanes512, Vector512<float>>(addend, destination);
                break;
            case SimdWidth.Vector256:
                AddInPlace<Lanes256, Vector256<float>>(addend, destination);
                break;
            case SimdWidth.Vector128:
                AddInPlace<Lanes128, Vector128<float>>(addend, destination);
                break;
            default:
                AddInPlace<LanesScalar, float>(addend, destination);
                break;
        }
    }

    /// <summary>See <see cref="AddInPlace(SimdWidth, ReadOnlySpan{float}, Span{float})"/>; the tail runs on the scalar
    /// twin (an overlapping vector would add twice).</summary>
    public static void AddInPlace<TLanes, TVec>(ReadOnlySpan<float> addend, Span<float> destination)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(destination.Length >= addend.Length);
        ref float a = ref MemoryMarshal.GetReference(addend);
        ref float d = ref MemoryMarshal.GetReference(destination);
        int w = TLanes.Count;
        int j = 0;
        for (; j + w <= addend.Length; j += w)
        {
            TLanes.Store(TLanes.Add(TLanes.Load(ref d, (nuint)j), TLanes.Load(ref a, (nuint)j)), ref d, (nuint)j);
        }

        for (; j < addend.Length; j++)
        {
            Unsafe.Add(ref d, j) += Unsafe.Add(ref a, j);
        }
    }

    /// <summary>Expands one token's residual codes through the per-byte lookup table: code byte p (holding
    /// <c>perByte = 8 / bits</c> coordinates, the lowest bits first) becomes <c>lut[(p · 256 + byte) · perByte + i]</c>
    /// for its coordinates i. Writes exactly <paramref name="dimension"/> floats (the last byte's padding coordinates are
    /// not written). Copies only, so every width gives the same floats.</summary>
    public static void ExpandResidual(ReadOnlySpan<byte> codes, int perByte, int dimension, ReadOnlySpan<float> lut, Span<float> destination)
    {
        Debug.Assert(destination.Length >= dimension && codes.Length * perByte >= dimension && lut.Length >= codes.Length * 256 * perByte);
        ref float table = ref MemoryMarshal.GetReference(lut);
        ref float output = ref MemoryMarshal.GetReference(destination);
        int full = dimension / perByte;
        uint bytes = (uint)(perByte * sizeof(float));
        for (int p = 0; p < full; p++)
        {
            ref float entry = ref Unsafe.Add(ref table, ((p * 256) + codes[p]) * perByte);
            Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref output, p * perByte)), ref Unsafe.As<float, byte>(ref entry), bytes);
        }

        int rest = dimension - (full * perByte);
        if (rest > 0)
        {
            ref float entry = ref Unsafe.Add(ref table, ((full * 256) + codes[full]) * perByte);
            for (int i = 0; i < rest; i++)
            {
                Unsafe.Add(ref output, (full * perByte) + i) = Unsafe.Add(ref entry, i);
            }
        }
    }

    /// <summary><see cref="NearestCentroids{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static void NearestCentroids(SimdWidth width, ReadOnlySpan<float> points, int dimension, ReadOnlySpan<float> centroidsT, int columns,
        ReadOnlySpan<float> bias, Span<int> ids)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                NearestCentroids<Lanes512, Vector512<float>>(points, dimension, centroidsT, columns, bias, ids);
                break;
            case SimdWidth.Vector256:
                NearestCentroids<Lanes256, Vector256<float>>(points, dimension, centroidsT, columns, bias, ids);
                break;
            case SimdWidth.Vector128:
                NearestCentroids<Lanes128, Vector128<float>>(points, dimension, centroidsT, columns, bias, ids);
                break;
            default:
                NearestCentroids<LanesScalar, float>(points, dimension, centroidsT, columns, bias, ids);
                break;
        }
    }

    /// <summary>
    /// For every point (row of <paramref name="points"/>), the column c maximising <c>(Σ_j fma chain of x_j·C[j, c]) +
    /// bias[c]</c>, ties to the lower c. With bias = −‖c‖²/2 this is the nearest centroid in L2; padding columns carry a
    /// bias of −∞.
    /// </summary>
    /// <param name="points">n × d, row-major.</param>
    /// <param name="dimension">d.</param>
    /// <param name="centroidsT">d rows of <paramref name="columns"/> floats (centroid c in column c).</param>
    /// <param name="columns">A multiple of 16.</param>
    /// <param name="bias">Per column.</param>
    /// <param name="ids">Receives n ids.</param>
    public static void NearestCentroids<TLanes, TVec>(ReadOnlySpan<float> points, int dimension, ReadOnlySpan<float> centroidsT, int columns,
        ReadOnlySpan<float> bias, Span<int> ids)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        int n = ids.Length;
        Debug.Assert(points.Length >= n * dimension && centroidsT.Length >= dimension * columns && bias.Length >= columns && columns % 16 == 0);
        int w = TLanes.Count;
        ref float rx = ref MemoryMarshal.GetReference(points);
        ref float rc = ref MemoryMarshal.GetReference(centroidsT);
        nuint ldc = (nuint)columns;
        Span<float> tile = stackalloc float[4 * 4 * 16];
        ref float rt = ref MemoryMarshal.GetReference(tile);
        int p = 0;
        for (; p + 4 <= n; p += 4)
        {
            ref float x0 = ref Unsafe.Add(ref rx, p * dimension);
            ref float x1 = ref Unsafe.Add(ref x0, dimension);
            ref float x2 = ref Unsafe.Add(ref x1, dimension);
            ref float x3 = ref Unsafe.Add(ref x2, dimension);
            float best0 = float.NegativeInfinity, best1 = float.NegativeInfinity, best2 = float.NegativeInfinity, best3 = float.NegativeInfinity;
            int id0 = 0, id1 = 0, id2 = 0, id3 = 0;
            int col = 0;
            for (; col + (4 * w) <= columns; col += 4 * w)
            {
                TVec s00 = TLanes.Zero, s01 = TLanes.Zero, s02 = TLanes.Zero, s03 = TLanes.Zero;
                TVec s10 = TLanes.Zero, s11 = TLanes.Zero, s12 = TLanes.Zero, s13 = TLanes.Zero;
                TVec s20 = TLanes.Zero, s21 = TLanes.Zero, s22 = TLanes.Zero, s23 = TLanes.Zero;
                TVec s30 = TLanes.Zero, s31 = TLanes.Zero, s32 = TLanes.Zero, s33 = TLanes.Zero;
                nuint offset = (nuint)col;
                for (int k = 0; k < dimension; k++, offset += ldc)
                {
                    TVec c0 = TLanes.Load(ref rc, offset);
                    TVec c1 = TLanes.Load(ref rc, offset + (nuint)w);
                    TVec c2 = TLanes.Load(ref rc, offset + (nuint)(2 * w));
                    TVec c3 = TLanes.Load(ref rc, offset + (nuint)(3 * w));
                    TVec v = TLanes.Broadcast(Unsafe.Add(ref x0, k));
                    s00 = TLanes.MultiplyAdd(v, c0, s00);
                    s01 = TLanes.MultiplyAdd(v, c1, s01);
                    s02 = TLanes.MultiplyAdd(v, c2, s02);
                    s03 = TLanes.MultiplyAdd(v, c3, s03);
                    v = TLanes.Broadcast(Unsafe.Add(ref x1, k));
                    s10 = TLanes.MultiplyAdd(v, c0, s10);
                    s11 = TLanes.MultiplyAdd(v, c1, s11);
                    s12 = TLanes.MultiplyAdd(v, c2, s12);
                    s13 = TLanes.MultiplyAdd(v, c3, s13);
                    v = TLanes.Broadcast(Unsafe.Add(ref x2, k));
                    s20 = TLanes.MultiplyAdd(v, c0, s20);
                    s21 = TLanes.MultiplyAdd(v, c1, s21);
                    s22 = TLanes.MultiplyAdd(v, c2, s22);
                    s23 = TLanes.MultiplyAdd(v, c3, s23);
                    v = TLanes.Broadcast(Unsafe.Add(ref x3, k));
                    s30 = TLanes.MultiplyAdd(v, c0, s30);
                    s31 = TLanes.MultiplyAdd(v, c1, s31);
                    s32 = TLanes.MultiplyAdd(v, c2, s32);
                    s33 = TLanes.MultiplyAdd(v, c3, s33);
                }

                int span = 4 * w;
                StoreRow<TLanes, TVec>(ref rt, 0, w, s00, s01, s02, s03);
                StoreRow<TLanes, TVec>(ref rt, span, w, s10, s11, s12, s13);
                StoreRow<TLanes, TVec>(ref rt, 2 * span, w, s20, s21, s22, s23);
                StoreRow<TLanes, TVec>(ref rt, 3 * span, w, s30, s31, s32, s33);
                ArgMax(tile[..span], bias.Slice(col, span), col, ref best0, ref id0);
                ArgMax(tile.Slice(span, span), bias.Slice(col, span), col, ref best1, ref id1);
                ArgMax(tile.Slice(2 * span, span), bias.Slice(col, span), col, ref best2, ref id2);
                ArgMax(tile.Slice(3 * span, span), bias.Slice(col, span), col, ref best3, ref id3);
            }

            for (; col < columns; col += w)
            {
                TVec s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
                nuint offset = (nuint)col;
                for (int k = 0; k < dimension; k++, offset += ldc)
                {
                    TVec c0 = TLanes.Load(ref rc, offset);
                    s0 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref x0, k)), c0, s0);
                    s1 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref x1, k)), c0, s1);
                    s2 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref x2, k)), c0, s2);
                    s3 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref x3, k)), c0, s3);
                }

                TLanes.Store(s0, ref rt, 0);
                TLanes.Store(s1, ref rt, (nuint)w);
                TLanes.Store(s2, ref rt, (nuint)(2 * w));
                TLanes.Store(s3, ref rt, (nuint)(3 * w));
                ArgMax(tile[..w], bias.Slice(col, w), col, ref best0, ref id0);
                ArgMax(tile.Slice(w, w), bias.Slice(col, w), col, ref best1, ref id1);
                ArgMax(tile.Slice(2 * w, w), bias.Slice(col, w), col, ref best2, ref id2);
                ArgMax(tile.Slice(3 * w, w), bias.Slice(col, w), col, ref best3, ref id3);
            }

            ids[p] = id0;
            ids[p + 1] = id1;
            ids[p + 2] = id2;
            ids[p + 3] = id3;
        }

        for (; p < n; p++)
        {
            ref float x0 = ref Unsafe.Add(ref rx, p * dimension);
            float best = float.NegativeInfinity;
            int id = 0;
            for (int col = 0; col < columns; col += w)
            {
                TVec s0 = TLanes.Zero;
                nuint offset = (nuint)col;
                for (int k = 0; k < dimension; k++, offset += ldc)
                {
                    s0 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref x0, k)), TLanes.Load(ref rc, offset), s0);
                }

                TLanes.Store(s0, ref rt, 0);
                ArgMax(tile[..w], bias.Slice(col, w), col, ref best, ref id);
            }

            ids[p] = id;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TLanes, TVec>(ref float tile, int start, int w, TVec a, TVec b, TVec c, TVec d)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        TLanes.Store(a, ref tile, (nuint)start);
        TLanes.Store(b, ref tile, (nuint)(start + w));
        TLanes.Store(c, ref tile, (nuint)(start + (2 * w)));
        TLanes.Store(d, ref tile, (nuint)(start + (3 * w)));
    }

    // Strictly greater replaces, so among equal values the lowest column (seen first) stays.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ArgMax(ReadOnlySpan<float> sums, ReadOnlySpan<float> bias, int first, ref float best, ref int id)
    {
        for (int i = 0; i < sums.Length; i++)
        {
            float value = sums[i] + bias[i];
            if (value > best)
            {
                best = value;
                id = first + i;
            }
        }
    }
}
