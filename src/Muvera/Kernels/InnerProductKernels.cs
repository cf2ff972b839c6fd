// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Muvera.Kernels;

/// <summary>
/// Inner products of query vectors with stored rows, for the exact flat MIPS index.
/// </summary>
/// <remarks>
/// <para>Every inner product ⟨q, r⟩ is the same IEEE sequence whichever kernel computes it: one vector accumulator
/// that takes a fused multiply-add of each whole vector of the dimension in increasing order, then
/// <see cref="ILanes{TVec}.SumAcross"/>, then a fused multiply-add of each tail element in order. The accumulators
/// live in memory between the depth chunks of a tile (<see cref="AccumulateTile{TLanes, TVec}"/>), which does not
/// change that sequence. So a score never depends on batch size, tile shape, row blocking or thread count: a batch
/// search returns exactly what the single searches return.</para>
/// <para>Tiles: 4 queries × 4 rows (16 accumulators, 8 loads per 16 FMAs); 1 query × 4 rows for a query remainder or a
/// single query; 1 × 1 for a row remainder.</para>
/// </remarks>
internal static class InnerProductKernels
{
    /// <summary>
    /// Adds, for vectors [<paramref name="vectorStart"/>, <paramref name="vectorEnd"/>) of the dimension, the products
    /// of <paramref name="queryCount"/> queries with <paramref name="rowCount"/> rows into their accumulators.
    /// </summary>
    /// <param name="queries">Full queries: query q starts at <c>q · queryStride</c>.</param>
    /// <param name="queryCount">How many queries.</param>
    /// <param name="queryStride">Floats between consecutive queries.</param>
    /// <param name="rows">Row r starts at <c>r · rowStride</c>; dimension element e of a row is at offset
    /// <c>e − rowBase</c> within it.</param>
    /// <param name="rowCount">How many rows.</param>
    /// <param name="rowStride">Floats between consecutive rows.</param>
    /// <param name="rowBase">The first dimension element the row buffer holds: 0 for full rows; the chunk start for a
    /// chunk-local scratch buffer (Float16 rows converted chunk by chunk).</param>
    /// <param name="vectorStart">The first vector (of the lane width) of the dimension to add.</param>
    /// <param name="vectorEnd">One past the last vector to add.</param>
    /// <param name="accumulators">Accumulator of (q, r) at index <c>q · rowCount + r</c>.</param>
    public static void AccumulateTile<TLanes, TVec>(
        ReadOnlySpan<float> queries, int queryCount, int queryStride,
        ReadOnlySpan<float> rows, int rowCount, int rowStride, int rowBase,
        int vectorStart, int vectorEnd, Span<TVec> accumulators)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(accumulators.Length >= queryCount * rowCount);
        int w = TLanes.Count;
        ref float rq = ref MemoryMarshal.GetReference(queries);
        ref float rr = ref MemoryMarshal.GetReference(rows);
        ref TVec acc = ref MemoryMarshal.GetReference(accumulators);
        nuint start = (nuint)(vectorStart * w);
        nuint end = (nuint)(vectorEnd * w);
        nuint rowShift = (nuint)rowBase;

