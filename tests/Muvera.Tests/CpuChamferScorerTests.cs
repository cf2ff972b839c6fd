// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Scoring;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

/// <summary>Exact Chamfer scoring: the fused kernel at every width against a double-precision reference, and the API.</summary>
[TestFixture]
public sealed class CpuChamferScorerTests
{
    private static readonly int[] s_widths = [(int)SimdWidth.Scalar, (int)SimdWidth.Vector128, (int)SimdWidth.Vector256, (int)SimdWidth.Vector512];

    public static IEnumerable<TestCaseData> DimensionsAtEveryWidth =>
        from d in new[] { 1, 7, 96, 128, 130, 384 }
        from width in s_widths
        select new TestCaseData(d, width).SetArgDisplayNames($"d={d}", ((SimdWidth)width).ToString());

    [TestCaseSource(nameof(DimensionsAtEveryWidth))]
    public void MaxSimSum_EveryDocumentLength0To64_EqualsDoubleReferenceAndScalarBits(int dimension, int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        var random = new System.Random((dimension * 31) + simdWidth);
        foreach (int queryTokens in new[] { 1, 3, 4, 5, 32 })
        {
            float[] query = TestVectors.Gaussian(random, queryTokens * dimension);
            var q = new ReadOnlyMultiVector(query, dimension);
            for (int documentTokens = 0; documentTokens <= 64; documentTokens++)
            {
                float[] document = TestVectors.Gaussian(random, documentTokens * dimension);
                var doc = new ReadOnlyMultiVector(document, dimension);
                float actual = CpuChamferScorer.ScoreUnchecked(q, doc, width);
                float scalar = CpuChamferScorer.ScoreUnchecked(q, doc, SimdWidth.Scalar);
                Assert.That(BitConverter.SingleToInt32Bits(actual), Is.EqualTo(BitConverter.SingleToInt32Bits(scalar)),
                    $"{width} vs scalar, |Q|={queryTokens} |D|={documentTokens}");
                if (documentTokens == 0)
                {
                    Assert.That(actual, Is.EqualTo(float.NegativeInfinity));
                    continue;
                }

                (double expected, double magnitude) = ReferenceChamfer(query, document, dimension);
                Assert.That(actual, Is.EqualTo(expected).Within((1e-5 * magnitude) + 1e-6), $"{width} |Q|={queryTokens} |D|={documentTokens}");
            }
        }
    }

    [Test]
    public void MaxSimSum_AllScoresNegative_PaddingNeverWins()
    {
        // Every real dot product is negative; the zero padding columns must not contribute their 0.
        float[] query = [1f, 0f];
        float[] document = [-1f, -0.5f, -2f, 0f, -0.25f, -0.25f];
        var scorer = new CpuChamferScorer();
        float score = scorer.Score(new ReadOnlyMultiVector(query, 2), new ReadOnlyMultiVector(document, 2));
        Assert.That(score, Is.EqualTo(-0.25f));
    }

    [Test]
    public void Score_EmptyDocument_IsNegativeInfinity() =>
        Assert.That(new CpuChamferScorer().Score(new ReadOnlyMultiVector(new float[] { 1f, 2f }, 2), new ReadOnlyMultiVector(Array.Empty<float>(), 2)),
            Is.EqualTo(float.NegativeInfinity));

    [Test]
    public void Score_EmptyQuery_ThrowsNamingQuery()
    {
        var scorer = new CpuChamferScorer();
        ArgumentException? e = Assert.Throws<ArgumentException>(() =>
            scorer.Score(new ReadOnlyMultiVector(Array.Empty<float>(), 4), new ReadOnlyMultiVector(new float[4], 4)));
        Assert.That(e!.ParamName, Is.EqualTo("query"));
    }

