// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

/// <summary>The public surface of <see cref="FdeEncoder"/>: validation, empty input, allocation, batches and SIMD widths.</summary>
[TestFixture]
public sealed partial class FdeEncoderTests
{
    private static readonly SimdWidth[] s_widths = [SimdWidth.Scalar, SimdWidth.Vector128, SimdWidth.Vector256, SimdWidth.Vector512];

    private static readonly int[] s_raggedCounts = [3, 0, 17, 1, 0, 40, 5, 80, 2, 9, 0, 33, 16, 15, 64, 1, 7, 0, 12, 26, 4];

    public static IEnumerable<TestCaseData> SpanEncoders
    {
        get
        {
            yield return new TestCaseData(false).SetArgDisplayNames("query");
            yield return new TestCaseData(true).SetArgDisplayNames("document");
        }
    }

    public static IEnumerable<TestCaseData> ZeroAllocationConfigs
    {
        get
        {
            yield return new TestCaseData("recommended", FdeOptions.CreateSimHash(128), 80).SetArgDisplayNames("recommended");
            yield return new TestCaseData("recommended+final", FdeOptions.CreateSimHash(128) with { FinalDimension = 2048 }, 80).SetArgDisplayNames("recommended+final");
            yield return new TestCaseData("dense", FdeOptions.CreateSimHash(128) with { Projection = FdeProjection.Dense }, 80).SetArgDisplayNames("dense");
            yield return new TestCaseData("identity", new FdeOptions { Dimension = 128, Repetitions = 4, SimHashProjections = 3, FillEmptyPartitions = true }, 80).SetArgDisplayNames("identity");
            yield return new TestCaseData("identity-k0", new FdeOptions { Dimension = 96, Repetitions = 2 }, 31).SetArgDisplayNames("identity-k0");
        }
    }

    public static IEnumerable<TestCaseData> WidthConfigs
    {
        get
        {
            foreach (int d in new[] { 1, 7, 96, 128, 130 })
            {
                yield return new TestCaseData("identity", d).SetArgDisplayNames("identity", d.ToString());
                yield return new TestCaseData("ams", d).SetArgDisplayNames("ams", d.ToString());
                yield return new TestCaseData("dense", d).SetArgDisplayNames("dense", d.ToString());
                yield return new TestCaseData("final", d).SetArgDisplayNames("final", d.ToString());
            }
        }
    }

    public static IEnumerable<TestCaseData> BatchParallelism
    {
        get
        {
            foreach (int degree in new[] { 1, 2, -1 })
            {
                yield return new TestCaseData(degree, false).SetArgDisplayNames(degree.ToString(), "query");
                yield return new TestCaseData(degree, true).SetArgDisplayNames(degree.ToString(), "document");
            }
        }
    }

