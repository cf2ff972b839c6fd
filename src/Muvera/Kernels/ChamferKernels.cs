// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Muvera.Kernels;

/// <summary>
/// Fused Chamfer (MaxSim) kernel: Σ_q max_d ⟨q, d⟩ without materialising the |Q| × |D| score matrix.
/// </summary>
/// <remarks>
/// Lane layout: the document is transposed (Dᵀ, d rows × columns, one column per document token, zero-padded to a
/// multiple of 16), so a vector holds one coordinate of consecutive document tokens. A register tile of 4 query
/// tokens (broadcast) × 4 vectors of document tokens accumulates 16 dot products per depth step (fused multiply-add
/// chains over the coordinates in order); the tile then folds into 4 running-maximum vectors (padding lanes get
/// −∞ through the bias row) and the score matrix is never stored. Every dot product is the same chain of fused
/// operations in whichever lane and at whichever width it runs, maxima are exact, and the per-query maxima are
/// summed in query order: the 512/256/128-bit paths equal the scalar twin bit for bit.
/// </remarks>
internal static class ChamferKernels
{
    /// <summary>
    /// Σ over the <paramref name="queryTokens"/> rows q of <paramref name="query"/> of max over document columns t of
    /// ⟨q, Dᵀ[·, t]⟩ + bias[t] (bias is 0 for real tokens and −∞ for padding).
    /// </summary>
    public static float MaxSimSum<TLanes, TVec>(ReadOnlySpan<float> query, int queryTokens, int dimension,
        ReadOnlySpan<float> transposed, int columns, ReadOnlySpan<float> bias)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        float[]? rented = queryTokens > 1024 ? System.Buffers.ArrayPool<float>.Shared.Rent(queryTokens) : null;
        Span<float> maxima = rented is null ? stackalloc float[queryTokens] : rented.AsSpan(0, queryTokens);
        maxima.Fill(float.NegativeInfinity);
        MaxSimUpdate<TLanes, TVec>(query, queryTokens, dimension, transposed, columns, bias, maxima);
        float total = 0f;
        foreach (float maximum in maxima)
        {
            total += maximum;
        }

        if (rented is not null)
        {
            System.Buffers.ArrayPool<float>.Shared.Return(rented);
        }

