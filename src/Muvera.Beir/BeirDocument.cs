// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Beir;

/// <summary>One line of a BEIR <c>corpus.jsonl</c>: <c>{"_id", "title", "text", "metadata"}</c> (metadata is not kept).</summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class BeirDocument
{
    /// <summary>A document.</summary>
    /// <param name="id">The document id (<c>_id</c>), compared ordinally.</param>
    /// <param name="title">The title, or <see langword="null"/> when the line has none.</param>
    /// <param name="text">The body text.</param>
    /// <exception cref="ArgumentNullException"><paramref name="id"/> or <paramref name="text"/> is null.</exception>
    public BeirDocument(string id, string? title, string text)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(text);
        Id = id;
        Title = title;
        Text = text;
    }

    /// <summary>The document id (<c>_id</c>).</summary>
    public string Id { get; }

    /// <summary>The title, or <see langword="null"/> when the corpus line has none (or a JSON null).</summary>
    public string? Title { get; }

    /// <summary>The body text.</summary>
    public string Text { get; }

    /// <summary>
    /// The text to encode, exactly as BEIR's exact dense search builds it: <c>(title + " " + text).strip()</c>, or
    /// <c>text.strip()</c> without a title, where <c>strip</c> is Python's (it also removes U+001C–U+001F).
    /// </summary>
    /// <remarks>Computed on every call (allocates unless nothing is stripped and there is no title).</remarks>
    public string FullText => BeirText.CombineTitleAndText(Title, Text);

    /// <inheritdoc/>
    public override string ToString() => $"BeirDocument({Id})";
}
