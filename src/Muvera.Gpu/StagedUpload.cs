// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using ILGPU;
using ILGPU.Runtime;

namespace Muvera.Gpu;

/// <summary>
/// Copies many small host spans (one per document) to consecutive device memory through one pooled host buffer, so
/// the device sees a few large copies instead of one transfer per document.
/// </summary>
internal sealed class StagedUpload<T> : IDisposable
    where T : unmanaged
{
    private const int MaxStagingElements = 1 << 20;

    private readonly ArrayView<T> _destination;
    private T[]? _staging;
    private int _filled;
    private long _position;

    /// <param name="destination">Where the values go, from its first element on.</param>
    /// <param name="total">How many values will be appended at most (sizes the staging buffer).</param>
    public StagedUpload(ArrayView<T> destination, long total)
    {
        _destination = destination;
        _staging = ArrayPool<T>.Shared.Rent((int)Math.Clamp(total, 1, MaxStagingElements));
        _filled = 0;
        _position = 0;
    }

    /// <summary>Appends values after the previous ones.</summary>
    public void Append(ReadOnlySpan<T> values)
    {
        T[] staging = _staging!;
        while (!values.IsEmpty)
        {
            int n = Math.Min(values.Length, staging.Length - _filled);
            values[..n].CopyTo(staging.AsSpan(_filled));
            _filled += n;
            values = values[n..];
            if (_filled == staging.Length)
            {
                Flush();
            }
        }
    }

    /// <summary>Appends one value.</summary>
    public void Append(T value)
    {
        T[] staging = _staging!;
        staging[_filled++] = value;
        if (_filled == staging.Length)
        {
            Flush();
        }
    }

    /// <summary>Sends what is staged to the device (a synchronous copy).</summary>
    public void Flush()
    {
        if (_filled > 0)
        {
            _destination.SubView(_position, _filled).CopyFromCPU(new ReadOnlySpan<T>(_staging, 0, _filled));
            _position += _filled;
            _filled = 0;
        }
    }

    /// <summary>Returns the staging buffer to the pool; what was not flushed is dropped (the caller flushes on
    /// success, and an exception must not be followed by a device copy).</summary>
    public void Dispose()
    {
        if (_staging is not null)
        {
            ArrayPool<T>.Shared.Return(_staging);
            _staging = null;
        }
    }
}
