// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Muvera.Kernels;

/// <summary>
/// The FDE encoder's inner loops, generic over a SIMD width (<see cref="ILanes{TVec}"/>).
/// </summary>
/// <remarks>
/// Lane layout: every kernel works on the transposed token matrix Xᵀ (d rows of <c>columns</c> floats, one column
/// per token, zero-padded to a multiple of 16), so a vector holds one coordinate of consecutive tokens. Each output
/// element is then produced by the same sequence of IEEE operations (fused multiply-adds in increasing input index)
/// in whichever lane and at whichever width it is computed: the 512/256/128-bit paths equal the scalar twin bit for
/// bit, and an encoding never depends on the CPU, the batch split or the thread count. No tails: the padding makes
/// every row a whole number of vectors at every width (16 is a multiple of every lane count).
/// </remarks>
internal static class FdeKernels
{
    /// <summary>Token columns are padded to a multiple of this (the widest lane count).</summary>
    public const int ColumnAlignment = 16;

    /// <summary>Rounds a token count up to <see cref="ColumnAlignment"/>.</summary>
    public static int PadColumns(int tokens) => (tokens + ColumnAlignment - 1) & ~(ColumnAlignment - 1);

    /// <summary>Returns whether any value is NaN or ±∞ (x − x is +0 for finite x and NaN otherwise).</summary>
    public static bool HasNonFinite<TLanes, TVec>(ReadOnlySpan<float> values)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        ref float source = ref MemoryMarshal.GetReference(values);
        int w = TLanes.Count;
        TVec probe = TLanes.Zero;
        int i = 0;
        for (; i + w <= values.Length; i += w)
        {
            TVec x = TLanes.Load(ref source, (nuint)i);
            probe = TLanes.Add(probe, TLanes.Subtract(x, x));
        }

        float tail = 0f;
        for (; i < values.Length; i++)
        {
            float x = Unsafe.Add(ref source, i);
            tail += x - x;
        }

