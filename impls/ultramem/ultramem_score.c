/* ultramem_score.c - UltraMem v1's retrieval, optimized: TDQKR with the
 * rank-1 filter and multi-core scoring (research/ultramem_pkm.md section 1.3
 * steps 1-6, section 1.9).
 *
 * The batch-wide parts are BLAS: the query projection and both sides' key
 * scores for every head and rank are one sgemm each over the batch (sgemv at
 * T = 1), because the keys, 2 H n' r Dk floats, are the layer's biggest
 * dense read (section 1.7) and must be streamed once per batch, not once per
 * token. The sgemms are split by output columns over the layer's pool, each
 * piece a single-threaded OpenBLAS call, so one set of threads does all the
 * work.
 *
 * The rest is per (token, head), parallel over the pool:
 *   a = S_row u, b = S_col v; rows = top-ms(a), columns = top-ms(b)
 *   (filter=signed: also the bottom-ms); each kept pair's total score
 *   S_row[i]^T (sum_c C_c) S_col[j], r multiply-adds per pair since
 *   w_i = S_row[i]^T C_sum is formed once per row; top-m of the totals;
 *   then each core's own score, only for the m winners.
 * Kept rows and columns are enumerated in ascending index order, so the
 * candidate position order is the virtual-index order and the top-k's
 * tie-break (lower position first) is the reference's (lower index first).
 */
#include "ultramem.h"

#include <cblas.h>
#include <math.h>

#define LN_EPS 1e-5

/* ---- batch-wide: query and key scores ---- */

static void layer_norm(float *x, const float *w, size_t len)
{
    double mean = 0, var = 0;
    for (size_t d = 0; d < len; d++)
        mean += x[d];
    mean /= (double)len;
    for (size_t d = 0; d < len; d++)
        var += (x[d] - mean) * (x[d] - mean);
    float inv = (float)(1.0 / sqrt(var / (double)len + LN_EPS)), mu = (float)mean;
    for (size_t d = 0; d < len; d++)
        x[d] = (x[d] - mu) * inv * w[d];
}

/* ---- BLAS over the layer's own pool ---- */

struct gemm_job {
    const struct ultramem_gemm *g;
    size_t n_gemm, chunks;
};

static void gemm_task(void *arg, size_t task, int worker)
{
    const struct gemm_job *job = arg;
    const struct ultramem_gemm *g = &job->g[task / job->chunks];
    size_t c = task % job->chunks, lines = (g->N + 15) / 16;
    size_t lo = c * lines / job->chunks * 16, hi = (c + 1) * lines / job->chunks * 16;
    (void)worker;
    hi = hi < g->N ? hi : g->N;
    if (lo >= hi)
        return;
    const float *B = g->B + lo * g->ldb;
    if (g->T == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(hi - lo), (int)g->K, 1.0f, B, (int)g->ldb,
                    g->A, 1, 0.0f, g->C + lo, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->T, (int)(hi - lo), (int)g->K,
                    1.0f, g->A, (int)g->lda, B, (int)g->ldb, 0.0f, g->C + lo, (int)g->ldc);
}

void ultramem_gemm_run(struct ultramem *u, const struct ultramem_gemm *g, size_t n_gemm)
{
    /* OpenBLAS runs single-threaded inside each task: its own workers would
     * spin on the core the pool needs next (2 cores, two spinning pools). */
    common_blas_threads(1);
    struct gemm_job job = {g, n_gemm, (size_t)u->threads};
    common_pool_run(u->pool, n_gemm * job.chunks, gemm_task, &job);
}

/* q (T, 2 Dk) = LN(x W_q^T) per half. */
static void query_project(struct ultramem *u, const float *x, size_t T)
{
    size_t Q = 2 * u->Dk;
    struct ultramem_gemm g = {T, Q, u->D, x, u->D, u->wq, u->D, u->q, Q};
    ultramem_gemm_run(u, &g, 1);
    for (size_t t = 0; t < T; t++) {
        layer_norm(u->q + t * Q, u->q_ln, u->Dk);
        layer_norm(u->q + t * Q + u->Dk, u->q_ln, u->Dk);
    }
}

/* sr, sc (T, H np r) = q_row, q_col against every head's and rank's keys. */
static void key_scores(struct ultramem *u, size_t T)
{
    size_t rows = u->H * u->np * u->r, Q = 2 * u->Dk;
    struct ultramem_gemm g[2] = {
        {T, rows, u->Dk, u->q, Q, u->keys, u->Dk, u->sr, rows},
        {T, rows, u->Dk, u->q + u->Dk, Q, u->keys + rows * u->Dk, u->Dk, u->sc, rows},
    };
    ultramem_gemm_run(u, g, 2);
}

/* ---- per (token, head): the rank-1 filter ---- */

/* out[i] = s[i][.] . dir, for the np keys of one side. */
static void rank1_scores(const float *s /* (np, r) */, const float *dir /* (r) */, size_t np,
                         size_t r, float *out /* (np) */)
{
    if (r == 2) { /* the default; lets the compiler vectorise */
        float d0 = dir[0], d1 = dir[1];
        for (size_t i = 0; i < np; i++)
            out[i] = s[2 * i] * d0 + s[2 * i + 1] * d1;
        return;
    }
    for (size_t i = 0; i < np; i++) {
        float acc = 0;
        for (size_t k = 0; k < r; k++)
            acc += s[i * r + k] * dir[k];
        out[i] = acc;
    }
}

