// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Text;

namespace Muvera;

/// <summary>
/// The parameters of a MUVERA fixed dimensional encoding (FDE). One instance serves queries and documents alike:
/// the side is chosen by the <see cref="FdeEncoder"/> method called, never by an option.
/// </summary>
/// <remarks>
/// <para>Defaults follow the reference implementation's config (R = 1, k = 0, seed 1, SimHash, identity, no fill, plain
/// averages, no final projection). <see cref="CreateRecommended"/> gives Muvera's data-aware default (learned k-means
/// partitions, R = 20, k = 6, AMS to 32, fill, normalized averages: 40,960 floats), which needs training;
/// <see cref="CreateSimHash"/> gives the paper's Pareto configuration (20, 5, 16) with SimHash, AMS and fill, the
/// reference's function, which needs none.</para>
/// <para>Ranges are checked when a property is set (<see cref="ArgumentOutOfRangeException"/> naming the property);
/// rules that involve several properties are checked by <see cref="Validate"/>, which <see cref="FdeEncoder"/> calls.</para>
/// <para>Output layout: block (r, b) of repetition r and partition b occupies
/// <c>[(r·2^k + b)·d_proj, (r·2^k + b + 1)·d_proj)</c> before the optional final projection.</para>
/// </remarks>
public sealed record FdeOptions
{
    /// <summary>The largest supported number of SimHash projections k (the reference rejects k ≥ 31).</summary>
    public const int MaxSimHashProjections = 30;

    /// <summary>The default <see cref="TrainingSample"/>: 50,000 document tokens.</summary>
    public const int DefaultTrainingSample = 50_000;

    /// <summary>The largest <see cref="TrainingSample"/>: 2^20 = 1,048,576 tokens.</summary>
    public const int MaxTrainingSample = 1 << 20;

    /// <summary>The default <see cref="TrainingIterations"/>: 8 Lloyd iterations.</summary>
    public const int DefaultTrainingIterations = 8;

    /// <summary>The largest <see cref="TrainingIterations"/>: 1,000.</summary>
    public const int MaxTrainingIterations = 1000;

    /// <summary>The most floats one repetition's training sample may hold, <see cref="TrainingSample"/> ·
    /// <see cref="Dimension"/> (2^28, 1 GiB), checked by <see cref="Validate"/>.</summary>
    public const long MaxTrainingFloats = 1L << 28;

    /// <summary>The largest supported encoding length in floats (2^22), before and after the final projection.</summary>
    public const int MaxOutputFloats = 1 << 22;

    /// <summary>The largest supported token dimension d and projection dimension d_proj (2^16 = 65,536).</summary>
    public const int MaxDimension = 1 << 16;

    /// <summary>The most random matrix entries an encoder may draw and keep (2^25), counted by
    /// <see cref="MatrixEntries"/>.</summary>
    public const long MaxMatrixEntries = 1L << 25;

    /// <summary>The most scratch floats an encoding may need per input token (2^18), counted by
    /// <see cref="ScratchFloatsPerToken"/>.</summary>
    public const long MaxScratchFloatsPerToken = 1L << 18;

    // Bytes a .NET array costs beyond its elements (header, length, padding), and a fixed allowance for the encoder's
    // other objects (the PRNG state, the identity, the options); both only feed EncoderBytes, an upper bound.
    private const long ArrayOverheadBytes = 32;
    private const long FixedEncoderBytes = 8192;

    private readonly int _dimension;
    private readonly int _repetitions = 1;
    private readonly int _simHashProjections;
    private readonly FdeProjection _projection;
    private readonly int? _projectionDimension;
    private readonly int? _finalDimension;
    private readonly FdePartitioning _partitioning;
    private readonly FdeDocumentAggregation _documentAggregation;
    private readonly int _trainingSample = DefaultTrainingSample;
    private readonly int _trainingIterations = DefaultTrainingIterations;

