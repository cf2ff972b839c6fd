// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;

namespace Muvera.Onnx.Tests;

[TestFixture]
public sealed class ColbertConventionsTests
{
    [Test]
    public void Constructor_Defaults_AreTheMiniLMConventions()
    {
        var conventions = new ColbertConventions();
        Assert.Multiple(() =>
        {
            Assert.That(conventions, Is.EqualTo(ColbertConventions.MiniLM));
            Assert.That(conventions.QueryMaxLength, Is.EqualTo(32));
            Assert.That(conventions.DocumentMaxLength, Is.EqualTo(256));
            Assert.That(conventions.QueryMarker, Is.Null);
            Assert.That(conventions.DocumentMarker, Is.Null);
            Assert.That(conventions.AugmentQuery, Is.False);
            Assert.That(conventions.SkipDocumentPunctuation, Is.False);
            Assert.That(conventions.DocumentSkipTokens, Is.Empty);
            Assert.That(conventions.KeepSpecialTokens, Is.True);
            Assert.That(conventions.Normalize, Is.True);
            Assert.That(conventions.OutputName, Is.Null);
            Assert.That(conventions.Dimension, Is.Null);
            Assert.That(conventions.InputIdsName, Is.EqualTo("input_ids"));
            Assert.That(conventions.AttentionMaskName, Is.EqualTo("attention_mask"));
            Assert.That(conventions.TokenTypeIdsName, Is.EqualTo("token_type_ids"));
            Assert.That(conventions.MaskToken, Is.EqualTo("[MASK]"));
        });
    }

    [Test]
    public void ColbertV2_HoldsColbertV2Metadata()
    {
        ColbertConventions c = ColbertConventions.ColbertV2;
        Assert.Multiple(() =>
        {
            Assert.That((c.QueryMaxLength, c.DocumentMaxLength, c.Dimension), Is.EqualTo((32, 180, (int?)128)));
            Assert.That((c.QueryMarker, c.DocumentMarker), Is.EqualTo(("[unused0]", "[unused1]")));
            Assert.That((c.AugmentQuery, c.AttendToMaskTokens, c.SkipDocumentPunctuation, c.KeepSpecialTokens), Is.EqualTo((true, false, true, true)));
        });
    }

    [Test]
    public void ToJson_Parse_RoundTripsToEqualConventions()
    {
        ColbertConventions custom = ColbertConventions.ColbertV2 with
        {
            DocumentSkipTokens = ["the", "[unused5]"],
            OutputName = "contextual",
            Lowercase = false,
            StripAccents = true,
            InputIdsName = "ids",
        };
        foreach (ColbertConventions conventions in new[] { ColbertConventions.MiniLM, ColbertConventions.ColbertV2, custom })
        {
            string json = conventions.ToJson();
            Assert.That(ColbertConventions.Parse(json), Is.EqualTo(conventions), json);
        }

        Assert.That(custom.ToJson(), Does.Contain("\"documentSkipTokens\"").And.Contain("\"queryMaxLength\": 32"));
    }

    [Test]
    public void Parse_EmptyObject_KeepsDefaults() => Assert.That(ColbertConventions.Parse("{}"), Is.EqualTo(ColbertConventions.MiniLM));

    [Test]
    public void Parse_ColbertStyleConfigWithComments_Reads()
    {
        const string Json = """
            {
              // colbert-ir/colbertv2.0, exported with its projection
              "queryMaxLength": 32,
              "documentMaxLength": 180,
              "queryMarker": "[unused0]",
              "documentMarker": "[unused1]",
              "augmentQuery": true,
              "skipDocumentPunctuation": true,
              "dimension": 128,
            }
            """;
        Assert.That(ColbertConventions.Parse(Json), Is.EqualTo(ColbertConventions.ColbertV2));
    }

    [TestCase("{\"queryMaxLen\": 32}", "queryMaxLen")]
    [TestCase("{\"queryMaxLength\": 2}", "QueryMaxLength")]
    [TestCase("{\"documentMaxLength\": 100000}", "DocumentMaxLength")]
    [TestCase("{\"dimension\": 0}", "Dimension")]
    [TestCase("{\"queryMarker\": \"\"}", "QueryMarker")]
    [TestCase("{\"augmentQuery\": \"yes\"}", "augmentQuery")]
    [TestCase("{\"queryMaxLength\": 3, \"queryMarker\": \"[unused0]\"}", "leaves no room")]
    [TestCase("[1, 2]", "not a valid encoder config")]
    [TestCase("null", "JSON null")]
    [TestCase("{", "not a valid encoder config")]
    public void Parse_InvalidConfig_ThrowsInvalidDataNamingTheCause(string json, string cause)
    {
        var exception = Assert.Throws<InvalidDataException>(() => ColbertConventions.Parse(json));
        Assert.That(exception!.Message, Does.StartWith("The encoder config").And.Contain(cause));
    }

    [Test]
    public void Load_InvalidFile_MessageNamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"muvera-onnx-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "{\"normalise\": true}");
        try
        {
            var exception = Assert.Throws<InvalidDataException>(() => ColbertConventions.Load(path));
            Assert.That(exception!.Message, Does.Contain(path).And.Contain("normalise"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Load_MissingFile_ThrowsFileNotFound()
    {
        var exception = Assert.Throws<FileNotFoundException>(() => ColbertConventions.Load("/nonexistent/muvera-onnx.json"));
        Assert.That(exception!.FileName, Is.EqualTo("/nonexistent/muvera-onnx.json"));
    }

    [Test]
    public void Init_OutOfRange_ThrowsNamingTheProperty()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new ColbertConventions { QueryMaxLength = 2 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("QueryMaxLength"));
            Assert.That(() => new ColbertConventions { DocumentMaxLength = ColbertConventions.MaxSequenceLength + 1 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new ColbertConventions { Dimension = -1 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new ColbertConventions { MaskToken = "" }, Throws.ArgumentException.With.Property("ParamName").EqualTo("MaskToken"));
            Assert.That(() => new ColbertConventions { DocumentSkipTokens = ["a", ""] }, Throws.ArgumentException.With.Message.Contains("DocumentSkipTokens[1]"));
        });
    }

    [Test]
    public void Validate_MarkerLeavesNoRoomForContent_Throws()
    {
        ColbertConventions conventions = ColbertConventions.ColbertV2 with { DocumentMaxLength = 3 };
        Assert.That(conventions.Validate, Throws.ArgumentException.With.Property("ParamName").EqualTo("DocumentMaxLength"));
        Assert.That((ColbertConventions.MiniLM with { DocumentMaxLength = 3 }).Validate, Throws.Nothing);
    }

    [Test]
    public void Equals_SkipTokens_ComparedElementByElement()
    {
        var a = new ColbertConventions { DocumentSkipTokens = ["a", "b"] };
        var b = new ColbertConventions { DocumentSkipTokens = new[] { "a", "b" } };
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
        Assert.That(a, Is.Not.EqualTo(b with { DocumentSkipTokens = ["b", "a"] }));
    }

    [Test]
    public void DocumentSkipTokens_CopiedOnInit()
    {
        string[] tokens = ["a"];
        var conventions = new ColbertConventions { DocumentSkipTokens = tokens };
        tokens[0] = "b";
        Assert.That(conventions.DocumentSkipTokens, Is.EqualTo(new[] { "a" }));
    }
}
