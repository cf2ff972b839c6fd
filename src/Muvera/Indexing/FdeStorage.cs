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
/// <para>The default (<see cref="Default"/>) is <c>pq:4,16+4,4x4</c>: 4-bit product quantization over 16-float
/// sub-spaces (1,280 bytes for the 40,960-float FDE of <see cref="FdeOptions.CreateRecommended"/>, the only bytes a
/// search scans) plus a 4-bit refinement stage over 4-float sub-spaces that re-scores the scan's best 4·N candidates.
/// Chosen by measurement with the recommended FDE (<c>bench/results/2026-12-07-learned-partitions.md</c>): on NFCorpus
/// with the default model its 100 candidates hold 0.92-0.94 of the exact top 10 (float32 FDEs: 0.954; plain 4-bit PQ over
/// 4-float sub-spaces, eight times the bytes scanned: 0.945), and the synthetic benchmark's search stays many times
/// faster than exact because the scan reads 1,280 bytes per document. For SimHash FDEs of 10,240 floats, whose
/// quality needs more bytes, <c>pq:4,4+4,4</c> scans 1,280 bytes (README, "FDE storage").</para>
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
    private int _refineBits;
    private int _refineSubspaceDimension;
    private int _refineCandidates;

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
    /// quantization over 16-float sub-spaces (the scanned codes, 1/128 of float32's bytes: 320 bytes for a 10,240-float
    /// FDE, 1,280 for the 40,960 floats of <see cref="FdeOptions.CreateRecommended"/>) with a 4-bit, 4-float refinement
    /// stage that re-scores four times the requested candidates (<c>pq:4,16+4,4x4</c>; 5/128 of float32's bytes in
    /// all).</summary>
    public static FdeStorage Default { get; } = ProductQuantization(4, 16).WithRefinement(4, 4, 4);

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

    /// <summary>Bits per code of the refinement stage (<see cref="WithRefinement"/>): 4 or 8, or 0 without one.</summary>
    public int RefineBits => _refineBits;

    /// <summary>Floats per sub-space of the refinement stage (0 without one).</summary>
    public int RefineSubspaceDimension => _refineSubspaceDimension;

    /// <summary>Candidates the scan keeps per requested result for the refinement stage to re-score (0 without one).</summary>
    public int RefineCandidates => _refineCandidates;

    /// <summary>Whether a refinement stage re-scores the scan's candidates.</summary>
    public bool HasRefinement => _refineBits != 0;

    /// <summary>
    /// This product quantization with a refinement stage: a second product quantizer (2^<paramref name="bits"/>
    /// centroids per sub-space of <paramref name="subspaceDimension"/> floats) encodes what the first one leaves out
    /// (the residual <c>x − x̂</c>); a search scans the first codes only, keeps
    /// <paramref name="candidatesPerResult"/>·k candidates, and re-scores them with both (<c>q·(x̂ + r̂)</c>).
    /// </summary>
    /// <param name="bits">4 or 8.</param>
    /// <param name="subspaceDimension">1 to <see cref="MaxSubspaceDimension"/>.</param>
    /// <param name="candidatesPerResult">1 to 64 (default 2).</param>
    /// <returns>The storage; its name gains <c>+&lt;bits&gt;,&lt;sub-space size&gt;</c> (e.g. <c>pq:4,4+4,4</c>).</returns>
    /// <exception cref="InvalidOperationException">This storage is not product quantization.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public FdeStorage WithRefinement(int bits = 4, int subspaceDimension = 4, int candidatesPerResult = 2)
    {
        if (Kind != FdeStorageKind.ProductQuantization)
        {
            throw new InvalidOperationException($"A refinement stage refines product quantization; {this} is {Kind}.");
        }

        ValidateProductQuantization(bits, subspaceDimension);
        if (candidatesPerResult is < 1 or > 64)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(candidatesPerResult), candidatesPerResult, $"candidatesPerResult must be in [1, 64]; got {candidatesPerResult}.");
        }

        FdeStorage copy = this with { };
        copy._refineBits = bits;
        copy._refineSubspaceDimension = subspaceDimension;
        copy._refineCandidates = candidatesPerResult;
        return copy;
    }

    /// <summary>Product quantization with 2^<paramref name="bits"/> centroids per sub-space of
    /// <paramref name="subspaceDimension"/> floats: <c>⌈d / subspaceDimension⌉ · bits / 8</c> bytes per vector.</summary>
    /// <param name="bits">4 (16 centroids, the SIMD fast scan; default) or 8 (256 centroids, the paper's PQ-256-8 with
    /// 8-float sub-spaces).</param>
    /// <param name="subspaceDimension">Floats per sub-space, 1 to <see cref="MaxSubspaceDimension"/> (default 4).</param>
    /// <returns>The storage, trained on 1,024 vectors (4 bits) or 8,192 vectors (8 bits) by default.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Bits other than 4 or 8, or a sub-space size out of range.</exception>
    public static FdeStorage ProductQuantization(int bits = 4, int subspaceDimension = 4)
    {
        ValidateProductQuantization(bits, subspaceDimension);
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
            _ => CodeBytes(Bits, Subspaces(dimension)) + (HasRefinement ? CodeBytes(RefineBits, RefineSubspaces(dimension)) : 0),
        };
    }

    /// <summary>The short name used by reports and the CLI: <c>f32</c>, <c>f16</c>, <c>int8</c> or
    /// <c>pq:&lt;bits&gt;,&lt;sub-space size&gt;</c>, with a refinement stage
    /// <c>+&lt;bits&gt;,&lt;sub-space size&gt;</c> and, unless it is 2, <c>x&lt;candidates per result&gt;</c>
    /// (<c>pq:4,16+4,4x4</c>): the syntax the CLI's <c>--fde-storage</c> reads.</summary>
    /// <returns>The name (training settings are not part of it).</returns>
    public override string ToString() => Kind switch
    {
        FdeStorageKind.Float32 => "f32",
        FdeStorageKind.Float16 => "f16",
        FdeStorageKind.Int8 => "int8",
        _ when HasRefinement && RefineCandidates != 2 =>
            string.Create(CultureInfo.InvariantCulture, $"pq:{Bits},{SubspaceDimension}+{RefineBits},{RefineSubspaceDimension}x{RefineCandidates}"),
        _ when HasRefinement => string.Create(CultureInfo.InvariantCulture, $"pq:{Bits},{SubspaceDimension}+{RefineBits},{RefineSubspaceDimension}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"pq:{Bits},{SubspaceDimension}"),
    };

    /// <summary>Sub-spaces of a product quantizer for vectors of <paramref name="dimension"/> floats (the last one is
    /// zero-padded when the sub-space size does not divide the dimension).</summary>
    internal int Subspaces(int dimension) => (dimension + SubspaceDimension - 1) / SubspaceDimension;

    /// <summary>Sub-spaces of the refinement stage.</summary>
    internal int RefineSubspaces(int dimension) => HasRefinement ? (dimension + RefineSubspaceDimension - 1) / RefineSubspaceDimension : 0;

    /// <summary>Bytes of one vector's codes: two 4-bit codes per byte, or one byte per 8-bit code.</summary>
    internal static int CodeBytes(int bits, int subspaces) => bits == 4 ? (subspaces + 1) / 2 : subspaces;

    private static void ValidateProductQuantization(int bits, int subspaceDimension)
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
    }

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
