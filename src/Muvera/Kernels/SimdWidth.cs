// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera.Kernels;

/// <summary>A SIMD width a kernel can be run at; tests call every width directly.</summary>
internal enum SimdWidth
{
    /// <summary>The scalar twin.</summary>
    Scalar = 1,

    /// <summary>128-bit vectors.</summary>
    Vector128 = 128,

    /// <summary>256-bit vectors.</summary>
    Vector256 = 256,

    /// <summary>512-bit vectors.</summary>
    Vector512 = 512,
}

/// <summary>Chooses the widest hardware-accelerated width once per process.</summary>
internal static class SimdDispatch
{
    /// <summary>The width the public APIs run at (a JIT-time constant after tiering).</summary>
    public static readonly SimdWidth Preferred =
        System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? SimdWidth.Vector512 :
        System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? SimdWidth.Vector256 :
        System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated ? SimdWidth.Vector128 :
        SimdWidth.Scalar;

    /// <summary>Returns whether <paramref name="width"/> runs in hardware here.</summary>
    public static bool IsAccelerated(SimdWidth width) => width switch
    {
        SimdWidth.Vector512 => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated,
        SimdWidth.Vector256 => System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated,
        SimdWidth.Vector128 => System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated,
        _ => true,
    };
}
