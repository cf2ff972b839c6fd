/* Copyright (c) Muvera contributors. Licensed under the MIT License. */

/*
 * muvera_faiss: a small C ABI over FAISS (built against Debian's static libfaiss), used by Muvera.Faiss.
 *
 * Conventions
 * - Every function that can fail returns a status (MUVERA_FAISS_OK = 0 on success). On failure,
 *   muvera_faiss_last_error() returns a message for the calling thread; it stays valid until the next failing call
 *   on that thread. No C++ exception ever leaves this library: FAISS errors, allocation failures and anything else
 *   thrown inside are caught and turned into statuses.
 * - Indexes are opaque handles. Every index compares vectors by inner product (FAISS METRIC_INNER_PRODUCT); higher
 *   scores are better. Labels are the dense insertion ordinals 0..ntotal-1; a search slot that holds no result has
 *   label -1.
 * - Threading: searches on one index may run concurrently with each other (per-call search parameters are passed
 *   by value, never stored in the index). train, add, set_defaults and free need exclusive access.
 *   OpenMP thread counts are per call: a positive `threads` caps the OpenMP threads that call uses, 0 keeps the
 *   OpenMP default (OMP_NUM_THREADS or the number of cores). Only the calling thread's OpenMP settings are touched,
 *   and they are restored before the call returns. The BLAS library (OpenBLAS) keeps its own thread pool.
 */

#ifndef MUVERA_FAISS_H
#define MUVERA_FAISS_H

#include <stdint.h>

#if defined(_WIN32)
#define MUVERA_FAISS_API __declspec(dllexport)
#else
#define MUVERA_FAISS_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes; muvera_faiss_abi_version() returns the library's. */
#define MUVERA_FAISS_ABI_VERSION 1

/* Statuses. */
#define MUVERA_FAISS_OK 0
#define MUVERA_FAISS_E_ARGUMENT 1    /* an invalid argument: null pointer, negative size, inapplicable parameter */
#define MUVERA_FAISS_E_FAISS 2       /* FAISS threw (faiss::FaissException): bad factory string, too few training points, bad blob */
#define MUVERA_FAISS_E_UNSUPPORTED 3 /* the factory string builds an index this library refuses (not inner product, IDMap) */
#define MUVERA_FAISS_E_MEMORY 4      /* an allocation failed (std::bad_alloc) */
#define MUVERA_FAISS_E_NATIVE 5      /* any other C++ exception */

/* What kind of index a handle holds, as far as search parameters are concerned. */
#define MUVERA_FAISS_KIND_OTHER 0
#define MUVERA_FAISS_KIND_FLAT 1 /* faiss::IndexFlat (exact) */
#define MUVERA_FAISS_KIND_IVF 2  /* faiss::IndexIVF and subclasses: nprobe applies */
#define MUVERA_FAISS_KIND_HNSW 3 /* faiss::IndexHNSW and subclasses: ef_search applies */
#define MUVERA_FAISS_KIND_PQ 4   /* faiss::IndexPQ */

typedef struct muvera_faiss_index muvera_faiss_index;
typedef struct muvera_faiss_buffer muvera_faiss_buffer;

/* A snapshot of an index's shape and default search parameters. */
typedef struct muvera_faiss_info
{
    int64_t ntotal;    /* vectors held */
    int64_t nlist;     /* inverted lists (IVF), else 0 */
    int32_t dimension; /* vector length */
    int32_t metric;    /* faiss::MetricType; always 0 (METRIC_INNER_PRODUCT) for handles of this library */
    int32_t kind;      /* MUVERA_FAISS_KIND_* */
    int32_t is_trained;
    int32_t nprobe;    /* default nprobe (IVF), else 0 */
    int32_t ef_search; /* default efSearch (HNSW), else 0 */
} muvera_faiss_info;

/* The library's ABI version (MUVERA_FAISS_ABI_VERSION of the header it was built with). Never fails. */
MUVERA_FAISS_API int32_t muvera_faiss_abi_version(void);

/* The FAISS version compiled in, as major * 10000 + minor * 100 + patch (10703 for 1.7.3). Never fails. */
MUVERA_FAISS_API int32_t muvera_faiss_faiss_version(void);

/* omp_get_max_threads() of the calling thread: the threads a call with threads = 0 uses. Never fails. */
MUVERA_FAISS_API int32_t muvera_faiss_max_threads(void);

/* The calling thread's last error message (UTF-8, never null; empty when no call failed on this thread). */
MUVERA_FAISS_API const char* muvera_faiss_last_error(void);

/* Builds an empty index with faiss::index_factory(dimension, factory, METRIC_INNER_PRODUCT). Refuses (E_UNSUPPORTED)
 * factory strings whose index does not use inner product, and IDMap wrappers (labels must be dense ordinals). */
