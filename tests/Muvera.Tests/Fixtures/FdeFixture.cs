// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace Muvera.Tests.Fixtures;

/// <summary>One golden fixture of <c>tests/testdata/fde</c> (format <c>muvera-fde-fixture/1</c>, see its README).</summary>
internal sealed class FdeFixture
{
    public static readonly string Directory = Path.Combine(TestContext.CurrentContext.TestDirectory, "testdata", "fde");

    public static IEnumerable<string> Names =>
        System.IO.Directory.EnumerateFiles(Directory, "*.json").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!;

    public required string Name { get; init; }

    public required FdeOptions Options { get; init; }

    public required int OutputLength { get; init; }

    public required int PreFinalLength { get; init; }

    public required float[] Query { get; init; }

    public required float[] Document { get; init; }

    public required FdeMatrices Matrices { get; init; }

    public required uint[] RepetitionSeeds { get; init; }

    public required int[][] QueryBuckets { get; init; }

    public required int[][] DocumentBuckets { get; init; }

    public required float[] QueryFde { get; init; }

    public required float[] DocumentFde { get; init; }

    public required float[] QueryFdePreFinal { get; init; }

    public required float[] DocumentFdePreFinal { get; init; }

    public static FdeFixture Load(string name)
    {
        using JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Directory, name + ".json")));
        JsonElement root = json.RootElement;
        Assert.That(root.GetProperty("format").GetString(), Is.EqualTo("muvera-fde-fixture/1"));
        JsonElement config = root.GetProperty("config");
        int d = config.GetProperty("dimension").GetInt32();
        int r = config.GetProperty("num_repetitions").GetInt32();
        int k = config.GetProperty("num_simhash_projections").GetInt32();
        bool ams = config.GetProperty("projection_type").GetString() == "AMS_SKETCH";
        int? projectionDimension = ams ? config.GetProperty("projection_dimension").GetInt32() : null;
        JsonElement final = config.GetProperty("final_projection_dimension");
        var options = new FdeOptions
        {
            Dimension = d,
            Repetitions = r,
            SimHashProjections = k,
            Seed = config.GetProperty("seed").GetInt32(),
            Projection = ams ? FdeProjection.Ams : FdeProjection.Identity,
            ProjectionDimension = projectionDimension,
            FillEmptyPartitions = config.GetProperty("fill_empty_partitions").GetBoolean(),
            FinalDimension = final.ValueKind == JsonValueKind.Null ? null : final.GetInt32(),
        };

        JsonElement[] reps = root.GetProperty("repetitions").EnumerateArray().ToArray();
        Assert.That(reps, Has.Length.EqualTo(r));
        JsonElement sketch = root.GetProperty("count_sketch");
        JsonElement expected = root.GetProperty("expected");
        var matrices = new FdeMatrices
        {
            SimHash = k == 0 ? null : reps.Select(rep => Flatten(rep.GetProperty("simhash_gaussian"))).ToArray(),
            AmsColumns = ams ? reps.Select(rep => Ints(rep.GetProperty("ams_column"))).ToArray() : null,
            AmsSigns = ams ? reps.Select(rep => Floats(rep.GetProperty("ams_sign"))).ToArray() : null,
            CountSketchIndices = sketch.ValueKind == JsonValueKind.Null ? null : Ints(sketch.GetProperty("index")),
            CountSketchSigns = sketch.ValueKind == JsonValueKind.Null ? null : Floats(sketch.GetProperty("sign")),
        };

        return new FdeFixture
        {
            Name = name,
            Options = options,
            OutputLength = root.GetProperty("derived").GetProperty("output_length").GetInt32(),
            PreFinalLength = root.GetProperty("derived").GetProperty("pre_final_length").GetInt32(),
            Query = Flatten(root.GetProperty("query_points")),
            Document = Flatten(root.GetProperty("document_points")),
            Matrices = matrices,
            RepetitionSeeds = reps.Select(rep => rep.GetProperty("rng_seed").GetUInt32()).ToArray(),
            QueryBuckets = reps.Select(rep => Ints(rep.GetProperty("query_buckets"))).ToArray(),
            DocumentBuckets = reps.Select(rep => Ints(rep.GetProperty("document_buckets"))).ToArray(),
            QueryFde = Floats(expected.GetProperty("query_fde")),
            DocumentFde = Floats(expected.GetProperty("document_fde")),
            QueryFdePreFinal = Floats(expected.GetProperty("query_fde_pre_final")),
            DocumentFdePreFinal = Floats(expected.GetProperty("document_fde_pre_final")),
        };
    }

    public static float[] Flatten(JsonElement matrix) =>
        matrix.EnumerateArray().SelectMany(row => row.EnumerateArray().Select(v => v.GetSingle())).ToArray();

    public static float[] Floats(JsonElement array) => array.EnumerateArray().Select(v => v.GetSingle()).ToArray();

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    public override string ToString() => Name;
}
