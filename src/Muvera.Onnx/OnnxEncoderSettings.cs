// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Onnx;

/// <summary>How an <see cref="OnnxTokenEncoder"/> runs the model: threads and batch size. Unlike
/// <see cref="ColbertConventions"/> these settings do not change what the encoder computes, only how fast (results differ
/// at most by float rounding between batch shapes, about 1e-6 per coordinate).</summary>
/// <remarks>Immutable, thread-safe value record; ranges are checked in <c>init</c>.</remarks>
public sealed record OnnxEncoderSettings
{
    /// <summary>The largest accepted <see cref="BatchSize"/>.</summary>
    public const int MaxBatchSize = 4096;

    private readonly int _intraOpThreads;
    private readonly int _batchSize = 32;

    /// <summary>Threads ONNX Runtime uses inside one model run; 0 (default) means one per logical core
    /// (<see cref="Environment.ProcessorCount"/>).</summary>
    public int IntraOpThreads
    {
        get => _intraOpThreads;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(IntraOpThreads));
            _intraOpThreads = value;
        }
    }

    /// <summary>Texts per model run. Texts are sorted by token count (within windows of consecutive texts) before they
    /// are cut into batches, so a batch pads little. Default 32; between 1 and <see cref="MaxBatchSize"/>.</summary>
    public int BatchSize
    {
        get => _batchSize;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(BatchSize));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxBatchSize, nameof(BatchSize));
            _batchSize = value;
        }
    }

    /// <summary>Whether batches are formed from texts sorted by length (default) or in input order; input order exists
    /// only to measure what sorting saves (bench/Muvera.Benchmarks/Text).</summary>
    internal bool SortByLength { get; init; } = true;

    /// <summary>The intra-op thread count to give ONNX Runtime.</summary>
    internal int EffectiveIntraOpThreads => IntraOpThreads == 0 ? Environment.ProcessorCount : IntraOpThreads;
}
