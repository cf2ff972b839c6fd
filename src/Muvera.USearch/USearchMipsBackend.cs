// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading.Tasks;
using Muvera.Indexing;

namespace Muvera.USearch;

/// <summary>The USearch HNSW backend of a <see cref="MuveraIndex"/>: approximate, fast, in memory.</summary>
/// <remarks>With <see cref="View"/> set, <see cref="Load"/> memory-maps the saved graph read-only instead of reading it
/// (less memory, instant open; documents can then not be added until the index is rebuilt by compaction or a new
/// index).</remarks>
public sealed class USearchMipsBackend : MipsBackend
{
    /// <summary>A backend with the default <see cref="USearchOptions"/>.</summary>
    public USearchMipsBackend()
        : this(new USearchOptions())
    {
    }

    /// <summary>A backend that builds graphs with <paramref name="options"/>.</summary>
    /// <param name="options">Precision, connectivity and beam widths.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public USearchMipsBackend(USearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>The options new graphs are built with; <see cref="USearchOptions.ExpansionSearch"/> is also the beam
    /// width of every search (a search for N candidates uses max(ef, N)), loaded indexes included.</summary>
    public USearchOptions Options { get; }

    /// <summary>Whether <see cref="Load"/> memory-maps the file read-only (<see cref="USearchMipsIndex.View"/>) instead
    /// of loading it (default false).</summary>
    public bool View { get; init; }

    /// <inheritdoc/>
    public override string Kind => "usearch";

    /// <inheritdoc/>
    public override string Description =>
        $"HNSW {Options.ScalarKind}, M {Options.Connectivity}, ef_construction {Options.ExpansionAdd}, ef {Options.ExpansionSearch}";

    /// <inheritdoc/>
    public override IMipsIndex Create(int dimension) => new USearchMipsIndex(dimension, Options);

    /// <inheritdoc/>
    public override IMipsIndex Load(string path) => View ? USearchMipsIndex.View(path) : USearchMipsIndex.Load(path);

    /// <inheritdoc/>
    public override int Add(IMipsIndex index, ReadOnlySpan<float> vectors, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(index);
        return index is USearchMipsIndex usearch ? usearch.Add(vectors, parallelOptions) : index.Add(vectors);
    }

    /// <inheritdoc/>
    public override int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results)
    {
        ArgumentNullException.ThrowIfNull(index);
        return index is USearchMipsIndex usearch
            ? usearch.Search(query, k, results, Options.ExpansionSearch)
            : index.Search(query, k, results);
    }

    /// <inheritdoc/>
    public override int Search(IMipsIndex index, ReadOnlySpan<float> query, int k, Span<ScoredId> results, MipsFilter filter)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(filter);
        return index is USearchMipsIndex usearch
            ? usearch.Search(query, k, results, Options.ExpansionSearch, filter)
            : base.Search(index, query, k, results, filter);
    }
}
