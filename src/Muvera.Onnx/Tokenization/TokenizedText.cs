// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera.Onnx.Tokenization;

/// <summary>One text as the model sees it: its input ids, which positions are attended, and which produce vectors.</summary>
/// <param name="Ids">The input ids: <c>[CLS] marker? content… [SEP]</c>, then query [MASK] augmentation if any.</param>
/// <param name="AttendedLength">Positions below this have attention mask 1.</param>
/// <param name="AttendAll">Whether the positions from <paramref name="AttendedLength"/> to the end (augmentation [MASK]
/// tokens) are attended too.</param>
/// <param name="VectorPositions">The positions, ascending, whose outputs become token vectors.</param>
internal sealed record TokenizedText(int[] Ids, int AttendedLength, bool AttendAll, int[] VectorPositions)
{
    /// <summary>The sequence length (batch padding excluded).</summary>
    public int Length => Ids.Length;

    /// <summary>Whether position <paramref name="position"/> (below <see cref="Length"/>) is attended.</summary>
    public bool IsAttended(int position) => position < AttendedLength || AttendAll;
}
