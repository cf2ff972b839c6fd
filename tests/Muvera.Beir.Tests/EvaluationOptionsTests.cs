// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Beir.Tests;

public sealed class EvaluationOptionsTests
{
    [Test]
    public void Defaults_AreBeirs()
    {
        var options = new EvaluationOptions();

        Assert.Multiple(() =>
        {
            Assert.That(options.Cutoffs, Is.EqualTo(new[] { 1, 3, 5, 10, 100, 1000 }));
            Assert.That(options.IgnoreIdenticalIds, Is.True);
            Assert.That(options.IncludeQueriesWithoutRelevant, Is.False);
        });
    }

    [Test]
    public void Cutoffs_Unsorted_StoredSorted()
    {
        var options = new EvaluationOptions { Cutoffs = [100, 10, 1] };

        Assert.That(options.Cutoffs, Is.EqualTo(new[] { 1, 10, 100 }));
    }

    [TestCase(new[] { 0, 10 })]
    [TestCase(new[] { 10, 10 })]
    [TestCase(new int[0])]
    public void Cutoffs_Invalid_Throws(int[] cutoffs)
    {
        var exception = Assert.Throws<ArgumentException>(() => _ = new EvaluationOptions { Cutoffs = cutoffs });

        Assert.That(exception!.ParamName, Is.EqualTo("Cutoffs"));
    }
}
