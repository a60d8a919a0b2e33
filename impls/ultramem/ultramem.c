/* ultramem.c - UltraMem v1 (Huang et al., "Ultra-Sparse Memory Network",
 * ICLR 2025): knobs, sizes, create/destroy/describe and the two ops tables,
 * `ultramem` and `ultramem-merged`.
 *
 * The layer is the official code's UltraMemLayerV1 at inference
 * (research/ultramem_pkm.md section 1.3, the reference for every step):
 *   q = LN(W_q x) per half; S_row, S_col = per-rank key scores; rank-1 filter
 *   with u, v from the SVD of the summed Tucker cores; the kept m x m pairs
 *   scored exactly by each of the h cores (TDQKR + MCS); top-m of the summed
 *   scores; shuffle; implicit value expansion into pooled[E][Dv], each core
 *   weighting its own Dv/h slice; y = W_o flatten(pooled). No softmax.
 * The files: ultramem_init.c (weights, key LN, SVD, near-tie bounds),
 * ultramem_forward.c (the forward, its stats, recall), ultramem_score.c
 * (the retrieval's query and key scores over the batch), ultramem_select.c
 * (the per-(token, head) filter, top-m and near-tie guard, its top-k
 * common_topk_set), ultramem_gather.c (lookup and projection), ultramem_merged.c
 * (the folded tables), ultramem_exact.c (the arithmetic the reference and
 * the near-tie guard share bit for bit), ultramem_ref.c (the plain-loop
 * reference and the exact brute-force top-m).
 *
 * The rank-1 filter is approximate, and on fresh weights worse than the
 * issue assumed: the v1 code keeps the top-m rows of a = S_row u and the
 * top-m columns of b = S_col v, but a bilinear score is also large where a
 * and b are both very negative, so about half of the exact top-m is missed
 * (recall ~0.5, even at r = 1, h = 1). The knob filter=signed also keeps the
 * bottom-m rows and columns and scores (top x top) + (bottom x bottom): at
 * r = 1 that is exact whenever at least m pairs of the grid score above zero,
 * and at r > 1 its recall is close to 1. filter=top (default) is what the
 * released model runs.
 *
 * Per the lead's decision (issue 5 note), forward_ref computes the same
 * function as forward: the full grid by brute force, then the same filter
 * and top-m in plain loops; the filter-free top-m is ultramem_forward_exact,
 * which drives recall and the exactness tests.
 *
 * dtype=bf16|f16 narrows the value table, or the merged variant's folded
 * tables, and nothing else (ultramem.h, "dtype").
 *
 * Left out: training (the aux loss, the value learning-rate schedule), the
 * paper's query conv (absent from the v1 code), more than 2 heads (the v1
 * code shares one query between at most 2).
 */
#include "ultramem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct layer_ops ultramem_ops;
extern const struct layer_ops ultramem_merged_ops;

#define DEFAULT_TOPM 80 /* the UltraMem-227M/1.2B run (research section 1.6) */

static const struct common_knob ultramem_knob_table[] = {
    {"heads", COMMON_KNOB_INT, offsetof(struct ultramem_knobs, heads), 1, 2,
     "retrieval heads H sharing one query (default 2; the v1 code allows at most 2)"},
    {"topm", COMMON_KNOB_INT, offsetof(struct ultramem_knobs, topm), 1, 1 << 20,
     "values m kept per head (default min(80, n'), 80 as the 227M run; at most n'^2)"},
    {"tucker_rank", COMMON_KNOB_INT, offsetof(struct ultramem_knobs, tucker_rank), 1,
     ULTRAMEM_MAX_RANK, "Tucker rank r of the row x column score (default 2)"},
    {"cores", COMMON_KNOB_INT, offsetof(struct ultramem_knobs, cores), 1, ULTRAMEM_MAX_CORES,
     "scoring cores h, each weighting a value_dim/h slice (default 2; divides value_dim)"},
    {"expand", COMMON_KNOB_INT, offsetof(struct ultramem_knobs, expand), 1, 16,
     "virtual expansion E, a perfect square: 1, 4, 9, 16 (default 4)"},
    {"key_dim", COMMON_KNOB_INT, offsetof(struct ultramem_knobs, key_dim), 1, 1 << 16,
     "key / query dim Dk (default d_model/4)"},
    {"value_dim", COMMON_KNOB_INT, offsetof(struct ultramem_knobs, value_dim), 1, 1 << 16,
     "value dim Dv (default d_model/2)"},
    {"n_keys", COMMON_KNOB_INT, offsetof(struct ultramem_knobs, n_keys), 1, 16383,
     "keys per side n, n^2 physical values (default: (scale-1) x dense FFN params)"},
    {"filter", COMMON_KNOB_STR, offsetof(struct ultramem_knobs, filter), 0, 0,
     "rank-1 filter: top (the v1 code) or signed (also the bottom rows/cols; default top)"},
    {"small_gemm", COMMON_KNOB_INT, offsetof(struct ultramem_knobs, small_gemm), 0,
     COMMON_GEMM_SMALL_MAX_M,
     "key scores and output projection of batches up to this many tokens by the own "
     "streaming kernel, more by "
     "OpenBLAS; 0 = OpenBLAS always (default " ULTRAMEM_SMALL_GEMM_DEFAULT_STR ")"},
    {"dtype", COMMON_KNOB_STR, offsetof(struct ultramem_knobs, dtype), 0, 0,
     "f32 (default) | bf16 | f16: stored type of the value table (merged: the folded tables), "
     "the tensors the gather streams; keys, query_proj, LayerNorm, Tucker cores and "
     "values_proj stay fp32; sums stay fp32"},
};

