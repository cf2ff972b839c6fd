// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading;
using Microsoft.Data.Sqlite;
using Muvera.Indexing;

namespace Muvera.VectorData;

/// <summary>One write of a record: its key as stored, its index id, and either its token vectors and column values or
/// a delete.</summary>
internal sealed record RecordWrite(string Id, object KeyValue, bool IsDelete, ReadOnlyMultiVector Vectors, object?[] Values);

/// <summary>What a collection needs to create or open its folder.</summary>
internal sealed record CollectionSchema(string KeyKind, string KeySqlType, int Dimension, IReadOnlyList<(string Column, string SqlType)> Columns,
    MuveraIndexOptions IndexOptions, MipsBackend Backend);

/// <summary>
/// The open state of one collection folder, shared by every <see cref="MuveraCollection{TKey, TRecord}"/> of this
/// process that names it: the <see cref="MuveraIndex"/> (in <c>index/</c>), the SQLite database of records
/// (<c>records.db</c>), a reader-writer lock, and an operating-system lock on <c>LOCK</c> that keeps other processes
/// out while it is open.
/// </summary>
/// <remarks>
/// <para>Write protocol (<see cref="CommitUnderWriteLock"/>), one writer at a time: (1) apply the batch to the in-memory
/// index; (2) in one SQLite transaction, write every changed record to the <c>pending</c> table with the hash of its
/// stored vectors (or a delete mark), commit; (3) save the index (crash-safe, <see cref="MuveraIndex.Save(string)"/>);
/// (4) in one SQLite transaction, move the pending rows into <c>records</c> (or delete), clear <c>pending</c>, commit.
/// The index save is the commit point.</para>
/// <para>Recovery (<see cref="RecoverUnderWriteLock"/>), on open and after a failed write: load the saved index; when
/// it holds exactly the vectors (by hash) of every pending upsert and none of the pending deletes' keys, the batch is
/// rolled forward (its rows moved into <c>records</c>); otherwise the index save did not happen and the whole batch is
/// dropped (rolled back). Then documents in the index without a row are deleted from it and rows without a document
/// are deleted (neither arises from a crash under this protocol; only from files changed by hand). A crash at any point
/// therefore leaves the collection entirely as before the batch or entirely as after it.</para>
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "Shared by reference count: the last Release closes the lock file, the index and the connections.")]
internal sealed class CollectionStore
{
    public const string DatabaseFileName = "records.db";
    public const string IndexDirectoryName = "index";
    public const string LockFileName = "LOCK";
    public const int FormatVersion = 1;

    private static readonly Dictionary<string, CollectionStore> s_open = new(StringComparer.Ordinal);

    private readonly string _connectionString;
    private int _references;
    private MuveraIndex? _index;
    private FileStream? _lockFile;
    private bool _needsRecovery;

