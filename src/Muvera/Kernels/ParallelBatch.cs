// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Threading;
using System.Threading.Tasks;

namespace Muvera.Kernels;

/// <summary>Encodes item <paramref name="index"/> of a batch: its token rows into its output slice.</summary>
internal delegate void BatchItemAction(int index, ReadOnlySpan<float> tokens, Span<float> destination);

/// <summary>Runs a per-item action over a ragged batch in parallel (spans pinned for the workers).</summary>
internal static unsafe class ParallelBatch
{
    /// <summary>Items per work unit: small enough to balance ragged lengths, large enough to amortise scheduling.</summary>
    private const int ItemsPerChunk = 8;

    /// <summary>
    /// Calls <paramref name="action"/> for item i with <c>tokens[offsets[i]..offsets[i+1]]</c> and
    /// <c>destination[i·stride..(i+1)·stride]</c>. Items are independent, so the result never depends on scheduling.
    /// </summary>
    public static void Run(ReadOnlySpan<float> tokens, long[] offsets, Span<float> destination, int stride,
        ParallelOptions options, BatchItemAction action)
    {
        int items = offsets.Length - 1;
        if (items <= 0)
        {
            return;
        }

        fixed (float* tokenPointer = tokens)
        fixed (float* destinationPointer = destination)
        {
            nint source = (nint)tokenPointer;
            nint target = (nint)destinationPointer;
            int chunks = (items + ItemsPerChunk - 1) / ItemsPerChunk;
            CancellationToken cancellationToken = options.CancellationToken;
            Parallel.For(0, chunks, options, chunk =>
            {
                int end = Math.Min(items, (chunk + 1) * ItemsPerChunk);
                for (int i = chunk * ItemsPerChunk; i < end; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var itemTokens = new ReadOnlySpan<float>((float*)source + offsets[i], (int)(offsets[i + 1] - offsets[i]));
                    var itemOutput = new Span<float>((float*)target + ((long)i * stride), stride);
                    action(i, itemTokens, itemOutput);
                }
            });
        }
    }
}
