// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera;

/// <summary>How a <see cref="MuveraIndex"/> encodes and stores documents; fixed when the index is created and saved
/// with it.</summary>
public sealed record MuveraIndexOptions
{
    private readonly double _compactOnSaveFraction = 0.2;

    /// <summary>The FDE encoder options; <see cref="FdeOptions.Dimension"/> is the token dimension of every document
    /// and query.</summary>
    public required FdeOptions Fde { get; init; }

    /// <summary>How token vectors are stored for reranking when <see cref="TokenStorage"/> is null (default Float32,
    /// exact; Float16 halves the memory). Float32 or Float16 only: the quantized kinds are set through
    /// <see cref="TokenStorage"/>.</summary>
    /// <remarks>FDEs are encoded from the stored values (rounded to half precision when Float16), so rebuilding an
    /// index from its store gives bit-identical FDEs.</remarks>
    public StoreElementType TokenElementType { get; init; } = StoreElementType.Float32;

    /// <summary>How token vectors are stored for reranking, with the training settings of the quantized kinds
    /// (<see cref="Muvera.TokenStorage.Int8"/>, <see cref="Muvera.TokenStorage.Residual(int, int?)"/>); null (the default)
    /// takes <see cref="TokenElementType"/>. Set one of the two.</summary>
    /// <remarks>FDEs are encoded from the stored values — for quantized kinds the decoded reconstruction of each
    /// token — so compaction and the stored-FDE check of <see cref="MuveraIndex.Load(string)"/> reproduce them bit for
    /// bit. A quantized index trains its codec on the first batch added (at least
    /// <see cref="Muvera.TokenStorage.MinTrainingTokens"/> tokens) or on <see cref="MuveraIndex.TrainTokenStorage(System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector})"/>;
    /// measured quality and sizes are in the README.</remarks>
    public TokenStorage? TokenStorage { get; init; }

    /// <summary>The token storage in effect: <see cref="TokenStorage"/>, or the float storage of
    /// <see cref="TokenElementType"/>.</summary>
    internal TokenStorage EffectiveTokenStorage => TokenStorage ?? Muvera.TokenStorage.FromElementType(TokenElementType);

    /// <summary>Whether every document token vector is L2-normalised on add (default false: ColBERT-style encoders
    /// already normalise). Queries are never changed.</summary>
    public bool NormalizeTokens { get; init; }

    /// <summary><see cref="MuveraIndex.Save(string)"/> compacts the index first when at least this fraction of its
    /// documents is deleted (default 0.2; 1 turns automatic compaction off, 0 compacts whenever anything is deleted).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside [0, 1] or NaN.</exception>
    public double CompactOnSaveFraction
    {
        get => _compactOnSaveFraction;
        init
        {
            if (!(value >= 0 && value <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(CompactOnSaveFraction), value, $"CompactOnSaveFraction must be in [0, 1]; got {value}.");
            }

            _compactOnSaveFraction = value;
        }
    }
}
