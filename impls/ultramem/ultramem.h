/* ultramem.h - what the files of impls/ultramem/ share: the layer struct, its
 * knobs and the functions one file calls in another. Not part of layer.h:
 * only this family and its tests include it.
 *
 * Letters (research/ultramem_pkm.md section 1.3): D model width, Dk key/query
 * dim, Dv value dim, H retrieval heads, n keys per side of the physical grid,
 * np = sqrt(E) n keys per side of the virtual grid (n' in the paper), N = n^2
 * physical value rows, E virtual blocks, r Tucker rank, h scoring cores, m
 * values kept per head, ms = min(m, np) rows (and columns) the rank-1 filter
 * keeps per side.
 */
#ifndef SPARSEBENCH_ULTRAMEM_H
#define SPARSEBENCH_ULTRAMEM_H

#include "../common/common.h"
#include "../layer.h"

#include <stddef.h>
#include <stdint.h>

#define ULTRAMEM_MAX_RANK  4 /* the paper sweeps r = 2, 3, 4 (UM1 Table 3) */
#define ULTRAMEM_MAX_CORES 8 /* and h = 2, 4, 8 */

struct ultramem_knobs {
    long heads;                       /* H; the v1 code shares one query between at most 2 heads */
    long topm;                        /* m; 0 = min(80, np) */
    long tucker_rank;                 /* r */
    long cores;                       /* h */
    long expand;                      /* E, a perfect square */
    long key_dim;                     /* Dk; 0 = D/4 */
    long value_dim;                   /* Dv; 0 = D/2 */
    long n_keys;                      /* n; 0 = from the scale */
    char filter[COMMON_KNOB_STR_LEN]; /* "top" (the v1 code) or "signed" */
};

/* One worker's scratch for the selection and gather tasks; carved out of
 * one block per worker so workers never share a cache line. */
struct ultramem_work {
    float *a, *b;        /* (np) rank-1 row / column scores */
    float *neg;          /* (np) -a or -b, for the bottom-ms of the signed filter */
    uint32_t *surv_key;  /* (max(np, max_cand)) ultramem_topk_set scratch */
    uint32_t *surv_pos;  /* (max(np, max_cand) + 16) its result in the first k */
    uint8_t *row_flag;   /* (np) bit 0: kept as a top row, bit 1: as a bottom row */
    uint8_t *col_flag;   /* (np) */
    uint32_t *rows;      /* (2 ms) kept rows, ascending */
    uint32_t *cols;      /* (2 ms) kept columns, ascending */
    uint8_t *rowf;       /* (2 ms) flags of rows[] */
    uint8_t *colf;       /* (2 ms) flags of cols[] */
    float *col_score;    /* (r, 2 ms) S_col of the kept columns, rank-major */
    float *row_buf;      /* (2 ms) one row of candidate totals */
    float *cand_val;     /* (max_cand) candidate totals */
    uint32_t *cand_vidx; /* (max_cand) their virtual indices i np + j */
    uint32_t *hit_row;   /* (H m) physical row (or folded row) of each hit */
    uint32_t *hit_blk;   /* (H m) virtual block of each hit */
    uint64_t macs;       /* multiply-adds this worker executed in this forward */
};

/* Reference-forward scratch: plain loops need the full score grid. */
struct ultramem_ref_scratch {
    float *q;        /* (2 Dk) */
    float *sr, *sc;  /* (np, r) */
    float *grid;     /* (np, np) */
    float *a;        /* (np) */
    uint8_t *rkeep;  /* (np) */
    uint8_t *ckeep;  /* (np) */
    float *list_val; /* (max(m, ms)) the sorted insertion list */
    uint32_t *list_idx;
    uint32_t *vidx; /* (H, m) */
    float *score;   /* (H, m, h) per-core scores */
    float *pooled;  /* (E, Dv) */
};

struct ultramem {
    struct layer base;
    struct ultramem_knobs knobs; /* resolved: every size filled in */
    const struct common_knob_set *knob_set;
    int merged;        /* each (block, core) projection folded into its own table */
    int signed_filter; /* keep the bottom-ms rows and columns too */
    size_t D, Dk, Dv, Dc, H, m, ms, r, h, E, n, np, N;
    size_t max_cand; /* candidates per (token, head), upper bound */
    size_t max_tokens;
    int threads;

