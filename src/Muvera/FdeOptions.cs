// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Text;

namespace Muvera;

/// <summary>
/// The parameters of a MUVERA fixed dimensional encoding (FDE). One instance serves queries and documents alike:
/// the side is chosen by the <see cref="FdeEncoder"/> method called, never by an option.
/// </summary>
/// <remarks>
/// <para>Defaults follow the reference implementation's config (R = 1, k = 0, seed 1, identity, no fill, no final
/// projection); <see cref="CreateRecommended"/> gives the paper's Pareto configuration (20, 5, 16) with AMS and fill.</para>
/// <para>Ranges are checked when a property is set (<see cref="ArgumentOutOfRangeException"/> naming the property);
/// rules that involve several properties are checked by <see cref="Validate"/>, which <see cref="FdeEncoder"/> calls.</para>
/// <para>Output layout: block (r, b) of repetition r and partition b occupies
/// <c>[(r·2^k + b)·d_proj, (r·2^k + b + 1)·d_proj)</c> before the optional final projection.</para>
/// </remarks>
public sealed record FdeOptions
{
    /// <summary>The largest supported number of SimHash projections k (the reference rejects k ≥ 31).</summary>
    public const int MaxSimHashProjections = 30;

    /// <summary>The largest supported encoding length in floats (2^22), before and after the final projection.</summary>
    public const int MaxOutputFloats = 1 << 22;

    private readonly int _dimension;
    private readonly int _repetitions = 1;
    private readonly int _simHashProjections;
    private readonly FdeProjection _projection;
    private readonly int? _projectionDimension;
    private readonly int? _finalDimension;

    /// <summary>The token dimension d of the input vectors. Required; must be positive.</summary>
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

    /// <summary>The number of SimHash hyperplanes k per repetition (default 0); 2^k partitions. Must be in 0..30.</summary>
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
    /// (or equal to <see cref="Dimension"/>). Default <see langword="null"/>. Must be positive when set.
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
    /// Documents only (default <see langword="false"/>): an empty partition block is filled with the projected token
    /// whose SimHash bits are nearest in Hamming distance to the partition's bits (ties to the lowest token index),
    /// instead of zeros. Ignored when k = 0 and for queries, which are never filled.
    /// </summary>
    public bool FillEmptyPartitions { get; init; }

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
    /// The length of an encoding: <see cref="FinalDimension"/> when set, else R · 2^k · d_proj. Meaningful once
    /// <see cref="Validate"/> passes (it saturates at <see cref="int.MaxValue"/> otherwise).
    /// </summary>
    public int OutputDimension => FinalDimension ?? (int)Math.Min(PreFinalDimension, int.MaxValue);

    /// <summary>
    /// The paper's Pareto-optimal configuration for a token dimension: R = 20, k = 5, AMS to d_proj = 16, fill on,
    /// no final projection: 10,240 floats (MUVERA §3.1 and §3.2).
    /// </summary>
    /// <param name="dimension">The token dimension d.</param>
    /// <param name="seed">The seed of the random matrices.</param>
    public static FdeOptions CreateRecommended(int dimension, int seed = 1) => new()
    {
        Dimension = dimension,
        Repetitions = 20,
        SimHashProjections = 5,
        Projection = FdeProjection.Ams,
        ProjectionDimension = 16,
        FillEmptyPartitions = true,
        Seed = seed,
    };

    /// <summary>Checks the rules that involve several properties.</summary>
    /// <exception cref="ArgumentException">A projection dimension is missing or contradicts the projection, or an
    /// encoding would exceed <see cref="MaxOutputFloats"/>. The message names the properties and values.</exception>
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
            .Append(", FinalDimension = ").Append(FinalDimension?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null");
        return true;
    }
}
