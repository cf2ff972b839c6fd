// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Beir.Tests;

public sealed class NeighborRecallTests
{
    [Test]
    public void Compute_PartialOverlap_IsShareOfExactFound()
    {
        Assert.Multiple(() =>
        {
            Assert.That(NeighborRecall.Compute([1, 2, 3, 4], [9, 3, 1, 3, 8]), Is.EqualTo(0.5), "3 counts once");
            Assert.That(NeighborRecall.Compute([1, 2], []), Is.Zero);
            Assert.That(NeighborRecall.Compute([5], [5]), Is.EqualTo(1));
        });
    }

    [Test]
    public void Compute_ScoredIds_ComparesIdsOnly()
    {
        double recall = NeighborRecall.Compute([new ScoredId(1, 0.9f), new ScoredId(2, 0.8f)], [new ScoredId(2, 0.1f), new ScoredId(7, 0.05f)]);

        Assert.That(recall, Is.EqualTo(0.5));
    }

    [Test]
    public void Compute_EmptyOrRepeatedExact_Throws()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => NeighborRecall.Compute(ReadOnlySpan<int>.Empty, [1]), Throws.ArgumentException);
            Assert.That(() => NeighborRecall.Compute([1, 1], [1]), Throws.ArgumentException.With.Message.Contains("twice"));
        });
    }
}
