// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary><see cref="HasNonFinite{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static bool HasNonFinite(SimdWidth width, ReadOnlySpan<float> values) => width switch
    {
        SimdWidth.Vector512 => HasNonFinite<Lanes512, Vector512<float>>(values),
        SimdWidth.Vector256 => HasNonFinite<Lanes256, Vector256<float>>(values),
        SimdWidth.Vector128 => HasNonFinite<Lanes128, Vector128<float>>(values),
        _ => HasNonFinite<LanesScalar, float>(values),
    };

    /// <summary><see cref="HasOutOfRange{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static bool HasOutOfRange(SimdWidth width, ReadOnlySpan<float> values) => width switch
    {
        SimdWidth.Vector512 => HasOutOfRange<Lanes512, Vector512<float>>(values),
        SimdWidth.Vector256 => HasOutOfRange<Lanes256, Vector256<float>>(values),
        SimdWidth.Vector128 => HasOutOfRange<Lanes128, Vector128<float>>(values),
        _ => HasOutOfRange<LanesScalar, float>(values),
    };

    /// <summary><see cref="MultiplyTransposed{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static void MultiplyTransposed(SimdWidth width, ReadOnlySpan<float> a, int rows, int depth, ReadOnlySpan<float> b, int columns, Span<float> c)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                MultiplyTransposed<Lanes512, Vector512<float>>(a, rows, depth, b, columns, c);
                break;
            case SimdWidth.Vector256:
                MultiplyTransposed<Lanes256, Vector256<float>>(a, rows, depth, b, columns, c);
                break;
            case SimdWidth.Vector128:
                MultiplyTransposed<Lanes128, Vector128<float>>(a, rows, depth, b, columns, c);
                break;
            default:
                MultiplyTransposed<LanesScalar, float>(a, rows, depth, b, columns, c);
                break;
        }
    }

    /// <summary><see cref="Transpose{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static void Transpose(SimdWidth width, ReadOnlySpan<float> tokens, int count, int dimension, Span<float> transposed, int columns)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                Transpose<Lanes512, Vector512<float>>(tokens, count, dimension, transposed, columns);
                break;
            case SimdWidth.Vector256:
                Transpose<Lanes256, Vector256<float>>(tokens, count, dimension, transposed, columns);
                break;
            case SimdWidth.Vector128:
                Transpose<Lanes128, Vector128<float>>(tokens, count, dimension, transposed, columns);
                break;
            default:
                Transpose<LanesScalar, float>(tokens, count, dimension, transposed, columns);
                break;
        }
    }

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

    /// <summary>Returns whether any value is NaN, ±∞ or at least <see cref="FdeEncoder.TokenValueLimit"/> (2^20) in
    /// magnitude.</summary>
    /// <remarks>y = x · 2^108 is exact (a power-of-two scaling; fused with + 0, one rounding of an exact product) and
    /// overflows to ±∞ exactly when |x| ≥ 2^20: the largest float below 2^20 is 2^20 − 2^−4, and
    /// (2^20 − 2^−4) · 2^108 = float.MaxValue. Then y − y is +0 for an accepted x and NaN otherwise, as in
    /// <see cref="HasNonFinite{TLanes, TVec}"/>, at every width and in the scalar twin.</remarks>
    public static bool HasOutOfRange<TLanes, TVec>(ReadOnlySpan<float> values)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        const float Scale = 324518553658426726783156020576256f; // 2^108
        ref float source = ref MemoryMarshal.GetReference(values);
        int w = TLanes.Count;
        TVec scale = TLanes.Broadcast(Scale);
        TVec zero = TLanes.Zero;
        TVec probe = zero;
        int i = 0;
        for (; i + w <= values.Length; i += w)
        {
            TVec y = TLanes.MultiplyAdd(TLanes.Load(ref source, (nuint)i), scale, zero);
            probe = TLanes.Add(probe, TLanes.Subtract(y, y));
        }

        float tail = 0f;
        for (; i < values.Length; i++)
        {
            float y = Unsafe.Add(ref source, i) * Scale;
            tail += y - y;
        }

        return !TLanes.IsAllZero(probe) || tail != 0f;
    }

    /// <summary>Writes Xᵀ: row i holds coordinate i of tokens 0..n−1, then zeros up to <paramref name="columns"/>.</summary>
    /// <remarks>A data move (bit-exact). At 512 bits: 16 × 16 register transposes; otherwise whole vectors of tokens
    /// are gathered (stride d); the last partial group of tokens and the padding are scalar.</remarks>
    public static unsafe void Transpose<TLanes, TVec>(ReadOnlySpan<float> tokens, int count, int dimension, Span<float> transposed, int columns)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(tokens.Length == count * dimension && transposed.Length >= dimension * columns && columns >= count);
        int w = TLanes.Count;
        int whole = count - (count % w);
        fixed (float* source = tokens)
        fixed (float* destination = transposed)
        {
            if (typeof(TVec) == typeof(Vector512<float>) && Avx512F.IsSupported && dimension >= 16)
            {
                // Whole 16-token × 16-coordinate tiles in registers; the coordinate remainder by gathers, the token
                // remainder and the padding as below.
                whole = count - (count % 16);
                int wholeDimensions = dimension - (dimension % 16);
                for (int t0 = 0; t0 < whole; t0 += 16)
                {
                    for (int i0 = 0; i0 < wholeDimensions; i0 += 16)
                    {
                        Transpose16x16(source + ((nint)t0 * dimension) + i0, dimension, destination + ((nint)i0 * columns) + t0, columns, 16);
                    }

                    for (int i = wholeDimensions; i < dimension; i++)
                    {
                        TLanes.Store(TLanes.GatherStrided(source + ((nint)t0 * dimension) + i, dimension), ref destination[((nint)i * columns) + t0], 0);
                    }
                }
            }
            else
            {
                for (int i = 0; i < dimension; i++)
                {
                    float* row = destination + ((nint)i * columns);
                    for (int t = 0; t < whole; t += w)
                    {
                        TLanes.Store(TLanes.GatherStrided(source + ((nint)t * dimension) + i, dimension), ref *row, (nuint)t);
                    }
                }
            }

            for (int i = 0; i < dimension; i++)
            {
                float* row = destination + ((nint)i * columns);
                for (int t = whole; t < count; t++)
                {
                    row[t] = source[((nint)t * dimension) + i];
                }

                for (int t = count; t < columns; t++)
                {
                    row[t] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// C = A·B with A (rows × depth), B (depth × columns) and C (rows × columns), all row-major;
    /// <paramref name="columns"/> is a multiple of <see cref="ColumnAlignment"/>.
    /// </summary>
    /// <remarks>
    /// Register tile: 4 rows of A (broadcast) × 4 vectors of B = 16 accumulators, one fused multiply-add chain per
    /// output over depth 0..depth−1 in order (so equal to the scalar twin bit for bit). Column remainder (fewer than
    /// 4 vectors): 8 × 1 then 4 × 1 tiles, so that 8 chains hide the FMA latency; row remainder: 1 × 1.
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
        }

        // Column remainder (fewer than 4 vectors): 8 rows × 1 vector keeps 8 independent chains in flight, then 4 × 1.
        int tailStart = columns - (columns % (4 * w));
        int tailRows = rows - (rows % 4);
        if (tailStart < columns)
        {
            int r = 0;
            for (; r + 8 <= tailRows; r += 8)
            {
                MultiplyTail8<TLanes, TVec>(ref Unsafe.Add(ref ra, r * depth), depth, ref rb, ldb, ref Unsafe.Add(ref rc, r * columns), columns, tailStart);
            }

            for (; r < tailRows; r += 4)
            {
                ref float a0 = ref Unsafe.Add(ref ra, r * depth);
                ref float a1 = ref Unsafe.Add(ref a0, depth);
                ref float a2 = ref Unsafe.Add(ref a1, depth);
                ref float a3 = ref Unsafe.Add(ref a2, depth);
                for (int col = tailStart; col < columns; col += w)
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

                    nuint o = (nuint)((r * columns) + col);
                    TLanes.Store(s0, ref rc, o);
                    TLanes.Store(s1, ref rc, o + (nuint)columns);
                    TLanes.Store(s2, ref rc, o + (2 * (nuint)columns));
                    TLanes.Store(s3, ref rc, o + (3 * (nuint)columns));
                }
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

    // 8 rows × 1 vector of C for the column remainder [tailStart, columns).
    private static void MultiplyTail8<TLanes, TVec>(ref float a0, int depth, ref float rb, nuint ldb, ref float c0, int columns, int tailStart)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        int w = TLanes.Count;
        ref float a1 = ref Unsafe.Add(ref a0, depth);
        ref float a2 = ref Unsafe.Add(ref a1, depth);
        ref float a3 = ref Unsafe.Add(ref a2, depth);
        ref float a4 = ref Unsafe.Add(ref a3, depth);
        ref float a5 = ref Unsafe.Add(ref a4, depth);
        ref float a6 = ref Unsafe.Add(ref a5, depth);
        ref float a7 = ref Unsafe.Add(ref a6, depth);
        for (int col = tailStart; col < columns; col += w)
        {
            TVec s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
            TVec s4 = TLanes.Zero, s5 = TLanes.Zero, s6 = TLanes.Zero, s7 = TLanes.Zero;
            nuint offset = (nuint)col;
            for (int kk = 0; kk < depth; kk++, offset += ldb)
            {
                TVec b0 = TLanes.Load(ref rb, offset);
                s0 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a0, kk)), b0, s0);
                s1 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a1, kk)), b0, s1);
                s2 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a2, kk)), b0, s2);
                s3 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a3, kk)), b0, s3);
                s4 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a4, kk)), b0, s4);
                s5 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a5, kk)), b0, s5);
                s6 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a6, kk)), b0, s6);
                s7 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref a7, kk)), b0, s7);
            }

            nuint o = (nuint)col;
            nuint ldc = (nuint)columns;
            TLanes.Store(s0, ref c0, o);
            TLanes.Store(s1, ref c0, o + ldc);
            TLanes.Store(s2, ref c0, o + (2 * ldc));
            TLanes.Store(s3, ref c0, o + (3 * ldc));
            TLanes.Store(s4, ref c0, o + (4 * ldc));
            TLanes.Store(s5, ref c0, o + (5 * ldc));
            TLanes.Store(s6, ref c0, o + (6 * ldc));
            TLanes.Store(s7, ref c0, o + (7 * ldc));
        }
    }

    /// <summary><see cref="ArgMaxIds{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static void ArgMaxIds(SimdWidth width, ReadOnlySpan<float> scoreRows, int rows, int columns, Span<int> ids)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                ArgMaxIds<Lanes512, Vector512<float>>(scoreRows, rows, columns, ids);
                break;
            case SimdWidth.Vector256:
                ArgMaxIds<Lanes256, Vector256<float>>(scoreRows, rows, columns, ids);
                break;
            case SimdWidth.Vector128:
                ArgMaxIds<Lanes128, Vector128<float>>(scoreRows, rows, columns, ids);
                break;
            default:
                ArgMaxIds<LanesScalar, float>(scoreRows, rows, columns, ids);
                break;
        }
    }

    /// <summary>
    /// Learned partition ids of <paramref name="columns"/> tokens: for each column the row (centroid) with the largest
    /// score, ties to the lower row (see <see cref="ILanes{TVec}.ArgMaxIds"/>). Lane layout: one token per lane, rows
    /// visited in increasing order; compare and select only, no arithmetic, so every width equals the scalar twin.
    /// No tails: columns are padded to a multiple of 16.
    /// </summary>
    public static void ArgMaxIds<TLanes, TVec>(ReadOnlySpan<float> scoreRows, int rows, int columns, Span<int> ids)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(rows > 0 && columns % ColumnAlignment == 0 && scoreRows.Length >= rows * columns && ids.Length >= columns);
        ref float scores = ref MemoryMarshal.GetReference(scoreRows);
        ref int destination = ref MemoryMarshal.GetReference(ids);
        for (int t = 0; t < columns; t += TLanes.Count)
        {
            TLanes.ArgMaxIds(ref Unsafe.Add(ref scores, t), (nuint)columns, rows, ref Unsafe.Add(ref destination, t));
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
    /// <paramref name="starts"/>) with their signs, each column padded to a multiple of 4 members with sign 0.
    /// </summary>
    /// <remarks>
    /// Output j, token t = (P0 + P1) + (P2 + P3), where Pm sums sign_i·Xᵀ[i, t] over the members of column j whose
    /// position in the column is m mod 4; each Pm is a chain of fused ±1·x + acc, i.e. exactly acc ± x. Four chains
    /// hide the add latency that bounds this loop, and the split is the same at every width, so every width gives
    /// the same bits. The sign-0 padding adds +0 or −0 to a sum that starts at +0, which changes no value, and
    /// removes the remainder branches (they mispredicted, segment lengths being random). Tile: 4 vectors of tokens
    /// (16 chains), then single vectors (4 chains).
    /// </remarks>
    public static void SparseProject<TLanes, TVec>(
        ReadOnlySpan<float> transposed, int columns, ReadOnlySpan<int> order, ReadOnlySpan<float> signs,
        ReadOnlySpan<int> starts, int outputs, Span<float> projected)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(columns % ColumnAlignment == 0 && starts.Length >= outputs + 1 && projected.Length >= outputs * columns);
        Debug.Assert(order.Length == signs.Length && order.Length >= starts[outputs]);
        int w = TLanes.Count;
        ref float rx = ref MemoryMarshal.GetReference(transposed);
        ref float ry = ref MemoryMarshal.GetReference(projected);
        ref int ro = ref MemoryMarshal.GetReference(order);
        ref float rs = ref MemoryMarshal.GetReference(signs);
        for (int j = 0; j < outputs; j++)
        {
            int begin = starts[j];
            int end = starts[j + 1];
            Debug.Assert((end - begin) % 4 == 0);
            nuint rowOffset = (nuint)(j * columns);
            int col = 0;
            for (; col + (4 * w) <= columns; col += 4 * w)
            {
                SparseColumnSum4<TLanes, TVec>(ref rx, columns, col, ref ro, ref rs, begin, end, out TVec y0, out TVec y1, out TVec y2, out TVec y3);
                nuint o = rowOffset + (nuint)col;
                TLanes.Store(y0, ref ry, o);
                TLanes.Store(y1, ref ry, o + (nuint)w);
                TLanes.Store(y2, ref ry, o + (nuint)(2 * w));
                TLanes.Store(y3, ref ry, o + (nuint)(3 * w));
            }

            for (; col < columns; col += w)
            {
                TVec p0 = TLanes.Zero, p1 = TLanes.Zero, p2 = TLanes.Zero, p3 = TLanes.Zero;
                for (int q = begin; q < end; q += 4)
                {
                    p0 = SignedAdd<TLanes, TVec>(ref rx, columns, col, ref ro, ref rs, q, p0);
                    p1 = SignedAdd<TLanes, TVec>(ref rx, columns, col, ref ro, ref rs, q + 1, p1);
                    p2 = SignedAdd<TLanes, TVec>(ref rx, columns, col, ref ro, ref rs, q + 2, p2);
                    p3 = SignedAdd<TLanes, TVec>(ref rx, columns, col, ref ro, ref rs, q + 3, p3);
                }

                TLanes.Store(TLanes.Add(TLanes.Add(p0, p1), TLanes.Add(p2, p3)), ref ry, rowOffset + (nuint)col);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec SignedAdd<TLanes, TVec>(ref float rx, int columns, int col, ref int ro, ref float rs, int q, TVec accumulator)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct =>
        TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref rs, q)), TLanes.Load(ref rx, (nuint)((Unsafe.Add(ref ro, q) * columns) + col)), accumulator);

    // Four vectors of tokens of one output column, as four interleaved partial sums each (see SparseProject).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SparseColumnSum4<TLanes, TVec>(ref float rx, int columns, int col, ref int ro, ref float rs, int begin, int end,
        out TVec y0, out TVec y1, out TVec y2, out TVec y3)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        TVec a0 = TLanes.Zero, a1 = TLanes.Zero, a2 = TLanes.Zero, a3 = TLanes.Zero;
        TVec b0 = TLanes.Zero, b1 = TLanes.Zero, b2 = TLanes.Zero, b3 = TLanes.Zero;
        TVec c0 = TLanes.Zero, c1 = TLanes.Zero, c2 = TLanes.Zero, c3 = TLanes.Zero;
        TVec d0 = TLanes.Zero, d1 = TLanes.Zero, d2 = TLanes.Zero, d3 = TLanes.Zero;
        int w = TLanes.Count;
        for (int q = begin; q < end; q += 4)
        {
            // Written out: a helper taking the accumulators by reference would keep them in memory.
            TVec sign = TLanes.Broadcast(Unsafe.Add(ref rs, q));
            nuint offset = (nuint)((Unsafe.Add(ref ro, q) * columns) + col);
            a0 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset), a0);
            a1 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)w), a1);
            a2 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(2 * w)), a2);
            a3 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(3 * w)), a3);
            sign = TLanes.Broadcast(Unsafe.Add(ref rs, q + 1));
            offset = (nuint)((Unsafe.Add(ref ro, q + 1) * columns) + col);
            b0 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset), b0);
            b1 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)w), b1);
            b2 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(2 * w)), b2);
            b3 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(3 * w)), b3);
            sign = TLanes.Broadcast(Unsafe.Add(ref rs, q + 2));
            offset = (nuint)((Unsafe.Add(ref ro, q + 2) * columns) + col);
            c0 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset), c0);
            c1 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)w), c1);
            c2 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(2 * w)), c2);
            c3 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(3 * w)), c3);
            sign = TLanes.Broadcast(Unsafe.Add(ref rs, q + 3));
            offset = (nuint)((Unsafe.Add(ref ro, q + 3) * columns) + col);
            d0 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset), d0);
            d1 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)w), d1);
            d2 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(2 * w)), d2);
            d3 = TLanes.MultiplyAdd(sign, TLanes.Load(ref rx, offset + (nuint)(3 * w)), d3);
        }

        y0 = TLanes.Add(TLanes.Add(a0, b0), TLanes.Add(c0, d0));
        y1 = TLanes.Add(TLanes.Add(a1, b1), TLanes.Add(c1, d1));
        y2 = TLanes.Add(TLanes.Add(a2, b2), TLanes.Add(c2, d2));
        y3 = TLanes.Add(TLanes.Add(a3, b3), TLanes.Add(c3, d3));
    }

    /// <summary>
    /// Y = (Yᵀ)ᵀ for the first <paramref name="count"/> tokens: row t of <paramref name="rows"/> (length
    /// <paramref name="outputs"/>) receives column t of <paramref name="transposed"/> (outputs × columns).
    /// </summary>
    /// <remarks>A data move (bit-exact): 16 × 16 in-register transposes with AVX-512 when the 512-bit path runs and
    /// the block dimension is a multiple of 16; a strided gather per vector otherwise.</remarks>
    public static unsafe void TransposeToRows<TLanes, TVec>(ReadOnlySpan<float> transposed, int outputs, int columns, int count, Span<float> rows)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(transposed.Length >= outputs * columns && rows.Length >= count * outputs && count <= columns);
        fixed (float* source = transposed)
        fixed (float* destination = rows)
        {
            if (typeof(TVec) == typeof(Vector512<float>) && Avx512F.IsSupported && outputs % 16 == 0)
            {
                // Whole 16-token groups: the padding columns exist (columns is a multiple of 16); their rows are not stored.
                for (int t0 = 0; t0 < count; t0 += 16)
                {
                    for (int j0 = 0; j0 < outputs; j0 += 16)
                    {
                        Transpose16x16(source + ((nint)j0 * columns) + t0, columns, destination + ((nint)t0 * outputs) + j0, outputs, Math.Min(16, count - t0));
                    }
                }

                return;
            }

            int w = TLanes.Count;
            for (int t = 0; t < count; t++)
            {
                float* column = source + t;
                float* row = destination + ((nint)t * outputs);
                int j = 0;
                for (; j + w <= outputs; j += w)
                {
                    TLanes.Store(TLanes.GatherStrided(column + ((nint)j * columns), columns), ref row[j], 0);
                }

                for (; j < outputs; j++)
                {
                    row[j] = column[(nint)j * columns];
                }
            }
        }
    }

    // Reads a 16 × 16 tile (rows of stride sourceStride) and writes the first rowCount rows of its transpose (stride
    // destinationStride): 32-bit unpacks, 64-bit unpacks, then two rounds of 128-bit lane shuffles.
    private static unsafe void Transpose16x16(float* source, int sourceStride, float* destination, int destinationStride, int rowCount)
    {
        Vector512<float> r0 = Avx512F.LoadVector512(source);
        Vector512<float> r1 = Avx512F.LoadVector512(source + sourceStride);
        Vector512<float> r2 = Avx512F.LoadVector512(source + (2 * sourceStride));
        Vector512<float> r3 = Avx512F.LoadVector512(source + (3 * sourceStride));
        Vector512<float> r4 = Avx512F.LoadVector512(source + (4 * sourceStride));
        Vector512<float> r5 = Avx512F.LoadVector512(source + (5 * sourceStride));
        Vector512<float> r6 = Avx512F.LoadVector512(source + (6 * sourceStride));
        Vector512<float> r7 = Avx512F.LoadVector512(source + (7 * sourceStride));
        Vector512<float> r8 = Avx512F.LoadVector512(source + (8 * sourceStride));
        Vector512<float> r9 = Avx512F.LoadVector512(source + (9 * sourceStride));
        Vector512<float> r10 = Avx512F.LoadVector512(source + (10 * sourceStride));
        Vector512<float> r11 = Avx512F.LoadVector512(source + (11 * sourceStride));
        Vector512<float> r12 = Avx512F.LoadVector512(source + (12 * sourceStride));
        Vector512<float> r13 = Avx512F.LoadVector512(source + (13 * sourceStride));
        Vector512<float> r14 = Avx512F.LoadVector512(source + (14 * sourceStride));
        Vector512<float> r15 = Avx512F.LoadVector512(source + (15 * sourceStride));

        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1);
        Vector512<float> t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5);
        Vector512<float> t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> t8 = Avx512F.UnpackLow(r8, r9), t9 = Avx512F.UnpackHigh(r8, r9);
        Vector512<float> t10 = Avx512F.UnpackLow(r10, r11), t11 = Avx512F.UnpackHigh(r10, r11);
        Vector512<float> t12 = Avx512F.UnpackLow(r12, r13), t13 = Avx512F.UnpackHigh(r12, r13);
        Vector512<float> t14 = Avx512F.UnpackLow(r14, r15), t15 = Avx512F.UnpackHigh(r14, r15);

        r0 = UnpackLow64(t0, t2);
        r1 = UnpackHigh64(t0, t2);
        r2 = UnpackLow64(t1, t3);
        r3 = UnpackHigh64(t1, t3);
        r4 = UnpackLow64(t4, t6);
        r5 = UnpackHigh64(t4, t6);
        r6 = UnpackLow64(t5, t7);
        r7 = UnpackHigh64(t5, t7);
        r8 = UnpackLow64(t8, t10);
        r9 = UnpackHigh64(t8, t10);
        r10 = UnpackLow64(t9, t11);
        r11 = UnpackHigh64(t9, t11);
        r12 = UnpackLow64(t12, t14);
        r13 = UnpackHigh64(t12, t14);
        r14 = UnpackLow64(t13, t15);
        r15 = UnpackHigh64(t13, t15);

        t0 = Avx512F.Shuffle4x128(r0, r4, 0x88);
        t1 = Avx512F.Shuffle4x128(r1, r5, 0x88);
        t2 = Avx512F.Shuffle4x128(r2, r6, 0x88);
        t3 = Avx512F.Shuffle4x128(r3, r7, 0x88);
        t4 = Avx512F.Shuffle4x128(r0, r4, 0xDD);
        t5 = Avx512F.Shuffle4x128(r1, r5, 0xDD);
        t6 = Avx512F.Shuffle4x128(r2, r6, 0xDD);
        t7 = Avx512F.Shuffle4x128(r3, r7, 0xDD);
        t8 = Avx512F.Shuffle4x128(r8, r12, 0x88);
        t9 = Avx512F.Shuffle4x128(r9, r13, 0x88);
        t10 = Avx512F.Shuffle4x128(r10, r14, 0x88);
        t11 = Avx512F.Shuffle4x128(r11, r15, 0x88);
        t12 = Avx512F.Shuffle4x128(r8, r12, 0xDD);
        t13 = Avx512F.Shuffle4x128(r9, r13, 0xDD);
        t14 = Avx512F.Shuffle4x128(r10, r14, 0xDD);
        t15 = Avx512F.Shuffle4x128(r11, r15, 0xDD);

        StoreRow(destination, destinationStride, rowCount, 0, Avx512F.Shuffle4x128(t0, t8, 0x88));
        StoreRow(destination, destinationStride, rowCount, 1, Avx512F.Shuffle4x128(t1, t9, 0x88));
        StoreRow(destination, destinationStride, rowCount, 2, Avx512F.Shuffle4x128(t2, t10, 0x88));
        StoreRow(destination, destinationStride, rowCount, 3, Avx512F.Shuffle4x128(t3, t11, 0x88));
        StoreRow(destination, destinationStride, rowCount, 4, Avx512F.Shuffle4x128(t4, t12, 0x88));
        StoreRow(destination, destinationStride, rowCount, 5, Avx512F.Shuffle4x128(t5, t13, 0x88));
        StoreRow(destination, destinationStride, rowCount, 6, Avx512F.Shuffle4x128(t6, t14, 0x88));
        StoreRow(destination, destinationStride, rowCount, 7, Avx512F.Shuffle4x128(t7, t15, 0x88));
        StoreRow(destination, destinationStride, rowCount, 8, Avx512F.Shuffle4x128(t0, t8, 0xDD));
        StoreRow(destination, destinationStride, rowCount, 9, Avx512F.Shuffle4x128(t1, t9, 0xDD));
        StoreRow(destination, destinationStride, rowCount, 10, Avx512F.Shuffle4x128(t2, t10, 0xDD));
        StoreRow(destination, destinationStride, rowCount, 11, Avx512F.Shuffle4x128(t3, t11, 0xDD));
        StoreRow(destination, destinationStride, rowCount, 12, Avx512F.Shuffle4x128(t4, t12, 0xDD));
        StoreRow(destination, destinationStride, rowCount, 13, Avx512F.Shuffle4x128(t5, t13, 0xDD));
        StoreRow(destination, destinationStride, rowCount, 14, Avx512F.Shuffle4x128(t6, t14, 0xDD));
        StoreRow(destination, destinationStride, rowCount, 15, Avx512F.Shuffle4x128(t7, t15, 0xDD));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreRow(float* destination, int stride, int rowCount, int row, Vector512<float> value)
    {
        if (row < rowCount)
        {
            Avx512F.Store(destination + ((nint)row * stride), value);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> UnpackLow64(Vector512<float> left, Vector512<float> right) =>
        Avx512F.UnpackLow(left.AsDouble(), right.AsDouble()).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> UnpackHigh64(Vector512<float> left, Vector512<float> right) =>
        Avx512F.UnpackHigh(left.AsDouble(), right.AsDouble()).AsSingle();

    /// <summary>
    /// For t in 0..count−1 in order: <c>blocks[ids[t]] += rows[t]</c> (rows and blocks of length
    /// <paramref name="length"/>) and <c>counts[ids[t]]++</c>. Sums per partition in token order, like the reference.
    /// Also lists the first token of every partition hit, in increasing token order, in <paramref name="firstTokens"/>.
    /// </summary>
    /// <returns>The number of distinct partitions hit.</returns>
    public static int AccumulateRows<TLanes, TVec>(ReadOnlySpan<float> rows, int length, ReadOnlySpan<int> ids, int count,
        Span<float> blocks, Span<int> counts, Span<int> firstTokens)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(rows.Length >= count * length && ids.Length >= count);
        int w = TLanes.Count;
        int whole = length - (length % w);
        ref float source = ref MemoryMarshal.GetReference(rows);
        ref float destination = ref MemoryMarshal.GetReference(blocks);
        ref int id = ref MemoryMarshal.GetReference(ids);
        ref int tally = ref MemoryMarshal.GetReference(counts);
        ref int first = ref MemoryMarshal.GetReference(firstTokens);
        int hit = 0;
        for (int t = 0; t < count; t++)
        {
            int b = Unsafe.Add(ref id, t);
            Debug.Assert((uint)b < (uint)counts.Length && (b + 1) * length <= blocks.Length && firstTokens.Length >= Math.Min(count, counts.Length));
            if (Unsafe.Add(ref tally, b)++ == 0)
            {
                Unsafe.Add(ref first, hit++) = t;
            }

            ref float row = ref Unsafe.Add(ref source, t * length);
            ref float block = ref Unsafe.Add(ref destination, b * length);
            int j = 0;
            for (; j < whole; j += w)
            {
                TLanes.Store(TLanes.Add(TLanes.Load(ref block, (nuint)j), TLanes.Load(ref row, (nuint)j)), ref block, (nuint)j);
            }

            for (; j < length; j++)
            {
                Unsafe.Add(ref block, j) += Unsafe.Add(ref row, j);
            }
        }

        return hit;
    }

    /// <summary>
    /// block[j] = fma(block[j], factor, +0): a correctly rounded product (a fused multiply-add with +0 rounds once, and
    /// gives +0 where the product is −0), lane-wise, so every width and the scalar tail agree bit for bit.
    /// </summary>
    public static void Scale<TLanes, TVec>(Span<float> block, float factor)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        int w = TLanes.Count;
        ref float destination = ref MemoryMarshal.GetReference(block);
        TVec scale = TLanes.Broadcast(factor);
        TVec zero = TLanes.Zero;
        int j = 0;
        for (; j + w <= block.Length; j += w)
        {
            TLanes.Store(TLanes.MultiplyAdd(TLanes.Load(ref destination, (nuint)j), scale, zero), ref destination, (nuint)j);
        }

        for (; j < block.Length; j++)
        {
            Unsafe.Add(ref destination, j) = MathF.FusedMultiplyAdd(Unsafe.Add(ref destination, j), factor, 0f);
        }
    }

    /// <summary>block[j] /= count (the reference divides; a reciprocal multiply would differ in the last bit).</summary>
    public static void Divide<TLanes, TVec>(Span<float> block, float count)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        int w = TLanes.Count;
        ref float destination = ref MemoryMarshal.GetReference(block);
        TVec divisor = TLanes.Broadcast(count);
        int j = 0;
        for (; j + w <= block.Length; j += w)
        {
            TLanes.Store(TLanes.Divide(TLanes.Load(ref destination, (nuint)j), divisor), ref destination, (nuint)j);
        }

        for (; j < block.Length; j++)
        {
            Unsafe.Add(ref destination, j) /= count;
        }
    }
}
