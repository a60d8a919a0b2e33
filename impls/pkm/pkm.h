/* pkm.h - the product-key memory layer's internals, shared by its files and
 * by tests/check_pkm.c. The harness only sees pkm_ops (layer.h).
 *
 * Lample et al., "Large Memory Layers with Product Keys", NeurIPS 2019, and
 * the XLM reference code (research/ultramem_pkm.md section 3). One forward:
 *
 *   q = BN(W x + b)                      (H heads of d_k; BN folded into W, b)
 *   per head: s1 = C q1, s2 = C' q2      (n sub-keys per half, d_k/2 each)
 *             I1 = topk(s1), I2 = topk(s2), then the top-k of s1_i + s2_j
 *             over I1 x I2, which is the top-k over all n^2 keys i*n + j
 *             w = softmax over the k selected scores
 *   y = sum over heads and slots of w * V[i*n + j]     (V is (n^2, D))
 *
 * The ranking order of the keys is pkm_select.h's.
 *
 * ---- dtype (issue 18) ----
 * dtype=bf16|f16 stores the value table V, the tensor the gather streams,
 * in that type only (no fp32 copy: half the bytes, in memory and in the
 * stats); the query Linear, BatchNorm, its folded copy and the sub-keys stay
 * fp32 (together H d_k (D + n) floats, read once per batch and scored with
 * sgemm). The seeded init draws V in fp32 exactly as at f32 and rounds each
 * element to nearest even, so layers of one seed in the three types are one
 * model up to that rounding. The gather widens rows on load (vec.h) and
 * accumulates in fp32; forward_ref reads the same stored elements through
 * common_dtype_at. Widening is exact, so the two paths still compute the
 * same function and the reference check keeps its 1e-4.
 *
 * ---- Near ties (why forward and forward_ref still pick the same keys) ----
 * forward computes the query with the folded Linear in OpenBLAS's order,
 * forward_ref with the unfolded Linear and BN in double: their scores differ
 * by up to ~2e-6 (measured). Where two keys' scores are that close across the
 * top-k boundary the two paths would select different sets (measured at
 * D = 768: 2 in 12,288 token-heads, changing y by up to 4e-3, which fails the
 * harness's 1e-4 check). So forward selects K + 1 keys; when the K-th leads
 * the (K+1)-th by less than 2^-19 of B = |q1| max|c| + |q2| max|c'| (a
 * Cauchy-Schwarz bound on the scores) it recomputes that head's query and
 * half scores with the reference's own functions (pkm_exact_*) and selects
 * again, so both paths rank identical floats. The largest score difference
 * measured over eight shapes (D 64..4096, d_k 64..1024, BN off, inputs x100)
 * is 2^-22.4 B, eight times inside the margin. About 0.5% of token-heads are
 * rescored, ~40 us each at D = 768. Inside the selected set, keys a rounding
 * apart may still be listed in a different order by the two paths; y does
 * not depend on that order.
 */
#ifndef SPARSEBENCH_PKM_H
#define SPARSEBENCH_PKM_H

#include "../common/common.h"
#include "../layer.h"
#include "pkm_select.h"

#include <stddef.h>
#include <stdint.h>

extern const struct layer_ops pkm_ops;

/* Token blocks of up to this many tokens get their query and sub-key scores
 * from common_gemm_small_nt instead of OpenBLAS (knob small_gemm; the
 * measurements: pkm_forward.c). */
#define PKM_SMALL_GEMM_DEFAULT     16
#define PKM_SMALL_GEMM_DEFAULT_STR "16"

struct pkm_knobs {
    long heads;   /* H */
    long topk;    /* K */
    long key_dim; /* d_k, split into two halves */
    long n_keys;  /* n sub-keys per half, n^2 values; 0 = derived from the scale */
    int batchnorm;
    char dtype[COMMON_KNOB_STR_LEN]; /* f32 | bf16 | f16: the value table's stored type */
    long small_gemm; /* token blocks up to this size scored by common_gemm_small_nt */
};

/* Value-major work list: the unique rows of a batch, ascending, each with the
 * (token, weight) pairs that read it. */
struct pkm_rowlist {
    size_t n_rows;     /* U unique rows this batch */
    uint32_t *row;     /* (U) value row, ascending */
    uint32_t *start;   /* (U + 1) first entry of row u in tok/wt */
    uint32_t *tok;     /* (T * H * K) token of each entry, grouped by row */
    float *wt;         /* (T * H * K) softmax weight of each entry */
    uint64_t *bitmap;  /* (ceil(N / 64)) rows seen, all zero between forwards */
    uint32_t *row_uid; /* (N) unique id of a seen row; valid only for seen rows */
};

