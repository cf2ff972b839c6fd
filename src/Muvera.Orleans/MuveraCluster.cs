// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Orleans;

namespace Muvera.Orleans;

/// <summary>
/// A client of one sharded collection on an Orleans cluster: documents are routed to shards by
/// <see cref="MuveraShardRouter.ShardOf"/>, searches fan out to every shard in parallel and are merged by Chamfer score.
/// </summary>
/// <remarks>
/// <para>Durability: a write returns once every shard it touched has applied it, appended it to its write-ahead log and
/// flushed the log to disk; an acknowledged write survives the death of any silo. Writes that reach a shard whose silo
/// just died are retried (for up to <see cref="WriteRetryTimeout"/>) until the shard is active on a surviving silo;
/// retries are idempotent (re-adding the same id with the same tokens counts as added).</para>
/// <para>Atomicity: each shard applies its part of a batch atomically; a batch that spans shards may be applied on some
/// and not on others when one fails (the exception names the shards).</para>
/// <para>Searches never return silently incomplete results: a shard that does not answer makes the search throw
/// <see cref="MuveraShardUnavailableException"/> naming it, or, with
/// <see cref="MuveraClusterSearchOptions.AllowPartialResults"/>, return a result flagged as partial.</para>
/// <para>Merge and ties: hits are ordered by score descending, ties by id in ordinal order. A single
/// <see cref="MuveraIndex"/> breaks ties by insertion order, which is the same order when ids were added in ordinal
/// order; with <see cref="MuveraClusterSearchOptions.AllCandidates"/> the top k equal such an index's exact top k.</para>
/// <para>Thread safety: all members may be called concurrently.</para>
/// </remarks>
public sealed class MuveraCluster
{
    // Per-call batches are cut at about this many floats (8 MiB), well below Orleans' message size limit.
    private const int MaxFloatsPerCall = 2 << 20;

    private readonly IGrainFactory _grains;
    private readonly IMuveraShardGrain[] _shards;

    private MuveraCluster(IGrainFactory grains, MuveraCollectionManifest manifest)
    {
        _grains = grains;
        Manifest = manifest;
        _shards = new IMuveraShardGrain[manifest.ShardCount];
        for (int i = 0; i < _shards.Length; i++)
        {
            _shards[i] = grains.GetGrain<IMuveraShardGrain>(MuveraShardGrain.Key(manifest.Name, i));
        }
    }

    /// <summary>The collection's manifest (name, shard count, profile, dimension).</summary>
    public MuveraCollectionManifest Manifest { get; }

    /// <summary>The collection's name.</summary>
    public string Collection => Manifest.Name;

    /// <summary>The number of shards.</summary>
    public int ShardCount => Manifest.ShardCount;

    /// <summary>The token dimension.</summary>
    public int Dimension => Manifest.Dimension;

    /// <summary>How long a write, or a read other than a search (<see cref="CountAsync"/>, <see cref="GetIdsAsync"/>,
    /// <see cref="GetDocumentAsync"/>, <see cref="GetShardStatusAsync"/>), keeps retrying a shard that does not answer
    /// (its silo died and it is not active elsewhere yet) before throwing <see cref="MuveraShardUnavailableException"/>.
    /// Searches never retry. Default 60 s.</summary>
    public TimeSpan WriteRetryTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Creates a collection (or opens it when it exists with the same shard count and profile) and returns its
    /// client.</summary>
    /// <param name="grains">The cluster's grain factory (an <c>IClusterClient</c> or a silo's factory).</param>
    /// <param name="collection">1 to 64 ASCII letters, digits, '-' or '_'.</param>
    /// <param name="shardCount">The fixed number of shards (1 to <see cref="MuveraCollectionManifest.MaxShards"/>); a
    /// few per silo core lets shards spread evenly when silos come and go.</param>
    /// <param name="profile">The name of a <see cref="MuveraShardProfile"/> registered on every silo.</param>
    /// <param name="cancellationToken">Cancels the wait (the creation may still complete).</param>
    /// <returns>The client.</returns>
    /// <exception cref="ArgumentException">A bad name or shard count, an unknown profile, or a collection of this name
    /// with another shard count or profile.</exception>
    public static async Task<MuveraCluster> CreateCollectionAsync(IGrainFactory grains, string collection, int shardCount,
        string profile = MuveraSiloOptions.DefaultProfile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(grains);
        MuveraCollectionManifest.ValidateName(collection, nameof(collection));
        ArgumentNullException.ThrowIfNull(profile);
        if (shardCount is < 1 or > MuveraCollectionManifest.MaxShards)
        {
            throw new ArgumentOutOfRangeException(nameof(shardCount), shardCount,
                $"shardCount must be in [1, {MuveraCollectionManifest.MaxShards}]; got {shardCount}.");
        }

        MuveraCollectionManifest manifest = await grains.GetGrain<IMuveraCollectionGrain>(collection)
            .CreateAsync(shardCount, profile).WaitAsync(cancellationToken).ConfigureAwait(false);
        return new MuveraCluster(grains, manifest);
    }

