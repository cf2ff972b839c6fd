// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using Microsoft.Extensions.VectorData;
using Muvera.Indexing;

namespace Muvera.VectorData;

/// <summary>Options of a <see cref="MuveraCollection{TKey, TRecord}"/>: the record definition and the embedding
/// generator (from <see cref="VectorStoreCollectionOptions"/>), and the MUVERA index settings.</summary>
public sealed class MuveraCollectionOptions : VectorStoreCollectionOptions
{
    /// <summary>Default options.</summary>
    public MuveraCollectionOptions()
    {
    }

    /// <summary>A copy of <paramref name="source"/>.</summary>
    /// <param name="source">The options to copy.</param>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    public MuveraCollectionOptions(MuveraCollectionOptions source)
        : base(source ?? throw new ArgumentNullException(nameof(source)))
    {
        IndexOptions = source.IndexOptions;
        Backend = source.Backend;
        SearchCandidates = source.SearchCandidates;
    }

    /// <summary>The options of a new collection's <see cref="MuveraIndex"/>, given the vector property's dimension
    /// (default: <see cref="FdeOptions.CreateRecommended"/> of that dimension, float32 tokens). Used when the
    /// collection is created; an existing collection keeps the options it was saved with.</summary>
    public Func<int, MuveraIndexOptions>? IndexOptions { get; set; }

    /// <summary>The MIPS backend of the FDEs (default: <see cref="FlatMipsBackend"/> with
    /// <see cref="FdeStorage.Default"/>: with the default learned FDEs a collection searches exactly until it holds 1,024
    /// records, then trains and keeps product-quantized FDEs; reranking stays exact). Give the same kind when opening an existing collection; filtered search needs a backend
    /// that supports filters (flat or USearch, not FAISS).</summary>
    public MipsBackend? Backend { get; set; }

    /// <summary>The candidate count N of each search (default null: the index's default, max(100, 10·k), where k =
    /// top + skip). A filter that allows at most N records makes the search exact among them.</summary>
    public int? SearchCandidates { get; set; }
}
