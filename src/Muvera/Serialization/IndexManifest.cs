// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;
using System.Text.Json.Serialization;

namespace Muvera.Serialization;

/// <summary>The manifest (<c>manifest.json</c>) of one saved version of a <see cref="MuveraIndex"/>; format in
/// README.md ("MuveraIndex directory").</summary>
internal sealed class IndexManifest
{
    public const string FileName = "manifest.json";
    public const string FormatName = "muvera-index";
    /// <summary>2 added <c>backend.fde_storage</c>; version 1 manifests (float flat indexes only) are still read.</summary>
    public const int CurrentFormatVersion = 2;

    /// <summary>The oldest manifest version this library reads.</summary>
    public const int OldestFormatVersion = 1;

    public string Format { get; set; } = "";

    public int FormatVersion { get; set; }

    public string? LibraryVersion { get; set; }

    /// <summary>Base64 of <see cref="FdeEncoderIdentity.ToBytes"/> (authoritative).</summary>
    public string Encoder { get; set; } = "";

    /// <summary>A readable copy of the FDE options (informational).</summary>
    public ManifestFde? Fde { get; set; }

    public string TokenElementType { get; set; } = "";

    public bool NormalizeTokens { get; set; }

    public double CompactOnSaveFraction { get; set; }

    public ManifestBackend Backend { get; set; } = new();

    public long Documents { get; set; }

    public long Live { get; set; }

    public long Deleted { get; set; }

    public long Tokens { get; set; }

    public ManifestCalibration? Calibration { get; set; }

    public List<ManifestFile> Files { get; set; } = [];
}

internal sealed class ManifestFde
{
    public int Dimension { get; set; }

    public int Repetitions { get; set; }

    public int SimhashProjections { get; set; }

    public string Projection { get; set; } = "";

    public int? ProjectionDimension { get; set; }

    public int? FinalDimension { get; set; }

    public bool FillEmptyPartitions { get; set; }

    public int Seed { get; set; }

    public int OutputDimension { get; set; }

    public int PrngVersion { get; set; }

    /// <summary><c>SimHash</c> or <c>KMeans</c>; written only with a version 2 encoder identity (issue 21).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Partitioning { get; set; }

    /// <summary><c>Average</c> or <c>NormalizedAverage</c>; written only with a version 2 encoder identity.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DocumentAggregation { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? TrainingSample { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? TrainingIterations { get; set; }

    /// <summary>FNV-1a 64 of the learned centroids (16 lowercase hex digits), when trained.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PartitionsChecksum { get; set; }
}

internal sealed class ManifestBackend
{
    public string Kind { get; set; } = "";

    public string Description { get; set; } = "";

    public string File { get; set; } = "";

    /// <summary>The FDE storage of the flat and IVF backends (format version 2; null for other backends and in version 1).</summary>
    public ManifestFdeStorage? FdeStorage { get; set; }

    /// <summary>The IVF backend's list count (null for other backends).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? Lists { get; set; }
}

/// <summary>An <see cref="Indexing.FdeStorage"/> as the manifest records it.</summary>
internal sealed class ManifestFdeStorage
{
    /// <summary><c>float32</c>, <c>float16</c>, <c>int8</c> or <c>pq</c>.</summary>
    public string Kind { get; set; } = "";

    public int Bits { get; set; }

    public int SubspaceDimension { get; set; }

    public int TrainingRows { get; set; }

    public int MaxTrainingSample { get; set; }

    public int Iterations { get; set; }

    public int Seed { get; set; }

    /// <summary>The refinement stage's bits, sub-space and candidates per result; 0 without one.</summary>
    public int RefineBits { get; set; }

    public int RefineSubspaceDimension { get; set; }

    public int RefineCandidates { get; set; }
}

internal sealed class ManifestCalibration
{
    public int K { get; set; }

    public double TargetRecall { get; set; }

    public int Candidates { get; set; }

    public double AchievedRecall { get; set; }

    public int SampleQueries { get; set; }

    public int Documents { get; set; }

    public List<int> CurveCandidates { get; set; } = [];

    public List<double> CurveRecall { get; set; } = [];

    /// <summary>The calibrated probes of an IVF index (null for other backends).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? Probes { get; set; }
}

internal sealed class ManifestFile
{
    public string Name { get; set; } = "";

    public long Length { get; set; }

    /// <summary>FNV-1a 64 of the whole file, or of its first <see cref="HashedBytes"/> bytes, 16 lowercase hex digits.</summary>
    public string Fnv1a64 { get; set; } = "";

    /// <summary>Null: <see cref="Fnv1a64"/> covers the whole file. Otherwise the number of leading bytes it covers: 128
    /// for a version 2 token store, whose header holds the checksums of all its sections (issue #15; optional within
    /// manifest format version 2).</summary>
    public long? HashedBytes { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(IndexManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext
{
}
