// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using BenchmarkDotNet.Attributes;
using Muvera.Kernels;

namespace Muvera.Benchmarks.Kernels;

/// <summary>
/// The quantized-FDE scan kernels per SIMD width, in cache (a 640 KB block of codes scanned repeatedly): the 4-bit
/// product-quantization fast scan over 32 blocks of 16 rows × 1,280 sub-space pairs (a (20, 5, 16) FDE, 1,280 bytes per
/// row), and the int8 dot product of 64 rows × 10,240 bytes on each path. Rows per second = 512 (PQ) or 64 (int8) per
/// operation.
/// </summary>
public class FdeScanKernelBenchmarks
{
    private const int Pairs = 1_280;
    private const int Blocks = 32;
    private const int Int8Rows = 64;
    private const int Int8Length = 10_240;

    private byte[] _codes = [];
    private byte[] _low = [];
    private byte[] _high = [];
    private byte[] _int8 = [];
    private sbyte[] _query = [];
    private uint[] _totals = [];

    /// <summary>The SIMD width in bits (1 = the scalar twin).</summary>
    [Params(1, 128, 256, 512)]
    public int Bits { get; set; } = 512;

    private SimdWidth Width => (SimdWidth)Bits;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        _codes = new byte[Blocks * Pairs * 16];
        _low = new byte[Pairs * 16];
        _high = new byte[Pairs * 16];
        _int8 = new byte[Int8Rows * Int8Length];
        _query = new sbyte[Int8Length];
        random.NextBytes(_codes);
        random.NextBytes(_low);
        random.NextBytes(_high);
        random.NextBytes(_int8);
        for (int i = 0; i < _query.Length; i++)
        {
            _query[i] = (sbyte)random.Next(-127, 128);
        }

        _totals = new uint[16];
    }

    /// <summary>512 rows of 4-bit codes (32 blocks).</summary>
    [Benchmark]
    public uint Pq4FastScan512Rows()
    {
        uint sum = 0;
        if (!PqScanKernels.IsSupported(Width))
        {
            return sum;
        }

        for (int b = 0; b < Blocks; b++)
        {
            PqScanKernels.ScanBlock(Width, _codes.AsSpan(b * Pairs * 16, Pairs * 16), _low, _high, _totals);
            sum += _totals[0];
        }

        return sum;
    }

    /// <summary>64 rows of int8 codes on the path of this width (scalar, widening 128/256/512); VNNI is measured under
    /// Vector256 as a second method.</summary>
    [Benchmark]
    public long Int8Dot64Rows() => Int8Rows64(Width switch
    {
        SimdWidth.Vector512 => Int8DotPath.Widen512,
        SimdWidth.Vector256 => Int8DotPath.Widen256,
        SimdWidth.Vector128 => Int8DotPath.Widen128,
        _ => Int8DotPath.Scalar,
    });

    /// <summary>64 rows of int8 codes with AVX-VNNI (vpdpbusd), where the CPU has it (the index's path here).</summary>
    [Benchmark]
    public long Int8DotVnni64Rows() => Width == SimdWidth.Vector256 ? Int8Rows64(Int8DotPath.Vnni256) : 0;

    private long Int8Rows64(Int8DotPath path)
    {
        if (!Int8Kernels.IsSupported(path))
        {
            return 0;
        }

        long sum = 0;
        for (int r = 0; r < Int8Rows; r++)
        {
            sum += Int8Kernels.Dot(path, _int8.AsSpan(r * Int8Length, Int8Length), _query);
        }

        return sum;
    }
}
