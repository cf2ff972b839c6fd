// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Muvera.USearch.Interop;

/// <summary>
/// A safe facade over one native inner-product USearch index: spans in, typed exceptions out. It checks no
/// arguments (its callers have); it maps every native error to a <see cref="USearchException"/>.
/// </summary>
internal sealed unsafe class NativeIndex : IDisposable
{
    private readonly USearchIndexHandle _handle;

    private NativeIndex(USearchIndexHandle handle)
    {
        _handle = handle;
    }

    /// <summary>Whether the native index has been freed.</summary>
    public bool IsClosed => _handle.IsClosed;

    /// <summary>The number of vectors present (removed ones excluded).</summary>
    public long Size
    {
        get
        {
            nint error = 0;
            nuint size = NativeMethods.usearch_size(_handle, &error);
            ThrowOnError(error, "usearch_size");
            return (long)size;
        }
    }

    /// <summary>The number of vectors the index can hold before it must grow.</summary>
    public long Capacity
    {
        get
        {
            nint error = 0;
            nuint capacity = NativeMethods.usearch_capacity(_handle, &error);
            ThrowOnError(error, "usearch_capacity");
            return (long)capacity;
        }
    }

    /// <summary>The vector length the native index was created with (or loaded).</summary>
    public long Dimensions
    {
        get
        {
            nint error = 0;
            nuint dimensions = NativeMethods.usearch_dimensions(_handle, &error);
            ThrowOnError(error, "usearch_dimensions");
            return (long)dimensions;
        }
    }

    /// <summary>The exact length of <see cref="Save"/>'s output.</summary>
    public long SerializedLength
    {
        get
        {
            nint error = 0;
            nuint length = NativeMethods.usearch_serialized_length(_handle, &error);
            ThrowOnError(error, "usearch_serialized_length");
            return (long)length;
        }
    }

    /// <summary>Creates an empty inner-product index.</summary>
    /// <param name="scalarKind">The native storage kind (<see cref="NativeMethods.ScalarFloat32"/> and so on).</param>
    /// <param name="dimension">The vector length.</param>
    /// <param name="connectivity">M, the graph degree of the upper levels (the base level gets 2·M).</param>
    /// <param name="expansionAdd">The beam width while inserting.</param>
    public static NativeIndex Create(int scalarKind, int dimension, int connectivity, int expansionAdd)
    {
        Debug.Assert(sizeof(NativeMethods.InitOptions) == 64, "usearch_init_options_t is 64 bytes on LP64");
        var options = new NativeMethods.InitOptions
        {
            MetricKind = NativeMethods.MetricInnerProduct,
            Quantization = scalarKind,
            Dimensions = (nuint)dimension,
            Connectivity = (nuint)connectivity,
            ExpansionAdd = (nuint)expansionAdd,

            // The search beam is max(this, count). Keeping this at 1 and asking for max(k, ef) results gives every call
            // its own ef without mutating shared native state (equal results, checked against a native ef of that value).
            ExpansionSearch = 1,
        };
        nint error = 0;
        nint index = NativeMethods.usearch_init(&options, &error);
        if (error != 0 || index == 0)
        {
            if (index != 0)
            {
                nint ignored = 0;
                NativeMethods.usearch_free(index, &ignored);
            }

            throw Failure("usearch_init", error);
        }

        return new NativeIndex(new USearchIndexHandle(index));
    }

    /// <summary>The native library's version ("2.26.6"); throws <see cref="DllNotFoundException"/> and the like when
    /// the library cannot be loaded.</summary>
    public static string Version() => Marshal.PtrToStringUTF8(NativeMethods.usearch_version()) ?? "";

    /// <summary>Grows the capacity to at least <paramref name="capacity"/> vectors and keeps at least
    /// <paramref name="threads"/> thread contexts (growing resets them to the hardware thread count).</summary>
    public void Reserve(long capacity, int threads)
    {
        nint error = 0;
        NativeMethods.usearch_reserve(_handle, (nuint)capacity, &error);
        ThrowOnError(error, "usearch_reserve");
        EnsureThreads(threads);
    }

