// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using Muvera.Indexing;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Pipeline;

/// <summary><see cref="MuveraIndex"/> over quantized FDE storage: the default backend, training inside AddRange, exact
/// reranking, the quantizer across compaction and save/load, and manifests of the previous format.</summary>
[TestFixture]
public sealed class MuveraIndexFdeStorageTests
{
    private static readonly FdeStorage s_pq = FdeStorage.ProductQuantization() with { TrainingRows = 100 };

    private string _root = "";

    [SetUp]
    public void SetUp()
    {
        _root = Path.Combine(Path.GetTempPath(), "muvera-fde-storage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    [Test]
    public void Create_WithoutBackend_UsesTheDefaultProductQuantization()
    {
        using var index = MuveraIndex.Create(new MuveraIndexOptions { Fde = MuveraIndexTests.SmallFde });
        Assert.That(index.Backend, Is.TypeOf<FlatMipsBackend>().With.Property(nameof(FlatMipsBackend.Storage)).EqualTo(FdeStorage.Default));
    }

    [Test]
    public void Search_OverQuantizedFdes_RerankExactly_AndFdeBytesShrink()
    {
        using MuveraIndex quantized = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, backend: new FlatMipsBackend(s_pq));
        using MuveraIndex exact = MuveraIndexTests.BuildSmall(out _, backend: new FlatMipsBackend(FdeStorage.Float32));
        int outputDimension = quantized.Encoder.OutputDimension;
        Assert.Multiple(() =>
        {
            Assert.That(quantized.FdeBytesPerDocument, Is.EqualTo(s_pq.BytesPerVector(outputDimension)));
            Assert.That(exact.FdeBytesPerDocument, Is.EqualTo(4L * outputDimension));
        });
        double agreement = 0;
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            // With every document as a candidate the quantized FDEs do not matter: the rerank is exact.
            MuveraSearchHit[] all = quantized.Search(query, 10, new MuveraSearchOptions { Candidates = corpus.Ids.Length });
            var reference = MuveraIndexTests.ReferenceTopK(query, corpus.Ids, corpus.Documents, 10);
            Assert.That(all.Select(h => h.Id), Is.EqualTo(reference.Select(r => r.Id)));

            string[] candidates = quantized.Search(query, 30, new MuveraSearchOptions { Candidates = 30, Rerank = false }).Select(h => h.Id).ToArray();
            string[] floatCandidates = exact.Search(query, 30, new MuveraSearchOptions { Candidates = 30, Rerank = false }).Select(h => h.Id).ToArray();
            agreement += candidates.Intersect(floatCandidates).Count() / 30.0;
        }

        agreement /= corpus.Queries.Length;
        TestContext.Out.WriteLine($"quantized FDE candidates shared with float32 FDE candidates (N = 30): {agreement:F3}");
        Assert.That(agreement, Is.GreaterThan(0.7), "4-bit PQ keeps most of float32's candidates (measured 0.8+ here)");
    }

    [Test]
    public void Compact_KeepsTheQuantizer_SoSurvivingDocumentsScoreTheSame()
    {
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, backend: new FlatMipsBackend(s_pq));
        var fdeOnly = new MuveraSearchOptions { Candidates = 40, Rerank = false };
        for (int i = 0; i < corpus.Ids.Length; i += 3)
        {
            index.Delete(corpus.Ids[i]);
        }

