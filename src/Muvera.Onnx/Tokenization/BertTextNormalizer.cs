// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Muvera.Onnx.Tokenization;

/// <summary>
/// BERT text normalisation with the rules of Hugging Face's <c>BertNormalizer</c> (the <c>tokenizer.json</c> of BERT
/// models, used by sentence-transformers and PyLate), plugged into <see cref="BertTokenizer"/> through
/// <c>BertOptions.Normalizer</c>; WordPiece itself stays the library's.
/// </summary>
/// <remarks>
/// <para>Why not the library's own: Microsoft.ML.Tokenizers 2.0.1's BERT normaliser deletes tab, newline and carriage
/// return instead of turning them into spaces (so "hello\nworld" becomes one word, "hello ##world"), keeps format
/// characters such as the soft hyphen and zero-width space, drops spacing combining marks when stripping accents and
/// re-composes the text to NFC at the end (Hangul syllables then become [UNK] instead of jamo pieces).</para>
/// <para>Steps, in Hugging Face's order: (1) clean text: drop U+0000, U+FFFD and every "other" character (categories
/// Cc, Cf, Cs, Co, Cn) except tab, newline and carriage return, then turn every white-space character into a space;
/// (2) put spaces around CJK ideographs; (3) strip accents: NFD, then drop non-spacing marks (Mn); (4) lower-case.
/// Thread-safe (stateless apart from its flags).</para>
/// </remarks>
internal sealed partial class BertTextNormalizer : Normalizer
{
    private readonly bool _cleanText;
    private readonly bool _handleChineseCharacters;
    private readonly bool _stripAccents;
    private readonly bool _lowercase;

    public BertTextNormalizer(bool cleanText, bool handleChineseCharacters, bool stripAccents, bool lowercase)
    {
        _cleanText = cleanText;
        _handleChineseCharacters = handleChineseCharacters;
        _stripAccents = stripAccents;
        _lowercase = lowercase;
    }

    public override string Normalize(string original) => Normalize(original.AsSpan());

    public override string Normalize(ReadOnlySpan<char> original)
    {
        var builder = new StringBuilder(original.Length + 8);
        Span<char> utf16 = stackalloc char[2];
        foreach (Rune rune in original.EnumerateRunes())
        {
            // A lone surrogate arrives as U+FFFD and is dropped like the real U+FFFD.
            if (_cleanText)
            {
                if (rune.Value == 0 || rune.Value == 0xFFFD || IsControl(rune))
                {
                    continue;
                }

                if (IsWhiteSpace(rune))
                {
                    builder.Append(' ');
                    continue;
                }
            }

            int length = rune.EncodeToUtf16(utf16);
            if (_handleChineseCharacters && IsChineseCharacter(rune.Value))
            {
                builder.Append(' ').Append(utf16[..length]).Append(' ');
            }
            else
            {
                builder.Append(utf16[..length]);
            }
        }

        string text = builder.ToString();
        if (_stripAccents)
        {
            text = StripNonSpacingMarks(text.Normalize(NormalizationForm.FormD));
        }

        return _lowercase ? text.ToLowerInvariant() : text;
    }

    /// <summary>The pre-tokenizer of Hugging Face's <c>BertPreTokenizer</c>: split on white space (removed), and make every
    /// punctuation character a token of its own. Punctuation is Unicode category P* plus all ASCII non-alphanumeric
    /// symbols (<c>$</c>, <c>+</c>, <c>&lt;</c>, <c>=</c>, <c>&gt;</c>, <c>^</c>, <c>`</c>, <c>|</c>, <c>~</c> are
    /// punctuation for BERT though Unicode calls them symbols); every other character (©, °, ½, …) belongs to a word.</summary>
    /// <param name="specialTokens">Special tokens, as they appear after normalisation, to keep whole.</param>
    /// <returns>The pre-tokenizer. (The library's BERT pre-tokenizer, <c>\w+|\p{P}</c>, silently drops every symbol
    /// character, so "p &lt; 0.05" would lose its "&lt;".)</returns>
    public static PreTokenizer CreatePreTokenizer(System.Collections.Generic.IReadOnlyDictionary<string, int> specialTokens) =>
        new RegexPreTokenizer(WordOrPunctuation(), specialTokens);

    [GeneratedRegex(@"[\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]|[^\s\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]+", RegexOptions.CultureInvariant)]
    private static partial Regex WordOrPunctuation();

    private static string StripNonSpacingMarks(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark)
            {
                builder.Append(rune.ToString());
            }
        }

        return builder.ToString();
    }

    // Hugging Face (Rust): tab, newline and carriage return are white space; every other character of general category
    // "Other" (Cc, Cf, Cs, Co, Cn) is a control character and is removed.
    private static bool IsControl(Rune rune)
    {
        if (rune.Value is '\t' or '\n' or '\r')
        {
            return false;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    // Unicode White_Space (Rust's char::is_whitespace), which Rune.IsWhiteSpace also implements.
    private static bool IsWhiteSpace(Rune rune) => Rune.IsWhiteSpace(rune);

    // The CJK ideograph blocks of Hugging Face's BertNormalizer (Rust), not Hangul, kana or CJK punctuation.
    private static bool IsChineseCharacter(int codePoint) =>
        codePoint is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
