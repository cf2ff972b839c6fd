// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
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
/// <c>fma(scale_j, (float)c, offset_j)</c>; residual: an addition and a multiplication, <c>(centroid_j + bucket_j[code]) ·
/// s</c>), so the 512/256/128-bit paths equal the scalar twin bit for bit: a byte converts to float exactly and a lane
/// computes the same IEEE operations as the scalar code. Tails: the int8 decoder re-does the last full vector over the
/// coordinates <c>[d − W, d)</c> (overlapping, writing the same values again); the residual decoders finish on the scalar
/// twin (the 4-bit one works in place).</para>
/// <para>Nearest centroid: inner products with centroid panels (64 centroids each, coordinate-major) in register tiles
/// of 4 tokens × 4 vectors of centroids (one fused multiply-add chain over the coordinates in order, from 0, per pair,
/// then + bias = −‖c‖²/2), written to a small tile buffer and reduced by a scalar argmax in increasing centroid order
/// (ties to the lower id), panel by panel over all the call's points so that the centroids stay in cache. Every
/// pair's value is the same chain at every width, so the chosen ids are identical at every width.</para>
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

    /// <summary><c>destination[j] = (destination[j] + addend[j]) · scale</c> for j &lt; addend.Length (the 4-bit residual
    /// decoder adds each token's centroid to its expanded bucket values and applies the token's scale).</summary>
    public static void AddScaleInPlace(SimdWidth width, ReadOnlySpan<float> addend, float scale, Span<float> destination)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                AddScaleInPlace<Lanes512, Vector512<float>>(addend, scale, destination);
                break;
            case SimdWidth.Vector256:
                AddScaleInPlace<Lanes256, Vector256<float>>(addend, scale, destination);
                break;
            case SimdWidth.Vector128:
                AddScaleInPlace<Lanes128, Vector128<float>>(addend, scale, destination);
                break;
            default:
                AddScaleInPlace<LanesScalar, float>(addend, scale, destination);
                break;
        }
    }

    /// <summary>See <see cref="AddScaleInPlace(SimdWidth, ReadOnlySpan{float}, float, Span{float})"/>: one addition and one
    /// multiplication per lane, as the scalar twin; the tail runs on the scalar twin (an overlapping vector would apply
    /// them twice).</summary>
    public static void AddScaleInPlace<TLanes, TVec>(ReadOnlySpan<float> addend, float scale, Span<float> destination)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(destination.Length >= addend.Length);
        ref float a = ref MemoryMarshal.GetReference(addend);
        ref float d = ref MemoryMarshal.GetReference(destination);
        TVec factor = TLanes.Broadcast(scale);
        int w = TLanes.Count;
        int j = 0;
        for (; j + w <= addend.Length; j += w)
        {
            TLanes.Store(TLanes.Multiply(TLanes.Add(TLanes.Load(ref d, (nuint)j), TLanes.Load(ref a, (nuint)j)), factor), ref d, (nuint)j);
        }

        for (; j < addend.Length; j++)
        {
            Unsafe.Add(ref d, j) = (Unsafe.Add(ref d, j) + Unsafe.Add(ref a, j)) * scale;
        }
    }

    /// <summary>
    /// Decodes residual records of 1- or 2-bit codes: <c>destination[t·d + j] = (centroids[id_t·d + j] + levels[code_tj·d +
    /// j]) · s_t</c>, with id_t the record's leading u16, s_t the f16 after it, and code_tj coordinate j's code (bits
    /// <c>(j mod 8/b)·b …</c> of code byte <c>⌊j·b/8⌋</c>, the code bytes starting at byte 4).
    /// </summary>
    /// <remarks>
    /// <para>Lanes hold W consecutive coordinates (W = 16, 8, 4): their W·b code bits are one aligned little-endian load
    /// (4, 2 or 1 bytes; half a byte for W = 4, b = 1), broadcast to every lane and masked with lane i's bit(s), which
    /// picks among the 2^b level vectors <c>levels[l·d + j …]</c> by (at most three) blends; then the centroid is added and
    /// the sum multiplied by the broadcast scale. A blend copies a value, and the addition and the multiplication are one
    /// IEEE operation each per lane, so every width equals the scalar twin bit for bit. The last <c>d mod W</c>
    /// coordinates run on the scalar twin.</para>
    /// </remarks>
    /// <param name="width">The SIMD width.</param>
    /// <param name="records">n records of <paramref name="recordBytes"/> bytes.</param>
    /// <param name="recordBytes">4 + ⌈d·b/8⌉.</param>
    /// <param name="bits">b: 1 or 2.</param>
    /// <param name="dimension">d.</param>
    /// <param name="centroids">K × d centroids (row-major); every record's id is below K (validated on load).</param>
    /// <param name="levels">2^b × d bucket values, level-major.</param>
    /// <param name="destination">Receives n × d floats.</param>
    public static void DecodeResidual(SimdWidth width, ReadOnlySpan<byte> records, int recordBytes, int bits, int dimension,
        ReadOnlySpan<float> centroids, ReadOnlySpan<float> levels, Span<float> destination)
    {
        Debug.Assert(bits is 1 or 2 && recordBytes == 4 + (((dimension * bits) + 7) / 8) && records.Length % recordBytes == 0);
        int n = records.Length / recordBytes;
        Debug.Assert(destination.Length >= n * dimension && levels.Length >= (1 << bits) * dimension);
        ref byte r = ref MemoryMarshal.GetReference(records);
        ref float c = ref MemoryMarshal.GetReference(centroids);
        ref float l = ref MemoryMarshal.GetReference(levels);
        ref float o = ref MemoryMarshal.GetReference(destination);
        int d = dimension;
        for (int t = 0; t < n; t++)
        {
            ref byte record = ref Unsafe.Add(ref r, t * recordBytes);
            ReadOnlySpan<byte> head = MemoryMarshal.CreateReadOnlySpan(ref record, 4);
            int id = BinaryPrimitives.ReadUInt16LittleEndian(head);
            float scale = (float)BinaryPrimitives.ReadHalfLittleEndian(head[2..]);
            Debug.Assert((long)(id + 1) * d <= centroids.Length);
            ref float centroid = ref Unsafe.Add(ref c, id * d);
            ref byte codes = ref Unsafe.Add(ref record, 4);
            ref float output = ref Unsafe.Add(ref o, t * d);
            int j = 0;
            if (width == SimdWidth.Vector512)
            {
                for (; j + 16 <= d; j += 16)
                {
                    ResidualVector512(bits, ref codes, ref centroid, ref l, d, scale, ref output, j);
                }
            }
            else if (width == SimdWidth.Vector256)
            {
                for (; j + 8 <= d; j += 8)
                {
                    ResidualVector256(bits, ref codes, ref centroid, ref l, d, scale, ref output, j);
                }
            }
            else if (width == SimdWidth.Vector128)
            {
                for (; j + 4 <= d; j += 4)
                {
                    ResidualVector128(bits, ref codes, ref centroid, ref l, d, scale, ref output, j);
                }
            }

            for (; j < d; j++)
            {
                int code = (Unsafe.Add(ref codes, (j * bits) >> 3) >> ((j * bits) & 7)) & ((1 << bits) - 1);
                Unsafe.Add(ref output, j) = (Unsafe.Add(ref centroid, j) + Unsafe.Add(ref l, (code * d) + j)) * scale;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ResidualVector512(int bits, ref byte codes, ref float centroid, ref float levels, int d, float scale, ref float output, int j)
    {
        Vector512<float> value;
        if (bits == 2)
        {
            var word = Vector512.Create(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref codes, j >> 2)));
            Vector512<uint> lowBits = Vector512.Create(1u, 1u << 2, 1u << 4, 1u << 6, 1u << 8, 1u << 10, 1u << 12, 1u << 14,
                1u << 16, 1u << 18, 1u << 20, 1u << 22, 1u << 24, 1u << 26, 1u << 28, 1u << 30);
            Vector512<uint> highBits = lowBits << 1;
            Vector512<float> low = Vector512.Equals(word & lowBits, lowBits).AsSingle();
            Vector512<float> high = Vector512.Equals(word & highBits, highBits).AsSingle();
            Vector512<float> pairLow = Vector512.ConditionalSelect(low, Vector512.LoadUnsafe(ref levels, (nuint)(d + j)), Vector512.LoadUnsafe(ref levels, (nuint)j));
            Vector512<float> pairHigh = Vector512.ConditionalSelect(low, Vector512.LoadUnsafe(ref levels, (nuint)((3 * d) + j)), Vector512.LoadUnsafe(ref levels, (nuint)((2 * d) + j)));
            value = Vector512.ConditionalSelect(high, pairHigh, pairLow);
        }
        else
        {
            var word = Vector512.Create((uint)Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref codes, j >> 3)));
            Vector512<uint> laneBits = Vector512.Create(1u, 1u << 1, 1u << 2, 1u << 3, 1u << 4, 1u << 5, 1u << 6, 1u << 7,
                1u << 8, 1u << 9, 1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15);
            Vector512<float> set = Vector512.Equals(word & laneBits, laneBits).AsSingle();
            value = Vector512.ConditionalSelect(set, Vector512.LoadUnsafe(ref levels, (nuint)(d + j)), Vector512.LoadUnsafe(ref levels, (nuint)j));
        }

        ((Vector512.LoadUnsafe(ref centroid, (nuint)j) + value) * Vector512.Create(scale)).StoreUnsafe(ref output, (nuint)j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ResidualVector256(int bits, ref byte codes, ref float centroid, ref float levels, int d, float scale, ref float output, int j)
    {
        Vector256<float> value;
        if (bits == 2)
        {
            var word = Vector256.Create((uint)Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref codes, j >> 2)));
            Vector256<uint> lowBits = Vector256.Create(1u, 1u << 2, 1u << 4, 1u << 6, 1u << 8, 1u << 10, 1u << 12, 1u << 14);
            Vector256<uint> highBits = lowBits << 1;
            Vector256<float> low = Vector256.Equals(word & lowBits, lowBits).AsSingle();
            Vector256<float> high = Vector256.Equals(word & highBits, highBits).AsSingle();
            Vector256<float> pairLow = Vector256.ConditionalSelect(low, Vector256.LoadUnsafe(ref levels, (nuint)(d + j)), Vector256.LoadUnsafe(ref levels, (nuint)j));
            Vector256<float> pairHigh = Vector256.ConditionalSelect(low, Vector256.LoadUnsafe(ref levels, (nuint)((3 * d) + j)), Vector256.LoadUnsafe(ref levels, (nuint)((2 * d) + j)));
            value = Vector256.ConditionalSelect(high, pairHigh, pairLow);
        }
        else
        {
            var word = Vector256.Create((uint)Unsafe.Add(ref codes, j >> 3));
            Vector256<uint> laneBits = Vector256.Create(1u, 1u << 1, 1u << 2, 1u << 3, 1u << 4, 1u << 5, 1u << 6, 1u << 7);
            Vector256<float> set = Vector256.Equals(word & laneBits, laneBits).AsSingle();
            value = Vector256.ConditionalSelect(set, Vector256.LoadUnsafe(ref levels, (nuint)(d + j)), Vector256.LoadUnsafe(ref levels, (nuint)j));
        }

        ((Vector256.LoadUnsafe(ref centroid, (nuint)j) + value) * Vector256.Create(scale)).StoreUnsafe(ref output, (nuint)j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ResidualVector128(int bits, ref byte codes, ref float centroid, ref float levels, int d, float scale, ref float output, int j)
    {
        Vector128<float> value;
        if (bits == 2)
        {
            var word = Vector128.Create((uint)Unsafe.Add(ref codes, j >> 2));
            Vector128<uint> lowBits = Vector128.Create(1u, 1u << 2, 1u << 4, 1u << 6);
            Vector128<uint> highBits = lowBits << 1;
            Vector128<float> low = Vector128.Equals(word & lowBits, lowBits).AsSingle();
            Vector128<float> high = Vector128.Equals(word & highBits, highBits).AsSingle();
            Vector128<float> pairLow = Vector128.ConditionalSelect(low, Vector128.LoadUnsafe(ref levels, (nuint)(d + j)), Vector128.LoadUnsafe(ref levels, (nuint)j));
            Vector128<float> pairHigh = Vector128.ConditionalSelect(low, Vector128.LoadUnsafe(ref levels, (nuint)((3 * d) + j)), Vector128.LoadUnsafe(ref levels, (nuint)((2 * d) + j)));
            value = Vector128.ConditionalSelect(high, pairHigh, pairLow);
        }
        else
        {
            // j is a multiple of 4: the four codes are one half of a byte.
            var word = Vector128.Create((uint)(Unsafe.Add(ref codes, j >> 3) >> (j & 7)));
            Vector128<uint> laneBits = Vector128.Create(1u, 1u << 1, 1u << 2, 1u << 3);
            Vector128<float> set = Vector128.Equals(word & laneBits, laneBits).AsSingle();
            value = Vector128.ConditionalSelect(set, Vector128.LoadUnsafe(ref levels, (nuint)(d + j)), Vector128.LoadUnsafe(ref levels, (nuint)j));
        }

        ((Vector128.LoadUnsafe(ref centroid, (nuint)j) + value) * Vector128.Create(scale)).StoreUnsafe(ref output, (nuint)j);
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

    /// <summary>Centroids are packed into panels of this many columns (<see cref="PackCentroidPanels"/>).</summary>
    public const int PanelColumns = 64;

    /// <summary>Rounds a centroid count up to a whole number of panels.</summary>
    public static int PadPanelColumns(int count) => (count + PanelColumns - 1) & ~(PanelColumns - 1);

    /// <summary>
    /// Lays out k centroids (row-major, k × d) for <see cref="NearestCentroids{TLanes, TVec}"/>: panel p holds centroids
    /// [64p, 64p + 64) as d rows of 64 floats (coordinate j of centroid 64p + i at <c>p·64·d + j·64 + i</c>), so that one
    /// panel is 64·d contiguous floats a register tile streams from the cache; <paramref name="bias"/>[c] is
    /// <c>−‖c‖²/2</c> (summed in double, rounded once). Padding columns are zero with a bias of −∞ and never win.
    /// </summary>
    /// <param name="centroids">k × d, row-major.</param>
    /// <param name="dimension">d.</param>
    /// <param name="panels">Receives <c>PadPanelColumns(k) · d</c> floats.</param>
    /// <param name="bias">Receives <c>PadPanelColumns(k)</c> floats.</param>
    public static void PackCentroidPanels(ReadOnlySpan<float> centroids, int dimension, Span<float> panels, Span<float> bias)
    {
        int k = centroids.Length / dimension;
        int columns = PadPanelColumns(k);
        Debug.Assert(centroids.Length == k * dimension && panels.Length >= columns * dimension && bias.Length >= columns);
        panels[..(columns * dimension)].Clear();
        bias[k..columns].Fill(float.NegativeInfinity);
        for (int c = 0; c < k; c++)
        {
            int panel = c / PanelColumns * PanelColumns * dimension;
            int lane = c % PanelColumns;
            double norm = 0;
            for (int j = 0; j < dimension; j++)
            {
                float value = centroids[(c * dimension) + j];
                panels[panel + (j * PanelColumns) + lane] = value;
                norm += (double)value * value;
            }

            bias[c] = (float)(-0.5 * norm);
        }
    }

    /// <summary><see cref="NearestCentroids{TLanes, TVec}"/> at a width chosen at run time.</summary>
    public static void NearestCentroids(SimdWidth width, ReadOnlySpan<float> points, int dimension, ReadOnlySpan<float> panels, int columns,
        ReadOnlySpan<float> bias, Span<int> ids, Span<float> best)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                NearestCentroids<Lanes512, Vector512<float>>(points, dimension, panels, columns, bias, ids, best);
                break;
            case SimdWidth.Vector256:
                NearestCentroids<Lanes256, Vector256<float>>(points, dimension, panels, columns, bias, ids, best);
                break;
            case SimdWidth.Vector128:
                NearestCentroids<Lanes128, Vector128<float>>(points, dimension, panels, columns, bias, ids, best);
                break;
            default:
                NearestCentroids<LanesScalar, float>(points, dimension, panels, columns, bias, ids, best);
                break;
        }
    }

    /// <summary>
    /// For every point (row of <paramref name="points"/>), the column c maximising <c>(Σ_j fma chain of x_j·C[j, c]) +
    /// bias[c]</c>, ties to the lower c. With bias = −‖c‖²/2 this is the nearest centroid in L2; padding columns carry a
    /// bias of −∞.
    /// </summary>
    /// <remarks>
    /// <para>Cache blocking: the loops run panel by panel (64 centroids, 64·d floats: 96 KB at d = 384, held in L2),
    /// and within a panel over every point of the call, 4 points × 4 vectors of centroids per register tile (16
    /// accumulators, one fused multiply-add chain over the coordinates in order, from 0, per pair). The centroids are
    /// read from memory once per call rather than once per 4 points, so the callers pass a few hundred points at a
    /// time and the kernel runs at the multiply-add rate instead of the memory bandwidth.</para>
    /// <para>Determinism: each pair's value (the chain, then + bias) does not depend on the width or on the blocking, and
    /// every point sees the columns in increasing order with a strictly-greater update, so the ids (and the best
    /// values) equal the scalar twin's at every width.</para>
    /// </remarks>
    /// <param name="points">n × d, row-major.</param>
    /// <param name="dimension">d.</param>
    /// <param name="panels">The centroids from <see cref="PackCentroidPanels"/>.</param>
    /// <param name="columns">The padded centroid count, a multiple of <see cref="PanelColumns"/>.</param>
    /// <param name="bias">Per column.</param>
    /// <param name="ids">Receives n ids.</param>
    /// <param name="best">Receives each point's best value, <c>⟨x, c⟩ − ‖c‖²/2</c> for the chosen c (n floats).</param>
    public static void NearestCentroids<TLanes, TVec>(ReadOnlySpan<float> points, int dimension, ReadOnlySpan<float> panels, int columns,
        ReadOnlySpan<float> bias, Span<int> ids, Span<float> best)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        int n = ids.Length;
        Debug.Assert(points.Length >= n * dimension && panels.Length >= dimension * columns && bias.Length >= columns
            && columns % PanelColumns == 0 && best.Length >= n);
        int w = TLanes.Count;
        int block = 4 * w;
        ref float rx = ref MemoryMarshal.GetReference(points);
        ref float rb = ref MemoryMarshal.GetReference(best);
        ref int ri = ref MemoryMarshal.GetReference(ids);
        best[..n].Fill(float.NegativeInfinity);
        ids.Clear();
        Span<float> tile = stackalloc float[4 * 4 * 16];
        ref float rt = ref MemoryMarshal.GetReference(tile);
        for (int panelStart = 0; panelStart < columns; panelStart += PanelColumns)
        {
            ref float panel = ref Unsafe.Add(ref MemoryMarshal.GetReference(panels), panelStart * dimension);
            for (int sub = 0; sub < PanelColumns; sub += block)
            {
                int col = panelStart + sub;
                ReadOnlySpan<float> tileBias = bias.Slice(col, block);
                ref float rc = ref Unsafe.Add(ref panel, sub);
                int p = 0;
                for (; p + 4 <= n; p += 4)
                {
                    ref float x0 = ref Unsafe.Add(ref rx, p * dimension);
                    ref float x1 = ref Unsafe.Add(ref x0, dimension);
                    ref float x2 = ref Unsafe.Add(ref x1, dimension);
                    ref float x3 = ref Unsafe.Add(ref x2, dimension);
                    TVec s00 = TLanes.Zero, s01 = TLanes.Zero, s02 = TLanes.Zero, s03 = TLanes.Zero;
                    TVec s10 = TLanes.Zero, s11 = TLanes.Zero, s12 = TLanes.Zero, s13 = TLanes.Zero;
                    TVec s20 = TLanes.Zero, s21 = TLanes.Zero, s22 = TLanes.Zero, s23 = TLanes.Zero;
                    TVec s30 = TLanes.Zero, s31 = TLanes.Zero, s32 = TLanes.Zero, s33 = TLanes.Zero;
                    nuint offset = 0;
                    for (int k = 0; k < dimension; k++, offset += PanelColumns)
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

                    StoreRow<TLanes, TVec>(ref rt, 0, w, s00, s01, s02, s03);
                    StoreRow<TLanes, TVec>(ref rt, block, w, s10, s11, s12, s13);
                    StoreRow<TLanes, TVec>(ref rt, 2 * block, w, s20, s21, s22, s23);
                    StoreRow<TLanes, TVec>(ref rt, 3 * block, w, s30, s31, s32, s33);
                    ArgMax(tile[..block], tileBias, col, ref Unsafe.Add(ref rb, p), ref Unsafe.Add(ref ri, p));
                    ArgMax(tile.Slice(block, block), tileBias, col, ref Unsafe.Add(ref rb, p + 1), ref Unsafe.Add(ref ri, p + 1));
                    ArgMax(tile.Slice(2 * block, block), tileBias, col, ref Unsafe.Add(ref rb, p + 2), ref Unsafe.Add(ref ri, p + 2));
                    ArgMax(tile.Slice(3 * block, block), tileBias, col, ref Unsafe.Add(ref rb, p + 3), ref Unsafe.Add(ref ri, p + 3));
                }

                for (; p < n; p++)
                {
                    ref float x0 = ref Unsafe.Add(ref rx, p * dimension);
                    TVec s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
                    nuint offset = 0;
                    for (int k = 0; k < dimension; k++, offset += PanelColumns)
                    {
                        TVec v = TLanes.Broadcast(Unsafe.Add(ref x0, k));
                        s0 = TLanes.MultiplyAdd(v, TLanes.Load(ref rc, offset), s0);
                        s1 = TLanes.MultiplyAdd(v, TLanes.Load(ref rc, offset + (nuint)w), s1);
                        s2 = TLanes.MultiplyAdd(v, TLanes.Load(ref rc, offset + (nuint)(2 * w)), s2);
                        s3 = TLanes.MultiplyAdd(v, TLanes.Load(ref rc, offset + (nuint)(3 * w)), s3);
                    }

                    StoreRow<TLanes, TVec>(ref rt, 0, w, s0, s1, s2, s3);
                    ArgMax(tile[..block], tileBias, col, ref Unsafe.Add(ref rb, p), ref Unsafe.Add(ref ri, p));
                }
            }
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
