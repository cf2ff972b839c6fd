// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;

namespace Muvera.Beir;

/// <summary>
/// A BEIR data set split in memory: the corpus, the queries judged in the split, and the split's judgements, read as
/// BEIR's <c>GenericDataLoader.load(split)</c> reads them.
/// </summary>
/// <remarks>
/// <para>Layout of <c>directory</c>: <c>corpus.jsonl</c> (or <c>corpus.jsonl.gz</c>) with lines
/// <c>{"_id", "title", "text", "metadata"}</c>; <c>queries.jsonl</c> (or <c>queries.jsonl.gz</c>) with lines
/// <c>{"_id", "text", "metadata"}</c>; <c>qrels/&lt;split&gt;.tsv</c> with a header line and rows
/// <c>query-id⇥corpus-id⇥score</c>. A plain file is preferred when both forms exist; gzip files are decompressed
/// while streaming.</para>
/// <para>As in BEIR, <see cref="Queries"/> holds exactly the queries that the split's qrels judge (in qrels order),
/// including any whose judgements are all 0. Blank lines are skipped. A malformed line, a duplicate document or query
/// id, or a judged query missing from the queries file throws <see cref="InvalidDataException"/> naming the file and
/// line. Judged documents missing from the corpus are allowed (they can never be retrieved).</para>
/// <para>Immutable once loaded; thread-safe for reads.</para>
/// </remarks>
public sealed class BeirDataset
{
    private BeirDataset(string name, string split, BeirDocument[] documents, BeirQuery[] queries, Qrels qrels)
    {
        Name = name;
        Split = split;
        Documents = documents;
        Queries = queries;
        Qrels = qrels;
    }

    /// <summary>The data set's name: the name of its directory (<c>nfcorpus</c>).</summary>
    public string Name { get; }

    /// <summary>The split whose qrels were loaded (<c>test</c>).</summary>
    public string Split { get; }

    /// <summary>Every corpus document, in file order (document ordinal = index).</summary>
    public IReadOnlyList<BeirDocument> Documents { get; }

    /// <summary>The queries judged in <see cref="Split"/>, in the order the qrels first judge them.</summary>
    public IReadOnlyList<BeirQuery> Queries { get; }

    /// <summary>The judgements of <see cref="Split"/>.</summary>
    public Qrels Qrels { get; }

    /// <summary>Loads a split of a BEIR data set.</summary>
    /// <param name="directory">The data set directory (see the remarks for its layout).</param>
    /// <param name="split">The qrels split: <c>test</c>, <c>dev</c> or <c>train</c>; a file name without directory parts.</param>
    /// <exception cref="ArgumentException"><paramref name="split"/> is empty or holds a path separator.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="directory"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">A file is missing; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file is malformed; the message names the file and the line.</exception>
    public static BeirDataset Load(string directory, string split) => Load(directory, split, CancellationToken.None);

