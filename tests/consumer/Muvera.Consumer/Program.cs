// Copyright (c) Muvera contributors. Licensed under the MIT License.

// Uses the Muvera packages the way an application would: text -> token vectors with the default ONNX model ->
// MuveraIndex (flat, USearch and FAISS backends) -> search, save and load; the FAISS and USearch indexes directly,
// so that their native libraries must load from the packages; and a Microsoft.Extensions.VectorData collection (SQLite's
// native library from its package). Prints one line per check; exit code 0 when all pass.

using Microsoft.Extensions.VectorData;
using Muvera;
using Muvera.Faiss;
using Muvera.Onnx;
using Muvera.USearch;
using Muvera.VectorData;

int failures = 0;
void Check(bool passed, string line)
{
    Console.WriteLine((passed ? "ok: " : "FAILED: ") + line);
    failures += passed ? 0 : 1;
}

string[] ids = ["faiss", "hnsw", "tea", "paris"];
string[] texts =
[
    "FAISS compresses vectors with product quantization and searches inverted lists.",
    "An HNSW graph links every vector to its nearest neighbours on several layers.",
    "Green tea contains catechins and a little caffeine.",
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris.",
];
const string Query = "which city has the iron tower";

// 1. Text to token vectors with the embedded all-MiniLM-L6-v2.
using OnnxTokenEncoder encoder = OnnxTokenEncoder.CreateDefault();
ReadOnlyMultiVector[] documents = encoder.EncodeDocuments(texts);
ReadOnlyMultiVector query = encoder.EncodeQuery(Query);
Check(encoder.Dimension == 384 && documents.Length == 4 && query.Count > 2, $"onnx: {documents.Length} documents of {encoder.Dimension}-d token vectors");

// 2. MuveraIndex on the exact flat backend: FDE candidates, Chamfer rerank.
var options = new MuveraIndexOptions { Fde = FdeOptions.CreateRecommended(encoder.Dimension) };
using (MuveraIndex index = MuveraIndex.Create(options))
{
    index.AddRange(ids, documents);
    MuveraSearchHit[] hits = index.Search(query, 2);
    Check(hits.Length == 2 && hits[0].Id == "paris", $"flat: top hit {hits[0].Id}");

    string directory = Path.Combine(Path.GetTempPath(), "muvera-consumer-" + Guid.NewGuid().ToString("N"));
    try
    {
        index.Save(directory);
        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Check(loaded.Count == 4 && loaded.Search(query, 1)[0].Id == "paris", $"persistence: {loaded.Count} documents reloaded");
    }
    finally
    {
        Directory.Delete(directory, recursive: true);
    }
}

// 3. USearch (HNSW): the native libusearch_c comes from the Cloud.Unum.USearch package.
Check(USearchMipsIndex.IsSupported, "usearch: native library loaded");
using (MuveraIndex index = MuveraIndex.Create(options, new USearchMipsBackend()))
{
    index.AddRange(ids, documents);
    Check(index.Search(query, 1)[0].Id == "paris", $"usearch: MuveraIndex top hit {index.Search(query, 1)[0].Id}");
}

// 4. FAISS: libmuvera_faiss.so comes from runtimes/linux-x64/native of the Muvera.Faiss package.
Check(FaissMipsIndex.IsSupported, $"faiss: native library loaded{(FaissMipsIndex.IsSupported ? "" : " - " + FaissMipsIndex.UnsupportedReason)}");
if (FaissMipsIndex.IsSupported)
{
    const int Dimension = 32, Count = 256, Probe = 17;
    float[] vectors = UnitVectors(Count, Dimension);
    using FaissMipsIndex faiss = FaissMipsIndex.Create(Dimension, "IVF4,Flat");
    faiss.Train(vectors);
    faiss.Add(vectors);
    var results = new ScoredId[5];
    int found = faiss.Search(vectors.AsSpan(Probe * Dimension, Dimension), 5, results, new FaissSearchParameters { Nprobe = 4 });
    Check(faiss.IsTrained && faiss.Count == Count && found == 5 && results[0].Id == Probe,
        $"faiss: IVF4,Flat trained, {faiss.Count} vectors, top hit {results[0].Id}");

    using MuveraIndex index = MuveraIndex.Create(options, new FaissMipsBackend());
    index.AddRange(ids, documents);
    Check(index.Search(query, 1)[0].Id == "paris", $"faiss: MuveraIndex top hit {index.Search(query, 1)[0].Id}");
}

// 5. VectorData: records in SQLite beside a MuveraIndex, text encoded by the ONNX generator, a filtered search.
string storeDirectory = Path.Combine(Path.GetTempPath(), "muvera-consumer-store-" + Guid.NewGuid().ToString("N"));
try
{
    using var generator = new OnnxMultiVectorEmbeddingGenerator(encoder);
    using var store = new MuveraVectorStore(storeDirectory, new MuveraVectorStoreOptions { EmbeddingGenerator = generator });
    using VectorStoreCollection<string, Passage> passages = store.GetCollection<string, Passage>("passages");
    await passages.EnsureCollectionExistsAsync();
    await passages.UpsertAsync(ids.Select((id, i) => new Passage { Id = id, Text = texts[i], Topic = id == "tea" ? "health" : "tech" }));
    var filtered = new List<string>();
    await foreach (VectorSearchResult<Passage> hit in passages.SearchAsync(Query, 2, new VectorSearchOptions<Passage> { Filter = p => p.Topic == "tech" }))
    {
        filtered.Add(hit.Record.Id);
    }

    Check(filtered.Count == 2 && filtered[0] == "paris" && !filtered.Contains("tea"), $"vectordata: filtered top hit {filtered.FirstOrDefault()}");
}
finally
{
    if (Directory.Exists(storeDirectory))
    {
        Directory.Delete(storeDirectory, recursive: true);
    }
}

Console.WriteLine(failures == 0 ? "consumer app: all checks passed" : $"consumer app: {failures} checks failed");
return failures == 0 ? 0 : 1;

// Deterministic unit vectors (a small LCG), so that every vector's best inner product is with itself.
static float[] UnitVectors(int count, int dimension)
{
    var vectors = new float[count * dimension];
    uint state = 12345;
    for (int i = 0; i < vectors.Length; i++)
    {
        state = (state * 1664525) + 1013904223;
        vectors[i] = (state >> 8) / (float)(1 << 24) - 0.5f;
    }

    for (int row = 0; row < count; row++)
    {
        Span<float> vector = vectors.AsSpan(row * dimension, dimension);
        float norm = MathF.Sqrt(System.Numerics.Tensors.TensorPrimitives.Dot(vector, vector));
        System.Numerics.Tensors.TensorPrimitives.Divide(vector, norm, vector);
    }

    return vectors;
}

/// <summary>A VectorData record whose text is encoded into token vectors by the collection's generator.</summary>
public sealed class Passage
{
    [VectorStoreKey]
    public string Id { get; set; } = "";

    [VectorStoreData]
    public string Topic { get; set; } = "";

    [VectorStoreData]
    public string Text { get; set; } = "";

    [VectorStoreVector(384, DistanceFunction = MuveraDistanceFunction.MaxSim)]
    public string Embedding => Text;
}
