/* fff.h - what the FFF files share: the layer struct, its parameter layout,
 * the per-node kernels (dot, axpy) and the create/describe/stats plumbing.
 *
 * UltraFastBERT's fast feed-forward layer (research/fff.md section 1.3): K
 * balanced binary trees of depth Dp, 2^(Dp+1) - 1 one-neuron nodes each, in
 * heap order. A token walks every tree from the root through Dp + 1 nodes:
 * z = w_in[n] . x + b[n], y += gelu(z) w_out[n], n = 2n + 1 + (z > 0).
 *
 * Parameter block (one allocation, node-major rows, tree k at rows k*NN..):
 *   w_in (N, D), w_out (N, D), b (N) when bias=1; N = K * NN.
 * w_out is PyTorch's linear_out.weight transposed, so a node's output vector
 * is one contiguous row.
 */
#ifndef SPARSEBENCH_FFF_H
#define SPARSEBENCH_FFF_H

#include "../common/common.h"
#include "../layer.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__FMA__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#define FFF_MAX_DEPTH 24

/* Level-by-level kernel (fff.c): tokens per tile, the most buckets a
 * phase-start counting sort may use, and the per-worker tile scratch:
 * six (FFF_TILE) arrays of 4-byte values. */
#define FFF_TILE        64
#define FFF_SORT_MAX    65536
#define FFF_TILE_ARRAYS 6

struct fff_knobs {
    long trees; /* K */
    long depth; /* Dp: a token visits Dp + 1 nodes per tree */
    int bias;   /* node input bias, as the released checkpoint (linear_in bias=True) */
};

struct fff {
    struct layer base;
    struct fff_knobs knobs;
    size_t d_model;    /* D */
    size_t tree_nodes; /* NN = 2^(Dp+1) - 1 */
    size_t n_nodes;    /* N = K * NN */
    size_t max_tokens;
    int threads;
    float *params; /* the block above */
    size_t param_bytes;
    const float *w_in;  /* (N, D) */
    const float *w_out; /* (N, D) */
    const float *b;     /* (N) or NULL */
    struct common_pool *pool;

    /* Per-forward counts, one slot per worker so no two threads share a byte:
     * marks[w * N + n] = 1 when worker w evaluated node n; visits[w * 8] node
     * evaluations (padded to a cache line). */
    unsigned char *marks; /* (threads, N) */
    uint64_t *visits;     /* (threads * 8) */

    /* Scratch of the level-by-level kernel (fff.c), NULL for fff-token. */
    uint32_t *node_of; /* (max_tokens) current node of each token, heap index in its tree */
    uint32_t *order;   /* (max_tokens) tokens sorted by node at the start of a phase */
    uint32_t *counts;  /* (sort_buckets + 1) counting-sort histogram */
    size_t sort_buckets;
    float *acts;                 /* (max_tokens, Dp + 1) activations of one tree's walk */
    unsigned char *tile_scratch; /* (threads, tile_bytes) */
    size_t tile_bytes;

    float *ref_z; /* (N) reference pre-activations of one token */
};

/* Parse the knobs, check memory, allocate and initialise everything: the
 * weights, the pool, the stats counters and, with level_kernel, the
 * scratch of fff.c. `ops` is the variant's table. */
int fff_create_layer(const struct layer_config *cfg, const struct layer_ops *ops, int level_kernel,
                     struct fff **out, char *err, size_t errlen);
void fff_destroy(struct layer *l);
void fff_describe(const struct layer *l, struct layer_info *info);
void fff_help(char *buf, size_t len);

/* Clear the per-worker counters before a forward; fill *st after it from
 * what the workers counted (visits, unique nodes). */
void fff_stats_begin(struct fff *f);
void fff_stats_end(const struct fff *f, size_t n_tokens, struct layer_stats *st);

/* The per-token walk of tokens [t0, t1) through every tree, counting into
 * worker w's slots (fff_token.c; also fff.c's small-batch path). */
void fff_walk_tokens(struct fff *f, const float *x, float *y, size_t t0, size_t t1, int worker);