    /// <summary>Makes sure that at least <paramref name="threads"/> insertions and searches can run at once.</summary>
    public void EnsureThreads(int threads)
    {
        nint error = 0;
        NativeMethods.usearch_change_threads_add(_handle, (nuint)threads, &error);
        ThrowOnError(error, "usearch_change_threads_add");
        NativeMethods.usearch_change_threads_search(_handle, (nuint)threads, &error);
        ThrowOnError(error, "usearch_change_threads_search");
    }

    /// <summary>Inserts one float vector under <paramref name="key"/>; returns the native error message, or
    /// <see langword="null"/> on success (no exception, so that parallel callers can stop cleanly).</summary>
    public string? TryAdd(ulong key, ReadOnlySpan<float> vector)
    {
        nint error = 0;
        fixed (float* values = vector)
        {
            NativeMethods.usearch_add(_handle, key, values, NativeMethods.ScalarFloat32, &error);
        }

        return error == 0 ? null : Message(error);
    }

    /// <summary>Removes <paramref name="key"/> if present (its slot is reused by a later insertion).</summary>
    public void Remove(ulong key)
    {
        nint error = 0;
        NativeMethods.usearch_remove(_handle, key, &error);
        ThrowOnError(error, "usearch_remove");
    }

    /// <summary>The approximate nearest neighbours by inner product: up to <c>keys.Length</c> results, by ascending
    /// distance 1 − ⟨query, x⟩; the beam is at least <c>keys.Length</c> wide.</summary>
    /// <returns>How many results were written.</returns>
    public int Search(ReadOnlySpan<float> query, Span<ulong> keys, Span<float> distances)
    {
        Debug.Assert(keys.Length == distances.Length);
        nint error = 0;
        nuint found;
        fixed (float* values = query)
        fixed (ulong* keyPointer = keys)
        fixed (float* distancePointer = distances)
        {
            found = NativeMethods.usearch_search(_handle, values, NativeMethods.ScalarFloat32, (nuint)keys.Length, keyPointer, distancePointer, &error);
        }

        ThrowOnError(error, "usearch_search");
        Debug.Assert(found <= (nuint)keys.Length);
        return (int)found;
    }

    /// <summary>Copies the stored vector of <paramref name="key"/>, converted to floats, into
    /// <paramref name="destination"/>.</summary>
    public void CopyVector(ulong key, Span<float> destination)
    {
        nint error = 0;
        nuint found;
        fixed (float* values = destination)
        {
            found = NativeMethods.usearch_get(_handle, key, 1, values, NativeMethods.ScalarFloat32, &error);
        }

        ThrowOnError(error, "usearch_get");
        if (found != 1)
        {
            throw new USearchException($"USearch holds no vector under key {key}, which the index counts as present.", nativeMessage: null);
        }
    }

    /// <summary>Serializes the index into <paramref name="length"/> bytes of <paramref name="file"/> from
    /// <paramref name="offset"/> (<paramref name="length"/> is <see cref="SerializedLength"/>).</summary>
    public void Save(MappedFile file, long offset, long length)
    {
        nint error = 0;
        NativeMethods.usearch_save_buffer(_handle, file.Pointer(offset), (nuint)length, &error);
        ThrowOnError(error, "usearch_save_buffer");
    }

    /// <summary>Replaces the index's contents with a copy of the serialized index in <paramref name="file"/>.</summary>
    public void Load(MappedFile file, long offset, long length)
    {
        nint error = 0;
        NativeMethods.usearch_load_buffer(_handle, file.Pointer(offset), (nuint)length, &error);
        ThrowOnError(error, "usearch_load_buffer");
    }

