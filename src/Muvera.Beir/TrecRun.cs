// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;

namespace Muvera.Beir;

/// <summary>
/// A retrieval run: per query, the retrieved documents with scores, ranked as trec_eval ranks them (score descending,
/// ties by document id descending). Reads and writes the TREC run format, so a run can be checked with trec_eval.
/// </summary>
/// <remarks>
/// <para>File format: one line per retrieved document, <c>qid Q0 docno rank score tag</c>, fields separated by a
/// space; rank counts from 1 in the order above; the score is written in the shortest form that parses back to the
/// same <see cref="double"/> (so ties and order survive a round trip through the file). trec_eval ignores the rank
/// column and re-sorts by score and docno itself.</para>
/// <para>Hits whose document id equals the query id stay in the run; <see cref="RetrievalEvaluator"/> drops them when
/// asked (BEIR's default), and <see cref="RemoveIdenticalIds"/> drops them before a file is written for trec_eval.</para>
/// <para>Thread safety: reads may run concurrently with each other, not with <see cref="Add(string, IEnumerable{RetrievedDocument})"/>.</para>
/// </remarks>
public sealed class TrecRun
{
    private readonly Dictionary<string, RetrievedDocument[]> _queries = new(StringComparer.Ordinal);
    private readonly List<string> _queryIds = [];

    /// <summary>An empty run.</summary>
    /// <param name="tag">The run tag written in the last column; not empty, no white space.</param>
    /// <exception cref="ArgumentException"><paramref name="tag"/> is empty or contains white space.</exception>
    public TrecRun(string tag)
    {
        ArgumentException.ThrowIfNullOrEmpty(tag);
        if (ContainsWhiteSpace(tag))
        {
            throw new ArgumentException($"The run tag \"{tag}\" contains white space, which the TREC run format cannot hold.", nameof(tag));
        }

        Tag = tag;
    }

    /// <summary>The run tag (the last column of every line).</summary>
    public string Tag { get; }

    /// <summary>The number of queries in the run.</summary>
    public int QueryCount => _queryIds.Count;

    /// <summary>The query ids, in the order they were added (or first read).</summary>
    public IReadOnlyList<string> QueryIds => _queryIds;

    /// <summary>Adds the results of one query; they are ranked in trec_eval's order.</summary>
    /// <param name="queryId">The query id; not empty, not already in the run.</param>
    /// <param name="documents">The retrieved documents, in any order; may be empty.</param>
    /// <exception cref="ArgumentException">The query is already in the run, an id is empty, a document appears twice,
    /// or a score is NaN.</exception>
    public void Add(string queryId, IEnumerable<RetrievedDocument> documents)
    {
        ArgumentException.ThrowIfNullOrEmpty(queryId);
        ArgumentNullException.ThrowIfNull(documents);
        if (_queries.ContainsKey(queryId))
        {
            throw new ArgumentException($"The query \"{queryId}\" is already in the run.", nameof(queryId));
        }

        RetrievedDocument[] ranked = [.. documents];
        var seen = new HashSet<string>(ranked.Length, StringComparer.Ordinal);
        for (int i = 0; i < ranked.Length; i++)
        {
            RetrievedDocument document = ranked[i];
            if (string.IsNullOrEmpty(document.DocumentId))
            {
                throw new ArgumentException($"Query \"{queryId}\": documents[{i}] has an empty document id.", nameof(documents));
            }

            if (double.IsNaN(document.Score))
            {
                throw new ArgumentException($"Query \"{queryId}\": document \"{document.DocumentId}\" has score NaN; scores must be numbers.", nameof(documents));
            }

            if (!seen.Add(document.DocumentId))
            {
                // trec_eval refuses such a run ("duplicate docs"); pytrec_eval's dictionaries cannot hold one.
                throw new ArgumentException($"Query \"{queryId}\": document \"{document.DocumentId}\" appears twice.", nameof(documents));
            }
        }

        Array.Sort(ranked, TrecOrder.Instance);
        _queries.Add(queryId, ranked);
        _queryIds.Add(queryId);
    }

    /// <summary>Adds the results of one query given as document ordinals (as indexes and scorers return them).</summary>
    /// <param name="queryId">The query id; not empty, not already in the run.</param>
    /// <param name="results">The results; <see cref="ScoredId.Id"/> indexes <paramref name="documentIds"/>.</param>
    /// <param name="documentIds">The document id of every ordinal (corpus order).</param>
    /// <exception cref="ArgumentOutOfRangeException">An ordinal is outside <paramref name="documentIds"/>.</exception>
    /// <exception cref="ArgumentException">See <see cref="Add(string, IEnumerable{RetrievedDocument})"/>.</exception>
    public void Add(string queryId, ReadOnlySpan<ScoredId> results, IReadOnlyList<string> documentIds)
    {
        ArgumentNullException.ThrowIfNull(documentIds);
        var documents = new RetrievedDocument[results.Length];
        for (int i = 0; i < results.Length; i++)
        {
            int id = results[i].Id;
            if ((uint)id >= (uint)documentIds.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(results), id, $"results[{i}] has document ordinal {id}, outside the {documentIds.Count} document ids.");
            }

            documents[i] = new RetrievedDocument(documentIds[id], results[i].Score);
        }

