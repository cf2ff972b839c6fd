// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.Serialization;

namespace Muvera;

public sealed partial class MuveraIndex
{
    private const string CurrentFileName = "CURRENT";
    private const string TokensFileName = "tokens.mvs";
    private const string PartitionsFileName = "partitions.bin";
    private const int MaxPartitionsBytes = (int)(FdeOptions.MaxMatrixEntries * sizeof(float)) + FdePartitions.HeaderLength;
    private const string PartialSuffix = ".partial";
    private const int MaxManifestBytes = 16 << 20;

    // How often Load starts over from CURRENT when the version it read was removed by saves that committed meanwhile.
    private const int MaxLoadAttempts = 5;

    // How many stored documents Load re-encodes to check the FDE file against the manifest's encoder.
    private const int StoredFdeSamples = 4;

    // The calibration curve has one point per rung of Calibrate's ladder (at most 13).
    private const int MaxCalibrationCurvePoints = 64;

    private static readonly ParallelOptions s_defaultParallelOptions = new();
    private static readonly MuveraSaveOptions s_defaultSaveOptions = new();

    // Backends found by name when Load is not given one of the manifest's kind.
    private static readonly (string Kind, string TypeName)[] s_knownBackends =
    [
        ("usearch", "Muvera.USearch.USearchMipsBackend, Muvera.USearch"),
        ("faiss", "Muvera.Faiss.FaissMipsBackend, Muvera.Faiss"),
    ];

    /// <summary>Test seam: called after each step of <see cref="Save(string, MuveraSaveOptions)"/> with the step's name
    /// ("locked" once the directory's lock is held, then "created" … "committed"); an exception thrown here simulates a
    /// crash at that point.</summary>
    internal static Action<string>? SaveStepHook { get; set; }

    /// <summary>Test seam: called by <see cref="Load(string, MuveraLoadOptions)"/> with "current-read" after each read of
    /// <c>CURRENT</c>, before the version it names is opened.</summary>
    internal static Action<string>? LoadStepHook { get; set; }

    /// <summary>Saves the index into <paramref name="directory"/> (see <see cref="Save(string, MuveraSaveOptions)"/>),
    /// failing at once with <see cref="MuveraIndexLockedException"/> when another writer is saving there.</summary>
    /// <param name="directory">A new or empty directory, or one holding a saved Muvera index.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="MuveraIndexLockedException">Another writer, in this or another process, is saving into the
    /// directory (nothing was written).</exception>
    /// <exception cref="IOException">The path is a file, the directory holds files that are not a Muvera index, or
    /// writing failed (the previously saved index is intact).</exception>
    public void Save(string directory) => Save(directory, s_defaultSaveOptions);

    /// <summary>Saves the index into <paramref name="directory"/>, crash-safely and safely towards other processes: the
    /// new version is written to a temporary subdirectory of this writer's own, flushed to disk and renamed, and only
    /// then does the directory's <c>CURRENT</c> file (replaced atomically) point at it. A crash at any point leaves the
    /// previously saved index loadable.</summary>
    /// <param name="directory">A new or empty directory, or one holding a saved Muvera index.</param>
    /// <param name="options">How long to wait for another writer (default: not at all).</param>
    /// <remarks>
    /// <para>One writer at a time: the save holds an operating-system lock on the directory's <c>LOCK</c> file from
    /// before it reads the directory until it returns, so a second writer in any process waits up to
    /// <see cref="MuveraSaveOptions.LockTimeout"/> and then throws <see cref="MuveraIndexLockedException"/>; the lock dies
    /// with its process, so a crashed writer never leaves the directory locked. Any number of readers, in any process, may
    /// <see cref="Load(string, MuveraLoadOptions)"/> at any time: a save keeps the version that was current before it
    /// (removing only older ones), and a load that finds its version gone starts over from <c>CURRENT</c>, so it returns
    /// the previous or the new version, never an error. The directory therefore holds two versions after the second
    /// save.</para>
    /// <para>Compacts first when at least <see cref="MuveraIndexOptions.CompactOnSaveFraction"/> of the documents are
    /// deleted (never when that fraction is 1; searches wait during compaction only). Other writers of this instance wait
    /// while the files are written; searches continue.</para>
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="MuveraIndexLockedException">Another writer, in this or another process, kept the directory
    /// locked for longer than <see cref="MuveraSaveOptions.LockTimeout"/> (nothing was written, the index is
    /// unchanged).</exception>
    /// <exception cref="IOException">The path (or a folder above it) is a file, the directory holds files that are not a
    /// Muvera index, or writing failed (the previously saved index is intact).</exception>
    public void Save(string directory, MuveraSaveOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        directory = Path.GetFullPath(directory);
        _lock.EnterUpgradeableReadLock();
        try
        {
            ThrowIfDisposed();
            CreateTargetDirectory(directory);
            using DirectoryLock directoryLock = DirectoryLock.Acquire(directory, options.LockTimeout);
            Step("locked");
            double fraction = Options.CompactOnSaveFraction;
            if (_deleted > 0 && fraction < 1 && _deleted >= fraction * _ids.Count)
            {
                _lock.EnterWriteLock();
                try
                {
                    CompactUnderLock(s_defaultParallelOptions);
                }
                finally
                {
                    _lock.ExitWriteLock();
                }
            }

            SaveUnderLock(directory);
        }
        finally
        {
            _lock.ExitUpgradeableReadLock();
        }
    }

    /// <summary>Loads the index saved in <paramref name="directory"/> (see <see cref="Load(string, MuveraLoadOptions)"/>).</summary>
    /// <param name="directory">The directory <see cref="Save(string, MuveraSaveOptions)"/> wrote.</param>
    /// <returns>The index; dispose it to release the mapped token file.</returns>
    public static MuveraIndex Load(string directory) => Load(directory, new MuveraLoadOptions());

