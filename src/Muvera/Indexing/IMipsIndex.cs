// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading.Tasks;

namespace Muvera.Indexing;

/// <summary>
/// A maximum inner product search (MIPS) index over fixed-length vectors, such as MUVERA FDEs: vectors get dense
/// ordinals 0, 1, 2, … in the order they are added, and a search returns the ordinals with the highest inner product
/// with the query.
/// </summary>
/// <remarks>
/// <para>Results are <see cref="ScoredId"/> values whose score is the inner product (higher is better), sorted by
/// <see cref="ScoredId.CompareTo(ScoredId)"/>: highest score first, ties to the lower id. Exact backends
/// (<see cref="IsExact"/>) return exactly the brute-force top k; approximate ones return their best effort, and may
/// find fewer than k vectors.</para>
/// <para>Threading: any number of searches may run at once; <see cref="Add(ReadOnlySpan{float})"/>,
/// <see cref="Save(string)"/> and <see cref="IDisposable.Dispose"/> need exclusive access (no search running).</para>
/// <para>Input rules, the same for every backend: a vector's length is <see cref="Dimension"/>; batches are row-major
/// with a length that is a multiple of it; every value is finite (NaN and ±∞ are refused with an
/// <see cref="ArgumentException"/> that names the row and coordinate); k is positive.</para>
/// <para>Each backend has a static <c>Load(string path)</c> that reads what <see cref="Save(string)"/> wrote.</para>
/// </remarks>
public interface IMipsIndex : IDisposable
{
    /// <summary>The length of every vector.</summary>
    int Dimension { get; }

    /// <summary>How many vectors the index holds; their ids are 0..Count−1.</summary>
    int Count { get; }

    /// <summary>Whether searches return the exact top k (otherwise they are approximate).</summary>
    bool IsExact { get; }

    /// <summary>Appends vectors; the first one gets id <see cref="Count"/>, the next Count + 1, and so on.</summary>
    /// <param name="vectors">Row-major vectors, a multiple of <see cref="Dimension"/> long (empty adds nothing).</param>
    /// <returns>The id of the first added vector (the old <see cref="Count"/>).</returns>
    /// <exception cref="ArgumentException">The length is not a multiple of the dimension, or a value is not finite;
    /// nothing is added then.</exception>
    int Add(ReadOnlySpan<float> vectors);

    /// <summary>The (at most) <paramref name="k"/> vectors with the highest inner product with the query.</summary>
    /// <param name="query">A vector of <see cref="Dimension"/> finite values.</param>
    /// <param name="k">How many results at most (positive).</param>
    /// <param name="results">Receives the results, best first; at least min(k, Count) long.</param>
    /// <returns>How many results were written: min(k, Count) for an exact index, possibly fewer for an approximate one.</returns>
    /// <exception cref="ArgumentException">A wrong query length, a non-finite value, or <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    int Search(ReadOnlySpan<float> query, int k, Span<ScoredId> results);

    /// <summary>Searches a batch of queries, in parallel where the backend can.</summary>
    /// <param name="queries">Row-major queries, a multiple of <see cref="Dimension"/> long.</param>
    /// <param name="k">How many results per query (positive).</param>
    /// <param name="results">Receives query i's results in <c>results[(i·k)..((i + 1)·k)]</c>, best first; slots past
    /// the results found are set to <see cref="ScoredId.None"/>. At least (queries / Dimension)·k long.</param>
    /// <exception cref="ArgumentException">A wrong length, a non-finite value, or <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results);

    /// <summary>Searches a batch of queries with a thread limit and cancellation.</summary>
    /// <param name="queries">Row-major queries, a multiple of <see cref="Dimension"/> long.</param>
    /// <param name="k">How many results per query (positive).</param>
    /// <param name="results">As in <see cref="SearchBatch(ReadOnlySpan{float}, int, Span{ScoredId})"/>.</param>
    /// <param name="parallelOptions">The thread limit (<see cref="ParallelOptions.MaxDegreeOfParallelism"/>) and the
    /// cancellation token.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parallelOptions"/> is null.</exception>
    /// <exception cref="ArgumentException">A wrong length, a non-finite value, or <paramref name="results"/> too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not positive.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; the results are then incomplete.</exception>
    void SearchBatch(ReadOnlySpan<float> queries, int k, Span<ScoredId> results, ParallelOptions parallelOptions);

    /// <summary>Writes the index to a file, atomically: a crash leaves either the old file or the new one at
    /// <paramref name="path"/>, never a torn one.</summary>
    /// <param name="path">The file to write (replaced if it exists).</param>
    void Save(string path);
}
