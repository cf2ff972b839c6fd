// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Threading.Tasks;

namespace Muvera.Indexing.Codecs;

/// <summary>Returns training vector <paramref name="index"/> (its <see cref="FdeCodec.Dimension"/> floats).</summary>
internal delegate ReadOnlySpan<float> RowSource(int index);

/// <summary>
/// A trained FDE storage codec (the seam of quantized FDE storage): encodes vectors into fixed-size code blocks,
/// decodes them, prepares queries for scanning, and serialises its learned parameters. Immutable once built, so one
/// codec serves concurrent searches and is shared by an index and its compacted copy.
/// </summary>
/// <remarks>
/// Codes live in blocks of <see cref="BlockRows"/> vectors (<see cref="BlockBytes"/> bytes each): 16 for 4-bit product
/// quantization (the fast-scan layout), 1 for the row-major kinds. A code buffer always starts at a block boundary.
/// </remarks>
internal abstract class FdeCodec
{
    protected FdeCodec(FdeStorage storage, int dimension)
    {
        Storage = storage;
        Dimension = dimension;
    }

    public FdeStorage Storage { get; }

    public int Dimension { get; }

    /// <summary>Vectors per code block.</summary>
    public abstract int BlockRows { get; }

    /// <summary>Bytes per code block.</summary>
    public abstract int BlockBytes { get; }

    /// <summary>Bytes of the serialised learned parameters (<see cref="WriteParameters"/>).</summary>
    public abstract int ParameterLength { get; }

    /// <summary>Trains a codec of <paramref name="storage"/>'s kind on <paramref name="sampleCount"/> vectors given by
    /// <paramref name="row"/>.</summary>
    public static FdeCodec Train(FdeStorage storage, int dimension, RowSource row, int sampleCount, ParallelOptions parallelOptions) =>
        storage.Kind switch
        {
            FdeStorageKind.Int8 => ScalarQuantizer.TrainQuantizer(storage, dimension, row, sampleCount, parallelOptions),
            FdeStorageKind.ProductQuantization => ProductQuantizer.TrainQuantizer(storage, dimension, row, sampleCount, parallelOptions),
            _ => throw new ArgumentOutOfRangeException(nameof(storage), storage.Kind, $"{storage.Kind} storage has no codec."),
        };

    /// <summary>Reads parameters that <see cref="WriteParameters"/> wrote.</summary>
    /// <exception cref="InvalidDataException">The parameters are not finite or out of range.</exception>
    public static FdeCodec Read(FdeStorage storage, int dimension, ReadOnlySpan<byte> parameters) => storage.Kind switch
    {
        FdeStorageKind.Int8 => ScalarQuantizer.ReadQuantizer(storage, dimension, parameters),
        FdeStorageKind.ProductQuantization => ProductQuantizer.ReadQuantizer(storage, dimension, parameters),
        _ => throw new InvalidDataException($"{storage.Kind} storage has no codec."),
    };

    /// <summary>The <see cref="ParameterLength"/> bytes of the learned parameters (little-endian floats).</summary>
    public abstract void WriteParameters(Span<byte> destination);

    /// <summary>The parameters' length for <paramref name="storage"/> at <paramref name="dimension"/>.</summary>
    public static long ExpectedParameterLength(FdeStorage storage, int dimension) => storage.Kind switch
    {
        FdeStorageKind.Int8 => 8L * dimension,
        _ => (4L * storage.Subspaces(dimension) * (1 << storage.Bits) * storage.SubspaceDimension)
            + (storage.HasRefinement ? 4L * storage.RefineSubspaces(dimension) * (1 << storage.RefineBits) * storage.RefineSubspaceDimension : 0),
    };

    /// <summary>Block size for <paramref name="storage"/> at <paramref name="dimension"/> (rows, bytes).</summary>
    public static (int Rows, int Bytes) BlockShape(FdeStorage storage, int dimension)
    {
        if (storage.Kind == FdeStorageKind.Int8)
        {
            return (1, dimension);
        }

        int refineRow = storage.HasRefinement ? FdeStorage.CodeBytes(storage.RefineBits, storage.RefineSubspaces(dimension)) : 0;
        return storage.Bits == 4
            ? (Kernels.PqScanKernels.BlockRows, Kernels.PqScanKernels.BlockRows * (((storage.Subspaces(dimension) + 1) / 2) + refineRow))
            : (1, storage.Subspaces(dimension) + refineRow);
    }

    /// <summary>Encodes <c>vectors.Length / Dimension</c> vectors into rows <paramref name="firstRow"/>, … of
    /// <paramref name="blocks"/> (which starts at a block boundary).</summary>
    public abstract void Encode(ReadOnlySpan<float> vectors, Span<byte> blocks, int firstRow);

    /// <summary>Writes row <paramref name="row"/>'s reconstruction (<see cref="Dimension"/> floats).</summary>
    public abstract void Decode(ReadOnlySpan<byte> blocks, int row, Span<float> destination);

    /// <summary>Prepares a query for scanning (lookup tables or a quantized query).</summary>
    public abstract FdeCodecQuery Prepare(ReadOnlySpan<float> query);

    /// <summary>Copies the codes of row <paramref name="sourceRow"/> of <paramref name="source"/> into row
    /// <paramref name="destinationRow"/> of <paramref name="destination"/> (both in this codec's block layout); the other
    /// rows of the destination block are left as they are.</summary>
    public virtual void CopyRow(ReadOnlySpan<byte> source, int sourceRow, Span<byte> destination, int destinationRow)
    {
        System.Diagnostics.Debug.Assert(BlockRows == 1);
        source.Slice(sourceRow * BlockBytes, BlockBytes).CopyTo(destination.Slice(destinationRow * BlockBytes, BlockBytes));
    }
}

/// <summary>A query prepared by a codec: scans code blocks with approximate scores. Dispose it after the search: its
/// tables are pooled buffers.</summary>
/// <remarks>Read-only after construction: one prepared query may be scanned by several threads.</remarks>
internal abstract class FdeCodecQuery : IDisposable
{
    protected FdeCodecQuery(float offset, float step)
    {
        Offset = offset;
        Step = step;
    }

    /// <summary>Candidates a search keeps per requested result for <see cref="Refine"/> (1: no refinement).</summary>
    public virtual int CandidatesPerResult => 1;

    /// <summary>A row's score is <c>Offset + Step · s</c> for its exact integer sum s.</summary>
    public float Offset { get; }

    /// <summary>The value of one unit of the integer sums.</summary>
    public float Step { get; }

    /// <summary>Returns the pooled tables.</summary>
    public abstract void Dispose();

    /// <summary>Offers rows <c>0..rows−1</c> of <paramref name="blocks"/> (ids <paramref name="firstId"/>, …) to
    /// <paramref name="heap"/> with their approximate scores.</summary>
    /// <remarks>Rows that <paramref name="filter"/> does not allow are skipped.</remarks>
    public abstract void Scan(ReadOnlySpan<byte> blocks, int rows, int firstId, Indexing.TopKHeap heap, MipsFilter? filter);

    /// <summary>Re-scores row <paramref name="row"/>, whose scan score is <paramref name="score"/> (codecs without a
    /// refinement stage return it unchanged).</summary>
    public virtual float Refine(ReadOnlySpan<byte> blocks, int row, float score) => score;
}