static const struct common_preset ultramem_presets[] = {
    {"227m", "n_keys=808,key_dim=192,value_dim=384,heads=2,topm=80,tucker_rank=2,cores=2,"
             "expand=4"},
};

#define N_KNOBS   (sizeof(ultramem_knob_table) / sizeof(ultramem_knob_table[0]))
#define N_PRESETS (sizeof(ultramem_presets) / sizeof(ultramem_presets[0]))

static const struct common_knob_set ultramem_knob_set = {
    .family = "ultramem",
    .knobs = ultramem_knob_table,
    .n_knobs = N_KNOBS,
    .presets = ultramem_presets,
    .n_presets = N_PRESETS,
};

static const struct common_knob_set ultramem_merged_knob_set = {
    .family = "ultramem-merged",
    .knobs = ultramem_knob_table,
    .n_knobs = N_KNOBS,
    .presets = ultramem_presets,
    .n_presets = N_PRESETS,
};

/* ---- sizes ---- */

/* Fill the derived sizes from the parsed knobs; LAYER_EKNOB or
 * LAYER_EUNSUPPORTED with a message when they do not fit together. */
static int resolve_sizes(struct ultramem *u, const struct layer_config *cfg, char *err,
                         size_t errlen)
{
    struct ultramem_knobs *k = &u->knobs;
    const char *fam = u->knob_set->family;
    long root = lround(sqrt((double)k->expand));

    if (root * root != k->expand) {
        snprintf(err, errlen,
                 "%s: knob expand=%ld is not a perfect square; allowed 1, 4, 9, 16 (each side "
                 "of the key grid grows by sqrt(expand))",
                 fam, k->expand);
        return LAYER_EKNOB;
    }
    if (strcmp(k->filter, "top") && strcmp(k->filter, "signed")) {
        snprintf(err, errlen, "%s: knob filter=%s is not a filter; allowed top or signed", fam,
                 k->filter);
        return LAYER_EKNOB;
    }
    u->D = cfg->d_model;
    if (!k->key_dim)
        k->key_dim = u->D / 4 ? (long)(u->D / 4) : 1;
    int value_dim_default = !k->value_dim;
    if (value_dim_default)
        k->value_dim = u->D / 2 ? (long)(u->D / 2) : 1;
    if (value_dim_default && k->value_dim % k->cores) {
        /* The user gave --d, not value_dim: name what they gave. */
        snprintf(err, errlen,
                 "%s: d_model=%zu gives value_dim = D/2 = %ld, which cores=%ld does not divide; "
                 "use --d a multiple of %ld, or set value_dim (and cores) in --knobs",
                 fam, u->D, k->value_dim, k->cores, 2 * k->cores);
        return LAYER_EKNOB;
    }
    if (k->value_dim % k->cores) {
        snprintf(err, errlen,
                 "%s: knob value_dim=%ld is not divisible by cores=%ld; each core weights its "
                 "own value_dim/cores slice of a value",
                 fam, k->value_dim, k->cores);
        return LAYER_EKNOB;
    }
    if (!k->n_keys) {
        if (cfg->scale < 2) {
            snprintf(err, errlen,
                     "%s: scale %u leaves no memory (the value table holds (scale-1) x the "
                     "dense FFN parameters); use scale >= 2 or set the knob n_keys",
                     fam, cfg->scale);
            return LAYER_EUNSUPPORTED;
        }
        double want = (double)(cfg->scale - 1) * (double)layer_dense_params(u->D);
        k->n_keys = lround(sqrt(want / (double)k->value_dim));
        if (k->n_keys < 1)
            k->n_keys = 1;
        if (k->n_keys > 16383) {
            snprintf(err, errlen,
                     "%s: scale %u needs n_keys=%ld, more than 16383; lower --scale or --d", fam,
                     cfg->scale, k->n_keys);
            return LAYER_EUNSUPPORTED;
        }
    }
    u->Dk = (size_t)k->key_dim;
    u->Dv = (size_t)k->value_dim;
    u->H = (size_t)k->heads;
    u->r = (size_t)k->tucker_rank;
    u->h = (size_t)k->cores;
    u->Dc = u->Dv / u->h;
    u->E = (size_t)k->expand;
    u->n = (size_t)k->n_keys;
    u->np = (size_t)root * u->n;
    u->N = u->n * u->n;
    if (!k->topm)
        k->topm = (long)(u->np < DEFAULT_TOPM ? u->np : DEFAULT_TOPM);
    if ((uint64_t)k->topm > (uint64_t)u->np * u->np) {
        snprintf(err, errlen,
                 "%s: knob topm=%ld exceeds the n'^2 = %zu virtual values (n_keys=%zu, "
                 "expand=%zu); allowed 1..%zu",
                 fam, k->topm, u->np * u->np, u->n, u->E, u->np * u->np);
        return LAYER_EKNOB;
    }
    u->m = (size_t)k->topm;
    /* torch.topk would refuse m > n'; here the filter then keeps every row and
     * column, so any m up to n'^2 is a well-defined (exact) layer. */
    u->ms = u->m < u->np ? u->m : u->np;
    u->signed_filter = strcmp(k->filter, "signed") == 0;
    u->max_cand = u->ms * u->ms;
    if (u->signed_filter)
        u->max_cand = 2 * u->max_cand < u->np * u->np ? 2 * u->max_cand : u->np * u->np;
    u->n_units = u->merged ? u->E * u->N : u->N;
    return LAYER_OK;
}

