// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;

namespace Muvera.Orleans;

/// <summary>
/// One shard: a <see cref="MuveraIndex"/> built with the collection's profile, its checkpoint in
/// <c>&lt;root&gt;/&lt;collection&gt;/shard-NNNN/index</c> (the index's crash-safe save) and its write-ahead log
/// <c>wal.log</c> beside it.
/// </summary>
/// <remarks>
/// <para>Activation: takes the log's exclusive lock (a second activation anywhere fails here, before touching
/// anything), loads the checkpoint (or creates an empty index), and replays the log on top of it. Replay is idempotent
/// (adds and updates are upserts, deletes remove what is there), so a crash between a checkpoint's save and the log's
/// truncation replays records the checkpoint already holds without changing the result.</para>
/// <para>Writes: applied to the index (which validates them and changes nothing when it throws), appended to the log and
/// flushed to disk, and only then acknowledged. When the append fails, the activation drops its in-memory state and
/// deactivates, so nothing unlogged stays visible.</para>
/// </remarks>
internal sealed partial class MuveraShardGrain : Grain, IMuveraShardGrain
{
    internal const string IndexDirectoryName = "index";
    internal const string LogFileName = "wal.log";

    private readonly MuveraSiloOptions _options;
    private readonly ILogger<MuveraShardGrain> _logger;
    private readonly ShardLogRegistry _logs;
    private string _collection = string.Empty;
    private int _shard;
    private int _shardCount;
    private string _directory = string.Empty;
    private MuveraShardProfile? _profile;
    private MuveraIndex? _index;
    private ShardWriteAheadLog? _log;
    private int _replayed;

    public MuveraShardGrain(IOptions<MuveraSiloOptions> options, ILogger<MuveraShardGrain> logger, ShardLogRegistry logs)
    {
        _options = options.Value;
        _logger = logger;
        _logs = logs;
    }

    private string Name => string.Create(CultureInfo.InvariantCulture, $"collection \"{_collection}\" shard {_shard}");

