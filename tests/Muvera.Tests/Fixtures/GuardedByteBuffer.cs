// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Runtime.InteropServices;

namespace Muvera.Tests.Fixtures;

/// <summary>A byte buffer that ends exactly where an inaccessible page begins (the last bytes of a
/// <see cref="GuardedBuffer"/>), so an over-read of a byte kernel crashes the test run.</summary>
internal sealed class GuardedByteBuffer : IDisposable
{
    private readonly GuardedBuffer _floats;
    private readonly int _length;

    public GuardedByteBuffer(ReadOnlySpan<byte> values)
    {
        _length = values.Length;
        _floats = new GuardedBuffer((values.Length + 3) / 4);
        values.CopyTo(Span);
    }

    public Span<byte> Span
    {
        get
        {
            Span<byte> all = MemoryMarshal.AsBytes(_floats.Span);
            return all[(all.Length - _length)..];
        }
    }

    public void Dispose() => _floats.Dispose();
}
