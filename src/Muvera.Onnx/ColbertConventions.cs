// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Muvera.Onnx;

/// <summary>
/// How a model turns text into token vectors: the ColBERT conventions (query/document markers, query augmentation with
/// [MASK], maximum lengths, punctuation skip-list, which positions become vectors, normalisation) plus the tokenizer
/// settings and the ONNX graph's input and output names. Loaded from the JSON config that sits beside a model
/// (<see cref="ConfigFileName"/>), so a ColBERT export loads without code.
/// </summary>
/// <remarks>
/// <para>Defaults (<c>new ColbertConventions()</c>, equal to <see cref="MiniLM"/>) fit a plain BERT sentence encoder such
/// as the embedded all-MiniLM-L6-v2: no markers, no augmentation, documents cut to 256 tokens and queries to 32
/// ([CLS] and [SEP] included), every token vector kept ([CLS] and [SEP] too) and L2-normalised. <see cref="ColbertV2"/>
/// holds the conventions of colbert-ir/colbertv2.0.</para>
/// <para>Sequence layout: <c>[CLS] marker? content… [SEP]</c>, then, for a query with <see cref="AugmentQuery"/>,
/// <c>[MASK]</c> up to <see cref="QueryMaxLength"/>. Lengths count every position, special tokens included, as
/// ColBERT's <c>query_maxlen</c>/<c>doc_maxlen</c> and Hugging Face's <c>max_length</c> do. Longer text is truncated at
/// the token level (never an error). Padding added to batch sequences of different lengths never becomes a
/// vector.</para>
/// <para>Ranges are checked in <c>init</c>; <see cref="Validate"/> checks the cross-field rules. Immutable and
/// thread-safe; value equality compares every property (the skip-list element by element).</para>
/// </remarks>
public sealed record ColbertConventions
{
    /// <summary>The config file name that <see cref="OnnxTokenEncoder.FromDirectory(string)"/> reads beside
    /// <c>model.onnx</c>.</summary>
    public const string ConfigFileName = "muvera-onnx.json";

    /// <summary>The longest sequence any setting accepts (BERT-family models take at most 512 positions; the bound
    /// keeps a typo from allocating gigabytes).</summary>
    public const int MaxSequenceLength = 8192;

    /// <summary>The ASCII punctuation characters (Python's <c>string.punctuation</c>) that ColBERT's
    /// <c>mask_punctuation</c> drops from document vectors.</summary>
    public const string AsciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    private readonly int _queryMaxLength = 32;
    private readonly int _documentMaxLength = 256;
    private readonly string? _queryMarker;
    private readonly string? _documentMarker;
    private readonly IReadOnlyList<string> _documentSkipTokens = [];
    private readonly string? _outputName;
    private readonly int? _dimension;
    private readonly string _inputIdsName = "input_ids";
    private readonly string _attentionMaskName = "attention_mask";
    private readonly string _tokenTypeIdsName = "token_type_ids";
    private readonly string _classificationToken = "[CLS]";
    private readonly string _separatorToken = "[SEP]";
    private readonly string _maskToken = "[MASK]";
    private readonly string _paddingToken = "[PAD]";
    private readonly string _unknownToken = "[UNK]";

    /// <summary>The conventions of the embedded all-MiniLM-L6-v2 (<see cref="OnnxTokenEncoder.CreateDefault()"/>);
    /// equal to <c>new ColbertConventions()</c>.</summary>
    public static ColbertConventions MiniLM { get; } = new();

    /// <summary>The conventions of colbert-ir/colbertv2.0 (its <c>artifact.metadata</c>): markers <c>[unused0]</c> (query)
    /// and <c>[unused1]</c> (document), queries augmented with [MASK] to 32 tokens that the other tokens do not attend
    /// to, documents cut to 180 tokens, ASCII punctuation dropped from documents, 128-dimensional output (the ONNX export
    /// must include ColBERT's linear projection).</summary>
    public static ColbertConventions ColbertV2 { get; } = new()
    {
        QueryMaxLength = 32,
        DocumentMaxLength = 180,
        QueryMarker = "[unused0]",
        DocumentMarker = "[unused1]",
        AugmentQuery = true,
        AttendToMaskTokens = false,
        SkipDocumentPunctuation = true,
        Dimension = 128,
    };

    /// <summary>The most positions of a query sequence, special tokens, marker and [MASK] augmentation included.
    /// Default 32; between 3 and <see cref="MaxSequenceLength"/>.</summary>
    public int QueryMaxLength
    {
        get => _queryMaxLength;
        init => _queryMaxLength = CheckLength(value, nameof(QueryMaxLength));
    }

