/* ffn.c - the GELU feed-forward block y = W2 gelu(W1 x + b1) + b2, the unit
 * both the dense baseline and every MoE expert are made of.
 *
 * The fast path is what a user would write with OpenBLAS at full speed:
 * sgemv for one token (a GEMM with M = 1 runs well below sgemv, research/
 * fff.md section 8), sgemm for many, and a vectorised exact-erf GELU pass
 * split over the pool. Up to FFN_STREAM_MAX_T tokens, where OpenBLAS's sgemm
 * spends about as long packing the weights on every call as multiplying,
 * the weights are instead streamed once, front to back, through a
 * register-blocked kernel that serves every token from each loaded row, as
 * ggml's mul_mat_id does with its 16 x 16 blocks of dot products and
 * SGLang's CPU MoE with its 4-row tinygemm (research/moe.md sections 1.1.3,
 * 1.3): split over the pool, or on the caller's thread alone (an MoE
 * expert's group). The plain-loop reference walks one neuron at a time.
 *
 * Narrow weights (dtype=bf16|f16, issue 18): w1 and w2 are stored only in
 * the narrow type, no fp32 copy, so the bytes a forward streams are half;
 * the biases stay fp32. The streaming kernel is one body instantiated for
 * the three types with a constant dtype (vec.h's typed loads widen each
 * vector exactly on load, so at f32 it is the kernel it always was, bit for
 * bit), and it serves every T up to FFN_STREAM_MAX_T, T = 1 too (there is
 * no narrow sgemv). Above, sgemm is compute-bound and OpenBLAS 0.3.21 has
 * no bf16 or f16 GEMM: FFN_WIDE_TILE neurons of w1 are widened into fp32
 * scratch the caller sized with common_ffn_wide_floats, one sgemm and the
 * GELU give those neurons' hidden values, the same tile of w2 is widened
 * into the same scratch and a second sgemm adds their share to y. Not
 * AVX-512 BF16's vdpbf16ps: it would round the activations to bf16 too,
 * and activations and sums stay fp32 here.
 */
#include "common.h"
#include "vec.h"

#include <cblas.h>
#include <string.h>

#define FFN_INIT_STD 0.02f

/* Element size of dt, inlined so a constant dt folds it. */
static inline __attribute__((always_inline)) size_t elt_size(enum layer_dtype dt)
{
    return dt == LAYER_F32 ? sizeof(float) : sizeof(uint16_t);
}

/* &p[i] for an array of dt. */
static inline __attribute__((always_inline)) const void *elt(enum layer_dtype dt, const void *p,
                                                             size_t i)
{
    return (const char *)p + i * elt_size(dt);
}

/* n normal draws into w stored as dt: at f32 straight in; narrow, a chunk
 * of fp32 draws at a time rounded into place (each draw is one value of the
 * stream, so chunking does not change them). */
static void fill_normal_dt(struct common_rng *r, enum layer_dtype dt, void *w, size_t n)
{
    float buf[1024];
    const size_t chunk = sizeof(buf) / sizeof(buf[0]);
    if (dt == LAYER_F32) {
        common_rng_fill_normal(r, w, n, FFN_INIT_STD);
        return;
    }
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        common_rng_fill_normal(r, buf, k, FFN_INIT_STD);
        common_dtype_narrow(dt, (char *)w + i * elt_size(dt), buf, k);
    }
}

void common_ffn_init(float *w1, float *b1, float *w2, float *b2, size_t d_model, size_t width,
                     uint64_t seed, uint64_t stream)
{
    common_ffn_init_typed(LAYER_F32, w1, b1, w2, b2, d_model, width, seed, stream);
}

