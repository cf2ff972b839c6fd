// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera;

/// <summary>How a document's projected tokens that share a partition become that partition's block.</summary>
public enum FdeDocumentAggregation
{
    /// <summary>Their average (the reference's <c>AVERAGE</c> encoding type).</summary>
    Average = 0,

    /// <summary>
    /// Their average rescaled to their mean length: the block is the average times
    /// <c>Σ‖x_t‖ / ‖Σ x_t‖</c>, computed from the tokens before projection. Several similar tokens then weigh like one of
    /// them instead of shrinking toward zero as they spread, which brings the FDE inner product closer to Chamfer's
    /// maximum. A block of one token is that token. Muvera's own; not in the reference or the paper.
    /// </summary>
    NormalizedAverage = 1,
}