    private CollectionStore(string directory)
    {
        Directory = directory;
        IndexDirectory = Path.Combine(directory, IndexDirectoryName);
        DatabasePath = Path.Combine(directory, DatabaseFileName);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = DatabasePath, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true }.ToString();
    }

    /// <summary>Test seam: called with "pending-written", "index-saved" and "committed" at the step boundaries of a
    /// write; an exception thrown here simulates a crash there.</summary>
    internal static Action<string>? CommitStepHook { get; set; }

    public string Directory { get; }

    public string IndexDirectory { get; }

    public string DatabasePath { get; }

    public ReaderWriterLockSlim Lock { get; } = new(LockRecursionPolicy.NoRecursion);

    /// <summary>The loaded index; only under <see cref="Lock"/> after <see cref="IsReady"/>.</summary>
    public MuveraIndex Index => _index ?? throw new InvalidOperationException("The collection is not open.");

    /// <summary>Whether the index is loaded and consistent with the database (read under either lock).</summary>
    public bool IsReady => _index is not null && !_needsRecovery;

    public static CollectionStore Acquire(string directory)
    {
        lock (s_open)
        {
            if (!s_open.TryGetValue(directory, out CollectionStore? store))
            {
                store = new CollectionStore(directory);
                s_open.Add(directory, store);
            }

            store._references++;
            return store;
        }
    }

    /// <summary>Drops one reference; the last closes the index, the database connections and the folder lock.</summary>
    public void Release()
    {
        lock (s_open)
        {
            if (--_references > 0)
            {
                return;
            }

            s_open.Remove(Directory);
        }

        Lock.EnterWriteLock();
        try
        {
            CloseUnderWriteLock();
        }
        finally
        {
            Lock.ExitWriteLock();
        }
    }

    /// <summary>The store of <paramref name="directory"/> if this process has it open, else null.</summary>
    public static CollectionStore? Find(string directory)
    {
        lock (s_open)
        {
            return s_open.GetValueOrDefault(directory);
        }
    }

    public SqliteConnection OpenConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Whether the folder holds a created collection (its database has the meta table).</summary>
    public bool Exists()
    {
        if (!File.Exists(DatabasePath))
        {
            return false;
        }

        using SqliteConnection connection = OpenConnection();
        return TableExists(connection, "muvera_meta");
    }

    /// <summary>Creates the folder, the database and an empty saved index when the collection does not exist; then
    /// opens it. Under the write lock.</summary>
    public void CreateUnderWriteLock(CollectionSchema schema)
    {
        System.IO.Directory.CreateDirectory(Directory);
        AcquireFolderLock();
        using (SqliteConnection connection = OpenConnection())
        {
            Execute(connection, null, "PRAGMA journal_mode=WAL;");
            Execute(connection, null, "PRAGMA synchronous=FULL;");
            using SqliteTransaction transaction = connection.BeginTransaction();
            if (!TableExists(connection, "muvera_meta", transaction))
            {
                Execute(connection, transaction, "CREATE TABLE muvera_meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);");
                foreach ((string name, string value) in (ReadOnlySpan<(string, string)>)[
                    ("format", FormatVersion.ToString(CultureInfo.InvariantCulture)),
                    ("key_kind", schema.KeyKind),
                    ("dimension", schema.Dimension.ToString(CultureInfo.InvariantCulture))])
                {
                    Execute(connection, transaction, "INSERT INTO muvera_meta (name, value) VALUES (@name, @value);", ("@name", name), ("@value", value));
                }

                string columns = string.Concat(schema.Columns.Select(c => $", {SqlFilterTranslator.Quote(c.Column)} {c.SqlType}"));
                Execute(connection, transaction,
                    $"CREATE TABLE records ({Key} {schema.KeySqlType} PRIMARY KEY NOT NULL, {Hash} INTEGER NOT NULL{columns});");
                Execute(connection, transaction,
                    $"CREATE TABLE pending ({Key} {schema.KeySqlType} PRIMARY KEY NOT NULL, {Delete} INTEGER NOT NULL, {Hash} INTEGER NOT NULL{columns});");
            }

            transaction.Commit();
        }

        if (!File.Exists(Path.Combine(IndexDirectory, "CURRENT")))
        {
            using MuveraIndex empty = MuveraIndex.Create(schema.IndexOptions, schema.Backend);
            empty.Save(IndexDirectory);
        }

        OpenUnderWriteLock(schema);
    }

    /// <summary>Loads the index and reconciles it with the database when not done yet (or after a failed write); checks
    /// the schema and adds missing data columns. Under the write lock.</summary>
    /// <exception cref="InvalidOperationException">The collection does not exist.</exception>
    public void OpenUnderWriteLock(CollectionSchema schema)
    {
        if (!Exists())
        {
            throw new InvalidOperationException(
                $"The collection in '{Directory}' does not exist; call EnsureCollectionExistsAsync first.");
        }

        AcquireFolderLock();
        using (SqliteConnection connection = OpenConnection())
        {
            CheckSchema(connection, schema);
        }

        if (!IsReady)
        {
            RecoverUnderWriteLock(schema);
        }
    }

    /// <summary>Deletes the folder (index, database, lock). Under the write lock.</summary>
    public void DeleteUnderWriteLock()
    {
        CloseUnderWriteLock();
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    /// <summary>The index ids of the records matching <paramref name="filter"/>. Under either lock.</summary>
    public List<string> QueryIds(SqlFilter filter)
    {
        using SqliteConnection connection = OpenConnection();
        using SqliteCommand command = Command(connection, null, $"SELECT {Key} FROM records WHERE {filter.Sql};", filter.Parameters);
        using SqliteDataReader reader = command.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(IdOf(reader.GetValue(0)));
        }

        return ids;
    }

    /// <summary>Applies a batch of writes with the protocol in the remarks of the class. Under the write lock, with the
    /// store ready. On failure the index and the database hold the state before the batch or after it (reconciled at
    /// once when possible, else on the next operation).</summary>
    public void CommitUnderWriteLock(IReadOnlyList<RecordWrite> writes, IReadOnlyList<string> columns, CollectionSchema schema)
    {
        Debug.Assert(IsReady);
        MuveraIndex index = Index;
        var pending = new List<(RecordWrite Write, long Hash)>(writes.Count);
        try
        {
            var added = new List<RecordWrite>();
            foreach (RecordWrite write in writes)
            {
                if (write.IsDelete)
                {
                    if (index.Delete(write.Id))
                    {
                        pending.Add((write, 0));
                    }
                }
                else if (index.Contains(write.Id))
                {
                    index.Update(write.Id, write.Vectors);
                    pending.Add((write, 0));
                }
                else
                {
                    added.Add(write);
                    pending.Add((write, 0));
                }
            }

            if (added.Count > 0)
            {
                index.AddRange([.. added.Select(w => w.Id)], [.. added.Select(w => w.Vectors)]);
            }

            for (int i = 0; i < pending.Count; i++)
            {
                if (!pending[i].Write.IsDelete)
                {
                    pending[i] = (pending[i].Write, HashOf(index.GetDocument(pending[i].Write.Id)));
                }
            }
        }
        catch
        {
            RecoverAfterFailure(schema);
            throw;
        }

        if (pending.Count == 0)
        {
            return;
        }

        try
        {
            using SqliteConnection connection = OpenConnection();
            Execute(connection, null, "PRAGMA synchronous=FULL;");
            string columnList = string.Concat(columns.Select(c => ", " + SqlFilterTranslator.Quote(c)));
            string valueList = string.Concat(columns.Select((_, i) => ", @c" + i.ToString(CultureInfo.InvariantCulture)));
            using (SqliteTransaction transaction = connection.BeginTransaction())
            {
                using SqliteCommand insert = Command(connection, transaction,
                    $"INSERT OR REPLACE INTO pending ({Key}, {Delete}, {Hash}{columnList}) VALUES (@key, @delete, @hash{valueList});", []);
                foreach ((RecordWrite write, long hash) in pending)
                {
                    insert.Parameters.Clear();
                    insert.Parameters.AddWithValue("@key", write.KeyValue);
                    insert.Parameters.AddWithValue("@delete", write.IsDelete ? 1L : 0L);
                    insert.Parameters.AddWithValue("@hash", hash);
                    for (int i = 0; i < columns.Count; i++)
                    {
                        insert.Parameters.AddWithValue("@c" + i.ToString(CultureInfo.InvariantCulture), write.IsDelete ? DBNull.Value : write.Values[i] ?? DBNull.Value);
                    }

                    insert.ExecuteNonQuery();
                }

                transaction.Commit();
            }

            CommitStepHook?.Invoke("pending-written");
            index.Save(IndexDirectory);
            CommitStepHook?.Invoke("index-saved");
            ApplyPending(connection, null);
            CommitStepHook?.Invoke("committed");
        }
        catch
        {
            RecoverAfterFailure(schema);
            throw;
        }
    }

    /// <summary>Reloads the saved index and reconciles the database with it (see the remarks of the class). Under the
    /// write lock.</summary>
    public void RecoverUnderWriteLock(CollectionSchema schema)
    {
        _index?.Dispose();
        _index = null;
        _needsRecovery = true;
        bool indexChanged = false;
        MuveraIndex index;
        if (File.Exists(Path.Combine(IndexDirectory, "CURRENT")))
        {
            index = MuveraIndex.Load(IndexDirectory, new MuveraLoadOptions { Backends = [schema.Backend] });
        }
        else
        {
            // The collection was created up to its database: its index was never saved.
            index = MuveraIndex.Create(schema.IndexOptions, schema.Backend);
            indexChanged = true;
        }

        try
        {
            if (index.Dimension != schema.Dimension)
            {
                throw new InvalidDataException(
                    $"The index in '{IndexDirectory}' holds tokens of dimension {index.Dimension}, but the collection's vector property has {schema.Dimension} dimensions.");
            }

            using SqliteConnection connection = OpenConnection();
            Execute(connection, null, "PRAGMA synchronous=FULL;");
            // The pending rows are one batch (a write starts only with an empty pending table). The saved index holds
            // all of them or, when its save did not happen, not all: a row whose vectors did not change matches the
            // index either way, so the batch is rolled forward only when every row matches, never row by row.
            bool saved = true;
            var rows = new HashSet<string>(StringComparer.Ordinal);
            using (SqliteCommand command = Command(connection, null, $"SELECT {Key}, {Delete}, {Hash} FROM pending;", []))
            using (SqliteDataReader reader = command.ExecuteReader())
            {
                while (saved && reader.Read())
                {
                    string id = IdOf(reader.GetValue(0));
                    bool isDelete = reader.GetInt64(1) != 0;
                    saved = isDelete ? !index.Contains(id) : index.Contains(id) && HashOf(index.GetDocument(id)) == reader.GetInt64(2);
                }
            }

            using (SqliteTransaction transaction = connection.BeginTransaction())
            {
                if (saved)
                {
                    ApplyPending(connection, transaction);
                }
                else
                {
                    Execute(connection, transaction, "DELETE FROM pending;");
                }

                using (SqliteCommand command = Command(connection, transaction, $"SELECT {Key} FROM records;", []))
                using (SqliteDataReader reader = command.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        rows.Add(IdOf(reader.GetValue(0)));
                    }
                }

                foreach (string id in index.GetIds())
                {
                    if (!rows.Remove(id))
                    {
                        index.Delete(id);
                        indexChanged = true;
                    }
                }

                // What is left in rows has no document: such rows cannot be searched or returned with their vectors.
                if (rows.Count > 0)
                {
                    Execute(connection, transaction,
                        $"DELETE FROM records WHERE CAST({Key} AS TEXT) IN (SELECT value FROM json_each(@keys));", ("@keys", SqlFilterTranslator.JsonArray(rows)));
                }

                // The index goes first, as in a write: should this fail or crash, the pending rows are still there and
                // the next recovery decides them again from the index.
                if (indexChanged)
                {
                    index.Save(IndexDirectory);
                }

                transaction.Commit();
            }

            _index = index;
            _needsRecovery = false;
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    private void RecoverAfterFailure(CollectionSchema schema)
    {
        try
        {
            RecoverUnderWriteLock(schema);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or SqliteException or UnauthorizedAccessException)
        {
            // Left for the next operation, which recovers before anything else (IsReady is false).
        }
    }

    // Moves the pending rows into records (upserts keep the row's rowid) or deletes, then clears pending.
    private static void ApplyPending(SqliteConnection connection, SqliteTransaction? outer)
    {
        List<string> columns = UserColumns(connection, "pending", outer);
        string columnList = string.Concat(columns.Select(c => ", " + SqlFilterTranslator.Quote(c)));
        string updates = string.Concat(columns.Select(c => $", {SqlFilterTranslator.Quote(c)} = excluded.{SqlFilterTranslator.Quote(c)}"));
        SqliteTransaction transaction = outer ?? connection.BeginTransaction();
        try
        {
            Execute(connection, transaction,
                $"INSERT INTO records ({Key}, {Hash}{columnList}) SELECT {Key}, {Hash}{columnList} FROM pending WHERE {Delete} = 0 " +
                $"ON CONFLICT ({Key}) DO UPDATE SET {Hash} = excluded.{Hash}{updates};");
            Execute(connection, transaction, $"DELETE FROM records WHERE {Key} IN (SELECT {Key} FROM pending WHERE {Delete} = 1);");
            Execute(connection, transaction, "DELETE FROM pending;");
            if (outer is null)
            {
                transaction.Commit();
            }
        }
        finally
        {
            if (outer is null)
            {
                transaction.Dispose();
            }
        }
    }

    private static void CheckSchema(SqliteConnection connection, CollectionSchema schema)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        using (SqliteCommand command = Command(connection, null, "SELECT name, value FROM muvera_meta;", []))
        using (SqliteDataReader reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                meta[reader.GetString(0)] = reader.GetString(1);
            }
        }

        if (meta.GetValueOrDefault("format") != FormatVersion.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException($"The collection database '{connection.DataSource}' has format {meta.GetValueOrDefault("format") ?? "(none)"}; this library reads format {FormatVersion}.");
        }

        if (meta.GetValueOrDefault("key_kind") != schema.KeyKind)
        {
            throw new InvalidOperationException(
                $"The collection in '{Path.GetDirectoryName(connection.DataSource)}' was created with {meta.GetValueOrDefault("key_kind")} keys; this record type has {schema.KeyKind} keys.");
        }

        if (meta.GetValueOrDefault("dimension") != schema.Dimension.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException(
                $"The collection in '{Path.GetDirectoryName(connection.DataSource)}' holds vectors of dimension {meta.GetValueOrDefault("dimension")}; this record type's vector property has {schema.Dimension}.");
        }

        // A record type may gain data properties: their columns are added (null for the existing records).
        var existing = new HashSet<string>(UserColumns(connection, "records", null), StringComparer.OrdinalIgnoreCase);
        foreach ((string column, string sqlType) in schema.Columns)
        {
            if (!existing.Contains(column))
            {
                using SqliteTransaction transaction = connection.BeginTransaction();
                Execute(connection, transaction, $"ALTER TABLE records ADD COLUMN {SqlFilterTranslator.Quote(column)} {sqlType};");
                Execute(connection, transaction, $"ALTER TABLE pending ADD COLUMN {SqlFilterTranslator.Quote(column)} {sqlType};");
                transaction.Commit();
            }
        }
    }

    private static List<string> UserColumns(SqliteConnection connection, string table, SqliteTransaction? transaction)
    {
        var columns = new List<string>();
        using SqliteCommand command = Command(connection, transaction, $"SELECT name FROM pragma_table_info('{table}');", []);
        using SqliteDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            string name = reader.GetString(0);
            if (!name.StartsWith("_muvera_", StringComparison.Ordinal))
            {
                columns.Add(name);
            }
        }

        return columns;
    }

    private static bool TableExists(SqliteConnection connection, string table, SqliteTransaction? transaction = null)
    {
        using SqliteCommand command = Command(connection, transaction, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = @name;", [new("@name", table)]);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private void AcquireFolderLock()
    {
        if (_lockFile is not null)
        {
            return;
        }

        string path = Path.Combine(Directory, LockFileName);
        try
        {
            _lockFile = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException(
                $"The collection in '{Directory}' is open in another process ('{path}' is locked); a collection is opened by one process at a time.", e);
        }
    }

    private void CloseUnderWriteLock()
    {
        _index?.Dispose();
        _index = null;
        _needsRecovery = false;
        using (var connection = new SqliteConnection(_connectionString))
        {
            SqliteConnection.ClearPool(connection);
        }

        _lockFile?.Dispose();
        _lockFile = null;
    }

    /// <summary>A stored key (TEXT or INTEGER) as its index id.</summary>
    public static string IdOf(object storedKey) => storedKey switch
    {
        long l => l.ToString(CultureInfo.InvariantCulture),
        string s => s,
        _ => Convert.ToString(storedKey, CultureInfo.InvariantCulture)!,
    };

    /// <summary>The first 8 bytes of SHA-256 over the stored vectors: identifies them across processes.</summary>
    public static long HashOf(ReadOnlyMultiVector vectors)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(MemoryMarshal.AsBytes(vectors.Span), hash);
        return BinaryPrimitives.ReadInt64LittleEndian(hash);
    }

    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql,
        IEnumerable<KeyValuePair<string, object?>> parameters)
    {
        SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach ((string name, object? value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using SqliteCommand command = Command(connection, transaction, sql, parameters.Select(p => new KeyValuePair<string, object?>(p.Name, p.Value)));
        command.ExecuteNonQuery();
    }

    private const string Key = "_muvera_key";
    private const string Hash = "_muvera_hash";
    private const string Delete = "_muvera_delete";
}
