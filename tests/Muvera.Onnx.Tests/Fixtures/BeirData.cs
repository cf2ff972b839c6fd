// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text.Json;

namespace Muvera.Onnx.Tests.Fixtures;

/// <summary>A BEIR data set (corpus, queries, test qrels) as the tests need it, and pytrec_eval's nDCG@k.</summary>
internal sealed class BeirData
{
    private BeirData(string[] documentIds, string[] documents, string[] queryIds, string[] queries, Dictionary<string, Dictionary<string, int>> qrels)
    {
        DocumentIds = documentIds;
        Documents = documents;
        QueryIds = queryIds;
        Queries = queries;
        Qrels = qrels;
    }

    /// <summary>Document ids in corpus order.</summary>
    public string[] DocumentIds { get; }

    /// <summary>Document texts as BEIR and MTEB encode them: <c>(title + " " + text).Trim()</c>.</summary>
    public string[] Documents { get; }

    /// <summary>The ids of the queries judged in the test qrels, in ordinal order.</summary>
    public string[] QueryIds { get; }

    /// <summary>Query texts, parallel to <see cref="QueryIds"/>.</summary>
    public string[] Queries { get; }

    /// <summary>Test judgements: query id → document id → grade.</summary>
    public Dictionary<string, Dictionary<string, int>> Qrels { get; }

    /// <summary>Reads <c>corpus.jsonl</c> or <c>corpus.jsonl.gz</c>, <c>queries.jsonl</c> and <c>qrels-test.tsv</c> or
    /// <c>qrels/test.tsv</c> from <paramref name="directory"/>; keeps the queries that have a relevant (grade &gt; 0) judgement.</summary>
    public static BeirData Load(string directory)
    {
        var documentIds = new List<string>();
        var documents = new List<string>();
        string corpusPath = Path.Combine(directory, "corpus.jsonl");
        using (Stream corpus = File.Exists(corpusPath)
            ? File.OpenRead(corpusPath)
            : new GZipStream(File.OpenRead(corpusPath + ".gz"), CompressionMode.Decompress))
        using (var reader = new StreamReader(corpus))
        {
            for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
            {
                using JsonDocument json = JsonDocument.Parse(line);
                JsonElement root = json.RootElement;
                string title = root.TryGetProperty("title", out JsonElement t) ? t.GetString() ?? "" : "";
                documentIds.Add(root.GetProperty("_id").GetString()!);
                documents.Add((title + " " + root.GetProperty("text").GetString()).Trim());
            }
        }

        string qrelsPath = Path.Combine(directory, "qrels-test.tsv");
        if (!File.Exists(qrelsPath))
        {
            qrelsPath = Path.Combine(directory, "qrels", "test.tsv");
        }

        var qrels = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(qrelsPath).Skip(1))
        {
            string[] fields = line.Split('\t');
            if (!qrels.TryGetValue(fields[0], out Dictionary<string, int>? judged))
            {
                qrels[fields[0]] = judged = new Dictionary<string, int>(StringComparer.Ordinal);
            }

            judged[fields[1]] = int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture);
        }

        var queryTexts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(Path.Combine(directory, "queries.jsonl")))
        {
            using JsonDocument json = JsonDocument.Parse(line);
            string id = json.RootElement.GetProperty("_id").GetString()!;
            if (qrels.TryGetValue(id, out Dictionary<string, int>? judged) && judged.Values.Any(grade => grade > 0))
            {
                queryTexts[id] = json.RootElement.GetProperty("text").GetString()!;
            }
        }

        string[] queryIds = [.. queryTexts.Keys.Order(StringComparer.Ordinal)];
        return new BeirData([.. documentIds], [.. documents], queryIds, [.. queryIds.Select(id => queryTexts[id])], qrels);
    }

    /// <summary>pytrec_eval's <c>ndcg_cut_k</c> for one query: hits ordered by score (descending) then document id
    /// (descending, trec_eval's tie order), a hit whose id equals the query id dropped (BEIR), linear gain, log2 discount;
    /// the ideal ranking holds every judged document.</summary>
    public static double NdcgAtK(IEnumerable<(string DocumentId, double Score)> hits, string queryId, IReadOnlyDictionary<string, int> judged, int k)
    {
        string[] ranked = [.. hits
            .Where(hit => hit.DocumentId != queryId)
            .OrderByDescending(hit => hit.Score)
            .ThenByDescending(hit => hit.DocumentId, StringComparer.Ordinal)
            .Take(k)
            .Select(hit => hit.DocumentId)];
        double dcg = 0;
        for (int i = 0; i < ranked.Length; i++)
        {
            if (judged.TryGetValue(ranked[i], out int grade) && grade > 0)
            {
                dcg += grade / Math.Log2(i + 2);
            }
        }

        int[] ideal = [.. judged.Values.Where(grade => grade > 0).OrderDescending().Take(k)];
        double idcg = 0;
        for (int i = 0; i < ideal.Length; i++)
        {
            idcg += ideal[i] / Math.Log2(i + 2);
        }

        return idcg == 0 ? 0 : dcg / idcg;
    }
}
