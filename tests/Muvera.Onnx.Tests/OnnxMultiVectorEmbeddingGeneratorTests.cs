// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.AI;
using Muvera.Onnx.Tests.Fixtures;

namespace Muvera.Onnx.Tests;

[TestFixture]
public sealed class OnnxMultiVectorEmbeddingGeneratorTests
{
    private static readonly string[] s_texts = ["The Eiffel Tower is a wrought-iron tower in Paris.", "Green tea contains catechins."];

    [Test]
    public async Task GenerateAsync_NoInputKind_EncodesDocumentsLikeTheEncoder()
    {
        using var generator = new OnnxMultiVectorEmbeddingGenerator(SharedEncoder.Default);
        ReadOnlyMultiVector[] expected = SharedEncoder.Default.EncodeDocuments(s_texts);

        GeneratedEmbeddings<MultiVectorEmbedding> embeddings = await generator.GenerateAsync(s_texts);

        Assert.That(embeddings, Has.Count.EqualTo(2));
        for (int i = 0; i < 2; i++)
        {
            Assert.That(embeddings[i].Vectors.Span.ToArray(), Is.EqualTo(expected[i].Span.ToArray()).Within(1e-5f));
            Assert.That(embeddings[i].Dimensions, Is.EqualTo(384));
            Assert.That(embeddings[i].ModelId, Does.StartWith("onnx:"));
            Assert.That(embeddings[i].CreatedAt, Is.Not.Null);
        }
    }

    [Test]
    public async Task GenerateAsync_QueryInputKind_EncodesQueriesLikeTheEncoder()
    {
        using var generator = new OnnxMultiVectorEmbeddingGenerator(SharedEncoder.Default);
        var options = new EmbeddingGenerationOptions
        {
            AdditionalProperties = new() { [MultiVectorEmbedding.InputKindPropertyName] = MultiVectorEmbedding.QueryInputKind },
        };
        ReadOnlyMultiVector expected = SharedEncoder.Default.EncodeQuery("which city has the iron tower");

        GeneratedEmbeddings<MultiVectorEmbedding> embeddings = await generator.GenerateAsync(["which city has the iron tower"], options);

        Assert.That(embeddings[0].Vectors.Span.ToArray(), Is.EqualTo(expected.Span.ToArray()).Within(1e-5f));
    }

    [Test]
    public async Task GenerateAsync_QueryDefault_EncodesQueriesWithoutOptions()
    {
        using var generator = new OnnxMultiVectorEmbeddingGenerator(SharedEncoder.Default, MultiVectorEmbedding.QueryInputKind, ownsEncoder: false);
        ReadOnlyMultiVector expected = SharedEncoder.Default.EncodeQuery("green tea");

        GeneratedEmbeddings<MultiVectorEmbedding> embeddings = await generator.GenerateAsync(["green tea"]);

        Assert.That(embeddings[0].Vectors.Span.ToArray(), Is.EqualTo(expected.Span.ToArray()).Within(1e-5f));
    }

    [Test]
    public void GenerateAsync_UnknownInputKind_ThrowsNamingTheValue()
    {
        using var generator = new OnnxMultiVectorEmbeddingGenerator(SharedEncoder.Default);
        var options = new EmbeddingGenerationOptions { AdditionalProperties = new() { [MultiVectorEmbedding.InputKindPropertyName] = "passage" } };

        ArgumentException? error = Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(s_texts, options));

        Assert.That(error!.Message, Does.Contain("\"passage\""));
    }

    [Test]
    public void GenerateAsync_OtherDimensions_ThrowsNamingBoth()
    {
        using var generator = new OnnxMultiVectorEmbeddingGenerator(SharedEncoder.Default);

        ArgumentException? error = Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(s_texts, new EmbeddingGenerationOptions { Dimensions = 128 }));

        Assert.That(error!.Message, Does.Contain("128").And.Contain("384"));
    }

    [Test]
    public void GenerateAsync_CancelledToken_ThrowsOperationCanceled()
    {
        using var generator = new OnnxMultiVectorEmbeddingGenerator(SharedEncoder.Default);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.CatchAsync<OperationCanceledException>(() => generator.GenerateAsync(s_texts, null, cancelled.Token));
    }

    [Test]
    public void Constructor_UnknownDefaultInputKind_ThrowsArgumentException()
    {
        ArgumentException? error = Assert.Throws<ArgumentException>(() => _ = new OnnxMultiVectorEmbeddingGenerator(SharedEncoder.Default, "both", ownsEncoder: false));

        Assert.That(error!.ParamName, Is.EqualTo("defaultInputKind"));
    }

    [Test]
    public void GetService_Metadata_NamesProviderModelAndDimension()
    {
        using var generator = new OnnxMultiVectorEmbeddingGenerator(SharedEncoder.Default);

        var metadata = (EmbeddingGeneratorMetadata?)generator.GetService(typeof(EmbeddingGeneratorMetadata));

        Assert.That(metadata!.ProviderName, Is.EqualTo("muvera.onnx"));
        Assert.That(metadata.DefaultModelDimensions, Is.EqualTo(384));
        Assert.That(metadata.DefaultModelId, Is.EqualTo("onnx:" + SharedEncoder.Default.ModelFingerprint[..16]));
        Assert.That(generator.GetService(typeof(OnnxTokenEncoder)), Is.SameAs(SharedEncoder.Default));
        Assert.That(generator.GetService(typeof(OnnxTokenEncoder), "key"), Is.Null);
    }

    [Test]
    public void Dispose_NotOwningTheEncoder_LeavesItUsable()
    {
        var generator = new OnnxMultiVectorEmbeddingGenerator(SharedEncoder.Default);

        generator.Dispose();

        Assert.That(SharedEncoder.Default.EncodeQuery("still works").Count, Is.GreaterThan(0));
    }
}
