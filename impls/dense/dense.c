/* dense.c - the dense feed-forward baseline, y = W2 gelu(W1 x + b1) + b2.
 *
 * The opponent every sparse layer is measured against, so it runs as fast as
 * a user would make it: OpenBLAS sgemv at one token, sgemm above 128, a
 * weight-streaming kernel in between that measured faster than full-speed
 * sgemm there, and the vectorised exact-erf GELU (common/ffn.c). Width F defaults to 4D; the
 * UltraFastBERT comparison sets width=4095 or 3072. Leaves out dropout and
 * everything else that only matters in training.
 */
#include "../common/common.h"
#include "../layer.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

extern const struct layer_ops dense_ops;

struct dense_knobs {
    long width; /* F; 0 = 4D */
    int bias;
};

static const struct common_knob dense_knob_table[] = {
    {"width", COMMON_KNOB_INT, offsetof(struct dense_knobs, width), 1, 1 << 20,
     "inner width F (default 4 x d_model)"},
    {"bias", COMMON_KNOB_BOOL, offsetof(struct dense_knobs, bias), 0, 1,
     "add the biases b1 and b2 (default 1)"},
};

static const struct common_knob_set dense_knob_set = {
    .family = "dense",
    .knobs = dense_knob_table,
    .n_knobs = sizeof(dense_knob_table) / sizeof(dense_knob_table[0]),
};

struct dense {
    struct layer base;
    struct dense_knobs knobs;
    size_t max_tokens;
    int threads;
    struct common_ffn ffn;
    float *params; /* one block: w1 (F, D), w2 (F, D), b1 (F), b2 (D) */
    size_t param_bytes;
    float *h; /* (max_tokens, F) scratch */
    struct common_pool *pool;
};

static void dense_destroy(struct layer *l)
{
    struct dense *d = (struct dense *)l;
    if (!d)
        return;
    common_pool_destroy(d->pool);
    common_free(d->h);
    common_free(d->params);
    free(d);
}

static int dense_alloc(struct dense *d, const struct layer_config *cfg, char *err, size_t errlen)
{
    size_t D = cfg->d_model, F = (size_t)d->knobs.width;
    size_t n_params = 2 * F * D + (d->knobs.bias ? F + D : 0);
    d->param_bytes = n_params * sizeof(float);
    uint64_t need = d->param_bytes + (uint64_t)cfg->max_tokens * F * sizeof(float);
    int rc = common_mem_check(need, "dense", err, errlen);
    if (rc)
        return rc;
    d->params = common_alloc(d->param_bytes);
    d->h = common_alloc(cfg->max_tokens * F * sizeof(float));
    if (!d->params || !d->h) {
        snprintf(err, errlen, "dense: out of memory allocating %zu parameters", n_params);
        return LAYER_ENOMEM;
    }
    float *w1 = d->params, *w2 = w1 + F * D;
    float *b1 = d->knobs.bias ? w2 + F * D : NULL, *b2 = b1 ? b1 + F : NULL;
    d->ffn = (struct common_ffn){D, F, w1, b1, w2, b2};
    common_ffn_init(w1, b1, w2, b2, D, F, cfg->seed, 0);
    return LAYER_OK;
}

static int dense_create(const struct layer_config *cfg, struct layer **out, char *err,
                        size_t errlen)
{
    struct dense *d = calloc(1, sizeof(*d));
    int rc;
    *out = NULL;
    if (!d)
        return LAYER_ENOMEM;
    d->knobs = (struct dense_knobs){.width = 0, .bias = 1};
    rc = common_knobs_parse(&dense_knob_set, cfg->knobs, &d->knobs, NULL, err, errlen);
    if (rc)
        goto out_destroy;
    if (d->knobs.width == 0)
        d->knobs.width = (long)(4 * cfg->d_model);
    d->max_tokens = cfg->max_tokens;
    d->threads = cfg->threads;
    rc = dense_alloc(d, cfg, err, errlen);
    if (rc)
        goto out_destroy;
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
    common_ffn_forward(&d->ffn, x, n_tokens, d->h, y, d->pool);
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
    info->regions[0] = (struct layer_region){d->params, d->param_bytes};
}

static void dense_help(char *buf, size_t len)
{
    common_knobs_help(&dense_knob_set, buf, len);
}

const struct layer_ops dense_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "dense",
    .summary = "dense GELU FFN, OpenBLAS sgemm/sgemv (the baseline; F = 4D by default)",
    .create = dense_create,
    .destroy = dense_destroy,
    .forward = dense_forward,
    .forward_ref = dense_forward_ref,
    .describe = dense_describe,
    .help = dense_help,
};
