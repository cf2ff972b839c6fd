// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

[TestFixture]
public sealed class FdeOptionsTests
{
    [Test]
    public void Constructor_OnlyDimension_HasReferenceDefaults()
    {
        var options = new FdeOptions { Dimension = 128 };
        Assert.Multiple(() =>
        {
            Assert.That(options.Repetitions, Is.EqualTo(1));
            Assert.That(options.SimHashProjections, Is.Zero);
            Assert.That(options.Seed, Is.EqualTo(1));
            Assert.That(options.Projection, Is.EqualTo(FdeProjection.Identity));
            Assert.That(options.ProjectionDimension, Is.Null);
            Assert.That(options.FillEmptyPartitions, Is.False);
            Assert.That(options.FinalDimension, Is.Null);
            Assert.That(options.PartitionCount, Is.EqualTo(1));
            Assert.That(options.BlockDimension, Is.EqualTo(128));
            Assert.That(options.OutputDimension, Is.EqualTo(128));
        });
        Assert.DoesNotThrow(options.Validate);
    }

    [Test]
    public void CreateSimHash_Dimension128_IsPaperParetoConfigWith10240Floats()
    {
        FdeOptions options = FdeOptions.CreateSimHash(128);
        Assert.Multiple(() =>
        {
            Assert.That(options.Dimension, Is.EqualTo(128));
            Assert.That(options.Repetitions, Is.EqualTo(20));
            Assert.That(options.SimHashProjections, Is.EqualTo(5));
            Assert.That(options.Projection, Is.EqualTo(FdeProjection.Ams));
            Assert.That(options.ProjectionDimension, Is.EqualTo(16));
            Assert.That(options.FillEmptyPartitions, Is.True);
            Assert.That(options.FinalDimension, Is.Null);
            Assert.That(options.Seed, Is.EqualTo(1));
            Assert.That(options.OutputDimension, Is.EqualTo(10240));
            Assert.That(options.PreFinalDimension, Is.EqualTo(10240));
        });
        Assert.DoesNotThrow(options.Validate);
        Assert.That(FdeOptions.CreateSimHash(96, seed: 7).Seed, Is.EqualTo(7));
    }

    [Test]
    public void CreateRecommended_Dimension384_IsLearnedPartitionsWith40960Floats()
    {
        FdeOptions options = FdeOptions.CreateRecommended(384);
        Assert.Multiple(() =>
        {
            Assert.That(options.Partitioning, Is.EqualTo(FdePartitioning.KMeans));
            Assert.That(options.RequiresTraining, Is.True);
            Assert.That(options.DocumentAggregation, Is.EqualTo(FdeDocumentAggregation.NormalizedAverage));
            Assert.That(options.Repetitions, Is.EqualTo(20));
            Assert.That(options.SimHashProjections, Is.EqualTo(6));
            Assert.That(options.PartitionCount, Is.EqualTo(64));
            Assert.That(options.Projection, Is.EqualTo(FdeProjection.Ams));
            Assert.That(options.ProjectionDimension, Is.EqualTo(32));
            Assert.That(options.FillEmptyPartitions, Is.True);
            Assert.That(options.TrainingSample, Is.EqualTo(FdeOptions.DefaultTrainingSample));
            Assert.That(options.TrainingIterations, Is.EqualTo(FdeOptions.DefaultTrainingIterations));
            Assert.That(options.OutputDimension, Is.EqualTo(40_960));
            Assert.That(options.MatrixEntries, Is.EqualTo((20L * 64 * 384) + (20 * 384)), "centroids and AMS");
            Assert.That(options.ScratchFloatsPerToken, Is.EqualTo(384 + (20 * 64) + 64));
        });
        Assert.DoesNotThrow(options.Validate);
        Assert.That(FdeOptions.CreateRecommended(96, seed: 7).Seed, Is.EqualTo(7));
    }

    [Test]
    public void Defaults_NewOptions_AreTheReferencesFunction()
    {
        var options = new FdeOptions { Dimension = 8 };
        Assert.Multiple(() =>
        {
            Assert.That(options.Partitioning, Is.EqualTo(FdePartitioning.SimHash));
            Assert.That(options.DocumentAggregation, Is.EqualTo(FdeDocumentAggregation.Average));
            Assert.That(options.RequiresTraining, Is.False);
            Assert.That(FdeOptions.CreateSimHash(8).RequiresTraining, Is.False);
        });
    }

