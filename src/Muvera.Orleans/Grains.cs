// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Threading.Tasks;
using Orleans;
using Orleans.Concurrency;

namespace Muvera.Orleans;

/// <summary>One shard of a collection; key <c>&lt;collection&gt;/&lt;shard&gt;</c>. Writes are exclusive; reads
/// (<see cref="ReadOnlyAttribute"/>) run concurrently with each other, never with a write.</summary>
[Alias("Muvera.Orleans.IMuveraShardGrain")]
internal interface IMuveraShardGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task<int> AddAsync(ShardDocument[] documents);

    [Alias("Update")]
    Task<bool> UpdateAsync(ShardDocument document);

    [Alias("Delete")]
    Task<int> DeleteAsync(string[] ids);

    [ReadOnly]
    [Alias("GetDocument")]
    Task<ShardDocument?> GetDocumentAsync(string id);

    [ReadOnly]
    [Alias("Count")]
    Task<int> CountAsync();

    [ReadOnly]
    [Alias("GetIds")]
    Task<string[]> GetIdsAsync();

    [ReadOnly]
    [Alias("Search")]
    Task<ShardHit[]> SearchAsync(ShardSearchRequest request);

    [Alias("Checkpoint")]
    Task CheckpointAsync();

    [Alias("Calibrate")]
    Task<MuveraShardCalibration> CalibrateAsync(float[][] queries, int dimension, int k, double targetRecall);

    [ReadOnly]
    [Alias("GetStatistics")]
    Task<MuveraShardStatus> GetStatisticsAsync();
}

/// <summary>A collection's manifest keeper; key: the collection's name.</summary>
[Alias("Muvera.Orleans.IMuveraCollectionGrain")]
internal interface IMuveraCollectionGrain : IGrainWithStringKey
{
    [Alias("Create")]
    Task<MuveraCollectionManifest> CreateAsync(int shardCount, string profile);

    [Alias("Get")]
    Task<MuveraCollectionManifest?> GetAsync();
}
