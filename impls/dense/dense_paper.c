/* dense_paper.c - UltraFastBERT's weak dense baselines (`dense-l1`,
 * `dense-l2`): the dense FFN computed with the primitives of the paper's
 * "fair" CPU columns (research/fff.md sections 2.1, 2.3, 6).
 *
 * dense-l1 is benchmark_cpu's ff_l1: per token and neuron one cblas_sdot,
 * the GELU of that one value and one cblas_saxpy of the neuron's output row.
 * dense-l2 is ff_l2: per token one sgemv into the F hidden values, GELU,
 * one transposed sgemv out. Both stream all 2 F D weights once per token, so
 * they are memory bound at every batch size: paper-style weak baselines,
 * never the opponent a sparse layer is judged against (that is `dense`).
 *
 * Same weights, knobs and semantics as `dense` (common_ffn with the same
 * streams), so the rows compare one to one. Deliberately not copied from the
 * paper: its shared input/output rows and its per-call allocation (section
 * 2.2); the GELU is the vectorised exact one. Its uninitialised weights are
 * a knob, weights=unwritten, as on dense.
 * Tokens are split over the pool, each worker calling single-threaded BLAS,
 * so both baselines get the same thread budget as everything else. fp32
 * only: dtype=bf16|f16 is refused by name (those are fp32 BLAS calls; the
 * narrow weights are dense's).
 */
#include "../common/common.h"
#include "../layer.h"

#include <cblas.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct layer_ops dense_l1_ops;
extern const struct layer_ops dense_l2_ops;

struct paper_knobs {
    long width; /* F; 0 = 4D */
    int bias;
    char weights[COMMON_KNOB_STR_LEN]; /* random | unwritten */
    char dtype[COMMON_KNOB_STR_LEN];   /* f32 only */
};

static const struct common_knob paper_knob_table[] = {
    {"width", COMMON_KNOB_INT, offsetof(struct paper_knobs, width), 1, 1 << 20,
     "inner width F (default 4 x d_model)"},
    {"bias", COMMON_KNOB_BOOL, offsetof(struct paper_knobs, bias), 0, 1,
     "add the biases b1 and b2 (default 1)"},
    {"weights", COMMON_KNOB_STR, offsetof(struct paper_knobs, weights), 0, 0, COMMON_WEIGHTS_HELP},
    {"dtype", COMMON_KNOB_STR, offsetof(struct paper_knobs, dtype), 0, 0,
     "f32 only: the paper's primitives are fp32 BLAS calls (dense takes bf16 and f16)"},
};

static const struct common_knob_set paper_knob_set = {
    .family = "dense-paper",
    .knobs = paper_knob_table,
    .n_knobs = sizeof(paper_knob_table) / sizeof(paper_knob_table[0]),
};

enum { PAPER_PARAMS, PAPER_SCRATCH, PAPER_BLOCKS };

struct paper {
    struct layer base;
    struct paper_knobs knobs;
    size_t d_model;
    size_t max_tokens;
    int threads;
    struct common_ffn ffn;
    float *w1, *b1, *w2, *b2;              /* ffn's tensors, writable for the init */
    struct common_carve blk[PAPER_BLOCKS]; /* the parameter block and the scratch */
    uint64_t bytes;                        /* both blocks: what check reports */
    size_t param_bytes;
    int unwritten; /* weights=unwritten: the parameter block is never written */
    float *h;      /* (threads, F) per-worker hidden values of dense-l2 */
    struct common_pool *pool;
};

static void paper_destroy(struct layer *l)
{
    struct paper *p = (struct paper *)l;
    if (!p)
        return;
    common_pool_destroy(p->pool);
    common_carve_free(p->blk, PAPER_BLOCKS);
    free(p);
}

/* Every byte create allocates: the parameters as dense lays them out (one
 * block: w1 (F, D), w2 (F, D), b1 (F), b2 (D)), then the hidden values. */
static void paper_layout(struct paper *p, struct common_carve blk[PAPER_BLOCKS])
{
    size_t D = p->d_model, F = (size_t)p->knobs.width;
    p->w1 = common_carve(&blk[PAPER_PARAMS], F * D, sizeof(float));
    p->w2 = common_carve(&blk[PAPER_PARAMS], F * D, sizeof(float));
    p->b1 = common_carve(&blk[PAPER_PARAMS], p->knobs.bias ? F : 0, sizeof(float));
    p->b2 = common_carve(&blk[PAPER_PARAMS], p->knobs.bias ? D : 0, sizeof(float));
    p->ffn = (struct common_ffn){D, F, p->w1, p->b1, p->w2, p->b2, LAYER_F32};
    p->h = common_carve(&blk[PAPER_SCRATCH], (size_t)p->threads * F, sizeof(float));
}

