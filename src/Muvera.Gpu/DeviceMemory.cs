// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Muvera.Gpu;

/// <summary>
/// Every device allocation of one scorer goes through here: it is checked against the memory still available before
/// it is made (so an oversized upload is refused with a message, never half done), and the bytes held are counted.
/// </summary>
/// <remarks>Available = min(<see cref="Limit"/> − <see cref="Allocated"/>, free device memory as the CUDA driver reports
/// it). <see cref="Limit"/> starts as the device's total memory; tests lower it to exercise the refusal. Plain device
/// memory only: no managed (unified) or page-locked host memory. Not thread-safe; the scorer serialises calls.</remarks>
internal sealed class DeviceMemory
{
    private readonly Accelerator _accelerator;

    public DeviceMemory(Accelerator accelerator, long limit)
    {
        _accelerator = accelerator;
        Limit = limit;
    }

    /// <summary>Bytes this scorer may hold on the device at most.</summary>
    public long Limit { get; set; }

    /// <summary>Bytes currently held.</summary>
    public long Allocated { get; private set; }

    /// <summary>Bytes that may be allocated now.</summary>
    public long Available
    {
        get
        {
            long available = Math.Max(0, Limit - Allocated);
            if (_accelerator is CudaAccelerator cuda)
            {
                available = Math.Min(available, cuda.GetFreeMemory());
            }

            return available;
        }
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> unless <paramref name="bytes"/> more bytes (plus
    /// <paramref name="releasing"/> bytes that the caller frees first) fit.</summary>
    public void EnsureAvailable(long bytes, long releasing, string purpose)
    {
        long available = Available + releasing;
        if (bytes > available)
        {
            throw new InvalidOperationException(
                $"Not enough GPU memory: {purpose} needs {bytes} bytes on {_accelerator.Name}, but only {available} bytes are available " +
                $"(this scorer holds {Allocated} bytes; limit {Limit} bytes). Release stores that are no longer searched, use a " +
                "Float16 store, or score on the CPU.");
        }
    }

    /// <summary>Allocates <paramref name="length"/> elements (at least one) after checking that they fit.</summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Allocate<T>(long length, string purpose)
        where T : unmanaged
    {
        length = Math.Max(1, length);
        EnsureAvailable(length * Unsafe.SizeOf<T>(), 0, purpose);
        MemoryBuffer1D<T, Stride1D.Dense> buffer = _accelerator.Allocate1D<T>(length);
        Allocated += buffer.LengthInBytes;
        return buffer;
    }

    /// <summary>Frees a buffer from <see cref="Allocate{T}"/> (null is ignored) and clears the reference.</summary>
    public void Free<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer)
        where T : unmanaged
    {
        if (buffer is not null)
        {
            Allocated -= buffer.LengthInBytes;
            buffer.Dispose();
            buffer = null;
        }
    }

    /// <summary>A buffer of at least <paramref name="length"/> elements: <paramref name="buffer"/> itself when it is
    /// long enough, else a new one (growth by half again, so repeated small increases stay amortised).</summary>
    public ArrayView<T> Ensure<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer, long length, string purpose)
        where T : unmanaged
    {
        if (buffer is null || buffer.Length < length)
        {
            long old = buffer?.Length ?? 0;
            long grown = Math.Max(length, old + (old / 2));
            long releasing = buffer?.LengthInBytes ?? 0;
            EnsureAvailable(Math.Max(1, length) * Unsafe.SizeOf<T>(), releasing, purpose);
            Free(ref buffer);
            if ((grown - length) * Unsafe.SizeOf<T>() > Available - (Math.Max(1, length) * Unsafe.SizeOf<T>()))
            {
                grown = length;
            }

            buffer = Allocate<T>(grown, purpose);
        }

        return buffer.View.AsContiguous();
    }
}
