// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.Kernels;
using Muvera.Scoring;
using Muvera.Scoring.Codecs;
using Muvera.Serialization;

namespace Muvera;

/// <summary>
/// A collection of multi-vector documents searchable by Chamfer similarity through MUVERA: each document's token
/// vectors are encoded into one FDE kept in a MIPS index (<see cref="MipsBackend"/>) and stored as they are for exact
/// reranking. A search encodes the query, takes N FDE candidates and reranks them with exact Chamfer.
/// </summary>
/// <remarks>
/// <para>Ids are strings chosen by the caller (unique, compared ordinally). Internally every added document gets the
/// next ordinal, which is its row in the MIPS index and its id in the token store; <see cref="Delete"/> marks the
/// ordinal deleted (searches skip it) and <see cref="Compact"/> (or <see cref="Save(string, MuveraSaveOptions)"/> past
/// <see cref="MuveraIndexOptions.CompactOnSaveFraction"/>) rebuilds both without deleted documents.</para>
/// <para>Thread safety: any number of searches may run concurrently with each other and with one writer
/// (<see cref="Add"/>, <see cref="AddRange(IReadOnlyList{string}, IReadOnlyList{ReadOnlyMultiVector})"/>,
/// <see cref="Delete"/>, <see cref="Update"/>, <see cref="Compact"/>, <see cref="Calibrate(IReadOnlyList{ReadOnlyMultiVector}, int, double)"/>); a search sees the index
/// either before or after a write, never in between. Encoding happens outside the lock, so writers block searches
/// only while their FDEs and tokens are appended.</para>
/// <para>Persistence: <see cref="Save(string, MuveraSaveOptions)"/> writes a directory that <see cref="Load(string)"/> reads back, safely while other processes load it (one writer at a time, any number of readers); see
/// <c>src/Muvera/Serialization/README.md</c> ("MuveraIndex directory").</para>
/// <para>Learned partitions (<see cref="FdePartitioning.KMeans"/>, the default of <see cref="FdeOptions.CreateRecommended"/>):
/// FDEs can only be encoded once the partitions are trained. Until then (<see cref="IsTrained"/> false) the index keeps
/// the documents' tokens without FDEs and searches them exactly (brute-force Chamfer). It trains by itself in the
/// <see cref="AddRange(IReadOnlyList{string}, IReadOnlyList{ReadOnlyMultiVector})"/> that brings it to
/// <see cref="PartitionTrainingDocuments"/> (1,024) live documents, on a sample of
/// <see cref="FdeOptions.TrainingSample"/> tokens drawn from all of them, or when <see cref="Train()"/> is called (on
/// the documents it holds, at least one) or <see cref="Train(IReadOnlyList{ReadOnlyMultiVector})"/> (on a sample of
/// the corpus, before or after adding); it then encodes every document it holds. The partitions never change afterwards
/// and are saved with the index. SimHash indexes are trained from the start.</para>
/// </remarks>
public sealed partial class MuveraIndex : IDisposable
{
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly Dictionary<string, int> _ordinals;
    private readonly List<string?> _ids;
    private MultiVectorStore _store;
    private IMipsIndex _mips;
    private FdeEncoder? _encoder;
    private IChamferScorer _scorer = new CpuChamferScorer();
    private MuveraCalibration? _calibration;
    private long _tokenEncodingTicks;
    private long _fdeEncodingTicks;
    private long _indexingTicks;
    private int _deleted;
    private bool _disposed;

    private MuveraIndex(MuveraIndexOptions options, MipsBackend backend, FdeEncoder? encoder, MultiVectorStore store,
        IMipsIndex mips, Dictionary<string, int> ordinals, List<string?> ids, int deleted, MuveraCalibration? calibration)
    {
        Options = options;
        Backend = backend;
        _encoder = encoder;
        _store = store;
        _mips = mips;
        _ordinals = ordinals;
        _ids = ids;
        _deleted = deleted;
        _calibration = calibration;
    }

    /// <summary>The options the index was created with.</summary>
    public MuveraIndexOptions Options { get; }

    /// <summary>How many live documents an index with learned partitions holds when it trains them by itself (1,024):
    /// the <see cref="AddRange(IReadOnlyList{string}, IReadOnlyList{ReadOnlyMultiVector})"/> that reaches this count
    /// trains on a sample of all its documents' tokens.</summary>
    public const int PartitionTrainingDocuments = 1024;

    /// <summary>How many documents <see cref="AddRange(IReadOnlyList{string}, IReadOnlyList{ReadOnlyMultiVector}, ParallelOptions, IProgress{MuveraProgress})"/>
    /// encodes between two progress reports (256).</summary>
    public const int ProgressStep = 256;

    /// <summary>The FDE encoder (use it to encode queries elsewhere; it is immutable and thread-safe).</summary>
    /// <exception cref="InvalidOperationException">The index has learned partitions that are not trained yet
    /// (<see cref="IsTrained"/> is false).</exception>
    public FdeEncoder Encoder => Volatile.Read(ref _encoder) ?? throw new InvalidOperationException(
        $"The index's FDE partitions ({Options.Fde.Partitioning}) are not trained yet, so it has no encoder: it trains once it holds " +
        $"{PartitionTrainingDocuments} documents, or call Train.");

    /// <summary>Whether the index can encode FDEs: always for SimHash; for learned partitions once they are trained
    /// (see <see cref="Train()"/>). Until then searches are exact.</summary>
    public bool IsTrained => Volatile.Read(ref _encoder) is not null;

    /// <summary>The MIPS backend that holds the FDEs.</summary>
    public MipsBackend Backend { get; }

    /// <summary>The token dimension of documents and queries.</summary>
    public int Dimension => Options.Fde.Dimension;

    /// <summary>The number of live (not deleted) documents.</summary>
    public int Count
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return _ordinals.Count;
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    /// <summary>The number of deleted documents still taking space (until <see cref="Compact"/>).</summary>
    public int DeletedCount => Volatile.Read(ref _deleted);

    /// <summary>The calibration stored with the index (<see cref="Calibrate(IReadOnlyList{ReadOnlyMultiVector}, int, double)"/>), or null.</summary>
    public MuveraCalibration? Calibration => Volatile.Read(ref _calibration);

    // The MIPS index itself, for tests.
    internal IMipsIndex MipsIndexForTests => _mips;

