/* fff_layer.c - what the FFF variants (fff, fff-token) share: knobs and
 * their scale rule, the weights, create/destroy/describe and the exact
 * stats counters.
 *
 * UltraFastBERT, research/fff.md section 1.3. Knobs: trees (K), depth (Dp),
 * bias; preset 1x11 is the released checkpoint (K = 1, Dp = 11: 4095 nodes,
 * 12 evaluated per token). Two knobs reproduce flaws of the published CPU
 * benchmark one at a time (research/fff.md sections 2.2, 2.2b): weights=
 * unwritten (allocated, never written: zero pages, all logits 0, every
 * token takes the leftmost path) and activation=0 (the GELU not applied);
 * forward_ref sees the same weights and setting, so the check stays honest.
 * dtype=bf16|f16 (issue 18) stores the node rows w_in and w_out narrow and
 * only narrow: the seeded init draws fp32 exactly as at f32 and rounds to
 * nearest even, so layers of one seed are one model up to that rounding; the
 * biases (N floats, 1/1536 of the block at D = 768) stay fp32. Left out: training
 * (soft routing, hardening), dropout, and the original FFF's leaf networks (section 1.1), which
 * UltraFastBERT drops.
 */
#include "fff.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { KNOB_TREES, KNOB_DEPTH, KNOB_BIAS, KNOB_WEIGHTS, KNOB_ACTIVATION, KNOB_DTYPE };

static const struct common_knob fff_knob_table[] = {
    [KNOB_TREES] = {"trees", COMMON_KNOB_INT, offsetof(struct fff_knobs, trees), 1, 1 << 20,
                    "K parallel trees, outputs summed (default: 1, or fitted to depth)"},
    [KNOB_DEPTH] = {"depth", COMMON_KNOB_INT, offsetof(struct fff_knobs, depth), 1, FFF_MAX_DEPTH,
                    "Dp: 2^(Dp+1)-1 nodes a tree, Dp+1 per token (default: nodes ~ scale x 4D)"},
    [KNOB_BIAS] = {"bias", COMMON_KNOB_BOOL, offsetof(struct fff_knobs, bias), 0, 1,
                   "node input bias, as the released checkpoint (default 1)"},
    [KNOB_WEIGHTS] = {"weights", COMMON_KNOB_STR, offsetof(struct fff_knobs, weights), 0, 0,
                      COMMON_WEIGHTS_HELP},
    [KNOB_ACTIVATION] = {"activation", COMMON_KNOB_BOOL, offsetof(struct fff_knobs, activation), 0,
                         1,
                         "1: y += gelu(z) w_out; 0: y += w_out, the GELU not applied, as the "
                         "published fff_l2 (research/fff.md 2.2 item 3; default 1)"},
    [KNOB_DTYPE] = {"dtype", COMMON_KNOB_STR, offsetof(struct fff_knobs, dtype), 0, 0,
                    COMMON_DTYPE_HELP " (w_in, w_out; the biases stay f32)"},
};

static const struct common_preset fff_presets[] = {
    {"1x11", "trees=1,depth=11"},
};

static const struct common_knob_set fff_knob_set = {
    .family = "fff",
    .knobs = fff_knob_table,
    .n_knobs = sizeof(fff_knob_table) / sizeof(fff_knob_table[0]),
    .presets = fff_presets,
    .n_presets = sizeof(fff_presets) / sizeof(fff_presets[0]),
};

/* Init (research/fff.md gives no published init for inference): w_in rows
 * N(0, 1/sqrt(D)) so that z is O(1) for N(0, 1) tokens and the sign, not
 * the bias, decides the route; bias and w_out N(0, 0.02), the BERT init.
 * Streams 0x fff0..2 are this family's alone. */
#define FFF_STREAM    0xfff0u
#define FFF_SMALL_STD 0.02f

static long clamp_depth(double d)
{
    long r = lround(d);
    return r < 1 ? 1 : r > FFF_MAX_DEPTH ? FFF_MAX_DEPTH : r;
}

/* Scale rule (documented in --help): the layer gets about s x F nodes,
 * F = 4D. Nothing given: one tree (the paper's best model is one deep
 * tree) of depth round(log2(sF + 1)) - 1, so D = 768, s = 1 is 1x11 and the
 * contract's D = 64, s = 4 (1024 nodes) is 1x9 (1023). Only depth given:
 * K = max(1, round(sF / NN)). Only trees given: the depth whose K trees
 * hold about sF nodes. */
