// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

/// <summary>The checked-in ColBERTv2 sample holds what its SOURCE.md says it holds.</summary>
[TestFixture]
public sealed class ColbertNanoFiqaTests
{
    private static ColbertNanoFiqa Data => ColbertNanoFiqa.Instance;

    [Test]
    public void Load_CheckedInSample_HasDocumentedShapes()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Data.QueryIds, Is.EqualTo(new[] { "10447", "11039", "1736", "2296", "2348" }));
            Assert.That(Data.Queries, Has.Count.EqualTo(5));
            Assert.That(Data.Queries.Select(q => (q.Count, q.Dimension)), Has.All.EqualTo((ColbertNanoFiqa.QueryTokens, ColbertNanoFiqa.Dimension)));
            Assert.That(Data.Documents, Has.Count.EqualTo(35));
            Assert.That(Data.DocumentIds, Has.Count.EqualTo(35));
            Assert.That(Data.Documents.Select(d => d.Dimension), Has.All.EqualTo(ColbertNanoFiqa.Dimension));
            Assert.That(Data.Documents.Sum(d => d.Count), Is.EqualTo(4430), "tokens in all documents");
            Assert.That(Data.Documents[0].Count, Is.EqualTo(113), "tokens of emb_0");
        });
    }

    [Test]
    public void Load_CheckedInSample_IdsAreOrdinallySortedAndEachDocumentIsRelevantToOneQuery()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Data.DocumentIds, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
            Assert.That(Data.QueryIds, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));

            // Ordinal, not numeric: "25543" sorts between "253563" and "268261".
            Assert.That(Data.DocumentIds[10], Is.EqualTo("25543"));
            Assert.That(Data.Relevant.Values.Sum(set => set.Count), Is.EqualTo(35), "judged pairs");
            foreach (string document in Data.DocumentIds)
            {
                Assert.That(Data.Relevant.Values.Count(set => set.Contains(document)), Is.EqualTo(1), $"queries judging document {document}");
            }
        });
    }

    [Test]
    public void Load_CheckedInSample_TokenVectorsAreUnitLength()
    {
        // PyLate ran with normalize_embeddings=True, so every token (query augmentation included) has norm 1.
        double worst = 0;
        foreach (ReadOnlyMultiVector vectors in Data.Queries.Concat(Data.Documents))
        {
            for (int t = 0; t < vectors.Count; t++)
            {
                double squared = 0;
                foreach (float x in vectors[t])
                {
                    squared += (double)x * x;
                }

                worst = Math.Max(worst, Math.Abs(Math.Sqrt(squared) - 1.0));
            }
        }

        TestContext.Out.WriteLine($"largest deviation of a token norm from 1: {worst:E2}");
        Assert.That(worst, Is.LessThan(1e-5));
    }
}
