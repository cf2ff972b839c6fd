// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Kernels;
using Muvera.Serialization;

namespace Muvera;

/// <summary>
/// Encodes token-vector sets into MUVERA fixed dimensional encodings (FDEs) whose dot product approximates
/// Chamfer similarity: <c>⟨EncodeQuery(Q), EncodeDocument(P)⟩ ≈ R · Σ_q max_p ⟨q, p⟩</c>.
/// </summary>
/// <remarks>
/// <para>Computes the function of the MUVERA reference implementation (google/graph-mining
/// <c>fixed_dimensional_encoding.cc</c>): SimHash partitions with the Gray-code partition index, identity / sparse AMS
/// inner projections, document averaging with optional fill of empty partitions, optional final Count Sketch; plus
/// the paper's dense ±1/√d_proj projection (<see cref="FdeProjection.Dense"/>).</para>
/// <para>Every random matrix is drawn once, in the constructor, from Muvera's versioned PRNG
/// (<see cref="PrngVersion"/>): MT19937 with libstdc++'s distributions, so the AMS and Count Sketch matrices equal the
/// reference build's for the same seed and the Gaussians match it to within one ulp.</para>
/// <para>Thread safety: immutable; every method may be called concurrently. Determinism: an encoding depends only on
/// the options, the PRNG version and the input token set. It is bit-identical across SIMD widths, CPUs, batch
/// splits and thread counts, and independent of token order up to float rounding of the per-partition sums.</para>
/// <para>Allocation: the constructor allocates at most <see cref="FdeOptions.EncoderBytes"/> (bounded by the limits of
/// <see cref="FdeOptions.Validate"/>); the span overloads allocate nothing (scratch, about
/// <see cref="FdeOptions.ScratchFloatsPerToken"/> floats per token, is pooled). Cost per set of n tokens:
/// O(n·d·R·k) for SimHash, O(n·d·R) for AMS (O(n·d·d_proj·R) dense), O(R·2^k·d_proj) to clear the output, plus
/// O(R·2^k·n) for document fill.</para>
/// </remarks>
public sealed class FdeEncoder
{
    /// <summary>
    /// The version of the random stream the matrices are drawn from. Version 1: MT19937 seeded with
    /// <c>Seed + r</c>; libstdc++-compatible <c>normal_distribution&lt;float&gt;</c> (Marsaglia polar, deterministic
    /// log), <c>uniform_int_distribution</c> (Lemire) and <c>bernoulli_distribution(0.5)</c>; matrix fill orders as the
    /// reference. Any change to the draws bumps it, and stored encodings record it.
    /// </summary>
    public const int PrngVersion = 1;

    /// <summary>
    /// Every token coordinate must be finite and smaller than this in magnitude: 2^20 = 1,048,576. Within it no FDE
    /// coordinate can overflow (a coordinate is at most R·n·d·2^20 before a final projection, and R·2^k·d_proj times that
    /// with one, far below float's 3.4·10^38 at every size the limits of <see cref="FdeOptions"/> allow), and neither can a
    /// Chamfer score (at most n_q·d·2^40). Embedding models produce coordinates many orders of magnitude smaller.
    /// </summary>
    public const float TokenValueLimit = 1 << 20;

    private static readonly ParallelOptions s_defaultParallelOptions = new();

    private readonly int _dimension;
    private readonly int _repetitions;
    private readonly int _hashes;
    private readonly int _partitions;
    private readonly int _blockDimension;
    private readonly int _preFinalLength;
    private readonly int _outputLength;
    private readonly FdeProjection _projection;
    private readonly bool _fill;

    // A of the one matrix product per encode: R·k SimHash rows (row r·k + j = column j of G_r), then for the dense
    // projection R·d_proj rows (row R·k + r·d_proj + j = column j of S_r); depth d.
    private readonly float[] _productRows;
    private readonly int _productRowCount;

    private readonly AmsTable? _ams;

    private readonly int[]? _sketchIndices;
    private readonly float[]? _sketchSigns;

    // Floats per padded token of the largest scratch buffer (transposed tokens, product rows, projected rows).
    private readonly int _largestScratchRow;

