// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera;

/// <summary>One result of a <see cref="MuveraIndex"/> search.</summary>
/// <param name="Id">The document's id.</param>
/// <param name="Score">The ranking score: exact Chamfer when reranked (Chamfer of the reduced query with ball
/// carving), the FDE inner product in FDE-only mode.</param>
/// <param name="FdeScore">The inner product of the query's and the document's FDEs (approximate with quantized FDE
/// storage); NaN where no FDE was scored: exact search, and a filtered search whose filter allowed no more documents
/// than the candidate count (they are all reranked without the FDE stage).</param>
public readonly record struct MuveraSearchHit(string Id, float Score, float FdeScore);
