/* fff.h - what the FFF files share: the layer struct, its parameter layout,
 * the per-node kernels (dot, axpy) and the create/describe/stats plumbing.
 *
 * UltraFastBERT's fast feed-forward layer (research/fff.md section 1.3): K
 * balanced binary trees of depth Dp, 2^(Dp+1) - 1 one-neuron nodes each, in
 * heap order. A token walks every tree from the root through Dp + 1 nodes:
 * z = w_in[n] . x + b[n], y += gelu(z) w_out[n], n = 2n + 1 + (z > 0).
 *
 * Parameter block (one allocation, node-major rows, tree k at rows k*NN..):
 *   w_in (N, D), w_out (N, D) stored as the dtype knob's type (f32, bf16 or
 *   f16; no fp32 copy is kept), b (N) fp32 when bias=1; N = K * NN.
 * w_out is PyTorch's linear_out.weight transposed, so a node's output vector
 * is one contiguous row. Narrow rows are widened exactly on load (vec.h's
 * common_vec_load_dt) and every sum stays fp32, so the kernels compute the
 * reference's function of the stored values.
 */
#ifndef SPARSEBENCH_FFF_H
#define SPARSEBENCH_FFF_H

#include "../common/common.h"
#include "../common/vec.h"
#include "../layer.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
    char weights[COMMON_KNOB_STR_LEN]; /* random | unwritten (never written: zero pages) */
    int activation; /* 0: a node's output row is added unscaled, as the published fff_l2 */
    char dtype[COMMON_KNOB_STR_LEN]; /* f32 | bf16 | f16: the stored type of w_in, w_out */
};

/* The blocks create allocates (fff_layer.c's fff_layout lays them out). */
enum { FFF_PARAMS, FFF_SCRATCH, FFF_BLOCKS };

struct fff {
    struct layer base;
    struct fff_knobs knobs;
    size_t d_model;    /* D */
    size_t tree_nodes; /* NN = 2^(Dp+1) - 1 */
    size_t n_nodes;    /* N = K * NN */
    size_t max_tokens;
    int threads;
    int level_kernel; /* fff.c's scratch is allocated */
    struct common_carve blk[FFF_BLOCKS];
    uint64_t bytes; /* all of blk: what check reports */
    float *params;  /* the block above */
    size_t param_bytes;
    int unwritten;       /* weights=unwritten: the parameter block is never written */
    enum layer_dtype dt; /* the element type of w_in and w_out */
    size_t row_bytes;    /* one node row of w_in or w_out: D elements of dt */
    const void *w_in;    /* (N, D) of dt */
    const void *w_out;   /* (N, D) of dt */
    const float *b;      /* (N) or NULL; fp32 whatever dt is */
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
/* fff_create_layer for fff-l1/fff-l2, whose BLAS calls read fp32 only:
 * dtype other than f32 is LAYER_EKNOB with a message saying so; and the
 * matching check. */
int fff_create_f32_only(const struct layer_config *cfg, const struct layer_ops *ops,
                        struct fff **out, char *err, size_t errlen);
int fff_check_f32_only(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen);
void fff_destroy(struct layer *l);
/* What fff_create_layer would return, without allocating (layer_ops.check
 * of fff and of fff-token). */
int fff_check_level(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen);
int fff_check_token(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen);
void fff_describe(const struct layer *l, struct layer_info *info);
void fff_help(char *buf, size_t len);
/* linear_in.weight (N, D), linear_out.weight_t (N, D) and, with bias,
 * linear_in.bias (N), node-major in heap order tree after tree; nothing is
 * derived (layer_ops.param of fff and fff-token). */
int fff_param(struct layer *l, size_t i, struct layer_param *p);

/* Clear the per-worker counters before a forward; fill *st after it from
 * what the workers counted (visits, unique nodes). */
void fff_stats_begin(struct fff *f);
void fff_stats_end(const struct fff *f, size_t n_tokens, struct layer_stats *st);

/* The per-token walk of tokens [t0, t1) through every tree, counting into
 * worker w's slots (fff_token.c; also fff.c's small-batch path). */
void fff_walk_tokens(struct fff *f, const float *x, float *y, size_t t0, size_t t1, int worker);

/* Split [0, T) over the pool, each worker walking its own token range. */
void fff_walk_parallel(struct fff *f, const float *x, float *y, size_t n_tokens);

/* The scale of node row `w_out` in the output: gelu(z), or 1 with
 * activation=0 (research/fff.md section 2.2 item 3: the published fff_l2
 * passes alpha = 1 and never uses the GELU it computes). */
static inline float fff_node_scale(const struct fff *f, float z)
{
    if (!f->knobs.activation)
        return 1.0f;
    common_gelu(&z, 1);
    return z;
}

/* The dense masked reference (fff_ref.c). */
int fff_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens);

/* Row n (a heap index plus its tree's base) of w_in or w_out. */
static inline const void *fff_row(const struct fff *f, const void *w, size_t n)
{
    return (const char *)w + n * f->row_bytes;
}

/* The per-node dot, the four-token dot and the axpy are common/vec.h's
 * common_vec_dot_dt, common_vec_dot4_dt and common_vec_axpy_dt, shared with
 * the dense small-batch path (common_vec_dot bit for bit at f32), so every
 * variant rounds identically and fff-token and fff agree to the bit at every
 * dtype. Inlined with a constant dt, one body serves the three types. */

#endif
