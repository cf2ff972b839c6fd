// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Linq;
using Muvera.Samples.LocalSearch.Tests.Fixtures;

namespace Muvera.Samples.LocalSearch.Tests;

/// <summary>Word pieces counted word by word add up to the encoder's own tokenization of the whole text.</summary>
[TestFixture]
public sealed class TokenAlignerTests
{
    private static readonly TokenAligner s_aligner = new(TestFolders.Encoder);

    [TestCase("Ball carving merges query tokens (τ = 0.7) before reranking.")]
    [TestCase("Crème brûlée, naïve café: accents are stripped; p < 0.05 & x ≥ 3!")]
    [TestCase("Embeddings of unbelievably long hyphenated-compound-words, URLs like https://example.org/a?b=c and ## signs.")]
    [TestCase("中文字符 and ﬁligature\tTabs\nnewlines\u200Bzero-width")]
    public void CountTokens_AnyText_EqualsTheEncodersDocumentTokens(string text)
    {
        int[] ids = TestFolders.Encoder.TokenizeDocument(text);
        Assert.Multiple(() =>
        {
            Assert.That(s_aligner.CountTokens(text), Is.EqualTo(ids.Length - s_aligner.LeadingSpecials - s_aligner.TrailingSpecials));
            Assert.That(s_aligner.LeadingSpecials, Is.EqualTo(1));
            Assert.That(s_aligner.TrailingSpecials, Is.EqualTo(1));
        });
    }

    [Test]
    public void MapPositions_EncodedText_EveryTextPositionMapsToItsWordInOrder()
    {
        const string Text = "Chamfer similarity sums MaxSim scores.";
        var words = s_aligner.Words(Text);
        ReadOnlyMultiVector vectors = TestFolders.Encoder.EncodeDocument(Text);
        int[]? map = s_aligner.MapPositions(words, vectors.Count);

        Assert.That(map, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(map![0], Is.EqualTo(-1), "[CLS]");
            Assert.That(map[^1], Is.EqualTo(-1), "[SEP]");
            Assert.That(map[1..^1], Is.Ordered);
            Assert.That(map[1..^1].Distinct(), Is.EqualTo(Enumerable.Range(0, words.Count)));
            Assert.That(words.Select(w => Text.Substring(w.Start, w.Length)), Is.EqualTo(new[] { "Chamfer", "similarity", "sums", "MaxSim", "scores", "." }));
        });
    }

    [Test]
    public void MapPositions_CountDisagrees_Null()
    {
        var words = s_aligner.Words("two words");
        Assert.That(s_aligner.MapPositions(words, 9), Is.Null);
    }
}
