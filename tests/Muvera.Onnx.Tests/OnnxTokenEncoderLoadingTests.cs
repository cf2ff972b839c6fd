// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using Muvera.Onnx.Tests.Fixtures;

namespace Muvera.Onnx.Tests;

/// <summary>Loading a model directory (the embedded model's files written to disk) and the errors for bad files.</summary>
[TestFixture]
public sealed class OnnxTokenEncoderLoadingTests
{
    private string _directory = null!;

    [OneTimeSetUp]
    public void WriteModelDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), $"muvera-onnx-model-{Guid.NewGuid():N}");
        SharedEncoder.WriteModelFiles(_directory);
    }

    [OneTimeTearDown]
    public void DeleteModelDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void FromDirectory_ModelVocabularyAndEmptyConfig_EncodesLikeTheEmbeddedModel()
    {
        string directory = CopyOf(_directory, "{}");
        using OnnxTokenEncoder encoder = OnnxTokenEncoder.FromDirectory(directory, new OnnxEncoderSettings { IntraOpThreads = 1 });
        Assert.That(encoder.ModelFingerprint, Is.EqualTo(SharedEncoder.Default.ModelFingerprint), "same model and vocabulary bytes");
        Assert.That(encoder.EncodeDocument("Beans, greens and longevity.").Span.ToArray(),
            Is.EqualTo(SharedEncoder.Default.EncodeDocument("Beans, greens and longevity.").Span.ToArray()).Within(1e-5f));
    }

    [Test]
    public void FromDirectory_TokenizerJsonPresent_PreferredOverVocabTxt()
    {
        string directory = CopyOf(_directory, "{\"queryMarker\": \"[Q] \"}");
        File.WriteAllBytes(Path.Combine(directory, OnnxTokenEncoder.TokenizerFileName), TextTokenizerTests.TokenizerJson());
        using OnnxTokenEncoder encoder = OnnxTokenEncoder.FromDirectory(directory);

        // "[Q] " exists only as an added token of tokenizer.json.
        Assert.That(encoder.TokenizeQuery("iron"), Is.EqualTo(new[] { 101, 30522, 3707, 102 }));
        Assert.That(encoder.ModelFingerprint, Is.Not.EqualTo(SharedEncoder.Default.ModelFingerprint), "the tokenizer file is part of the fingerprint");
    }

    [Test]
    public void FromDirectory_MissingPieces_ThrowNamingWhatIsMissing()
    {
        string empty = Directory.CreateTempSubdirectory("muvera-onnx-").FullName;
        try
        {
            Assert.Multiple(() =>
            {
                Assert.That(() => OnnxTokenEncoder.FromDirectory(Path.Combine(empty, "nope")), Throws.InstanceOf<DirectoryNotFoundException>().With.Message.Contains("nope"));
                Assert.That(() => OnnxTokenEncoder.FromDirectory(empty), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains(ColbertConventions.ConfigFileName));
                File.WriteAllText(Path.Combine(empty, ColbertConventions.ConfigFileName), "{}");
                Assert.That(() => OnnxTokenEncoder.FromDirectory(empty), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("vocab.txt"));
                File.WriteAllText(Path.Combine(empty, OnnxTokenEncoder.VocabularyFileName), "[PAD]\n");
                Assert.That(() => OnnxTokenEncoder.FromDirectory(empty), Throws.InstanceOf<FileNotFoundException>()
                    .With.Property("FileName").EqualTo(Path.Combine(empty, OnnxTokenEncoder.ModelFileName)));
                Assert.That(() => OnnxTokenEncoder.FromDirectory(""), Throws.ArgumentException);
            });
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Test]
    public void Create_NotAnOnnxModel_ThrowsInvalidDataNamingTheFile()
    {
        string model = Path.Combine(Path.GetTempPath(), $"muvera-onnx-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(model, [1, 2, 3, 4, 5, 6, 7, 8]);
        try
        {
            var exception = Assert.Throws<InvalidDataException>(() =>
                OnnxTokenEncoder.Create(model, Path.Combine(_directory, OnnxTokenEncoder.VocabularyFileName), ColbertConventions.MiniLM));
            Assert.That(exception!.Message, Does.Contain(model).And.Contain("not a loadable ONNX model"));
        }
        finally
        {
            File.Delete(model);
        }
    }

    [TestCase("{\"inputIdsName\": \"ids\"}", "no input 'ids'", "'input_ids'")]
    [TestCase("{\"tokenTypeIdsName\": \"segments\"}", "input 'token_type_ids'", "segments")]
    [TestCase("{\"outputName\": \"hidden\"}", "no output 'hidden'", "'last_hidden_state'")]
    [TestCase("{\"outputName\": \"924\"}", "output '924'", "[batch, sequence, dimension]")]
    [TestCase("{\"queryMarker\": \"[Q]\"}", "'[Q]'", "vocab.txt")]
    public void FromDirectory_ConfigNotFittingTheModel_ThrowsInvalidDataNamingTheMismatch(string config, string cause, string detail)
    {
        string directory = CopyOf(_directory, config);
        var exception = Assert.Throws<InvalidDataException>(() => OnnxTokenEncoder.FromDirectory(directory));
        Assert.That(exception!.Message, Does.Contain(cause).And.Contain(detail));
    }

    [Test]
    public void Create_NullArguments_Throw()
    {
        string model = Path.Combine(_directory, OnnxTokenEncoder.ModelFileName);
        string vocabulary = Path.Combine(_directory, OnnxTokenEncoder.VocabularyFileName);
        Assert.Multiple(() =>
        {
            Assert.That(() => OnnxTokenEncoder.Create(model, vocabulary, null!), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("conventions"));
            Assert.That(() => OnnxTokenEncoder.Create(model, vocabulary, ColbertConventions.MiniLM, null!), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("settings"));
            Assert.That(() => OnnxTokenEncoder.Create("", vocabulary, ColbertConventions.MiniLM), Throws.ArgumentException.With.Property("ParamName").EqualTo("modelPath"));
            Assert.That(() => OnnxTokenEncoder.CreateDefault(null!), Throws.ArgumentNullException);
        });
    }

    // A directory of links to the written model files plus the given config, deleted with the fixture's directory.
    private string CopyOf(string source, string config)
    {
        string directory = Path.Combine(source, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        foreach (string name in new[] { OnnxTokenEncoder.ModelFileName, OnnxTokenEncoder.VocabularyFileName })
        {
            File.CreateSymbolicLink(Path.Combine(directory, name), Path.Combine(source, name));
        }

        File.WriteAllText(Path.Combine(directory, ColbertConventions.ConfigFileName), config);
        return directory;
    }
}