MUVERA_FAISS_API int muvera_faiss_create(const char* factory, int32_t dimension, muvera_faiss_index** out_index);

/* Frees an index; null is ignored. Never fails. */
MUVERA_FAISS_API void muvera_faiss_free(muvera_faiss_index* index);

MUVERA_FAISS_API int muvera_faiss_dimension(const muvera_faiss_index* index, int32_t* out_dimension);
MUVERA_FAISS_API int muvera_faiss_ntotal(const muvera_faiss_index* index, int64_t* out_ntotal);
MUVERA_FAISS_API int muvera_faiss_is_trained(const muvera_faiss_index* index, int32_t* out_is_trained);
MUVERA_FAISS_API int muvera_faiss_info_get(const muvera_faiss_index* index, muvera_faiss_info* out_info);

/* Trains on n row-major vectors (IVF coarse quantizer, PQ codebooks; a no-op for flat and HNSW storage). */
MUVERA_FAISS_API int muvera_faiss_train(muvera_faiss_index* index, int64_t n, const float* vectors, int32_t threads);

/* Appends n row-major vectors; they get labels ntotal..ntotal+n-1. The index must be trained. */
MUVERA_FAISS_API int muvera_faiss_add(muvera_faiss_index* index, int64_t n, const float* vectors, int32_t threads);

/* Sets the defaults searches use when they pass 0: nprobe (IVF only) and ef_search (HNSW only); 0 leaves a value
 * as it is. A non-zero value for an index kind it does not apply to is E_ARGUMENT. They are saved with the index. */
MUVERA_FAISS_API int muvera_faiss_set_defaults(muvera_faiss_index* index, int32_t nprobe, int32_t ef_search);

/* Searches n row-major queries for their k highest inner products: row i of distances/labels (k entries each) gets
 * query i's results, best first; unfilled slots have label -1. nprobe (IVF) and ef_search (HNSW) apply to this call
 * only (through faiss::SearchParametersIVF / SearchParametersHNSW); 0 uses the index's defaults; a non-zero value
 * for an index kind it does not apply to is E_ARGUMENT. nprobe above nlist searches every list. FAISS 1.7.3 sizes
 * the HNSW candidate queue from the index's efSearch, not the per-call one (fixed in FAISS 1.8); this function asks
 * FAISS for max(k, ef_search) results and keeps the best k, which gives the queue the per-call length. A per-call
 * ef_search below the index's default keeps the default's longer queue (at least as good, slower).
 * Each query is searched on its own (n single-query FAISS searches, spread over `threads` OpenMP threads), so a
 * query's results never depend on the batch it came in or on the thread count. */
MUVERA_FAISS_API int muvera_faiss_search(const muvera_faiss_index* index, int64_t n, const float* queries, int64_t k,
                                         int32_t nprobe, int32_t ef_search, int32_t threads, float* distances,
                                         int64_t* labels);

/* As muvera_faiss_search, but through FAISS's own batch search (one faiss::Index::search over all n queries, with
 * FAISS's OpenMP parallelism; BLAS for flat and IVF coarse search from 20 queries on): faster for large batches,
 * but a query's scores may then differ in the last bits from a single-query search. HNSW indexes take the per-query
 * path of muvera_faiss_search (for its efSearch handling). */
MUVERA_FAISS_API int muvera_faiss_search_batched(const muvera_faiss_index* index, int64_t n, const float* queries,
                                                 int64_t k, int32_t nprobe, int32_t ef_search, int32_t threads,
                                                 float* distances, int64_t* labels);

/* Serializes the index with faiss::write_index into a new buffer; read it with muvera_faiss_buffer_data and free it
 * with muvera_faiss_buffer_free. */
MUVERA_FAISS_API int muvera_faiss_serialize(const muvera_faiss_index* index, muvera_faiss_buffer** out_buffer,
                                            const uint8_t** out_data, int64_t* out_size);

/* Frees a buffer from muvera_faiss_serialize; null is ignored. Never fails. */
MUVERA_FAISS_API void muvera_faiss_buffer_free(muvera_faiss_buffer* buffer);

/* Reads an index that muvera_faiss_serialize wrote (faiss::read_index over the bytes, which must be consumed
 * exactly). Bad bytes give E_FAISS (or E_UNSUPPORTED for a valid blob of a refused kind), never an abort. The
 * caller keeps ownership of data. */
MUVERA_FAISS_API int muvera_faiss_deserialize(const uint8_t* data, int64_t size, muvera_faiss_index** out_index);

#ifdef __cplusplus
}
#endif

#endif /* MUVERA_FAISS_H */
