// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Prng;
using Muvera.Training;

namespace Muvera.Indexing.Codecs;

/// <summary>
/// Product quantization: the vector split into M sub-spaces of <c>s</c> floats (the last one zero-padded), each stored
/// as the index of its nearest (L2) of K = 2^bits centroids learned by k-means on that sub-space; optionally a
/// refinement stage, a second product quantizer of the residual <c>x − x̂</c> that re-scores the scan's candidates.
/// </summary>
/// <remarks>
/// <para>Block layout: with 4-bit codes, 16 rows per block in the fast-scan layout of <see cref="PqScanKernels"/>
/// (sub-spaces in pairs, an odd M padded with an all-zero sub-space whose code is 0); with 8-bit codes one row per
/// block, one byte per sub-space. The refinement codes of the block's rows follow, row-major (two 4-bit codes per byte,
/// the even sub-space in the low nibble, or one byte per 8-bit code). The scan reads only the first part of a block.</para>
/// <para>Scan: the query's table <c>T[m, c] = ⟨q_m, centroid_{m,c}⟩</c> (<see cref="CentroidKernels.InnerProductTables"/>)
/// is quantized to bytes with one step for all sub-spaces and a per-sub-space offset (<c>T ≈ offset_m + step · byte</c>,
/// <see cref="PqScanKernels.QuantizeTable"/>), so a row's score is <c>Σ offset + step · Σ byte</c>, an integer sum the
/// kernels compute exactly: the inner product with the row's reconstruction up to half a step per sub-space. The
/// refinement adds <c>Σ_m T₂[m, code₂]</c> over the residual codebook's float table.</para>
/// </remarks>
internal sealed class ProductQuantizer : FdeCodec
{
    private readonly Stage _first;
    private readonly Stage? _refine;
    private readonly int _scanBytes;
    private readonly int _refineRowBytes;

    private ProductQuantizer(FdeStorage storage, int dimension, float[] codebook, float[]? refineCodebook)
        : base(storage, dimension)
    {
        _first = new Stage(dimension, storage.Bits, storage.SubspaceDimension, codebook);
        if (storage.HasRefinement)
        {
            Debug.Assert(refineCodebook is not null);
            _refine = new Stage(dimension, storage.RefineBits, storage.RefineSubspaceDimension, refineCodebook);
            _refineRowBytes = FdeStorage.CodeBytes(storage.RefineBits, _refine.Subspaces);
        }

        (int rows, int bytes) = BlockShape(storage, dimension);
        BlockRows = rows;
        BlockBytes = bytes;
        _scanBytes = bytes - (rows * _refineRowBytes);
    }

    public override int BlockRows { get; }

    public override int BlockBytes { get; }

    public override int ParameterLength => (_first.Codebook.Length + (_refine?.Codebook.Length ?? 0)) * sizeof(float);

    /// <summary>The first stage's centroids, [M][K][s] (tests compare encodings with a brute-force search).</summary>
    internal ReadOnlySpan<float> Codebook => _first.Codebook;

    /// <summary>The refinement stage's centroids, [M₂][K₂][s₂], or empty.</summary>
    internal ReadOnlySpan<float> RefineCodebook => _refine is null ? default : _refine.Codebook;

    internal int Subspaces => _first.Subspaces;

    internal int RefineSubspaces => _refine?.Subspaces ?? 0;