/* Mark the top-ms (bit 0) and, for the signed filter, bottom-ms (bit 1) of
 * s, then list the marked keys in ascending order; flag is left zeroed. */
static size_t keep_side(const struct ultramem *u, struct ultramem_work *w, const float *s,
                        uint8_t *flag, uint32_t *kept, uint8_t *kept_flag)
{
    size_t nk = 0;
    ultramem_topk_set(s, u->np, u->ms, w->surv_pos, w->surv_key);
    for (size_t k = 0; k < u->ms; k++)
        flag[w->surv_pos[k]] |= 1;
    if (u->signed_filter) {
        for (size_t i = 0; i < u->np; i++)
            w->neg[i] = -s[i];
        ultramem_topk_set(w->neg, u->np, u->ms, w->surv_pos, w->surv_key);
        for (size_t k = 0; k < u->ms; k++)
            flag[w->surv_pos[k]] |= 2;
    }
    for (size_t i = 0; i < u->np; i++) {
        if (flag[i]) {
            kept[nk] = (uint32_t)i;
            kept_flag[nk++] = flag[i];
            flag[i] = 0;
        }
    }
    return nk;
}

/* ---- per (token, head): candidates and top-m ---- */

/* Total score of every kept pair into w->cand_val (and, for the signed
 * filter, w->cand_vidx), row-major over (rows, cols); returns how many. */
static size_t score_candidates(const struct ultramem *u, struct ultramem_work *w, size_t hd,
                               const float *sr, const float *sc, size_t nr, size_t nc,
                               uint64_t *macs)
{
    size_t r = u->r, n = 0;
    const float *cs = u->core_sum + hd * r * r;
    for (size_t y = 0; y < r; y++)
        for (size_t k = 0; k < nc; k++)
            w->col_score[y * nc + k] = sc[w->cols[k] * r + y];
    for (size_t kr = 0; kr < nr; kr++) {
        const float *si = sr + w->rows[kr] * r;
        float wsum[ULTRAMEM_MAX_RANK];
        for (size_t y = 0; y < r; y++) {
            wsum[y] = 0;
            for (size_t x = 0; x < r; x++)
                wsum[y] += si[x] * cs[x * r + y];
        }
        float *dst = u->signed_filter ? w->row_buf : w->cand_val + n;
        for (size_t k = 0; k < nc; k++)
            dst[k] = wsum[0] * w->col_score[k];
        for (size_t y = 1; y < r; y++)
            for (size_t k = 0; k < nc; k++)
                dst[k] += wsum[y] * w->col_score[y * nc + k];
        if (!u->signed_filter) {
            n += nc;
            continue;
        }
        uint32_t base = w->rows[kr] * (uint32_t)u->np;
        for (size_t k = 0; k < nc; k++) {
            if (w->rowf[kr] & w->colf[k]) {
                w->cand_val[n] = dst[k];
                w->cand_vidx[n++] = base + w->cols[k];
            }
        }
    }
    *macs += nr * r * r + nr * nc * r;
    return n;
}

/* Core c's own score of pair (i, j): S_row[i]^T C_c S_col[j]. The
 * reference computes it with the same loops. */
static float core_score(const float *si, const float *core, const float *sj, size_t r)
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

static void select_task(void *arg, size_t task, int worker)
{
    struct ultramem *u = arg;
    struct ultramem_work *w = &u->work[worker];
    size_t t = task / u->H, hd = task % u->H, r = u->r, rr = r * r, np = u->np;
    size_t off = t * u->H * np * r + hd * np * r;
    const float *sr = u->sr + off, *sc = u->sc + off;
    uint32_t *sel = u->sel + (t * u->H + hd) * u->m;
    float *score = u->sel_score + (t * u->H + hd) * u->m * u->h;
    uint64_t macs = 2 * np * r;

    rank1_scores(sr, u->u + hd * r, np, r, w->a);
    rank1_scores(sc, u->v + hd * r, np, r, w->b);
    size_t nr = keep_side(u, w, w->a, w->row_flag, w->rows, w->rowf);
    size_t nc = keep_side(u, w, w->b, w->col_flag, w->cols, w->colf);
    size_t n = score_candidates(u, w, hd, sr, sc, nr, nc, &macs);
    ultramem_topk_set(w->cand_val, n, u->m, w->surv_pos, w->surv_key);
    for (size_t k = 0; k < u->m; k++) {
        size_t p = w->surv_pos[k];
        uint32_t vidx =
            u->signed_filter ? w->cand_vidx[p] : w->rows[p / nc] * (uint32_t)np + w->cols[p % nc];
        const float *si = sr + (vidx / np) * r, *sj = sc + (vidx % np) * r;
        sel[k] = vidx;
        for (size_t c = 0; c < u->h; c++)
            score[k * u->h + c] = core_score(si, u->cores + (c * u->H + hd) * rr, sj, r);
    }
    macs += u->m * u->h * (rr + r);
    w->macs += macs;
}

void ultramem_select_batch(struct ultramem *u, const float *x, size_t n_tokens)
{
    for (int k = 0; k < u->threads; k++)
        u->work[k].macs = 0;
    query_project(u, x, n_tokens);
    key_scores(u, n_tokens);
    u->work[0].macs += n_tokens * (2 * u->Dk * u->D + 2 * u->H * u->np * u->r * u->Dk);
    common_pool_run(u->pool, n_tokens * u->H, select_task, u);
}
