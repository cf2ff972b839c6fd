// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;

namespace Muvera.Benchmarks.Encoding;

/// <summary>
/// Batch document encoding (1,024 documents of 80 tokens × 128-d, (20, 5, 16) AMS with fill) on one thread and on
/// all cores; the ratio of the two is the parallel speed-up (target ≥ 1.8× on 2 cores).
/// </summary>
[MemoryDiagnoser]
public class FdeBatchBenchmarks
{
    private const int Documents = 1024;
    private const int Tokens = 80;

    private FdeEncoder _encoder = null!;
    private float[] _tokens = null!;
    private int[] _counts = null!;
    private float[] _output = null!;

    [Params(1, -1)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _encoder = new FdeEncoder(FdeOptions.CreateSimHash(128));
        _tokens = SyntheticData.UnitTokens(Documents * Tokens, 128, seed: 3);
        _counts = new int[Documents];
        Array.Fill(_counts, Tokens);
        _output = new float[Documents * _encoder.OutputDimension];
    }

    /// <summary>Encodes the batch.</summary>
    [Benchmark(OperationsPerInvoke = Documents)]
    public void EncodeDocuments() =>
        _encoder.EncodeDocuments(_tokens, _counts, _output, new ParallelOptions { MaxDegreeOfParallelism = Threads });
}