void common_ffn_init_typed(enum layer_dtype dt, void *w1, float *b1, void *w2, float *b2,
                           size_t d_model, size_t width, uint64_t seed, uint64_t stream)
{
    struct common_rng r;
    common_rng_seed(&r, seed, stream * 4 + 0);
    fill_normal_dt(&r, dt, w1, width * d_model);
    common_rng_seed(&r, seed, stream * 4 + 1);
    fill_normal_dt(&r, dt, w2, width * d_model);
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

/* Up to this many tokens the streaming kernel beats sgemm at the same thread
 * count (OpenBLAS 0.3.21's AVX-512 kernels, D = 768, cold weights, this
 * 2-vCPU Xeon guest). Dense, F = 3072, the kernel split over 2 threads
 * against 2-thread sgemm, median latency over three interleaved rounds:
 * T = 16: 1.14-1.27 vs 2.43-2.52 ms; 64: 3.17-3.34 vs 3.71-3.78; 96:
 * 4.13-4.35 vs 4.25-4.46; 128: 4.94-5.56 vs 5.65-6.22; 160: 6.11-6.46 vs
 * 6.00-6.76 (a tie); 192: 7.25-7.91 vs 7.10-7.58; 256: 9.99-10.7 vs
 * 8.89-9.46. One expert per thread as MoE runs them (24 experts of
 * F = 1536, n rows each, 2 threads, the kernel against 1-thread sgemm), GB/s
 * of weights: n = 32: 13.2 vs 7.0; 64: 7.3 vs 5.2; 96: 4.9 vs 4.1; 128: 3.7
 * vs 3.4; 160: 3.0 vs 3.0; 192: 2.5 vs 2.6; 256: 1.8 vs 2.0. At these
 * shapes sgemm packs the weights on every call, which costs about as much
 * as the multiply. */
#define FFN_STREAM_MAX_T 128
#define STREAM_TASK_COLS 256 /* neurons (up) or 2 x output columns (down) per task */

/* Register blocks. Up: UP_ROWS rows of w1 x STREAM_TOKENS tokens = COMMON_VL
 * dot products, one accumulator each, folded into one vector at the end
 * (UP_ROWS + 4 loads for 16 FMAs a vector step with AVX-512). Down:
 * STREAM_TOKENS tokens x DOWN_VECS output vectors of sums held in registers
 * while DOWN_ROWS rows of w2 pass (DOWN_VECS + 4 loads for 16 FMAs a row),
 * token blocks innermost, so each DOWN_ROWS x DOWN_VECS-vector piece of w2
 * (4 KB) is read from L1 by all of them and the sums go back to y once per
 * DOWN_ROWS rows. Both walk the weights front to back, a few rows at a time,
 * and prefetch (into L2) the rows PREFETCH_ROWS ahead.
 *
 * Measured with a standalone driver: 24 experts of D = 768, F = 1536, n rows
 * each, one expert per thread, 2 threads, cold (flushed), GB/s of weights,
 * median of 7 interleaved passes; a pure read of the same bytes 29.4-31.1,
 * 1-thread sgemm 11.2, 9.9, 8.9, 7.0 at n = 1, 5, 16, 32, and the kernel this
 * replaced 20.1-21.0, 14.0-14.6, 9.0-9.1 at n = 2, 5, 16. This kernel, at
 * n = 1, 2, 5, 8, 12, 16, 24, 32:
 *                                30.4 28.7 26.0 24.1 22.6 18.9 15.3 13.0
 *   without the prefetch         28.2 25.4 20.9 18.2 16.0 14.3 11.5  9.8
 *   prefetch never spread        30.0 29.1 25.9 24.1 19.4 16.8 13.0 10.6
 *   prefetch always spread       30.1 28.7 22.2 21.8 22.6 18.8 15.4 13.0
 *   8 rows ahead, not 16         30.4 29.3 26.2 24.6 19.6 16.6 13.5 11.7
 *   32 rows ahead                30.1 28.5 25.6 23.9 22.2 18.0 15.0 12.6
 *   down 8 rows at every n       30.3 28.4 25.7 24.4 22.4 18.1 14.3 11.9
 *   down 16 rows at every n      30.4 28.7 24.7 23.4 22.9 18.8 15.7 12.8
 * With at most two token blocks the stream is memory-bound: the prefetches
 * go out in a burst during the first block (more lines in flight), and 8
 * rows down. With three or more it is compute-bound and a burst stalls the
 * FMAs: they are spread over the token blocks, and 16 rows down halve the
 * sums' trips to y. Blocking the up pass 8 rows x 2 tokens once the tokens
 * outgrow L1 measured the same or slower from n = 24 to 128. */
#define STREAM_TOKENS              4
#define UP_ROWS                    (COMMON_VL / STREAM_TOKENS)
#define DOWN_ROWS                  16
#define DOWN_ROWS_FEW              8 /* with fewer than PREFETCH_SPREAD_MIN_BLOCKS token blocks */
#define DOWN_VECS                  4
#define PREFETCH_ROWS              16
#define PREFETCH_SPREAD_MIN_BLOCKS 3
#define PREFETCH_L2                2 /* __builtin_prefetch locality: prefetcht1 */

struct stream_job {
    const struct common_ffn *ffn;
    const float *x; /* (T, D) */
    float *h;       /* (T, F) */
    float *y;       /* (T, D), holding b2 or 0 */
    size_t n_tokens;
    size_t up_rows, down_cols; /* per task */
};

/* Which vector steps (up) of token block b of nb issue the prefetches:
 * all in block 0 when nb is small, else every nb-th from b. -1: none. */
static inline void prefetch_plan(int b, int nb, int *first, int *every)
{
    if (nb < PREFETCH_SPREAD_MIN_BLOCKS) {
        *first = b == 0 ? 0 : -1;
        *every = 1;
    } else {
        *first = b;
        *every = nb;
    }
}

/* z[t UP_ROWS + r] = w1[r] . x[t] for r < R rows from w (of dt), t < NT
 * tokens from x; pf (may be NULL) points PREFETCH_ROWS rows ahead of w.
 * Every dot is one accumulator over the vectors of D in order, folded by
 * common_vec_fold, plus a scalar tail: the same floats whatever the block's
 * shape or place. */
static inline __attribute__((always_inline)) void up_block(enum layer_dtype dt, const void *w,
                                                           size_t D, const float *x, int R, int NT,
                                                           const void *pf, int b, int nb,
                                                           float z[COMMON_VL])
{
    common_vec acc[COMMON_VL] = {{0}};
    int due, every;
    prefetch_plan(b, nb, &due, &every);
    if (!pf)
        due = -1;
    size_t i = 0;
    for (; i + COMMON_VL <= D; i += COMMON_VL) {
        common_vec xv[STREAM_TOKENS];
        for (int t = 0; t < NT; t++)
            xv[t] = common_vec_load(x + t * D + i);
        if (due == 0)
            for (int r = 0; r < R; r++)
                __builtin_prefetch(elt(dt, pf, r * D + i), 0, PREFETCH_L2);
        if (due >= 0 && --due < 0)
            due = every - 1;
        for (int r = 0; r < R; r++) {
            common_vec wv = common_vec_load_dt(dt, w, r * D + i);
            for (int t = 0; t < NT; t++)
                acc[t * UP_ROWS + r] = common_vec_fma(wv, xv[t], acc[t * UP_ROWS + r]);
        }
    }
    common_vec_store(z, common_vec_fold(acc));
    for (; i < D; i++)
        for (int t = 0; t < NT; t++)
            for (int r = 0; r < R; r++)
                z[t * UP_ROWS + r] += common_dtype_at(dt, w, r * D + i) * x[t * D + i];
}

/* h[t][f] = gelu(w1[f] . x[t] + b1[f]) for f in [f0, f1), all tokens, w1
 * of dt (a constant where it is inlined). */
static inline __attribute__((always_inline)) void
stream_up(enum layer_dtype dt, const struct stream_job *j, size_t f0, size_t f1)
{
    const struct common_ffn *ffn = j->ffn;
    const size_t D = ffn->d_model, F = ffn->width, T = j->n_tokens;
    const int nb = (int)((T + STREAM_TOKENS - 1) / STREAM_TOKENS);
    float z[COMMON_VL];
    for (size_t f = f0; f < f1; f += UP_ROWS) {
        const int R = f1 - f < UP_ROWS ? (int)(f1 - f) : UP_ROWS;
        const void *w = elt(dt, ffn->w1, f * D);
        const void *pf = f + PREFETCH_ROWS + (size_t)R <= f1 ? elt(dt, w, PREFETCH_ROWS * D) : NULL;
        for (int b = 0; b < nb; b++) {
            const size_t t = (size_t)b * STREAM_TOKENS;
            const int NT = T - t < STREAM_TOKENS ? (int)(T - t) : STREAM_TOKENS;
            const float *xt = j->x + t * D;
            /* Constant block shapes, so the accumulators live in registers. */
            if (R < UP_ROWS)
                up_block(dt, w, D, xt, R, NT, NULL, b, nb, z);
            else if (NT == 4)
                up_block(dt, w, D, xt, UP_ROWS, 4, pf, b, nb, z);
            else if (NT == 3)
                up_block(dt, w, D, xt, UP_ROWS, 3, pf, b, nb, z);
            else if (NT == 2)
                up_block(dt, w, D, xt, UP_ROWS, 2, pf, b, nb, z);
            else
                up_block(dt, w, D, xt, UP_ROWS, 1, pf, b, nb, z);
            for (int k = 0; k < NT; k++)
                for (int r = 0; r < R; r++)
                    j->h[(t + k) * F + f + r] =
                        z[k * UP_ROWS + r] + (ffn->b1 ? ffn->b1[f + r] : 0.0f);
        }
    }
    for (size_t t = 0; t < T; t++)
        common_gelu(j->h + t * F + f0, f1 - f0);
}

/* y[t][0 : V VL) += sum_{r < FB} h[t][r] w2[r][0 : V VL) for NT tokens: w2,
 * h and y point at the block's first row, neuron and column; pf (may be
 * NULL) at the same columns PREFETCH_ROWS rows ahead, of which rows
 * [p0, p1) are prefetched here; w2 and pf are of dt. Each sum is one FMA
 * chain in neuron order, whatever the blocking. */
static inline __attribute__((always_inline)) void down_block(enum layer_dtype dt, const void *w2,
                                                             size_t D, const float *h, size_t F,
                                                             float *y, int FB, int NT, int V,
                                                             const void *pf, int p0, int p1)
{
    common_vec acc[STREAM_TOKENS][DOWN_VECS];
    if (pf)
        for (int r = p0; r < p1; r++)
            for (int c = 0; c < V; c++)
                __builtin_prefetch(elt(dt, pf, r * D + c * COMMON_VL), 0, PREFETCH_L2);
    for (int t = 0; t < NT; t++)
        for (int c = 0; c < V; c++)
            acc[t][c] = common_vec_load(y + t * D + c * COMMON_VL);
    for (int r = 0; r < FB; r++) {
        common_vec wv[DOWN_VECS];
        for (int c = 0; c < V; c++)
            wv[c] = common_vec_load_dt(dt, w2, r * D + c * COMMON_VL);
        for (int t = 0; t < NT; t++) {
            common_vec a = common_vec_set1(h[t * F + r]);
            for (int c = 0; c < V; c++)
                acc[t][c] = common_vec_fma(a, wv[c], acc[t][c]);
        }
    }
    for (int t = 0; t < NT; t++)
        for (int c = 0; c < V; c++)
            common_vec_store(y + t * D + c * COMMON_VL, acc[t][c]);
}

/* y[t][d0:d1] += sum_f h[t][f] w2[f][d0:d1], DOWN_ROWS rows of w2 at a time,
 * front to back; within them columns in chunks of DOWN_VECS vectors, then
 * single vectors, then a scalar tail, each chunk through every token block. */
static inline __attribute__((always_inline)) void
stream_down(enum layer_dtype dt, const struct stream_job *j, size_t d0, size_t d1)
{
    const struct common_ffn *ffn = j->ffn;
    const size_t D = ffn->d_model, F = ffn->width, T = j->n_tokens, chunk = DOWN_VECS * COMMON_VL;
    const int nb = (int)((T + STREAM_TOKENS - 1) / STREAM_TOKENS);
    const int spread = nb >= PREFETCH_SPREAD_MIN_BLOCKS;
    const int rows = spread ? DOWN_ROWS : DOWN_ROWS_FEW;
    for (size_t f = 0; f < F; f += (size_t)rows) {
        const int FB = F - f < (size_t)rows ? (int)(F - f) : rows;
        const void *w = elt(dt, ffn->w2, f * D);
        const float *ht = j->h + f;
        const void *pf = f + PREFETCH_ROWS + (size_t)FB <= F ? elt(dt, w, PREFETCH_ROWS * D) : NULL;
        size_t d = d0;
        for (; d + chunk <= d1; d += chunk) {
            const void *wd = elt(dt, w, d);
            for (int b = 0; b < nb; b++) {
                const size_t t = (size_t)b * STREAM_TOKENS;
                const int NT = T - t < STREAM_TOKENS ? (int)(T - t) : STREAM_TOKENS;
                /* Rows of the block ahead this token block prefetches. */
                const int p0 = spread ? FB * b / nb : 0, p1 = spread ? FB * (b + 1) / nb : FB;
                const void *p = pf && (spread || b == 0) ? elt(dt, pf, d) : NULL;
                const float *hb = ht + t * F;
                float *yt = j->y + t * D + d;
                if (FB == DOWN_ROWS && NT == 4)
                    down_block(dt, wd, D, hb, F, yt, DOWN_ROWS, 4, DOWN_VECS, p, p0, p1);
                else if (FB == DOWN_ROWS)
                    down_block(dt, wd, D, hb, F, yt, DOWN_ROWS, NT, DOWN_VECS, p, p0, p1);
                else if (FB == DOWN_ROWS_FEW && NT == 4)
                    down_block(dt, wd, D, hb, F, yt, DOWN_ROWS_FEW, 4, DOWN_VECS, p, p0, p1);
                else if (FB == DOWN_ROWS_FEW && NT == 3)
                    down_block(dt, wd, D, hb, F, yt, DOWN_ROWS_FEW, 3, DOWN_VECS, p, p0, p1);
                else if (FB == DOWN_ROWS_FEW && NT == 2)
                    down_block(dt, wd, D, hb, F, yt, DOWN_ROWS_FEW, 2, DOWN_VECS, p, p0, p1);
                else if (FB == DOWN_ROWS_FEW)
                    down_block(dt, wd, D, hb, F, yt, DOWN_ROWS_FEW, 1, DOWN_VECS, p, p0, p1);
                else
                    down_block(dt, wd, D, hb, F, yt, FB, NT, DOWN_VECS, p, p0, p1);
            }
        }
        for (; d + COMMON_VL <= d1; d += COMMON_VL)
            for (size_t t = 0; t < T; t++)
                down_block(dt, elt(dt, w, d), D, ht + t * F, F, j->y + t * D + d, FB, 1, 1, NULL, 0,
                           0);
        for (; d < d1; d++)
            for (size_t t = 0; t < T; t++)
                for (int r = 0; r < FB; r++)
                    j->y[t * D + d] += ht[t * F + r] * common_dtype_at(dt, w, r * D + d);
    }
}

/* The kernels for each type, the dtype a constant in each. */
static void stream_up_f32(const struct stream_job *j, size_t f0, size_t f1)
{
    stream_up(LAYER_F32, j, f0, f1);
}

static void stream_up_bf16(const struct stream_job *j, size_t f0, size_t f1)
{
    stream_up(LAYER_BF16, j, f0, f1);
}

static void stream_up_f16(const struct stream_job *j, size_t f0, size_t f1)
{
    stream_up(LAYER_F16, j, f0, f1);
}

static void stream_down_f32(const struct stream_job *j, size_t d0, size_t d1)
{
    stream_down(LAYER_F32, j, d0, d1);
}

static void stream_down_bf16(const struct stream_job *j, size_t d0, size_t d1)
{
    stream_down(LAYER_BF16, j, d0, d1);
}

static void stream_down_f16(const struct stream_job *j, size_t d0, size_t d1)
{
    stream_down(LAYER_F16, j, d0, d1);
}

static void stream_up_task(void *arg, size_t task, int worker)
{
    const struct stream_job *j = arg;
    size_t f0 = task * j->up_rows, f1 = f0 + j->up_rows;
    (void)worker;
    if (f1 > j->ffn->width)
        f1 = j->ffn->width;
    if (j->ffn->dtype == LAYER_BF16)
        stream_up_bf16(j, f0, f1);
    else if (j->ffn->dtype == LAYER_F16)
        stream_up_f16(j, f0, f1);
    else
        stream_up_f32(j, f0, f1);
}

static void stream_down_task(void *arg, size_t task, int worker)
{
    const struct stream_job *j = arg;
    size_t d0 = task * j->down_cols, d1 = d0 + j->down_cols;
    (void)worker;
    if (d1 > j->ffn->d_model)
        d1 = j->ffn->d_model;
    if (j->ffn->dtype == LAYER_BF16)
        stream_down_bf16(j, d0, d1);
    else if (j->ffn->dtype == LAYER_F16)
        stream_down_f16(j, d0, d1);
    else
        stream_down_f32(j, d0, d1);
}

/* On one thread each matrix is one task, streamed front to back with its
 * prefetch running across what would be task boundaries; on the pool the
 * neurons (up) and the output columns (down) are split in tasks, so every
 * output is summed in the same order whatever the thread count. */
static void ffn_forward_stream(const struct common_ffn *ffn, const float *x, size_t n_tokens,
                               float *h, float *y, struct common_pool *pool)
{
    int serial = common_pool_threads(pool) == 1;
    struct stream_job job = {ffn,
                             x,
                             h,
                             y,
                             n_tokens,
                             serial ? ffn->width : STREAM_TASK_COLS,
                             serial ? ffn->d_model : STREAM_TASK_COLS / 2};
    common_pool_run(pool, (ffn->width + job.up_rows - 1) / job.up_rows, stream_up_task, &job);
    common_pool_run(pool, (ffn->d_model + job.down_cols - 1) / job.down_cols, stream_down_task,
                    &job);
}

/* ---- narrow weights above FFN_STREAM_MAX_T: fp32 tiles for sgemm ---- */

/* Neurons of w1 (then of w2) widened per sgemm pair: 512 x D floats, 1.5 MB
 * at D = 768. Each tile's sgemm packs x (up) or writes y (down) again, so
 * narrower tiles cost more: dense, D = 768, T = 1024, 2 threads, cold,
 * bf16 against f32 paired (sparsebench compare), time ratio f32 / bf16 0.82
 * [0.77, 0.84] with 256-neuron tiles, 0.99 [0.95, 1.06] with 512 and 0.99
 * [0.89, 1.06] with 1024. The widening itself is 2 F D loads a forward,
 * against 4 T F D flops. Streaming the narrow weights through the kernel
 * 128 tokens at a time instead measured 0.63 [0.59, 0.67] at T = 1024. And
 * inside the kernel, widening each row once into an L1 buffer for all
 * token blocks (instead of in every block) measured slower at T = 16:
 * 0.87 [0.85, 1.01] against 1.07 [1.04, 1.10] widening in the block. */
#define FFN_WIDE_TILE    512
#define WIDEN_TASK_ELEMS (64 * 1024)

size_t common_ffn_wide_floats(const struct common_ffn *ffn)
{
    if (ffn->dtype == LAYER_F32)
        return 0;
    return (ffn->width < FFN_WIDE_TILE ? ffn->width : FFN_WIDE_TILE) * ffn->d_model;
}

static inline __attribute__((always_inline)) void widen(enum layer_dtype dt, float *dst,
                                                        const void *src, size_t n)
{
    size_t i = 0;
    for (; i + COMMON_VL <= n; i += COMMON_VL)
        common_vec_store(dst + i, common_vec_load_dt(dt, src, i));
    for (; i < n; i++)
        dst[i] = common_dtype_at(dt, src, i);
}

struct widen_job {
    enum layer_dtype dtype;
    const void *src;
    float *dst;
    size_t n;
};

static void widen_task(void *arg, size_t task, int worker)
{
    const struct widen_job *j = arg;
    size_t i = task * WIDEN_TASK_ELEMS,
           n = j->n - i < WIDEN_TASK_ELEMS ? j->n - i : WIDEN_TASK_ELEMS;
    (void)worker;
    if (j->dtype == LAYER_BF16)
        widen(LAYER_BF16, j->dst + i, elt(LAYER_BF16, j->src, i), n);
    else
        widen(LAYER_F16, j->dst + i, elt(LAYER_F16, j->src, i), n);
}

/* y (+)= ffn(x) a tile of neurons at a time: widen FFN_WIDE_TILE rows of w1,
 * h = gelu(x W1_tile^T + b1_tile) by sgemm, widen the same rows of w2 into
 * the same scratch, y += h W2_tile by sgemm (beta: y holds b2, or 0 for the
 * first tile). h is packed (T, tile). */
static void ffn_forward_tiles(const struct common_ffn *ffn, const float *x, size_t n_tokens,
                              float *h, float *y, float beta, float *wide, struct common_pool *pool)
{
    const size_t D = ffn->d_model, F = ffn->width;
    const int T = (int)n_tokens;
    for (size_t f0 = 0; f0 < F; f0 += FFN_WIDE_TILE) {
        const size_t nf = F - f0 < FFN_WIDE_TILE ? F - f0 : FFN_WIDE_TILE;
        struct widen_job wj = {ffn->dtype, elt(ffn->dtype, ffn->w1, f0 * D), wide, nf * D};
        const size_t tasks = (wj.n + WIDEN_TASK_ELEMS - 1) / WIDEN_TASK_ELEMS;
        common_pool_run(pool, tasks, widen_task, &wj);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)nf, (int)D, 1.0f, x, (int)D,
                    wide, (int)D, 0.0f, h, (int)nf);
        bias_gelu_parallel(h, ffn->b1 ? ffn->b1 + f0 : NULL, n_tokens, nf, pool);
        wj.src = elt(ffn->dtype, ffn->w2, f0 * D);
        common_pool_run(pool, tasks, widen_task, &wj);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, (int)D, (int)nf, 1.0f, h, (int)nf,
                    wide, (int)D, f0 ? 1.0f : beta, y, (int)D);
    }
}

