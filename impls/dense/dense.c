/* dense.c - the dense feed-forward baseline, y = W2 gelu(W1 x + b1) + b2.
 *
 * The opponent every sparse layer is measured against, so it runs as fast as
 * a user would make it: OpenBLAS sgemv at one token, sgemm above 128, a
 * weight-streaming kernel in between that measured faster than full-speed
 * sgemm there, and the vectorised exact-erf GELU (common/ffn.c). Width F defaults to 4D; the
 * UltraFastBERT comparison sets width=4095 or 3072. weights=unwritten
 * leaves the weights allocated and never written, as the published FFF
 * CPU benchmark does on both sides (research/fff.md sections 2.2, 2.2b), so
 * that flaw can be measured one knob at a time. dtype=bf16|f16 stores w1
 * and w2 in that type only (the seeded fp32 draws rounded to nearest even;
 * no fp32 copy) and common/ffn.c streams them widened on load, or widens
 * 512-neuron tiles into fp32 scratch for sgemm above 128 tokens (that
 * scratch is sized here, so forward still never allocates); b1 and b2 stay
 * fp32. Activations and sums are fp32 at every dtype. Leaves out dropout
 * and everything else that only matters in training.
 */
#include "../common/common.h"
#include "../layer.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct layer_ops dense_ops;

struct dense_knobs {
    long width; /* F; 0 = 4D */
    int bias;
    char weights[COMMON_KNOB_STR_LEN]; /* random | unwritten */
    char dtype[COMMON_KNOB_STR_LEN];   /* f32 | bf16 | f16: of w1 and w2 */
};

static const struct common_knob dense_knob_table[] = {
    {"width", COMMON_KNOB_INT, offsetof(struct dense_knobs, width), 1, 1 << 20,
     "inner width F (default 4 x d_model)"},
    {"bias", COMMON_KNOB_BOOL, offsetof(struct dense_knobs, bias), 0, 1,
     "add the biases b1 and b2 (default 1)"},
    {"weights", COMMON_KNOB_STR, offsetof(struct dense_knobs, weights), 0, 0, COMMON_WEIGHTS_HELP},
    {"dtype", COMMON_KNOB_STR, offsetof(struct dense_knobs, dtype), 0, 0,
     COMMON_DTYPE_HELP " (here w1 and w2; b1 and b2 stay f32)"},
};

static const struct common_knob_set dense_knob_set = {
    .family = "dense",
    .knobs = dense_knob_table,
    .n_knobs = sizeof(dense_knob_table) / sizeof(dense_knob_table[0]),
};

enum { DENSE_PARAMS, DENSE_SCRATCH, DENSE_BLOCKS };

struct dense {
    struct layer base;
    struct dense_knobs knobs;
    size_t d_model;
    size_t max_tokens;
    int threads;
    struct common_ffn ffn;
    enum layer_dtype dtype; /* of w1 and w2 */
    void *w1, *w2;          /* ffn's tensors, writable for the init */
    float *b1, *b2;
    struct common_carve blk[DENSE_BLOCKS]; /* the parameter block and the scratch */
    uint64_t bytes;                        /* both blocks: what check reports */
    size_t param_bytes;
    int unwritten; /* weights=unwritten: the parameter block is never written */
    float *h;      /* (max_tokens, F) scratch */
    float *wide;   /* common_ffn_wide_floats: narrow weights widened for sgemm, NULL at f32 */
    struct common_pool *pool;
};

static void dense_destroy(struct layer *l)
{
    struct dense *d = (struct dense *)l;
    if (!d)
        return;
    common_pool_destroy(d->pool);
    common_carve_free(d->blk, DENSE_BLOCKS);
    free(d);
}

/* Every byte create allocates: the parameters back to back, w1 (F, D),
 * w2 (F, D) of dtype, b1 (F), b2 (D) fp32, as one block forward streams
 * whole (2 F D narrow elements are 4 F D bytes, so b1 lands 4-aligned with
 * no gap); then the hidden activations and the widened tile. */
static void dense_layout(struct dense *d, struct common_carve blk[DENSE_BLOCKS])
{
    size_t D = d->d_model, F = (size_t)d->knobs.width, es = common_dtype_size(d->dtype);
    d->w1 = common_carve(&blk[DENSE_PARAMS], F * D, es);
    d->w2 = common_carve(&blk[DENSE_PARAMS], F * D, es);
    d->b1 = common_carve(&blk[DENSE_PARAMS], d->knobs.bias ? F : 0, sizeof(float));
    d->b2 = common_carve(&blk[DENSE_PARAMS], d->knobs.bias ? D : 0, sizeof(float));
    d->ffn = (struct common_ffn){D, F, d->w1, d->b1, d->w2, d->b2, d->dtype};
    d->h = common_carve(&blk[DENSE_SCRATCH], d->max_tokens * F, sizeof(float));
    d->wide = common_carve(&blk[DENSE_SCRATCH], common_ffn_wide_floats(&d->ffn), sizeof(float));
}

/* Knobs, sizes and the memory check: all that create decides before it
 * allocates, and all that check does. */
