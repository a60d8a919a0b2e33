/* ultramem_score.c - UltraMem v1's retrieval, optimized, batch-wide part:
 * TDQKR's query and key scores (research/ultramem_pkm.md section 1.3 steps
 * 1-2, section 1.9), then the per-(token, head) selection of
 * ultramem_select.c over the pool.
 *
 * The batch-wide parts are one product each over the batch: the query
 * projection and both sides' key scores for every head and rank, because
 * the keys, 2 H n' r Dk floats, are the layer's biggest dense read (section
 * 1.7) and must be streamed once per batch, not once per token. The
 * products (and the gather's output projection, which runs through
 * ultramem_gemm_run too) are split by output columns over the layer's pool,
 * each piece single-threaded, so one set of threads does all the work.
 * W_q is stored transposed (the reference's query loop vectorises along its
 * rows, ultramem_exact.c); sgemm reads it as (D, 2 Dk).
 *
 * A piece is OpenBLAS's sgemm (sgemv at T = 1), except that products with B
 * as (N, K) rows (the key scores, 4.5 MB at scale 12, and the output
 * projection's W_o, 4.7 MB) of up to small_gemm tokens (default 32) take
 * common_gemm_small_nt, which reads B once where sgemm packs it first.
 * Paired, OpenBLAS at full speed (Cooper Lake kernels), D = 768, scale 12,
 * 2 threads, cold: `sparsebench compare ultramem:small_gemm=128
 * ultramem:small_gemm=0 --d 768 --scale 12 --tokens T`, time(OpenBLAS) /
 * time(own kernel) at T = 1: 1.03 [0.90, 1.14]; 4: 2.01 [1.90, 2.12]; 16:
 * 1.25 [1.23, 1.31]; 32: 1.05 [1.03, 1.08]; 64: 0.93 [0.92, 0.95];
 * ultramem-merged (no output projection) at 4: 1.55 [1.38, 1.68]; 32: 0.99
 * [0.95, 1.05]. The query projection (W_q as (D, 2 Dk), 1.2 MB) stays
 * sgemm: the same streaming idea for B as (K, N) (4 tokens x 4 vectors of C
 * in registers while a strip of B's rows passes) measured no difference,
 * `compare` of the layer with and without it at T = 4: 1.12 [0.94, 1.37],
 * T = 16: 1.00 [0.996, 1.03], so it was not kept.
 */
#include "ultramem.h"

#include <cblas.h>
#include <math.h>

/* ---- batch-wide: query and key scores ---- */

static void layer_norm(float *x, const float *w, size_t len)
{
    double mean, var;
    ultramem_ln_moments(x, len, &mean, &var);
    float inv = (float)(1.0 / sqrt(var + ULTRAMEM_LN_EPS)), mu = (float)mean;
    for (size_t d = 0; d < len; d++)
        x[d] = (x[d] - mu) * inv * w[d];
}

/* ---- BLAS over the layer's own pool ---- */

struct gemm_job {
    const struct ultramem_gemm *g;
    size_t n_gemm, chunks;
    size_t small_max; /* B (N, K) products of up to this many rows of A: gemm_small.c */
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
    const float *B = g->b_kn ? g->B + lo : g->B + lo * g->ldb;
    if (!g->b_kn && g->T <= job->small_max)
        common_gemm_small_nt(g->T, hi - lo, g->K, g->A, g->lda, B, g->ldb, g->C + lo, g->ldc, 0);
    else if (g->T == 1 && g->b_kn)
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)g->K, (int)(hi - lo), 1.0f, B, (int)g->ldb,
                    g->A, 1, 0.0f, g->C + lo, 1);
    else if (g->T == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(hi - lo), (int)g->K, 1.0f, B, (int)g->ldb,
                    g->A, 1, 0.0f, g->C + lo, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, g->b_kn ? CblasNoTrans : CblasTrans, (int)g->T,
                    (int)(hi - lo), (int)g->K, 1.0f, g->A, (int)g->lda, B, (int)g->ldb, 0.0f,
                    g->C + lo, (int)g->ldc);
}

void ultramem_gemm_run(struct ultramem *u, const struct ultramem_gemm *g, size_t n_gemm)
{
    /* OpenBLAS runs single-threaded inside each task: its own workers would
     * spin on the core the pool needs next (2 cores, two spinning pools). */
    common_blas_threads(1);
    struct gemm_job job = {g, n_gemm, (size_t)u->threads, (size_t)u->knobs.small_gemm};
    common_pool_run(u->pool, n_gemm * job.chunks, gemm_task, &job);
}

/* q (T, 2 Dk) = LN(x W_q^T) per half. */
static void query_project(struct ultramem *u, const float *x, size_t T)
{
    size_t Q = 2 * u->Dk;
    struct ultramem_gemm g = {T, Q, u->D, x, u->D, u->wq_t, Q, u->q, Q, 1};
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
        {T, rows, u->Dk, u->q, Q, u->keys, u->Dk, u->sr, rows, 0},
        {T, rows, u->Dk, u->q + u->Dk, Q, u->keys + rows * u->Dk, u->Dk, u->sc, rows, 0},
    };
    ultramem_gemm_run(u, g, 2);
}

/* ---- per (token, head) ---- */

struct select_job {
    struct ultramem *u;
    const float *x; /* (T, D) */
};

static void select_task(void *arg, size_t task, int worker)
{
    const struct select_job *job = arg;
    struct ultramem *u = job->u;
    size_t t = task / u->H;
    ultramem_select_head(u, &u->work[worker], job->x + t * u->D, t, task % u->H);
}

void ultramem_select_batch(struct ultramem *u, const float *x, size_t n_tokens)
{
    struct select_job job = {u, x};
    for (int k = 0; k < u->threads; k++) {
        u->work[k].macs = 0;
        u->work[k].n_exact = 0;
        u->work[k].tie_macs = 0;
    }
    query_project(u, x, n_tokens);
    key_scores(u, n_tokens);
    u->work[0].macs += n_tokens * (2 * u->Dk * u->D + 2 * u->H * u->np * u->r * u->Dk);
    common_pool_run(u->pool, n_tokens * u->H, select_task, &job);
    u->last_exact = 0;
    u->last_tie_macs = 0;
    for (int k = 0; k < u->threads; k++) {
        u->last_exact += u->work[k].n_exact;
        u->last_tie_macs += u->work[k].tie_macs;
    }
}
