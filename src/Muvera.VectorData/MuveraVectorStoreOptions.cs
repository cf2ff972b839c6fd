// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using Microsoft.Extensions.AI;
using Muvera.Indexing;

namespace Muvera.VectorData;

/// <summary>Options of a <see cref="MuveraVectorStore"/>, passed on to each of its collections.</summary>
public sealed class MuveraVectorStoreOptions
{
    /// <summary>The default embedding generator of the store's collections: an
    /// <c>IEmbeddingGenerator&lt;string, MultiVectorEmbedding&gt;</c> (for example Muvera.Onnx's
    /// <c>OnnxMultiVectorEmbeddingGenerator</c>) for records whose vector property is text and for searches by text.
    /// A record definition's or a vector property's own generator takes precedence.</summary>
    public IEmbeddingGenerator? EmbeddingGenerator { get; set; }

    /// <summary>See <see cref="MuveraCollectionOptions.IndexOptions"/>.</summary>
    public Func<int, MuveraIndexOptions>? IndexOptions { get; set; }

    /// <summary>See <see cref="MuveraCollectionOptions.Backend"/>.</summary>
    public MipsBackend? Backend { get; set; }

    /// <summary>See <see cref="MuveraCollectionOptions.SearchCandidates"/>.</summary>
    public int? SearchCandidates { get; set; }
}