static int dense_plan(struct dense *d, const struct layer_config *cfg, char *err, size_t errlen)
{
    d->knobs = (struct dense_knobs){.width = 0, .bias = 1, .weights = "random", .dtype = "f32"};
    int rc = common_knobs_parse(&dense_knob_set, cfg->knobs, &d->knobs, NULL, err, errlen);
    if (!rc)
        rc = common_weights_parse("dense", d->knobs.weights, &d->unwritten, err, errlen);
    if (!rc)
        rc = common_dtype_parse("dense", d->knobs.dtype, &d->dtype, err, errlen);
    if (rc)
        return rc;
    if (d->knobs.width == 0)
        d->knobs.width = (long)(4 * cfg->d_model);
    d->d_model = cfg->d_model;
    d->max_tokens = cfg->max_tokens;
    d->threads = cfg->threads;
    /* No gaps: param_bytes is exact. */
    d->blk[DENSE_PARAMS] = common_carve_plan(common_dtype_size(d->dtype));
    d->blk[DENSE_PARAMS].unwritten = d->unwritten;
    d->blk[DENSE_SCRATCH] = common_carve_plan(COMMON_ALIGN);
    dense_layout(d, d->blk);
    return common_carve_fit(d->blk, DENSE_BLOCKS, "dense", &d->bytes, err, errlen);
}

static int dense_check(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen)
{
    struct dense d = {0};
    int rc = dense_plan(&d, cfg, err, errlen);
    if (bytes)
        *bytes = d.bytes;
    return rc;
}

static int dense_create(const struct layer_config *cfg, struct layer **out, char *err,
                        size_t errlen)
{
    struct dense *d = calloc(1, sizeof(*d));
    int rc;
    *out = NULL;
    if (!d)
        return LAYER_ENOMEM;
    rc = dense_plan(d, cfg, err, errlen);
    if (rc)
        goto out_destroy;
    rc = common_carve_alloc(d->blk, DENSE_BLOCKS);
    if (rc) {
        snprintf(err, errlen, "dense: out of memory allocating %llu bytes",
                 (unsigned long long)d->bytes);
        goto out_destroy;
    }
    dense_layout(d, d->blk);
    d->param_bytes = (size_t)d->blk[DENSE_PARAMS].size;
    if (!d->unwritten) /* unwritten: zeros that stay zero pages, forward_ref sees them too */
        common_ffn_init_typed(d->dtype, d->w1, d->b1, d->w2, d->b2, d->d_model, d->ffn.width,
                              cfg->seed, 0);
    rc = common_pool_create(&d->pool, cfg->threads);
    if (rc) {
        snprintf(err, errlen, "dense: %s", layer_strerror(rc));
        goto out_destroy;
    }
    d->base.ops = &dense_ops;
    *out = &d->base;
    return LAYER_OK;

out_destroy:
    dense_destroy(&d->base);
    return rc;
}

static void dense_stats(const struct dense *d, size_t n_tokens, struct layer_stats *st)
{
    st->flops = common_ffn_flops(&d->ffn, n_tokens);
    st->dense_bytes = d->param_bytes;
    st->sparse_bytes = 0;
    st->units_touched = d->ffn.width;
    st->units_total = d->ffn.width;
}

static int dense_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                         struct layer_stats *st)
{
    struct dense *d = (struct dense *)l;
    if (n_tokens > d->max_tokens)
        return LAYER_EINVAL;
    common_blas_threads(d->threads);
    common_ffn_forward(&d->ffn, x, n_tokens, d->h, y, d->wide, d->pool);
    dense_stats(d, n_tokens, st);
    return LAYER_OK;
}

static int dense_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens)
{
    struct dense *d = (struct dense *)l;
    if (n_tokens > d->max_tokens)
        return LAYER_EINVAL;
    common_ffn_forward_ref(&d->ffn, x, n_tokens, y);
    return LAYER_OK;
}

static void dense_describe(const struct layer *l, struct layer_info *info)
{
    const struct dense *d = (const struct dense *)l;
    info->params_total = common_ffn_params(&d->ffn);
    info->params_active = info->params_total;
    info->unit = "neuron";
    common_knobs_format(&dense_knob_set, &d->knobs, info->knobs, sizeof(info->knobs));
    info->n_regions = 1;
    info->regions[0] = (struct layer_region){d->blk[DENSE_PARAMS].base, d->param_bytes};
}

/* w1, w2 (of dtype), b1, b2 (fp32) as common_ffn lists them; nothing is
 * derived. */
static int dense_param(struct layer *l, size_t i, struct layer_param *p)
{
    return common_ffn_param(&((struct dense *)l)->ffn, "", i, p);
}

static void dense_help(char *buf, size_t len)
{
    size_t used;
    common_knobs_help(&dense_knob_set, buf, len);
    used = strlen(buf);
    if (used + 1 < len)
        snprintf(
            buf + used, len - used,
            "  dtype=bf16|f16 stores w1 and w2 narrow (no fp32 copy), widened on load by the\n"
            "  streaming kernel up to 128 tokens (1 included) and 512 neurons at a time into\n"
            "  fp32 scratch for sgemm above (OpenBLAS has no bf16/f16 GEMM); b1, b2 stay f32\n");
}

const struct layer_ops dense_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "dense",
    .summary = "dense GELU FFN, OpenBLAS sgemm/sgemv (the baseline; F = 4D by default)",
    .create = dense_create,
    .check = dense_check,
    .destroy = dense_destroy,
    .forward = dense_forward,
    .forward_ref = dense_forward_ref,
    .describe = dense_describe,
    .help = dense_help,
    .param = dense_param,
};