static void resolve_knobs(struct fff_knobs *k, uint64_t given, const struct layer_config *cfg)
{
    double target = (double)cfg->scale * 4.0 * (double)cfg->d_model;
    int has_trees = (given >> KNOB_TREES) & 1, has_depth = (given >> KNOB_DEPTH) & 1;
    if (!has_trees && !has_depth) {
        k->trees = 1;
        k->depth = clamp_depth(log2(target + 1.0)) - 1;
        k->depth = k->depth < 1 ? 1 : k->depth;
    } else if (!has_trees) {
        double nn = ldexp(1.0, (int)k->depth + 1) - 1.0;
        long trees = lround(target / nn);
        k->trees = trees < 1 ? 1 : trees;
    } else if (!has_depth) {
        long d = clamp_depth(log2(target / (double)k->trees + 1.0)) - 1;
        k->depth = d < 1 ? 1 : d;
    }
}

/* n normal draws of stream `stream` into dst as dt: fp32 draws exactly as
 * at f32 (each draw is one normal from the stream, so a chunk at a time
 * gives the same sequence), rounded to nearest even chunk by chunk; no fp32
 * copy of the tensor is ever held. */
static void fill_normal_dt(enum layer_dtype dt, void *dst, size_t n, uint64_t seed, uint64_t stream,
                           float std)
{
    enum { CHUNK = 1024 };
    float buf[CHUNK];
    struct common_rng r;
    common_rng_seed(&r, seed, stream);
    if (dt == LAYER_F32) {
        common_rng_fill_normal(&r, dst, n, std);
        return;
    }
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        common_rng_fill_normal(&r, buf, m, std);
        common_dtype_narrow(dt, (uint16_t *)dst + i, buf, m);
    }
}

static void init_weights(struct fff *f, uint64_t seed)
{
    size_t N = f->n_nodes, D = f->d_model;
    fill_normal_dt(f->dt, (void *)f->w_in, N * D, seed, FFF_STREAM + 0,
                   (float)(1.0 / sqrt((double)D)));
    fill_normal_dt(f->dt, (void *)f->w_out, N * D, seed, FFF_STREAM + 1, FFF_SMALL_STD);
    if (f->knobs.bias)
        fill_normal_dt(LAYER_F32, (void *)f->b, N, seed, FFF_STREAM + 2, FFF_SMALL_STD);
}

/* Bytes of one node's parameters: two rows of dt, the bias in fp32. */
static uint64_t node_bytes(const struct fff *f)
{
    return 2 * (uint64_t)f->d_model * common_dtype_size(f->dt) +
           (f->knobs.bias ? sizeof(float) : 0);
}

/* Bytes of the parameter block, or 0 when it does not fit in 64 bits. A
 * multiple of 4 (2 N D x 2 bytes narrow), so the fp32 biases stay aligned. */
static uint64_t param_block_bytes(const struct fff *f)
{
    uint64_t n;
    if (__builtin_mul_overflow((uint64_t)f->n_nodes, node_bytes(f), &n))
        return 0;
    return n;
}

/* Every byte create allocates, sized and carved by this one function: the
 * parameter block (fff.h), then the stats counters, the reference's
 * pre-activations and, with the level kernel, fff.c's scratch. */
static void fff_layout(struct fff *f, struct common_carve blk[FFF_BLOCKS])
{
    size_t W = (size_t)f->threads, N = f->n_nodes, T = f->max_tokens;
    struct common_carve *s = &blk[FFF_SCRATCH];
    f->params = common_carve(&blk[FFF_PARAMS], f->param_bytes / sizeof(float), sizeof(float));
    f->marks = common_carve(s, W * N, 1);
    f->visits = common_carve(s, W * 8, sizeof(*f->visits));
    f->ref_z = common_carve(s, N, sizeof(*f->ref_z));
    if (!f->level_kernel)
        return;
    f->node_of = common_carve(s, T, sizeof(*f->node_of));
    f->order = common_carve(s, T, sizeof(*f->order));
    f->counts = common_carve(s, f->sort_buckets + 1, sizeof(*f->counts));
    f->tile_scratch = common_carve(s, W * f->tile_bytes, 1);
    f->acts = common_carve(s, T * (size_t)(f->knobs.depth + 1), sizeof(float));
}

/* Knobs, sizes and the memory check: all that create decides before it
 * allocates, and all that check does. */
