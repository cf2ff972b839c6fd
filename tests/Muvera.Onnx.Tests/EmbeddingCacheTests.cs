// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Muvera.Onnx.Tests.Fixtures;

namespace Muvera.Onnx.Tests;

[TestFixture]
public sealed class EmbeddingCacheTests
{
    private static readonly string[] s_documents =
    [
        "Flaxseed and blood pressure.",
        "Eggs, cholesterol and heart disease: a review of prospective studies.",
        "Turmeric curcumin in pancreatic cancer.",
    ];

    private string _directory = null!;

    private static OnnxTokenEncoder Encoder => SharedEncoder.Default;

    [SetUp]
    public void CreateDirectory() => _directory = Path.Combine(Path.GetTempPath(), $"muvera-onnx-cache-{Guid.NewGuid():N}");

    [TearDown]
    public void DeleteDirectory()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Test]
    public void GetOrEncodeDocuments_SecondCall_LoadsTheStoreWithoutEncoding()
    {
        var cache = new EmbeddingCache(_directory);
        var reports = new List<int>();
        float[][] first;
        using (MultiVectorStore store = cache.GetOrEncodeDocuments(Encoder, s_documents, new SynchronousProgress(reports.Add), CancellationToken.None))
        {
            Assert.That(reports, Is.EqualTo(new[] { 3 }), "encoded on a miss");
            first = Tokens(store);
        }

        reports.Clear();
        using (MultiVectorStore store = cache.GetOrEncodeDocuments(Encoder, s_documents, new SynchronousProgress(reports.Add), CancellationToken.None))
        {
            Assert.That(reports, Is.Empty, "a hit encodes nothing");
            Assert.That(Tokens(store), Is.EqualTo(first), "bit-identical float32 vectors");
        }

        float[] direct = Encoder.EncodeDocument(s_documents[1]).Span.ToArray();
        Assert.That(first[1], Is.EqualTo(direct).Within(1e-5f));
        string path = cache.GetDocumentsPath(Encoder, s_documents);
        Assert.That(Path.GetFileName(path), Does.Match("^documents-[0-9a-f]{64}\\.mvstore$"));
        Assert.That(File.ReadAllText(Path.ChangeExtension(path, ".json")), Does.Contain(Encoder.ModelFingerprint).And.Contain("\"count\": 3"));
        Assert.That(Directory.GetFiles(_directory, "*.tmp"), Is.Empty);
    }

    [Test]
    public void GetPath_ChangesWithTextsSideConventionsAndElementType()
    {
        var cache = new EmbeddingCache(_directory);
        string documents = cache.GetDocumentsPath(Encoder, s_documents);
        using OnnxTokenEncoder other = OnnxTokenEncoder.CreateDefault(ColbertConventions.MiniLM with { KeepSpecialTokens = false }, new OnnxEncoderSettings());
        using OnnxTokenEncoder settingsOnly = OnnxTokenEncoder.CreateDefault(new OnnxEncoderSettings { BatchSize = 3, IntraOpThreads = 1 });
        Assert.Multiple(() =>
        {
            Assert.That(cache.GetDocumentsPath(Encoder, [.. s_documents]), Is.EqualTo(documents), "same texts, same key");
            Assert.That(cache.GetDocumentsPath(Encoder, [.. s_documents.Take(2)]), Is.Not.EqualTo(documents));
            Assert.That(cache.GetDocumentsPath(Encoder, [s_documents[0], s_documents[1] + " ", s_documents[2]]), Is.Not.EqualTo(documents));
            Assert.That(cache.GetDocumentsPath(Encoder, [s_documents[0] + s_documents[1], "", s_documents[2]]), Is.Not.EqualTo(documents), "text boundaries count");
            Assert.That(cache.GetQueriesPath(Encoder, s_documents), Is.Not.EqualTo(documents));
            Assert.That(cache.GetDocumentsPath(other, s_documents), Is.Not.EqualTo(documents), "other conventions");
            Assert.That(new EmbeddingCache(_directory, StoreElementType.Float16).GetDocumentsPath(Encoder, s_documents), Is.Not.EqualTo(documents));
            Assert.That(cache.GetDocumentsPath(settingsOnly, s_documents), Is.EqualTo(documents), "run settings are not part of the key");
        });
    }

    [Test]
    public void GetOrEncodeDocuments_CorruptCachedFile_EncodesAgainAndReplacesIt()
    {
        var cache = new EmbeddingCache(_directory);
        cache.GetOrEncodeDocuments(Encoder, s_documents, null, CancellationToken.None).Dispose();
        string path = cache.GetDocumentsPath(Encoder, s_documents);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        var reports = new List<int>();
        using MultiVectorStore store = cache.GetOrEncodeDocuments(Encoder, s_documents, new SynchronousProgress(reports.Add), CancellationToken.None);
        Assert.That(reports, Is.EqualTo(new[] { 3 }), "encoded again");
        Assert.That(store.Count, Is.EqualTo(3));
        Assert.That(File.ReadAllBytes(path)[^1], Is.Not.EqualTo(bytes[^1]));
    }

    [Test]
    public void GetOrEncodeDocumentsWithPooled_EmptyCache_OnePassThenHits()
    {
        var cache = new EmbeddingCache(_directory);
        var reports = new List<int>();
        float[] pooled;
        float[][] tokens;
        using (CachedTokenAndPooledVectors both = cache.GetOrEncodeDocumentsWithPooled(Encoder, s_documents, new SynchronousProgress(reports.Add), CancellationToken.None))
        {
            Assert.That((both.ModelPasses, both.TokensEncoded, both.PooledEncoded), Is.EqualTo((1, true, true)));
            Assert.That(reports, Is.EqualTo(new[] { 3 }), "one pass over three documents");
            Assert.That((both.Count, both.Dimension), Is.EqualTo((3, 384)));
            pooled = both.Pooled.ToArray();
            tokens = Tokens(both.Tokens);
        }

        Assert.That(pooled, Is.EqualTo(Encoder.EncodePooledDocuments(s_documents, null, CancellationToken.None)).Within(1e-6f));
        Assert.That(tokens[2], Is.EqualTo(Encoder.EncodeDocuments(s_documents)[2].Span.ToArray()).Within(1e-6f));
        string path = cache.GetDocumentsPath(Encoder, s_documents);
        Assert.That(File.Exists(Path.ChangeExtension(path, ".pooled")), Is.True);

        reports.Clear();
        using (CachedTokenAndPooledVectors again = cache.GetOrEncodeDocumentsWithPooled(Encoder, s_documents, new SynchronousProgress(reports.Add), CancellationToken.None))
        {
            Assert.That((again.ModelPasses, again.TokensEncoded, again.PooledEncoded), Is.EqualTo((0, false, false)));
            Assert.That(reports, Is.Empty);
            Assert.That(again.Pooled.ToArray(), Is.EqualTo(pooled), "bit-identical float32 vectors");
            Assert.That(again.GetPooled(1).ToArray(), Is.EqualTo(pooled[384..768]));
            Assert.That(Tokens(again.Tokens), Is.EqualTo(tokens));
        }

        // The token store is the one the tokens-only method reads: a hit there too.
        using MultiVectorStore store = cache.GetOrEncodeDocuments(Encoder, s_documents, new SynchronousProgress(reports.Add), CancellationToken.None);
        Assert.That(reports, Is.Empty);
        Assert.That(Directory.GetFiles(_directory, "*.tmp"), Is.Empty);
    }

    [Test]
    public void GetOrEncodeQueriesWithPooled_OnlyTokenStoreCached_OnePooledOnlyPass()
    {
        var cache = new EmbeddingCache(_directory);
        string[] queries = ["zinc", "vitamin b12 deficiency"];
        cache.GetOrEncodeQueries(Encoder, queries, null, CancellationToken.None).Dispose();
        using CachedTokenAndPooledVectors both = cache.GetOrEncodeQueriesWithPooled(Encoder, queries, null, CancellationToken.None);
        Assert.That((both.ModelPasses, both.TokensEncoded, both.PooledEncoded), Is.EqualTo((1, false, true)));
        Assert.That(both.Pooled.ToArray(), Is.EqualTo(Encoder.EncodePooledQueries(queries, null, CancellationToken.None)).Within(1e-6f));
    }

    [Test]
    public void GetOrEncodeDocumentsWithPooled_CorruptPooledFile_EncodesPooledAgain()
    {
        var cache = new EmbeddingCache(_directory);
        float[] first;
        using (CachedTokenAndPooledVectors both = cache.GetOrEncodeDocumentsWithPooled(Encoder, s_documents, null, CancellationToken.None))
        {
            first = both.Pooled.ToArray();
        }

        string pooledPath = Path.ChangeExtension(cache.GetDocumentsPath(Encoder, s_documents), ".pooled");
        byte[] bytes = File.ReadAllBytes(pooledPath);
        bytes[100] ^= 0x40;
        File.WriteAllBytes(pooledPath, bytes);
        using (CachedTokenAndPooledVectors again = cache.GetOrEncodeDocumentsWithPooled(Encoder, s_documents, null, CancellationToken.None))
        {
            Assert.That((again.ModelPasses, again.TokensEncoded, again.PooledEncoded), Is.EqualTo((1, false, true)), "the checksum catches the flipped bit");
            Assert.That(again.Pooled.ToArray(), Is.EqualTo(first).Within(1e-6f));
        }

        File.WriteAllBytes(pooledPath, bytes[..^1]);
        using CachedTokenAndPooledVectors truncated = cache.GetOrEncodeDocumentsWithPooled(Encoder, s_documents, null, CancellationToken.None);
        Assert.That(truncated.PooledEncoded, Is.True);
    }

    [Test]
    public void GetOrEncodeDocumentsWithPooled_Cancelled_CachesNothing()
    {
        var cache = new EmbeddingCache(_directory);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.That(() => cache.GetOrEncodeDocumentsWithPooled(Encoder, s_documents, null, cancellation.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(Directory.GetFiles(_directory), Is.Empty);
    }

    [Test]
    public void GetOrEncodeQueries_Float16_WithinHalfPrecision()
    {
        var cache = new EmbeddingCache(_directory, StoreElementType.Float16);
        using MultiVectorStore store = cache.GetOrEncodeQueries(Encoder, ["zinc", "vitamin b12 deficiency"], null, CancellationToken.None);
        Assert.That(store.ElementType, Is.EqualTo(StoreElementType.Float16));
        float[] cached = new float[store.TokenCountOf(1) * store.Dimension];
        store.CopyTokens(1, cached);
        Assert.That(cached, Is.EqualTo(Encoder.EncodeQuery("vitamin b12 deficiency").Span.ToArray()).Within(1e-3f));
    }

    [Test]
    public void GetOrEncodeDocuments_Cancelled_CachesNothing()
    {
        var cache = new EmbeddingCache(_directory);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.That(() => cache.GetOrEncodeDocuments(Encoder, s_documents, null, cancellation.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(Directory.GetFiles(_directory), Is.Empty);
    }

    [Test]
    public void Constructor_And_Methods_RejectBadArguments()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new EmbeddingCache(""), Throws.ArgumentException);
            Assert.That(() => new EmbeddingCache(_directory, (StoreElementType)7), Throws.InstanceOf<ArgumentOutOfRangeException>());
            var cache = new EmbeddingCache(_directory);
            Assert.That(() => cache.GetDocumentsPath(null!, s_documents), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("encoder"));
            Assert.That(() => cache.GetDocumentsPath(Encoder, null!), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("documents"));
            Assert.That(() => cache.GetQueriesPath(Encoder, ["a", null!]), Throws.ArgumentException.With.Message.StartsWith("queries[1] is null"));
        });
    }

    private static float[][] Tokens(MultiVectorStore store) =>
        [.. Enumerable.Range(0, store.Count).Select(id =>
        {
            float[] tokens = new float[store.TokenCountOf(id) * store.Dimension];
            store.CopyTokens(id, tokens);
            return tokens;
        })];
}