/* The blocks create allocates (pkm.c's pkm_layout lays them out). */
enum { PKM_PARAMS, PKM_VALUES, PKM_RAW, PKM_SCRATCH, PKM_BLOCKS };

struct pkm {
    struct layer base;
    struct pkm_knobs knobs;
    size_t d_model;    /* D = d_v */
    size_t half;       /* d_k / 2 */
    size_t q_dim;      /* H * d_k */
    size_t n_values;   /* N = n^2 */
    size_t max_tokens; /* T_max */
    int threads;
    enum layer_dtype dtype; /* of values; everything else is fp32 */

    struct common_carve blk[PKM_BLOCKS];
    uint64_t bytes; /* all of blk: what check reports */

    /* Parameters forward reads: block PKM_PARAMS, listed as region 0. */
    size_t param_bytes;
    float *wq;    /* (H d_k, D) query Linear with BN folded in */
    float *bq;    /* (H d_k) its bias, BN folded in */
    float *bn;    /* (4, H d_k) BN gamma, beta, running mean, running var */
    float *keys;  /* (H, 2, n, d_k/2) sub-keys, XLM's layout */
    void *values; /* (N, D) of dtype, its own block: region 1 */

    /* The unfolded query Linear the reference applies BN after (not read by
     * forward, so not a region: it exists so the folding is tested). */
    float *wq_raw; /* (H d_k, D) */
    float *bq_raw; /* (H d_k) */

    /* forward scratch, sized for T_max */
    float *q;                /* (T, H d_k) */
    float *s;                /* (H, 2, T, n) sub-key scores */
    struct pkm_pick *picks;  /* (T, H, K) */
    float *w;                /* (T, H, K) softmax weights */
    float *y_part;           /* (threads - 1, T, D) the gather's partial outputs */
    size_t n_sel;            /* K' = min(K + 1, N): the extra pick witnesses the boundary */
    size_t n_cands;          /* M = pkm_candidate_count(K', n) */
    float *key_norm;         /* (H, 2) largest sub-key norm of each head's half */
    struct pkm_worker *work; /* (threads) */
    uint64_t last_exact;     /* near ties the last forward rescored */
    struct pkm_rowlist rl;
    struct common_pool *pool;

    /* forward_ref scratch */
    float *ref_q;               /* (H d_k) one token */
    float *ref_s;               /* (2, n) */
    double *ref_y;              /* (D) */
    struct pkm_pick *ref_picks; /* (T, H, K) */
    float *ref_w;               /* (T, H, K) */
};

/* One pool worker's scratch. */
struct pkm_worker {
    struct pkm_select_scratch sel;
    struct pkm_pick *picks; /* (K') this head's top K + 1 */
    float *q, *s1, *s2;     /* (d_k), (n), (n): a near tie's exact rescoring */
    uint64_t n_exact;       /* rescorings this forward */
    _Alignas(64) char end;  /* one cache line of its own for n_exact */
};

/* ---- pkm_gather.c: the value read ---- */

/* Group the batch's (T, H, K) picks by value row; returns U, the number of
 * unique rows touched. */
size_t pkm_group_rows(struct pkm *p, size_t n_tokens);

/* y (T, D) = sum over each token's entries of weight * V[row], value-major:
 * every unique row is streamed from memory once; threads > 1 uses the pool
 * and p->y_part. */
void pkm_gather(struct pkm *p, float *y, size_t n_tokens, int threads);

/* ---- pkm_forward.c ---- */

int pkm_forward(struct layer *l, const float *x, float *y, size_t n_tokens, struct layer_stats *st);

/* ---- pkm_ref.c ---- */

/* Head h's query, BN(W x + b)[h d_k ...] from the unfolded parameters, and
 * its half scores against the head's sub-keys, in double rounded to float:
 * what forward_ref ranks, and what forward recomputes on a near tie. */
void pkm_exact_query_head(const struct pkm *p, const float *x, size_t h, float *q);
void pkm_exact_half_scores(const struct pkm *p, size_t h, const float *q, float *s1, float *s2);

/* The brute force: the top K of all n^2 sums s1_i + s2_j in the order above. */
void pkm_ref_select_head(const float *s1, const float *s2, size_t n, size_t k,
                         struct pkm_pick *out);

int pkm_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens);

/* ---- for tests: what the last forward (ref = 0) or forward_ref (ref = 1)
 * selected, (T, H, K) each, best first per (token, head). ---- */
struct pkm_selection {
    size_t heads, topk, n_keys;
    const struct pkm_pick *picks;
    const float *w;
    uint64_t n_exact; /* forward only: token-heads rescored for a near tie */
};
void pkm_last_selection(const struct layer *l, int ref, struct pkm_selection *out);

#endif
