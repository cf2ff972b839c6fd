// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.Threading;

namespace Muvera.USearch.Interop;

/// <summary>
/// A whole file mapped into the address space (read-only for loading and viewing, read-write for saving), addressed
/// with 64-bit offsets so that indexes larger than 2 GB work. <see cref="Dispose"/> is idempotent and never throws.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _accessor;
    private byte* _pointer;
    private int _disposed;

    private MappedFile(MemoryMappedFile file, MemoryMappedViewAccessor accessor, long length)
    {
        _file = file;
        _accessor = accessor;
        Length = length;
        byte* pointer = null;
        accessor.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _pointer = pointer + accessor.PointerOffset;
    }

    /// <summary>The mapped length in bytes.</summary>
    public long Length { get; }

    /// <summary>Maps <paramref name="path"/> read-only, or returns <see langword="null"/> (with the file's length) when
    /// it is shorter than <paramref name="minimumLength"/>; an empty file cannot be mapped.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static MappedFile? OpenRead(string path, long minimumLength, out long length)
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
            return new MappedFile(file, accessor, length);
        }
        catch
        {
            file?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Sets <paramref name="stream"/>'s length to <paramref name="length"/> and maps it read-write (the
    /// stream stays open and owned by the caller).</summary>
    public static MappedFile CreateWritable(FileStream stream, long length)
    {
        Debug.Assert(length > 0);
        stream.SetLength(length);
        MemoryMappedFile file = MemoryMappedFile.CreateFromFile(stream, null, length, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
        try
        {
            MemoryMappedViewAccessor accessor = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.ReadWrite);
            return new MappedFile(file, accessor, length);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The address of byte <paramref name="offset"/> (valid until <see cref="Dispose"/>).</summary>
    public byte* Pointer(long offset)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Debug.Assert(offset >= 0 && offset <= Length);
        return _pointer + offset;
    }

    /// <summary><paramref name="length"/> bytes from <paramref name="offset"/>.</summary>
    public ReadOnlySpan<byte> Bytes(long offset, int length)
    {
        Debug.Assert(length >= 0 && offset + length <= Length);
        return new ReadOnlySpan<byte>(Pointer(offset), length);
    }

    /// <summary><paramref name="length"/> writable bytes from <paramref name="offset"/> (read-write mappings only).</summary>
    public Span<byte> WritableBytes(long offset, int length)
    {
        Debug.Assert(length >= 0 && offset + length <= Length);
        return new Span<byte>(Pointer(offset), length);
    }

    /// <summary>Writes the mapping's dirty pages back to the file.</summary>
    public void Flush() => _accessor.Flush();

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
            // Dispose never throws; an unmapping failure leaves nothing the caller could act on.
        }
    }
}