    [TestCaseSource(nameof(SpanEncoders))]
    public void Encode_RaggedLength_ThrowsNamingTokensLengthAndDimension(bool document)
    {
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(128));
        float[] tokens = new float[130];
        float[] destination = new float[encoder.OutputDimension];
        ArgumentException e = Assert.Throws<ArgumentException>(() => Encode(encoder, document, tokens, destination))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("tokens"));
            Assert.That(e.Message, Does.Contain("tokens").And.Contain("130").And.Contain("128"));
        });
    }

    [Test]
    public void Encode_NonFiniteValue_ThrowsNamingTokenAndCoordinate(
        [Values(false, true)] bool document,
        [Values(float.NaN, float.PositiveInfinity, float.NegativeInfinity)] float bad)
    {
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 16, Repetitions = 2, SimHashProjections = 2 });
        float[] tokens = TestVectors.Gaussian(new System.Random(1), 5 * 16);
        tokens[(3 * 16) + 11] = bad;
        float[] destination = new float[encoder.OutputDimension];
        ArgumentException e = Assert.Throws<ArgumentException>(() => Encode(encoder, document, tokens, destination))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("tokens"));
            Assert.That(e.Message, Does.Contain("token 3").And.Contain("coordinate 11"));
            Assert.That(e.Message, Does.Contain(bad.ToString()));
        });
    }

    [Test]
    public void Encode_FiniteValueAtOrBeyondTheTokenLimit_ThrowsNamingValueTokenAndCoordinate(
        [Values(false, true)] bool document,
        [Values(1048576f, -3e38f, float.MaxValue)] float bad)
    {
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 16, Repetitions = 2, SimHashProjections = 2 });
        float[] tokens = TestVectors.Gaussian(new System.Random(1), 5 * 16);
        tokens[(2 * 16) + 5] = bad;
        float[] destination = new float[encoder.OutputDimension];
        ArgumentException e = Assert.Throws<ArgumentException>(() => Encode(encoder, document, tokens, destination))!;
        ArgumentException batch = Assert.Throws<ArgumentException>(
            () => EncodeBatch(encoder, document, tokens, [1, 4], new float[2 * encoder.OutputDimension], new ParallelOptions()))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("tokens"));
            Assert.That(e.Message, Does.Contain("token 2").And.Contain("coordinate 5").And.Contain(bad.ToString()).And.Contain("TokenValueLimit"));
            Assert.That(batch.Message, Does.Contain("item 1").And.Contain("token 1").And.Contain("coordinate 5").And.Contain(bad.ToString()));
        });
    }

    [Test]
    public void Encode_ValuesJustBelowTheTokenLimit_GiveFiniteEncodings([Values(false, true)] bool document)
    {
        // The largest accepted magnitude in every coordinate, with the signs that add up in the AMS, dense and Count
        // Sketch sums: every encoding coordinate must stay finite.
        float below = MathF.BitDecrement(FdeEncoder.TokenValueLimit);
        FdeOptions[] configurations =
        [
            FdeOptions.CreateSimHash(128) with { FinalDimension = 64 },
            FdeOptions.CreateSimHash(128) with { Projection = FdeProjection.Dense, FinalDimension = 1 },
            new FdeOptions { Dimension = 1024, Repetitions = 4 },
        ];
        foreach (FdeOptions options in configurations)
        {
            var encoder = new FdeEncoder(options);
            const int Tokens = 4096;
            float[] tokens = new float[Tokens * options.Dimension];
            tokens.AsSpan().Fill(below);
            float[] destination = new float[encoder.OutputDimension];
            Encode(encoder, document, tokens, destination);
            Assert.That(destination.All(float.IsFinite), Is.True, options.ToString());
            Assert.That(destination.Max(MathF.Abs), Is.GreaterThanOrEqualTo(below), "the values are large, and still finite");
        }
    }

    [Test]
    public void Encode_NonFiniteInLastCoordinate_Throws([Values(false, true)] bool document)
    {
        // The last value sits in the scalar tail of the SIMD scan for most lengths.
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 7 });
        float[] tokens = new float[3 * 7];
        tokens[^1] = float.NaN;
        ArgumentException e = Assert.Throws<ArgumentException>(() => Encode(encoder, document, tokens, new float[encoder.OutputDimension]))!;
        Assert.That(e.Message, Does.Contain("token 2").And.Contain("coordinate 6"));
    }

    [TestCaseSource(nameof(SpanEncoders))]
    public void Encode_MultiVectorOfOtherDimension_ThrowsNamingBothDimensions(bool document)
    {
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(128));
        var tokens = new ReadOnlyMultiVector(new float[128], 64);
        float[] destination = new float[encoder.OutputDimension];
        string name = document ? "document" : "query";
        ArgumentException e = Assert.Throws<ArgumentException>(() =>
        {
            if (document)
            {
                encoder.EncodeDocument(tokens, destination);
            }
            else
            {
                encoder.EncodeQuery(tokens, destination);
            }
        })!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo(name));
            Assert.That(e.Message, Does.Contain("64").And.Contain("128"));
        });
        Assert.Throws<ArgumentException>(() => _ = document ? encoder.EncodeDocument(tokens) : encoder.EncodeQuery(tokens));
    }

    [TestCaseSource(nameof(SpanEncoders))]
    public void Encode_DefaultMultiVector_EncodesToZeros(bool document)
    {
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(128));
        float[] fde = document ? encoder.EncodeDocument(default(ReadOnlyMultiVector)) : encoder.EncodeQuery(default(ReadOnlyMultiVector));
        Assert.That(fde, Has.Length.EqualTo(encoder.OutputDimension).And.All.EqualTo(0f));
    }

    [TestCaseSource(nameof(SpanEncoders))]
    public void Encode_DestinationTooShort_ThrowsNamingDestinationAndLengths(bool document)
    {
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(128));
        float[] tokens = TestVectors.UnitTokens(new System.Random(2), 4, 128);
        float[] destination = new float[encoder.OutputDimension - 1];
        ArgumentException e = Assert.Throws<ArgumentException>(() => Encode(encoder, document, tokens, destination))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("destination"));
            Assert.That(e.Message, Does.Contain("10239").And.Contain("10240"));
        });
    }

    [TestCaseSource(nameof(SpanEncoders))]
    public void Encode_LongerDestination_WritesOnlyOutputDimension(bool document)
    {
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(16) with { FinalDimension = 100 });
        float[] tokens = TestVectors.UnitTokens(new System.Random(3), 6, 16);
        float[] destination = Enumerable.Repeat(42f, encoder.OutputDimension + 5).ToArray();
        int written = Encode(encoder, document, tokens, destination);
        Assert.That(written, Is.EqualTo(100));
        Assert.That(destination[100..], Is.All.EqualTo(42f));
    }

    [Test]
    public void EncodeCore_QueryWithFill_ThrowsArgumentException()
    {
        // The public API cannot express it (queries are never filled); the shared core rejects it.
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(128));
        float[] tokens = TestVectors.UnitTokens(new System.Random(4), 3, 128);
        float[] destination = new float[encoder.OutputDimension];
        ArgumentException e = Assert.Throws<ArgumentException>(
            () => encoder.EncodeCore(tokens, destination, document: false, fill: true, SimdDispatch.Preferred))!;
        Assert.That(e.ParamName, Is.EqualTo("fill"));
        Assert.DoesNotThrow(() => encoder.EncodeCore(tokens, destination, document: true, fill: true, SimdDispatch.Preferred));
        Assert.DoesNotThrow(() => encoder.EncodeCore(tokens, destination, document: false, fill: false, SimdDispatch.Preferred));
    }

    [Test]
    public void EncodeCore_DocumentFillArgument_DecidesWhetherEmptyPartitionsAreFilled()
    {
        // The seam takes fill as an argument; for a document it should decide filling, whatever the options say.
        FdeOptions withFill = new() { Dimension = 16, Repetitions = 2, SimHashProjections = 4, FillEmptyPartitions = true, Seed = 5 };
        FdeOptions withoutFill = withFill with { FillEmptyPartitions = false };
        float[] tokens = TestVectors.UnitTokens(new System.Random(41), 3, 16);
        float[] filled = new float[withFill.OutputDimension];
        float[] unfilled = new float[withFill.OutputDimension];
        new FdeEncoder(withFill).EncodeDocument(tokens, filled);
        new FdeEncoder(withoutFill).EncodeDocument(tokens, unfilled);
        Assert.That(filled, Is.Not.EqualTo(unfilled), "3 tokens leave most of the 16 partitions empty");

        float[] actual = new float[withFill.OutputDimension];
        new FdeEncoder(withFill).EncodeCore(tokens, actual, document: true, fill: false, SimdWidth.Scalar);
        Assert.That(actual, Is.EqualTo(unfilled), "fill: false on an encoder whose options fill");
        new FdeEncoder(withoutFill).EncodeCore(tokens, actual, document: true, fill: true, SimdWidth.Scalar);
        Assert.That(actual, Is.EqualTo(filled), "fill: true on an encoder whose options do not fill");
    }

    [Test]
    public void Constructor_NullOptions_ThrowsArgumentNullException() =>
        Assert.Throws<ArgumentNullException>(() => _ = new FdeEncoder(null!));

    [Test]
    public void Properties_AfterConstruction_ReflectOptions()
    {
        FdeOptions options = FdeOptions.CreateSimHash(96) with { FinalDimension = 777 };
        var encoder = new FdeEncoder(options);
        Assert.Multiple(() =>
        {
            Assert.That(encoder.Options, Is.SameAs(options));
            Assert.That(encoder.Dimension, Is.EqualTo(96));
            Assert.That(encoder.OutputDimension, Is.EqualTo(777));
        });
    }

    [Test]
    public void Encode_EmptyInput_WritesAllZeros(
        [Values(false, true)] bool document,
        [Values("identity-k0", "identity-fill", "recommended", "dense", "final")] string config)
    {
        FdeOptions options = config switch
        {
            "identity-k0" => new FdeOptions { Dimension = 8, Repetitions = 3 },
            "identity-fill" => new FdeOptions { Dimension = 8, Repetitions = 3, SimHashProjections = 3, FillEmptyPartitions = true },
            "recommended" => FdeOptions.CreateSimHash(8),
            "dense" => FdeOptions.CreateSimHash(8) with { Projection = FdeProjection.Dense },
            _ => FdeOptions.CreateSimHash(8) with { FinalDimension = 300 },
        };
        var encoder = new FdeEncoder(options);
        float[] destination = Enumerable.Repeat(float.NaN, encoder.OutputDimension).ToArray();
        Assert.That(Encode(encoder, document, [], destination), Is.EqualTo(encoder.OutputDimension));
        Assert.That(destination, Is.All.EqualTo(0f));

        float[] viaMultiVector = document
            ? encoder.EncodeDocument(new ReadOnlyMultiVector(Array.Empty<float>(), 8))
            : encoder.EncodeQuery(new ReadOnlyMultiVector(Array.Empty<float>(), 8));
        Assert.That(viaMultiVector, Is.All.EqualTo(0f));
    }

    [Test]
    public void Encode_GarbageInDestination_IsOverwritten([Values(false, true)] bool document)
    {
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(32));
        float[] tokens = TestVectors.UnitTokens(new System.Random(5), 7, 32);
        float[] clean = new float[encoder.OutputDimension];
        float[] dirty = Enumerable.Repeat(123.5f, encoder.OutputDimension).ToArray();
        Encode(encoder, document, tokens, clean);
        Encode(encoder, document, tokens, dirty);
        TestVectors.AssertBitIdentical(dirty, clean, "dirty destination");
    }

    [TestCaseSource(nameof(ZeroAllocationConfigs))]
    public void Encode_SpanOverloadsAfterWarmUp_AllocateNothing(string name, FdeOptions options, int tokenCount)
    {
        var encoder = new FdeEncoder(options);
        float[] tokens = TestVectors.UnitTokens(new System.Random(6), tokenCount, options.Dimension);
        float[] destination = new float[encoder.OutputDimension];
        var query = new ReadOnlyMultiVector(tokens, options.Dimension);
        for (int i = 0; i < 5; i++)
        {
            encoder.EncodeQuery(tokens, destination);
            encoder.EncodeDocument(tokens, destination);
            encoder.EncodeQuery(query, destination);
            encoder.EncodeDocument(query, destination);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++)
        {
            encoder.EncodeQuery(tokens, destination);
            encoder.EncodeDocument(tokens, destination);
            encoder.EncodeQuery(query, destination);
            encoder.EncodeDocument(query, destination);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero, $"{name}: bytes allocated by 12 span encodes");
    }

    [TestCaseSource(nameof(BatchParallelism))]
    public void EncodeBatch_SpanAndCounts_BitIdenticalToSingleEncodes(int maxDegreeOfParallelism, bool document)
    {
        const int D = 24;
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(D) with { Repetitions = 6 });
        (float[] tokens, float[][] items) = RaggedBatch(D, 11);
        float[] expected = SingleEncodes(encoder, document, items);

        float[] actual = Enumerable.Repeat(float.NaN, expected.Length).ToArray();
        var parallelOptions = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        if (document)
        {
            encoder.EncodeDocuments(tokens, s_raggedCounts, actual, parallelOptions);
        }
        else
        {
            encoder.EncodeQueries(tokens, s_raggedCounts, actual, parallelOptions);
        }

        TestVectors.AssertBitIdentical(actual, expected, "batch");

        float[] defaults = new float[expected.Length];
        if (document)
        {
            encoder.EncodeDocuments(tokens, s_raggedCounts, defaults);
        }
        else
        {
            encoder.EncodeQueries(tokens, s_raggedCounts, defaults);
        }

        TestVectors.AssertBitIdentical(defaults, expected, "batch, default parallel options");
    }

    [TestCaseSource(nameof(BatchParallelism))]
    public void EncodeBatch_ListOfMultiVectors_BitIdenticalToSingleEncodes(int maxDegreeOfParallelism, bool document)
    {
        const int D = 24;
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(D) with { Repetitions = 6, FinalDimension = 500 });
        (_, float[][] items) = RaggedBatch(D, 12);
        float[] expected = SingleEncodes(encoder, document, items);
        ReadOnlyMultiVector[] list = items.Select(item => new ReadOnlyMultiVector(item, D)).ToArray();
        var parallelOptions = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        float[] actual = document ? encoder.EncodeDocuments(list, parallelOptions) : encoder.EncodeQueries(list, parallelOptions);
        TestVectors.AssertBitIdentical(actual, expected, "list batch");
        float[] defaults = document ? encoder.EncodeDocuments(list) : encoder.EncodeQueries(list);
        TestVectors.AssertBitIdentical(defaults, expected, "list batch, default parallel options");
    }

    [Test]
    public void Encode_ConcurrentCallsOnOneEncoder_BitIdenticalToSerialCalls([Values(false, true)] bool document)
    {
        const int D = 32;
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(D) with { FinalDimension = 3000 });
        (_, float[][] items) = RaggedBatch(D, 14);
        float[] expected = SingleEncodes(encoder, document, items);
        int length = encoder.OutputDimension;
        float[] actual = new float[expected.Length];
        Parallel.For(0, items.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            int item = i % items.Length;
            float[] output = new float[length];
            Encode(encoder, document, items[item], output);
            if (i >= 3 * items.Length)
            {
                output.CopyTo(actual, item * length);
            }
        });
        TestVectors.AssertBitIdentical(actual, expected, "concurrent encodes");
    }

    [Test]
    public void EncodeBatch_NoItems_DoesNothing([Values(false, true)] bool document)
    {
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(8));
        Assert.DoesNotThrow(() => EncodeBatch(encoder, document, [], [], [], new ParallelOptions()));
        float[] list = document ? encoder.EncodeDocuments(Array.Empty<ReadOnlyMultiVector>()) : encoder.EncodeQueries(Array.Empty<ReadOnlyMultiVector>());
        Assert.That(list, Is.Empty);
    }

    [Test]
    public void EncodeBatch_OnlyEmptyItems_WritesZeros([Values(false, true)] bool document)
    {
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(8) with { FinalDimension = 50 });
        float[] destination = Enumerable.Repeat(float.NaN, 3 * 50).ToArray();
        EncodeBatch(encoder, document, [], [0, 0, 0], destination, new ParallelOptions());
        Assert.That(destination, Is.All.EqualTo(0f));
    }

    [Test]
    public void EncodeBatch_EmptyListItemOfOtherDimension_ThrowsLikeSingleEncode([Values(false, true)] bool document)
    {
        // The single-item API rejects an empty multi-vector that declares another dimension (only default, with
        // dimension 0, passes); the list API should agree instead of encoding it as zeros.
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 8 });
        var mismatched = new ReadOnlyMultiVector(Array.Empty<float>(), 4);
        Assert.Throws<ArgumentException>(() => _ = document ? encoder.EncodeDocument(mismatched) : encoder.EncodeQuery(mismatched));
        ReadOnlyMultiVector[] list = [new(new float[8], 8), mismatched];
        ArgumentException e = Assert.Throws<ArgumentException>(
            () => _ = document ? encoder.EncodeDocuments(list) : encoder.EncodeQueries(list))!;
        Assert.That(e.Message, Does.Contain("[1]").And.Contain("4").And.Contain("8"));
    }

    [Test]
    public void EncodeBatch_CountsNotAddingUp_ThrowsNamingTotals([Values(false, true)] bool document)
    {
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 4 });
        float[] tokens = new float[4 * 5];
        float[] destination = new float[4 * 3];
        ArgumentException e = Assert.Throws<ArgumentException>(
            () => EncodeBatch(encoder, document, tokens, [1, 2, 3], destination, new ParallelOptions()))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("tokenCounts"));
            Assert.That(e.Message, Does.Contain("6").And.Contain("24").And.Contain("20"));
        });
    }

    [Test]
    public void EncodeBatch_NegativeCount_ThrowsNamingItem([Values(false, true)] bool document)
    {
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 4 });
        float[] tokens = new float[4 * 2];
        float[] destination = new float[4 * 3];
        ArgumentException e = Assert.Catch<ArgumentException>(
            () => EncodeBatch(encoder, document, tokens, [3, -1, 0], destination, new ParallelOptions()))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("tokenCounts"));
            Assert.That(e.Message, Does.Contain("tokenCounts[1]").And.Contain("-1"));
        });
    }

    [Test]
    public void Encode_TokensBeyondTheScratchLimit_ThrowsNamingTheTokenCount([Values(false, true)] bool document)
    {
        // Dense with R·d_proj = 131,072 product rows per token: 16,385 tokens pad to 16,400 columns, 2,149,580,800 floats
        // in one scratch buffer, more than an array holds (the sizes used to be computed in int and wrap).
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 1, Repetitions = 2048, Projection = FdeProjection.Dense, ProjectionDimension = 64 });
        float[] tokens = new float[16_385];
        float[] destination = new float[encoder.OutputDimension];
        ArgumentException single = Assert.Throws<ArgumentException>(() =>
            _ = document ? encoder.EncodeDocument(tokens, destination) : encoder.EncodeQuery(tokens, destination))!;
        ArgumentException batch = Assert.Throws<ArgumentException>(
            () => EncodeBatch(encoder, document, tokens, [16_385], destination, new ParallelOptions()))!;
        ReadOnlyMultiVector[] list = [new ReadOnlyMultiVector(tokens, 1)];
        ArgumentException listError = Assert.Throws<ArgumentException>(
            () => _ = document ? encoder.EncodeDocuments(list) : encoder.EncodeQueries(list))!;
        Assert.Multiple(() =>
        {
            Assert.That(single.ParamName, Is.EqualTo("tokens"));
            Assert.That(single.Message, Does.Contain("16385 tokens").And.Contain("2149580800"));
            Assert.That(batch.ParamName, Is.EqualTo("tokenCounts"));
            Assert.That(batch.Message, Does.Contain("item 0").And.Contain("16385 tokens"));
            Assert.That(listError.Message, Does.Contain("[0]").And.Contain("16385 tokens"));
        });

        // One token is fine.
        Assert.That(encoder.EncodeDocument(tokens.AsSpan(0, 1), destination), Is.EqualTo(encoder.OutputDimension));
    }

    [Test]
    public void EncodeBatch_NonFiniteInItem_ThrowsNamingItemTokenAndCoordinate(
        [Values(false, true)] bool document,
        [Values(float.NaN, float.PositiveInfinity, float.NegativeInfinity)] float bad)
    {
        const int D = 5;
        var encoder = new FdeEncoder(new FdeOptions { Dimension = D, Repetitions = 2, SimHashProjections = 2 });
        int[] counts = [2, 0, 3, 0, 4];
        float[] tokens = TestVectors.Gaussian(new System.Random(7), counts.Sum() * D);
        tokens[((2 + 3 + 1) * D) + 4] = bad; // item 4, token 1, coordinate 4
        float[] destination = new float[counts.Length * encoder.OutputDimension];
        ArgumentException e = Assert.Throws<ArgumentException>(
            () => EncodeBatch(encoder, document, tokens, counts, destination, new ParallelOptions()))!;
        Assert.That(e.Message, Does.Contain("item 4").And.Contain("token 1").And.Contain("coordinate 4"));

        float[][] items = [tokens[..(2 * D)], [], tokens[(2 * D)..(5 * D)], [], tokens[(5 * D)..]];
        ReadOnlyMultiVector[] list = items.Select(item => new ReadOnlyMultiVector(item, D)).ToArray();
        ArgumentException listError = Assert.Throws<ArgumentException>(
            () => _ = document ? encoder.EncodeDocuments(list) : encoder.EncodeQueries(list))!;
        Assert.That(listError.Message, Does.Contain("[4]").And.Contain("token 1").And.Contain("coordinate 4"));
    }

    [Test]
    public void EncodeBatch_ListItemOfOtherDimension_ThrowsNamingItem([Values(false, true)] bool document)
    {
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 8 });
        ReadOnlyMultiVector[] list = [new(new float[16], 8), default, new(new float[12], 4)];
        ArgumentException e = Assert.Throws<ArgumentException>(
            () => _ = document ? encoder.EncodeDocuments(list) : encoder.EncodeQueries(list))!;
        Assert.That(e.Message, Does.Contain("[2]").And.Contain("4").And.Contain("8"));
    }

    [Test]
    public void EncodeBatch_ShortDestination_ThrowsNamingDestination([Values(false, true)] bool document)
    {
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 4, Repetitions = 2 });
        float[] tokens = new float[4 * 3];
        float[] destination = new float[(8 * 3) - 1];
        ArgumentException e = Assert.Throws<ArgumentException>(
            () => EncodeBatch(encoder, document, tokens, [1, 1, 1], destination, new ParallelOptions()))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("destination"));
            Assert.That(e.Message, Does.Contain("23").And.Contain("24"));
        });
    }

    [Test]
    public void EncodeBatch_NullArguments_ThrowArgumentNullException([Values(false, true)] bool document)
    {
        var encoder = new FdeEncoder(new FdeOptions { Dimension = 4 });
        Assert.Throws<ArgumentNullException>(() => EncodeBatch(encoder, document, new float[4], [1], new float[4], null!));
        Assert.Throws<ArgumentNullException>(() => _ = document
            ? encoder.EncodeDocuments([new ReadOnlyMultiVector(new float[4], 4)], null!)
            : encoder.EncodeQueries([new ReadOnlyMultiVector(new float[4], 4)], null!));
        Assert.Throws<ArgumentNullException>(() => _ = document ? encoder.EncodeDocuments(null!) : encoder.EncodeQueries(null!));
    }

    [Test]
    public void EncodeBatch_PreCancelledToken_ThrowsOperationCanceled([Values(false, true)] bool document)
    {
        const int D = 16;
        var encoder = new FdeEncoder(FdeOptions.CreateSimHash(D));
        (float[] tokens, float[][] items) = RaggedBatch(D, 13);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        var parallelOptions = new ParallelOptions { CancellationToken = cancellation.Token };
        float[] destination = new float[s_raggedCounts.Length * encoder.OutputDimension];
        Assert.Throws(Is.InstanceOf<OperationCanceledException>(),
            () => EncodeBatch(encoder, document, tokens, s_raggedCounts, destination, parallelOptions));

        ReadOnlyMultiVector[] list = items.Select(item => new ReadOnlyMultiVector(item, D)).ToArray();
        Assert.Throws(Is.InstanceOf<OperationCanceledException>(),
            () => _ = document ? encoder.EncodeDocuments(list, parallelOptions) : encoder.EncodeQueries(list, parallelOptions));
    }

    [TestCaseSource(nameof(WidthConfigs))]
    public void Encode_EveryWidth_BitIdentical(string config, int dimension)
    {
        FdeOptions options = config switch
        {
            "identity" => new FdeOptions { Dimension = dimension, Repetitions = 2, SimHashProjections = 3, FillEmptyPartitions = true, Seed = 11 },
            "ams" => new FdeOptions
            {
                Dimension = dimension, Repetitions = 3, SimHashProjections = 4, Projection = FdeProjection.Ams,
                ProjectionDimension = 8, FillEmptyPartitions = true, Seed = 12,
            },
            "dense" => new FdeOptions
            {
                Dimension = dimension, Repetitions = 2, SimHashProjections = 2, Projection = FdeProjection.Dense,
                ProjectionDimension = 12, FillEmptyPartitions = true, Seed = 13,
            },
            _ => new FdeOptions
            {
                Dimension = dimension, Repetitions = 2, SimHashProjections = 3, Projection = FdeProjection.Ams,
                ProjectionDimension = 16, FillEmptyPartitions = true, FinalDimension = 100, Seed = 14,
            },
        };
        var encoder = new FdeEncoder(options);
        var random = new System.Random(1000 + dimension);
        int[] tokenCounts = [.. Enumerable.Range(0, 41), 80, 200];
        float[] expected = new float[encoder.OutputDimension];
        float[] actual = new float[encoder.OutputDimension];
        foreach (int n in tokenCounts)
        {
            float[] tokens = TestVectors.Gaussian(random, n * dimension);
            foreach (bool document in new[] { false, true })
            {
                encoder.Encode(tokens, expected, document, SimdWidth.Scalar);
                foreach (SimdWidth width in s_widths.Skip(1))
                {
                    Array.Fill(actual, float.NaN);
                    encoder.Encode(tokens, actual, document, width);
                    TestVectors.AssertBitIdentical(actual, expected, $"{config} d={dimension} n={n} {(document ? "document" : "query")} {width}");
                }
            }
        }
    }

    [TestCaseSource(nameof(WidthConfigs))]
    public void ComputePartitionIds_EveryWidth_Identical(string config, int dimension)
    {
        FdeOptions options = new() { Dimension = dimension, Repetitions = 3, SimHashProjections = config == "identity" ? 6 : 3, Seed = dimension };
        var encoder = new FdeEncoder(options);
        var random = new System.Random(2000 + dimension);
        foreach (int n in new[] { 1, 15, 16, 17, 40, 80 })
        {
            float[] tokens = TestVectors.Gaussian(random, n * dimension);
            int[] expected = new int[3 * n];
            encoder.ComputePartitionIds(tokens, expected, SimdWidth.Scalar);
            Assert.That(expected, Is.All.InRange(0, options.PartitionCount - 1));
            foreach (SimdWidth width in s_widths.Skip(1))
            {
                int[] actual = new int[3 * n];
                encoder.ComputePartitionIds(tokens, actual, width);
                Assert.That(actual, Is.EqualTo(expected), $"n={n} {width}");
            }
        }
    }

    private static int Encode(FdeEncoder encoder, bool document, ReadOnlySpan<float> tokens, Span<float> destination) =>
        document ? encoder.EncodeDocument(tokens, destination) : encoder.EncodeQuery(tokens, destination);

    private static void EncodeBatch(FdeEncoder encoder, bool document, ReadOnlySpan<float> tokens, ReadOnlySpan<int> counts,
        Span<float> destination, ParallelOptions parallelOptions)
    {
        if (document)
        {
            encoder.EncodeDocuments(tokens, counts, destination, parallelOptions);
        }
        else
        {
            encoder.EncodeQueries(tokens, counts, destination, parallelOptions);
        }
    }

    private static (float[] Tokens, float[][] Items) RaggedBatch(int dimension, int seed)
    {
        var random = new System.Random(seed);
        float[][] items = s_raggedCounts.Select(count => TestVectors.UnitTokens(random, count, dimension)).ToArray();
        return (items.SelectMany(item => item).ToArray(), items);
    }

    private static float[] SingleEncodes(FdeEncoder encoder, bool document, float[][] items)
    {
        int length = encoder.OutputDimension;
        float[] expected = new float[items.Length * length];
        for (int i = 0; i < items.Length; i++)
        {
            Encode(encoder, document, items[i], expected.AsSpan(i * length, length));
        }

        return expected;
    }
}