        return !TLanes.IsAllZero(probe) || tail != 0f;
    }

    /// <summary>Writes Xᵀ: row i holds coordinate i of tokens 0..n−1, then zeros up to <paramref name="columns"/>.</summary>
    public static void Transpose(ReadOnlySpan<float> tokens, int count, int dimension, Span<float> transposed, int columns)
    {
        Debug.Assert(tokens.Length == count * dimension && transposed.Length >= dimension * columns && columns >= count);
        ref float source = ref MemoryMarshal.GetReference(tokens);
        ref float destination = ref MemoryMarshal.GetReference(transposed);

        // Blocks of 8 tokens keep the reads of 8 source rows and the writes of each destination row in cache lines.
        int t0 = 0;
        for (; t0 + 8 <= count; t0 += 8)
        {
            for (int i = 0; i < dimension; i++)
            {
                ref float row = ref Unsafe.Add(ref destination, (i * columns) + t0);
                ref float column = ref Unsafe.Add(ref source, (t0 * dimension) + i);
                for (int t = 0; t < 8; t++)
                {
                    Unsafe.Add(ref row, t) = Unsafe.Add(ref column, t * dimension);
                }
            }
        }

        for (int i = 0; i < dimension; i++)
        {
            ref float row = ref Unsafe.Add(ref destination, i * columns);
            for (int t = t0; t < count; t++)
            {
                Unsafe.Add(ref row, t) = Unsafe.Add(ref source, (t * dimension) + i);
            }

            for (int t = count; t < columns; t++)
            {
                Unsafe.Add(ref row, t) = 0f;
            }
        }
    }

    /// <summary>
    /// C = A·B with A (rows × depth), B (depth × columns) and C (rows × columns), all row-major;
    /// <paramref name="columns"/> is a multiple of <see cref="ColumnAlignment"/>.
    /// </summary>
    /// <remarks>
    /// Register tile: 4 rows of A (broadcast) × 4 vectors of B = 16 accumulators, one fused multiply-add chain per
    /// output over depth 0..depth−1 in order (so equal to the scalar twin bit for bit). Column remainder: 4 × 1
    /// vectors; row remainder: 1 × 1.
    /// </remarks>
    public static void MultiplyTransposed<TLanes, TVec>(
        ReadOnlySpan<float> a, int rows, int depth, ReadOnlySpan<float> b, int columns, Span<float> c)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(columns % ColumnAlignment == 0);
        Debug.Assert(a.Length >= rows * depth && b.Length >= depth * columns && c.Length >= rows * columns);
        int w = TLanes.Count;
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rc = ref MemoryMarshal.GetReference(c);
        nuint ldb = (nuint)columns;

        int row = 0;
        for (; row + 4 <= rows; row += 4)
        {
            ref float a0 = ref Unsafe.Add(ref ra, row * depth);
            ref float a1 = ref Unsafe.Add(ref a0, depth);
            ref float a2 = ref Unsafe.Add(ref a1, depth);
            ref float a3 = ref Unsafe.Add(ref a2, depth);
            nuint c0 = (nuint)(row * columns);
            int col = 0;
            for (; col + (4 * w) <= columns; col += 4 * w)
            {
                TVec s00 = TLanes.Zero, s01 = TLanes.Zero, s02 = TLanes.Zero, s03 = TLanes.Zero;
                TVec s10 = TLanes.Zero, s11 = TLanes.Zero, s12 = TLanes.Zero, s13 = TLanes.Zero;
                TVec s20 = TLanes.Zero, s21 = TLanes.Zero, s22 = TLanes.Zero, s23 = TLanes.Zero;
                TVec s30 = TLanes.Zero, s31 = TLanes.Zero, s32 = TLanes.Zero, s33 = TLanes.Zero;
                nuint offset = (nuint)col;
                for (int kk = 0; kk < depth; kk++, offset += ldb)
                {
                    TVec b0 = TLanes.Load(ref rb, offset);
                    TVec b1 = TLanes.Load(ref rb, offset + (nuint)w);
                    TVec b2 = TLanes.Load(ref rb, offset + (nuint)(2 * w));
                    TVec b3 = TLanes.Load(ref rb, offset + (nuint)(3 * w));
                    TVec x = TLanes.Broadcast(Unsafe.Add(ref a0, kk));
                    s00 = TLanes.MultiplyAdd(x, b0, s00);
                    s01 = TLanes.MultiplyAdd(x, b1, s01);
                    s02 = TLanes.MultiplyAdd(x, b2, s02);
                    s03 = TLanes.MultiplyAdd(x, b3, s03);
                    x = TLanes.Broadcast(Unsafe.Add(ref a1, kk));
                    s10 = TLanes.MultiplyAdd(x, b0, s10);
                    s11 = TLanes.MultiplyAdd(x, b1, s11);
                    s12 = TLanes.MultiplyAdd(x, b2, s12);
                    s13 = TLanes.MultiplyAdd(x, b3, s13);
                    x = TLanes.Broadcast(Unsafe.Add(ref a2, kk));
                    s20 = TLanes.MultiplyAdd(x, b0, s20);
                    s21 = TLanes.MultiplyAdd(x, b1, s21);
                    s22 = TLanes.MultiplyAdd(x, b2, s22);
                    s23 = TLanes.MultiplyAdd(x, b3, s23);
                    x = TLanes.Broadcast(Unsafe.Add(ref a3, kk));
                    s30 = TLanes.MultiplyAdd(x, b0, s30);
                    s31 = TLanes.MultiplyAdd(x, b1, s31);
                    s32 = TLanes.MultiplyAdd(x, b2, s32);
                    s33 = TLanes.MultiplyAdd(x, b3, s33);
                }

                nuint o = c0 + (nuint)col;
                nuint wn = (nuint)w;
                TLanes.Store(s00, ref rc, o);
                TLanes.Store(s01, ref rc, o + wn);
                TLanes.Store(s02, ref rc, o + (2 * wn));
                TLanes.Store(s03, ref rc, o + (3 * wn));
                o += (nuint)columns;
                TLanes.Store(s10, ref rc, o);
                TLanes.Store(s11, ref rc, o + wn);
                TLanes.Store(s12, ref rc, o + (2 * wn));
                TLanes.Store(s13, ref rc, o + (3 * wn));
                o += (nuint)columns;
                TLanes.Store(s20, ref rc, o);
                TLanes.Store(s21, ref rc, o + wn);
                TLanes.Store(s22, ref rc, o + (2 * wn));
                TLanes.Store(s23, ref rc, o + (3 * wn));
                o += (nuint)columns;
                TLanes.Store(s30, ref rc, o);
                TLanes.Store(s31, ref rc, o + wn);
                TLanes.Store(s32, ref rc, o + (2 * wn));
                TLanes.Store(s33, ref rc, o + (3 * wn));
            }

            for (; col < columns; col += w)
            {
                TVec s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
                nuint offset = (nuint)col;
                for (int kk = 0; kk < depth; kk++, offset += ldb)
                {
                    TVec b0 = TLanes.Load(ref rb, offset);
                    s0 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a0, kk)), b0, s0);
                    s1 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a1, kk)), b0, s1);
                    s2 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a2, kk)), b0, s2);
                    s3 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a3, kk)), b0, s3);
                }

                nuint o = c0 + (nuint)col;
                TLanes.Store(s0, ref rc, o);
                TLanes.Store(s1, ref rc, o + (nuint)columns);
                TLanes.Store(s2, ref rc, o + (2 * (nuint)columns));
                TLanes.Store(s3, ref rc, o + (3 * (nuint)columns));
            }
        }

        for (; row < rows; row++)
        {
            ref float a0 = ref Unsafe.Add(ref ra, row * depth);
            for (int col = 0; col < columns; col += w)
            {
                TVec s0 = TLanes.Zero;
                nuint offset = (nuint)col;
                for (int kk = 0; kk < depth; kk++, offset += ldb)
                {
                    s0 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a0, kk)), TLanes.Load(ref rb, offset), s0);
                }

                TLanes.Store(s0, ref rc, (nuint)((row * columns) + col));
            }
        }
    }

    /// <summary>Partition ids of <paramref name="columns"/> tokens from k sketch rows (see <see cref="ILanes{TVec}.GrayCodeIds"/>).</summary>
    public static void GrayCodeIds<TLanes, TVec>(ReadOnlySpan<float> sketchRows, int k, int columns, Span<int> ids)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(columns % ColumnAlignment == 0 && sketchRows.Length >= k * columns && ids.Length >= columns);
        ref float sketch = ref MemoryMarshal.GetReference(sketchRows);
        ref int destination = ref MemoryMarshal.GetReference(ids);
        for (int t = 0; t < columns; t += TLanes.Count)
        {
            TLanes.GrayCodeIds(ref Unsafe.Add(ref sketch, t), (nuint)columns, k, ref Unsafe.Add(ref destination, t));
        }
    }

    /// <summary>
    /// Yᵀ = Sᵀ·Xᵀ for a sparse sketch S with one ±1 per input row (the reference's AMS matrix), given as the input
    /// indices of each output column in increasing order (<paramref name="order"/>, delimited by
    /// <paramref name="starts"/>) with their signs.
    /// </summary>
    /// <remarks>
    /// Output j, token t = Σ over inputs i of column j (increasing i) of sign_i·Xᵀ[i, t], accumulated as fused
    /// ±1·x + acc, which is exactly acc ± x: the same operations at every width. Tile: 4 vectors of tokens.
    /// </remarks>
    public static void SparseProject<TLanes, TVec>(
        ReadOnlySpan<float> transposed, int columns, ReadOnlySpan<int> order, ReadOnlySpan<float> signs,
        ReadOnlySpan<int> starts, int outputs, Span<float> projected)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(columns % ColumnAlignment == 0 && starts.Length >= outputs + 1 && projected.Length >= outputs * columns);
        int w = TLanes.Count;
        ref float rx = ref MemoryMarshal.GetReference(transposed);
        ref float ry = ref MemoryMarshal.GetReference(projected);
        for (int j = 0; j < outputs; j++)
        {
            int begin = starts[j];
            int end = starts[j + 1];
            nuint rowOffset = (nuint)(j * columns);
            int col = 0;
            for (; col + (4 * w) <= columns; col += 4 * w)
            {
                TVec s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
                for (int q = begin; q < end; q++)
                {
                    TVec sign = TLanes.Broadcast(signs[q]);
                    nuint offset = (nuint)((order[q] * columns) + col);
                    s0 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset), s0);
                    s1 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)w), s1);
                    s2 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(2 * w)), s2);
                    s3 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(3 * w)), s3);
                }

                nuint o = rowOffset + (nuint)col;
                TLanes.Store(s0, ref ry, o);
                TLanes.Store(s1, ref ry, o + (nuint)w);
                TLanes.Store(s2, ref ry, o + (nuint)(2 * w));
                TLanes.Store(s3, ref ry, o + (nuint)(3 * w));
            }

            for (; col < columns; col += w)
            {
                TVec s0 = TLanes.Zero;
                for (int q = begin; q < end; q++)
                {
                    s0 = TLanes.MultiplyAdd(TLanes.Broadcast(signs[q]), TLanes.Load(ref rx, (nuint)((order[q] * columns) + col)), s0);
                }

                TLanes.Store(s0, ref ry, rowOffset + (nuint)col);
            }
        }
    }
}
