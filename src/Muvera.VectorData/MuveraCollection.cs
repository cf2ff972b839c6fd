// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Muvera.Indexing;

namespace Muvera.VectorData;

/// <summary>
/// A Microsoft.Extensions.VectorData collection of records with one multi-vector property, searched by Chamfer
/// (MaxSim) similarity through MUVERA: the vectors live in a <see cref="MuveraIndex"/> and the key and data properties
/// in an embedded SQLite database beside it, in the folder <c>&lt;store directory&gt;/&lt;name&gt;/</c>
/// (<c>index/</c>, <c>records.db</c>, <c>LOCK</c>).
/// </summary>
/// <typeparam name="TKey">The key type: <see cref="string"/>, <see cref="Guid"/>, <see cref="int"/> or
/// <see cref="long"/>. Keys map to index ids as the string itself, the Guid in "D" format (lower case), or the integer
/// in invariant decimal.</typeparam>
/// <typeparam name="TRecord">The record class: a public parameterless constructor; a key property
/// (<see cref="VectorStoreKeyAttribute"/>); data properties (<see cref="VectorStoreDataAttribute"/>) of type string,
/// bool, an integer type up to long, float, double, DateTime, DateTimeOffset or Guid (nullable or not); and one vector
/// property (<see cref="VectorStoreVectorAttribute"/> with the token dimension) of type
/// <see cref="MultiVectorEmbedding"/>, or string when an <c>IEmbeddingGenerator&lt;string, MultiVectorEmbedding&gt;</c>
/// is configured. A <see cref="VectorStoreCollectionDefinition"/>, when given, replaces the attributes.</typeparam>
/// <remarks>
/// <para>Writes (<see cref="UpsertAsync(IEnumerable{TRecord}, CancellationToken)"/>,
/// <see cref="DeleteAsync(IEnumerable{TKey}, CancellationToken)"/>) are atomic per batch and crash-safe: the batch's
/// rows are written to a pending table and committed, the index is saved (its commit point), and the rows are moved into
/// the records table; opening the collection reconciles a write interrupted between the steps, so the collection is
/// either as before or as after the whole batch. A batch whose keys repeat keeps the last record of each key. Text vector
/// properties are encoded before anything is written; cancellation is observed until the write starts.</para>
/// <para>Cost of a write: the whole index is saved after every batch (its token vectors and FDEs are rewritten: time
/// and disk traffic proportional to the collection's size, not the batch's), so upsert in batches; a search waits
/// while a write commits. Searches, gets and other reads run concurrently with each other.</para>
/// <para>Filters (<see cref="VectorSearchOptions{TRecord}.Filter"/> and the filter of
/// <see cref="GetAsync(Expression{Func{TRecord, bool}}, int, FilteredRecordRetrievalOptions{TRecord}, CancellationToken)"/>)
/// are translated to parameterised SQL over the key and data properties: ==, != (null included), &lt;, &lt;=, &gt;, &gt;=
/// on numbers, DateTime and DateTimeOffset, &amp;&amp;, ||, !, a bool property alone, <c>list.Contains(r.Property)</c> with a
/// captured collection, and <c>r.Text.Contains("…")</c> (ordinal); anything else throws
/// <see cref="NotSupportedException"/> naming the expression. A search runs the SQL for the matching keys and gives them
/// to the index as a <see cref="MuveraFilter"/>: when at most N (<see cref="MuveraCollectionOptions.SearchCandidates"/>)
/// records match, they are all reranked, which is exact.</para>
/// <para>Stored values: DateTime is stored as its ticks and read back with <see cref="DateTimeKind.Unspecified"/>;
/// DateTimeOffset as its UTC ticks, read back at offset zero (the same instant, equal by ==); vectors as the index
/// stores them (float16-rounded or normalised when its options say so). <c>IncludeVectors</c> with a text vector
/// property is not supported (the text is not stored).</para>
/// <para>One process at a time opens a collection (an operating-system lock on <c>LOCK</c>); within a process, every
/// collection object for the same folder shares one open index. Dispose the collection (or the store's collections) to
/// release it.</para>
/// </remarks>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix",
    Justification = "The VectorData abstraction names its type VectorStoreCollection; connectors name theirs <Name>Collection.")]
