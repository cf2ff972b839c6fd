// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.AI;

namespace Muvera.Onnx;

/// <summary>
/// An <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> that turns texts into <see cref="MultiVectorEmbedding"/>s
/// with an <see cref="OnnxTokenEncoder"/>: the way to plug Muvera's token encoder into the .NET AI stack (for example
/// as the embedding generator of a Muvera.VectorData collection).
/// </summary>
/// <remarks>
/// <para>Queries or documents: ColBERT conventions encode them differently (<see cref="ColbertConventions.QueryMarker"/>,
/// <see cref="ColbertConventions.AugmentQuery"/>, <see cref="ColbertConventions.DocumentMarker"/>, document punctuation
/// skipping), so each call encodes its texts as queries when its options' <see cref="MultiVectorEmbedding.InputKindPropertyName"/>
/// property is <see cref="MultiVectorEmbedding.QueryInputKind"/>, as documents when it is
/// <see cref="MultiVectorEmbedding.DocumentInputKind"/>, and as <see cref="DefaultInputKind"/> says when the options do
/// not say (documents unless set otherwise). Muvera.VectorData always says: records are documents, search texts are
/// queries.</para>
/// <para>Cost: the encoder's, one forward pass per text, batched by length; the call runs synchronously on the calling
/// thread (encoding is compute, not I/O) and observes its cancellation token between batches and inside a model run.
/// Thread-safe: calls may run concurrently (they share the encoder's session).</para>
/// </remarks>
public sealed class OnnxMultiVectorEmbeddingGenerator : IEmbeddingGenerator<string, MultiVectorEmbedding>
{
    private readonly bool _ownsEncoder;
    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <summary>A generator over <paramref name="encoder"/>, which it does not dispose.</summary>
    /// <param name="encoder">The token encoder.</param>
    /// <exception cref="ArgumentNullException"><paramref name="encoder"/> is null.</exception>
    public OnnxMultiVectorEmbeddingGenerator(OnnxTokenEncoder encoder)
        : this(encoder, MultiVectorEmbedding.DocumentInputKind, ownsEncoder: false)
    {
    }

    /// <summary>A generator over <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The token encoder.</param>
    /// <param name="defaultInputKind">How texts are encoded when a call's options do not say:
    /// <see cref="MultiVectorEmbedding.DocumentInputKind"/> or <see cref="MultiVectorEmbedding.QueryInputKind"/>.</param>
    /// <param name="ownsEncoder">Whether <see cref="Dispose"/> disposes the encoder.</param>
    /// <exception cref="ArgumentNullException"><paramref name="encoder"/> or <paramref name="defaultInputKind"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="defaultInputKind"/> is neither kind.</exception>
    public OnnxMultiVectorEmbeddingGenerator(OnnxTokenEncoder encoder, string defaultInputKind, bool ownsEncoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(defaultInputKind);
        if (defaultInputKind is not (MultiVectorEmbedding.DocumentInputKind or MultiVectorEmbedding.QueryInputKind))
        {
            throw new ArgumentException(
                $"defaultInputKind is \"{defaultInputKind}\"; expected \"{MultiVectorEmbedding.DocumentInputKind}\" or \"{MultiVectorEmbedding.QueryInputKind}\".",
                nameof(defaultInputKind));
        }

        Encoder = encoder;
        DefaultInputKind = defaultInputKind;
        _ownsEncoder = ownsEncoder;
        _metadata = new EmbeddingGeneratorMetadata("muvera.onnx", null, ModelIdOf(encoder), encoder.Dimension);
    }

    /// <summary>The token encoder.</summary>
    public OnnxTokenEncoder Encoder { get; }

    /// <summary>How texts are encoded when a call's options do not say (<see cref="MultiVectorEmbedding.DocumentInputKind"/>
    /// or <see cref="MultiVectorEmbedding.QueryInputKind"/>).</summary>
    public string DefaultInputKind { get; }

    /// <summary>A generator over the embedded all-MiniLM-L6-v2 (<see cref="OnnxTokenEncoder.CreateDefault()"/>, 384-d
    /// token vectors), encoding documents by default; it owns and disposes its encoder.</summary>
    /// <returns>The generator.</returns>
    /// <exception cref="InvalidOperationException">The embedded model cannot be found.</exception>
    public static OnnxMultiVectorEmbeddingGenerator CreateDefault() =>
        new(OnnxTokenEncoder.CreateDefault(), MultiVectorEmbedding.DocumentInputKind, ownsEncoder: true);

    /// <summary>Encodes texts, as queries or documents (see the remarks of the class).</summary>
    /// <param name="values">The texts.</param>
    /// <param name="options">Generation options; <see cref="MultiVectorEmbedding.InputKindPropertyName"/> chooses
    /// queries or documents. <see cref="EmbeddingGenerationOptions.Dimensions"/>, when set, must equal the encoder's
    /// dimension (token vectors cannot be truncated).</param>
    /// <param name="cancellationToken">Cancels between batches and inside a model run.</param>
    /// <returns>One embedding per text, in input order, with <see cref="Embedding.ModelId"/> and
    /// <see cref="Embedding.CreatedAt"/> set.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is null.</exception>
    /// <exception cref="ArgumentException">A text is null or has no tokens (the message names its index), or the
    /// options ask for another dimension or input kind.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public Task<GeneratedEmbeddings<MultiVectorEmbedding>> GenerateAsync(IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        bool query = MultiVectorEmbedding.IsQuery(options, DefaultInputKind == MultiVectorEmbedding.QueryInputKind);
        if (options?.Dimensions is int dimensions && dimensions != Encoder.Dimension)
        {
            throw new ArgumentException(
                $"options.Dimensions is {dimensions}, but the encoder's token vectors have {Encoder.Dimension} dimensions and cannot be truncated.", nameof(options));
        }

        cancellationToken.ThrowIfCancellationRequested();
        IReadOnlyList<string> texts = values as IReadOnlyList<string> ?? values.ToArray();
        ReadOnlyMultiVector[] vectors = query
            ? Encoder.EncodeQueries(texts, null, cancellationToken)
            : Encoder.EncodeDocuments(texts, null, cancellationToken);
        DateTimeOffset created = DateTimeOffset.UtcNow;
        var embeddings = new GeneratedEmbeddings<MultiVectorEmbedding>(vectors.Length);
        foreach (ReadOnlyMultiVector tokens in vectors)
        {
            embeddings.Add(new MultiVectorEmbedding(tokens) { ModelId = _metadata.DefaultModelId, CreatedAt = created });
        }

        return Task.FromResult(embeddings);
    }

    /// <summary>Asks for a service: the <see cref="EmbeddingGeneratorMetadata"/> (provider "muvera.onnx", the model's
    /// id, the token dimension), the <see cref="OnnxTokenEncoder"/>, or this generator.</summary>
    /// <param name="serviceType">The requested type.</param>
    /// <param name="serviceKey">A key; services are only found without one.</param>
    /// <returns>The service, or null.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="serviceType"/> is null.</exception>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        return serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
            : serviceType.IsInstanceOfType(Encoder) ? Encoder
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>Disposes the encoder when this generator owns it. Idempotent.</summary>
    public void Dispose()
    {
        if (_ownsEncoder)
        {
            Encoder.Dispose();
        }
    }

    // The first 16 hex digits of the fingerprint over model and tokenizer: two encoders with the same id produce the same
    // vectors for the same conventions.
    private static string ModelIdOf(OnnxTokenEncoder encoder) => "onnx:" + encoder.ModelFingerprint[..16];
}
