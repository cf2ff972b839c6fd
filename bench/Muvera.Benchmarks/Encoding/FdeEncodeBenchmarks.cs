// Copyright (c) Muvera contributors. Licensed under the MIT License.

using BenchmarkDotNet.Attributes;
using Muvera.Kernels;

namespace Muvera.Benchmarks.Encoding;

/// <summary>
/// Single-item FDE encoding with the paper's configuration (R, k, d_proj) = (20, 5, 16), AMS, fill on, d = 128:
/// an 80-token document and a 32-token query, at every SIMD width (the public API runs the widest accelerated one).
/// </summary>
[MemoryDiagnoser]
public class FdeEncodeBenchmarks
{
    private FdeEncoder _encoder = null!;
    private float[] _document = null!;
    private float[] _query = null!;
    private float[] _output = null!;

    /// <summary>Bits per vector: 512, 256, 128, or 1 for the scalar twin.</summary>
    [Params(512, 256, 128, 1)]
    public int Bits { get; set; }

    private SimdWidth Width => (SimdWidth)Bits;

    [GlobalSetup]
    public void Setup()
    {
        _encoder = new FdeEncoder(FdeOptions.CreateSimHash(128));
        _document = SyntheticData.UnitTokens(80, 128, seed: 1);
        _query = SyntheticData.UnitTokens(32, 128, seed: 2);
        _output = new float[_encoder.OutputDimension];
    }

    /// <summary>Document encode, 80 tokens × 128-d (target ≤ 45 µs on one thread).</summary>
    [Benchmark]
    public void EncodeDocument80() => _encoder.Encode(_document, _output, document: true, Width);

    /// <summary>Query encode, 32 tokens × 128-d (target ≤ 20 µs).</summary>
    [Benchmark]
    public void EncodeQuery32() => _encoder.Encode(_query, _output, document: false, Width);
}