/* ---- memory ---- */

/* One worker's slice of the scratch. */
static void layout_work(const struct ultramem *u, struct ultramem_work *w, struct common_carve *c)
{
    size_t f = sizeof(float), i = sizeof(uint32_t);
    size_t surv = u->np > u->max_cand ? u->np : u->max_cand;
    w->a = common_carve(c, u->np, f);
    w->b = common_carve(c, u->np, f);
    w->neg = common_carve(c, u->np, f);
    w->surv_key = common_carve(c, surv, i);
    w->surv_pos = common_carve(c, surv + 16, i);
    w->row_flag = common_carve(c, u->np, 1);
    w->col_flag = common_carve(c, u->np, 1);
    w->rows = common_carve(c, 2 * u->ms, i);
    w->cols = common_carve(c, 2 * u->ms, i);
    w->rowf = common_carve(c, 2 * u->ms, 1);
    w->colf = common_carve(c, 2 * u->ms, 1);
    w->col_score = common_carve(c, u->r * 2 * u->ms, f);
    w->row_buf = common_carve(c, 2 * u->ms, f);
    w->cand_val = common_carve(c, u->max_cand, f);
    w->cand_vidx = common_carve(c, u->max_cand, i);
    w->hit_row = common_carve(c, u->H * u->m, i);
    w->hit_blk = common_carve(c, u->H * u->m, i);
    w->q_exact = common_carve(c, 2 * u->Dk, f);
    w->near_idx = common_carve(c, 2 * u->np, i);
    w->near_val = common_carve(c, u->np, f);
    w->exact_key = common_carve(c, 2 * u->np, 1);
}

