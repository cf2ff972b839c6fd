// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Prng;
using Muvera.Training;

namespace Muvera.Scoring.Codecs;

/// <summary>
/// ColBERTv2-style residual token storage: each token is the 16-bit id of its nearest (L2) of K centroids learned by
/// k-means (<see cref="KMeans"/>, centroids rounded to half precision) plus a b-bit code per coordinate for its
/// residual r = x − c: code_j = the number of coordinate j's 2^b − 1 bucket cut-offs below r_j, decoded to coordinate
/// j's bucket value. Cut-offs and bucket values are the residuals' per-coordinate quantiles (cut-offs at i/2^b, values
/// at (i + ½)/2^b, linear interpolation) over the training sample.
/// </summary>
/// <remarks>
/// <para>Record: the centroid id (u16, little-endian), then ⌈d·b/8⌉ code bytes, coordinate j in bits
/// [(j mod 8/b)·b, …) of byte ⌊j·b/8⌋.</para>
/// <para>Decoding: <c>x_j = centroid_j + value_j[code_j]</c>, one float addition: a per-byte lookup table expands each
/// code byte to its 8/b bucket values (<see cref="TokenCodecKernels.ExpandResidual"/>), then the centroid row is added
/// (<see cref="TokenCodecKernels.AddInPlace(SimdWidth, ReadOnlySpan{float}, Span{float})"/>).</para>
/// <para>Encoding finds the nearest centroid as the largest <c>⟨x, c⟩ − ‖c‖²/2</c>
/// (<see cref="TokenCodecKernels.NearestCentroids"/>), the same at every SIMD width.</para>
/// </remarks>
internal sealed class ResidualTokenCodec : TokenCodec
{
    private const int EncodeChunk = 256;

    private readonly int _centroidCount;
    private readonly int _bits;
    private readonly int _perByte;
    private readonly int _codeBytes;
    private readonly int _levels;
    private readonly float[] _centroids;
    private readonly float[] _cutoffs;
    private readonly float[] _values;
    private readonly float[] _centroidsT;
    private readonly int _columns;
    private readonly float[] _bias;
    private readonly float[] _lut;

    private ResidualTokenCodec(TokenStorage storage, int dimension, float[] centroids, float[] cutoffs, float[] values)
        : base(storage, dimension)
    {
        int d = dimension;
        _bits = storage.Bits;
        _perByte = 8 / _bits;
        _codeBytes = RecordBytes - 2;
        _levels = 1 << _bits;
        _centroids = centroids;
        _cutoffs = cutoffs;
        _values = values;
        _centroidCount = centroids.Length / d;
        _columns = CentroidKernels.PadColumns(_centroidCount);
        _centroidsT = new float[d * _columns];
        _bias = new float[_columns];
        _bias.AsSpan(_centroidCount).Fill(float.NegativeInfinity);
        for (int c = 0; c < _centroidCount; c++)
        {
            double norm = 0;
            for (int j = 0; j < d; j++)
            {
                float value = centroids[(c * d) + j];
                _centroidsT[(j * _columns) + c] = value;
                norm += (double)value * value;
            }

            _bias[c] = (float)(-0.5 * norm);
        }

        _lut = new float[_codeBytes * 256 * _perByte];
        int mask = _levels - 1;
        for (int p = 0; p < _codeBytes; p++)
        {
            for (int b = 0; b < 256; b++)
            {
                for (int i = 0; i < _perByte; i++)
                {
                    int j = (p * _perByte) + i;
                    _lut[(((p * 256) + b) * _perByte) + i] = j < d ? values[(j * _levels) + ((b >> (i * _bits)) & mask)] : 0f;
                }
            }
        }
    }

    public override int ParameterLength => ParameterLengthFor(_centroidCount, Dimension, _bits);

    /// <summary>K.</summary>
    internal int CentroidCount => _centroidCount;

    /// <summary>The centroids, K × d (half-precision values).</summary>
    internal ReadOnlySpan<float> Centroids => _centroids;

    /// <summary>d × (2^b − 1) cut-offs.</summary>
    internal ReadOnlySpan<float> Cutoffs => _cutoffs;

    /// <summary>d × 2^b bucket values.</summary>
    internal ReadOnlySpan<float> Values => _values;

    internal static int ParameterLengthFor(int centroids, int dimension, int bits) =>
        checked(8 + (2 * centroids * dimension) + (4 * dimension * ((2 << bits) - 1)));