        MuveraSearchHit[][] before = corpus.Queries.Select(q => index.Search(q, 40, fdeOnly)).ToArray();
        index.Compact();
        Assert.That(index.DeletedCount, Is.Zero);
        for (int q = 0; q < before.Length; q++)
        {
            Assert.That(index.Search(corpus.Queries[q], 40, fdeOnly), Is.EqualTo(before[q]), $"query {q}");
        }
    }

    [Test]
    public void SaveLoad_Quantized_KeepsStorageAndResults_WhateverFlatBackendIsGiven()
    {
        string directory = Path.Combine(_root, "pq");
        MuveraSearchHit[][] before;
        SyntheticCorpus corpus;
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out corpus, backend: new FlatMipsBackend(s_pq)))
        {
            before = corpus.Queries.Select(q => index.Search(q, 5, new MuveraSearchOptions { Candidates = 20 })).ToArray();
            index.Save(directory);
        }

        JsonObject manifest = ReadManifest(directory);
        Assert.Multiple(() =>
        {
            Assert.That((int)manifest["format_version"]!, Is.EqualTo(2));
            Assert.That((string)manifest["backend"]!["fde_storage"]!["kind"]!, Is.EqualTo("pq"));
            Assert.That((int)manifest["backend"]!["fde_storage"]!["training_rows"]!, Is.EqualTo(100));
        });

        // A float32 flat backend passed to Load lends its thread limit, not its storage: the saved codes decide.
        var options = new MuveraLoadOptions { Backends = [new FlatMipsBackend(FdeStorage.Float32) { SearchParallelOptions = new() { MaxDegreeOfParallelism = 1 } }] };
        using MuveraIndex loaded = MuveraIndex.Load(directory, options);
        var backend = (FlatMipsBackend)loaded.Backend;
        Assert.Multiple(() =>
        {
            Assert.That(backend.Storage, Is.EqualTo(s_pq));
            Assert.That(backend.SearchParallelOptions!.MaxDegreeOfParallelism, Is.EqualTo(1));
            for (int q = 0; q < before.Length; q++)
            {
                Assert.That(loaded.Search(corpus.Queries[q], 5, new MuveraSearchOptions { Candidates = 20 }), Is.EqualTo(before[q]), $"query {q}");
            }
        });
    }

    [Test]
    public void Load_ManifestStorageDisagreeingWithTheFile_IsInvalidData()
    {
        string directory = Path.Combine(_root, "mismatch");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out _, backend: new FlatMipsBackend(s_pq)))
        {
            index.Save(directory);
        }

        EditManifest(directory, manifest => manifest["backend"]!["fde_storage"]!["bits"] = 8);
        Assert.That(() => MuveraIndex.Load(directory), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("pq:8,4").Or.Message.Contains("storage"));
        EditManifest(directory, manifest => manifest["backend"]!["fde_storage"]!["kind"] = "pq7");
        Assert.That(() => MuveraIndex.Load(directory), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("pq7"));
        EditManifest(directory, manifest => manifest["backend"]!["fde_storage"] = null);
        Assert.That(() => MuveraIndex.Load(directory), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("fde_storage"));
    }

    [Test]
    public void Load_VersionOneManifest_ReadsAsFloatStorage()
    {
        // A version 1 manifest is the version 2 one without backend.fde_storage: the flat file formats did not change.
        string directory = Path.Combine(_root, "v1");
        MuveraSearchHit[][] before;
        SyntheticCorpus corpus;
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out corpus, backend: new FlatMipsBackend(FdeStorage.Float16)))
        {
            before = corpus.Queries.Select(q => index.Search(q, 5)).ToArray();
            index.Save(directory);
        }

        EditManifest(directory, manifest =>
        {
            manifest["format_version"] = 1;
            manifest["backend"]!.AsObject().Remove("fde_storage");
        });
        using (MuveraIndex loaded = MuveraIndex.Load(directory))
        {
            Assert.That(((FlatMipsBackend)loaded.Backend).Storage, Is.EqualTo(FdeStorage.Float16));
            for (int q = 0; q < before.Length; q++)
            {
                Assert.That(loaded.Search(corpus.Queries[q], 5), Is.EqualTo(before[q]), $"query {q}");
            }
        }

        EditManifest(directory, manifest => manifest["format_version"] = 3);
        Assert.That(() => MuveraIndex.Load(directory), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("format version 3"));
    }

    private static JsonObject ReadManifest(string directory)
    {
        string version = File.ReadAllText(Path.Combine(directory, "CURRENT")).Split(' ')[0];
        return JsonNode.Parse(File.ReadAllBytes(Path.Combine(directory, version, "manifest.json")))!.AsObject();
    }

    private static void EditManifest(string directory, Action<JsonObject> edit)
    {
        string version = File.ReadAllText(Path.Combine(directory, "CURRENT")).Split(' ')[0];
        string path = Path.Combine(directory, version, "manifest.json");
        JsonObject manifest = JsonNode.Parse(File.ReadAllBytes(path))!.AsObject();
        edit(manifest);
        byte[] bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        File.WriteAllBytes(path, bytes);
        File.WriteAllText(Path.Combine(directory, "CURRENT"), $"{version} {TestVectors.Fnv1a64(bytes):x16}\n");
    }
}
