// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using Muvera.Kernels;

namespace Muvera.Benchmarks.Encoding;

/// <summary>
/// One-core document and query encodes at 512 bits beside their FMA bound, measured in the same run so that the ratio
/// holds under a noisy host: <see cref="FmaPeak"/> issues exactly the SimHash product's multiply-adds
/// (80 tokens × 128 × R·k = 80 × 128 × 100 = 1,024,000, i.e. 64,000 16-lane FMAs) as independent register chains, so its
/// time is the bound; <see cref="SimHashProduct"/> is the real product. The learned default
/// (<see cref="FdeOptions.CreateRecommended"/>) is encoded too; its product is 80 × 128 × R·2^k = 12.8 times larger.
/// </summary>
[MemoryDiagnoser]
public class FdeEncodeBoundBenchmarks
{
    private const int Tokens = 80;
    private const int Dimension = 128;

    // 64,000 FMAs = 4,000 iterations × 16 chains: 16 chains cover 2 FMA pipes × 4 cycles latency twice over.
    private const int PeakIterations = 4_000;

    private FdeEncoder _simHash = null!;
    private FdeEncoder _learned = null!;
    private float[] _document = null!;
    private float[] _query = null!;
    private float[] _output = null!;
    private float[] _learnedOutput = null!;
    private float[] _productRows = null!;
    private float[] _transposed = null!;
    private float[] _product = null!;

    [GlobalSetup]
    public void Setup()
    {
        _simHash = new FdeEncoder(FdeOptions.CreateSimHash(Dimension));
        _document = SyntheticData.UnitTokens(Tokens, Dimension, seed: 1);
        _query = SyntheticData.UnitTokens(32, Dimension, seed: 2);
        _output = new float[_simHash.OutputDimension];

        // The learned default trained on a small fixed-seed sample (the encode cost does not depend on the centroids).
        var sample = new List<ReadOnlyMultiVector>();
        for (int i = 0; i < 64; i++)
        {
            sample.Add(new ReadOnlyMultiVector(SyntheticData.UnitTokens(Tokens, Dimension, seed: 100 + i), Dimension));
        }

        _learned = FdeEncoder.Train(FdeOptions.CreateRecommended(Dimension) with { TrainingSample = 4096, TrainingIterations = 2 }, sample);
        _learnedOutput = new float[_learned.OutputDimension];

        _productRows = SyntheticData.UnitTokens(100, Dimension, seed: 4);
        _transposed = new float[Dimension * Tokens];
        _product = new float[100 * Tokens];
        FdeKernels.Transpose<Lanes512, Vector512<float>>(_document, Tokens, Dimension, _transposed, Tokens);
    }

    /// <summary>The bound: 64,000 independent 16-lane FMAs in registers (no loads), the product's count.</summary>
    [Benchmark]
    public float FmaPeak() => FmaChains(PeakIterations, Vector512.Create(1.0000001f), Vector512.Create(1e-7f));

    /// <summary>The SimHash product alone: 100 × 128 × 80 multiply-adds.</summary>
    [Benchmark]
    public void SimHashProduct() =>
        FdeKernels.MultiplyTransposed<Lanes512, Vector512<float>>(_productRows, 100, Dimension, _transposed, Tokens, _product);

    /// <summary>Document encode, SimHash (20, 5, 16), AMS, fill: the acceptance case.</summary>
    [Benchmark(Baseline = true)]
    public void EncodeDocument80() => _simHash.Encode(_document, _output, document: true, SimdWidth.Vector512);

    /// <summary>Query encode, SimHash (20, 5, 16), 32 tokens.</summary>
    [Benchmark]
    public void EncodeQuery32() => _simHash.Encode(_query, _output, document: false, SimdWidth.Vector512);

    /// <summary>Document encode with the learned default (20, 6, 32), normalized averages, fill.</summary>
    [Benchmark]
    public void EncodeDocument80Learned() => _learned.Encode(_document, _learnedOutput, document: true, SimdWidth.Vector512);

    // Fully optimized from the first call: tier-0 code keeps the chains on the stack (a load and a store per FMA), and an
    // earlier run measured that instead of the peak (about half of it).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaChains(int iterations, Vector512<float> a, Vector512<float> b)
    {
        Vector512<float> s0 = b, s1 = b, s2 = b, s3 = b, s4 = b, s5 = b, s6 = b, s7 = b;
        Vector512<float> s8 = b, s9 = b, s10 = b, s11 = b, s12 = b, s13 = b, s14 = b, s15 = b;
        for (int i = 0; i < iterations; i++)
        {
            s0 = Vector512.FusedMultiplyAdd(s0, a, b);
            s1 = Vector512.FusedMultiplyAdd(s1, a, b);
            s2 = Vector512.FusedMultiplyAdd(s2, a, b);
            s3 = Vector512.FusedMultiplyAdd(s3, a, b);
            s4 = Vector512.FusedMultiplyAdd(s4, a, b);
            s5 = Vector512.FusedMultiplyAdd(s5, a, b);
            s6 = Vector512.FusedMultiplyAdd(s6, a, b);
            s7 = Vector512.FusedMultiplyAdd(s7, a, b);
            s8 = Vector512.FusedMultiplyAdd(s8, a, b);
            s9 = Vector512.FusedMultiplyAdd(s9, a, b);
            s10 = Vector512.FusedMultiplyAdd(s10, a, b);
            s11 = Vector512.FusedMultiplyAdd(s11, a, b);
            s12 = Vector512.FusedMultiplyAdd(s12, a, b);
            s13 = Vector512.FusedMultiplyAdd(s13, a, b);
            s14 = Vector512.FusedMultiplyAdd(s14, a, b);
            s15 = Vector512.FusedMultiplyAdd(s15, a, b);
        }

        Vector512<float> sum = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) + ((s8 + s9) + (s10 + s11)) + ((s12 + s13) + (s14 + s15));
        return Vector512.Sum(sum);
    }
}
