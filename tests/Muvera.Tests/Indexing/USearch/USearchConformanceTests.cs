// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Muvera.USearch;

namespace Muvera.Tests.Indexing;

/// <summary>The settings every USearch conformance fixture shares: M = 16, ef_add = 128, ef = 128, with the scalar
/// kind and the way files are opened chosen per fixture.</summary>
public abstract class USearchConformanceTestsBase : MipsIndexConformanceTests<USearchMipsIndex>
{
    /// <summary>The storage kind under test.</summary>
    protected abstract USearchScalarKind ScalarKind { get; }

    /// <summary>HNSW is approximate, and the suite's data (1,500 random unit vectors in 64-d, no cluster structure) is
    /// its hardest case. 150 builds per scalar kind (parallel insertion on 2 cores, whose interleaving changes the
    /// graph) measured recall@10 between 0.975 and 1.000, mean 0.997, for every kind at these settings (at ef = 64
    /// the minimum was 0.94). The floor sits below that minimum.</summary>
    protected override double RecallFloor => 0.95;

    protected override string RecallFloorReason =>
        "HNSW (M = 16, ef = 128) is approximate: 150 parallel builds per kind measured recall@10 0.975 to 1.000 (mean 0.997) on this data";

    protected override bool IsAvailable(out string reason)
    {
        reason = "the native library libusearch_c (package Cloud.Unum.USearch) could not be loaded";
        return USearchMipsIndex.IsSupported;
    }

    protected override USearchMipsIndex Create(int dimension) =>
        new(dimension, new USearchOptions { ScalarKind = ScalarKind, Connectivity = 16, ExpansionAdd = 128, ExpansionSearch = 128 });

    protected override USearchMipsIndex Load(string path) => USearchMipsIndex.Load(path);
}

/// <summary>USearch HNSW with float32 storage: scores are float32 inner products (USearch's distance 1 − ⟨q, x⟩
/// turned back into a score adds at most one rounding at magnitude 1).</summary>
public sealed class USearchFloat32ConformanceTests : USearchConformanceTestsBase
{
    protected override USearchScalarKind ScalarKind => USearchScalarKind.Float32;
}

/// <summary>USearch HNSW with float16 storage: vectors and queries are rounded to 11 significant bits (relative error
/// ≤ 2⁻¹¹ per coordinate), so for unit vectors the score moves by at most about 2·2⁻¹¹·Σ|qᵢxᵢ| ≤ 10⁻³; the
/// tolerance is 2·10⁻³.</summary>
public sealed class USearchFloat16ConformanceTests : USearchConformanceTestsBase
{
    protected override USearchScalarKind ScalarKind => USearchScalarKind.Float16;

    protected override double ScoreTolerance => 2e-3;
}

/// <summary>USearch HNSW with bfloat16 storage: 8 significant bits (relative error ≤ 2⁻⁸ per coordinate), so for unit
/// vectors the score moves by at most about 2·2⁻⁸·Σ|qᵢxᵢ| ≤ 8·10⁻³; the tolerance is 10⁻².</summary>
public sealed class USearchBFloat16ConformanceTests : USearchConformanceTestsBase
{
    protected override USearchScalarKind ScalarKind => USearchScalarKind.BFloat16;

    protected override double ScoreTolerance => 1e-2;
}

/// <summary>USearch HNSW with float16 storage, every file opened with <see cref="USearchMipsIndex.View"/> (memory
/// mapped, read-only) instead of loaded: the same results and the same refusal of damaged files.</summary>
public sealed class USearchViewConformanceTests : USearchConformanceTestsBase
{
    protected override USearchScalarKind ScalarKind => USearchScalarKind.Float16;

    protected override double ScoreTolerance => 2e-3;

    protected override USearchMipsIndex Load(string path) => USearchMipsIndex.View(path);
}
