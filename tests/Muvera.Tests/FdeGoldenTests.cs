// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Linq;
using Muvera.Kernels;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests;

/// <summary>Conformance with the MUVERA reference through the golden fixtures (matrices injected through the seam).</summary>
[TestFixture]
public sealed class FdeGoldenTests
{
    public static IEnumerable<string> FixtureNames => FdeFixture.Names;

    public static IEnumerable<TestCaseData> FixturesAtEveryWidth =>
        from name in FdeFixture.Names
        from width in new[] { SimdWidth.Scalar, SimdWidth.Vector128, SimdWidth.Vector256, SimdWidth.Vector512 }
        select new TestCaseData(name, (int)width).SetArgDisplayNames(name, width.ToString());

    [Test]
    public void Fixtures_AllEightArePresent() =>
        Assert.That(FdeFixture.Names, Is.EquivalentTo(new[]
        {
            "ams_k2_fill_final", "ams_k3_fill", "identity_k0", "identity_k2_nofill",
            "identity_k3_fill", "identity_k3_nofill", "paperlike_small", "zero_rows_k3_fill",
        }));

    [TestCaseSource(nameof(FixturesAtEveryWidth))]
    public void PartitionIds_InjectedMatrices_EqualReferenceBuckets(string name, int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        FdeFixture fixture = FdeFixture.Load(name);
        var encoder = new FdeEncoder(fixture.Options, fixture.Matrices);
        AssertBuckets(encoder, fixture.Query, fixture.QueryBuckets, width, "query");
        AssertBuckets(encoder, fixture.Document, fixture.DocumentBuckets, width, "document");
    }

    [TestCaseSource(nameof(FixturesAtEveryWidth))]
    public void Encode_InjectedMatrices_EqualReferenceFdes(string name, int simdWidth)
    {
        var width = (SimdWidth)simdWidth;
        FdeFixture fixture = FdeFixture.Load(name);
        var encoder = new FdeEncoder(fixture.Options, fixture.Matrices);
        Assert.Multiple(() =>
        {
            Assert.That(encoder.OutputDimension, Is.EqualTo(fixture.OutputLength));
            Assert.That(fixture.Options.PreFinalDimension, Is.EqualTo(fixture.PreFinalLength));
        });

        float[] query = new float[encoder.OutputDimension];
        float[] document = new float[encoder.OutputDimension];
        encoder.Encode(fixture.Query, query, document: false, width);
        encoder.Encode(fixture.Document, document, document: true, width);
        AssertClose(query, fixture.QueryFde, "query_fde");
        AssertClose(document, fixture.DocumentFde, "document_fde");
    }

    [TestCaseSource(nameof(FixtureNames))]
    public void Encode_InjectedMatricesWithoutFinalProjection_EqualPreFinalFdes(string name)
    {
        FdeFixture fixture = FdeFixture.Load(name);
        FdeOptions preFinal = fixture.Options with { FinalDimension = null };
        var matrices = new FdeMatrices { SimHash = fixture.Matrices.SimHash, AmsColumns = fixture.Matrices.AmsColumns, AmsSigns = fixture.Matrices.AmsSigns };
        var encoder = new FdeEncoder(preFinal, matrices);
        Assert.That(encoder.OutputDimension, Is.EqualTo(fixture.PreFinalLength));
        AssertClose(encoder.EncodeQuery(new ReadOnlyMultiVector(fixture.Query, preFinal.Dimension)), fixture.QueryFdePreFinal, "query_fde_pre_final");
        AssertClose(encoder.EncodeDocument(new ReadOnlyMultiVector(fixture.Document, preFinal.Dimension)), fixture.DocumentFdePreFinal, "document_fde_pre_final");
    }

