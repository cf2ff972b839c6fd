// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Muvera.Indexing;

/// <summary>How a flat index stores each FDE coordinate.</summary>
public enum FdeStorageKind
{
    /// <summary>IEEE single precision (4 bytes per coordinate); exact scores.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the IEEE storage format.")]
    Float32 = 0,

    /// <summary>IEEE half precision (2 bytes per coordinate); exact scores over the rounded values.</summary>
    Float16 = 1,

    /// <summary>Scalar quantization: one byte per coordinate against a per-coordinate offset and scale learned from a
    /// sample; scanned with exact integer dot products.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the 8-bit storage format.")]
    Int8 = 2,

    /// <summary>Product quantization: the coordinates in sub-spaces of <see cref="FdeStorage.SubspaceDimension"/>, each
    /// stored as the index of its nearest of 2^<see cref="FdeStorage.Bits"/> learned centroids; scanned with lookup
    /// tables (4-bit codes with the SIMD "fast scan").</summary>
    ProductQuantization = 3,
}

/// <summary>
/// How a <see cref="FlatMipsBackend"/> stores FDEs: float32, float16, int8 scalar quantization or product quantization,
/// with the training settings of the quantized kinds. Pass one to <see cref="FlatMipsBackend(FdeStorage)"/> or to
/// <see cref="QuantizedMipsIndex(int, FdeStorage)"/>.
/// </summary>
/// <remarks>
/// <para>The default (<see cref="Default"/>) is 4-bit product quantization over 4-float sub-spaces: 1/32 of float32's
/// bytes (1,280 bytes for a 10,240-float FDE), scanned about 20 times faster than float32 on this library's benchmark
/// machine, with candidate recall close to float32's (measurements in <c>bench/results/</c> and the README).</para>
/// <para>Training: a quantized index keeps its first vectors as float32 and searches them exactly until it holds
/// <see cref="TrainingRows"/> vectors (or <see cref="QuantizedMipsIndex.Train(ReadOnlySpan{float})"/> is called); it
/// then learns its parameters from up to <see cref="MaxTrainingSample"/> of the vectors it holds (drawn with
/// <see cref="Seed"/>), encodes them, and encodes every later vector with the same parameters. Training is
/// deterministic: the same vectors and settings give the same parameters on every CPU, SIMD width and thread count.</para>
/// <para>Scores: quantized kinds return the inner product of the query with each vector's reconstruction (the scan
/// ranks by a faster integer approximation, then re-scores its best candidates exactly against the reconstruction),
/// so FDE scores are approximate; <see cref="MuveraIndex"/> reranks candidates with exact Chamfer either way.</para>
/// </remarks>
public sealed record FdeStorage
{
    private readonly int _trainingRows;
    private readonly int _maxTrainingSample;
    private readonly int _iterations = 20;

    private FdeStorage(FdeStorageKind kind, int bits, int subspaceDimension, int trainingRows, int maxTrainingSample)
    {
        Kind = kind;
        Bits = bits;
        SubspaceDimension = subspaceDimension;
        _trainingRows = trainingRows;
        _maxTrainingSample = maxTrainingSample;
    }

    /// <summary>The largest sub-space a product quantizer accepts (floats).</summary>
    public const int MaxSubspaceDimension = 256;

    /// <summary>Float32 storage: exact.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the IEEE storage format.")]
    public static FdeStorage Float32 { get; } = new(FdeStorageKind.Float32, 32, 1, 0, 0);

    /// <summary>Float16 storage: half the bytes, exact over the rounded values.</summary>
    public static FdeStorage Float16 { get; } = new(FdeStorageKind.Float16, 16, 1, 0, 0);

    /// <summary>Int8 scalar quantization (a quarter of float32's bytes), trained on 1,024 vectors.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the 8-bit storage format.")]
    public static FdeStorage Int8 { get; } = new(FdeStorageKind.Int8, 8, 1, 1024, 65_536);

    /// <summary>The default storage of <see cref="FlatMipsBackend"/> and <see cref="MuveraIndex"/>: 4-bit product
    /// quantization over 4-float sub-spaces (<see cref="ProductQuantization(int, int)"/> with its defaults).</summary>
    public static FdeStorage Default { get; } = ProductQuantization();

    /// <summary>The kind of storage.</summary>
    public FdeStorageKind Kind { get; }

    /// <summary>Bits per stored value: 32 or 16 for floats, 8 for int8, 4 or 8 per sub-space code for product
    /// quantization (16 or 256 centroids per sub-space).</summary>
    public int Bits { get; }

    /// <summary>Floats per product-quantization sub-space (1 for the other kinds).</summary>
    public int SubspaceDimension { get; }

    /// <summary>Whether the storage is quantized (needs training) rather than float.</summary>
    public bool IsQuantized => Kind is FdeStorageKind.Int8 or FdeStorageKind.ProductQuantization;

