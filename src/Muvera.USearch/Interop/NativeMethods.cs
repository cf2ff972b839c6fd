// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Runtime.InteropServices;

namespace Muvera.USearch.Interop;

/// <summary>
/// The subset of USearch's C API (<c>c/usearch.h</c> of USearch 2.26.6, exported by <c>libusearch_c</c> from the
/// Cloud.Unum.USearch package) that the MIPS backend uses. Every function reports failure by storing a pointer to a
/// static, null-terminated message in its last argument (<c>usearch_error_t*</c>, that is <c>char const**</c>); the
/// message must not be freed. No C++ exception crosses this boundary.
/// </summary>
/// <remarks>
/// The struct layout and the enum values below were checked against the shipped binary (disassembly of
/// <c>usearch_init</c>, <c>scalar_kind_to_cpp</c> and <c>metric_kind_to_cpp</c>), not only against the header.
/// </remarks>
internal static unsafe partial class NativeMethods
{
    /// <summary><c>usearch_metric_ip_k</c>: distance = 1 − ⟨a, b⟩.</summary>
    public const int MetricInnerProduct = 2;

    /// <summary><c>usearch_scalar_f32_k</c>.</summary>
    public const int ScalarFloat32 = 1;

    /// <summary><c>usearch_scalar_f16_k</c>.</summary>
    public const int ScalarFloat16 = 3;

    /// <summary><c>usearch_scalar_bf16_k</c>.</summary>
    public const int ScalarBFloat16 = 6;

    private const string Library = "usearch_c";

    /// <summary><c>char const* usearch_version(void)</c>.</summary>
    [LibraryImport(Library)]
    public static partial nint usearch_version();

    /// <summary><c>usearch_index_t usearch_init(usearch_init_options_t*, usearch_error_t*)</c>.</summary>
    [LibraryImport(Library)]
    public static partial nint usearch_init(InitOptions* options, nint* error);

    /// <summary><c>void usearch_free(usearch_index_t, usearch_error_t*)</c>.</summary>
    [LibraryImport(Library)]
    public static partial void usearch_free(nint index, nint* error);

    /// <summary><c>size_t usearch_serialized_length(usearch_index_t, usearch_error_t*)</c>.</summary>
    [LibraryImport(Library)]
    public static partial nuint usearch_serialized_length(USearchIndexHandle index, nint* error);

    /// <summary><c>void usearch_save_buffer(usearch_index_t, void* buffer, size_t length, usearch_error_t*)</c>.</summary>
    [LibraryImport(Library)]
    public static partial void usearch_save_buffer(USearchIndexHandle index, void* buffer, nuint length, nint* error);

    /// <summary><c>void usearch_load_buffer(usearch_index_t, void const* buffer, size_t length, usearch_error_t*)</c>:
    /// copies the serialized index into the index's own memory.</summary>
    [LibraryImport(Library)]
    public static partial void usearch_load_buffer(USearchIndexHandle index, void* buffer, nuint length, nint* error);

    /// <summary><c>void usearch_view_buffer(usearch_index_t, void const* buffer, size_t length, usearch_error_t*)</c>:
    /// serves the index from the buffer without copying it (the buffer must outlive the index).</summary>
    [LibraryImport(Library)]
    public static partial void usearch_view_buffer(USearchIndexHandle index, void* buffer, nuint length, nint* error);

    /// <summary><c>size_t usearch_size(usearch_index_t, usearch_error_t*)</c>: vectors present (removed ones excluded).</summary>
    [LibraryImport(Library)]
    public static partial nuint usearch_size(USearchIndexHandle index, nint* error);

    /// <summary><c>size_t usearch_capacity(usearch_index_t, usearch_error_t*)</c>.</summary>
    [LibraryImport(Library)]
    public static partial nuint usearch_capacity(USearchIndexHandle index, nint* error);

    /// <summary><c>size_t usearch_dimensions(usearch_index_t, usearch_error_t*)</c>.</summary>
    [LibraryImport(Library)]
    public static partial nuint usearch_dimensions(USearchIndexHandle index, nint* error);

    /// <summary><c>void usearch_reserve(usearch_index_t, size_t capacity, usearch_error_t*)</c>. Resets both thread
    /// limits to <c>std::thread::hardware_concurrency()</c> when it grows the index.</summary>
    [LibraryImport(Library)]
    public static partial void usearch_reserve(USearchIndexHandle index, nuint capacity, nint* error);

    /// <summary><c>void usearch_change_threads_add(usearch_index_t, size_t threads, usearch_error_t*)</c>: raises
    /// (never lowers) the number of per-thread contexts for insertions.</summary>
    [LibraryImport(Library)]
    public static partial void usearch_change_threads_add(USearchIndexHandle index, nuint threads, nint* error);

