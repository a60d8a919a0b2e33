/* pkm.c - product-key memory (Lample et al., "Large Memory Layers with Product
 * Keys", NeurIPS 2019; research/ultramem_pkm.md section 3): knobs, sizes,
 * weights as XLM initialises them, describe, and the ops table. The forward
 * is in pkm_forward.c, selection in pkm_select.c, the value read in
 * pkm_gather.c, the brute-force reference in pkm_ref.c.
 *
 * The memory sits beside a dense FFN as in DESIGN.md (dense+pkm); this layer
 * is the memory alone. Left out: everything XLM only uses in training
 * (dropout on the query and the values, sparse value updates, BatchNorm's
 * batch statistics), its optional score re-weighting (mem_score_subtract,
 * temperature), index shuffling, and the HashingMemoryFlat / FAISS variants.
 *
 * dtype=bf16|f16 narrows the value table only (pkm.h, "dtype"): the query
 * Linear, BatchNorm and sub-keys stay fp32.
 */
#include "pkm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 1e-5 /* PyTorch BatchNorm1d's default */

enum pkm_stream {
    STREAM_WQ = 1,
    STREAM_BQ,
    STREAM_BN_GAMMA,
    STREAM_BN_BETA,
    STREAM_BN_MEAN,
    STREAM_BN_VAR,
    STREAM_KEYS,
    STREAM_VALUES,
};

static const struct common_knob pkm_knob_table[] = {
    {"heads", COMMON_KNOB_INT, offsetof(struct pkm_knobs, heads), 1, 64,
     "memory heads H, each with its own query and sub-keys (default 4)"},
    {"topk", COMMON_KNOB_INT, offsetof(struct pkm_knobs, topk), 1, 4096,
     "values read per head K, <= n_keys (default 32)"},
    {"key_dim", COMMON_KNOB_INT, offsetof(struct pkm_knobs, key_dim), 2, 8192,
     "query/key width d_k per head, even: two halves of d_k/2 (default 256)"},
    {"n_keys", COMMON_KNOB_INT, offsetof(struct pkm_knobs, n_keys), 0, 65535,
     "sub-keys per half n, n^2 value rows; 0 = the memory holds (scale - 1) x the dense FFN "
     "params (default 0)"},
    {"batchnorm", COMMON_KNOB_BOOL, offsetof(struct pkm_knobs, batchnorm), 0, 1,
     "inference-mode BatchNorm on the query, folded into the Linear (default 1)"},
    {"small_gemm", COMMON_KNOB_INT, offsetof(struct pkm_knobs, small_gemm), 0,
     COMMON_GEMM_SMALL_MAX_M,
     "query and sub-key scores of up to this many tokens per task by the own streaming kernel, "
     "more by OpenBLAS; 0 = OpenBLAS always (default " PKM_SMALL_GEMM_DEFAULT_STR ")"},
    {"dtype", COMMON_KNOB_STR, offsetof(struct pkm_knobs, dtype), 0, 0,
     "f32 (default) | bf16 | f16: stored type of the value table (n^2, D), the tensor the "
     "gather streams; query Linear, BatchNorm and sub-keys stay fp32; sums stay fp32"},
};

static const struct common_preset pkm_presets[] = {
    {"xlm", "n_keys=512,heads=4,topk=32,key_dim=256"},
};

static const struct common_knob_set pkm_knob_set = {
    .family = "pkm",
    .knobs = pkm_knob_table,
    .n_knobs = sizeof(pkm_knob_table) / sizeof(pkm_knob_table[0]),
    .presets = pkm_presets,
    .n_presets = sizeof(pkm_presets) / sizeof(pkm_presets[0]),
};

/* n = round(sqrt((s - 1) P / D)) makes the n^2 rows of D floats hold (s - 1)
 * times the dense FFN's P parameters (DESIGN.md, iso-parameter slots). */