    /// <summary>How many vectors an index waits for before it trains (quantized kinds; 0 for floats). Until then it
    /// keeps float32 vectors and searches them exactly. Default 1,024.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive, or set on a float kind.</exception>
    public int TrainingRows
    {
        get => _trainingRows;
        init
        {
            EnsureQuantized(nameof(TrainingRows));
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(TrainingRows));
            _trainingRows = value;
        }
    }

    /// <summary>The most vectors training reads (a uniform sample when the index holds more): default 16,384 for
    /// product quantization, 65,536 for int8. Larger samples train better codebooks and take longer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive, or set on a float kind.</exception>
    public int MaxTrainingSample
    {
        get => _maxTrainingSample;
        init
        {
            EnsureQuantized(nameof(MaxTrainingSample));
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(MaxTrainingSample));
            _maxTrainingSample = value;
        }
    }

    /// <summary>k-means iterations per product-quantization sub-space (default 20; fewer when nothing changes).</summary>
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

    /// <summary>The seed of the training sample and the k-means initialisation (default 1).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Product quantization with 2^<paramref name="bits"/> centroids per sub-space of
    /// <paramref name="subspaceDimension"/> floats: <c>⌈d / subspaceDimension⌉ · bits / 8</c> bytes per vector.</summary>
    /// <param name="bits">4 (16 centroids, the SIMD fast scan; default) or 8 (256 centroids, the paper's PQ-256-8 with
    /// 8-float sub-spaces).</param>
    /// <param name="subspaceDimension">Floats per sub-space, 1 to <see cref="MaxSubspaceDimension"/> (default 4).</param>
    /// <returns>The storage, trained on 1,024 vectors (4 bits) or 8,192 vectors (8 bits) by default.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Bits other than 4 or 8, or a sub-space size out of range.</exception>
    public static FdeStorage ProductQuantization(int bits = 4, int subspaceDimension = 4)
    {
        if (bits is not (4 or 8))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(bits), bits, $"Product quantization stores 4-bit or 8-bit codes; bits is {bits}.");
        }

        if (subspaceDimension is < 1 or > MaxSubspaceDimension)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(subspaceDimension), subspaceDimension,
                $"subspaceDimension must be in [1, {MaxSubspaceDimension}]; got {subspaceDimension}.");
        }

        return new FdeStorage(FdeStorageKind.ProductQuantization, bits, subspaceDimension, bits == 4 ? 1024 : 8192, 16_384);
    }

    /// <summary>Bytes stored per vector of <paramref name="dimension"/> floats (codes only; a quantizer's learned
    /// parameters are a fixed cost on top).</summary>
    /// <param name="dimension">The vector length (positive).</param>
    /// <returns>4·d, 2·d, d, or ⌈d / sub-space⌉ · bits / 8 rounded up to whole bytes (4-bit codes pair up sub-spaces).</returns>
    public long BytesPerVector(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        return Kind switch
        {
            FdeStorageKind.Float32 => 4L * dimension,
            FdeStorageKind.Float16 => 2L * dimension,
            FdeStorageKind.Int8 => dimension,
            _ => Bits == 4 ? (Subspaces(dimension) + 1) / 2 : Subspaces(dimension),
        };
    }

    /// <summary>The short name used by reports and the CLI: <c>f32</c>, <c>f16</c>, <c>int8</c> or
    /// <c>pq:&lt;bits&gt;,&lt;sub-space size&gt;</c>.</summary>
    /// <returns>The name (training settings are not part of it).</returns>
    public override string ToString() => Kind switch
    {
        FdeStorageKind.Float32 => "f32",
        FdeStorageKind.Float16 => "f16",
        FdeStorageKind.Int8 => "int8",
        _ => string.Create(CultureInfo.InvariantCulture, $"pq:{Bits},{SubspaceDimension}"),
    };

    /// <summary>Sub-spaces of a product quantizer for vectors of <paramref name="dimension"/> floats (the last one is
    /// zero-padded when the sub-space size does not divide the dimension).</summary>
    internal int Subspaces(int dimension) => (dimension + SubspaceDimension - 1) / SubspaceDimension;

    /// <summary>The float element type of a float kind (for <see cref="FlatMipsIndex"/>).</summary>
    internal StoreElementType ElementType => Kind == FdeStorageKind.Float16 ? StoreElementType.Float16 : StoreElementType.Float32;

    /// <summary>The storage of a float element type.</summary>
    internal static FdeStorage FromElementType(StoreElementType elementType) => elementType switch
    {
        StoreElementType.Float32 => Float32,
        StoreElementType.Float16 => Float16,
        _ => throw new ArgumentOutOfRangeException(nameof(elementType), elementType, $"elementType {elementType} is not a defined storage type."),
    };

    private void EnsureQuantized(string property)
    {
        if (!IsQuantized)
        {
            ThrowHelper.ThrowArgumentOutOfRange(property, Kind, $"{property} applies to quantized storage (int8, product quantization), not {Kind}.");
        }
    }
}
