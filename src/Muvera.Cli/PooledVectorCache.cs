// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using Muvera.Onnx;

namespace Muvera.Cli;

/// <summary>Reads the mean-pooled vectors that earlier versions of the CLI cached beside the token embeddings (pooled
/// vectors now live in <see cref="EmbeddingCache"/>, written by the same model pass as the tokens), so that an existing
/// cache still costs no model pass. One file per (model, conventions, side, texts), keyed by SHA-256. Layout:
/// "MVPOOL1\0", int32 count, int32 dimension (little endian), then count × dimension float32. Nothing writes it any
/// more.</summary>
internal static class PooledVectorCache
{
    private static readonly byte[] s_magic = "MVPOOL1\0"u8.ToArray();

    /// <summary>The cached vectors, or null when there is no valid file for these texts.</summary>
    public static float[]? TryRead(string directory, OnnxTokenEncoder encoder, IReadOnlyList<string> texts, bool queries)
    {
        string path = Path.Combine(directory, $"pooled-{(queries ? "queries" : "documents")}-{Key(encoder, texts, queries)}.bin");
        return TryRead(path, texts.Count, encoder.Dimension);
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
}