/* forward_ref's slice of the scratch. */
static void layout_ref(struct ultramem *u, struct common_carve *c)
{
    struct ultramem_ref_scratch *s = &u->ref;
    size_t f = sizeof(float), i = sizeof(uint32_t), list = u->m > u->ms ? u->m : u->ms;
    s->q = common_carve(c, 2 * u->Dk, f);
    s->sr = common_carve(c, u->np * u->r, f);
    s->sc = common_carve(c, u->np * u->r, f);
    s->grid = common_carve(c, u->np * u->np, f);
    s->a = common_carve(c, u->np, f);
    s->rkeep = common_carve(c, u->np, 1);
    s->ckeep = common_carve(c, u->np, 1);
    s->list_val = common_carve(c, list, f);
    s->list_idx = common_carve(c, list, i);
    s->vidx = common_carve(c, u->H * u->m, i);
    s->score = common_carve(c, u->H * u->m * u->h, f);
    s->pooled = common_carve(c, u->E * u->Dv, f);
}

/* Every byte create allocates, sized and carved by this one function: the
 * dense tensors back to back (every forward reads them all), values_proj,
 * the value table, the shuffle, the merged variant's folded tables, then
 * the forward scratch for T = max_tokens, one slice per worker and
 * forward_ref's. blk is u->blk (UM_BLOCKS of them), passed as a pointer:
 * with the array form GCC 12's -Wstringop-overflow under -fsanitize
 * misreads the bound ("accessing 240 bytes in a region of size 8"). */
static void ultramem_layout(struct ultramem *u, struct common_carve *blk)
{
    size_t f = sizeof(float), i = sizeof(uint32_t), rr = u->r * u->r;
    size_t T = u->max_tokens, hm = u->H * u->m;
    struct common_carve *d = &blk[UM_DENSE], *s = &blk[UM_SCRATCH];
    u->keys = common_carve(d, 2 * u->H * u->np * u->r * u->Dk, f);
    u->wq_t = common_carve(d, 2 * u->Dk * u->D, f);
    u->q_ln = common_carve(d, u->Dk, f);
    u->cores = common_carve(d, u->h * u->H * rr, f);
    u->core_sum = common_carve(d, u->H * rr, f);
    u->u = common_carve(d, u->H * u->r, f);
    u->v = common_carve(d, u->H * u->r, f);
    /* The merged variant needs values and values_proj only to fold them: its
     * values stay fp32 (folded from them as at f32), with a slab of fp32
     * scratch beside them when its tables are narrow, all freed after. */
    size_t es = common_dtype_size(u->dtype),
           fold_rows = u->N < ULTRAMEM_FOLD_ROWS ? u->N : ULTRAMEM_FOLD_ROWS;
    int narrow_merged = u->merged && u->dtype != LAYER_F32;
    u->wo = common_carve(&blk[UM_WO], u->D * u->E * u->Dv, f);
    u->values = common_carve(&blk[UM_VALUES], u->N * u->Dv, u->merged ? f : es);
    u->fold_tmp = common_carve(&blk[UM_VALUES], narrow_merged ? fold_rows * u->D : 0, f);
    u->shuffle = common_carve(&blk[UM_SHUFFLE], u->E * u->N, i);
    u->folded = common_carve(&blk[UM_FOLDED], u->merged ? u->E * u->N * u->h * u->D : 0, es);
    u->q = common_carve(s, T * 2 * u->Dk, f);
    u->sr = common_carve(s, T * u->H * u->np * u->r, f);
    u->sc = common_carve(s, T * u->H * u->np * u->r, f);
    u->sel = common_carve(s, T * hm, i);
    u->sel_score = common_carve(s, T * hm * u->h, f);
    u->hit_row = common_carve(s, T * hm, i);
    u->pooled = common_carve(s, u->merged ? 0 : T * u->E * u->Dv, f);
    u->touched = common_carve(s, (u->n_units + 63) / 64, sizeof(uint64_t));
    u->work = common_carve(s, (size_t)u->threads, sizeof(*u->work));
    for (int t = 0; t < u->threads; t++) {
        struct ultramem_work unused, *w = u->work ? &u->work[t] : &unused;
        layout_work(u, w, s);
    }
    layout_ref(u, s);
}

/* ---- lifecycle ---- */

static void ultramem_destroy(struct layer *l)
{
    struct ultramem *u = (struct ultramem *)l;
    if (!u)
        return;
    common_pool_destroy(u->pool);
    common_carve_free(u->blk, UM_BLOCKS);
    free(u);
}

