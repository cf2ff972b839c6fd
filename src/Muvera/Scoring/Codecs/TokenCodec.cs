// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.IO;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Prng;
using Muvera.Training;

namespace Muvera.Scoring.Codecs;

/// <summary>
/// A trained token storage codec (the seam of quantized token storage, as <c>FdeCodec</c> is for FDEs): encodes token
/// vectors into fixed-size records, decodes records to floats, validates records read from a file, and serialises its
/// learned parameters. Immutable once built, so one codec serves concurrent readers and is shared by a store and its
/// compacted copy.
/// </summary>
/// <remarks>A token's record is <see cref="RecordBytes"/> bytes; its reconstruction (<see cref="Decode"/>) is what the
/// store holds: exact float arithmetic, identical at every SIMD width.</remarks>
internal abstract class TokenCodec
{
    protected TokenCodec(TokenStorage storage, int dimension)
    {
        Storage = storage;
        Dimension = dimension;
        RecordBytes = storage.BytesPerToken(dimension);
    }

    public TokenStorage Storage { get; }

    public int Dimension { get; }

    /// <summary>Bytes per token.</summary>
    public int RecordBytes { get; }

    /// <summary>Bytes of the serialised parameters (<see cref="WriteParameters"/>).</summary>
    public abstract int ParameterLength { get; }

    /// <summary>Trains a codec of <paramref name="storage"/>'s kind on the token vectors <paramref name="tokens"/>
    /// (all of them are offered, and their count sizes a residual codebook; up to
    /// <see cref="TokenStorage.MaxTrainingSample"/> are read, drawn uniformly with the storage's seed).</summary>
    public static TokenCodec Train(TokenStorage storage, int dimension, TokenSource tokens, ParallelOptions parallelOptions)
    {
        long offered = tokens.Count;
        int sampleCount = (int)Math.Min(offered, storage.MaxTrainingSample);
        float[] sample = tokens.Sample(sampleCount, SplitMix64.Mix((ulong)(uint)storage.Seed, 0x544F4B53UL));
        parallelOptions.CancellationToken.ThrowIfCancellationRequested();
        return storage.Kind switch
        {
            StoreElementType.Int8 => Int8TokenCodec.TrainCodec(storage, dimension, sample),
            StoreElementType.Residual => ResidualTokenCodec.TrainCodec(storage, dimension, sample, storage.CentroidsFor(offered), parallelOptions),
            _ => throw new ArgumentOutOfRangeException(nameof(storage), storage.Kind, $"{storage.Kind} token storage has no codec."),
        };
    }

    /// <summary>Reads parameters that <see cref="WriteParameters"/> wrote.</summary>
    /// <exception cref="InvalidDataException">The parameters have the wrong length, are not finite, out of order, or
    /// would decode values of magnitude <see cref="FdeEncoder.TokenValueLimit"/> or more.</exception>
    public static TokenCodec Read(TokenStorage storage, int dimension, ReadOnlySpan<byte> parameters) => storage.Kind switch
    {
        StoreElementType.Int8 => Int8TokenCodec.ReadCodec(storage, dimension, parameters),
        StoreElementType.Residual => ResidualTokenCodec.ReadCodec(storage, dimension, parameters),
        _ => throw new InvalidDataException($"{storage.Kind} token storage has no codec."),
    };

    /// <summary>Writes the <see cref="ParameterLength"/> bytes of the learned parameters (little-endian).</summary>
    public abstract void WriteParameters(Span<byte> destination);

    /// <summary>Encodes <c>tokens.Length / Dimension</c> tokens into as many records.</summary>
    public abstract void Encode(ReadOnlySpan<float> tokens, Span<byte> records);

    /// <summary>Decodes <c>records.Length / RecordBytes</c> records into row-major floats at <paramref name="width"/>.</summary>
    public abstract void Decode(SimdWidth width, ReadOnlySpan<byte> records, Span<float> tokens);

    /// <summary>Throws <see cref="InvalidDataException"/> when a record cannot have been written by this codec (a
    /// residual centroid id beyond the codebook).</summary>
    public abstract void ValidateRecords(ReadOnlySpan<byte> records);

    /// <summary>Encodes then decodes <paramref name="tokens"/> in place (the values a store of this codec holds), also
    /// writing the records.</summary>
    public void EncodeAndReconstruct(Span<float> tokens, Span<byte> records)
    {
        Encode(tokens, records);
        Decode(SimdDispatch.Preferred, records, tokens);
    }
}

/// <summary>Token vectors offered to training: many documents, sampled without copying them all.</summary>
internal sealed class TokenSource
{
    private readonly IReadOnlyList<ReadOnlyMemory<float>> _documents;
    private readonly long[] _starts;
    private readonly int _dimension;
    private readonly bool _normalize;

    /// <summary>Documents' row-major tokens; <paramref name="normalize"/> L2-normalises each sampled token (as a
    /// normalising store does on add).</summary>
    public TokenSource(IReadOnlyList<ReadOnlyMemory<float>> documents, int dimension, bool normalize)
    {
        _documents = documents;
        _dimension = dimension;
        _normalize = normalize;
        _starts = new long[documents.Count + 1];
        for (int i = 0; i < documents.Count; i++)
        {
            _starts[i + 1] = _starts[i] + (documents[i].Length / dimension);
        }
    }

    /// <summary>The number of tokens offered.</summary>
    public long Count => _starts[^1];

    /// <summary><paramref name="count"/> tokens drawn uniformly without repeats (all of them when count = Count), in
    /// token order, copied row-major.</summary>
    public float[] Sample(int count, ulong seed)
    {
        int d = _dimension;
        float[] sample = new float[(long)count * d];
        long total = Count;
        int[]? chosen = null;
        if (count < total)
        {
            var random = new SplitMix64(seed);
            chosen = KMeans.SampleIndices(checked((int)Math.Min(total, int.MaxValue)), count, ref random);
        }

        int document = 0;
        for (int i = 0; i < count; i++)
        {
            long token = chosen is null ? i : chosen[i];
            while (_starts[document + 1] <= token)
            {
                document++;
            }

            Span<float> row = sample.AsSpan(i * d, d);
            _documents[document].Span.Slice((int)(token - _starts[document]) * d, d).CopyTo(row);
            if (_normalize)
            {
                MultiVectorStore.NormalizeRow(row);
            }
        }

        return sample;
    }
}
