// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Beir;

/// <summary>One line of a BEIR <c>queries.jsonl</c>: <c>{"_id", "text", "metadata"}</c> (metadata is not kept).</summary>
/// <remarks>Immutable and thread-safe. The text is kept as given: BEIR encodes queries without stripping them.</remarks>
public sealed class BeirQuery
{
    /// <summary>A query.</summary>
    /// <param name="id">The query id (<c>_id</c>), compared ordinally.</param>
    /// <param name="text">The query text.</param>
    /// <exception cref="ArgumentNullException"><paramref name="id"/> or <paramref name="text"/> is null.</exception>
    public BeirQuery(string id, string text)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(text);
        Id = id;
        Text = text;
    }

    /// <summary>The query id (<c>_id</c>).</summary>
    public string Id { get; }

    /// <summary>The query text, unmodified.</summary>
    public string Text { get; }

    /// <inheritdoc/>
    public override string ToString() => $"BeirQuery({Id})";
}