    internal static string Root(MuveraSiloOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.DataRoot))
        {
            throw new InvalidOperationException("MuveraSiloOptions.DataRoot is not set: the silo has no folder for shard data.");
        }

        return Path.GetFullPath(options.DataRoot);
    }

    internal static string Key(string collection, int shard) => string.Create(CultureInfo.InvariantCulture, $"{collection}/{shard}");

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        int slash = key.LastIndexOf('/');
        if (slash <= 0 || !int.TryParse(key.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _shard))
        {
            throw new ArgumentException($"Shard grain key \"{key}\" is not <collection>/<shard>.");
        }

        _collection = key[..slash];
        string root = Root(_options);
        MuveraCollectionManifest manifest = MuveraCollectionManifest.Read(root, _collection)
            ?? throw new InvalidOperationException($"{Name}: the collection has no manifest under '{root}' (create it first; every silo must reach the same data root).");
        if (_shard >= manifest.ShardCount)
        {
            throw new ArgumentException($"{Name}: the collection has {manifest.ShardCount} shards.");
        }

        _shardCount = manifest.ShardCount;
        if (!_options.Profiles.TryGetValue(manifest.Profile, out _profile))
        {
            throw new InvalidOperationException($"{Name}: profile \"{manifest.Profile}\" is not registered on silo {RuntimeIdentity}.");
        }

        _directory = MuveraCollectionManifest.ShardDirectory(root, _collection, _shard);
        Directory.CreateDirectory(_directory);
        try
        {
            _log = ShardWriteAheadLog.Open(Path.Combine(_directory, LogFileName));
            _logs.Add(_log);
        }
        catch (IOException e)
        {
            // An IOException (which crosses to the client as it is; the client reports the shard as unavailable and
            // retries writes).
            throw new IOException($"{Name}: its write-ahead log is locked by another activation (a silo that is not yet declared dead, or a duplicate during a membership change); this activation refuses to start.", e);
        }

        try
        {
            long started = Environment.TickCount64;
            string indexDirectory = Path.Combine(_directory, IndexDirectoryName);
            _index = File.Exists(Path.Combine(indexDirectory, "CURRENT"))
                ? MuveraIndex.Load(indexDirectory, new MuveraLoadOptions { Backends = [_profile.Backend], ExpectedFde = _profile.IndexOptions.Fde })
                : MuveraIndex.Create(_profile.IndexOptions, _profile.Backend);
            List<ShardLogRecord> records = _log.ReadAll(out long torn);
            foreach (ShardLogRecord record in records)
            {
                Replay(_index, record);
            }

            _replayed = records.Count;
            LogActivated(_logger, _collection, _shard, _index.Count, records.Count, torn, Environment.TickCount64 - started);
        }
        catch
        {
            Release();
            throw;
        }

        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Release();
        return Task.CompletedTask;
    }

    public Task<int> AddAsync(ShardDocument[] documents)
    {
        MuveraIndex index = Index;
        var ids = new List<string>(documents.Length);
        var vectors = new List<ReadOnlyMultiVector>(documents.Length);
        var logged = new List<ShardDocument>(documents.Length);
        foreach (ShardDocument document in documents)
        {
            CheckRoute(document.Id);
            if (index.Contains(document.Id))
            {
                // A retried write whose first attempt was applied: the same tokens count as added.
                if (index.GetDocument(document.Id).Span.SequenceEqual(document.Tokens))
                {
                    continue;
                }

                throw new ArgumentException($"{Name}: a document with id \"{document.Id}\" already exists (use UpdateAsync to replace it).", nameof(documents));
            }

            ids.Add(document.Id);
            vectors.Add(document.ToMultiVector());
            logged.Add(document);
        }

        if (ids.Count > 0)
        {
            index.AddRange(ids, vectors);
            Append(new ShardLogRecord(ShardLogOperation.Add, logged));
        }

        return Task.FromResult(documents.Length);
    }

    public Task<bool> UpdateAsync(ShardDocument document)
    {
        MuveraIndex index = Index;
        CheckRoute(document.Id);
        if (!index.Contains(document.Id))
        {
            return Task.FromResult(false);
        }

        index.Update(document.Id, document.ToMultiVector());
        Append(new ShardLogRecord(ShardLogOperation.Update, [document]));
        return Task.FromResult(true);
    }

    public Task<int> DeleteAsync(string[] ids)
    {
        MuveraIndex index = Index;
        var deleted = new List<ShardDocument>(ids.Length);
        foreach (string id in ids)
        {
            CheckRoute(id);
            if (index.Delete(id))
            {
                deleted.Add(new ShardDocument(id, 0, []));
            }
        }

        if (deleted.Count > 0)
        {
            Append(new ShardLogRecord(ShardLogOperation.Delete, deleted));
        }

        return Task.FromResult(deleted.Count);
    }

    public Task<ShardDocument?> GetDocumentAsync(string id)
    {
        MuveraIndex index = Index;
        return Task.FromResult(index.Contains(id) ? ShardDocument.From(id, index.GetDocument(id)) : null);
    }

    public Task<int> CountAsync() => Task.FromResult(Index.Count);

    public Task<string[]> GetIdsAsync() => Task.FromResult(Index.GetIds());

    public Task<ShardHit[]> SearchAsync(ShardSearchRequest request)
    {
        MuveraIndex index = Index;

        // Computed on the call's own turn: the scorer is parallel over documents already, and one more thread hop per
        // shard costs latency on a busy machine. Concurrent searches of one shard take turns; searches of different
        // shards run in parallel.
        var query = new ReadOnlyMultiVector(request.Query, request.Dimension);
        MuveraSearchHit[] hits;

        // With every document a candidate the FDE scan cannot change the result (all are reranked exactly), so it is
        // skipped: the exact search scores the same documents with the same scorer and breaks ties the same way.
        if (request.Exact || (request.AllCandidates && request.Rerank))
        {
            hits = index.SearchExact(query, request.K);
        }
        else
        {
            int? candidates = request.AllCandidates ? Math.Max(request.K, index.Count) : request.Candidates;
            hits = index.Search(query, request.K, new MuveraSearchOptions { Candidates = candidates, Rerank = request.Rerank });
        }

        var result = new ShardHit[hits.Length];
        for (int i = 0; i < hits.Length; i++)
        {
            result[i] = new ShardHit(hits[i].Id, hits[i].Score, hits[i].FdeScore);
        }

        return Task.FromResult(result);
    }

    public Task CheckpointAsync()
    {
        Checkpoint();
        return Task.CompletedTask;
    }

    public Task<MuveraShardCalibration> CalibrateAsync(float[][] queries, int dimension, int k, double targetRecall)
    {
        MuveraIndex index = Index;
        var sample = new ReadOnlyMultiVector[queries.Length];
        for (int i = 0; i < queries.Length; i++)
        {
            sample[i] = new ReadOnlyMultiVector(queries[i], dimension);
        }

        MuveraCalibration calibration = index.Calibrate(sample, k, targetRecall);

        // Calibration is not logged: the checkpoint keeps it across fail-over.
        Checkpoint();
        return Task.FromResult(new MuveraShardCalibration(_shard, calibration.Candidates, calibration.AchievedRecall, calibration.TargetReached));
    }

    public Task<MuveraShardStatus> GetStatisticsAsync()
    {
        MuveraIndex index = Index;
        return Task.FromResult(new MuveraShardStatus(_shard, index.Count, _log?.Length ?? 0, _replayed, index.TokenBytes, index.FdeBytes ?? 0, RuntimeIdentity));
    }

    internal static void Replay(MuveraIndex index, ShardLogRecord record)
    {
        switch (record.Operation)
        {
            case ShardLogOperation.Add:
            case ShardLogOperation.Update:
                var ids = new List<string>(record.Documents.Count);
                var vectors = new List<ReadOnlyMultiVector>(record.Documents.Count);
                foreach (ShardDocument document in record.Documents)
                {
                    if (index.Contains(document.Id))
                    {
                        index.Update(document.Id, document.ToMultiVector());
                    }
                    else
                    {
                        ids.Add(document.Id);
                        vectors.Add(document.ToMultiVector());
                    }
                }

                if (ids.Count > 0)
                {
                    index.AddRange(ids, vectors);
                }

                break;
            case ShardLogOperation.Delete:
                foreach (ShardDocument document in record.Documents)
                {
                    index.Delete(document.Id);
                }

                break;
        }
    }

    private MuveraIndex Index => _index ?? throw new IOException($"{Name}: this activation lost its state after a failed log append and is deactivating; retry.");

    private void CheckRoute(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        int route = MuveraShardRouter.ShardOf(id, _shardCount);
        if (route != _shard)
        {
            throw new ArgumentException($"{Name}: id \"{id}\" routes to shard {route} of {_shardCount}; it was sent to the wrong shard.", nameof(id));
        }
    }

    private void Append(ShardLogRecord record)
    {
        try
        {
            _log!.Append(record);
        }
        catch (Exception e)
        {
            // Unlogged changes are in memory: drop them with this activation; the next one rebuilds from disk.
            LogAppendFailed(_logger, e, _collection, _shard);
            Release();
            DeactivateOnIdle();
            throw new IOException($"{Name}: the write was applied in memory but could not be logged, so it is not acknowledged and was discarded: {e.Message}", e);
        }

        if (_log.Length >= _options.CheckpointLogBytes)
        {
            // The write is durable in the log already: a failed automatic checkpoint must not fail it (the next write
            // tries again, and the log keeps everything meanwhile).
            try
            {
                Checkpoint();
            }
            catch (IOException e)
            {
                LogCheckpointFailed(_logger, e, _collection, _shard);
            }
        }
    }

    private void Checkpoint()
    {
        MuveraIndex index = Index;
        index.Save(Path.Combine(_directory, IndexDirectoryName), new MuveraSaveOptions { LockTimeout = _options.CheckpointLockTimeout });
        _log!.Truncate();
    }

    private void Release()
    {
        _index?.Dispose();
        _index = null;
        if (_log is not null)
        {
            _logs.Remove(_log);
            _log.Dispose();
            _log = null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Muvera shard {Collection}/{Shard} activated: {Documents} documents, {Records} log records replayed, {TornBytes} torn bytes cut, {Milliseconds} ms")]
    private static partial void LogActivated(ILogger logger, string collection, int shard, int documents, int records, long tornBytes, long milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Muvera shard {Collection}/{Shard}: automatic checkpoint failed; the log keeps the writes")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception, string collection, int shard);

    [LoggerMessage(Level = LogLevel.Error, Message = "Muvera shard {Collection}/{Shard}: log append failed; deactivating")]
    private static partial void LogAppendFailed(ILogger logger, Exception exception, string collection, int shard);
}