/* The merged layer keeps only the folded tables: values and values_proj
 * were needed to build them and are never read again. */
static void drop_unfolded(struct ultramem *u)
{
    common_carve_free(&u->blk[UM_WO], 1);
    common_carve_free(&u->blk[UM_VALUES], 1);
    u->values = NULL;
    u->fold_tmp = NULL;
    u->wo = NULL;
}

/* Knobs, sizes and the memory check: all that create decides before it
 * allocates, and all that check does. */
static int ultramem_plan(struct ultramem *u, const struct layer_config *cfg, int merged, char *err,
                         size_t errlen)
{
    u->merged = merged;
    u->knob_set = merged ? &ultramem_merged_knob_set : &ultramem_knob_set;
    u->knobs = (struct ultramem_knobs){.heads = 2,
                                       .tucker_rank = 2,
                                       .cores = 2,
                                       .expand = 4,
                                       .small_gemm = ULTRAMEM_SMALL_GEMM_DEFAULT};
    strcpy(u->knobs.filter, "top");
    strcpy(u->knobs.dtype, "f32");
    u->max_tokens = cfg->max_tokens;
    u->threads = cfg->threads;
    int rc = common_knobs_parse(u->knob_set, cfg->knobs, &u->knobs, NULL, err, errlen);
    if (rc)
        return rc;
    rc = common_dtype_parse(u->knob_set->family, u->knobs.dtype, &u->dtype, err, errlen);
    if (rc)
        return rc;
    rc = resolve_sizes(u, cfg, err, errlen);
    if (rc)
        return rc;
    for (int b = 0; b < UM_BLOCKS; b++) /* parameters without gaps, scratch on cache lines */
        u->blk[b] = common_carve_plan(b == UM_SCRATCH ? COMMON_ALIGN : sizeof(float));
    ultramem_layout(u, u->blk);
    u->dense_bytes = (size_t)u->blk[UM_DENSE].used;
    return common_carve_fit(u->blk, UM_BLOCKS, u->knob_set->family, &u->bytes, err, errlen);
}

static int check_common(const struct layer_config *cfg, int merged, uint64_t *bytes, char *err,
                        size_t errlen)
{
    struct ultramem u;
    memset(&u, 0, sizeof(u));
    int rc = ultramem_plan(&u, cfg, merged, err, errlen);
    if (bytes)
        *bytes = u.bytes;
    return rc;
}

static int create_common(const struct layer_config *cfg, int merged, struct layer **out, char *err,
                         size_t errlen)
{
    struct ultramem *u = calloc(1, sizeof(*u));
    int rc;
    *out = NULL;
    if (!u)
        return LAYER_ENOMEM;
    rc = ultramem_plan(u, cfg, merged, err, errlen);
    if (rc)
        goto out_destroy;
    rc = common_carve_alloc(u->blk, UM_BLOCKS);
    if (rc) {
        snprintf(err, errlen, "%s: out of memory allocating %.2f GiB", u->knob_set->family,
                 u->bytes / 1073741824.0);
        goto out_destroy;
    }
    ultramem_layout(u, u->blk);
    rc = common_pool_create(&u->pool, cfg->threads);
    if (rc) {
        snprintf(err, errlen, "%s: %s", u->knob_set->family, layer_strerror(rc));
        goto out_destroy;
    }
    ultramem_init_weights(u, cfg->seed);
    if (merged) {
        common_blas_threads(u->threads);
        ultramem_merged_fold(u);
        drop_unfolded(u);
    }
    u->base.ops = merged ? &ultramem_merged_ops : &ultramem_ops;
    *out = &u->base;
    return LAYER_OK;

out_destroy:
    ultramem_destroy(&u->base);
    return rc;
}

static int ultramem_create(const struct layer_config *cfg, struct layer **out, char *err,
                           size_t errlen)
{
    return create_common(cfg, 0, out, err, errlen);
}

static int ultramem_merged_create(const struct layer_config *cfg, struct layer **out, char *err,
                                  size_t errlen)
{
    return create_common(cfg, 1, out, err, errlen);
}

static int ultramem_check(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen)
{
    return check_common(cfg, 0, bytes, err, errlen);
}

static int ultramem_merged_check(const struct layer_config *cfg, uint64_t *bytes, char *err,
                                 size_t errlen)
{
    return check_common(cfg, 1, bytes, err, errlen);
}

/* ---- description ---- */

