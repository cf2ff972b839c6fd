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

    /// <summary>Whether to verify every block of the token store while loading (default false: each block is verified
    /// against its checksum the first time a search or copy touches it, so opening takes milliseconds whatever the token
    /// data's size; <see cref="MuveraIndex.Verify"/> checks all of them later). Either way corrupt token data throws
    /// <see cref="System.IO.InvalidDataException"/> and is never scored.</summary>
    public bool VerifyTokens { get; init; }
}
