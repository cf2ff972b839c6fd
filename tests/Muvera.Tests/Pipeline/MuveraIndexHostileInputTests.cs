// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using Muvera.Indexing;
using Muvera.Serialization;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Pipeline;

/// <summary>The input and file edge cases of issue #17 that hostile testing found: ids that UTF-8 cannot encode, finite
/// values large enough to overflow, stored FDEs that do not belong to the manifest's encoder, metadata beyond the
/// loader's own limits, compaction at fraction 1, and a save onto a file. Each gets an exception of the documented type
/// that names the value, and leaves the index (in memory and on disk) unchanged.</summary>
[TestFixture]
public sealed class MuveraIndexHostileInputTests
{
    private const int D = MuveraIndexTests.Dimension;

    private string _root = "";

    [SetUp]
    public void SetUp()
    {
        _root = Path.Combine(Path.GetTempPath(), "muvera-hostile-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    // Display names only: a lone surrogate in a test name would itself be malformed in the test results.
    public static TestCaseData[] LoneSurrogateIds() =>
    [
        new TestCaseData("bad\uD800", "bad\\uD800", "U+D800", 3).SetArgDisplayNames("high-surrogate-at-end"),
        new TestCaseData("\uDC00x", "\\uDC00x", "U+DC00", 0).SetArgDisplayNames("low-surrogate-first"),
        new TestCaseData("a\uD83Dz", "a\\uD83Dz", "U+D83D", 1).SetArgDisplayNames("high-surrogate-before-a-letter"),
    ];

    [TestCaseSource(nameof(LoneSurrogateIds))]
    public void Add_IdWithALoneSurrogate_ThrowsNamingTheId_AndLaterSavesWork(string id, string escaped, string codePoint, int position)
    {
        string directory = Path.Combine(_root, "index");
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 20);
        ArgumentException single = Assert.Throws<ArgumentException>(() => index.Add(id, corpus.Queries[0]))!;
        ArgumentException batch = Assert.Throws<ArgumentException>(() => index.AddRange(["fine", id], [corpus.Queries[1], corpus.Queries[2]]))!;
        Assert.Multiple(() =>
        {
            Assert.That(single.ParamName, Is.EqualTo("ids"));
            Assert.That(single.Message, Does.Contain($"\"{escaped}\"").And.Contain(codePoint).And.Contain($"index {position}"));
            Assert.That(batch.Message, Does.Contain("ids[1]").And.Contain(escaped));
            Assert.That(index.Count, Is.EqualTo(20), "nothing was added");
            Assert.That(index.Contains("fine"), Is.False, "the batch is all or nothing");
        });

        // The failure this replaces: every later save threw EncoderFallbackException.
        index.Add("emoji-\uD83D\uDE00", corpus.Queries[3]);
        index.Save(directory);
        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.That(loaded.GetIds(), Is.EqualTo(index.GetIds()));
        Assert.That(loaded.Contains("emoji-\uD83D\uDE00"), Is.True, "a surrogate pair is well-formed");
    }

    [TestCase(3e38f)]
    [TestCase(-3e38f)]
    [TestCase(1048576f)]
    public void AddUpdateSearch_FiniteValueBeyondTheTokenLimit_ThrowsNamingTheValue_AndIndexIsUnchanged(float huge)
    {
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 30);
        MuveraSearchHit[] before = index.Search(corpus.Queries[0], 5);
        float[] values = corpus.Queries[1].Span.ToArray();
        values[D + 5] = huge;
        var bad = new ReadOnlyMultiVector(values, D);
        string text = huge.ToString();

        ArgumentException add = Assert.Throws<ArgumentException>(() => index.Add("huge", bad))!;
        ArgumentException update = Assert.Throws<ArgumentException>(() => index.Update(corpus.Ids[4], bad))!;
        ArgumentException search = Assert.Throws<ArgumentException>(() => index.Search(bad, 5))!;
        ArgumentException exact = Assert.Throws<ArgumentException>(() => index.SearchExact(bad, 5))!;
        ArgumentException rerankOnly = Assert.Throws<ArgumentException>(() => index.Search(bad, 5, new MuveraSearchOptions { Rerank = false }))!;
        Assert.Multiple(() =>
        {
            foreach (ArgumentException e in new[] { add, update, search, exact, rerankOnly })
            {
                Assert.That(e.Message, Does.Contain(text).And.Contain("token 1, coordinate 5").And.Contain("TokenValueLimit"), e.Message);
                Assert.That(e.Message, Does.Not.Contain("Infinity").And.Not.Contain("∞"));
            }

            Assert.That(add.Message, Does.Contain("\"huge\""));
            Assert.That(update.Message, Does.Contain(corpus.Ids[4]));
            Assert.That(search.ParamName, Is.EqualTo("query"));
            Assert.That(index.Count, Is.EqualTo(30));
            Assert.That(index.Contains("huge"), Is.False);
            Assert.That(index.GetDocument(corpus.Ids[4]).Span.ToArray(), Is.EqualTo(corpus.Documents[4].Span.ToArray()));
            Assert.That(index.Search(corpus.Queries[0], 5), Is.EqualTo(before));
        });
    }

