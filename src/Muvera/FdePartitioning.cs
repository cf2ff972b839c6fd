// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera;

/// <summary>How an FDE assigns each token to one of its 2^k partitions per repetition.</summary>
public enum FdePartitioning
{
    /// <summary>
    /// The reference's data-oblivious partitions: k random Gaussian hyperplanes per repetition, the token's sign bits
    /// read as a Gray code (google/graph-mining). Needs no training; the golden fixtures pin it down.
    /// </summary>
    SimHash = 0,

    /// <summary>
    /// Learned partitions: 2^k unit centroids per repetition, trained by spherical k-means on a sample of document
    /// tokens (<see cref="FdeEncoder.Train(FdeOptions, System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector})"/>);
    /// a token goes to the centroid with the largest inner product (ties to the lower index), and an empty document
    /// partition is filled with the token nearest to its centroid. Muvera's own; not in the reference or the paper.
    /// </summary>
    KMeans = 1,
}
