// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Numerics.Tensors;
using System.Text;
using Muvera.Onnx;

namespace Muvera.Samples.LocalSearch;

/// <summary>A highlighted span of a snippet: a passage word that is some query token's best match (MaxSim argmax).</summary>
/// <param name="Start">The span's first character in the snippet.</param>
/// <param name="Length">The span's length.</param>
/// <param name="Term">The query word whose token matched it best.</param>
public readonly record struct HighlightSpan(int Start, int Length, string Term);

/// <summary>One search result: a passage of a file.</summary>
/// <param name="Rank">1 for the best hit.</param>
/// <param name="Path">The file, relative to the indexed folder ('/' separators).</param>
/// <param name="StartLine">The passage's first line (1-based).</param>
/// <param name="EndLine">The passage's last line (1-based, inclusive).</param>
/// <param name="Score">Chamfer (MaxSim) similarity of query and passage: the sum over query tokens of the best inner
/// product with a passage token (higher is better; unnormalised, so it grows with the query's length).</param>
/// <param name="FdeScore">The inner product of the query's and the passage's FDEs, which chose the candidates; null when
/// the search was exact (an index too small to have trained its learned FDE partitions: every passage is scored).</param>
/// <param name="Snippet">Up to about 240 characters of the passage around the best matches, white space collapsed;
/// "…" marks a cut.</param>
/// <param name="Highlights">Spans of <paramref name="Snippet"/> to highlight, in order, not overlapping.</param>
public sealed record LocalSearchHit(int Rank, string Path, int StartLine, int EndLine, float Score, float? FdeScore, string Snippet,
    IReadOnlyList<HighlightSpan> Highlights);

/// <summary>
/// Searches a folder's index (built by <see cref="LocalIndexer"/>): the query is encoded with the same model, the
/// <see cref="MuveraIndex"/> returns the best passages by Chamfer similarity, and each hit gets a snippet whose words are
/// highlighted where a query token has its maximum inner product.
/// </summary>
/// <remarks>Thread-safe for concurrent searches. Dispose to release the index's mapped files.</remarks>
public sealed class LocalSearcher : IDisposable
{
    /// <summary>The snippet length in characters (before "…" marks).</summary>
    public const int SnippetCharacters = 240;

