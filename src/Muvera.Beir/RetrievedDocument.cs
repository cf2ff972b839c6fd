// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera.Beir;

/// <summary>One retrieved document of a run: its id and its score (higher is better).</summary>
/// <param name="DocumentId">The document id, compared ordinally.</param>
/// <param name="Score">The retrieval score; higher ranks first. A <see cref="float"/> score converts exactly.</param>
public readonly record struct RetrievedDocument(string DocumentId, double Score);