    /// <summary>The most positions of a document sequence, special tokens and marker included. Default 256; between 3
    /// and <see cref="MaxSequenceLength"/>.</summary>
    public int DocumentMaxLength
    {
        get => _documentMaxLength;
        init => _documentMaxLength = CheckLength(value, nameof(DocumentMaxLength));
    }

    /// <summary>The vocabulary token inserted after [CLS] in every query (ColBERT's [Q]: <c>[unused0]</c>), or
    /// <see langword="null"/> (default) for none.</summary>
    public string? QueryMarker
    {
        get => _queryMarker;
        init => _queryMarker = CheckOptionalToken(value, nameof(QueryMarker));
    }

    /// <summary>The vocabulary token inserted after [CLS] in every document (ColBERT's [D]: <c>[unused1]</c>), or
    /// <see langword="null"/> (default) for none.</summary>
    public string? DocumentMarker
    {
        get => _documentMarker;
        init => _documentMarker = CheckOptionalToken(value, nameof(DocumentMarker));
    }

    /// <summary>Whether queries are padded with [MASK] up to <see cref="QueryMaxLength"/> (ColBERT's query augmentation);
    /// every [MASK] becomes a query vector. Default <see langword="false"/>.</summary>
    public bool AugmentQuery { get; init; }

    /// <summary>Whether the other tokens attend to the augmentation [MASK] tokens (their attention mask is 1). ColBERT's
    /// <c>attend_to_mask_tokens</c>, <see langword="false"/> for colbertv2.0; the [MASK] positions produce vectors either
    /// way. Default <see langword="false"/>; ignored without <see cref="AugmentQuery"/>.</summary>
    public bool AttendToMaskTokens { get; init; }

    /// <summary>Whether document tokens that are ASCII punctuation (<see cref="AsciiPunctuation"/>, ColBERT's
    /// <c>mask_punctuation</c>) produce no vector. They stay in the model's input. Default <see langword="false"/>.</summary>
    public bool SkipDocumentPunctuation { get; init; }

    /// <summary>Further tokens (vocabulary entries, or text that tokenizes to one token) whose document positions produce
    /// no vector. Default empty.</summary>
    public IReadOnlyList<string> DocumentSkipTokens
    {
        get => _documentSkipTokens;
        init
        {
            ArgumentNullException.ThrowIfNull(value, nameof(DocumentSkipTokens));
            string[] copy = [.. value];
            for (int i = 0; i < copy.Length; i++)
            {
                if (string.IsNullOrEmpty(copy[i]))
                {
                    throw new ArgumentException($"{nameof(DocumentSkipTokens)}[{i}] is null or empty; a skip token must be a non-empty string.", nameof(DocumentSkipTokens));
                }
            }

            _documentSkipTokens = Array.AsReadOnly(copy);
        }
    }

    /// <summary>Whether the [CLS], [SEP] and marker positions produce vectors. ColBERT keeps them, and so does the default
    /// (<see langword="true"/>); <see langword="false"/> keeps only content tokens (and query [MASK] tokens).</summary>
    public bool KeepSpecialTokens { get; init; } = true;

    /// <summary>Whether every token vector (and every pooled vector) is L2-normalised, so that inner products are
    /// cosines. Default <see langword="true"/>; a zero vector stays zero.</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>The graph output holding per-token vectors, shaped [batch, sequence, dimension]. <see langword="null"/>
    /// (default): <c>last_hidden_state</c> when the graph has it, otherwise its only rank-3 float output.</summary>
    public string? OutputName
    {
        get => _outputName;
        init => _outputName = CheckOptionalToken(value, nameof(OutputName));
    }

