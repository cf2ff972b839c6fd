// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.Onnx;

namespace Muvera.Samples.LocalSearch;

/// <summary>Progress of an indexing run.</summary>
/// <param name="Stage">What is happening: <see cref="LocalIndexer.ScanStage"/>, <see cref="LocalIndexer.EncodeStage"/>,
/// <see cref="LocalIndexer.AddStage"/> or <see cref="LocalIndexer.SaveStage"/>.</param>
/// <param name="Done">Units done (files scanned, passages encoded, passages added).</param>
/// <param name="Total">Units in this stage.</param>
/// <param name="Detail">The file being worked on, if any.</param>
public readonly record struct IndexProgress(string Stage, int Done, int Total, string? Detail);

/// <summary>What an indexing run did.</summary>
/// <param name="FilesScanned">Text files found.</param>
/// <param name="FilesAdded">New files, encoded.</param>
/// <param name="FilesChanged">Files whose content changed, encoded again.</param>
/// <param name="FilesRepaired">Files encoded again because the index and sidecar disagreed about them.</param>
/// <param name="FilesRemoved">Files gone (or now unreadable as text) whose passages were deleted.</param>
/// <param name="FilesUnchanged">Files whose size and time (or, failing that, content hash) matched.</param>
/// <param name="FilesTouched">Of the unchanged, those whose time changed but whose content hash did not.</param>
/// <param name="FilesSkipped">Files skipped with a warning (unreadable, binary, not UTF-8).</param>
/// <param name="PassagesEncoded">Passages encoded by this run.</param>
/// <param name="PassagesRemoved">Passages deleted from the index by this run.</param>
/// <param name="PassagesTotal">Passages in the index after the run.</param>
/// <param name="Saved">Whether the index or sidecar was written (false when nothing changed).</param>
/// <param name="Elapsed">Wall time of the run.</param>
/// <param name="Warnings">What was skipped or repaired, and why.</param>
public sealed record IndexReport(int FilesScanned, int FilesAdded, int FilesChanged, int FilesRepaired, int FilesRemoved,
    int FilesUnchanged, int FilesTouched, int FilesSkipped, int PassagesEncoded, int PassagesRemoved, int PassagesTotal,
    bool Saved, TimeSpan Elapsed, IReadOnlyList<string> Warnings);

/// <summary>
/// Indexes the <c>.txt</c> and <c>.md</c> files of a folder into a <see cref="MuveraIndex"/>, incrementally: a file whose
/// size and modification time match the sidecar is not read; one whose content hash matches is not encoded; changed and
/// new files are cut into passages (<see cref="PassageSplitter"/>) and encoded; the passages of deleted files are
/// deleted from the index.
/// </summary>
/// <remarks>Crash and cancellation safety: the run works on an in-memory copy of the index and writes nothing until
/// every passage is encoded; then <see cref="MuveraIndex.Save(string)"/> (crash-safe) and the sidecar's atomic rename. A
/// cancelled run throws <see cref="OperationCanceledException"/> and leaves both files as they were.</remarks>
public sealed class LocalIndexer
{
    /// <summary>The stage that lists and hashes files.</summary>
    public const string ScanStage = "scan";

    /// <summary>The stage that encodes passages.</summary>
    public const string EncodeStage = "encode";

    /// <summary>The stage that adds encoded passages to the index (their FDEs; reported by
    /// <see cref="MuveraIndex.AddRange(IReadOnlyList{string}, IReadOnlyList{ReadOnlyMultiVector}, ParallelOptions, IProgress{MuveraProgress})"/>).
    /// It alternates with <see cref="EncodeStage"/>: passages are added a group at a time.</summary>
    public const string AddStage = "add";

    /// <summary>The stage that saves the index and sidecar.</summary>
    public const string SaveStage = "save";

    // Passages encoded and added per step: bounds the token vectors waiting on the heap besides the index's own copy.
    private const int EncodeGroup = 64;

