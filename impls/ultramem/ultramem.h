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
 *
 * ---- Near ties (why forward and forward_ref still pick the same values) ----
 * forward projects the query and scores the keys with OpenBLAS and
 * normalises the query in float; forward_ref does all three in plain loops
 * (the LayerNorm in double). Their key scores S_row, S_col differ by a few
 * ulp, so where two competing values are that close the two paths can keep
 * different rows, columns or pairs (measured: one (token, head) in ~4,400
 * at D = 768, scale 12, each changing y by far more than the harness's
 * 1e-4). Every selection therefore takes one more than it keeps, and its
 * boundary (last kept vs first left out) is checked against a margin
 * relative to a Cauchy-Schwarz bound on the values:
 *   - each query half is LN(.) w, of norm <= Q = sqrt(Dk) max |w|, so
 *     |S[i][k]| <= Q |key_ik| and a rank-1 score is at most
 *     B_a = Q max_i sum_k |key_ik| |u_k| (bound_rank1; v for columns);
 *   - key scores off by e Q |key| move a pair's total S_row[i]^T (sum_c C_c)
 *     S_col[j] by at most e B_t, B_t = max_i sum_x |S_row[i][x]| h_x +
 *     max_j sum_y |S_col[j][y]| g_y over the kept (and window) keys of the head,
 *     with h_x = Q sum_y |C|_xy K'_y, g_y = Q sum_x K_x |C|_xy (bound_row,
 *     bound_col), |C| = sum_c |C_c|, K, K' the largest key norms per rank.
 * The rigorous worst case (n u per length-n sum, ~2^-14 here) is far too
 * loose to use; the differences behave like sums of independent roundings.
 * Largest |forward - forward_ref| measured over 15 shapes (D 64..4096, Dk
 * 16..1024, r 1..4, h 1..8, E 1..16, m 32..200, both filters, the 227m
 * preset, inputs x0.01..x100; 2,000 to 100,000 token-heads each): 2^-21.3
 * B_a for the rank-1 scores, 2^-22.3 B_t for the totals. The margins are
 * 2^-18 B_a and 2^-20 B_t, 9.6x and 4.9x those: a boundary is in doubt when
 * the last kept leads the first left out by at most the margin, i.e. when
 * each of the two could be off by half of it.
 * A row (column) boundary in doubt puts the keys within the margin of it in
 * a window: only their status can differ in forward_ref. If no pair of a
 * window key with the other side's kept or window keys comes within the
 * margin of the m-th total, forward_ref's top-m is forward's whatever it
 * keeps there. Otherwise, or when the m-th total leads the (m+1)-th by at
 * most the margin, the (token, head) is redone with the reference's own
 * functions (ultramem_exact.c): its query, the exact key scores of the keys
 * that matter, the windows' choices, the exact totals of the candidates
 * that can still win, the top-m; its selection and the winners' per-core
 * scores are then forward_ref's to the bit (ultramem_select.c). On random
 * tokens this happens to ~1.2% of the (token, head)s at D = 768, scale 12
 * and ~1.0% at the 227m preset, ~310k multiply-adds each (the query is
 * most), ~1% of the forward's time at T >= 64.
 * Inside the kept set the two paths may list values in another order; y
 * does not depend on it.
 *
 * ---- dtype (issue 18) ----
 * dtype=bf16|f16 stores the tables the gather streams in that type only: the
 * value table (N, Dv), and in the merged variant the folded tables (E N, h,
 * D) instead. No fp32 copy is kept, so the bytes (memory, regions, stats)
 * are the narrow ones. The keys, query_proj, the query LayerNorm weight, the
 * Tucker cores and values_proj (a dense (D, E Dv) operand of an sgemm,
 * read once per batch) stay fp32. Seeded values are drawn in fp32 exactly as
 * at f32 and rounded to nearest even; the merged tables are folded in fp32
 * from the fp32 draws, as at f32, and then rounded, so a layer's narrow
 * tables are its f32 tables rounded. The gather widens on load (vec.h);
 * forward_ref reads the same stored elements through common_dtype_at, and
 * both add score x element in fp32 (a multiply, then an add, as at f32), so
 * the reference check keeps its 1e-4. The selection never reads the tables:
 * it is the same at every dtype.
 */
#ifndef SPARSEBENCH_ULTRAMEM_H
#define SPARSEBENCH_ULTRAMEM_H

