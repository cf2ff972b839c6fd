// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Muvera.Faiss.Interop;

/// <summary>
/// A byte buffer in native memory, which may be longer than a span can address: either allocated here (to read a
/// FAISS payload from a file) or owned by the shim (a serialized index). Seen through chunks of at most
/// <see cref="int.MaxValue"/> bytes.
/// </summary>
internal sealed unsafe class NativeBytes : IDisposable
{
    private readonly nint _shimBuffer;
    private byte* _data;

    private NativeBytes(byte* data, long length, nint shimBuffer)
    {
        _data = data;
        Length = length;
        _shimBuffer = shimBuffer;
    }

    /// <summary>The length in bytes.</summary>
    public long Length { get; }

    /// <summary>The first byte, for passing to the shim.</summary>
    public nint Pointer => (nint)_data;

    /// <summary>Allocates <paramref name="length"/> uninitialised bytes (throws <see cref="OutOfMemoryException"/>
    /// when the allocation fails).</summary>
    public static NativeBytes Allocate(long length)
    {
        Debug.Assert(length > 0);
        return new NativeBytes((byte*)NativeMemory.Alloc((nuint)length), length, shimBuffer: 0);
    }

    /// <summary>Serializes an index with the shim (the buffer is the shim's until disposed).</summary>
    public static NativeBytes Serialize(FaissIndexHandle index)
    {
        NativeMethods.Check(NativeMethods.Serialize(index, out nint buffer, out nint data, out long size), "serialize the index");
        return new NativeBytes((byte*)data, size, buffer);
    }

    /// <summary>Bytes <c>[offset, offset + length)</c>.</summary>
    public Span<byte> Slice(long offset, int length)
    {
        Debug.Assert(_data != null && offset >= 0 && length >= 0 && offset + length <= Length);
        return new Span<byte>(_data + offset, length);
    }

    /// <summary>Frees the bytes; idempotent.</summary>
    public void Dispose()
    {
        if (_data == null)
        {
            return;
        }

        if (_shimBuffer != 0)
        {
            NativeMethods.FreeBuffer(_shimBuffer);
        }
        else
        {
            NativeMemory.Free(_data);
        }

        _data = null;
    }
}
