// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Microsoft.Extensions.VectorData;
using Muvera.VectorData;

namespace Muvera.Samples.VectorData;

/// <summary>A record as any VectorData connector takes it; only the vector property is Muvera's: its text is encoded
/// into one vector per token (384-d, all-MiniLM-L6-v2) and compared by MaxSim.</summary>
public sealed class Article
{
    [VectorStoreKey]
    public string Id { get; set; } = "";

    [VectorStoreData]
    public string Topic { get; set; } = "";

    [VectorStoreData]
    public int Year { get; set; }

    [VectorStoreData]
    public string Text { get; set; } = "";

    [VectorStoreVector(384, DistanceFunction = MuveraDistanceFunction.MaxSim)]
    public string Embedding => Text;
}