        Add(queryId, documents);
    }

    /// <summary>The ranked documents of a query (trec_eval's order); empty when the query is not in the run.</summary>
    /// <param name="queryId">The query id.</param>
    public IReadOnlyList<RetrievedDocument> GetDocuments(string queryId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        return _queries.TryGetValue(queryId, out RetrievedDocument[]? ranked) ? ranked : [];
    }

    /// <summary>Whether the run holds a query.</summary>
    /// <param name="queryId">The query id.</param>
    public bool Contains(string queryId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        return _queries.ContainsKey(queryId);
    }

    /// <summary>Removes every hit whose document id equals its query id (BEIR's <c>ignore_identical_ids</c>), so that a
    /// file written for trec_eval scores as <see cref="RetrievalEvaluator"/> does with
    /// <see cref="EvaluationOptions.IgnoreIdenticalIds"/>.</summary>
    /// <returns>The number of hits removed.</returns>
    public int RemoveIdenticalIds()
    {
        int removed = 0;
        foreach (string queryId in _queryIds)
        {
            RetrievedDocument[] ranked = _queries[queryId];
            int index = Array.FindIndex(ranked, document => string.Equals(document.DocumentId, queryId, StringComparison.Ordinal));
            if (index >= 0)
            {
                _queries[queryId] = [.. ranked[..index], .. ranked[(index + 1)..]];
                removed++;
            }
        }

        return removed;
    }

    /// <summary>Writes the run in the TREC run format (see the remarks), queries in <see cref="QueryIds"/> order.</summary>
    /// <param name="writer">The destination.</param>
    /// <exception cref="InvalidOperationException">A query or document id contains white space.</exception>
    public void Write(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (string queryId in _queryIds)
        {
            EnsureTrecToken(queryId, "query id");
            RetrievedDocument[] ranked = _queries[queryId];
            for (int i = 0; i < ranked.Length; i++)
            {
                EnsureTrecToken(ranked[i].DocumentId, "document id");
                writer.Write(queryId);
                writer.Write(" Q0 ");
                writer.Write(ranked[i].DocumentId);
                writer.Write(' ');
                writer.Write((i + 1).ToString(CultureInfo.InvariantCulture));
                writer.Write(' ');
                writer.Write(ranked[i].Score.ToString("R", CultureInfo.InvariantCulture));
                writer.Write(' ');
                writer.Write(Tag);
                writer.Write('\n');
            }
        }
    }

    /// <summary>Writes the run to a file (see <see cref="Write"/>).</summary>
    /// <param name="path">The file to create or replace.</param>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false));
        Write(writer);
    }

    /// <summary>Reads a TREC run file.</summary>
    /// <param name="path">The file (gzip-compressed when its name ends in <c>.gz</c>).</param>
    /// <exception cref="InvalidDataException">A line is malformed or repeats a (query, document) pair; the message names
    /// the file and the line.</exception>
    public static TrecRun Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using StreamReader reader = BeirFileReader.OpenText(path);
        return Read(reader, path);
    }

    /// <summary>Reads a TREC run: six white-space separated fields per line, <c>qid Q0 docno rank score tag</c>. The
    /// second and fourth fields are not interpreted (trec_eval ignores them too); the tag of the first line becomes
    /// <see cref="Tag"/>. An empty input gives an empty run tagged <c>run</c>.</summary>
    /// <param name="reader">The text.</param>
    /// <param name="sourceName">The name used in error messages (usually the file path).</param>
    /// <exception cref="InvalidDataException">A line is malformed or repeats a (query, document) pair.</exception>
    public static TrecRun Read(TextReader reader, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(sourceName);
        string? tag = null;
        var queries = new Dictionary<string, List<RetrievedDocument>>(StringComparer.Ordinal);
        var order = new List<string>();
        var pairs = new HashSet<(string, string)>();
        foreach ((int number, string line) in BeirFileReader.ReadLines(reader, sourceName, CancellationToken.None))
        {
            string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 6)
            {
                throw BeirFileReader.Malformed(sourceName, number, $"expected 6 fields (qid Q0 docno rank score tag), found {fields.Length}");
            }

            if (!double.TryParse(fields[4], NumberStyles.Float, CultureInfo.InvariantCulture, out double score) || double.IsNaN(score))
            {
                throw BeirFileReader.Malformed(sourceName, number, $"the score \"{fields[4]}\" is not a number");
            }

            if (!pairs.Add((fields[0], fields[2])))
            {
                throw BeirFileReader.Malformed(sourceName, number, $"query \"{fields[0]}\" retrieves document \"{fields[2]}\" twice");
            }

            tag ??= fields[5];
            if (!queries.TryGetValue(fields[0], out List<RetrievedDocument>? documents))
            {
                queries.Add(fields[0], documents = []);
                order.Add(fields[0]);
            }

            documents.Add(new RetrievedDocument(fields[2], score));
        }

        var run = new TrecRun(tag ?? "run");
        foreach (string queryId in order)
        {
            run.Add(queryId, queries[queryId]);
        }

        return run;
    }

    internal static void EnsureTrecToken(string value, string what)
    {
        if (ContainsWhiteSpace(value))
        {
            throw new InvalidOperationException($"The {what} \"{value}\" contains white space, which the TREC formats cannot hold.");
        }
    }

    private static bool ContainsWhiteSpace(string value)
    {
        foreach (char c in value)
        {
            if (char.IsWhiteSpace(c))
            {
                return true;
            }
        }

        return false;
    }
}
