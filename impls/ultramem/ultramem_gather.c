/* ultramem_gather.c - UltraMem v1's value read and output projection, for
 * both variants (research/ultramem_pkm.md section 1.3 steps 7-9).
 *
 * Implicit value expansion: the selected virtual index goes through the fixed
 * shuffle, t = shuffle[i n' + j]; physical row t mod N, virtual block
 * t div N. The fused gather-reduce streams each selected row once, with
 * software prefetch a few rows ahead (the rows are random, so otherwise every
 * row is one DRAM round trip), and adds it into pooled[block], each core c
 * weighting its own Dv/h slice with its own score: the semantics of the
 * official CUDA kernel fused_lookup (test_fused_lookup.py). One sgemm of
 * pooled (T, E Dv) against values_proj gives y. The merged variant reads the
 * folded row t instead (h slices of D floats, one per core) and adds it
 * straight into y, with no projection.
 *
 * The shuffle entries for a token are all looked up before its rows are
 * read: each lookup is itself a random read of a 4 E N byte table, and
 * issuing them back to back lets their misses overlap.
 *
 * Tokens are the pool's tasks; below one token per thread each token's
 * columns are split into one group per thread instead, so both cores have
 * rows in flight at T = 1. Tried and dropped: sorting the whole batch's hits
 * by row so each distinct row is read once per batch, in address order. It
 * reads fewer bytes at T >= 512 but trades the random row reads for random
 * read-modify-writes into pooled (T, E Dv), beyond L2; it was no faster
 * (CPU time within 5 %, 1 and 2 threads, D = 768, scale 12).
 *
 * dtype=bf16|f16 (ultramem.h, "dtype"): the tables are stored narrow and
 * widened on load (vec.h: a shift for bf16, vcvtph2ps for f16), then each
 * element is multiplied by its score and added in fp32, a multiply and an
 * add as at f32 and in forward_ref, so pooled (and merged, y) gets the
 * reference's bits. Not AVX-512 BF16's dot instructions: they would round
 * the scores to bf16 too. One body per loop serves the three types, inlined
 * with a constant dtype; at f32 the inner loop is the scalar loop GCC
 * vectorises, as before. Prefetch spans are counted in bytes.
 */
#include "ultramem.h"
#include "../common/vec.h"

#include <string.h>

#define PREFETCH_AHEAD 4
#define LINE_FLOATS    16

struct gather_job {
    struct ultramem *u;
    float *y;      /* (T, D), merged only */
    size_t groups; /* column groups per token */
};

/* Non-temporal prefetch of bytes from p: the rows are read once. */
static inline void prefetch_span(const void *p, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 64)
        __builtin_prefetch((const char *)p + i, 0, 0);
}

/* dst[a, b) += s row[a, b), row of dt: a multiply, then an add. */
static inline __attribute__((always_inline)) void add_scaled(enum layer_dtype dt,
                                                             float *restrict dst, float s,
                                                             const void *restrict row, size_t a,
                                                             size_t b)
{
    if (dt == LAYER_F32) {
        const float *restrict v = row;
        for (size_t d = a; d < b; d++)
            dst[d] += s * v[d];
        return;
    }
    common_vec sv = common_vec_set1(s);
    size_t d = a;
    for (; d + COMMON_VL <= b; d += COMMON_VL)
        common_vec_store(dst + d, common_vec_load(dst + d) + sv * common_vec_load_dt(dt, row, d));
    for (; d < b; d++)
        dst[d] += s * common_dtype_at(dt, row, d);
}

/* Columns [lo, hi) of group g out of G over width W, on cache-line bounds. */
static void group_range(size_t W, size_t g, size_t G, size_t *lo, size_t *hi)
{
    size_t lines = (W + LINE_FLOATS - 1) / LINE_FLOATS;
    *lo = g * lines / G * LINE_FLOATS;
    *hi = (g + 1) * lines / G * LINE_FLOATS;
    if (*hi > W)
        *hi = W;
}

/* Shuffle every selection of token t into (row, block) pairs. */
static void token_hits(const struct ultramem *u, struct ultramem_work *w, size_t t)
{
    size_t hm = u->H * u->m;
    const uint32_t *sel = u->sel + t * hm;
    for (size_t k = 0; k < hm; k++) {
        uint32_t tv = u->shuffle[sel[k]];
        w->hit_row[k] = u->merged ? tv : tv % (uint32_t)u->N;
        w->hit_blk[k] = tv / (uint32_t)u->N;
    }
}

/* pooled_t[blk][lo, hi) += score_c V[row][lo, hi), each core c on its
 * slice; V stored as dt. */
