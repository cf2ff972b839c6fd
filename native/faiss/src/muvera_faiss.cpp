// Copyright (c) Muvera contributors. Licensed under the MIT License.

// The C ABI of include/muvera_faiss.h over FAISS. Every exported function body runs inside `guarded`, which turns
// every C++ exception into a status plus a thread-local message: nothing thrown by FAISS, the standard library or
// this file crosses the ABI.

#include "muvera_faiss.h"

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

struct muvera_faiss_index
{
    std::unique_ptr<faiss::Index> index;
};

struct muvera_faiss_buffer
{
    std::vector<uint8_t> data;
};

namespace
{

thread_local std::string t_last_error;

// An error this file raises on purpose, with the status it maps to.
struct shim_error : std::runtime_error
{
    shim_error(int status_code, const std::string& message) : std::runtime_error(message), status(status_code) {}
    int status;
};

[[noreturn]] void fail(int status, const std::string& message)
{
    throw shim_error(status, message);
}

int record(int status, const char* message)
{
    try
    {
        t_last_error = message != nullptr ? message : "";
    }
    catch (...)
    {
        // Out of memory while copying the message: report the status without one.
    }

    return status;
}

// Runs body and maps whatever it throws to a status; the message goes to the thread-local last error.
template <class Body>
int guarded(Body&& body) noexcept
{
    try
    {
        body();
        return MUVERA_FAISS_OK;
    }
    catch (const shim_error& e)
    {
        return record(e.status, e.what());
    }
    catch (const faiss::FaissException& e)
    {
        return record(MUVERA_FAISS_E_FAISS, e.what());
    }
    catch (const std::bad_alloc&)
    {
        return record(MUVERA_FAISS_E_MEMORY, "out of memory (std::bad_alloc)");
    }
    catch (const std::exception& e)
    {
        return record(MUVERA_FAISS_E_NATIVE, e.what());
    }
    catch (...)
    {
        return record(MUVERA_FAISS_E_NATIVE, "unknown C++ exception");
    }
}

void require(bool condition, const char* message)
{
    if (!condition)
    {
        fail(MUVERA_FAISS_E_ARGUMENT, message);
    }
}

// Caps the OpenMP threads of the calling thread for one call and restores the previous value. OpenMP keeps
// nthreads-var per thread (each OS thread that is not an OpenMP worker has its own initial task), so concurrent
// calls from different threads do not see each other's settings.
class omp_threads_scope
{
public:
    explicit omp_threads_scope(int threads) : saved_(omp_get_max_threads()), changed_(threads > 0)
    {
        if (changed_)
        {
            omp_set_num_threads(threads);
        }
    }

    ~omp_threads_scope()
    {
        if (changed_)
        {
            omp_set_num_threads(saved_);
        }
    }

    omp_threads_scope(const omp_threads_scope&) = delete;
    omp_threads_scope& operator=(const omp_threads_scope&) = delete;

private:
    int saved_;
    bool changed_;
};

int32_t kind_of(const faiss::Index* index)
{
    if (dynamic_cast<const faiss::IndexFlat*>(index) != nullptr)
    {
        return MUVERA_FAISS_KIND_FLAT;
    }

    if (dynamic_cast<const faiss::IndexIVF*>(index) != nullptr)
    {
        return MUVERA_FAISS_KIND_IVF;
    }

    if (dynamic_cast<const faiss::IndexHNSW*>(index) != nullptr)
    {
        return MUVERA_FAISS_KIND_HNSW;
    }

    if (dynamic_cast<const faiss::IndexPQ*>(index) != nullptr)
    {
        return MUVERA_FAISS_KIND_PQ;
    }

    return MUVERA_FAISS_KIND_OTHER;
}

// The checks every index of this library passes, whether built from a factory string or read from bytes.
void check_supported(const faiss::Index* index, const std::string& what)
{
    if (index->metric_type != faiss::METRIC_INNER_PRODUCT)
    {
        fail(MUVERA_FAISS_E_UNSUPPORTED,
             what + " uses metric " + std::to_string(static_cast<int>(index->metric_type)) +
                 ", not inner product (METRIC_INNER_PRODUCT = 0); only inner-product indexes are supported");
    }

    if (dynamic_cast<const faiss::IndexIDMap*>(index) != nullptr ||
        dynamic_cast<const faiss::IndexIDMap2*>(index) != nullptr)
    {
        fail(MUVERA_FAISS_E_UNSUPPORTED,
             what + " is an IDMap wrapper; labels must be the dense insertion ordinals, so IDMap is not supported");
    }
}

// FAISS's k-means prints "WARNING clustering N points to K centroids: please provide at least ..." to stderr for
// every quantizer trained on fewer than min_points_per_centroid (39) points per centroid: 1280 lines for PQ1280x8.
// A library must not write to the host's stderr, so the threshold (used for nothing else) is set to 1; the
// recommendation is in the documentation of Train instead.
void quiet_training(faiss::Index* index)
{
    if (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(index))
    {
        quiet_training(pre->index);
        return;
    }

    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index))
    {
        ivf->cp.min_points_per_centroid = 1;
    }

    if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(index))
    {
        ivfpq->pq.cp.min_points_per_centroid = 1;
    }
    else if (auto* pq = dynamic_cast<faiss::IndexPQ*>(index))
    {
        pq->pq.cp.min_points_per_centroid = 1;
    }
}