    public static ProductQuantizer TrainQuantizer(FdeStorage storage, int dimension, RowSource row, int sampleCount, ParallelOptions parallelOptions)
    {
        float[] codebook = TrainStage(dimension, storage.Bits, storage.SubspaceDimension, storage, 0,
            (i, start, destination) => row(i).Slice(start, destination.Length).CopyTo(destination), sampleCount, parallelOptions);
        if (!storage.HasRefinement)
        {
            return new ProductQuantizer(storage, dimension, codebook, null);
        }

        // The refinement learns the residuals the first stage leaves on the same sample.
        var first = new Stage(dimension, storage.Bits, storage.SubspaceDimension, codebook);
        byte[] codes = new byte[(long)sampleCount * first.Subspaces];
        Parallel.For(0, sampleCount, parallelOptions, () => first.CreateScratch(), (i, _, scratch) =>
        {
            first.EncodeCodes(row(i), codes.AsSpan(i * first.Subspaces, first.Subspaces), scratch);
            return scratch;
        }, _ => { });
        float[] refineCodebook = TrainStage(dimension, storage.RefineBits, storage.RefineSubspaceDimension, storage, 1, (i, start, destination) =>
        {
            row(i).Slice(start, destination.Length).CopyTo(destination);
            first.SubtractReconstruction(codes.AsSpan(i * first.Subspaces, first.Subspaces), start, destination);
        }, sampleCount, parallelOptions);
        return new ProductQuantizer(storage, dimension, codebook, refineCodebook);
    }

    public static ProductQuantizer ReadQuantizer(FdeStorage storage, int dimension, ReadOnlySpan<byte> parameters)
    {
        long expected = ExpectedParameterLength(storage, dimension);
        if (parameters.Length != expected)
        {
            throw new InvalidDataException($"The product-quantizer codebook has {parameters.Length} bytes; {storage} at dimension {dimension} needs {expected}.");
        }

        float[] all = new float[parameters.Length / sizeof(float)];
        for (int i = 0; i < all.Length; i++)
        {
            all[i] = BinaryPrimitives.ReadSingleLittleEndian(parameters[(i * sizeof(float))..]);
            if (!float.IsFinite(all[i]))
            {
                throw new InvalidDataException($"The product-quantizer codebook holds a non-finite value {all[i]} at float {i}.");
            }
        }

        int firstLength = storage.Subspaces(dimension) * (1 << storage.Bits) * storage.SubspaceDimension;
        return new ProductQuantizer(storage, dimension, all[..firstLength], storage.HasRefinement ? all[firstLength..] : null);
    }

    public override void WriteParameters(Span<byte> destination)
    {
        int offset = 0;
        foreach (float[] codebook in _refine is null ? [_first.Codebook] : new[] { _first.Codebook, _refine.Codebook })
        {
            foreach (float value in codebook)
            {
                BinaryPrimitives.WriteSingleLittleEndian(destination[offset..], value);
                offset += sizeof(float);
            }
        }
    }

    public override void Encode(ReadOnlySpan<float> vectors, Span<byte> blocks, int firstRow)
    {
        int rows = vectors.Length / Dimension;
        Span<byte> codes = new byte[_first.Subspaces];
        Span<byte> refineCodes = _refine is null ? default : new byte[_refine.Subspaces];
        float[] residual = _refine is null ? [] : new float[Dimension];
        Stage.Scratch scratch = _first.CreateScratch();
        Stage.Scratch refineScratch = _refine?.CreateScratch() ?? scratch;
        for (int i = 0; i < rows; i++)
        {
            ReadOnlySpan<float> vector = vectors.Slice(i * Dimension, Dimension);
            _first.EncodeCodes(vector, codes, scratch);
            int row = firstRow + i;
            Span<byte> block = blocks.Slice(row / BlockRows * BlockBytes, BlockBytes);
            int lane = row % BlockRows;
            if (Storage.Bits == 8)
            {
                codes.CopyTo(block);
            }
            else
            {
                for (int p = 0; p < _scanBytes / 16; p++)
                {
                    int even = codes[2 * p];
                    int odd = (2 * p) + 1 < _first.Subspaces ? codes[(2 * p) + 1] : 0;
                    block[(p * 16) + lane] = (byte)(even | (odd << 4));
                }
            }

            if (_refine is not null)
            {
                vector.CopyTo(residual);
                _first.SubtractReconstruction(codes, 0, residual);
                _refine.EncodeCodes(residual, refineCodes, refineScratch);
                Stage.Pack(Storage.RefineBits, refineCodes, block.Slice(_scanBytes + (lane * _refineRowBytes), _refineRowBytes));
            }
        }
    }

