// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Linq;
using System.Text;
using Muvera.Samples.LocalSearch.Tests.Fixtures;

namespace Muvera.Samples.LocalSearch.Tests;

/// <summary>Passages: size in the encoder's tokens, overlap, cuts on sentence and paragraph boundaries, line ranges.</summary>
[TestFixture]
public sealed class PassageSplitterTests
{
    private static readonly TokenAligner s_aligner = new(TestFolders.Encoder);

    [Test]
    public void Split_LongText_PassagesWithinTargetOverlapAndCoverEverySentence()
    {
        var text = new StringBuilder();
        for (int paragraph = 0; paragraph < 12; paragraph++)
        {
            for (int sentence = 0; sentence < 5; sentence++)
            {
                text.Append($"Paragraph {paragraph} sentence {sentence} talks about vectors, tokens and indexes. ");
            }

            text.Append("\n\n");
        }

        var splitter = new PassageSplitter(s_aligner, targetTokens: 60, overlapTokens: 15);
        var passages = splitter.Split(text.ToString());

        Assert.Multiple(() =>
        {
            Assert.That(passages, Has.Count.GreaterThan(5));
            Assert.That(passages.Select(p => p.Tokens), Has.All.LessThanOrEqualTo(60));
            Assert.That(passages.Select(p => s_aligner.CountTokens(p.Text)), Is.EqualTo(passages.Select(p => p.Tokens)));
            Assert.That(passages.Select(p => p.Text), Has.All.Match(@"(?s)^Paragraph \d+ sentence \d+ .*\.$"),
                "every passage starts and ends on a sentence boundary");
            Assert.That(passages.Zip(passages.Skip(1)).All(p => p.Second.Start < p.First.Start + p.First.Text.Length), Is.True, "consecutive passages overlap");
            Assert.That(passages.Zip(passages.Skip(1)).All(p => p.Second.Start > p.First.Start), Is.True, "and always move forward");
            for (int paragraph = 0; paragraph < 12; paragraph++)
            {
                for (int sentence = 0; sentence < 5; sentence++)
                {
                    Assert.That(passages.Any(p => p.Text.Contains($"Paragraph {paragraph} sentence {sentence} ", StringComparison.Ordinal)), Is.True);
                }
            }
        });
    }

    [Test]
    public void Split_Markdown_LineRangesMatchTheText()
    {
        string text = "# Title\n\nFirst paragraph line one.\nLine two of it.\n\n- item one\n- item two\n\nLast paragraph.";
        var passages = new PassageSplitter(s_aligner).Split(text);
        Assert.Multiple(() =>
        {
            Assert.That(passages, Has.Count.EqualTo(1));
            Assert.That(passages[0].StartLine, Is.EqualTo(1));
            Assert.That(passages[0].EndLine, Is.EqualTo(9));
            Assert.That(passages[0].Text, Is.EqualTo(text));
        });
    }

    [Test]
    public void Split_LineLongerThanAPassage_CutBetweenWords()
    {
        string text = string.Join(' ', Enumerable.Range(0, 400).Select(i => $"word{i}"));
        var passages = new PassageSplitter(s_aligner, targetTokens: 50, overlapTokens: 0).Split(text);
        Assert.Multiple(() =>
        {
            Assert.That(passages.Select(p => p.Tokens), Has.All.LessThanOrEqualTo(50));
            Assert.That(string.Join(' ', passages.Select(p => p.Text)), Is.EqualTo(text));
        });
    }

    [Test]
    public void Split_NoTokens_NoPassage()
    {
        Assert.That(new PassageSplitter(s_aligner).Split(" \n\n\t \u200B\n"), Is.Empty);
    }

    [Test]
    public void Constructor_OverlapNotBelowHalfTheTarget_Throws()
    {
        Assert.That(() => new PassageSplitter(s_aligner, targetTokens: 100, overlapTokens: 50), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
