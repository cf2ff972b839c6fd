// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace Muvera.Samples.LocalSearch;

/// <summary>A passage cut from a file: its text and where it lies.</summary>
/// <param name="Text">The passage text (an exact substring of the file's text).</param>
/// <param name="Start">The index of its first character in the file's text.</param>
/// <param name="StartLine">Its first line (1-based).</param>
/// <param name="EndLine">Its last line (1-based, inclusive).</param>
/// <param name="Tokens">Its text tokens (specials excluded).</param>
public sealed record Passage(string Text, int Start, int StartLine, int EndLine, int Tokens);

/// <summary>
/// Cuts a text into passages of about <see cref="TargetTokens"/> tokens that overlap by up to
/// <see cref="OverlapTokens"/>, cutting only between sentences or paragraphs (a sentence longer than a passage is cut
/// between lines, then between words). Token counts come from the encoder's own tokenizer (<see cref="TokenAligner"/>),
/// so a passage never exceeds what the model reads.
/// </summary>
/// <remarks>Deterministic: the same text always gives the same passages. Thread-safe.</remarks>
public sealed partial class PassageSplitter
{
    /// <summary>The default passage size in text tokens.</summary>
    public const int DefaultTargetTokens = 180;

    /// <summary>The default overlap between consecutive passages in text tokens.</summary>
    public const int DefaultOverlapTokens = 40;

    private readonly TokenAligner _aligner;

    /// <summary>Creates a splitter.</summary>
    /// <param name="aligner">Counts tokens.</param>
    /// <param name="targetTokens">The passage size in text tokens (at most what the model reads).</param>
    /// <param name="overlapTokens">The overlap in text tokens (less than half the passage size).</param>
    public PassageSplitter(TokenAligner aligner, int targetTokens = DefaultTargetTokens, int overlapTokens = DefaultOverlapTokens)
    {
        ArgumentNullException.ThrowIfNull(aligner);
        ArgumentOutOfRangeException.ThrowIfLessThan(targetTokens, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetTokens, aligner.MaxDocumentPieces);
        ArgumentOutOfRangeException.ThrowIfNegative(overlapTokens);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(overlapTokens, targetTokens / 2);
        _aligner = aligner;
        TargetTokens = targetTokens;
        OverlapTokens = overlapTokens;
    }

    /// <summary>The passage size in text tokens.</summary>
    public int TargetTokens { get; }

    /// <summary>The overlap between consecutive passages in text tokens.</summary>
    public int OverlapTokens { get; }

    /// <summary>Cuts <paramref name="text"/> into passages.</summary>
    /// <param name="text">The file's text.</param>
    /// <returns>The passages in text order; none when the text has no tokens.</returns>
    public List<Passage> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<Unit> units = Units(text);
        var lineStarts = LineStarts(text);
        var passages = new List<Passage>();
        int first = 0;
        while (first < units.Count)
        {
            // Grow the passage unit by unit. A paragraph that would not fit whole starts the next passage instead, when
            // this one is already well filled, so passages tend to end where paragraphs do.
            int last = first;
            int tokens = units[first].Tokens;
            while (last + 1 < units.Count && tokens + units[last + 1].Tokens <= TargetTokens)
            {
                Unit next = units[last + 1];
                if (next.StartsParagraph && tokens >= TargetTokens * 3 / 5 && tokens + ParagraphTokens(units, last + 1) > TargetTokens)
                {
                    break;
                }

                last++;
                tokens += next.Tokens;
            }

            int start = units[first].Start;
            int end = units[last].End;
            passages.Add(new Passage(text[start..end], start, LineOf(lineStarts, start), LineOf(lineStarts, end - 1), tokens));
            if (last + 1 >= units.Count)
            {
                break;
            }

            // The next passage repeats the trailing units that fit in the overlap, and always moves forward.
            int overlapFirst = last + 1;
            int overlap = 0;
            while (overlapFirst - 1 > first && overlap + units[overlapFirst - 1].Tokens <= OverlapTokens)
            {
                overlapFirst--;
                overlap += units[overlapFirst].Tokens;
            }

            first = overlapFirst;
        }