    [TestCaseSource(nameof(FixtureNames))]
    public void Generate_FromSeed_ReproducesReferenceMatrices(string name)
    {
        FdeFixture fixture = FdeFixture.Load(name);
        FdeMatrices drawn = FdeMatrices.Generate(fixture.Options);
        for (int r = 0; r < fixture.Options.Repetitions; r++)
        {
            Assert.That(FdeMatrices.RepetitionSeed(fixture.Options.Seed, r), Is.EqualTo(fixture.RepetitionSeeds[r]));
            if (fixture.Matrices.AmsColumns is not null)
            {
                Assert.That(drawn.AmsColumns![r], Is.EqualTo(fixture.Matrices.AmsColumns[r]), $"AMS columns, repetition {r}");
                Assert.That(drawn.AmsSigns![r], Is.EqualTo(fixture.Matrices.AmsSigns![r]), $"AMS signs, repetition {r}");
            }
        }

        if (fixture.Matrices.CountSketchIndices is not null)
        {
            Assert.That(drawn.CountSketchIndices, Is.EqualTo(fixture.Matrices.CountSketchIndices), "Count Sketch indices");
            Assert.That(drawn.CountSketchSigns, Is.EqualTo(fixture.Matrices.CountSketchSigns), "Count Sketch signs");
        }

        // Gaussians: every entry within one ulp of the reference build (glibc's logf is not correctly rounded).
        if (fixture.Matrices.SimHash is not null)
        {
            for (int r = 0; r < fixture.Options.Repetitions; r++)
            {
                for (int i = 0; i < fixture.Matrices.SimHash[r].Length; i++)
                {
                    float expected = fixture.Matrices.SimHash[r][i];
                    float actual = drawn.SimHash![r][i];
                    Assert.That(UlpDistance(expected, actual), Is.LessThanOrEqualTo(1), $"G[{r}] entry {i}: {actual} vs {expected}");
                }
            }
        }
    }

    [Test]
    public void Generate_FromSeed_GaussiansAreBitExactForAtLeast99PercentOfFixtureEntries()
    {
        int total = 0;
        int exact = 0;
        foreach (string name in FdeFixture.Names)
        {
            FdeFixture fixture = FdeFixture.Load(name);
            if (fixture.Matrices.SimHash is null)
            {
                continue;
            }

            FdeMatrices drawn = FdeMatrices.Generate(fixture.Options);
            for (int r = 0; r < fixture.Options.Repetitions; r++)
            {
                total += fixture.Matrices.SimHash[r].Length;
                exact += fixture.Matrices.SimHash[r].Zip(drawn.SimHash![r]).Count(pair => BitConverter.SingleToInt32Bits(pair.First) == BitConverter.SingleToInt32Bits(pair.Second));
            }
        }

        TestContext.Out.WriteLine($"bit-exact Gaussian entries: {exact} of {total}");
        Assert.That(total, Is.GreaterThan(500));
        Assert.That(exact, Is.GreaterThanOrEqualTo(total * 0.99));
    }

    [TestCaseSource(nameof(FixtureNames))]
    public void Encode_FromSeedOnly_EqualsReferenceFdes(string name)
    {
        // The whole pipeline from the seed alone: the one-ulp Gaussian differences never move a bucket here.
        FdeFixture fixture = FdeFixture.Load(name);
        var encoder = new FdeEncoder(fixture.Options);
        var query = new ReadOnlyMultiVector(fixture.Query, fixture.Options.Dimension);
        var document = new ReadOnlyMultiVector(fixture.Document, fixture.Options.Dimension);
        AssertClose(encoder.EncodeQuery(query), fixture.QueryFde, "query_fde");
        AssertClose(encoder.EncodeDocument(document), fixture.DocumentFde, "document_fde");
    }

    private static void AssertBuckets(FdeEncoder encoder, float[] points, int[][] expected, SimdWidth width, string side)
    {
        int n = points.Length / encoder.Dimension;
        int[] ids = new int[expected.Length * n];
        encoder.ComputePartitionIds(points, ids, width);
        for (int r = 0; r < expected.Length; r++)
        {
            Assert.That(ids.AsSpan(r * n, n).ToArray(), Is.EqualTo(expected[r]), $"{side} buckets, repetition {r}");
        }
    }

    internal static void AssertClose(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what + " length");
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = 1e-5 * Math.Max(1.0, Math.Abs(expected[i]));
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(tolerance), $"{what}[{i}]");
        }
    }

    private static long UlpDistance(float a, float b)
    {
        int ia = BitConverter.SingleToInt32Bits(a);
        int ib = BitConverter.SingleToInt32Bits(b);
        if (ia < 0)
        {
            ia = int.MinValue - ia;
        }

        if (ib < 0)
        {
            ib = int.MinValue - ib;
        }

        return Math.Abs((long)ia - ib);
    }
}
