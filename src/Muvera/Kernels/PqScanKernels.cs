// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Muvera.Kernels;

/// <summary>
/// Asymmetric-distance scans over product-quantized codes: the 4-bit "fast scan" (lookup tables held in SIMD
/// registers and read with byte shuffles, after FAISS's PQ fast scan) and the 8-bit table lookup.
/// </summary>
/// <remarks>
/// <para>4-bit block layout (<see cref="BlockRows"/> = 16 rows): the sub-spaces are taken in pairs (2p, 2p + 1); a block
/// holds, for each pair p in order, 16 bytes, byte r = <c>code(r, 2p) | code(r, 2p + 1) &lt;&lt; 4</c>. The query's
/// quantized table comes as two streams of the same shape: <c>low[16p + c]</c> is sub-space 2p's entry for code c,
/// <c>high[16p + c]</c> sub-space 2p + 1's. So any width reads W code bytes and the W table bytes at the same offset,
/// and one in-lane byte shuffle (pshufb) looks up 16 rows of one sub-space per 128-bit lane.</para>
/// <para>Lane layout of the sums: a shuffle result holds row r's entry in byte r of its 128-bit lane; the bytes are
/// added into 16-bit lanes as even bytes (rows 0, 2, …, 14) and odd bytes (rows 1, 3, …, 15), and every 128-bit lane
/// of a wide vector belongs to the same 16 rows (other sub-space pairs), so the lanes are summed at the end. A 16-bit
/// lane gains at most 2·255 per step and is flushed into 32-bit totals every <see cref="FlushSteps"/> steps, before it
/// can overflow. Everything is integer arithmetic, so every width returns exactly the scalar twin's totals.</para>
/// </remarks>
internal static class PqScanKernels
{
    /// <summary>Rows per 4-bit block.</summary>
    public const int BlockRows = 16;

    /// <summary>Steps (of any width) between flushes of the 16-bit sums: 128 · 2 · 255 = 65,280 &lt; 65,536.</summary>
    private const int FlushSteps = 128;

    /// <summary>Whether <paramref name="width"/>'s 4-bit scan runs here (it needs its byte shuffle in hardware, except
    /// for the scalar twin and the portable 128-bit path).</summary>
    public static bool IsSupported(SimdWidth width) => width switch
    {
        SimdWidth.Vector512 => Avx512BW.IsSupported,
        SimdWidth.Vector256 => Avx2.IsSupported,
        _ => true,
    };

    /// <summary>The widest 4-bit scan this machine runs in hardware.</summary>
    public static SimdWidth PreferredWidth { get; } =
        Avx512BW.IsSupported ? SimdWidth.Vector512 :
        Avx2.IsSupported ? SimdWidth.Vector256 :
        Vector128.IsHardwareAccelerated ? SimdWidth.Vector128 :
        SimdWidth.Scalar;