    /// <summary>Loads a split of a BEIR data set, observing a cancellation token while reading.</summary>
    /// <param name="directory">The data set directory (see the remarks for its layout).</param>
    /// <param name="split">The qrels split: <c>test</c>, <c>dev</c> or <c>train</c>; a file name without directory parts.</param>
    /// <param name="cancellationToken">Checked every 1,024 lines.</param>
    /// <exception cref="ArgumentException"><paramref name="split"/> is empty or holds a path separator.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="directory"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">A file is missing; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file is malformed; the message names the file and the line.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static BeirDataset Load(string directory, string split, CancellationToken cancellationToken)
    {
        Qrels qrels = ReadQrels(directory, split);
        string corpusPath = BeirFileReader.ResolvePlainOrGzip(directory, "corpus.jsonl");
        string queriesPath = BeirFileReader.ResolvePlainOrGzip(directory, "queries.jsonl");

        var documents = new List<BeirDocument>();
        var documentIds = new HashSet<string>(StringComparer.Ordinal);
        using (StreamReader reader = BeirFileReader.OpenText(corpusPath))
        {
            foreach ((int number, string line) in BeirFileReader.ReadLines(reader, corpusPath, cancellationToken))
            {
                BeirDocument document = BeirFileReader.ParseDocument(line, corpusPath, number);
                if (!documentIds.Add(document.Id))
                {
                    throw BeirFileReader.Malformed(corpusPath, number, $"the document id \"{document.Id}\" appears twice");
                }

                documents.Add(document);
            }
        }

        var judged = new Dictionary<string, BeirQuery>(StringComparer.Ordinal);
        var queryIds = new HashSet<string>(StringComparer.Ordinal);
        using (StreamReader reader = BeirFileReader.OpenText(queriesPath))
        {
            foreach ((int number, string line) in BeirFileReader.ReadLines(reader, queriesPath, cancellationToken))
            {
                BeirQuery query = BeirFileReader.ParseQuery(line, queriesPath, number);
                if (!queryIds.Add(query.Id))
                {
                    throw BeirFileReader.Malformed(queriesPath, number, $"the query id \"{query.Id}\" appears twice");
                }

                if (qrels.Contains(query.Id))
                {
                    judged.Add(query.Id, query);
                }
            }
        }

        var queries = new BeirQuery[qrels.QueryCount];
        for (int i = 0; i < queries.Length; i++)
        {
            string id = qrels.QueryIds[i];
            queries[i] = judged.TryGetValue(id, out BeirQuery? query)
                ? query
                : throw new InvalidDataException($"{GetQrelsPath(directory, split)} judges the query \"{id}\", which {queriesPath} does not hold.");
        }

        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        return new BeirDataset(name, split, [.. documents], queries, qrels);
    }

    /// <summary>Streams the corpus of a BEIR data set (<c>corpus.jsonl</c> or <c>corpus.jsonl.gz</c>), one document at a
    /// time, without holding it in memory. Duplicate ids are not checked.</summary>
    /// <param name="directory">The data set directory.</param>
    /// <exception cref="DirectoryNotFoundException"><paramref name="directory"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">Neither corpus file exists (thrown when enumeration starts).</exception>
    /// <exception cref="InvalidDataException">A line is malformed; the message names the file and the line.</exception>
    public static IEnumerable<BeirDocument> ReadCorpus(string directory)
    {
        EnsureDirectory(directory);
        return BeirFileReader.ReadDocuments(BeirFileReader.ResolvePlainOrGzip(directory, "corpus.jsonl"), CancellationToken.None);
    }

    /// <summary>Streams every query of a BEIR data set (<c>queries.jsonl</c> or <c>queries.jsonl.gz</c>), judged or not,
    /// in file order.</summary>
    /// <param name="directory">The data set directory.</param>
    /// <exception cref="DirectoryNotFoundException"><paramref name="directory"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">Neither queries file exists.</exception>
    /// <exception cref="InvalidDataException">A line is malformed; the message names the file and the line.</exception>
    public static IEnumerable<BeirQuery> ReadQueries(string directory)
    {
        EnsureDirectory(directory);
        return BeirFileReader.ReadQueries(BeirFileReader.ResolvePlainOrGzip(directory, "queries.jsonl"), CancellationToken.None);
    }

    /// <summary>Reads the judgements of one split, <c>qrels/&lt;split&gt;.tsv</c>.</summary>
    /// <param name="directory">The data set directory.</param>
    /// <param name="split">The split name.</param>
    /// <exception cref="ArgumentException"><paramref name="split"/> is empty or holds a path separator.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="directory"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">The qrels file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is malformed; the message names the file and the line.</exception>
    public static Qrels ReadQrels(string directory, string split)
    {
        EnsureDirectory(directory);
        string path = GetQrelsPath(directory, split);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The qrels file {path} of split \"{split}\" does not exist.", path);
        }

        return Qrels.Load(path);
    }

    /// <inheritdoc/>
    public override string ToString() => $"BeirDataset({Name}/{Split}: {Documents.Count} documents, {Queries.Count} queries)";

    private static string GetQrelsPath(string directory, string split)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(split);
        if (split.IndexOfAny(['/', '\\']) >= 0 || split is "." or "..")
        {
            throw new ArgumentException($"The split \"{split}\" must be a plain name such as \"test\", without path separators.", nameof(split));
        }

        return Path.Combine(directory, "qrels", split + ".tsv");
    }

    private static void EnsureDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The BEIR data set directory {directory} does not exist.");
        }
    }
}