    /// <summary>Serves the index from the serialized bytes in <paramref name="file"/> without copying them; on
    /// success the index owns the mapping and unmaps it when freed.</summary>
    public void View(MappedFile file, long offset, long length)
    {
        nint error = 0;
        NativeMethods.usearch_view_buffer(_handle, file.Pointer(offset), (nuint)length, &error);
        ThrowOnError(error, "usearch_view_buffer");
        _handle.AttachView(file);
    }

    /// <summary>Searches among the keys <paramref name="filter"/> allows (USearch calls back for every candidate).</summary>
    public int FilteredSearch(ReadOnlySpan<float> query, Span<ulong> keys, Span<float> distances, Muvera.Indexing.MipsFilter filter)
    {
        Debug.Assert(keys.Length == distances.Length);
        nint error = 0;
        nuint found;
        GCHandle state = GCHandle.Alloc(filter);
        try
        {
            fixed (float* values = query)
            fixed (ulong* keyPointer = keys)
            fixed (float* distancePointer = distances)
            {
                found = NativeMethods.usearch_filtered_search(_handle, values, NativeMethods.ScalarFloat32, (nuint)keys.Length,
                    &AllowKey, (void*)GCHandle.ToIntPtr(state), keyPointer, distancePointer, &error);
            }
        }
        finally
        {
            state.Free();
        }

        ThrowOnError(error, "usearch_filtered_search");
        Debug.Assert(found <= (nuint)keys.Length);
        return (int)found;
    }

    // USearch's filter callback: non-zero keeps the key. It never throws (an exception cannot cross the native frames).
    [UnmanagedCallersOnly]
    private static int AllowKey(ulong key, void* state)
    {
        var filter = (Muvera.Indexing.MipsFilter?)GCHandle.FromIntPtr((nint)state).Target;
        return key <= int.MaxValue && filter is not null && filter.Allows((int)key) ? 1 : 0;
    }

    /// <summary>Brute-force inner-product search of <paramref name="queryCount"/> float queries against
    /// <paramref name="rows"/> float rows: for each query the <paramref name="count"/> smallest distances, by ascending
    /// distance, into <c>keys</c>/<c>distances</c> rows of <paramref name="count"/> (keys are row offsets).</summary>
    public static void ExactSearch(ReadOnlySpan<float> dataset, int rows, ReadOnlySpan<float> queries, int queryCount,
        int dimension, int count, int threads, Span<ulong> keys, Span<float> distances)
    {
        Debug.Assert(dataset.Length >= (long)rows * dimension && queries.Length >= (long)queryCount * dimension);
        Debug.Assert(count <= rows && keys.Length >= (long)queryCount * count && distances.Length >= (long)queryCount * count);
        nint error = 0;
        nuint stride = (nuint)dimension * sizeof(float);
        fixed (float* data = dataset)
        fixed (float* query = queries)
        fixed (ulong* keyPointer = keys)
        fixed (float* distancePointer = distances)
        {
            NativeMethods.usearch_exact_search(
                data, (nuint)rows, stride,
                query, (nuint)queryCount, stride,
                NativeMethods.ScalarFloat32, (nuint)dimension, NativeMethods.MetricInnerProduct, (nuint)count, (nuint)threads,
                keyPointer, (nuint)count * sizeof(ulong), distancePointer, (nuint)count * sizeof(float), &error);
        }

        ThrowOnError(error, "usearch_exact_search");
    }

    /// <summary>Frees the native index (and unmaps a viewed file); idempotent.</summary>
    public void Dispose() => _handle.Dispose();

    /// <summary>The exception for a native error message (or for a null handle without one).</summary>
    public static USearchException Failure(string operation, nint error)
    {
        string? message = error == 0 ? null : Message(error);
        return new USearchException($"USearch {operation} failed: {message ?? "no index was created"}.", message);
    }

    private static string Message(nint error) => Marshal.PtrToStringUTF8(error) ?? "";

    private static void ThrowOnError(nint error, string operation)
    {
        if (error != 0)
        {
            throw Failure(operation, error);
        }
    }
}