    // Query words that match something in every passage; highlighting them would hide the informative matches.
    private static readonly HashSet<string> s_stopWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i", "in", "is", "it",
        "its", "my", "of", "on", "or", "that", "the", "this", "to", "we", "what", "when", "where", "which", "who", "why",
        "with", "you",
    };

    private readonly MuveraIndex _index;
    private readonly OnnxTokenEncoder _encoder;
    private readonly TokenAligner _aligner;
    private readonly Dictionary<string, (FileRecord File, PassageRecord Passage)> _passages;
    private readonly int _orphans;

    private LocalSearcher(MuveraIndex index, OnnxTokenEncoder encoder, Dictionary<string, (FileRecord, PassageRecord)> passages,
        int fileCount, int orphans, IReadOnlyList<string> warnings)
    {
        _index = index;
        _encoder = encoder;
        _aligner = new TokenAligner(encoder);
        _passages = passages;
        _orphans = orphans;
        FileCount = fileCount;
        Warnings = warnings;
    }

    /// <summary>The number of indexed files.</summary>
    public int FileCount { get; }

    /// <summary>The number of searchable passages.</summary>
    public int PassageCount => _passages.Count;

    /// <summary>The candidate count searches use when none is given: the index's calibrated N, or null for the library
    /// default (max(100, 10·k)).</summary>
    public int? DefaultCandidates => _index.Calibration?.Candidates;

    /// <summary>Problems found when opening (index and sidecar disagree).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Opens the index of a folder.</summary>
    /// <param name="location">The folder and where its index lives.</param>
    /// <param name="encoder">The encoder the index was built with (not owned).</param>
    /// <returns>The searcher.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist and has no index.</exception>
    /// <exception cref="FileNotFoundException">The folder has no index (run <c>index</c> first).</exception>
    /// <exception cref="InvalidDataException">The index was built with another model, or cannot be read.</exception>
    public static LocalSearcher Open(LocalIndexLocation location, OnnxTokenEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        return Open(location, () => encoder);
    }

    /// <summary>Opens the index of a folder, reading the index and its sidecar before asking for the encoder, so that a
    /// caller can load the model meanwhile on another thread (the two take about the same time).</summary>
    /// <param name="location">The folder and where its index lives.</param>
    /// <param name="encoder">Returns the encoder the index was built with (not owned), waiting for it if need be; called
    /// once, after the index has been read.</param>
    /// <returns>The searcher.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist and has no index.</exception>
    /// <exception cref="FileNotFoundException">The folder has no index (run <c>index</c> first).</exception>
    /// <exception cref="InvalidDataException">The index was built with another model, or cannot be read.</exception>
    public static LocalSearcher Open(LocalIndexLocation location, Func<OnnxTokenEncoder> encoder)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(encoder);
        using IndexSnapshot snapshot = IndexSnapshot.Load(location);
        if (snapshot.Index is null || snapshot.State is null)
        {
            if (!Directory.Exists(location.Folder))
            {
                throw new DirectoryNotFoundException($"The folder '{location.Folder}' does not exist, and '{location.StateDirectory}' holds no index of it.");
            }

            string reason = snapshot.Warnings.Count > 0 ? " " + string.Join(" ", snapshot.Warnings) : "";
            throw new FileNotFoundException($"No usable index of '{location.Folder}' in '{location.StateDirectory}'; run the index command first.{reason}", location.StateFile);
        }

        OnnxTokenEncoder model = encoder();
        if (snapshot.State.Model != model.ModelFingerprint || snapshot.Index.Dimension != model.Dimension)
        {
            throw new InvalidDataException($"The index in '{location.StateDirectory}' was built with another model; run the index command again.");
        }

        var passages = new Dictionary<string, (FileRecord, PassageRecord)>(StringComparer.Ordinal);
        foreach (FileRecord file in snapshot.Files.Values)
        {
            foreach (PassageRecord passage in file.Passages)
            {
                passages[passage.Id] = (file, passage);
            }
        }

        return new LocalSearcher(snapshot.TakeIndex()!, model, passages, snapshot.Files.Count, snapshot.OrphanIds.Count, snapshot.Warnings);
    }

    /// <summary>Searches the passages.</summary>
    /// <param name="query">The query text.</param>
    /// <param name="k">How many hits at most (positive).</param>
    /// <param name="candidates">FDE candidates to rerank (at least <paramref name="k"/>), or null for
    /// <see cref="DefaultCandidates"/>.</param>
    /// <returns>Up to <paramref name="k"/> hits, best first.</returns>
    /// <exception cref="ArgumentException">The query has no tokens.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive or
    /// <paramref name="candidates"/> is less than <paramref name="k"/>.</exception>
    public IReadOnlyList<LocalSearchHit> Search(string query, int k, int? candidates = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(query);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (candidates is int requested)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(requested, k, nameof(candidates));
        }

        ReadOnlyMultiVector queryVectors = _encoder.EncodeQuery(query);

        // Passages that the sidecar does not describe (left by an interrupted run) are skipped, so ask for that many more.
        int wanted = k + _orphans;
        var options = new MuveraSearchOptions { Candidates = candidates is int n ? Math.Max(n, wanted) : null };
        MuveraSearchHit[] found = _index.Search(queryVectors, wanted, options);

        List<TextWord> queryWords = _aligner.Words(query);
        int[]? queryMap = _aligner.MapPositions(queryWords, queryVectors.Count);
        var hits = new List<LocalSearchHit>(k);
        foreach (MuveraSearchHit hit in found)
        {
            if (!_passages.TryGetValue(hit.Id, out (FileRecord File, PassageRecord Passage) entry))
            {
                continue;
            }

            (string snippet, List<HighlightSpan> highlights) = Highlight(query, queryWords, queryMap, queryVectors, hit.Id, entry.Passage.Text);
            hits.Add(new LocalSearchHit(hits.Count + 1, entry.File.Path, entry.Passage.StartLine, entry.Passage.EndLine, hit.Score,
                float.IsNaN(hit.FdeScore) ? null : hit.FdeScore, snippet, highlights));
            if (hits.Count == k)
            {
                break;
            }
        }

        return hits;
    }

    /// <summary>Releases the index.</summary>
    public void Dispose() => _index.Dispose();

    // For every informative query token, the passage token with the largest inner product (the token that Chamfer
    // scoring credits it with), mapped to its word; then a snippet around the densest run of those words.
    private (string Snippet, List<HighlightSpan> Highlights) Highlight(string query, List<TextWord> queryWords, int[]? queryMap,
        ReadOnlyMultiVector queryVectors, string id, string text)
    {
        List<TextWord> words = _aligner.Words(text);
        var terms = new Dictionary<int, (string Term, float Similarity)>();
        ReadOnlyMultiVector document = _index.GetDocument(id);
        int[]? documentMap = _aligner.MapPositions(words, document.Count);
        if (queryMap is not null && documentMap is not null)
        {
            int dimension = document.Dimension;
            ReadOnlySpan<float> documentSpan = document.Span;
            for (int q = 0; q < queryMap.Length; q++)
            {
                if (queryMap[q] < 0)
                {
                    continue;
                }

                string term = query.Substring(queryWords[queryMap[q]].Start, queryWords[queryMap[q]].Length);
                if (s_stopWords.Contains(term) || !HasLetterOrDigit(term))
                {
                    continue;
                }

                ReadOnlySpan<float> token = queryVectors.Span.Slice(q * dimension, dimension);
                int best = -1;
                float bestSimilarity = float.NegativeInfinity;
                for (int d = 0; d < documentMap.Length; d++)
                {
                    if (documentMap[d] < 0)
                    {
                        continue;
                    }

                    float similarity = TensorPrimitives.Dot(token, documentSpan.Slice(d * dimension, dimension));
                    if (similarity > bestSimilarity)
                    {
                        bestSimilarity = similarity;
                        best = d;
                    }
                }

                int word = best < 0 ? -1 : documentMap[best];
                if (word >= 0 && HasLetterOrDigit(text.AsSpan(words[word].Start, words[word].Length))
                    && (!terms.TryGetValue(word, out var existing) || existing.Similarity < bestSimilarity))
                {
                    terms[word] = (term, bestSimilarity);
                }
            }
        }

        return BuildSnippet(text, words, terms);
    }

    private static (string Snippet, List<HighlightSpan> Highlights) BuildSnippet(string text, List<TextWord> words,
        Dictionary<int, (string Term, float Similarity)> terms)
    {
        if (words.Count == 0)
        {
            return ("", []);
        }

        // The window of words spanning at most SnippetCharacters with the most highlighted words (two pointers).
        int bestFirst = 0;
        int bestCount = -1;
        int count = 0;
        int last = -1;
        for (int first = 0; first < words.Count; first++)
        {
            while (last + 1 < words.Count && words[last + 1].End - words[first].Start <= SnippetCharacters)
            {
                last++;
                count += terms.ContainsKey(last) ? 1 : 0;
            }

            if (count > bestCount)
            {
                bestCount = count;
                bestFirst = first;
            }

            if (last >= first)
            {
                count -= terms.ContainsKey(first) ? 1 : 0;
            }
            else
            {
                last = first;
            }
        }

        // The snippet: the window's words, joined as in the text but with white space collapsed.
        int firstWord = bestFirst;
        int lastWord = bestFirst;
        while (lastWord + 1 < words.Count && words[lastWord + 1].End - words[firstWord].Start <= SnippetCharacters)
        {
            lastWord++;
        }

        var builder = new StringBuilder(SnippetCharacters + 8);
        var highlights = new List<HighlightSpan>();
        if (firstWord > 0)
        {
            builder.Append("… ");
        }

        for (int w = firstWord; w <= lastWord; w++)
        {
            if (w > firstWord)
            {
                // Words separated by white space stay separated (by one space); punctuation stays attached.
                bool spaced = words[w].Start > words[w - 1].End;
                if (spaced)
                {
                    builder.Append(' ');
                }
            }

            if (terms.TryGetValue(w, out var match))
            {
                highlights.Add(new HighlightSpan(builder.Length, words[w].Length, match.Term));
            }

            builder.Append(text, words[w].Start, words[w].Length);
        }

        if (lastWord < words.Count - 1)
        {
            builder.Append(" …");
        }

        return (builder.ToString(), highlights);
    }

    private static bool HasLetterOrDigit(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (char.IsLetterOrDigit(c))
            {
                return true;
            }
        }

        return false;
    }
}
