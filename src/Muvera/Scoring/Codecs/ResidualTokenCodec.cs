// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Prng;
using Muvera.Training;

namespace Muvera.Scoring.Codecs;

/// <summary>
/// ColBERTv2-style residual token storage: each token is the 16-bit id of its nearest (L2) of K centroids learned by
/// k-means (<see cref="KMeans"/>, centroids rounded to half precision), a b-bit code per coordinate for its residual
/// r = x − c, and a half-precision norm scale: <c>x̂_j = (c_j + value_j[code_j]) · s</c>, with s = ‖x‖ / ‖c + value‖ so
/// that every decoded token keeps its original norm (ColBERTv2 normalises after decoding; for a normalising store this is
/// exactly that).
/// </summary>
/// <remarks>
/// <para>Training (deterministic): k-means runs on 15/16 of the sample; the residuals of the other 1/16 (every 16th
/// sampled token, held out as ColBERTv2 holds out 5%) give the per-coordinate bucket values, because the residuals of
/// the points k-means fitted are smaller than those of the tokens it will encode (on NFCorpus, fitting them in-sample
/// lost 0.0026 nDCG@10). Samples under 16,384 tokens use every token for both. Per coordinate, the 2^b − 1 cut-offs are
/// the residuals' quantiles i/2^b and the 2^b bucket values the quantiles (i + ½)/2^b (linear interpolation), as in
/// ColBERTv2. Measured and not kept: Lloyd–Max values with midpoint cut-offs (26% lower squared error, no better nDCG on
/// NFCorpus, worse on the ColBERTv2 vectors of the tests).</para>
/// <para>Record: the centroid id (u16, little-endian), the scale (f16, little-endian), then ⌈d·b/8⌉ code bytes,
/// coordinate j in bits [(j mod 8/b)·b, …) of byte ⌊j·b/8⌋; code_j = the number of coordinate j's cut-offs below r_j.</para>
/// <para>Decoding: two float operations per coordinate, an addition then a multiplication. 1- and 2-bit codes pick their
/// values by SIMD blends, 16 coordinates at a time (<see cref="TokenCodecKernels.DecodeResidual"/>); 4-bit codes go
/// through a per-byte lookup table (<see cref="TokenCodecKernels.ExpandResidual"/>), then
/// <see cref="TokenCodecKernels.AddScaleInPlace"/>. Every width gives the same floats.</para>
/// <para>Encoding finds the nearest centroid as the largest <c>⟨x, c⟩ − ‖c‖²/2</c>
/// (<see cref="TokenCodecKernels.NearestCentroids"/>, cache-blocked), the same at every SIMD width.</para>
/// </remarks>
internal sealed class ResidualTokenCodec : TokenCodec
{
    private const int EncodeChunk = 256;

    /// <summary>Bytes before a record's codes: the centroid id and the scale.</summary>
    internal const int RecordHeaderBytes = 4;

    // Samples of at least this many tokens hold 1/HeldOutStride of them out of k-means for the bucket statistics.
    private const int HeldOutStride = 16;
    private const int MinSampleForHeldOut = 16_384;

    private readonly int _centroidCount;
    private readonly int _bits;
    private readonly int _perByte;
    private readonly int _codeBytes;
    private readonly int _levels;
    private readonly float[] _centroids;
    private readonly float[] _cutoffs;
    private readonly float[] _values;
    private readonly int _columns;
    private CentroidPanels? _nearest;
    private readonly float[] _lut;
    private readonly float[] _levelValues;
    private readonly float _maxScale;

