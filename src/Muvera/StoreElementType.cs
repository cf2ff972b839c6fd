// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Diagnostics.CodeAnalysis;

namespace Muvera;

/// <summary>How a <see cref="MultiVectorStore"/> keeps each coordinate of its token vectors (the encoding; the
/// settings of the quantized encodings are in <see cref="TokenStorage"/>).</summary>
public enum StoreElementType
{
    /// <summary>IEEE 754 single precision (4 bytes); scores equal scoring the original floats bit for bit.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the IEEE storage format, as the file format's element type does.")]
    Float32 = 0,

    /// <summary>IEEE 754 half precision (2 bytes, <see cref="System.Half"/>): half the memory, about 3 significant
    /// digits per coordinate; values are converted to <see cref="float"/> for scoring.</summary>
    Float16 = 1,

    /// <summary>One byte per coordinate against a per-coordinate offset and scale learned from a sample
    /// (<see cref="TokenStorage.Int8"/>): a quarter of float32's bytes.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Names the 8-bit storage format.")]
    Int8 = 2,

    /// <summary>ColBERTv2-style residual compression (<see cref="TokenStorage.Residual(int, int?)"/>): each token is the
    /// id of its nearest learned centroid plus a 1-, 2- or 4-bit code per coordinate for the residual.</summary>
    Residual = 3,
}
