/* pkm_forward.c - PKM's optimized forward and its exact stats (Lample et al.
 * 2019; research/ultramem_pkm.md section 3.1).
 *
 * Three phases. The front runs one pool task per (head, block of tokens):
 * that head's slice of the query Linear with BatchNorm folded in, both
 * halves' scores against the head's sub-keys, and for every token the
 * product top-k (pkm_select.c), the near-tie check (pkm.h) and the softmax.
 * Then the picks are grouped by value row and gathered (pkm_gather.c).
 *
 * The two products are OpenBLAS's sgemm, except for blocks of up to
 * small_gemm tokens (default 16), which take common_gemm_small_nt: it reads
 * each head's 0.8 MB of query rows and 0.27 MB of sub-keys once, where
 * sgemm packs them first (and sgemv, at one token, was slower too). Paired,
 * OpenBLAS at full speed (Cooper Lake kernels), D = 768, scale 12, 2
 * threads, cold: `sparsebench compare pkm:small_gemm=128 pkm:small_gemm=0
 * --d 768 --scale 12 --tokens T`, time(OpenBLAS) / time(own kernel) at
 * T = 1: 1.065 [1.015, 1.147]; 4: 1.32 [1.24, 1.44]; 8: 1.37 [1.28, 1.53];
 * 16: 1.11 [1.01, 1.18]; 32: 0.98 [0.95, 1.04]; 64: 0.90 [0.87, 0.90];
 * 128: 0.86 [0.84, 0.88]. From 32 tokens sgemm's blocking wins.
 *
 * Every phase runs on the layer's own pool with OpenBLAS single-threaded
 * inside each task. With OpenBLAS's threads as well, its workers keep
 * spinning after each call on the core the pool's worker needs next, and on
 * two cores that costs milliseconds per forward (measured at T = 8 on two
 * threads: 6.9 ms instead of 1.0 ms).
 */
#include "pkm.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define TOKEN_BLOCK     256 /* tokens per front task: big enough for an efficient sgemm */
#define POOL_MIN_TOKENS 8   /* below, waking the pool's sleeping worker costs more than it saves */

/* Near-tie margin, relative to a Cauchy-Schwarz bound on the scores (pkm.h). */
#define TIE_MARGIN 0x1p-19

/* q[t][h d_k ...] = x_t W'_h^T + b'_h for tokens [t0, t1), then both halves'
 * scores s[h][half][t][0..n). */
static void head_scores(struct pkm *p, const float *x, size_t T, size_t h, size_t t0, size_t t1)
{
    const size_t D = p->d_model, Q = p->q_dim, hf = p->half, dk = 2 * hf;
    const size_t n = (size_t)p->knobs.n_keys, m = t1 - t0;
    const float *w = p->wq + h * dk * D;
    float *q = p->q + t0 * Q + h * dk;

    for (size_t t = 0; t < m; t++)
        memcpy(q + t * Q, p->bq + h * dk, dk * sizeof(float));
    if (m <= (size_t)p->knobs.small_gemm)
        common_gemm_small_nt(m, dk, D, x + t0 * D, D, w, D, q, Q, 1);
    else if (m == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)dk, (int)D, 1.0f, w, (int)D, x + t0 * D, 1,
                    1.0f, q, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)dk, (int)D, 1.0f,
                    x + t0 * D, (int)D, w, (int)D, 1.0f, q, (int)Q);
    for (size_t half = 0; half < 2; half++) {
        const float *keys = p->keys + (2 * h + half) * n * hf;
        float *s = p->s + ((2 * h + half) * T + t0) * n;
        if (m <= (size_t)p->knobs.small_gemm)
            common_gemm_small_nt(m, n, hf, q + half * hf, Q, keys, hf, s, n, 0);
        else if (m == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)hf, 1.0f, keys, (int)hf,
                        q + half * hf, 1, 0.0f, s, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)hf, 1.0f,
                        q + half * hf, (int)Q, keys, (int)hf, 0.0f, s, (int)n);
    }
}

static float norm(const float *v, size_t n)
{
    float sq = 0;
    for (size_t i = 0; i < n; i++)
        sq += v[i] * v[i];
    return sqrtf(sq);
}

/* Token t, head h: the top K into out, best first. Selects K + 1 so that the
 * K-th's lead over the best key left out is known; when it is within the
 * margin, the head is rescored as forward_ref scores it and selected again. */
