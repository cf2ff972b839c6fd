// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Muvera.Onnx.Tests.Fixtures;
using Muvera.Onnx.Tokenization;

namespace Muvera.Onnx.Tests;

/// <summary>
/// Tokenizer parity with BERT uncased (Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece) on the embedded
/// all-MiniLM-L6-v2 vocabulary, and the ColBERT sequence layout. Every expected id below was looked up by hand in the
/// model's vocab.txt (id = line number − 1, e.g. <c>grep -nxF 'una' vocab.txt</c> → line 14478 → id 14477), following
/// the rules: clean text (controls and format characters removed, white space → space), CJK ideographs spaced, NFD with
/// non-spacing marks removed, lower-case, split on white space and punctuation (ASCII symbols included), then greedy
/// longest-match-first WordPiece with "##" continuations and [UNK] for unmatched words. [CLS] = 101, [SEP] = 102,
/// [MASK] = 103, [UNK] = 100, [unused0] = 1, [unused1] = 2.
/// </summary>
[TestFixture]
public sealed class TextTokenizerTests
{
    private static readonly object[] s_parityCases =
    [
        // hello , world !
        new object[] { "Hello, world!", new[] { 7592, 1010, 2088, 999 } },
        // cafe naive resume: accents stripped after NFD, then lower-cased.
        new object[] { "Café naïve résumé", new[] { 7668, 15743, 13746 } },
        // ecole st ##raße: "straße" and "stra" are not in the vocabulary; ß has no decomposition.
        new object[] { "ÉCOLE Straße", new[] { 12431, 2358, 27807 } },
        // ang ##strom
        new object[] { "Ångström", new[] { 17076, 15687 } },
        // una ##ffa ##ble: no longer prefix ("unaf", "unaff", ...) is in the vocabulary.
        new object[] { "unaffable", new[] { 14477, 20961, 3468 } },
        // hello world tab: tab, newline and carriage return separate words (the library's own normaliser deletes them).
        new object[] { "hello\nworld\ttab", new[] { 7592, 2088, 21628 } },
        // p < 0 . 05 , 5 % ± 2 μ ##g / ml: ASCII symbols such as '<' are punctuation for BERT.
        new object[] { "p < 0.05, 5% ± 2 μg/mL", new[] { 1052, 1026, 1014, 1012, 5709, 1010, 1019, 1003, 1081, 1016, 1166, 2290, 1013, 19875 } },
        // $ 5 + 3 = 8 ^ ` | ~: every ASCII symbol is a token of its own.
        new object[] { "$5+3=8 ^`|~", new[] { 1002, 1019, 1009, 1017, 1027, 1022, 1034, 1036, 1064, 1066 } },
        // x ##² ½ ©: non-ASCII symbols and numbers stay inside words.
        new object[] { "x² ½ ©", new[] { 1060, 10701, 1092, 1075 } },
        // foo _ bar: the underscore is punctuation.
        new object[] { "foo_bar", new[] { 29379, 1035, 3347 } },
        // stat ##ins & breast cancer : 31 , 236 cases ( 1995 – 2003 ): the en dash is Unicode punctuation.
        new object[] { "Statins & breast cancer: 31,236 cases (1995–2003)", new[] { 28093, 7076, 1004, 7388, 4456, 1024, 2861, 1010, 23593, 3572, 1006, 2786, 1516, 2494, 1007 } },
        // state - of - the - art ( 202 ##4 ) . . .
        new object[] { "state-of-the-art (2024)...", new[] { 2110, 1011, 1997, 1011, 1996, 1011, 2396, 1006, 16798, 2549, 1007, 1012, 1012, 1012 } },
        // cooperate zero ##wi ##dt ##h: the soft hyphen and the zero-width space (format characters) are removed.
        new object[] { "co\u00ADoperate zero\u200Bwidth", new[] { 17654, 5717, 9148, 11927, 2232 } },
        // 東 京 タ ##ワ ##ー: ideographs are spaced, katakana is not.
        new object[] { "東京タワー", new[] { 1879, 1755, 1709, 30262, 30265 } },
        // ᄒ ##ᅡ ##ᆫ ##ᄀ ##ᅮ ##ᆨ ##ᄋ ##ᅥ: NFD splits Hangul syllables into jamo, which stay decomposed.
        new object[] { "한국어", new[] { 1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008 } },
        // i [UNK] [UNK]: ❤ (its variation selector is a non-spacing mark, removed) and 🍕 are not in the vocabulary.
        new object[] { "I \u2764\uFE0F \U0001F355", new[] { 1045, 100, 100 } },
        // [UNK] ﬁ: full-width letters are not in the vocabulary (no compatibility normalisation); the ligature is.
        new object[] { "Ａｂｃ ﬁ", new[] { 100, 1984 } },
        // [MASK] is [CLS] here: special tokens written in the text stay special.
        new object[] { "[MASK] is [CLS] here", new[] { 103, 2003, 101, 2182 } },
        // [UNK]: a word of more than 100 characters.
        new object[] { new string('a', 101), new[] { 100 } },
        // p ##ne ##um ##ono ##ult ##ram ##ic ##ros ##copic ##sil ##ico ##vo ##lc ##ano ##con ##ios ##is
        new object[] { "pneumonoultramicroscopicsilicovolcanoconiosis", new[] { 1052, 2638, 2819, 17175, 11314, 6444, 2594, 7352, 26461, 27572, 11261, 6767, 15472, 6761, 8663, 10735, 2483 } },
    ];

