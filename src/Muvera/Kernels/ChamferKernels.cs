// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>Query rows scored per call while <see cref="MaxSimSum(SimdWidth, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, ReadOnlySpan{byte})"/>
    /// prefetches (one row tile of the kernel).</summary>
    internal const int PrefetchRows = 4;

    /// <summary>
    /// <see cref="MaxSimSum(SimdWidth, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float})"/>
    /// while the cache lines of <paramref name="prefetch"/> (the next document's stored bytes) are requested, a share
    /// before each tile of <see cref="PrefetchRows"/> query rows: spread over the multiply-adds, the requests overlap
    /// with them instead of stalling in one burst. Bit-identical to the call without prefetching: each row's maximum is
    /// the same fused chains whichever rows share its call, and the maxima are summed in query order.
    /// </summary>
    public static float MaxSimSum(SimdWidth width, ReadOnlySpan<float> query, int queryTokens, int dimension,
        ReadOnlySpan<float> transposed, int columns, ReadOnlySpan<float> bias, ReadOnlySpan<byte> prefetch)
    {
        if (prefetch.IsEmpty || !Sse.IsSupported)
        {
            return MaxSimSum(width, query, queryTokens, dimension, transposed, columns, bias);
        }

        float[]? rented = queryTokens > 1024 ? System.Buffers.ArrayPool<float>.Shared.Rent(queryTokens) : null;
        Span<float> maxima = rented is null ? stackalloc float[queryTokens] : rented.AsSpan(0, queryTokens);
        maxima.Fill(float.NegativeInfinity);
        long lines = (prefetch.Length + 63L) / 64;
        for (int row = 0; row < queryTokens; row += PrefetchRows)
        {
            int rows = Math.Min(PrefetchRows, queryTokens - row);
            int first = (int)(lines * row / queryTokens) * 64;
            int end = (int)Math.Min(lines * (row + rows) / queryTokens * 64, prefetch.Length);
            Prefetch(prefetch[first..end]);
            MaxSimUpdate(width, query[(row * dimension)..], rows, dimension, transposed, columns, bias, maxima[row..]);
        }

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
    /// Dᵀ of a half-precision document, as <see cref="FdeKernels.Transpose(SimdWidth, ReadOnlySpan{float}, int, int, Span{float}, int)"/>
    /// writes it for the same values as floats. At 512 bits (with AVX-512F) the halves are widened in registers
    /// inside the 16 × 16 tile transposes (<see cref="TransposeHalf512"/>; <paramref name="scratch"/> is unused);
    /// otherwise the rows are widened to float into <paramref name="scratch"/> (vectorised through
    /// <see cref="TensorPrimitives.ConvertToSingle(ReadOnlySpan{Half}, Span{float})"/>) and transposed as floats. Every
    /// half is exactly a float, so both equal transposing the converted values, bit for bit.
    /// </summary>
    public static void Transpose(SimdWidth width, ReadOnlySpan<Half> tokens, int count, int dimension, Span<float> scratch,
        Span<float> transposed, int columns)
    {
        Debug.Assert(tokens.Length == count * dimension && transposed.Length >= dimension * columns && columns >= count);
        if (WidensHalvesInRegisters(width, dimension))
        {
            TransposeHalf512(tokens, count, dimension, transposed, columns);
            return;
        }

        Debug.Assert(scratch.Length >= tokens.Length);
        Span<float> rows = scratch[..tokens.Length];
        TensorPrimitives.ConvertToSingle(tokens, rows);
        FdeKernels.Transpose(width, rows, count, dimension, transposed, columns);
    }

    /// <summary>Whether <see cref="Transpose(SimdWidth, ReadOnlySpan{Half}, int, int, Span{float}, Span{float}, int)"/>
    /// widens in registers at this width and dimension (then it needs no scratch).</summary>
    public static bool WidensHalvesInRegisters(SimdWidth width, int dimension) =>
        width == SimdWidth.Vector512 && Avx512F.IsSupported && dimension >= 16;

    /// <summary>
    /// Dᵀ of a half-precision document without a float copy: every whole tile of 16 tokens × 16 coordinates is loaded
    /// as 16 rows of 16 halves, each row zero-extended to 32-bit lanes and converted to float bits exactly
    /// (<see cref="HalfToSingle"/>), then transposed in registers (32-bit unpacks, 64-bit unpacks, two rounds of 128-bit
    /// lane shuffles) and stored as 16 rows of Dᵀ. The coordinates past the last multiple of 16, the last partial group
    /// of tokens and the zero padding are scalar (<c>(float)half</c>). A data move of exact conversions: bit-identical
    /// to converting first and transposing.
    /// </summary>
    public static unsafe void TransposeHalf512(ReadOnlySpan<Half> tokens, int count, int dimension, Span<float> transposed, int columns)
    {
        Debug.Assert(Avx512F.IsSupported && dimension >= 16);
        Debug.Assert(tokens.Length == count * dimension && transposed.Length >= dimension * columns && columns >= count);
        int whole = count - (count % 16);
        int wholeDimensions = dimension - (dimension % 16);
        fixed (Half* halves = tokens)
        fixed (float* destination = transposed)
        {
            ushort* source = (ushort*)halves;
            for (int t0 = 0; t0 < whole; t0 += 16)
            {
                for (int i0 = 0; i0 < wholeDimensions; i0 += 16)
                {
                    TransposeHalf16x16(source + ((nint)t0 * dimension) + i0, dimension, destination + ((nint)i0 * columns) + t0, columns);
                }
            }

            for (int i = 0; i < dimension; i++)
            {
                float* row = destination + ((nint)i * columns);
                for (int t = i < wholeDimensions ? whole : 0; t < count; t++)
                {
                    row[t] = (float)halves[((nint)t * dimension) + i];
                }

                for (int t = count; t < columns; t++)
                {
                    row[t] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// The float bits of 16 halves held in the low 16 bits of 32-bit lanes, exactly: the exponent is rebiased by
    /// 127 − 15 (the mantissa moves up 13 bits); Inf/NaN (half exponent 31) get a second rebias to float exponent 255,
    /// and a NaN keeps its payload and is made quiet (as <c>(float)half</c> and the F16C conversion do); a subnormal or zero m·2⁻²⁴ is built as 2⁻¹⁴·(1 + m/1024) and 2⁻¹⁴ subtracted (exact:
    /// Sterbenz); the sign bit moves up 16 bits. Equals <c>(float)(Half)</c> for all 65,536 bit patterns (tests check).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> HalfToSingle(Vector512<uint> half)
    {
        Vector512<uint> magnitude = half & Vector512.Create(0x7FFFu);
        Vector512<uint> bits = (magnitude << 13) + Vector512.Create(0x38000000u);
        bits += Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(0x7C00u)) & Vector512.Create(0x38000000u);
        bits |= Vector512.GreaterThan(magnitude, Vector512.Create(0x7C00u)) & Vector512.Create(0x00400000u);
        Vector512<float> small = (bits + Vector512.Create(0x00800000u)).AsSingle() - Vector512.Create(1f / 16384f);
        Vector512<uint> value = Vector512.ConditionalSelect(Vector512.LessThan(magnitude, Vector512.Create(0x0400u)), small.AsUInt32(), bits);
        return (value | ((half & Vector512.Create(0x8000u)) << 16)).AsSingle();
    }

    // Reads 16 rows of 16 halves (stride sourceStride halves), widens them and writes the 16 rows of their transpose
    // (stride destinationStride floats); the shuffles are those of FdeKernels' float tile transpose.
    private static unsafe void TransposeHalf16x16(ushort* source, int sourceStride, float* destination, int destinationStride)
    {
        Vector512<float> r0 = LoadHalfRow(source);
        Vector512<float> r1 = LoadHalfRow(source + sourceStride);
        Vector512<float> r2 = LoadHalfRow(source + (2 * sourceStride));
        Vector512<float> r3 = LoadHalfRow(source + (3 * sourceStride));
        Vector512<float> r4 = LoadHalfRow(source + (4 * sourceStride));
        Vector512<float> r5 = LoadHalfRow(source + (5 * sourceStride));
        Vector512<float> r6 = LoadHalfRow(source + (6 * sourceStride));
        Vector512<float> r7 = LoadHalfRow(source + (7 * sourceStride));
        Vector512<float> r8 = LoadHalfRow(source + (8 * sourceStride));
        Vector512<float> r9 = LoadHalfRow(source + (9 * sourceStride));
        Vector512<float> r10 = LoadHalfRow(source + (10 * sourceStride));
        Vector512<float> r11 = LoadHalfRow(source + (11 * sourceStride));
        Vector512<float> r12 = LoadHalfRow(source + (12 * sourceStride));
        Vector512<float> r13 = LoadHalfRow(source + (13 * sourceStride));
        Vector512<float> r14 = LoadHalfRow(source + (14 * sourceStride));
        Vector512<float> r15 = LoadHalfRow(source + (15 * sourceStride));

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

        Avx512F.Store(destination, Avx512F.Shuffle4x128(t0, t8, 0x88));
        Avx512F.Store(destination + destinationStride, Avx512F.Shuffle4x128(t1, t9, 0x88));
        Avx512F.Store(destination + (2 * destinationStride), Avx512F.Shuffle4x128(t2, t10, 0x88));
        Avx512F.Store(destination + (3 * destinationStride), Avx512F.Shuffle4x128(t3, t11, 0x88));
        Avx512F.Store(destination + (4 * destinationStride), Avx512F.Shuffle4x128(t4, t12, 0x88));
        Avx512F.Store(destination + (5 * destinationStride), Avx512F.Shuffle4x128(t5, t13, 0x88));
        Avx512F.Store(destination + (6 * destinationStride), Avx512F.Shuffle4x128(t6, t14, 0x88));
        Avx512F.Store(destination + (7 * destinationStride), Avx512F.Shuffle4x128(t7, t15, 0x88));
        Avx512F.Store(destination + (8 * destinationStride), Avx512F.Shuffle4x128(t0, t8, 0xDD));
        Avx512F.Store(destination + (9 * destinationStride), Avx512F.Shuffle4x128(t1, t9, 0xDD));
        Avx512F.Store(destination + (10 * destinationStride), Avx512F.Shuffle4x128(t2, t10, 0xDD));
        Avx512F.Store(destination + (11 * destinationStride), Avx512F.Shuffle4x128(t3, t11, 0xDD));
        Avx512F.Store(destination + (12 * destinationStride), Avx512F.Shuffle4x128(t4, t12, 0xDD));
        Avx512F.Store(destination + (13 * destinationStride), Avx512F.Shuffle4x128(t5, t13, 0xDD));
        Avx512F.Store(destination + (14 * destinationStride), Avx512F.Shuffle4x128(t6, t14, 0xDD));
        Avx512F.Store(destination + (15 * destinationStride), Avx512F.Shuffle4x128(t7, t15, 0xDD));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<float> LoadHalfRow(ushort* source) =>
        HalfToSingle(Avx512F.ConvertToVector512UInt32(Avx.LoadVector256(source)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> UnpackLow64(Vector512<float> left, Vector512<float> right) =>
        Avx512F.UnpackLow(left.AsDouble(), right.AsDouble()).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> UnpackHigh64(Vector512<float> left, Vector512<float> right) =>
        Avx512F.UnpackHigh(left.AsDouble(), right.AsDouble()).AsSingle();

    /// <summary>Requests every cache line of <paramref name="bytes"/> (PREFETCHT1: into L2 and outward, leaving L1 to
    /// the kernel's working set); does nothing without SSE. A hint only: it never faults and changes no result.</summary>
    public static unsafe void Prefetch(ReadOnlySpan<byte> bytes)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        fixed (byte* start = bytes)
        {
            for (int offset = 0; offset < bytes.Length; offset += 64)
            {
                Sse.Prefetch1(start + offset);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Fold<TLanes, TVec>(TVec running, TVec s0, TVec s1, TVec s2, TVec s3, TVec b0, TVec b1, TVec b2, TVec b3)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct =>
        TLanes.Max(running, TLanes.Max(TLanes.Max(TLanes.Add(s0, b0), TLanes.Add(s1, b1)), TLanes.Max(TLanes.Add(s2, b2), TLanes.Add(s3, b3))));
}
