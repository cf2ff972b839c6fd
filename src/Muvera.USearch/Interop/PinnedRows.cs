// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks;

namespace Muvera.USearch.Interop;

/// <summary>
/// Runs a body over the rows of a span in parallel: spans cannot be captured by the lambdas that
/// <see cref="Parallel.For(int, int, ParallelOptions, Action{int, ParallelLoopState})"/> takes, so the input and
/// output are pinned for the duration of the loop and each row is handed to the body as a span again.
/// </summary>
internal static unsafe class PinnedRows
{
    /// <summary>Processes row <paramref name="row"/>; returns <see langword="false"/> to stop the loop early.</summary>
    public delegate bool Body<TOutput>(int row, ReadOnlySpan<float> input, Span<TOutput> output)
        where TOutput : unmanaged;

    /// <summary>Calls <paramref name="body"/> for rows 0..<paramref name="rows"/>−1 with input row
    /// <c>input[(i·inputStride)..]</c> (<paramref name="inputStride"/> long) and output row
    /// <c>output[(i·outputStride)..]</c> (<paramref name="outputStride"/> long, 0 for none).</summary>
    /// <exception cref="OperationCanceledException">The options' token was cancelled.</exception>
    /// <remarks>An exception thrown by the body is rethrown as itself (the first one, when several threads fail), not
    /// wrapped in an <see cref="AggregateException"/>.</remarks>
    public static void For<TOutput>(ReadOnlySpan<float> input, int inputStride, Span<TOutput> output, int outputStride,
        int rows, ParallelOptions options, Body<TOutput> body)
        where TOutput : unmanaged
    {
        fixed (float* inputPointer = input)
        fixed (TOutput* outputPointer = output)
        {
            nint inputAddress = (nint)inputPointer;
            nint outputAddress = (nint)outputPointer;
            try
            {
                Parallel.For(0, rows, options, (row, state) =>
                {
                    var inputRow = new ReadOnlySpan<float>((float*)inputAddress + ((long)row * inputStride), inputStride);
                    var outputRow = new Span<TOutput>((TOutput*)outputAddress + ((long)row * outputStride), outputStride);
                    if (!body(row, inputRow, outputRow))
                    {
                        state.Stop();
                    }
                });
            }
            catch (AggregateException e)
            {
                // Callers document typed exceptions (a native failure, a disposed index), not the loop's wrapper.
                ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
                throw;
            }
        }
    }
}
