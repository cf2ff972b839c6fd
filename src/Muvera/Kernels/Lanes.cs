// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Muvera.Kernels;

/// <summary>
/// One SIMD width as a type, so a kernel is written once (generic over <typeparamref name="TVec"/>) and the JIT
/// specialises it per width: <see cref="Lanes512"/> → <see cref="Lanes256"/> → <see cref="Lanes128"/> →
/// <see cref="LanesScalar"/>. Every operation is lane-wise, so a kernel that puts independent outputs in lanes
/// (tokens, in the FDE kernels) performs the same IEEE operations per output at every width: results are
/// bit-identical across widths and CPUs.
/// </summary>
internal interface ILanes<TVec>
    where TVec : struct
{
    /// <summary>Whether this width runs in hardware here (a software fallback would still be correct).</summary>
    static abstract bool IsHardwareAccelerated { get; }

    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }

    static abstract TVec Zero { get; }

    static abstract TVec Broadcast(float value);

    static abstract TVec Load(ref float source, nuint offset);

    static abstract void Store(TVec value, ref float destination, nuint offset);

    static abstract TVec Add(TVec left, TVec right);

    static abstract TVec Subtract(TVec left, TVec right);

    static abstract TVec Multiply(TVec left, TVec right);

    /// <summary>Fused <c>a·b + c</c> with one rounding (also where emulated), like <see cref="MathF.FusedMultiplyAdd"/>.</summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec c);

    static abstract TVec Divide(TVec left, TVec right);

    /// <summary>IEEE 754:2019 maximum per lane (+0 &gt; −0), like <see cref="MathF.Max"/>.</summary>
    static abstract TVec Max(TVec left, TVec right);

    /// <summary>The largest lane (order-free: the maximum is exact and associative for non-NaN values).</summary>
    static abstract float MaxAcross(TVec value);

    /// <summary>The sum of the lanes, added pairwise (upper half onto lower half down to one lane): a fixed order, so
    /// the same vector always sums to the same float.</summary>
    static abstract float SumAcross(TVec value);

    static abstract bool IsAllZero(TVec value);

    /// <summary>Loads <c>source[lane · stride]</c> for every lane (a hardware gather where there is one).</summary>
    static abstract unsafe TVec GatherStrided(float* source, int stride);

    /// <summary>
    /// SimHash partition ids of <see cref="Count"/> tokens: row j (at <c>sketch + j·stride</c>) holds hyperplane j's
    /// sketch per token; bit j is <c>sketch &gt; 0</c> with hyperplane 0 the most significant, read as a Gray code
    /// (out_j = b_1 ⊕ … ⊕ b_j, id = Σ out_j·2^(k−j)), as the reference's <c>SimHashPartitionIndex</c>.
    /// </summary>
    static abstract void GrayCodeIds(ref float sketch, nuint stride, int k, ref int destination);

    /// <summary>
    /// Learned partition ids of <see cref="Count"/> tokens: row b (at <c>scores + b·stride</c>) holds centroid b's inner
    /// product per token; the id is the row of the largest value, ties to the lower row (a row replaces the best only
    /// when strictly greater). Comparisons and selects only, so every width picks the same rows.
    /// </summary>
    static abstract void ArgMaxIds(ref float scores, nuint stride, int rows, ref int destination);
}