#include "../common/common.h"
#include "../layer.h"

#include <stddef.h>
#include <stdint.h>

#define ULTRAMEM_MAX_RANK  4    /* the paper sweeps r = 2, 3, 4 (UM1 Table 3) */
#define ULTRAMEM_MAX_CORES 8    /* and h = 2, 4, 8 */
#define ULTRAMEM_MAX_HEADS 2    /* the v1 code shares one query between at most 2 heads */
#define ULTRAMEM_LN_EPS    1e-5 /* torch.nn.LayerNorm / OLMo default */
#define ULTRAMEM_FOLD_ROWS 1024 /* rows of a narrow merged table folded per sgemm */

/* Mean and (biased) variance of x (len), in double: the part of a LayerNorm
 * all three of its users share. Each applies them its own way on purpose:
 * keys at create (ultramem_init.c), the query in forward in float
 * (ultramem_score.c) and in forward_ref in double (ultramem_exact.c). */
static inline void ultramem_ln_moments(const float *x, size_t len, double *mean, double *var)
{
    double m = 0, v = 0;
    for (size_t d = 0; d < len; d++)
        m += x[d];
    m /= (double)len;
    for (size_t d = 0; d < len; d++)
        v += (x[d] - m) * (x[d] - m);
    *mean = m;
    *var = v / (double)len;
}

/* Batches of up to this many tokens get their key scores from
 * common_gemm_small_nt instead of OpenBLAS (knob small_gemm; the
 * measurements: ultramem_score.c). */
#define ULTRAMEM_SMALL_GEMM_DEFAULT     32
#define ULTRAMEM_SMALL_GEMM_DEFAULT_STR "32"

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
    char dtype[COMMON_KNOB_STR_LEN];  /* f32 | bf16 | f16: the streamed tables' type */
    long small_gemm;                  /* batches up to this size: key scores by gemm_small.c */
};

/* One worker's scratch for the selection and gather tasks; every array is
 * carved on a cache line of its own, so workers never share one. */
struct ultramem_work {
    float *a, *b;        /* (np) rank-1 row / column scores */
    float *neg;          /* (np) -a or -b, for the bottom-ms of the signed filter */
    uint32_t *surv_key;  /* (max(np, max_cand)) common_topk_set scratch */
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
    float *q_exact;      /* (2 Dk) a near tie's query, recomputed as forward_ref does */
    uint32_t *near_idx;  /* (2 np) a near tie's key lists (ultramem_select.c) */
    float *near_val;     /* (np) exact rank-1 scores of a window's keys */
    uint8_t *exact_key;  /* (2 np) rows, then columns, holding exact key scores; zeroed */
    uint64_t macs;       /* multiply-adds this worker executed in this forward */
    uint64_t n_exact;    /* (token, head)s it recomputed for a near tie */
    uint64_t tie_macs;   /* the part of macs near ties took (windows, recomputations) */
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

/* The blocks create allocates (ultramem.c's ultramem_layout lays them out):
 * the parameters, each its own region in this order, and the scratch. */
enum { UM_DENSE, UM_FOLDED, UM_WO, UM_VALUES, UM_SHUFFLE, UM_SCRATCH, UM_BLOCKS };

struct ultramem {
    struct layer base;
    struct ultramem_knobs knobs; /* resolved: every size filled in */
    const struct common_knob_set *knob_set;
    int merged;             /* each (block, core) projection folded into its own table */
    int signed_filter;      /* keep the bottom-ms rows and columns too */
    enum layer_dtype dtype; /* of values (unmerged) or folded (merged); the rest is fp32 */
    size_t D, Dk, Dv, Dc, H, m, ms, r, h, E, n, np, N;
    size_t max_cand; /* candidates per (token, head), upper bound */
    size_t max_tokens;
    int threads;

    struct common_carve blk[UM_BLOCKS];
    uint64_t bytes; /* all of blk, the merged variant's wo and values too: what check reports */

