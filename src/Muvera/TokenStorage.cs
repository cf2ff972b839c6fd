// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Muvera;

/// <summary>
/// How a <see cref="MultiVectorStore"/> (and so a <see cref="MuveraIndex"/>) stores token vectors: float32, float16,
/// int8 scalar quantization or ColBERTv2-style residual codes, with the training settings of the quantized kinds.
/// </summary>
/// <remarks>
/// <para>Bytes per token at dimension d (<see cref="BytesPerToken"/>): 4·d, 2·d, d (int8), and 4 + ⌈d·b/8⌉ for b-bit
/// residuals (a 16-bit centroid id, a half-precision norm scale and the codes); the learned parameters are a fixed cost
/// on top (int8: 8·d bytes; residual: K·d half-precision centroids and d·(2^(b+1) − 1) floats of bucket cut-offs and
/// values).</para>
/// <para>Training: a quantized store learns its parameters once, from a sample of token vectors (the first batch a
/// <see cref="MuveraIndex"/> adds, at least <see cref="MinTrainingTokens"/> tokens, or an explicit
/// <see cref="MuveraIndex.TrainTokenStorage(System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector})"/> /
/// <see cref="MultiVectorStore.Train(ReadOnlySpan{float})"/>); every later token is encoded with the same parameters.
/// Training reads up to <see cref="MaxTrainingSample"/> tokens (a uniform sample drawn with <see cref="Seed"/>) and is
/// deterministic: the same tokens and settings give the same parameters on every CPU, SIMD width and thread
/// count.</para>
/// <para>Stored values: a quantized store holds, and returns from <see cref="MultiVectorStore.CopyTokens"/>, the
/// reconstruction of each token (decoding is exact float arithmetic, the same at every SIMD width), and scores are
/// Chamfer over those reconstructions; a <see cref="MuveraIndex"/> encodes FDEs from them too.</para>
/// </remarks>
public sealed record TokenStorage
{
    /// <summary>The fewest token vectors a quantized storage trains on.</summary>
    public const int MinTrainingTokens = 256;

    /// <summary>The most centroids a residual storage has (centroid ids are 16-bit).</summary>
    public const int MaxCentroids = 65_536;

    private readonly int? _centroids;
    private readonly int _maxTrainingSample;
    private readonly int _iterations = 4;

    private TokenStorage(StoreElementType kind, int bits, int maxTrainingSample, int? centroids = null)
    {
        Kind = kind;
        Bits = bits;
        _maxTrainingSample = maxTrainingSample;
        _centroids = centroids;
    }

    /// <summary>Float32 storage: exact.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the IEEE storage format.")]
    public static TokenStorage Float32 { get; } = new(StoreElementType.Float32, 32, 0);

    /// <summary>Float16 storage: half the bytes, values rounded to half precision.</summary>
    public static TokenStorage Float16 { get; } = new(StoreElementType.Float16, 16, 0);

    /// <summary>Int8 scalar quantization: one byte per coordinate, <c>x ≈ offset_j + scale_j · c</c> with
    /// <c>offset_j</c> and <c>offset_j + 255 · scale_j</c> the smallest and largest value of coordinate j in the training
    /// sample (values outside are clamped). A quarter of float32's bytes.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the 8-bit storage format.")]
    public static TokenStorage Int8 { get; } = new(StoreElementType.Int8, 8, 65_536);

    /// <summary>The encoding.</summary>
    public StoreElementType Kind { get; }

    /// <summary>Bits per stored coordinate: 32, 16, 8, or the residual code width (1, 2 or 4).</summary>
    public int Bits { get; }

    /// <summary>Whether the storage learns parameters from a sample (int8, residual).</summary>
    public bool IsQuantized => Kind is StoreElementType.Int8 or StoreElementType.Residual;

    /// <summary>Residual storage: the number of centroids K, or null (the default) for ColBERTv2's rule from the number
    /// of tokens T offered to training: <c>K = 2^⌊log₂(16·√T)⌋</c>, at most T/4 and <see cref="MaxCentroids"/>
    /// (<see cref="CentroidsFor"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside [1, <see cref="MaxCentroids"/>], or set on another kind.</exception>
    public int? Centroids
    {
        get => _centroids;
        init
        {
            if (Kind != StoreElementType.Residual)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(Centroids), value, $"Centroids applies to residual storage, not {Kind}.");
            }