/* Knobs, sizes and the memory check: all that create decides before it
 * allocates, and all that check does. */
static int paper_plan(struct paper *p, const struct layer_config *cfg, char *err, size_t errlen)
{
    enum layer_dtype dt = LAYER_F32;
    p->knobs = (struct paper_knobs){.width = 0, .bias = 1, .weights = "random", .dtype = "f32"};
    int rc = common_knobs_parse(&paper_knob_set, cfg->knobs, &p->knobs, NULL, err, errlen);
    if (!rc)
        rc = common_weights_parse("dense-paper", p->knobs.weights, &p->unwritten, err, errlen);
    if (!rc)
        rc = common_dtype_parse("dense-paper", p->knobs.dtype, &dt, err, errlen);
    if (rc)
        return rc;
    if (dt != LAYER_F32) {
        snprintf(err, errlen,
                 "dense-paper: knob dtype=%s is not supported; allowed f32 (dense-l1 and dense-l2 "
                 "are cblas_sdot/saxpy/sgemv on fp32 weights; dense takes bf16 and f16)",
                 p->knobs.dtype);
        return LAYER_EKNOB;
    }
    if (p->knobs.width == 0)
        p->knobs.width = (long)(4 * cfg->d_model);
    p->d_model = cfg->d_model;
    p->max_tokens = cfg->max_tokens;
    p->threads = cfg->threads;
    p->blk[PAPER_PARAMS] = common_carve_plan(sizeof(float)); /* no gaps: param_bytes is exact */
    p->blk[PAPER_PARAMS].unwritten = p->unwritten;
    p->blk[PAPER_SCRATCH] = common_carve_plan(COMMON_ALIGN);
    paper_layout(p, p->blk);
    return common_carve_fit(p->blk, PAPER_BLOCKS, "dense-paper", &p->bytes, err, errlen);
}

static int paper_check(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen)
{
    struct paper p = {0};
    int rc = paper_plan(&p, cfg, err, errlen);
    if (bytes)
        *bytes = p.bytes;
    return rc;
}

static int paper_create(const struct layer_config *cfg, const struct layer_ops *ops,
                        struct layer **out, char *err, size_t errlen)
{
    struct paper *p = calloc(1, sizeof(*p));
    int rc;
    *out = NULL;
    if (!p)
        return LAYER_ENOMEM;
    rc = paper_plan(p, cfg, err, errlen);
    if (rc)
        goto out_destroy;
    rc = common_carve_alloc(p->blk, PAPER_BLOCKS);
    if (rc) {
        snprintf(err, errlen, "dense-paper: out of memory allocating %llu bytes",
                 (unsigned long long)p->bytes);
        goto out_destroy;
    }
    paper_layout(p, p->blk);
    p->param_bytes = (size_t)p->blk[PAPER_PARAMS].size;
    /* dense's streams: same weights (none written with weights=unwritten) */
    if (!p->unwritten)
        common_ffn_init(p->w1, p->b1, p->w2, p->b2, p->d_model, p->ffn.width, cfg->seed, 0);
    rc = common_pool_create(&p->pool, cfg->threads);
    if (rc) {
        snprintf(err, errlen, "dense-paper: %s", layer_strerror(rc));
        goto out_destroy;
    }
    p->base.ops = ops;
    *out = &p->base;
    return LAYER_OK;

out_destroy:
    paper_destroy(&p->base);
    return rc;
}

static int l1_create(const struct layer_config *cfg, struct layer **out, char *err, size_t errlen)
{
    return paper_create(cfg, &dense_l1_ops, out, err, errlen);
}

static int l2_create(const struct layer_config *cfg, struct layer **out, char *err, size_t errlen)
{
    return paper_create(cfg, &dense_l2_ops, out, err, errlen);
}

static void start_output(const struct common_ffn *ffn, float *yt)
{
    if (ffn->b2)
        memcpy(yt, ffn->b2, ffn->d_model * sizeof(*yt));
    else
        memset(yt, 0, ffn->d_model * sizeof(*yt));
}