    /// <summary>Loads the index saved in <paramref name="directory"/>, verifying every file against the checksums in
    /// the manifest, every count across files, and a few stored FDEs against the encoder before anything is used. The
    /// token store is memory-mapped (read-only; the first write after loading copies it into memory).</summary>
    /// <param name="directory">The directory <see cref="Save(string, MuveraSaveOptions)"/> wrote.</param>
    /// <param name="options">Backends to load the FDE index with, and the FDE options the caller expects.</param>
    /// <returns>The index; dispose it to release the mapped token file.</returns>
    /// <remarks>
    /// <para>Safe while other processes save into the directory: a load returns the version <c>CURRENT</c> named when it
    /// started or a newer one, never an error caused by the save (when a version is removed under it, it starts over from
    /// <c>CURRENT</c>, up to 5 times).</para>
    /// <para>Stored FDEs: up to 4 live documents, spread over the ordinals, are encoded again from their stored tokens
    /// and compared with what the FDE index holds (bit for bit for the flat backend; backends that cannot read their
    /// vectors back, such as USearch and FAISS, skip the check).</para>
    /// <para>Memory mapping: the token file of the loaded version must not be modified or truncated while the index is
    /// open. Saves never do (they write new versions and delete old ones, and a deleted file stays mapped on Linux and
    /// macOS; on Windows the deletion fails while the file is mapped and a later save retries it), but another program
    /// truncating <c>tokens.mvs</c> makes the next read of the missing pages end the process (SIGBUS, or an access
    /// violation on Windows), which no exception handler can catch.</para>
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">The directory has no <c>CURRENT</c> file (no save ever completed).</exception>
    /// <exception cref="InvalidDataException">A file is corrupt, truncated, missing or inconsistent with another, a
    /// value is outside the library's limits, the stored FDEs are not what the manifest's encoder produces, or the index
    /// was built with other FDE options than <see cref="MuveraLoadOptions.ExpectedFde"/> or with another PRNG version;
    /// the message names the file, the check and the value.</exception>
    /// <exception cref="InvalidOperationException">The index uses a backend whose package is not referenced.</exception>
    public static MuveraIndex Load(string directory, MuveraLoadOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        directory = Path.GetFullPath(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The index directory '{directory}' does not exist.");
        }

        for (int attempt = 1; ; attempt++)
        {
            string version = ReadCurrent(directory, out ulong manifestHash);
            try
            {
                LoadStepHook?.Invoke("current-read");
                return LoadVersion(directory, version, manifestHash, options);
            }
            catch (Exception e) when (attempt < MaxLoadAttempts
                && e is IOException or InvalidDataException or UnauthorizedAccessException
                && ReadCurrentNameOrNull(directory) is { } now && now != version)
            {
                // A save switched CURRENT and removed the version read first: start over from the new CURRENT.
            }
        }
    }

    private static MuveraIndex LoadVersion(string directory, string version, ulong manifestHash, MuveraLoadOptions options)
    {
        string versionDirectory = Path.Combine(directory, version);
        if (!Directory.Exists(versionDirectory))
        {
            throw new InvalidDataException($"The {CurrentFileName} file of '{directory}' names version '{version}', which is missing.");
        }

        IndexManifest manifest = ReadManifest(versionDirectory, manifestHash);
        FdeEncoderIdentity identity = ReadIdentity(manifest);
        VerifyFiles(versionDirectory, manifest, identity.PartitionsChecksum is not null);

        Invalid(identity.PrngVersion != FdeEncoder.PrngVersion,
            $"the index was encoded with FDE PRNG version {identity.PrngVersion}; this library encodes with version {FdeEncoder.PrngVersion}, so its query FDEs would not match");
        CheckReadableCopy(manifest.Fde, identity.Options, identity.PartitionsChecksum);
        if (options.ExpectedFde is { } expected && expected != identity.Options)
        {
            try
            {
                identity.EnsureCompatible(new FdeEncoderIdentity(expected, FdeEncoder.PrngVersion));
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"The index in '{directory}' does not match the expected encoder: {e.Message}", e);
            }
        }

        FdeEncoder? encoder = CreateEncoder(versionDirectory, identity);
        StoreElementType elementType = manifest.TokenElementType switch
        {
            "float32" => StoreElementType.Float32,
            "float16" => StoreElementType.Float16,
            "int8" when manifest.FormatVersion >= 2 => StoreElementType.Int8,
            "residual" when manifest.FormatVersion >= 2 => StoreElementType.Residual,
            _ => throw new InvalidDataException($"The manifest gives token element type \"{manifest.TokenElementType}\" (expected float32, float16, int8 or residual)."),
        };
        Invalid(!(manifest.CompactOnSaveFraction >= 0 && manifest.CompactOnSaveFraction <= 1), $"compact_on_save_fraction {manifest.CompactOnSaveFraction} is outside [0, 1]");
        MipsBackend backend = ResolveBackend(manifest, options.Backends);
        Invalid(manifest.Backend.File != backend.FileName, $"the backend file is \"{manifest.Backend.File}\" but the {backend.Kind} backend uses \"{backend.FileName}\"");