            if (value is < 1 or > MaxCentroids)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(Centroids), value, $"Centroids must be in [1, {MaxCentroids}]; got {value}.");
            }

            _centroids = value;
        }
    }

    /// <summary>The most token vectors training reads (a uniform sample when more are offered): default 65,536.
    /// Larger samples train better parameters and take longer (residual: k-means costs samples × K × d × iterations).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below <see cref="MinTrainingTokens"/>, or set on a float kind.</exception>
    public int MaxTrainingSample
    {
        get => _maxTrainingSample;
        init
        {
            EnsureQuantized(nameof(MaxTrainingSample));
            if (value < MinTrainingTokens)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(MaxTrainingSample), value, $"MaxTrainingSample must be at least {MinTrainingTokens}; got {value}.");
            }

            _maxTrainingSample = value;
        }
    }

    /// <summary>Residual storage: k-means iterations (default 4, as ColBERTv2; fewer when nothing changes).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside [1, 1000].</exception>
    public int Iterations
    {
        get => _iterations;
        init
        {
            if (value is < 1 or > 1000)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(Iterations), value, $"Iterations must be in [1, 1000]; got {value}.");
            }

            _iterations = value;
        }
    }

    /// <summary>The seed of the training sample and of the k-means initialisation (default 1).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>ColBERTv2-style residual storage: each token is stored as the id of its nearest of K learned centroids,
    /// a <paramref name="bits"/>-bit code per coordinate of its residual (against per-coordinate bucket cut-offs and
    /// bucket values learned from the quantiles of held-out residuals) and a half-precision scale that restores the
    /// token's norm after decoding.</summary>
    /// <param name="bits">1, 2 (default) or 4 bits per coordinate.</param>
    /// <param name="centroids">K, or null for ColBERTv2's rule (<see cref="Centroids"/>).</param>
    /// <returns>The storage.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bits"/> is not 1, 2 or 4, or
    /// <paramref name="centroids"/> is outside [1, <see cref="MaxCentroids"/>].</exception>
    public static TokenStorage Residual(int bits = 2, int? centroids = null)
    {
        if (bits is not (1 or 2 or 4))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(bits), bits, $"Residual codes have 1, 2 or 4 bits per coordinate; bits is {bits}.");
        }

        if (centroids is < 1 or > MaxCentroids)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(centroids), centroids, $"centroids must be in [1, {MaxCentroids}]; got {centroids}.");
        }

        return new TokenStorage(StoreElementType.Residual, bits, 65_536, centroids);
    }

    /// <summary>The storage of a float element type (<see cref="StoreElementType.Float32"/> or
    /// <see cref="StoreElementType.Float16"/>).</summary>
    /// <param name="elementType">Float32 or Float16.</param>
    /// <returns><see cref="Float32"/> or <see cref="Float16"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Another element type (quantized kinds need their settings).</exception>
    public static TokenStorage FromElementType(StoreElementType elementType) => elementType switch
    {
        StoreElementType.Float32 => Float32,
        StoreElementType.Float16 => Float16,
        _ => throw new ArgumentOutOfRangeException(nameof(elementType), elementType,
            $"Element type {(int)elementType} is not a float storage (0 = Float32, 1 = Float16); use TokenStorage.Int8 or TokenStorage.Residual for the quantized kinds."),
    };

    /// <summary>Bytes one token of dimension <paramref name="dimension"/> takes (learned parameters excluded).</summary>
    /// <param name="dimension">The token dimension (positive).</param>
    /// <returns>4·d, 2·d, d, or 4 + ⌈d·bits/8⌉.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not positive.</exception>
    public int BytesPerToken(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        return Kind switch
        {
            StoreElementType.Float32 => checked(4 * dimension),
            StoreElementType.Float16 => checked(2 * dimension),
            StoreElementType.Int8 => dimension,
            _ => checked(4 + (int)((((long)dimension * Bits) + 7) / 8)),
        };
    }

    /// <summary>The centroid count a residual storage trains when offered <paramref name="tokens"/> token vectors:
    /// <see cref="Centroids"/> when set, else ColBERTv2's <c>2^⌊log₂(16·√T)⌋</c> capped at the largest power of two
    /// not above T/4 and at <see cref="MaxCentroids"/>; never more than T.</summary>
    /// <param name="tokens">The number of token vectors offered to training (positive).</param>
    /// <returns>K.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tokens"/> is not positive.</exception>
    public int CentroidsFor(long tokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokens);
        if (_centroids is int fixedCount)
        {
            return (int)Math.Min(fixedCount, tokens);
        }

        long rule = FloorPowerOfTwo((long)Math.Floor(16 * Math.Sqrt(tokens)));
        long cap = FloorPowerOfTwo(Math.Max(1, tokens / 4));
        return (int)Math.Min(Math.Min(rule, cap), MaxCentroids);
    }

    /// <summary>The short name reports and the CLI use: <c>f32</c>, <c>f16</c>, <c>int8</c>, <c>residual:&lt;bits&gt;</c>
    /// (with <c>,&lt;centroids&gt;</c> when the count is fixed).</summary>
    /// <returns>The name (training settings other than the centroid count are not part of it).</returns>
    public override string ToString() => Kind switch
    {
        StoreElementType.Float32 => "f32",
        StoreElementType.Float16 => "f16",
        StoreElementType.Int8 => "int8",
        _ => _centroids is int k
            ? string.Create(CultureInfo.InvariantCulture, $"residual:{Bits},{k}")
            : string.Create(CultureInfo.InvariantCulture, $"residual:{Bits}"),
    };

    private static long FloorPowerOfTwo(long value) => value < 1 ? 1 : 1L << (63 - (int)long.LeadingZeroCount(value));

    private void EnsureQuantized(string property)
    {
        if (!IsQuantized)
        {
            ThrowHelper.ThrowArgumentOutOfRange(property, Kind, $"{property} applies to quantized token storage (int8, residual), not {Kind}.");
        }
    }
}
