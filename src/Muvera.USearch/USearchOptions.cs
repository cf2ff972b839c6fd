// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.USearch;

/// <summary>
/// The parameters of a <see cref="USearchMipsIndex"/>: storage precision and the HNSW graph's degree and beam widths.
/// The metric is always the inner product.
/// </summary>
/// <remarks>
/// <para>Ranges are checked when a property is set: an <see cref="ArgumentOutOfRangeException"/> names the property
/// and the value.</para>
/// <para>Larger <see cref="Connectivity"/> and <see cref="ExpansionAdd"/> build a better graph, more slowly and (for
/// connectivity) with more memory: each vector keeps about 3·M neighbour ids of 4 bytes. Larger
/// <see cref="ExpansionSearch"/> raises recall at the cost of search time; it can also be changed after the index is
/// built (<see cref="USearchMipsIndex.ExpansionSearch"/>) or given per call.</para>
/// </remarks>
public sealed record USearchOptions
{
    /// <summary>The smallest allowed <see cref="Connectivity"/>.</summary>
    public const int MinConnectivity = 2;

    /// <summary>The largest allowed <see cref="Connectivity"/>.</summary>
    public const int MaxConnectivity = 1024;

    /// <summary>The largest allowed <see cref="ExpansionAdd"/> and <see cref="ExpansionSearch"/>.</summary>
    public const int MaxExpansion = 1 << 16;

    private readonly USearchScalarKind _scalarKind = USearchScalarKind.Float16;
    private readonly int _connectivity = 16;
    private readonly int _expansionAdd = 128;
    private readonly int _expansionSearch = 64;

    /// <summary>How vectors are stored (default <see cref="USearchScalarKind.Float16"/>: half the memory of
    /// float32; scores are then inner products of the half-precision vectors).</summary>
    public USearchScalarKind ScalarKind
    {
        get => _scalarKind;
        init
        {
            if (value is not (USearchScalarKind.Float32 or USearchScalarKind.Float16 or USearchScalarKind.BFloat16))
            {
                throw new ArgumentOutOfRangeException(nameof(ScalarKind), value,
                    $"ScalarKind {(int)value} is not defined (0 = Float32, 1 = Float16, 2 = BFloat16).");
            }

            _scalarKind = value;
        }
    }

    /// <summary>M, the number of neighbours each vector links to on the upper graph levels (the base level keeps 2·M);
    /// default 16, in [<see cref="MinConnectivity"/>, <see cref="MaxConnectivity"/>].</summary>
    public int Connectivity
    {
        get => _connectivity;
        init
        {
            ValidateRange(value, MinConnectivity, MaxConnectivity, nameof(Connectivity));
            _connectivity = value;
        }
    }

    /// <summary>The beam width while inserting (efConstruction); default 128, in [1, <see cref="MaxExpansion"/>].</summary>
    public int ExpansionAdd
    {
        get => _expansionAdd;
        init
        {
            ValidateRange(value, 1, MaxExpansion, nameof(ExpansionAdd));
            _expansionAdd = value;
        }
    }

    /// <summary>The beam width while searching (ef); default 64, in [1, <see cref="MaxExpansion"/>]. A search for k
    /// results uses a beam of max(ef, k).</summary>
    public int ExpansionSearch
    {
        get => _expansionSearch;
        init
        {
            ValidateRange(value, 1, MaxExpansion, nameof(ExpansionSearch));
            _expansionSearch = value;
        }
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="paramName"/> unless
    /// <paramref name="value"/> is in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    internal static void ValidateRange(int value, int min, int max, string paramName)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(paramName, value, $"{paramName} must be in [{min}, {max}], but is {value}.");
        }
    }
}
