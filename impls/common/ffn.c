/* ffn.c - the GELU feed-forward block y = W2 gelu(W1 x + b1) + b2, the unit
 * both the dense baseline and every MoE expert are made of.
 *
 * The fast path is what a user would write with OpenBLAS at full speed:
 * sgemv for one token (a GEMM with M = 1 runs well below sgemv, research/
 * fff.md section 8), sgemm for many, and a vectorised exact-erf GELU pass
 * split over the pool. In between, OpenBLAS's sgemm packs the whole weight
 * matrix on every call, which at a handful of rows costs more than the
 * multiply (measured here: sgemm at T = 2 took 3x the T = 1 sgemv); there the
 * weights are streamed once through a multi-token dot / axpy kernel instead,
 * split over the pool. The plain-loop reference walks one neuron at a time.
 */
#include "common.h"
#include "vec.h"

#include <cblas.h>
#include <string.h>

#define FFN_INIT_STD 0.02f

void common_ffn_init(float *w1, float *b1, float *w2, float *b2, size_t d_model, size_t width,
                     uint64_t seed, uint64_t stream)
{
    struct common_rng r;
    common_rng_seed(&r, seed, stream * 4 + 0);
    common_rng_fill_normal(&r, w1, width * d_model, FFN_INIT_STD);
    common_rng_seed(&r, seed, stream * 4 + 1);
    common_rng_fill_normal(&r, w2, width * d_model, FFN_INIT_STD);
    /* Random rather than BERT's zero biases, so the bias path is exercised. */
    if (b1) {
        common_rng_seed(&r, seed, stream * 4 + 2);
        common_rng_fill_normal(&r, b1, width, FFN_INIT_STD);
    }
    if (b2) {
        common_rng_seed(&r, seed, stream * 4 + 3);
        common_rng_fill_normal(&r, b2, d_model, FFN_INIT_STD);
    }
}

struct gelu_job {
    float *h;
    const float *b1;
    size_t n_tokens, width, rows_per_task;
};

static void gelu_task(void *arg, size_t task, int worker)
{
    struct gelu_job *j = arg;
    size_t t0 = task * j->rows_per_task;
    size_t n = j->n_tokens - t0 < j->rows_per_task ? j->n_tokens - t0 : j->rows_per_task;
    (void)worker;
    common_bias_gelu(j->h + t0 * j->width, j->b1, n, j->width);
}

static void bias_gelu_parallel(float *h, const float *b1, size_t n_tokens, size_t width,
                               struct common_pool *pool)
{
    int threads = common_pool_threads(pool);
    /* A few tasks per thread, none smaller than ~16k elements. */
    size_t rows = n_tokens / (size_t)(4 * threads);
    size_t min_rows = width >= 16384 ? 1 : 16384 / width;
    if (rows < min_rows)
        rows = min_rows;
    struct gelu_job job = {h, b1, n_tokens, width, rows};
    common_pool_run(pool, (n_tokens + rows - 1) / rows, gelu_task, &job);
}

/* ---- the small-batch path: every weight row read once for all T tokens ---- */

/* Up to this many tokens the streaming kernel beats sgemm. Measured at D = 768,
 * 2 threads, cold, against OpenBLAS 0.3.21's AVX-512 (Cooperlake) sgemm:
 * 2.6x at T = 2, 2.6x at T = 4, 1.3x at T = 8, 1.8x at T = 10 and 12 (sgemm
 * has a slow case there: 1.9 ms at T = 12, 1.4 at T = 16), 1.1x at T = 15,
 * even at T = 16. */
#define FFN_STREAM_MAX_T 15
#define STREAM_TASK_COLS 256 /* neurons (up) or output columns (down) per task */

struct stream_job {
    const struct common_ffn *ffn;
    const float *x; /* (T, D) */
    float *h;       /* (T, F) */
    float *y;       /* (T, D), holding b2 or 0 */
    size_t n_tokens;
};