    private static TextTokenizer MiniLM(ColbertConventions conventions) =>
        TextTokenizer.FromVocabulary(SharedEncoder.VocabularyBytes, "vocab.txt", conventions);

    [TestCaseSource(nameof(s_parityCases))]
    public void TokenizeDocument_FixedString_MatchesHandDerivedIds(string text, int[] content)
    {
        TokenizedText tokens = MiniLM(ColbertConventions.MiniLM).TokenizeDocument(text, nameof(text), nameof(text));
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 101 }.Concat(content).Append(102)));
    }

    [Test]
    public void TokenizeDocument_LongerThanMaxLength_TruncatedAtTheTokenNotTheWord()
    {
        // "pneumono…" is 17 pieces; with 10 positions, 8 remain for content: the word is cut after its 8th piece.
        TextTokenizer tokenizer = MiniLM(ColbertConventions.MiniLM with { DocumentMaxLength = 10 });
        TokenizedText tokens = tokenizer.TokenizeDocument("pneumonoultramicroscopicsilicovolcanoconiosis is long", "text", "text");
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 101, 1052, 2638, 2819, 17175, 11314, 6444, 2594, 7352, 102 }));
        Assert.That(tokens.VectorPositions, Is.EqualTo(Enumerable.Range(0, 10)));
    }

    [Test]
    public void TokenizeDocument_MuchLongerText_KeepsExactlyMaxLengthPositions()
    {
        string text = string.Join(' ', Enumerable.Repeat("iron deficiency anemia", 2000));
        TokenizedText tokens = MiniLM(ColbertConventions.MiniLM).TokenizeDocument(text, nameof(text), nameof(text));
        Assert.That(tokens.Ids, Has.Length.EqualTo(256));
        Assert.That(tokens.Ids[^1], Is.EqualTo(102));
    }

    [Test]
    public void TokenizeQuery_ColbertV2Conventions_MarkerThenMaskAugmentationToQueryLength()
    {
        TokenizedText tokens = MiniLM(ColbertConventions.ColbertV2).TokenizeQuery("What causes iron-deficiency anemia?", "query", "query");

        // [CLS] [unused0] what causes iron - deficiency an ##emia ? [SEP], then [MASK] to 32 positions.
        int[] real = [101, 1, 2054, 5320, 3707, 1011, 18888, 2019, 17577, 1029, 102];
        Assert.Multiple(() =>
        {
            Assert.That(tokens.Ids, Is.EqualTo(real.Concat(Enumerable.Repeat(103, 32 - real.Length))));
            Assert.That(tokens.AttendedLength, Is.EqualTo(real.Length), "[MASK] tokens are not attended (attend_to_mask_tokens false)");
            Assert.That(tokens.AttendAll, Is.False);
            Assert.That(tokens.VectorPositions, Is.EqualTo(Enumerable.Range(0, 32)), "every position, [MASK] included, is a query vector");
        });
    }

    [Test]
    public void TokenizeQuery_LongQueryWithAugmentation_TruncatedWithoutMasks()
    {
        string query = string.Join(' ', Enumerable.Repeat("iron", 40));
        TokenizedText tokens = MiniLM(ColbertConventions.ColbertV2).TokenizeQuery(query, "query", "query");
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 101, 1 }.Concat(Enumerable.Repeat(3707, 29)).Append(102)));
    }

    [Test]
    public void TokenizeQuery_AttendToMaskTokens_AllPositionsAttended()
    {
        TokenizedText tokens = MiniLM(ColbertConventions.ColbertV2 with { AttendToMaskTokens = true }).TokenizeQuery("iron", "query", "query");
        Assert.That(Enumerable.Range(0, tokens.Length).All(tokens.IsAttended), Is.True);
    }

    [Test]
    public void TokenizeQuery_DefaultConventions_NoMarkerNoAugmentation()
    {
        TokenizedText tokens = MiniLM(ColbertConventions.MiniLM).TokenizeQuery("iron deficiency", "query", "query");
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 101, 3707, 18888, 102 }));
        Assert.That(tokens.VectorPositions, Is.EqualTo(new[] { 0, 1, 2, 3 }));
    }

    [Test]
    public void TokenizeDocument_ColbertV2Conventions_MarkerKeptPunctuationSkipped()
    {
        TokenizedText tokens = MiniLM(ColbertConventions.ColbertV2).TokenizeDocument("Hello, world!", "document", "document");

        // [CLS] [unused1] hello , world ! [SEP]: ',' (position 3) and '!' (position 5) produce no vectors.
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 101, 2, 7592, 1010, 2088, 999, 102 }));
        Assert.That(tokens.VectorPositions, Is.EqualTo(new[] { 0, 1, 2, 4, 6 }));
        Assert.That(tokens.AttendedLength, Is.EqualTo(7), "skipped tokens stay in the model's input");
    }

    [Test]
    public void TokenizeDocument_WithoutSpecialTokens_OnlyContentPositions()
    {
        TextTokenizer tokenizer = MiniLM(ColbertConventions.ColbertV2 with { KeepSpecialTokens = false });
        Assert.That(tokenizer.TokenizeDocument("Hello, world!", "document", "document").VectorPositions, Is.EqualTo(new[] { 2, 4 }));
        Assert.That(tokenizer.TokenizeQuery("hello", "query", "query").VectorPositions, Is.EqualTo(Enumerable.Range(2, 1).Concat(Enumerable.Range(4, 28))),
            "the query keeps its content and its [MASK] tokens");
    }

    [Test]
    public void TokenizeDocument_CustomSkipTokens_ResolvedFromVocabularyOrText()
    {
        TextTokenizer tokenizer = MiniLM(ColbertConventions.MiniLM with { DocumentSkipTokens = ["the", "Of"] });
        TokenizedText tokens = tokenizer.TokenizeDocument("state of the art", "document", "document");
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 101, 2110, 1997, 1996, 2396, 102 }));
        Assert.That(tokens.VectorPositions, Is.EqualTo(new[] { 0, 1, 4, 5 }));
    }

    [TestCase("")]
    [TestCase("   \n\t ")]
    [TestCase("\u200B\u0000\u0007")]
    public void Tokenize_NoTokens_ThrowsArgumentExceptionNamingTheText(string text)
    {
        TextTokenizer tokenizer = MiniLM(ColbertConventions.MiniLM);
        var exception = Assert.Throws<ArgumentException>(() => tokenizer.TokenizeDocument(text, "documents[3]", "documents"));
        Assert.That(exception!.ParamName, Is.EqualTo("documents"));
        Assert.That(exception.Message, Does.StartWith("documents[3] "));
        Assert.Throws<ArgumentException>(() => tokenizer.TokenizeQuery(text, "query", "query"));
    }

    [Test]
    public void FromVocabulary_MarkerNotInVocabulary_ThrowsInvalidDataNamingIt()
    {
        var exception = Assert.Throws<InvalidDataException>(() => MiniLM(ColbertConventions.MiniLM with { QueryMarker = "[Q]" }));
        Assert.That(exception!.Message, Does.Contain("'[Q]'").And.Contain("vocab.txt").And.Contain(nameof(ColbertConventions.QueryMarker)));
    }

    [Test]
    public void FromVocabulary_SkipTokenOfSeveralPieces_ThrowsInvalidData()
    {
        var exception = Assert.Throws<InvalidDataException>(() => MiniLM(ColbertConventions.MiniLM with { DocumentSkipTokens = ["unaffable"] }));
        Assert.That(exception!.Message, Does.Contain("'unaffable'").And.Contain("3 tokens"));
    }

    [Test]
    public void FromVocabulary_RepeatedToken_ThrowsInvalidDataNamingTheLine()
    {
        byte[] vocabulary = Encoding.UTF8.GetBytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nhello\n");
        var exception = Assert.Throws<InvalidDataException>(() => TextTokenizer.FromVocabulary(vocabulary, "'v.txt'", ColbertConventions.MiniLM));
        Assert.That(exception!.Message, Does.Contain("'v.txt'").And.Contain("line 7"));
    }

    [Test]
    public void FromVocabulary_MissingSpecialToken_ThrowsInvalidData()
    {
        byte[] vocabulary = Encoding.UTF8.GetBytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
        var exception = Assert.Throws<InvalidDataException>(() => TextTokenizer.FromVocabulary(vocabulary, "'v.txt'", ColbertConventions.MiniLM));
        Assert.That(exception!.Message, Does.Contain("'[MASK]'"));
    }

    [Test]
    public void FromVocabulary_Empty_ThrowsInvalidData() =>
        Assert.Throws<InvalidDataException>(() => TextTokenizer.FromVocabulary([], "'v.txt'", ColbertConventions.MiniLM));

    [Test]
    public void FromTokenizerJson_SameVocabularyAndBertNormalizer_TokenizesLikeVocabTxt()
    {
        TextTokenizer fromJson = TextTokenizer.FromTokenizerJson(TokenizerJson(), "tokenizer.json", ColbertConventions.MiniLM);
        TextTokenizer fromVocabulary = MiniLM(ColbertConventions.MiniLM);
        foreach (object[] parity in s_parityCases)
        {
            string text = (string)parity[0];
            Assert.That(fromJson.TokenizeDocument(text, nameof(text), nameof(text)).Ids, Is.EqualTo(fromVocabulary.TokenizeDocument(text, nameof(text), nameof(text)).Ids), text);
        }
    }

    [Test]
    public void FromTokenizerJson_AddedTokenAsMarker_InsertedById()
    {
        TextTokenizer tokenizer = TextTokenizer.FromTokenizerJson(TokenizerJson(), "tokenizer.json", ColbertConventions.MiniLM with { QueryMarker = "[Q] " });
        Assert.That(tokenizer.TokenizeQuery("iron", "query", "query").Ids, Is.EqualTo(new[] { 101, 30522, 3707, 102 }));
    }

    [Test]
    public void FromTokenizerJson_CasedNormalizer_KeepsCaseUnlessConventionsSayOtherwise()
    {
        byte[] cased = TokenizerJson(lowercase: false);
        TextTokenizer tokenizer = TextTokenizer.FromTokenizerJson(cased, "tokenizer.json", ColbertConventions.MiniLM);
        Assert.That(tokenizer.TokenizeDocument("Hello", "text", "text").Ids, Is.Not.EqualTo(new[] { 101, 7592, 102 }), "'Hello' is not in the uncased vocabulary");
        TextTokenizer overridden = TextTokenizer.FromTokenizerJson(cased, "tokenizer.json", ColbertConventions.MiniLM with { Lowercase = true });
        Assert.That(overridden.TokenizeDocument("Hello", "text", "text").Ids, Is.EqualTo(new[] { 101, 7592, 102 }));
    }

    [TestCase("{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", "'BPE'")]
    [TestCase("{\"normalizer\":{\"type\":\"Sequence\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[PAD]\":0}}}", "'Sequence'")]
    [TestCase("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0,\"b\":2}}}", "gaps")]
    [TestCase("{\"version\":\"1.0\"}", "\"model\"")]
    [TestCase("not json", "not valid JSON")]
    public void FromTokenizerJson_Unsupported_ThrowsInvalidDataNamingTheCause(string json, string cause)
    {
        var exception = Assert.Throws<InvalidDataException>(() => TextTokenizer.FromTokenizerJson(Encoding.UTF8.GetBytes(json), "'t.json'", ColbertConventions.MiniLM));
        Assert.That(exception!.Message, Does.Contain("'t.json'").And.Contain(cause));
    }

    /// <summary>A Hugging Face tokenizer.json over the embedded vocabulary, as transformers writes it for BERT, with
    /// PyLate's "[Q] " added token after the vocabulary.</summary>
    internal static byte[] TokenizerJson(bool lowercase = true)
    {
        var vocabulary = new Dictionary<string, int>();
        using (var reader = new StreamReader(new MemoryStream(SharedEncoder.VocabularyBytes)))
        {
            int id = 0;
            for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine(), id++)
            {
                vocabulary[line] = id;
            }
        }

        var document = new
        {
            version = "1.0",
            added_tokens = new object[]
            {
                new { id = 0, content = "[PAD]", special = true },
                new { id = 30522, content = "[Q] ", special = false },
            },
            normalizer = new { type = "BertNormalizer", clean_text = true, handle_chinese_chars = true, strip_accents = (bool?)null, lowercase },
            pre_tokenizer = new { type = "BertPreTokenizer" },
            model = new { type = "WordPiece", unk_token = "[UNK]", continuing_subword_prefix = "##", max_input_chars_per_word = 100, vocab = vocabulary },
        };
        return JsonSerializer.SerializeToUtf8Bytes(document);
    }
}
