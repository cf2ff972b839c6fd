// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Text.RegularExpressions;
using Muvera.Onnx;

namespace Muvera.Samples.LocalSearch;

/// <summary>A word of a text as the BERT pre-tokenizer sees it: a run of letters and digits or one punctuation
/// character, with its character span and the number of WordPiece tokens it becomes.</summary>
/// <param name="Start">The first character's index in the text.</param>
/// <param name="Length">The number of characters.</param>
/// <param name="Pieces">The number of WordPiece tokens (0 when the tokenizer drops every character, e.g. control
/// characters).</param>
public readonly record struct TextWord(int Start, int Length, int Pieces)
{
    /// <summary>The index just past the word's last character.</summary>
    public int End => Start + Length;
}

/// <summary>
/// Maps the encoder's token positions back to character spans of the text. <see cref="OnnxTokenEncoder"/> exposes token
/// ids (<see cref="OnnxTokenEncoder.TokenizeDocument"/>) but not their character offsets, so the text is split into
/// words with the BERT pre-tokenizer's rule (white space separates words; every punctuation character is a word of its
/// own) and each word is tokenized alone: WordPiece never crosses a word boundary, so the word's pieces are exactly the
/// positions it occupies in the whole text. Piece counts are cached per word, which makes token counting of a corpus
/// cost one dictionary look-up per word.
/// </summary>
/// <remarks>Assumes the encoder keeps one vector per position (no skipped punctuation or tokens), which holds for the
/// default all-MiniLM-L6-v2 conventions; <see cref="MapPositions"/> returns null when the count disagrees with the
/// vectors. Thread-safe.</remarks>
public sealed partial class TokenAligner
{
    // Bounds the cache so that a folder of random identifiers cannot grow it without limit.
    private const int MaxCachedWords = 200_000;

    private readonly OnnxTokenEncoder _encoder;
    private readonly ConcurrentDictionary<string, int> _pieces = new(StringComparer.Ordinal);

    /// <summary>Creates an aligner for the encoder's tokenizer.</summary>
    /// <param name="encoder">The encoder whose tokenizer defines the pieces (not owned).</param>
    public TokenAligner(OnnxTokenEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        _encoder = encoder;

        // "." is one piece in every BERT vocabulary, so the rest of its sequence is the special positions:
        // [CLS] (and a marker, if any) before the text and [SEP] after it.
        int specials = encoder.TokenizeDocument(".").Length - 1;
        LeadingSpecials = Math.Max(0, specials - 1);
        TrailingSpecials = specials - LeadingSpecials;
        MaxDocumentPieces = encoder.Conventions.DocumentMaxLength - specials;
    }

    /// <summary>Positions before the first text token in a document sequence ([CLS] and a marker, if any).</summary>
    public int LeadingSpecials { get; }

    /// <summary>Positions after the last text token ([SEP]).</summary>
    public int TrailingSpecials { get; }

    /// <summary>The most text tokens a document holds before the encoder truncates it.</summary>
    public int MaxDocumentPieces { get; }

    /// <summary>Splits <paramref name="text"/> into words with their piece counts.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The words in text order.</returns>
    public List<TextWord> Words(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = new List<TextWord>();
        foreach (Match match in WordOrPunctuation().Matches(text))
        {
            words.Add(new TextWord(match.Index, match.Length, PiecesOf(match.Value)));
        }

        return words;
    }

    /// <summary>The number of text tokens (specials excluded) of <paramref name="text"/>.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The token count.</returns>
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int total = 0;
        foreach (Match match in WordOrPunctuation().Matches(text))
        {
            total += PiecesOf(match.Value);
        }

        return total;
    }

    /// <summary>For each position of the document sequence of a text, the index of the word it belongs
    /// to in <paramref name="words"/>, or -1 for special positions.</summary>
    /// <param name="words">The text's words (<see cref="Words"/>).</param>
    /// <param name="positions">The number of vectors the encoder produced for the text.</param>
    /// <returns>The map, or null when the word pieces do not add up to <paramref name="positions"/> (another
    /// tokenizer configuration), in which case the caller shows no highlights.</returns>
    public int[]? MapPositions(IReadOnlyList<TextWord> words, int positions)
    {
        ArgumentNullException.ThrowIfNull(words);
        var map = new int[positions];
        map.AsSpan().Fill(-1);
        int position = LeadingSpecials;
        int last = positions - TrailingSpecials;
        for (int w = 0; w < words.Count && position < last; w++)
        {
            for (int p = 0; p < words[w].Pieces && position < last; p++)
            {
                map[position++] = w;
            }
        }

        return position == last ? map : null;
    }

    private int PiecesOf(string word)
    {
        if (_pieces.TryGetValue(word, out int pieces))
        {
            return pieces;
        }

        try
        {
            pieces = _encoder.TokenizeDocument(word).Length - LeadingSpecials - TrailingSpecials;
        }
        catch (ArgumentException)
        {
            // Only characters the normaliser removes (control or format characters): no token.
            pieces = 0;
        }

        if (_pieces.Count < MaxCachedWords)
        {
            _pieces.TryAdd(word, pieces);
        }

        return pieces;
    }

    // Hugging Face's BertPreTokenizer: one punctuation character (Unicode P* or any ASCII symbol), or a run of other
    // non-white-space characters. The same pattern Muvera.Onnx plugs into its tokenizer.
    [GeneratedRegex(@"[\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]|[^\s\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]+", RegexOptions.CultureInvariant)]
    private static partial Regex WordOrPunctuation();
}
