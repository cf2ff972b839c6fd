// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Beir.Tests;

public sealed class TrecOrderTests
{
    [Test]
    public void Compare_HigherScoreFirst()
    {
        Assert.That(TrecOrder.Instance.Compare(new("a", 2), new("z", 1)), Is.Negative);
    }

    [Test]
    public void Compare_EqualScores_LargerDocnoFirst()
    {
        Assert.Multiple(() =>
        {
            Assert.That(TrecOrder.Instance.Compare(new("b", 1), new("a", 1)), Is.Negative);
            Assert.That(TrecOrder.Instance.Compare(new("d9", 1), new("d10", 1)), Is.Negative);
            Assert.That(TrecOrder.Instance.Compare(new("ab", 1), new("a", 1)), Is.Negative, "a prefix sorts first under strcmp, so last here");
        });
    }

    [Test]
    public void CompareUtf8_SupplementaryVersusHighBmp_FollowsCodePointOrder()
    {
        // U+1F600 (UTF-16 D83D DE00, UTF-8 F0 9F 98 80) is above U+FF5E (UTF-8 EF BD 9E) for strcmp on UTF-8,
        // though its first UTF-16 code unit is below: ordinal UTF-16 comparison gets this pair the wrong way round.
        const string Emoji = "\U0001F600";
        const string Fullwidth = "\uFF5E";

        Assert.Multiple(() =>
        {
            Assert.That(string.CompareOrdinal(Emoji, Fullwidth), Is.Negative);
            Assert.That(TrecOrder.CompareUtf8(Emoji, Fullwidth), Is.Positive);
            Assert.That(TrecOrder.CompareUtf8("a\u00E9", "a\u00E8"), Is.Positive);
            Assert.That(TrecOrder.CompareUtf8("same", "same"), Is.Zero);
        });
    }

    [Test]
    public void CompareUtf8_MatchesByteComparisonOnMixedStrings()
    {
        string[] values = ["", "a", "ab", "\u00FF", "\u0800", "\uD7FF", "\uE000", "\uFFFD", "\U00010000", "\U0010FFFF", "z\U0001F600", "z\uFFFF"];
        var utf8 = new System.Text.UTF8Encoding(false);
        Assert.Multiple(() =>
        {
            foreach (string a in values)
            {
                foreach (string b in values)
                {
                    int expected = Math.Sign(((ReadOnlySpan<byte>)utf8.GetBytes(a)).SequenceCompareTo(utf8.GetBytes(b)));
                    Assert.That(Math.Sign(TrecOrder.CompareUtf8(a, b)), Is.EqualTo(expected), $"{a} vs {b}");
                }
            }
        });
    }
}
