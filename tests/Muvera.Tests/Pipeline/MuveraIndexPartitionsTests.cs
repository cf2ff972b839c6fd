// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.Serialization;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Pipeline;

/// <summary>A <see cref="MuveraIndex"/> with learned partitions: exact search until it trains, training by itself at
/// <see cref="MuveraIndex.PartitionTrainingDocuments"/> or on request, every held document encoded with the trained
/// partitions, and the partitions saved, verified and loaded with the index.</summary>
[TestFixture]
[NonParallelizable]
public sealed class MuveraIndexPartitionsTests
{
    private string _root = "";

    internal static FdeOptions LearnedFde => MuveraIndexTests.SmallFde with
    {
        Partitioning = FdePartitioning.KMeans,
        DocumentAggregation = FdeDocumentAggregation.NormalizedAverage,
        TrainingSample = 3000,
    };

    [SetUp]
    public void SetUp()
    {
        _root = Path.Combine(Path.GetTempPath(), "muvera-partitions-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    [Test]
    public void AddRange_BelowTheTrainingThreshold_KeepsTokensAndSearchesExactly()
    {
        SyntheticCorpus corpus = Corpus(300);
        using MuveraIndex index = Create();
        index.AddRange(corpus.Ids, corpus.Documents);
        Assert.Multiple(() =>
        {
            Assert.That(index.IsTrained, Is.False);
            Assert.That(index.Count, Is.EqualTo(300));
            Assert.That(() => index.Encoder, Throws.InvalidOperationException.With.Message.Contains("not trained").And.Message.Contains("1024"));
            Assert.That(index.FdeBytes, Is.Zero, "no FDE is stored before training");
        });
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            MuveraSearchHit[] exact = index.SearchExact(query, 10);
            MuveraSearchHit[] search = index.Search(query, 10, new MuveraSearchOptions { Candidates = 20 });
            MuveraSearchHit[] fdeOnly = index.Search(query, 10, new MuveraSearchOptions { Candidates = 20, Rerank = false });
            Assert.That(search.Select(h => (h.Id, h.Score)), Is.EqualTo(exact.Select(h => (h.Id, h.Score))));
            Assert.That(fdeOnly.Select(h => h.Id), Is.EqualTo(exact.Select(h => h.Id)));
            Assert.That(search.Select(h => h.FdeScore), Is.All.NaN);
        }
    }

    [Test]
    public void AddRange_ReachingTheThreshold_TrainsOnEveryHeldDocumentAndEncodesThem()
    {
        SyntheticCorpus corpus = Corpus(MuveraIndex.PartitionTrainingDocuments + 100);
        using MuveraIndex index = Create();
        int first = 700;
        index.AddRange(corpus.Ids[..first], corpus.Documents[..first]);
        index.Delete(corpus.Ids[3]);
        Assert.That(index.IsTrained, Is.False);
        index.AddRange(corpus.Ids[first..], corpus.Documents[first..]);
        Assert.That(index.IsTrained, Is.True);

        // The sample is drawn from the live documents held and the batch, in ordinal order.
        ReadOnlyMultiVector[] live = corpus.Documents.Where((_, i) => i != 3).ToArray();
        FdeEncoder expected = FdeEncoder.Train(LearnedFde, live);
        Assert.That(index.Encoder.Identity, Is.EqualTo(expected.Identity));
        AssertFdesAreTheEncodersOf(index, expected, corpus, excluded: corpus.Ids[3]);
    }

    [Test]
    public void Train_OnASampleBeforeAdding_EncodesEveryLaterAdd()
    {
        SyntheticCorpus corpus = Corpus(200);
        using MuveraIndex index = Create();
        ReadOnlyMultiVector[] sample = corpus.Documents[..120];
        index.Train(sample);
        Assert.That(index.IsTrained, Is.True);
        index.AddRange(corpus.Ids, corpus.Documents);
        FdeEncoder expected = FdeEncoder.Train(LearnedFde, sample);
        Assert.That(index.Encoder.Identity, Is.EqualTo(expected.Identity));
        AssertFdesAreTheEncodersOf(index, expected, corpus);
    }

    [Test]
    public void Train_HeldDocuments_TrainsOnTheLiveOnesAndEncodesEveryOrdinal()
    {
        SyntheticCorpus corpus = Corpus(150);
        using MuveraIndex index = Create();
        index.AddRange(corpus.Ids, corpus.Documents);
        index.Delete(corpus.Ids[10]);
        index.Update(corpus.Ids[11], corpus.Documents[12]);
        index.Train(new ParallelOptions { MaxDegreeOfParallelism = 1 });

        // Ordinals: 0..149, then the update's new copy of document 12 at 150; 10 and the old 11 are deleted.
        List<ReadOnlyMultiVector> live = [.. corpus.Documents.Where((_, i) => i is not (10 or 11)), corpus.Documents[12]];
        FdeEncoder expected = FdeEncoder.Train(LearnedFde, live);
        Assert.That(index.Encoder.Identity, Is.EqualTo(expected.Identity));
        index.Compact();
        Assert.That(index.Encoder.Identity, Is.EqualTo(expected.Identity), "compaction keeps the partitions");
        ReadOnlyMultiVector query = corpus.Queries[0];
        MuveraSearchHit[] fdeOnly = index.Search(query, 10, new MuveraSearchOptions { Candidates = 10, Rerank = false });
        float[] q = expected.EncodeQuery(query);
        foreach (MuveraSearchHit hit in fdeOnly)
        {
            ReadOnlyMultiVector document = hit.Id == corpus.Ids[11] ? corpus.Documents[12] : corpus.Documents[Array.IndexOf(corpus.Ids, hit.Id)];
            double dot = TestVectors.Dot(q, expected.EncodeDocument(document));
            Assert.That(hit.FdeScore, Is.EqualTo(dot).Within(1e-4 * Math.Max(1, Math.Abs(dot))), hit.Id);
        }
    }

    [Test]
    public void Train_AnyThreadCount_GivesTheSamePartitions()
    {
        SyntheticCorpus corpus = Corpus(80);
        using MuveraIndex one = Create();
        using MuveraIndex all = Create();
        one.Train(corpus.Documents, new ParallelOptions { MaxDegreeOfParallelism = 1 });
        all.Train(corpus.Documents, new ParallelOptions { MaxDegreeOfParallelism = -1 });
        Assert.That(one.Encoder.Identity, Is.EqualTo(all.Encoder.Identity));
        Assert.That(one.Encoder.Partitions!.Checksum, Is.EqualTo(all.Encoder.Partitions!.Checksum));
    }

    [Test]
    public void Train_WithASample_AlsoTrainsQuantizedFdeStorage_OnFdesSpreadOverTheSample()
    {
        SyntheticCorpus corpus = Corpus(300);
        FdeStorage storage = FdeStorage.ProductQuantization(4, 4) with { TrainingRows = 64, MaxTrainingSample = 100 };
        using MuveraIndex index = MuveraIndex.Create(new MuveraIndexOptions { Fde = LearnedFde }, new FlatMipsBackend(storage));
        index.Train(corpus.Documents);
        index.AddRange(corpus.Ids.Take(20).ToArray(), corpus.Documents.Take(20).ToArray());

        // The reference: the same storage trained on the FDEs of every third document (100 of 300, spread evenly).
        int dimension = index.Encoder.OutputDimension;
        ReadOnlyMultiVector[] chosen = Enumerable.Range(0, 100).Select(i => corpus.Documents[i * 3]).ToArray();
        using var expected = new QuantizedMipsIndex(dimension, storage);
        expected.Train(index.Encoder.EncodeDocuments(chosen));
        expected.Add(index.Encoder.EncodeDocuments(corpus.Documents.Take(20).ToArray()));
        Assert.That(index.FdeBytesPerDocument, Is.EqualTo(storage.BytesPerVector(dimension)), "quantized with 20 documents, fewer than TrainingRows");
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            MuveraSearchHit[] hits = index.Search(query, 5, new MuveraSearchOptions { Candidates = 5, Rerank = false });
            var want = new ScoredId[5];
            int found = expected.Search(index.Encoder.EncodeQuery(query), 5, want);
            Assert.That(hits.Select(h => h.Id), Is.EqualTo(want.Take(found).Select(w => corpus.Ids[w.Id])));
            Assert.That(hits.Select(h => h.FdeScore), Is.EqualTo(want.Take(found).Select(w => w.Score)));
        }

        // A sample smaller than TrainingRows leaves the quantizer to train on the documents added.
        using MuveraIndex small = MuveraIndex.Create(new MuveraIndexOptions { Fde = LearnedFde }, new FlatMipsBackend(storage));
        small.Train(corpus.Documents.Take(40).ToArray());
        small.AddRange(corpus.Ids.Take(20).ToArray(), corpus.Documents.Take(20).ToArray());
        Assert.That(small.FdeBytesPerDocument, Is.EqualTo(4L * dimension), "float32 until it holds TrainingRows documents");
    }