public sealed class MuveraCollection<TKey, TRecord> : VectorStoreCollection<TKey, TRecord>
    where TKey : notnull
    where TRecord : class
{
    private const string SystemName = "muvera";

    private readonly RecordModel<TKey, TRecord> _model;
    private readonly CollectionSchema _schema;
    private readonly string[] _columns;
    private readonly int? _candidates;
    private readonly CollectionStore _store;
    private readonly VectorStoreCollectionMetadata _metadata;
    private bool _schemaChecked;
    private int _disposed;

    /// <summary>A collection named <paramref name="name"/> in the store folder <paramref name="directory"/> (nothing is
    /// read or written until the first operation).</summary>
    /// <param name="directory">The store's folder; the collection lives in its subfolder <paramref name="name"/>.</param>
    /// <param name="name">The collection name: 1 to 128 characters among letters, digits, '_', '-' and '.', not
    /// starting with '.'.</param>
    /// <param name="options">Definition, embedding generator, index options; null for the defaults.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty, <paramref name="name"/> is not
    /// a valid collection name, or the record type is invalid (the message names the property).</exception>
    /// <exception cref="NotSupportedException">The key type, a property type, the distance function or the index kind
    /// is not supported (the message names it).</exception>
    /// <exception cref="InvalidOperationException">The vector property is text and no suitable embedding generator is
    /// configured.</exception>
    public MuveraCollection(string directory, string name, MuveraCollectionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ValidateName(name);
        options ??= new MuveraCollectionOptions();
        _model = RecordModel<TKey, TRecord>.Build(name, options.Definition, options.EmbeddingGenerator);
        int dimension = _model.Vector.Dimensions;
        MuveraIndexOptions indexOptions = options.IndexOptions?.Invoke(dimension)
            ?? new MuveraIndexOptions { Fde = FdeOptions.CreateRecommended(dimension) };
        if (indexOptions.Fde.Dimension != dimension)
        {
            throw new ArgumentException(
                $"Collection '{name}': the index options have token dimension {indexOptions.Fde.Dimension}, but vector property {_model.Vector.Property.Name} has {dimension}.", nameof(options));
        }

        if (options.SearchCandidates is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.SearchCandidates, $"SearchCandidates must be positive; got {options.SearchCandidates}.");
        }

        MipsBackend backend = options.Backend ?? new FlatMipsBackend();
        Name = name;
        _candidates = options.SearchCandidates;
        _columns = [.. _model.Data.Select(p => p.Column)];
        _schema = new CollectionSchema(RecordModel<TKey, TRecord>.KeyKind, _model.Key.SqlType, dimension, [.. _model.Data.Select(p => (p.Column, p.SqlType))], indexOptions, backend);
        Directory = Path.GetFullPath(Path.Combine(directory, name));
        _metadata = new VectorStoreCollectionMetadata { VectorStoreSystemName = SystemName, VectorStoreName = Path.GetFullPath(directory), CollectionName = name };
        _store = CollectionStore.Acquire(Directory);
    }

    /// <inheritdoc />
    public override string Name { get; }

    /// <summary>The collection's folder (<c>index/</c>, <c>records.db</c>, <c>LOCK</c>).</summary>
    public string Directory { get; }

    /// <inheritdoc />
    public override Task<bool> CollectionExistsAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Run("CollectionExists", _store.Exists));
    }

    /// <summary>Creates the collection (its folder, an empty index, the records database) unless it exists; an existing
    /// one is opened, its schema checked (key type, dimension) and missing data columns added.</summary>
    /// <param name="cancellationToken">Checked before anything is done.</param>
    /// <returns>A task that completes when the collection exists.</returns>
    /// <exception cref="VectorStoreException">The folder cannot be created or opened (for example, another process has
    /// it open), or the existing collection has another key type or dimension.</exception>
    public override Task EnsureCollectionExistsAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Run("EnsureCollectionExists", () =>
        {
            _store.Lock.EnterWriteLock();
            try
            {
                _store.CreateUnderWriteLock(_schema);
                _schemaChecked = true;
            }
            finally
            {
                _store.Lock.ExitWriteLock();
            }

            return true;
        });
        return Task.CompletedTask;
    }

    /// <summary>Deletes the collection's folder (index and records) if it exists. Other collection objects of this
    /// process for the same folder see a collection that does not exist.</summary>
    /// <param name="cancellationToken">Checked before anything is done.</param>
    /// <returns>A task that completes when the collection is gone.</returns>
    public override Task EnsureCollectionDeletedAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Run("EnsureCollectionDeleted", () =>
        {
            _store.Lock.EnterWriteLock();
            try
            {
                _store.DeleteUnderWriteLock();
                _schemaChecked = false;
            }
            finally
            {
                _store.Lock.ExitWriteLock();
            }

            return true;
        });
        return Task.CompletedTask;
    }

    /// <summary>Gets a record by key, or null when there is none.</summary>
    /// <param name="key">The key.</param>
    /// <param name="options">With <see cref="RecordRetrievalOptions.IncludeVectors"/>, the vector property is filled
    /// from the index.</param>
    /// <param name="cancellationToken">Checked before the read.</param>
    /// <returns>The record, or null.</returns>
    /// <exception cref="ArgumentException">The key is invalid (null, or an empty string).</exception>
    /// <exception cref="NotSupportedException">Vectors are asked for while the vector property is text.</exception>
    /// <exception cref="VectorStoreException">The collection does not exist or cannot be read.</exception>
    public override Task<TRecord?> GetAsync(TKey key, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
    {
        string id = IdOf(key, nameof(key));
        bool includeVectors = CheckIncludeVectors(options?.IncludeVectors ?? false);
        cancellationToken.ThrowIfCancellationRequested();
        List<TRecord> found = Run("Get", () => Read(() => ReadRecords([id], includeVectors)));
        return Task.FromResult(found.Count > 0 ? found[0] : null);
    }

    /// <summary>Gets the records of these keys that exist, in one read (missing keys are skipped).</summary>
    /// <param name="keys">The keys.</param>
    /// <param name="options">With <see cref="RecordRetrievalOptions.IncludeVectors"/>, vector properties are filled.</param>
    /// <param name="cancellationToken">Checked before the read.</param>
    /// <returns>The found records, in the order of <paramref name="keys"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="keys"/> is null.</exception>
    /// <exception cref="ArgumentException">A key is invalid.</exception>
    public override IAsyncEnumerable<TRecord> GetAsync(IEnumerable<TKey> keys, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        string[] ids = [.. keys.Select(k => IdOf(k, nameof(keys)))];
        bool includeVectors = CheckIncludeVectors(options?.IncludeVectors ?? false);
        return Yield(() =>
        {
            List<TRecord> found = Read(() => ReadRecords(ids, includeVectors));
            Dictionary<string, TRecord> byId = found.ToDictionary(r => RecordModel<TKey, TRecord>.IdOf((TKey)_model.Key.Property.GetValue(r)!), StringComparer.Ordinal);
            var ordered = new List<TRecord>(found.Count);
            foreach (string id in ids.Distinct(StringComparer.Ordinal))
            {
                if (byId.TryGetValue(id, out TRecord? record))
                {
                    ordered.Add(record);
                }
            }

            return ordered;
        }, "Get", cancellationToken);
    }

    /// <summary>Gets up to <paramref name="top"/> records matching <paramref name="filter"/>, translated to SQL (see the
    /// remarks of the class), in <see cref="FilteredRecordRetrievalOptions{TRecord}.OrderBy"/> order (then insertion
    /// order), after <see cref="FilteredRecordRetrievalOptions{TRecord}.Skip"/> records.</summary>
    /// <param name="filter">The filter.</param>
    /// <param name="top">How many records at most (positive).</param>
    /// <param name="options">Skip, order and vectors.</param>
    /// <param name="cancellationToken">Checked before the read.</param>
    /// <returns>The records.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="filter"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="top"/> is not positive.</exception>
    /// <exception cref="NotSupportedException">The filter or an order-by selector cannot be translated (thrown when
    /// called, naming the expression).</exception>
    public override IAsyncEnumerable<TRecord> GetAsync(Expression<Func<TRecord, bool>> filter, int top,
        FilteredRecordRetrievalOptions<TRecord>? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(top);
        options ??= new FilteredRecordRetrievalOptions<TRecord>();
        SqlFilter where = SqlFilterTranslator.Translate(filter, _model.ByPropertyName);
        bool includeVectors = CheckIncludeVectors(options.IncludeVectors);
        string orderBy = OrderBy(options);
        int skip = options.Skip;
        return Yield(() => Read(() =>
        {
            string sql = $"{SelectColumns()} WHERE {where.Sql} ORDER BY {orderBy}rowid LIMIT {top.ToString(CultureInfo.InvariantCulture)} OFFSET {skip.ToString(CultureInfo.InvariantCulture)};";
            return QueryRecords(sql, where.Parameters, includeVectors);
        }), "Get", cancellationToken);
    }

    /// <summary>Deletes a record; a missing key is not an error.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Checked before the write starts.</param>
    /// <returns>A task that completes when the deletion is saved.</returns>
    /// <exception cref="ArgumentException">The key is invalid.</exception>
    public override Task DeleteAsync(TKey key, CancellationToken cancellationToken = default) => DeleteAsync([key], cancellationToken);

    /// <summary>Deletes records in one atomic, crash-safe write (see the remarks of the class); missing keys are
    /// skipped.</summary>
    /// <param name="keys">The keys.</param>
    /// <param name="cancellationToken">Checked before the write starts.</param>
    /// <returns>A task that completes when the deletions are saved.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="keys"/> is null.</exception>
    /// <exception cref="ArgumentException">A key is invalid.</exception>
    /// <exception cref="VectorStoreException">The collection does not exist or the write failed (nothing was
    /// deleted).</exception>
    public override Task DeleteAsync(IEnumerable<TKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var writes = new Dictionary<string, RecordWrite>(StringComparer.Ordinal);
        foreach (TKey key in keys)
        {
            string id = IdOf(key, nameof(keys));
            writes[id] = new RecordWrite(id, StoredKey(key), IsDelete: true, default, []);
        }

        cancellationToken.ThrowIfCancellationRequested();
        Write([.. writes.Values], "Delete");
        return Task.CompletedTask;
    }

    /// <summary>Inserts or replaces a record (see <see cref="UpsertAsync(IEnumerable{TRecord}, CancellationToken)"/>).</summary>
    /// <param name="record">The record.</param>
    /// <param name="cancellationToken">Cancels the embedding generation; checked before the write starts.</param>
    /// <returns>A task that completes when the record is saved.</returns>
    public override Task UpsertAsync(TRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        return UpsertAsync([record], cancellationToken);
    }

    /// <summary>Inserts or replaces records in one atomic, crash-safe write: text vector properties are encoded first
    /// (as documents), then the batch is committed (see the remarks of the class). An empty Guid key of an
    /// auto-generated key property is replaced by a new <see cref="Guid.CreateVersion7()"/> and set on the record.</summary>
    /// <param name="records">The records (when keys repeat, the last record of a key wins).</param>
    /// <param name="cancellationToken">Cancels the embedding generation; checked before the write starts.</param>
    /// <returns>A task that completes when the records are saved.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="records"/> is null.</exception>
    /// <exception cref="ArgumentException">A record is null, has an invalid key, no vectors, vectors of another
    /// dimension or invalid values (the message names the key); nothing was written.</exception>
    /// <exception cref="VectorStoreException">The collection does not exist or the write failed (nothing was
    /// written).</exception>
    public override async Task UpsertAsync(IEnumerable<TRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        TRecord[] batch = [.. records];
        var ids = new string[batch.Length];
        for (int i = 0; i < batch.Length; i++)
        {
            TRecord record = batch[i] ?? throw new ArgumentException($"records[{i}] is null.", nameof(records));
            object? key = _model.Key.Property.GetValue(record);
            if (_model.AutoGenerateKey && key is Guid guid && guid == Guid.Empty)
            {
                key = Guid.CreateVersion7();
            }

            ids[i] = IdOf((TKey)key!, nameof(records));
        }

        ReadOnlyMultiVector[] vectors = await VectorsOfAsync(batch, ids, nameof(records), cancellationToken).ConfigureAwait(false);
        var writes = new Dictionary<string, RecordWrite>(StringComparer.Ordinal);
        for (int i = 0; i < batch.Length; i++)
        {
            ReadOnlyMultiVector tokens = vectors[i];
            if (tokens.Dimension != _model.Vector.Dimensions)
            {
                throw new ArgumentException(
                    $"Record \"{ids[i]}\": its vectors have dimension {tokens.Dimension}, but vector property {_model.Vector.Property.Name} has {_model.Vector.Dimensions}.", nameof(records));
            }

            object?[] values = new object?[_model.Data.Count];
            for (int c = 0; c < values.Length; c++)
            {
                values[c] = ColumnProperty.ToDb(_model.Data[c].Property.GetValue(batch[i]));
            }

            // Remove first so that a repeated key takes the position of its last record.
            writes.Remove(ids[i]);
            writes[ids[i]] = new RecordWrite(ids[i], KeyFromId(ids[i]), IsDelete: false, tokens, values);
        }

        cancellationToken.ThrowIfCancellationRequested();
        Write([.. writes.Values], "Upsert");
        if (_model.AutoGenerateKey)
        {
            for (int i = 0; i < batch.Length; i++)
            {
                _model.Key.Property.SetValue(batch[i], Guid.Parse(ids[i]));
            }
        }
    }

    /// <summary>Searches by Chamfer (MaxSim) similarity through MUVERA: top + skip hits are found (among the records
    /// the filter allows), the first <see cref="VectorSearchOptions{TRecord}.Skip"/> are dropped, and so are hits scoring
    /// below <see cref="VectorSearchOptions{TRecord}.ScoreThreshold"/>.</summary>
    /// <typeparam name="TInput">The query: <see cref="MultiVectorEmbedding"/> or <see cref="ReadOnlyMultiVector"/>
    /// (token vectors), a string (encoded as a query by the <c>IEmbeddingGenerator&lt;string,
    /// MultiVectorEmbedding&gt;</c>), or any type the configured generator accepts.</typeparam>
    /// <param name="searchValue">The query.</param>
    /// <param name="top">How many results at most (positive).</param>
    /// <param name="options">Filter, skip, score threshold, vectors.</param>
    /// <param name="cancellationToken">Cancels the query's encoding; checked before the search.</param>
    /// <returns>The results, best first, with their Chamfer scores.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="searchValue"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="top"/> is not positive.</exception>
    /// <exception cref="NotSupportedException">The input type is not supported, or the filter cannot be translated
    /// (thrown when called, naming the expression).</exception>
    public override IAsyncEnumerable<VectorSearchResult<TRecord>> SearchAsync<TInput>(TInput searchValue, int top,
        VectorSearchOptions<TRecord>? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(searchValue);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(top);
        options ??= new VectorSearchOptions<TRecord>();
        if (options.VectorProperty is { } selector && PropertyOf(selector) != _model.Vector.Property.Name)
        {
            throw new ArgumentException(
                $"options.VectorProperty selects {selector}; the collection's vector property is {_model.Vector.Property.Name}.", nameof(options));
        }

        SqlFilter? where = options.Filter is null ? null : SqlFilterTranslator.Translate(options.Filter, _model.ByPropertyName);
        bool includeVectors = CheckIncludeVectors(options.IncludeVectors);
        if (searchValue is not (MultiVectorEmbedding or ReadOnlyMultiVector) && GeneratorFor<TInput>() is null)
        {
            throw new NotSupportedException(
                $"Search input of type {typeof(TInput)} is not supported: pass a MultiVectorEmbedding or ReadOnlyMultiVector, or configure an " +
                $"IEmbeddingGenerator<{typeof(TInput).Name}, MultiVectorEmbedding> (for text, Muvera.Onnx's OnnxMultiVectorEmbeddingGenerator).");
        }

        int k = checked(top + options.Skip);
        return SearchCoreAsync(searchValue, k, options.Skip, options.ScoreThreshold, where, includeVectors, cancellationToken);
    }

    /// <summary>Asks for a service: the <see cref="VectorStoreCollectionMetadata"/> (system "muvera") or this
    /// collection.</summary>
    /// <param name="serviceType">The requested type.</param>
    /// <param name="serviceKey">A key; services are only found without one.</param>
    /// <returns>The service, or null.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="serviceType"/> is null.</exception>
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(VectorStoreCollectionMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>Releases this object's share of the open collection (the last one closes the index and the database).
    /// Idempotent.</summary>
    /// <param name="disposing">True from <see cref="VectorStoreCollection{TKey, TRecord}.Dispose()"/>.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _store.Release();
        }

        base.Dispose(disposing);
    }

    internal static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or > 128 || name[0] == '.' || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            throw new ArgumentException(
                $"Collection name \"{name}\" is not valid: use 1 to 128 characters among ASCII letters, digits, '_', '-' and '.', not starting with '.' (it names a folder).", nameof(name));
        }
    }

    private async IAsyncEnumerable<VectorSearchResult<TRecord>> SearchCoreAsync<TInput>(TInput searchValue, int k, int skip, double? threshold,
        SqlFilter? where, bool includeVectors, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ReadOnlyMultiVector query = await QueryVectorsAsync(searchValue, cancellationToken).ConfigureAwait(false);
        if (query.Dimension != _model.Vector.Dimensions || query.Count == 0)
        {
            throw new ArgumentException(
                $"The query has {query.Count} vectors of dimension {query.Dimension}; the collection's vectors have dimension {_model.Vector.Dimensions}.", nameof(searchValue));
        }

        cancellationToken.ThrowIfCancellationRequested();
        List<VectorSearchResult<TRecord>> results = Run("Search", () => Read(() =>
        {
            MuveraFilter? filter = null;
            if (where is not null)
            {
                List<string> allowed = _store.QueryIds(where);
                if (allowed.Count == 0)
                {
                    return [];
                }

                filter = MuveraFilter.FromIds(allowed);
            }

            var searchOptions = new MuveraSearchOptions { Filter = filter, Candidates = _candidates is int n ? Math.Max(n, k) : null };
            MuveraSearchHit[] hits = _store.Index.Search(query, k, searchOptions);
            MuveraSearchHit[] kept = [.. hits.Skip(skip).Where(h => threshold is not double t || h.Score >= t)];
            Dictionary<string, TRecord> records = ReadRecords([.. kept.Select(h => h.Id)], includeVectors)
                .ToDictionary(r => RecordModel<TKey, TRecord>.IdOf((TKey)_model.Key.Property.GetValue(r)!), StringComparer.Ordinal);
            var found = new List<VectorSearchResult<TRecord>>(kept.Length);
            foreach (MuveraSearchHit hit in kept)
            {
                if (records.TryGetValue(hit.Id, out TRecord? record))
                {
                    found.Add(new VectorSearchResult<TRecord>(record, hit.Score));
                }
            }

            return found;
        }));
        foreach (VectorSearchResult<TRecord> result in results)
        {
            yield return result;
        }
    }

    private async Task<ReadOnlyMultiVector> QueryVectorsAsync<TInput>(TInput searchValue, CancellationToken cancellationToken)
    {
        switch (searchValue)
        {
            case MultiVectorEmbedding embedding:
                return embedding.Vectors;
            case ReadOnlyMultiVector vectors:
                return vectors;
        }

        IEmbeddingGenerator<TInput, MultiVectorEmbedding> generator = GeneratorFor<TInput>()!;
        GeneratedEmbeddings<MultiVectorEmbedding> generated = await generator.GenerateAsync([searchValue], InputKind(MultiVectorEmbedding.QueryInputKind), cancellationToken)
            .ConfigureAwait(false);
        if (generated.Count != 1)
        {
            throw new InvalidOperationException($"The embedding generator returned {generated.Count} embeddings for one query.");
        }

        return generated[0].Vectors;
    }

    private IEmbeddingGenerator<TInput, MultiVectorEmbedding>? GeneratorFor<TInput>() =>
        _model.Vector.Generator as IEmbeddingGenerator<TInput, MultiVectorEmbedding>;

    private async Task<ReadOnlyMultiVector[]> VectorsOfAsync(TRecord[] batch, string[] ids, string paramName, CancellationToken cancellationToken)
    {
        var vectors = new ReadOnlyMultiVector[batch.Length];
        if (!_model.Vector.IsText)
        {
            for (int i = 0; i < batch.Length; i++)
            {
                vectors[i] = _model.Vector.Property.GetValue(batch[i]) is MultiVectorEmbedding embedding
                    ? embedding.Vectors
                    : throw new ArgumentException($"Record \"{ids[i]}\" has no vectors: its {_model.Vector.Property.Name} is null.", paramName);
            }

            return vectors;
        }

        var texts = new string[batch.Length];
        for (int i = 0; i < batch.Length; i++)
        {
            texts[i] = _model.Vector.Property.GetValue(batch[i]) as string
                ?? throw new ArgumentException($"Record \"{ids[i]}\" has no text to encode: its {_model.Vector.Property.Name} is null.", paramName);
        }

        if (texts.Length == 0)
        {
            return vectors;
        }

        var generator = (IEmbeddingGenerator<string, MultiVectorEmbedding>)_model.Vector.Generator!;
        GeneratedEmbeddings<MultiVectorEmbedding> generated = await generator.GenerateAsync(texts, InputKind(MultiVectorEmbedding.DocumentInputKind), cancellationToken)
            .ConfigureAwait(false);
        if (generated.Count != texts.Length)
        {
            throw new InvalidOperationException($"The embedding generator returned {generated.Count} embeddings for {texts.Length} texts.");
        }

        for (int i = 0; i < texts.Length; i++)
        {
            vectors[i] = generated[i].Vectors;
        }

        return vectors;
    }

    private static EmbeddingGenerationOptions InputKind(string kind) =>
        new() { AdditionalProperties = new AdditionalPropertiesDictionary { [MultiVectorEmbedding.InputKindPropertyName] = kind } };

    private void Write(IReadOnlyList<RecordWrite> writes, string operation)
    {
        if (writes.Count == 0)
        {
            return;
        }

        Run(operation, () =>
        {
            _store.Lock.EnterWriteLock();
            try
            {
                OpenUnderWriteLock();
                _store.CommitUnderWriteLock(writes, _columns, _schema);
            }
            finally
            {
                _store.Lock.ExitWriteLock();
            }

            return true;
        });
    }

    // Runs a read under the store's read lock, opening (or recovering) the collection first when needed.
    private T Read<T>(Func<T> read)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        while (true)
        {
            if (!_store.IsReady || !_schemaChecked)
            {
                _store.Lock.EnterWriteLock();
                try
                {
                    OpenUnderWriteLock();
                }
                finally
                {
                    _store.Lock.ExitWriteLock();
                }
            }

            _store.Lock.EnterReadLock();
            try
            {
                if (_store.IsReady)
                {
                    return read();
                }
            }
            finally
            {
                _store.Lock.ExitReadLock();
            }
        }
    }

    private void OpenUnderWriteLock()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_store.IsReady || !_schemaChecked)
        {
            _store.OpenUnderWriteLock(_schema);
            _schemaChecked = true;
        }
    }

    private List<TRecord> ReadRecords(string[] ids, bool includeVectors)
    {
        if (ids.Length == 0)
        {
            return [];
        }

        string json = SqlFilterTranslator.JsonArray(ids.Select(KeyFromId));
        return QueryRecords($"{SelectColumns()} WHERE _muvera_key IN (SELECT value FROM json_each(@keys));",
            [new KeyValuePair<string, object?>("@keys", json)], includeVectors);
    }

    private string SelectColumns() =>
        $"SELECT _muvera_key{string.Concat(_columns.Select(c => ", " + SqlFilterTranslator.Quote(c)))} FROM records";

    private List<TRecord> QueryRecords(string sql, IEnumerable<KeyValuePair<string, object?>> parameters, bool includeVectors)
    {
        using SqliteConnection connection = _store.OpenConnection();
        using SqliteCommand command = CollectionStore.Command(connection, null, sql, parameters);
        using SqliteDataReader reader = command.ExecuteReader();
        var records = new List<TRecord>();
        while (reader.Read())
        {
            TRecord record = _model.CreateRecord();
            object storedKey = reader.GetValue(0);
            string id = CollectionStore.IdOf(storedKey);
            _model.Key.Property.SetValue(record, KeyOf(id));
            for (int c = 0; c < _model.Data.Count; c++)
            {
                ColumnProperty property = _model.Data[c];
                object? value = property.FromDb(reader.GetValue(c + 1));
                if (value is not null || property.IsNullable)
                {
                    property.Property.SetValue(record, value);
                }
            }

            if (includeVectors && _store.Index.Contains(id))
            {
                _model.Vector.Property.SetValue(record, new MultiVectorEmbedding(_store.Index.GetDocument(id)));
            }

            records.Add(record);
        }

        return records;
    }

    private string OrderBy(FilteredRecordRetrievalOptions<TRecord> options)
    {
        if (options.OrderBy is null)
        {
            return "";
        }

        var clauses = new List<string>();
        foreach (FilteredRecordRetrievalOptions<TRecord>.OrderByDefinition.SortInfo sort in options.OrderBy(new()).Values)
        {
            string name = PropertyOf(sort.PropertySelector);
            if (!_model.ByPropertyName.TryGetValue(name, out ColumnProperty? column))
            {
                throw new NotSupportedException(
                    $"The order-by expression '{sort.PropertySelector}' is not supported by the Muvera VectorData connector: order by a key or data property.");
            }

            clauses.Add($"{SqlFilterTranslator.Quote(column.Column)} {(sort.Ascending ? "ASC" : "DESC")}, ");
        }

        return string.Concat(clauses);
    }

    // The property name a selector such as r => r.Name (or r => (object)r.Count) reads.
    private static string PropertyOf(LambdaExpression selector)
    {
        Expression body = selector.Body;
        while (body is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } convert)
        {
            body = convert.Operand;
        }

        return body is MemberExpression { Expression: ParameterExpression, Member: { } member }
            ? member.Name
            : throw new NotSupportedException($"The property selector '{selector}' is not supported: select a property of the record (r => r.Property).");
    }

    private bool CheckIncludeVectors(bool includeVectors)
    {
        if (includeVectors && _model.Vector.IsText)
        {
            throw new NotSupportedException(
                $"IncludeVectors is not supported: vector property {_model.Vector.Property.Name} is text encoded by the embedding generator, and the text is not stored.");
        }

        if (includeVectors && _model.Vector.Property.SetMethod is not { IsPublic: true })
        {
            throw new NotSupportedException($"IncludeVectors is not supported: vector property {_model.Vector.Property.Name} has no public setter.");
        }

        return includeVectors;
    }

    private static string IdOf(TKey key, string parameterName)
    {
        if (key is null)
        {
            throw new ArgumentNullException(parameterName, "A key is null.");
        }

        string id = RecordModel<TKey, TRecord>.IdOf(key);
        if (id.Length == 0)
        {
            throw new ArgumentException("A key is the empty string; keys must be non-empty.", parameterName);
        }

        for (int i = 0; i < id.Length; i++)
        {
            if (char.IsSurrogate(id[i]) && !(char.IsHighSurrogate(id[i]) && i + 1 < id.Length && char.IsLowSurrogate(id[++i])))
            {
                throw new ArgumentException($"Key \"{id}\" holds a lone surrogate at index {i}; keys must be well-formed UTF-16.", parameterName);
            }
        }

        return id;
    }

    // The key as the database stores it: TEXT for string and Guid keys, INTEGER for int and long keys.
    private static object StoredKey(TKey key) => KeyFromId(RecordModel<TKey, TRecord>.IdOf(key));

    private static object KeyFromId(string id) =>
        typeof(TKey) == typeof(int) || typeof(TKey) == typeof(long) ? long.Parse(id, CultureInfo.InvariantCulture) : id;

    private static TKey KeyOf(string id) =>
        typeof(TKey) == typeof(string) ? (TKey)(object)id
        : typeof(TKey) == typeof(Guid) ? (TKey)(object)Guid.Parse(id)
        : typeof(TKey) == typeof(int) ? (TKey)(object)int.Parse(id, CultureInfo.InvariantCulture)
        : (TKey)(object)long.Parse(id, CultureInfo.InvariantCulture);

    private async IAsyncEnumerable<T> Yield<T>(Func<List<T>> read, string operation, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (T item in Run(operation, read))
        {
            yield return item;
        }
    }

    // Storage failures become VectorStoreException (naming the collection and the operation); argument, support and
    // cancellation errors pass through.
    private T Run<T>(string operation, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is SqliteException or IOException or InvalidDataException or UnauthorizedAccessException
            or InvalidOperationException and not ObjectDisposedException)
        {
            throw new VectorStoreException($"Muvera collection '{Name}' ({Directory}): {operation} failed: {e.Message}", e)
            {
                VectorStoreSystemName = SystemName,
                VectorStoreName = _metadata.VectorStoreName,
                CollectionName = Name,
                OperationName = operation,
            };
        }
    }
}
