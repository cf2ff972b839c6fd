// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Muvera.Indexing;

namespace Muvera.Tests.Indexing;

/// <summary>The flat index with float32 storage: exact up to float rounding.</summary>
public sealed class FlatFloat32ConformanceTests : MipsIndexConformanceTests<FlatMipsIndex>
{
    protected override FlatMipsIndex Create(int dimension) => new(dimension, StoreElementType.Float32);

    protected override FlatMipsIndex Load(string path) => FlatMipsIndex.Load(path);
}

/// <summary>The flat index with float16 storage: the exact top k over the stored (rounded) vectors.</summary>
public sealed class FlatFloat16ConformanceTests : MipsIndexConformanceTests<FlatMipsIndex>
{
    /// <summary>Half precision keeps 11 significant bits per coordinate: for unit vectors in 64-d the score error is
    /// about 2⁻¹² · √64 · (typical coordinate product) — well under 2·10⁻³.</summary>
    protected override double ScoreTolerance => 2e-3;

    protected override FlatMipsIndex Create(int dimension) => new(dimension, StoreElementType.Float16);

    protected override FlatMipsIndex Load(string path) => FlatMipsIndex.Load(path);
}