    public static ResidualTokenCodec TrainCodec(TokenStorage storage, int dimension, float[] sample, int centroidCount, ParallelOptions parallelOptions)
    {
        int d = dimension;
        int n = sample.Length / d;
        int k = Math.Min(centroidCount, n);
        var settings = new KMeansSettings(storage.Iterations, SplitMix64.Mix((ulong)(uint)storage.Seed, 0x52455344UL), KMeansMetric.L2,
            k <= 64 ? KMeansInitialization.PlusPlus : KMeansInitialization.Random);
        float[] centroids = KMeans.Train(sample, d, k, settings, parallelOptions);
        for (int i = 0; i < centroids.Length; i++)
        {
            centroids[i] = (float)(Half)centroids[i];
        }

        // Residuals of the sample against the rounded centroids, coordinate-major for the per-coordinate quantiles.
        int levels = 1 << storage.Bits;
        float[] cutoffs = new float[d * (levels - 1)];
        float[] values = new float[d * levels];
        var partial = new ResidualTokenCodec(storage, d, centroids, cutoffs, values);
        int[] ids = new int[n];
        Parallel.For(0, (n + EncodeChunk - 1) / EncodeChunk, parallelOptions, chunk =>
        {
            int start = chunk * EncodeChunk;
            int count = Math.Min(EncodeChunk, n - start);
            partial.Nearest(sample.AsSpan(start * d, count * d), ids.AsSpan(start, count));
        });
        float[] column = new float[n];
        for (int j = 0; j < d; j++)
        {
            parallelOptions.CancellationToken.ThrowIfCancellationRequested();
            for (int i = 0; i < n; i++)
            {
                column[i] = sample[(i * d) + j] - centroids[(ids[i] * d) + j];
            }

            Array.Sort(column);
            for (int i = 1; i < levels; i++)
            {
                cutoffs[(j * (levels - 1)) + i - 1] = Quantile(column, (double)i / levels);
            }

            for (int i = 0; i < levels; i++)
            {
                values[(j * levels) + i] = Quantile(column, (i + 0.5) / levels);
            }
        }

        string? problem = Check(centroids, d, cutoffs, values, levels);
        if (problem is not null)
        {
            throw new ArgumentException($"The residual token codec cannot represent the training sample: {problem}.", nameof(sample));
        }

        return new ResidualTokenCodec(storage, d, centroids, cutoffs, values);
    }

    public static ResidualTokenCodec ReadCodec(TokenStorage storage, int dimension, ReadOnlySpan<byte> parameters)
    {
        if (parameters.Length < 8)
        {
            throw new InvalidDataException($"The residual token codec's parameters have {parameters.Length} bytes, fewer than their 8-byte header.");
        }

        uint k = BinaryPrimitives.ReadUInt32LittleEndian(parameters);
        if (k is < 1 or > TokenStorage.MaxCentroids || BinaryPrimitives.ReadUInt32LittleEndian(parameters[4..]) != 0)
        {
            throw new InvalidDataException($"The residual token codec has {k} centroids (expected 1 to {TokenStorage.MaxCentroids}) or a non-zero reserved field.");
        }

        int bits = storage.Bits;
        long expected = ParameterLengthFor((int)k, dimension, bits);
        if (parameters.Length != expected)
        {
            throw new InvalidDataException($"The residual token codec's parameters have {parameters.Length} bytes; {k} centroids of dimension {dimension} with {bits}-bit codes need {expected}.");
        }

        int d = dimension;
        int levels = 1 << bits;
        float[] centroids = new float[(int)k * d];
        ReadOnlySpan<byte> halves = parameters.Slice(8, 2 * centroids.Length);
        for (int i = 0; i < centroids.Length; i++)
        {
            centroids[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(halves[(2 * i)..]);
        }

        ReadOnlySpan<byte> floats = parameters[(8 + (2 * centroids.Length))..];
        float[] cutoffs = new float[d * (levels - 1)];
        float[] values = new float[d * levels];
        for (int i = 0; i < cutoffs.Length; i++)
        {
            cutoffs[i] = BinaryPrimitives.ReadSingleLittleEndian(floats[(4 * i)..]);
        }

        floats = floats[(4 * cutoffs.Length)..];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(floats[(4 * i)..]);
        }

        string? problem = Check(centroids, d, cutoffs, values, levels);
        if (problem is not null)
        {
            throw new InvalidDataException($"The residual token codec's parameters are invalid: {problem}.");
        }

        return new ResidualTokenCodec(storage, d, centroids, cutoffs, values);
    }

