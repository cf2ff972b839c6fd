// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Muvera.Gpu;

/// <summary>Turns one stored token coordinate into a float inside a kernel (a struct so that ILGPU inlines it).</summary>
/// <typeparam name="TElement">The stored element type.</typeparam>
internal interface ITokenConverter<TElement>
    where TElement : unmanaged
{
    /// <summary>The coordinate as a float (exact for both storage types).</summary>
    float ToFloat(TElement value);
}

/// <summary>Float32 storage: the value itself.</summary>
internal readonly struct FloatTokenConverter : ITokenConverter<float>
{
    public float ToFloat(float value) => value;
}

/// <summary>Float16 storage: <c>cvt.f32.f16</c> on CUDA; every half is exactly representable as a float.</summary>
internal readonly struct HalfTokenConverter : ITokenConverter<ILGPU.Half>
{
    public float ToFloat(ILGPU.Half value) => value;
}

/// <summary>The scalar arguments of one <see cref="ChamferKernels.Score{TElement, TConverter}"/> launch.</summary>
/// <remarks>Two addressing modes. List mode (<see cref="AllDocuments"/> = 0): work item i scores query
/// <c>itemQueries[i]</c> against store document <c>itemDocuments[i]</c>. All-documents mode (<see cref="AllDocuments"/>
/// = the store's count): global item g = <see cref="ItemOffset"/> + i scores query g / count against document g % count,
/// so brute force needs no id list.</remarks>
internal readonly struct ChamferLaunch
{
    public ChamferLaunch(int dimension, int itemCount, int allDocuments, long itemOffset)
    {
        Dimension = dimension;
        ItemCount = itemCount;
        AllDocuments = allDocuments;
        ItemOffset = itemOffset;
    }

    /// <summary>The token dimension d.</summary>
    public int Dimension { get; }

    /// <summary>Work items (scores) in this launch.</summary>
    public int ItemCount { get; }

    /// <summary>0 for list mode, else the number of documents every query is scored against.</summary>
    public int AllDocuments { get; }

    /// <summary>All-documents mode only: the global index of this launch's first item.</summary>
    public long ItemOffset { get; }
}

/// <summary>
/// The ILGPU Chamfer kernel: Σ_q max_d ⟨q, d⟩ for many (query, document) work items, one thread group per item
/// (grid-stride over items). The same C# runs on CUDA (PTX) and on ILGPU's CPU accelerator (tests).
/// </summary>
/// <remarks>
/// <para>Layout of one group (W = warp size, G = group size, w = G / W warps):</para>
/// <list type="bullet">
/// <item>Query tokens are processed in blocks of w·<see cref="QueryTokensPerWarp"/> tokens; warp j owns tokens
/// j·R .. j·R + R − 1 of the block (R = <see cref="QueryTokensPerWarp"/>) and keeps R dot-product accumulators and R
/// running maxima in registers.</item>
/// <item>Document tokens are processed in tiles of W tokens: lane l owns token l of the tile.</item>
/// <item>Coordinates are processed in slabs of <see cref="SlabCoordinates"/>: the block's query slab (R·w tokens ×
/// slab, row-major) and the tile's document slab (transposed, column pitch W + 1 so that both the transposing store and
/// the lane-parallel load are free of bank conflicts) are staged in shared memory, Float16 converted to float on the way.
/// Query reads are warp-wide broadcasts.</item>
/// <item>After the last tile the R maxima are reduced across the warp with butterfly shuffles (max is exact, so the
/// order does not matter); lane 0 adds them, in token order, to its warp's sum; the warp sums are added in warp order
/// by thread 0.</item>
/// </list>
/// <para>Every dot product accumulates its d products sequentially in coordinate order, so a score depends only on the
/// data and on (W, G): it is deterministic on one device. It differs from the CPU scorer's by rounding only (different
/// summation order, fused multiply-adds on CUDA); see the README for the stated tolerance.</para>
/// <para>An empty document scores −∞. Query tokens past the end of a block are staged as zeros and never added.</para>
/// </remarks>
internal static class ChamferKernels
{
    /// <summary>Query tokens per warp and block pass (R): accumulators held in registers.</summary>
    public const int QueryTokensPerWarp = 4;

