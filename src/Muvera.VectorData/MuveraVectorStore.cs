// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.VectorData;

namespace Muvera.VectorData;

/// <summary>
/// A Microsoft.Extensions.VectorData vector store of multi-vector collections in a folder: each collection
/// (<see cref="MuveraCollection{TKey, TRecord}"/>) is a subfolder holding a <see cref="MuveraIndex"/> and an SQLite
/// database of its records.
/// </summary>
/// <remarks>
/// <para>Switching from another connector: construct this store instead of the other one, and give the vector property
/// the type <see cref="MultiVectorEmbedding"/> (token vectors; or keep it a string and set an
/// <c>IEmbeddingGenerator&lt;string, MultiVectorEmbedding&gt;</c>, such as Muvera.Onnx's
/// <c>OnnxMultiVectorEmbeddingGenerator</c>, as <see cref="MuveraVectorStoreOptions.EmbeddingGenerator"/>); the
/// attributes, <c>GetCollection</c>, upserts, gets, filters and searches are the same. The distance function is
/// <see cref="MuveraDistanceFunction.MaxSim"/>.</para>
/// <para>Dynamic collections (<see cref="GetDynamicCollection"/>) are not supported. The store holds no open resources
/// of its own: dispose the collections it returns.</para>
/// </remarks>
public sealed class MuveraVectorStore : VectorStore
{
    private readonly MuveraVectorStoreOptions _options;
    private readonly VectorStoreMetadata _metadata;

    /// <summary>A store over the folder <paramref name="directory"/> (created with the first collection).</summary>
    /// <param name="directory">The folder of the collections.</param>
    /// <param name="options">The embedding generator and index settings of the collections; null for the defaults.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    public MuveraVectorStore(string directory, MuveraVectorStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
        _options = options ?? new MuveraVectorStoreOptions();
        _metadata = new VectorStoreMetadata { VectorStoreSystemName = "muvera", VectorStoreName = Directory };
    }

    /// <summary>The folder of the collections.</summary>
    public string Directory { get; }

    /// <summary>A collection of this store (see <see cref="MuveraCollection{TKey, TRecord}"/>); nothing is read or
    /// written until its first operation. Dispose it when done.</summary>
    /// <typeparam name="TKey">string, Guid, int or long.</typeparam>
    /// <typeparam name="TRecord">The record class.</typeparam>
    /// <param name="name">The collection name (a folder name: letters, digits, '_', '-', '.').</param>
    /// <param name="definition">The record schema, replacing the record type's attributes; null to use them.</param>
    /// <returns>The collection.</returns>
    /// <exception cref="ArgumentException">The name or the record type is invalid.</exception>
    /// <exception cref="NotSupportedException">The key type, a property type, the distance function or the index kind
    /// is not supported (the message names it).</exception>
    public override VectorStoreCollection<TKey, TRecord> GetCollection<TKey, TRecord>(string name, VectorStoreCollectionDefinition? definition = null) =>
        new MuveraCollection<TKey, TRecord>(Directory, name, new MuveraCollectionOptions
        {
            Definition = definition,
            EmbeddingGenerator = _options.EmbeddingGenerator,
            IndexOptions = _options.IndexOptions,
            Backend = _options.Backend,
            SearchCandidates = _options.SearchCandidates,
        });

    /// <summary>Not supported: Muvera collections map records to classes.</summary>
    /// <param name="name">The collection name.</param>
    /// <param name="definition">The record schema.</param>
    /// <returns>Never returns.</returns>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override VectorStoreCollection<object, Dictionary<string, object?>> GetDynamicCollection(string name, VectorStoreCollectionDefinition definition) =>
        throw new NotSupportedException(
            $"Dynamic collections (Dictionary<string, object?> records) are not supported by the Muvera connector; use GetCollection<TKey, TRecord>(\"{name}\") with a record class.");

    /// <summary>The names of the collections in the folder, sorted ordinally.</summary>
    /// <param name="cancellationToken">Checked before the folder is read.</param>
    /// <returns>The names.</returns>
    public override async IAsyncEnumerable<string> ListCollectionNamesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await Task.CompletedTask.ConfigureAwait(false);
        if (!System.IO.Directory.Exists(Directory))
        {
            yield break;
        }

        foreach (string folder in System.IO.Directory.EnumerateDirectories(Directory).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(folder);
            if (IsValidName(name) && Exists(folder))
            {
                yield return name;
            }
        }
    }

    /// <summary>Whether the collection exists.</summary>
    /// <param name="name">The collection name.</param>
    /// <param name="cancellationToken">Checked before the folder is read.</param>
    /// <returns>True when it exists.</returns>
    /// <exception cref="ArgumentException">The name is invalid.</exception>
    public override Task<bool> CollectionExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        MuveraCollection<string, object>.ValidateName(name);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Exists(Path.Combine(Directory, name)));
    }

    /// <summary>Deletes the collection's folder if it exists (collection objects of this process for it then see a
    /// collection that does not exist).</summary>
    /// <param name="name">The collection name.</param>
    /// <param name="cancellationToken">Checked before anything is done.</param>
    /// <returns>A task that completes when the collection is gone.</returns>
    /// <exception cref="ArgumentException">The name is invalid.</exception>
    /// <exception cref="VectorStoreException">The folder cannot be deleted.</exception>
    public override Task EnsureCollectionDeletedAsync(string name, CancellationToken cancellationToken = default)
    {
        MuveraCollection<string, object>.ValidateName(name);
        cancellationToken.ThrowIfCancellationRequested();
        string folder = Path.Combine(Directory, name);
        CollectionStore store = CollectionStore.Acquire(folder);
        try
        {
            store.Lock.EnterWriteLock();
            try
            {
                store.DeleteUnderWriteLock();
            }
            finally
            {
                store.Lock.ExitWriteLock();
            }
        }
        catch (IOException e)
        {
            throw new VectorStoreException($"Muvera store '{Directory}': deleting collection '{name}' failed: {e.Message}", e)
            {
                VectorStoreSystemName = "muvera",
                VectorStoreName = Directory,
                CollectionName = name,
                OperationName = "EnsureCollectionDeleted",
            };
        }
        finally
        {
            store.Release();
        }

        return Task.CompletedTask;
    }

    /// <summary>Asks for a service: the <see cref="VectorStoreMetadata"/> (system "muvera", the folder) or this store.</summary>
    /// <param name="serviceType">The requested type.</param>
    /// <param name="serviceKey">A key; services are only found without one.</param>
    /// <returns>The service, or null.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="serviceType"/> is null.</exception>
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(VectorStoreMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    private static bool IsValidName(string name)
    {
        try
        {
            MuveraCollection<string, object>.ValidateName(name);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static bool Exists(string folder)
    {
        CollectionStore? open = CollectionStore.Find(Path.GetFullPath(folder));
        if (open is not null)
        {
            return open.Exists();
        }

        CollectionStore store = CollectionStore.Acquire(Path.GetFullPath(folder));
        try
        {
            return store.Exists();
        }
        finally
        {
            store.Release();
        }
    }
}
