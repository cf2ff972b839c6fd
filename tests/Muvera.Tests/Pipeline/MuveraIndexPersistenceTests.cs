// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using Muvera.Faiss;
using Muvera.Indexing;
using Muvera.Serialization;
using Muvera.Tests.Fixtures;
using Muvera.USearch;

namespace Muvera.Tests.Pipeline;

/// <summary>Saving and loading a <see cref="MuveraIndex"/>: round trips for every backend, crashes between save steps,
/// leftovers of crashed saves, refused encoders, and a fuzz run over every file of a saved index.</summary>
[TestFixture]
[NonParallelizable] // SaveStepHook is static.
public sealed class MuveraIndexPersistenceTests
{
    private static readonly string[] s_saveSteps = ["created", "ids", "tokens", "fde", "manifest", "renamed", "current-written", "committed"];

    private string _root = "";

    [SetUp]
    public void SetUp()
    {
        _root = Path.Combine(Path.GetTempPath(), "muvera-index-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
    }

    [TearDown]
    public void TearDown()
    {
        MuveraIndex.SaveStepHook = null;
        Directory.Delete(_root, recursive: true);
    }

    public static IEnumerable<TestCaseData> Backends()
    {
        yield return new TestCaseData(new FlatMipsBackend(FdeStorage.Float32)).SetArgDisplayNames("flat-f32");
        yield return new TestCaseData(new FlatMipsBackend(FdeStorage.ProductQuantization() with { TrainingRows = 100 })).SetArgDisplayNames("flat-pq4");
        yield return new TestCaseData(new FlatMipsBackend(FdeStorage.ProductQuantization(8, 8) with { TrainingRows = 200 })).SetArgDisplayNames("flat-pq8");
        yield return new TestCaseData(new FlatMipsBackend(FdeStorage.Int8 with { TrainingRows = 100 })).SetArgDisplayNames("flat-int8");
        yield return new TestCaseData(new FlatMipsBackend(StoreElementType.Float16)).SetArgDisplayNames("flat-f16");
        yield return new TestCaseData(new USearchMipsBackend(new USearchOptions { ScalarKind = USearchScalarKind.Float32, ExpansionSearch = 200 })).SetArgDisplayNames("usearch");
        yield return new TestCaseData(new USearchMipsBackend(new USearchOptions { ScalarKind = USearchScalarKind.Float32, ExpansionSearch = 200 }) { View = true }).SetArgDisplayNames("usearch-view");
        yield return new TestCaseData(new FaissMipsBackend("Flat")).SetArgDisplayNames("faiss-flat");
        yield return new TestCaseData(new FaissMipsBackend("IVF4,Flat") { SearchParameters = new FaissSearchParameters { Nprobe = 4 } }).SetArgDisplayNames("faiss-ivf");
    }

    [TestCaseSource(nameof(Backends))]
    public void SaveLoad_RoundTrip_GivesIdenticalResults(MipsBackend backend)
    {
        RequireBackend(backend);
        string directory = Path.Combine(_root, "index");
        MuveraSearchHit[][] before;
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, backend: backend))
        {
            index.Delete(corpus.Ids[0]);
            index.Calibrate(corpus.Queries, 5, 0.9);
            before = Run(index, corpus);
            index.Save(directory);
        }