static int resolve_sizes(struct pkm *p, const struct layer_config *cfg, char *err, size_t errlen)
{
    struct pkm_knobs *k = &p->knobs;
    if (k->key_dim % 2) {
        snprintf(err, errlen,
                 "pkm: knob key_dim=%ld is odd; allowed even values 2..8192 (each head's query "
                 "is split into two halves of key_dim/2)",
                 k->key_dim);
        return LAYER_EKNOB;
    }
    if (k->n_keys == 0) {
        if (cfg->scale < 2) {
            snprintf(err, errlen, "pkm: scale %u leaves no memory; use scale >= 2 or n_keys=N",
                     cfg->scale);
            return LAYER_EUNSUPPORTED;
        }
        double rows = (double)(cfg->scale - 1) * (double)layer_dense_params(cfg->d_model) /
                      (double)cfg->d_model;
        double n = round(sqrt(rows));
        if (n > 65535) {
            snprintf(err, errlen,
                     "pkm: scale %u needs n_keys=%.0f, above the 65535 allowed; lower the scale "
                     "or set n_keys",
                     cfg->scale, n);
            return LAYER_EUNSUPPORTED;
        }
        k->n_keys = (long)n;
    }
    if (k->topk > k->n_keys) {
        snprintf(err, errlen,
                 "pkm: knob topk=%ld exceeds n_keys=%ld (sub-keys per half); allowed topk <= "
                 "n_keys: lower topk, or raise n_keys or the scale",
                 k->topk, k->n_keys);
        return LAYER_EKNOB;
    }
    p->d_model = cfg->d_model;
    p->half = (size_t)k->key_dim / 2;
    p->q_dim = (size_t)(k->heads * k->key_dim);
    p->n_values = (size_t)k->n_keys * (size_t)k->n_keys;
    p->n_sel = (size_t)k->topk < p->n_values ? (size_t)k->topk + 1 : (size_t)k->topk;
    p->n_cands = pkm_candidate_count(p->n_sel, (size_t)k->n_keys);
    p->max_tokens = cfg->max_tokens;
    p->threads = cfg->threads;
    if ((uint64_t)cfg->max_tokens * (uint64_t)(k->heads * k->topk) > UINT32_MAX) {
        snprintf(err, errlen,
                 "pkm: max_tokens=%zu x heads=%ld x topk=%ld value reads exceed 2^32; lower one",
                 cfg->max_tokens, k->heads, k->topk);
        return LAYER_EUNSUPPORTED;
    }
    return LAYER_OK;
}

/* One worker's scratch: the selection's, its K + 1 picks, and a near
 * tie's exact query and half scores. */
static void layout_worker(const struct pkm *p, struct pkm_worker *w, struct common_carve *c)
{
    size_t n = (size_t)p->knobs.n_keys;
    pkm_select_layout(&w->sel, n, p->n_sel, c);
    w->picks = common_carve(c, p->n_sel, sizeof(struct pkm_pick));
    w->q = common_carve(c, 2 * p->half, sizeof(float));
    w->s1 = common_carve(c, n, sizeof(float));
    w->s2 = common_carve(c, n, sizeof(float));
}

/* Every byte create allocates, sized and carved by this one function: the
 * parameters forward reads back to back (wq, bq, bn, keys; region 0), the
 * values (region 1), the unfolded query Linear, and the scratch of forward
 * (T = max_tokens, R = T H K value reads, one slice per worker) and of
 * forward_ref. */
static void pkm_layout(struct pkm *p, struct common_carve blk[PKM_BLOCKS])
{
    size_t H = (size_t)p->knobs.heads, K = (size_t)p->knobs.topk, n = (size_t)p->knobs.n_keys;
    size_t T = p->max_tokens, D = p->d_model, N = p->n_values, Q = p->q_dim;
    size_t reads = T * H * K, uniq = reads < N ? reads : N, thr = (size_t)p->threads;
    struct common_carve *s = &blk[PKM_SCRATCH];
    p->wq = common_carve(&blk[PKM_PARAMS], Q * D, sizeof(float));
    p->bq = common_carve(&blk[PKM_PARAMS], Q, sizeof(float));
    p->bn = common_carve(&blk[PKM_PARAMS], 4 * Q, sizeof(float));
    p->keys = common_carve(&blk[PKM_PARAMS], H * 2 * n * p->half, sizeof(float));
    p->values = common_carve(&blk[PKM_VALUES], N * D, common_dtype_size(p->dtype));
    p->wq_raw = common_carve(&blk[PKM_RAW], Q * D, sizeof(float));
    p->bq_raw = common_carve(&blk[PKM_RAW], Q, sizeof(float));
    p->q = common_carve(s, T * Q, sizeof(float));
    p->s = common_carve(s, H * 2 * T * n, sizeof(float));
    p->picks = common_carve(s, reads, sizeof(struct pkm_pick));
    p->w = common_carve(s, reads, sizeof(float));
    p->y_part = common_carve(s, (thr - 1) * T * D, sizeof(float));
    p->work = common_carve(s, thr, sizeof(*p->work));
    for (size_t i = 0; i < thr; i++) {
        struct pkm_worker unused, *w = p->work ? &p->work[i] : &unused;
        layout_worker(p, w, s);
    }
    p->key_norm = common_carve(s, 2 * H, sizeof(float));
    p->rl.row = common_carve(s, uniq, sizeof(uint32_t));
    p->rl.start = common_carve(s, uniq + 1, sizeof(uint32_t));
    p->rl.tok = common_carve(s, reads, sizeof(uint32_t));
    p->rl.wt = common_carve(s, reads, sizeof(float));
    p->rl.bitmap = common_carve(s, (N + 63) / 64, sizeof(uint64_t));
    p->rl.row_uid = common_carve(s, N, sizeof(uint32_t));
    p->ref_q = common_carve(s, Q, sizeof(float));
    p->ref_s = common_carve(s, 2 * n, sizeof(float));
    p->ref_y = common_carve(s, D, sizeof(double));
    p->ref_picks = common_carve(s, reads, sizeof(struct pkm_pick));
    p->ref_w = common_carve(s, reads, sizeof(float));
}