    /* ---- parameters and inference constants ---- */
    size_t dense_bytes; /* block UM_DENSE, the tensors below: every forward reads all of it */
    float *keys;        /* (2, H, np, r, Dk) LayerNorm applied at create; side 0 rows, 1 cols */
    float *wq_t;        /* (D, 2 Dk) query_proj.weight, transposed (ultramem_exact_query) */
    float *q_ln;        /* (Dk) query_norm.weight, shared by both halves */
    float *cores;       /* (h, H, r, r) tucker_core[c][head] */
    float *core_sum;    /* (H, r, r) sum over the cores */
    float *u, *v;       /* (H, r) leading singular vectors of core_sum */
    float *wo;          /* (D, E Dv) values_proj.weight; NULL when merged */
    void *values;       /* (N, Dv) values_for_look_up, of dtype (merged: fp32 */
                        /* until folded, then NULL) */
    void *folded;       /* (E N, h, D) merged only, of dtype: table t holds, per */
                        /* core c, V[t mod N, slice c] W_{t div N}[slice c, :] */
    float *fold_tmp;    /* (ULTRAMEM_FOLD_ROWS, D) merged narrow only: a slab */
                        /* folded in fp32 before rounding; freed with values */
    uint32_t *shuffle;  /* (E N) shuffle_index, a fixed permutation */

    /* ---- near ties (see above), from the parameters ---- */
    float bound_rank1[2][ULTRAMEM_MAX_HEADS]; /* [side][head] >= |a_i| (side 0), |b_j| (1) */
    float bound_row[ULTRAMEM_MAX_HEADS][ULTRAMEM_MAX_RANK]; /* h_x: total bound per |S_row[i][x]| */
    float bound_col[ULTRAMEM_MAX_HEADS][ULTRAMEM_MAX_RANK]; /* g_y: the same per |S_col[j][y]| */
    uint64_t last_exact;    /* (token, head)s the last forward recomputed for a near tie */
    uint64_t last_tie_macs; /* multiply-adds near ties took in it (included in its flops) */

    /* ---- forward scratch, sized for max_tokens ---- */
    float *q;                   /* (T, 2 Dk) */
    float *sr, *sc;             /* (T, H np r) row / column scores, [t][head][i][rank] */
    uint32_t *sel;              /* (T, H, m) selected virtual indices, ascending */
    float *sel_score;           /* (T, H, m, h) their per-core scores */
    uint32_t *hit_row;          /* (T, H m) physical (or folded) row of each selection */
    float *pooled;              /* (T, E Dv); unused when merged */
    uint64_t *touched;          /* (N or E N bits) units touched by this batch */
    size_t n_units;             /* N, or E N when merged */
    struct ultramem_work *work; /* (threads), each with its own slice of the scratch */
    struct ultramem_ref_scratch ref;
    struct common_pool *pool;
};

/* ---- ultramem_init.c ---- */

/* Fill every parameter of u (sizes set, memory allocated) from cfg seed as
 * the official v1 code's reset_parameters does, pre-apply the key LayerNorm
 * and compute u, v. Can't fail. */
void ultramem_init_weights(struct ultramem *u, uint64_t seed);
/* What init_weights derives from the parameters, again after a weights file
 * replaced them: the summed cores, u, v and the near-tie bounds. The merged
 * tables are not rebuilt: the merged layer lists them as a parameter. */
void ultramem_init_derive(struct ultramem *u);

/* Leading singular triple of the r x r matrix c (row-major): c v = s u,
 * |u| = |v| = 1, sign chosen so that sum(u) >= 0. Can't fail. */
void ultramem_svd_leading(const float *c, size_t r, float *u_out, float *v_out, float *s_out);

/* u->bound_rank1, bound_row and bound_col from the query LayerNorm weight,
 * the keys, u, v and the cores (see "Near ties"). Called by
 * ultramem_init_weights; call again after changing any of those. */
void ultramem_init_tie_bounds(struct ultramem *u);

/* ---- ultramem_score.c ---- */

/* C (T, N) = A (T, K) B^T, B (N, K) row-major, as sgemv at T = 1; with
 * b_kn set, C = A B, B (K, N) row-major. */
struct ultramem_gemm {
    size_t T, N, K;
    const float *A;
    size_t lda;
    const float *B;
    size_t ldb;
    float *C;
    size_t ldc;
    int b_kn;
};

/* Run n_gemm products, each split by columns of C over u's pool, every
 * piece single-threaded: common_gemm_small_nt when B is (N, K) and T <=
 * knob small_gemm, else an OpenBLAS call (ultramem_score.c says why). */
void ultramem_gemm_run(struct ultramem *u, const struct ultramem_gemm *g, size_t n_gemm);

/* The optimized retrieval for T tokens: query projection and LayerNorm,
 * row/column key scores (ultramem_gemm_run), then ultramem_select_head
 * for every (token, head) over the pool. Fills u->sel and u->sel_score,
 * u->last_exact and u->last_tie_macs; adds the multiply-adds to
 * u->work[*].macs. */
void ultramem_select_batch(struct ultramem *u, const float *x, size_t n_tokens);

/* ---- ultramem_select.c ---- */

/* Token t (x_t, D), head hd, on worker w, from the batch's key scores in
 * u->sr, u->sc: the rank-1 filter, candidate scores, top-m and the winners'
 * per-core scores into u->sel, u->sel_score; a near tie recomputes the
 * head as forward_ref does (see "Near ties"). */
void ultramem_select_head(struct ultramem *u, struct ultramem_work *w, const float *x_t, size_t t,
                          size_t hd);

/* ---- ultramem_gather.c ---- */

/* The value read of the batch's selections (u->sel, u->sel_score): y (T, D)
 * through pooled and values_proj, or straight from the folded tables; also
 * fills u->hit_row and adds the multiply-adds to u->work[*].macs. */
void ultramem_gather(struct ultramem *u, float *y, size_t n_tokens);

/* ---- ultramem_forward.c ---- */

/* The optimized forward of both variants (layer_ops.forward). */
int ultramem_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                     struct layer_stats *st);

