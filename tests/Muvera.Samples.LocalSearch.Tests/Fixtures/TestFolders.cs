// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Concurrent;
using System.IO;
using System.Threading;
using Muvera.Onnx;

namespace Muvera.Samples.LocalSearch.Tests.Fixtures;

/// <summary>The shared encoder, the committed test documents, and temporary copies of them: the documents are indexed
/// once (the baseline), and each test that changes files gets its own copy of folder and index.</summary>
internal static class TestFolders
{
    private static readonly Lazy<OnnxTokenEncoder> s_encoder = new(OnnxTokenEncoder.CreateDefault, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<(string Folder, IndexReport Report)> s_baseline = new(BuildBaseline, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly ConcurrentBag<string> s_created = [];

    /// <summary>The embedded all-MiniLM-L6-v2; never dispose it in a test.</summary>
    public static OnnxTokenEncoder Encoder => s_encoder.Value;

    /// <summary>The committed documents, as copied next to the test assembly.</summary>
    public static string Documents => Path.Combine(AppContext.BaseDirectory, "testdata", "docs");

    /// <summary>The number of committed documents.</summary>
    public static int DocumentCount => Directory.GetFiles(Documents, "*.md").Length;

    /// <summary>A folder holding the indexed documents and their index (do not change it; use <see cref="CopyOfBaseline"/>).</summary>
    public static string Baseline => s_baseline.Value.Folder;

    /// <summary>The report of the run that indexed the baseline.</summary>
    public static IndexReport BaselineReport => s_baseline.Value.Report;

    /// <summary>A new temporary folder, removed after the run.</summary>
    public static string CreateTemporaryFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "muvera-localsearch-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        s_created.Add(path);
        return path;
    }

    /// <summary>A private copy of the baseline folder with its index, file times preserved (so the copy's files look
    /// unchanged to the indexer).</summary>
    public static string CopyOfBaseline()
    {
        string target = CreateTemporaryFolder();
        CopyDirectory(Baseline, target);
        return target;
    }

    /// <summary>Copies a directory tree, keeping every file's last write time.</summary>
    public static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (string directory in Directory.GetDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, directory)));
        }

        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            string copy = Path.Combine(target, Path.GetRelativePath(source, file));
            File.Copy(file, copy);
            File.SetLastWriteTimeUtc(copy, File.GetLastWriteTimeUtc(file));
        }
    }

    /// <summary>Removes the temporary folders and disposes the encoder.</summary>
    public static void CleanUp()
    {
        while (s_created.TryTake(out string? path))
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        if (s_encoder.IsValueCreated)
        {
            s_encoder.Value.Dispose();
        }
    }

    private static (string, IndexReport) BuildBaseline()
    {
        string folder = CreateTemporaryFolder();
        CopyDirectory(Documents, folder);
        IndexReport report = new LocalIndexer(new LocalIndexLocation(folder), Encoder).Run(null, CancellationToken.None);
        return (folder, report);
    }
}