static void ultramem_describe(const struct layer *l, struct layer_info *info)
{
    const struct ultramem *u = (const struct ultramem *)l;
    uint64_t shared = 2ull * u->H * u->np * u->r * u->Dk + 2ull * u->Dk * u->D + u->Dk +
                      (uint64_t)u->h * u->H * u->r * u->r;
    uint64_t hits = (uint64_t)u->H * u->m;
    if (u->merged) {
        info->params_total = shared + (uint64_t)u->E * u->N * u->h * u->D;
        info->params_active = shared + hits * u->h * u->D;
    } else {
        uint64_t wo = (uint64_t)u->D * u->E * u->Dv;
        info->params_total = shared + (uint64_t)u->N * u->Dv + wo;
        info->params_active = shared + hits * u->Dv + wo;
    }
    info->unit = "value";
    common_knobs_format(u->knob_set, &u->knobs, info->knobs, sizeof(info->knobs));
    info->n_regions = 0;
    for (int b = 0; b < UM_BLOCKS; b++) /* every parameter block, the scratch excepted */
        if (b != UM_SCRATCH && u->blk[b].base)
            info->regions[info->n_regions++] =
                (struct layer_region){u->blk[b].base, (size_t)u->blk[b].size};
}

/* ---- parameters (reports/WEIGHTS.md) ---- */

/* The official v1 tensors in the layouts forward reads: keys with their
 * LayerNorm already applied, query_proj transposed; then the value table and
 * values_proj, or (merged) the folded tables, which the merged layer keeps
 * instead. The value table and the folded tables are of dtype, the rest fp32. shuffle_index stays
 * seeded (an integer permutation, not listed). */
static int ultramem_param(struct layer *l, size_t i, struct layer_param *p)
{
    struct ultramem *u = (struct ultramem *)l;
    switch (i) {
    case 0:
        return common_param(p, "", "keys", u->keys, 5,
                            (const uint64_t[]){2, u->H, u->np, u->r, u->Dk});
    case 1:
        return common_param(p, "", "query_proj.weight_t", u->wq_t, 2,
                            (const uint64_t[]){u->D, 2 * u->Dk});
    case 2:
        return common_param(p, "", "query_norm.weight", u->q_ln, 1, (const uint64_t[]){u->Dk});
    case 3:
        return common_param(p, "", "tucker_core", u->cores, 4,
                            (const uint64_t[]){u->h, u->H, u->r, u->r});
    case 4:
        if (u->merged)
            return common_param_typed(p, "", "folded", u->folded, u->dtype, 3,
                                      (const uint64_t[]){u->E * u->N, u->h, u->D});
        return common_param_typed(p, "", "values", u->values, u->dtype, 2,
                                  (const uint64_t[]){u->N, u->Dv});
    case 5:
        if (u->merged)
            return LAYER_EINVAL;
        return common_param(p, "", "values_proj.weight", u->wo, 2,
                            (const uint64_t[]){u->D, u->E * u->Dv});
    }
    return LAYER_EINVAL;
}

static int ultramem_derive(struct layer *l)
{
    ultramem_init_derive((struct ultramem *)l);
    return LAYER_OK;
}

static void ultramem_help(char *buf, size_t len)
{
    common_knobs_help(&ultramem_knob_set, buf, len);
}

const struct layer_ops ultramem_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "ultramem",
    .summary = "UltraMem v1: TDQKR + multi-core scoring + implicit value expansion (no softmax)",
    .create = ultramem_create,
    .check = ultramem_check,
    .destroy = ultramem_destroy,
    .forward = ultramem_forward,
    .forward_ref = ultramem_forward_ref,
    .describe = ultramem_describe,
    .help = ultramem_help,
    .recall = ultramem_recall,
    .param = ultramem_param,
    .derive = ultramem_derive,
};

const struct layer_ops ultramem_merged_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "ultramem-merged",
    .summary = "UltraMem v1 with values_proj folded into E x cores tables (memory for compute)",
    .create = ultramem_merged_create,
    .check = ultramem_merged_check,
    .destroy = ultramem_destroy,
    .forward = ultramem_forward,
    .forward_ref = ultramem_forward_ref,
    .describe = ultramem_describe,
    .help = ultramem_help,
    .recall = ultramem_recall,
    .param = ultramem_param,
    .derive = ultramem_derive,
};
