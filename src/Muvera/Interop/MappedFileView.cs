// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Buffers;
using System.Diagnostics;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.Threading;

namespace Muvera.Interop;

/// <summary>
/// A whole file mapped read-only into the address space, with spans and <see cref="ReadOnlyMemory{T}"/> views over
/// it. The mapping's pages are shared with the OS page cache: nothing is copied onto the managed heap.
/// </summary>
/// <remarks>
/// A span or memory handed out before <see cref="Dispose"/> must not be used after it (the pages are unmapped);
/// memory created by <see cref="FloatMemory"/> throws <see cref="ObjectDisposedException"/> when asked for a span
/// after disposal. <see cref="Dispose"/> is idempotent and never throws.
/// </remarks>
internal sealed unsafe class MappedFileView : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _accessor;
    private byte* _pointer;
    private int _disposed;

    private MappedFileView(MemoryMappedFile file, MemoryMappedViewAccessor accessor, long length, string path)
    {
        Path = path;
        _file = file;
        _accessor = accessor;
        Length = length;
        byte* pointer = null;
        accessor.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _pointer = pointer + accessor.PointerOffset;
    }

    /// <summary>The file's length in bytes.</summary>
    public long Length { get; }

    /// <summary>The mapped file's path (for messages).</summary>
    public string Path { get; }

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Maps <paramref name="path"/> read-only, or returns <see langword="null"/> with its length when it is
    /// shorter than <paramref name="minimumLength"/> (an empty file cannot be mapped).</summary>
    public static MappedFileView? Open(string path, long minimumLength, out long length)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        MemoryMappedFile? file = null;
        try
        {
            length = stream.Length;
            if (length < minimumLength || length == 0)
            {
                stream.Dispose();
                return null;
            }

            file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            MemoryMappedViewAccessor accessor = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedFileView(file, accessor, length, path);
        }
        catch
        {
            file?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary><paramref name="length"/> bytes from <paramref name="offset"/>.</summary>
    public ReadOnlySpan<byte> Bytes(long offset, int length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Debug.Assert(offset >= 0 && length >= 0 && offset + length <= Length);
        return new ReadOnlySpan<byte>(_pointer + offset, length);
    }

    /// <summary><paramref name="count"/> elements of <typeparamref name="T"/> from byte <paramref name="byteOffset"/>.</summary>
    public ReadOnlySpan<T> Elements<T>(long byteOffset, int count)
        where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Debug.Assert(byteOffset >= 0 && count >= 0 && byteOffset + ((long)count * sizeof(T)) <= Length);
        Debug.Assert(byteOffset % sizeof(T) == 0);
        return new ReadOnlySpan<T>(_pointer + byteOffset, count);
    }

    /// <summary><paramref name="count"/> floats from byte <paramref name="byteOffset"/> as memory (allocates one small
    /// manager object).</summary>
    public ReadOnlyMemory<float> FloatMemory(long byteOffset, int count)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Debug.Assert(byteOffset >= 0 && count >= 0 && byteOffset + ((long)count * sizeof(float)) <= Length);
        return count == 0 ? ReadOnlyMemory<float>.Empty : new FloatManager(this, (float*)(_pointer + byteOffset), count).Memory;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _pointer = null;
            _accessor.SafeMemoryMappedViewHandle.ReleasePointer();
            _accessor.Dispose();
            _file.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            // Dispose never throws; unmapping failures leave nothing the caller could act on.
        }
    }

    // A MemoryManager over a slice of the mapping, so a mapped document can be a ReadOnlyMultiVector.
    private sealed class FloatManager : MemoryManager<float>
    {
        private readonly MappedFileView _owner;
        private readonly float* _start;
        private readonly int _count;

        public FloatManager(MappedFileView owner, float* start, int count)
        {
            _owner = owner;
            _start = start;
            _count = count;
        }

        public override Span<float> GetSpan()
        {
            ObjectDisposedException.ThrowIf(_owner.IsDisposed, _owner);
            return new Span<float>(_start, _count);
        }

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            ObjectDisposedException.ThrowIf(_owner.IsDisposed, _owner);
            return new MemoryHandle(_start + elementIndex);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
