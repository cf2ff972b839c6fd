// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Runtime.InteropServices;

namespace Muvera.USearch.Interop;

/// <summary>
/// Owns one native <c>usearch_index_t</c> and, for an index that views a mapped file, that mapping: releasing the
/// handle frees the index first and unmaps the file after, so the native index never outlives the bytes it reads.
/// </summary>
/// <remarks>The P/Invoke marshaller adds a reference for the duration of every call, so a concurrent
/// <see cref="SafeHandle.Dispose()"/> defers the release until running calls return.</remarks>
internal sealed unsafe class USearchIndexHandle : SafeHandle
{
    private MappedFile? _view;

    /// <summary>Takes ownership of <paramref name="index"/> (from <c>usearch_init</c>).</summary>
    public USearchIndexHandle(nint index)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(index);
    }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Hands the mapping the index views to this handle, which unmaps it after freeing the index.</summary>
    public void AttachView(MappedFile view) => _view = view;

    /// <inheritdoc/>
    protected override bool ReleaseHandle()
    {
        nint error = 0;
        NativeMethods.usearch_free(handle, &error);
        _view?.Dispose();
        _view = null;
        return error == 0;
    }
}
