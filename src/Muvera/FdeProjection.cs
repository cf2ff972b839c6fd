// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera;

/// <summary>The inner projection applied to every token before it is aggregated into its partition block.</summary>
public enum FdeProjection
{
    /// <summary>No projection: blocks have the token dimension (the reference's <c>DEFAULT_IDENTITY</c>).</summary>
    Identity = 0,

    /// <summary>
    /// The reference's sparse AMS sketch (<c>AMS_SKETCH</c>): a d × d_proj matrix with exactly one ±1 per input row,
    /// unscaled. Fast (one signed add per input coordinate) and the layout the golden fixtures pin down.
    /// </summary>
    Ams = 1,

    /// <summary>
    /// The paper's dense projection ψ(x) = S·x / √d_proj with S uniform ±1 (§2). A different function from
    /// <see cref="Ams"/>; costs d·d_proj multiply-adds per token.
    /// </summary>
    Dense = 2,
}
