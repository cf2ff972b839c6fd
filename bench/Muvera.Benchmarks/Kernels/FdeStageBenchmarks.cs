// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using Muvera.Kernels;

namespace Muvera.Benchmarks.Kernels;

/// <summary>
/// The stages of one document encode (80 tokens × 128-d, (20, 5, 16) AMS with fill) at 512 bits, to show what
/// dominates: each benchmark runs a stage for all 20 repetitions, as the encoder does.
/// </summary>
[MemoryDiagnoser]
public class FdeStageBenchmarks
{
    private const int Tokens = 80;
    private const int Dimension = 128;
    private const int Repetitions = 20;
    private const int Hashes = 5;
    private const int BlockDimension = 16;
    private const int Columns = 80;

    private float[] _tokens = null!;
    private float[] _transposed = null!;
    private float[] _simHashRows = null!;
    private float[] _sketch = null!;
    private int[] _ids = null!;
    private int[] _counts = null!;
    private int[] _firstTokens = null!;
    private float[] _projected = null!;
    private float[] _rows = null!;
    private float[] _blocks = null!;
    private AmsTable _ams = null!;

    [GlobalSetup]
    public void Setup()
    {
        FdeOptions options = FdeOptions.CreateSimHash(Dimension);
        FdeMatrices matrices = FdeMatrices.Generate(options);
        _ams = new AmsTable(matrices.AmsColumns!, matrices.AmsSigns!, Dimension, BlockDimension);
        _tokens = SyntheticData.UnitTokens(Tokens, Dimension, seed: 1);
        _transposed = new float[Dimension * Columns];
        _simHashRows = SyntheticData.UnitTokens(Repetitions * Hashes, Dimension, seed: 4);
        _sketch = new float[Repetitions * Hashes * Columns];
        _ids = new int[Columns];
        _counts = new int[32];
        _firstTokens = new int[32];
        _projected = new float[BlockDimension * Columns];
        _rows = new float[BlockDimension * Columns];
        _blocks = new float[Repetitions * 32 * BlockDimension];
        FdeKernels.Transpose<Lanes512, Vector512<float>>(_tokens, Tokens, Dimension, _transposed, Columns);
        FdeKernels.MultiplyTransposed<Lanes512, Vector512<float>>(_simHashRows, Repetitions * Hashes, Dimension, _transposed, Columns, _sketch);
        FdeKernels.GrayCodeIds<Lanes512, Vector512<float>>(_sketch, Hashes, Columns, _ids);
    }

    /// <summary>X → Xᵀ (gathers), once per encode.</summary>
    [Benchmark]
    public void Transpose() => FdeKernels.Transpose<Lanes512, Vector512<float>>(_tokens, Tokens, Dimension, _transposed, Columns);

    /// <summary>The SimHash sketches of all repetitions: one 100 × 128 × 80 product.</summary>
    [Benchmark]
    public void SimHashProduct() =>
        FdeKernels.MultiplyTransposed<Lanes512, Vector512<float>>(_simHashRows, Repetitions * Hashes, Dimension, _transposed, Columns, _sketch);

    /// <summary>Gray-code partition ids, 20 repetitions.</summary>
    [Benchmark]
    public void PartitionIds()
    {
        for (int r = 0; r < Repetitions; r++)
        {
            FdeKernels.GrayCodeIds<Lanes512, Vector512<float>>(_sketch.AsSpan(r * Hashes * Columns), Hashes, Columns, _ids);
        }
    }

    /// <summary>Sparse AMS projection Yᵀ = Sᵀ·Xᵀ, 20 repetitions.</summary>
    [Benchmark]
    public void AmsProject()
    {
        for (int r = 0; r < Repetitions; r++)
        {
            _ams.Project<Lanes512, Vector512<float>>(r, _transposed, Columns, _projected);
        }
    }

    /// <summary>Yᵀ → Y (16 × 16 register transposes), 20 repetitions.</summary>
    [Benchmark]
    public void TransposeToRows()
    {
        for (int r = 0; r < Repetitions; r++)
        {
            FdeKernels.TransposeToRows<Lanes512, Vector512<float>>(_projected, BlockDimension, Columns, Tokens, _rows);
        }
    }

    /// <summary>Partition sums (one vector add per token) and averaging, 20 repetitions.</summary>
    [Benchmark]
    public void AggregateAndAverage()
    {
        for (int r = 0; r < Repetitions; r++)
        {
            Span<float> blocks = _blocks.AsSpan(r * 32 * BlockDimension, 32 * BlockDimension);
            Array.Clear(_counts);
            FdeKernels.AccumulateRows<Lanes512, Vector512<float>>(_rows, BlockDimension, _ids, Tokens, blocks, _counts, _firstTokens);
            for (int b = 0; b < 32; b++)
            {
                if (_counts[b] > 1)
                {
                    FdeKernels.Divide<Lanes512, Vector512<float>>(blocks.Slice(b * BlockDimension, BlockDimension), _counts[b]);
                }
            }
        }
    }
}