        int q = 0;
        for (; q + 4 <= queryCount; q += 4)
        {
            ref float q0 = ref Unsafe.Add(ref rq, q * queryStride);
            ref float q1 = ref Unsafe.Add(ref q0, queryStride);
            ref float q2 = ref Unsafe.Add(ref q1, queryStride);
            ref float q3 = ref Unsafe.Add(ref q2, queryStride);
            int r = 0;
            for (; r + 4 <= rowCount; r += 4)
            {
                ref float r0 = ref Unsafe.Add(ref rr, r * rowStride);
                ref float r1 = ref Unsafe.Add(ref r0, rowStride);
                ref float r2 = ref Unsafe.Add(ref r1, rowStride);
                ref float r3 = ref Unsafe.Add(ref r2, rowStride);
                ref TVec a0 = ref Unsafe.Add(ref acc, (q * rowCount) + r);
                ref TVec a1 = ref Unsafe.Add(ref a0, rowCount);
                ref TVec a2 = ref Unsafe.Add(ref a1, rowCount);
                ref TVec a3 = ref Unsafe.Add(ref a2, rowCount);
                TVec s00 = a0, s01 = Unsafe.Add(ref a0, 1), s02 = Unsafe.Add(ref a0, 2), s03 = Unsafe.Add(ref a0, 3);
                TVec s10 = a1, s11 = Unsafe.Add(ref a1, 1), s12 = Unsafe.Add(ref a1, 2), s13 = Unsafe.Add(ref a1, 3);
                TVec s20 = a2, s21 = Unsafe.Add(ref a2, 1), s22 = Unsafe.Add(ref a2, 2), s23 = Unsafe.Add(ref a2, 3);
                TVec s30 = a3, s31 = Unsafe.Add(ref a3, 1), s32 = Unsafe.Add(ref a3, 2), s33 = Unsafe.Add(ref a3, 3);
                for (nuint i = start; i < end; i += (nuint)w)
                {
                    TVec x0 = TLanes.Load(ref r0, i - rowShift), x1 = TLanes.Load(ref r1, i - rowShift), x2 = TLanes.Load(ref r2, i - rowShift), x3 = TLanes.Load(ref r3, i - rowShift);
                    TVec y = TLanes.Load(ref q0, i);
                    s00 = TLanes.MultiplyAdd(y, x0, s00);
                    s01 = TLanes.MultiplyAdd(y, x1, s01);
                    s02 = TLanes.MultiplyAdd(y, x2, s02);
                    s03 = TLanes.MultiplyAdd(y, x3, s03);
                    y = TLanes.Load(ref q1, i);
                    s10 = TLanes.MultiplyAdd(y, x0, s10);
                    s11 = TLanes.MultiplyAdd(y, x1, s11);
                    s12 = TLanes.MultiplyAdd(y, x2, s12);
                    s13 = TLanes.MultiplyAdd(y, x3, s13);
                    y = TLanes.Load(ref q2, i);
                    s20 = TLanes.MultiplyAdd(y, x0, s20);
                    s21 = TLanes.MultiplyAdd(y, x1, s21);
                    s22 = TLanes.MultiplyAdd(y, x2, s22);
                    s23 = TLanes.MultiplyAdd(y, x3, s23);
                    y = TLanes.Load(ref q3, i);
                    s30 = TLanes.MultiplyAdd(y, x0, s30);
                    s31 = TLanes.MultiplyAdd(y, x1, s31);
                    s32 = TLanes.MultiplyAdd(y, x2, s32);
                    s33 = TLanes.MultiplyAdd(y, x3, s33);
                }

                a0 = s00; Unsafe.Add(ref a0, 1) = s01; Unsafe.Add(ref a0, 2) = s02; Unsafe.Add(ref a0, 3) = s03;
                a1 = s10; Unsafe.Add(ref a1, 1) = s11; Unsafe.Add(ref a1, 2) = s12; Unsafe.Add(ref a1, 3) = s13;
                a2 = s20; Unsafe.Add(ref a2, 1) = s21; Unsafe.Add(ref a2, 2) = s22; Unsafe.Add(ref a2, 3) = s23;
                a3 = s30; Unsafe.Add(ref a3, 1) = s31; Unsafe.Add(ref a3, 2) = s32; Unsafe.Add(ref a3, 3) = s33;
            }

            for (; r < rowCount; r++)
            {
                for (int j = 0; j < 4; j++)
                {
                    Accumulate1x1<TLanes, TVec>(ref Unsafe.Add(ref q0, j * queryStride), ref Unsafe.Add(ref rr, r * rowStride),
                        rowShift, start, end, ref Unsafe.Add(ref acc, ((q + j) * rowCount) + r));
                }
            }
        }

        for (; q < queryCount; q++)
        {
            ref float q0 = ref Unsafe.Add(ref rq, q * queryStride);
            int r = 0;
            for (; r + 4 <= rowCount; r += 4)
            {
                ref float r0 = ref Unsafe.Add(ref rr, r * rowStride);
                ref float r1 = ref Unsafe.Add(ref r0, rowStride);
                ref float r2 = ref Unsafe.Add(ref r1, rowStride);
                ref float r3 = ref Unsafe.Add(ref r2, rowStride);
                ref TVec a0 = ref Unsafe.Add(ref acc, (q * rowCount) + r);
                TVec s0 = a0, s1 = Unsafe.Add(ref a0, 1), s2 = Unsafe.Add(ref a0, 2), s3 = Unsafe.Add(ref a0, 3);
                for (nuint i = start; i < end; i += (nuint)w)
                {
                    TVec y = TLanes.Load(ref q0, i);
                    s0 = TLanes.MultiplyAdd(y, TLanes.Load(ref r0, i - rowShift), s0);
                    s1 = TLanes.MultiplyAdd(y, TLanes.Load(ref r1, i - rowShift), s1);
                    s2 = TLanes.MultiplyAdd(y, TLanes.Load(ref r2, i - rowShift), s2);
                    s3 = TLanes.MultiplyAdd(y, TLanes.Load(ref r3, i - rowShift), s3);
                }

                a0 = s0; Unsafe.Add(ref a0, 1) = s1; Unsafe.Add(ref a0, 2) = s2; Unsafe.Add(ref a0, 3) = s3;
            }

            for (; r < rowCount; r++)
            {
                Accumulate1x1<TLanes, TVec>(ref q0, ref Unsafe.Add(ref rr, r * rowStride),
                    rowShift, start, end, ref Unsafe.Add(ref acc, (q * rowCount) + r));
            }
        }
    }

    /// <summary>Finishes an inner product: the lane sum of its accumulator, then the tail elements (those past the
    /// last whole vector of the dimension) in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Finish<TLanes, TVec>(TVec accumulator, ReadOnlySpan<float> queryTail, ReadOnlySpan<float> rowTail)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        float sum = TLanes.SumAcross(accumulator);
        for (int i = 0; i < queryTail.Length; i++)
        {
            sum = MathF.FusedMultiplyAdd(queryTail[i], rowTail[i], sum);
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate1x1<TLanes, TVec>(ref float query, ref float row, nuint rowShift, nuint start, nuint end, ref TVec accumulator)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        TVec s = accumulator;
        for (nuint i = start; i < end; i += (nuint)TLanes.Count)
        {
            s = TLanes.MultiplyAdd(TLanes.Load(ref query, i), TLanes.Load(ref row, i - rowShift), s);
        }

        accumulator = s;
    }
}
