// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Muvera.Kernels;

/// <summary>
/// Distances (or inner products) from one point to every centroid of a set: the inner loop of k-means assignment,
/// product-quantizer encoding and lookup-table construction.
/// </summary>
/// <remarks>
/// Lane layout: the centroids are transposed (<c>table[j · columns + c]</c> is coordinate j of centroid c, with
/// <c>columns</c> a multiple of 16), so a vector holds one coordinate of consecutive centroids. Centroid c's value is
/// <c>bias[c]</c> followed by one fused multiply-add per coordinate j = 0, 1, … in order: <c>(x_j − c_j)² </c> for L2,
/// <c>x_j · c_j</c> for the inner product. That is the same IEEE sequence in every lane and at every width, so the
/// 512/256/128-bit paths equal the scalar twin bit for bit, and what a trainer learns never depends on the CPU. No
/// tails: <c>columns</c> is a whole number of vectors at every width. Padding columns carry a bias of ±∞ so that they
/// never win an argmin/argmax.
/// </remarks>
internal static class CentroidKernels
{
    /// <summary>Centroid columns are padded to a multiple of this (the widest lane count).</summary>
    public const int ColumnAlignment = 16;

    /// <summary>Rounds a centroid count up to <see cref="ColumnAlignment"/>.</summary>
    public static int PadColumns(int count) => (count + ColumnAlignment - 1) & ~(ColumnAlignment - 1);

