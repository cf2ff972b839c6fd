// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

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
    public void CreateRecommended_Dimension128_IsPaperParetoConfigWith10240Floats()
    {
        FdeOptions options = FdeOptions.CreateRecommended(128);
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
        Assert.That(FdeOptions.CreateRecommended(96, seed: 7).Seed, Is.EqualTo(7));
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
        FdeOptions options = FdeOptions.CreateRecommended(128) with { FinalDimension = finalDimension };
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
        FdeOptions options = FdeOptions.CreateRecommended(128) with { FinalDimension = FdeOptions.MaxOutputFloats + 1 };
        ArgumentException? e = Assert.Catch<ArgumentException>(options.Validate);
        AssertNamesParameterAndValues(e, nameof(FdeOptions.FinalDimension), (FdeOptions.MaxOutputFloats + 1).ToString());
    }

    [Test]
    public void Equals_SameValues_AreEqualWithEqualHashCodes()
    {
        FdeOptions a = FdeOptions.CreateRecommended(128) with { FinalDimension = 4096 };
        FdeOptions b = FdeOptions.CreateRecommended(128) with { FinalDimension = 4096 };
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
        FdeOptions baseline = FdeOptions.CreateRecommended(128);
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
        FdeOptions baseline = FdeOptions.CreateRecommended(128);
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

        string recommended = FdeOptions.CreateRecommended(128).ToString();
        Assert.That(recommended, Does.Contain("Repetitions = 20").And.Contain("ProjectionDimension = 16").And.Contain("FinalDimension = null"));
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