static void select_token_head(struct pkm *p, const float *x_t, size_t T, size_t t, size_t h,
                              struct pkm_worker *w, struct pkm_pick *out)
{
    const size_t K = (size_t)p->knobs.topk, n = (size_t)p->knobs.n_keys, hf = p->half;
    const float *s1 = p->s + ((2 * h) * T + t) * n, *s2 = p->s + ((2 * h + 1) * T + t) * n;
    const float *q = p->q + t * p->q_dim + h * 2 * hf;

    pkm_select_head(s1, s2, n, p->n_sel, &w->sel, w->picks);
    memcpy(out, w->picks, K * sizeof(*out));
    if (p->n_sel == K) /* K = n^2: nothing is left out */
        return;
    float bound = norm(q, hf) * p->key_norm[2 * h] + norm(q + hf, hf) * p->key_norm[2 * h + 1];
    if (w->picks[K - 1].score - w->picks[K].score > (float)TIE_MARGIN * bound)
        return;
    pkm_exact_query_head(p, x_t, h, w->q);
    pkm_exact_half_scores(p, h, w->q, w->s1, w->s2);
    pkm_select_head(w->s1, w->s2, n, K, &w->sel, out);
    w->n_exact++;
}

struct front_job {
    struct pkm *p;
    const float *x;
    size_t n_tokens, n_blocks;
};

static void front_task(void *arg, size_t task, int worker)
{
    const struct front_job *j = arg;
    struct pkm *p = j->p;
    const size_t H = (size_t)p->knobs.heads, K = (size_t)p->knobs.topk, T = j->n_tokens;
    const size_t h = task % H, b = task / H;
    const size_t t0 = T * b / j->n_blocks, t1 = T * (b + 1) / j->n_blocks;

    head_scores(p, j->x, T, h, t0, t1);
    for (size_t t = t0; t < t1; t++) {
        struct pkm_pick *picks = p->picks + (t * H + h) * K;
        select_token_head(p, j->x + t * p->d_model, T, t, h, &p->work[worker], picks);
        pkm_softmax(picks, K, p->w + (t * H + h) * K);
    }
}

/* Exact counts: multiply-adds twice, the candidate sums once; the query's
 * bias, BN and softmax exps are not counted. */
static void pkm_stats(const struct pkm *p, size_t T, size_t uniq, uint64_t n_exact,
                      struct layer_stats *st)
{
    const uint64_t D = p->d_model, Q = p->q_dim, H = (uint64_t)p->knobs.heads;
    const uint64_t K = (uint64_t)p->knobs.topk, n = (uint64_t)p->knobs.n_keys, dk = 2 * p->half;
    uint64_t rescore = 2 * dk * D + 2 * n * dk + pkm_candidate_count(K, n);
    st->flops = 2 * T * D * Q        /* query Linear */
                + 2 * T * H * n * dk /* sub-key scores */
                + T * H * p->n_cands /* candidate sums, one add each */
                + 2 * T * H * dk     /* the near-tie margin's query norms */
                + n_exact * rescore  /* near ties rescored */
                + 2 * T * H * K * D; /* weighted value rows */
    st->dense_bytes = (Q * D + Q + H * n * dk) * sizeof(float);
    st->sparse_bytes = (uint64_t)uniq * D * common_dtype_size(p->dtype); /* the stored rows */
    st->units_touched = uniq;
    st->units_total = p->n_values;
}

int pkm_forward(struct layer *l, const float *x, float *y, size_t n_tokens, struct layer_stats *st)
{
    struct pkm *p = (struct pkm *)l;
    if (n_tokens > p->max_tokens)
        return LAYER_EINVAL;
    if (n_tokens == 0) {
        pkm_stats(p, 0, 0, 0, st);
        return LAYER_OK;
    }
    common_blas_threads(1);
    int threads = n_tokens >= POOL_MIN_TOKENS ? p->threads : 1;
    struct front_job job = {p, x, n_tokens, (n_tokens + TOKEN_BLOCK - 1) / TOKEN_BLOCK};
    size_t n_tasks = job.n_blocks * (size_t)p->knobs.heads;
    for (int i = 0; i < p->threads; i++)
        p->work[i].n_exact = 0;
    if (threads > 1)
        common_pool_run(p->pool, n_tasks, front_task, &job);
    else
        for (size_t t = 0; t < n_tasks; t++)
            front_task(&job, t, 0);
    uint64_t n_exact = 0;
    for (int i = 0; i < p->threads; i++)
        n_exact += p->work[i].n_exact;
    p->last_exact = n_exact;

    size_t uniq = pkm_group_rows(p, n_tokens);
    pkm_gather(p, y, n_tokens, threads);
    pkm_stats(p, n_tokens, uniq, n_exact, st);
    return LAYER_OK;
}