    /// <summary>The token dimension d of the input vectors. Required; must be positive, and at most
    /// <see cref="MaxDimension"/> (checked by <see cref="Validate"/>).</summary>
    public required int Dimension
    {
        get => _dimension;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(Dimension));
            _dimension = value;
        }
    }

    /// <summary>The number of independent repetitions R (default 1). Must be positive.</summary>
    public int Repetitions
    {
        get => _repetitions;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(Repetitions));
            _repetitions = value;
        }
    }

    /// <summary>The partition exponent k per repetition (default 0): 2^k partitions, from k SimHash hyperplanes or
    /// 2^k learned centroids (<see cref="Partitioning"/>). Must be in 0..30.</summary>
    public int SimHashProjections
    {
        get => _simHashProjections;
        init
        {
            if ((uint)value > MaxSimHashProjections)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(SimHashProjections), value,
                    $"SimHashProjections (k) is {value}; it must be in 0..{MaxSimHashProjections}.");
            }

            _simHashProjections = value;
        }
    }

    /// <summary>
    /// The seed of every random matrix (default 1, the reference's). Repetition r draws from <c>Seed + r</c>
    /// (as unsigned 32-bit); queries and documents must use the same seed.
    /// </summary>
    public int Seed { get; init; } = 1;

    /// <summary>The inner projection (default <see cref="FdeProjection.Identity"/>).</summary>
    public FdeProjection Projection
    {
        get => _projection;
        init
        {
            if (!Enum.IsDefined(value))
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(Projection), value, $"Projection {(int)value} is not a defined FdeProjection.");
            }

            _projection = value;
        }
    }

    /// <summary>
    /// The projected block dimension d_proj, required by <see cref="FdeProjection.Ams"/> and
    /// <see cref="FdeProjection.Dense"/>; for <see cref="FdeProjection.Identity"/> leave it <see langword="null"/>
    /// (or equal to <see cref="Dimension"/>). Default <see langword="null"/>. Must be positive when set, and at most
    /// <see cref="MaxDimension"/> (checked by <see cref="Validate"/>).
    /// </summary>
    public int? ProjectionDimension
    {
        get => _projectionDimension;
        init
        {
            if (value is int v)
            {
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(v, nameof(ProjectionDimension));
            }

            _projectionDimension = value;
        }
    }

    /// <summary>
    /// Documents only (default <see langword="false"/>): an empty partition block is filled with one projected token
    /// instead of zeros: with <see cref="FdePartitioning.SimHash"/> the token whose SimHash bits are nearest in Hamming
    /// distance to the partition's bits, with <see cref="FdePartitioning.KMeans"/> the token with the largest inner
    /// product with the partition's centroid (ties to the lowest token index either way). Ignored when k = 0 and for
    /// queries, which are never filled.
    /// </summary>
    public bool FillEmptyPartitions { get; init; }

    /// <summary>How tokens are assigned to partitions (default <see cref="FdePartitioning.SimHash"/>, the reference's).
    /// <see cref="FdePartitioning.KMeans"/> learns them from data: an encoder needs training first
    /// (<see cref="RequiresTraining"/>).</summary>
    public FdePartitioning Partitioning
    {
        get => _partitioning;
        init
        {
            if (!Enum.IsDefined(value))
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(Partitioning), value, $"Partitioning {(int)value} is not a defined FdePartitioning.");
            }

            _partitioning = value;
        }
    }

    /// <summary>How a document's tokens that share a partition are combined (default
    /// <see cref="FdeDocumentAggregation.Average"/>, the reference's). Queries always sum.</summary>
    public FdeDocumentAggregation DocumentAggregation
    {
        get => _documentAggregation;
        init
        {
            if (!Enum.IsDefined(value))
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(DocumentAggregation), value,
                    $"DocumentAggregation {(int)value} is not a defined FdeDocumentAggregation.");
            }

            _documentAggregation = value;
        }
    }

    /// <summary>
    /// Learned partitions only: how many document tokens each repetition's k-means is trained on, drawn uniformly
    /// without replacement from the training tokens (all of them when there are fewer). Default
    /// <see cref="DefaultTrainingSample"/> (50,000); must be in 1..<see cref="MaxTrainingSample"/>. Ignored by SimHash.
    /// </summary>
    public int TrainingSample
    {
        get => _trainingSample;
        init
        {
            if (value < 1 || value > MaxTrainingSample)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(TrainingSample), value,
                    $"TrainingSample is {value}; it must be in 1..{MaxTrainingSample} tokens.");
            }

            _trainingSample = value;
        }
    }

    /// <summary>Learned partitions only: the Lloyd iterations of each repetition's k-means (it stops earlier once no
    /// assignment changes). Default <see cref="DefaultTrainingIterations"/> (8); must be in
    /// 1..<see cref="MaxTrainingIterations"/>. Ignored by SimHash.</summary>
    public int TrainingIterations
    {
        get => _trainingIterations;
        init
        {
            if (value < 1 || value > MaxTrainingIterations)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(TrainingIterations), value,
                    $"TrainingIterations is {value}; it must be in 1..{MaxTrainingIterations}.");
            }

            _trainingIterations = value;
        }
    }

    /// <summary>Whether an encoder needs training on document tokens before it can encode: true for
    /// <see cref="FdePartitioning.KMeans"/>.</summary>
    public bool RequiresTraining => Partitioning != FdePartitioning.SimHash;

    /// <summary>
    /// The length of an optional final Count Sketch projection (default <see langword="null"/>: none). Must be
    /// positive when set.
    /// </summary>
    public int? FinalDimension
    {
        get => _finalDimension;
        init
        {
            if (value is int v)
            {
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(v, nameof(FinalDimension));
            }

            _finalDimension = value;
        }
    }

    /// <summary>The number of partitions per repetition, 2^k.</summary>
    public int PartitionCount => 1 << SimHashProjections;

    /// <summary>The block dimension d_proj: <see cref="Dimension"/> for the identity, else <see cref="ProjectionDimension"/> (0 when missing).</summary>
    public int BlockDimension => Projection == FdeProjection.Identity ? Dimension : ProjectionDimension ?? 0;

    /// <summary>The encoding length before the final projection, R · 2^k · d_proj (saturates at <see cref="long.MaxValue"/>).</summary>
    public long PreFinalDimension
    {
        get
        {
            double length = (double)Repetitions * PartitionCount * BlockDimension;
            return length >= long.MaxValue ? long.MaxValue : (long)length;
        }
    }

    /// <summary>
    /// The matrix entries an encoder draws or learns and keeps, every product computed in 64 bits:
    /// R·d·k SimHash Gaussians (or R·2^k·d centroid coordinates for <see cref="FdePartitioning.KMeans"/>), plus R·d AMS columns (with their signs) for <see cref="FdeProjection.Ams"/>, plus
    /// R·d·d_proj entries for <see cref="FdeProjection.Dense"/>, plus R·2^k·d_proj Count Sketch buckets (with their
    /// signs) when <see cref="FinalDimension"/> is set. At most <see cref="MaxMatrixEntries"/> once
    /// <see cref="Validate"/> passes.
    /// </summary>
    public long MatrixEntries
    {
        get
        {
            (long partitions, long ams, long dense, long sketch) = MatrixTerms();
            return Saturating(Saturating(partitions, ams), Saturating(dense, sketch));
        }
    }

    /// <summary>
    /// The scratch floats an encoding needs per input token (tokens are padded to a multiple of 16): the transposed
    /// token (d), its SimHash sketches or centroid inner products (R·k, or R·2^k for <see cref="FdePartitioning.KMeans"/>)
    /// and dense projections (plus R·d_proj for <see cref="FdeProjection.Dense"/>) and its projected rows (2·d_proj for
    /// AMS and dense). At most <see cref="MaxScratchFloatsPerToken"/> once <see cref="Validate"/> passes.
    /// </summary>
    /// <remarks>An encoding of n tokens rents from the shared array pool about
    /// 4 · ((ScratchFloatsPerToken + 1) · ⌈n/16⌉·16 + 2 · 2^k) bytes, plus 4 · R·2^k·d_proj bytes with a final
    /// projection and 4 · 2^k·d bytes for a document with <see cref="FdeDocumentAggregation.NormalizedAverage"/> (the pool
    /// may round each buffer up to a power of two).</remarks>
    public long ScratchFloatsPerToken
    {
        get
        {
            long projected = Projection == FdeProjection.Identity ? 0 : 2L * BlockDimension;
            long denseRows = Projection == FdeProjection.Dense ? Product(Repetitions, BlockDimension) : 0;
            return Saturating(Saturating(Dimension, projected), Saturating(Product(Repetitions, PartitionRowsPerRepetition), denseRows));
        }
    }

    /// <summary>
    /// An upper bound on the bytes an <see cref="FdeEncoder"/> built from these options allocates in its constructor
    /// (its random matrices in the reference's layout and in its own kernel layouts, and a fixed allowance for small
    /// objects), reported before anything is allocated: roughly 8 bytes per entry of <see cref="MatrixEntries"/>,
    /// 16 per AMS coordinate. Meaningful once <see cref="Validate"/> passes (it saturates otherwise).
    /// </summary>
    public long EncoderBytes
    {
        get
        {
            long r = Repetitions;
            long d = Dimension;
            long p = BlockDimension;
            (long partitions, long ams, long dense, long sketch) = MatrixTerms();
            long arrays = 8;
            long bytes = FixedEncoderBytes;

            // SimHash: G_r (d × k per repetition) and the same entries again as rows of the kernel's product matrix.
            // k-means: the centroids (2^k × d per repetition, held by FdePartitions) and the same product rows.
            if (SimHashProjections > 0 || Partitioning == FdePartitioning.KMeans)
            {
                bytes = Saturating(bytes, Saturating(Product(8, partitions), Product(8, r)));
                arrays = Saturating(arrays, r);
            }

            // AMS: column and sign per coordinate, then the kernel's table: order and sign of d + 3·d_proj slots and
            // d_proj + 1 column starts per repetition, and two d_proj counters while it is built.
            if (Projection == FdeProjection.Ams)
            {
                bytes = Saturating(bytes, Saturating(Product(8, ams), Product(16, r)));
                bytes = Saturating(bytes, Product(8, Product(r, Saturating(d, Product(3, p)))));
                bytes = Saturating(bytes, Product(4, Product(r, Saturating(p, 1))));
                bytes = Saturating(bytes, Product(8, p));
                arrays = Saturating(arrays, Product(2, r));
            }

            // Dense: S_r (d × d_proj per repetition) and the same entries again as product rows.
            if (Projection == FdeProjection.Dense)
            {
                bytes = Saturating(bytes, Saturating(Product(8, dense), Product(8, r)));
                arrays = Saturating(arrays, r);
            }

            // Count Sketch: bucket and sign of every pre-final coordinate.
            bytes = Saturating(bytes, Product(8, sketch));
            return Saturating(bytes, Product(ArrayOverheadBytes, arrays));
        }
    }

    /// <summary>
    /// The length of an encoding: <see cref="FinalDimension"/> when set, else R · 2^k · d_proj. Meaningful once
    /// <see cref="Validate"/> passes (it saturates at <see cref="int.MaxValue"/> otherwise).
    /// </summary>
    public int OutputDimension => FinalDimension ?? (int)Math.Min(PreFinalDimension, int.MaxValue);

    /// <summary>
    /// Muvera's recommended configuration for a token dimension: learned partitions
    /// (<see cref="FdePartitioning.KMeans"/>, 2^6 = 64 centroids per repetition trained on
    /// <see cref="DefaultTrainingSample"/> tokens), R = 20, AMS to d_proj = 32, fill on,
    /// <see cref="FdeDocumentAggregation.NormalizedAverage"/>, no final projection: 40,960 floats (1,280 bytes scanned
    /// per document in the default flat storage, <see cref="Indexing.FdeStorage.Default"/>). Needs training
    /// (<see cref="FdeEncoder.Train(FdeOptions, IReadOnlyList{ReadOnlyMultiVector})"/>; a <see cref="MuveraIndex"/> trains
    /// by itself).
    /// </summary>
    /// <remarks>Chosen by measurement with the default storage (<c>bench/results/2026-12-07-learned-partitions.md</c>): on
    /// NFCorpus with all-MiniLM-L6-v2 its 100 FDE candidates hold 0.92 of the exact Chamfer top 10 (0.95 as float32),
    /// against 0.77 for <see cref="CreateSimHash"/>; twice the repetitions (R = 40, 81,920 floats) hold 0.95-0.97 but
    /// scan two to eight times the bytes per query. For the reference's data-oblivious function (no training, golden-tested, the same
    /// encoding for any corpus) use <see cref="CreateSimHash"/>.</remarks>
    /// <param name="dimension">The token dimension d.</param>
    /// <param name="seed">The seed of the random matrices and of training.</param>
    /// <returns>The options.</returns>
    public static FdeOptions CreateRecommended(int dimension, int seed = 1) => new()
    {
        Dimension = dimension,
        Partitioning = FdePartitioning.KMeans,
        Repetitions = 20,
        SimHashProjections = 6,
        Projection = FdeProjection.Ams,
        ProjectionDimension = 32,
        FillEmptyPartitions = true,
        DocumentAggregation = FdeDocumentAggregation.NormalizedAverage,
        Seed = seed,
    };

    /// <summary>
    /// The paper's Pareto-optimal SimHash configuration for a token dimension: R = 20, k = 5, AMS to d_proj = 16, fill
    /// on, plain averages, no final projection: 10,240 floats (MUVERA §3.1 and §3.2). The reference's function: needs no
    /// training and encodes every corpus the same way.
    /// </summary>
    /// <param name="dimension">The token dimension d.</param>
    /// <param name="seed">The seed of the random matrices.</param>
    /// <returns>The options.</returns>
    public static FdeOptions CreateSimHash(int dimension, int seed = 1) => new()
    {
        Dimension = dimension,
        Repetitions = 20,
        SimHashProjections = 5,
        Projection = FdeProjection.Ams,
        ProjectionDimension = 16,
        FillEmptyPartitions = true,
        Seed = seed,
    };

    /// <summary>Checks the rules that involve several properties, and the size limits.</summary>
    /// <remarks>The limits bound what an encoder allocates, so that no valid combination overflows a 32-bit index or
    /// needs gigabytes: d and d_proj at most <see cref="MaxDimension"/>; R·2^k·d_proj and d_final at most
    /// <see cref="MaxOutputFloats"/>; <see cref="MatrixEntries"/> at most <see cref="MaxMatrixEntries"/>;
    /// <see cref="ScratchFloatsPerToken"/> at most <see cref="MaxScratchFloatsPerToken"/>. Every product is computed in
    /// 64 bits.</remarks>
    /// <exception cref="ArgumentException">A projection dimension is missing or contradicts the projection, or a size
    /// exceeds its limit. The message names the properties, their values, the product and the limit.</exception>
    public void Validate()
    {
        if (Projection == FdeProjection.Identity)
        {
            if (ProjectionDimension is int p && p != Dimension)
            {
                ThrowHelper.ThrowArgument(
                    $"ProjectionDimension is {p} but Projection is Identity, which keeps the token dimension {Dimension}; " +
                    "choose FdeProjection.Ams or FdeProjection.Dense, or leave ProjectionDimension null.",
                    nameof(ProjectionDimension));
            }
        }
        else if (ProjectionDimension is null)
        {
            ThrowHelper.ThrowArgument(
                $"Projection {Projection} requires ProjectionDimension (the projected block dimension d_proj > 0), but it is null.",
                nameof(ProjectionDimension));
        }

        if (PreFinalDimension > MaxOutputFloats)
        {
            ThrowHelper.ThrowArgument(
                $"Repetitions · 2^SimHashProjections · BlockDimension = {Repetitions} · 2^{SimHashProjections} · {BlockDimension} = " +
                $"{PreFinalDimension} floats exceeds the limit of {MaxOutputFloats} floats.",
                nameof(Repetitions));
        }

        if (FinalDimension > MaxOutputFloats)
        {
            ThrowHelper.ThrowArgument(
                $"FinalDimension {FinalDimension} exceeds the limit of {MaxOutputFloats} floats.", nameof(FinalDimension));
        }

        if (Dimension > MaxDimension)
        {
            ThrowHelper.ThrowArgument(
                $"Dimension {Dimension} exceeds the limit of {MaxDimension} (FdeOptions.MaxDimension).", nameof(Dimension));
        }

        if (ProjectionDimension > MaxDimension)
        {
            ThrowHelper.ThrowArgument(
                $"ProjectionDimension {ProjectionDimension} exceeds the limit of {MaxDimension} (FdeOptions.MaxDimension).",
                nameof(ProjectionDimension));
        }

        long entries = MatrixEntries;
        if (entries > MaxMatrixEntries)
        {
            (long partitions, long ams, long dense, long sketch) = MatrixTerms();
            string partitionTerm = Partitioning == FdePartitioning.SimHash
                ? $"SimHash Repetitions · Dimension · SimHashProjections = {Repetitions} · {Dimension} · {SimHashProjections} = {partitions}"
                : $"k-means centroids Repetitions · 2^SimHashProjections · Dimension = {Repetitions} · 2^{SimHashProjections} · {Dimension} = {partitions}";
            ThrowHelper.ThrowArgument(
                $"The partition and projection matrices would hold {entries} entries, more than the limit of {MaxMatrixEntries} " +
                $"(FdeOptions.MaxMatrixEntries): {partitionTerm}, AMS Repetitions · Dimension = {ams}, " +
                $"dense Repetitions · Dimension · ProjectionDimension = {dense}, Count Sketch {sketch}.",
                nameof(Repetitions));
        }

        if (Partitioning == FdePartitioning.KMeans && (long)TrainingSample * Dimension > MaxTrainingFloats)
        {
            ThrowHelper.ThrowArgument(
                $"TrainingSample · Dimension = {TrainingSample} · {Dimension} = {(long)TrainingSample * Dimension} floats exceeds the limit of " +
                $"{MaxTrainingFloats} floats per repetition's training sample (FdeOptions.MaxTrainingFloats).",
                nameof(TrainingSample));
        }

        long scratch = ScratchFloatsPerToken;
        if (scratch > MaxScratchFloatsPerToken)
        {
            ThrowHelper.ThrowArgument(
                $"An encoding would need {scratch} scratch floats per token, more than the limit of {MaxScratchFloatsPerToken} " +
                $"(FdeOptions.MaxScratchFloatsPerToken): Dimension {Dimension} + " +
                (Partitioning == FdePartitioning.SimHash
                    ? $"Repetitions · SimHashProjections = {Repetitions} · {SimHashProjections}"
                    : $"Repetitions · 2^SimHashProjections = {Repetitions} · {PartitionRowsPerRepetition}") +
                (Projection == FdeProjection.Dense ? $" + Repetitions · ProjectionDimension = {Repetitions} · {BlockDimension}" : "") +
                (Projection == FdeProjection.Identity ? "" : $" + 2 · ProjectionDimension = 2 · {BlockDimension}") + ".",
                nameof(Repetitions));
        }
    }

    // a · b for non-negative operands, saturating at long.MaxValue instead of wrapping.
    private static long Product(long a, long b) => a == 0 || b <= long.MaxValue / a ? a * b : long.MaxValue;

    private static long Saturating(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    // The entry counts of each random matrix (0 when the options do not use it), saturating.
    // The rows of the encoder's partition product per repetition: k hyperplanes, or 2^k centroids.
    private long PartitionRowsPerRepetition => Partitioning == FdePartitioning.SimHash ? SimHashProjections : 1L << SimHashProjections;

    private (long Partitions, long Ams, long Dense, long Sketch) MatrixTerms()
    {
        long rd = Product(Repetitions, Dimension);
        long simHash = Product(rd, PartitionRowsPerRepetition);
        long ams = Projection == FdeProjection.Ams ? rd : 0;
        long dense = Projection == FdeProjection.Dense ? Product(rd, BlockDimension) : 0;
        long sketch = FinalDimension is null ? 0 : PreFinalDimension;
        return (simHash, ams, dense, sketch);
    }

    // Records print every public property; keep it to the stored options so ToString never depends on validity.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Dimension = ").Append(Dimension)
            .Append(", Repetitions = ").Append(Repetitions)
            .Append(", SimHashProjections = ").Append(SimHashProjections)
            .Append(", Seed = ").Append(Seed)
            .Append(", Projection = ").Append(Projection)
            .Append(", ProjectionDimension = ").Append(ProjectionDimension?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null")
            .Append(", FillEmptyPartitions = ").Append(FillEmptyPartitions)
            .Append(", FinalDimension = ").Append(FinalDimension?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null")
            .Append(", Partitioning = ").Append(Partitioning)
            .Append(", DocumentAggregation = ").Append(DocumentAggregation)
            .Append(", TrainingSample = ").Append(TrainingSample)
            .Append(", TrainingIterations = ").Append(TrainingIterations);
        return true;
    }
}
