// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Muvera.Onnx.Tokenization;

/// <summary>
/// Turns text into model input ids under a <see cref="ColbertConventions"/>: WordPiece by Microsoft.ML.Tokenizers'
/// <see cref="BertTokenizer"/> (with Hugging Face's BERT normalisation and pre-tokenisation plugged in, see
/// <see cref="BertTextNormalizer"/>), then [CLS], marker, truncation, [SEP] and [MASK] augmentation.
/// </summary>
/// <remarks>Immutable after construction; thread-safe.</remarks>
internal sealed class TextTokenizer
{
    private const int DefaultMaxInputCharsPerWord = 100;

    private readonly BertTokenizer _tokenizer;
    private readonly ColbertConventions _conventions;
    private readonly int _maxInputCharsPerWord;
    private readonly int? _queryMarkerId;
    private readonly int? _documentMarkerId;
    private readonly HashSet<int> _documentSkipIds;

    private TextTokenizer(BertTokenizer tokenizer, ColbertConventions conventions, IReadOnlyDictionary<string, int> vocabulary,
        int maxInputCharsPerWord, string source)
    {
        _tokenizer = tokenizer;
        _conventions = conventions;
        _maxInputCharsPerWord = maxInputCharsPerWord;
        ClassificationId = tokenizer.ClassificationTokenId;
        SeparatorId = tokenizer.SeparatorTokenId;
        MaskId = tokenizer.MaskingTokenId;
        PaddingId = tokenizer.PaddingTokenId;
        _queryMarkerId = conventions.QueryMarker is { } queryMarker ? Lookup(vocabulary, queryMarker, nameof(ColbertConventions.QueryMarker), source) : null;
        _documentMarkerId = conventions.DocumentMarker is { } documentMarker ? Lookup(vocabulary, documentMarker, nameof(ColbertConventions.DocumentMarker), source) : null;
        _documentSkipIds = [];
        if (conventions.SkipDocumentPunctuation)
        {
            // ColBERT's skip-list: the first token of each punctuation character.
            foreach (char symbol in ColbertConventions.AsciiPunctuation)
            {
                IReadOnlyList<int> ids = _tokenizer.EncodeToIds(symbol.ToString(), false, true, true);
                if (ids.Count > 0)
                {
                    _documentSkipIds.Add(ids[0]);
                }
            }
        }

        foreach (string token in conventions.DocumentSkipTokens)
        {
            if (vocabulary.TryGetValue(token, out int id))
            {
                _documentSkipIds.Add(id);
                continue;
            }

            IReadOnlyList<int> ids = _tokenizer.EncodeToIds(token, false, true, true);
            if (ids.Count != 1)
            {
                throw new InvalidDataException($"{nameof(ColbertConventions.DocumentSkipTokens)} holds '{token}', which is not in {source} and tokenizes to {ids.Count} tokens, not one.");
            }

            _documentSkipIds.Add(ids[0]);
        }

        VocabularySize = vocabulary.Count;
    }

    /// <summary>The [CLS] id.</summary>
    public int ClassificationId { get; }

    /// <summary>The [SEP] id.</summary>
    public int SeparatorId { get; }

    /// <summary>The [MASK] id.</summary>
    public int MaskId { get; }

    /// <summary>The [PAD] id (batch padding).</summary>
    public int PaddingId { get; }

    /// <summary>Tokens the tokenizer knows (vocabulary plus added tokens).</summary>
    public int VocabularySize { get; }

    /// <summary>The WordPiece tokens of <paramref name="text"/> without special tokens, the first
    /// <paramref name="budget"/> at most.</summary>
    public int[] ContentIds(string text, int budget)
    {
        // The library truncates only between words; asking for one longest word more (a word has at most
        // MaxInputCharsPerWord pieces, a longer one is [UNK]) and cutting here truncates at the token, as Hugging Face does.
        IReadOnlyList<int> ids = _tokenizer.EncodeToIds(text, budget + _maxInputCharsPerWord, false, out _, out _, true, true);
        int count = Math.Min(ids.Count, budget);
        int[] content = new int[count];
        for (int i = 0; i < count; i++)
        {
            content[i] = ids[i];
        }

        return content;
    }