    /// <summary>Creates an encoder and draws its random matrices from <see cref="FdeOptions.Seed"/>.</summary>
    /// <param name="options">The encoding parameters.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The options are inconsistent or exceed a size limit (see
    /// <see cref="FdeOptions.Validate"/>).</exception>
    public FdeEncoder(FdeOptions options)
        : this(ValidateOptions(options), null)
    {
    }

    /// <summary>Test seam: an encoder over given matrices (the golden fixtures'), or drawn ones when null.</summary>
    internal FdeEncoder(FdeOptions options, FdeMatrices? matrices)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        matrices ??= FdeMatrices.Generate(options);
        Options = options;
        Matrices = matrices;
        Identity = new FdeEncoderIdentity(options, PrngVersion);

        _dimension = options.Dimension;
        _repetitions = options.Repetitions;
        _hashes = options.SimHashProjections;
        _partitions = options.PartitionCount;
        _blockDimension = options.BlockDimension;
        _preFinalLength = (int)options.PreFinalDimension;
        _outputLength = options.OutputDimension;
        _projection = options.Projection;
        _fill = options.FillEmptyPartitions && _hashes > 0;

        int d = _dimension;
        int p = _blockDimension;
        int hashRows = _repetitions * _hashes;
        _productRowCount = hashRows + (_projection == FdeProjection.Dense ? _repetitions * p : 0);
        _productRows = new float[_productRowCount * d];
        for (int r = 0; r < _repetitions && _hashes > 0; r++)
        {
            WriteColumnsAsRows(matrices.SimHash![r], d, _hashes, _productRows.AsSpan(r * _hashes * d, _hashes * d));
        }

        for (int r = 0; r < _repetitions && _projection == FdeProjection.Dense; r++)
        {
            WriteColumnsAsRows(matrices.Dense![r], d, p, _productRows.AsSpan((hashRows + (r * p)) * d, p * d));
        }

        _ams = _projection == FdeProjection.Ams ? new AmsTable(matrices.AmsColumns!, matrices.AmsSigns!, d, p) : null;