    // A new index's first batch, which trains its token codec: passages spread over the whole folder (about 80,000 tokens
    // of 160-token passages; training samples at most 65,536 of them).
    private const int TrainingPassages = 512;
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly OnnxTokenEncoder _encoder;
    private readonly TokenAligner _aligner;
    private readonly PassageSplitter _splitter;

    /// <summary>Creates an indexer.</summary>
    /// <param name="location">The folder and where its index lives.</param>
    /// <param name="encoder">The text encoder (not owned; the default model in this sample).</param>
    /// <param name="passageTokens">The passage size in tokens.</param>
    /// <param name="overlapTokens">The overlap between passages in tokens.</param>
    public LocalIndexer(LocalIndexLocation location, OnnxTokenEncoder encoder,
        int passageTokens = PassageSplitter.DefaultTargetTokens, int overlapTokens = PassageSplitter.DefaultOverlapTokens)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(encoder);
        Location = location;
        _encoder = encoder;
        _aligner = new TokenAligner(encoder);
        _splitter = new PassageSplitter(_aligner, passageTokens, overlapTokens);
    }

    /// <summary>The folder and where its index lives.</summary>
    public LocalIndexLocation Location { get; }

    /// <summary>The token storage of a new index: 2-bit residual codes (ColBERTv2-style: a centroid id, a norm scale and 2
    /// bits per coordinate, about 100 bytes per 384-d token instead of float16's 768), the smallest encoding with which
    /// the end-to-end tests still rank every expected page first.</summary>
    public static TokenStorage PassageTokenStorage { get; } = TokenStorage.Residual(2);

    /// <summary>The FDE and storage options of a new index: the recommended FDE for the encoder's dimension, tokens kept
    /// as <see cref="PassageTokenStorage"/>, or in float16 when <paramref name="quantized"/> is false (a new index whose first batch
    /// holds fewer than <see cref="TokenStorage.MinTrainingTokens"/> token vectors cannot train a codec).</summary>
    /// <param name="dimension">The token dimension.</param>
    /// <param name="quantized">Residual codes (the default) or float16.</param>
    /// <returns>The options.</returns>
    public static MuveraIndexOptions CreateIndexOptions(int dimension, bool quantized = true) => quantized
        ? new MuveraIndexOptions { Fde = FdeOptions.CreateRecommended(dimension), TokenStorage = PassageTokenStorage }
        : new MuveraIndexOptions { Fde = FdeOptions.CreateRecommended(dimension), TokenElementType = StoreElementType.Float16 };

    /// <summary>The FDE backend of a new index: the exact flat scan over product-quantized FDEs (4-bit codes of 4
    /// coordinates: 1,280 bytes per passage instead of 40 KB; the index keeps float32 FDEs until it holds 1,024 passages,
    /// then trains), without the library default's refinement stage (another 1,280 bytes): the sample reranks at least 100
    /// candidates with exact Chamfer over the stored tokens, which recovers what plain 4-bit codes miss.</summary>
    /// <returns>A new backend.</returns>
    public static MipsBackend CreateBackend() => new FlatMipsBackend(FdeStorage.ProductQuantization());

    /// <summary>Brings the index up to date with the folder.</summary>
    /// <param name="progress">Receives progress (on the calling thread or the encoder's), or null.</param>
    /// <param name="cancellationToken">Cancels the run; nothing is written then.</param>
    /// <returns>What the run did.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (the saved index and sidecar are unchanged).</exception>
    /// <exception cref="IOException">Another run, in this or another process, is updating the same state directory.</exception>
    public IndexReport Run(IProgress<IndexProgress>? progress, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        if (!Directory.Exists(Location.Folder))
        {
            throw new DirectoryNotFoundException($"The folder '{Location.Folder}' does not exist.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        using FileStream runLock = LockStateDirectory();
        using IndexSnapshot snapshot = IndexSnapshot.Load(Location);
        var warnings = new List<string>(snapshot.Warnings);
        bool compatible = snapshot.Index is { } current && current.Dimension == _encoder.Dimension && snapshot.State is { } old
            && old.Model == _encoder.ModelFingerprint && old.PassageTokens == _splitter.TargetTokens && old.OverlapTokens == _splitter.OverlapTokens;
        if (snapshot.Index is not null && !compatible)
        {
            warnings.Add("The index was built with another model or passage size; every file is encoded again.");
            snapshot.TakeIndex()!.Dispose();
        }

        using MuveraIndex loaded = compatible ? snapshot.TakeIndex()! : MuveraIndex.Create(CreateIndexOptions(_encoder.Dimension), CreateBackend());
        Dictionary<string, FileRecord> previous = compatible ? snapshot.Files : new(StringComparer.Ordinal);
        var repairable = new HashSet<string>(snapshot.InconsistentFiles, StringComparer.Ordinal);
        var idsToDelete = new List<string>(compatible ? snapshot.OrphanIds : []);

        // 1. Scan: keep what is unchanged, cut what is new or changed into passages.
        string[] paths = ListTextFiles(progress, cancellationToken);
        var kept = new List<FileRecord>();
        var pending = new List<(FileRecord Record, List<Passage> Passages)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int added = 0, changed = 0, repaired = 0, unchanged = 0, touched = 0, skipped = 0;
        for (int i = 0; i < paths.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string relative = Path.GetRelativePath(Location.Folder, paths[i]).Replace('\\', '/');
            progress?.Report(new IndexProgress(ScanStage, i, paths.Length, relative));
            seen.Add(relative);
            previous.TryGetValue(relative, out FileRecord? before);
            switch (Scan(paths[i], relative, before, out FileRecord? record, out List<Passage>? passages, warnings))
            {
                case ScanOutcome.Unchanged:
                    kept.Add(before!);
                    unchanged++;
                    break;
                case ScanOutcome.Touched:
                    kept.Add(before!);
                    unchanged++;
                    touched++;
                    break;
                case ScanOutcome.Unreadable:
                    // Keep what was indexed: the file may be locked for a moment, and it has not been deleted.
                    if (before is not null)
                    {
                        kept.Add(before);
                    }

                    skipped++;
                    break;
                case ScanOutcome.NotText:
                    skipped++;
                    seen.Remove(relative);
                    break;
                case ScanOutcome.New:
                    pending.Add((record!, passages!));
                    if (before is not null)
                    {
                        idsToDelete.AddRange(before.Passages.Select(p => p.Id));
                        changed++;
                    }
                    else if (repairable.Contains(relative))
                    {
                        repaired++;
                    }
                    else
                    {
                        added++;
                    }

                    break;
            }
        }

        progress?.Report(new IndexProgress(ScanStage, paths.Length, paths.Length, null));
        int removed = 0;
        foreach (FileRecord gone in previous.Values)
        {
            if (!seen.Contains(gone.Path))
            {
                idsToDelete.AddRange(gone.Passages.Select(p => p.Id));
                removed++;
            }
        }

        // 2. Apply to the in-memory index: deletions first (an orphan id may come back with the same content), then the
        // new passages, encoded and added a group at a time.
        int deleted = 0;
        foreach (string id in idsToDelete)
        {
            deleted += loaded.Delete(id) ? 1 : 0;
        }

        var queue = pending.SelectMany(p => p.Record.Passages.Select((record, n) => (Record: record, File: p.Record.Path, p.Passages[n].Text))).ToList();

        // A new index trains its token codec on its first batch. That batch is up to TrainingPassages passages spread
        // evenly over the whole queue (not the first files' passages only), encoded and added at once. When a new index's
        // first batch holds fewer than MinTrainingTokens token vectors (a handful of short files), no codec can be
        // trained: the index keeps float16 tokens instead, and keeps them as it grows.
        bool untrained = !loaded.IsTokenStorageTrained;
        int firstBatch = 0;
        if (untrained)
        {
            queue = SpreadFirst(queue, TrainingPassages);
            firstBatch = Math.Min(TrainingPassages, queue.Count);
        }

        MuveraIndex? floatIndex = null;
        try
        {
            MuveraIndex index = loaded;
            var parallelOptions = new ParallelOptions { CancellationToken = cancellationToken };
            progress?.Report(new IndexProgress(EncodeStage, 0, queue.Count, null));
            var waiting = new List<(string Id, ReadOnlyMultiVector Vectors)>();
            int start = 0;
            int passagesAdded = 0;
            while (start < queue.Count)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int size = Math.Min(start < firstBatch ? Math.Min(EncodeGroup, firstBatch - start) : EncodeGroup, queue.Count - start);
                var group = queue.GetRange(start, size);
                int offset = start;
                var batchProgress = progress is null ? null
                    : new SyncProgress<int>(done => progress.Report(new IndexProgress(EncodeStage, offset + done, queue.Count, group[Math.Clamp(done - 1, 0, group.Count - 1)].File)));
                ReadOnlyMultiVector[] vectors = _encoder.EncodeDocuments(group.ConvertAll(g => g.Text), batchProgress, cancellationToken);
                waiting.AddRange(group.Select((g, n) => (g.Record.Id, vectors[n])));
                start += size;
                if (start < firstBatch)
                {
                    continue;
                }

                if (untrained && !index.IsTokenStorageTrained && waiting.Sum(w => w.Vectors.Count) < TokenStorage.MinTrainingTokens)
                {
                    floatIndex = MuveraIndex.Create(CreateIndexOptions(_encoder.Dimension, quantized: false), CreateBackend());
                    index = floatIndex;
                }

                int addedBefore = passagesAdded;
                var addProgress = progress is null ? null
                    : new SyncProgress<MuveraProgress>(p => progress.Report(new IndexProgress(AddStage, addedBefore + p.Completed, queue.Count, null)));
                index.AddRange(waiting.ConvertAll(w => w.Id), waiting.ConvertAll(w => w.Vectors), parallelOptions, addProgress);
                passagesAdded += waiting.Count;
                waiting.Clear();
            }

            // 3. Save, unless cancelled: the index first (crash-safe), then the sidecar (atomic rename). A crash between the
            // two leaves a sidecar that disagrees with the index about the changed files only; the next run repairs them.
            cancellationToken.ThrowIfCancellationRequested();
            List<FileRecord> files = [.. kept.Concat(pending.Select(p => p.Record)).OrderBy(f => f.Path, StringComparer.Ordinal)];
            bool indexChanged = !compatible || deleted > 0 || queue.Count > 0;
            bool stateChanged = indexChanged || touched > 0 || pending.Count > 0 || removed > 0 || snapshot.InconsistentFiles.Count > 0;
            if (stateChanged)
            {
                progress?.Report(new IndexProgress(SaveStage, 0, 1, null));
                Directory.CreateDirectory(Location.StateDirectory);
                if (indexChanged || !Directory.Exists(Location.IndexDirectory))
                {
                    index.Save(Location.IndexDirectory);
                }

                new IndexState
                {
                    Model = _encoder.ModelFingerprint,
                    PassageTokens = _splitter.TargetTokens,
                    OverlapTokens = _splitter.OverlapTokens,
                    Files = files,
                }.Save(Location.StateFile);
                progress?.Report(new IndexProgress(SaveStage, 1, 1, null));
            }

            return new IndexReport(paths.Length, added, changed, repaired, removed, unchanged, touched, skipped, queue.Count, deleted,
                index.Count, stateChanged, stopwatch.Elapsed, warnings);
        }
        finally
        {
            floatIndex?.Dispose();
        }
    }

    // The queue with `count` passages spread evenly over it moved to the front (in queue order), the rest after them in
    // queue order: a first batch drawn from every part of the folder, deterministic for the same folder.
    private static List<T> SpreadFirst<T>(List<T> queue, int count)
    {
        if (queue.Count <= count)
        {
            return queue;
        }

        var first = new bool[queue.Count];
        for (int i = 0; i < count; i++)
        {
            first[(int)((long)i * queue.Count / count)] = true;
        }

        return [.. queue.Where((_, i) => first[i]), .. queue.Where((_, i) => !first[i])];
    }

    /// <summary>Takes the state directory's run lock for the whole run (an exclusive open of <see cref="LocalIndexLocation.LockFile"/>,
    /// which the operating system releases when the process ends), so that a second run on the same folder stops at once
    /// instead of encoding everything again and racing the first to save.</summary>
    private FileStream LockStateDirectory()
    {
        Directory.CreateDirectory(Location.StateDirectory);
        try
        {
            return new FileStream(Location.LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
        }
        catch (IOException e) when (e.GetType() == typeof(IOException) && (e.HResult is 11 or 35 || (e.HResult & 0xFFFF) is 32 or 33))
        {
            throw new IOException(
                $"Another index run is updating '{Location.StateDirectory}' (it holds '{Location.LockFile}'); wait for it to finish, then run again.", e);
        }
    }

    /// <summary>Lists the <c>.txt</c> and <c>.md</c> files under the folder, recursively, in ordinal path order. Hidden
    /// files and folders (names starting with '.') and the state directory are skipped.</summary>
    private string[] ListTextFiles(IProgress<IndexProgress>? progress, CancellationToken cancellationToken)
    {
        progress?.Report(new IndexProgress(ScanStage, 0, 0, null));
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            IgnoreInaccessible = true,
            AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
        };
        string state = Location.StateDirectory + Path.DirectorySeparatorChar;
        var paths = new List<string>();
        foreach (string path in Directory.EnumerateFiles(Location.Folder, "*", options))
        {
            cancellationToken.ThrowIfCancellationRequested();
            string extension = Path.GetExtension(path);
            if ((extension.Equals(".md", StringComparison.OrdinalIgnoreCase) || extension.Equals(".txt", StringComparison.OrdinalIgnoreCase))
                && !path.StartsWith(state, StringComparison.Ordinal))
            {
                paths.Add(path);
            }
        }

        paths.Sort(StringComparer.Ordinal);
        return [.. paths];
    }

    private ScanOutcome Scan(string path, string relative, FileRecord? before, out FileRecord? record, out List<Passage>? passages,
        List<string> warnings)
    {
        record = null;
        passages = null;
        long size;
        long ticks;
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            size = info.Length;
            ticks = info.LastWriteTimeUtc.Ticks;
            if (before is not null && before.Size == size && before.ModifiedTicks == ticks)
            {
                return ScanOutcome.Unchanged;
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warnings.Add($"{relative}: skipped, cannot be read ({e.Message})");
            return ScanOutcome.Unreadable;
        }

        string hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (before is not null && before.Sha256 == hash)
        {
            before.Size = bytes.Length;
            before.ModifiedTicks = ticks;
            return ScanOutcome.Touched;
        }

        if (!TryDecode(bytes, out string? text))
        {
            warnings.Add($"{relative}: skipped, binary or not UTF-8 text");
            return ScanOutcome.NotText;
        }

        passages = _splitter.Split(text);
        var records = new List<PassageRecord>(passages.Count);
        for (int n = 0; n < passages.Count; n++)
        {
            Passage passage = passages[n];
            records.Add(new PassageRecord { Id = $"{relative}#{hash[..12]}-{n}", StartLine = passage.StartLine, EndLine = passage.EndLine, Text = passage.Text });
        }

        record = new FileRecord { Path = relative, Size = bytes.Length, ModifiedTicks = ticks, Sha256 = hash, Passages = records };
        return ScanOutcome.New;
    }

    private static bool TryDecode(byte[] bytes, [NotNullWhen(true)] out string? text)
    {
        ReadOnlySpan<byte> content = bytes;
        if (content.StartsWith("\xEF\xBB\xBF"u8))
        {
            content = content[3..];
        }

        try
        {
            text = s_strictUtf8.GetString(content);
        }
        catch (DecoderFallbackException)
        {
            text = null;
            return false;
        }

        // A NUL character does not occur in text files; it marks a binary file that happens to be valid UTF-8.
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            text = null;
            return false;
        }

        return true;
    }

    private enum ScanOutcome
    {
        Unchanged,
        Touched,
        Unreadable,
        NotText,
        New,
    }

    // Reports synchronously on the reporting thread (Progress<T> would post to the thread pool and reorder reports).
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