    /// <summary><c>void usearch_change_threads_search(usearch_index_t, size_t threads, usearch_error_t*)</c>.</summary>
    [LibraryImport(Library)]
    public static partial void usearch_change_threads_search(USearchIndexHandle index, nuint threads, nint* error);

    /// <summary><c>void usearch_add(usearch_index_t, usearch_key_t, void const* vector, usearch_scalar_kind_t,
    /// usearch_error_t*)</c>. Thread-safe while fewer callers run than thread contexts exist.</summary>
    [LibraryImport(Library)]
    public static partial void usearch_add(USearchIndexHandle index, ulong key, void* vector, int vectorKind, nint* error);

    /// <summary><c>size_t usearch_remove(usearch_index_t, usearch_key_t, usearch_error_t*)</c>.</summary>
    [LibraryImport(Library)]
    public static partial nuint usearch_remove(USearchIndexHandle index, ulong key, nint* error);

    /// <summary><c>size_t usearch_get(usearch_index_t, usearch_key_t, size_t count, void* vector,
    /// usearch_scalar_kind_t, usearch_error_t*)</c>.</summary>
    [LibraryImport(Library)]
    public static partial nuint usearch_get(USearchIndexHandle index, ulong key, nuint count, void* vector, int vectorKind, nint* error);

    /// <summary><c>size_t usearch_search(usearch_index_t, void const* query, usearch_scalar_kind_t, size_t count,
    /// usearch_key_t* keys, usearch_distance_t* distances, usearch_error_t*)</c>: the beam is
    /// max(index expansion_search, count); results sorted by ascending distance.</summary>
    [LibraryImport(Library)]
    public static partial nuint usearch_search(USearchIndexHandle index, void* query, int queryKind, nuint count, ulong* keys, float* distances, nint* error);

    /// <summary><c>size_t usearch_filtered_search(usearch_index_t, void const* query, usearch_scalar_kind_t, size_t count,
    /// int (*filter)(usearch_key_t key, void* state), void* state, usearch_key_t* keys, usearch_distance_t* distances,
    /// usearch_error_t*)</c>: as <see cref="usearch_search"/>, keeping only keys for which the callback returns non-zero.</summary>
    [LibraryImport(Library)]
    public static partial nuint usearch_filtered_search(USearchIndexHandle index, void* query, int queryKind, nuint count,
        delegate* unmanaged<ulong, void*, int> filter, void* state, ulong* keys, float* distances, nint* error);

    /// <summary><c>void usearch_exact_search(dataset, dataset_size, dataset_stride, queries, queries_size,
    /// queries_stride, scalar_kind, dimensions, metric_kind, count, threads, keys, keys_stride, distances,
    /// distances_stride, error)</c>: brute force over a caller-supplied matrix (OpenMP inside); keys are row offsets.</summary>
    [LibraryImport(Library)]
    public static partial void usearch_exact_search(
        void* dataset, nuint datasetSize, nuint datasetStride,
        void* queries, nuint queriesSize, nuint queriesStride,
        int scalarKind, nuint dimensions, int metricKind, nuint count, nuint threads,
        ulong* keys, nuint keysStride, float* distances, nuint distancesStride, nint* error);

    /// <summary><c>usearch_init_options_t</c> on LP64: metric_kind at 0, metric at 8, quantization at 16, dimensions
    /// at 24, connectivity at 32, expansion_add at 40, expansion_search at 48, multi at 56; 64 bytes in all.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct InitOptions
    {
        /// <summary><c>usearch_metric_kind_t metric_kind</c>.</summary>
        public int MetricKind;

        /// <summary><c>usearch_metric_t metric</c>: a custom metric callback; null for the built-in one.</summary>
        public nint Metric;

        /// <summary><c>usearch_scalar_kind_t quantization</c>: how vectors are stored.</summary>
        public int Quantization;

        /// <summary><c>size_t dimensions</c>.</summary>
        public nuint Dimensions;

        /// <summary><c>size_t connectivity</c> (M); 0 means USearch's default.</summary>
        public nuint Connectivity;

        /// <summary><c>size_t expansion_add</c> (efConstruction); 0 means USearch's default.</summary>
        public nuint ExpansionAdd;

        /// <summary><c>size_t expansion_search</c> (ef); 0 means USearch's default.</summary>
        public nuint ExpansionSearch;

        /// <summary><c>bool multi</c>: several vectors per key.</summary>
        public byte Multi;
    }
}
