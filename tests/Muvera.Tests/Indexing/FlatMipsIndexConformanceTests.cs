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

/// <summary>The quantized flat index with 4-bit product quantization over 4-float sub-spaces (the default FDE storage):
/// trained on the suite's corpus when it is added.</summary>
public sealed class QuantizedPq4ConformanceTests : MipsIndexConformanceTests<QuantizedMipsIndex>
{
    // Scores are inner products with the reconstructions, not the vectors.
    protected override double ScoreTolerance => 0.3;

    protected override double RecallFloor => 0.28;

    protected override string RecallFloorReason =>
        "pq:4,4 (16 centroids per 4-float sub-space: 8 bytes per 64-d vector) measured 0.325 (training seeds 1-6: 0.3175-0.375; FAISS PQ16x4, the same code size: 0.3625): random unit vectors have no structure for a quantizer to learn";

    protected override QuantizedMipsIndex Create(int dimension) => new(dimension, FdeStorage.ProductQuantization());

    protected override QuantizedMipsIndex Load(string path) => QuantizedMipsIndex.Load(path);
}

/// <summary>The quantized flat index with 8-bit product quantization over 8-float sub-spaces (the paper's PQ-256-8).</summary>
public sealed class QuantizedPq8ConformanceTests : MipsIndexConformanceTests<QuantizedMipsIndex>
{
    protected override double ScoreTolerance => 0.3;

    protected override double RecallFloor => 0.4;

    protected override string RecallFloorReason =>
        "pq:8,8 (256 centroids per 8-float sub-space: 8 bytes per 64-d vector) measured 0.4525 (FAISS PQ8x8, the same code size: 0.45) on random unit vectors";

    protected override QuantizedMipsIndex Create(int dimension) => new(dimension, FdeStorage.ProductQuantization(8, 8) with { TrainingRows = 1000 });

    protected override QuantizedMipsIndex Load(string path) => QuantizedMipsIndex.Load(path);
}

/// <summary>The quantized flat index with int8 scalar quantization.</summary>
public sealed class QuantizedInt8ConformanceTests : MipsIndexConformanceTests<QuantizedMipsIndex>
{
    // One byte per coordinate of a unit vector (range about ±0.5): the reconstruction is within ~0.002 per coordinate.
    protected override double ScoreTolerance => 0.02;

    protected override double RecallFloor => 0.95;

    protected override string RecallFloorReason => "int8 measured 0.9875 on 1,500 random unit vectors (a few close scores swap around rank 10)";

    protected override QuantizedMipsIndex Create(int dimension) => new(dimension, FdeStorage.Int8);

    protected override QuantizedMipsIndex Load(string path) => QuantizedMipsIndex.Load(path);
}

/// <summary>The IVF index over int8 codes with every list probed: the same ranking as the quantized flat index, list
/// by list.</summary>
public sealed class IvfInt8AllListsConformanceTests : MipsIndexConformanceTests<IvfMipsIndex>
{
    protected override double ScoreTolerance => 0.02;

    protected override double RecallFloor => 0.95;

    protected override string RecallFloorReason => "int8 codes with all 16 lists probed rank like the flat int8 index (measured 0.9875 there)";

    protected override IvfMipsIndex Create(int dimension) => new(dimension, FdeStorage.Int8 with { TrainingRows = 300 }, lists: 16) { Probes = 16 };

    protected override IvfMipsIndex Load(string path)
    {
        IvfMipsIndex index = IvfMipsIndex.Load(path);
        Assert.That(index.Probes, Is.EqualTo(16), "the probes are saved with the index");
        return index;
    }
}

/// <summary>The IVF index over 4-bit product-quantized codes with a quarter of its lists probed.</summary>
public sealed class IvfPq4ConformanceTests : MipsIndexConformanceTests<IvfMipsIndex>
{
    protected override double ScoreTolerance => 0.3;

    protected override double RecallFloor => 0.15;

    protected override string RecallFloorReason =>
        "pq:4,4 with 4 of 16 lists probed on random unit vectors, which have no cluster structure for the lists to follow: the flat pq:4,4 index measures 0.325, and a quarter of the lists holds about half of a query's true neighbours here";

    protected override IvfMipsIndex Create(int dimension) => new(dimension, FdeStorage.ProductQuantization(), lists: 16) { Probes = 4 };

    protected override IvfMipsIndex Load(string path) => IvfMipsIndex.Load(path);
}