const faiss::Index& index_of(const muvera_faiss_index* handle)
{
    require(handle != nullptr && handle->index != nullptr, "index is null");
    return *handle->index;
}

faiss::Index& index_of(muvera_faiss_index* handle)
{
    require(handle != nullptr && handle->index != nullptr, "index is null");
    return *handle->index;
}

void check_rows(int64_t n, const float* vectors)
{
    require(n >= 0, "the vector count is negative");
    require(n == 0 || vectors != nullptr, "vectors is null");
}

// Reads from caller-owned memory without copying it (faiss::VectorIOReader would need a std::vector copy). Mirrors
// VectorIOReader: returns the number of whole items read, fewer at the end, which FAISS reports as a read error.
struct span_reader : faiss::IOReader
{
    span_reader(const uint8_t* bytes, size_t length) : data(bytes), size(length)
    {
        name = "muvera_faiss buffer";
    }

    size_t operator()(void* ptr, size_t item_size, size_t nitems) override
    {
        if (item_size == 0 || position >= size)
        {
            return 0;
        }

        size_t available = (size - position) / item_size;
        size_t items = std::min(nitems, available);
        if (items > 0)
        {
            std::memcpy(ptr, data + position, items * item_size);
            position += items * item_size;
        }

        return items;
    }

    const uint8_t* data;
    size_t size;
    size_t position = 0;
};

} // namespace

extern "C" {

MUVERA_FAISS_API int32_t muvera_faiss_abi_version(void)
{
    return MUVERA_FAISS_ABI_VERSION;
}

MUVERA_FAISS_API int32_t muvera_faiss_faiss_version(void)
{
    return FAISS_VERSION_MAJOR * 10000 + FAISS_VERSION_MINOR * 100 + FAISS_VERSION_PATCH;
}

MUVERA_FAISS_API int32_t muvera_faiss_max_threads(void)
{
    return omp_get_max_threads();
}

MUVERA_FAISS_API const char* muvera_faiss_last_error(void)
{
    return t_last_error.c_str();
}

MUVERA_FAISS_API int muvera_faiss_create(const char* factory, int32_t dimension, muvera_faiss_index** out_index)
{
    return guarded([&] {
        require(out_index != nullptr, "out_index is null");
        *out_index = nullptr;
        require(factory != nullptr, "factory is null");
        require(dimension > 0, "dimension must be positive");
        std::unique_ptr<faiss::Index> index(faiss::index_factory(dimension, factory, faiss::METRIC_INNER_PRODUCT));
        require(index != nullptr, "index_factory returned null");
        check_supported(index.get(), std::string("factory string '") + factory + "'");

        // index_factory turns polysemous training on for PQ codes unless the string ends in "np". It only permutes
        // the codebook so that Hamming distances between codes track real distances, for polysemous (Hamming-
        // filtered) search, which this library never uses; ADC scores do not change, and on a few hundred points
        // it costs seconds per sub-quantizer. Off, as if "np" had been written.
        if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(index.get()))
        {
            ivfpq->do_polysemous_training = false;
        }
        else if (auto* pq = dynamic_cast<faiss::IndexPQ*>(index.get()))
        {
            pq->do_polysemous_training = false;
        }

        quiet_training(index.get());
        auto handle = std::make_unique<muvera_faiss_index>();
        handle->index = std::move(index);
        *out_index = handle.release();
    });
}

