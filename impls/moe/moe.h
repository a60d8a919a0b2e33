/* moe.h - private to impls/moe: the MoE layer object and the seams between
 * its files (moe.c lifecycle and knobs, moe_route.c routing and grouping,
 * moe_forward.c the optimized forward, moe_ref.c the plain-loop oracle).
 * Nothing outside impls/moe includes it; the tests do, to count distinct
 * experts by brute force from the same routing.
 */
#ifndef SPARSEBENCH_MOE_H
#define SPARSEBENCH_MOE_H

#include "../common/common.h"
#include "../layer.h"

#include <stddef.h>
#include <stdint.h>

extern const struct layer_ops moe_ops;

/* Zipf draws keep the drawn ranks on the stack. */
#define MOE_ZIPF_MAX_K 64

enum moe_routing {
    MOE_ROUTING_ROUTER,  /* top-k of the router logits */
    MOE_ROUTING_UNIFORM, /* k distinct experts uniformly at random per token */
    MOE_ROUTING_ZIPF,    /* k distinct experts with Zipf(A) popularity */
};

/* The knobs as the user wrote them, defaults resolved in create. experts,
 * top_k and expert_width describe the layer before granularity splits it. */
struct moe_knobs {
    long experts;      /* E0; 0 until resolved: scale x top_k */
    long top_k;        /* K0 */
    long expert_width; /* f0; 0 until resolved: 4D / top_k */
    long shared_experts;
    long granularity; /* g: E = g E0 experts of width f0 / g, K = g K0 active */
    int bias;
    char routing[COMMON_KNOB_STR_LEN];
    char dtype[COMMON_KNOB_STR_LEN]; /* f32 | bf16 | f16: of the experts' w1 and w2 */
};

/* One grouped GEMM job: rows [row0, row0 + rows) of expert `expert`. */
struct moe_task {
    uint32_t expert, row0, rows;
};

/* The blocks create allocates (moe.c's moe_layout lays them out). */
enum { MOE_DENSE, MOE_EXPERTS, MOE_SCRATCH, MOE_BLOCKS };

struct moe {
    struct layer base;
    struct moe_knobs knobs;
    size_t D, E, K, F; /* F: width of one routed expert after granularity */
    size_t S;          /* shared experts, each of width F */
    enum moe_routing routing;
    enum layer_dtype dtype; /* of every expert's (and the shared FFN's) w1 and w2 */
    double zipf_a;
    uint64_t seed;
    int threads;
    size_t max_tokens;

    struct common_carve blk[MOE_BLOCKS];
    uint64_t bytes; /* all of blk: what check reports */

    /* ---- parameters: two blocks, the regions describe() reports ---- */
    float *dense_block;       /* router then the shared FFN: read by every forward */
    size_t dense_bytes;       /* parameter bytes in dense_block */
    float *router;            /* (D, E): column e scores expert e, see moe_route.c */
    void *shared_block;       /* the shared FFN's tensors in dense_block, NULL when S = 0 */
    struct common_ffn shared; /* width S F; width 0 when S = 0 */
    char *expert_block;       /* E expert blocks of expert_stride bytes */
    size_t expert_stride;     /* bytes per expert block, 64-byte multiple */
    uint64_t expert_params;   /* parameters of one routed expert */
    uint64_t expert_bytes;    /* their bytes as stored (w1, w2 of dtype; fp32 biases) */
    struct common_ffn *ffn;   /* (E) views into expert_block */
    double *zipf_cdf;         /* (E) cumulative popularity by rank, zipf only */
    uint32_t *zipf_perm;      /* (E) expert at each popularity rank, zipf only */

    /* ---- scratch, sized for max_tokens T and P = T K (token, slot) pairs ---- */
    float *logits;          /* (T, E) */
    uint32_t *sel;          /* (P) chosen expert of pair p = t K + j */
    float *sel_w;           /* (P) its combine weight */
    uint32_t *count;        /* (E) pairs per expert, then the grouping's fill cursors */
    uint32_t *offset;       /* (E + 1) prefix sums of count */
    uint32_t *row_pair;     /* (P) grouped row -> pair */
    uint32_t *pair_row;     /* (P) pair -> grouped row */
    struct moe_task *tasks; /* (P + E) */
    float *xg;              /* (P, D) gathered inputs, grouped by expert */
    float *hg;              /* (P, F) hidden activations */
    float *yg;              /* (P, D) expert outputs before the weighted combine */
    float *hs;              /* (T, S F) shared-FFN hidden, NULL when S = 0 */
    float *wide;            /* (threads, wide_floats) narrow tiles widened for sgemm, or NULL */
    size_t wide_floats;     /* per worker: common_ffn_wide_floats of an expert or the shared FFN */

    struct common_pool *pool;
};

/* ---- moe_route.c ---- */

/* logits (T, E) = x (T, D) . router, each logit summed over d in increasing
 * order whatever T is, so forward and forward_ref rank experts on identical
 * floats. pool may be NULL. */
void moe_route_logits(const struct moe *m, const float *x, size_t n_tokens, float *logits,
                      struct common_pool *pool);

/* Fill sel (T K) and sel_w (T K) from the logits (and, for uniform/zipf, the
 * token bytes). Can't fail. */
void moe_route_select(const struct moe *m, const float *x, const float *logits, size_t n_tokens,
                      uint32_t *sel, float *sel_w);

/* For uniform / zipf routing: the K distinct experts token x (D) draws, in
 * draw order, into out (K). A pure function of the token's bytes and the
 * layer seed. */
void moe_route_draw(const struct moe *m, const float *x, uint32_t *out);

/* Counting sort of the P = T K pairs by expert: count, offset, row_pair and
 * pair_row; rows of one expert keep token order. Returns the number of
 * distinct experts touched. */
size_t moe_route_group(struct moe *m, size_t n_tokens);

/* ---- moe_forward.c / moe_ref.c ---- */

int moe_forward(struct layer *l, const float *x, float *y, size_t n_tokens, struct layer_stats *st);
int moe_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens);

/* The routing forward_ref uses, in plain loops, for one token x (D): its
 * logits (E, scratch), chosen experts sel (K) and weights sel_w (K). Exposed
 * so the tests can count distinct experts by brute force. */
void moe_ref_route_token(const struct moe *m, const float *x, float *logits, uint32_t *sel,
                         float *sel_w);

#endif