    /// <summary>The expected token-vector dimension, checked against the graph's output when the encoder loads
    /// (catches an export whose output projection is missing), or <see langword="null"/> (default) for no check.</summary>
    public int? Dimension
    {
        get => _dimension;
        init
        {
            if (value is int d)
            {
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d, nameof(Dimension));
            }

            _dimension = value;
        }
    }

    /// <summary>Whether the tokenizer lower-cases text (an uncased vocabulary). <see langword="null"/> (default): as
    /// <c>tokenizer.json</c>'s normalizer says, or <see langword="true"/> with a <c>vocab.txt</c>.</summary>
    public bool? Lowercase { get; init; }

    /// <summary>Whether the tokenizer strips accents (Unicode NFD, then drops non-spacing marks).
    /// <see langword="null"/> (default): as <c>tokenizer.json</c> says, or the same as <see cref="Lowercase"/> (BERT's
    /// rule).</summary>
    public bool? StripAccents { get; init; }

    /// <summary>Whether CJK ideographs become tokens of their own. <see langword="null"/> (default): as
    /// <c>tokenizer.json</c> says, or <see langword="true"/>.</summary>
    public bool? TokenizeChineseCharacters { get; init; }

    /// <summary>The graph input taking token ids (int64 [batch, sequence]). Default <c>input_ids</c>.</summary>
    public string InputIdsName
    {
        get => _inputIdsName;
        init => _inputIdsName = CheckToken(value, nameof(InputIdsName));
    }

    /// <summary>The graph input taking the attention mask (int64, 1 = attend). Default <c>attention_mask</c>.</summary>
    public string AttentionMaskName
    {
        get => _attentionMaskName;
        init => _attentionMaskName = CheckToken(value, nameof(AttentionMaskName));
    }

    /// <summary>The graph input taking segment ids, fed zeros when the graph has it (optional input). Default
    /// <c>token_type_ids</c>.</summary>
    public string TokenTypeIdsName
    {
        get => _tokenTypeIdsName;
        init => _tokenTypeIdsName = CheckToken(value, nameof(TokenTypeIdsName));
    }

    /// <summary>The first token of every sequence. Default <c>[CLS]</c>.</summary>
    public string ClassificationToken
    {
        get => _classificationToken;
        init => _classificationToken = CheckToken(value, nameof(ClassificationToken));
    }

    /// <summary>The token that ends the content of every sequence. Default <c>[SEP]</c>.</summary>
    public string SeparatorToken
    {
        get => _separatorToken;
        init => _separatorToken = CheckToken(value, nameof(SeparatorToken));
    }

    /// <summary>The query augmentation token. Default <c>[MASK]</c>.</summary>
    public string MaskToken
    {
        get => _maskToken;
        init => _maskToken = CheckToken(value, nameof(MaskToken));
    }

    /// <summary>The token that pads a batch's shorter sequences (never attended, never a vector). Default <c>[PAD]</c>.</summary>
    public string PaddingToken
    {
        get => _paddingToken;
        init => _paddingToken = CheckToken(value, nameof(PaddingToken));
    }

    /// <summary>The token for words the vocabulary cannot spell. Default <c>[UNK]</c>.</summary>
    public string UnknownToken
    {
        get => _unknownToken;
        init => _unknownToken = CheckToken(value, nameof(UnknownToken));
    }

    /// <summary>Checks the rules that involve several properties: each maximum length leaves room for [CLS], the
    /// marker, [SEP] and at least one content token.</summary>
    /// <exception cref="ArgumentException">A rule is broken; the message names the properties and values.</exception>
    public void Validate()
    {
        int queryOverhead = 2 + (QueryMarker is null ? 0 : 1);
        if (QueryMaxLength < queryOverhead + 1)
        {
            throw new ArgumentException($"{nameof(QueryMaxLength)} {QueryMaxLength} leaves no room for content: [CLS], [SEP] and the query marker take {queryOverhead} positions.", nameof(QueryMaxLength));
        }

        int documentOverhead = 2 + (DocumentMarker is null ? 0 : 1);
        if (DocumentMaxLength < documentOverhead + 1)
        {
            throw new ArgumentException($"{nameof(DocumentMaxLength)} {DocumentMaxLength} leaves no room for content: [CLS], [SEP] and the document marker take {documentOverhead} positions.", nameof(DocumentMaxLength));
        }
    }

    /// <summary>Reads conventions from a JSON config file (the schema is in the package README; property names are the
    /// camel-cased property names, e.g. <c>queryMaxLength</c>; absent properties keep their defaults).</summary>
    /// <param name="path">The JSON file.</param>
    /// <returns>The validated conventions.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid JSON, has an unknown property, a value of the wrong
    /// type or out of range, or breaks a cross-field rule; the message names the file and the cause.</exception>
    public static ColbertConventions Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The encoder config '{path}' does not exist.", path);
        }

        return Parse(File.ReadAllText(path, Encoding.UTF8), $"The encoder config '{path}'");
    }

    /// <summary>Reads conventions from JSON text (see <see cref="Load(string)"/>).</summary>
    /// <param name="json">The JSON object.</param>
    /// <returns>The validated conventions.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
    /// <exception cref="InvalidDataException">See <see cref="Load(string)"/>.</exception>
    public static ColbertConventions Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Parse(json, "The encoder config");
    }

    /// <summary>The conventions as an indented JSON object with every property, which <see cref="Parse(string)"/> reads
    /// back to an equal instance.</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => JsonSerializer.Serialize(ConventionsDocument.From(this), ConventionsJsonContext.Default.ConventionsDocument);

    /// <summary>Value equality over every property, the skip-list compared element by element.</summary>
    /// <param name="other">The other conventions.</param>
    /// <returns>Whether the two are equal.</returns>
    public bool Equals(ColbertConventions? other) =>
        other is not null
        && QueryMaxLength == other.QueryMaxLength
        && DocumentMaxLength == other.DocumentMaxLength
        && QueryMarker == other.QueryMarker
        && DocumentMarker == other.DocumentMarker
        && AugmentQuery == other.AugmentQuery
        && AttendToMaskTokens == other.AttendToMaskTokens
        && SkipDocumentPunctuation == other.SkipDocumentPunctuation
        && DocumentSkipTokens.SequenceEqual(other.DocumentSkipTokens, StringComparer.Ordinal)
        && KeepSpecialTokens == other.KeepSpecialTokens
        && Normalize == other.Normalize
        && OutputName == other.OutputName
        && Dimension == other.Dimension
        && Lowercase == other.Lowercase
        && StripAccents == other.StripAccents
        && TokenizeChineseCharacters == other.TokenizeChineseCharacters
        && InputIdsName == other.InputIdsName
        && AttentionMaskName == other.AttentionMaskName
        && TokenTypeIdsName == other.TokenTypeIdsName
        && ClassificationToken == other.ClassificationToken
        && SeparatorToken == other.SeparatorToken
        && MaskToken == other.MaskToken
        && PaddingToken == other.PaddingToken
        && UnknownToken == other.UnknownToken;

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(QueryMaxLength);
        hash.Add(DocumentMaxLength);
        hash.Add(QueryMarker);
        hash.Add(DocumentMarker);
        hash.Add(AugmentQuery);
        hash.Add(AttendToMaskTokens);
        hash.Add(SkipDocumentPunctuation);
        foreach (string token in DocumentSkipTokens)
        {
            hash.Add(token);
        }

        hash.Add(KeepSpecialTokens);
        hash.Add(Normalize);
        hash.Add(OutputName);
        hash.Add(Dimension);
        hash.Add(Lowercase);
        hash.Add(StripAccents);
        hash.Add(TokenizeChineseCharacters);
        hash.Add(InputIdsName);
        hash.Add(AttentionMaskName);
        hash.Add(TokenTypeIdsName);
        hash.Add(ClassificationToken);
        hash.Add(SeparatorToken);
        hash.Add(MaskToken);
        hash.Add(PaddingToken);
        hash.Add(UnknownToken);
        return hash.ToHashCode();
    }

    /// <summary>The JSON text written on one line (the embedding cache key uses it).</summary>
    internal string ToCompactJson()
    {
        // The writer's options, not the context's, decide the indentation.
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            JsonSerializer.Serialize(writer, ConventionsDocument.From(this), ConventionsJsonContext.Default.ConventionsDocument);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Parses and validates; <paramref name="source"/> starts every error message ("The encoder config 'path'").</summary>
    internal static ColbertConventions Parse(string json, string source)
    {
        ColbertConventions? conventions;
        try
        {
            conventions = JsonSerializer.Deserialize(json, ConventionsJsonContext.Default.ConventionsDocument)?.ToConventions();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not a valid encoder config: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source} has an invalid value: {e.Message}", e);
        }

        if (conventions is null)
        {
            throw new InvalidDataException($"{source} holds JSON null; an encoder config is a JSON object.");
        }

        try
        {
            conventions.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source} is inconsistent: {e.Message}", e);
        }

        return conventions;
    }

    private static int CheckLength(int value, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, 3, name);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxSequenceLength, name);
        return value;
    }

    private static string CheckToken(string value, string name)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw new ArgumentException($"{name} must be a non-empty string.", name);
        }

        return value;
    }

    private static string? CheckOptionalToken(string? value, string name)
    {
        if (value is not null && value.Length == 0)
        {
            throw new ArgumentException($"{name} must be null (none) or a non-empty string.", name);
        }

        return value;
    }
}