    [Test]
    public void LearnedOptions_OutOfRangeValues_ThrowNamingTheProperty()
    {
        FdeOptions baseline = FdeOptions.CreateRecommended(8);
        Assert.Multiple(() =>
        {
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = baseline with { Partitioning = (FdePartitioning)2 })!.ParamName, Is.EqualTo("Partitioning"));
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = baseline with { DocumentAggregation = (FdeDocumentAggregation)(-1) })!.ParamName, Is.EqualTo("DocumentAggregation"));
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = baseline with { TrainingSample = 0 })!.Message, Does.Contain("TrainingSample is 0"));
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = baseline with { TrainingSample = FdeOptions.MaxTrainingSample + 1 })!.ParamName, Is.EqualTo("TrainingSample"));
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = baseline with { TrainingIterations = 0 })!.ParamName, Is.EqualTo("TrainingIterations"));
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = baseline with { TrainingIterations = 1001 })!.ParamName, Is.EqualTo("TrainingIterations"));
        });
        Assert.DoesNotThrow(() => _ = baseline with { TrainingSample = FdeOptions.MaxTrainingSample, TrainingIterations = FdeOptions.MaxTrainingIterations });
    }

    [Test]
    public void Validate_LearnedTrainingSampleBeyondTheFloatLimit_ThrowsNamingTheProduct()
    {
        FdeOptions options = FdeOptions.CreateRecommended(1024) with { TrainingSample = FdeOptions.MaxTrainingSample };
        ArgumentException e = Assert.Throws<ArgumentException>(options.Validate)!;
        Assert.That(e.ParamName, Is.EqualTo("TrainingSample"));
        Assert.That(e.Message, Does.Contain("1048576 · 1024").And.Contain(FdeOptions.MaxTrainingFloats.ToString()));
        Assert.DoesNotThrow((options with { Partitioning = FdePartitioning.SimHash, SimHashProjections = 5 }).Validate, "SimHash never trains");
    }

    [Test]
    public void Validate_LearnedCentroidsBeyondTheEntryLimit_ThrowsNamingThem()
    {
        // 2^10 centroids × 2^16 dimensions per repetition is 2^26 coordinates, beyond 2^25.
        FdeOptions options = new() { Dimension = FdeOptions.MaxDimension, Partitioning = FdePartitioning.KMeans, SimHashProjections = 10, Projection = FdeProjection.Ams, ProjectionDimension = 1, TrainingSample = 100 };
        ArgumentException e = Assert.Throws<ArgumentException>(options.Validate)!;
        Assert.That(e.Message, Does.Contain("k-means centroids").And.Contain("67108864"));
    }

    [TestCase(1, 0, 128, FdeProjection.Identity, null)]
    [TestCase(3, 2, 7, FdeProjection.Identity, null)]
    [TestCase(3, 2, 7, FdeProjection.Identity, 7)]
    [TestCase(20, 5, 128, FdeProjection.Ams, 16)]
    [TestCase(10, 4, 96, FdeProjection.Dense, 8)]
    [TestCase(1, 30, 1, FdeProjection.Ams, 1)]
    [TestCase(2, 0, 130, FdeProjection.Dense, 200)]
    public void OutputDimension_NoFinalProjection_IsRepetitionsTimesPartitionsTimesBlockDimension(
        int repetitions, int k, int dimension, FdeProjection projection, int? projectionDimension)
    {
        var options = new FdeOptions
        {
            Dimension = dimension,
            Repetitions = repetitions,
            SimHashProjections = k,
            Projection = projection,
            ProjectionDimension = projectionDimension,
        };
        int blockDimension = projection == FdeProjection.Identity ? dimension : projectionDimension!.Value;
        long expected = (long)repetitions * (1L << k) * blockDimension;
        Assert.Multiple(() =>
        {
            Assert.That(options.PartitionCount, Is.EqualTo(1L << k));
            Assert.That(options.BlockDimension, Is.EqualTo(blockDimension));
            Assert.That(options.PreFinalDimension, Is.EqualTo(expected));
            Assert.That(options.OutputDimension, Is.EqualTo((int)Math.Min(expected, int.MaxValue)));
        });
    }

    [TestCase(1)]
    [TestCase(100)]
    [TestCase(FdeOptions.MaxOutputFloats)]
    public void OutputDimension_FinalDimensionSet_IsFinalDimension(int finalDimension)
    {
        FdeOptions options = FdeOptions.CreateSimHash(128) with { FinalDimension = finalDimension };
        Assert.Multiple(() =>
        {
            Assert.That(options.OutputDimension, Is.EqualTo(finalDimension));
            Assert.That(options.PreFinalDimension, Is.EqualTo(10240));
        });
        Assert.DoesNotThrow(options.Validate);
    }

    [TestCase(0)]
    [TestCase(-1)]
    [TestCase(-128)]
    public void Dimension_NotPositive_ThrowsNamingPropertyAndValue(int value)
    {
        ArgumentException? e = Assert.Catch<ArgumentException>(() => _ = new FdeOptions { Dimension = value });
        AssertNamesParameterAndValues(e, nameof(FdeOptions.Dimension), value.ToString());
    }

    [TestCase(0)]
    [TestCase(-3)]
    public void Repetitions_NotPositive_ThrowsNamingPropertyAndValue(int value)
    {
        ArgumentException? e = Assert.Catch<ArgumentException>(
            () => _ = new FdeOptions { Dimension = 8, Repetitions = value });
        AssertNamesParameterAndValues(e, nameof(FdeOptions.Repetitions), value.ToString());
    }

    [TestCase(-1)]
    [TestCase(31)]
    [TestCase(32)]
    [TestCase(int.MinValue)]
    [TestCase(int.MaxValue)]
    public void SimHashProjections_OutsideZeroTo30_ThrowsNamingPropertyAndValue(int value)
    {
        ArgumentException? e = Assert.Catch<ArgumentException>(
            () => _ = new FdeOptions { Dimension = 8, SimHashProjections = value });
        AssertNamesParameterAndValues(e, nameof(FdeOptions.SimHashProjections), value.ToString());
    }

    [TestCase(0)]
    [TestCase(30)]
    public void SimHashProjections_Bounds_AreAccepted(int value) =>
        Assert.That(new FdeOptions { Dimension = 1, SimHashProjections = value }.SimHashProjections, Is.EqualTo(value));

    [TestCase(0)]
    [TestCase(-7)]
    public void ProjectionDimension_NotPositive_ThrowsNamingPropertyAndValue(int value)
    {
        ArgumentException? e = Assert.Catch<ArgumentException>(
            () => _ = new FdeOptions { Dimension = 8, Projection = FdeProjection.Ams, ProjectionDimension = value });
        AssertNamesParameterAndValues(e, nameof(FdeOptions.ProjectionDimension), value.ToString());
    }

    [TestCase(0)]
    [TestCase(-5)]
    public void FinalDimension_NotPositive_ThrowsNamingPropertyAndValue(int value)
    {
        ArgumentException? e = Assert.Catch<ArgumentException>(
            () => _ = new FdeOptions { Dimension = 8, FinalDimension = value });
        AssertNamesParameterAndValues(e, nameof(FdeOptions.FinalDimension), value.ToString());
    }

    [TestCase(3)]
    [TestCase(-1)]
    [TestCase(100)]
    public void Projection_UndefinedEnumValue_ThrowsNamingPropertyAndValue(int value)
    {
        ArgumentException? e = Assert.Catch<ArgumentException>(
            () => _ = new FdeOptions { Dimension = 8, Projection = (FdeProjection)value });
        AssertNamesParameterAndValues(e, nameof(FdeOptions.Projection), value.ToString());
    }

    [TestCase(FdeProjection.Ams)]
    [TestCase(FdeProjection.Dense)]
    public void Validate_ProjectionWithoutProjectionDimension_ThrowsNamingProjectionDimension(FdeProjection projection)
    {
        var options = new FdeOptions { Dimension = 128, SimHashProjections = 3, Projection = projection };
        ArgumentException? e = Assert.Catch<ArgumentException>(options.Validate);
        AssertNamesParameterAndValues(e, nameof(FdeOptions.ProjectionDimension), projection.ToString(), "null");
    }

    [TestCase(FdeProjection.Ams)]
    [TestCase(FdeProjection.Dense)]
    public void FdeEncoderConstructor_ProjectionWithoutProjectionDimension_ThrowsNamingProjectionDimension(FdeProjection projection)
    {
        var options = new FdeOptions { Dimension = 128, SimHashProjections = 3, Projection = projection };
        ArgumentException? e = Assert.Catch<ArgumentException>(() => _ = new FdeEncoder(options));
        AssertNamesParameterAndValues(e, nameof(FdeOptions.ProjectionDimension), projection.ToString());
    }

    [TestCase(64)]
    [TestCase(129)]
    [TestCase(1)]
    public void Validate_IdentityWithOtherProjectionDimension_ThrowsNamingBothDimensions(int projectionDimension)
    {
        var options = new FdeOptions { Dimension = 128, ProjectionDimension = projectionDimension };
        ArgumentException? e = Assert.Catch<ArgumentException>(options.Validate);
        AssertNamesParameterAndValues(e, nameof(FdeOptions.ProjectionDimension), projectionDimension.ToString(), "128");
        Assert.Catch<ArgumentException>(() => _ = new FdeEncoder(options));
    }

    [Test]
    public void Validate_IdentityWithProjectionDimensionEqualToDimension_Passes()
    {
        var options = new FdeOptions { Dimension = 128, ProjectionDimension = 128 };
        Assert.DoesNotThrow(options.Validate);
        Assert.That(options.OutputDimension, Is.EqualTo(128));
    }

    [Test]
    public void Validate_OutputAboveMaxFloats_ThrowsWithComputedLength()
    {
        // 40 · 2^10 · 128 = 5,242,880 > 2^22 = 4,194,304 (20 · 2^10 · 128 = 2,621,440 would still fit).
        var options = new FdeOptions { Dimension = 128, Repetitions = 40, SimHashProjections = 10 };
        Assert.That(options.PreFinalDimension, Is.EqualTo(5242880));
        ArgumentException? e = Assert.Catch<ArgumentException>(options.Validate);
        AssertNamesParameterAndValues(e, nameof(FdeOptions.Repetitions), "5242880", "40", "10", "128", FdeOptions.MaxOutputFloats.ToString());
        Assert.Catch<ArgumentException>(() => _ = new FdeEncoder(options));
    }

    [Test]
    public void Validate_TwentyRepetitionsK10Identity128_FitsUnderMaxFloats()
    {
        var options = new FdeOptions { Dimension = 128, Repetitions = 20, SimHashProjections = 10 };
        Assert.That(options.OutputDimension, Is.EqualTo(2621440));
        Assert.DoesNotThrow(options.Validate);
    }

    [Test]
    public void Validate_OutputExactlyMaxFloats_Passes()
    {
        var options = new FdeOptions { Dimension = 128, Repetitions = 32, SimHashProjections = 10 };
        Assert.That(options.PreFinalDimension, Is.EqualTo(FdeOptions.MaxOutputFloats));
        Assert.DoesNotThrow(options.Validate);
    }

    [Test]
    public void Validate_HugeProduct_ThrowsInsteadOfOverflowing()
    {
        var options = new FdeOptions
        {
            Dimension = int.MaxValue,
            Repetitions = int.MaxValue,
            SimHashProjections = 30,
            Projection = FdeProjection.Ams,
            ProjectionDimension = int.MaxValue,
        };
        Assert.That(options.PreFinalDimension, Is.EqualTo(long.MaxValue));
        Assert.Catch<ArgumentException>(options.Validate);
    }

    [Test]
    public void Validate_FinalDimensionAboveMaxFloats_ThrowsNamingFinalDimensionAndValue()
    {
        FdeOptions options = FdeOptions.CreateSimHash(128) with { FinalDimension = FdeOptions.MaxOutputFloats + 1 };
        ArgumentException? e = Assert.Catch<ArgumentException>(options.Validate);
        AssertNamesParameterAndValues(e, nameof(FdeOptions.FinalDimension), (FdeOptions.MaxOutputFloats + 1).ToString());
    }

    [Test]
    public void Equals_SameValues_AreEqualWithEqualHashCodes()
    {
        FdeOptions a = FdeOptions.CreateSimHash(128) with { FinalDimension = 4096 };
        FdeOptions b = FdeOptions.CreateSimHash(128) with { FinalDimension = 4096 };
        Assert.Multiple(() =>
        {
            Assert.That(a, Is.EqualTo(b));
            Assert.That(a == b, Is.True);
            Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
            Assert.That(ReferenceEquals(a, b), Is.False);
        });
    }

    [Test]
    public void With_ChangedProperty_DiffersOnlyThere()
    {
        FdeOptions baseline = FdeOptions.CreateSimHash(128);
        FdeOptions[] variants =
        [
            baseline with { Dimension = 96 },
            baseline with { Repetitions = 19 },
            baseline with { SimHashProjections = 4 },
            baseline with { Seed = 2 },
            baseline with { Projection = FdeProjection.Dense },
            baseline with { ProjectionDimension = 8 },
            baseline with { FillEmptyPartitions = false },
            baseline with { FinalDimension = 1024 },
            baseline with { Partitioning = FdePartitioning.KMeans },
            baseline with { DocumentAggregation = FdeDocumentAggregation.NormalizedAverage },
            baseline with { TrainingSample = 1000 },
            baseline with { TrainingIterations = 3 },
        ];
        foreach (FdeOptions variant in variants)
        {
            Assert.That(variant, Is.Not.EqualTo(baseline), variant.ToString());
        }

        FdeOptions copy = baseline with { };
        Assert.That(copy, Is.EqualTo(baseline));
        Assert.That(baseline with { Seed = 2 } with { Seed = 1 }, Is.EqualTo(baseline));
    }

    [Test]
    public void With_InvalidValue_ThrowsFromInit()
    {
        FdeOptions baseline = FdeOptions.CreateSimHash(128);
        Assert.Catch<ArgumentException>(() => _ = baseline with { SimHashProjections = 31 });
        Assert.Catch<ArgumentException>(() => _ = baseline with { Dimension = 0 });
    }

    [Test]
    public void ToString_InvalidCombinations_DoesNotThrowAndListsOptions()
    {
        FdeOptions[] invalid =
        [
            new FdeOptions { Dimension = 128, Projection = FdeProjection.Ams },
            new FdeOptions { Dimension = 128, ProjectionDimension = 5 },
            new FdeOptions { Dimension = int.MaxValue, Repetitions = int.MaxValue, SimHashProjections = 30, FinalDimension = int.MaxValue },
        ];
        foreach (FdeOptions options in invalid)
        {
            string text = string.Empty;
            Assert.DoesNotThrow(() => text = options.ToString());
            Assert.That(text, Does.StartWith("FdeOptions {").And.Contain("Dimension = ").And.Contain("Projection = "));
        }

        string recommended = FdeOptions.CreateSimHash(128).ToString();
        Assert.That(recommended, Does.Contain("Repetitions = 20").And.Contain("ProjectionDimension = 16").And.Contain("FinalDimension = null"));
    }

    // The option sets of issue #17 that passed Validate and then crashed or allocated gigabytes in the encoder.
    public static IEnumerable<TestCaseData> HostileSizes()
    {
        yield return new TestCaseData(new FdeOptions { Dimension = 65_536, Projection = FdeProjection.Dense, ProjectionDimension = 65_536 },
            nameof(FdeOptions.Repetitions), new[] { "4294967296", "65536" }).SetArgDisplayNames("dense d = d_proj = 2^16");
        yield return new TestCaseData(new FdeOptions { Dimension = 1 << 28, SimHashProjections = 16, Projection = FdeProjection.Ams, ProjectionDimension = 16 },
            nameof(FdeOptions.Dimension), new[] { "268435456", "65536" }).SetArgDisplayNames("AMS d = 2^28, k = 16");
        yield return new TestCaseData(new FdeOptions { Dimension = (1 << 27) + 1, Projection = FdeProjection.Ams, ProjectionDimension = 8 },
            nameof(FdeOptions.Dimension), new[] { "134217729" }).SetArgDisplayNames("AMS d = 2^27 + 1");
        yield return new TestCaseData(new FdeOptions { Dimension = int.MaxValue, Projection = FdeProjection.Dense, ProjectionDimension = 1 },
            nameof(FdeOptions.Dimension), new[] { "2147483647" }).SetArgDisplayNames("dense d = int.MaxValue");
        yield return new TestCaseData(new FdeOptions { Dimension = 100_000_000, Projection = FdeProjection.Ams, ProjectionDimension = 1 },
            nameof(FdeOptions.Dimension), new[] { "100000000" }).SetArgDisplayNames("AMS d = 10^8, d_proj = 1");
        yield return new TestCaseData(new FdeOptions { Dimension = 64, Projection = FdeProjection.Ams, ProjectionDimension = 100_000 },
            nameof(FdeOptions.ProjectionDimension), new[] { "100000", "65536" }).SetArgDisplayNames("AMS d_proj = 10^5");
        yield return new TestCaseData(new FdeOptions { Dimension = 65_536, Repetitions = 1024, SimHashProjections = 1, Projection = FdeProjection.Ams, ProjectionDimension = 1 },
            nameof(FdeOptions.Repetitions), new[] { "1024 · 65536 · 1 = 67108864", "33554432" }).SetArgDisplayNames("R·d·k = 2^26");
        yield return new TestCaseData(new FdeOptions { Dimension = 1, Repetitions = 4096, Projection = FdeProjection.Dense, ProjectionDimension = 1024 },
            nameof(FdeOptions.Repetitions), new[] { "4096 · 1024", "262144" }).SetArgDisplayNames("dense R·d_proj = 2^22 per token");
    }

    [TestCaseSource(nameof(HostileSizes))]
    public void Validate_SizesBeyondTheLimits_ThrowsNamingTheProductAndLimit(FdeOptions options, string parameter, string[] values)
    {
        ArgumentException? e = Assert.Catch<ArgumentException>(options.Validate);
        AssertNamesParameterAndValues(e, parameter, values);
    }

    [TestCaseSource(nameof(HostileSizes))]
    public void EncoderConstructor_SizesBeyondTheLimits_ThrowsBeforeAllocating(FdeOptions options, string parameter, string[] values)
    {
        _ = new FdeEncoder(FdeOptions.CreateSimHash(8));
        long before = GC.GetAllocatedBytesForCurrentThread();
        ArgumentException? e = Assert.Catch<ArgumentException>(() => _ = new FdeEncoder(options));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(e!.ParamName, Is.EqualTo(parameter), e.Message);
        Assert.That(allocated, Is.LessThan(64 << 10), "the limits are checked before any matrix is drawn");
    }

    [Test]
    public void Validate_EveryLimitReachedExactly_Passes()
    {
        // R·d·(k + 1) = 32 · 2^16 · 16 = 2^25 entries (SimHash and AMS); 32 · 2^15 · 4 = 2^22 output floats.
        var atEntries = new FdeOptions { Dimension = FdeOptions.MaxDimension, Repetitions = 32, SimHashProjections = 15, Projection = FdeProjection.Ams, ProjectionDimension = 4 };
        Assert.That(atEntries.MatrixEntries, Is.EqualTo(FdeOptions.MaxMatrixEntries));
        Assert.DoesNotThrow(atEntries.Validate);
        Assert.Catch<ArgumentException>((atEntries with { Repetitions = 33, ProjectionDimension = 3 }).Validate);

        // d + R·d_proj + 2·d_proj = 4 + 2 · 65,535 + 2 · 65,535 = 2^18 scratch floats per token.
        var atScratch = new FdeOptions { Dimension = 4, Repetitions = 2, Projection = FdeProjection.Dense, ProjectionDimension = 65_535 };
        Assert.That(atScratch.ScratchFloatsPerToken, Is.EqualTo(FdeOptions.MaxScratchFloatsPerToken));
        Assert.DoesNotThrow(atScratch.Validate);
        Assert.Catch<ArgumentException>((atScratch with { Repetitions = 3 }).Validate);

        var atDimension = new FdeOptions { Dimension = FdeOptions.MaxDimension, Projection = FdeProjection.Ams, ProjectionDimension = FdeOptions.MaxDimension };
        Assert.DoesNotThrow(atDimension.Validate);
    }

    [Test]
    public void MatrixEntriesAndScratch_KnownConfigurations_MatchTheFormulas()
    {
        FdeOptions recommended = FdeOptions.CreateSimHash(128);
        FdeOptions dense = new() { Dimension = 96, Repetitions = 10, SimHashProjections = 3, Projection = FdeProjection.Dense, ProjectionDimension = 24, FinalDimension = 512 };
        FdeOptions identity = new() { Dimension = 130, Repetitions = 4, SimHashProjections = 2 };
        Assert.Multiple(() =>
        {
            // 20·128·5 SimHash + 20·128 AMS; 128 + 20·5 + 2·16.
            Assert.That(recommended.MatrixEntries, Is.EqualTo((20 * 128 * 5) + (20 * 128)));
            Assert.That(recommended.ScratchFloatsPerToken, Is.EqualTo(128 + 100 + 32));
            // 10·96·3 SimHash + 10·96·24 dense + 10·2^3·24 Count Sketch; 96 + 30 + 240 + 48.
            Assert.That(dense.MatrixEntries, Is.EqualTo((10 * 96 * 3) + (10 * 96 * 24) + (10 * 8 * 24)));
            Assert.That(dense.ScratchFloatsPerToken, Is.EqualTo(96 + 30 + 240 + 48));
            Assert.That(identity.MatrixEntries, Is.EqualTo(4 * 130 * 2));
            Assert.That(identity.ScratchFloatsPerToken, Is.EqualTo(130 + 8));
        });
    }

    public static IEnumerable<TestCaseData> EncoderSizes()
    {
        yield return new TestCaseData(FdeOptions.CreateSimHash(128)).SetArgDisplayNames("recommended-128");
        yield return new TestCaseData(new FdeOptions { Dimension = 4096, Repetitions = 20, SimHashProjections = 5, Projection = FdeProjection.Ams, ProjectionDimension = 16, FillEmptyPartitions = true })
            .SetArgDisplayNames("ams-4096");
        yield return new TestCaseData(new FdeOptions { Dimension = 1024, Repetitions = 8, SimHashProjections = 4, Projection = FdeProjection.Dense, ProjectionDimension = 64 })
            .SetArgDisplayNames("dense-1024x64");
        yield return new TestCaseData(new FdeOptions { Dimension = 256, Repetitions = 40, SimHashProjections = 6, FinalDimension = 4096 })
            .SetArgDisplayNames("identity-sketch");
        yield return new TestCaseData(new FdeOptions { Dimension = 1, Repetitions = 1 << 18, Projection = FdeProjection.Ams, ProjectionDimension = 1 })
            .SetArgDisplayNames("ams-2^18-repetitions");
    }

    [Test]
    public void EncoderBytes_LearnedOptions_BoundsWhatTheConstructorAllocates()
    {
        FdeOptions options = FdeOptions.CreateRecommended(256) with { TrainingSample = 2000 };
        FdePartitions partitions = FdeEncoder.Train(options, [new ReadOnlyMultiVector(TestVectors.UnitTokens(new System.Random(1), 3000, 256), 256)]).Partitions!;
        _ = new FdeEncoder(FdeOptions.CreateSimHash(8));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var encoder = new FdeEncoder(options, partitions);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(encoder);

        // EncoderBytes counts the centroids twice (the partitions and the encoder's product rows); the constructor
        // allocates only the rows, the partitions exist already.
        long centroidBytes = 4L * options.Repetitions * options.PartitionCount * options.Dimension;
        TestContext.Out.WriteLine($"allocated {allocated} bytes, EncoderBytes {options.EncoderBytes}");
        Assert.That(allocated + centroidBytes, Is.LessThanOrEqualTo(options.EncoderBytes));
        Assert.That(allocated + centroidBytes, Is.GreaterThan(options.EncoderBytes * 0.9));
    }

    [TestCaseSource(nameof(EncoderSizes))]
    public void EncoderBytes_AnyValidOptions_BoundsWhatTheConstructorAllocates(FdeOptions options)
    {
        // One encoder of the same options first, so that one-time work on this thread (type initialisers, the first use
        // of a code path by the runtime) is not counted: it once added 224 bytes to dense-1024x64 in a full run.
        _ = new FdeEncoder(options);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var encoder = new FdeEncoder(options);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(encoder);
        TestContext.Out.WriteLine($"{options}: allocated {allocated} bytes, EncoderBytes {options.EncoderBytes}");
        Assert.That(allocated, Is.LessThanOrEqualTo(options.EncoderBytes));
        if (options.EncoderBytes > 1 << 20)
        {
            Assert.That(allocated, Is.GreaterThan(options.EncoderBytes * 0.9), "the bound is close, not a blanket allowance");
        }
    }

    private static void AssertNamesParameterAndValues(ArgumentException? e, string parameter, params string[] values)
    {
        Assert.That(e, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(e!.ParamName, Is.EqualTo(parameter));
            Assert.That(e.Message, Does.Contain(parameter));
            foreach (string value in values)
            {
                Assert.That(e.Message, Does.Contain(value));
            }
        });
    }
}