    // Finite, cut-offs ascending per coordinate, and every decodable value c_j + value_j below the token value limit:
    // |fl(c + v)| ≤ fl(|c| + |v|) since rounding is monotonic, so bounding the latter suffices.
    private static string? Check(float[] centroids, int d, float[] cutoffs, float[] values, int levels)
    {
        int k = centroids.Length / d;
        float[] largest = new float[d];
        for (int i = 0; i < centroids.Length; i++)
        {
            float value = centroids[i];
            if (!float.IsFinite(value))
            {
                return $"centroid {i / d} holds a non-finite value {value} at coordinate {i % d}";
            }

            largest[i % d] = Math.Max(largest[i % d], Math.Abs(value));
        }

        for (int j = 0; j < d; j++)
        {
            for (int i = 0; i < levels - 1; i++)
            {
                float cutoff = cutoffs[(j * (levels - 1)) + i];
                if (!float.IsFinite(cutoff) || (i > 0 && cutoff < cutoffs[(j * (levels - 1)) + i - 1]))
                {
                    return $"coordinate {j}'s bucket cut-off {i} is {cutoff} (cut-offs must be finite and ascending)";
                }
            }

            for (int i = 0; i < levels; i++)
            {
                float value = values[(j * levels) + i];
                if (!float.IsFinite(value) || !(largest[j] + Math.Abs(value) < FdeEncoder.TokenValueLimit))
                {
                    return $"coordinate {j}'s bucket value {i} is {value} (values must be finite, and centroid plus value below {FdeEncoder.TokenValueLimit} in magnitude; {k} centroids)";
                }
            }
        }

        return null;
    }

    private static float Quantile(float[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int low = (int)Math.Floor(position);
        int high = Math.Min(low + 1, sorted.Length - 1);
        double fraction = position - low;
        return (float)(sorted[low] + (fraction * ((double)sorted[high] - sorted[low])));
    }

    public override void WriteParameters(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)_centroidCount);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], 0);
        Span<byte> halves = destination[8..];
        for (int i = 0; i < _centroids.Length; i++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(halves[(2 * i)..], (Half)_centroids[i]);
        }

        Span<byte> floats = destination[(8 + (2 * _centroids.Length))..];
        for (int i = 0; i < _cutoffs.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(floats[(4 * i)..], _cutoffs[i]);
        }

        floats = floats[(4 * _cutoffs.Length)..];
        for (int i = 0; i < _values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(floats[(4 * i)..], _values[i]);
        }
    }

    /// <summary>The nearest centroid of each token (chunks of the SIMD kernel).</summary>
    internal void Nearest(ReadOnlySpan<float> tokens, Span<int> ids) =>
        TokenCodecKernels.NearestCentroids(SimdDispatch.Preferred, tokens, Dimension, _centroidsT, _columns, _bias, ids);

    public override void Encode(ReadOnlySpan<float> tokens, Span<byte> records)
    {
        int d = Dimension;
        int n = tokens.Length / d;
        Span<int> ids = stackalloc int[EncodeChunk];
        int levels = _levels;
        for (int start = 0; start < n; start += EncodeChunk)
        {
            int count = Math.Min(EncodeChunk, n - start);
            Nearest(tokens.Slice(start * d, count * d), ids[..count]);
            for (int t = 0; t < count; t++)
            {
                int id = ids[t];
                ReadOnlySpan<float> row = tokens.Slice((start + t) * d, d);
                ReadOnlySpan<float> centroid = _centroids.AsSpan(id * d, d);
                Span<byte> record = records.Slice((start + t) * RecordBytes, RecordBytes);
                BinaryPrimitives.WriteUInt16LittleEndian(record, (ushort)id);
                Span<byte> codes = record[2..];
                codes.Clear();
                for (int j = 0; j < d; j++)
                {
                    float residual = row[j] - centroid[j];
                    ReadOnlySpan<float> cuts = _cutoffs.AsSpan(j * (levels - 1), levels - 1);
                    int code = 0;
                    while (code < cuts.Length && cuts[code] < residual)
                    {
                        code++;
                    }

                    codes[j / _perByte] |= (byte)(code << ((j % _perByte) * _bits));
                }
            }
        }
    }

    public override void Decode(SimdWidth width, ReadOnlySpan<byte> records, Span<float> tokens)
    {
        int d = Dimension;
        int n = records.Length / RecordBytes;
        for (int t = 0; t < n; t++)
        {
            ReadOnlySpan<byte> record = records.Slice(t * RecordBytes, RecordBytes);
            int id = BinaryPrimitives.ReadUInt16LittleEndian(record);
            Span<float> row = tokens.Slice(t * d, d);
            TokenCodecKernels.ExpandResidual(record[2..], _perByte, d, _lut, row);
            TokenCodecKernels.AddInPlace(width, _centroids.AsSpan(id * d, d), row);
        }
    }

    public override void ValidateRecords(ReadOnlySpan<byte> records)
    {
        int n = records.Length / RecordBytes;
        for (int t = 0; t < n; t++)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(records[(t * RecordBytes)..]);
            if (id >= _centroidCount)
            {
                throw new InvalidDataException($"A residual token record names centroid {id}, but the codebook has {_centroidCount}.");
            }
        }
    }
}
