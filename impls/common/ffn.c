/* ffn.c - the GELU feed-forward block y = W2 gelu(W1 x + b1) + b2, the unit
 * both the dense baseline and every MoE expert are made of.
 *
 * The fast path is what a user would write with OpenBLAS at full speed:
 * sgemv for one token (a GEMM with M = 1 runs well below sgemv, research/
 * fff.md section 8), sgemm otherwise, and a vectorised exact-erf GELU pass
 * split over the pool. The plain-loop reference walks one neuron at a time.
 */
#include "common.h"

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
