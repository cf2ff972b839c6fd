// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Muvera.Faiss.Interop;

/// <summary>
/// The C ABI of <c>native/faiss/include/muvera_faiss.h</c> (libmuvera_faiss.so). Every function that can fail returns
/// a status (<see cref="Ok"/> on success) and leaves a message in the calling thread's <see cref="LastError"/>.
/// </summary>
internal static partial class NativeMethods
{
    /// <summary>The library name; the runtime probes <c>libmuvera_faiss.so</c> next to the assemblies and under
    /// <c>runtimes/linux-x64/native/</c>.</summary>
    public const string LibraryName = "muvera_faiss";

    /// <summary>The ABI version this assembly is written against (MUVERA_FAISS_ABI_VERSION).</summary>
    public const int AbiVersion = 1;

    public const int Ok = 0;
    public const int ArgumentError = 1;
    public const int FaissError = 2;
    public const int Unsupported = 3;
    public const int MemoryError = 4;
    public const int NativeError = 5;

    public const int KindOther = 0;
    public const int KindFlat = 1;
    public const int KindIvf = 2;
    public const int KindHnsw = 3;
    public const int KindPq = 4;

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_abi_version")]
    public static partial int GetAbiVersion();

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_faiss_version")]
    public static partial int GetFaissVersion();

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_max_threads")]
    public static partial int GetMaxThreads();

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_last_error")]
    private static partial nint GetLastErrorPointer();

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Create(string factory, int dimension, out FaissIndexHandle index);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_free")]
    public static partial void Free(nint index);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_info_get")]
    public static partial int GetInfo(FaissIndexHandle index, out FaissInfo info);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_train")]
    public static partial int Train(FaissIndexHandle index, long n, ReadOnlySpan<float> vectors, int threads);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_add")]
    public static partial int Add(FaissIndexHandle index, long n, ReadOnlySpan<float> vectors, int threads);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_set_defaults")]
    public static partial int SetDefaults(FaissIndexHandle index, int nprobe, int efSearch);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_search")]
    public static partial int Search(FaissIndexHandle index, long n, ReadOnlySpan<float> queries, long k, int nprobe,
        int efSearch, int threads, Span<float> distances, Span<long> labels);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_search_batched")]
    public static partial int SearchBatched(FaissIndexHandle index, long n, ReadOnlySpan<float> queries, long k, int nprobe,
        int efSearch, int threads, Span<float> distances, Span<long> labels);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_serialize")]
    public static partial int Serialize(FaissIndexHandle index, out nint buffer, out nint data, out long size);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_buffer_free")]
    public static partial void FreeBuffer(nint buffer);

    [LibraryImport(LibraryName, EntryPoint = "muvera_faiss_deserialize")]
    public static partial int Deserialize(nint data, long size, out FaissIndexHandle index);

    /// <summary>The calling thread's last error message (empty when none).</summary>
    public static string LastError() => Marshal.PtrToStringUTF8(GetLastErrorPointer()) ?? "";

    /// <summary>Throws <see cref="FaissException"/> for a failed status, with the native message and what failed.</summary>
    public static void Check(int status, string operation)
    {
        if (status != Ok)
        {
            ThrowFailure(status, operation);
        }
    }

    /// <summary>Throws <see cref="FaissException"/> for a failed status; call it only on failure, so that the
    /// operation text is not built on the success path.</summary>
    [DoesNotReturn]
    public static void ThrowFailure(int status, string operation)
    {
        string message = LastError();
        throw new FaissException($"FAISS failed to {operation}: {message}", StatusName(status), message);
    }

    /// <summary>A readable name of a status.</summary>
    public static string StatusName(int status) => status switch
    {
        Ok => "ok",
        ArgumentError => "invalid argument",
        FaissError => "FAISS error",
        Unsupported => "unsupported index",
        MemoryError => "out of memory",
        NativeError => "native error",
        _ => $"status {status}",
    };
}

/// <summary>muvera_faiss_info: an index's shape and default search parameters.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FaissInfo
{
    public long NTotal;
    public long NList;
    public int Dimension;
    public int Metric;
    public int Kind;
    public int IsTrained;
    public int Nprobe;
    public int EfSearch;
}
