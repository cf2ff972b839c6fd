// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;

namespace Muvera.Samples.LocalSearch;

/// <summary>Where a folder's index lives: a state directory (default <c>&lt;folder&gt;/.muvera</c>) holding the
/// <see cref="MuveraIndex"/> directory <c>index/</c> and the sidecar <c>files.json</c>. The sidecar cannot go inside
/// <c>index/</c>: <see cref="MuveraIndex.Save(string)"/> refuses a directory holding files it did not write.</summary>
public sealed class LocalIndexLocation
{
    /// <summary>The default state directory's name inside the indexed folder.</summary>
    public const string DefaultDirectoryName = ".muvera";

    /// <summary>Resolves the location of <paramref name="folder"/>'s index.</summary>
    /// <param name="folder">The indexed folder.</param>
    /// <param name="stateDirectory">The state directory, or null for <c>&lt;folder&gt;/.muvera</c>.</param>
    public LocalIndexLocation(string folder, string? stateDirectory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Folder = Path.GetFullPath(folder);
        StateDirectory = Path.GetFullPath(stateDirectory ?? Path.Combine(Folder, DefaultDirectoryName));
    }

    /// <summary>The indexed folder (full path).</summary>
    public string Folder { get; }

    /// <summary>The state directory (full path); skipped when the folder is scanned.</summary>
    public string StateDirectory { get; }

    /// <summary>The <see cref="MuveraIndex"/> directory.</summary>
    public string IndexDirectory => Path.Combine(StateDirectory, "index");

    /// <summary>The sidecar file.</summary>
    public string StateFile => Path.Combine(StateDirectory, "files.json");

    /// <summary>The file an index run holds open exclusively, so that two runs never update one folder's index at once.</summary>
    public string LockFile => Path.Combine(StateDirectory, "index.lock");
}