MUVERA_FAISS_API void muvera_faiss_free(muvera_faiss_index* index)
{
    // FAISS destructors do not throw; the guard is belt and braces for the ABI promise.
    guarded([&] { delete index; });
}

MUVERA_FAISS_API int muvera_faiss_dimension(const muvera_faiss_index* index, int32_t* out_dimension)
{
    return guarded([&] {
        require(out_dimension != nullptr, "out_dimension is null");
        *out_dimension = index_of(index).d;
    });
}

MUVERA_FAISS_API int muvera_faiss_ntotal(const muvera_faiss_index* index, int64_t* out_ntotal)
{
    return guarded([&] {
        require(out_ntotal != nullptr, "out_ntotal is null");
        *out_ntotal = index_of(index).ntotal;
    });
}

MUVERA_FAISS_API int muvera_faiss_is_trained(const muvera_faiss_index* index, int32_t* out_is_trained)
{
    return guarded([&] {
        require(out_is_trained != nullptr, "out_is_trained is null");
        *out_is_trained = index_of(index).is_trained ? 1 : 0;
    });
}

MUVERA_FAISS_API int muvera_faiss_info_get(const muvera_faiss_index* index, muvera_faiss_info* out_info)
{
    return guarded([&] {
        require(out_info != nullptr, "out_info is null");
        const faiss::Index& i = index_of(index);
        muvera_faiss_info info{};
        info.ntotal = i.ntotal;
        info.dimension = i.d;
        info.metric = static_cast<int32_t>(i.metric_type);
        info.kind = kind_of(&i);
        info.is_trained = i.is_trained ? 1 : 0;
        if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&i))
        {
            info.nlist = static_cast<int64_t>(ivf->nlist);
            info.nprobe = static_cast<int32_t>(std::min<size_t>(ivf->nprobe, std::numeric_limits<int32_t>::max()));
        }
        else if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(&i))
        {
            info.ef_search = hnsw->hnsw.efSearch;
        }

        *out_info = info;
    });
}

MUVERA_FAISS_API int muvera_faiss_train(muvera_faiss_index* index, int64_t n, const float* vectors, int32_t threads)
{
    return guarded([&] {
        faiss::Index& i = index_of(index);
        check_rows(n, vectors);
        require(n > 0, "training needs at least one vector");
        omp_threads_scope scope(threads);
        i.train(n, vectors);
    });
}

MUVERA_FAISS_API int muvera_faiss_add(muvera_faiss_index* index, int64_t n, const float* vectors, int32_t threads)
{
    return guarded([&] {
        faiss::Index& i = index_of(index);
        check_rows(n, vectors);
        if (n == 0)
        {
            return;
        }

        require(i.is_trained, "the index is not trained; train it before adding vectors");
        omp_threads_scope scope(threads);
        i.add(n, vectors);
    });
}

MUVERA_FAISS_API int muvera_faiss_set_defaults(muvera_faiss_index* index, int32_t nprobe, int32_t ef_search)
{
    return guarded([&] {
        faiss::Index& i = index_of(index);
        require(nprobe >= 0 && ef_search >= 0, "nprobe and ef_search must not be negative");
        auto* ivf = dynamic_cast<faiss::IndexIVF*>(&i);
        auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(&i);
        require(nprobe == 0 || ivf != nullptr, "nprobe applies only to IVF indexes");
        require(ef_search == 0 || hnsw != nullptr, "ef_search applies only to HNSW indexes");
        if (nprobe > 0)
        {
            ivf->nprobe = static_cast<size_t>(nprobe);
        }

        if (ef_search > 0)
        {
            hnsw->hnsw.efSearch = ef_search;
        }
    });
}