    /// <summary>A query as the model sees it.</summary>
    /// <exception cref="ArgumentException">The text has no tokens (empty, white space or control characters only).</exception>
    public TokenizedText TokenizeQuery(string text, string displayName, string paramName)
    {
        ColbertConventions c = _conventions;
        int overhead = 2 + (_queryMarkerId is null ? 0 : 1);
        int[] content = ContentIds(text, c.QueryMaxLength - overhead);
        ThrowIfEmpty(content, text, displayName, paramName);
        int real = overhead + content.Length;
        int length = c.AugmentQuery ? c.QueryMaxLength : real;
        int[] ids = Assemble(content, _queryMarkerId, length);
        var positions = new List<int>(length);
        for (int p = 0; p < length; p++)
        {
            if (p >= real || c.KeepSpecialTokens || !IsSpecial(p, real, _queryMarkerId is not null))
            {
                positions.Add(p);
            }
        }

        return new TokenizedText(ids, real, c.AttendToMaskTokens, [.. positions]);
    }

    /// <summary>A document as the model sees it.</summary>
    /// <exception cref="ArgumentException">The text has no tokens (empty, white space or control characters only).</exception>
    public TokenizedText TokenizeDocument(string text, string displayName, string paramName)
    {
        ColbertConventions c = _conventions;
        int overhead = 2 + (_documentMarkerId is null ? 0 : 1);
        int[] content = ContentIds(text, c.DocumentMaxLength - overhead);
        ThrowIfEmpty(content, text, displayName, paramName);
        int length = overhead + content.Length;
        int[] ids = Assemble(content, _documentMarkerId, length);
        var positions = new List<int>(length);
        for (int p = 0; p < length; p++)
        {
            bool special = IsSpecial(p, length, _documentMarkerId is not null);
            if (special ? c.KeepSpecialTokens : !_documentSkipIds.Contains(ids[p]))
            {
                positions.Add(p);
            }
        }

        return new TokenizedText(ids, length, false, [.. positions]);
    }

    /// <summary>Loads a BERT <c>vocab.txt</c> (one token per line, the id is the line number; empty lines are skipped
    /// but counted).</summary>
    /// <exception cref="InvalidDataException">The file is empty, repeats a token, or lacks a special token or marker.</exception>
    public static TextTokenizer FromVocabulary(byte[] bytes, string source, ColbertConventions conventions)
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        using (var reader = new StreamReader(new MemoryStream(bytes, writable: false), Encoding.UTF8))
        {
            int line = 0;
            for (string? token = reader.ReadLine(); token is not null; token = reader.ReadLine(), line++)
            {
                if (token.Length != 0 && !vocabulary.TryAdd(token, line))
                {
                    throw new InvalidDataException($"{source} repeats the token '{token}' on line {line + 1} (first on line {vocabulary[token] + 1}); a WordPiece vocabulary has one line per token.");
                }
            }
        }

        if (vocabulary.Count == 0)
        {
            throw new InvalidDataException($"{source} holds no tokens; a WordPiece vocab.txt has one token per line.");
        }