    [Test]
    public void SearchAndSearchExact_ValuesJustBelowTheTokenLimit_GiveFiniteScores()
    {
        float below = MathF.BitDecrement(FdeEncoder.TokenValueLimit);
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 30);
        float[] values = new float[64 * D];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = i % 3 == 0 ? -below : below;
        }

        var big = new ReadOnlyMultiVector(values, D);
        index.Add("big", big);
        MuveraSearchHit[] exact = index.SearchExact(big, 3);
        MuveraSearchHit[] search = index.Search(big, 3, new MuveraSearchOptions { Candidates = 31 });
        MuveraSearchHit[] fdeOnly = index.Search(big, 3, new MuveraSearchOptions { Rerank = false, Candidates = 31 });
        Assert.Multiple(() =>
        {
            Assert.That(exact[0].Id, Is.EqualTo("big"));
            Assert.That(exact.Concat(search).Select(h => h.Score).All(float.IsFinite), Is.True);
            Assert.That(search.Concat(fdeOnly).Select(h => h.FdeScore).All(float.IsFinite), Is.True);
            Assert.That(exact[0].Score, Is.GreaterThan(1e13f), "64 tokens · 16 coordinates · (2^20)^2 / 3 or so");
        });
    }

    public static TestCaseData[] FlatBackends() =>
    [
        new TestCaseData(new FlatMipsBackend()).SetArgDisplayNames("flat-f32"),
        new TestCaseData(new FlatMipsBackend(StoreElementType.Float16)).SetArgDisplayNames("flat-f16"),
    ];

    [TestCaseSource(nameof(FlatBackends))]
    public void Load_EncoderIdentityThatDoesNotBelongToTheStoredFdes_ThrowsInvalidDataNamingTheMismatch(MipsBackend backend)
    {
        // The hostile edit of issue #17: another seed in the manifest, every checksum recomputed. Exact search would be
        // unchanged and FDE search at chance, so the loader re-encodes stored documents and compares.
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 40, backend: backend))
        {
            index.Save(directory);
        }

        using (MuveraIndex intact = MuveraIndex.Load(directory))
        {
            Assert.That(intact.Count, Is.EqualTo(40), "the untouched index passes the check");
        }

        FdeOptions other = MuveraIndexTests.SmallFde with { Seed = 8 };
        RewriteManifest(directory, manifest =>
        {
            manifest["encoder"] = Convert.ToBase64String(new FdeEncoderIdentity(other, FdeEncoder.PrngVersion).ToBytes());
            manifest["fde"]!["seed"] = 8;
        });
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => MuveraIndex.Load(directory))!;
        Assert.That(e.Message, Does.Contain("doc-000000").And.Contain("Seed = 8").And.Contain("do not belong together"));
    }

    [Test]
    public void Load_OneStoredFdeAltered_ThrowsNamingItsDocument()
    {
        // The last live document is always among the re-encoded ones (the samples are spread from the first to the last).
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 25))
        {
            index.Delete(corpus.Ids[24]);
            index.Save(directory);
        }

        string fdePath = Path.Combine(directory, CurrentVersion(directory), "fde.flat");
        using (FlatMipsIndex stored = FlatMipsIndex.Load(fdePath))
        {
            float[] all = new float[stored.Count * stored.Dimension];
            for (int i = 0; i < stored.Count; i++)
            {
                stored.CopyVector(i, all.AsSpan(i * stored.Dimension, stored.Dimension));
            }

            all[(23 * stored.Dimension) + 7] += 0.5f;
            using var altered = new FlatMipsIndex(stored.Dimension);
            altered.Add(all);
            using var buffer = new MemoryStream();
            altered.Save(buffer);
            RewriteFile(directory, "fde.flat", buffer.ToArray());
        }

        InvalidDataException e = Assert.Throws<InvalidDataException>(() => MuveraIndex.Load(directory))!;
        Assert.That(e.Message, Does.Contain("document 23").And.Contain("doc-000023").And.Contain("fde.flat"));
    }

    [TestCase("candidates", "2147483647")]
    [TestCase("k", "0")]
    [TestCase("curve_candidates", "-5")]
    [TestCase("curve_recall", "1.5")]
    [TestCase("curve_order", "do not ascend")]
    [TestCase("curve_empty", "0 candidate counts")]
    public void Load_CalibrationBeyondItsLimits_ThrowsInvalidDataNamingTheValue(string edit, string expected)
    {
        string directory = SaveCalibrated();
        RewriteManifest(directory, manifest =>
        {
            JsonObject calibration = manifest["calibration"]!.AsObject();
            JsonArray curve = calibration["curve_candidates"]!.AsArray();
            switch (edit)
            {
                case "candidates":
                    calibration["candidates"] = int.MaxValue;
                    break;
                case "k":
                    calibration["k"] = 0;
                    break;
                case "curve_candidates":
                    curve[0] = -5;
                    break;
                case "curve_recall":
                    calibration["curve_recall"]!.AsArray()[^1] = 1.5;
                    break;
                case "curve_order":
                    (curve[0], curve[1]) = (curve[1]!.GetValue<int>(), curve[0]!.GetValue<int>());
                    break;
                default:
                    calibration["curve_candidates"] = new JsonArray();
                    calibration["curve_recall"] = new JsonArray();
                    break;
            }
        });
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => MuveraIndex.Load(directory))!;
        Assert.That(e.Message, Does.Contain(expected).And.Contain("calibration"));
    }

    [Test]
    public void Load_ManifestBackendKindNullOrFileOutsideTheVersion_ThrowsInvalidData()
    {
        string directory = SaveCalibrated();
        RewriteManifest(directory, manifest => manifest["backend"]!["kind"] = null);
        InvalidDataException kind = Assert.Throws<InvalidDataException>(() => MuveraIndex.Load(directory))!;
        Assert.That(kind.Message, Does.Contain("backend kind is null"));

        RewriteManifest(directory, manifest =>
        {
            manifest["backend"]!["kind"] = "flat";
            manifest["backend"]!["file"] = "../fde.flat";
        });
        InvalidDataException file = Assert.Throws<InvalidDataException>(() => MuveraIndex.Load(directory))!;
        Assert.That(file.Message, Does.Contain("\"../fde.flat\""));
    }

    [Test]
    public void Load_ReadableFdeCopyThatDisagreesWithTheIdentity_ThrowsInvalidDataNamingTheField()
    {
        string directory = SaveCalibrated();
        RewriteManifest(directory, manifest => manifest["fde"]!["seed"] = 99);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => MuveraIndex.Load(directory))!;
        Assert.That(e.Message, Does.Contain("fde.seed is 99").And.Contain("says 7"));
    }

    [TestCase(10)]
    [TestCase(15)]
    [TestCase(48)]
    [TestCase(55)]
    public void Load_IdMapWithANonZeroReservedByte_ThrowsInvalidDataNamingTheByte(int offset)
    {
        string directory = SaveCalibrated();
        byte[] ids = File.ReadAllBytes(Path.Combine(directory, CurrentVersion(directory), "ids.bin"));
        ids[offset] = 0x5A;
        BinaryPrimitives.WriteUInt64LittleEndian(ids.AsSpan(56), TestVectors.Fnv1a64(ids.AsSpan(0, 56)));
        RewriteFile(directory, "ids.bin", ids);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => MuveraIndex.Load(directory))!;
        Assert.That(e.Message, Does.Contain($"reserved header byte {offset} is 0x5A"));
    }

    [Test]
    public void Load_TokenStoreWithAValueBeyondTheTokenLimit_ThrowsInvalidData()
    {
        // A bare store accepts any finite value; an index refuses what no add accepts, so SearchExact cannot overflow.
        string directory = SaveCalibrated();
        string path = Path.Combine(directory, CurrentVersion(directory), "tokens.mvs");
        using (MultiVectorStore stored = MultiVectorStore.Load(path))
        {
            var hostile = new MultiVectorStore(stored.Dimension, stored.ElementType, stored.IsNormalized);
            for (int i = 0; i < stored.Count; i++)
            {
                float[] tokens = new float[stored.TokenCountOf(i) * stored.Dimension];
                stored.CopyTokens(i, tokens);
                if (i == 3)
                {
                    tokens[2] = 3e38f;
                }

                hostile.Add(tokens);
            }

            using var buffer = new MemoryStream();
            hostile.Save(buffer);
            RewriteFile(directory, "tokens.mvs", buffer.ToArray());
        }

        Assert.That(() => MultiVectorStore.Load(path).Dispose(), Throws.Nothing, "the store format itself allows it");
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => MuveraIndex.Load(directory))!;
        Assert.That(e.Message, Does.Contain("tokens.mvs").And.Contain("TokenValueLimit"));
    }

    [Test]
    public void Save_CompactOnSaveFractionOne_NeverCompacts_EvenWithEveryDocumentDeleted()
    {
        string directory = Path.Combine(_root, "index");
        SyntheticCorpus corpus = SyntheticCorpus.Create(10, 1, seed: 3, dimension: D, tokens: 4, queryTokens: 4, topics: 5);
        using MuveraIndex index = MuveraIndex.Create(new MuveraIndexOptions { Fde = MuveraIndexTests.SmallFde, CompactOnSaveFraction = 1 });
        index.AddRange(corpus.Ids, corpus.Documents);
        foreach (string id in corpus.Ids)
        {
            index.Delete(id);
        }

        index.Save(directory);
        Assert.That((index.Count, index.DeletedCount), Is.EqualTo((0, 10)), "fraction 1 turns automatic compaction off");
        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.That((loaded.Count, loaded.DeletedCount), Is.EqualTo((0, 10)));
    }

    [Test]
    public void Save_OntoAFileOrBelowOne_SaysWhichPathIsAFile_AndWritesNothing()
    {
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 5);
        string file = Path.Combine(_root, "notes.txt");
        File.WriteAllText(file, "not a directory");
        IOException onto = Assert.Throws<IOException>(() => index.Save(file))!;
        IOException below = Assert.Throws<IOException>(() => index.Save(Path.Combine(file, "index")))!;
        Assert.Multiple(() =>
        {
            Assert.That(onto.Message, Does.Contain($"'{file}': it is a file"));
            Assert.That(below.Message, Does.Contain($"'{file}' in its path is a file"));
            Assert.That(File.ReadAllText(file), Is.EqualTo("not a directory"));
            Assert.That(Directory.GetFileSystemEntries(_root), Is.EqualTo(new[] { file }));
        });
    }

    private static string CurrentVersion(string directory) => MuveraIndexPersistenceTests.CurrentVersion(directory);

    private string SaveCalibrated()
    {
        string directory = Path.Combine(_root, "index");
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 40);
        index.Calibrate(corpus.Queries.Take(4).ToArray(), 3, 0.9);
        index.Save(directory);
        return directory;
    }

    // Edits the current manifest and recomputes the hash CURRENT holds, as a hostile or foreign writer would.
    private static void RewriteManifest(string directory, Action<JsonObject> edit)
    {
        string version = CurrentVersion(directory);
        string path = Path.Combine(directory, version, "manifest.json");
        JsonObject manifest = JsonNode.Parse(File.ReadAllBytes(path))!.AsObject();
        edit(manifest);
        byte[] bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        File.WriteAllBytes(path, bytes);
        File.WriteAllText(Path.Combine(directory, "CURRENT"), $"{version} {TestVectors.Fnv1a64(bytes):x16}\n");
    }

    // Replaces a data file of the current version and updates its length and hash in the manifest.
    private static void RewriteFile(string directory, string name, byte[] bytes)
    {
        File.WriteAllBytes(Path.Combine(directory, CurrentVersion(directory), name), bytes);
        RewriteManifest(directory, manifest =>
        {
            foreach (JsonNode? file in manifest["files"]!.AsArray())
            {
                if (file!["name"]!.GetValue<string>() == name)
                {
                    // A version 2 token store is hashed by its header alone (hashed_bytes = 128).
                    int hashed = file["hashed_bytes"]?.GetValue<int>() ?? bytes.Length;
                    file["length"] = bytes.Length;
                    file["fnv1a64"] = TestVectors.Fnv1a64(bytes.AsSpan(0, hashed)).ToString("x16");
                }
            }
        });
    }
}
