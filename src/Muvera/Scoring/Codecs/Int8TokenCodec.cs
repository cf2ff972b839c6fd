// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.Numerics.Tensors;
using Muvera.Kernels;

namespace Muvera.Scoring.Codecs;

/// <summary>
/// Int8 token storage: coordinate j of every token stored as a byte c with <c>x ≈ offset_j + scale_j · c</c>, where
/// offset_j and offset_j + 255 · scale_j are the smallest and largest value of coordinate j in the training sample
/// (values outside are clamped). Decoding is <c>fma(scale_j, c, offset_j)</c> (<see cref="TokenCodecKernels.DecodeInt8"/>).
/// </summary>
/// <remarks>Per-coordinate rather than per-token scales: the all-MiniLM-L6-v2 tokens of the NFCorpus evaluation have a
/// few coordinates with a much wider range than the rest, which one scale per token would have to cover (measured in
/// <c>bench/results/</c>).</remarks>
internal sealed class Int8TokenCodec : TokenCodec
{
    private readonly float[] _offsets;
    private readonly float[] _scales;

    private Int8TokenCodec(TokenStorage storage, int dimension, float[] offsets, float[] scales)
        : base(storage, dimension)
    {
        _offsets = offsets;
        _scales = scales;
    }

    public override int ParameterLength => 8 * Dimension;

    internal ReadOnlySpan<float> Offsets => _offsets;

    internal ReadOnlySpan<float> Scales => _scales;

    public static Int8TokenCodec TrainCodec(TokenStorage storage, int dimension, ReadOnlySpan<float> sample)
    {
        float[] minima = sample[..dimension].ToArray();
        float[] maxima = sample[..dimension].ToArray();
        for (int i = dimension; i < sample.Length; i += dimension)
        {
            ReadOnlySpan<float> row = sample.Slice(i, dimension);
            TensorPrimitives.Min(minima, row, minima);
            TensorPrimitives.Max(maxima, row, maxima);
        }

        float[] scales = new float[dimension];
        for (int j = 0; j < dimension; j++)
        {
            float scale = (maxima[j] - minima[j]) / 255f;
            scales[j] = scale > 0 && float.IsFinite(scale) ? scale : 1f;
        }

        string? problem = Check(minima, scales);
        if (problem is not null)
        {
            throw new ArgumentException($"The int8 token codec cannot represent the training sample: {problem}.", nameof(sample));
        }

        return new Int8TokenCodec(storage, dimension, minima, scales);
    }

    public static Int8TokenCodec ReadCodec(TokenStorage storage, int dimension, ReadOnlySpan<byte> parameters)
    {
        if (parameters.Length != 8L * dimension)
        {
            throw new InvalidDataException($"The int8 token codec's parameters have {parameters.Length} bytes; dimension {dimension} needs {8L * dimension}.");
        }

        float[] offsets = new float[dimension];
        float[] scales = new float[dimension];
        for (int j = 0; j < dimension; j++)
        {
            offsets[j] = BinaryPrimitives.ReadSingleLittleEndian(parameters[(4 * j)..]);
            scales[j] = BinaryPrimitives.ReadSingleLittleEndian(parameters[((4 * dimension) + (4 * j))..]);
        }

        string? problem = Check(offsets, scales);
        if (problem is not null)
        {
            throw new InvalidDataException($"The int8 token codec's parameters are invalid: {problem}.");
        }

        return new Int8TokenCodec(storage, dimension, offsets, scales);
    }

    // Every decoded value fma(scale, c, offset), c in [0, 255], lies between offset and fma(scale, 255, offset), so
    // bounding those two bounds every value the codec can produce.
    private static string? Check(float[] offsets, float[] scales)
    {
        for (int j = 0; j < offsets.Length; j++)
        {
            float top = MathF.FusedMultiplyAdd(scales[j], 255f, offsets[j]);
            if (!float.IsFinite(offsets[j]) || !(scales[j] > 0) || !float.IsFinite(scales[j])
                || !(Math.Abs(offsets[j]) < FdeEncoder.TokenValueLimit) || !(Math.Abs(top) < FdeEncoder.TokenValueLimit))
            {
                return $"coordinate {j} has offset {offsets[j]} and scale {scales[j]} (the scale must be positive and both ends of the range finite and below {FdeEncoder.TokenValueLimit} in magnitude)";
            }
        }

        return null;
    }

    public override void WriteParameters(Span<byte> destination)
    {
        for (int j = 0; j < Dimension; j++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * j)..], _offsets[j]);
            BinaryPrimitives.WriteSingleLittleEndian(destination[((4 * Dimension) + (4 * j))..], _scales[j]);
        }
    }

    public override void Encode(ReadOnlySpan<float> tokens, Span<byte> records)
    {
        int d = Dimension;
        int n = tokens.Length / d;
        for (int t = 0; t < n; t++)
        {
            ReadOnlySpan<float> row = tokens.Slice(t * d, d);
            Span<byte> codes = records.Slice(t * d, d);
            for (int j = 0; j < d; j++)
            {
                codes[j] = (byte)Math.Clamp(MathF.Round((row[j] - _offsets[j]) / _scales[j]), 0f, 255f);
            }
        }
    }

    public override void Decode(SimdWidth width, ReadOnlySpan<byte> records, Span<float> tokens) =>
        TokenCodecKernels.DecodeInt8(width, records, Dimension, _scales, _offsets, tokens);

    public override void ValidateRecords(ReadOnlySpan<byte> records)
    {
        // Every byte is a valid code.
    }
}
