// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Numerics.Tensors;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Onnx.Tests.Fixtures;

namespace Muvera.Onnx.Tests;

/// <summary>The encoder on the embedded all-MiniLM-L6-v2: shapes, normalisation, batching, conventions, errors.</summary>
[TestFixture]
public sealed class OnnxTokenEncoderTests
{
    /// <summary>The same text in batches of different shapes runs different kernel blockings; its vectors agree to
    /// float rounding.</summary>
    private const float BatchTolerance = 1e-5f;

    private static OnnxTokenEncoder Encoder => SharedEncoder.Default;

    [Test]
    public void CreateDefault_EmbeddedMiniLM_384DimensionsDefaultConventionsAndFingerprint()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Encoder.Dimension, Is.EqualTo(384));
            Assert.That(Encoder.Conventions, Is.EqualTo(ColbertConventions.MiniLM));
            Assert.That(Encoder.Settings, Is.EqualTo(new OnnxEncoderSettings()));
            Assert.That(Encoder.ModelFingerprint, Does.Match("^[0-9a-f]{64}$"));
        });
    }

    [Test]
    public void EncodePooledQuery_SentenceTransformersExample_ReproducesPublishedSimilarities()
    {
        // sentence-transformers' quick-start example for all-MiniLM-L6-v2 prints these cosine similarities (4 decimals).
        float[] weather = Encoder.EncodePooledQuery("The weather is lovely today.");
        float[] sunny = Encoder.EncodePooledQuery("It's so sunny outside!");
        float[] stadium = Encoder.EncodePooledQuery("He drove to the stadium.");
        Assert.Multiple(() =>
        {
            Assert.That(TensorPrimitives.Norm(weather), Is.EqualTo(1f).Within(1e-5f));
            Assert.That(TensorPrimitives.Dot(weather, sunny), Is.EqualTo(0.6660f).Within(1e-3f));
            Assert.That(TensorPrimitives.Dot(weather, stadium), Is.EqualTo(0.1046f).Within(1e-3f));
            Assert.That(TensorPrimitives.Dot(sunny, stadium), Is.EqualTo(0.1411f).Within(1e-3f));
        });
    }

    [Test]
    public void EncodeQuery_Default_OneUnitVectorPerPositionSpecialTokensIncluded()
    {
        const string Query = "What causes iron-deficiency anemia?";
        ReadOnlyMultiVector vectors = Encoder.EncodeQuery(Query);
        Assert.That(Encoder.TokenizeQuery(Query), Is.EqualTo(new[] { 101, 2054, 5320, 3707, 1011, 18888, 2019, 17577, 1029, 102 }));
        Assert.That((vectors.Count, vectors.Dimension), Is.EqualTo((10, 384)));
        for (int t = 0; t < vectors.Count; t++)
        {
            Assert.That(TensorPrimitives.Norm(vectors[t]), Is.EqualTo(1f).Within(1e-5f), $"token {t}");
        }
    }

    [Test]
    public void EncodeDocuments_MixedLengths_SameVectorsAsAloneAndInInputOrder()
    {
        string[] documents =
        [
            "Iron deficiency is the most common nutritional disorder in the world.",
            string.Join(' ', Enumerable.Repeat("Dietary fibre intake and the risk of colorectal cancer in a prospective cohort.", 12)),
            "Statins.",
            "Vitamin D supplementation did not reduce fractures.",
        ];
        ReadOnlyMultiVector[] batched = Encoder.EncodeDocuments(documents);
        Assert.That(batched, Has.Length.EqualTo(documents.Length));
        for (int i = 0; i < documents.Length; i++)
        {
            ReadOnlyMultiVector alone = Encoder.EncodeDocument(documents[i]);
            Assert.That(batched[i].Count, Is.EqualTo(Encoder.TokenizeDocument(documents[i]).Length), $"document {i}: padding became vectors");
            Assert.That(batched[i].Span.ToArray(), Is.EqualTo(alone.Span.ToArray()).Within(BatchTolerance), $"document {i}");
        }
    }

    [Test]
    public void EncodeDocuments_InputOrderEqualsSortedEncodingOfSameTexts()
    {
        using OnnxTokenEncoder fixedOrder = OnnxTokenEncoder.CreateDefault(new OnnxEncoderSettings { SortByLength = false, BatchSize = 2 });
        string[] documents = ["short one", "a somewhat longer document about nutrition and health", "x", "medium length text here"];
        ReadOnlyMultiVector[] sorted = Encoder.EncodeDocuments(documents);
        ReadOnlyMultiVector[] naive = fixedOrder.EncodeDocuments(documents);
        for (int i = 0; i < documents.Length; i++)
        {
            Assert.That(naive[i].Span.ToArray(), Is.EqualTo(sorted[i].Span.ToArray()).Within(BatchTolerance), $"document {i}");
        }
    }

    [Test]
    public void EncodeDocument_LongerThanMaxLength_TruncatedToDocumentMaxLength()
    {
        string text = string.Join(' ', Enumerable.Repeat("Plant-based diets lower blood pressure.", 200));
        Assert.That(Encoder.EncodeDocument(text).Count, Is.EqualTo(256));
        Assert.That(Encoder.EncodeQuery(text).Count, Is.EqualTo(32));
    }

    [Test]
    public void EncodeDocuments_WithoutSpecialTokens_DropsFirstAndLastVector()
    {
        using OnnxTokenEncoder content = OnnxTokenEncoder.CreateDefault(ColbertConventions.MiniLM with { KeepSpecialTokens = false }, new OnnxEncoderSettings());
        const string Text = "Green tea and cardiovascular risk.";
        ReadOnlyMultiVector all = Encoder.EncodeDocument(Text);
        ReadOnlyMultiVector inner = content.EncodeDocument(Text);
        Assert.That(inner.Count, Is.EqualTo(all.Count - 2));
        Assert.That(inner.Span.ToArray(), Is.EqualTo(all.Span[384..^384].ToArray()).Within(1e-6f));
        Assert.That(content.ModelFingerprint, Is.EqualTo(Encoder.ModelFingerprint));
    }

    [Test]
    public void EncodeQueryAndDocument_ColbertConventionsOnMiniLM_AugmentedQueryAndSkippedPunctuation()
    {
        using OnnxTokenEncoder colbert = OnnxTokenEncoder.CreateDefault(ColbertConventions.ColbertV2 with { Dimension = null }, new OnnxEncoderSettings());
        ReadOnlyMultiVector query = colbert.EncodeQuery("iron deficiency");
        ReadOnlyMultiVector document = colbert.EncodeDocument("Iron, zinc and folate!");
        float[] pooled = colbert.EncodePooledQuery("iron deficiency");
        Assert.Multiple(() =>
        {
            Assert.That(query.Count, Is.EqualTo(32), "augmented to the query length");
            Assert.That(colbert.TokenizeDocument("Iron, zinc and folate!"), Has.Length.EqualTo(10), "[CLS] [D] iron , zinc and f ##olate ! [SEP]");
            Assert.That(document.Count, Is.EqualTo(8), "',' and '!' produce no vectors");
            Assert.That(TensorPrimitives.Norm(query[31]), Is.EqualTo(1f).Within(1e-5f), "[MASK] vectors are normalised too");
            Assert.That(TensorPrimitives.Norm(pooled), Is.EqualTo(1f).Within(1e-5f));
        });
    }

    [Test]
    public void CreateDefault_DimensionConventionOtherThanOutput_ThrowsInvalidDataAboutTheProjection()
    {
        var exception = Assert.Throws<InvalidDataException>(() => OnnxTokenEncoder.CreateDefault(ColbertConventions.ColbertV2, new OnnxEncoderSettings()));
        Assert.That(exception!.Message, Does.Contain("384").And.Contain("128").And.Contain("projection"));
    }

    [Test]
    public void EncodeDocuments_NullOrEmptyElements_ThrowArgumentExceptionNamingTheIndex()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => Encoder.EncodeDocuments(["fine", null!]), Throws.ArgumentException.With.Message.StartsWith("documents[1] is null").And.Property("ParamName").EqualTo("documents"));
            Assert.That(() => Encoder.EncodeDocuments(["fine", "ok", " \t\n"]), Throws.ArgumentException.With.Message.StartsWith("documents[2] has no tokens"));
            Assert.That(() => Encoder.EncodeQueries([""]), Throws.ArgumentException.With.Message.StartsWith("queries[0] is empty").And.Property("ParamName").EqualTo("queries"));
            Assert.That(() => Encoder.EncodeQuery(""), Throws.ArgumentException.With.Property("ParamName").EqualTo("query"));
            Assert.That(() => Encoder.EncodeDocument(null!), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("document"));
            Assert.That(() => Encoder.EncodeDocuments(null!), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("documents"));
            Assert.That(Encoder.EncodeDocuments([]), Is.Empty);
        });
    }

    [Test]
    public void EncodeDocuments_ProgressAndCancellation_ReportsPerBatchAndStopsBetweenBatches()
    {
        string[] documents = [.. Enumerable.Range(0, 40).Select(i => $"note {i}")];
        var reports = new List<int>();
        Encoder.EncodeDocuments(documents, new SynchronousProgress(reports.Add), CancellationToken.None);
        Assert.That(reports, Is.EqualTo(new[] { 32, 40 }));

        using var cancellation = new CancellationTokenSource();
        reports.Clear();
        var progress = new SynchronousProgress(done =>
        {
            reports.Add(done);
            cancellation.Cancel();
        });
        Assert.That(() => Encoder.EncodeDocuments(documents, progress, cancellation.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(reports, Is.EqualTo(new[] { 32 }));
        Assert.That(() => Encoder.EncodeQueries(["q"], null, cancellation.Token), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void AddDocuments_Store_AppendsInInputOrderAfterExistingDocuments()
    {
        string[] documents = ["zinc", "a much longer sentence about whole grains", "folate"];
        using var store = new MultiVectorStore(384);
        store.Add(new float[384]);
        int first = Encoder.AddDocuments(documents, store, null, CancellationToken.None);
        Assert.That((first, store.Count), Is.EqualTo((1, 4)));
        for (int i = 0; i < documents.Length; i++)
        {
            float[] stored = new float[store.TokenCountOf(first + i) * 384];
            store.CopyTokens(first + i, stored);
            Assert.That(stored, Is.EqualTo(Encoder.EncodeDocument(documents[i]).Span.ToArray()).Within(BatchTolerance), $"document {i}");
        }

        using var wrong = new MultiVectorStore(128);
        Assert.That(() => Encoder.AddQueries(["q"], wrong, null, CancellationToken.None), Throws.ArgumentException.With.Property("ParamName").EqualTo("store"));
    }

    [Test]
    public void EncodePooledDocuments_RowMajorInInputOrder()
    {
        string[] documents = ["kale", "fish oil and heart disease"];
        float[] pooled = Encoder.EncodePooledDocuments(documents, null, CancellationToken.None);
        Assert.That(pooled, Has.Length.EqualTo(2 * 384));
        Assert.That(pooled.AsSpan(384).ToArray(), Is.EqualTo(Encoder.EncodePooledQuery("fish oil and heart disease")).Within(BatchTolerance));
    }

    /// <summary>Short, long (truncated) and mixed-length texts, in an order that sorting by length changes.</summary>
    private static readonly string[] s_mixedTexts =
    [
        "kale",
        string.Join(' ', Enumerable.Repeat("Plant-based diets lower blood pressure and LDL cholesterol.", 120)),
        "fish oil and heart disease",
        "Green tea catechins, in a randomised trial of 240 adults, lowered systolic blood pressure by 2 mmHg.",
        "b12",
        string.Join(' ', Enumerable.Repeat("Turmeric", 40)),
        "Does coffee raise the risk of atrial fibrillation?",
    ];

    [Test]
    public void EncodeDocumentsWithPooled_MixedLengths_EqualsTokenAndPooledPasses()
    {
        // Batches of 3 over 7 texts: several model runs, each mixing lengths.
        using OnnxTokenEncoder encoder = OnnxTokenEncoder.CreateDefault(new OnnxEncoderSettings { BatchSize = 3 });
        var reports = new List<int>();
        TokenAndPooledVectors both = encoder.EncodeDocumentsWithPooled(s_mixedTexts, new SynchronousProgress(reports.Add), CancellationToken.None);
        ReadOnlyMultiVector[] tokens = encoder.EncodeDocuments(s_mixedTexts, null, CancellationToken.None);
        float[] pooled = encoder.EncodePooledDocuments(s_mixedTexts, null, CancellationToken.None);
        AssertSame(both, tokens, pooled, reports);
        Assert.That(both.Tokens[1].Count, Is.EqualTo(256), "the long text is truncated");
    }

    [Test]
    public void EncodeQueriesWithPooled_MixedLengths_EqualsTokenAndPooledPasses()
    {
        using OnnxTokenEncoder encoder = OnnxTokenEncoder.CreateDefault(new OnnxEncoderSettings { BatchSize = 3 });
        var reports = new List<int>();
        TokenAndPooledVectors both = encoder.EncodeQueriesWithPooled(s_mixedTexts, new SynchronousProgress(reports.Add), CancellationToken.None);
        ReadOnlyMultiVector[] tokens = encoder.EncodeQueries(s_mixedTexts, null, CancellationToken.None);
        float[] pooled = encoder.EncodePooledQueries(s_mixedTexts, null, CancellationToken.None);
        AssertSame(both, tokens, pooled, reports);
        Assert.That(both.Tokens[1].Count, Is.EqualTo(32), "the long text is truncated");
    }

    [Test]
    public void EncodeQueriesWithPooled_SingleShortText_EqualsEncodePooledQuery()
    {
        TokenAndPooledVectors both = Encoder.EncodeQueriesWithPooled(["zinc"], null, CancellationToken.None);
        Assert.That(both.GetPooled(0).ToArray(), Is.EqualTo(Encoder.EncodePooledQuery("zinc")).Within(1e-6f));
        Assert.That(both.Tokens[0].Span.ToArray(), Is.EqualTo(Encoder.EncodeQuery("zinc").Span.ToArray()).Within(1e-6f));
        Assert.That(both.Tokens[0].Count, Is.EqualTo(3), "[CLS] zinc [SEP]");
    }

    [Test]
    public void EncodeDocumentsWithPooled_WithoutSpecialTokens_PoolsEveryAttendedPositionAnyway()
    {
        // Pooling reads [CLS] and [SEP] rows even when they are not token vectors (sentence-transformers' mean pooling).
        using OnnxTokenEncoder content = OnnxTokenEncoder.CreateDefault(ColbertConventions.MiniLM with { KeepSpecialTokens = false }, new OnnxEncoderSettings());
        string[] texts = ["Green tea and cardiovascular risk.", "kale"];
        TokenAndPooledVectors inner = content.EncodeDocumentsWithPooled(texts, null, CancellationToken.None);
        TokenAndPooledVectors all = Encoder.EncodeDocumentsWithPooled(texts, null, CancellationToken.None);
        Assert.Multiple(() =>
        {
            Assert.That(inner.Tokens[0].Count, Is.EqualTo(all.Tokens[0].Count - 2));
            Assert.That(inner.Pooled.ToArray(), Is.EqualTo(all.Pooled.ToArray()).Within(1e-6f));
            Assert.That(inner.Pooled.ToArray(), Is.EqualTo(content.EncodePooledDocuments(texts, null, CancellationToken.None)).Within(1e-6f));
        });
    }

    [Test]
    public void AddDocuments_WithPooled_StoreAndRowsEqualSeparatePasses()
    {
        using var store = new MultiVectorStore(384);
        store.Add(new float[384]);
        float[] pooled = new float[s_mixedTexts.Length * 384];
        var reports = new List<int>();
        int first = Encoder.AddDocuments(s_mixedTexts, store, pooled, new SynchronousProgress(reports.Add), CancellationToken.None);
        Assert.That((first, store.Count), Is.EqualTo((1, 1 + s_mixedTexts.Length)));
        Assert.That(pooled, Is.EqualTo(Encoder.EncodePooledDocuments(s_mixedTexts, null, CancellationToken.None)).Within(1e-6f));
        Assert.That(reports, Is.Ordered.Ascending.And.Not.Empty);
        Assert.That(reports[^1], Is.EqualTo(s_mixedTexts.Length));
        ReadOnlyMultiVector[] tokens = Encoder.EncodeDocuments(s_mixedTexts, null, CancellationToken.None);
        for (int i = 0; i < s_mixedTexts.Length; i++)
        {
            float[] stored = new float[store.TokenCountOf(first + i) * 384];
            store.CopyTokens(first + i, stored);
            Assert.That(stored, Is.EqualTo(tokens[i].Span.ToArray()).Within(1e-6f), $"document {i}");
        }
    }

    [Test]
    public void AddQueries_WithPooled_RowsEqualEncodePooledQueries()
    {
        using var store = new MultiVectorStore(384);
        string[] queries = ["zinc", "vitamin b12 deficiency and dementia"];
        float[] pooled = new float[2 * 384];
        Assert.That(Encoder.AddQueries(queries, store, pooled, null, CancellationToken.None), Is.Zero);
        Assert.That(pooled, Is.EqualTo(Encoder.EncodePooledQueries(queries, null, CancellationToken.None)).Within(1e-6f));
        Assert.That(store.TokenCountOf(1), Is.EqualTo(Encoder.EncodeQuery(queries[1]).Count));
    }

    [Test]
    public void AddDocuments_PooledOfWrongLength_ThrowsNamingItBeforeEncoding()
    {
        using var store = new MultiVectorStore(384);
        var exception = Assert.Throws<ArgumentException>(() => Encoder.AddDocuments(["a", "b"], store, new float[384], null, CancellationToken.None));
        Assert.That(exception!.ParamName, Is.EqualTo("pooled"));
        Assert.That(exception.Message, Does.Contain("length 384").And.Contain("2 texts").And.Contain("768"));
        Assert.That(store.Count, Is.Zero);
    }

    [Test]
    public void TokenAndPooledVectors_GetPooledOutOfRange_Throws()
    {
        TokenAndPooledVectors both = Encoder.EncodeQueriesWithPooled(["zinc"], null, CancellationToken.None);
        Assert.Multiple(() =>
        {
            Assert.That((both.Count, both.Dimension, both.Pooled.Length), Is.EqualTo((1, 384, 384)));
            Assert.That(() => both.GetPooled(1), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => both.GetPooled(-1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void EncodeDocumentsWithPooled_Cancelled_Throws()
    {
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.That(() => Encoder.EncodeDocumentsWithPooled(["kale"], null, cancellation.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(() => Encoder.EncodeDocumentsWithPooled(null!, null, CancellationToken.None), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("documents"));
    }

    // One pass gives what the two separate passes give: the same batches, so the same floats (tolerance only for
    // rounding), with one progress sequence that ends at the text count.
    private static void AssertSame(TokenAndPooledVectors both, ReadOnlyMultiVector[] tokens, float[] pooled, List<int> reports)
    {
        Assert.Multiple(() =>
        {
            Assert.That((both.Count, both.Dimension), Is.EqualTo((tokens.Length, 384)));
            Assert.That(both.Pooled.ToArray(), Is.EqualTo(pooled).Within(1e-6f));
            for (int i = 0; i < tokens.Length; i++)
            {
                Assert.That(both.Tokens[i].Count, Is.EqualTo(tokens[i].Count), $"text {i}");
                Assert.That(both.Tokens[i].Span.ToArray(), Is.EqualTo(tokens[i].Span.ToArray()).Within(1e-6f), $"text {i}");
                Assert.That(both.GetPooled(i).ToArray(), Is.EqualTo(pooled.AsSpan(i * 384, 384).ToArray()).Within(1e-6f), $"text {i}");
                Assert.That(TensorPrimitives.Norm(both.GetPooled(i)), Is.EqualTo(1f).Within(1e-5f), $"text {i}");
            }

            Assert.That(reports, Is.Ordered.Ascending.And.Not.Empty);
            Assert.That(reports[^1], Is.EqualTo(tokens.Length));
        });
    }

    [Test]
    public void EncodeQuery_ConcurrentCallers_SameResultsAsSequential()
    {
        string[] queries = [.. Enumerable.Range(0, 8).Select(i => $"does coffee {i} raise blood pressure")];
        float[][] sequential = [.. queries.Select(q => Encoder.EncodeQuery(q).Span.ToArray())];
        float[][] concurrent = new float[queries.Length][];
        Parallel.For(0, queries.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => concurrent[i] = Encoder.EncodeQuery(queries[i]).Span.ToArray());
        for (int i = 0; i < queries.Length; i++)
        {
            Assert.That(concurrent[i], Is.EqualTo(sequential[i]).Within(BatchTolerance), queries[i]);
        }
    }

    /// <summary>A paired check of bench/Muvera.Benchmarks/Text/OnnxEncoderBenchmarks on a shared, noisy machine: the two
    /// batchings alternate, so each pair meets the same background load, and the median of the per-pair ratios is
    /// printed. By hand: <c>dotnet test tests/Muvera.Onnx.Tests -c Release --filter
    /// "Name=EncodeDocuments_SortedVsFixedOrder_PairedTimings" --logger "console;verbosity=detailed"</c>.</summary>
    [Test]
    [Explicit("Takes minutes; prints timings.")]
    public void EncodeDocuments_SortedVsFixedOrder_PairedTimings()
    {
        using OnnxTokenEncoder fixedOrder = OnnxTokenEncoder.CreateDefault(new OnnxEncoderSettings { SortByLength = false });
        string[] abstracts = [.. BeirData.Load(SharedEncoder.SliceDirectory).Documents.Take(256)];
        string[] passages = [.. abstracts.Select((text, i) => string.Join(' ', text.Split(' ').Take(8 + ((i * 37) % 193))))];
        foreach ((string name, string[] documents) in new[] { ("passages", passages), ("abstracts", abstracts) })
        {
            fixedOrder.EncodeDocuments(documents[..8]);
            Encoder.EncodeDocuments(documents[..8]);
            var ratios = new List<double>();
            for (int pair = 0; pair < 5; pair++)
            {
                double naive = Time(fixedOrder, documents);
                double sorted = Time(Encoder, documents);
                ratios.Add(naive / sorted);
                TestContext.Progress.WriteLine($"{name} pair {pair + 1}: fixed order {naive:F2} s, sorted {sorted:F2} s, ratio {naive / sorted:F2}");
            }

            TestContext.Progress.WriteLine($"{name}: median ratio {ratios.Order().ElementAt(ratios.Count / 2):F2}");
        }

        static double Time(OnnxTokenEncoder encoder, string[] documents)
        {
            var watch = Stopwatch.StartNew();
            encoder.EncodeDocuments(documents);
            return watch.Elapsed.TotalSeconds;
        }
    }

    [Test]
    public void Dispose_Twice_ThenEncode_ThrowsObjectDisposed()
    {
        OnnxTokenEncoder encoder = OnnxTokenEncoder.CreateDefault();
        encoder.Dispose();
        Assert.That(encoder.Dispose, Throws.Nothing);
        Assert.That(() => encoder.EncodeQuery("q"), Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(() => encoder.TokenizeDocument("d"), Throws.InstanceOf<ObjectDisposedException>());
    }
}