/* dst[0..n) of type dt = n draws of N(0, std) from r, rounded to dt: the
 * same draws as common_rng_fill_normal into fp32 (it has no state beyond
 * r), through a small buffer so no fp32 copy of the table exists. */
static void fill_normal_dt(struct common_rng *r, enum layer_dtype dt, void *dst, size_t n,
                           float std)
{
    float buf[1024];
    if (dt == LAYER_F32) {
        common_rng_fill_normal(r, dst, n, std);
        return;
    }
    for (size_t i = 0; i < n; i += 1024) {
        size_t len = n - i < 1024 ? n - i : 1024;
        common_rng_fill_normal(r, buf, len, std);
        common_dtype_narrow(dt, (char *)dst + i * common_dtype_size(dt), buf, len);
    }
}

/* XLM's initialisation (research/ultramem_pkm.md section 3.2): the query
 * Linear like nn.Linear, keys uniform(+-1/sqrt(d_k/2)), values N(0, D^-1/2).
 * A trained BatchNorm's statistics depend on the data, so they are drawn
 * (seeded, non-trivial) to make the folding matter: running var around the
 * query variance for N(0, 1) inputs (1/3 under this init). The values are
 * drawn in fp32 and rounded to the dtype. */
static void pkm_init(struct pkm *p, uint64_t seed)
{
    size_t D = p->d_model, Q = p->q_dim, H = (size_t)p->knobs.heads;
    size_t n = (size_t)p->knobs.n_keys;
    float lin = (float)(1.0 / sqrt((double)D)), key = (float)(1.0 / sqrt((double)p->half));
    float *gamma = p->bn, *beta = gamma + Q, *mean = beta + Q, *var = mean + Q;
    struct common_rng r;

    common_rng_seed(&r, seed, STREAM_WQ);
    common_rng_fill_uniform(&r, p->wq_raw, Q * D, -lin, lin);
    common_rng_seed(&r, seed, STREAM_BQ);
    common_rng_fill_uniform(&r, p->bq_raw, Q, -lin, lin);
    common_rng_seed(&r, seed, STREAM_BN_GAMMA);
    common_rng_fill_uniform(&r, gamma, Q, 0.5f, 1.5f);
    common_rng_seed(&r, seed, STREAM_BN_BETA);
    common_rng_fill_normal(&r, beta, Q, 0.1f);
    common_rng_seed(&r, seed, STREAM_BN_MEAN);
    common_rng_fill_normal(&r, mean, Q, 0.1f);
    common_rng_seed(&r, seed, STREAM_BN_VAR);
    common_rng_fill_uniform(&r, var, Q, 0.5f / 3, 2.0f / 3);
    if (!p->knobs.batchnorm) { /* identity: gamma 1, beta 0, mean 0, var 1 - eps */
        for (size_t i = 0; i < Q; i++) {
            gamma[i] = 1;
            beta[i] = mean[i] = 0;
            var[i] = (float)(1 - BN_EPS);
        }
    }
    common_rng_seed(&r, seed, STREAM_KEYS);
    common_rng_fill_uniform(&r, p->keys, H * 2 * n * p->half, -key, key);
    common_rng_seed(&r, seed, STREAM_VALUES);
    fill_normal_dt(&r, p->dtype, p->values, p->n_values * D, (float)(1.0 / sqrt((double)D)));
}