MUVERA_FAISS_API int muvera_faiss_search(const muvera_faiss_index* index, int64_t n, const float* queries, int64_t k,
                                         int32_t nprobe, int32_t ef_search, int32_t threads, float* distances,
                                         int64_t* labels)
{
    return guarded([&] {
        const faiss::Index& i = index_of(index);
        check_rows(n, queries);
        require(k > 0, "k must be positive");
        require(n == 0 || (distances != nullptr && labels != nullptr), "distances or labels is null");
        require(nprobe >= 0 && ef_search >= 0 && threads >= 0, "nprobe, ef_search and threads must not be negative");

        // Per-call parameters live on this stack frame: concurrent searches with different values cannot race, and
        // the index's own defaults are only read.
        faiss::SearchParametersIVF ivf_params;
        faiss::SearchParametersHNSW hnsw_params;
        const faiss::SearchParameters* params = nullptr;
        if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&i))
        {
            ivf_params.nprobe = nprobe > 0 ? static_cast<size_t>(nprobe) : ivf->nprobe;
            ivf_params.max_codes = ivf->max_codes;
            params = &ivf_params;
        }
        else
        {
            require(nprobe == 0, "nprobe applies only to IVF indexes");
        }

        // FAISS 1.7.3 sizes HNSW's candidate queue as max(index efSearch, k) and applies the per-call efSearch only
        // to the stopping rule (fixed in FAISS 1.8, pull request #3233). Asking FAISS for max(k, efSearch) results
        // makes the queue at least efSearch long, as FAISS 1.8 does; the best k of them are the results, because
        // the result heap only collects what the walk visits. A per-call value below the index's keeps the index's
        // longer queue: at least as good, slower.
        int64_t fetch = k;
        if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(&i))
        {
            hnsw_params.efSearch = ef_search > 0 ? ef_search : hnsw->hnsw.efSearch;
            hnsw_params.check_relative_distance = hnsw->hnsw.check_relative_distance;
            params = &hnsw_params;
            fetch = std::max<int64_t>(k, hnsw_params.efSearch);
        }
        else
        {
            require(ef_search == 0, "ef_search applies only to HNSW indexes");
        }

        if (n == 0)
        {
            return;
        }

        const int64_t d = i.d;
        auto search_one = [&](int64_t q) {
            float* query_distances = distances + (q * k);
            int64_t* query_labels = labels + (q * k);
            if (fetch == k)
            {
                i.search(1, queries + (q * d), k, query_distances, query_labels, params);
                return;
            }

            thread_local std::vector<float> fetched_distances;
            thread_local std::vector<faiss::Index::idx_t> fetched_labels;
            fetched_distances.resize(static_cast<size_t>(fetch));
            fetched_labels.resize(static_cast<size_t>(fetch));
            i.search(1, queries + (q * d), fetch, fetched_distances.data(), fetched_labels.data(), params);
            std::copy_n(fetched_distances.data(), k, query_distances);
            std::copy_n(fetched_labels.data(), k, query_labels);
        };

        // One FAISS search per query: a batch through FAISS would take other code paths for some index types (BLAS
        // for flat and IVF coarse search from 20 queries on), whose scores differ from single-query search in the
        // last bits. The queries are spread over `threads` OpenMP threads here; FAISS's own per-query parallel
        // regions run single-threaded (the scope below, which this function's OpenMP workers inherit).
        const int team = static_cast<int>(std::min<int64_t>(n, threads > 0 ? threads : omp_get_max_threads()));
        omp_threads_scope single(1);
        if (team <= 1)
        {
            for (int64_t q = 0; q < n; q++)
            {
                search_one(q);
            }

            return;
        }

        // An exception must not leave an OpenMP region: each worker catches, the first failure is kept, and the
        // remaining queries are skipped.
        std::atomic<bool> failed{false};
        int failure_status = MUVERA_FAISS_OK;
        std::string failure_message;