    /// <inheritdoc/>
    public override void CopyRow(ReadOnlySpan<byte> source, int sourceRow, Span<byte> destination, int destinationRow)
    {
        ReadOnlySpan<byte> from = source.Slice(sourceRow / BlockRows * BlockBytes, BlockBytes);
        Span<byte> to = destination.Slice(destinationRow / BlockRows * BlockBytes, BlockBytes);
        if (BlockRows == 1)
        {
            from.CopyTo(to);
            return;
        }

        int fromLane = sourceRow % BlockRows;
        int toLane = destinationRow % BlockRows;
        for (int p = 0; p < _scanBytes; p += BlockRows)
        {
            to[p + toLane] = from[p + fromLane];
        }

        if (_refineRowBytes > 0)
        {
            from.Slice(_scanBytes + (fromLane * _refineRowBytes), _refineRowBytes).CopyTo(to.Slice(_scanBytes + (toLane * _refineRowBytes), _refineRowBytes));
        }
    }

    /// <summary>Row <paramref name="row"/>'s code of first-stage sub-space <paramref name="m"/>.</summary>
    internal int Code(ReadOnlySpan<byte> blocks, int row, int m)
    {
        ReadOnlySpan<byte> block = blocks.Slice(row / BlockRows * BlockBytes, BlockBytes);
        if (Storage.Bits == 8)
        {
            return block[m];
        }

        byte packed = block[((m / 2) * 16) + (row % BlockRows)];
        return (m & 1) == 0 ? packed & 0x0F : packed >> 4;
    }

    public override void Decode(ReadOnlySpan<byte> blocks, int row, Span<float> destination)
    {
        Span<byte> codes = new byte[_first.Subspaces];
        for (int m = 0; m < codes.Length; m++)
        {
            codes[m] = (byte)Code(blocks, row, m);
        }

        destination[..Dimension].Clear();
        _first.AddReconstruction(codes, destination);
        if (_refine is not null)
        {
            Span<byte> refineCodes = new byte[_refine.Subspaces];
            Stage.Unpack(Storage.RefineBits, RefineRow(blocks, row), refineCodes);
            _refine.AddReconstruction(refineCodes, destination);
        }
    }

