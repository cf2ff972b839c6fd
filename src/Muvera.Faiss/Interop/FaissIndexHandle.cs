// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Runtime.InteropServices;

namespace Muvera.Faiss.Interop;

/// <summary>Owns a <c>muvera_faiss_index*</c>; the native index is freed when the handle is released. Calls that
/// take the handle add a reference for their duration, so disposing during a call frees only after it returns.</summary>
internal sealed class FaissIndexHandle : SafeHandle
{
    /// <summary>An invalid handle, filled in by the marshaller.</summary>
    public FaissIndexHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == nint.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle()
    {
        NativeMethods.Free(handle);
        return true;
    }
}
