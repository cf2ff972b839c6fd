// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace Muvera.Beir.Tests.Fixtures;

/// <summary>A fresh directory under the system temp folder, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "muvera-beir-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Writes UTF-8 text (no BOM) to a relative path, gzip-compressed when it ends in .gz.</summary>
    public string Write(string relativePath, string text)
    {
        string path = Combine(relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        byte[] bytes = new UTF8Encoding(false).GetBytes(text);
        WriteBytes(relativePath, bytes);
        return path;
    }

    public string WriteBytes(string relativePath, byte[] bytes)
    {
        string path = Combine(relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        if (path.EndsWith(".gz", StringComparison.Ordinal))
        {
            using FileStream file = File.Create(path);
            using var gzip = new GZipStream(file, CompressionLevel.Fastest);
            gzip.Write(bytes);
        }
        else
        {
            File.WriteAllBytes(path, bytes);
        }

        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
