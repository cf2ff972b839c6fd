// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Diagnostics.CodeAnalysis;

namespace Muvera;

/// <summary>How a <see cref="MultiVectorStore"/> keeps each coordinate of its token vectors.</summary>
public enum StoreElementType
{
    /// <summary>IEEE 754 single precision (4 bytes); scores equal scoring the original floats bit for bit.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the IEEE storage format, as the file format's element type does.")]
    Float32 = 0,

    /// <summary>IEEE 754 half precision (2 bytes, <see cref="System.Half"/>): half the memory, about 3 significant
    /// digits per coordinate; values are converted to <see cref="float"/> for scoring.</summary>
    Float16 = 1,
}
