// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Prng;
using Muvera.Training;

namespace Muvera.Indexing.Codecs;

/// <summary>
/// Product quantization: the vector split into M sub-spaces of <c>s</c> floats (the last one zero-padded), each stored
/// as the index of its nearest (L2) of K = 2^bits centroids learned by k-means on that sub-space.
/// </summary>
/// <remarks>
/// <para>4-bit codes use the fast-scan block layout of <see cref="PqScanKernels"/> (16 rows per block, sub-spaces in
/// pairs, an odd M padded with an all-zero sub-space whose code is 0); 8-bit codes are row-major, one byte per
/// sub-space.</para>
/// <para>Scan: the query's table <c>T[m, c] = ⟨q_m, centroid_{m,c}⟩</c> (<see cref="CentroidKernels.InnerProductTables"/>)
/// is quantized to bytes with one step for all sub-spaces and a per-sub-space offset (<c>T ≈ offset_m + step · byte</c>,
/// <see cref="PqScanKernels.QuantizeTable"/>), so a row's score is <c>Σ offset + step · Σ byte</c>, an integer sum the
/// kernels compute exactly: the inner product with the row's reconstruction up to half a step per sub-space.</para>
/// </remarks>
internal sealed class ProductQuantizer : FdeCodec
{
    private readonly int _subspaces;
    private readonly int _subspaceDimension;
    private readonly int _centroids;
    private readonly float[] _codebook;
    private readonly float[] _transposed;
    private readonly CentroidSet[] _sets;

    private ProductQuantizer(FdeStorage storage, int dimension, float[] codebook)
        : base(storage, dimension)
    {
        _subspaces = storage.Subspaces(dimension);
        _subspaceDimension = storage.SubspaceDimension;
        _centroids = 1 << storage.Bits;
        Debug.Assert(codebook.Length == _subspaces * _centroids * _subspaceDimension);
        _codebook = codebook;
        _sets = new CentroidSet[_subspaces];
        _transposed = new float[codebook.Length];
        int stride = _centroids * _subspaceDimension;
        for (int m = 0; m < _subspaces; m++)
        {
            _sets[m] = new CentroidSet(codebook.AsSpan(m * stride, stride), _subspaceDimension, KMeansMetric.L2);
            for (int c = 0; c < _centroids; c++)
            {
                for (int j = 0; j < _subspaceDimension; j++)
                {
                    _transposed[(((m * _subspaceDimension) + j) * _centroids) + c] = codebook[(m * stride) + (c * _subspaceDimension) + j];
                }
            }
        }

        (int rows, int bytes) = BlockShape(storage, dimension);
        BlockRows = rows;
        BlockBytes = bytes;
    }

    public override int BlockRows { get; }

    public override int BlockBytes { get; }

    public override int ParameterLength => _codebook.Length * sizeof(float);

    /// <summary>The centroids, [M][K][s] (tests compare encodings with a brute-force nearest-centroid search).</summary>
    internal ReadOnlySpan<float> Codebook => _codebook;

    internal int Subspaces => _subspaces;

    public static ProductQuantizer TrainQuantizer(FdeStorage storage, int dimension, RowSource row, int sampleCount, ParallelOptions parallelOptions)
    {
        int subspaces = storage.Subspaces(dimension);
        int s = storage.SubspaceDimension;
        int k = 1 << storage.Bits;
        float[] codebook = new float[subspaces * k * s];
        var initialization = k <= 64 ? KMeansInitialization.PlusPlus : KMeansInitialization.Random;
        Parallel.For(0, subspaces, parallelOptions, () => new float[sampleCount * s], (m, _, points) =>
        {
            parallelOptions.CancellationToken.ThrowIfCancellationRequested();
            int start = m * s;
            int take = Math.Min(s, dimension - start);
            for (int i = 0; i < sampleCount; i++)
            {
                Span<float> target = points.AsSpan(i * s, s);
                row(i).Slice(start, take).CopyTo(target);
                target[take..].Clear();
            }

            var settings = new KMeansSettings(storage.Iterations, SplitMix64.Mix((ulong)(uint)storage.Seed, (ulong)m), KMeansMetric.L2, initialization);
            float[] centroids = KMeans.Train(points, s, k, settings);
            centroids.CopyTo(codebook.AsSpan(m * k * s));
            return points;
        }, _ => { });
        return new ProductQuantizer(storage, dimension, codebook);
    }

