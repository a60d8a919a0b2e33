/* fff_paper.c - UltraFastBERT's FFF as its CPU benchmark composes it from
 * BLAS calls (`fff-l1`, `fff-l2`; research/fff.md sections 2.1, 2.3):
 * paper-style weak baselines for Table 2's "same primitives" columns.
 *
 * fff-l1 is benchmark_cpu's fff_l1: levels outside, tokens inside, and per
 * (level, token) one cblas_sdot, the GELU of that one value, one
 * cblas_saxpy of the node's output row. fff-l2 is fff_l2: per level one
 * sgemv per token (a 1 x D by D product against the token's current node
 * row, as the paper's batched sgemv with one group per token), the GELU over
 * the tokens' activations at once, one saxpy per token. Neither shares a
 * node row between the tokens standing on it, so both pay a BLAS call per
 * node visit; the tree kernel that batches tokens per node is `fff`.
 *
 * Same weights, knobs and semantics as `fff` (fff_layer.c: the same
 * create, the same forward_ref), so rows compare one to one, and the flaw
 * knobs weights=unwritten and activation=0 work here too; with activation=0
 * the saxpy gets alpha = 1, as the published fff_l2. Deliberately not
 * copied: its shared input/output rows (the harness's --inputs repeat
 * measures that), fff_l1 reading OUT instead of W2, and the missing biases
 * (bias=0 gives those). Tokens are split into ranges over the pool, each
 * worker calling single-threaded BLAS, as dense-l1/l2. The scratch is the
 * level kernel's (node_of, acts), of which the sort arrays go unused.
 * Both refuse dtype=bf16|f16 (LAYER_EKNOB): OpenBLAS's sdot, sgemv and
 * saxpy read fp32 rows only, and a widened copy would not be the paper's
 * primitive any more.
 */
#include "fff.h"

#include <cblas.h>

extern const struct layer_ops fff_l1_ops;
extern const struct layer_ops fff_l2_ops;

struct paper_job {
    struct fff *f;
    const float *x;
    float *y;
    size_t n_tokens, per_task;
    int level_blas; /* 1 or 2 */
};

/* fff_l1 over tokens [t0, t1) of one tree: levels outside, tokens inside. */
static size_t l1_tree(struct fff *f, const float *x, float *y, size_t t0, size_t t1, size_t tree,
                      unsigned char *marks)
{
    const size_t D = f->d_model, base = tree * f->tree_nodes;
    const int levels = (int)f->knobs.depth + 1;
    uint32_t *node = f->node_of;
    for (size_t t = t0; t < t1; t++)
        node[t] = 0;
    for (int level = 0; level < levels; level++) {
        for (size_t t = t0; t < t1; t++) {
            size_t row = base + node[t];
            float z = cblas_sdot((int)D, (const float *)fff_row(f, f->w_in, row), 1, x + t * D, 1);
            z += f->b ? f->b[row] : 0.0f;
            cblas_saxpy((int)D, fff_node_scale(f, z), (const float *)fff_row(f, f->w_out, row), 1,
                        y + t * D, 1);
            marks[row] = 1;
            node[t] = 2 * node[t] + 1 + (z > 0.0f);
        }
    }
    return (t1 - t0) * (size_t)levels;
}

/* fff_l2 over tokens [t0, t1) of one tree: per level, the sgemvs, then the
 * children from the pre-activations, the GELUs at once, the saxpys. */
static size_t l2_tree(struct fff *f, const float *x, float *y, size_t t0, size_t t1, size_t tree,
                      unsigned char *marks)
{
    const size_t D = f->d_model, base = tree * f->tree_nodes;
    const int levels = (int)f->knobs.depth + 1;
    uint32_t *node = f->node_of;
    float *z = f->acts, *a = f->acts + f->max_tokens; /* (T) each: acts holds (T, Dp + 1) */
    for (size_t t = t0; t < t1; t++)
        node[t] = 0;
    for (int level = 0; level < levels; level++) {
        for (size_t t = t0; t < t1; t++) {
            size_t row = base + node[t];
            cblas_sgemv(CblasRowMajor, CblasNoTrans, 1, (int)D, 1.0f,
                        (const float *)fff_row(f, f->w_in, row), (int)D, x + t * D, 1, 0.0f, z + t,
                        1);
            z[t] += f->b ? f->b[row] : 0.0f;
            a[t] = f->knobs.activation ? z[t] : 1.0f;
        }
        if (f->knobs.activation)
            common_gelu(a + t0, t1 - t0);
        for (size_t t = t0; t < t1; t++) {
            size_t row = base + node[t];
            cblas_saxpy((int)D, a[t], (const float *)fff_row(f, f->w_out, row), 1, y + t * D, 1);
            marks[row] = 1;
            node[t] = 2 * node[t] + 1 + (z[t] > 0.0f);
        }
    }
    return (t1 - t0) * (size_t)levels;
}