static inline __attribute__((always_inline)) void gather_values_dt(enum layer_dtype dt,
                                                                   const struct ultramem *u,
                                                                   const struct ultramem_work *w,
                                                                   size_t t, size_t lo, size_t hi)
{
    size_t hm = u->H * u->m, Dv = u->Dv, Dc = u->Dc, es = common_dtype_size(dt);
    const char *values = u->values;
    float *pooled = u->pooled + t * u->E * Dv;
    const float *score = u->sel_score + t * hm * u->h;
    for (size_t p = 0; p < u->E; p++)
        memset(pooled + p * Dv + lo, 0, (hi - lo) * sizeof(float));
    for (size_t k = 0; k < hm && k < PREFETCH_AHEAD; k++)
        prefetch_span(values + ((size_t)w->hit_row[k] * Dv + lo) * es, (hi - lo) * es);
    for (size_t k = 0; k < hm; k++) {
        if (k + PREFETCH_AHEAD < hm)
            prefetch_span(values + ((size_t)w->hit_row[k + PREFETCH_AHEAD] * Dv + lo) * es,
                          (hi - lo) * es);
        const void *v = values + (size_t)w->hit_row[k] * Dv * es;
        float *dst = pooled + (size_t)w->hit_blk[k] * Dv;
        for (size_t c = 0; c < u->h; c++) {
            size_t a = c * Dc > lo ? c * Dc : lo, b = (c + 1) * Dc < hi ? (c + 1) * Dc : hi;
            add_scaled(dt, dst, score[k * u->h + c], v, a, b);
        }
    }
}

static void gather_values(const struct ultramem *u, const struct ultramem_work *w, size_t t,
                          size_t lo, size_t hi)
{
    if (u->dtype == LAYER_BF16)
        gather_values_dt(LAYER_BF16, u, w, t, lo, hi);
    else if (u->dtype == LAYER_F16)
        gather_values_dt(LAYER_F16, u, w, t, lo, hi);
    else
        gather_values_dt(LAYER_F32, u, w, t, lo, hi);
}

static inline __attribute__((always_inline)) void
prefetch_folded(enum layer_dtype dt, const struct ultramem *u, uint32_t row, size_t lo, size_t hi)
{
    size_t es = common_dtype_size(dt);
    const char *f = (const char *)u->folded + (size_t)row * u->h * u->D * es;
    for (size_t c = 0; c < u->h; c++)
        prefetch_span(f + (c * u->D + lo) * es, (hi - lo) * es);
}

/* y_t[lo, hi) = sum over hits and cores of score_c folded[row][c][lo, hi),
 * the tables stored as dt. */
static inline __attribute__((always_inline)) void
gather_folded_dt(enum layer_dtype dt, const struct ultramem *u, const struct ultramem_work *w,
                 size_t t, float *y, size_t lo, size_t hi)
{
    size_t hm = u->H * u->m, D = u->D, h = u->h, es = common_dtype_size(dt);
    float *yt = y + t * D;
    const float *score = u->sel_score + t * hm * h;
    memset(yt + lo, 0, (hi - lo) * sizeof(float));
    for (size_t k = 0; k < hm && k < PREFETCH_AHEAD; k++)
        prefetch_folded(dt, u, w->hit_row[k], lo, hi);
    for (size_t k = 0; k < hm; k++) {
        if (k + PREFETCH_AHEAD < hm)
            prefetch_folded(dt, u, w->hit_row[k + PREFETCH_AHEAD], lo, hi);
        const char *f = (const char *)u->folded + (size_t)w->hit_row[k] * h * D * es;
        for (size_t c = 0; c < h; c++)
            add_scaled(dt, yt, score[k * h + c], f + c * D * es, lo, hi);
    }
}

static void gather_folded(const struct ultramem *u, const struct ultramem_work *w, size_t t,
                          float *y, size_t lo, size_t hi)
{
    if (u->dtype == LAYER_BF16)
        gather_folded_dt(LAYER_BF16, u, w, t, y, lo, hi);
    else if (u->dtype == LAYER_F16)
        gather_folded_dt(LAYER_F16, u, w, t, y, lo, hi);
    else
        gather_folded_dt(LAYER_F32, u, w, t, y, lo, hi);
}

static void gather_task(void *arg, size_t task, int worker)
{
    const struct gather_job *job = arg;
    struct ultramem *u = job->u;
    struct ultramem_work *w = &u->work[worker];
    size_t t = task / job->groups, g = task % job->groups, hm = u->H * u->m, lo, hi;
    size_t W = u->merged ? u->D : u->Dv;

    token_hits(u, w, t);
    if (g == 0)
        memcpy(u->hit_row + t * hm, w->hit_row, hm * sizeof(uint32_t));
    group_range(W, g, job->groups, &lo, &hi);
    if (lo >= hi)
        return;
    if (u->merged) {
        gather_folded(u, w, t, job->y, lo, hi);
        w->macs += hm * u->h * (hi - lo);
    } else {
        gather_values(u, w, t, lo, hi);
        w->macs += hm * (hi - lo);
    }
}

/* y (T, D) = pooled (T, E Dv) values_proj^T. */
static void project_out(struct ultramem *u, float *y, size_t T)
{
    size_t K = u->E * u->Dv;
    struct ultramem_gemm g = {T, u->D, K, u->pooled, K, u->wo, K, y, u->D, 0};
    ultramem_gemm_run(u, &g, 1);
}

void ultramem_gather(struct ultramem *u, float *y, size_t n_tokens)
{
    /* Fewer tokens than threads: split each token's columns instead. */
    size_t groups = n_tokens < (size_t)u->threads ? (size_t)u->threads : 1;
    struct gather_job job = {u, y, groups};
    common_pool_run(u->pool, n_tokens * groups, gather_task, &job);
    if (!u->merged) {
        project_out(u, y, n_tokens);
        u->work[0].macs += n_tokens * u->E * u->Dv * u->D;
    }
}