    [Test]
    public void Search_Untrained_IsExactAndKeepsTheFilter()
    {
        SyntheticCorpus corpus = Corpus(60);
        using MuveraIndex index = Create();
        index.AddRange(corpus.Ids, corpus.Documents);
        MuveraFilter filter = MuveraFilter.FromIds(corpus.Ids.Where((_, i) => i % 3 == 0));
        Assert.That(index.IsTrained, Is.False, "60 documents, fewer than the 1,024 that start training");
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            MuveraSearchHit[] hits = index.Search(query, 5, new MuveraSearchOptions { Filter = filter });
            Assert.That(hits.Select(h => h.Id), Is.EqualTo(index.SearchExact(query, 5, filter).Select(h => h.Id)));
            Assert.That(hits.Select(h => Array.IndexOf(corpus.Ids, h.Id) % 3), Is.All.Zero, "only allowed documents");
        }
    }

    [Test]
    public void Train_WhenItCannot_ThrowsInvalidOperationNamingWhy()
    {
        SyntheticCorpus corpus = Corpus(20);
        using MuveraIndex empty = Create();
        using MuveraIndex simHash = MuveraIndex.Create(new MuveraIndexOptions { Fde = MuveraIndexTests.SmallFde });
        using MuveraIndex trained = Create();
        trained.Train(corpus.Documents);
        Assert.Multiple(() =>
        {
            Assert.That(() => empty.Train(), Throws.InvalidOperationException.With.Message.Contains("no document"));
            Assert.That(() => simHash.Train(corpus.Documents), Throws.InvalidOperationException.With.Message.Contains("needs no training"));
            Assert.That(() => trained.Train(corpus.Documents), Throws.InvalidOperationException.With.Message.Contains("already trained"));
            Assert.That(() => empty.Train([]), Throws.ArgumentException.With.Message.Contains("no token"));
            Assert.That(() => empty.Train((IReadOnlyList<ReadOnlyMultiVector>)null!), Throws.ArgumentNullException);
            Assert.That(empty.IsTrained, Is.False);
            Assert.That(simHash.IsTrained, Is.True);
        });
    }

    [Test]
    public void Calibrate_Untrained_TrainsFirst()
    {
        SyntheticCorpus corpus = Corpus(120);
        using MuveraIndex index = Create();
        index.AddRange(corpus.Ids, corpus.Documents);
        MuveraCalibration calibration = index.Calibrate(corpus.Queries, 5, 0.9);
        Assert.That(index.IsTrained, Is.True);
        Assert.That(calibration.AchievedRecall, Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    public void Float16Tokens_TrainOnTheStoredValues()
    {
        SyntheticCorpus corpus = Corpus(60);
        using MuveraIndex index = MuveraIndex.Create(new MuveraIndexOptions { Fde = LearnedFde, TokenElementType = StoreElementType.Float16 }, new FlatMipsBackend(FdeStorage.Float32));
        index.AddRange(corpus.Ids, corpus.Documents);
        index.Train();
        ReadOnlyMultiVector[] stored = corpus.Ids.Select(index.GetDocument).ToArray();
        Assert.That(index.Encoder.Identity, Is.EqualTo(FdeEncoder.Train(LearnedFde, stored).Identity));
    }

    [Test]
    public void SaveLoad_Trained_KeepsThePartitionsAndGivesIdenticalResults()
    {
        SyntheticCorpus corpus = Corpus(200);
        string directory = Path.Combine(_root, "trained");
        MuveraSearchHit[][] before;
        FdeEncoderIdentity identity;
        using (MuveraIndex index = Create())
        {
            index.AddRange(corpus.Ids, corpus.Documents);
            index.Train();
            identity = index.Encoder.Identity;
            before = Run(index, corpus);
            index.Save(directory);
        }

        string version = Path.Combine(directory, MuveraIndexPersistenceTests.CurrentVersion(directory));
        JsonObject manifest = JsonNode.Parse(File.ReadAllBytes(Path.Combine(version, "manifest.json")))!.AsObject();
        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(Path.Combine(version, "partitions.bin")), Is.True);
            Assert.That(manifest["files"]!.AsArray().Select(f => (string)f!["name"]!), Does.Contain("partitions.bin"));
            Assert.That(manifest["fde"]!["partitioning"]!.GetValue<string>(), Is.EqualTo("KMeans"));
            Assert.That(manifest["fde"]!["partitions_checksum"]!.GetValue<string>(), Is.EqualTo(identity.PartitionsChecksum!.Value.ToString("x16")));
            Assert.That(Convert.FromBase64String((string)manifest["encoder"]!), Has.Length.EqualTo(FdeEncoderIdentity.SerializedLengthVersion2));
        });

        using MuveraIndex loaded = MuveraIndex.Load(directory, new MuveraLoadOptions { ExpectedFde = LearnedFde });
        Assert.Multiple(() =>
        {
            Assert.That(loaded.IsTrained, Is.True);
            Assert.That(loaded.Encoder.Identity, Is.EqualTo(identity));
            Assert.That(Run(loaded, corpus), Is.EqualTo(before));
        });

        // A loaded index goes on encoding with the loaded partitions, and saves them again.
        SyntheticCorpus more = SyntheticCorpus.Create(10, 1, seed: 99, dimension: MuveraIndexTests.Dimension, tokens: 10, queryTokens: 6, topics: 40);
        loaded.AddRange(more.Ids.Select(id => "more-" + id).ToArray(), more.Documents);
        loaded.Save(directory);
        using MuveraIndex again = MuveraIndex.Load(directory);
        Assert.That(again.Encoder.Identity, Is.EqualTo(identity));
        Assert.That(again.Count, Is.EqualTo(210));
    }

    [Test]
    public void SaveLoad_Untrained_LoadsUntrainedAndTrainsOnLaterAdds()
    {
        SyntheticCorpus corpus = Corpus(MuveraIndex.PartitionTrainingDocuments + 10);
        string directory = Path.Combine(_root, "untrained");
        using (MuveraIndex index = Create())
        {
            index.AddRange(corpus.Ids[..30], corpus.Documents[..30]);
            index.Save(directory);
        }

        string version = Path.Combine(directory, MuveraIndexPersistenceTests.CurrentVersion(directory));
        Assert.That(File.Exists(Path.Combine(version, "partitions.bin")), Is.False);
        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.Multiple(() =>
        {
            Assert.That(loaded.IsTrained, Is.False);
            Assert.That(loaded.Count, Is.EqualTo(30));
            Assert.That(loaded.Search(corpus.Queries[0], 5).Select(h => h.Id), Is.EqualTo(loaded.SearchExact(corpus.Queries[0], 5).Select(h => h.Id)));
        });
        loaded.AddRange(corpus.Ids[30..], corpus.Documents[30..]);
        Assert.That(loaded.IsTrained, Is.True);
        Assert.That(loaded.Encoder.Identity, Is.EqualTo(FdeEncoder.Train(LearnedFde, corpus.Documents).Identity));
    }

    [Test]
    public void Save_SimHashIndex_WritesTheVersion1IdentityAndNoPartitions()
    {
        string directory = Path.Combine(_root, "simhash");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 20))
        {
            index.Save(directory);
        }

        string version = Path.Combine(directory, MuveraIndexPersistenceTests.CurrentVersion(directory));
        JsonObject manifest = JsonNode.Parse(File.ReadAllBytes(Path.Combine(version, "manifest.json")))!.AsObject();
        Assert.Multiple(() =>
        {
            Assert.That(Convert.FromBase64String((string)manifest["encoder"]!), Has.Length.EqualTo(FdeEncoderIdentity.SerializedLength));
            Assert.That(manifest["files"]!.AsArray(), Has.Count.EqualTo(3));
            Assert.That(manifest["fde"]!.AsObject().Select(p => p.Key), Is.EqualTo(new[]
            {
                "dimension", "repetitions", "simhash_projections", "projection", "projection_dimension", "final_dimension",
                "fill_empty_partitions", "seed", "output_dimension", "prng_version",
            }), "the readable copy of a SimHash index is the one older builds read");
            Assert.That(File.Exists(Path.Combine(version, "partitions.bin")), Is.False);
        });
    }

    [Test]
    public void Load_PartitionsOfAnotherIndex_ThrowsInvalidDataNamingBothChecksums()
    {
        SyntheticCorpus corpus = Corpus(60);
        string a = Path.Combine(_root, "a");
        string b = Path.Combine(_root, "b");
        using (MuveraIndex index = Create())
        {
            index.AddRange(corpus.Ids, corpus.Documents);
            index.Train();
            index.Save(a);
        }

        using (MuveraIndex index = Create())
        {
            index.AddRange(corpus.Ids, corpus.Documents);
            index.Train(corpus.Documents[..30]);
            index.Save(b);
        }

        // b's partitions in a's directory, with a's manifest updated to list them: the identity's checksum refuses them.
        string versionA = Path.Combine(a, MuveraIndexPersistenceTests.CurrentVersion(a));
        byte[] foreign = File.ReadAllBytes(Path.Combine(b, MuveraIndexPersistenceTests.CurrentVersion(b), "partitions.bin"));
        File.WriteAllBytes(Path.Combine(versionA, "partitions.bin"), foreign);
        RewriteManifest(a, manifest =>
        {
            foreach (JsonNode? file in manifest["files"]!.AsArray())
            {
                if ((string)file!["name"]! == "partitions.bin")
                {
                    file["length"] = foreign.Length;
                    file["fnv1a64"] = TestVectors.Fnv1a64(foreign).ToString("x16");
                }
            }
        });
        Assert.That(() => MuveraIndex.Load(a), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("do not belong together"));
    }

    [Test]
    public void Load_TrainedIdentityWithoutItsPartitionsFile_ThrowsInvalidData()
    {
        SyntheticCorpus corpus = Corpus(40);
        string directory = Path.Combine(_root, "missing");
        using (MuveraIndex index = Create())
        {
            index.AddRange(corpus.Ids, corpus.Documents);
            index.Train();
            index.Save(directory);
        }

        RewriteManifest(directory, manifest =>
        {
            JsonArray files = manifest["files"]!.AsArray();
            files.Remove(files.First(f => (string)f!["name"]! == "partitions.bin"));
        });
        Assert.That(() => MuveraIndex.Load(directory), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("lists 3 files; expected 4"));
    }

    [Test]
    public void Load_ReadableCopyDisagreeingWithTheIdentity_ThrowsInvalidDataNamingTheField()
    {
        SyntheticCorpus corpus = Corpus(40);
        string directory = Path.Combine(_root, "readable");
        using (MuveraIndex index = Create())
        {
            index.AddRange(corpus.Ids, corpus.Documents);
            index.Train();
            index.Save(directory);
        }

        RewriteManifest(directory, manifest => manifest["fde"]!["document_aggregation"] = "Average");
        Assert.That(() => MuveraIndex.Load(directory), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("fde.document_aggregation"));
    }

    private static MuveraIndex Create() => MuveraIndex.Create(new MuveraIndexOptions { Fde = LearnedFde }, new FlatMipsBackend(FdeStorage.Float32));

    private static SyntheticCorpus Corpus(int documents) =>
        SyntheticCorpus.Create(documents, 8, seed: 21, dimension: MuveraIndexTests.Dimension, tokens: 10, queryTokens: 6, topics: 40);

    private static MuveraSearchHit[][] Run(MuveraIndex index, SyntheticCorpus corpus) =>
        corpus.Queries.Select(q => index.Search(q, 5, new MuveraSearchOptions { Candidates = 20 }))
            .Concat(corpus.Queries.Select(q => index.Search(q, 5, new MuveraSearchOptions { Candidates = 20, Rerank = false })))
            .ToArray();

    // Every FDE the index scores is the reference encoder's, and the FDE-only ranking is the brute-force one.
    private static void AssertFdesAreTheEncodersOf(MuveraIndex index, FdeEncoder encoder, SyntheticCorpus corpus, string? excluded = null)
    {
        var byId = corpus.Ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);
        float[] documents = encoder.EncodeDocuments(corpus.Documents);
        int length = encoder.OutputDimension;
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            float[] q = encoder.EncodeQuery(query);
            MuveraSearchHit[] fdeOnly = index.Search(query, 15, new MuveraSearchOptions { Candidates = 15, Rerank = false });
            foreach (MuveraSearchHit hit in fdeOnly)
            {
                double dot = TestVectors.Dot(q, documents.AsSpan(byId[hit.Id] * length, length));
                Assert.That(hit.FdeScore, Is.EqualTo(dot).Within(1e-4 * Math.Max(1, Math.Abs(dot))), hit.Id);
            }

            string[] expected = corpus.Ids.Where(id => id != excluded)
                .Select(id => (id, Score: TestVectors.Dot(q, documents.AsSpan(byId[id] * length, length))))
                .OrderByDescending(x => x.Score).ThenBy(x => byId[x.id]).Take(15).Select(x => x.id).ToArray();
            Assert.That(fdeOnly.Select(h => h.Id), Is.EqualTo(expected));
        }
    }

    private static void RewriteManifest(string directory, Action<JsonObject> edit)
    {
        string version = MuveraIndexPersistenceTests.CurrentVersion(directory);
        string path = Path.Combine(directory, version, "manifest.json");
        JsonObject manifest = JsonNode.Parse(File.ReadAllBytes(path))!.AsObject();
        edit(manifest);
        byte[] bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        File.WriteAllBytes(path, bytes);
        File.WriteAllText(Path.Combine(directory, "CURRENT"), $"{version} {TestVectors.Fnv1a64(bytes):x16}\n");
    }
}