    public static ProductQuantizer ReadQuantizer(FdeStorage storage, int dimension, ReadOnlySpan<byte> parameters)
    {
        long expected = ExpectedParameterLength(storage, dimension);
        if (parameters.Length != expected)
        {
            throw new InvalidDataException($"The product-quantizer codebook has {parameters.Length} bytes; {storage} at dimension {dimension} needs {expected}.");
        }

        float[] codebook = new float[parameters.Length / sizeof(float)];
        for (int i = 0; i < codebook.Length; i++)
        {
            codebook[i] = BinaryPrimitives.ReadSingleLittleEndian(parameters[(i * sizeof(float))..]);
            if (!float.IsFinite(codebook[i]))
            {
                throw new InvalidDataException($"The product-quantizer codebook holds a non-finite value {codebook[i]} at float {i}.");
            }
        }

        return new ProductQuantizer(storage, dimension, codebook);
    }

    public override void WriteParameters(Span<byte> destination)
    {
        for (int i = 0; i < _codebook.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(i * sizeof(float))..], _codebook[i]);
        }
    }

    /// <summary>The nearest centroid of every sub-space of <paramref name="vector"/> (one byte per sub-space).</summary>
    internal void EncodeCodes(ReadOnlySpan<float> vector, Span<byte> codes, Span<float> point, Span<float> scratch)
    {
        SimdWidth width = SimdDispatch.Preferred;
        int s = _subspaceDimension;
        for (int m = 0; m < _subspaces; m++)
        {
            int start = m * s;
            int take = Math.Min(s, Dimension - start);
            vector.Slice(start, take).CopyTo(point);
            point[take..s].Clear();
            codes[m] = (byte)_sets[m].Nearest(width, point[..s], scratch, out _);
        }
    }

    public override void Encode(ReadOnlySpan<float> vectors, Span<byte> blocks, int firstRow)
    {
        int rows = vectors.Length / Dimension;
        Span<byte> codes = _subspaces <= 8192 ? stackalloc byte[_subspaces] : new byte[_subspaces];
        Span<float> point = stackalloc float[_subspaceDimension];
        Span<float> scratch = stackalloc float[_sets[0].Columns];
        for (int i = 0; i < rows; i++)
        {
            EncodeCodes(vectors.Slice(i * Dimension, Dimension), codes, point, scratch);
            int row = firstRow + i;
            if (Storage.Bits == 8)
            {
                codes.CopyTo(blocks.Slice(row * BlockBytes, BlockBytes));
                continue;
            }

            Span<byte> block = blocks.Slice(row / PqScanKernels.BlockRows * BlockBytes, BlockBytes);
            int lane = row % PqScanKernels.BlockRows;
            for (int p = 0; p < BlockBytes / 16; p++)
            {
                int even = codes[2 * p];
                int odd = (2 * p) + 1 < _subspaces ? codes[(2 * p) + 1] : 0;
                block[(p * 16) + lane] = (byte)(even | (odd << 4));
            }
        }
    }

    /// <summary>Row <paramref name="row"/>'s code of sub-space <paramref name="m"/>.</summary>
    internal int Code(ReadOnlySpan<byte> blocks, int row, int m)
    {
        if (Storage.Bits == 8)
        {
            return blocks[(row * BlockBytes) + m];
        }

        byte packed = blocks[(row / PqScanKernels.BlockRows * BlockBytes) + ((m / 2) * 16) + (row % PqScanKernels.BlockRows)];
        return (m & 1) == 0 ? packed & 0x0F : packed >> 4;
    }

    public override void Decode(ReadOnlySpan<byte> blocks, int row, Span<float> destination)
    {
        int s = _subspaceDimension;
        for (int m = 0; m < _subspaces; m++)
        {
            int start = m * s;
            int take = Math.Min(s, Dimension - start);
            _codebook.AsSpan(((m * _centroids) + Code(blocks, row, m)) * s, take).CopyTo(destination.Slice(start, take));
        }
    }

    public override FdeCodecQuery Prepare(ReadOnlySpan<float> query)
    {
        int k = _centroids;
        int m = _subspaces;
        int padded = m * _subspaceDimension;
        float[] buffer = ArrayPool<float>.Shared.Rent(padded + (m * k) + m);
        byte[] quantized = ArrayPool<byte>.Shared.Rent(m * k);
        try
        {
            Span<float> point = buffer.AsSpan(0, padded);
            Span<float> table = buffer.AsSpan(padded, m * k);
            Span<float> minima = buffer.AsSpan(padded + (m * k), m);
            query.CopyTo(point);
            point[query.Length..].Clear();
            CentroidKernels.InnerProductTables(SimdDispatch.Preferred, point, _transposed, m, _subspaceDimension, k, table);

            // One step for all sub-spaces keeps the byte sum proportional to the float sum.
            float range = 0;
            double offset = 0;
            for (int i = 0; i < m; i++)
            {
                ReadOnlySpan<float> entries = table.Slice(i * k, k);
                float min = entries[0], max = entries[0];
                for (int c = 1; c < entries.Length; c++)
                {
                    float value = entries[c];
                    min = value < min ? value : min;
                    max = value > max ? value : max;
                }

                minima[i] = min;
                range = Math.Max(range, max - min);
                offset += min;
            }

            float step = range > 0 ? range / 255f : 1f;
            PqScanKernels.QuantizeTable(table, k, minima, 1f / step, quantized);
            return new Query(this, quantized, (float)offset, step);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>A prepared query: the quantized tables (fast-scan streams for 4 bits) and the scan.</summary>
    private sealed class Query : FdeCodecQuery
    {
        private readonly ProductQuantizer _quantizer;
        private readonly byte[] _tables;
        private readonly int _streamLength;

        // Takes ownership of `quantized` (pooled): the sub-space-major tables for 8 bits; for 4 bits the two fast-scan
        // streams are laid out in it in place (even sub-spaces' tables, then odd ones', a padding sub-space as 0).
        public Query(ProductQuantizer quantizer, byte[] quantized, float offset, float step)
            : base(offset, step)
        {
            _quantizer = quantizer;
            int m = quantizer._subspaces;
            if (quantizer.Storage.Bits == 8)
            {
                _tables = quantized;
                return;
            }

            int pairs = quantizer.BlockBytes / 16;
            _streamLength = pairs * 16;
            _tables = ArrayPool<byte>.Shared.Rent(2 * _streamLength);
            for (int p = 0; p < pairs; p++)
            {
                quantized.AsSpan(2 * p * 16, 16).CopyTo(_tables.AsSpan(p * 16));
                Span<byte> high = _tables.AsSpan(_streamLength + (p * 16), 16);
                if ((2 * p) + 1 < m)
                {
                    quantized.AsSpan(((2 * p) + 1) * 16, 16).CopyTo(high);
                }
                else
                {
                    high.Clear();
                }
            }

            ArrayPool<byte>.Shared.Return(quantized);
        }

        public override void Dispose() => ArrayPool<byte>.Shared.Return(_tables);

        public override void Scan(ReadOnlySpan<byte> blocks, int rows, int firstId, TopKHeap heap)
        {
            int blockBytes = _quantizer.BlockBytes;
            Span<uint> totals = stackalloc uint[64];
            if (_quantizer.Storage.Bits == 8)
            {
                int m = _quantizer._subspaces;
                for (int start = 0; start < rows; start += totals.Length)
                {
                    int take = Math.Min(totals.Length, rows - start);
                    PqScanKernels.Scan8(blocks.Slice(start * blockBytes, take * blockBytes), m, take, _tables, totals);
                    for (int r = 0; r < take; r++)
                    {
                        heap.Push(firstId + start + r, Offset + (Step * totals[r]));
                    }
                }

                return;
            }

            SimdWidth width = PqScanKernels.PreferredWidth;
            for (int start = 0, block = 0; start < rows; start += PqScanKernels.BlockRows, block++)
            {
                PqScanKernels.ScanBlock(width, blocks.Slice(block * blockBytes, blockBytes), _tables.AsSpan(0, _streamLength),
                    _tables.AsSpan(_streamLength, _streamLength), totals);
                int take = Math.Min(PqScanKernels.BlockRows, rows - start);
                for (int r = 0; r < take; r++)
                {
                    heap.Push(firstId + start + r, Offset + (Step * totals[r]));
                }
            }
        }
    }
}