    /// <summary>Opens an existing collection.</summary>
    /// <param name="grains">The cluster's grain factory.</param>
    /// <param name="collection">The collection's name.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The client.</returns>
    /// <exception cref="KeyNotFoundException">No collection has this name.</exception>
    public static async Task<MuveraCluster> OpenAsync(IGrainFactory grains, string collection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(grains);
        MuveraCollectionManifest.ValidateName(collection, nameof(collection));
        MuveraCollectionManifest manifest = await grains.GetGrain<IMuveraCollectionGrain>(collection).GetAsync()
            .WaitAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"Collection \"{collection}\" does not exist on this cluster.");
        return new MuveraCluster(grains, manifest);
    }

    /// <summary>Adds one document (see <see cref="AddRangeAsync"/>).</summary>
    /// <param name="id">A new id.</param>
    /// <param name="document">Its token vectors.</param>
    /// <param name="cancellationToken">Stops retrying (a write already sent may still be applied).</param>
    /// <returns>A task that completes when the write is durable.</returns>
    public Task AddAsync(string id, ReadOnlyMultiVector document, CancellationToken cancellationToken = default) =>
        AddRangeAsync([id], [document], cancellationToken);

    /// <summary>Adds documents: each shard's part is sent in one or more calls, all shards in parallel; the task
    /// completes when every part is applied and logged to disk.</summary>
    /// <param name="ids">New, distinct ids.</param>
    /// <param name="documents">Their token vectors, of <see cref="Dimension"/>.</param>
    /// <param name="cancellationToken">Stops retrying (a write already sent may still be applied).</param>
    /// <returns>A task that completes when the writes are durable.</returns>
    /// <exception cref="ArgumentException">The lists differ in length, an id repeats or already exists with other
    /// tokens, a document is empty or of the wrong dimension, or a value is not finite.</exception>
    /// <exception cref="MuveraShardUnavailableException">A shard did not answer within <see cref="WriteRetryTimeout"/>.</exception>
    public async Task AddRangeAsync(IReadOnlyList<string> ids, IReadOnlyList<ReadOnlyMultiVector> documents, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(documents);
        if (ids.Count != documents.Count)
        {
            throw new ArgumentException($"ids has {ids.Count} entries and documents {documents.Count}; they must match.", nameof(documents));
        }

        var seen = new HashSet<string>(ids.Count, StringComparer.Ordinal);
        var parts = new List<ShardDocument>[ShardCount];
        for (int i = 0; i < ids.Count; i++)
        {
            string id = ids[i] ?? throw new ArgumentException($"ids[{i}] is null.", nameof(ids));
            if (!seen.Add(id))
            {
                throw new ArgumentException($"Id \"{id}\" appears more than once in ids.", nameof(ids));
            }

            ValidateVector(documents[i], $"documents[{i}] (id \"{id}\")");
            (parts[MuveraShardRouter.ShardOf(id, ShardCount)] ??= []).Add(ShardDocument.From(id, documents[i]));
        }

        var calls = new List<Task>();
        for (int shard = 0; shard < parts.Length; shard++)
        {
            if (parts[shard] is { } part)
            {
                calls.Add(SendBatchesAsync(shard, part, cancellationToken));
            }
        }

        await Task.WhenAll(calls).ConfigureAwait(false);
    }

    /// <summary>Replaces a document's tokens.</summary>
    /// <param name="id">The id.</param>
    /// <param name="document">The new token vectors.</param>
    /// <param name="cancellationToken">Stops retrying.</param>
    /// <returns>True when the document existed and was replaced (durably); false when no document has this id.</returns>
    /// <exception cref="ArgumentException">An empty document, a wrong dimension or a value that is not finite.</exception>
    /// <exception cref="MuveraShardUnavailableException">The shard did not answer within <see cref="WriteRetryTimeout"/>.</exception>
    public Task<bool> UpdateAsync(string id, ReadOnlyMultiVector document, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ValidateVector(document, nameof(document));
        ShardDocument message = ShardDocument.From(id, document);
        return WriteAsync(MuveraShardRouter.ShardOf(id, ShardCount), shard => shard.UpdateAsync(message), cancellationToken);
    }

    /// <summary>Deletes a document.</summary>
    /// <param name="id">The id.</param>
    /// <param name="cancellationToken">Stops retrying.</param>
    /// <returns>True when a document was deleted (durably); false when none had this id (also when a retried delete
    /// had already been applied).</returns>
    /// <exception cref="MuveraShardUnavailableException">The shard did not answer within <see cref="WriteRetryTimeout"/>.</exception>
    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        int deleted = await WriteAsync(MuveraShardRouter.ShardOf(id, ShardCount), shard => shard.DeleteAsync([id]), cancellationToken).ConfigureAwait(false);
        return deleted > 0;
    }

    /// <summary>A document's token vectors as its shard stores them.</summary>
    /// <param name="id">The id.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The tokens, or null when no document has this id.</returns>
    /// <exception cref="MuveraShardUnavailableException">The shard did not answer.</exception>
    public async Task<ReadOnlyMultiVector?> GetDocumentAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        int shard = MuveraShardRouter.ShardOf(id, ShardCount);
        ShardDocument? document = await ReadAsync(shard, grain => grain.GetDocumentAsync(id), cancellationToken).ConfigureAwait(false);
        return document?.ToMultiVector();
    }

    /// <summary>The number of live documents over all shards.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The count.</returns>
    /// <exception cref="MuveraShardUnavailableException">A shard did not answer.</exception>
    public async Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        int[] counts = await AllShardsAsync(grain => grain.CountAsync(), cancellationToken).ConfigureAwait(false);
        long total = 0;
        foreach (int count in counts)
        {
            total += count;
        }

        return total;
    }

    /// <summary>Every live document id, shard by shard (O(documents) memory and traffic: for checks and exports).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The ids.</returns>
    /// <exception cref="MuveraShardUnavailableException">A shard did not answer.</exception>
    public async Task<IReadOnlyList<string>> GetIdsAsync(CancellationToken cancellationToken = default)
    {
        string[][] parts = await AllShardsAsync(grain => grain.GetIdsAsync(), cancellationToken).ConfigureAwait(false);
        var ids = new List<string>();
        foreach (string[] part in parts)
        {
            ids.AddRange(part);
        }

        return ids;
    }

    /// <summary>MUVERA search over every shard in parallel: each shard returns its top k (FDE candidates reranked with
    /// exact Chamfer), and the hits are merged by score.</summary>
    /// <param name="query">The query's token vectors, of <see cref="Dimension"/>.</param>
    /// <param name="k">How many hits (positive).</param>
    /// <param name="options">Candidates per shard, reranking, partial results; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Up to k hits, best first (score descending, ties by id in ordinal order).</returns>
    /// <exception cref="ArgumentException">An empty query, a wrong dimension or a value that is not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive, or
    /// <see cref="MuveraClusterSearchOptions.Candidates"/> is smaller than k.</exception>
    /// <exception cref="MuveraShardUnavailableException">A shard did not answer and partial results are not allowed.</exception>
    public Task<MuveraClusterSearchResult> SearchAsync(ReadOnlyMultiVector query, int k, MuveraClusterSearchOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= MuveraClusterSearchOptions.Default;
        if (!options.AllCandidates && options.Candidates is int candidates && candidates < k)
        {
            throw new ArgumentOutOfRangeException("options.Candidates", candidates,
                $"Candidates ({candidates}) must be at least k ({k}): reranking cannot return more hits than it has candidates.");
        }

        return FanOutAsync(query, k, options, exact: false, cancellationToken);
    }

    /// <summary>Exact search: brute-force Chamfer on every shard, merged (the reference that
    /// <see cref="SearchAsync"/> approximates).</summary>
    /// <param name="query">The query's token vectors, of <see cref="Dimension"/>.</param>
    /// <param name="k">How many hits (positive).</param>
    /// <param name="options">Only <see cref="MuveraClusterSearchOptions.AllowPartialResults"/> applies; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Up to k hits, best first (score descending, ties by id in ordinal order).</returns>
    /// <exception cref="ArgumentException">An empty query, a wrong dimension or a value that is not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="MuveraShardUnavailableException">A shard did not answer and partial results are not allowed.</exception>
    public Task<MuveraClusterSearchResult> SearchExactAsync(ReadOnlyMultiVector query, int k, MuveraClusterSearchOptions? options = null,
        CancellationToken cancellationToken = default) =>
        FanOutAsync(query, k, options ?? MuveraClusterSearchOptions.Default, exact: true, cancellationToken);

    /// <summary>Checkpoints every shard: saves its index (the index's crash-safe save, into the shard's <c>index</c>
    /// folder) and truncates its write-ahead log, so that reactivation replays nothing.</summary>
    /// <param name="cancellationToken">Stops retrying.</param>
    /// <returns>A task that completes when every shard has checkpointed.</returns>
    /// <exception cref="MuveraShardUnavailableException">A shard did not answer within <see cref="WriteRetryTimeout"/>.</exception>
    public async Task CheckpointAsync(CancellationToken cancellationToken = default)
    {
        var calls = new Task<bool>[ShardCount];
        for (int shard = 0; shard < calls.Length; shard++)
        {
            calls[shard] = WriteAsync(shard, async grain =>
            {
                await grain.CheckpointAsync().ConfigureAwait(false);
                return true;
            }, cancellationToken);
        }

        await Task.WhenAll(calls).ConfigureAwait(false);
    }

    /// <summary>Calibrates every shard's N for a target recall (<see cref="MuveraIndex.Calibrate(System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector}, int, double)"/> on each shard's
    /// documents) and checkpoints it, so searches without <see cref="MuveraClusterSearchOptions.Candidates"/> use it,
    /// also after fail-over.</summary>
    /// <param name="sampleQueries">Queries like the ones the collection will serve.</param>
    /// <param name="k">The k the recall is measured at (positive).</param>
    /// <param name="targetRecall">The target, in (0, 1].</param>
    /// <param name="cancellationToken">Stops retrying.</param>
    /// <returns>One calibration per shard, in shard order.</returns>
    /// <exception cref="ArgumentException">No sample queries, or a query is empty or of the wrong dimension.</exception>
    /// <exception cref="InvalidOperationException">A shard has no documents.</exception>
    public async Task<IReadOnlyList<MuveraShardCalibration>> CalibrateAsync(IReadOnlyList<ReadOnlyMultiVector> sampleQueries, int k, double targetRecall,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sampleQueries);
        if (sampleQueries.Count == 0)
        {
            throw new ArgumentException("sampleQueries is empty.", nameof(sampleQueries));
        }

        var queries = new float[sampleQueries.Count][];
        for (int i = 0; i < queries.Length; i++)
        {
            ValidateVector(sampleQueries[i], $"sampleQueries[{i}]");
            queries[i] = sampleQueries[i].Span.ToArray();
        }

        var calls = new Task<MuveraShardCalibration>[ShardCount];
        for (int shard = 0; shard < calls.Length; shard++)
        {
            calls[shard] = WriteAsync(shard, grain => grain.CalibrateAsync(queries, Dimension, k, targetRecall), cancellationToken);
        }

        return await Task.WhenAll(calls).ConfigureAwait(false);
    }

    /// <summary>Every shard's figures and hosting silo (activating shards that are not active).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>One status per shard, in shard order.</returns>
    /// <exception cref="MuveraShardUnavailableException">A shard did not answer.</exception>
    public async Task<IReadOnlyList<MuveraShardStatus>> GetShardStatusAsync(CancellationToken cancellationToken = default) =>
        await AllShardsAsync(grain => grain.GetStatisticsAsync(), cancellationToken).ConfigureAwait(false);

    internal Task<MuveraShardStatus> GetStatisticsAsync(int shard) => _shards[shard].GetStatisticsAsync();

    internal IMuveraShardGrain Shard(int shard) => _shards[shard];

    /// <summary>Merges shard results: score descending, ties by id in ordinal order, first k.</summary>
    internal static MuveraSearchHit[] Merge(IEnumerable<ShardHit[]> parts, int k)
    {
        var all = new List<ShardHit>();
        foreach (ShardHit[] part in parts)
        {
            all.AddRange(part);
        }

        all.Sort(static (a, b) =>
        {
            int byScore = b.Score.CompareTo(a.Score);
            return byScore != 0 ? byScore : string.CompareOrdinal(a.Id, b.Id);
        });
        int count = Math.Min(k, all.Count);
        var hits = new MuveraSearchHit[count];
        for (int i = 0; i < count; i++)
        {
            hits[i] = new MuveraSearchHit(all[i].Id, all[i].Score, all[i].FdeScore);
        }

        return hits;
    }

    private async Task<MuveraClusterSearchResult> FanOutAsync(ReadOnlyMultiVector query, int k, MuveraClusterSearchOptions options, bool exact,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ValidateVector(query, nameof(query));
        var request = new ShardSearchRequest(query.Span.ToArray(), query.Dimension, k, options.Candidates, options.AllCandidates, options.Rerank, exact);
        var calls = new Task<ShardHit[]>[ShardCount];
        for (int shard = 0; shard < calls.Length; shard++)
        {
            calls[shard] = _shards[shard].SearchAsync(request);
        }

        try
        {
            await Task.WhenAll(calls).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Sorted out below, shard by shard.
        }

        var missing = new List<int>();
        var parts = new List<ShardHit[]>(calls.Length);
        Exception? first = null;
        for (int shard = 0; shard < calls.Length; shard++)
        {
            Task<ShardHit[]> call = calls[shard];
            if (call.IsCompletedSuccessfully)
            {
                parts.Add(call.Result);
                continue;
            }

            Exception error = call.Exception?.InnerException ?? (Exception?)call.Exception ?? new TaskCanceledException();
            if (IsPermanent(error))
            {
                throw error;
            }

            first ??= error;
            missing.Add(shard);
        }

        if (missing.Count > 0 && !options.AllowPartialResults)
        {
            throw new MuveraShardUnavailableException(Collection, missing, first);
        }

        return new MuveraClusterSearchResult(Merge(parts, k), missing);
    }

    private async Task SendBatchesAsync(int shard, List<ShardDocument> documents, CancellationToken cancellationToken)
    {
        int start = 0;
        while (start < documents.Count)
        {
            int end = start;
            long floats = 0;
            while (end < documents.Count && (end == start || floats + documents[end].Tokens.Length <= MaxFloatsPerCall))
            {
                floats += documents[end].Tokens.Length;
                end++;
            }

            ShardDocument[] batch = documents.GetRange(start, end - start).ToArray();
            await WriteAsync(shard, grain => grain.AddAsync(batch), cancellationToken).ConfigureAwait(false);
            start = end;
        }
    }

    private async Task<T[]> AllShardsAsync<T>(Func<IMuveraShardGrain, Task<T>> call, CancellationToken cancellationToken)
    {
        var calls = new Task<T>[ShardCount];
        for (int shard = 0; shard < calls.Length; shard++)
        {
            calls[shard] = ReadAsync(shard, call, cancellationToken);
        }

        return await Task.WhenAll(calls).ConfigureAwait(false);
    }

    // Reads other than searches are idempotent and retried like writes (a search fails at once instead, or returns a
    // result flagged as partial: its caller decides).
    private Task<T> ReadAsync<T>(int shard, Func<IMuveraShardGrain, Task<T>> call, CancellationToken cancellationToken) =>
        WriteAsync(shard, call, cancellationToken);

    // Retries a shard that does not answer until WriteRetryTimeout: after its silo dies, the membership protocol declares
    // the silo dead and the next call activates the shard on a survivor, which replays its checkpoint and log.
    private async Task<T> WriteAsync<T>(int shard, Func<IMuveraShardGrain, Task<T>> call, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)WriteRetryTimeout.TotalMilliseconds;
        int delay = 100;
        while (true)
        {
            try
            {
                return await call(_shards[shard]).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!IsPermanent(e) && !cancellationToken.IsCancellationRequested)
            {
                if (Environment.TickCount64 >= deadline)
                {
                    throw new MuveraShardUnavailableException(Collection, [shard], e);
                }

                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = Math.Min(delay * 2, 1000);
            }
        }
    }

    // Caller errors and bad data: retrying cannot help. Everything else (a dead silo, a timeout, a shard whose log is still
    // locked by a dying activation) may pass.
    private static bool IsPermanent(Exception e) => e is ArgumentException or KeyNotFoundException or InvalidDataException
        or NotSupportedException || (e is InvalidOperationException && e is not ObjectDisposedException);

    private void ValidateVector(ReadOnlyMultiVector vector, string name)
    {
        if (vector.Dimension != Dimension || vector.Count == 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{name} has {vector.Count} tokens of dimension {vector.Dimension}; collection \"{Collection}\" needs at least one token of dimension {Dimension}."), name);
        }
    }
}