    /* ---- parameters and inference constants ---- */
    float *dense;       /* one block holding the tensors below */
    size_t dense_bytes; /* every byte of it is read by every forward */
    float *keys;        /* (2, H, np, r, Dk) LayerNorm applied at create; side 0 rows, 1 cols */
    float *wq;          /* (2 Dk, D) query_proj.weight */
    float *q_ln;        /* (Dk) query_norm.weight, shared by both halves */
    float *cores;       /* (h, H, r, r) tucker_core[c][head] */
    float *core_sum;    /* (H, r, r) sum over the cores */
    float *u, *v;       /* (H, r) leading singular vectors of core_sum */
    float *wo;          /* (D, E Dv) values_proj.weight; NULL when merged */
    float *values;      /* (N, Dv) values_for_look_up; NULL when merged */
    float *folded;      /* (E N, h, D) merged only: table t holds, per core c, */
                        /* V[t mod N, slice c] W_{t div N}[slice c, :] */
    uint32_t *shuffle;  /* (E N) shuffle_index, a fixed permutation */

    /* ---- forward scratch, sized for max_tokens ---- */
    float *q;                   /* (T, 2 Dk) */
    float *sr, *sc;             /* (T, H np r) row / column scores, [t][head][i][rank] */
    uint32_t *sel;              /* (T, H, m) selected virtual indices, ascending */
    float *sel_score;           /* (T, H, m, h) their per-core scores */
    uint32_t *hit_row;          /* (T, H m) physical (or folded) row of each selection */
    float *pooled;              /* (T, E Dv); unused when merged */
    uint64_t *touched;          /* (N or E N bits) units touched by this batch */
    size_t n_units;             /* N, or E N when merged */
    struct ultramem_work *work; /* (threads) */
    void *work_block;
    struct ultramem_ref_scratch ref;
    void *ref_block;
    struct common_pool *pool;
};

/* ---- ultramem_init.c ---- */

/* Fill every parameter of u (sizes set, memory allocated) from cfg seed as
 * the official v1 code's reset_parameters does, pre-apply the key LayerNorm
 * and compute u, v. Can't fail. */
void ultramem_init_weights(struct ultramem *u, uint64_t seed);

/* Leading singular triple of the r x r matrix c (row-major): c v = s u,
 * |u| = |v| = 1, sign chosen so that sum(u) >= 0. Can't fail. */
void ultramem_svd_leading(const float *c, size_t r, float *u_out, float *v_out, float *s_out);

/* ---- ultramem_topk.c ---- */

/* The positions of the k best of v[0..n) (larger value first, then smaller
 * position, as common_topk) into pos[0..k), ascending. Scratch: pos n + 16
 * entries, keys n. Requires 1 <= k, no NaN in v. */
void ultramem_topk_set(const float *v, size_t n, size_t k, uint32_t *pos, uint32_t *keys);

/* ---- ultramem_score.c ---- */

/* C (T, N) = A (T, K) B^T, B (N, K) row-major, as sgemv at T = 1. */
struct ultramem_gemm {
    size_t T, N, K;
    const float *A;
    size_t lda;
    const float *B;
    size_t ldb;
    float *C;
    size_t ldc;
};

/* Run n_gemm products, each split by columns of C over u's pool, every
 * piece a single-threaded OpenBLAS call. */
void ultramem_gemm_run(struct ultramem *u, const struct ultramem_gemm *g, size_t n_gemm);

/* The optimized retrieval for T tokens: query projection and LayerNorm,
 * row/column key scores (sgemm, sgemv at T = 1), rank-1 filter, candidate
 * scoring and top-m, parallel over (token, head). Fills u->sel and
 * u->sel_score; adds the multiply-adds to u->work[*].macs. */
void ultramem_select_batch(struct ultramem *u, const float *x, size_t n_tokens);

/* ---- ultramem_gather.c ---- */

/* The optimized forward of both variants (layer_ops.forward). */
int ultramem_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                     struct layer_stats *st);

/* ---- ultramem_merged.c ---- */

/* Fold values_proj into the value table: folded[t][c] as above, with
 * OpenBLAS. u->values and u->wo must be filled; they are not changed. */
void ultramem_merged_fold(struct ultramem *u);

/* ---- ultramem_ref.c ---- */

/* layer_ops.forward_ref: the full Tucker grid by brute force, then the
 * same rank-1 filter and top-m as forward, in plain loops. */
int ultramem_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens);

/* The exact layer: top-m of the full grid with no filter, plain loops. */
int ultramem_forward_exact(struct layer *l, const float *x, float *y, size_t n_tokens);

/* layer_ops.recall: fraction of the exact top-m (per token and head) that
 * the optimized selection finds. */
int ultramem_recall(struct layer *l, const float *x, size_t n_tokens, double *out);

/* The reference selection of one token x (D): vidx (H, m) virtual indices
 * best first, filtered as forward does (exact = 0) or not (exact = 1). */
void ultramem_ref_select(struct ultramem *u, const float *x, int exact, uint32_t *vidx);

#endif