        bool lowercase = conventions.Lowercase ?? true;
        var settings = new NormalizerSettings(
            CleanText: true,
            HandleChineseCharacters: conventions.TokenizeChineseCharacters ?? true,
            StripAccents: conventions.StripAccents ?? lowercase,
            Lowercase: lowercase);
        return Create(new MemoryStream(bytes, writable: false), vocabulary, settings, "##", DefaultMaxInputCharsPerWord, source, conventions);
    }

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> whose model is WordPiece, with a <c>BertNormalizer</c> (or
    /// none) and a <c>BertPreTokenizer</c> (or none). Added tokens (e.g. PyLate's "[Q] ") can serve as markers.</summary>
    /// <exception cref="InvalidDataException">The JSON is invalid or describes another kind of tokenizer.</exception>
    public static TextTokenizer FromTokenizerJson(byte[] bytes, string source, ColbertConventions conventions)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{source} has no \"model\" object; it is not a Hugging Face tokenizer.json.");
            }

            string type = model.TryGetProperty("type", out JsonElement typeElement) && typeElement.ValueKind == JsonValueKind.String ? typeElement.GetString()! : "(none)";
            if (type != "WordPiece")
            {
                throw new InvalidDataException($"{source} describes a '{type}' tokenizer model; Muvera.Onnx reads WordPiece (BERT-family) tokenizers only.");
            }

            if (!model.TryGetProperty("vocab", out JsonElement vocab) || vocab.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{source} has no \"model.vocab\" object.");
            }

            var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
            var byId = new SortedDictionary<int, string>();
            foreach (JsonProperty entry in vocab.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                {
                    throw new InvalidDataException($"{source}: model.vocab maps '{entry.Name}' to {entry.Value.GetRawText()}, not a non-negative integer id.");
                }

                if (entry.Name.Length == 0 || entry.Name.Contains('\n', StringComparison.Ordinal) || entry.Name.Contains('\r', StringComparison.Ordinal))
                {
                    throw new InvalidDataException($"{source}: model.vocab holds a token that is empty or contains a line break (id {id}).");
                }

                if (!byId.TryAdd(id, entry.Name) || !vocabulary.TryAdd(entry.Name, id))
                {
                    throw new InvalidDataException($"{source}: model.vocab uses id {id} or token '{entry.Name}' twice.");
                }
            }

            if (byId.Count == 0 || byId.Keys.Max() != byId.Count - 1)
            {
                throw new InvalidDataException($"{source}: model.vocab ids are not 0..{byId.Count - 1} without gaps.");
            }

            // The vocab.txt the library reads: one token per line, line number = id.
            var lines = new StringBuilder();
            foreach (string token in byId.Values)
            {
                lines.Append(token).Append('\n');
            }

            string unknown = ReadString(model, "unk_token", source) ?? conventions.UnknownToken;
            if (unknown != conventions.UnknownToken)
            {
                conventions = conventions with { UnknownToken = unknown };
            }

            string prefix = ReadString(model, "continuing_subword_prefix", source) ?? "##";
            int maxChars = model.TryGetProperty("max_input_chars_per_word", out JsonElement maxElement) && maxElement.ValueKind == JsonValueKind.Number
                ? maxElement.GetInt32()
                : DefaultMaxInputCharsPerWord;
            if (maxChars <= 0)
            {
                throw new InvalidDataException($"{source}: model.max_input_chars_per_word is {maxChars}; it must be positive.");
            }

            NormalizerSettings settings = ReadNormalizer(root, source, conventions);
            ReadPreTokenizer(root, source);

            // Added tokens beyond the vocabulary can be markers; they are inserted by id, never matched in text.
            if (root.TryGetProperty("added_tokens", out JsonElement added) && added.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement token in added.EnumerateArray())
                {
                    if (token.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.String
                        && token.TryGetProperty("id", out JsonElement id) && id.TryGetInt32(out int value))
                    {
                        vocabulary.TryAdd(content.GetString()!, value);
                    }
                }
            }

            byte[] vocabBytes = Encoding.UTF8.GetBytes(lines.ToString());
            return Create(new MemoryStream(vocabBytes, writable: false), vocabulary, settings, prefix, maxChars, source, conventions);
        }
    }

    private static TextTokenizer Create(Stream vocabStream, IReadOnlyDictionary<string, int> vocabulary, NormalizerSettings settings,
        string continuingSubwordPrefix, int maxInputCharsPerWord, string source, ColbertConventions conventions)
    {
        string[] specials = [conventions.UnknownToken, conventions.ClassificationToken, conventions.SeparatorToken, conventions.PaddingToken, conventions.MaskToken];
        var normalizedSpecials = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string special in specials)
        {
            int id = Lookup(vocabulary, special, "special token", source);
            normalizedSpecials[settings.Lowercase ? special.ToLowerInvariant() : special] = id;
        }

        var options = new BertOptions
        {
            LowerCaseBeforeTokenization = settings.Lowercase,
            RemoveNonSpacingMarks = settings.StripAccents,
            IndividuallyTokenizeCjk = settings.HandleChineseCharacters,
            ApplyBasicTokenization = true,
            SplitOnSpecialTokens = true,
            UnknownToken = conventions.UnknownToken,
            ClassificationToken = conventions.ClassificationToken,
            SeparatorToken = conventions.SeparatorToken,
            PaddingToken = conventions.PaddingToken,
            MaskingToken = conventions.MaskToken,
            ContinuingSubwordPrefix = continuingSubwordPrefix,
            MaxInputCharsPerWord = maxInputCharsPerWord,
            Normalizer = new BertTextNormalizer(settings.CleanText, settings.HandleChineseCharacters, settings.StripAccents, settings.Lowercase),
            PreTokenizer = BertTextNormalizer.CreatePreTokenizer(normalizedSpecials),
        };

        BertTokenizer tokenizer;
        try
        {
            tokenizer = BertTokenizer.Create(vocabStream, options);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source} cannot be loaded as a WordPiece vocabulary: {e.Message}", e);
        }

        return new TextTokenizer(tokenizer, conventions, vocabulary, maxInputCharsPerWord, source);
    }

    private static NormalizerSettings ReadNormalizer(JsonElement root, string source, ColbertConventions conventions)
    {
        bool clean = true;
        bool? chinese = null;
        bool? strip = null;
        bool? lower = null;
        if (root.TryGetProperty("normalizer", out JsonElement normalizer) && normalizer.ValueKind == JsonValueKind.Object)
        {
            string? type = ReadString(normalizer, "type", source);
            if (type != "BertNormalizer")
            {
                throw new InvalidDataException($"{source} uses a '{type}' normalizer; Muvera.Onnx supports BertNormalizer (or none). Provide vocab.txt instead and set lowercase/stripAccents in {ColbertConventions.ConfigFileName}.");
            }

            clean = ReadBool(normalizer, "clean_text") ?? true;
            chinese = ReadBool(normalizer, "handle_chinese_chars");
            strip = ReadBool(normalizer, "strip_accents");
            lower = ReadBool(normalizer, "lowercase");
        }

        bool lowercase = conventions.Lowercase ?? lower ?? true;
        return new NormalizerSettings(
            CleanText: clean,
            HandleChineseCharacters: conventions.TokenizeChineseCharacters ?? chinese ?? true,
            StripAccents: conventions.StripAccents ?? strip ?? lowercase,
            Lowercase: lowercase);
    }

    private static void ReadPreTokenizer(JsonElement root, string source)
    {
        if (root.TryGetProperty("pre_tokenizer", out JsonElement preTokenizer) && preTokenizer.ValueKind == JsonValueKind.Object)
        {
            string? type = ReadString(preTokenizer, "type", source);
            if (type != "BertPreTokenizer")
            {
                throw new InvalidDataException($"{source} uses a '{type}' pre-tokenizer; Muvera.Onnx supports BertPreTokenizer (or none).");
            }
        }
    }

    private static string? ReadString(JsonElement element, string name, string source)
    {
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new InvalidDataException($"{source}: \"{name}\" is {value.GetRawText()}, not a string.");
    }

    private static bool? ReadBool(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : null;

    private static int Lookup(IReadOnlyDictionary<string, int> vocabulary, string token, string role, string source) =>
        vocabulary.TryGetValue(token, out int id)
            ? id
            : throw new InvalidDataException($"The {role} '{token}' is not in {source}; set the token the model uses in {ColbertConventions.ConfigFileName}.");

    private int[] Assemble(int[] content, int? marker, int length)
    {
        int[] ids = new int[length];
        int p = 0;
        ids[p++] = ClassificationId;
        if (marker is int m)
        {
            ids[p++] = m;
        }

        content.CopyTo(ids, p);
        p += content.Length;
        ids[p++] = SeparatorId;
        ids.AsSpan(p).Fill(MaskId);
        return ids;
    }

    private static bool IsSpecial(int position, int realLength, bool hasMarker) =>
        position == 0 || position == realLength - 1 || (hasMarker && position == 1);

    private static void ThrowIfEmpty(int[] content, string text, string displayName, string paramName)
    {
        if (content.Length == 0)
        {
            throw new ArgumentException(
                text.Length == 0
                    ? $"{displayName} is empty; there is nothing to encode."
                    : $"{displayName} has no tokens: its {text.Length} characters are all white space or control characters.",
                paramName);
        }
    }

    private readonly record struct NormalizerSettings(bool CleanText, bool HandleChineseCharacters, bool StripAccents, bool Lowercase);
}
