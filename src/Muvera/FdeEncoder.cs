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
/// the paper's dense ±1/√d_proj projection (<see cref="FdeProjection.Dense"/>) and Muvera's data-aware options: learned
/// k-means partitions (<see cref="FdePartitioning.KMeans"/>, from <see cref="Train(FdeOptions, IReadOnlyList{ReadOnlyMultiVector})"/>)
/// and normalized document averages (<see cref="FdeDocumentAggregation.NormalizedAverage"/>).</para>
/// <para>Every random matrix is drawn once, in the constructor, from Muvera's versioned PRNG
/// (<see cref="PrngVersion"/>): MT19937 with libstdc++'s distributions, so the AMS and Count Sketch matrices equal the
/// reference build's for the same seed and the Gaussians match it to within one ulp.</para>
/// <para>Thread safety: immutable; every method may be called concurrently. Determinism: an encoding depends only on
/// the options, the PRNG version, the learned partitions (if any) and the input token set. It is bit-identical across
/// SIMD widths, CPUs, batch splits and thread counts, and independent of token order up to float rounding of the
/// per-partition sums. Training is deterministic too (see <see cref="Train(FdeOptions, IReadOnlyList{ReadOnlyMultiVector}, ParallelOptions)"/>).</para>
/// <para>Allocation: the constructor allocates at most <see cref="FdeOptions.EncoderBytes"/> (bounded by the limits of
/// <see cref="FdeOptions.Validate"/>); the span overloads allocate nothing (scratch, about
/// <see cref="FdeOptions.ScratchFloatsPerToken"/> floats per token, is pooled). Cost per set of n tokens:
/// O(n·d·R·k) for SimHash or O(n·d·R·2^k) for learned partitions, O(n·d·R) for AMS (O(n·d·d_proj·R) dense),
/// O(R·2^k·d_proj) to clear the output, plus O(R·2^k·n) for document fill and O(R·n·d) for normalized averages.</para>
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
    private readonly bool _learned;
    private readonly bool _normalize;

    // Rows of the partition product per repetition: k SimHash hyperplanes, or 2^k centroids (none for one partition).
    private readonly int _partitionRows;

    // A of the one matrix product per encode: R·c partition rows (SimHash: row r·k + j = column j of G_r; learned:
    // row r·2^k + b = centroid b of repetition r), then for the dense projection R·d_proj rows
    // (row R·c + r·d_proj + j = column j of S_r); depth d.
    private readonly float[] _productRows;
    private readonly int _productRowCount;

    private readonly AmsTable? _ams;

    private readonly int[]? _sketchIndices;
    private readonly float[]? _sketchSigns;

    // Floats per padded token of the largest scratch buffer (transposed tokens, product rows, projected rows).
    private readonly int _largestScratchRow;

    /// <summary>Creates an encoder and draws its random matrices from <see cref="FdeOptions.Seed"/>.</summary>
    /// <param name="options">The encoding parameters; their partitions must need no training
    /// (<see cref="FdePartitioning.SimHash"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The options are inconsistent or exceed a size limit (see
    /// <see cref="FdeOptions.Validate"/>), or they ask for learned partitions, which come from
    /// <see cref="Train(FdeOptions, IReadOnlyList{ReadOnlyMultiVector})"/> or <see cref="FdeEncoder(FdeOptions, FdePartitions)"/>.</exception>
    public FdeEncoder(FdeOptions options)
        : this(ValidateUntrained(options), null, null)
    {
    }

    /// <summary>Creates an encoder with learned partitions (trained earlier, for example read back with
    /// <see cref="FdePartitions.Load"/>) and draws its random matrices from <see cref="FdeOptions.Seed"/>.</summary>
    /// <param name="options">The encoding parameters, with <see cref="FdePartitioning.KMeans"/>.</param>
    /// <param name="partitions">Centroids of the options' shape: <see cref="FdeOptions.Repetitions"/> × 2^k ×
    /// <see cref="FdeOptions.Dimension"/>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The options are invalid or not learned, or the partitions have another
    /// shape; the message names both shapes.</exception>
    public FdeEncoder(FdeOptions options, FdePartitions partitions)
        : this(ValidateTrained(options, partitions), null, partitions)
    {
    }

    /// <summary>Test seam: an encoder over given matrices (the golden fixtures'), or drawn ones when null.</summary>
    internal FdeEncoder(FdeOptions options, FdeMatrices? matrices)
        : this(ValidateUntrained(options), matrices, null)
    {
    }

    private FdeEncoder(FdeOptions options, FdeMatrices? matrices, FdePartitions? partitions)
    {
        Debug.Assert(options.RequiresTraining == partitions is not null);
        matrices ??= FdeMatrices.Generate(options);
        Options = options;
        Matrices = matrices;
        Partitions = partitions;
        Identity = new FdeEncoderIdentity(options, PrngVersion) { PartitionsChecksum = partitions?.Checksum };

        _dimension = options.Dimension;
        _repetitions = options.Repetitions;
        _hashes = options.SimHashProjections;
        _partitions = options.PartitionCount;
        _blockDimension = options.BlockDimension;
        _preFinalLength = (int)options.PreFinalDimension;
        _outputLength = options.OutputDimension;
        _projection = options.Projection;
        _fill = options.FillEmptyPartitions && _hashes > 0;
        _learned = partitions is not null;
        _normalize = options.DocumentAggregation == FdeDocumentAggregation.NormalizedAverage;
        _partitionRows = _learned ? (_partitions > 1 ? _partitions : 0) : _hashes;

        int d = _dimension;
        int p = _blockDimension;
        int hashRows = _repetitions * _partitionRows;
        _productRowCount = hashRows + (_projection == FdeProjection.Dense ? _repetitions * p : 0);
        _productRows = new float[_productRowCount * d];
        if (_learned && _partitionRows > 0)
        {
            // Centroid b of repetition r is already row r·2^k + b of the product.
            partitions!.Centroids.CopyTo(_productRows);
        }

        for (int r = 0; r < _repetitions && _hashes > 0 && !_learned; r++)
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

    /// <summary>What a stored index records to refuse a different encoder later: the options, <see cref="PrngVersion"/>
    /// and, for learned partitions, their <see cref="FdePartitions.Checksum"/>.</summary>
    public FdeEncoderIdentity Identity { get; }

    /// <summary>The learned partitions (<see cref="FdePartitioning.KMeans"/>), or null for SimHash.</summary>
    public FdePartitions? Partitions { get; }

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

    /// <summary>Creates an encoder for <paramref name="options"/>, training its partitions on the tokens of
    /// <paramref name="documents"/> when the options ask for learned ones, in parallel on all cores (see
    /// <see cref="Train(FdeOptions, IReadOnlyList{ReadOnlyMultiVector}, ParallelOptions)"/>).</summary>
    /// <param name="options">The encoding parameters.</param>
    /// <param name="documents">Document token vectors to learn from (a sample of the corpus; the encoder does not keep
    /// them). A flat array of tokens can be passed as one <see cref="ReadOnlyMultiVector"/>.</param>
    /// <returns>The encoder.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The options are invalid, a document has another dimension or a NaN, ∞ or
    /// too large value (<see cref="TokenValueLimit"/>), or learned partitions get no token at all.</exception>
    public static FdeEncoder Train(FdeOptions options, IReadOnlyList<ReadOnlyMultiVector> documents) =>
        Train(options, documents, s_defaultParallelOptions);

    /// <summary>Creates an encoder for <paramref name="options"/>, training its partitions on the tokens of
    /// <paramref name="documents"/> when the options ask for learned ones (<see cref="FdeOptions.RequiresTraining"/>);
    /// SimHash options need no training and give <c>new FdeEncoder(options)</c>.</summary>
    /// <param name="options">The encoding parameters.</param>
    /// <param name="documents">Document token vectors to learn from (a sample of the corpus; the encoder does not keep
    /// them). A flat array of tokens can be passed as one <see cref="ReadOnlyMultiVector"/>.</param>
    /// <param name="parallelOptions">The thread limit (repetitions train in parallel) and cancellation.</param>
    /// <returns>The encoder, with <see cref="Partitions"/> set for learned partitions.</returns>
    /// <remarks>
    /// <para>For each repetition, <see cref="FdeOptions.TrainingSample"/> tokens (all of them when there are fewer) are
    /// drawn uniformly without replacement from the documents' tokens, and spherical k-means
    /// (<see cref="FdeOptions.TrainingIterations"/> Lloyd iterations, uniform initialisation) learns 2^k unit centroids
    /// from them; the draws come from SplitMix64 streams of <see cref="FdeOptions.Seed"/> and the repetition. The library's
    /// one k-means serves this and the product quantizers of <see cref="Indexing.FdeStorage"/>.</para>
    /// <para>Minimum: one token. Quality needs a representative sample: the tokens of at least a few hundred documents
    /// spread over the corpus (the default 50,000 tokens are about 200 NFCorpus passages or 700 ColBERT passages).</para>
    /// <para>Determinism: the partitions depend only on the options and the tokens in document order, not on the thread
    /// count, the SIMD width or the platform. Cost: R · TrainingSample · 2^k · d multiply-adds per iteration (about 20 s
    /// on 2 cores for the recommended options at d = 384); memory: one sample of TrainingSample · d floats per repetition
    /// in flight.</para>
    /// </remarks>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The options are invalid, a document has another dimension or a NaN, ∞ or
    /// too large value (<see cref="TokenValueLimit"/>), or learned partitions get no token at all.</exception>
    /// <exception cref="OperationCanceledException">Cancelled through <paramref name="parallelOptions"/>.</exception>
    public static FdeEncoder Train(FdeOptions options, IReadOnlyList<ReadOnlyMultiVector> documents, ParallelOptions parallelOptions)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(parallelOptions);
        options.Validate();
        if (!options.RequiresTraining)
        {
            return new FdeEncoder(options);
        }

        for (int i = 0; i < documents.Count; i++)
        {
            ReadOnlyMultiVector document = documents[i];
            if (document.Dimension != options.Dimension && !(document.Dimension == 0 && document.Values.IsEmpty))
            {
                ThrowHelper.ThrowArgument(
                    $"{nameof(documents)}[{i}] has token dimension {document.Dimension}, but the options' dimension is {options.Dimension}.", nameof(documents));
            }

            if (HasOutOfRange(document.Span))
            {
                ThrowHelper.ThrowTokenValue(nameof(documents), $"{nameof(documents)}[{i}]", document.Span, options.Dimension);
            }
        }

        long tokens = FdePartitions.CountTokens(documents);
        if (tokens == 0)
        {
            ThrowHelper.ThrowArgument(
                $"{nameof(documents)} holds no token ({documents.Count} documents); learned partitions need at least one token to train on.",
                nameof(documents));
        }

        FdePartitions partitions = FdePartitions.Train(options, documents, tokens, parallelOptions);
        return new FdeEncoder(options, null, partitions);
    }

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
        if (_partitionRows == 0 || n == 0)
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
            ReadOnlySpan<float> rows = product.AsSpan(r * _partitionRows * columns, _partitionRows * columns);
            if (_learned)
            {
                FdeKernels.ArgMaxIds(width, rows, _partitionRows, columns, rowIds);
            }
            else
            {
                FdeKernels.GrayCodeIds<LanesScalar, float>(rows, _hashes, columns, rowIds);
            }

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

    private static FdeOptions ValidateUntrained(FdeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.RequiresTraining)
        {
            ThrowHelper.ThrowArgument(
                $"Partitioning is {options.Partitioning}: its partitions are learned from document tokens, so this encoder needs them. " +
                "Use FdeEncoder.Train(options, documents) to train them, or new FdeEncoder(options, partitions) with trained ones.",
                nameof(options));
        }

        return options;
    }

    private static FdeOptions ValidateTrained(FdeOptions options, FdePartitions partitions)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(partitions);
        options.Validate();
        if (!options.RequiresTraining)
        {
            ThrowHelper.ThrowArgument(
                $"Partitioning is {options.Partitioning}, which learns nothing; partitions apply to FdePartitioning.KMeans only.", nameof(partitions));
        }

        if (partitions.Repetitions != options.Repetitions || partitions.Count != options.PartitionCount || partitions.Dimension != options.Dimension)
        {
            ThrowHelper.ThrowArgument(
                $"The partitions hold {partitions.Repetitions} repetitions × {partitions.Count} centroids × dimension {partitions.Dimension}, but the " +
                $"options need {options.Repetitions} × 2^{options.SimHashProjections} = {options.PartitionCount} × {options.Dimension}.", nameof(partitions));
        }

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
        bool normalize = document && _normalize;

        float[]? transposedArray = null;
        float[]? productArray = null;
        float[]? projectedArray = null;
        float[]? preFinalArray = null;
        float[]? sumArray = null;
        double[]? normArray = null;
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

                // Normalized averages: every token's length once, and per repetition the raw token sums per partition
                // (2^k × d; the identity projection's blocks are those sums already).
                Span<double> norms = default;
                Span<float> sums = default;
                if (normalize)
                {
                    normArray = ArrayPool<double>.Shared.Rent(n + _partitions);
                    norms = normArray.AsSpan(0, n);
                    for (int t = 0; t < n; t++)
                    {
                        norms[t] = Norm(tokens.Slice(t * d, d));
                    }

                    if (_projection != FdeProjection.Identity)
                    {
                        sumArray = ArrayPool<float>.Shared.Rent((_partitions * d) + _partitions);
                        sums = sumArray.AsSpan(0, _partitions * d);
                    }
                }

                Span<int> ids = idArray.AsSpan(0, columns);
                Span<int> firstTokens = firstArray.AsSpan(0, Math.Min(n, _partitions));
                Span<int> counts = countArray.AsSpan(0, _partitions);
                int blockLength = _partitions * p;
                for (int r = 0; r < _repetitions; r++)
                {
                    ReadOnlySpan<float> scores = default;
                    if (_partitionRows > 0)
                    {
                        scores = product.Slice(r * _partitionRows * columns, _partitionRows * columns);
                        if (_learned)
                        {
                            FdeKernels.ArgMaxIds<TLanes, TVec>(scores, _partitionRows, columns, ids);
                        }
                        else
                        {
                            FdeKernels.GrayCodeIds<TLanes, TVec>(scores, _hashes, columns, ids);
                        }
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
                            yt = product.Slice(((_repetitions * _partitionRows) + (r * p)) * columns, p * columns);
                        }

                        FdeKernels.TransposeToRows<TLanes, TVec>(yt, p, columns, n, projectedRows);
                        rows = projectedRows;
                    }

                    Span<float> blocks = pre.Slice(r * blockLength, blockLength);
                    counts.Clear();
                    int hit = FdeKernels.AccumulateRows<TLanes, TVec>(rows, p, ids, n, blocks, counts, firstTokens);

                    if (document)
                    {
                        Span<double> scales = default;
                        if (normalize)
                        {
                            scales = normArray.AsSpan(n, _partitions);
                            ReadOnlySpan<float> tokenSums = blocks;
                            if (!sums.IsEmpty)
                            {
                                // The same ids list the same first tokens again, so firstTokens is rewritten unchanged.
                                sums.Clear();
                                Span<int> scratchCounts = System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(sumArray.AsSpan(_partitions * d, _partitions));
                                scratchCounts.Clear();
                                FdeKernels.AccumulateRows<TLanes, TVec>(tokens, d, ids, n, sums, scratchCounts, firstTokens);
                                tokenSums = sums;
                            }

                            ComputeScales(tokenSums, ids[..n], norms, counts, scales);
                        }

                        FinishDocumentBlocks<TLanes, TVec>(rows, ids, counts, firstTokens[..hit], blocks, fill, scores, columns, n, scales);
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
            ReturnIfRented(sumArray);
            if (normArray is not null)
            {
                ArrayPool<double>.Shared.Return(normArray);
            }
        }
    }

    private static void ReturnIfRented(float[]? array)
    {
        if (array is not null)
        {
            ArrayPool<float>.Shared.Return(array);
        }
    }

    // √(Σ x_j²) in double, coordinates in order: the same value whatever the SIMD width.
    private static double Norm(ReadOnlySpan<float> vector)
    {
        double sum = 0;
        foreach (float x in vector)
        {
            sum += (double)x * x;
        }

        return Math.Sqrt(sum);
    }

    // Normalized averages: the factor of each partition of several tokens, Σ‖x_t‖ / (n_b · ‖Σ x_t‖), so that the averaged
    // block becomes the average's direction at the tokens' mean length; NaN where the plain average stays (one token, or
    // tokens that cancel out). Lengths are summed in token order, in double.
    private void ComputeScales(ReadOnlySpan<float> tokenSums, ReadOnlySpan<int> ids, ReadOnlySpan<double> norms,
        ReadOnlySpan<int> counts, Span<double> scales)
    {
        int d = _dimension;
        scales.Clear();
        for (int t = 0; t < ids.Length; t++)
        {
            scales[ids[t]] += norms[t];
        }

        for (int b = 0; b < _partitions; b++)
        {
            double length = counts[b] > 1 ? Norm(tokenSums.Slice(b * d, d)) : 0;
            scales[b] = length > 0 ? scales[b] / (counts[b] * length) : double.NaN;
        }
    }

    // Averages the non-empty blocks (or scales them, for normalized averages); fills the empty ones (documents with
    // fill) with one projected token: for SimHash the token whose bits (its id's Gray code) are nearest to the
    // partition's bits, for learned partitions the token with the largest inner product with the partition's centroid;
    // ties to the lowest token index.
    private void FinishDocumentBlocks<TLanes, TVec>(ReadOnlySpan<float> rows, ReadOnlySpan<int> ids,
        ReadOnlySpan<int> counts, ReadOnlySpan<int> firstTokens, Span<float> blocks, bool fill, ReadOnlySpan<float> scores,
        int columns, int n, ReadOnlySpan<double> scales)
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
                    if (!scales.IsEmpty && !double.IsNaN(scales[b]))
                    {
                        FdeKernels.Scale<TLanes, TVec>(block, (float)scales[b]);
                    }
                    else
                    {
                        FdeKernels.Divide<TLanes, TVec>(block, counts[b]);
                    }
                }
            }
            else if (fill)
            {
                int best = _learned ? NearestToken(scores.Slice(b * columns, n)) : NearestInHamming(ids, firstTokens, b);
                rows.Slice(best * p, p).CopyTo(block);
            }
        }
    }

    // The token with the largest inner product with one centroid (its row of the partition product), ties to the
    // lowest index (strict >).
    private static int NearestToken(ReadOnlySpan<float> centroidScores)
    {
        int best = 0;
        float bestScore = centroidScores[0];
        for (int t = 1; t < centroidScores.Length; t++)
        {
            if (centroidScores[t] > bestScore)
            {
                bestScore = centroidScores[t];
                best = t;
            }
        }

        return best;
    }

    // Tokens of one partition share its bits, so the first token of each partition hit (in increasing token order,
    // strict <) is the only candidate needed: the same token as a scan of all tokens.
    private static int NearestInHamming(ReadOnlySpan<int> ids, ReadOnlySpan<int> firstTokens, int partition)
    {
        int target = partition ^ (partition >> 1);
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

        return best;
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