/* layer_ops.recall: fraction of the exact top-m (per token and head) that
 * the optimized selection finds. */
int ultramem_recall(struct layer *l, const float *x, size_t n_tokens, double *out);

/* ---- ultramem_merged.c ---- */

/* Fold values_proj into the value table: folded[t][c] as above, with
 * OpenBLAS; narrow tables are folded ULTRAMEM_FOLD_ROWS rows at a time into
 * u->fold_tmp and rounded from there. u->values (fp32) and u->wo must be
 * filled; they are not changed. */
void ultramem_merged_fold(struct ultramem *u);

/* ---- ultramem_exact.c ---- */

/* Core c's own score of pair (i, j): S_row[i]^T C_c S_col[j], in this order.
 * Both paths score their winners with it, so a pair scored from the same
 * S_row[i], S_col[j] gets the same bits in forward and forward_ref. */
static inline float ultramem_core_score(const float *si /* (r) */, const float *core /* (r, r) */,
                                        const float *sj /* (r) */, size_t r)
{
    float s = 0;
    for (size_t y = 0; y < r; y++) {
        float t = 0;
        for (size_t x = 0; x < r; x++)
            t += si[x] * core[x * r + y];
        s += t * sj[y];
    }
    return s;
}

/* The reference's arithmetic, one piece each, shared with forward's
 * near-tie recomputation so that both produce the same bits:
 *   ultramem_exact_query: q (2 Dk) = LN(W_q x) per half, for token x (D);
 *   ultramem_exact_key_scores: s (np, r) = the side's query half (q) against
 *     head hd's keys of that side (0 rows, 1 columns), for the rows listed
 *     in rows[0..n_rows) (other rows of s untouched), all rows if NULL;
 *   ultramem_exact_rank1: row i's rank-1 filter score s_i (r) . dir (r);
 *   ultramem_exact_pair_score: grid total of pair (i, j), the sum over the
 *     cores of ultramem_core_score, what the top-m ranks. */
void ultramem_exact_query(const struct ultramem *u, const float *x, float *q);
void ultramem_exact_key_scores(const struct ultramem *u, size_t hd, int side, const float *q,
                               const uint32_t *rows, size_t n_rows, float *s);
float ultramem_exact_rank1(const struct ultramem *u, const float *si, const float *dir);
float ultramem_exact_pair_score(const struct ultramem *u, size_t hd, const float *si,
                                const float *sj);

/* ---- ultramem_ref.c ---- */

/* layer_ops.forward_ref: the full Tucker grid by brute force, then the
 * same rank-1 filter and top-m as forward, in plain loops. */
int ultramem_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens);

/* The exact layer: top-m of the full grid with no filter, plain loops. */
int ultramem_forward_exact(struct layer *l, const float *x, float *y, size_t n_tokens);

/* The reference selection of one token x (D): (H, m) virtual indices best
 * first, filtered as forward does (exact = 0) or not (exact = 1). Points
 * into u->ref, valid until the next reference call. */
const uint32_t *ultramem_ref_select(struct ultramem *u, const float *x, int exact);

#endif
