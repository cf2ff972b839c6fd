// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Text.Json.Serialization;

namespace Muvera.Beir;

/// <summary>How the documents of a run were retrieved (the <c>mode</c> of a results.json run).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunMode>))]
public enum RunMode
{
    /// <summary><c>"exact"</c>: brute-force Chamfer (MaxSim) over every document; the quality ceiling.</summary>
    [JsonStringEnumMemberName("exact")]
    Exact = 0,

    /// <summary><c>"muvera"</c>: FDE candidates from the MIPS index, reranked by exact Chamfer.</summary>
    [JsonStringEnumMemberName("muvera")]
    Muvera = 1,

    /// <summary><c>"fde"</c>: the FDE index's ranking alone (FDE inner products), without reranking.</summary>
    [JsonStringEnumMemberName("fde")]
    Fde = 2,

    /// <summary><c>"pooled"</c>: one mean-pooled vector per text, cosine similarity; the single-vector baseline.</summary>
    [JsonStringEnumMemberName("pooled")]
    Pooled = 3,
}