static void fill_rows(float *y, const float *row, size_t n_tokens, size_t d_model)
{
    for (size_t t = 0; t < n_tokens; t++)
        memcpy(y + t * d_model, row, d_model * sizeof(*y));
}

void common_ffn_forward(const struct common_ffn *ffn, const float *x, size_t n_tokens, float *h,
                        float *y, float *wide, struct common_pool *pool)
{
    const int D = (int)ffn->d_model, F = (int)ffn->width, T = (int)n_tokens;
    const int narrow = ffn->dtype != LAYER_F32;
    /* One token on the pool is sgemv: dense's decode step measured 0.68-0.71
     * ms against 0.75-0.78 with the kernel split over 2 threads. On one
     * thread (an MoE expert with one row) the kernel was a little faster
     * than sgemv: 31.2 vs 30.1 GB/s in the driver described below. Narrow
     * weights have no sgemv and stream at T = 1 on any pool. */
    const int stream =
        narrow ? T <= FFN_STREAM_MAX_T
               : T <= FFN_STREAM_MAX_T && (T > 1 || (T == 1 && common_pool_threads(pool) == 1));
    float beta = 0.0f;
    if (ffn->b2) {
        fill_rows(y, ffn->b2, n_tokens, ffn->d_model);
        beta = 1.0f;
    } else if (stream) {
        memset(y, 0, n_tokens * ffn->d_model * sizeof(*y));
    }
    if (stream) {
        ffn_forward_stream(ffn, x, n_tokens, h, y, pool);
        return;
    }
    if (narrow) {
        ffn_forward_tiles(ffn, x, n_tokens, h, y, beta, wide, pool);
        return;
    }
    const float *w1 = ffn->w1, *w2 = ffn->w2;
    if (T == 1) {
        /* The bias rides in as beta = 1 and the GELU pass is too short to split. */
        float hbeta = 0.0f;
        if (ffn->b1) {
            memcpy(h, ffn->b1, ffn->width * sizeof(*h));
            hbeta = 1.0f;
        }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, F, D, 1.0f, w1, D, x, 1, hbeta, h, 1);
        common_gelu(h, ffn->width);
        cblas_sgemv(CblasRowMajor, CblasTrans, F, D, 1.0f, w2, D, h, 1, beta, y, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, F, D, 1.0f, x, D, w1, D, 0.0f, h, F);
    bias_gelu_parallel(h, ffn->b1, n_tokens, ffn->width, pool);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, F, 1.0f, h, F, w2, D, beta, y, D);
}

void common_ffn_forward_ref(const struct common_ffn *ffn, const float *x, size_t n_tokens, float *y)
{
    const size_t D = ffn->d_model, F = ffn->width;
    const enum layer_dtype dt = ffn->dtype;
    for (size_t t = 0; t < n_tokens; t++) {
        const float *xt = x + t * D;
        float *yt = y + t * D;
        for (size_t d = 0; d < D; d++)
            yt[d] = ffn->b2 ? ffn->b2[d] : 0.0f;
        for (size_t f = 0; f < F; f++) {
            float z = ffn->b1 ? ffn->b1[f] : 0.0f;
            for (size_t d = 0; d < D; d++)
                z += common_dtype_at(dt, ffn->w1, f * D + d) * xt[d];
            float a = common_gelu_ref(z);
            for (size_t d = 0; d < D; d++)
                yt[d] += a * common_dtype_at(dt, ffn->w2, f * D + d);
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

uint64_t common_ffn_bytes(const struct common_ffn *ffn)
{
    return 2ull * ffn->d_model * ffn->width * elt_size(ffn->dtype) +
           sizeof(float) * ((ffn->b1 ? ffn->width : 0) + (ffn->b2 ? ffn->d_model : 0));
}