/* h[t][f] = gelu(w1[f] . x[t] + b1[f]) for f in [f0, f1), tokens four at a time
 * so each weight row is loaded once per four dot products. */
static void stream_up(const struct stream_job *j, size_t f0, size_t f1)
{
    const struct common_ffn *ffn = j->ffn;
    const size_t D = ffn->d_model, F = ffn->width, T = j->n_tokens;
    for (size_t f = f0; f < f1; f++) {
        const float *w = ffn->w1 + f * D;
        float b = ffn->b1 ? ffn->b1[f] : 0.0f, z[4];
        size_t t = 0;
        for (; t + 4 <= T; t += 4) {
            const float *const x4[4] = {j->x + t * D, j->x + (t + 1) * D, j->x + (t + 2) * D,
                                        j->x + (t + 3) * D};
            common_vec_dot4(w, x4, D, z);
            for (int k = 0; k < 4; k++)
                j->h[(t + k) * F + f] = z[k] + b;
        }
        for (; t < T; t++)
            j->h[t * F + f] = common_vec_dot(w, j->x + t * D, D) + b;
    }
    for (size_t t = 0; t < T; t++)
        common_gelu(j->h + t * F + f0, f1 - f0);
}

/* y[t][d0:d0 + 2 VL) += sum_f h[t][f] w2[f][d0:d0 + 2 VL) for n (<= 4) tokens
 * from t0, the 4 x 2 block of sums held in registers across all F neurons. */
static void down_block(const struct stream_job *j, size_t t0, size_t n, size_t d0)
{
    const struct common_ffn *ffn = j->ffn;
    const size_t D = ffn->d_model, F = ffn->width;
    common_vec acc[4][2] = {{{0}}};
    for (size_t f = 0; f < F; f++) {
        common_vec w0 = common_vec_load(ffn->w2 + f * D + d0);
        common_vec w1 = common_vec_load(ffn->w2 + f * D + d0 + COMMON_VL);
        for (size_t k = 0; k < n; k++) {
            common_vec a = {0};
            a += j->h[(t0 + k) * F + f];
            acc[k][0] = common_vec_fma(a, w0, acc[k][0]);
            acc[k][1] = common_vec_fma(a, w1, acc[k][1]);
        }
    }
    for (size_t k = 0; k < n; k++) {
        float *yt = j->y + (t0 + k) * D + d0;
        common_vec_store(yt, common_vec_load(yt) + acc[k][0]);
        common_vec_store(yt + COMMON_VL, common_vec_load(yt + COMMON_VL) + acc[k][1]);
    }
}

/* y[t][d0:d1] += sum_f h[t][f] w2[f][d0:d1]. Columns in blocks of 2 VL whose
 * w2 slice (F x 2 VL floats) stays in L2 while every token group reads it;
 * a column tail narrower than that goes through axpys. */
static void stream_down(const struct stream_job *j, size_t d0, size_t d1)
{
    const struct common_ffn *ffn = j->ffn;
    const size_t D = ffn->d_model, F = ffn->width, T = j->n_tokens;
    size_t d = d0;
    for (; d + 2 * COMMON_VL <= d1; d += 2 * COMMON_VL)
        for (size_t t = 0; t < T; t += 4)
            down_block(j, t, T - t < 4 ? T - t : 4, d);
    if (d < d1)
        for (size_t f = 0; f < F; f++)
            for (size_t t = 0; t < T; t++)
                common_vec_axpy(j->y + t * D + d, j->h[t * F + f], ffn->w2 + f * D + d, d1 - d, 0);
}

static void stream_up_task(void *arg, size_t task, int worker)
{
    const struct stream_job *j = arg;
    size_t f0 = task * STREAM_TASK_COLS, f1 = f0 + STREAM_TASK_COLS;
    (void)worker;
    stream_up(j, f0, f1 < j->ffn->width ? f1 : j->ffn->width);
}