        _sketchIndices = matrices.CountSketchIndices;
        _sketchSigns = matrices.CountSketchSigns;
        _largestScratchRow = Math.Max(d, Math.Max(_productRowCount, _projection == FdeProjection.Identity ? 0 : 2 * p));
    }

    /// <summary>The options this encoder was built with.</summary>
    public FdeOptions Options { get; }

    /// <summary>What a stored index records to refuse a different encoder later: the options and <see cref="PrngVersion"/>.</summary>
    public FdeEncoderIdentity Identity { get; }

    /// <summary>The token dimension d.</summary>
    public int Dimension => _dimension;

    /// <summary>The length of every encoding (see <see cref="FdeOptions.OutputDimension"/>).</summary>
    public int OutputDimension => _outputLength;

    internal FdeMatrices Matrices { get; }

    /// <summary>Encodes a query: the sum of its projected tokens per partition, never filled.</summary>
    /// <param name="tokens">The query's token vectors, row-major; length a multiple of <see cref="Dimension"/> (may be empty).</param>
    /// <param name="destination">Receives the encoding; at least <see cref="OutputDimension"/> long.</param>
    /// <returns>The number of floats written, <see cref="OutputDimension"/>.</returns>
    /// <exception cref="ArgumentException">Ragged length, a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>), or a short destination.</exception>
    /// <remarks>An empty query encodes to zeros. Allocates nothing.</remarks>
    public int EncodeQuery(ReadOnlySpan<float> tokens, Span<float> destination)
    {
        ValidateInput(tokens, nameof(tokens), destination, nameof(destination));
        Encode(tokens, destination, document: false, SimdDispatch.Preferred);
        return _outputLength;
    }

    /// <summary>Encodes a document: the mean of its projected tokens per partition; empty partitions are filled
    /// when <see cref="FdeOptions.FillEmptyPartitions"/> is set.</summary>
    /// <param name="tokens">The document's token vectors, row-major; length a multiple of <see cref="Dimension"/> (may be empty).</param>
    /// <param name="destination">Receives the encoding; at least <see cref="OutputDimension"/> long.</param>
    /// <returns>The number of floats written, <see cref="OutputDimension"/>.</returns>
    /// <exception cref="ArgumentException">Ragged length, a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>), or a short destination.</exception>
    /// <remarks>An empty document encodes to zeros (there is no token to fill with). Allocates nothing.</remarks>
    public int EncodeDocument(ReadOnlySpan<float> tokens, Span<float> destination)
    {
        ValidateInput(tokens, nameof(tokens), destination, nameof(destination));
        Encode(tokens, destination, document: true, SimdDispatch.Preferred);
        return _outputLength;
    }

    /// <summary>Encodes a query (see <see cref="EncodeQuery(ReadOnlySpan{float}, Span{float})"/>).</summary>
    /// <param name="query">The query's token vectors.</param>
    /// <param name="destination">Receives the encoding; at least <see cref="OutputDimension"/> long.</param>
    /// <returns>The number of floats written.</returns>
    /// <exception cref="ArgumentException">Dimension mismatch, a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>), or a short destination.</exception>
    public int EncodeQuery(ReadOnlyMultiVector query, Span<float> destination)
    {
        CheckDimension(query, nameof(query));
        return EncodeQuery(query.Span, destination);
    }

    /// <summary>Encodes a document (see <see cref="EncodeDocument(ReadOnlySpan{float}, Span{float})"/>).</summary>
    /// <param name="document">The document's token vectors.</param>
    /// <param name="destination">Receives the encoding; at least <see cref="OutputDimension"/> long.</param>
    /// <returns>The number of floats written.</returns>
    /// <exception cref="ArgumentException">Dimension mismatch, a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>), or a short destination.</exception>
    public int EncodeDocument(ReadOnlyMultiVector document, Span<float> destination)
    {
        CheckDimension(document, nameof(document));
        return EncodeDocument(document.Span, destination);
    }

    /// <summary>Encodes a query into a new array of <see cref="OutputDimension"/> floats.</summary>
    /// <param name="query">The query's token vectors.</param>
    /// <returns>The encoding.</returns>
    /// <exception cref="ArgumentException">Dimension mismatch or a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>).</exception>
    public float[] EncodeQuery(ReadOnlyMultiVector query)
    {
        float[] result = new float[_outputLength];
        EncodeQuery(query, result);
        return result;
    }

    /// <summary>Encodes a document into a new array of <see cref="OutputDimension"/> floats.</summary>
    /// <param name="document">The document's token vectors.</param>
    /// <returns>The encoding.</returns>
    /// <exception cref="ArgumentException">Dimension mismatch or a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>).</exception>
    public float[] EncodeDocument(ReadOnlyMultiVector document)
    {
        float[] result = new float[_outputLength];
        EncodeDocument(document, result);
        return result;
    }

    /// <summary>
    /// Encodes many queries given as one ragged token matrix into one contiguous output, in parallel on all cores.
    /// </summary>
    /// <param name="tokens">All queries' token vectors, row-major, query after query.</param>
    /// <param name="tokenCounts">The number of tokens of each query (zero allowed).</param>
    /// <param name="destination">Receives query i's encoding at <c>[i·OutputDimension, (i+1)·OutputDimension)</c>.</param>
    /// <exception cref="ArgumentException">Counts that do not add up to the token rows, a negative count, a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>),
    /// or a short destination; the message names the item.</exception>
    /// <remarks>Bit-identical to encoding each query alone, whatever the thread count. The shape is checked before any
    /// work; bad values are found item by item, so after that exception <paramref name="destination"/> holds the
    /// encodings of the items that were valid (the message names the lowest bad item).</remarks>
    public void EncodeQueries(ReadOnlySpan<float> tokens, ReadOnlySpan<int> tokenCounts, Span<float> destination) =>
        EncodeBatch(tokens, tokenCounts, destination, document: false, s_defaultParallelOptions);

    /// <summary>Encodes many queries given as one ragged token matrix, with explicit parallelism and cancellation.</summary>
    /// <param name="tokens">All queries' token vectors, row-major, query after query.</param>
    /// <param name="tokenCounts">The number of tokens of each query (zero allowed).</param>
    /// <param name="destination">Receives query i's encoding at <c>[i·OutputDimension, (i+1)·OutputDimension)</c>.</param>
    /// <param name="parallelOptions">The thread limit and cancellation token; a cancelled call leaves
    /// <paramref name="destination"/> partly written and throws <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="ArgumentException">Counts that do not add up to the token rows, a negative count, a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>),
    /// or a short destination; the message names the item.</exception>
    /// <remarks>Bit-identical to encoding each query alone, whatever the thread count. The shape is checked before any
    /// work; bad values are found item by item, so after that exception <paramref name="destination"/> holds the
    /// encodings of the items that were valid (the message names the lowest bad item).</remarks>
    public void EncodeQueries(ReadOnlySpan<float> tokens, ReadOnlySpan<int> tokenCounts, Span<float> destination,
        ParallelOptions parallelOptions) =>
        EncodeBatch(tokens, tokenCounts, destination, document: false, parallelOptions);

    /// <summary>
    /// Encodes many documents given as one ragged token matrix into one contiguous output, in parallel on all cores.
    /// </summary>
    /// <param name="tokens">All documents' token vectors, row-major, document after document.</param>
    /// <param name="tokenCounts">The number of tokens of each document (zero allowed).</param>
    /// <param name="destination">Receives document i's encoding at <c>[i·OutputDimension, (i+1)·OutputDimension)</c>.</param>
    /// <exception cref="ArgumentException">Counts that do not add up to the token rows, a negative count, a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>),
    /// or a short destination; the message names the item.</exception>
    /// <remarks>Bit-identical to encoding each document alone, whatever the thread count. The shape is checked before any
    /// work; bad values are found item by item, so after that exception <paramref name="destination"/> holds the
    /// encodings of the items that were valid (the message names the lowest bad item).</remarks>
    public void EncodeDocuments(ReadOnlySpan<float> tokens, ReadOnlySpan<int> tokenCounts, Span<float> destination) =>
        EncodeBatch(tokens, tokenCounts, destination, document: true, s_defaultParallelOptions);

    /// <summary>Encodes many documents given as one ragged token matrix, with explicit parallelism and cancellation.</summary>
    /// <param name="tokens">All documents' token vectors, row-major, document after document.</param>
    /// <param name="tokenCounts">The number of tokens of each document (zero allowed).</param>
    /// <param name="destination">Receives document i's encoding at <c>[i·OutputDimension, (i+1)·OutputDimension)</c>.</param>
    /// <param name="parallelOptions">The thread limit and cancellation token; a cancelled call leaves
    /// <paramref name="destination"/> partly written and throws <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="ArgumentException">Counts that do not add up to the token rows, a negative count, a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>),
    /// or a short destination; the message names the item.</exception>
    /// <remarks>Bit-identical to encoding each document alone, whatever the thread count. The shape is checked before any
    /// work; bad values are found item by item, so after that exception <paramref name="destination"/> holds the
    /// encodings of the items that were valid (the message names the lowest bad item).</remarks>
    public void EncodeDocuments(ReadOnlySpan<float> tokens, ReadOnlySpan<int> tokenCounts, Span<float> destination,
        ParallelOptions parallelOptions) =>
        EncodeBatch(tokens, tokenCounts, destination, document: true, parallelOptions);

    /// <summary>Encodes many documents into one new row-major array (document i at row i), in parallel on all cores.</summary>
    /// <param name="documents">The documents.</param>
    /// <returns><c>documents.Count × OutputDimension</c> floats.</returns>
    /// <exception cref="ArgumentException">A document with another dimension or a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>); the message names it.</exception>
    public float[] EncodeDocuments(IReadOnlyList<ReadOnlyMultiVector> documents) =>
        EncodeList(documents, nameof(documents), document: true, s_defaultParallelOptions);

    /// <summary>Encodes many documents into one new row-major array, with explicit parallelism and cancellation.</summary>
    /// <param name="documents">The documents.</param>
    /// <param name="parallelOptions">The thread limit and cancellation token.</param>
    /// <returns><c>documents.Count × OutputDimension</c> floats.</returns>
    /// <exception cref="ArgumentException">A document with another dimension or a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>); the message names it.</exception>
    public float[] EncodeDocuments(IReadOnlyList<ReadOnlyMultiVector> documents, ParallelOptions parallelOptions) =>
        EncodeList(documents, nameof(documents), document: true, parallelOptions);

    /// <summary>Encodes many queries into one new row-major array (query i at row i), in parallel on all cores.</summary>
    /// <param name="queries">The queries.</param>
    /// <returns><c>queries.Count × OutputDimension</c> floats.</returns>
    /// <exception cref="ArgumentException">A query with another dimension or a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>); the message names it.</exception>
    public float[] EncodeQueries(IReadOnlyList<ReadOnlyMultiVector> queries) =>
        EncodeList(queries, nameof(queries), document: false, s_defaultParallelOptions);

    /// <summary>Encodes many queries into one new row-major array, with explicit parallelism and cancellation.</summary>
    /// <param name="queries">The queries.</param>
    /// <param name="parallelOptions">The thread limit and cancellation token.</param>
    /// <returns><c>queries.Count × OutputDimension</c> floats.</returns>
    /// <exception cref="ArgumentException">A query with another dimension or a NaN, ∞ or too large value (<see cref="TokenValueLimit"/>); the message names it.</exception>
    public float[] EncodeQueries(IReadOnlyList<ReadOnlyMultiVector> queries, ParallelOptions parallelOptions) =>
        EncodeList(queries, nameof(queries), document: false, parallelOptions);

    /// <summary>Encodes without validation at a chosen SIMD width (tests call every width).</summary>
    internal void Encode(ReadOnlySpan<float> tokens, Span<float> destination, bool document, SimdWidth width) =>
        Encode(tokens, destination, document, document && _fill, width);

    private void Encode(ReadOnlySpan<float> tokens, Span<float> destination, bool document, bool fill, SimdWidth width)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                Encode<Lanes512, Vector512<float>>(tokens, destination, document, fill);
                break;
            case SimdWidth.Vector256:
                Encode<Lanes256, Vector256<float>>(tokens, destination, document, fill);
                break;
            case SimdWidth.Vector128:
                Encode<Lanes128, Vector128<float>>(tokens, destination, document, fill);
                break;
            default:
                Encode<LanesScalar, float>(tokens, destination, document, fill);
                break;
        }
    }

    /// <summary>Test seam: the partition id of every token in every repetition (<c>ids[r·n + t]</c>).</summary>
    internal void ComputePartitionIds(ReadOnlySpan<float> tokens, Span<int> ids, SimdWidth width)
    {
        int n = tokens.Length / _dimension;
        Debug.Assert(ids.Length >= _repetitions * n);
        int columns = FdeKernels.PadColumns(n);
        if (_hashes == 0 || n == 0)
        {
            ids[..(_repetitions * n)].Clear();
            return;
        }

        float[] transposed = new float[_dimension * columns];
        float[] product = new float[_productRowCount * columns];
        int[] rowIds = new int[columns];
        FdeKernels.Transpose<LanesScalar, float>(tokens, n, _dimension, transposed, columns);
        FdeKernels.MultiplyTransposed(width, _productRows, _productRowCount, _dimension, transposed, columns, product);

        for (int r = 0; r < _repetitions; r++)
        {
            FdeKernels.GrayCodeIds<LanesScalar, float>(product.AsSpan(r * _hashes * columns), _hashes, columns, rowIds);
            rowIds.AsSpan(0, n).CopyTo(ids.Slice(r * n, n));
        }
    }

    /// <summary>The shared core: sidedness only decides averaging and fill.</summary>
    internal void EncodeCore(ReadOnlySpan<float> tokens, Span<float> destination, bool document, bool fill, SimdWidth width)
    {
        if (!document && fill)
        {
            ThrowHelper.ThrowArgument(
                "fillEmptyPartitions is true for a query: a filled query partition would count a token several times " +
                "(the reference rejects it too); fill applies to documents only.", nameof(fill));
        }

        Encode(tokens, destination, document, fill && _hashes > 0, width);
    }

    // Column j of a row-major rows × columns matrix becomes row j of destination (columns × rows).
    private static void WriteColumnsAsRows(float[] matrix, int rows, int columns, Span<float> destination)
    {
        for (int j = 0; j < columns; j++)
        {
            for (int i = 0; i < rows; i++)
            {
                destination[(j * rows) + i] = matrix[(i * columns) + j];
            }
        }
    }

    private static FdeOptions ValidateOptions(FdeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    private void CheckDimension(ReadOnlyMultiVector tokens, string paramName)
    {
        if (tokens.Dimension != _dimension && !(tokens.Dimension == 0 && tokens.Values.IsEmpty))
        {
            ThrowHelper.ThrowDimensionMismatch(paramName, tokens.Dimension, _dimension);
        }
    }

    private void ValidateInput(ReadOnlySpan<float> tokens, string tokensName, Span<float> destination, string destinationName)
    {
        if (tokens.Length % _dimension != 0)
        {
            ThrowHelper.ThrowRaggedLength(tokensName, tokens.Length, _dimension);
        }

        if (destination.Length < _outputLength)
        {
            ThrowHelper.ThrowDestinationTooShort(destinationName, destination.Length, _outputLength);
        }

        CheckScratch(tokens.Length / _dimension, tokensName, tokensName);
        if (HasOutOfRange(tokens))
        {
            ThrowHelper.ThrowTokenValue(tokensName, tokensName, tokens, _dimension);
        }
    }

    // One encoding's largest scratch buffer holds _largestScratchRow floats per token (padded to 16); checked before any
    // work so that no buffer size below is computed past int.
    private void CheckScratch(long tokenCount, string subject, string paramName)
    {
        long columns = (tokenCount + FdeKernels.ColumnAlignment - 1) & ~(long)(FdeKernels.ColumnAlignment - 1);
        long floats = columns * _largestScratchRow;
        if (floats > Array.MaxLength)
        {
            ThrowHelper.ThrowArgument(
                $"{subject} holds {tokenCount} tokens; encoding them at once needs a scratch buffer of {columns} × {_largestScratchRow} = " +
                $"{floats} floats, more than one array holds ({Array.MaxLength}). Encode fewer tokens at once.", paramName);
        }
    }

    private static bool HasOutOfRange(ReadOnlySpan<float> values) => FdeKernels.HasOutOfRange(SimdDispatch.Preferred, values);

    private void EncodeBatch(ReadOnlySpan<float> tokens, ReadOnlySpan<int> tokenCounts, Span<float> destination,
        bool document, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(parallelOptions);

        long rows = 0;
        for (int i = 0; i < tokenCounts.Length; i++)
        {
            if (tokenCounts[i] < 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(tokenCounts), tokenCounts[i], $"tokenCounts[{i}] is {tokenCounts[i]}; counts must be non-negative.");
            }

            CheckScratch(tokenCounts[i], $"item {i} of tokenCounts", nameof(tokenCounts));
            rows += tokenCounts[i];
        }

        if (rows * _dimension != tokens.Length)
        {
            ThrowHelper.ThrowArgument(
                $"tokenCounts add up to {rows} tokens × dimension {_dimension} = {rows * _dimension} floats, but tokens has length {tokens.Length}.",
                nameof(tokenCounts));
        }

        long required = (long)tokenCounts.Length * _outputLength;
        if (destination.Length < required)
        {
            ThrowHelper.ThrowArgument(
                $"destination length {destination.Length} is shorter than {tokenCounts.Length} items × output dimension {_outputLength} = {required}.",
                nameof(destination));
        }

        long[] offsets = new long[tokenCounts.Length + 1];
        for (int i = 0; i < tokenCounts.Length; i++)
        {
            offsets[i + 1] = offsets[i] + ((long)tokenCounts[i] * _dimension);
        }

        // Each item is checked for bad values right before it is encoded (while its tokens are being brought into cache),
        // not in a separate pass over the whole batch; the lowest bad item is reported once all items are done.
        SimdWidth width = SimdDispatch.Preferred;
        int firstBadItem = int.MaxValue;
        ParallelBatch.Run(tokens, offsets, destination, _outputLength, parallelOptions, (index, item, output) =>
        {
            if (HasOutOfRange(item))
            {
                InterlockedMin(ref firstBadItem, index);
                return;
            }

            Encode(item, output, document, width);
        });

        if (firstBadItem != int.MaxValue)
        {
            ReadOnlySpan<float> bad = tokens[(int)offsets[firstBadItem]..(int)offsets[firstBadItem + 1]];
            ThrowHelper.ThrowTokenValue(nameof(tokens), $"item {firstBadItem} of tokens", bad, _dimension);
        }
    }

    private static void InterlockedMin(ref int location, int value)
    {
        int current = Volatile.Read(ref location);
        while (value < current)
        {
            int seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private float[] EncodeList(IReadOnlyList<ReadOnlyMultiVector> items, string paramName, bool document,
        ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(items, paramName);
        ArgumentNullException.ThrowIfNull(parallelOptions);
        for (int i = 0; i < items.Count; i++)
        {
            ReadOnlyMultiVector item = items[i];
            if (item.Dimension != _dimension && !(item.Dimension == 0 && item.Values.IsEmpty))
            {
                ThrowHelper.ThrowArgument($"{paramName}[{i}] has token dimension {item.Dimension}, but the encoder's dimension is {_dimension}.", paramName);
            }

            CheckScratch(item.Span.Length / _dimension, $"{paramName}[{i}]", paramName);
            if (HasOutOfRange(item.Span))
            {
                ThrowHelper.ThrowTokenValue(paramName, $"{paramName}[{i}]", item.Span, _dimension);
            }
        }

        long length = (long)items.Count * _outputLength;
        if (length > Array.MaxLength)
        {
            ThrowHelper.ThrowArgument(
                $"{paramName} holds {items.Count} items × output dimension {_outputLength} = {length} floats, more than one array can hold " +
                $"({Array.MaxLength}); encode in smaller batches or use the span overload.", paramName);
        }

        float[] result = new float[length];
        SimdWidth width = SimdDispatch.Preferred;
        Parallel.For(0, items.Count, parallelOptions, i =>
            Encode(items[i].Span, result.AsSpan((int)((long)i * _outputLength), _outputLength), document, width));
        return result;
    }

    private void Encode<TLanes, TVec>(ReadOnlySpan<float> tokens, Span<float> destination, bool document, bool fill)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        Debug.Assert(tokens.Length % _dimension == 0 && destination.Length >= _outputLength);
        int n = tokens.Length / _dimension;
        int d = _dimension;
        int p = _blockDimension;
        int columns = FdeKernels.PadColumns(n);
        bool needsTransposed = _productRowCount > 0 || _projection == FdeProjection.Ams;

        float[]? transposedArray = null;
        float[]? productArray = null;
        float[]? projectedArray = null;
        float[]? preFinalArray = null;
        int[] idArray = ArrayPool<int>.Shared.Rent(Math.Max(columns, 1));
        int[] countArray = ArrayPool<int>.Shared.Rent(_partitions);
        int[] firstArray = ArrayPool<int>.Shared.Rent(Math.Max(Math.Min(n, _partitions), 1));
        try
        {
            Span<float> pre = _sketchIndices is null
                ? destination[.._preFinalLength]
                : (preFinalArray = ArrayPool<float>.Shared.Rent(_preFinalLength)).AsSpan(0, _preFinalLength);
            pre.Clear();

            if (n > 0)
            {
                Span<float> transposed = default;
                if (needsTransposed)
                {
                    transposedArray = ArrayPool<float>.Shared.Rent(d * columns);
                    transposed = transposedArray.AsSpan(0, d * columns);
                    FdeKernels.Transpose<TLanes, TVec>(tokens, n, d, transposed, columns);
                }

                Span<float> product = default;
                if (_productRowCount > 0)
                {
                    productArray = ArrayPool<float>.Shared.Rent(_productRowCount * columns);
                    product = productArray.AsSpan(0, _productRowCount * columns);
                    FdeKernels.MultiplyTransposed<TLanes, TVec>(_productRows, _productRowCount, d, transposed, columns, product);
                }

                // AMS: Yᵀ (d_proj × columns), then for every projection Y (columns × d_proj), in one rented buffer.
                Span<float> projected = default;
                Span<float> projectedRows = default;
                if (_projection != FdeProjection.Identity)
                {
                    projectedArray = ArrayPool<float>.Shared.Rent(2 * p * columns);
                    projected = projectedArray.AsSpan(0, p * columns);
                    projectedRows = projectedArray.AsSpan(p * columns, p * columns);
                }

                Span<int> ids = idArray.AsSpan(0, columns);
                Span<int> firstTokens = firstArray.AsSpan(0, Math.Min(n, _partitions));
                Span<int> counts = countArray.AsSpan(0, _partitions);
                int blockLength = _partitions * p;
                for (int r = 0; r < _repetitions; r++)
                {
                    if (_hashes > 0)
                    {
                        FdeKernels.GrayCodeIds<TLanes, TVec>(product.Slice(r * _hashes * columns, _hashes * columns), _hashes, columns, ids);
                    }
                    else
                    {
                        ids.Clear();
                    }

                    // The projected tokens as rows (n × d_proj); the identity reads the token rows directly.
                    ReadOnlySpan<float> rows = tokens;
                    if (_projection != FdeProjection.Identity)
                    {
                        ReadOnlySpan<float> yt;
                        if (_projection == FdeProjection.Ams)
                        {
                            _ams!.Project<TLanes, TVec>(r, transposed, columns, projected);
                            yt = projected;
                        }
                        else
                        {
                            yt = product.Slice(((_repetitions * _hashes) + (r * p)) * columns, p * columns);
                        }

                        FdeKernels.TransposeToRows<TLanes, TVec>(yt, p, columns, n, projectedRows);
                        rows = projectedRows;
                    }

                    Span<float> blocks = pre.Slice(r * blockLength, blockLength);
                    counts.Clear();
                    int hit = FdeKernels.AccumulateRows<TLanes, TVec>(rows, p, ids, n, blocks, counts, firstTokens);

                    if (document)
                    {
                        FinishDocumentBlocks<TLanes, TVec>(rows, ids, counts, firstTokens[..hit], blocks, fill);
                    }
                }
            }

            if (_sketchIndices is not null)
            {
                ApplyCountSketch(pre, destination[.._outputLength]);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(idArray);
            ArrayPool<int>.Shared.Return(countArray);
            ArrayPool<int>.Shared.Return(firstArray);
            ReturnIfRented(transposedArray);
            ReturnIfRented(productArray);
            ReturnIfRented(projectedArray);
            ReturnIfRented(preFinalArray);
        }
    }

    private static void ReturnIfRented(float[]? array)
    {
        if (array is not null)
        {
            ArrayPool<float>.Shared.Return(array);
        }
    }

    // Averages the non-empty blocks; fills the empty ones (documents with fill) with the projected token whose
    // SimHash bits (its id's Gray code) are nearest to the partition's bits, ties to the lowest token index.
    private void FinishDocumentBlocks<TLanes, TVec>(ReadOnlySpan<float> rows, ReadOnlySpan<int> ids,
        ReadOnlySpan<int> counts, ReadOnlySpan<int> firstTokens, Span<float> blocks, bool fill)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct
    {
        int p = _blockDimension;
        for (int b = 0; b < _partitions; b++)
        {
            Span<float> block = blocks.Slice(b * p, p);
            if (counts[b] > 0)
            {
                if (counts[b] > 1)
                {
                    FdeKernels.Divide<TLanes, TVec>(block, counts[b]);
                }
            }
            else if (fill)
            {
                // Tokens of one partition share its bits, so the first token of each partition hit (in increasing
                // token order, strict <) is the only candidate needed: the same token as a scan of all tokens.
                int target = b ^ (b >> 1);
                int best = 0;
                int bestDistance = int.MaxValue;
                foreach (int t in firstTokens)
                {
                    int distance = BitOperations.PopCount((uint)(ids[t] ^ (ids[t] >> 1) ^ target));
                    if (distance < bestDistance)
                    {
                        bestDistance = distance;
                        best = t;
                    }
                }

                rows.Slice(best * p, p).CopyTo(block);
            }
        }
    }

    // final[index[i]] += sign[i] · pre[i] in increasing i (the reference's order). Skipping exact zeros changes
    // nothing: the sum starts at +0 and x + (±0) = x for every x reached.
    private void ApplyCountSketch(ReadOnlySpan<float> pre, Span<float> destination)
    {
        destination.Clear();
        int[] indices = _sketchIndices!;
        float[] signs = _sketchSigns!;
        for (int i = 0; i < pre.Length; i++)
        {
            float value = pre[i];
            if (value != 0f)
            {
                destination[indices[i]] += signs[i] * value;
            }
        }
    }
}
