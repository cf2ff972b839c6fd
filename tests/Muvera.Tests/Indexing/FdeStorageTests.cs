// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using Muvera.Indexing;

namespace Muvera.Tests.Indexing;

/// <summary><see cref="FdeStorage"/>: the kinds, their sizes and names, and the checks on every setting.</summary>
[TestFixture]
public sealed class FdeStorageTests
{
    [Test]
    public void Kinds_HaveTheirSizesNamesAndDefaults()
    {
        Assert.Multiple(() =>
        {
            Assert.That(FdeStorage.Default, Is.EqualTo(FdeStorage.ProductQuantization(4, 16).WithRefinement(4, 4, 4)));
            Assert.That(FdeStorage.Default.ToString(), Is.EqualTo("pq:4,16+4,4x4"));
            Assert.That(FdeStorage.Default.BytesPerVector(40_960), Is.EqualTo(1_280 + 5_120), "the recommended FDE: 1,280 bytes scanned, 5,120 of refinement codes");
            Assert.That(FdeStorage.Float32.BytesPerVector(10_240), Is.EqualTo(40_960));
            Assert.That(FdeStorage.Float16.BytesPerVector(10_240), Is.EqualTo(20_480));
            Assert.That(FdeStorage.Int8.BytesPerVector(10_240), Is.EqualTo(10_240));
            Assert.That(FdeStorage.ProductQuantization().BytesPerVector(10_240), Is.EqualTo(1_280), "the paper's 32x compression: 2,560 4-bit codes");
            Assert.That(FdeStorage.ProductQuantization().WithRefinement().BytesPerVector(10_240), Is.EqualTo(2_560), "1,280 bytes scanned and 1,280 of refinement codes");
            Assert.That(FdeStorage.ProductQuantization().WithRefinement().ToString(), Is.EqualTo("pq:4,4+4,4"), "x2 is the default multiplier");
            Assert.That(FdeStorage.ProductQuantization(8, 8).BytesPerVector(10_240), Is.EqualTo(1_280), "PQ-256-8");
            Assert.That(FdeStorage.ProductQuantization(4, 4).BytesPerVector(70), Is.EqualTo(9), "18 sub-spaces, the last one padded, in 9 bytes");
            Assert.That(FdeStorage.ProductQuantization(4, 2).BytesPerVector(10_240), Is.EqualTo(2_560));
            Assert.That(FdeStorage.Float32.ToString(), Is.EqualTo("f32"));
            Assert.That(FdeStorage.Float16.ToString(), Is.EqualTo("f16"));
            Assert.That(FdeStorage.Int8.ToString(), Is.EqualTo("int8"));
            Assert.That(FdeStorage.ProductQuantization(8, 8).ToString(), Is.EqualTo("pq:8,8"));
            Assert.That(FdeStorage.Default.TrainingRows, Is.EqualTo(1024));
            Assert.That(FdeStorage.ProductQuantization(8, 8).TrainingRows, Is.EqualTo(8192));
            Assert.That(FdeStorage.Int8.TrainingRows, Is.EqualTo(1024));
            Assert.That(FdeStorage.Float32.TrainingRows, Is.Zero);
            Assert.That(FdeStorage.Float32.IsQuantized, Is.False);
            Assert.That(FdeStorage.Default.IsQuantized, Is.True);
            Assert.That(FdeStorage.Default with { Seed = 2 }, Is.Not.EqualTo(FdeStorage.Default));
            FdeStorage refined = FdeStorage.ProductQuantization().WithRefinement(4, 4, 3);
            Assert.That(refined.ToString(), Is.EqualTo("pq:4,4+4,4x3"));
            Assert.That(refined.HasRefinement, Is.True);
            Assert.That((refined.RefineBits, refined.RefineSubspaceDimension, refined.RefineCandidates), Is.EqualTo((4, 4, 3)));
            Assert.That(refined.BytesPerVector(10_240), Is.EqualTo(2_560), "1,280 bytes scanned, 1,280 more read for the re-scored candidates");
            Assert.That(refined, Is.Not.EqualTo(FdeStorage.ProductQuantization()));
            Assert.That(refined with { Seed = 3 }, Has.Property(nameof(FdeStorage.RefineCandidates)).EqualTo(3), "with keeps the refinement");
            Assert.That(FdeStorage.ProductQuantization().HasRefinement, Is.False);
        });
    }

    [Test]
    public void BadSettings_AreRefusedNamingTheParameterAndValue()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => FdeStorage.ProductQuantization(5), Throws.InstanceOf<ArgumentOutOfRangeException>()
                .With.Property("ParamName").EqualTo("bits").And.Message.Contains("5"));
            Assert.That(() => FdeStorage.ProductQuantization(4, 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("subspaceDimension"));
            Assert.That(() => FdeStorage.ProductQuantization(4, FdeStorage.MaxSubspaceDimension + 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => FdeStorage.Default with { TrainingRows = 0 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("TrainingRows"));
            Assert.That(() => FdeStorage.Default with { MaxTrainingSample = -1 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("MaxTrainingSample"));
            Assert.That(() => FdeStorage.Default with { Iterations = 0 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("[1, 1000]"));
            Assert.That(() => FdeStorage.Float32 with { TrainingRows = 10 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("quantized"));
            Assert.That(() => FdeStorage.Default.BytesPerVector(0), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => FdeStorage.Int8.WithRefinement(), Throws.InvalidOperationException.With.Message.Contains("Int8"));
            Assert.That(() => FdeStorage.ProductQuantization().WithRefinement(3), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("bits"));
            Assert.That(() => FdeStorage.ProductQuantization().WithRefinement(4, 4, 0), Throws.InstanceOf<ArgumentOutOfRangeException>()
                .With.Property("ParamName").EqualTo("candidatesPerResult"));
        });
    }

    [Test]
    public void FlatMipsBackend_CreatesTheStoragesIndex()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new FlatMipsBackend().Storage, Is.EqualTo(FdeStorage.Default));
            Assert.That(new FlatMipsBackend(StoreElementType.Float16).Storage, Is.EqualTo(FdeStorage.Float16));
            using IMipsIndex pq = new FlatMipsBackend().Create(64);
            Assert.That(pq, Is.TypeOf<QuantizedMipsIndex>());
            using IMipsIndex f16 = new FlatMipsBackend(FdeStorage.Float16).Create(64);
            Assert.That(f16, Is.TypeOf<FlatMipsIndex>().With.Property(nameof(FlatMipsIndex.ElementType)).EqualTo(StoreElementType.Float16));
            Assert.That(new FlatMipsBackend(FdeStorage.Int8).Description, Is.EqualTo("int8"));
            Assert.That(new FlatMipsBackend(FdeStorage.Float32).Description, Is.EqualTo("float32"));
            Assert.That(() => new FlatMipsBackend((FdeStorage)null!), Throws.ArgumentNullException);
        });
    }
}