        return passages;
    }

    private static int ParagraphTokens(List<Unit> units, int first)
    {
        int tokens = units[first].Tokens;
        for (int i = first + 1; i < units.Count && !units[i].StartsParagraph; i++)
        {
            tokens += units[i].Tokens;
        }

        return tokens;
    }

    // Sentences (or lines, or word runs when a sentence is too long), each with its token count; units with no token
    // (blank lines, markup the tokenizer drops) are skipped.
    private List<Unit> Units(string text)
    {
        var units = new List<Unit>();
        foreach (Match paragraph in Paragraph().Matches(text))
        {
            bool startsParagraph = true;
            foreach (Match sentence in Sentence().Matches(paragraph.Value))
            {
                int start = paragraph.Index + sentence.Index;
                AddUnit(units, text, start, start + sentence.Length, ref startsParagraph, byLines: true);
            }
        }

        return units;
    }

    private void AddUnit(List<Unit> units, string text, int start, int end, ref bool startsParagraph, bool byLines)
    {
        int tokens = _aligner.CountTokens(text[start..end]);
        if (tokens == 0)
        {
            return;
        }

        if (tokens <= TargetTokens)
        {
            units.Add(new Unit(start, end, tokens, startsParagraph));
            startsParagraph = false;
            return;
        }

        if (byLines && text.AsSpan(start, end - start).Contains('\n'))
        {
            foreach (Match line in Line().Matches(text[start..end]))
            {
                AddUnit(units, text, start + line.Index, start + line.Index + line.Length, ref startsParagraph, byLines: false);
            }

            return;
        }

        // One line longer than a passage: cut between words.
        List<TextWord> words = _aligner.Words(text[start..end]);
        int pieceStart = -1;
        int pieceTokens = 0;
        int pieceEnd = start;
        foreach (TextWord word in words)
        {
            if (pieceStart >= 0 && pieceTokens + word.Pieces > TargetTokens)
            {
                units.Add(new Unit(pieceStart, pieceEnd, pieceTokens, startsParagraph));
                startsParagraph = false;
                pieceStart = -1;
                pieceTokens = 0;
            }

            if (pieceStart < 0)
            {
                pieceStart = start + word.Start;
            }

            pieceTokens += word.Pieces;
            pieceEnd = start + word.End;
        }

        if (pieceStart >= 0 && pieceTokens > 0)
        {
            units.Add(new Unit(pieceStart, pieceEnd, pieceTokens, startsParagraph));
            startsParagraph = false;
        }
    }

    private static List<int> LineStarts(string text)
    {
        var starts = new List<int> { 0 };
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                starts.Add(i + 1);
            }
        }

        return starts;
    }

    private static int LineOf(List<int> lineStarts, int index)
    {
        int found = lineStarts.BinarySearch(index);
        return (found >= 0 ? found : ~found - 1) + 1;
    }

    // Text between blank lines (a line holding only white space counts as blank).
    [GeneratedRegex(@"\S(?:.|\n(?![ \t\r\f\v]*(?:\n|\z)))*", RegexOptions.CultureInvariant)]
    private static partial Regex Paragraph();

    // A sentence: up to and including . ! or ? followed by white space, or the rest of the paragraph. Markdown list
    // items and headings are single lines, so a line break before "-", "*", "#", "|", ">" or a digit also ends one.
    [GeneratedRegex(@"\S(?:[^\n]|\n(?![ \t]*(?:[-*+#|>]|\d+[.)])\s))*?(?:[.!?](?=\s|\z)|(?=\n[ \t]*(?:[-*+#|>]|\d+[.)])\s)|\z)", RegexOptions.CultureInvariant)]
    private static partial Regex Sentence();

    [GeneratedRegex(@"[^\n]*\S[^\n]*", RegexOptions.CultureInvariant)]
    private static partial Regex Line();

    private readonly record struct Unit(int Start, int End, int Tokens, bool StartsParagraph);
}