    [Test]
    public void Score_DimensionMismatch_ThrowsNamingBothDimensions()
    {
        var scorer = new CpuChamferScorer();
        ArgumentException? e = Assert.Throws<ArgumentException>(() =>
            scorer.Score(new ReadOnlyMultiVector(new float[8], 4), new ReadOnlyMultiVector(new float[6], 3)));
        Assert.That(e!.Message, Does.Contain("3").And.Contain("4"));
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    public void Score_NonFiniteValue_ThrowsNamingTokenAndCoordinate(float bad)
    {
        float[] document = new float[12];
        document[7] = bad;
        var scorer = new CpuChamferScorer();
        ArgumentException? e = Assert.Throws<ArgumentException>(() =>
            scorer.Score(new ReadOnlyMultiVector(new float[4], 4), new ReadOnlyMultiVector(document, 4)));
        Assert.That(e!.Message, Does.Contain("token 1").And.Contain("coordinate 3"));
    }

    [Test]
    public void Score_BatchWithNonFiniteDocuments_NamesTheLowestBadDocument()
    {
        ReadOnlyMultiVector[] documents = Enumerable.Range(0, 40).Select(_ => new ReadOnlyMultiVector(new float[8], 4)).ToArray();
        float[] bad = new float[8];
        bad[5] = float.NaN;
        documents[23] = new ReadOnlyMultiVector(bad, 4);
        documents[7] = new ReadOnlyMultiVector(bad, 4);
        ArgumentException? e = Assert.Throws<ArgumentException>(() =>
            new CpuChamferScorer().Score(new ReadOnlyMultiVector(new float[4], 4), documents, new float[40]));
        Assert.That(e!.Message, Does.Contain("documents[7]").And.Contain("token 1").And.Contain("coordinate 1"));
    }

    [Test]
    public void TopK_NonPositiveK_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new CpuChamferScorer().TopK(new ReadOnlyMultiVector(new float[4], 4), [new ReadOnlyMultiVector(new float[4], 4)], 0));

    [Test]
    public void TopK_TiedScores_LowerIdFirst()
    {
        float[] token = [1f, 0f];
        var documents = new[]
        {
            new ReadOnlyMultiVector(new float[] { 0.5f, 0f }, 2),
            new ReadOnlyMultiVector(token, 2),
            new ReadOnlyMultiVector(new float[] { 0.5f, 0f }, 2),
            new ReadOnlyMultiVector(token, 2),
            new ReadOnlyMultiVector(Array.Empty<float>(), 2),
        };
        ScoredId[] top = new CpuChamferScorer().TopK(new ReadOnlyMultiVector(token, 2), documents, 10);
        Assert.That(top.Select(r => r.Id), Is.EqualTo(new[] { 1, 3, 0, 2, 4 }));
        Assert.That(top[0].Score, Is.EqualTo(1f));
    }

    [Test]
    public void TopK_AnyThreadCount_SameResultsAsSingleScores()
    {
        var random = new System.Random(5);
        const int D = 64;
        ReadOnlyMultiVector query = new(TestVectors.Gaussian(random, 9 * D), D);
        ReadOnlyMultiVector[] documents = Enumerable.Range(0, 300)
            .Select(i => new ReadOnlyMultiVector(TestVectors.Gaussian(random, (i % 37) * D), D)).ToArray();
        var single = new CpuChamferScorer(new ParallelOptions { MaxDegreeOfParallelism = 1 });
        float[] expected = documents.Select(doc => single.Score(query, doc)).ToArray();
        ScoredId[] reference = expected.Select((s, i) => new ScoredId(i, s)).Order().Take(25).ToArray();
        foreach (int threads in new[] { 1, 2, -1 })
        {
            var scorer = new CpuChamferScorer(new ParallelOptions { MaxDegreeOfParallelism = threads });
            float[] scores = new float[documents.Length];
            scorer.Score(query, documents, scores);
            Assert.That(scores, Is.EqualTo(expected), $"threads {threads}");
            Assert.That(scorer.TopK(query, documents, 25), Is.EqualTo(reference), $"threads {threads}");
        }
    }

    [Test]
    public void Score_SinglePair_AllocatesNothing()
    {
        var random = new System.Random(8);
        var query = new ReadOnlyMultiVector(TestVectors.Gaussian(random, 32 * 128), 128);
        var document = new ReadOnlyMultiVector(TestVectors.Gaussian(random, 80 * 128), 128);
        var scorer = new CpuChamferScorer();
        scorer.Score(query, document);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            scorer.Score(query, document);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void Score_ShortScoresSpan_Throws() =>
        Assert.Throws<ArgumentException>(() => new CpuChamferScorer().Score(
            new ReadOnlyMultiVector(new float[4], 4), [new ReadOnlyMultiVector(new float[4], 4), new ReadOnlyMultiVector(new float[4], 4)], new float[1]));

    private static (double Value, double Magnitude) ReferenceChamfer(float[] query, float[] document, int d)
    {
        double total = 0;
        double magnitude = 0;
        for (int q = 0; q < query.Length / d; q++)
        {
            double best = double.NegativeInfinity;
            double bestMagnitude = 0;
            for (int t = 0; t < document.Length / d; t++)
            {
                double dot = 0;
                double abs = 0;
                for (int i = 0; i < d; i++)
                {
                    dot += (double)query[(q * d) + i] * document[(t * d) + i];
                    abs += Math.Abs((double)query[(q * d) + i] * document[(t * d) + i]);
                }

                if (dot > best)
                {
                    best = dot;
                    bestMagnitude = abs;
                }
            }

            total += best;
            magnitude += bestMagnitude;
        }

        return (total, magnitude);
    }
}