    /// <summary>Coordinates staged in shared memory per slab.</summary>
    public const int SlabCoordinates = 64;

    /// <summary>The dynamic shared memory of one group in floats: query slab, document slab, warp sums.</summary>
    public static int SharedFloats(int groupSize, int warpSize)
    {
        int warps = groupSize / warpSize;
        return (warps * QueryTokensPerWarp * SlabCoordinates) + (SlabCoordinates * (warpSize + 1)) + warps;
    }

    /// <summary>Scores work items; see the type's remarks for the layout.</summary>
    /// <param name="queries">Every query's tokens, row-major, concatenated.</param>
    /// <param name="queryStarts">Query q owns tokens <c>queryStarts[q] .. queryStarts[q + 1] − 1</c>.</param>
    /// <param name="itemQueries">List mode: the query of each item.</param>
    /// <param name="itemDocuments">List mode: the document of each item.</param>
    /// <param name="documentStarts">Document i owns tokens <c>documentStarts[i] .. documentStarts[i + 1] − 1</c>.</param>
    /// <param name="tokens">Every document's tokens, row-major, concatenated.</param>
    /// <param name="scores">Receives one score per item of this launch.</param>
    /// <param name="launch">Dimension, item count and addressing mode.</param>
    public static void Score<TElement, TConverter>(
        ArrayView<float> queries,
        ArrayView<int> queryStarts,
        ArrayView<int> itemQueries,
        ArrayView<int> itemDocuments,
        ArrayView<long> documentStarts,
        ArrayView<TElement> tokens,
        ArrayView<float> scores,
        ChamferLaunch launch)
        where TElement : unmanaged
        where TConverter : struct, ITokenConverter<TElement>
    {
        const int R = QueryTokensPerWarp;
        const int S = SlabCoordinates;
        TConverter converter = default;
        ArrayView<float> shared = SharedMemory.GetDynamic<float>();
        int warpSize = Warp.WarpSize;
        int groupSize = Group.DimX;
        int thread = Group.IdxX;
        int lane = thread % warpSize;
        int warp = thread / warpSize;
        int warps = groupSize / warpSize;
        int block = warps * R;
        int pitch = warpSize + 1;
        int documentSlabOffset = block * S;
        int warpSumOffset = documentSlabOffset + (S * pitch);
        int d = launch.Dimension;

        for (int item = Grid.IdxX; item < launch.ItemCount; item += Grid.DimX)
        {
            int query;
            int document;
            if (launch.AllDocuments > 0)
            {
                long global = launch.ItemOffset + item;
                query = (int)(global / launch.AllDocuments);
                document = (int)(global - ((long)query * launch.AllDocuments));
            }
            else
            {
                query = itemQueries[item];
                document = itemDocuments[item];
            }

            int queryStart = queryStarts[query];
            int queryTokens = queryStarts[query + 1] - queryStart;
            long documentStart = documentStarts[document];
            int documentTokens = (int)(documentStarts[document + 1] - documentStart);
            float warpSum = 0;

            for (int blockStart = 0; blockStart < queryTokens; blockStart += block)
            {
                int first = blockStart + (warp * R);
                int ownQuery = warp * R * S;
                float m0 = float.NegativeInfinity;
                float m1 = float.NegativeInfinity;
                float m2 = float.NegativeInfinity;
                float m3 = float.NegativeInfinity;
                for (int tileStart = 0; tileStart < documentTokens; tileStart += warpSize)
                {
                    int tileTokens = IntrinsicMath.Min(warpSize, documentTokens - tileStart);
                    float a0 = 0;
                    float a1 = 0;
                    float a2 = 0;
                    float a3 = 0;
                    for (int slabStart = 0; slabStart < d; slabStart += S)
                    {
                        int slab = IntrinsicMath.Min(S, d - slabStart);
                        Group.Barrier();
                        for (int e = thread; e < block * slab; e += groupSize)
                        {
                            int r = e / slab;
                            int k = e - (r * slab);
                            int token = blockStart + r;
                            shared[(r * S) + k] = token < queryTokens ? queries[((long)(queryStart + token) * d) + slabStart + k] : 0f;
                        }

                        for (int e = thread; e < tileTokens * slab; e += groupSize)
                        {
                            int j = e / slab;
                            int k = e - (j * slab);
                            shared[documentSlabOffset + (k * pitch) + j] =
                                converter.ToFloat(tokens[((documentStart + tileStart + j) * d) + slabStart + k]);
                        }

                        Group.Barrier();
                        if (first < queryTokens)
                        {
                            for (int k = 0; k < slab; k++)
                            {
                                float x = shared[documentSlabOffset + (k * pitch) + lane];
                                a0 += shared[ownQuery + k] * x;
                                a1 += shared[ownQuery + S + k] * x;
                                a2 += shared[ownQuery + (2 * S) + k] * x;
                                a3 += shared[ownQuery + (3 * S) + k] * x;
                            }
                        }
                    }

                    if (lane < tileTokens)
                    {
                        m0 = IntrinsicMath.Max(m0, a0);
                        m1 = IntrinsicMath.Max(m1, a1);
                        m2 = IntrinsicMath.Max(m2, a2);
                        m3 = IntrinsicMath.Max(m3, a3);
                    }
                }

                for (int offset = warpSize / 2; offset > 0; offset /= 2)
                {
                    m0 = IntrinsicMath.Max(m0, Warp.ShuffleXor(m0, offset));
                    m1 = IntrinsicMath.Max(m1, Warp.ShuffleXor(m1, offset));
                    m2 = IntrinsicMath.Max(m2, Warp.ShuffleXor(m2, offset));
                    m3 = IntrinsicMath.Max(m3, Warp.ShuffleXor(m3, offset));
                }

                if (lane == 0 && first < queryTokens)
                {
                    warpSum += m0;
                    if (first + 1 < queryTokens)
                    {
                        warpSum += m1;
                    }

                    if (first + 2 < queryTokens)
                    {
                        warpSum += m2;
                    }

                    if (first + 3 < queryTokens)
                    {
                        warpSum += m3;
                    }
                }
            }

            if (lane == 0)
            {
                shared[warpSumOffset + warp] = warpSum;
            }

            Group.Barrier();
            if (thread == 0)
            {
                float total = 0;
                for (int w = 0; w < warps; w++)
                {
                    total += shared[warpSumOffset + w];
                }

                scores[item] = documentTokens == 0 ? float.NegativeInfinity : total;
            }

            Group.Barrier();
        }
    }