static void stream_down_task(void *arg, size_t task, int worker)
{
    const struct stream_job *j = arg;
    size_t d0 = task * STREAM_TASK_COLS / 2, d1 = d0 + STREAM_TASK_COLS / 2;
    (void)worker;
    stream_down(j, d0, d1 < j->ffn->d_model ? d1 : j->ffn->d_model);
}

static void ffn_forward_stream(const struct common_ffn *ffn, const float *x, size_t n_tokens,
                               float *h, float *y, struct common_pool *pool)
{
    struct stream_job job = {ffn, x, h, y, n_tokens};
    size_t half = STREAM_TASK_COLS / 2;
    common_pool_run(pool, (ffn->width + STREAM_TASK_COLS - 1) / STREAM_TASK_COLS, stream_up_task,
                    &job);
    common_pool_run(pool, (ffn->d_model + half - 1) / half, stream_down_task, &job);
}

static void fill_rows(float *y, const float *row, size_t n_tokens, size_t d_model)
{
    for (size_t t = 0; t < n_tokens; t++)
        memcpy(y + t * d_model, row, d_model * sizeof(*y));
}

void common_ffn_forward(const struct common_ffn *ffn, const float *x, size_t n_tokens, float *h,
                        float *y, struct common_pool *pool)
{
    const int D = (int)ffn->d_model, F = (int)ffn->width, T = (int)n_tokens;
    float beta = 0.0f;
    if (ffn->b2) {
        fill_rows(y, ffn->b2, n_tokens, ffn->d_model);
        beta = 1.0f;
    } else if (T > 1 && T <= FFN_STREAM_MAX_T) {
        memset(y, 0, n_tokens * ffn->d_model * sizeof(*y));
    }
    if (T > 1 && T <= FFN_STREAM_MAX_T) {
        ffn_forward_stream(ffn, x, n_tokens, h, y, pool);
        return;
    }
    if (T == 1) {
        /* The bias rides in as beta = 1 and the GELU pass is too short to split. */
        float hbeta = 0.0f;
        if (ffn->b1) {
            memcpy(h, ffn->b1, ffn->width * sizeof(*h));
            hbeta = 1.0f;
        }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, F, D, 1.0f, ffn->w1, D, x, 1, hbeta, h, 1);
        common_gelu(h, ffn->width);
        cblas_sgemv(CblasRowMajor, CblasTrans, F, D, 1.0f, ffn->w2, D, h, 1, beta, y, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, F, D, 1.0f, x, D, ffn->w1, D, 0.0f, h,
                F);
    bias_gelu_parallel(h, ffn->b1, n_tokens, ffn->width, pool);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, F, 1.0f, h, F, ffn->w2, D, beta, y,
                D);
}

void common_ffn_forward_ref(const struct common_ffn *ffn, const float *x, size_t n_tokens, float *y)
{
    const size_t D = ffn->d_model, F = ffn->width;
    for (size_t t = 0; t < n_tokens; t++) {
        const float *xt = x + t * D;
        float *yt = y + t * D;
        for (size_t d = 0; d < D; d++)
            yt[d] = ffn->b2 ? ffn->b2[d] : 0.0f;
        for (size_t f = 0; f < F; f++) {
            float z = ffn->b1 ? ffn->b1[f] : 0.0f;
            for (size_t d = 0; d < D; d++)
                z += ffn->w1[f * D + d] * xt[d];
            float a = common_gelu_ref(z);
            for (size_t d = 0; d < D; d++)
                yt[d] += a * ffn->w2[f * D + d];
        }
    }
}

uint64_t common_ffn_flops(const struct common_ffn *ffn, size_t n_tokens)
{
    return 4ull * n_tokens * ffn->d_model * ffn->width;
}

uint64_t common_ffn_params(const struct common_ffn *ffn)
{
    return 2ull * ffn->d_model * ffn->width + (ffn->b1 ? ffn->width : 0) +
           (ffn->b2 ? ffn->d_model : 0);
}