    /// <summary><see cref="Evaluate{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static void Evaluate(SimdWidth width, ReadOnlySpan<float> point, ReadOnlySpan<float> table, int columns,
        ReadOnlySpan<float> bias, bool innerProduct, Span<float> destination)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                Evaluate<Lanes512, Vector512<float>>(point, table, columns, bias, innerProduct, destination);
                break;
            case SimdWidth.Vector256:
                Evaluate<Lanes256, Vector256<float>>(point, table, columns, bias, innerProduct, destination);
                break;
            case SimdWidth.Vector128:
                Evaluate<Lanes128, Vector128<float>>(point, table, columns, bias, innerProduct, destination);
                break;
            default:
                Evaluate<LanesScalar, float>(point, table, columns, bias, innerProduct, destination);
                break;
        }
    }

    /// <summary>
    /// Writes, for every column c of the transposed table, <c>bias[c] + Σ_j (point_j − table[j, c])²</c> (L2) or
    /// <c>bias[c] + Σ_j point_j · table[j, c]</c> (inner product), coordinates added in increasing j with one fused
    /// multiply-add each.
    /// </summary>
    /// <param name="point">The point's <c>d</c> coordinates.</param>
    /// <param name="table">d rows of <paramref name="columns"/> floats.</param>
    /// <param name="columns">A multiple of <see cref="ColumnAlignment"/>.</param>
    /// <param name="bias">The starting value of each column (0, or ±∞ for padding).</param>
    /// <param name="innerProduct">Inner products instead of squared L2 distances.</param>
    /// <param name="destination">Receives <paramref name="columns"/> values.</param>
    public static void Evaluate<TLanes, TVec>(ReadOnlySpan<float> point, ReadOnlySpan<float> table, int columns,
        ReadOnlySpan<float> bias, bool innerProduct, Span<float> destination)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        int d = point.Length;
        Debug.Assert(columns % ColumnAlignment == 0 && table.Length >= d * columns && bias.Length >= columns && destination.Length >= columns);
        ref float p = ref MemoryMarshal.GetReference(point);
        ref float t = ref MemoryMarshal.GetReference(table);
        ref float b = ref MemoryMarshal.GetReference(bias);
        ref float o = ref MemoryMarshal.GetReference(destination);
        int w = TLanes.Count;
        for (int c = 0; c < columns; c += w)
        {
            TVec accumulator = TLanes.Load(ref b, (nuint)c);
            nuint offset = (nuint)c;
            if (innerProduct)
            {
                for (int j = 0; j < d; j++, offset += (nuint)columns)
                {
                    accumulator = TLanes.MultiplyAdd(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p, j)), TLanes.Load(ref t, offset), accumulator);
                }
            }
            else
            {
                for (int j = 0; j < d; j++, offset += (nuint)columns)
                {
                    TVec difference = TLanes.Subtract(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p, j)), TLanes.Load(ref t, offset));
                    accumulator = TLanes.MultiplyAdd(difference, difference, accumulator);
                }
            }

            TLanes.Store(accumulator, ref o, (nuint)c);
        }
    }

    /// <summary><see cref="Evaluate4{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static void Evaluate4(SimdWidth width, ReadOnlySpan<float> points, ReadOnlySpan<float> table, int columns,
        ReadOnlySpan<float> bias, bool innerProduct, Span<float> destination)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                Evaluate4<Lanes512, Vector512<float>>(points, table, columns, bias, innerProduct, destination);
                break;
            case SimdWidth.Vector256:
                Evaluate4<Lanes256, Vector256<float>>(points, table, columns, bias, innerProduct, destination);
                break;
            case SimdWidth.Vector128:
                Evaluate4<Lanes128, Vector128<float>>(points, table, columns, bias, innerProduct, destination);
                break;
            default:
                Evaluate4<LanesScalar, float>(points, table, columns, bias, innerProduct, destination);
                break;
        }
    }

    /// <summary>
    /// <see cref="Evaluate{TLanes, TVec}"/> for 4 points at once (rows of <paramref name="points"/>, d = length / 4),
    /// writing row p of <paramref name="destination"/> (<paramref name="columns"/> floats each): every table vector is
    /// loaded once for the 4 points, so large centroid sets are read a quarter as often. Each (point, centroid) value is
    /// the same chain as <see cref="Evaluate{TLanes, TVec}"/>'s (bias, then one fused multiply-add per coordinate in
    /// order), so the results equal 4 single evaluations bit for bit.
    /// </summary>
    public static void Evaluate4<TLanes, TVec>(ReadOnlySpan<float> points, ReadOnlySpan<float> table, int columns,
        ReadOnlySpan<float> bias, bool innerProduct, Span<float> destination)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        int d = points.Length / 4;
        Debug.Assert(columns % ColumnAlignment == 0 && table.Length >= d * columns && bias.Length >= columns && destination.Length >= 4 * columns);
        ref float p0 = ref MemoryMarshal.GetReference(points);
        ref float p1 = ref System.Runtime.CompilerServices.Unsafe.Add(ref p0, d);
        ref float p2 = ref System.Runtime.CompilerServices.Unsafe.Add(ref p1, d);
        ref float p3 = ref System.Runtime.CompilerServices.Unsafe.Add(ref p2, d);
        ref float t = ref MemoryMarshal.GetReference(table);
        ref float b = ref MemoryMarshal.GetReference(bias);
        ref float o = ref MemoryMarshal.GetReference(destination);
        int w = TLanes.Count;
        for (int c = 0; c < columns; c += w)
        {
            TVec start = TLanes.Load(ref b, (nuint)c);
            TVec a0 = start, a1 = start, a2 = start, a3 = start;
            nuint offset = (nuint)c;
            if (innerProduct)
            {
                for (int j = 0; j < d; j++, offset += (nuint)columns)
                {
                    TVec x = TLanes.Load(ref t, offset);
                    a0 = TLanes.MultiplyAdd(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p0, j)), x, a0);
                    a1 = TLanes.MultiplyAdd(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p1, j)), x, a1);
                    a2 = TLanes.MultiplyAdd(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p2, j)), x, a2);
                    a3 = TLanes.MultiplyAdd(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p3, j)), x, a3);
                }
            }
            else
            {
                for (int j = 0; j < d; j++, offset += (nuint)columns)
                {
                    TVec x = TLanes.Load(ref t, offset);
                    TVec e0 = TLanes.Subtract(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p0, j)), x);
                    TVec e1 = TLanes.Subtract(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p1, j)), x);
                    TVec e2 = TLanes.Subtract(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p2, j)), x);
                    TVec e3 = TLanes.Subtract(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref p3, j)), x);
                    a0 = TLanes.MultiplyAdd(e0, e0, a0);
                    a1 = TLanes.MultiplyAdd(e1, e1, a1);
                    a2 = TLanes.MultiplyAdd(e2, e2, a2);
                    a3 = TLanes.MultiplyAdd(e3, e3, a3);
                }
            }

            TLanes.Store(a0, ref o, (nuint)c);
            TLanes.Store(a1, ref o, (nuint)(columns + c));
            TLanes.Store(a2, ref o, (nuint)((2 * columns) + c));
            TLanes.Store(a3, ref o, (nuint)((3 * columns) + c));
        }
    }

    /// <summary><see cref="InnerProductTables{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static void InnerProductTables(SimdWidth width, ReadOnlySpan<float> query, ReadOnlySpan<float> transposed, int subspaces,
        int subspaceDimension, int centroids, Span<float> tables)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                InnerProductTables<Lanes512, Vector512<float>>(query, transposed, subspaces, subspaceDimension, centroids, tables);
                break;
            case SimdWidth.Vector256:
                InnerProductTables<Lanes256, Vector256<float>>(query, transposed, subspaces, subspaceDimension, centroids, tables);
                break;
            case SimdWidth.Vector128:
                InnerProductTables<Lanes128, Vector128<float>>(query, transposed, subspaces, subspaceDimension, centroids, tables);
                break;
            default:
                InnerProductTables<LanesScalar, float>(query, transposed, subspaces, subspaceDimension, centroids, tables);
                break;
        }
    }

    /// <summary>
    /// A product quantizer's query tables: <c>tables[m · K + c] = Σ_j query[m · s + j] · C_m[c, j]</c>, with sub-space m's
    /// centroids transposed at <c>transposed[(m · s + j) · K + c]</c>. The same lane-wise sequence as
    /// <see cref="Evaluate{TLanes, TVec}"/> with a zero bias (0, then one fused multiply-add per j in order), so every
    /// width gives the scalar twin's tables bit for bit.
    /// </summary>
    /// <param name="query">M · s floats (zero-padded past the vector's end).</param>
    /// <param name="transposed">M · s · K floats.</param>
    /// <param name="subspaces">M.</param>
    /// <param name="subspaceDimension">s.</param>
    /// <param name="centroids">K, a multiple of <see cref="ColumnAlignment"/>.</param>
    /// <param name="tables">Receives M · K floats.</param>
    public static void InnerProductTables<TLanes, TVec>(ReadOnlySpan<float> query, ReadOnlySpan<float> transposed, int subspaces,
        int subspaceDimension, int centroids, Span<float> tables)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(centroids % ColumnAlignment == 0 && query.Length >= subspaces * subspaceDimension
            && transposed.Length >= subspaces * subspaceDimension * centroids && tables.Length >= subspaces * centroids);
        ref float q = ref MemoryMarshal.GetReference(query);
        ref float t = ref MemoryMarshal.GetReference(transposed);
        ref float o = ref MemoryMarshal.GetReference(tables);
        int w = TLanes.Count;
        for (int m = 0; m < subspaces; m++)
        {
            int row = m * subspaceDimension;
            for (int c = 0; c < centroids; c += w)
            {
                TVec accumulator = TLanes.Zero;
                nuint offset = (nuint)((row * centroids) + c);
                for (int j = 0; j < subspaceDimension; j++, offset += (nuint)centroids)
                {
                    accumulator = TLanes.MultiplyAdd(TLanes.Broadcast(System.Runtime.CompilerServices.Unsafe.Add(ref q, row + j)), TLanes.Load(ref t, offset), accumulator);
                }

                TLanes.Store(accumulator, ref o, (nuint)((m * centroids) + c));
            }
        }
    }
}