/* What create derives from the parameters, and a loaded file's derive op
 * again: the folded query Linear and the near-tie margin's key norms. */
static void pkm_fold(struct pkm *p)
{
    size_t D = p->d_model, Q = p->q_dim, H = (size_t)p->knobs.heads;
    size_t n = (size_t)p->knobs.n_keys;
    float *gamma = p->bn, *beta = gamma + Q, *mean = beta + Q, *var = mean + Q;

    /* Fold BN(z) = (z - mean) gamma / sqrt(var + eps) + beta into W and b. */
    for (size_t i = 0; i < Q; i++) {
        double a = p->knobs.batchnorm ? gamma[i] / sqrt((double)var[i] + BN_EPS) : 1.0;
        for (size_t d = 0; d < D; d++)
            p->wq[i * D + d] = (float)(a * p->wq_raw[i * D + d]);
        p->bq[i] =
            p->knobs.batchnorm ? (float)(a * (p->bq_raw[i] - mean[i]) + beta[i]) : p->bq_raw[i];
    }
    /* The near-tie margin's scale (pkm.h): |s| <= |q_half| max_i |c_i|. */
    for (size_t hh = 0; hh < 2 * H; hh++) {
        double best = 0;
        for (size_t i = 0; i < n; i++) {
            const float *c = p->keys + (hh * n + i) * p->half;
            double sq = 0;
            for (size_t d = 0; d < p->half; d++)
                sq += (double)c[d] * c[d];
            best = sq > best ? sq : best;
        }
        p->key_norm[hh] = (float)sqrt(best);
    }
}

/* ---- plan, create, destroy ---- */

/* Knobs, sizes and the memory check: all that create decides before it
 * allocates, and all that check does. */
static int pkm_plan(struct pkm *p, const struct layer_config *cfg, char *err, size_t errlen)
{
    p->knobs = (struct pkm_knobs){.heads = 4,
                                  .topk = 32,
                                  .key_dim = 256,
                                  .n_keys = 0,
                                  .batchnorm = 1,
                                  .dtype = "f32",
                                  .small_gemm = PKM_SMALL_GEMM_DEFAULT};
    int rc = common_knobs_parse(&pkm_knob_set, cfg->knobs, &p->knobs, NULL, err, errlen);
    if (rc)
        return rc;
    rc = common_dtype_parse("pkm", p->knobs.dtype, &p->dtype, err, errlen);
    if (rc)
        return rc;
    rc = resolve_sizes(p, cfg, err, errlen);
    if (rc)
        return rc;
    /* No gaps in the parameter blocks: param_bytes is exactly the tensors. */
    p->blk[PKM_PARAMS] = common_carve_plan(sizeof(float));
    p->blk[PKM_VALUES] = common_carve_plan(sizeof(float));
    p->blk[PKM_RAW] = common_carve_plan(sizeof(float));
    p->blk[PKM_SCRATCH] = common_carve_plan(COMMON_ALIGN);
    pkm_layout(p, p->blk);
    return common_carve_fit(p->blk, PKM_BLOCKS, "pkm", &p->bytes, err, errlen);
}

static int pkm_check(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen)
{
    struct pkm p = {0};
    int rc = pkm_plan(&p, cfg, err, errlen);
    if (bytes)
        *bytes = p.bytes;
    return rc;
}

static void pkm_destroy(struct layer *l)
{
    struct pkm *p = (struct pkm *)l;
    if (!p)
        return;
    common_pool_destroy(p->pool);
    common_carve_free(p->blk, PKM_BLOCKS);
    free(p);
}

