// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;
using Muvera.Indexing;

namespace Muvera;

/// <summary>Settings of <see cref="MuveraIndex.Load(string, MuveraLoadOptions)"/>.</summary>
public sealed record MuveraLoadOptions
{
    /// <summary>Backends to load the FDE index with; the one whose <see cref="MipsBackend.Kind"/> matches the
    /// manifest is used. When none matches, the flat backend is built in, and the USearch and FAISS backends are found
    /// by name when their assemblies are referenced (with their default search parameters).</summary>
    public IReadOnlyList<MipsBackend> Backends { get; init; } = [];

    /// <summary>When set, loading fails unless the index was built with exactly these FDE options (and this library's
    /// PRNG version), so that queries encoded elsewhere match.</summary>
    public FdeOptions? ExpectedFde { get; init; }
}