#pragma omp parallel for num_threads(team) schedule(dynamic, 1)
        for (int64_t q = 0; q < n; q++)
        {
            if (failed.load(std::memory_order_relaxed))
            {
                continue;
            }

            int status = guarded([&] { search_one(q); });
            if (status != MUVERA_FAISS_OK)
            {
#pragma omp critical(muvera_faiss_search_failure)
                {
                    if (!failed.exchange(true))
                    {
                        failure_status = status;
                        try
                        {
                            failure_message = t_last_error;
                        }
                        catch (...)
                        {
                        }
                    }
                }
            }
        }

        if (failed.load())
        {
            fail(failure_status, failure_message);
        }
    });
}

MUVERA_FAISS_API int muvera_faiss_search_batched(const muvera_faiss_index* index, int64_t n, const float* queries,
                                                 int64_t k, int32_t nprobe, int32_t ef_search, int32_t threads,
                                                 float* distances, int64_t* labels)
{
    // HNSW needs the per-query fetch of max(k, efSearch) (see muvera_faiss_search); everything else goes through
    // FAISS's own batch search, with FAISS's OpenMP parallelism (and BLAS for flat and IVF coarse search).
    if (index != nullptr && dynamic_cast<const faiss::IndexHNSW*>(&index_of(index)) != nullptr)
    {
        return muvera_faiss_search(index, n, queries, k, nprobe, ef_search, threads, distances, labels);
    }

    return guarded([&] {
        const faiss::Index& i = index_of(index);
        check_rows(n, queries);
        require(k > 0, "k must be positive");
        require(n == 0 || (distances != nullptr && labels != nullptr), "distances or labels is null");
        require(nprobe >= 0 && ef_search == 0 && threads >= 0, "nprobe and threads must not be negative; ef_search applies only to HNSW");
        faiss::SearchParametersIVF ivf_params;
        const faiss::SearchParameters* params = nullptr;
        if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&i))
        {
            ivf_params.nprobe = nprobe > 0 ? static_cast<size_t>(nprobe) : ivf->nprobe;
            ivf_params.max_codes = ivf->max_codes;
            params = &ivf_params;
        }
        else
        {
            require(nprobe == 0, "nprobe applies only to IVF indexes");
        }

        if (n == 0)
        {
            return;
        }

        omp_threads_scope scope(threads);
        i.search(n, queries, k, distances, labels, params);
    });
}

MUVERA_FAISS_API int muvera_faiss_serialize(const muvera_faiss_index* index, muvera_faiss_buffer** out_buffer,
                                            const uint8_t** out_data, int64_t* out_size)
{
    return guarded([&] {
        require(out_buffer != nullptr && out_data != nullptr && out_size != nullptr, "an output pointer is null");
        *out_buffer = nullptr;
        *out_data = nullptr;
        *out_size = 0;
        const faiss::Index& i = index_of(index);
        faiss::VectorIOWriter writer;
        faiss::write_index(&i, &writer);
        auto buffer = std::make_unique<muvera_faiss_buffer>();
        buffer->data = std::move(writer.data);
        *out_data = buffer->data.data();
        *out_size = static_cast<int64_t>(buffer->data.size());
        *out_buffer = buffer.release();
    });
}

MUVERA_FAISS_API void muvera_faiss_buffer_free(muvera_faiss_buffer* buffer)
{
    guarded([&] { delete buffer; });
}

MUVERA_FAISS_API int muvera_faiss_deserialize(const uint8_t* data, int64_t size, muvera_faiss_index** out_index)
{
    return guarded([&] {
        require(out_index != nullptr, "out_index is null");
        *out_index = nullptr;
        require(size > 0, "the FAISS payload is empty");
        require(data != nullptr, "data is null");
        span_reader reader(data, static_cast<size_t>(size));
        std::unique_ptr<faiss::Index> index(faiss::read_index(&reader));
        require(index != nullptr, "read_index returned null");
        if (reader.position != reader.size)
        {
            fail(MUVERA_FAISS_E_FAISS, "the FAISS payload has " + std::to_string(reader.size - reader.position) +
                                           " trailing bytes after the index");
        }

        check_supported(index.get(), "the serialized index");
        quiet_training(index.get());
        auto handle = std::make_unique<muvera_faiss_index>();
        handle->index = std::move(index);
        *out_index = handle.release();
    });
}

} // extern "C"