    /// <summary>The kernel instantiation for a storage type.</summary>
    public static MethodInfo EntryPoint(bool half) =>
        half
            ? typeof(ChamferKernels).GetMethod(nameof(Score))!.MakeGenericMethod(typeof(ILGPU.Half), typeof(HalfTokenConverter))
            : typeof(ChamferKernels).GetMethod(nameof(Score))!.MakeGenericMethod(typeof(float), typeof(FloatTokenConverter));

    /// <summary>Compiles both kernel instantiations (Float32, Float16) to PTX for <paramref name="architecture"/> without
    /// a device or driver: ILGPU's PTX backend alone.</summary>
    /// <param name="architecture">The target, e.g. <see cref="CudaArchitecture.SM_90"/>.</param>
    /// <param name="instructionSet">The PTX ISA version to emit.</param>
    /// <returns>Entry name → PTX text, Float32 instantiation first.</returns>
    public static IReadOnlyList<KeyValuePair<string, string>> CompilePtx(CudaArchitecture architecture, CudaInstructionSet instructionSet)
    {
        CudaDriver.RegisterResolver();
        using Context context = Context.Create(builder => builder.Cuda());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, nvvmAPI: null);
        var result = new List<KeyValuePair<string, string>>(2);
        foreach (bool half in (ReadOnlySpan<bool>)[false, true])
        {
            EntryPointDescription entry = EntryPointDescription.FromExplicitlyGroupedKernel(EntryPoint(half));
            var compiled = (PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization());
            result.Add(new KeyValuePair<string, string>(compiled.Name, compiled.PTXAssembly));
        }

        return result;
    }
}
