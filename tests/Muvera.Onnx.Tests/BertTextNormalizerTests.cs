// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;
using System.Linq;
using Muvera.Onnx.Tokenization;

namespace Muvera.Onnx.Tests;

/// <summary>Hugging Face BertNormalizer / BertPreTokenizer rules, step by step.</summary>
[TestFixture]
public sealed class BertTextNormalizerTests
{
    private static readonly BertTextNormalizer s_uncased = new(cleanText: true, handleChineseCharacters: true, stripAccents: true, lowercase: true);

    [TestCase("a\nb\tc\rd", "a b c d")]
    [TestCase("a\u00A0b\u3000c", "a b c")]
    [TestCase("co\u00ADop\u200Bx\u0007\u0000\uFFFD", "coopx")]
    [TestCase("ÉCOLE Ångström", "ecole angstrom")]
    [TestCase("東京", " 東  京 ")]
    [TestCase("한", "\u1112\u1161\u11AB")]
    public void Normalize_Uncased_FollowsHuggingFaceRules(string text, string expected) =>
        Assert.That(s_uncased.Normalize(text), Is.EqualTo(expected));

    [Test]
    public void Normalize_AllStepsOff_LeavesTextUnchanged()
    {
        var none = new BertTextNormalizer(cleanText: false, handleChineseCharacters: false, stripAccents: false, lowercase: false);
        Assert.That(none.Normalize("Ça\tva 東京\u00AD"), Is.EqualTo("Ça\tva 東京\u00AD"));
    }

    [Test]
    public void Normalize_CasedWithoutStripping_KeepsAccentsAndCase()
    {
        var cased = new BertTextNormalizer(cleanText: true, handleChineseCharacters: true, stripAccents: false, lowercase: false);
        Assert.That(cased.Normalize("Café"), Is.EqualTo("Café"));
    }

    [TestCase("p<0.05", new[] { "p", "<", "0", ".", "05" })]
    [TestCase("a©b ½x", new[] { "a©b", "½x" })]
    [TestCase("foo_bar–baz", new[] { "foo", "_", "bar", "–", "baz" })]
    [TestCase("[mask] x[sep]", new[] { "[mask]", "x", "[sep]" })]
    public void CreatePreTokenizer_SplitsOnWhiteSpaceAndPunctuation(string text, string[] expected)
    {
        var specials = new Dictionary<string, int> { ["[mask]"] = 103, ["[sep]"] = 102 };
        IEnumerable<string> pieces = BertTextNormalizer.CreatePreTokenizer(specials).PreTokenize(text).Select(split => text.Substring(split.Offset, split.Length));
        Assert.That(pieces, Is.EqualTo(expected));
    }
}