    /// <summary>The scorer used for reranking and exact search (default: a <see cref="CpuChamferScorer"/> on every core).
    /// Set a GPU scorer here to rerank on the GPU; not saved with the index.</summary>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    public IChamferScorer Scorer
    {
        get => Volatile.Read(ref _scorer);
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            Volatile.Write(ref _scorer, value);
        }
    }

    /// <summary>Bytes of stored token vectors as encoded (all documents, deleted ones included until compaction): tokens
    /// × bytes per token of the <see cref="MuveraIndexOptions.TokenStorage"/>, plus a quantized storage's learned
    /// parameters (centroids, bucket cut-offs and values, scales) as saved, so that dividing by
    /// the document count amortises the codebook (<see cref="MultiVectorStore.EncodedBytes"/>).</summary>
    public long TokenBytes
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return _store.EncodedBytes;
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    /// <summary>Bytes the MIPS index holds in memory, when its backend reports it (the flat backend does); else null.</summary>
    public long? FdeBytes
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return Backend.MemoryBytes(_mips);
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    /// <summary>Bytes one document's FDE takes in the MIPS index (fixed costs such as a quantizer's codebook excluded),
    /// when the backend reports it (the flat backend does); else null. A quantized flat index reports float32 sizes
    /// until it is trained.</summary>
    public long? FdeBytesPerDocument
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return Backend.BytesPerVector(_mips);
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    /// <summary>An empty index with the default backend: a <see cref="FlatMipsBackend"/> with the default storage
    /// (<see cref="FdeStorage.Default"/>: 4-bit product quantization with a refinement stage, trained once the index
    /// holds 1,024 documents; FDEs stay float32 until then).</summary>
    /// <param name="options">Encoding and storage options.</param>
    /// <returns>The index.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The FDE options are invalid (the message names the field).</exception>
    public static MuveraIndex Create(MuveraIndexOptions options) => Create(options, new FlatMipsBackend());

    /// <summary>An empty index whose FDEs live in <paramref name="backend"/>.</summary>
    /// <param name="options">Encoding and storage options.</param>
    /// <param name="backend">The MIPS backend (flat, USearch HNSW, FAISS).</param>
    /// <returns>The index.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The FDE options are invalid (the message names the field).</exception>
    public static MuveraIndex Create(MuveraIndexOptions options, MipsBackend backend)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Fde, "options.Fde");
        ArgumentNullException.ThrowIfNull(backend);
        if (options.TokenElementType is not (StoreElementType.Float32 or StoreElementType.Float16))
        {
            ThrowHelper.ThrowArgumentOutOfRange("options.TokenElementType", options.TokenElementType,
                $"Token element type {(int)options.TokenElementType} is not a float storage (0 = Float32, 1 = Float16); set options.TokenStorage for int8 or residual tokens.");
        }

        if (options.TokenStorage is not null && options.TokenElementType != StoreElementType.Float32)
        {
            ThrowHelper.ThrowArgument(
                $"options sets both TokenStorage ({options.TokenStorage}) and TokenElementType ({options.TokenElementType}); set one of them.", nameof(options));
        }

        options.Fde.Validate();
        FdeEncoder? encoder = options.Fde.RequiresTraining ? null : new FdeEncoder(options.Fde);
        var store = new MultiVectorStore(options.Fde.Dimension, options.EffectiveTokenStorage, options.NormalizeTokens);
        IMipsIndex mips = backend.Create(options.Fde.OutputDimension);
        return new MuveraIndex(options, backend, encoder, store, mips, new Dictionary<string, int>(StringComparer.Ordinal), [], 0, null);
    }

    /// <summary>Whether a live document has this id.</summary>
    /// <param name="id">The id.</param>
    /// <returns>True when present and not deleted.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="id"/> is null.</exception>
    public bool Contains(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        _lock.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            return _ordinals.ContainsKey(id);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>The ids of all live documents, in insertion order (a snapshot).</summary>
    /// <returns>The ids.</returns>
    public string[] GetIds()
    {
        _lock.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            var result = new string[_ordinals.Count];
            int next = 0;
            foreach (string? id in _ids)
            {
                if (id is not null)
                {
                    result[next++] = id;
                }
            }

            return result;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>A copy of a document's stored token vectors (normalised or rounded as the options say).</summary>
    /// <param name="id">A live document's id.</param>
    /// <returns>The tokens.</returns>
    /// <exception cref="KeyNotFoundException">No live document has this id.</exception>
    public ReadOnlyMultiVector GetDocument(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        _lock.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            int ordinal = OrdinalOf(id);
            float[] tokens = new float[_store.TokenCountOf(ordinal) * Dimension];
            _store.CopyTokens(ordinal, tokens);
            return new ReadOnlyMultiVector(tokens, Dimension);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Adds one document.</summary>
    /// <param name="id">Its id: not null or empty, well-formed UTF-16 (no lone surrogate), not already present.</param>
    /// <param name="document">Its token vectors (at least one, of <see cref="Dimension"/>).</param>
    /// <exception cref="ArgumentException">A duplicate, empty or malformed (lone surrogate) id, an empty document, a wrong dimension or a NaN, ∞ or too large
    /// value (<see cref="FdeEncoder.TokenValueLimit"/>); the message names the id.</exception>
    public void Add(string id, ReadOnlyMultiVector document) => AddRange([id], [document], s_defaultParallelOptions);

    /// <summary>Adds documents: FDEs are encoded in parallel outside the lock, then appended all at once. All or
    /// nothing: on any exception the index is unchanged.</summary>
    /// <param name="ids">Their ids (unique, not present yet, not null or empty, well-formed UTF-16).</param>
    /// <param name="documents">Their token vectors, one per id.</param>
    /// <exception cref="ArgumentNullException">A list is null.</exception>
    /// <exception cref="ArgumentException">The lists differ in length, or a duplicate, empty or malformed (lone surrogate) id, an empty document, a
    /// wrong dimension or a NaN, ∞ or too large value (<see cref="FdeEncoder.TokenValueLimit"/>) (the message names the id and its position).</exception>
    public void AddRange(IReadOnlyList<string> ids, IReadOnlyList<ReadOnlyMultiVector> documents) =>
        AddRange(ids, documents, s_defaultParallelOptions);

    /// <summary>Adds documents with a thread limit and cancellation for the encoding (see
    /// <see cref="AddRange(IReadOnlyList{string}, IReadOnlyList{ReadOnlyMultiVector})"/>).</summary>
    /// <param name="ids">Their ids (unique, not present yet, not null or empty, well-formed UTF-16).</param>
    /// <param name="documents">Their token vectors, one per id.</param>
    /// <param name="parallelOptions">Thread limit and cancellation token; a cancelled call changes nothing.</param>
    /// <exception cref="OperationCanceledException">The token was cancelled (the index is unchanged).</exception>
    public void AddRange(IReadOnlyList<string> ids, IReadOnlyList<ReadOnlyMultiVector> documents, ParallelOptions parallelOptions) =>
        AddRange(ids, documents, parallelOptions, null);

    /// <summary>Adds documents with a thread limit, cancellation and progress (see
    /// <see cref="AddRange(IReadOnlyList{string}, IReadOnlyList{ReadOnlyMultiVector})"/>): still all or nothing.</summary>
    /// <param name="ids">Their ids (unique, not present yet, not null or empty, well-formed UTF-16).</param>
    /// <param name="documents">Their token vectors, one per id.</param>
    /// <param name="parallelOptions">Thread limit and cancellation token; a cancelled call changes nothing (the token
    /// is also checked between steps of <see cref="ProgressStep"/> documents).</param>
    /// <param name="progress">Receives <see cref="MuveraProgressStage.AddingDocuments"/> reports, or null: after every
    /// <see cref="ProgressStep"/> documents' FDEs are encoded, then <c>Completed == Total</c> once the documents are
    /// added (an index whose partitions are not trained yet makes only that last report). Called on this thread,
    /// outside the index's lock.</param>
    /// <remarks>Encoding in steps gives the same FDEs as one call (each depends only on its document); the documents
    /// are appended at once at the end, so searches never see part of the call.</remarks>
    /// <exception cref="ArgumentNullException">A list or <paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">The lists differ in length, or a duplicate, empty or malformed id, an empty
    /// document, a wrong dimension or a bad value (the message names the id and its position).</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (the index is unchanged).</exception>
    /// <remarks>One call encodes its documents' FDEs into one array: at most <see cref="MaxDocumentsPerAdd(int)"/>
    /// documents per call (52,428 with the default 40,960-float FDEs); larger collections are added in several calls.</remarks>
    public void AddRange(IReadOnlyList<string> ids, IReadOnlyList<ReadOnlyMultiVector> documents, ParallelOptions parallelOptions,
        IProgress<MuveraProgress>? progress)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(parallelOptions);
        if (ids.Count != documents.Count)
        {
            ThrowHelper.ThrowArgument($"ids has {ids.Count} entries but documents has {documents.Count}; they must pair up.", nameof(documents));
        }

        int fdeDimension = Options.Fde.OutputDimension;
        if ((long)documents.Count * fdeDimension > Array.MaxLength)
        {
            ThrowHelper.ThrowArgument(
                $"documents holds {documents.Count} documents, whose {fdeDimension}-float FDEs are more than one AddRange encodes at once " +
                $"(one array of at most {Array.MaxLength} floats); add at most {MaxDocumentsPerAdd(fdeDimension)} documents per call.", nameof(documents));
        }

        var batchIds = new HashSet<string>(ids.Count, StringComparer.Ordinal);
        for (int i = 0; i < ids.Count; i++)
        {
            string id = ids[i];
            if (string.IsNullOrEmpty(id))
            {
                ThrowHelper.ThrowArgument($"ids[{i}] is null or empty; every document needs a non-empty id.", nameof(ids));
            }

            int surrogate = IdMapFile.IndexOfLoneSurrogate(id);
            if (surrogate >= 0)
            {
                ThrowHelper.ThrowArgument(
                    $"ids[{i}] \"{IdMapFile.Escape(id)}\" holds a lone surrogate U+{(int)id[surrogate]:X4} at index {surrogate}; ids must be " +
                    "well-formed UTF-16 (the id map stores them as UTF-8).", nameof(ids));
            }

            if (!batchIds.Add(id))
            {
                ThrowHelper.ThrowArgument($"ids[{i}] \"{id}\" appears twice in this batch; ids must be unique.", nameof(ids));
            }

            ValidateDocument(documents[i], $"documents[{i}] (id \"{id}\")");
        }

        // Step reports come from the first attempt only, so that a retry never makes them go backwards.
        IProgress<MuveraProgress>? steps = progress;
        while (true)
        {
            if (Volatile.Read(ref _encoder) is null)
            {
                AddUntrained(ids, documents, parallelOptions);
                break;
            }

            Prepared prepared = Prepare(documents, parallelOptions, steps);
            steps = null;
            _lock.EnterWriteLock();
            try
            {
                ThrowIfDisposed();
                CheckAbsent(ids);
                if (prepared.Codec is not null && _store.Codec is { } current && current != prepared.Codec)
                {
                    // Another writer trained the codec after this batch was prepared: encode again with it.
                    continue;
                }

                AppendUnderLock(ids, prepared, null, parallelOptions);
                break;
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }

        progress?.Report(new MuveraProgress(MuveraProgressStage.AddingDocuments, ids.Count, ids.Count));
    }

    /// <summary>Whether the token storage can take documents: always for float storage; for int8 or residual storage
    /// once its codec is trained (by the first batch added, <see cref="TrainTokenStorage(IReadOnlyList{ReadOnlyMultiVector})"/>,
    /// or loaded with the index).</summary>
    public bool IsTokenStorageTrained
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return _store.IsTrained;
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    /// <summary>Trains an int8 or residual token storage on <paramref name="sample"/> before any document is added,
    /// instead of on the first batch (see <see cref="Muvera.TokenStorage"/>).</summary>
    /// <param name="sample">Token vectors to learn from (normalised first when the index normalises tokens). Their total
    /// token count T sizes a residual codebook (ColBERTv2's K = 2^⌊log₂(16·√T)⌋ unless the storage fixes K); up to
    /// <see cref="Muvera.TokenStorage.MaxTrainingSample"/> of them, drawn uniformly, are read.</param>
    /// <exception cref="ArgumentException">Fewer than <see cref="Muvera.TokenStorage.MinTrainingTokens"/> tokens, a
    /// wrong dimension, or a NaN, ∞ or too large value.</exception>
    /// <exception cref="InvalidOperationException">The token storage is float (nothing to train) or already trained.</exception>
    public void TrainTokenStorage(IReadOnlyList<ReadOnlyMultiVector> sample) => TrainTokenStorage(sample, s_defaultParallelOptions);

    /// <summary>Trains the token storage with a thread limit and cancellation (see
    /// <see cref="TrainTokenStorage(IReadOnlyList{ReadOnlyMultiVector})"/>); a cancelled call changes nothing.</summary>
    /// <param name="sample">Token vectors to learn from.</param>
    /// <param name="parallelOptions">Thread limit and cancellation token.</param>
    /// <exception cref="ArgumentException">Too few tokens, a wrong dimension, or an invalid value.</exception>
    /// <exception cref="InvalidOperationException">The token storage is float or already trained.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public void TrainTokenStorage(IReadOnlyList<ReadOnlyMultiVector> sample, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(parallelOptions);
        TokenStorage storage = Options.EffectiveTokenStorage;
        if (!storage.IsQuantized)
        {
            throw new InvalidOperationException($"This index stores {storage} tokens, which need no training.");
        }

        var documents = new ReadOnlyMemory<float>[sample.Count];
        for (int i = 0; i < sample.Count; i++)
        {
            if (sample[i].Dimension != Dimension && sample[i].Count > 0)
            {
                ThrowHelper.ThrowArgument($"sample[{i}] has token dimension {sample[i].Dimension}, but the index's dimension is {Dimension}.", nameof(sample));
            }

            documents[i] = sample[i].Values;
        }

        ThrowIfTrained(storage);
        TokenCodec codec = MultiVectorStore.TrainCodec(storage, Dimension, Options.NormalizeTokens, documents, nameof(sample), parallelOptions);
        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            ThrowIfTrained(storage);
            if (_store.IsMapped)
            {
                MultiVectorStore copy = _store.ToInMemory();
                _store.Dispose();
                _store = copy;
            }

            _store.SetCodec(codec);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Checks every block of the token store against its checksum now (a loaded index verifies each block on
    /// first use otherwise; see <see cref="MuveraLoadOptions.VerifyTokens"/>). Does nothing for an index built in
    /// memory.</summary>
    /// <exception cref="System.IO.InvalidDataException">A block of the token file is corrupt or holds an invalid value;
    /// the message names the file, the block and its tokens.</exception>
    public void Verify()
    {
        _lock.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            _store.Verify();
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    private void ThrowIfTrained(TokenStorage storage)
    {
        if (Volatile.Read(ref _store).IsTrained)
        {
            throw new InvalidOperationException($"The index's {storage} token storage is already trained; its stored codes depend on the codec, so it cannot be retrained (build a new index).");
        }
    }

    /// <summary>Trains the learned partitions on the documents the index holds (a sample of
    /// <see cref="FdeOptions.TrainingSample"/> tokens drawn from all live documents) and encodes every document; see
    /// <see cref="Train(IReadOnlyList{ReadOnlyMultiVector}, ParallelOptions)"/>.</summary>
    /// <exception cref="InvalidOperationException">The index is already trained (SimHash indexes always are) or holds no
    /// live document.</exception>
    public void Train() => TrainCore(null, s_defaultParallelOptions, throwIfTrained: true);

    /// <summary>Trains the learned partitions on the documents the index holds, with a thread limit and cancellation;
    /// see <see cref="Train()"/>.</summary>
    /// <param name="parallelOptions">Thread limit and cancellation token; a cancelled call changes nothing.</param>
    /// <exception cref="InvalidOperationException">The index is already trained or holds no live document.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (the index is unchanged).</exception>
    public void Train(ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);
        TrainCore(null, parallelOptions, throwIfTrained: true);
    }

    /// <summary>Trains the learned partitions on a sample of documents (see
    /// <see cref="Train(IReadOnlyList{ReadOnlyMultiVector}, ParallelOptions)"/>).</summary>
    /// <param name="sample">Token vectors of documents like the corpus (need not be added).</param>
    /// <exception cref="ArgumentException">The sample holds no token, a wrong dimension or a bad value.</exception>
    /// <exception cref="InvalidOperationException">The index is already trained (SimHash indexes always are).</exception>
    public void Train(IReadOnlyList<ReadOnlyMultiVector> sample) => Train(sample, s_defaultParallelOptions);

    /// <summary>
    /// Trains the learned partitions (<see cref="FdePartitioning.KMeans"/>) on <paramref name="sample"/>: a sample of
    /// <see cref="FdeOptions.TrainingSample"/> tokens is drawn from its documents
    /// (<see cref="FdeEncoder.Train(FdeOptions, IReadOnlyList{ReadOnlyMultiVector}, ParallelOptions)"/>), then every
    /// document the index holds is encoded and added to the MIPS index. With quantized FDE storage
    /// (<see cref="FdeStorage.IsQuantized"/>, the default) that has not trained yet, the quantizer trains too, on the FDEs
    /// of up to <see cref="FdeStorage.MaxTrainingSample"/> documents spread evenly over the sample (when it holds at
    /// least <see cref="FdeStorage.TrainingRows"/>; a smaller sample leaves the quantizer to train on the documents
    /// added). Call it before adding documents to train on a sample spread over the whole corpus (better than the
    /// first documents added when the corpus is ordered by topic), or at any time before the index trains by itself.
    /// </summary>
    /// <param name="sample">Token vectors of documents like the corpus (need not be added; not kept). Values are used
    /// as given: normalise them first if the index normalises its tokens.</param>
    /// <param name="parallelOptions">Thread limit and cancellation token; a cancelled call changes nothing.</param>
    /// <remarks>Searches continue while it trains and encodes; other writers wait. Deterministic: the same sample and
    /// options give the same partitions on every machine and thread count.</remarks>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The sample holds no token, a wrong dimension or a NaN, ∞ or too large value
    /// (<see cref="FdeEncoder.TokenValueLimit"/>).</exception>
    /// <exception cref="InvalidOperationException">The index is already trained (SimHash indexes always are).</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (the index is unchanged).</exception>
    public void Train(IReadOnlyList<ReadOnlyMultiVector> sample, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(parallelOptions);
        TrainCore(sample, parallelOptions, throwIfTrained: true);
    }

    /// <summary>Replaces a document's token vectors (a delete plus an add under one lock, so a search sees the old or
    /// the new version, never neither).</summary>
    /// <param name="id">A live document's id.</param>
    /// <param name="document">The new token vectors.</param>
    /// <exception cref="KeyNotFoundException">No live document has this id.</exception>
    /// <exception cref="ArgumentException">An empty document, a wrong dimension or a NaN, ∞ or too large value (<see cref="FdeEncoder.TokenValueLimit"/>).</exception>
    /// <remarks>An index whose partitions are not trained yet stores the new tokens without an FDE (an update never
    /// starts training).</remarks>
    public void Update(string id, ReadOnlyMultiVector document)
    {
        ArgumentNullException.ThrowIfNull(id);
        ValidateDocument(document, $"{nameof(document)} (id \"{id}\")");
        Prepared prepared = Prepare([document], s_defaultParallelOptions);
        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            int old = OrdinalOf(id);
            _ordinals.Remove(id);
            _ids[old] = null;
            try
            {
                AppendUnderLock([id], prepared, null, s_defaultParallelOptions);
            }
            catch
            {
                _ordinals[id] = old;
                _ids[old] = id;
                throw;
            }

            _deleted++;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Deletes a document: searches stop returning it at once; its space is reclaimed by
    /// <see cref="Compact"/>.</summary>
    /// <param name="id">The id.</param>
    /// <returns>True when a live document was deleted; false when none had this id.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="id"/> is null.</exception>
    public bool Delete(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            if (!_ordinals.Remove(id, out int ordinal))
            {
                return false;
            }

            _ids[ordinal] = null;
            _deleted++;
            return true;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Searches with the default options (<see cref="MuveraSearchOptions.Default"/>).</summary>
    /// <param name="query">The query's token vectors (at least one, of <see cref="Dimension"/>).</param>
    /// <param name="k">How many hits at most (positive).</param>
    /// <returns>Up to <paramref name="k"/> hits, best first (ties to the earlier-added document).</returns>
    public MuveraSearchHit[] Search(ReadOnlyMultiVector query, int k) => Search(query, k, MuveraSearchOptions.Default);

    /// <summary>MUVERA search: the query's FDE finds N candidates in the MIPS index, deleted documents are skipped, and
    /// the candidates are reranked with exact Chamfer (unless <see cref="MuveraSearchOptions.Rerank"/> is off). Until
    /// learned partitions are trained (<see cref="IsTrained"/> false) the search is exact instead: brute-force Chamfer
    /// over every document, hits with <see cref="MuveraSearchHit.FdeScore"/> NaN.</summary>
    /// <param name="query">The query's token vectors (at least one, of <see cref="Dimension"/>).</param>
    /// <param name="k">How many hits at most (positive).</param>
    /// <param name="options">Candidates, reranking and ball carving.</param>
    /// <returns>Up to <paramref name="k"/> hits, best first (ties to the earlier-added document).</returns>
    /// <exception cref="ArgumentException">An empty query, a wrong dimension or a NaN, ∞ or too large value (<see cref="FdeEncoder.TokenValueLimit"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive, or
    /// <see cref="MuveraSearchOptions.Candidates"/> is smaller than <paramref name="k"/>.</exception>
    public MuveraSearchHit[] Search(ReadOnlyMultiVector query, int k, MuveraSearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (options.Candidates is int requested && requested < k)
        {
            ThrowHelper.ThrowArgumentOutOfRange("options.Candidates", requested,
                $"Candidates ({requested}) must be at least k ({k}): reranking cannot return more hits than it has candidates.");
        }

        ValidateQuery(query);
        FdeEncoder? encoder = Volatile.Read(ref _encoder);
        if (encoder is null)
        {
            // Not trained when read; exact whatever happens meanwhile (an index trained since is exact too).
            return SearchExact(query, k, options.Filter);
        }

        float[] fde = encoder.EncodeQuery(query);
        ReadOnlyMultiVector rerankQuery = options.Rerank && options.BallCarving
            ? QueryReduction.BallCarve(query, options.BallCarvingThreshold)
            : query;
        IChamferScorer scorer = Scorer;

        _lock.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            int live = _ordinals.Count;
            if (live == 0)
            {
                return [];
            }

            int candidates = options.Candidates ?? DefaultOrCalibrated(k);
            MipsFilter? allowed = options.Filter?.Resolve(_ids, _ordinals);
            if (allowed is not null)
            {
                if (allowed.AllowedCount == 0)
                {
                    return [];
                }

                if (options.Rerank && allowed.AllowedCount <= candidates)
                {
                    // Every allowed document would be a candidate: rerank them all, which is the filtered exact result.
                    return Hits(scorer.Rerank(rerankQuery, _store, allowed.ToArray(), k), null);
                }
            }

            int? probes = options.Probes ?? Calibration?.Probes;
            List<ScoredId> found = allowed is null
                ? CandidatesUnderLock(fde, Math.Min(candidates, live), probes)
                : FilteredCandidatesUnderLock(fde, Math.Min(candidates, allowed.AllowedCount), allowed, probes);
            if (!options.Rerank)
            {
                int count = Math.Min(k, found.Count);
                var hits = new MuveraSearchHit[count];
                for (int i = 0; i < count; i++)
                {
                    hits[i] = new MuveraSearchHit(_ids[found[i].Id]!, found[i].Score, found[i].Score);
                }

                return hits;
            }

            var ordinals = new int[found.Count];
            var fdeScores = new Dictionary<int, float>(found.Count);
            for (int i = 0; i < found.Count; i++)
            {
                ordinals[i] = found[i].Id;
                fdeScores[found[i].Id] = found[i].Score;
            }

            ScoredId[] reranked = found.Count == 0 ? [] : scorer.Rerank(rerankQuery, _store, ordinals, k);
            return Hits(reranked, fdeScores);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Exact search: Chamfer against every live document (brute force with <see cref="Scorer"/>); the
    /// reference MUVERA approximates. Hits carry <see cref="MuveraSearchHit.FdeScore"/> = NaN.</summary>
    /// <param name="query">The query's token vectors (at least one, of <see cref="Dimension"/>).</param>
    /// <param name="k">How many hits at most (positive).</param>
    /// <returns>Up to <paramref name="k"/> hits, best first (ties to the earlier-added document).</returns>
    /// <exception cref="ArgumentException">An empty query, a wrong dimension or a NaN, ∞ or too large value (<see cref="FdeEncoder.TokenValueLimit"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    public MuveraSearchHit[] SearchExact(ReadOnlyMultiVector query, int k) => SearchExact(query, k, null);

    /// <summary>Exact search among the documents <paramref name="filter"/> allows: Chamfer against each of them (brute
    /// force with <see cref="Scorer"/>). Hits carry <see cref="MuveraSearchHit.FdeScore"/> = NaN.</summary>
    /// <param name="query">The query's token vectors (at least one, of <see cref="Dimension"/>).</param>
    /// <param name="k">How many hits at most (positive).</param>
    /// <param name="filter">The allowed documents, or null for all.</param>
    /// <returns>Up to <paramref name="k"/> hits, best first (ties to the earlier-added document).</returns>
    /// <exception cref="ArgumentException">An empty query, a wrong dimension or a NaN, ∞ or too large value (<see cref="FdeEncoder.TokenValueLimit"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    public MuveraSearchHit[] SearchExact(ReadOnlyMultiVector query, int k, MuveraFilter? filter)
    {
        if (filter is not null)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
            ValidateQuery(query);
            IChamferScorer filteredScorer = Scorer;
            _lock.EnterReadLock();
            try
            {
                ThrowIfDisposed();
                MipsFilter allowed = filter.Resolve(_ids, _ordinals);
                return allowed.AllowedCount == 0 ? [] : Hits(filteredScorer.Rerank(query, _store, allowed.ToArray(), k), null);
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ValidateQuery(query);
        IChamferScorer scorer = Scorer;
        _lock.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            ScoredId[] top = ExactUnderLock(scorer, query, k);
            var hits = new MuveraSearchHit[top.Length];
            for (int i = 0; i < top.Length; i++)
            {
                hits[i] = new MuveraSearchHit(_ids[top[i].Id]!, top[i].Score, float.NaN);
            }

            return hits;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Rebuilds the store and the MIPS index without deleted documents (FDEs are re-encoded from the stored
    /// tokens with the same encoder, which gives the same FDEs bit for bit; an untrained index has none). Ids do not
    /// change. Searches wait while this runs.</summary>
    public void Compact() => CompactCore(s_defaultParallelOptions);

    /// <summary>Releases the token store mapping and the MIPS index. Idempotent.</summary>
    public void Dispose()
    {
        _lock.EnterWriteLock();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _mips.Dispose();
            _store.Dispose();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private static int DefaultCandidates(int k) => (int)Math.Min(int.MaxValue, Math.Max((long)MuveraSearchOptions.DefaultCandidates, 10L * k));

    private int DefaultOrCalibrated(int k) => Calibration is { } calibration ? Math.Max(calibration.Candidates, k) : DefaultCandidates(k);

    private void CompactCore(ParallelOptions parallelOptions)
    {
        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            CompactUnderLock(parallelOptions);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private void CompactUnderLock(ParallelOptions parallelOptions)
    {
        if (_deleted == 0)
        {
            return;
        }

        MultiVectorStore store = _store.CreateEmptyLike();
        bool quantized = _store.Storage.IsQuantized;
        var liveIds = new List<string?>(_ordinals.Count);
        var documents = new List<ReadOnlyMultiVector>(_ordinals.Count);
        var records = new List<byte[]>(quantized ? _ordinals.Count : 0);
        for (int ordinal = 0; ordinal < _ids.Count; ordinal++)
        {
            if (_ids[ordinal] is not string id)
            {
                continue;
            }

            float[] tokens = new float[_store.TokenCountOf(ordinal) * Dimension];
            _store.CopyTokens(ordinal, tokens);
            documents.Add(new ReadOnlyMultiVector(tokens, Dimension));
            if (quantized)
            {
                // The codes move as they are (re-encoding a reconstruction could pick other codes); their decoded values,
                // from which the FDEs were encoded on add, are the copies above.
                records.Add(_store.Records(ordinal).ToArray());
            }

            liveIds.Add(id);
        }

        // The copies are exact stored values (already normalised and rounded), so they go in through the raw path and
        // encode to the same FDEs as when they were added.
        float[] fdes = _encoder is { } encoder ? encoder.EncodeDocuments(documents, parallelOptions) : [];
        IMipsIndex mips = Backend.CreateEmptyLike(_mips);
        try
        {
            for (int i = 0; i < documents.Count; i++)
            {
                if (quantized)
                {
                    store.AddEncoded(records[i]);
                }
                else
                {
                    store.AddPrepared(documents[i].Span);
                }
            }

            if (fdes.Length > 0)
            {
                Backend.Add(mips, fdes, parallelOptions);
            }
        }
        catch
        {
            mips.Dispose();
            throw;
        }

        _mips.Dispose();
        _store.Dispose();
        _mips = mips;
        _store = store;
        _ids.Clear();
        _ids.AddRange(liveIds);
        _ordinals.Clear();
        for (int i = 0; i < liveIds.Count; i++)
        {
            _ordinals[liveIds[i]!] = i;
        }

        _deleted = 0;
    }

    // Asks the MIPS index for enough results that `wanted` live ones survive the deleted ones, best first.
    private List<ScoredId> CandidatesUnderLock(ReadOnlySpan<float> fde, int wanted, int? probes = null)
    {
        int total = _ids.Count;
        int request = (int)Math.Min(total, (long)wanted + _deleted);
        var buffer = new ScoredId[request];
        int got = Backend.Search(_mips, fde, request, buffer, probes, null);
        var found = new List<ScoredId>(Math.Min(wanted, got));
        for (int i = 0; i < got && found.Count < wanted; i++)
        {
            int ordinal = buffer[i].Id;
            if ((uint)ordinal < (uint)total && _ids[ordinal] is not null)
            {
                found.Add(buffer[i]);
            }
        }

        return found;
    }

    // The best `wanted` allowed candidates (the filter already excludes deleted documents).
    private List<ScoredId> FilteredCandidatesUnderLock(ReadOnlySpan<float> fde, int wanted, MipsFilter allowed, int? probes)
    {
        var buffer = new ScoredId[Math.Max(wanted, 1)];
        int got = Backend.Search(_mips, fde, wanted, buffer, probes, allowed);
        var found = new List<ScoredId>(got);
        for (int i = 0; i < got; i++)
        {
            if (allowed.Allows(buffer[i].Id) && _ids[buffer[i].Id] is not null)
            {
                found.Add(buffer[i]);
            }
        }

        return found;
    }

    // Reranked (or exact) results as hits; FDE scores from the candidates, NaN where there were none.
    private MuveraSearchHit[] Hits(ScoredId[] ranked, Dictionary<int, float>? fdeScores)
    {
        var hits = new MuveraSearchHit[ranked.Length];
        for (int i = 0; i < ranked.Length; i++)
        {
            float fdeScore = fdeScores is not null && fdeScores.TryGetValue(ranked[i].Id, out float value) ? value : float.NaN;
            hits[i] = new MuveraSearchHit(_ids[ranked[i].Id]!, ranked[i].Score, fdeScore);
        }

        return hits;
    }

    private ScoredId[] ExactUnderLock(IChamferScorer scorer, ReadOnlyMultiVector query, int k)
    {
        if (_ordinals.Count == 0)
        {
            return [];
        }

        int request = (int)Math.Min(_ids.Count, (long)k + _deleted);
        ScoredId[] all = scorer.TopK(query, _store, request);
        var live = new List<ScoredId>(Math.Min(k, all.Length));
        foreach (ScoredId hit in all)
        {
            if (_ids[hit.Id] is not null)
            {
                live.Add(hit);
                if (live.Count == k)
                {
                    break;
                }
            }
        }

        return [.. live];
    }

    private int OrdinalOf(string id)
    {
        if (!_ordinals.TryGetValue(id, out int ordinal))
        {
            throw new KeyNotFoundException($"No document with id \"{id}\" is in the index.");
        }

        return ordinal;
    }

    private void ValidateDocument(ReadOnlyMultiVector document, string name)
    {
        if (document.Count == 0)
        {
            ThrowHelper.ThrowArgument($"{name} has no tokens; a document needs at least one token vector.", "documents");
        }

        if (document.Dimension != Dimension)
        {
            ThrowHelper.ThrowArgument($"{name} has token dimension {document.Dimension}, but the index's dimension is {Dimension}.", "documents");
        }

        if (FdeKernels.HasOutOfRange(SimdDispatch.Preferred, document.Span))
        {
            ThrowHelper.ThrowTokenValue("documents", name, document.Span, Dimension);
        }
    }

    private void ValidateQuery(ReadOnlyMultiVector query)
    {
        if (query.Count == 0)
        {
            ThrowHelper.ThrowArgument($"{nameof(query)} has no tokens; a query needs at least one token vector.", nameof(query));
        }

        if (query.Dimension != Dimension)
        {
            ThrowHelper.ThrowArgument($"{nameof(query)} has token dimension {query.Dimension}, but the index's dimension is {Dimension}.", nameof(query));
        }

        if (FdeKernels.HasOutOfRange(SimdDispatch.Preferred, query.Span))
        {
            ThrowHelper.ThrowTokenValue(nameof(query), nameof(query), query.Span, Dimension);
        }
    }

    // Tokens as the store will hold them (normalised, rounded to half, or encoded and decoded by the codec) and their
    // FDEs (none before the partitions train), computed outside the lock. FDEs are encoded from the stored tokens, so
    // that a document's FDE matches what reranking reads.
    private Prepared Prepare(IReadOnlyList<ReadOnlyMultiVector> documents, ParallelOptions parallelOptions, IProgress<MuveraProgress>? progress = null)
    {
        long start = Stopwatch.GetTimestamp();
        Prepared prepared = PrepareTokens(documents, parallelOptions);
        long tokens = Stopwatch.GetTimestamp();
        Interlocked.Add(ref _tokenEncodingTicks, tokens - start);
        FdeEncoder? encoder = Volatile.Read(ref _encoder);
        float[]? fdes = encoder is null ? null
            : progress is null ? encoder.EncodeDocuments(prepared.Documents, parallelOptions)
            : EncodeInSteps(encoder, prepared.Documents, parallelOptions, progress);
        Interlocked.Add(ref _fdeEncodingTicks, Stopwatch.GetTimestamp() - tokens);
        return prepared with { Fdes = fdes };
    }

    /// <summary>The most documents one <see cref="AddRange(IReadOnlyList{string}, IReadOnlyList{ReadOnlyMultiVector})"/>
    /// call takes with FDEs of <paramref name="fdeDimension"/> floats: their FDEs are encoded into one array.</summary>
    /// <param name="fdeDimension">The FDE length (<see cref="FdeOptions.OutputDimension"/>, positive).</param>
    /// <returns><c>Array.MaxLength / fdeDimension</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fdeDimension"/> is not positive.</exception>
    public static int MaxDocumentsPerAdd(int fdeDimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fdeDimension);
        return Array.MaxLength / fdeDimension;
    }

    /// <summary>Time spent so far (since the index was created or loaded) encoding tokens for storage, encoding FDEs
    /// and adding FDEs to the MIPS index, summed over every add (wall-clock time of each stage, on all its threads).</summary>
    public MuveraBuildTimes BuildTimes => new(
        Stopwatch.GetElapsedTime(0, Volatile.Read(ref _tokenEncodingTicks)),
        Stopwatch.GetElapsedTime(0, Volatile.Read(ref _fdeEncodingTicks)),
        Stopwatch.GetElapsedTime(0, Volatile.Read(ref _indexingTicks)));

    // The FDEs of documents, ProgressStep at a time, with a report after every step but the last (the caller reports
    // Completed == Total once the documents are in).
    private static float[] EncodeInSteps(FdeEncoder encoder, ReadOnlyMultiVector[] documents, ParallelOptions parallelOptions, IProgress<MuveraProgress> progress)
    {
        int width = encoder.OutputDimension;
        float[] fdes = new float[(long)documents.Length * width];
        for (int first = 0; first < documents.Length; first += ProgressStep)
        {
            parallelOptions.CancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(ProgressStep, documents.Length - first);
            float[] step = encoder.EncodeDocuments(new ArraySegment<ReadOnlyMultiVector>(documents, first, count), parallelOptions);
            step.CopyTo(fdes.AsSpan(first * width));
            if (first + count < documents.Length)
            {
                progress.Report(new MuveraProgress(MuveraProgressStage.AddingDocuments, first + count, documents.Length));
            }
        }

        return fdes;
    }

    // Tokens as the store will hold them, without FDEs. An untrained quantized store's codec is trained here, from
    // this batch.
    private Prepared PrepareTokens(IReadOnlyList<ReadOnlyMultiVector> documents, ParallelOptions parallelOptions)
    {
        TokenStorage storage = Options.EffectiveTokenStorage;
        if (storage.IsQuantized)
        {
            return PrepareQuantized(documents, storage, parallelOptions);
        }

        // The store's element type comes from TokenStorage when it is set (TokenStorage.Float16 with the default
        // TokenElementType), so the rounding follows it too: FDEs must be encoded from what the store holds.
        StoreElementType elementType = storage.Kind;
        var stored = new ReadOnlyMultiVector[documents.Count];
        bool transform = Options.NormalizeTokens || elementType == StoreElementType.Float16;
        for (int i = 0; i < documents.Count; i++)
        {
            if (!transform)
            {
                stored[i] = documents[i];
                continue;
            }

            float[] copy = documents[i].Span.ToArray();
            MultiVectorStore.PrepareTokens(copy, Dimension, elementType, Options.NormalizeTokens, $"documents[{i}]");
            stored[i] = new ReadOnlyMultiVector(copy, Dimension);
        }

        return new Prepared(stored, null, null, null);
    }

    private Prepared PrepareQuantized(IReadOnlyList<ReadOnlyMultiVector> documents, TokenStorage storage, ParallelOptions parallelOptions)
    {
        TokenCodec? codec = Volatile.Read(ref _store).Codec;
        if (codec is null)
        {
            var values = new ReadOnlyMemory<float>[documents.Count];
            long tokens = 0;
            for (int i = 0; i < documents.Count; i++)
            {
                values[i] = documents[i].Values;
                tokens += documents[i].Count;
            }

            if (tokens < TokenStorage.MinTrainingTokens)
            {
                ThrowHelper.ThrowArgument(
                    $"documents holds {tokens} token vectors, but the index's {storage} token storage is not trained yet and trains on its first batch, " +
                    $"which needs at least {TokenStorage.MinTrainingTokens} tokens: add more documents at once, or call TrainTokenStorage with a sample first.",
                    nameof(documents));
            }

            codec = MultiVectorStore.TrainCodec(storage, Dimension, Options.NormalizeTokens, values, nameof(documents), parallelOptions);
        }

        var stored = new ReadOnlyMultiVector[documents.Count];
        var records = new byte[documents.Count][];
        Parallel.For(0, documents.Count, parallelOptions, i =>
        {
            float[] copy = documents[i].Span.ToArray();
            if (Options.NormalizeTokens)
            {
                MultiVectorStore.PrepareTokens(copy, Dimension, StoreElementType.Float32, normalize: true, $"documents[{i}]");
            }

            records[i] = new byte[documents[i].Count * codec.RecordBytes];
            codec.EncodeAndReconstruct(copy, records[i]);
            stored[i] = new ReadOnlyMultiVector(copy, Dimension);
        });
        return new Prepared(stored, null, records, codec);
    }

    private void CheckAbsent(IReadOnlyList<string> ids)
    {
        for (int i = 0; i < ids.Count; i++)
        {
            if (_ordinals.ContainsKey(ids[i]))
            {
                ThrowHelper.ThrowArgument($"ids[{i}] \"{ids[i]}\" is already in the index; use Update to replace a document.", nameof(ids));
            }
        }
    }

    // Adds documents to an index whose partitions are not trained: under the upgradeable lock (other writers wait,
    // searches go on) it trains when this batch brings the index to PartitionTrainingDocuments live documents, encodes
    // everything held and the batch, then appends it all under the write lock; all or nothing.
    private void AddUntrained(IReadOnlyList<string> ids, IReadOnlyList<ReadOnlyMultiVector> documents, ParallelOptions parallelOptions)
    {
        _lock.EnterUpgradeableReadLock();
        try
        {
            ThrowIfDisposed();
            CheckAbsent(ids);
            // No other writer can change the token codec while this lock is held, so the batch is encoded once.
            Prepared prepared = PrepareTokens(documents, parallelOptions);
            ReadOnlyMultiVector[] stored = prepared.Documents;
            FdeEncoder? encoder = _encoder;
            float[]? held = null;
            if (encoder is null && (long)_ordinals.Count + ids.Count >= PartitionTrainingDocuments)
            {
                var sample = new List<ReadOnlyMultiVector>(_ordinals.Count + stored.Length);
                sample.AddRange(new StoredDocuments(_store, _ids, liveOnly: true));
                sample.AddRange(stored);
                encoder = FdeEncoder.Train(Options.Fde, sample, parallelOptions);
                held = encoder.EncodeDocuments(new StoredDocuments(_store, _ids, liveOnly: false), parallelOptions);
            }

            prepared = prepared with { Fdes = encoder?.EncodeDocuments(stored, parallelOptions) };
            _lock.EnterWriteLock();
            try
            {
                AppendUnderLock(ids, prepared, held, parallelOptions);
                Volatile.Write(ref _encoder, encoder);
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }
        finally
        {
            _lock.ExitUpgradeableReadLock();
        }
    }

    // Trains the partitions on a sample (or the live documents held), encodes every document held and adds the FDEs.
    private void TrainCore(IReadOnlyList<ReadOnlyMultiVector>? sample, ParallelOptions parallelOptions, bool throwIfTrained)
    {
        _lock.EnterUpgradeableReadLock();
        try
        {
            ThrowIfDisposed();
            if (_encoder is not null)
            {
                if (!throwIfTrained)
                {
                    return;
                }

                throw new InvalidOperationException(Options.Fde.RequiresTraining
                    ? "The index's FDE partitions are already trained; they are fixed for the life of the index (build a new index to train others)."
                    : $"The index's partitioning is {Options.Fde.Partitioning}, which needs no training.");
            }

            if (sample is null && _ordinals.Count == 0)
            {
                throw new InvalidOperationException("The index holds no document to train its FDE partitions on; add documents first, or pass a sample to Train.");
            }

            FdeEncoder encoder = FdeEncoder.Train(Options.Fde, sample ?? new StoredDocuments(_store, _ids, liveOnly: true), parallelOptions);
            float[] held = encoder.EncodeDocuments(new StoredDocuments(_store, _ids, liveOnly: false), parallelOptions);
            if (sample is not null)
            {
                // Searches never read the MIPS index before the encoder is published, so it trains outside the write
                // lock; its training is all or nothing, and nothing else has changed if it is cancelled.
                switch (_mips)
                {
                    case QuantizedMipsIndex { IsTrained: false, Count: 0 } quantized:
                        TrainQuantizer(quantized.Storage, quantized.Storage.TrainingRows, encoder, sample, parallelOptions, (fdes, po) => quantized.Train(fdes, po));
                        break;
                    case IvfMipsIndex { IsTrained: false, Count: 0 } ivf:
                        TrainQuantizer(ivf.Storage, Math.Min(ivf.TrainingRows, Math.Max(ivf.Storage.TrainingRows, ivf.Lists)), encoder, sample, parallelOptions, (fdes, po) => ivf.Train(fdes, po));
                        break;
                }
            }

            _lock.EnterWriteLock();
            try
            {
                if (held.Length > 0)
                {
                    AddHeldFdesUnderLock(held, parallelOptions);
                }

                Volatile.Write(ref _encoder, encoder);
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }
        finally
        {
            _lock.ExitUpgradeableReadLock();
        }
    }

    // An explicit training sample also trains quantized FDE storage, on the FDEs of up to MaxTrainingSample of its
    // documents spread evenly over it (at most 2^28 floats), so that the codebooks come from the whole sample rather than
    // from the first TrainingRows documents added (which may all be about one topic). A sample smaller than TrainingRows
    // leaves the quantizer to train by itself on the documents added.
    // An IVF index trains its centroids with the quantizer, and needs at least one sample document per list.
    private static void TrainQuantizer(FdeStorage storage, int trainingRows, FdeEncoder encoder, IReadOnlyList<ReadOnlyMultiVector> sample,
        ParallelOptions parallelOptions, Action<float[], ParallelOptions> train)
    {
        long byMemory = (1L << 28) / encoder.OutputDimension;
        int rows = (int)Math.Min(Math.Min(sample.Count, storage.MaxTrainingSample), byMemory);
        if (rows < trainingRows)
        {
            return;
        }

        var chosen = new ReadOnlyMultiVector[rows];
        for (int i = 0; i < rows; i++)
        {
            chosen[i] = sample[(int)((long)i * sample.Count / rows)];
        }

        float[] fdes = encoder.EncodeDocuments(chosen, parallelOptions);
        train(fdes, parallelOptions);
    }

    // The FDEs of every ordinal held, into an MIPS index that has none yet.
    private void AddHeldFdesUnderLock(float[] fdes, ParallelOptions parallelOptions)
    {
        if (_mips.Count != 0 || fdes.Length != (long)_ids.Count * Options.Fde.OutputDimension)
        {
            throw new InvalidOperationException($"The index is inconsistent: {_ids.Count} ids, {_mips.Count} FDEs before training.");
        }

        try
        {
            Backend.Add(_mips, fdes, parallelOptions);
        }
        catch
        {
            if (_mips.Count != 0)
            {
                // The backend broke its all-or-nothing contract; the index cannot be trusted any more.
                _disposed = true;
            }

            throw;
        }
    }

    // Appends prepared documents to the store and the MIPS index; all or nothing. Without FDEs (not trained) only the
    // store grows; held are the FDEs of every ordinal already stored, when this append completes training.
    private void AppendUnderLock(IReadOnlyList<string> ids, Prepared prepared, float[]? held, ParallelOptions parallelOptions)
    {
        if (prepared.Fdes is null && _encoder is { } encoder)
        {
            // Trained by another writer between preparing and locking: encode now.
            prepared = prepared with { Fdes = encoder.EncodeDocuments(prepared.Documents, parallelOptions) };
        }

        if (_store.IsMapped)
        {
            // A loaded store is a read-only mapping of the saved file; the first write copies it into memory (the
            // saved files are never modified).
            MultiVectorStore copy = _store.ToInMemory();
            _store.Dispose();
            _store = copy;
        }

        int first = _store.Count;
        int fdesBefore = _mips.Count;
        bool encoded = prepared.Fdes is not null;
        if (first != _ids.Count || fdesBefore != (encoded && held is null ? first : 0)
            || (held is not null && held.Length != (long)first * Options.Fde.OutputDimension))
        {
            throw new InvalidOperationException($"The index is inconsistent: {_ids.Count} ids, {_store.Count} stored documents, {_mips.Count} FDEs.");
        }

        bool installed = false;
        if (prepared.Codec is { } codec && _store.Codec != codec)
        {
            if (_store.Codec is not null)
            {
                throw new InvalidOperationException("The token codec was trained by another writer while this batch was prepared; add it again.");
            }

            _store.SetCodec(codec);
            installed = true;
        }

        try
        {
            for (int i = 0; i < prepared.Documents.Length; i++)
            {
                if (prepared.Records is { } records)
                {
                    _store.AddEncoded(records[i]);
                }
                else
                {
                    AppendStored(prepared.Documents[i]);
                }
            }

            if (encoded)
            {
                float[] fdes = prepared.Fdes!;
                if (held is { Length: > 0 })
                {
                    // One add for the ordinals held and the batch, so that a quantized backend trains on them together.
                    fdes = [.. held, .. prepared.Fdes!];
                }

                if (fdes.Length > 0)
                {
                    long start = Stopwatch.GetTimestamp();
                    Backend.Add(_mips, fdes, parallelOptions);
                    Interlocked.Add(ref _indexingTicks, Stopwatch.GetTimestamp() - start);
                }
            }
        }
        catch
        {
            _store.Truncate(first);
            if (installed)
            {
                _store.SetCodec(null);
            }

            if (_mips.Count != fdesBefore)
            {
                // The backend broke its all-or-nothing contract; the index cannot be trusted any more.
                _disposed = true;
                throw;
            }

            throw;
        }

        for (int i = 0; i < ids.Count; i++)
        {
            _ids.Add(ids[i]);
            _ordinals.Add(ids[i], first + i);
        }
    }

    // The prepared values are final: a normalising store would normalise them again (not the identity in float), so
    // they go in through the raw path.
    private void AppendStored(ReadOnlyMultiVector document) => _store.AddPrepared(document.Span);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    // Fdes are null before the partitions train. Records and Codec are set for quantized storage: the codes to append
    // (encoded from the original tokens) and the codec that encoded them (newly trained when the store had none).
    private sealed record Prepared(ReadOnlyMultiVector[] Documents, float[]? Fdes, byte[][]? Records, TokenCodec? Codec);
    // The stored documents as token vectors, in ordinal order (every ordinal, or the live ones): views of a float32
    // store, converted copies of a float16 one, decoded copies (the reconstructions) of an int8 or residual one, so that
    // held documents encode to the FDEs they would have had if added after training. Read under the index's lock.
    private sealed class StoredDocuments : IReadOnlyList<ReadOnlyMultiVector>
    {
        private readonly MultiVectorStore _store;
        private readonly int[] _ordinals;

        public StoredDocuments(MultiVectorStore store, List<string?> ids, bool liveOnly)
        {
            _store = store;
            var ordinals = new List<int>(ids.Count);
            for (int i = 0; i < ids.Count; i++)
            {
                if (!liveOnly || ids[i] is not null)
                {
                    ordinals.Add(i);
                }
            }

            _ordinals = [.. ordinals];
        }

        public int Count => _ordinals.Length;

        public ReadOnlyMultiVector this[int index]
        {
            get
            {
                int ordinal = _ordinals[index];
                if (_store.ElementType == StoreElementType.Float32)
                {
                    return _store.GetDocument(ordinal);
                }

                float[] tokens = new float[_store.TokenCountOf(ordinal) * _store.Dimension];
                _store.CopyTokens(ordinal, tokens);
                return new ReadOnlyMultiVector(tokens, _store.Dimension);
            }
        }

        public IEnumerator<ReadOnlyMultiVector> GetEnumerator()
        {
            for (int i = 0; i < _ordinals.Length; i++)
            {
                yield return this[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
