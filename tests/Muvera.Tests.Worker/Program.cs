// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;

namespace Muvera.Tests.Worker;

/// <summary>
/// A child process of the multi-process tests. Each command works on one index directory and reports one line per event
/// on standard output (the tests parse them); any unexpected exception is printed as <c>fail ...</c> and exits with 1.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>hold &lt;dir&gt; &lt;step&gt;</c>: saves a small index into dir and stops after save step <c>step</c> ("locked",
/// "tokens", ...), printing <c>holding</c>, until a line arrives on standard input; then finishes and prints
/// <c>saved</c>.</item>
/// <item><c>save &lt;dir&gt; &lt;name&gt; &lt;saves&gt; &lt;lockTimeoutMs&gt;</c>: creates an index of ids
/// <c>name-*</c>, prints <c>ready</c>, waits for a line on standard input, and saves the index <c>saves</c> times, adding
/// documents in between; after every successful save it loads the
/// directory at once and checks it (<c>saved &lt;i&gt; &lt;count&gt; loaded &lt;writer&gt; &lt;count&gt;</c>); a locked
/// directory prints <c>locked &lt;i&gt;</c>. Ends with <c>done &lt;saved&gt; &lt;locked&gt;</c>.</item>
/// <item><c>write &lt;dir&gt; &lt;milliseconds&gt;</c>: loads the index in dir, then adds, deletes and saves in a loop for
/// the given time, waiting for the lock as long as needed; ends with <c>done &lt;saves&gt;</c>.</item>
/// </list>
/// </remarks>
public static class Program
{
    private const int Dimension = 16;

    private static readonly FdeOptions s_fde = new()
    {
        Dimension = Dimension,
        Repetitions = 6,
        SimHashProjections = 3,
        Projection = FdeProjection.Ams,
        ProjectionDimension = 8,
        FillEmptyPartitions = true,
        Seed = 7,
    };

    /// <summary>Runs one command.</summary>
    /// <param name="args">The command and its arguments.</param>
    /// <returns>0 when the command did what it reports, 1 on an unexpected exception, 2 on a usage error.</returns>
    public static int Main(string[] args)
    {
        try
        {
            switch (args.Length > 0 ? args[0] : "")
            {
                case "hold" when args.Length == 3:
                    Hold(args[1], args[2]);
                    return 0;
                case "save" when args.Length == 5:
                    return Save(args[1], args[2], Int(args[3]), Int(args[4]));
                case "write" when args.Length == 3:
                    Write(args[1], Int(args[2]));
                    return 0;
                default:
                    Console.Error.WriteLine("usage: hold <dir> <step> | save <dir> <name> <saves> <lockTimeoutMs> | write <dir> <milliseconds>");
                    return 2;
            }
        }
        catch (Exception e)
        {
            Report($"fail {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    private static void Hold(string directory, string step)
    {
        using MuveraIndex index = Create("holder", 30, seed: 1);
        MuveraIndex.SaveStepHook = name =>
        {
            if (name == step)
            {
                Report("holding");
                Console.In.ReadLine();
            }
        };
        index.Save(directory);
        Report("saved");
    }

    private static int Save(string directory, string name, int saves, int lockTimeoutMs)
    {
        var options = new MuveraSaveOptions { LockTimeout = TimeSpan.FromMilliseconds(lockTimeoutMs) };
        using MuveraIndex index = Create(name, 20, seed: name.GetHashCode(StringComparison.Ordinal));

        // Both writers start saving on the test's signal, so that their saves overlap.
        Report("ready");
        Console.In.ReadLine();
        int saved = 0;
        int locked = 0;
        var jitter = new Random();
        for (int i = 1; i <= saves; i++)
        {
            // A pause of a few milliseconds between saves lets the two writers' saves interleave; without it a fail-fast
            // writer spends all its attempts inside the other's first save.
            Thread.Sleep(jitter.Next(0, 20));
            AddDocuments(index, name, 5, seed: (name.GetHashCode(StringComparison.Ordinal) * 31) + i);
            try
            {
                index.Save(directory, options);
            }
            catch (MuveraIndexLockedException)
            {
                locked++;
                Report($"locked {i}");
                continue;
            }

            saved++;

            // Every successful save must be loadable right after it returns: this writer's index, or a newer one of the
            // other writer, never a mixture.
            using MuveraIndex loaded = MuveraIndex.Load(directory);
            string[] ids = loaded.GetIds();
            string writer = ids.Length == 0 ? "" : ids[0][..ids[0].IndexOf('-', StringComparison.Ordinal)];
            if (ids.Any(id => !id.StartsWith(writer + "-", StringComparison.Ordinal)))
            {
                Report($"fail mixed ids after save {i}: {string.Join(",", ids.Take(5))}");
                return 1;
            }

            if (writer == name && ids.Length != index.Count)
            {
                Report($"fail save {i} of {index.Count} documents loads back {ids.Length}");
                return 1;
            }

            loaded.Search(Document(new Random(i), 3), 3);
            Report($"saved {i} {index.Count} loaded {writer} {ids.Length}");
        }

        Report($"done {saved} {locked}");
        return 0;
    }

    private static void Write(string directory, int milliseconds)
    {
        var options = new MuveraSaveOptions { LockTimeout = Timeout.InfiniteTimeSpan };
        using MuveraIndex index = MuveraIndex.Load(directory);
        var random = new Random(42);
        var stopwatch = Stopwatch.StartNew();
        int saves = 0;
        while (stopwatch.ElapsedMilliseconds < milliseconds)
        {
            AddDocuments(index, "writer", 10, seed: saves);
            string[] ids = index.GetIds();
            for (int i = 0; i < 3; i++)
            {
                index.Delete(ids[random.Next(ids.Length)]);
            }

            index.Save(directory, options);
            saves++;
        }

        Report($"done {saves}");
    }

    private static MuveraIndex Create(string name, int documents, int seed)
    {
        MuveraIndex index = MuveraIndex.Create(new MuveraIndexOptions { Fde = s_fde, CompactOnSaveFraction = 0.1 });
        AddDocuments(index, name, documents, seed);
        return index;
    }

    private static void AddDocuments(MuveraIndex index, string name, int count, int seed)
    {
        var random = new Random(seed);
        var ids = new List<string>(count);
        var documents = new List<ReadOnlyMultiVector>(count);
        for (int i = 0; i < count; i++)
        {
            ids.Add($"{name}-{Guid.NewGuid():N}");
            documents.Add(Document(random, 4 + random.Next(8)));
        }

        index.AddRange(ids, documents);
    }

    private static ReadOnlyMultiVector Document(Random random, int tokens)
    {
        float[] values = new float[tokens * Dimension];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1);
        }

        return new ReadOnlyMultiVector(values, Dimension);
    }

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static void Report(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }
}