        string?[] ids = IdMapFile.Read(Path.Combine(versionDirectory, IdMapFile.FileName), out int live);
        MuveraCalibration? calibration = ReadCalibration(manifest.Calibration);
        MultiVectorStore? store = null;
        IMipsIndex? mips = null;
        try
        {
            string tokensPath = Path.Combine(versionDirectory, TokensFileName);
            store = MultiVectorStore.Load(tokensPath, rejectBeyondTokenLimit: true, options.VerifyTokens);
            mips = backend.Load(Path.Combine(versionDirectory, backend.FileName));
            Invalid(manifest.Documents != ids.Length || store.Count != ids.Length || mips.Count != (encoder is null ? 0 : ids.Length),
                $"the manifest counts {manifest.Documents} documents, the id map {ids.Length}, the token store {store.Count}, the FDE index {mips.Count}" +
                (encoder is null ? " (an index whose partitions are not trained holds no FDE)" : ""));
            Invalid(manifest.Live != live || manifest.Deleted != ids.Length - live,
                $"the manifest counts {manifest.Live} live and {manifest.Deleted} deleted documents, the id map {live} live of {ids.Length}");
            Invalid(manifest.Tokens != store.TokenCount, $"the manifest counts {manifest.Tokens} tokens, the token store {store.TokenCount}");
            FdeOptions fde = identity.Options;
            Invalid(store.Dimension != fde.Dimension || store.ElementType != elementType || store.IsNormalized != manifest.NormalizeTokens,
                $"the token store holds {store.ElementType} tokens of dimension {store.Dimension} (normalised: {store.IsNormalized}); the manifest says {elementType}, {fde.Dimension}, {manifest.NormalizeTokens}");
            Invalid(store.Storage.IsQuantized && store.Count > 0 && !store.IsTrained, $"the token store holds {store.Storage} tokens without a codec");
            var indexOptions = new MuveraIndexOptions
            {
                Fde = fde,
                TokenElementType = store.Storage.IsQuantized ? StoreElementType.Float32 : elementType,
                TokenStorage = store.Storage.IsQuantized ? store.Storage : null,
                NormalizeTokens = manifest.NormalizeTokens,
                CompactOnSaveFraction = manifest.CompactOnSaveFraction,
            };
            Invalid(mips.Dimension != fde.OutputDimension, $"the FDE index has dimension {mips.Dimension}; the encoder's output dimension is {fde.OutputDimension}");
            if (backend is FlatMipsBackend flatBackend)
            {
                Invalid(mips is not (FlatMipsIndex or QuantizedMipsIndex) || FlatMipsBackend.StorageOf(mips) != flatBackend.Storage,
                    $"the FDE file '{backend.FileName}' holds {(mips is FlatMipsIndex or QuantizedMipsIndex ? FlatMipsBackend.StorageOf(mips) : mips.GetType().Name)} storage; the manifest says {flatBackend.Storage}");
            }

            if (backend is IvfMipsBackend ivfBackend)
            {
                Invalid(mips is not IvfMipsIndex ivfIndex || ivfIndex.Storage != ivfBackend.Storage || ivfIndex.Lists != ivfBackend.Lists,
                    $"the FDE file '{backend.FileName}' holds {(mips is IvfMipsIndex held ? $"{held.Lists} lists of {held.Storage}" : mips.GetType().Name)}; the manifest says {ivfBackend.Lists} lists of {ivfBackend.Storage}");
            }
            for (int i = 0; i < ids.Length; i++)
            {
                Invalid(ids[i] is not null && store.TokenCountOf(i) == 0, $"live document {i} (\"{ids[i]}\") has no tokens");
            }

            if (encoder is not null)
            {
                VerifyStoredFdes(Path.Combine(versionDirectory, backend.FileName), backend, mips, encoder, store, ids, live);
            }

            var ordinals = new Dictionary<string, int>(live, StringComparer.Ordinal);
            for (int i = 0; i < ids.Length; i++)
            {
                if (ids[i] is string id)
                {
                    ordinals.Add(id, i);
                }
            }

            return new MuveraIndex(indexOptions, backend, encoder, store, mips, ordinals, [.. ids], ids.Length - live, calibration);
        }
        catch
        {
            mips?.Dispose();
            store?.Dispose();
            throw;
        }
    }

    // The encoder of an identity: SimHash from the options alone, learned partitions from partitions.bin (checked against
    // the identity's checksum), or none for learned partitions not trained yet.
    private static FdeEncoder? CreateEncoder(string versionDirectory, FdeEncoderIdentity identity)
    {
        if (!identity.Options.RequiresTraining)
        {
            return new FdeEncoder(identity.Options);
        }

        if (identity.PartitionsChecksum is not ulong checksum)
        {
            return null;
        }

        string path = Path.Combine(versionDirectory, PartitionsFileName);
        FdePartitions partitions;
        try
        {
            using var stream = new MemoryStream(ReadSmallFile(path, MaxPartitionsBytes, "partitions file"), writable: false);
            partitions = FdePartitions.Load(stream);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"The saved index is not valid: '{path}': {e.Message}", e);
        }

        Invalid(partitions.Checksum != checksum,
            $"the partitions in '{path}' have checksum 0x{partitions.Checksum:X16}, but the encoder identity names 0x{checksum:X16}: they do not belong together");
        try
        {
            return new FdeEncoder(identity.Options, partitions);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The saved index is not valid: the partitions in '{path}' do not fit the encoder's options: {e.Message}", e);
        }
    }

    // Re-encodes up to StoredFdeSamples live documents, spread evenly over the live ordinals (deterministic), and asks the
    // backend whether it holds those FDEs: an encoder identity that does not belong to the FDE file (edited, or copied from
    // another index) would otherwise load and then find candidates at chance.
    private static void VerifyStoredFdes(string fdePath, MipsBackend backend, IMipsIndex mips, FdeEncoder encoder,
        MultiVectorStore store, string?[] ids, int live)
    {
        int samples = Math.Min(StoredFdeSamples, live);
        float[] fde = new float[encoder.OutputDimension];
        int rank = -1;
        int ordinal = -1;
        for (int sample = 0; sample < samples; sample++)
        {
            long target = samples == 1 ? 0 : (long)sample * (live - 1) / (samples - 1);
            while (rank < target)
            {
                ordinal++;
                if (ids[ordinal] is not null)
                {
                    rank++;
                }
            }

            float[] tokens = new float[store.TokenCountOf(ordinal) * store.Dimension];
            store.CopyTokens(ordinal, tokens);
            encoder.EncodeDocument(tokens, fde);
            bool? matches = backend.StoredMatches(mips, ordinal, fde);
            if (matches is null)
            {
                return;
            }

            Invalid(matches == false,
                $"the FDE stored for document {ordinal} (\"{ids[ordinal]}\") in '{fdePath}' is not the one its stored tokens encode to " +
                $"with the manifest's encoder ({encoder.Options}): the FDE file and the encoder identity do not belong together");
        }
    }

    // Makes the target directory, refusing a path that is (or runs through) a file and a directory that holds something
    // other than a Muvera index, before any LOCK file is created in it.
    private static void CreateTargetDirectory(string directory)
    {
        for (string? path = directory; path is not null; path = Path.GetDirectoryName(path))
        {
            if (File.Exists(path))
            {
                throw new IOException(path == directory
                    ? $"Cannot save the index to '{directory}': it is a file. Save into a directory (new, empty, or one a Muvera index was saved to)."
                    : $"Cannot save the index to '{directory}': '{path}' in its path is a file, not a directory.");
            }

            if (Directory.Exists(path))
            {
                break;
            }
        }

        Directory.CreateDirectory(directory);
        ScanDirectory(directory);
    }

    // Called with the directory locked: writes version v<n+1> next to the others, switches CURRENT to it, then removes
    // every version but it and the one CURRENT named before (a reader may be opening that one), and every leftover.
    private void SaveUnderLock(string directory)
    {
        int next = ScanDirectory(directory);
        string? previous = ReadCurrentNameOrNull(directory);
        string version = "v" + next.ToString("D6", CultureInfo.InvariantCulture);
        string partial = Path.Combine(directory,
            $"{version}.p{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Random.Shared.Next():x8}{PartialSuffix}");
        string final = Path.Combine(directory, version);
        bool committed = false;
        try
        {
            Directory.CreateDirectory(partial);
            Step("created");

            using (var stream = new FileStream(Path.Combine(partial, IdMapFile.FileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                IdMapFile.Write(stream, _ids);
                stream.Flush(flushToDisk: true);
            }

            Step("ids");
            _store.Save(Path.Combine(partial, TokensFileName));
            Step("tokens");
            _mips.Save(Path.Combine(partial, Backend.FileName));
            Step("fde");

            FdePartitions? partitions = _encoder?.Partitions;
            if (partitions is not null)
            {
                using var stream = new FileStream(Path.Combine(partial, PartitionsFileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                partitions.Save(stream);
                stream.Flush(flushToDisk: true);
            }

            IndexManifest manifest = BuildManifest();
            string[] files = partitions is null
                ? [IdMapFile.FileName, TokensFileName, Backend.FileName]
                : [IdMapFile.FileName, TokensFileName, Backend.FileName, PartitionsFileName];
            foreach (string name in files)
            {
                string path = Path.Combine(partial, name);
                DirectorySync.FlushFile(path);

                // The token store's header holds the checksums of its offsets, codebook and block table, and the table
                // those of its data blocks: hashing the header alone here chains to every byte without reading them.
                long? prefix = HashedPrefix(name, _mips);
                (long length, ulong hash) = HashFile(path, prefix);
                manifest.Files.Add(new ManifestFile { Name = name, Length = length, Fnv1a64 = Hex(hash), HashedBytes = prefix });
            }

            byte[] manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestJsonContext.Default.IndexManifest);
            using (var stream = new FileStream(Path.Combine(partial, IndexManifest.FileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 12))
            {
                stream.Write(manifestBytes);
                stream.Flush(flushToDisk: true);
            }

            Step("manifest");
            DirectorySync.FlushDirectory(partial);
            Directory.Move(partial, final);
            DirectorySync.FlushDirectory(directory);
            Step("renamed");

            string currentTemporary = Path.Combine(directory, CurrentFileName + ".tmp");
            using (var stream = new FileStream(currentTemporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 8))
            {
                stream.Write(Encoding.ASCII.GetBytes($"{version} {Hex(Fnv64.Append(Fnv64.Basis, manifestBytes))}\n"));
                stream.Flush(flushToDisk: true);
            }

            Step("current-written");
            File.Move(currentTemporary, Path.Combine(directory, CurrentFileName), overwrite: true);
            DirectorySync.FlushDirectory(directory);
            committed = true;
            Step("committed");
        }
        catch when (!committed)
        {
            // Both folders are this writer's own: the partial one by its unique name, the final one because the lock has
            // been held since its number was chosen.
            TryDeleteDirectory(partial);
            if (ReadCurrentNameOrNull(directory) != version)
            {
                TryDeleteDirectory(final);
            }

            throw;
        }

        RemoveStaleVersions(directory, version, previous);
    }

    // Refuses a directory that is not (yet) a Muvera index but holds something, and returns the next version number.
    private static int ScanDirectory(string directory)
    {
        bool isIndex = File.Exists(Path.Combine(directory, CurrentFileName));
        int highest = 0;
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory))
        {
            string name = Path.GetFileName(entry);
            Match match = VersionPattern().Match(name);
            if (!match.Success)
            {
                match = PartialPattern().Match(name);
            }

            if (match.Success)
            {
                highest = Math.Max(highest, int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture));
                continue;
            }

            if (!isIndex && name is not (CurrentFileName + ".tmp" or DirectoryLock.FileName))
            {
                throw new IOException($"The directory '{directory}' is not empty and holds no Muvera index ('{name}' is in it); save into a new or empty directory, or one a Muvera index was saved to.");
            }
        }

        if (highest >= 99_999_999)
        {
            throw new IOException($"The directory '{directory}' has used up its version numbers (v{highest}); save into a new directory.");
        }

        return highest + 1;
    }

    // Called with the directory locked, so every partial folder and CURRENT.tmp is a crashed writer's leftover.
    private static void RemoveStaleVersions(string directory, string current, string? previous)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory))
        {
            string name = Path.GetFileName(entry);
            if (PartialPattern().IsMatch(name) || (name != current && name != previous && VersionPattern().IsMatch(name)))
            {
                TryDeleteDirectory(entry);
            }
        }

        try
        {
            File.Delete(Path.Combine(directory, CurrentFileName + ".tmp"));
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Left for the next save to remove (for example a file still mapped on Windows).
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void Step(string name) => SaveStepHook?.Invoke(name);

    private IndexManifest BuildManifest()
    {
        FdeOptions fde = Options.Fde;
        FdeEncoderIdentity identity = _encoder?.Identity ?? new FdeEncoderIdentity(fde, FdeEncoder.PrngVersion);
        bool version1 = identity.ToBytes().Length == FdeEncoderIdentity.SerializedLength;
        MuveraCalibration? calibration = Calibration;
        return new IndexManifest
        {
            Format = IndexManifest.FormatName,
            FormatVersion = IndexManifest.CurrentFormatVersion,
            LibraryVersion = typeof(MuveraIndex).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
            Encoder = Convert.ToBase64String(identity.ToBytes()),
            Fde = new ManifestFde
            {
                Dimension = fde.Dimension,
                Repetitions = fde.Repetitions,
                SimhashProjections = fde.SimHashProjections,
                Projection = fde.Projection.ToString(),
                ProjectionDimension = fde.ProjectionDimension,
                FinalDimension = fde.FinalDimension,
                FillEmptyPartitions = fde.FillEmptyPartitions,
                Seed = fde.Seed,
                OutputDimension = fde.OutputDimension,
                PrngVersion = FdeEncoder.PrngVersion,

                // Written only with a version 2 identity, so that SimHash indexes stay readable by older builds.
                Partitioning = version1 ? null : fde.Partitioning.ToString(),
                DocumentAggregation = version1 ? null : fde.DocumentAggregation.ToString(),
                TrainingSample = version1 ? null : fde.TrainingSample,
                TrainingIterations = version1 ? null : fde.TrainingIterations,
                PartitionsChecksum = identity.PartitionsChecksum is ulong checksum ? Hex(checksum) : null,
            },
            TokenElementType = _store.ElementType switch
            {
                StoreElementType.Float32 => "float32",
                StoreElementType.Float16 => "float16",
                StoreElementType.Int8 => "int8",
                _ => "residual",
            },
            NormalizeTokens = _store.IsNormalized,
            CompactOnSaveFraction = Options.CompactOnSaveFraction,
            Backend = new ManifestBackend
            {
                Kind = Backend.Kind,
                Description = Backend.Description,
                File = Backend.FileName,
                FdeStorage = _mips switch
                {
                    FlatMipsIndex or QuantizedMipsIndex => ToManifest(FlatMipsBackend.StorageOf(_mips)),
                    IvfMipsIndex ivf => ToManifest(ivf.Storage),
                    _ => null,
                },
                Lists = (_mips as IvfMipsIndex)?.Lists,
            },
            Documents = _ids.Count,
            Live = _ordinals.Count,
            Deleted = _ids.Count - _ordinals.Count,
            Tokens = _store.TokenCount,
            Calibration = calibration is null ? null : new ManifestCalibration
            {
                K = calibration.K,
                TargetRecall = calibration.TargetRecall,
                Candidates = calibration.Candidates,
                AchievedRecall = calibration.AchievedRecall,
                SampleQueries = calibration.SampleQueries,
                Documents = calibration.Documents,
                CurveCandidates = [.. calibration.Curve.Select(p => p.Candidates)],
                CurveRecall = [.. calibration.Curve.Select(p => p.Recall)],
                Probes = calibration.Probes,
            },
        };
    }

    private static string ReadCurrent(string directory, out ulong manifestHash)
    {
        string path = Path.Combine(directory, CurrentFileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{directory}' holds no Muvera index: it has no {CurrentFileName} file (a save never completed there).", path);
        }

        byte[] bytes = ReadSmallFile(path, 256, "CURRENT file");
        Match match = CurrentPattern().Match(Encoding.ASCII.GetString(bytes));
        Invalid(!match.Success,
            $"the {CurrentFileName} file of '{directory}' is not \"v<digits> <16 hex digits>\"");
        manifestHash = ulong.Parse(match.Groups[2].ValueSpan, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return match.Groups[1].Value;
    }

    // The version CURRENT names when it is well-formed and that version exists; otherwise null.
    private static string? ReadCurrentNameOrNull(string directory)
    {
        try
        {
            string version = ReadCurrent(directory, out _);
            return Directory.Exists(Path.Combine(directory, version)) ? version : null;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static IndexManifest ReadManifest(string versionDirectory, ulong expectedHash)
    {
        string path = Path.Combine(versionDirectory, IndexManifest.FileName);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"The manifest '{path}' is missing.");
        }

        byte[] bytes = ReadSmallFile(path, MaxManifestBytes, "manifest");
        ulong hash = Fnv64.Append(Fnv64.Basis, bytes);
        Invalid(hash != expectedHash, $"the manifest '{path}' has checksum {Hex(hash)}, but CURRENT expects {Hex(expectedHash)}");
        IndexManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(bytes, ManifestJsonContext.Default.IndexManifest);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The manifest '{path}' is not valid JSON: {e.Message}", e);
        }

        Invalid(manifest is null || manifest.Format != IndexManifest.FormatName, $"'{path}' is not a Muvera index manifest");
        Invalid(manifest!.FormatVersion is < IndexManifest.OldestFormatVersion or > IndexManifest.CurrentFormatVersion,
            $"the manifest has format version {manifest.FormatVersion}; this library reads versions {IndexManifest.OldestFormatVersion} to {IndexManifest.CurrentFormatVersion}");
        Invalid(manifest.Backend is null || manifest.Files is null || manifest.Encoder is null || manifest.TokenElementType is null,
            "the manifest lacks its backend, files, encoder or token element type");
        Invalid(manifest.Backend!.Kind is null || !BackendKindPattern().IsMatch(manifest.Backend.Kind),
            $"the manifest's backend kind is {Quote(manifest.Backend.Kind)}; expected a lowercase name such as \"flat\"");
        string? file = manifest.Backend.File;
        Invalid(file is null || file.Length == 0 || file is "." or ".." || Path.GetFileName(file) != file || file.Contains('\\', StringComparison.Ordinal),
            $"the manifest's backend file is {Quote(file)}; expected a file name inside the version directory");
        return manifest;
    }

    private static string Quote(string? value) => value is null ? "null" : $"\"{value}\"";

    // The readable copy of the options ("fde") is informational, but when present it must agree with the encoder identity
    // (the authoritative copy), so that an edit to either is noticed.
    private static void CheckReadableCopy(ManifestFde? copy, FdeOptions options, ulong? partitionsChecksum)
    {
        if (copy is null)
        {
            return;
        }

        void Agree<T>(string field, T written, T actual)
        {
            Invalid(!EqualityComparer<T>.Default.Equals(written, actual),
                $"the manifest's readable fde.{field} is {written?.ToString() ?? "null"}, but its encoder identity says {actual?.ToString() ?? "null"}");
        }

        Agree("dimension", copy.Dimension, options.Dimension);
        Agree("repetitions", copy.Repetitions, options.Repetitions);
        Agree("simhash_projections", copy.SimhashProjections, options.SimHashProjections);
        Agree("projection", copy.Projection, options.Projection.ToString());
        Agree("projection_dimension", copy.ProjectionDimension, options.ProjectionDimension);
        Agree("final_dimension", copy.FinalDimension, options.FinalDimension);
        Agree("fill_empty_partitions", copy.FillEmptyPartitions, options.FillEmptyPartitions);
        Agree("seed", copy.Seed, options.Seed);
        Agree("output_dimension", copy.OutputDimension, options.OutputDimension);
        Agree("prng_version", copy.PrngVersion, FdeEncoder.PrngVersion);

        // Absent in copies written before learned partitions (and for version 1 identities): the reference's values.
        Agree("partitioning", copy.Partitioning ?? nameof(FdePartitioning.SimHash), options.Partitioning.ToString());
        Agree("document_aggregation", copy.DocumentAggregation ?? nameof(FdeDocumentAggregation.Average), options.DocumentAggregation.ToString());
        Agree("training_sample", copy.TrainingSample ?? FdeOptions.DefaultTrainingSample, options.TrainingSample);
        Agree("training_iterations", copy.TrainingIterations ?? FdeOptions.DefaultTrainingIterations, options.TrainingIterations);
        Agree("partitions_checksum", copy.PartitionsChecksum, partitionsChecksum is ulong checksum ? Hex(checksum) : null);
    }

    private static void VerifyFiles(string versionDirectory, IndexManifest manifest, bool partitions)
    {
        var expected = new HashSet<string>(StringComparer.Ordinal) { IdMapFile.FileName, TokensFileName, manifest.Backend.File };
        if (partitions)
        {
            expected.Add(PartitionsFileName);
        }

        Invalid(manifest.Files.Count != expected.Count, $"the manifest lists {manifest.Files.Count} files; expected {expected.Count}");
        foreach (ManifestFile file in manifest.Files)
        {
            Invalid(file is null || !expected.Remove(file.Name), $"the manifest lists an unexpected or repeated file \"{file?.Name}\"");
            string path = Path.Combine(versionDirectory, file!.Name);
            Invalid(!File.Exists(path), $"the file '{path}' is missing");
            Invalid(file.HashedBytes is long prefix && prefix != HashedPrefix(file.Name) && !(file.Name == FlatFileName && prefix == QuantizedMipsIndex.HeaderLength),
                $"the manifest hashes only the first {file.HashedBytes} bytes of '{file.Name}'; only the token store's {MultiVectorStore.HeaderLengthV2}-byte header and the IVF file's {IvfMipsIndex.HeaderLength}-byte header are hashed so");
            (long length, ulong hash) = HashFile(path, file.HashedBytes);
            Invalid(length != file.Length, $"the file '{path}' has {length} bytes; the manifest says {file.Length}");
            Invalid(!string.Equals(Hex(hash), file.Fnv1a64, StringComparison.Ordinal),
                $"the file '{path}' has checksum {Hex(hash)}; the manifest says {file.Fnv1a64}");
        }
    }

    private static FdeEncoderIdentity ReadIdentity(IndexManifest manifest)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(manifest.Encoder);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException("The manifest's encoder identity is not valid base64.", e);
        }

        try
        {
            return FdeEncoderIdentity.FromBytes(bytes);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The manifest's encoder identity is not valid: {e.Message}", e);
        }
    }

    // The limits are Calibrate's own: N and every curve point lie in [min(k, documents), max(10,000, min(k, documents))],
    // the curve ascends in N (at most one point per rung of its ladder) and its recall never falls.
    private static MuveraCalibration? ReadCalibration(ManifestCalibration? stored)
    {
        if (stored is null)
        {
            return null;
        }

        int points = stored.CurveCandidates?.Count ?? -1;
        Invalid(stored.CurveCandidates is null || stored.CurveRecall is null || points != stored.CurveRecall.Count || points < 1 || points > MaxCalibrationCurvePoints,
            $"the calibration curve has {points} candidate counts and {stored.CurveRecall?.Count ?? -1} recalls; expected the same number, 1 to {MaxCalibrationCurvePoints}");
        Invalid(stored.K <= 0, $"the calibration's k is {stored.K}; it must be positive");
        Invalid(stored.SampleQueries <= 0, $"the calibration's sample_queries is {stored.SampleQueries}; it must be positive");
        Invalid(stored.Documents <= 0, $"the calibration's documents is {stored.Documents}; it must be positive");
        Invalid(!(stored.TargetRecall > 0 && stored.TargetRecall <= 1), $"the calibration's target_recall {stored.TargetRecall} is outside (0, 1]");
        Invalid(!(stored.AchievedRecall >= 0 && stored.AchievedRecall <= 1), $"the calibration's achieved_recall {stored.AchievedRecall} is outside [0, 1]");
        int minimum = Math.Min(stored.K, stored.Documents);
        int maximum = Math.Max(MaxCalibrationCandidates, minimum);
        Invalid(stored.Candidates < minimum || stored.Candidates > maximum,
            $"the calibration's candidates {stored.Candidates} is outside [{minimum}, {maximum}] (Calibrate chooses N between min(k, documents) and {MaxCalibrationCandidates})");
        var curve = new List<CalibrationPoint>(points);
        for (int i = 0; i < points; i++)
        {
            int candidates = stored.CurveCandidates![i];
            double recall = stored.CurveRecall![i];
            Invalid(candidates < minimum || candidates > maximum,
                $"the calibration curve's candidate count {candidates} (point {i}) is outside [{minimum}, {maximum}]");
            Invalid(!(recall >= 0 && recall <= 1), $"the calibration curve's recall {recall} (point {i}) is outside [0, 1]");
            if (i > 0)
            {
                CalibrationPoint before = curve[^1];
                Invalid(candidates <= before.Candidates,
                    $"the calibration curve's candidate counts do not ascend ({before.Candidates}, then {candidates} at point {i})");
                Invalid(recall < before.Recall, $"the calibration curve's recall falls from {before.Recall} to {recall} at point {i}");
            }

            curve.Add(new CalibrationPoint(candidates, recall));
        }

        Invalid(stored.Probes is <= 0 or > IvfMipsIndex.MaxLists, $"the calibration's probes {stored.Probes} is outside [1, {IvfMipsIndex.MaxLists}]");
        return new MuveraCalibration(stored.K, stored.TargetRecall, stored.Candidates, stored.AchievedRecall, stored.SampleQueries, stored.Documents, curve)
        {
            Probes = stored.Probes,
        };
    }

    private static MipsBackend ResolveBackend(IndexManifest manifest, IReadOnlyList<MipsBackend> backends)
    {
        string kind = manifest.Backend.Kind;
        Invalid(kind is null, "the manifest's backend has no kind");
        MipsBackend? given = null;
        foreach (MipsBackend candidate in backends ?? [])
        {
            if (candidate is not null && candidate.Kind == kind)
            {
                given = candidate;
                break;
            }
        }

        if (kind == "flat")
        {
            // The saved storage decides how the FDEs are read and how later adds are encoded; a given flat backend
            // contributes its search thread limit.
            FdeStorage storage = manifest.FormatVersion == 1 ? StorageOfVersion1(manifest.Backend.Description) : FromManifest(manifest.Backend.FdeStorage);
            return new FlatMipsBackend(storage) { SearchParallelOptions = (given as FlatMipsBackend)?.SearchParallelOptions };
        }

        if (kind == "ivf")
        {
            // The saved storage and lists decide how the FDEs are read and how later adds are encoded; a given IVF backend
            // contributes its default probes.
            int lists = manifest.Backend.Lists ?? 0;
            Invalid(lists is < 1 or > IvfMipsIndex.MaxLists, $"the manifest's IVF backend has {manifest.Backend.Lists?.ToString(CultureInfo.InvariantCulture) ?? "no"} lists; expected 1 to {IvfMipsIndex.MaxLists}");
            FdeStorage ivfStorage = FromManifest(manifest.Backend.FdeStorage);
            Invalid(!ivfStorage.IsQuantized, $"the manifest gives the IVF backend {ivfStorage} FDE storage; it stores quantized codes");
            return new IvfMipsBackend(ivfStorage, lists) { Probes = (given as IvfMipsBackend)?.Probes ?? IvfMipsBackend.DefaultProbes };
        }

        foreach ((string known, string typeName) in s_knownBackends)
        {
            if (given is null && known == kind && Type.GetType(typeName, throwOnError: false) is { } type && Activator.CreateInstance(type) is MipsBackend found)
            {
                given = found;
            }
        }

        if (given is not null)
        {
            Invalid(manifest.Backend.FdeStorage is not null, $"the manifest gives FDE storage to a \"{kind}\" backend; only the flat backend has one");
            return given;
        }

        throw new InvalidOperationException(
            $"The index's FDEs are in a \"{kind}\" index, and no backend of that kind was given or found; reference the package that provides it (Muvera.USearch for usearch, Muvera.Faiss for faiss) and pass its backend in MuveraLoadOptions.Backends.");
    }

    private static ManifestFdeStorage ToManifest(FdeStorage storage) => new()
    {
        Kind = StorageKindName(storage.Kind),
        Bits = storage.Bits,
        SubspaceDimension = storage.SubspaceDimension,
        TrainingRows = storage.TrainingRows,
        MaxTrainingSample = storage.MaxTrainingSample,
        Iterations = storage.Iterations,
        Seed = storage.Seed,
        RefineBits = storage.RefineBits,
        RefineSubspaceDimension = storage.RefineSubspaceDimension,
        RefineCandidates = storage.RefineCandidates,
    };

    private static string StorageKindName(FdeStorageKind kind) => kind switch
    {
        FdeStorageKind.Float32 => "float32",
        FdeStorageKind.Float16 => "float16",
        FdeStorageKind.Int8 => "int8",
        _ => "pq",
    };

    private static FdeStorage FromManifest(ManifestFdeStorage? stored)
    {
        Invalid(stored is null, "the manifest's flat backend has no fde_storage");
        try
        {
            FdeStorage storage = stored!.Kind switch
            {
                "float32" => FdeStorage.Float32,
                "float16" => FdeStorage.Float16,
                "int8" => FdeStorage.Int8,
                "pq" => FdeStorage.ProductQuantization(stored.Bits, stored.SubspaceDimension),
                _ => throw new InvalidDataException($"The saved index is not valid: the manifest's fde_storage kind \"{stored.Kind}\" is unknown (float32, float16, int8, pq)."),
            };
            if (!storage.IsQuantized)
            {
                Invalid(stored.Bits != storage.Bits || stored.SubspaceDimension != 1 || stored.TrainingRows != 0 || stored.MaxTrainingSample != 0
                    || stored.Iterations != storage.Iterations || stored.Seed != storage.Seed || stored.RefineBits != 0 || stored.RefineSubspaceDimension != 0
                    || stored.RefineCandidates != 0, $"the manifest's {stored.Kind} fde_storage has settings of a quantized storage");
                return storage;
            }

            Invalid(stored.Bits != storage.Bits || stored.SubspaceDimension != storage.SubspaceDimension,
                $"the manifest's {stored.Kind} fde_storage has {stored.Bits} bits and sub-space {stored.SubspaceDimension}");
            storage = storage with
            {
                TrainingRows = stored.TrainingRows,
                MaxTrainingSample = stored.MaxTrainingSample,
                Iterations = stored.Iterations,
                Seed = stored.Seed,
            };
            if (stored.RefineBits == 0 && stored.RefineSubspaceDimension == 0 && stored.RefineCandidates == 0)
            {
                return storage;
            }

            Invalid(storage.Kind != FdeStorageKind.ProductQuantization, $"the manifest gives a refinement stage to {stored.Kind} storage");
            return storage.WithRefinement(stored.RefineBits, stored.RefineSubspaceDimension, stored.RefineCandidates);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The saved index is not valid: the manifest's fde_storage is out of range: {e.Message}", e);
        }
    }

    // Version 1 manifests had float flat indexes only, named by their description.
    private static FdeStorage StorageOfVersion1(string description) => description switch
    {
        "float32" => FdeStorage.Float32,
        "float16" => FdeStorage.Float16,
        _ => throw new InvalidDataException($"The saved index is not valid: a version 1 manifest's flat backend is \"{description}\" (expected float32 or float16)."),
    };

    private static byte[] ReadSmallFile(string path, int maximum, string what)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1);
        Invalid(stream.Length > maximum, $"the {what} '{path}' has {stream.Length} bytes, more than the {maximum} allowed");
        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    // The files whose manifest checksum covers only their header: they check their own contents (the token store per
    // block on first touch, the IVF file per section with XxHash3 as it loads), and hashing gigabytes byte by byte on
    // every open would dominate opening a large index.
    private static long? HashedPrefix(string name) => name switch
    {
        TokensFileName => MultiVectorStore.HeaderLengthV2,
        IvfFileName => IvfMipsIndex.HeaderLength,
        _ => null,
    };

    // At save: the quantized flat index (format version 2) checks its sections with XxHash3 as it loads, so its
    // manifest entry covers only its header too; older files and the float flat index keep their whole-file hash.
    private static long? HashedPrefix(string name, IMipsIndex mips) =>
        name == FlatFileName && mips is QuantizedMipsIndex ? QuantizedMipsIndex.HeaderLength : HashedPrefix(name);

    private const string FlatFileName = "fde.flat";

    private const string IvfFileName = "fde.ivf";

    // The file's length and the FNV-1a 64 of its first `prefix` bytes (all of them when null).
    private static (long Length, ulong Hash) HashFile(string path, long? prefix)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1);
        long fileLength = stream.Length;
        long limit = prefix ?? long.MaxValue;
        byte[] buffer = new byte[(int)Math.Min(1 << 20, Math.Max(1, Math.Min(limit, fileLength)))];
        ulong hash = Fnv64.Basis;
        long length = 0;
        int read;
        while (length < limit && (read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - length))) > 0)
        {
            hash = Fnv64.Append(hash, buffer.AsSpan(0, read));
            length += read;
        }

        return (prefix is null ? length : fileLength, hash);
    }

    private static string Hex(ulong value) => value.ToString("x16", CultureInfo.InvariantCulture);

    private static void Invalid(bool condition, string reason)
    {
        if (condition)
        {
            throw new InvalidDataException($"The saved index is not valid: {reason}.");
        }
    }

    [GeneratedRegex(@"^v(\d{6,8})\z", RegexOptions.CultureInvariant)]
    private static partial Regex VersionPattern();

    // "v000004.partial" (before issue #17) or "v000004.p<process id>-<random>.partial" (one per writer).
    [GeneratedRegex(@"^v(\d{6,8})(\.[0-9A-Za-z-]+)?\.partial\z", RegexOptions.CultureInvariant)]
    private static partial Regex PartialPattern();

    [GeneratedRegex(@"^(v\d{6,8}) ([0-9a-f]{16})\n?\z", RegexOptions.CultureInvariant)]
    private static partial Regex CurrentPattern();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9._-]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex BackendKindPattern();
}
