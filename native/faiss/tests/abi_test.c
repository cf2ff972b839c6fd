/* Copyright (c) Muvera contributors. Licensed under the MIT License. */

/* The C ABI from plain C: results, refusals and error statuses (no abort on bad input). Run with ctest. */

#include "muvera_faiss.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(condition)                                                                                               \
    do                                                                                                                 \
    {                                                                                                                  \
        if (!(condition))                                                                                              \
        {                                                                                                              \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, #condition,              \
                    muvera_faiss_last_error());                                                                        \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

enum
{
    D = 16,
    N = 500,
    K = 5
};

/* Deterministic pseudo-random values in [-1, 1). */
static float next_value(unsigned* state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static int create(const char* factory, muvera_faiss_index** index)
{
    return muvera_faiss_create(factory, D, index);
}

static void test_flat(const float* data)
{
    muvera_faiss_index* index = NULL;
    CHECK(create("Flat", &index) == MUVERA_FAISS_OK);
    muvera_faiss_info info;
    CHECK(muvera_faiss_info_get(index, &info) == MUVERA_FAISS_OK);
    CHECK(info.kind == MUVERA_FAISS_KIND_FLAT && info.metric == 0 && info.dimension == D && info.is_trained == 1);
    CHECK(muvera_faiss_add(index, N, data, 0) == MUVERA_FAISS_OK);
    int64_t ntotal = 0;
    CHECK(muvera_faiss_ntotal(index, &ntotal) == MUVERA_FAISS_OK && ntotal == N);

    /* Brute force for query 0, then a 3-query batch on 2 threads must agree with single searches. */
    float distances[3 * K];
    int64_t labels[3 * K];
    CHECK(muvera_faiss_search(index, 3, data, K, 0, 0, 2, distances, labels) == MUVERA_FAISS_OK);
    float best = -1e30f;
    int64_t best_id = -1;
    for (int i = 0; i < N; i++)
    {
        float dot = 0;
        for (int j = 0; j < D; j++)
        {
            dot += data[j] * data[(i * D) + j];
        }

        if (dot > best)
        {
            best = dot;
            best_id = i;
        }
    }

    CHECK(labels[0] == best_id);
    for (int r = 1; r < K; r++)
    {
        CHECK(distances[r - 1] >= distances[r]);
    }

    for (int q = 0; q < 3; q++)
    {
        float single_distances[K];
        int64_t single_labels[K];
        CHECK(muvera_faiss_search(index, 1, data + (q * D), K, 0, 0, 1, single_distances, single_labels) == MUVERA_FAISS_OK);
        CHECK(memcmp(single_labels, labels + (q * K), sizeof single_labels) == 0);
        CHECK(memcmp(single_distances, distances + (q * K), sizeof single_distances) == 0);
    }

    /* Parameters that do not apply are refused. */
    CHECK(muvera_faiss_search(index, 1, data, K, 4, 0, 0, distances, labels) == MUVERA_FAISS_E_ARGUMENT);
    CHECK(muvera_faiss_search(index, 1, data, K, 0, 8, 0, distances, labels) == MUVERA_FAISS_E_ARGUMENT);
    CHECK(muvera_faiss_search(index, 1, data, 0, 0, 0, 0, distances, labels) == MUVERA_FAISS_E_ARGUMENT);

    /* Round trip through bytes, then truncated and garbage bytes fail cleanly. */
    muvera_faiss_buffer* buffer = NULL;
    const uint8_t* bytes = NULL;
    int64_t size = 0;
    CHECK(muvera_faiss_serialize(index, &buffer, &bytes, &size) == MUVERA_FAISS_OK && size > 0);
    muvera_faiss_index* loaded = NULL;
    CHECK(muvera_faiss_deserialize(bytes, size, &loaded) == MUVERA_FAISS_OK);
    CHECK(muvera_faiss_ntotal(loaded, &ntotal) == MUVERA_FAISS_OK && ntotal == N);
    muvera_faiss_free(loaded);

    int64_t cuts[] = {1, 4, 8, 20, size / 2, size - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++)
    {
        loaded = NULL;
        CHECK(muvera_faiss_deserialize(bytes, cuts[c], &loaded) != MUVERA_FAISS_OK && loaded == NULL);
        CHECK(strlen(muvera_faiss_last_error()) > 0);
    }

    uint8_t* padded = malloc((size_t)size + 1);
    memcpy(padded, bytes, (size_t)size);
    padded[size] = 0;
    CHECK(muvera_faiss_deserialize(padded, size + 1, &loaded) == MUVERA_FAISS_E_FAISS && loaded == NULL);
    memset(padded, 0x5A, (size_t)size);
    CHECK(muvera_faiss_deserialize(padded, size, &loaded) == MUVERA_FAISS_E_FAISS && loaded == NULL);
    free(padded);
    muvera_faiss_buffer_free(buffer);
    muvera_faiss_free(index);
}

static void test_ivf_pq(const float* data)
{
    muvera_faiss_index* index = NULL;
    CHECK(create("IVF8,PQ4x8", &index) == MUVERA_FAISS_OK);
    int32_t trained = 1;
    CHECK(muvera_faiss_is_trained(index, &trained) == MUVERA_FAISS_OK && trained == 0);
    CHECK(muvera_faiss_add(index, N, data, 0) == MUVERA_FAISS_E_ARGUMENT);
    CHECK(muvera_faiss_train(index, 3, data, 0) == MUVERA_FAISS_E_FAISS); /* fewer points than lists */
    CHECK(muvera_faiss_train(index, N, data, 0) == MUVERA_FAISS_OK);
    CHECK(muvera_faiss_add(index, N, data, 0) == MUVERA_FAISS_OK);
    CHECK(muvera_faiss_set_defaults(index, 3, 0) == MUVERA_FAISS_OK);
    CHECK(muvera_faiss_set_defaults(index, 0, 3) == MUVERA_FAISS_E_ARGUMENT);
    muvera_faiss_info info;
    CHECK(muvera_faiss_info_get(index, &info) == MUVERA_FAISS_OK);
    CHECK(info.kind == MUVERA_FAISS_KIND_IVF && info.nlist == 8 && info.nprobe == 3);

    /* Every list probed finds k results; nprobe above nlist means every list. */
    float distances[K];
    int64_t labels[K];
    CHECK(muvera_faiss_search(index, 1, data, K, 1000, 0, 0, distances, labels) == MUVERA_FAISS_OK);
    for (int r = 0; r < K; r++)
    {
        CHECK(labels[r] >= 0 && labels[r] < N);
    }

    muvera_faiss_free(index);
}

static void test_hnsw(const float* data)
{
    muvera_faiss_index* index = NULL;
    CHECK(create("HNSW32", &index) == MUVERA_FAISS_OK);
    CHECK(muvera_faiss_add(index, N, data, 0) == MUVERA_FAISS_OK);
    muvera_faiss_info info;
    CHECK(muvera_faiss_info_get(index, &info) == MUVERA_FAISS_OK && info.kind == MUVERA_FAISS_KIND_HNSW && info.ef_search == 16);

    /* A per-call ef_search above k (fetched as max(k, ef_search) results, then cut to k): batch equals single. */
    float distances[4 * K];
    int64_t labels[4 * K];
    CHECK(muvera_faiss_search(index, 4, data, K, 0, 200, 2, distances, labels) == MUVERA_FAISS_OK);
    for (int q = 0; q < 4; q++)
    {
        float single_distances[K];
        int64_t single_labels[K];
        CHECK(muvera_faiss_search(index, 1, data + (q * D), K, 0, 200, 1, single_distances, single_labels) == MUVERA_FAISS_OK);
        CHECK(memcmp(single_labels, labels + (q * K), sizeof single_labels) == 0);
    }

    /* With ef_search 200 of 500 vectors, HNSW finds the exact best match of these queries. */
    muvera_faiss_index* flat = NULL;
    CHECK(create("Flat", &flat) == MUVERA_FAISS_OK);
    CHECK(muvera_faiss_add(flat, N, data, 0) == MUVERA_FAISS_OK);
    float exact_distances[4 * K];
    int64_t exact_labels[4 * K];
    CHECK(muvera_faiss_search(flat, 4, data, K, 0, 0, 0, exact_distances, exact_labels) == MUVERA_FAISS_OK);
    for (int q = 0; q < 4; q++)
    {
        CHECK(labels[q * K] == exact_labels[q * K]);
    }

    muvera_faiss_free(flat);

    CHECK(muvera_faiss_set_defaults(index, 0, 48) == MUVERA_FAISS_OK);
    CHECK(muvera_faiss_info_get(index, &info) == MUVERA_FAISS_OK && info.ef_search == 48);
    muvera_faiss_free(index);
}

static void test_refusals(void)
{
    muvera_faiss_index* index = (muvera_faiss_index*)&failures;
    CHECK(create("NoSuchIndex", &index) == MUVERA_FAISS_E_FAISS && index == NULL);
    CHECK(strlen(muvera_faiss_last_error()) > 0);
    CHECK(create("IDMap,Flat", &index) == MUVERA_FAISS_E_UNSUPPORTED && index == NULL);
    /* FAISS 1.7.3 itself refuses LSH with inner product; whichever side refuses, no index comes back. */
    int status = create("LSH", &index);
    CHECK((status == MUVERA_FAISS_E_FAISS || status == MUVERA_FAISS_E_UNSUPPORTED) && index == NULL);
    CHECK(muvera_faiss_create("Flat", 0, &index) == MUVERA_FAISS_E_ARGUMENT);
    CHECK(muvera_faiss_create(NULL, D, &index) == MUVERA_FAISS_E_ARGUMENT);
    int64_t ntotal;
    CHECK(muvera_faiss_ntotal(NULL, &ntotal) == MUVERA_FAISS_E_ARGUMENT);
    CHECK(muvera_faiss_deserialize(NULL, 0, &index) == MUVERA_FAISS_E_ARGUMENT);
    muvera_faiss_free(NULL);
    muvera_faiss_buffer_free(NULL);
}

int main(void)
{
    CHECK(muvera_faiss_abi_version() == MUVERA_FAISS_ABI_VERSION);
    CHECK(muvera_faiss_faiss_version() >= 10703);
    CHECK(muvera_faiss_max_threads() >= 1);

    float* data = malloc(sizeof(float) * N * D);
    unsigned state = 12345u;
    for (int i = 0; i < N * D; i++)
    {
        data[i] = next_value(&state);
    }

    test_flat(data);
    test_ivf_pq(data);
    test_hnsw(data);
    test_refusals();
    free(data);

    if (failures > 0)
    {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }

    printf("muvera_faiss ABI test: all checks passed\n");
    return 0;
}
