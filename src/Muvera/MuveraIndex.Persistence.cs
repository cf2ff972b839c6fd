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
    private const string PartialSuffix = ".partial";
    private const int MaxManifestBytes = 16 << 20;
    private static readonly ParallelOptions s_defaultParallelOptions = new();

    // Backends found by name when Load is not given one of the manifest's kind.
    private static readonly (string Kind, string TypeName)[] s_knownBackends =
    [
        ("usearch", "Muvera.USearch.USearchMipsBackend, Muvera.USearch"),
        ("faiss", "Muvera.Faiss.FaissMipsBackend, Muvera.Faiss"),
    ];

    /// <summary>Test seam: called after each step of <see cref="Save"/> with the step's name; an exception thrown here
    /// simulates a crash at that point.</summary>
    internal static Action<string>? SaveStepHook { get; set; }

    /// <summary>Saves the index into <paramref name="directory"/>, crash-safely: the new version is written to a
    /// temporary subdirectory, flushed to disk and renamed, and only then does the directory's <c>CURRENT</c> file
    /// (replaced atomically) point at it. A crash at any point leaves the previously saved index loadable; older
    /// versions are removed after the switch.</summary>
    /// <param name="directory">A new or empty directory, or one holding a saved Muvera index.</param>
    /// <remarks>Compacts first when at least <see cref="MuveraIndexOptions.CompactOnSaveFraction"/> of the documents
    /// are deleted (searches wait during compaction only). Other writers wait while the files are written; searches
    /// continue.</remarks>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="IOException">The directory holds files that are not a Muvera index, or writing failed (the
    /// previously saved index is intact).</exception>
    public void Save(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _lock.EnterUpgradeableReadLock();
        try
        {
            ThrowIfDisposed();
            if (_deleted > 0 && _deleted >= Options.CompactOnSaveFraction * _ids.Count)
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

            SaveUnderLock(Path.GetFullPath(directory));
        }
        finally
        {
            _lock.ExitUpgradeableReadLock();
        }
    }

    /// <summary>Loads the index saved in <paramref name="directory"/> (see <see cref="Load(string, MuveraLoadOptions)"/>).</summary>
    /// <param name="directory">The directory <see cref="Save"/> wrote.</param>
    /// <returns>The index; dispose it to release the mapped token file.</returns>
    public static MuveraIndex Load(string directory) => Load(directory, new MuveraLoadOptions());

    /// <summary>Loads the index saved in <paramref name="directory"/>, verifying every file against the checksums in
    /// the manifest and every count across files before anything is used. The token store is memory-mapped
    /// (read-only; the first write after loading copies it into memory).</summary>
    /// <param name="directory">The directory <see cref="Save"/> wrote.</param>
    /// <param name="options">Backends to load the FDE index with, and the FDE options the caller expects.</param>
    /// <returns>The index; dispose it to release the mapped token file.</returns>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">The directory has no <c>CURRENT</c> file (no save ever completed).</exception>
    /// <exception cref="InvalidDataException">A file is corrupt, truncated, missing or inconsistent with another, or
    /// the index was built with other FDE options than <see cref="MuveraLoadOptions.ExpectedFde"/> or with another PRNG
    /// version; the message names the file and the check.</exception>
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

        string version = ReadCurrent(directory, out ulong manifestHash);
        string versionDirectory = Path.Combine(directory, version);
        IndexManifest manifest = ReadManifest(versionDirectory, manifestHash);
        VerifyFiles(versionDirectory, manifest);

        FdeEncoderIdentity identity = ReadIdentity(manifest);
        var encoder = new FdeEncoder(identity.Options);
        Invalid(identity.PrngVersion != FdeEncoder.PrngVersion,
            $"the index was encoded with FDE PRNG version {identity.PrngVersion}; this library encodes with version {FdeEncoder.PrngVersion}, so its query FDEs would not match");
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

        StoreElementType elementType = manifest.TokenElementType switch
        {
            "float32" => StoreElementType.Float32,
            "float16" => StoreElementType.Float16,
            _ => throw new InvalidDataException($"The manifest gives token element type \"{manifest.TokenElementType}\" (expected float32 or float16)."),
        };
        Invalid(!(manifest.CompactOnSaveFraction >= 0 && manifest.CompactOnSaveFraction <= 1), $"compact_on_save_fraction {manifest.CompactOnSaveFraction} is outside [0, 1]");
        var indexOptions = new MuveraIndexOptions
        {
            Fde = identity.Options,
            TokenElementType = elementType,
            NormalizeTokens = manifest.NormalizeTokens,
            CompactOnSaveFraction = manifest.CompactOnSaveFraction,
        };
        MipsBackend backend = ResolveBackend(manifest, options.Backends);
        Invalid(manifest.Backend.File != backend.FileName, $"the backend file is \"{manifest.Backend.File}\" but the {backend.Kind} backend uses \"{backend.FileName}\"");

        string?[] ids = IdMapFile.Read(Path.Combine(versionDirectory, IdMapFile.FileName), out int live);
        MultiVectorStore? store = null;
        IMipsIndex? mips = null;
        try
        {
            store = MultiVectorStore.Load(Path.Combine(versionDirectory, TokensFileName));
            mips = backend.Load(Path.Combine(versionDirectory, backend.FileName));
            Invalid(manifest.Documents != ids.Length || store.Count != ids.Length || mips.Count != ids.Length,
                $"the manifest counts {manifest.Documents} documents, the id map {ids.Length}, the token store {store.Count}, the FDE index {mips.Count}");
            Invalid(manifest.Live != live || manifest.Deleted != ids.Length - live,
                $"the manifest counts {manifest.Live} live and {manifest.Deleted} deleted documents, the id map {live} live of {ids.Length}");
            Invalid(manifest.Tokens != store.TokenCount, $"the manifest counts {manifest.Tokens} tokens, the token store {store.TokenCount}");
            Invalid(store.Dimension != encoder.Dimension || store.ElementType != elementType || store.IsNormalized != manifest.NormalizeTokens,
                $"the token store holds {store.ElementType} tokens of dimension {store.Dimension} (normalised: {store.IsNormalized}); the manifest says {elementType}, {encoder.Dimension}, {manifest.NormalizeTokens}");
            Invalid(mips.Dimension != encoder.OutputDimension, $"the FDE index has dimension {mips.Dimension}; the encoder's output dimension is {encoder.OutputDimension}");
            if (backend is FlatMipsBackend flatBackend)
            {
                Invalid(mips is not (FlatMipsIndex or QuantizedMipsIndex) || FlatMipsBackend.StorageOf(mips) != flatBackend.Storage,
                    $"the FDE file '{backend.FileName}' holds {(mips is FlatMipsIndex or QuantizedMipsIndex ? FlatMipsBackend.StorageOf(mips) : mips.GetType().Name)} storage; the manifest says {flatBackend.Storage}");
            }
            for (int i = 0; i < ids.Length; i++)
            {
                Invalid(ids[i] is not null && store.TokenCountOf(i) == 0, $"live document {i} (\"{ids[i]}\") has no tokens");
            }

            MuveraCalibration? calibration = ReadCalibration(manifest.Calibration);
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

    private void SaveUnderLock(string directory)
    {
        Directory.CreateDirectory(directory);
        int next = PrepareDirectory(directory);
        string version = "v" + next.ToString("D6", CultureInfo.InvariantCulture);
        string partial = Path.Combine(directory, version + PartialSuffix);
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

            IndexManifest manifest = BuildManifest();
            foreach (string name in (ReadOnlySpan<string>)[IdMapFile.FileName, TokensFileName, Backend.FileName])
            {
                string path = Path.Combine(partial, name);
                DirectorySync.FlushFile(path);
                (long length, ulong hash) = HashFile(path);
                manifest.Files.Add(new ManifestFile { Name = name, Length = length, Fnv1a64 = Hex(hash) });
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
            TryDeleteDirectory(partial);
            if (ReadCurrentOrNull(directory) != version)
            {
                TryDeleteDirectory(final);
            }

            throw;
        }

        RemoveStaleVersions(directory, version);
    }

    // Refuses a directory that is not (yet) a Muvera index but holds something, and returns the next version number.
    private static int PrepareDirectory(string directory)
    {
        bool isIndex = File.Exists(Path.Combine(directory, CurrentFileName));
        int highest = 0;
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory))
        {
            string name = Path.GetFileName(entry);
            Match match = VersionPattern().Match(name);
            if (match.Success)
            {
                highest = Math.Max(highest, int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture));
                continue;
            }

            if (!isIndex && name is not (CurrentFileName + ".tmp"))
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

    private static void RemoveStaleVersions(string directory, string current)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory))
        {
            string name = Path.GetFileName(entry);
            if (name != current && VersionPattern().IsMatch(name))
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
        FdeOptions fde = Encoder.Options;
        MuveraCalibration? calibration = Calibration;
        return new IndexManifest
        {
            Format = IndexManifest.FormatName,
            FormatVersion = IndexManifest.CurrentFormatVersion,
            LibraryVersion = typeof(MuveraIndex).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
            Encoder = Convert.ToBase64String(Encoder.Identity.ToBytes()),
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
                OutputDimension = Encoder.OutputDimension,
                PrngVersion = FdeEncoder.PrngVersion,
            },
            TokenElementType = _store.ElementType == StoreElementType.Float32 ? "float32" : "float16",
            NormalizeTokens = _store.IsNormalized,
            CompactOnSaveFraction = Options.CompactOnSaveFraction,
            Backend = new ManifestBackend
            {
                Kind = Backend.Kind,
                Description = Backend.Description,
                File = Backend.FileName,
                FdeStorage = _mips is FlatMipsIndex or QuantizedMipsIndex ? ToManifest(FlatMipsBackend.StorageOf(_mips)) : null,
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
        string version = match.Groups[1].Value;
        if (!Directory.Exists(Path.Combine(directory, version)))
        {
            throw new InvalidDataException($"The {CurrentFileName} file of '{directory}' names version '{version}', which is missing.");
        }

        return version;
    }

    private static string? ReadCurrentOrNull(string directory)
    {
        try
        {
            return ReadCurrent(directory, out _);
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
        return manifest;
    }

    private static void VerifyFiles(string versionDirectory, IndexManifest manifest)
    {
        var expected = new HashSet<string>(StringComparer.Ordinal) { IdMapFile.FileName, TokensFileName, manifest.Backend.File };
        Invalid(manifest.Files.Count != expected.Count, $"the manifest lists {manifest.Files.Count} files; expected {expected.Count}");
        foreach (ManifestFile file in manifest.Files)
        {
            Invalid(file is null || !expected.Remove(file.Name), $"the manifest lists an unexpected or repeated file \"{file?.Name}\"");
            string path = Path.Combine(versionDirectory, file!.Name);
            Invalid(!File.Exists(path), $"the file '{path}' is missing");
            (long length, ulong hash) = HashFile(path);
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

    private static MuveraCalibration? ReadCalibration(ManifestCalibration? stored)
    {
        if (stored is null)
        {
            return null;
        }

        Invalid(stored.CurveCandidates is null || stored.CurveRecall is null || stored.CurveCandidates.Count != stored.CurveRecall.Count,
            "the calibration curve is malformed");
        Invalid(stored.K <= 0 || stored.Candidates < 1 || stored.SampleQueries <= 0 || stored.Documents <= 0
            || !(stored.TargetRecall > 0 && stored.TargetRecall <= 1) || !(stored.AchievedRecall >= 0 && stored.AchievedRecall <= 1),
            "the calibration holds values out of range");
        var curve = new List<CalibrationPoint>(stored.CurveCandidates!.Count);
        for (int i = 0; i < stored.CurveCandidates.Count; i++)
        {
            curve.Add(new CalibrationPoint(stored.CurveCandidates[i], stored.CurveRecall![i]));
        }

        return new MuveraCalibration(stored.K, stored.TargetRecall, stored.Candidates, stored.AchievedRecall, stored.SampleQueries, stored.Documents, curve);
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
                    || stored.Iterations != storage.Iterations || stored.Seed != storage.Seed, $"the manifest's {stored.Kind} fde_storage has settings of a quantized storage");
                return storage;
            }

            Invalid(stored.Bits != storage.Bits || stored.SubspaceDimension != storage.SubspaceDimension,
                $"the manifest's {stored.Kind} fde_storage has {stored.Bits} bits and sub-space {stored.SubspaceDimension}");
            return storage with
            {
                TrainingRows = stored.TrainingRows,
                MaxTrainingSample = stored.MaxTrainingSample,
                Iterations = stored.Iterations,
                Seed = stored.Seed,
            };
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
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        Invalid(stream.Length > maximum, $"the {what} '{path}' has {stream.Length} bytes, more than the {maximum} allowed");
        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static (long Length, ulong Hash) HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        byte[] buffer = new byte[1 << 20];
        ulong hash = Fnv64.Basis;
        long length = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            hash = Fnv64.Append(hash, buffer.AsSpan(0, read));
            length += read;
        }

        return (length, hash);
    }

    private static string Hex(ulong value) => value.ToString("x16", CultureInfo.InvariantCulture);

    private static void Invalid(bool condition, string reason)
    {
        if (condition)
        {
            throw new InvalidDataException($"The saved index is not valid: {reason}.");
        }
    }

    [GeneratedRegex(@"^v(\d{6,8})(\.partial)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@"^(v\d{6,8}) ([0-9a-f]{16})\n?\z", RegexOptions.CultureInvariant)]
    private static partial Regex CurrentPattern();
}