/* Split [0, T) over the pool, each worker walking its own token range. */
void fff_walk_parallel(struct fff *f, const float *x, float *y, size_t n_tokens);

/* The dense masked reference (fff_ref.c). */
int fff_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens);

/* ---- per-node kernels, shared so every variant rounds identically ----
 * GCC vector extensions rather than intrinsics: 16 lanes (one zmm) with
 * AVX-512, 8 (one ymm) without, and the same source builds anywhere. */

#ifdef __AVX512F__
#define FFF_VL  16
#define FFF_ACC 4 /* accumulators a dot: FMA latency x throughput, and 4 tokens fit 32 zmm */
#else
#define FFF_VL  8
#define FFF_ACC 2 /* 4 tokens x 2 fit 16 ymm */
#endif

typedef float fff_vec __attribute__((vector_size(FFF_VL * sizeof(float))));

static inline fff_vec fff_load(const float *p)
{
    fff_vec v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void fff_store(float *p, fff_vec v)
{
    memcpy(p, &v, sizeof(v));
}

/* a b + c in one rounding where the ISA has it: -std=c11 turns GCC's
 * contraction off, and these loops should run like a BLAS kernel. */
static inline fff_vec fff_fma(fff_vec a, fff_vec b, fff_vec c)
{
#if defined(__AVX512F__)
    return _mm512_fmadd_ps(a, b, c);
#elif defined(__FMA__)
    return _mm256_fmadd_ps(a, b, c);
#else
    return a * b + c;
#endif
}

/* Lanes summed as a tree, not a chain: a chain of FFF_VL dependent adds is
 * the longest latency of a one-token dot. */
static inline float fff_hsum(const fff_vec acc[FFF_ACC])
{
    fff_vec s = acc[0];
    for (int k = 1; k < FFF_ACC; k++)
        s += acc[k];
    float v[FFF_VL];
    memcpy(v, &s, sizeof(v));
    for (int w = FFF_VL / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++)
            v[i] += v[i + w];
    return v[0];
}

/* w . x with FFF_ACC accumulators over consecutive vectors, leftover
 * vectors into the first ones, a scalar tail and a tree of lanes: the order
 * every variant uses, so fff and fff-token agree bit for bit and route
 * every token identically. */
static inline float fff_dot(const float *w, const float *x, size_t n)
{
    fff_vec acc[FFF_ACC] = {{0}};
    size_t i = 0;
    for (; i + FFF_ACC * FFF_VL <= n; i += FFF_ACC * FFF_VL)
        for (int k = 0; k < FFF_ACC; k++)
            acc[k] = fff_fma(fff_load(w + i + k * FFF_VL), fff_load(x + i + k * FFF_VL), acc[k]);
    for (int k = 0; i + FFF_VL <= n; i += FFF_VL, k++)
        acc[k] = fff_fma(fff_load(w + i), fff_load(x + i), acc[k]);
    float tail = 0.0f;
    for (; i < n; i++)
        tail += w[i] * x[i];
    return fff_hsum(acc) + tail;
}

/* y = a w (first node a token visits) or y += a w. */
static inline void fff_axpy(float *y, float a, const float *w, size_t n, int assign)
{
    fff_vec av = {0};
    av += a;
    size_t i = 0;
    if (assign) {
        for (; i + FFF_VL <= n; i += FFF_VL)
            fff_store(y + i, av * fff_load(w + i));
        for (; i < n; i++)
            y[i] = a * w[i];
        return;
    }
    for (; i + FFF_VL <= n; i += FFF_VL)
        fff_store(y + i, fff_fma(av, fff_load(w + i), fff_load(y + i)));
    for (; i < n; i++)
        y[i] += a * w[i];
}

/* Pull a row into the caches ahead of use (a hint, never a fault). */
static inline void fff_prefetch_row(const float *row, size_t n)
{
    for (size_t i = 0; i < n; i += 64 / sizeof(float))
        __builtin_prefetch(row + i);
}

#endif
