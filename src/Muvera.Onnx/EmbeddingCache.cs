// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Threading;

namespace Muvera.Onnx;

/// <summary>
/// A directory of encoded corpora: each is a <see cref="MultiVectorStore"/> file (the multi-vector store format of
/// <c>src/Muvera/Serialization/README.md</c>) named by a key over the model, the conventions and the texts, so that an
/// evaluation run never re-encodes data it has encoded before.
/// </summary>
/// <remarks>
/// <para>Key: SHA-256 over a cache format version, <see cref="OnnxTokenEncoder.ModelFingerprint"/> (model and tokenizer
/// bytes), the conventions (<see cref="ColbertConventions"/> as JSON), the side (queries or documents), the element type
/// and the texts (count, then each text's UTF-8 length and bytes, in order). Run settings (threads, batch size) are not
/// part of it: they change results only by float rounding. A file is <c>{side}-{key}.mvstore</c>, with a small
/// <c>.json</c> beside it that records what the key covers (for people; it is never read).</para>
/// <para>A cached file that fails to load (truncated, corrupted: <see cref="InvalidDataException"/>) or whose document
/// count or dimension does not match is encoded again and replaced. Writes go to a unique temporary file, flushed, then
/// renamed, so concurrent writers of the same key and crashes never leave a half-written store.</para>
/// <para>Thread safety: instances are immutable; concurrent calls are safe (two callers missing the same key both
/// encode it, and the last rename wins).</para>
/// </remarks>
public sealed class EmbeddingCache
{
    /// <summary>The cache layout version in every key; bumped when what a key covers changes.</summary>
    public const int FormatVersion = 1;

    private const string PooledExtension = ".pooled";
    private const int PooledFormatVersion = 1;
    private static readonly byte[] s_pooledMagic = "MVPOOLED"u8.ToArray();

    /// <summary>A cache in <paramref name="directory"/> (created if missing) that keeps float32 token vectors, so
    /// cached scores equal freshly computed ones bit for bit.</summary>
    /// <param name="directory">The cache directory.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="IOException">The directory cannot be created.</exception>
    public EmbeddingCache(string directory)
        : this(directory, StoreElementType.Float32)
    {
    }

    /// <summary>A cache in <paramref name="directory"/> (created if missing) with the given storage precision.</summary>
    /// <param name="directory">The cache directory.</param>
    /// <param name="elementType"><see cref="StoreElementType.Float16"/> halves the files (about 3 significant digits
    /// per coordinate).</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementType"/> is not defined.</exception>
    /// <exception cref="IOException">The directory cannot be created.</exception>
    public EmbeddingCache(string directory, StoreElementType elementType)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (elementType is not (StoreElementType.Float32 or StoreElementType.Float16))
        {
            throw new ArgumentOutOfRangeException(nameof(elementType), elementType, $"Element type {(int)elementType} is not defined (0 = Float32, 1 = Float16).");
        }