internal readonly struct Lanes512 : ILanes<Vector512<float>>
{
    public static bool IsHardwareAccelerated => Vector512.IsHardwareAccelerated;

    public static int Count => Vector512<float>.Count;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source, nuint offset) => Vector512.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> left, Vector512<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> left, Vector512<float> right) => left - right;

    public static Vector512<float> Multiply(Vector512<float> left, Vector512<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAllZero(Vector512<float> value) => Vector512.EqualsAll(value, Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Divide(Vector512<float> left, Vector512<float> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Max(Vector512<float> left, Vector512<float> right) => Vector512.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector512<float> value) => Lanes256.MaxAcross(Vector256.Max(value.GetLower(), value.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAcross(Vector512<float> value) => Lanes256.SumAcross(value.GetLower() + value.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> GatherStrided(float* source, int stride)
    {
        if (Avx2.IsSupported)
        {
            // .NET exposes no 512-bit gather: two 256-bit ones.
            Vector256<int> indices = Vector256<int>.Indices * stride;
            return Vector512.Create(Avx2.GatherVector256(source, indices, 4), Avx2.GatherVector256(source + (8 * stride), indices, 4));
        }

        Unsafe.SkipInit(out Vector512<float> result);
        for (int lane = 0; lane < Vector512<float>.Count; lane++)
        {
            result = result.WithElement(lane, source[lane * stride]);
        }

        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GrayCodeIds(ref float sketch, nuint stride, int k, ref int destination)
    {
        Vector512<int> prefix = Vector512<int>.Zero;
        Vector512<int> id = Vector512<int>.Zero;
        for (int j = 0; j < k; j++)
        {
            // GreaterThan gives -1 in a lane whose bit is set; prefix holds -(b_1 ⊕ … ⊕ b_j), so id·2 − prefix appends it.
            prefix ^= Vector512.GreaterThan(Vector512.LoadUnsafe(ref sketch, (nuint)j * stride), Vector512<float>.Zero).AsInt32();
            id = (id + id) - prefix;
        }

        id.StoreUnsafe(ref destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ArgMaxIds(ref float scores, nuint stride, int rows, ref int destination)
    {
        Vector512<float> best = Vector512.LoadUnsafe(ref scores);
        Vector512<int> id = Vector512<int>.Zero;
        for (int b = 1; b < rows; b++)
        {
            Vector512<float> value = Vector512.LoadUnsafe(ref scores, (nuint)b * stride);
            Vector512<float> greater = Vector512.GreaterThan(value, best);
            best = Vector512.ConditionalSelect(greater, value, best);
            id = Vector512.ConditionalSelect(greater.AsInt32(), Vector512.Create(b), id);
        }

        id.StoreUnsafe(ref destination);
    }
}

internal readonly struct Lanes256 : ILanes<Vector256<float>>
{
    public static bool IsHardwareAccelerated => Vector256.IsHardwareAccelerated;

    public static int Count => Vector256<float>.Count;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref float source, nuint offset) => Vector256.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> left, Vector256<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> left, Vector256<float> right) => left - right;

    public static Vector256<float> Multiply(Vector256<float> left, Vector256<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAllZero(Vector256<float> value) => Vector256.EqualsAll(value, Vector256<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Divide(Vector256<float> left, Vector256<float> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Max(Vector256<float> left, Vector256<float> right) => Vector256.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> value) => Lanes128.MaxAcross(Vector128.Max(value.GetLower(), value.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAcross(Vector256<float> value) => Lanes128.SumAcross(value.GetLower() + value.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> GatherStrided(float* source, int stride)
    {
        if (Avx2.IsSupported)
        {
            return Avx2.GatherVector256(source, Vector256<int>.Indices * stride, 4);
        }

        Unsafe.SkipInit(out Vector256<float> result);
        for (int lane = 0; lane < Vector256<float>.Count; lane++)
        {
            result = result.WithElement(lane, source[lane * stride]);
        }

        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GrayCodeIds(ref float sketch, nuint stride, int k, ref int destination)
    {
        Vector256<int> prefix = Vector256<int>.Zero;
        Vector256<int> id = Vector256<int>.Zero;
        for (int j = 0; j < k; j++)
        {
            prefix ^= Vector256.GreaterThan(Vector256.LoadUnsafe(ref sketch, (nuint)j * stride), Vector256<float>.Zero).AsInt32();
            id = (id + id) - prefix;
        }

        id.StoreUnsafe(ref destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ArgMaxIds(ref float scores, nuint stride, int rows, ref int destination)
    {
        Vector256<float> best = Vector256.LoadUnsafe(ref scores);
        Vector256<int> id = Vector256<int>.Zero;
        for (int b = 1; b < rows; b++)
        {
            Vector256<float> value = Vector256.LoadUnsafe(ref scores, (nuint)b * stride);
            Vector256<float> greater = Vector256.GreaterThan(value, best);
            best = Vector256.ConditionalSelect(greater, value, best);
            id = Vector256.ConditionalSelect(greater.AsInt32(), Vector256.Create(b), id);
        }

        id.StoreUnsafe(ref destination);
    }
}

internal readonly struct Lanes128 : ILanes<Vector128<float>>
{
    public static bool IsHardwareAccelerated => Vector128.IsHardwareAccelerated;

    public static int Count => Vector128<float>.Count;

    public static Vector128<float> Zero => Vector128<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Broadcast(float value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref float source, nuint offset) => Vector128.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> left, Vector128<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Subtract(Vector128<float> left, Vector128<float> right) => left - right;

    public static Vector128<float> Multiply(Vector128<float> left, Vector128<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAllZero(Vector128<float> value) => Vector128.EqualsAll(value, Vector128<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Divide(Vector128<float> left, Vector128<float> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Max(Vector128<float> left, Vector128<float> right) => Vector128.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector128<float> value) =>
        MathF.Max(MathF.Max(value.GetElement(0), value.GetElement(1)), MathF.Max(value.GetElement(2), value.GetElement(3)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAcross(Vector128<float> value) =>
        (value.GetElement(0) + value.GetElement(2)) + (value.GetElement(1) + value.GetElement(3));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<float> GatherStrided(float* source, int stride)
    {
        if (Avx2.IsSupported)
        {
            return Avx2.GatherVector128(source, Vector128<int>.Indices * stride, 4);
        }

        Unsafe.SkipInit(out Vector128<float> result);
        for (int lane = 0; lane < Vector128<float>.Count; lane++)
        {
            result = result.WithElement(lane, source[lane * stride]);
        }

        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GrayCodeIds(ref float sketch, nuint stride, int k, ref int destination)
    {
        Vector128<int> prefix = Vector128<int>.Zero;
        Vector128<int> id = Vector128<int>.Zero;
        for (int j = 0; j < k; j++)
        {
            prefix ^= Vector128.GreaterThan(Vector128.LoadUnsafe(ref sketch, (nuint)j * stride), Vector128<float>.Zero).AsInt32();
            id = (id + id) - prefix;
        }

        id.StoreUnsafe(ref destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ArgMaxIds(ref float scores, nuint stride, int rows, ref int destination)
    {
        Vector128<float> best = Vector128.LoadUnsafe(ref scores);
        Vector128<int> id = Vector128<int>.Zero;
        for (int b = 1; b < rows; b++)
        {
            Vector128<float> value = Vector128.LoadUnsafe(ref scores, (nuint)b * stride);
            Vector128<float> greater = Vector128.GreaterThan(value, best);
            best = Vector128.ConditionalSelect(greater, value, best);
            id = Vector128.ConditionalSelect(greater.AsInt32(), Vector128.Create(b), id);
        }

        id.StoreUnsafe(ref destination);
    }
}

/// <summary>The scalar twin: one float per "vector"; the reference every wider path must equal bit for bit.</summary>
internal readonly struct LanesScalar : ILanes<float>
{
    public static bool IsHardwareAccelerated => true;

    public static int Count => 1;

    public static float Zero => 0f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Broadcast(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref float source, nuint offset) => Unsafe.Add(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, ref float destination, nuint offset) => Unsafe.Add(ref destination, offset) = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float left, float right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Subtract(float left, float right) => left - right;

    public static float Multiply(float left, float right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAllZero(float value) => value == 0f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Divide(float left, float right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(float left, float right) => MathF.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAcross(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float GatherStrided(float* source, int stride) => *source;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GrayCodeIds(ref float sketch, nuint stride, int k, ref int destination)
    {
        int prefix = 0;
        int id = 0;
        for (int j = 0; j < k; j++)
        {
            prefix ^= Unsafe.Add(ref sketch, (nuint)j * stride) > 0f ? 1 : 0;
            id = (id << 1) | prefix;
        }

        destination = id;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ArgMaxIds(ref float scores, nuint stride, int rows, ref int destination)
    {
        float best = scores;
        int id = 0;
        for (int b = 1; b < rows; b++)
        {
            float value = Unsafe.Add(ref scores, (nuint)b * stride);
            if (value > best)
            {
                best = value;
                id = b;
            }
        }

        destination = id;
    }
}