static int pkm_create(const struct layer_config *cfg, struct layer **out, char *err, size_t errlen)
{
    struct pkm *p = calloc(1, sizeof(*p));
    int rc;
    *out = NULL;
    if (!p)
        return LAYER_ENOMEM;
    rc = pkm_plan(p, cfg, err, errlen);
    if (rc)
        goto out_destroy;
    rc = common_carve_alloc(p->blk, PKM_BLOCKS);
    if (rc) {
        snprintf(err, errlen, "pkm: out of memory allocating %zu value rows of %zu floats",
                 p->n_values, p->d_model);
        goto out_destroy;
    }
    pkm_layout(p, p->blk);
    p->param_bytes = (size_t)p->blk[PKM_PARAMS].size;
    pkm_init(p, cfg->seed);
    pkm_fold(p);
    rc = common_pool_create(&p->pool, cfg->threads);
    if (rc) {
        snprintf(err, errlen, "pkm: %s", layer_strerror(rc));
        goto out_destroy;
    }
    p->base.ops = &pkm_ops;
    *out = &p->base;
    return LAYER_OK;

out_destroy:
    pkm_destroy(&p->base);
    return rc;
}

/* ---- describe / help ---- */

static void pkm_describe(const struct layer *l, struct layer_info *info)
{
    const struct pkm *p = (const struct pkm *)l;
    const uint64_t D = p->d_model, Q = p->q_dim, H = (uint64_t)p->knobs.heads;
    const uint64_t K = (uint64_t)p->knobs.topk, n = (uint64_t)p->knobs.n_keys;
    uint64_t query = Q * D + Q + (p->knobs.batchnorm ? 4 * Q : 0);
    uint64_t keys = H * 2 * n * p->half;
    info->params_total = query + keys + (uint64_t)p->n_values * D;
    info->params_active = query + keys + H * K * D;
    info->unit = "value";
    common_knobs_format(&pkm_knob_set, &p->knobs, info->knobs, sizeof(info->knobs));
    info->n_regions = 2;
    info->regions[0] = (struct layer_region){p->blk[PKM_PARAMS].base, p->param_bytes};
    info->regions[1] = (struct layer_region){p->values, (size_t)p->blk[PKM_VALUES].size};
}

static int pkm_derive(struct layer *l)
{
    pkm_fold((struct pkm *)l);
    return LAYER_OK;
}

/* The unfolded query Linear (XLM's query_proj), the BatchNorm's four
 * vectors when batchnorm=1 (else they stay the identity), the sub-keys (all
 * fp32) and the values (of dtype); derive folds the BN again. */
static int pkm_param(struct layer *l, size_t i, struct layer_param *pr)
{
    static const char *const bn_names[4] = {"bn.weight", "bn.bias", "bn.running_mean",
                                            "bn.running_var"};
    struct pkm *p = (struct pkm *)l;
    size_t Q = p->q_dim, H = (size_t)p->knobs.heads, n = (size_t)p->knobs.n_keys;
    size_t nbn = p->knobs.batchnorm ? 4 : 0;
    if (i == 0)
        return common_param(pr, "", "query.weight", p->wq_raw, 2,
                            (const uint64_t[]){Q, p->d_model});
    if (i == 1)
        return common_param(pr, "", "query.bias", p->bq_raw, 1, (const uint64_t[]){Q});
    if (i < 2 + nbn)
        return common_param(pr, "", bn_names[i - 2], p->bn + (i - 2) * Q, 1, (const uint64_t[]){Q});
    i -= 2 + nbn;
    if (i == 0)
        return common_param(pr, "", "keys", p->keys, 4, (const uint64_t[]){H, 2, n, p->half});
    if (i == 1)
        return common_param_typed(pr, "", "values", p->values, p->dtype, 2,
                                  (const uint64_t[]){p->n_values, p->d_model});
    return LAYER_EINVAL;
}

static void pkm_help(char *buf, size_t len)
{
    common_knobs_help(&pkm_knob_set, buf, len);
}

void pkm_last_selection(const struct layer *l, int ref, struct pkm_selection *out)
{
    const struct pkm *p = (const struct pkm *)l;
    out->heads = (size_t)p->knobs.heads;
    out->topk = (size_t)p->knobs.topk;
    out->n_keys = (size_t)p->knobs.n_keys;
    out->picks = ref ? p->ref_picks : p->picks;
    out->w = ref ? p->ref_w : p->w;
    out->n_exact = ref ? 0 : p->last_exact;
}

const struct layer_ops pkm_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "pkm",
    .summary = "product-key memory (Lample 2019): BN-folded query, exact product top-k, "
               "softmax, value-major gather",
    .create = pkm_create,
    .check = pkm_check,
    .destroy = pkm_destroy,
    .forward = pkm_forward,
    .forward_ref = pkm_forward_ref,
    .describe = pkm_describe,
    .help = pkm_help,
    .param = pkm_param,
    .derive = pkm_derive,
};