        Directory = System.IO.Directory.CreateDirectory(directory).FullName;
        ElementType = elementType;
    }

    /// <summary>The cache directory (full path).</summary>
    public string Directory { get; }

    /// <summary>How cached stores keep coordinates.</summary>
    public StoreElementType ElementType { get; }

    /// <summary>The documents' token vectors, from the cache or encoded now (and then cached).</summary>
    /// <param name="encoder">The encoder.</param>
    /// <param name="documents">The document texts; store id i is <c>documents[i]</c>.</param>
    /// <param name="progress">Receives the number of documents encoded so far (only when encoding), or null.</param>
    /// <param name="cancellationToken">Cancels encoding; nothing is cached then.</param>
    /// <returns>A read-only, memory-mapped store; dispose it.</returns>
    /// <remarks>A hit costs hashing the texts and the store's checksum pass over its file; nothing is encoded.</remarks>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A document is null or has no tokens (only when encoding).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="IOException">The cache file cannot be written.</exception>
    public MultiVectorStore GetOrEncodeDocuments(OnnxTokenEncoder encoder, IReadOnlyList<string> documents, IProgress<int>? progress, CancellationToken cancellationToken) =>
        GetOrEncode(encoder, documents, nameof(documents), query: false, progress, cancellationToken);

    /// <summary>The queries' token vectors, from the cache or encoded now (see <see cref="GetOrEncodeDocuments"/>).</summary>
    /// <param name="encoder">The encoder.</param>
    /// <param name="queries">The query texts; store id i is <c>queries[i]</c>.</param>
    /// <param name="progress">Receives the number of queries encoded so far (only when encoding), or null.</param>
    /// <param name="cancellationToken">Cancels encoding; nothing is cached then.</param>
    /// <returns>A read-only, memory-mapped store; dispose it.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A query is null or has no tokens (only when encoding).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="IOException">The cache file cannot be written.</exception>
    public MultiVectorStore GetOrEncodeQueries(OnnxTokenEncoder encoder, IReadOnlyList<string> queries, IProgress<int>? progress, CancellationToken cancellationToken) =>
        GetOrEncode(encoder, queries, nameof(queries), query: true, progress, cancellationToken);

    /// <summary>The documents' token vectors and mean-pooled vectors, from the cache or encoded now in one model pass
    /// (and then cached).</summary>
    /// <param name="encoder">The encoder.</param>
    /// <param name="documents">The document texts; store id i and pooled row i are <c>documents[i]</c>.</param>
    /// <param name="progress">Receives the number of documents encoded so far (only when encoding), or null.</param>
    /// <param name="cancellationToken">Cancels encoding; nothing new is cached then.</param>
    /// <returns>Both encodings and what it took to get them; dispose it (it owns the memory-mapped store).</returns>
    /// <remarks>The token store is the file <see cref="GetOrEncodeDocuments"/> reads and writes (same key); the pooled
    /// vectors sit beside it in <c>{side}-{key}.pooled</c> (float32 whatever <see cref="ElementType"/> is, with a
    /// SHA-256 checksum). Both present: no model run. Only the store present (a cache written by
    /// <see cref="GetOrEncodeDocuments"/>): one pooled-only pass. Store missing: one pass writes both
    /// (<see cref="OnnxTokenEncoder.AddDocuments(IReadOnlyList{string}, MultiVectorStore, Memory{float}, IProgress{int}, CancellationToken)"/>).</remarks>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A document is null or has no tokens (only when encoding).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="IOException">A cache file cannot be written.</exception>
    public CachedTokenAndPooledVectors GetOrEncodeDocumentsWithPooled(OnnxTokenEncoder encoder, IReadOnlyList<string> documents, IProgress<int>? progress, CancellationToken cancellationToken) =>
        GetOrEncodeWithPooled(encoder, documents, nameof(documents), query: false, progress, cancellationToken);

    /// <summary>The queries' token vectors and mean-pooled vectors, from the cache or encoded now in one model pass (see
    /// <see cref="GetOrEncodeDocumentsWithPooled"/>).</summary>
    /// <param name="encoder">The encoder.</param>
    /// <param name="queries">The query texts; store id i and pooled row i are <c>queries[i]</c>.</param>
    /// <param name="progress">Receives the number of queries encoded so far (only when encoding), or null.</param>
    /// <param name="cancellationToken">Cancels encoding; nothing new is cached then.</param>
    /// <returns>Both encodings and what it took to get them; dispose it.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A query is null or has no tokens (only when encoding).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="IOException">A cache file cannot be written.</exception>
    public CachedTokenAndPooledVectors GetOrEncodeQueriesWithPooled(OnnxTokenEncoder encoder, IReadOnlyList<string> queries, IProgress<int>? progress, CancellationToken cancellationToken) =>
        GetOrEncodeWithPooled(encoder, queries, nameof(queries), query: true, progress, cancellationToken);

    /// <summary>The file that holds (or would hold) the documents' encodings.</summary>
    /// <param name="encoder">The encoder.</param>
    /// <param name="documents">The document texts.</param>
    /// <returns>The full path of the <c>.mvstore</c> file.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A document is null.</exception>
    public string GetDocumentsPath(OnnxTokenEncoder encoder, IReadOnlyList<string> documents) =>
        PathFor(encoder, documents, nameof(documents), query: false, out _);

    /// <summary>The file that holds (or would hold) the queries' encodings.</summary>
    /// <param name="encoder">The encoder.</param>
    /// <param name="queries">The query texts.</param>
    /// <returns>The full path of the <c>.mvstore</c> file.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A query is null.</exception>
    public string GetQueriesPath(OnnxTokenEncoder encoder, IReadOnlyList<string> queries) =>
        PathFor(encoder, queries, nameof(queries), query: true, out _);

    private MultiVectorStore GetOrEncode(OnnxTokenEncoder encoder, IReadOnlyList<string> texts, string paramName, bool query,
        IProgress<int>? progress, CancellationToken cancellationToken)
    {
        string path = PathFor(encoder, texts, paramName, query, out string manifest);
        if (TryLoad(path, texts.Count, encoder.Dimension) is { } cached)
        {
            return cached;
        }

        var store = new MultiVectorStore(encoder.Dimension, ElementType, normalize: false);
        if (query)
        {
            encoder.AddQueries(texts, store, progress, cancellationToken);
        }
        else
        {
            encoder.AddDocuments(texts, store, progress, cancellationToken);
        }

        return Save(store, path, manifest);
    }

    private CachedTokenAndPooledVectors GetOrEncodeWithPooled(OnnxTokenEncoder encoder, IReadOnlyList<string> texts, string paramName, bool query,
        IProgress<int>? progress, CancellationToken cancellationToken)
    {
        string path = PathFor(encoder, texts, paramName, query, out string manifest);
        string pooledPath = Path.ChangeExtension(path, PooledExtension);
        int count = texts.Count;
        int dimension = encoder.Dimension;
        MultiVectorStore? tokens = TryLoad(path, count, dimension);
        float[]? pooled = TryReadPooled(pooledPath, count, dimension);
        if (tokens is not null && pooled is not null)
        {
            return new CachedTokenAndPooledVectors(tokens, pooled, modelPasses: 0, tokensEncoded: false, pooledEncoded: false);
        }

        try
        {
            if (tokens is not null)
            {
                // A cache written before pooled vectors were cached (or whose pooled file is damaged): one pooled-only pass.
                pooled = query
                    ? encoder.EncodePooledQueries(texts, progress, cancellationToken)
                    : encoder.EncodePooledDocuments(texts, progress, cancellationToken);
                WritePooled(pooledPath, pooled, count, dimension);
                return new CachedTokenAndPooledVectors(tokens, pooled, modelPasses: 1, tokensEncoded: false, pooledEncoded: true);
            }

            // Token vectors are missing: one pass yields both, so a cached pooled file is rewritten rather than read (the
            // same values up to float rounding).
            pooled = new float[(long)count * dimension];
            var store = new MultiVectorStore(dimension, ElementType, normalize: false);
            if (query)
            {
                encoder.AddQueries(texts, store, pooled, progress, cancellationToken);
            }
            else
            {
                encoder.AddDocuments(texts, store, pooled, progress, cancellationToken);
            }

            tokens = Save(store, path, manifest);
            WritePooled(pooledPath, pooled, count, dimension);
            return new CachedTokenAndPooledVectors(tokens, pooled, modelPasses: 1, tokensEncoded: true, pooledEncoded: true);
        }
        catch
        {
            tokens?.Dispose();
            throw;
        }
    }

    // Writes the store to a unique temporary file, flushed, then renamed over path; returns the file, memory-mapped.
    private static MultiVectorStore Save(MultiVectorStore store, string path, string manifest)
    {
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                store.Save(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }

        File.WriteAllText(Path.ChangeExtension(path, ".json"), manifest, Encoding.UTF8);
        return MultiVectorStore.Load(path);
    }

    // Pooled file: magic "MVPOOLED", int32 version, int32 count, int32 dimension, count × dimension float32, then the
    // SHA-256 of every byte before it; all little endian. Anything else (missing, truncated, other version, count or
    // dimension, checksum mismatch) reads as a miss.
    private static float[]? TryReadPooled(string path, int count, int dimension)
    {
        byte[] bytes;
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        long data = (long)count * dimension * sizeof(float);
        int header = s_pooledMagic.Length + (3 * sizeof(int));
        if (bytes.LongLength != header + data + SHA256.HashSizeInBytes
            || !bytes.AsSpan(0, s_pooledMagic.Length).SequenceEqual(s_pooledMagic)
            || BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(s_pooledMagic.Length)) != PooledFormatVersion
            || BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(s_pooledMagic.Length + 4)) != count
            || BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(s_pooledMagic.Length + 8)) != dimension)
        {
            return null;
        }

        int body = (int)(header + data);
        if (!SHA256.HashData(bytes.AsSpan(0, body)).AsSpan().SequenceEqual(bytes.AsSpan(body)))
        {
            return null;
        }

        float[] vectors = new float[(long)count * dimension];
        for (int i = 0; i < vectors.Length; i++)
        {
            vectors[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(header + (i * sizeof(float))));
        }

        return vectors;
    }

    private static void WritePooled(string path, float[] vectors, int count, int dimension)
    {
        int header = s_pooledMagic.Length + (3 * sizeof(int));
        int body = header + (vectors.Length * sizeof(float));
        byte[] bytes = new byte[body + SHA256.HashSizeInBytes];
        s_pooledMagic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(s_pooledMagic.Length), PooledFormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(s_pooledMagic.Length + 4), count);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(s_pooledMagic.Length + 8), dimension);
        for (int i = 0; i < vectors.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(header + (i * sizeof(float))), vectors[i]);
        }

        SHA256.HashData(bytes.AsSpan(0, body), bytes.AsSpan(body));
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static MultiVectorStore? TryLoad(string path, int count, int dimension)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        MultiVectorStore store;
        try
        {
            store = MultiVectorStore.Load(path);
        }
        catch (InvalidDataException)
        {
            return null;
        }

        try
        {
            // A store checks its token blocks on first use; a cached corpus is read whole anyway, so check it now and
            // encode again when it is corrupt, instead of failing later.
            store.Verify();
        }
        catch (InvalidDataException)
        {
            store.Dispose();
            return null;
        }

        if (store.Count == count && store.Dimension == dimension)
        {
            return store;
        }

        store.Dispose();
        return null;
    }

    private string PathFor(OnnxTokenEncoder encoder, IReadOnlyList<string> texts, string paramName, bool query, out string manifest)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(texts, paramName);
        string side = query ? "queries" : "documents";
        string corpus = HashTexts(texts, paramName);
        string conventions = encoder.Conventions.ToCompactJson();
        var key = new StringBuilder();
        key.Append("muvera-onnx-cache ").Append(FormatVersion).Append('\n')
            .Append("model ").Append(encoder.ModelFingerprint).Append('\n')
            .Append("side ").Append(side).Append('\n')
            .Append("element ").Append(ElementType).Append('\n')
            .Append("conventions ").Append(conventions).Append('\n')
            .Append("texts ").Append(corpus).Append('\n');
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString())));
        manifest = $$"""
            {
              "formatVersion": {{FormatVersion}},
              "side": "{{side}}",
              "count": {{texts.Count}},
              "dimension": {{encoder.Dimension}},
              "elementType": "{{ElementType}}",
              "modelFingerprint": "{{encoder.ModelFingerprint}}",
              "textsSha256": "{{corpus}}",
              "conventions": {{conventions}}
            }

            """;
        return Path.Combine(Directory, $"{side}-{hash}.mvstore");
    }

    private static string HashTexts(IReadOnlyList<string> texts, string paramName)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> number = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(number, texts.Count);
        hash.AppendData(number);
        byte[] buffer = [];
        for (int i = 0; i < texts.Count; i++)
        {
            string text = texts[i] ?? throw new ArgumentException($"{paramName}[{i}] is null.", paramName);
            int max = Encoding.UTF8.GetMaxByteCount(text.Length);
            if (buffer.Length < max)
            {
                buffer = new byte[Math.Max(max, buffer.Length * 2)];
            }

            int length = Encoding.UTF8.GetBytes(text, buffer);
            BinaryPrimitives.WriteInt64LittleEndian(number, length);
            hash.AppendData(number);
            hash.AppendData(buffer, 0, length);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The original failure is the one worth reporting.
        }
    }
}
