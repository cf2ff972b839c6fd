// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera.VectorData;

/// <summary>The distance function names the Muvera connector accepts on a vector property
/// (<c>[VectorStoreVector(384, DistanceFunction = MuveraDistanceFunction.MaxSim)]</c>; leaving it unset means the
/// same).</summary>
public static class MuveraDistanceFunction
{
    /// <summary>Chamfer (MaxSim, late-interaction) similarity: for each query vector the largest inner product with a
    /// record's vectors, summed over the query vectors. Unnormalized; higher is more similar; it is the score of a
    /// <c>VectorSearchResult</c>, and <c>ScoreThreshold</c> keeps results scoring at least the threshold.</summary>
    public const string MaxSim = "MaxSim";
}
