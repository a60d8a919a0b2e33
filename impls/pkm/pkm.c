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

/* ---- create / destroy ---- */

static void pkm_destroy(struct layer *l)
{
    struct pkm *p = (struct pkm *)l;
    if (!p)
        return;
    common_pool_destroy(p->pool);
    common_free(p->params);
    common_free(p->values);
    common_free(p->wq_raw);
    common_free(p->q);
    common_free(p->s);
    common_free(p->picks);
    common_free(p->w);
    common_free(p->y_part);
    common_free(p->work);
    common_free(p->work_mem);
    common_free(p->key_norm);
    common_free(p->rl.row);
    common_free(p->rl.start);
    common_free(p->rl.tok);
    common_free(p->rl.wt);
    common_free(p->rl.bitmap);
    common_free(p->rl.row_uid);
    common_free(p->ref_q);
    common_free(p->ref_s);
    common_free(p->ref_y);
    common_free(p->ref_picks);
    common_free(p->ref_w);
    free(p);
}

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

static size_t front_floats(const struct pkm *p)
{
    size_t H = (size_t)p->knobs.heads, n = (size_t)p->knobs.n_keys;
    return p->q_dim * p->d_model + p->q_dim + 4 * p->q_dim + H * 2 * n * p->half;
}

/* Bytes of each array of one worker's scratch (struct pkm_worker). */
struct worker_sizes {
    size_t half, picks, key, ws, above, equal, tie, win, gidx, grid, q, s;
};

static struct worker_sizes worker_sizes(const struct pkm *p)
{
    size_t K = p->n_sel, M = p->n_cands, n = (size_t)p->knobs.n_keys;
    size_t wide = n > M ? n : M, padded = wide + 16, kh = K < n ? K : n;
    return (struct worker_sizes){
        .half = 2 * kh * sizeof(struct pkm_pick),
        .picks = K * sizeof(struct pkm_pick),
        .key = wide * sizeof(int32_t),
        .ws = padded * sizeof(float),
        .above = padded * sizeof(uint32_t),
        .equal = padded * sizeof(uint32_t),
        .tie = wide * sizeof(uint32_t),
        .win = K * sizeof(uint32_t),
        .gidx = M * sizeof(uint32_t),
        .grid = M * sizeof(float),
        .q = 2 * p->half * sizeof(float),
        .s = n * sizeof(float),
    };
}

static size_t round_line(size_t bytes)
{
    return (bytes + COMMON_ALIGN - 1) / COMMON_ALIGN * COMMON_ALIGN;
}

static size_t worker_bytes(const struct pkm *p)
{
    struct worker_sizes z = worker_sizes(p);
    return round_line(z.half) + round_line(z.picks) + round_line(z.key) + round_line(z.ws) +
           round_line(z.above) + round_line(z.equal) + round_line(z.tie) + round_line(z.win) +
           round_line(z.gidx) + 3 * round_line(z.grid) + round_line(z.q) + 2 * round_line(z.s);
}

static void *take(char **mem, size_t bytes)
{
    void *p = *mem;
    *mem += round_line(bytes);
    return p;
}

static void carve_workers(struct pkm *p)
{
    struct worker_sizes z = worker_sizes(p);
    char *mem = p->work_mem;
    for (int i = 0; i < p->threads; i++) {
        struct pkm_worker *w = &p->work[i];
        w->sel.half = take(&mem, z.half);
        w->picks = take(&mem, z.picks);
        w->sel.key = take(&mem, z.key);
        w->sel.ws = take(&mem, z.ws);
        w->sel.above = take(&mem, z.above);
        w->sel.equal = take(&mem, z.equal);
        w->sel.tie = take(&mem, z.tie);
        w->sel.win = take(&mem, z.win);
        w->sel.gidx = take(&mem, z.gidx);
        w->sel.gs = take(&mem, z.grid);
        w->sel.gs1 = take(&mem, z.grid);
        w->sel.gs2 = take(&mem, z.grid);
        w->q = take(&mem, z.q);
        w->s1 = take(&mem, z.s);
        w->s2 = take(&mem, z.s);
    }
}