    /// <summary>Sums, for each of the 16 rows of a 4-bit block, its codes' quantized table entries.</summary>
    /// <param name="width">The SIMD width (<see cref="IsSupported"/> must hold).</param>
    /// <param name="codes">The block: <c>pairs · 16</c> bytes.</param>
    /// <param name="low">The even sub-spaces' tables: <c>pairs · 16</c> bytes.</param>
    /// <param name="high">The odd sub-spaces' tables: <c>pairs · 16</c> bytes.</param>
    /// <param name="totals">Receives 16 sums.</param>
    public static void ScanBlock(SimdWidth width, ReadOnlySpan<byte> codes, ReadOnlySpan<byte> low, ReadOnlySpan<byte> high, Span<uint> totals)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                ScanBlock512(codes, low, high, totals);
                break;
            case SimdWidth.Vector256:
                ScanBlock256(codes, low, high, totals);
                break;
            case SimdWidth.Vector128:
                ScanBlock128(codes, low, high, totals);
                break;
            default:
                ScanBlockScalar(codes, low, high, totals);
                break;
        }
    }

    /// <summary>The scalar twin: one table lookup per row and sub-space.</summary>
    internal static void ScanBlockScalar(ReadOnlySpan<byte> codes, ReadOnlySpan<byte> low, ReadOnlySpan<byte> high, Span<uint> totals)
    {
        Debug.Assert(codes.Length % 16 == 0 && low.Length >= codes.Length && high.Length >= codes.Length && totals.Length >= BlockRows);
        totals[..BlockRows].Clear();
        for (int offset = 0; offset < codes.Length; offset += 16)
        {
            ReadOnlySpan<byte> lowTable = low.Slice(offset, 16);
            ReadOnlySpan<byte> highTable = high.Slice(offset, 16);
            for (int r = 0; r < BlockRows; r++)
            {
                byte code = codes[offset + r];
                totals[r] += (uint)lowTable[code & 0x0F] + highTable[code >> 4];
            }
        }
    }

    /// <summary>128-bit lanes with the portable native shuffle (pshufb on x86, tbl on Arm).</summary>
    internal static void ScanBlock128(ReadOnlySpan<byte> codes, ReadOnlySpan<byte> low, ReadOnlySpan<byte> high, Span<uint> totals)
    {
        Debug.Assert(codes.Length % 16 == 0 && low.Length >= codes.Length && high.Length >= codes.Length && totals.Length >= BlockRows);
        totals[..BlockRows].Clear();
        ref byte c = ref MemoryMarshal.GetReference(codes);
        ref byte lo = ref MemoryMarshal.GetReference(low);
        ref byte hi = ref MemoryMarshal.GetReference(high);
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        Vector128<ushort> lowBytes = Vector128.Create((ushort)0x00FF);
        Vector128<ushort> even = Vector128<ushort>.Zero, odd = Vector128<ushort>.Zero;
        int steps = 0;
        for (nuint offset = 0; offset < (nuint)codes.Length; offset += 16)
        {
            Vector128<byte> packed = Vector128.LoadUnsafe(ref c, offset);
            Vector128<byte> r0 = Vector128.ShuffleNative(Vector128.LoadUnsafe(ref lo, offset), packed & mask);
            Vector128<byte> r1 = Vector128.ShuffleNative(Vector128.LoadUnsafe(ref hi, offset), Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask);
            even += (r0.AsUInt16() & lowBytes) + (r1.AsUInt16() & lowBytes);
            odd += Vector128.ShiftRightLogical(r0.AsUInt16(), 8) + Vector128.ShiftRightLogical(r1.AsUInt16(), 8);
            if (++steps == FlushSteps)
            {
                Flush(even, odd, totals);
                even = odd = Vector128<ushort>.Zero;
                steps = 0;
            }
        }

        Flush(even, odd, totals);
    }

    /// <summary>256-bit vectors (AVX2 vpshufb, two 128-bit lanes of different sub-space pairs).</summary>
    internal static void ScanBlock256(ReadOnlySpan<byte> codes, ReadOnlySpan<byte> low, ReadOnlySpan<byte> high, Span<uint> totals)
    {
        Debug.Assert(codes.Length % 16 == 0 && low.Length >= codes.Length && high.Length >= codes.Length && totals.Length >= BlockRows);
        totals[..BlockRows].Clear();
        ref byte c = ref MemoryMarshal.GetReference(codes);
        ref byte lo = ref MemoryMarshal.GetReference(low);
        ref byte hi = ref MemoryMarshal.GetReference(high);
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        Vector256<ushort> lowBytes = Vector256.Create((ushort)0x00FF);
        Vector256<ushort> even = Vector256<ushort>.Zero, odd = Vector256<ushort>.Zero;
        int steps = 0;
        nuint length = (nuint)codes.Length;
        nuint offset = 0;
        for (; offset + 32 <= length; offset += 32)
        {
            Vector256<byte> packed = Vector256.LoadUnsafe(ref c, offset);
            Vector256<byte> r0 = Avx2.Shuffle(Vector256.LoadUnsafe(ref lo, offset), packed & mask);
            Vector256<byte> r1 = Avx2.Shuffle(Vector256.LoadUnsafe(ref hi, offset), Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask);
            even += (r0.AsUInt16() & lowBytes) + (r1.AsUInt16() & lowBytes);
            odd += Vector256.ShiftRightLogical(r0.AsUInt16(), 8) + Vector256.ShiftRightLogical(r1.AsUInt16(), 8);
            if (++steps == FlushSteps)
            {
                Flush256(even, odd, totals);
                even = odd = Vector256<ushort>.Zero;
                steps = 0;
            }
        }

        Flush256(even, odd, totals);
        if (offset < length)
        {
            Tail(ref Unsafe.Add(ref c, offset), ref Unsafe.Add(ref lo, offset), ref Unsafe.Add(ref hi, offset), (int)(length - offset), totals);
        }
    }

    /// <summary>512-bit vectors (AVX-512BW vpshufb, four 128-bit lanes of different sub-space pairs).</summary>
    internal static void ScanBlock512(ReadOnlySpan<byte> codes, ReadOnlySpan<byte> low, ReadOnlySpan<byte> high, Span<uint> totals)
    {
        Debug.Assert(codes.Length % 16 == 0 && low.Length >= codes.Length && high.Length >= codes.Length && totals.Length >= BlockRows);
        totals[..BlockRows].Clear();
        ref byte c = ref MemoryMarshal.GetReference(codes);
        ref byte lo = ref MemoryMarshal.GetReference(low);
        ref byte hi = ref MemoryMarshal.GetReference(high);
        Vector512<byte> mask = Vector512.Create((byte)0x0F);
        Vector512<ushort> lowBytes = Vector512.Create((ushort)0x00FF);
        Vector512<ushort> even = Vector512<ushort>.Zero, odd = Vector512<ushort>.Zero;
        int steps = 0;
        nuint length = (nuint)codes.Length;
        nuint offset = 0;
        for (; offset + 64 <= length; offset += 64)
        {
            Vector512<byte> packed = Vector512.LoadUnsafe(ref c, offset);
            Vector512<byte> r0 = Avx512BW.Shuffle(Vector512.LoadUnsafe(ref lo, offset), packed & mask);
            Vector512<byte> r1 = Avx512BW.Shuffle(Vector512.LoadUnsafe(ref hi, offset), Vector512.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask);
            even += (r0.AsUInt16() & lowBytes) + (r1.AsUInt16() & lowBytes);
            odd += Vector512.ShiftRightLogical(r0.AsUInt16(), 8) + Vector512.ShiftRightLogical(r1.AsUInt16(), 8);
            if (++steps == FlushSteps)
            {
                Flush512(even, odd, totals);
                even = odd = Vector512<ushort>.Zero;
                steps = 0;
            }
        }

        Flush512(even, odd, totals);
        if (offset < length)
        {
            Tail(ref Unsafe.Add(ref c, offset), ref Unsafe.Add(ref lo, offset), ref Unsafe.Add(ref hi, offset), (int)(length - offset), totals);
        }
    }

    /// <summary>Adds <paramref name="rows"/> rows' 8-bit table entries: <c>totals[r] = Σ_m table[256·m + codes[r·stride + m]]</c>.</summary>
    /// <param name="codes">Row-major codes, row r at <c>r · stride</c>.</param>
    /// <param name="stride">Bytes between rows (at least <paramref name="subspaces"/>).</param>
    /// <param name="subspaces">Sub-spaces (code bytes) per row.</param>
    /// <param name="rows">How many rows.</param>
    /// <param name="table">256 quantized entries per sub-space.</param>
    /// <param name="totals">Receives one sum per row.</param>
    public static void Scan8(ReadOnlySpan<byte> codes, int stride, int subspaces, int rows, ReadOnlySpan<byte> table, Span<uint> totals)
    {
        Debug.Assert(stride >= subspaces && codes.Length >= (stride * (rows - 1)) + subspaces && table.Length >= subspaces * 256 && totals.Length >= rows);
        ref byte t = ref MemoryMarshal.GetReference(table);
        for (int r = 0; r < rows; r++)
        {
            ref byte row = ref Unsafe.Add(ref MemoryMarshal.GetReference(codes), r * stride);
            uint s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int m = 0;
            nint tableOffset = 0;
            for (; m + 4 <= subspaces; m += 4, tableOffset += 1024)
            {
                s0 += Unsafe.Add(ref t, tableOffset + Unsafe.Add(ref row, m));
                s1 += Unsafe.Add(ref t, tableOffset + 256 + Unsafe.Add(ref row, m + 1));
                s2 += Unsafe.Add(ref t, tableOffset + 512 + Unsafe.Add(ref row, m + 2));
                s3 += Unsafe.Add(ref t, tableOffset + 768 + Unsafe.Add(ref row, m + 3));
            }

            for (; m < subspaces; m++, tableOffset += 256)
            {
                s0 += Unsafe.Add(ref t, tableOffset + Unsafe.Add(ref row, m));
            }

            totals[r] = s0 + s1 + s2 + s3;
        }
    }

    /// <summary>
    /// Quantizes a query's lookup tables to bytes: <c>destination[m · K + c] = clamp(round((table[m · K + c] − minima[m]) ·
    /// inverse), 0, 255)</c>, rounding half to even. Lane-wise float operations in a fixed order, so the bytes are the same
    /// on every CPU (Vector128 where accelerated, the same operations in software elsewhere).
    /// </summary>
    /// <param name="table">M · K floats.</param>
    /// <param name="centroids">K, a multiple of 16.</param>
    /// <param name="minima">M per-sub-space offsets.</param>
    /// <param name="inverse">1 / step.</param>
    /// <param name="destination">Receives M · K bytes.</param>
    public static void QuantizeTable(ReadOnlySpan<float> table, int centroids, ReadOnlySpan<float> minima, float inverse, Span<byte> destination)
    {
        Debug.Assert(centroids % 16 == 0 && table.Length == minima.Length * centroids && destination.Length >= table.Length);
        Vector128<float> scale = Vector128.Create(inverse);
        Vector128<float> top = Vector128.Create(255f);
        ref float t = ref MemoryMarshal.GetReference(table);
        ref byte d = ref MemoryMarshal.GetReference(destination);
        for (int m = 0; m < minima.Length; m++)
        {
            Vector128<float> offset = Vector128.Create(minima[m]);
            for (int c = 0; c < centroids; c += 16)
            {
                nuint i = (nuint)((m * centroids) + c);
                Vector128<int> a = Quantize(Vector128.LoadUnsafe(ref t, i), offset, scale, top);
                Vector128<int> b = Quantize(Vector128.LoadUnsafe(ref t, i + 4), offset, scale, top);
                Vector128<int> e = Quantize(Vector128.LoadUnsafe(ref t, i + 8), offset, scale, top);
                Vector128<int> f = Quantize(Vector128.LoadUnsafe(ref t, i + 12), offset, scale, top);
                Vector128.Narrow(Vector128.Narrow(a, b), Vector128.Narrow(e, f)).AsByte().StoreUnsafe(ref d, i);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Quantize(Vector128<float> value, Vector128<float> offset, Vector128<float> scale, Vector128<float> top) =>
        Vector128.ConvertToInt32(Vector128.Clamp(Vector128.Round((value - offset) * scale), Vector128<float>.Zero, top));

    // The last 16-byte chunks of a wide scan, one 128-bit lane at a time (SSSE3 comes with AVX2 and AVX-512).
    private static void Tail(ref byte c, ref byte lo, ref byte hi, int length, Span<uint> totals)
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        Vector128<ushort> lowBytes = Vector128.Create((ushort)0x00FF);
        Vector128<ushort> even = Vector128<ushort>.Zero, odd = Vector128<ushort>.Zero;
        for (nuint offset = 0; offset < (nuint)length; offset += 16)
        {
            Vector128<byte> packed = Vector128.LoadUnsafe(ref c, offset);
            Vector128<byte> r0 = Ssse3.Shuffle(Vector128.LoadUnsafe(ref lo, offset), packed & mask);
            Vector128<byte> r1 = Ssse3.Shuffle(Vector128.LoadUnsafe(ref hi, offset), Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask);
            even += (r0.AsUInt16() & lowBytes) + (r1.AsUInt16() & lowBytes);
            odd += Vector128.ShiftRightLogical(r0.AsUInt16(), 8) + Vector128.ShiftRightLogical(r1.AsUInt16(), 8);
        }

        Flush(even, odd, totals);
    }

    // The two 128-bit lanes are flushed separately: adding them as 16-bit lanes could wrap.
    private static void Flush256(Vector256<ushort> even, Vector256<ushort> odd, Span<uint> totals)
    {
        Flush(even.GetLower(), odd.GetLower(), totals);
        Flush(even.GetUpper(), odd.GetUpper(), totals);
    }

    private static void Flush512(Vector512<ushort> even, Vector512<ushort> odd, Span<uint> totals)
    {
        Flush(even.GetLower().GetLower(), odd.GetLower().GetLower(), totals);
        Flush(even.GetLower().GetUpper(), odd.GetLower().GetUpper(), totals);
        Flush(even.GetUpper().GetLower(), odd.GetUpper().GetLower(), totals);
        Flush(even.GetUpper().GetUpper(), odd.GetUpper().GetUpper(), totals);
    }

    // Adds one 128-bit lane's sums: 16-bit lane i of `even` is row 2i, of `odd` row 2i + 1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush(Vector128<ushort> even, Vector128<ushort> odd, Span<uint> totals)
    {
        for (int i = 0; i < 8; i++)
        {
            totals[2 * i] += even.GetElement(i);
            totals[(2 * i) + 1] += odd.GetElement(i);
        }
    }
}