/// <summary>The JSON shape of <see cref="ColbertConventions"/>: every property optional, so an absent property keeps its
/// default (the source generator would pass default values for absent init-only properties of the record itself).</summary>
internal sealed class ConventionsDocument
{
    public int? QueryMaxLength { get; set; }

    public int? DocumentMaxLength { get; set; }

    public string? QueryMarker { get; set; }

    public string? DocumentMarker { get; set; }

    public bool? AugmentQuery { get; set; }

    public bool? AttendToMaskTokens { get; set; }

    public bool? SkipDocumentPunctuation { get; set; }

    public List<string>? DocumentSkipTokens { get; set; }

    public bool? KeepSpecialTokens { get; set; }

    public bool? Normalize { get; set; }

    public string? OutputName { get; set; }

    public int? Dimension { get; set; }

    public bool? Lowercase { get; set; }

    public bool? StripAccents { get; set; }

    public bool? TokenizeChineseCharacters { get; set; }

    public string? InputIdsName { get; set; }

    public string? AttentionMaskName { get; set; }

    public string? TokenTypeIdsName { get; set; }

    public string? ClassificationToken { get; set; }

    public string? SeparatorToken { get; set; }

    public string? MaskToken { get; set; }

    public string? PaddingToken { get; set; }

    public string? UnknownToken { get; set; }

