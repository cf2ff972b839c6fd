// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using Muvera.Onnx;

namespace Muvera.Cli;

/// <summary>Caches mean-pooled vectors beside the token embeddings: one file per (model, conventions, side, texts),
/// keyed by SHA-256 like <see cref="EmbeddingCache"/>. Layout: "MVPOOL1\0", int32 count, int32 dimension (little
/// endian), then count × dimension float32. A file that does not match is encoded again and replaced.</summary>
internal static class PooledVectorCache
{
    private static readonly byte[] s_magic = "MVPOOL1\0"u8.ToArray();

    public static float[] GetOrEncode(string directory, OnnxTokenEncoder encoder, IReadOnlyList<string> texts, bool queries,
        IProgress<int>? progress, CancellationToken cancellationToken)
    {
        string path = Path.Combine(directory, $"pooled-{(queries ? "queries" : "documents")}-{Key(encoder, texts, queries)}.bin");
        if (TryRead(path, texts.Count, encoder.Dimension) is float[] cached)
        {
            progress?.Report(texts.Count);
            return cached;
        }

        float[] vectors = queries
            ? encoder.EncodePooledQueries(texts, progress, cancellationToken)
            : encoder.EncodePooledDocuments(texts, progress, cancellationToken);
        Write(path, vectors, texts.Count, encoder.Dimension);
        return vectors;
    }

    private static string Key(OnnxTokenEncoder encoder, IReadOnlyList<string> texts, bool queries)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(encoder.ModelFingerprint));
        hash.AppendData(Encoding.UTF8.GetBytes(encoder.Conventions.ToJson()));
        hash.AppendData(queries ? "queries"u8 : "documents"u8);
        Span<byte> length = stackalloc byte[4];
        foreach (string text in texts)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..32];
    }

    private static float[]? TryRead(string path, int count, int dimension)
    {
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            byte[] bytes = File.ReadAllBytes(path);
            int header = s_magic.Length + 8;
            if (bytes.Length != header + ((long)count * dimension * sizeof(float)) || !bytes.AsSpan(0, s_magic.Length).SequenceEqual(s_magic)
                || BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(s_magic.Length)) != count
                || BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(s_magic.Length + 4)) != dimension)
            {
                return null;
            }

            float[] vectors = new float[count * dimension];
            for (int i = 0; i < vectors.Length; i++)
            {
                vectors[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(header + (i * sizeof(float))));
            }

            return vectors;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void Write(string path, float[] vectors, int count, int dimension)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        byte[] bytes = new byte[s_magic.Length + 8 + (vectors.Length * sizeof(float))];
        s_magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(s_magic.Length), count);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(s_magic.Length + 4), dimension);
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(vectors.AsSpan()).CopyTo(bytes.AsSpan(s_magic.Length + 8));
        }
        else
        {
            for (int i = 0; i < vectors.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(s_magic.Length + 8 + (i * sizeof(float))), vectors[i]);
            }
        }

        string temporary = path + ".tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }
}