static int pkm_alloc(struct pkm *p, char *err, size_t errlen)
{
    size_t H = (size_t)p->knobs.heads, K = (size_t)p->knobs.topk, n = (size_t)p->knobs.n_keys;
    size_t T = p->max_tokens, D = p->d_model, N = p->n_values;
    size_t reads = T * H * K, uniq = reads < N ? reads : N;
    size_t words = (N + 63) / 64, thr = (size_t)p->threads;
    size_t work_bytes = worker_bytes(p);

    p->param_bytes = front_floats(p) * sizeof(float);
    uint64_t need = p->param_bytes + (uint64_t)N * D * sizeof(float) +
                    (uint64_t)(p->q_dim * D + p->q_dim) * sizeof(float) +
                    (uint64_t)T * (p->q_dim + H * 2 * n) * sizeof(float) +
                    (uint64_t)reads * 2 * (sizeof(struct pkm_pick) + 2 * sizeof(float)) +
                    (uint64_t)N * sizeof(uint32_t) + (uint64_t)thr * work_bytes +
                    (uint64_t)(thr - 1) * T * D * sizeof(float);
    int rc = common_mem_check(need, "pkm", err, errlen);
    if (rc)
        return rc;

    p->params = common_alloc(p->param_bytes);
    p->values = common_alloc(N * D * sizeof(float));
    p->wq_raw = common_alloc((p->q_dim * D + p->q_dim) * sizeof(float));
    p->q = common_alloc(T * p->q_dim * sizeof(float));
    p->s = common_alloc(H * 2 * T * n * sizeof(float));
    p->picks = common_alloc(reads * sizeof(struct pkm_pick));
    p->w = common_alloc(reads * sizeof(float));
    p->y_part = thr > 1 ? common_alloc((thr - 1) * T * D * sizeof(float)) : NULL;
    p->work_mem = common_alloc(thr * work_bytes);
    p->work = common_alloc(thr * sizeof(*p->work));
    p->key_norm = common_alloc(2 * H * sizeof(float));
    p->rl.row = common_alloc(uniq * sizeof(uint32_t));
    p->rl.start = common_alloc((uniq + 1) * sizeof(uint32_t));
    p->rl.tok = common_alloc(reads * sizeof(uint32_t));
    p->rl.wt = common_alloc(reads * sizeof(float));
    p->rl.bitmap = common_alloc(words * sizeof(uint64_t));
    p->rl.row_uid = common_alloc(N * sizeof(uint32_t));
    p->ref_q = common_alloc(p->q_dim * sizeof(float));
    p->ref_s = common_alloc(2 * n * sizeof(float));
    p->ref_y = common_alloc(D * sizeof(double));
    p->ref_picks = common_alloc(reads * sizeof(struct pkm_pick));
    p->ref_w = common_alloc(reads * sizeof(float));
    if (!p->params || !p->values || !p->wq_raw || !p->q || !p->s || !p->picks || !p->w ||
        !p->work_mem || !p->work || !p->key_norm || (thr > 1 && !p->y_part) || !p->rl.row ||
        !p->rl.start || !p->rl.tok || !p->rl.wt || !p->rl.bitmap || !p->rl.row_uid || !p->ref_q ||
        !p->ref_s || !p->ref_y || !p->ref_picks || !p->ref_w) {
        snprintf(err, errlen, "pkm: out of memory allocating %zu value rows of %zu floats", N, D);
        return LAYER_ENOMEM;
    }
    p->wq = p->params;
    p->bq = p->wq + p->q_dim * D;
    p->bn = p->bq + p->q_dim;
    p->keys = p->bn + 4 * p->q_dim;
    p->bq_raw = p->wq_raw + p->q_dim * D;
    carve_workers(p);
    return LAYER_OK;
}

/* XLM's initialisation (research/ultramem_pkm.md section 3.2): the query
 * Linear like nn.Linear, keys uniform(+-1/sqrt(d_k/2)), values N(0, D^-1/2).
 * A trained BatchNorm's statistics depend on the data, so they are drawn
 * (seeded, non-trivial) to make the folding matter: running var around the
 * query variance for N(0, 1) inputs (1/3 under this init). */
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
    common_rng_fill_normal(&r, p->values, p->n_values * D, (float)(1.0 / sqrt((double)D)));

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

static int pkm_create(const struct layer_config *cfg, struct layer **out, char *err, size_t errlen)
{
    struct pkm *p = calloc(1, sizeof(*p));
    int rc;
    *out = NULL;
    if (!p)
        return LAYER_ENOMEM;
    p->knobs =
        (struct pkm_knobs){.heads = 4, .topk = 32, .key_dim = 256, .n_keys = 0, .batchnorm = 1};
    rc = common_knobs_parse(&pkm_knob_set, cfg->knobs, &p->knobs, NULL, err, errlen);
    if (rc)
        goto out_destroy;
    rc = resolve_sizes(p, cfg, err, errlen);
    if (rc)
        goto out_destroy;
    rc = pkm_alloc(p, err, errlen);
    if (rc)
        goto out_destroy;
    pkm_init(p, cfg->seed);
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
    info->regions[0] = (struct layer_region){p->params, p->param_bytes};
    info->regions[1] = (struct layer_region){p->values, p->n_values * D * sizeof(float)};
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
    .destroy = pkm_destroy,
    .forward = pkm_forward,
    .forward_ref = pkm_forward_ref,
    .describe = pkm_describe,
    .help = pkm_help,
};
