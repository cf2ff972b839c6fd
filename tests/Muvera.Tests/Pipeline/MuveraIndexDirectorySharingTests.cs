// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Muvera.Tests.Pipeline;

/// <summary>
/// One index directory shared between writers and readers (issue #17): one writer at a time through the directory's
/// lock, in this process and across processes (real child processes of <c>Muvera.Tests.Worker</c>); any number of
/// readers, whose loads never fail while saves commit; a version removed under a load, a crashed writer, and a mapped
/// version deleted by later saves.
/// </summary>
/// <remarks>CI runs short but real versions of the two acceptance runs; set <c>MUVERA_SHARING_ROUNDS=20</c> and
/// <c>MUVERA_SHARING_SECONDS=20</c> for the numbers of the issue.</remarks>
[TestFixture]
[NonParallelizable] // SaveStepHook and LoadStepHook are static.
public sealed class MuveraIndexDirectorySharingTests
{
    private static readonly TimeSpan s_startup = TimeSpan.FromSeconds(60);

    private string _root = "";

    private static int Rounds => Setting("MUVERA_SHARING_ROUNDS", 5);

    private static int ReaderSeconds => Setting("MUVERA_SHARING_SECONDS", 5);

    [SetUp]
    public void SetUp()
    {
        _root = Path.Combine(Path.GetTempPath(), "muvera-sharing-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
    }

    [TearDown]
    public void TearDown()
    {
        MuveraIndex.SaveStepHook = null;
        MuveraIndex.LoadStepHook = null;
        Directory.Delete(_root, recursive: true);
    }

    [Test]
    public void Save_WhileAnotherSaveHoldsTheLock_FailsFastOrWaits_AndLeavesTheIndexUnchanged()
    {
        string directory = Path.Combine(_root, "index");
        using MuveraIndex first = MuveraIndexTests.BuildSmall(out _, documents: 30);
        using MuveraIndex second = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 50);
        for (int i = 0; i < 15; i++)
        {
            second.Delete(corpus.Ids[i]); // 30 % deleted: a save would compact first
        }

        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int holder = -1;
        MuveraIndex.SaveStepHook = name =>
        {
            if (name == "locked" && Environment.CurrentManagedThreadId == Volatile.Read(ref holder))
            {
                holding.Set();
                release.Wait(TimeSpan.FromSeconds(60));
            }
        };
        Task firstSave = Task.Factory.StartNew(() =>
        {
            Volatile.Write(ref holder, Environment.CurrentManagedThreadId);
            first.Save(directory);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            Assert.That(holding.Wait(s_startup), Is.True, "the first save took the lock");

            var stopwatch = Stopwatch.StartNew();
            MuveraIndexLockedException fast = Assert.Throws<MuveraIndexLockedException>(() => second.Save(directory))!;
            TimeSpan fastTime = stopwatch.Elapsed;
            stopwatch.Restart();
            Assert.Throws<MuveraIndexLockedException>(() => second.Save(directory, new MuveraSaveOptions { LockTimeout = TimeSpan.FromMilliseconds(300) }));
            TimeSpan boundedTime = stopwatch.Elapsed;
            Assert.Multiple(() =>
            {
                Assert.That(fast.Directory, Is.EqualTo(directory));
                Assert.That(fast.Message, Does.Contain($"'{directory}'").And.Contain("LockTimeout"));
                Assert.That(fast.InnerException, Is.InstanceOf<IOException>());
                Assert.That(fastTime, Is.LessThan(TimeSpan.FromSeconds(2)), "the default fails at once");
                Assert.That(boundedTime, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290)).And.LessThan(TimeSpan.FromSeconds(5)));
                Assert.That((second.Count, second.DeletedCount), Is.EqualTo((35, 15)), "a refused save does not even compact");
            });

            Task waiting = Task.Run(() => second.Save(directory, new MuveraSaveOptions { LockTimeout = Timeout.InfiniteTimeSpan }));
            Thread.Sleep(300);
            Assert.That(waiting.IsCompleted, Is.False, "the second save waits for the lock");
            release.Set();
            Assert.That(Task.WaitAll([firstSave, waiting], s_startup), Is.True);
        }
        finally
        {
            release.Set();
            firstSave.Wait(s_startup);
        }

        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.That((loaded.Count, loaded.DeletedCount), Is.EqualTo((35, 0)), "the waiting save ran after the first one");
    }

    [Test]
    public void Save_WhenItReturnsOrFails_ReleasesTheLock_AndTheLockFileStays()
    {
        string directory = Path.Combine(_root, "index");
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 10);
        MuveraIndex.SaveStepHook = name =>
        {
            if (name == "created")
            {
                throw new IOException("simulated failure");
            }
        };
        Assert.Throws<IOException>(() => index.Save(directory));
        MuveraIndex.SaveStepHook = null;
        Assert.That(Directory.GetFileSystemEntries(directory).Select(Path.GetFileName), Is.EqualTo(new[] { "LOCK" }),
            "a failed first save leaves only the lock file");
        Assert.That(() => MuveraIndex.Load(directory), Throws.InstanceOf<FileNotFoundException>());

        index.Save(directory);
        string lockPath = Path.Combine(directory, "LOCK");
        using (var stream = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            Assert.That(stream.Length, Is.Positive, "the lock file says what it is");
        }

        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.That(loaded.Count, Is.EqualTo(10));
    }

    [Test]
    public void Load_VersionRemovedBetweenReadingCurrentAndOpeningIt_StartsOverFromCurrent()
    {
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex first = MuveraIndexTests.BuildSmall(out _, documents: 30))
        {
            first.Save(directory);
        }

        using MuveraIndex other = MuveraIndexTests.BuildSmall(out _, documents: 50);
        int reads = 0;
        MuveraIndex.LoadStepHook = name =>
        {
            // Two saves commit while the first load is between CURRENT and the files: its version is removed.
            if (name == "current-read" && ++reads == 1)
            {
                other.Save(directory);
                other.Save(directory);
            }
        };
        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.Multiple(() =>
        {
            Assert.That(reads, Is.EqualTo(2), "one more read of CURRENT");
            Assert.That(loaded.Count, Is.EqualTo(50), "the version CURRENT names now");
            Assert.That(Directory.Exists(Path.Combine(directory, "v000001")), Is.False, "the version read first was removed");
        });
    }

    [Test]
    public void Load_VersionRemovedOnEveryAttempt_GivesUpAfterFiveAttempts()
    {
        string directory = Path.Combine(_root, "index");
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 20);
        index.Save(directory);
        int reads = 0;
        MuveraIndex.LoadStepHook = name =>
        {
            reads++;
            index.Save(directory);
            index.Save(directory);
        };
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => MuveraIndex.Load(directory))!;
        Assert.That(reads, Is.EqualTo(5));
        Assert.That(e.Message, Does.Contain("missing"));
    }

    [Test]
    public void Load_CorruptFileOfTheCurrentVersion_IsReportedWithoutStartingOver()
    {
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 20))
        {
            index.Save(directory);
        }

        string ids = Path.Combine(directory, MuveraIndexPersistenceTests.CurrentVersion(directory), "ids.bin");
        byte[] bytes = File.ReadAllBytes(ids);
        bytes[^1] ^= 1;
        File.WriteAllBytes(ids, bytes);
        int reads = 0;
        MuveraIndex.LoadStepHook = _ => reads++;
        Assert.That(() => MuveraIndex.Load(directory), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("ids.bin"));
        Assert.That(reads, Is.EqualTo(1), "CURRENT still names the corrupt version, so there is nothing to start over from");
    }

    [Test]
    public void LoadedIndex_WhoseVersionLaterSavesRemove_KeepsSearching()
    {
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 40))
        {
            index.Save(directory);
        }

        SyntheticCorpus corpus = SyntheticCorpus.Create(40, 5, seed: 11, dimension: MuveraIndexTests.Dimension, tokens: 10, queryTokens: 6, topics: 40);
        using MuveraIndex loaded = MuveraIndex.Load(directory);
        MuveraSearchHit[][] before = corpus.Queries.Select(q => loaded.SearchExact(q, 5)).ToArray();
        using (MuveraIndex other = MuveraIndexTests.BuildSmall(out _, documents: 10))
        {
            other.Save(directory);
            other.Save(directory);
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.That(Directory.Exists(Path.Combine(directory, "v000001")), Is.False, "the mapped version was deleted");
        }

        Assert.That(corpus.Queries.Select(q => loaded.SearchExact(q, 5)).ToArray(), Is.EqualTo(before), "deleted files stay mapped");
        Assert.That(loaded.GetDocument(corpus.Ids[39]).Span.ToArray(), Is.EqualTo(corpus.Documents[39].Span.ToArray()));
    }

    [Test]
    public void SaveOptions_LockTimeout_AcceptsZeroPositiveAndInfinite_RejectsNegative()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new MuveraSaveOptions().LockTimeout, Is.EqualTo(TimeSpan.Zero), "fail fast by default");
            Assert.That(new MuveraSaveOptions { LockTimeout = Timeout.InfiniteTimeSpan }.LockTimeout, Is.EqualTo(Timeout.InfiniteTimeSpan));
            Assert.That(new MuveraSaveOptions { LockTimeout = TimeSpan.FromSeconds(3) }.LockTimeout, Is.EqualTo(TimeSpan.FromSeconds(3)));
            ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => _ = new MuveraSaveOptions { LockTimeout = TimeSpan.FromSeconds(-2) })!;
            Assert.That(e.ParamName, Is.EqualTo("LockTimeout"));
            Assert.That(e.Message, Does.Contain("-00:00:02"));
        });
    }

    [Test]
    public void Save_WhileAnotherProcessHoldsTheLock_FailsFastOrWaitsForIt()
    {
        string directory = Path.Combine(_root, "index");
        using WorkerProcess holder = WorkerProcess.Start("hold", directory, "locked");
        Assert.That(holder.NextLine(s_startup), Is.EqualTo("holding"));

        using MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 25);
        MuveraIndexLockedException e = Assert.Throws<MuveraIndexLockedException>(() => index.Save(directory))!;
        Assert.That(e.Directory, Is.EqualTo(directory));

        Task waiting = Task.Run(() => index.Save(directory, new MuveraSaveOptions { LockTimeout = s_startup }));
        Thread.Sleep(300);
        Assert.That(waiting.IsCompleted, Is.False, "the save waits for the other process");
        holder.Send("go");
        Assert.That(holder.NextLine(s_startup), Is.EqualTo("saved"));
        Assert.That(holder.WaitForExit(s_startup), Is.Zero, holder.Errors);
        Assert.That(waiting.Wait(s_startup), Is.True);

        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.That(loaded.Count, Is.EqualTo(25), "this process saved after the holder");
    }

    [Test]
    public void Save_AfterTheLockHoldingProcessIsKilled_SucceedsAtOnce_AndRemovesItsLeftovers()
    {
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex first = MuveraIndexTests.BuildSmall(out _, documents: 15))
        {
            first.Save(directory);
        }

        using WorkerProcess holder = WorkerProcess.Start("hold", directory, "tokens");
        Assert.That(holder.NextLine(s_startup), Is.EqualTo("holding"));
        string[] partial = Directory.GetDirectories(directory, "*.partial");
        Assert.That(partial, Has.Length.EqualTo(1), "the holder is half way through writing its version");
        Assert.That(Path.GetFileName(partial[0]), Does.Match(@"^v000002\.p\d+-[0-9a-f]{8}\.partial$"), "a folder of its own");
        holder.Kill();

        // The operating system released the lock with the process: no wait, and the dead writer's folder goes.
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 35);
        index.Save(directory);
        Assert.That(Directory.GetDirectories(directory, "*.partial"), Is.Empty);
        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.That(loaded.Count, Is.EqualTo(35));
    }

    [Test]
    public void TwoProcesses_SavingIntoOneDirectory_LeaveItLoadableAfterEveryRound()
    {
        // Issue #17: two processes each creating an index and saving it (8 times here) into one new directory. Even rounds
        // wait for the lock, odd rounds fail fast; every successful save is loaded by its writer right after it returns.
        int rounds = Rounds;
        int saved = 0, locked = 0, loads = 0;
        var stopwatch = Stopwatch.StartNew();
        for (int round = 0; round < rounds; round++)
        {
            string directory = Path.Combine(_root, $"round-{round:D2}");
            string timeout = round % 2 == 0 ? "60000" : "0";
            using WorkerProcess a = WorkerProcess.Start("save", directory, "a", "8", timeout);
            using WorkerProcess b = WorkerProcess.Start("save", directory, "b", "8", timeout);
            Assert.That((a.NextLine(s_startup), b.NextLine(s_startup)), Is.EqualTo(("ready", "ready")));
            a.Send("go");
            b.Send("go");
            Assert.That(a.WaitForExit(s_startup), Is.Zero, $"round {round}, a: {string.Join(" | ", a.Lines)} {a.Errors}");
            Assert.That(b.WaitForExit(s_startup), Is.Zero, $"round {round}, b: {string.Join(" | ", b.Lines)} {b.Errors}");

            var lastSaved = new Dictionary<string, int>();
            int roundSaved = 0, roundLocked = 0;
            foreach ((string writer, WorkerProcess process) in new[] { ("a", a), ("b", b) })
            {
                foreach (string[] line in process.Lines.Select(l => l.Split(' ')))
                {
                    Assert.That(line[0], Is.AnyOf("ready", "saved", "locked", "done"), string.Join(' ', line));
                    if (line[0] == "saved")
                    {
                        roundSaved++;
                        lastSaved[writer] = int.Parse(line[2], CultureInfo.InvariantCulture);
                    }
                    else if (line[0] == "locked")
                    {
                        roundLocked++;
                    }
                }
            }

            Assert.That(roundSaved + roundLocked, Is.EqualTo(16), $"round {round}");
            Assert.That(roundSaved, Is.Positive, $"round {round}");
            if (timeout != "0")
            {
                Assert.That(roundLocked, Is.Zero, $"round {round}: waiting saves all succeed");
            }

            using (MuveraIndex loaded = MuveraIndex.Load(directory))
            {
                string[] ids = loaded.GetIds();
                string writer = ids[0][..1];
                Assert.That(ids.All(id => id.StartsWith(writer + "-", StringComparison.Ordinal)), Is.True, $"round {round}: one writer's index");
                Assert.That(ids, Has.Length.EqualTo(lastSaved[writer]), $"round {round}: the last save of {writer}");
            }

            string?[] left = Directory.GetDirectories(directory).Select(Path.GetFileName).ToArray();
            Assert.That(left, Has.Length.InRange(1, 2), $"round {round}: current and previous version only");
            Assert.That(left, Has.All.Match(@"^v\d{6}$"), $"round {round}: no leftovers");
            saved += roundSaved;
            locked += roundLocked;
            loads += roundSaved + 1;
        }

        TestContext.Out.WriteLine($"{rounds} rounds of 2 processes × 8 saves in {stopwatch.Elapsed.TotalSeconds:F1} s: {saved} saves succeeded " +
            $"(each loaded by its writer right after), {locked} refused as locked (fail-fast rounds), {loads} loads, 0 failures");
    }

    [Test]
    public void Load_WhileAnotherProcessAddsAndSaves_NeverFails()
    {
        string directory = Path.Combine(_root, "index");
        using (MuveraIndex index = MuveraIndexTests.BuildSmall(out _, documents: 200))
        {
            index.Save(directory);
        }

        SyntheticCorpus corpus = SyntheticCorpus.Create(1, 8, seed: 3, dimension: MuveraIndexTests.Dimension, tokens: 4, queryTokens: 6, topics: 40);
        int seconds = ReaderSeconds;
        int loads = 0, searches = 0;
        var failures = new List<string>();
        var counts = new HashSet<int>();
        var stopwatch = Stopwatch.StartNew();
        using WorkerProcess writer = WorkerProcess.Start("write", directory, (seconds * 1000).ToString(CultureInfo.InvariantCulture));
        while (!writer.HasExited || loads == 0)
        {
            Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(seconds + 120)), "the writer did not finish");
            try
            {
                using MuveraIndex loaded = MuveraIndex.Load(directory);
                loads++;
                counts.Add(loaded.Count);
                loaded.Search(corpus.Queries[loads % corpus.Queries.Length], 5);
                searches++;
            }
            catch (Exception e)
            {
                failures.Add($"{e.GetType().Name}: {e.Message}");
            }
        }

        Assert.That(writer.WaitForExit(s_startup), Is.Zero, $"{string.Join(" | ", writer.Lines)} {writer.Errors}");
        int saves = int.Parse(writer.Lines.Single(l => l.StartsWith("done ", StringComparison.Ordinal))[5..], CultureInfo.InvariantCulture);
        TestContext.Out.WriteLine($"{seconds} s: {loads} loads and {searches} searches, {failures.Count} failed, while the writer saved {saves} times; " +
            $"{counts.Count} different versions loaded");
        Assert.That(failures, Is.Empty, $"{failures.Count} of {loads + failures.Count} loads failed; first: {failures.FirstOrDefault()}");
        Assert.That(saves, Is.GreaterThanOrEqualTo(3), "the writer really saved during the loads");
        Assert.That(counts.Count, Is.GreaterThanOrEqualTo(2), "the loads saw more than one version");
    }

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0 ? value : fallback;
}