static void paper_task(void *arg, size_t task, int worker)
{
    struct paper_job *j = arg;
    struct fff *f = j->f;
    size_t t0 = task * j->per_task;
    size_t t1 = t0 + j->per_task < j->n_tokens ? t0 + j->per_task : j->n_tokens;
    unsigned char *marks = f->marks + (size_t)worker * f->n_nodes;
    size_t visits = 0;
    memset(j->y + t0 * f->d_model, 0, (t1 - t0) * f->d_model * sizeof(float));
    for (size_t k = 0; k < (size_t)f->knobs.trees; k++)
        visits += j->level_blas == 1 ? l1_tree(f, j->x, j->y, t0, t1, k, marks)
                                     : l2_tree(f, j->x, j->y, t0, t1, k, marks);
    f->visits[(size_t)worker * 8] += visits;
}

static int paper_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                         struct layer_stats *st, int level_blas)
{
    struct fff *f = (struct fff *)l;
    if (n_tokens > f->max_tokens)
        return LAYER_EINVAL;
    /* A few ranges per thread so uneven trees balance, as fff-token. */
    size_t tasks = (size_t)f->threads * 4;
    size_t per_task = (n_tokens + tasks - 1) / tasks;
    per_task = per_task ? per_task : 1;
    struct paper_job job = {f, x, y, n_tokens, per_task, level_blas};
    fff_stats_begin(f);
    common_blas_threads(1);
    common_pool_run(f->pool, (n_tokens + per_task - 1) / per_task, paper_task, &job);
    fff_stats_end(f, n_tokens, st);
    return LAYER_OK;
}

static int l1_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                      struct layer_stats *st)
{
    return paper_forward(l, x, y, n_tokens, st, 1);
}

static int l2_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                      struct layer_stats *st)
{
    return paper_forward(l, x, y, n_tokens, st, 2);
}

static int l1_create(const struct layer_config *cfg, struct layer **out, char *err, size_t errlen)
{
    struct fff *f;
    int rc = fff_create_f32_only(cfg, &fff_l1_ops, &f, err, errlen);
    *out = rc ? NULL : &f->base;
    return rc;
}

static int l2_create(const struct layer_config *cfg, struct layer **out, char *err, size_t errlen)
{
    struct fff *f;
    int rc = fff_create_f32_only(cfg, &fff_l2_ops, &f, err, errlen);
    *out = rc ? NULL : &f->base;
    return rc;
}

const struct layer_ops fff_l1_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "fff-l1",
    .summary = "FFF by sdot+saxpy per node per token (UltraFastBERT's BLAS-1 FFF-L1): "
               "paper-style weak baseline, not the default opponent",
    .create = l1_create,
    .check = fff_check_f32_only,
    .destroy = fff_destroy,
    .forward = l1_forward,
    .forward_ref = fff_forward_ref,
    .describe = fff_describe,
    .help = fff_help,
    .param = fff_param,
};

const struct layer_ops fff_l2_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "fff-l2",
    .summary = "FFF by one sgemv+saxpy per token per level (UltraFastBERT's BLAS-2 FFF-L2): "
               "paper-style weak baseline, not the default opponent",
    .create = l2_create,
    .check = fff_check_f32_only,
    .destroy = fff_destroy,
    .forward = l2_forward,
    .forward_ref = fff_forward_ref,
    .describe = fff_describe,
    .help = fff_help,
    .param = fff_param,
};