/* ff_l1: one dot, one GELU, one axpy per neuron. */
static void l1_token(const struct common_ffn *ffn, const float *xt, float *yt)
{
    const int D = (int)ffn->d_model;
    const float *w1 = ffn->w1, *w2 = ffn->w2; /* always f32 here */
    start_output(ffn, yt);
    for (size_t f = 0; f < ffn->width; f++) {
        float z = cblas_sdot(D, w1 + f * ffn->d_model, 1, xt, 1);
        if (ffn->b1)
            z += ffn->b1[f];
        common_gelu(&z, 1);
        cblas_saxpy(D, z, w2 + f * ffn->d_model, 1, yt, 1);
    }
}

/* ff_l2: sgemv in, GELU over the F values, transposed sgemv out. */
static void l2_token(const struct common_ffn *ffn, const float *xt, float *yt, float *h)
{
    const int D = (int)ffn->d_model, F = (int)ffn->width;
    const float *w1 = ffn->w1, *w2 = ffn->w2; /* always f32 here */
    start_output(ffn, yt);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, F, D, 1.0f, w1, D, xt, 1, 0.0f, h, 1);
    common_bias_gelu(h, ffn->b1, 1, ffn->width);
    cblas_sgemv(CblasRowMajor, CblasTrans, F, D, 1.0f, w2, D, h, 1, 1.0f, yt, 1);
}

struct paper_job {
    struct paper *p;
    const float *x;
    float *y;
    int level; /* 1 or 2 */
};

static void paper_task(void *arg, size_t t, int worker)
{
    struct paper_job *j = arg;
    const struct common_ffn *ffn = &j->p->ffn;
    const float *xt = j->x + t * ffn->d_model;
    float *yt = j->y + t * ffn->d_model;
    if (j->level == 1)
        l1_token(ffn, xt, yt);
    else
        l2_token(ffn, xt, yt, j->p->h + (size_t)worker * ffn->width);
}

/* One token: OpenBLAS may use every thread inside the call. More: one task
 * per token over the pool, BLAS single-threaded inside each worker. */
static int paper_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                         struct layer_stats *st, int level)
{
    struct paper *p = (struct paper *)l;
    if (n_tokens > p->max_tokens)
        return LAYER_EINVAL;
    struct paper_job job = {p, x, y, level};
    if (n_tokens == 1) {
        common_blas_threads(p->threads);
        paper_task(&job, 0, 0);
    } else {
        common_blas_threads(1);
        common_pool_run(p->pool, n_tokens, paper_task, &job);
    }
    st->flops = common_ffn_flops(&p->ffn, n_tokens);
    st->dense_bytes = p->param_bytes;
    st->sparse_bytes = 0;
    st->units_touched = p->ffn.width;
    st->units_total = p->ffn.width;
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

static int paper_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens)
{
    struct paper *p = (struct paper *)l;
    if (n_tokens > p->max_tokens)
        return LAYER_EINVAL;
    common_ffn_forward_ref(&p->ffn, x, n_tokens, y);
    return LAYER_OK;
}

static void paper_describe(const struct layer *l, struct layer_info *info)
{
    const struct paper *p = (const struct paper *)l;
    info->params_total = common_ffn_params(&p->ffn);
    info->params_active = info->params_total;
    info->unit = "neuron";
    common_knobs_format(&paper_knob_set, &p->knobs, info->knobs, sizeof(info->knobs));
    info->n_regions = 1;
    info->regions[0] = (struct layer_region){p->blk[PAPER_PARAMS].base, p->param_bytes};
}

/* The dense FFN's tensors, named as dense names them. */
static int paper_param(struct layer *l, size_t i, struct layer_param *p)
{
    return common_ffn_param(&((struct paper *)l)->ffn, "", i, p);
}

static void paper_help(char *buf, size_t len)
{
    common_knobs_help(&paper_knob_set, buf, len);
}

const struct layer_ops dense_l1_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "dense-l1",
    .summary = "dense FFN by sdot+saxpy per neuron per token (UltraFastBERT's BLAS-1 FF): "
               "paper-style weak baseline, not the default opponent",
    .create = l1_create,
    .check = paper_check,
    .destroy = paper_destroy,
    .forward = l1_forward,
    .forward_ref = paper_forward_ref,
    .describe = paper_describe,
    .help = paper_help,
    .param = paper_param,
};

const struct layer_ops dense_l2_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "dense-l2",
    .summary = "dense FFN by two sgemv per token (UltraFastBERT's BLAS-2 FF): "
               "paper-style weak baseline, not the default opponent",
    .create = l2_create,
    .check = paper_check,
    .destroy = paper_destroy,
    .forward = l2_forward,
    .forward_ref = paper_forward_ref,
    .describe = paper_describe,
    .help = paper_help,
    .param = paper_param,
};