        return total;
    }

    /// <summary>
    /// For every query row q, <c>maxima[q] = max(maxima[q], max over columns t of ⟨q, Dᵀ[·, t]⟩ + bias[t])</c>: one tile
    /// of a document scored into running per-query maxima (quantized stores decode a document tile by tile). The
    /// dot products are the same fused chains as <see cref="MaxSimSum{TLanes, TVec}"/>'s, and maxima are exact, so
    /// scoring a document in tiles gives the same maxima as scoring it whole.
    /// </summary>
    public static void MaxSimUpdate<TLanes, TVec>(ReadOnlySpan<float> query, int queryTokens, int dimension,
        ReadOnlySpan<float> transposed, int columns, ReadOnlySpan<float> bias, Span<float> maxima)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(query.Length >= queryTokens * dimension && transposed.Length >= dimension * columns && bias.Length >= columns && maxima.Length >= queryTokens);
        Debug.Assert(columns % FdeKernels.ColumnAlignment == 0);
        int w = TLanes.Count;
        ref float rq = ref MemoryMarshal.GetReference(query);
        ref float rd = ref MemoryMarshal.GetReference(transposed);
        ref float rb = ref MemoryMarshal.GetReference(bias);
        nuint ldb = (nuint)columns;
        TVec negativeInfinity = TLanes.Broadcast(float.NegativeInfinity);

        int row = 0;
        for (; row + 4 <= queryTokens; row += 4)
        {
            ref float q0 = ref Unsafe.Add(ref rq, row * dimension);
            ref float q1 = ref Unsafe.Add(ref q0, dimension);
            ref float q2 = ref Unsafe.Add(ref q1, dimension);
            ref float q3 = ref Unsafe.Add(ref q2, dimension);
            TVec m0 = negativeInfinity, m1 = negativeInfinity, m2 = negativeInfinity, m3 = negativeInfinity;
            int col = 0;
            for (; col + (4 * w) <= columns; col += 4 * w)
            {
                TVec s00 = TLanes.Zero, s01 = TLanes.Zero, s02 = TLanes.Zero, s03 = TLanes.Zero;
                TVec s10 = TLanes.Zero, s11 = TLanes.Zero, s12 = TLanes.Zero, s13 = TLanes.Zero;
                TVec s20 = TLanes.Zero, s21 = TLanes.Zero, s22 = TLanes.Zero, s23 = TLanes.Zero;
                TVec s30 = TLanes.Zero, s31 = TLanes.Zero, s32 = TLanes.Zero, s33 = TLanes.Zero;
                nuint offset = (nuint)col;
                for (int k = 0; k < dimension; k++, offset += ldb)
                {
                    TVec d0 = TLanes.Load(ref rd, offset);
                    TVec d1 = TLanes.Load(ref rd, offset + (nuint)w);
                    TVec d2 = TLanes.Load(ref rd, offset + (nuint)(2 * w));
                    TVec d3 = TLanes.Load(ref rd, offset + (nuint)(3 * w));
                    TVec x = TLanes.Broadcast(Unsafe.Add(ref q0, k));
                    s00 = TLanes.MultiplyAdd(x, d0, s00);
                    s01 = TLanes.MultiplyAdd(x, d1, s01);
                    s02 = TLanes.MultiplyAdd(x, d2, s02);
                    s03 = TLanes.MultiplyAdd(x, d3, s03);
                    x = TLanes.Broadcast(Unsafe.Add(ref q1, k));
                    s10 = TLanes.MultiplyAdd(x, d0, s10);
                    s11 = TLanes.MultiplyAdd(x, d1, s11);
                    s12 = TLanes.MultiplyAdd(x, d2, s12);
                    s13 = TLanes.MultiplyAdd(x, d3, s13);
                    x = TLanes.Broadcast(Unsafe.Add(ref q2, k));
                    s20 = TLanes.MultiplyAdd(x, d0, s20);
                    s21 = TLanes.MultiplyAdd(x, d1, s21);
                    s22 = TLanes.MultiplyAdd(x, d2, s22);
                    s23 = TLanes.MultiplyAdd(x, d3, s23);
                    x = TLanes.Broadcast(Unsafe.Add(ref q3, k));
                    s30 = TLanes.MultiplyAdd(x, d0, s30);
                    s31 = TLanes.MultiplyAdd(x, d1, s31);
                    s32 = TLanes.MultiplyAdd(x, d2, s32);
                    s33 = TLanes.MultiplyAdd(x, d3, s33);
                }

                TVec b0 = TLanes.Load(ref rb, (nuint)col);
                TVec b1 = TLanes.Load(ref rb, (nuint)(col + w));
                TVec b2 = TLanes.Load(ref rb, (nuint)(col + (2 * w)));
                TVec b3 = TLanes.Load(ref rb, (nuint)(col + (3 * w)));
                m0 = Fold<TLanes, TVec>(m0, s00, s01, s02, s03, b0, b1, b2, b3);
                m1 = Fold<TLanes, TVec>(m1, s10, s11, s12, s13, b0, b1, b2, b3);
                m2 = Fold<TLanes, TVec>(m2, s20, s21, s22, s23, b0, b1, b2, b3);
                m3 = Fold<TLanes, TVec>(m3, s30, s31, s32, s33, b0, b1, b2, b3);
            }

            for (; col < columns; col += w)
            {
                TVec s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
                nuint offset = (nuint)col;
                for (int k = 0; k < dimension; k++, offset += ldb)
                {
                    TVec d0 = TLanes.Load(ref rd, offset);
                    s0 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref q0, k)), d0, s0);
                    s1 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref q1, k)), d0, s1);
                    s2 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref q2, k)), d0, s2);
                    s3 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref q3, k)), d0, s3);
                }

                TVec b = TLanes.Load(ref rb, (nuint)col);
                m0 = TLanes.Max(m0, TLanes.Add(s0, b));
                m1 = TLanes.Max(m1, TLanes.Add(s1, b));
                m2 = TLanes.Max(m2, TLanes.Add(s2, b));
                m3 = TLanes.Max(m3, TLanes.Add(s3, b));
            }

            maxima[row] = MathF.Max(maxima[row], TLanes.MaxAcross(m0));
            maxima[row + 1] = MathF.Max(maxima[row + 1], TLanes.MaxAcross(m1));
            maxima[row + 2] = MathF.Max(maxima[row + 2], TLanes.MaxAcross(m2));
            maxima[row + 3] = MathF.Max(maxima[row + 3], TLanes.MaxAcross(m3));
        }

        for (; row < queryTokens; row++)
        {
            ref float q0 = ref Unsafe.Add(ref rq, row * dimension);
            TVec m0 = negativeInfinity;
            for (int col = 0; col < columns; col += w)
            {
                TVec s0 = TLanes.Zero;
                nuint offset = (nuint)col;
                for (int k = 0; k < dimension; k++, offset += ldb)
                {
                    s0 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref q0, k)), TLanes.Load(ref rd, offset), s0);
                }

                m0 = TLanes.Max(m0, TLanes.Add(s0, TLanes.Load(ref rb, (nuint)col)));
            }

            maxima[row] = MathF.Max(maxima[row], TLanes.MaxAcross(m0));
        }
    }

    /// <summary><see cref="MaxSimSum{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static float MaxSimSum(SimdWidth width, ReadOnlySpan<float> query, int queryTokens, int dimension,
        ReadOnlySpan<float> transposed, int columns, ReadOnlySpan<float> bias) => width switch
        {
            SimdWidth.Vector512 => MaxSimSum<Lanes512, Vector512<float>>(query, queryTokens, dimension, transposed, columns, bias),
            SimdWidth.Vector256 => MaxSimSum<Lanes256, Vector256<float>>(query, queryTokens, dimension, transposed, columns, bias),
            SimdWidth.Vector128 => MaxSimSum<Lanes128, Vector128<float>>(query, queryTokens, dimension, transposed, columns, bias),
            _ => MaxSimSum<LanesScalar, float>(query, queryTokens, dimension, transposed, columns, bias),
        };

    /// <summary><see cref="MaxSimUpdate{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static void MaxSimUpdate(SimdWidth width, ReadOnlySpan<float> query, int queryTokens, int dimension,
        ReadOnlySpan<float> transposed, int columns, ReadOnlySpan<float> bias, Span<float> maxima)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                MaxSimUpdate<Lanes512, Vector512<float>>(query, queryTokens, dimension, transposed, columns, bias, maxima);
                break;
            case SimdWidth.Vector256:
                MaxSimUpdate<Lanes256, Vector256<float>>(query, queryTokens, dimension, transposed, columns, bias, maxima);
                break;
            case SimdWidth.Vector128:
                MaxSimUpdate<Lanes128, Vector128<float>>(query, queryTokens, dimension, transposed, columns, bias, maxima);
                break;
            default:
                MaxSimUpdate<LanesScalar, float>(query, queryTokens, dimension, transposed, columns, bias, maxima);
                break;
        }
    }

    /// <summary>
    /// Dᵀ of a half-precision document: the rows are widened to float into <paramref name="scratch"/> (vectorised
    /// F16C conversion through <see cref="TensorPrimitives.ConvertToSingle(ReadOnlySpan{Half}, Span{float})"/>), then
    /// transposed as floats. Every half is exactly a float, so the result equals transposing the converted values.
    /// </summary>
    public static void Transpose(SimdWidth width, ReadOnlySpan<Half> tokens, int count, int dimension, Span<float> scratch,
        Span<float> transposed, int columns)
    {
        Debug.Assert(tokens.Length == count * dimension && scratch.Length >= tokens.Length);
        Span<float> rows = scratch[..tokens.Length];
        TensorPrimitives.ConvertToSingle(tokens, rows);
        FdeKernels.Transpose(width, rows, count, dimension, transposed, columns);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Fold<TLanes, TVec>(TVec running, TVec s0, TVec s1, TVec s2, TVec s3, TVec b0, TVec b1, TVec b2, TVec b3)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct =>
        TLanes.Max(running, TLanes.Max(TLanes.Max(TLanes.Add(s0, b0), TLanes.Add(s1, b1)), TLanes.Max(TLanes.Add(s2, b2), TLanes.Add(s3, b3))));
}
