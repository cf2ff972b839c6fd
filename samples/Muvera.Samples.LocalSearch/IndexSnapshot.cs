// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;

namespace Muvera.Samples.LocalSearch;

/// <summary>
/// A saved index and its sidecar, loaded and reconciled: a file record counts only when every one of its passage ids is
/// live in the index, and index ids that no such record claims are orphans. Because passage ids embed the content hash,
/// this tells exactly which files the pair agrees on, whatever step a crash interrupted.
/// </summary>
internal sealed class IndexSnapshot : IDisposable
{
    private IndexSnapshot(MuveraIndex? index, IndexState? state, Dictionary<string, FileRecord> files, List<string> orphans,
        List<string> inconsistentFiles, List<string> warnings)
    {
        Index = index;
        State = state;
        Files = files;
        OrphanIds = orphans;
        InconsistentFiles = inconsistentFiles;
        Warnings = warnings;
    }

    /// <summary>The loaded index, or null when none was saved (or it could not be read).</summary>
    public MuveraIndex? Index { get; private set; }

    /// <summary>The sidecar as read, or null.</summary>
    public IndexState? State { get; }

    /// <summary>The file records the index agrees with, by relative path.</summary>
    public Dictionary<string, FileRecord> Files { get; }

    /// <summary>Live index ids that no consistent file record claims.</summary>
    public List<string> OrphanIds { get; }

    /// <summary>Paths whose sidecar record disagrees with the index (to be encoded again).</summary>
    public List<string> InconsistentFiles { get; }

    /// <summary>What was wrong, for the user.</summary>
    public List<string> Warnings { get; }

    /// <summary>Loads and reconciles the index and sidecar at <paramref name="location"/>.</summary>
    /// <param name="location">Where they live.</param>
    /// <returns>The snapshot; its <see cref="Index"/> is null when there is no readable index.</returns>
    public static IndexSnapshot Load(LocalIndexLocation location)
    {
        var warnings = new List<string>();
        IndexState? state = null;
        try
        {
            state = IndexState.Load(location.StateFile);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            warnings.Add($"The sidecar cannot be read ({e.Message}); every file is encoded again.");
        }

        MuveraIndex? index = null;
        if (Directory.Exists(location.IndexDirectory))
        {
            try
            {
                index = MuveraIndex.Load(location.IndexDirectory);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                warnings.Add($"The index cannot be loaded ({e.Message}); it is built again.");
            }
        }

        var files = new Dictionary<string, FileRecord>(StringComparer.Ordinal);
        var orphans = new List<string>();
        var inconsistent = new List<string>();
        if (index is null)
        {
            if (state is { Files.Count: > 0 })
            {
                inconsistent.AddRange(state.Files.ConvertAll(f => f.Path));
            }

            return new IndexSnapshot(null, state, files, orphans, inconsistent, warnings);
        }

        var live = new HashSet<string>(index.GetIds(), StringComparer.Ordinal);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (FileRecord file in state?.Files ?? [])
        {
            if (file.Passages.TrueForAll(p => live.Contains(p.Id)) && !files.ContainsKey(file.Path))
            {
                files.Add(file.Path, file);
                file.Passages.ForEach(p => claimed.Add(p.Id));
            }
            else
            {
                inconsistent.Add(file.Path);
            }
        }

        foreach (string id in live)
        {
            if (!claimed.Contains(id))
            {
                orphans.Add(id);
            }
        }

        if (inconsistent.Count > 0 || orphans.Count > 0)
        {
            warnings.Add($"The index and its sidecar disagree ({inconsistent.Count} files, {orphans.Count} passages; an indexing run was interrupted between saving the two); the next index run repairs them.");
        }

        return new IndexSnapshot(index, state, files, orphans, inconsistent, warnings);
    }

    /// <summary>Hands the index to the caller, who then disposes it.</summary>
    /// <returns>The index, or null.</returns>
    public MuveraIndex? TakeIndex()
    {
        MuveraIndex? index = Index;
        Index = null;
        return index;
    }

    /// <summary>Disposes the index unless it was taken.</summary>
    public void Dispose() => Index?.Dispose();
}
