// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.IO;
using System.Threading;

namespace Muvera.Beir;

/// <summary>
/// Relevance judgements: per query, a grade per judged document. A document is relevant when its grade is at least
/// <see cref="RelevanceLevel"/> (trec_eval's default <c>-l 1</c>); documents without a judgement count as not relevant.
/// </summary>
/// <remarks>
/// <para>Queries keep the order in which they were first judged (BEIR keeps the qrels file order too). Ids are
/// compared ordinally.</para>
/// <para>Thread safety: reads may run concurrently with each other, not with <see cref="Set"/>.</para>
/// </remarks>
public sealed class Qrels
{
    /// <summary>The smallest relevant grade (trec_eval's default relevance level, which pytrec_eval and BEIR keep).</summary>
    public const int RelevanceLevel = 1;

    private static readonly ReadOnlyDictionary<string, int> s_noJudgments = new(new Dictionary<string, int>());

    private readonly Dictionary<string, Dictionary<string, int>> _judgments = new(StringComparer.Ordinal);
    private readonly List<string> _queryIds = [];

    /// <summary>An empty set of judgements.</summary>
    public Qrels()
    {
    }

    /// <summary>The number of judged queries.</summary>
    public int QueryCount => _queryIds.Count;

    /// <summary>The number of (query, document) judgements.</summary>
    public int JudgmentCount { get; private set; }

    /// <summary>The judged query ids, in the order they were first judged.</summary>
    public IReadOnlyList<string> QueryIds => _queryIds;

    /// <summary>Sets the grade of a (query, document) pair; a later call for the same pair replaces the grade, as
    /// BEIR's loader does for a repeated qrels row.</summary>
    /// <param name="queryId">The query id; not empty.</param>
    /// <param name="documentId">The document id; not empty.</param>
    /// <param name="grade">The relevance grade: the nDCG gain when positive; 0 or less is a non-relevant judgement.</param>
    /// <exception cref="ArgumentNullException">An id is null.</exception>
    /// <exception cref="ArgumentException">An id is empty.</exception>
    public void Set(string queryId, string documentId, int grade)
    {
        ArgumentException.ThrowIfNullOrEmpty(queryId);
        ArgumentException.ThrowIfNullOrEmpty(documentId);
        if (!_judgments.TryGetValue(queryId, out Dictionary<string, int>? judged))
        {
            _judgments.Add(queryId, judged = new Dictionary<string, int>(StringComparer.Ordinal));
            _queryIds.Add(queryId);
        }

        if (judged.TryAdd(documentId, grade))
        {
            JudgmentCount++;
        }
        else
        {
            judged[documentId] = grade;
        }
    }

    /// <summary>Whether <paramref name="queryId"/> has at least one judgement.</summary>
    /// <param name="queryId">The query id.</param>
    public bool Contains(string queryId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        return _judgments.ContainsKey(queryId);
    }

    /// <summary>The judgements of one query (document id → grade); empty when the query has none.</summary>
    /// <param name="queryId">The query id.</param>
    public IReadOnlyDictionary<string, int> GetJudgments(string queryId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        return _judgments.TryGetValue(queryId, out Dictionary<string, int>? judged) ? judged : s_noJudgments;
    }

    /// <summary>The grade of a (query, document) pair, 0 when it is not judged.</summary>
    /// <param name="queryId">The query id.</param>
    /// <param name="documentId">The document id.</param>
    public int GetGrade(string queryId, string documentId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        ArgumentNullException.ThrowIfNull(documentId);
        return _judgments.TryGetValue(queryId, out Dictionary<string, int>? judged) && judged.TryGetValue(documentId, out int grade)
            ? grade
            : 0;
    }

    /// <summary>The number of relevant documents (grade ≥ <see cref="RelevanceLevel"/>) judged for a query.</summary>
    /// <param name="queryId">The query id.</param>
    public int CountRelevant(string queryId)
    {
        int count = 0;
        foreach (int grade in GetJudgments(queryId).Values)
        {
            count += grade >= RelevanceLevel ? 1 : 0;
        }

        return count;
    }

    /// <summary>Reads a BEIR qrels file (<c>qrels/&lt;split&gt;.tsv</c>).</summary>
    /// <param name="path">The file: a header line (<c>query-id⇥corpus-id⇥score</c>), then one
    /// <c>query-id⇥corpus-id⇥score</c> row per judgement (further columns are ignored, blank lines skipped).</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is malformed; the message names the file and the line.</exception>
    public static Qrels Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using StreamReader reader = BeirFileReader.OpenText(path);
        return Read(reader, path);
    }

    /// <summary>Reads a BEIR qrels file from a reader (see <see cref="Load"/>).</summary>
    /// <param name="reader">The text.</param>
    /// <param name="sourceName">The name used in error messages (usually the file path).</param>
    /// <exception cref="InvalidDataException">A line is malformed; the message names the source and the line.</exception>
    public static Qrels Read(TextReader reader, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(sourceName);
        var qrels = new Qrels();
        bool header = true;
        foreach ((int number, string line) in BeirFileReader.ReadLines(reader, sourceName, CancellationToken.None))
        {
            string[] fields = line.Split('\t');
            if (header)
            {
                // BEIR's loader skips the first row unread; we insist that it is a header, so that a file without one
                // does not silently lose its first judgement.
                header = false;
                if (fields.Length < 3 || !TryParseGrade(fields[2], out _))
                {
                    continue;
                }

                throw BeirFileReader.Malformed(sourceName, number, "expected the header line \"query-id\\tcorpus-id\\tscore\", found a judgement");
            }

            if (fields.Length < 3)
            {
                throw BeirFileReader.Malformed(sourceName, number, $"expected 3 tab-separated fields (query-id, corpus-id, score), found {fields.Length}");
            }

            if (fields[0].Length == 0 || fields[1].Length == 0)
            {
                throw BeirFileReader.Malformed(sourceName, number, "the query id or corpus id is empty");
            }

            if (!TryParseGrade(fields[2], out int grade))
            {
                throw BeirFileReader.Malformed(sourceName, number, $"the score \"{fields[2]}\" is not an integer");
            }

            qrels.Set(fields[0], fields[1], grade);
        }

        return qrels;
    }

    /// <summary>Writes the judgements in trec_eval's qrels format, <c>qid 0 docno grade</c>, one line each, queries in
    /// <see cref="QueryIds"/> order.</summary>
    /// <param name="writer">The destination.</param>
    /// <exception cref="InvalidOperationException">An id contains white space, which the format cannot hold.</exception>
    public void WriteTrec(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (string queryId in _queryIds)
        {
            TrecRun.EnsureTrecToken(queryId, "query id");
            foreach (KeyValuePair<string, int> judgment in _judgments[queryId])
            {
                TrecRun.EnsureTrecToken(judgment.Key, "document id");
                writer.Write(queryId);
                writer.Write(" 0 ");
                writer.Write(judgment.Key);
                writer.Write(' ');
                writer.Write(judgment.Value.ToString(CultureInfo.InvariantCulture));
                writer.Write('\n');
            }
        }
    }

    /// <summary>Writes the judgements to a file in trec_eval's qrels format (see <see cref="WriteTrec"/>).</summary>
    /// <param name="path">The file to create or replace.</param>
    public void SaveTrec(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var writer = new StreamWriter(path, append: false, new System.Text.UTF8Encoding(false));
        WriteTrec(writer);
    }

    private static bool TryParseGrade(string field, out int grade) =>
        int.TryParse(field, NumberStyles.Integer, CultureInfo.InvariantCulture, out grade);
}