    private ResidualTokenCodec(TokenStorage storage, int dimension, float[] centroids, float[] cutoffs, float[] values)
        : base(storage, dimension)
    {
        int d = dimension;
        _bits = storage.Bits;
        _perByte = 8 / _bits;
        _codeBytes = RecordBytes - RecordHeaderBytes;
        _levels = 1 << _bits;
        _centroids = centroids;
        _cutoffs = cutoffs;
        _values = values;
        _centroidCount = centroids.Length / d;
        _columns = TokenCodecKernels.PadPanelColumns(_centroidCount);

        _levelValues = new float[_levels * d];
        for (int j = 0; j < d; j++)
        {
            for (int level = 0; level < _levels; level++)
            {
                _levelValues[(level * d) + j] = values[(j * _levels) + level];
            }
        }

        _maxScale = MaxScale(centroids, d, values, _levels);
        _lut = _bits == 4 ? new float[_codeBytes * 256 * _perByte] : [];
        int mask = _levels - 1;
        for (int p = 0; p < _lut.Length / (256 * _perByte); p++)
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

    /// <summary>The largest scale a record may hold: every value it decodes stays below the token value limit.</summary>
    internal float ScaleLimit => _maxScale;

    internal static int ParameterLengthFor(int centroids, int dimension, int bits) =>
        checked(8 + (2 * centroids * dimension) + (4 * dimension * ((2 << bits) - 1)));

    public static ResidualTokenCodec TrainCodec(TokenStorage storage, int dimension, float[] sample, int centroidCount, ParallelOptions parallelOptions)
    {
        int d = dimension;
        int n = sample.Length / d;

        // Every HeldOutStride-th token is held out of k-means (the sample is in token order, so this spreads over the
        // documents); small samples use every token for both.
        float[] fitted = sample;
        float[] heldOut = sample;
        if (n >= MinSampleForHeldOut)
        {
            int held = n / HeldOutStride;
            heldOut = new float[held * d];
            fitted = new float[(n - held) * d];
            int f = 0;
            for (int i = 0; i < n; i++)
            {
                bool hold = i % HeldOutStride == HeldOutStride - 1 && i / HeldOutStride < held;
                sample.AsSpan(i * d, d).CopyTo(hold ? heldOut.AsSpan((i / HeldOutStride) * d, d) : fitted.AsSpan(f++ * d, d));
            }
        }

        int k = Math.Min(centroidCount, fitted.Length / d);
        var settings = new KMeansSettings(storage.Iterations, SplitMix64.Mix((ulong)(uint)storage.Seed, 0x52455344UL), KMeansMetric.L2,
            k <= 64 ? KMeansInitialization.PlusPlus : KMeansInitialization.Random, Expanded: true);
        float[] centroids = KMeans.Train(fitted, d, k, settings, parallelOptions);
        for (int i = 0; i < centroids.Length; i++)
        {
            centroids[i] = (float)(Half)centroids[i];
        }

        // Residuals of the held-out tokens against the rounded centroids, one coordinate at a time.
        int m = heldOut.Length / d;
        int levels = 1 << storage.Bits;
        float[] cutoffs = new float[d * (levels - 1)];
        float[] values = new float[d * levels];
        var partial = new ResidualTokenCodec(storage, d, centroids, cutoffs, values);
        int[] ids = new int[m];
        Parallel.For(0, (m + EncodeChunk - 1) / EncodeChunk, parallelOptions, chunk =>
        {
            int start = chunk * EncodeChunk;
            int count = Math.Min(EncodeChunk, m - start);
            partial.Nearest(heldOut.AsSpan(start * d, count * d), ids.AsSpan(start, count), new float[count]);
        });
        float[] column = new float[m];
        for (int j = 0; j < d; j++)
        {
            parallelOptions.CancellationToken.ThrowIfCancellationRequested();
            for (int i = 0; i < m; i++)
            {
                column[i] = heldOut[(i * d) + j] - centroids[(ids[i] * d) + j];
            }

            Array.Sort(column);
            FitBuckets(column, values.AsSpan(j * levels, levels), cutoffs.AsSpan(j * (levels - 1), levels - 1));
        }

        string? problem = Check(centroids, d, cutoffs, values, levels);
        if (problem is not null)
        {
            throw new ArgumentException($"The residual token codec cannot represent the training sample: {problem}.", nameof(sample));
        }

        return new ResidualTokenCodec(storage, d, centroids, cutoffs, values);
    }

    // One coordinate's cut-offs and bucket values from its sorted residuals: the quantiles i/L and (i + ½)/L.
    private static void FitBuckets(float[] sorted, Span<float> values, Span<float> cutoffs)
    {
        int levels = values.Length;
        for (int i = 1; i < levels; i++)
        {
            cutoffs[i - 1] = Quantile(sorted, (double)i / levels);
        }

        for (int i = 0; i < levels; i++)
        {
            values[i] = Quantile(sorted, (i + 0.5) / levels);
        }
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
        // Little-endian halves (the store checks the platform's byte order), widened exactly with SIMD.
        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(parameters.Slice(8, 2 * centroids.Length)), centroids);

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
        float[] largest = LargestMagnitudes(centroids, d);
        for (int j = 0; j < d; j++)
        {
            if (!float.IsFinite(largest[j]))
            {
                int i = FirstNonFinite(centroids, d, j);
                return $"centroid {i / d} holds a non-finite value {centroids[i]} at coordinate {j}";
            }
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

    /// <summary>The nearest centroid of each token (a few hundred tokens per call keep the kernel cache-blocked).</summary>
    internal void Nearest(ReadOnlySpan<float> tokens, Span<int> ids, Span<float> best)
    {
        CentroidPanels nearest = LazyInitializer.EnsureInitialized(ref _nearest, () => new CentroidPanels(_centroids, Dimension, _columns));
        TokenCodecKernels.NearestCentroids(SimdDispatch.Preferred, tokens, Dimension, nearest.Panels, _columns, nearest.Bias, ids, best);
    }

    public override void Encode(ReadOnlySpan<float> tokens, Span<byte> records)
    {
        int d = Dimension;
        int n = tokens.Length / d;
        Span<int> ids = stackalloc int[EncodeChunk];
        Span<float> best = stackalloc float[EncodeChunk];
        int levels = _levels;
        for (int start = 0; start < n; start += EncodeChunk)
        {
            int count = Math.Min(EncodeChunk, n - start);
            Nearest(tokens.Slice(start * d, count * d), ids[..count], best[..count]);
            for (int t = 0; t < count; t++)
            {
                int id = ids[t];
                ReadOnlySpan<float> row = tokens.Slice((start + t) * d, d);
                ReadOnlySpan<float> centroid = _centroids.AsSpan(id * d, d);
                Span<byte> record = records.Slice((start + t) * RecordBytes, RecordBytes);
                BinaryPrimitives.WriteUInt16LittleEndian(record, (ushort)id);
                Span<byte> codes = record[RecordHeaderBytes..];
                codes.Clear();
                double norm = 0, decodedNorm = 0;
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
                    float decoded = centroid[j] + _values[(j * levels) + code];
                    norm += (double)row[j] * row[j];
                    decodedNorm += (double)decoded * decoded;
                }

                BinaryPrimitives.WriteHalfLittleEndian(record[2..], ScaleFor(norm, decodedNorm));
            }
        }
    }

    // ‖x‖ / ‖c + value‖ in half precision, at most ScaleLimit (0 for a zero token; 1 when the unscaled decoding is zero).
    private Half ScaleFor(double norm, double decodedNorm)
    {
        if (norm == 0)
        {
            return Half.Zero;
        }

        if (decodedNorm == 0)
        {
            return Half.One;
        }

        var scale = (Half)Math.Sqrt(norm / decodedNorm);
        return (float)scale <= _maxScale ? scale : (Half)_maxScale;
    }

    public override void Decode(SimdWidth width, ReadOnlySpan<byte> records, Span<float> tokens)
    {
        int d = Dimension;
        if (_bits != 4)
        {
            TokenCodecKernels.DecodeResidual(width, records, RecordBytes, _bits, d, _centroids, _levelValues, tokens);
            return;
        }

        // 4-bit codes: 16 levels are too many to blend; a per-byte table gives each byte's two values.
        int n = records.Length / RecordBytes;
        for (int t = 0; t < n; t++)
        {
            ReadOnlySpan<byte> record = records.Slice(t * RecordBytes, RecordBytes);
            int id = BinaryPrimitives.ReadUInt16LittleEndian(record);
            float scale = (float)BinaryPrimitives.ReadHalfLittleEndian(record[2..]);
            Span<float> row = tokens.Slice(t * d, d);
            TokenCodecKernels.ExpandResidual(record[RecordHeaderBytes..], _perByte, d, _lut, row);
            TokenCodecKernels.AddScaleInPlace(width, _centroids.AsSpan(id * d, d), scale, row);
        }
    }

    public override void ValidateRecords(ReadOnlySpan<byte> records)
    {
        int n = records.Length / RecordBytes;
        for (int t = 0; t < n; t++)
        {
            ReadOnlySpan<byte> record = records[(t * RecordBytes)..];
            int id = BinaryPrimitives.ReadUInt16LittleEndian(record);
            if (id >= _centroidCount)
            {
                throw new InvalidDataException($"A residual token record names centroid {id}, but the codebook has {_centroidCount}.");
            }

            float scale = (float)BinaryPrimitives.ReadHalfLittleEndian(record[2..]);
            if (!(scale >= 0 && scale <= _maxScale))
            {
                throw new InvalidDataException($"A residual token record has scale {scale}; scales lie in [0, {_maxScale}] (beyond, values would reach the token value limit).");
            }
        }
    }

    // The largest half-precision scale s such that every value the codec decodes, fl(fl(c + v) · s), stays below half
    // the token value limit: |fl(c + v)| ≤ A = max_j fl(max|c_j| + max|v_j|), so s ≤ limit / (2A) suffices.
    // The largest |c_j| over the centroids, per coordinate: NaN where a coordinate holds a NaN, +∞ where it holds an
    // infinity (row by row, with SIMD; the maximum does not depend on the order).
    private static float[] LargestMagnitudes(float[] centroids, int d)
    {
        float[] largest = new float[d];
        float[] row = new float[d];
        for (int start = 0; start < centroids.Length; start += d)
        {
            TensorPrimitives.Abs(centroids.AsSpan(start, d), row);
            TensorPrimitives.Max(largest, row, largest);
        }

        return largest;
    }

    // The first centroid value of coordinate j that is not finite (Check has found one).
    private static int FirstNonFinite(float[] centroids, int d, int j)
    {
        int i = j;
        while (i + d < centroids.Length && float.IsFinite(centroids[i]))
        {
            i += d;
        }

        return i;
    }

    private static float MaxScale(float[] centroids, int d, float[] values, int levels)
    {
        float[] largest = LargestMagnitudes(centroids, d);

        float bound = 0;
        for (int j = 0; j < d; j++)
        {
            float value = 0;
            for (int i = 0; i < levels; i++)
            {
                value = Math.Max(value, Math.Abs(values[(j * levels) + i]));
            }

            bound = Math.Max(bound, largest[j] + value);
        }

        double limit = FdeEncoder.TokenValueLimit / 2.0 / bound;
        if (!(limit < (double)Half.MaxValue))
        {
            return (float)Half.MaxValue;
        }

        var scale = (Half)limit;
        return (float)scale <= limit ? (float)scale : (float)BitDecrement(scale);
    }

    private static Half BitDecrement(Half value) => BitConverter.UInt16BitsToHalf((ushort)(BitConverter.HalfToUInt16Bits(value) - 1));

    // The centroids packed for NearestCentroids and their biases: built on the first encode, since a loaded store that is
    // only searched never needs them (6 MB and a transpose for 4,096 centroids of 384 coordinates).
    private sealed class CentroidPanels
    {
        public CentroidPanels(float[] centroids, int dimension, int columns)
        {
            Panels = new float[dimension * columns];
            Bias = new float[columns];
            TokenCodecKernels.PackCentroidPanels(centroids, dimension, Panels, Bias);
        }

        public float[] Panels { get; }

        public float[] Bias { get; }
    }
}