    public static ConventionsDocument From(ColbertConventions c) => new()
    {
        QueryMaxLength = c.QueryMaxLength,
        DocumentMaxLength = c.DocumentMaxLength,
        QueryMarker = c.QueryMarker,
        DocumentMarker = c.DocumentMarker,
        AugmentQuery = c.AugmentQuery,
        AttendToMaskTokens = c.AttendToMaskTokens,
        SkipDocumentPunctuation = c.SkipDocumentPunctuation,
        DocumentSkipTokens = [.. c.DocumentSkipTokens],
        KeepSpecialTokens = c.KeepSpecialTokens,
        Normalize = c.Normalize,
        OutputName = c.OutputName,
        Dimension = c.Dimension,
        Lowercase = c.Lowercase,
        StripAccents = c.StripAccents,
        TokenizeChineseCharacters = c.TokenizeChineseCharacters,
        InputIdsName = c.InputIdsName,
        AttentionMaskName = c.AttentionMaskName,
        TokenTypeIdsName = c.TokenTypeIdsName,
        ClassificationToken = c.ClassificationToken,
        SeparatorToken = c.SeparatorToken,
        MaskToken = c.MaskToken,
        PaddingToken = c.PaddingToken,
        UnknownToken = c.UnknownToken,
    };

    /// <summary>The conventions, defaults where a property is absent or null.</summary>
    /// <exception cref="ArgumentException">A value is out of range (from the record's <c>init</c> checks).</exception>
    public ColbertConventions ToConventions()
    {
        var d = new ColbertConventions();
        return d with
        {
            QueryMaxLength = QueryMaxLength ?? d.QueryMaxLength,
            DocumentMaxLength = DocumentMaxLength ?? d.DocumentMaxLength,
            QueryMarker = QueryMarker,
            DocumentMarker = DocumentMarker,
            AugmentQuery = AugmentQuery ?? d.AugmentQuery,
            AttendToMaskTokens = AttendToMaskTokens ?? d.AttendToMaskTokens,
            SkipDocumentPunctuation = SkipDocumentPunctuation ?? d.SkipDocumentPunctuation,
            DocumentSkipTokens = DocumentSkipTokens ?? [],
            KeepSpecialTokens = KeepSpecialTokens ?? d.KeepSpecialTokens,
            Normalize = Normalize ?? d.Normalize,
            OutputName = OutputName,
            Dimension = Dimension,
            Lowercase = Lowercase,
            StripAccents = StripAccents,
            TokenizeChineseCharacters = TokenizeChineseCharacters,
            InputIdsName = InputIdsName ?? d.InputIdsName,
            AttentionMaskName = AttentionMaskName ?? d.AttentionMaskName,
            TokenTypeIdsName = TokenTypeIdsName ?? d.TokenTypeIdsName,
            ClassificationToken = ClassificationToken ?? d.ClassificationToken,
            SeparatorToken = SeparatorToken ?? d.SeparatorToken,
            MaskToken = MaskToken ?? d.MaskToken,
            PaddingToken = PaddingToken ?? d.PaddingToken,
            UnknownToken = UnknownToken ?? d.UnknownToken,
        };
    }
}

/// <summary>Source-generated JSON metadata for <see cref="ConventionsDocument"/> (no reflection, trimming-safe).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(ConventionsDocument))]
internal sealed partial class ConventionsJsonContext : JsonSerializerContext
{
}
