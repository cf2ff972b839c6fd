// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Diagnostics.CodeAnalysis;

namespace Muvera.USearch;

/// <summary>How a <see cref="USearchMipsIndex"/> stores its vectors. Inner products are always accumulated in float32;
/// queries are converted to the storage kind before they are compared.</summary>
public enum USearchScalarKind
{
    /// <summary>IEEE binary32: 4 bytes per coordinate, scores equal float32 inner products up to summation order.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the IEEE storage format, as the file format's scalar kind does.")]
    Float32 = 0,

    /// <summary>IEEE binary16: 2 bytes per coordinate, 11 significant bits, largest finite value 65,504.</summary>
    Float16 = 1,

    /// <summary>bfloat16: 2 bytes per coordinate, 8 significant bits, the range of float32.</summary>
    BFloat16 = 2,
}
