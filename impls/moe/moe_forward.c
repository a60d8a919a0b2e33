/* moe_forward.c - the optimized MoE forward, as the CPU engines do it
 * (research/moe.md sections 0, 1.2, 1.3, 1.5):
 *
 *   route    logits, top-k, renormalised weights            (moe_route.c)
 *   group    counting sort of the T k (token, slot) pairs by expert
 *   compute  one GELU FFN per touched expert on its gathered rows (a
 *            single row read in place): common_ffn_forward, which up to
 *            128 rows streams the expert's weights once through a
 *            register-blocked kernel for all its rows (ggml's mul_mat_id
 *            idea, research/moe.md 1.1.3) and runs sgemm above (narrow
 *            weights: widened tiles in this worker's m->wide)
 *   shared   the shared experts as one FFN over all T tokens, written to y
 *   combine  y[t] (+)= sum_j w[t][j] out[row(t, j)], slots in order, so the
 *            sum does not depend on thread scheduling
 *
 * Grouped at every T, the same code from one token up. Engines run a
 * per-token regime for small T instead (ktransformers forward_one,
 * gpt-fast T == 1: each (token, slot) pair its own GEMV); ours was each pair
 * an sgemv on OpenBLAS's threads at T = 1, and measured slower once the
 * experts stream on their own threads: interleaved at scale 12, D = 768,
 * 2 threads, cold, 690-719 us per-token against 658-690 grouped, with
 * dense at 680-707 (same bytes). Above T = 1 grouping also reads each
 * touched expert once instead of once per pair.
 *
 * Threads: the jobs run on the layer's pool, each on one thread
 * (single-threaded OpenBLAS when it is sgemm), largest job first, and an
 * expert holding more than a fair share of the rows (a hot expert under
 * zipf routing) is split into row chunks. Against OpenBLAS-threaded GEMMs
 * one expert at a time this was 1.4-2x faster from T = 16 to 1024 (small-M
 * GEMMs parallelise badly inside OpenBLAS); with fewer jobs than threads
 * (one expert) the expert's FFN is split over the pool and OpenBLAS's
 * threads instead. OpenBLAS 0.3.21 has no grouped GEMM (research/moe.md
 * section 0 item 2). At scale 12 (24 experts of width 1536) the layer moves
 * its bytes at 0.98-1.03, 0.85-0.87 and 0.56-0.58 of STREAM triad at T = 16,
 * 64 and 256 (0.75-0.78, 0.47-0.48 and 0.25-0.26 with sgemm per expert and
 * the earlier streaming kernel); T = 256, ~21 rows an expert, is bound by
 * the multiply, not the bytes.
 */
#include "moe.h"

#include <string.h>

/* An expert with more rows than a fair share of all rows is split into
 * chunks so one hot expert (zipf routing) cannot serialise the pool; no
 * chunk below this many rows, since every chunk reads the expert's
 * weights again. */
#define MOE_SPLIT_MIN_ROWS  64
#define COMBINE_TASK_TOKENS 64
#define ROUTER_POOL_MIN_T   64

/* ---- jobs ---- */

/* Largest first, ties in creation (expert) order: a deterministic list. */
static void sort_tasks(struct moe_task *tasks, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct moe_task t = tasks[i];
        size_t j = i;
        while (j > 0 && tasks[j - 1].rows < t.rows) {
            tasks[j] = tasks[j - 1];
            j--;
        }
        tasks[j] = t;
    }
}

/* One job per touched expert, experts above max_rows split evenly. */
static size_t grouped_tasks(struct moe *m, size_t max_rows)
{
    size_t n = 0;
    for (size_t e = 0; e < m->E; e++) {
        uint32_t row0 = m->offset[e], rows = m->offset[e + 1] - row0;
        if (!rows)
            continue;
        size_t chunks = (rows + max_rows - 1) / max_rows;
        for (size_t c = 0; c < chunks; c++) {
            uint32_t a = (uint32_t)(rows * c / chunks), b = (uint32_t)(rows * (c + 1) / chunks);
            m->tasks[n++] = (struct moe_task){(uint32_t)e, row0 + a, b - a};
        }
    }
    sort_tasks(m->tasks, n);
    return n;
}

struct run_job {
    struct moe *m;
    const float *x;           /* (T, D) */
    struct common_pool *pool; /* for the GELU pass when a job owns the machine */
};

