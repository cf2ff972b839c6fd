// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using Microsoft.Extensions.AI;

namespace Muvera.Tests;

[TestFixture]
public sealed class MultiVectorEmbeddingTests
{
    [Test]
    public void Constructor_TokenVectors_ExposesDimensionsAndCount()
    {
        var embedding = new MultiVectorEmbedding(new ReadOnlyMultiVector(new float[12], 4));

        Assert.That(embedding.Dimensions, Is.EqualTo(4));
        Assert.That(embedding.Count, Is.EqualTo(3));
    }

    [Test]
    public void Constructor_NoVectors_ThrowsArgumentException()
    {
        ArgumentException? error = Assert.Throws<ArgumentException>(() => _ = new MultiVectorEmbedding(new ReadOnlyMultiVector(Array.Empty<float>(), 4)));

        Assert.That(error!.ParamName, Is.EqualTo("vectors"));
    }

    [TestCase(null, false, false)]
    [TestCase(null, true, true)]
    [TestCase(MultiVectorEmbedding.QueryInputKind, false, true)]
    [TestCase(MultiVectorEmbedding.DocumentInputKind, true, false)]
    public void IsQuery_InputKind_FollowsTheOptionElseTheDefault(string? kind, bool defaultIsQuery, bool expected)
    {
        EmbeddingGenerationOptions? options = kind is null ? null
            : new EmbeddingGenerationOptions { AdditionalProperties = new() { [MultiVectorEmbedding.InputKindPropertyName] = kind } };

        Assert.That(MultiVectorEmbedding.IsQuery(options, defaultIsQuery), Is.EqualTo(expected));
    }

    [Test]
    public void IsQuery_UnknownKind_ThrowsNamingTheValue()
    {
        var options = new EmbeddingGenerationOptions { AdditionalProperties = new() { [MultiVectorEmbedding.InputKindPropertyName] = 3 } };

        ArgumentException? error = Assert.Throws<ArgumentException>(() => MultiVectorEmbedding.IsQuery(options, false));

        Assert.That(error!.Message, Does.Contain("\"3\""));
    }
}