static int fff_plan(struct fff *f, const struct layer_config *cfg, int level_kernel, char *err,
                    size_t errlen)
{
    uint64_t given = 0, bytes = 0;
    f->knobs = (struct fff_knobs){
        .trees = 1, .depth = 11, .bias = 1, .weights = "random", .activation = 1, .dtype = "f32"};
    int rc = common_knobs_parse(&fff_knob_set, cfg->knobs, &f->knobs, &given, err, errlen);
    if (!rc)
        rc = common_weights_parse("fff", f->knobs.weights, &f->unwritten, err, errlen);
    if (!rc)
        rc = common_dtype_parse("fff", f->knobs.dtype, &f->dt, err, errlen);
    if (rc)
        return rc;
    resolve_knobs(&f->knobs, given, cfg);
    f->d_model = cfg->d_model;
    f->tree_nodes = ((size_t)1 << (f->knobs.depth + 1)) - 1;
    f->max_tokens = cfg->max_tokens;
    f->threads = cfg->threads;
    f->level_kernel = level_kernel;
    f->row_bytes = f->d_model * common_dtype_size(f->dt);
    if (!__builtin_mul_overflow((uint64_t)f->knobs.trees, (uint64_t)f->tree_nodes, &bytes)) {
        f->n_nodes = (size_t)bytes;
        bytes = param_block_bytes(f);
    }
    if (bytes == 0) {
        snprintf(err, errlen, "fff: trees=%ld x depth=%ld nodes of width %zu overflow 64 bits",
                 f->knobs.trees, f->knobs.depth, f->d_model);
        f->bytes = UINT64_MAX; /* as common_carve_fit says an overflow */
        return LAYER_ETOOBIG;
    }
    f->param_bytes = (size_t)bytes;
    if (level_kernel) {
        size_t full = (size_t)1 << f->knobs.depth;
        f->sort_buckets = full < FFF_SORT_MAX ? full : FFF_SORT_MAX;
        f->tile_bytes =
            (FFF_TILE_ARRAYS * FFF_TILE * 4 + COMMON_ALIGN - 1) / COMMON_ALIGN * COMMON_ALIGN;
    }
    f->blk[FFF_PARAMS] = common_carve_plan(sizeof(float));
    f->blk[FFF_PARAMS].unwritten = f->unwritten;
    f->blk[FFF_SCRATCH] = common_carve_plan(COMMON_ALIGN);
    fff_layout(f, f->blk);
    return common_carve_fit(f->blk, FFF_BLOCKS, "fff", &f->bytes, err, errlen);
}

static int check_variant(const struct layer_config *cfg, int level_kernel, uint64_t *bytes,
                         char *err, size_t errlen)
{
    struct fff f;
    memset(&f, 0, sizeof(f));
    int rc = fff_plan(&f, cfg, level_kernel, err, errlen);
    if (bytes)
        *bytes = f.bytes;
    return rc;
}

int fff_check_level(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen)
{
    return check_variant(cfg, 1, bytes, err, errlen);
}

int fff_check_token(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen)
{
    return check_variant(cfg, 0, bytes, err, errlen);
}

/* After a successful plan: LAYER_EKNOB unless the rows are fp32. */
static int refuse_narrow(const struct fff *f, const char *who, char *err, size_t errlen)
{
    if (f->dt == LAYER_F32)
        return LAYER_OK;
    snprintf(err, errlen,
             "%s: knob dtype=%s is not valid; allowed: f32 (its cblas_sdot/sgemv/saxpy calls "
             "read fp32 rows; dtype=bf16|f16 runs on fff and fff-token)",
             who, f->knobs.dtype);
    return LAYER_EKNOB;
}

int fff_check_f32_only(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen)
{
    struct fff f;
    memset(&f, 0, sizeof(f));
    int rc = fff_plan(&f, cfg, 1, err, errlen);
    if (!rc)
        rc = refuse_narrow(&f, "fff-l1/fff-l2", err, errlen);
    if (bytes)
        *bytes = rc ? (rc == LAYER_ETOOBIG ? f.bytes : 0) : f.bytes;
    return rc;
}

void fff_destroy(struct layer *l)
{
    struct fff *f = (struct fff *)l;
    if (!f)
        return;
    common_pool_destroy(f->pool);
    common_carve_free(f->blk, FFF_BLOCKS);
    free(f);
}