static void run_task(void *arg, size_t i, int worker)
{
    const struct run_job *j = arg;
    struct moe *m = j->m;
    const struct moe_task *tk = &m->tasks[i];
    const size_t D = m->D, K = m->K;
    const float *xe = m->xg + (size_t)tk->row0 * D;                           /* (rows, D) */
    float *wide = m->wide ? m->wide + (size_t)worker * m->wide_floats : NULL; /* this worker's */
    if (tk->rows == 1) {
        xe = j->x + m->row_pair[tk->row0] / K * D;
    } else {
        for (uint32_t r = 0; r < tk->rows; r++) {
            const float *src = j->x + m->row_pair[tk->row0 + r] / K * D;
            memcpy(m->xg + ((size_t)tk->row0 + r) * D, src, D * sizeof(float));
        }
    }
    common_ffn_forward(&m->ffn[tk->expert], xe, tk->rows, m->hg + (size_t)tk->row0 * m->F,
                       m->yg + (size_t)tk->row0 * D, wide, j->pool);
}

/* The jobs go to the pool with single-threaded OpenBLAS inside (OpenBLAS's
 * thread count is process-global; with one thread a call never touches
 * OpenBLAS's own workers, so concurrent calls from the pool are safe in
 * the pthread build). Fewer jobs than threads run one after the other,
 * each on the whole pool and OpenBLAS's threads. */
static void run_tasks(struct moe *m, const float *x, size_t n_tasks)
{
    if (m->threads > 1 && n_tasks >= (size_t)m->threads) {
        struct run_job job = {m, x, NULL};
        common_blas_threads(1);
        common_pool_run(m->pool, n_tasks, run_task, &job);
        return;
    }
    struct run_job job = {m, x, m->pool};
    common_blas_threads(m->threads);
    for (size_t i = 0; i < n_tasks; i++)
        run_task(&job, i, 0);
}

/* ---- combine ---- */

struct combine_job {
    const struct moe *m;
    float *y; /* (T, D) */
    size_t n_tokens;
};

static void combine_task(void *arg, size_t task, int worker)
{
    const struct combine_job *j = arg;
    const struct moe *m = j->m;
    const size_t D = m->D, K = m->K;
    size_t t0 = task * COMBINE_TASK_TOKENS, t1 = t0 + COMBINE_TASK_TOKENS;
    (void)worker;
    if (t1 > j->n_tokens)
        t1 = j->n_tokens;
    for (size_t t = t0; t < t1; t++) {
        float *restrict yt = j->y + t * D;
        for (size_t s = 0; s < K; s++) {
            size_t p = t * K + s;
            const float *restrict o = m->yg + (size_t)m->pair_row[p] * D;
            float w = m->sel_w[p];
            if (s == 0 && !m->S) {
                for (size_t d = 0; d < D; d++)
                    yt[d] = w * o[d];
            } else {
                for (size_t d = 0; d < D; d++)
                    yt[d] += w * o[d];
            }
        }
    }
}

/* ---- forward ---- */

/* Router, routed experts, shared experts and the weighted combine. */
static void fill_stats(const struct moe *m, size_t T, size_t touched, struct layer_stats *st)
{
    uint64_t pairs = (uint64_t)T * m->K;
    uint64_t router = 2ull * T * m->D * m->E, experts = 4ull * pairs * m->D * m->F;
    uint64_t shared = m->S ? common_ffn_flops(&m->shared, T) : 0, combine = 2ull * pairs * m->D;
    st->flops = router + experts + shared + combine;
    st->dense_bytes = m->dense_bytes;
    st->sparse_bytes = touched * m->expert_bytes;
    st->units_touched = touched;
    st->units_total = m->E;
}

int moe_forward(struct layer *l, const float *x, float *y, size_t n_tokens, struct layer_stats *st)
{
    struct moe *m = (struct moe *)l;
    size_t touched, n_tasks;
    if (n_tokens > m->max_tokens)
        return LAYER_EINVAL;
    if (n_tokens == 0) {
        fill_stats(m, 0, 0, st);
        return LAYER_OK;
    }
    moe_route_logits(m, x, n_tokens, m->logits, n_tokens >= ROUTER_POOL_MIN_T ? m->pool : NULL);
    moe_route_select(m, x, m->logits, n_tokens, m->sel, m->sel_w);
    size_t P = n_tokens * m->K, share = (P + m->threads - 1) / (size_t)m->threads;
    touched = moe_route_group(m, n_tokens);
    n_tasks = grouped_tasks(m, share > MOE_SPLIT_MIN_ROWS ? share : MOE_SPLIT_MIN_ROWS);
    if (m->S) {
        common_blas_threads(m->threads);
        common_ffn_forward(&m->shared, x, n_tokens, m->hs, y, m->wide, m->pool);
    }
    run_tasks(m, x, n_tasks);
    struct combine_job cj = {m, y, n_tokens};
    common_pool_run(m->pool, (n_tokens + COMBINE_TASK_TOKENS - 1) / COMBINE_TASK_TOKENS,
                    combine_task, &cj);
    fill_stats(m, n_tokens, touched, st);
    return LAYER_OK;
}
