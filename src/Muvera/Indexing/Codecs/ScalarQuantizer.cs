// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO;
using System.Threading.Tasks;
using Muvera.Kernels;

namespace Muvera.Indexing.Codecs;

/// <summary>
/// Int8 scalar quantization: coordinate j stored as a byte c with <c>x ≈ offset_j + scale_j · c</c>, where offset_j
/// and offset_j + 255 · scale_j are the smallest and largest value of coordinate j in the training sample (values
/// outside are clamped).
/// </summary>
/// <remarks>
/// Scan: with <c>a_j = q_j · scale_j</c>, a row scores <c>Σ q_j·offset_j + Σ a_j·c_j</c>. The scan quantizes a to
/// signed bytes (<c>a ≈ step · b</c>, |b| ≤ 127) and computes <c>Σ b_j·c_j</c> exactly in integers
/// (<see cref="Int8Kernels"/>, VNNI where the CPU has it): a row scores <c>Σ q_j·offset_j + step · Σ b_j·c_j</c>, the
/// inner product with its reconstruction up to the rounding of a to bytes.
/// </remarks>
internal sealed class ScalarQuantizer : FdeCodec
{
    private readonly float[] _offsets;
    private readonly float[] _scales;

    private ScalarQuantizer(FdeStorage storage, int dimension, float[] offsets, float[] scales)
        : base(storage, dimension)
    {
        _offsets = offsets;
        _scales = scales;
    }

    public override int BlockRows => 1;

    public override int BlockBytes => Dimension;

    public override int ParameterLength => 8 * Dimension;

    internal ReadOnlySpan<float> Offsets => _offsets;

    internal ReadOnlySpan<float> Scales => _scales;

    public static ScalarQuantizer TrainQuantizer(FdeStorage storage, int dimension, RowSource row, int sampleCount, ParallelOptions parallelOptions)
    {
        float[] minima = new float[dimension];
        float[] maxima = new float[dimension];
        row(0).CopyTo(minima);
        row(0).CopyTo(maxima);
        for (int i = 1; i < sampleCount; i++)
        {
            if ((i & 1023) == 0)
            {
                parallelOptions.CancellationToken.ThrowIfCancellationRequested();
            }

            ReadOnlySpan<float> vector = row(i);
            System.Numerics.Tensors.TensorPrimitives.Min(minima, vector, minima);
            System.Numerics.Tensors.TensorPrimitives.Max(maxima, vector, maxima);
        }

        float[] scales = new float[dimension];
        for (int j = 0; j < dimension; j++)
        {
            float scale = (maxima[j] - minima[j]) / 255f;
            scales[j] = scale > 0 && float.IsFinite(scale) ? scale : 1f;
        }

        return new ScalarQuantizer(storage, dimension, minima, scales);
    }

    public static ScalarQuantizer ReadQuantizer(FdeStorage storage, int dimension, ReadOnlySpan<byte> parameters)
    {
        if (parameters.Length != 8L * dimension)
        {
            throw new InvalidDataException($"The int8 quantizer's parameters have {parameters.Length} bytes; dimension {dimension} needs {8L * dimension}.");
        }

        float[] offsets = new float[dimension];
        float[] scales = new float[dimension];
        for (int j = 0; j < dimension; j++)
        {
            offsets[j] = BinaryPrimitives.ReadSingleLittleEndian(parameters[(4 * j)..]);
            scales[j] = BinaryPrimitives.ReadSingleLittleEndian(parameters[((4 * dimension) + (4 * j))..]);
            if (!float.IsFinite(offsets[j]) || !(scales[j] > 0) || !float.IsFinite(scales[j]) || !float.IsFinite(offsets[j] + (255f * scales[j])))
            {
                throw new InvalidDataException($"The int8 quantizer's coordinate {j} has offset {offsets[j]} and scale {scales[j]}; both must be finite and the scale positive.");
            }
        }

        return new ScalarQuantizer(storage, dimension, offsets, scales);
    }

    public override void WriteParameters(Span<byte> destination)
    {
        for (int j = 0; j < Dimension; j++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * j)..], _offsets[j]);
            BinaryPrimitives.WriteSingleLittleEndian(destination[((4 * Dimension) + (4 * j))..], _scales[j]);
        }
    }

    public override void Encode(ReadOnlySpan<float> vectors, Span<byte> blocks, int firstRow)
    {
        int rows = vectors.Length / Dimension;
        for (int i = 0; i < rows; i++)
        {
            ReadOnlySpan<float> vector = vectors.Slice(i * Dimension, Dimension);
            Span<byte> codes = blocks.Slice((firstRow + i) * Dimension, Dimension);
            for (int j = 0; j < Dimension; j++)
            {
                codes[j] = (byte)Math.Clamp(MathF.Round((vector[j] - _offsets[j]) / _scales[j]), 0f, 255f);
            }
        }
    }

    public override void Decode(ReadOnlySpan<byte> blocks, int row, Span<float> destination)
    {
        ReadOnlySpan<byte> codes = blocks.Slice(row * Dimension, Dimension);
        for (int j = 0; j < Dimension; j++)
        {
            destination[j] = MathF.FusedMultiplyAdd(_scales[j], codes[j], _offsets[j]);
        }
    }

    public override FdeCodecQuery Prepare(ReadOnlySpan<float> query)
    {
        float[] weights = ArrayPool<float>.Shared.Rent(Dimension);
        try
        {
            float offset = 0;
            float largest = 0;
            for (int j = 0; j < Dimension; j++)
            {
                offset = MathF.FusedMultiplyAdd(query[j], _offsets[j], offset);
                weights[j] = query[j] * _scales[j];
                largest = Math.Max(largest, Math.Abs(weights[j]));
            }

            float step = largest > 0 ? largest / 127f : 1f;
            sbyte[] quantized = ArrayPool<sbyte>.Shared.Rent(Dimension);
            float inverse = 1f / step;
            for (int j = 0; j < Dimension; j++)
            {
                quantized[j] = (sbyte)Math.Clamp(MathF.Round(weights[j] * inverse), -127f, 127f);
            }

            return new Query(Dimension, quantized, offset, step);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(weights);
        }
    }

    private sealed class Query(int dimension, sbyte[] quantized, float offset, float step) : FdeCodecQuery(offset, step)
    {
        public override void Dispose() => ArrayPool<sbyte>.Shared.Return(quantized);

        public override void Scan(ReadOnlySpan<byte> blocks, int rows, int firstId, TopKHeap heap, MipsFilter? filter)
        {
            Int8DotPath path = Int8Kernels.Preferred;
            for (int r = 0; r < rows; r++)
            {
                if (filter is not null && !filter.Allows(firstId + r))
                {
                    continue;
                }

                long dot = Int8Kernels.Dot(path, blocks.Slice(r * dimension, dimension), quantized.AsSpan(0, dimension));
                heap.Push(firstId + r, Offset + (Step * dot));
            }
        }
    }
}