int fff_create_layer(const struct layer_config *cfg, const struct layer_ops *ops, int level_kernel,
                     struct fff **out, char *err, size_t errlen)
{
    struct fff *f = calloc(1, sizeof(*f));
    int rc;
    *out = NULL;
    if (!f)
        return LAYER_ENOMEM;
    rc = fff_plan(f, cfg, level_kernel, err, errlen);
    if (rc)
        goto out_destroy;
    rc = common_carve_alloc(f->blk, FFF_BLOCKS);
    if (rc) {
        snprintf(err, errlen, "fff: out of memory for %zu nodes of width %zu", f->n_nodes,
                 f->d_model);
        goto out_destroy;
    }
    fff_layout(f, f->blk);
    size_t N = f->n_nodes;
    f->w_in = f->params;
    f->w_out = fff_row(f, f->w_in, N);
    f->b = f->knobs.bias ? (const float *)fff_row(f, f->w_out, N) : NULL;
    if (!f->unwritten) /* unwritten: zeros that stay zero pages, forward_ref sees them too */
        init_weights(f, cfg->seed);
    rc = common_pool_create(&f->pool, cfg->threads);
    if (rc) {
        snprintf(err, errlen, "fff: %s", layer_strerror(rc));
        goto out_destroy;
    }
    f->base.ops = ops;
    *out = f;
    return LAYER_OK;

out_destroy:
    fff_destroy(&f->base);
    return rc;
}

int fff_create_f32_only(const struct layer_config *cfg, const struct layer_ops *ops,
                        struct fff **out, char *err, size_t errlen)
{
    struct fff probe;
    memset(&probe, 0, sizeof(probe));
    *out = NULL;
    int rc = fff_plan(&probe, cfg, 1, err, errlen);
    if (!rc)
        rc = refuse_narrow(&probe, "fff-l1/fff-l2", err, errlen);
    return rc ? rc : fff_create_layer(cfg, ops, 1, out, err, errlen);
}

void fff_stats_begin(struct fff *f)
{
    memset(f->marks, 0, (size_t)f->threads * f->n_nodes);
    memset(f->visits, 0, (size_t)f->threads * 8 * sizeof(*f->visits));
}

/* From the counters: flops = 4 D per node evaluation (D multiply-adds for
 * the dot, D for the axpy; the GELU and the bias add are not counted), and
 * sparse_bytes = every node row the batch touched, once. No dense bytes:
 * nothing is read whatever the tokens are. */
void fff_stats_end(const struct fff *f, size_t n_tokens, struct layer_stats *st)
{
    uint64_t visits = 0, touched = 0;
    size_t N = f->n_nodes;
    (void)n_tokens;
    for (int w = 0; w < f->threads; w++)
        visits += f->visits[(size_t)w * 8];
    for (size_t n = 0; n < N; n++) {
        unsigned char m = 0;
        for (int w = 0; w < f->threads; w++)
            m |= f->marks[(size_t)w * N + n];
        touched += m;
    }
    st->flops = 4 * (uint64_t)f->d_model * visits;
    st->dense_bytes = 0;
    st->sparse_bytes = touched * node_bytes(f); /* the stored bytes: 2 D x 2 + 4 narrow */
    st->units_touched = touched;
    st->units_total = N;
}

void fff_describe(const struct layer *l, struct layer_info *info)
{
    const struct fff *f = (const struct fff *)l;
    uint64_t per_node = 2 * (uint64_t)f->d_model + (f->b ? 1 : 0);
    info->params_total = (uint64_t)f->n_nodes * per_node;
    info->params_active = (uint64_t)f->knobs.trees * (uint64_t)(f->knobs.depth + 1) * per_node;
    info->unit = "node";
    common_knobs_format(&fff_knob_set, &f->knobs, info->knobs, sizeof(info->knobs));
    info->n_regions = 1;
    info->regions[0] = (struct layer_region){f->params, f->param_bytes};
}

int fff_param(struct layer *l, size_t i, struct layer_param *p)
{
    struct fff *f = (struct fff *)l;
    size_t N = f->n_nodes, D = f->d_model;
    /* w_in, w_out and b are const views of f->params, which create allocated writable. */
    switch (i) {
    case 0:
        return common_param_typed(p, "", "linear_in.weight", f->params, f->dt, 2,
                                  (const uint64_t[]){N, D});
    case 1:
        return common_param_typed(p, "", "linear_out.weight_t", (void *)f->w_out, f->dt, 2,
                                  (const uint64_t[]){N, D});
    case 2:
        if (f->knobs.bias)
            return common_param(p, "", "linear_in.bias", (float *)f->b, 1, (const uint64_t[]){N});
    }
    return LAYER_EINVAL;
}

void fff_help(char *buf, size_t len)
{
    size_t used;
    common_knobs_help(&fff_knob_set, buf, len);
    used = strlen(buf);
    if (used + 1 < len)
        snprintf(buf + used, len - used,
                 "  neither trees nor depth: one tree, depth round(log2(scale*4D+1))-1\n"
                 "  dtype=bf16|f16 stores w_in and w_out narrow (widened on load, sums fp32);\n"
                 "  the biases stay f32; fff-l1/fff-l2 take f32 only\n");
}
