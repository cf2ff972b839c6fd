// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Frozen;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace Muvera.Tests.Fixtures;

/// <summary>
/// ColBERTv2 token embeddings of a tiny FiQA sample (<c>tests/testdata/colbertv2-nanofiqa</c>, see its SOURCE.md):
/// 5 queries of 32 tokens and 35 documents, 128 dimensions, with binary relevance judgments.
/// </summary>
/// <remarks>
/// The <c>ids</c> arrays inside the archives are pickled Python objects, which we do not read. SOURCE.md states the
/// order instead: array <c>emb_i</c> belongs to the i-th id of the qrels ids sorted as strings (ordinal), documents
/// and queries alike. Loaded once and shared; the vectors are read-only views.
/// </remarks>
internal sealed class ColbertNanoFiqa
{
    public const int Dimension = 128;
    public const int QueryTokens = 32;

    public static readonly string Directory = Path.Combine(TestContext.CurrentContext.TestDirectory, "testdata", "colbertv2-nanofiqa");

    private static readonly Lazy<ColbertNanoFiqa> s_instance = new(Load);

    private ColbertNanoFiqa(
        string[] queryIds,
        string[] documentIds,
        ReadOnlyMultiVector[] queries,
        ReadOnlyMultiVector[] documents,
        FrozenDictionary<string, IReadOnlySet<string>> relevant)
    {
        QueryIds = queryIds;
        DocumentIds = documentIds;
        Queries = queries;
        Documents = documents;
        Relevant = relevant;
    }

    /// <summary>The data set, loaded on first use.</summary>
    public static ColbertNanoFiqa Instance => s_instance.Value;

    /// <summary>Query ids; <c>QueryIds[i]</c> belongs to <c>Queries[i]</c>.</summary>
    public IReadOnlyList<string> QueryIds { get; }

    /// <summary>Document ids; <c>DocumentIds[i]</c> belongs to <c>Documents[i]</c>.</summary>
    public IReadOnlyList<string> DocumentIds { get; }

    /// <summary>Query token vectors, each 32 × 128.</summary>
    public IReadOnlyList<ReadOnlyMultiVector> Queries { get; }

    /// <summary>Document token vectors, each n × 128.</summary>
    public IReadOnlyList<ReadOnlyMultiVector> Documents { get; }

    /// <summary>For each query id, the ids of its relevant documents (qrels grade above zero).</summary>
    public IReadOnlyDictionary<string, IReadOnlySet<string>> Relevant { get; }

    /// <summary>Whether document <paramref name="document"/> (an index into <see cref="Documents"/>) is relevant to query <paramref name="query"/>.</summary>
    public bool IsRelevant(int query, int document) => Relevant[QueryIds[query]].Contains(DocumentIds[document]);

    private static ColbertNanoFiqa Load()
    {
        Dictionary<string, Dictionary<string, int>> qrels =
            JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, int>>>(File.ReadAllBytes(Path.Combine(Directory, "qrels.json")))
            ?? throw new InvalidDataException("qrels.json: empty document.");

        string[] queryIds = qrels.Keys.Order(StringComparer.Ordinal).ToArray();
        string[] documentIds = qrels.Values.SelectMany(judged => judged.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        FrozenDictionary<string, IReadOnlySet<string>> relevant = qrels.ToFrozenDictionary(
            pair => pair.Key,
            pair => (IReadOnlySet<string>)pair.Value.Where(judged => judged.Value > 0).Select(judged => judged.Key).ToFrozenSet(StringComparer.Ordinal),
            StringComparer.Ordinal);

        ReadOnlyMultiVector[] queries = ReadAll(Path.Combine(Directory, "queries.npz"), queryIds.Length);
        ReadOnlyMultiVector[] documents = ReadAll(Path.Combine(Directory, "documents.npz"), documentIds.Length);
        return new ColbertNanoFiqa(queryIds, documentIds, queries, documents, relevant);
    }

    /// <summary>Reads <c>emb_0..emb_{count-1}</c>, checking that the archive holds exactly that many embedding arrays.</summary>
    private static ReadOnlyMultiVector[] ReadAll(string path, int count)
    {
        using NpzReader reader = NpzReader.Open(path);
        int stored = reader.Names.Count(name => name.StartsWith("emb_", StringComparison.Ordinal));
        if (stored != count)
        {
            throw new InvalidDataException($"{Path.GetFileName(path)}: {stored} embedding arrays, but qrels.json names {count} ids.");
        }

        var vectors = new ReadOnlyMultiVector[count];
        for (int i = 0; i < count; i++)
        {
            NpyArray array = reader.Read($"emb_{i}");
            if (array.Shape.Length != 2 || array.Shape[1] != Dimension)
            {
                throw new InvalidDataException($"{Path.GetFileName(path)}/emb_{i}: shape ({string.Join(", ", array.Shape)}), expected (n, {Dimension}).");
            }

            vectors[i] = new ReadOnlyMultiVector(array.Values, Dimension);
        }

        return vectors;
    }
}