        var loadOptions = new MuveraLoadOptions { Backends = [backend], ExpectedFde = MuveraIndexTests.SmallFde };
        using (MuveraIndex loaded = MuveraIndex.Load(directory, loadOptions))
        {
            SyntheticCorpus corpus = SyntheticCorpus.Create(300, 12, seed: 11, dimension: MuveraIndexTests.Dimension, tokens: 10, queryTokens: 6, topics: 40);
            Assert.Multiple(() =>
            {
                Assert.That(loaded.Count, Is.EqualTo(299));
                Assert.That(loaded.DeletedCount, Is.EqualTo(1), "one delete is below the compaction threshold");
                Assert.That(loaded.Contains(corpus.Ids[0]), Is.False);
                Assert.That(loaded.Backend.Kind, Is.EqualTo(backend.Kind));
                Assert.That(loaded.Options.Fde, Is.EqualTo(MuveraIndexTests.SmallFde));
                Assert.That(loaded.Calibration, Is.Not.Null);
                Assert.That(loaded.Calibration!.Curve, Is.Not.Empty);
                MuveraSearchHit[][] after = Run(loaded, corpus);
                for (int q = 0; q < before.Length; q++)
                {
                    Assert.That(after[q], Is.EqualTo(before[q]), $"query {q}");
                }
            });
        }
    }

    [Test]
    public void Load_WithoutBackends_FindsTheBackendByKind()
    {
        var backend = new USearchMipsBackend(new USearchOptions { ScalarKind = USearchScalarKind.Float32 });
        RequireBackend(backend);
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 40, backend: backend))
        {
            index.Save(directory);
        }

        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.That(loaded.Backend, Is.TypeOf<USearchMipsBackend>());
        Assert.That(loaded.Count, Is.EqualTo(40));
    }

    [Test]
    public void Loaded_IndexAcceptsWrites_WithoutTouchingTheSavedFiles()
    {
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 50))
        {
            index.Save(directory);
        }

        Dictionary<string, byte[]> files = Snapshot(directory);
        SyntheticCorpus extra = SyntheticCorpus.Create(10, 1, seed: 99, dimension: MuveraIndexTests.Dimension, tokens: 4, queryTokens: 4, topics: 5);
        using (MuveraIndex loaded = MuveraIndex.Load(directory))
        {
            loaded.AddRange(extra.Ids.Select(id => "extra-" + id).ToArray(), extra.Documents);
            loaded.Delete("doc-000001");
            loaded.Update("doc-000002", extra.Queries[0]);
            Assert.That(loaded.Count, Is.EqualTo(59));
            Assert.That(loaded.Search(extra.Queries[0], 1, new MuveraSearchOptions { Candidates = 60 })[0].Id, Is.EqualTo("doc-000002"));
            Assert.That(Snapshot(directory), Is.EqualTo(files), "the loaded files are never written");

            loaded.Save(directory);
        }

        using MuveraIndex reloaded = MuveraIndex.Load(directory);
        Assert.That(reloaded.Count, Is.EqualTo(59));
        Assert.That(reloaded.DeletedCount, Is.EqualTo(2), "2 deleted of 61 is below the 0.2 compaction threshold, so they are kept");
    }

    [Test]
    public void Save_CompactsPastTheThreshold()
    {
        string directory = Path.Combine(_root, "index");
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 50);
        for (int i = 0; i < 9; i++)
        {
            index.Delete(corpus.Ids[i]);
        }

        index.Save(directory);
        Assert.That(index.DeletedCount, Is.EqualTo(9), "9 of 50 is below 0.2");
        index.Delete(corpus.Ids[9]);
        index.Save(directory);
        Assert.That(index.DeletedCount, Is.Zero, "10 of 50 reaches 0.2");
        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.That((loaded.Count, loaded.DeletedCount), Is.EqualTo((40, 0)));
        Assert.That(Directory.GetDirectories(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "v000001", "v000002" }), "the previous version is kept for readers; older ones are removed");
        index.Save(directory);
        Assert.That(Directory.GetDirectories(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "v000002", "v000003" }), "v000001 is older than the previous version");
    }

    [Test]
    public void CrashBetweenSaveSteps_LeavesTheLastCompletedSaveLoadable([ValueSource(nameof(s_saveSteps))] string step)
    {
        string directory = Path.Combine(_root, "index");
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 60);
        index.Save(directory);
        string[] firstIds = index.GetIds();
        index.Add("added-after-first-save", corpus.Queries[0]);
        index.Delete(corpus.Ids[3]);

        MuveraIndex.SaveStepHook = name =>
        {
            if (name == step)
            {
                throw new SimulatedCrashException(name);
            }
        };
        Assert.Throws<SimulatedCrashException>(() => index.Save(directory));
        MuveraIndex.SaveStepHook = null;

        bool committed = step == "committed";
        using (MuveraIndex loaded = MuveraIndex.Load(directory))
        {
            string[] expected = committed ? index.GetIds() : firstIds;
            Assert.That(loaded.GetIds(), Is.EqualTo(expected), committed ? "the switch happened before the crash" : "the previous index survives");
        }

        // The next save succeeds and leaves exactly two versions: its own and the one CURRENT named before it (kept for
        // readers in other processes that may be opening it); every leftover of the crash is gone.
        string before = CurrentVersion(directory);
        index.Save(directory);
        using MuveraIndex final = MuveraIndex.Load(directory);
        Assert.That(final.GetIds(), Is.EqualTo(index.GetIds()));
        Assert.That(Directory.GetDirectories(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { before, CurrentVersion(directory) }.Order(StringComparer.Ordinal)));
        Assert.That(CurrentVersion(directory), Is.Not.EqualTo(before));
        Assert.That(File.Exists(Path.Combine(directory, "CURRENT.tmp")), Is.False);
    }

    [Test]
    public void LeftoversOfAHardCrash_AreIgnoredByLoad_AndRemovedByTheNextSave()
    {
        string directory = Path.Combine(_root, "index");
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 30);
        index.Save(directory);
        Directory.CreateDirectory(Path.Combine(directory, "v000007.partial"));
        File.WriteAllText(Path.Combine(directory, "v000007.partial", "ids.bin"), "torn");
        Directory.CreateDirectory(Path.Combine(directory, "v000005"));
        File.WriteAllText(Path.Combine(directory, "CURRENT.tmp"), "v000005 0000000000000000\n");

        using (MuveraIndex loaded = MuveraIndex.Load(directory))
        {
            Assert.That(loaded.Count, Is.EqualTo(30));
        }

        index.Save(directory);
        Assert.That(Directory.GetDirectories(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "v000001", "v000008" }), "the new version and the previous one; the leftovers are gone");
        Assert.That(File.Exists(Path.Combine(directory, "CURRENT.tmp")), Is.False);
    }

    [Test]
    public void Save_RefusesADirectoryThatHoldsSomethingElse()
    {
        string directory = Path.Combine(_root, "photos");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "holiday.jpg"), "not an index");
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 10);
        IOException error = Assert.Throws<IOException>(() => index.Save(directory))!;
        Assert.That(error.Message, Does.Contain("holiday.jpg"));
        Assert.That(Directory.GetFileSystemEntries(directory), Has.Length.EqualTo(1));
    }

    [Test]
    public void Load_RefusesMissingOrMismatchedIndexes()
    {
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 10))
        {
            index.Save(directory);
        }

        Assert.Multiple(() =>
        {
            Assert.That(() => MuveraIndex.Load(Path.Combine(_root, "nothing")), Throws.InstanceOf<DirectoryNotFoundException>());
            Directory.CreateDirectory(Path.Combine(_root, "empty"));
            Assert.That(() => MuveraIndex.Load(Path.Combine(_root, "empty")), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("CURRENT"));
            Assert.That(() => MuveraIndex.Load(directory, new MuveraLoadOptions { ExpectedFde = MuveraIndexTests.SmallFde with { Seed = 8 } }),
                Throws.InstanceOf<InvalidDataException>().With.Message.Contains("Seed").Or.Message.Contains("seed"));
        });

        // A manifest that is valid but names another PRNG version or an unknown backend (hashes recomputed, as a
        // future or foreign writer would produce them).
        RewriteManifest(directory, manifest =>
        {
            byte[] identity = new FdeEncoderIdentity(MuveraIndexTests.SmallFde, FdeEncoder.PrngVersion + 1).ToBytes();
            manifest["encoder"] = Convert.ToBase64String(identity);
        });
        Assert.That(() => MuveraIndex.Load(directory), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("PRNG version"));

        RewriteManifest(directory, manifest =>
        {
            byte[] identity = new FdeEncoderIdentity(MuveraIndexTests.SmallFde, FdeEncoder.PrngVersion).ToBytes();
            manifest["encoder"] = Convert.ToBase64String(identity);
            manifest["backend"]!["kind"] = "annoy";
        });
        Assert.That(() => MuveraIndex.Load(directory), Throws.InvalidOperationException.With.Message.Contains("annoy"));
    }

    [Test]
    public void IdMap_HostileCounts_AreRejectedBeforeAllocating()
    {
        string path = Path.Combine(_root, "ids.bin");
        using (var stream = File.Create(path))
        {
            IdMapFile.Write(stream, ["a", null, "b"]);
        }

        byte[] bytes = File.ReadAllBytes(path);
        foreach ((int offset, long value) in new[] { (16, 1L << 40), (24, 1L << 40), (32, 1L << 40), (16, -1L) })
        {
            byte[] hostile = (byte[])bytes.Clone();
            BinaryPrimitives.WriteInt64LittleEndian(hostile.AsSpan(offset), value);
            BinaryPrimitives.WriteUInt64LittleEndian(hostile.AsSpan(56), TestVectors.Fnv1a64(hostile.AsSpan(0, 56)));
            File.WriteAllBytes(path, hostile);
            Assert.That(() => IdMapFile.Read(path, out _), Throws.InstanceOf<InvalidDataException>(), $"offset {offset} = {value}");
        }

        File.WriteAllBytes(path, bytes);
        Assert.That(IdMapFile.Read(path, out int live), Is.EqualTo(new[] { "a", null, "b" }));
        Assert.That(live, Is.EqualTo(2));
    }

    /// <summary>Flips, truncates and extends every file of saved indexes (flat and USearch): each load must either
    /// throw <see cref="InvalidDataException"/> or give the original index, never another exception, a crash or a hang.</summary>
    [Test]
    [CancelAfter(300_000)]
    public void Fuzz_EveryFileOfASavedIndex_LoadsCorrectlyOrThrowsInvalidData()
    {
        int cases = 0, loaded = 0;
        var random = new Random(20261128);
        int lazilyRefused = 0;
        foreach ((MipsBackend backend, TokenStorage? tokens) in new (MipsBackend, TokenStorage?)[]
        {
            (new FlatMipsBackend(FdeStorage.Float32), null),
            (new FlatMipsBackend(FdeStorage.ProductQuantization() with { TrainingRows = 20 }), null),
            (new USearchMipsBackend(new USearchOptions { ScalarKind = USearchScalarKind.Float32 }), null),
            (new FlatMipsBackend(FdeStorage.Float32), TokenStorage.Residual(2)),
            (new FlatMipsBackend(FdeStorage.Float32), TokenStorage.Int8),
        })
        {
            RequireBackend(backend);
            string directory = Path.Combine(_root, "fuzz-" + backend.Kind + "-" + ((backend as FlatMipsBackend)?.Storage.Kind.ToString() ?? "native") + "-" + (tokens?.Kind.ToString() ?? "f32"));
            SyntheticCorpus corpus;
            MuveraSearchHit[][] expected;
            using (MuveraIndex index = MuveraIndexTests.BuildSmall(out corpus, documents: 40, backend: backend, tokenStorage: tokens))
            {
                index.Delete(corpus.Ids[7]);
                index.Calibrate(corpus.Queries.Take(3).ToArray(), 3, 0.9);
                index.Save(directory);
                expected = Run(index, corpus);
            }

            foreach (string path in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                byte[] original = File.ReadAllBytes(path);
                var mutations = new List<byte[]>();
                foreach (int length in Enumerable.Range(0, 24).Select(i => (int)((long)original.Length * i / 24)).Append(original.Length - 1).Distinct())
                {
                    mutations.Add(original[..length]);
                }

                mutations.Add([.. original, 0]);
                mutations.Add([.. original, .. "trailing"u8.ToArray()]);
                int flips = path.EndsWith("CURRENT", StringComparison.Ordinal) ? 120 : 240;
                for (int i = 0; i < flips; i++)
                {
                    byte[] flipped = (byte[])original.Clone();
                    int position = i < 64 && i < original.Length ? i : random.Next(original.Length);
                    flipped[position] ^= (byte)(1 << random.Next(8));
                    mutations.Add(flipped);
                }

                foreach (byte[] mutation in mutations)
                {
                    cases++;
                    File.WriteAllBytes(path, mutation);
                    bool opened = false;
                    try
                    {
                        using MuveraIndex index = MuveraIndex.Load(directory);
                        opened = true;
                        loaded++;

                        // Token data is verified block by block on first use: a corrupt block may open, but then throws
                        // InvalidDataException when a search or Verify touches it, and never scores.
                        MuveraSearchHit[][] actual = Run(index, corpus);
                        for (int q = 0; q < expected.Length; q++)
                        {
                            Assert.That(actual[q], Is.EqualTo(expected[q]), $"{Path.GetFileName(path)}: a load that succeeds must give the original index");
                        }

                        index.Verify();
                        MuveraSearchHit[][] again = Run(index, corpus);
                        Assert.That(again, Is.EqualTo(expected), $"{Path.GetFileName(path)}: results after Verify");
                    }
                    catch (InvalidDataException)
                    {
                        if (opened)
                        {
                            loaded--;
                            lazilyRefused++;
                        }
                    }
                    catch (Exception e) when (e is not AssertionException)
                    {
                        Assert.Fail($"{Path.GetFileName(path)} ({mutation.Length} of {original.Length} bytes): {e.GetType().Name}: {e.Message}");
                    }
                    finally
                    {
                        File.WriteAllBytes(path, original);
                    }
                }
            }
        }

        TestContext.Out.WriteLine($"{cases} mutated files, {loaded} loaded (to the original index), {lazilyRefused} opened and then refused on first use of the corrupt token block, the rest InvalidDataException at load");
        Assert.That(cases, Is.GreaterThanOrEqualTo(2000));
    }

    internal static void RequireBackend(MipsBackend backend)
    {
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        string? reason = backend switch
        {
            USearchMipsBackend when !USearchMipsIndex.IsSupported => "USearch's native library is not available",
            FaissMipsBackend when !FaissMipsIndex.IsSupported => FaissMipsIndex.UnsupportedReason,
            _ => null,
        };
        if (reason is not null)
        {
            if (ci)
            {
                Assert.Fail($"{backend.Kind}: {reason} (CI must provide every backend)");
            }

            Assert.Ignore($"{backend.Kind}: {reason}");
        }
    }

    private static MuveraSearchHit[][] Run(MuveraIndex index, SyntheticCorpus corpus) =>
        corpus.Queries.Select(q => index.Search(q, 5, new MuveraSearchOptions { Candidates = 20 }))
            .Concat(corpus.Queries.Take(2).Select(q => index.Search(q, 5)))
            .ToArray();

    internal static string CurrentVersion(string directory) => File.ReadAllText(Path.Combine(directory, "CURRENT")).Split(' ')[0];

    private static Dictionary<string, byte[]> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).ToDictionary(p => p, File.ReadAllBytes);

    private static void RewriteManifest(string directory, Action<JsonObject> edit)
    {
        string version = File.ReadAllText(Path.Combine(directory, "CURRENT")).Split(' ')[0];
        string path = Path.Combine(directory, version, "manifest.json");
        JsonObject manifest = JsonNode.Parse(File.ReadAllBytes(path))!.AsObject();
        edit(manifest);
        byte[] bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        File.WriteAllBytes(path, bytes);
        File.WriteAllText(Path.Combine(directory, "CURRENT"), $"{version} {TestVectors.Fnv1a64(bytes):x16}\n");
    }

    private sealed class SimulatedCrashException(string step) : Exception($"simulated crash after save step '{step}'");
}
