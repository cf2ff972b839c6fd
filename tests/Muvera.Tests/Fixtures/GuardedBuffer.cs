// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Runtime.InteropServices;

namespace Muvera.Tests.Fixtures;

/// <summary>
/// A float buffer that ends exactly where an inaccessible page begins (Linux: mmap + mprotect), so a kernel that
/// reads or writes one element past its span crashes the test run instead of passing by luck. Elsewhere it falls
/// back to a plain array.
/// </summary>
internal sealed unsafe partial class GuardedBuffer : IDisposable
{
    private const int ProtNone = 0;
    private const int ProtReadWrite = 3;
    private const int MapPrivateAnonymous = 0x02 | 0x20;

    private readonly nint _mapping;
    private readonly nuint _mappingLength;
    private readonly float* _data;
    private readonly float[]? _fallback;

    public GuardedBuffer(int length)
    {
        Length = length;
        if (!OperatingSystem.IsLinux())
        {
            _fallback = new float[length];
            return;
        }

        nuint page = (nuint)Environment.SystemPageSize;
        nuint dataBytes = (nuint)length * sizeof(float);
        nuint dataPages = (dataBytes + page - 1) / page;
        _mappingLength = (dataPages + 1) * page;
        _mapping = NativeMethods.Mmap(0, _mappingLength, ProtReadWrite, MapPrivateAnonymous, -1, 0);
        if (_mapping == -1)
        {
            throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        }

        nint guard = _mapping + (nint)(dataPages * page);
        if (NativeMethods.Mprotect(guard, page, ProtNone) != 0)
        {
            throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}");
        }

        _data = (float*)(guard - (nint)dataBytes);
    }

    public int Length { get; }

    public Span<float> Span => _fallback is not null ? _fallback : new Span<float>(_data, Length);

    public static GuardedBuffer From(ReadOnlySpan<float> values)
    {
        var buffer = new GuardedBuffer(values.Length);
        values.CopyTo(buffer.Span);
        return buffer;
    }

    public void Dispose()
    {
        if (_mapping != 0)
        {
            _ = NativeMethods.Munmap(_mapping, _mappingLength);
        }
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
        public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

        [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
        public static partial int Mprotect(nint address, nuint length, int protection);

        [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
        public static partial int Munmap(nint address, nuint length);
    }
}
