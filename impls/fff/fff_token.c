/* fff_token.c - the FFF forward one token at a time (`fff-token`).
 *
 * UltraFastBERT's conditional matrix multiplication as the paper's per-token
 * code and naive CUDA kernel do it (research/fff.md sections 1.3, 2.1, 3.2):
 * each token walks each tree from the root, one vectorised dot and one axpy
 * per visited node, and the sign of the biased pre-activation picks the
 * child. Tokens are split over the pool. No row is shared between tokens,
 * so every visit streams its two node rows from wherever they are; this is
 * the variant the level-by-level kernel (fff.c) is measured against, and
 * the path fff.c takes itself for very small batches. Narrow rows
 * (dtype=bf16|f16) are widened on load by the same typed dot and axpy as
 * fff.c's, so the two agree bit for bit at every dtype.
 */
#include "fff.h"

#include <stdio.h>

extern const struct layer_ops fff_token_ops;

/* One token through one tree, its rows stored as dt. While the dot runs,
 * the row the axpy needs and both candidate rows of the next level are
 * fetched: the walk is a chain of dependent loads and this takes one
 * memory latency off each link. */
static inline __attribute__((always_inline)) size_t walk_tree_dt(enum layer_dtype dt, struct fff *f,
                                                                 const float *xt, float *yt,
                                                                 size_t tree, int assign,
                                                                 unsigned char *marks)
{
    size_t visits = 0;
    const size_t D = f->d_model, base = tree * f->tree_nodes, rb = f->row_bytes;
    const int levels = (int)f->knobs.depth + 1;
    size_t n = 0;
    for (int level = 0; level < levels; level++) {
        size_t row = base + n;
        const void *w_out = fff_row(f, f->w_out, row);
        common_prefetch_bytes(w_out, rb);
        if (level + 1 < levels) {
            common_prefetch_bytes(fff_row(f, f->w_in, base + 2 * n + 1), rb);
            common_prefetch_bytes(fff_row(f, f->w_in, base + 2 * n + 2), rb);
        }
        float z =
            common_vec_dot_dt(dt, fff_row(f, f->w_in, row), xt, D) + (f->b ? f->b[row] : 0.0f);
        common_vec_axpy_dt(dt, yt, fff_node_scale(f, z), w_out, D, assign && level == 0);
        marks[row] = 1;
        visits++;
        n = 2 * n + 1 + (z > 0.0f);
    }
    return visits;
}

/* walk_tree_dt for the layer's dtype: one instance per type. */
static size_t walk_tree(struct fff *f, const float *xt, float *yt, size_t tree, int assign,
                        unsigned char *marks)
{
    switch (f->dt) {
    case LAYER_BF16:
        return walk_tree_dt(LAYER_BF16, f, xt, yt, tree, assign, marks);
    case LAYER_F16:
        return walk_tree_dt(LAYER_F16, f, xt, yt, tree, assign, marks);
    case LAYER_F32:
        break;
    }
    return walk_tree_dt(LAYER_F32, f, xt, yt, tree, assign, marks);
}

void fff_walk_tokens(struct fff *f, const float *x, float *y, size_t t0, size_t t1, int worker)
{
    const size_t D = f->d_model, K = (size_t)f->knobs.trees;
    unsigned char *marks = f->marks + (size_t)worker * f->n_nodes;
    size_t visits = 0;
    for (size_t t = t0; t < t1; t++)
        for (size_t k = 0; k < K; k++)
            visits += walk_tree(f, x + t * D, y + t * D, k, k == 0, marks);
    f->visits[(size_t)worker * 8] += visits;
}

struct walk_job {
    struct fff *f;
    const float *x;
    float *y;
    size_t n_tokens, per_task;
};

static void walk_task(void *arg, size_t task, int worker)
{
    struct walk_job *j = arg;
    size_t t0 = task * j->per_task;
    size_t t1 = t0 + j->per_task < j->n_tokens ? t0 + j->per_task : j->n_tokens;
    fff_walk_tokens(j->f, j->x, j->y, t0, t1, worker);
}

void fff_walk_parallel(struct fff *f, const float *x, float *y, size_t n_tokens)
{
    /* A few tasks per thread so uneven paths balance; one task per token
     * at most. */
    size_t tasks = (size_t)f->threads * 4;
    size_t per_task = (n_tokens + tasks - 1) / tasks;
    per_task = per_task ? per_task : 1;
    struct walk_job job = {f, x, y, n_tokens, per_task};
    common_pool_run(f->pool, (n_tokens + per_task - 1) / per_task, walk_task, &job);
}

static int fff_token_create(const struct layer_config *cfg, struct layer **out, char *err,
                            size_t errlen)
{
    struct fff *f;
    int rc = fff_create_layer(cfg, &fff_token_ops, 0, &f, err, errlen);
    *out = rc ? NULL : &f->base;
    return rc;
}

static int fff_token_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                             struct layer_stats *st)
{
    struct fff *f = (struct fff *)l;
    if (n_tokens > f->max_tokens)
        return LAYER_EINVAL;
    fff_stats_begin(f);
    fff_walk_parallel(f, x, y, n_tokens);
    fff_stats_end(f, n_tokens, st);
    return LAYER_OK;
}

const struct layer_ops fff_token_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "fff-token",
    .summary = "UltraFastBERT FFF, per-token tree walk (dot + axpy per node; preset=1x11)",
    .create = fff_token_create,
    .check = fff_check_token,
    .destroy = fff_destroy,
    .forward = fff_token_forward,
    .forward_ref = fff_forward_ref,
    .describe = fff_describe,
    .help = fff_help,
    .param = fff_param,
};