    public override FdeCodecQuery Prepare(ReadOnlySpan<float> query)
    {
        int k = _first.Centroids;
        int m = _first.Subspaces;
        float[] table = ArrayPool<float>.Shared.Rent((m * k) + m);
        byte[] quantized = ArrayPool<byte>.Shared.Rent(m * k);
        try
        {
            _first.Tables(query, table.AsSpan(0, m * k));
            Span<float> minima = table.AsSpan(m * k, m);

            // One step for all sub-spaces keeps the byte sum proportional to the float sum.
            float range = 0;
            double offset = 0;
            for (int i = 0; i < m; i++)
            {
                ReadOnlySpan<float> entries = table.AsSpan(i * k, k);
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
            PqScanKernels.QuantizeTable(table.AsSpan(0, m * k), k, minima, 1f / step, quantized);
            float[]? refineTable = null;
            if (_refine is not null)
            {
                refineTable = ArrayPool<float>.Shared.Rent(_refine.Subspaces * _refine.Centroids);
                _refine.Tables(query, refineTable.AsSpan(0, _refine.Subspaces * _refine.Centroids));
            }

            return new Query(this, quantized, refineTable, (float)offset, step);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(table);
        }
    }

    private ReadOnlySpan<byte> RefineRow(ReadOnlySpan<byte> blocks, int row) =>
        blocks.Slice((row / BlockRows * BlockBytes) + _scanBytes + (row % BlockRows * _refineRowBytes), _refineRowBytes);

    private static float[] TrainStage(int dimension, int bits, int s, FdeStorage storage, int stage, SliceSource slice, int sampleCount, ParallelOptions parallelOptions)
    {
        int subspaces = (dimension + s - 1) / s;
        int k = 1 << bits;
        float[] codebook = new float[subspaces * k * s];
        var initialization = k <= 64 ? KMeansInitialization.PlusPlus : KMeansInitialization.Random;
        ulong seed = SplitMix64.Mix((ulong)(uint)storage.Seed, (ulong)stage);
        Parallel.For(0, subspaces, parallelOptions, () => new float[sampleCount * s], (m, _, points) =>
        {
            parallelOptions.CancellationToken.ThrowIfCancellationRequested();
            int start = m * s;
            int take = Math.Min(s, dimension - start);
            for (int i = 0; i < sampleCount; i++)
            {
                Span<float> target = points.AsSpan(i * s, s);
                slice(i, start, target[..take]);
                target[take..].Clear();
            }

            var settings = new KMeansSettings(storage.Iterations, SplitMix64.Mix(seed, (ulong)m), KMeansMetric.L2, initialization);
            float[] centroids = KMeans.Train(points, s, k, settings);
            centroids.CopyTo(codebook.AsSpan(m * k * s));
            return points;
        }, _ => { });
        return codebook;
    }

    /// <summary>Writes training vector <paramref name="row"/>'s coordinates <c>start … start + destination.Length − 1</c>.</summary>
    private delegate void SliceSource(int row, int start, Span<float> destination);

    /// <summary>One product quantizer: its codebook, the centroid sets that encode, and the transposed codebook that
    /// builds query tables.</summary>
    private sealed class Stage
    {
        private readonly int _dimension;
        private readonly CentroidSet[] _sets;
        private readonly float[] _transposed;

        public Stage(int dimension, int bits, int subspaceDimension, float[] codebook)
        {
            _dimension = dimension;
            SubspaceDimension = subspaceDimension;
            Subspaces = (dimension + subspaceDimension - 1) / subspaceDimension;
            Centroids = 1 << bits;
            Debug.Assert(codebook.Length == Subspaces * Centroids * subspaceDimension);
            Codebook = codebook;
            _sets = new CentroidSet[Subspaces];
            _transposed = new float[codebook.Length];
            int stride = Centroids * subspaceDimension;
            for (int m = 0; m < Subspaces; m++)
            {
                _sets[m] = new CentroidSet(codebook.AsSpan(m * stride, stride), subspaceDimension, KMeansMetric.L2);
                for (int c = 0; c < Centroids; c++)
                {
                    for (int j = 0; j < subspaceDimension; j++)
                    {
                        _transposed[(((m * subspaceDimension) + j) * Centroids) + c] = codebook[(m * stride) + (c * subspaceDimension) + j];
                    }
                }
            }
        }

        public float[] Codebook { get; }

        public int Subspaces { get; }

        public int SubspaceDimension { get; }

        public int Centroids { get; }

        public Scratch CreateScratch() => new(new float[SubspaceDimension], new float[_sets[0].Columns]);

        /// <summary>The nearest centroid of every sub-space of <paramref name="vector"/> (one byte per sub-space).</summary>
        public void EncodeCodes(ReadOnlySpan<float> vector, Span<byte> codes, Scratch scratch)
        {
            SimdWidth width = SimdDispatch.Preferred;
            int s = SubspaceDimension;
            Span<float> point = scratch.Point;
            for (int m = 0; m < Subspaces; m++)
            {
                int start = m * s;
                int take = Math.Min(s, _dimension - start);
                vector.Slice(start, take).CopyTo(point);
                point[take..].Clear();
                codes[m] = (byte)_sets[m].Nearest(width, point, scratch.Distances, out _);
            }
        }

        /// <summary>Adds the reconstruction of <paramref name="codes"/> to <paramref name="destination"/>.</summary>
        public void AddReconstruction(ReadOnlySpan<byte> codes, Span<float> destination)
        {
            int s = SubspaceDimension;
            for (int m = 0; m < Subspaces; m++)
            {
                int start = m * s;
                int take = Math.Min(s, _dimension - start);
                ReadOnlySpan<float> centroid = Codebook.AsSpan(((m * Centroids) + codes[m]) * s, take);
                Span<float> target = destination.Slice(start, take);
                for (int j = 0; j < take; j++)
                {
                    target[j] += centroid[j];
                }
            }
        }

        /// <summary>Subtracts the reconstruction's coordinates <c>start …</c> from <paramref name="values"/> (the residual,
        /// or a slice of it).</summary>
        public void SubtractReconstruction(ReadOnlySpan<byte> codes, int start, Span<float> values)
        {
            int s = SubspaceDimension;
            for (int j = 0; j < values.Length; j++)
            {
                int coordinate = start + j;
                int m = coordinate / s;
                values[j] -= Codebook[(((m * Centroids) + codes[m]) * s) + (coordinate % s)];
            }
        }

        /// <summary>The query's float table <c>T[m, c]</c> (M · K floats).</summary>
        public void Tables(ReadOnlySpan<float> query, Span<float> table)
        {
            int padded = Subspaces * SubspaceDimension;
            float[] point = ArrayPool<float>.Shared.Rent(padded);
            try
            {
                query.CopyTo(point);
                point.AsSpan(query.Length, padded - query.Length).Clear();
                CentroidKernels.InnerProductTables(SimdDispatch.Preferred, point.AsSpan(0, padded), _transposed, Subspaces, SubspaceDimension, Centroids, table);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(point);
            }
        }

        /// <summary>Packs one code per sub-space into a row: two per byte for 4 bits (even sub-space low), else one.</summary>
        public static void Pack(int bits, ReadOnlySpan<byte> codes, Span<byte> row)
        {
            if (bits == 8)
            {
                codes.CopyTo(row);
                return;
            }

            for (int i = 0; i < row.Length; i++)
            {
                int even = codes[2 * i];
                int odd = (2 * i) + 1 < codes.Length ? codes[(2 * i) + 1] : 0;
                row[i] = (byte)(even | (odd << 4));
            }
        }

        /// <summary>The inverse of <see cref="Pack"/>.</summary>
        public static void Unpack(int bits, ReadOnlySpan<byte> row, Span<byte> codes)
        {
            if (bits == 8)
            {
                row[..codes.Length].CopyTo(codes);
                return;
            }

            for (int m = 0; m < codes.Length; m++)
            {
                byte packed = row[m / 2];
                codes[m] = (byte)((m & 1) == 0 ? packed & 0x0F : packed >> 4);
            }
        }

        /// <summary>One encoder's scratch: a sub-space point and the centroid distances.</summary>
        public sealed record Scratch(float[] Point, float[] Distances);
    }

    /// <summary>A prepared query: the quantized tables (fast-scan streams for 4 bits), the refinement's float table, and
    /// the scan.</summary>
    private sealed class Query : FdeCodecQuery
    {
        private readonly ProductQuantizer _quantizer;
        private readonly byte[] _tables;
        private readonly float[]? _refineTable;
        private readonly int _streamLength;

        // Takes ownership of `quantized` and `refineTable` (pooled): the sub-space-major tables for 8 bits; for 4 bits
        // the two fast-scan streams are laid out in a new buffer (even sub-spaces' tables, then odd ones', a padding
        // sub-space as 0).
        public Query(ProductQuantizer quantizer, byte[] quantized, float[]? refineTable, float offset, float step)
            : base(offset, step)
        {
            _quantizer = quantizer;
            _refineTable = refineTable;
            int m = quantizer._first.Subspaces;
            if (quantizer.Storage.Bits == 8)
            {
                _tables = quantized;
                return;
            }

            int pairs = quantizer._scanBytes / 16;
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

        public override int CandidatesPerResult => _quantizer.Storage.HasRefinement ? _quantizer.Storage.RefineCandidates : 1;

        public override void Dispose()
        {
            ArrayPool<byte>.Shared.Return(_tables);
            if (_refineTable is not null)
            {
                ArrayPool<float>.Shared.Return(_refineTable);
            }
        }

        public override void Scan(ReadOnlySpan<byte> blocks, int rows, int firstId, TopKHeap heap, MipsFilter? filter)
        {
            int blockBytes = _quantizer.BlockBytes;
            Span<uint> totals = stackalloc uint[64];
            if (_quantizer.Storage.Bits == 8)
            {
                int m = _quantizer._first.Subspaces;
                for (int start = 0; start < rows; start += totals.Length)
                {
                    int take = Math.Min(totals.Length, rows - start);
                    PqScanKernels.Scan8(blocks.Slice(start * blockBytes), blockBytes, m, take, _tables, totals);
                    for (int r = 0; r < take; r++)
                    {
                        if (filter is null || filter.Allows(firstId + start + r))
                        {
                            heap.Push(firstId + start + r, Offset + (Step * totals[r]));
                        }
                    }
                }

                return;
            }

            SimdWidth width = PqScanKernels.PreferredWidth;
            int scanBytes = _quantizer._scanBytes;
            for (int start = 0, block = 0; start < rows; start += PqScanKernels.BlockRows, block++)
            {
                PqScanKernels.ScanBlock(width, blocks.Slice(block * blockBytes, scanBytes), _tables.AsSpan(0, _streamLength),
                    _tables.AsSpan(_streamLength, _streamLength), totals);
                int take = Math.Min(PqScanKernels.BlockRows, rows - start);
                for (int r = 0; r < take; r++)
                {
                    if (filter is null || filter.Allows(firstId + start + r))
                    {
                        heap.Push(firstId + start + r, Offset + (Step * totals[r]));
                    }
                }
            }
        }

        public override float Refine(ReadOnlySpan<byte> blocks, int row, float score)
        {
            if (_refineTable is null)
            {
                return score;
            }

            Stage refine = _quantizer._refine!;
            ReadOnlySpan<byte> codes = _quantizer.RefineRow(blocks, row);
            int k = refine.Centroids;
            float sum = score;
            if (_quantizer.Storage.RefineBits == 8)
            {
                for (int m = 0; m < refine.Subspaces; m++)
                {
                    sum += _refineTable[(m * k) + codes[m]];
                }

                return sum;
            }

            // Four partial sums in a fixed order: the additions overlap instead of waiting on one another.
            int pairs = refine.Subspaces / 2;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            ref float t = ref MemoryMarshal.GetArrayDataReference(_refineTable);
            int p = 0;
            for (; p + 2 <= pairs; p += 2)
            {
                byte a = codes[p], b = codes[p + 1];
                int baseIndex = p * 32;
                s0 += Unsafe.Add(ref t, baseIndex + (a & 0x0F));
                s1 += Unsafe.Add(ref t, baseIndex + 16 + (a >> 4));
                s2 += Unsafe.Add(ref t, baseIndex + 32 + (b & 0x0F));
                s3 += Unsafe.Add(ref t, baseIndex + 48 + (b >> 4));
            }

            for (; p < pairs; p++)
            {
                byte packed = codes[p];
                s0 += Unsafe.Add(ref t, (p * 32) + (packed & 0x0F));
                s1 += Unsafe.Add(ref t, (p * 32) + 16 + (packed >> 4));
            }

            sum += (s0 + s1) + (s2 + s3);
            if ((refine.Subspaces & 1) != 0)
            {
                sum += _refineTable[((refine.Subspaces - 1) * 16) + (codes[pairs] & 0x0F)];
            }

            return sum;
        }
    }
}
