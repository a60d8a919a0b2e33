/* moe.c - the Mixture-of-Experts feed-forward layer: knobs, weights, sizes.
 *
 * A softmax router (D x E, no bias) picks the top-k experts of every token,
 * their softmax weights renormalised over the k (Mixtral / GShard routing,
 * research/moe.md section 1.4); every expert is the GELU FFN block of
 * impls/common/ffn.c with its biases (bias=0 drops them, like dense), so
 * the layer with experts=1,top_k=1 is the dense FFN bit for bit. Dropless:
 * no capacity factor, no token dropped (MegaBlocks dMoE, section 2.1).
 *
 * Knobs and how they combine. experts E0, top_k K0 and expert_width f0
 * describe the layer before granularity g (DeepSeekMoE fine-grained
 * experts, section 1.4 and 4.3), which then gives E = g E0 experts of width
 * f0 / g with K = g K0 active: the same compute and parameters in smaller
 * GEMMs; g must divide f0. Defaults at scale s: K0 = 2, f0 = 4D / K0 (the
 * dense FFN's compute per token), E0 = s K0 (s times its parameters), so
 * k = 2, f_e = F/2, E = 2s, and the presets 2in34 / 64top8 get f_e = F/2 /
 * F/8 and ignore s. shared_experts S are always-on experts of the final
 * width f0 / g with weight 1 (DeepSeekMoE section 3.2), added on top of the
 * K routed ones: for DeepSeekMoE's iso-compute lower top_k yourself.
 * routing=uniform|zipf:A replace the router's choice by seeded per-token
 * draws so the bytes touched can be studied (section 0 item 4, 6 item 1);
 * see moe_route.c for their weights.
 *
 * dtype=bf16|f16 stores every expert's w1 and w2 (and the shared
 * experts') in that type only: the seeded fp32 draws rounded to nearest
 * even, no fp32 copy, streamed widened on load by common/ffn.c (or widened
 * a 512-neuron tile at a time into per-worker fp32 scratch sized here, for
 * an expert's sgemm above 128 rows). The router (small, and its logits
 * decide the routing) and the biases stay fp32.
 *
 * Stats: units are routed experts; sparse_bytes = distinct experts x one
 * expert's parameter bytes as stored; dense_bytes = router + shared
 * experts, which every forward reads. FLOPs count the router, experts, shared experts and
 * the weighted combine (2 T K D).
 *
 * This file: knobs, weights, scratch, describe/help. Routing: moe_route.c.
 * Forward: moe_forward.c. Oracle: moe_ref.c. Left out: training-time pieces
 * (load-balancing loss, router noise, capacity factor), sigmoid and
 * group-limited routers, SwiGLU experts.
 */
#include "moe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Weight streams far above the experts' (expert e uses ffn stream e, raw rng
 * streams 4e..4e+3), so adding experts never shifts the router's draws. */
#define MOE_STREAM_ROUTER 0x726f757465720000ull /* "router" */
#define MOE_STREAM_SHARED 0x0073686172656400ull /* "shared", a common_ffn stream */
#define MOE_STREAM_ZIPF   0x7a6970660000ull     /* "zipf" */
#define MOE_ROUTER_STD    0.02f                 /* the BERT/GPT Linear init, like the experts */
#define MOE_MAX_EXPERTS   (1u << 20)
#define MOE_MAX_ZIPF_A    16.0

enum moe_knob_index {
    KNOB_EXPERTS,
    KNOB_TOP_K,
    KNOB_EXPERT_WIDTH,
    KNOB_SHARED,
    KNOB_GRANULARITY,
    KNOB_BIAS,
    KNOB_ROUTING,
    KNOB_DTYPE,
};

static const struct common_knob moe_knob_table[] = {
    [KNOB_EXPERTS] = {"experts", COMMON_KNOB_INT, offsetof(struct moe_knobs, experts), 1, 65536,
                      "routed experts E before granularity (default scale x top_k)"},
    [KNOB_TOP_K] = {"top_k", COMMON_KNOB_INT, offsetof(struct moe_knobs, top_k), 1, 1024,
                    "experts per token before granularity (default 2)"},
    [KNOB_EXPERT_WIDTH] = {"expert_width", COMMON_KNOB_INT,
                           offsetof(struct moe_knobs, expert_width), 1, 1 << 20,
                           "inner width of one expert before granularity (default 4D / top_k)"},
    [KNOB_SHARED] = {"shared_experts", COMMON_KNOB_INT, offsetof(struct moe_knobs, shared_experts),
                     0, 64, "always-on experts of the final expert width (default 0)"},
    [KNOB_GRANULARITY] = {"granularity", COMMON_KNOB_INT, offsetof(struct moe_knobs, granularity),
                          1, 64, "split each expert in g: g E experts of width/g, g top_k active"},
    [KNOB_BIAS] = {"bias", COMMON_KNOB_BOOL, offsetof(struct moe_knobs, bias), 0, 1,
                   "experts carry the FFN biases b1, b2 (default 1, like dense)"},
    [KNOB_ROUTING] = {"routing", COMMON_KNOB_STR, offsetof(struct moe_knobs, routing), 0, 0,
                      "router (default), uniform, or zipf:A (0 <= A <= 16)"},
    [KNOB_DTYPE] = {"dtype", COMMON_KNOB_STR, offsetof(struct moe_knobs, dtype), 0, 0,
                    COMMON_DTYPE_HELP " (here the experts' w1 and w2; router and biases stay f32)"},
};

static const struct common_preset moe_presets[] = {
    /* UltraMem paper's MoE-1.6B-2in34 (research/moe.md 4.2): top-2 of 34. */
    {"2in34", "experts=34,top_k=2"},
    /* OLMoE-1B-7B (research/moe.md 4.1): 64 experts, top-8, f_e = D/2. */
    {"64top8", "experts=64,top_k=8"},
};

static const struct common_knob_set moe_knob_set = {
    .family = "moe",
    .knobs = moe_knob_table,
    .n_knobs = sizeof(moe_knob_table) / sizeof(moe_knob_table[0]),
    .presets = moe_presets,
    .n_presets = sizeof(moe_presets) / sizeof(moe_presets[0]),
};

/* ---- knobs ---- */

static int parse_routing(struct moe *m, char *err, size_t errlen)
{
    const char *r = m->knobs.routing;
    if (strcmp(r, "router") == 0) {
        m->routing = MOE_ROUTING_ROUTER;
        return LAYER_OK;
    }
    if (strcmp(r, "uniform") == 0) {
        m->routing = MOE_ROUTING_UNIFORM;
        return LAYER_OK;
    }
    if (strncmp(r, "zipf:", 5) == 0) {
        char *end;
        double a = strtod(r + 5, &end);
        if (end != r + 5 && *end == '\0' && isfinite(a) && a >= 0 && a <= MOE_MAX_ZIPF_A) {
            m->routing = MOE_ROUTING_ZIPF;
            m->zipf_a = a;
            return LAYER_OK;
        }
    }
    snprintf(err, errlen,
             "moe: knob routing=%s is not valid; allowed router, uniform, zipf:A with 0 <= A <= %g",
             r, MOE_MAX_ZIPF_A);
    return LAYER_EKNOB;
}

/* Defaults at scale s: k = 2, f0 = 4D / k (iso-compute with the dense FFN),
 * E0 = s k (s times the dense FFN's parameters), then granularity. */
static int resolve_knobs(struct moe *m, const struct layer_config *cfg, uint64_t set, char *err,
                         size_t errlen)
{
    struct moe_knobs *k = &m->knobs;
    long g = k->granularity;
    int rc;
    if (!(set >> KNOB_EXPERT_WIDTH & 1))
        k->expert_width = (long)(4 * cfg->d_model) / k->top_k;
    if (!(set >> KNOB_EXPERTS & 1))
        k->experts = (long)cfg->scale * k->top_k;
    if (k->expert_width < 1) {
        snprintf(err, errlen,
                 "moe: knob top_k=%ld leaves expert_width 4D/top_k = 0 at d_model %zu;"
                 " set expert_width >= 1",
                 k->top_k, cfg->d_model);
        return LAYER_EKNOB;
    }
    if (k->top_k > k->experts) {
        snprintf(err, errlen, "moe: knob top_k=%ld is larger than experts=%ld; allowed 1..%ld",
                 k->top_k, k->experts, k->experts);
        return LAYER_EKNOB;
    }
    if (k->expert_width % g != 0) {
        snprintf(err, errlen,
                 "moe: knob granularity=%ld does not divide expert_width=%ld; allowed a divisor "
                 "of %ld",
                 g, k->expert_width, k->expert_width);
        return LAYER_EKNOB;
    }
    if ((uint64_t)k->experts * (uint64_t)g > MOE_MAX_EXPERTS) {
        snprintf(err, errlen, "moe: knob experts=%ld x granularity=%ld exceeds %u experts",
                 k->experts, g, MOE_MAX_EXPERTS);
        return LAYER_EKNOB;
    }
    m->D = cfg->d_model;
    m->E = (size_t)(k->experts * g);
    m->K = (size_t)(k->top_k * g);
    m->F = (size_t)(k->expert_width / g);
    m->S = (size_t)k->shared_experts;
    rc = parse_routing(m, err, errlen);
    if (rc == LAYER_OK && m->routing == MOE_ROUTING_ZIPF && m->K > MOE_ZIPF_MAX_K) {
        snprintf(err, errlen, "moe: knob routing=%s needs top_k x granularity <= %d, got %zu",
                 k->routing, MOE_ZIPF_MAX_K, m->K);
        rc = LAYER_EKNOB;
    }
    return rc;
}

/* ---- memory ---- */

static uint64_t ffn_params(size_t D, size_t F, int bias)
{
    return 2ull * D * F + (bias ? F + D : 0);
}

/* Bytes of an FFN as stored: w1, w2 of dt, fp32 biases. */
static uint64_t ffn_bytes(size_t D, size_t F, int bias, enum layer_dtype dt)
{
    return 2ull * D * F * common_dtype_size(dt) + (bias ? 4ull * (F + D) : 0);
}

static size_t round_up16(uint64_t n)
{
    return (size_t)((n + 15) / 16 * 16);
}

static size_t round_up64(uint64_t n)
{
    return (size_t)((n + 63) / 64 * 64);
}

/* Every byte create allocates, sized and carved by this one function. The
 * dense block: the router, then the shared experts' FFN (w1, w2 of dtype,
 * b1, b2 back to back, as common_ffn reads them), each padded to a cache
 * line. The experts: E blocks of expert_stride bytes. The scratch, for T =
 * max_tokens and P = T K (token, slot) pairs, with the expert views, the
 * per-worker widened tiles (narrow dtypes) and Zipf tables. */
static void moe_layout(struct moe *m, struct common_carve blk[MOE_BLOCKS])
{
    size_t T = m->max_tokens, P = T * m->K, D = m->D, E = m->E;
    struct common_carve *s = &blk[MOE_SCRATCH];
    uint64_t shared_bytes = m->S ? ffn_bytes(D, m->S * m->F, m->knobs.bias, m->dtype) : 0;
    m->dense_block = common_carve(&blk[MOE_DENSE], round_up16((uint64_t)D * E), sizeof(float));
    m->shared_block = common_carve(&blk[MOE_DENSE], round_up64(shared_bytes), 1);
    m->expert_block = common_carve(&blk[MOE_EXPERTS], E, m->expert_stride);
    m->logits = common_carve(s, T * E, sizeof(float));
    m->sel = common_carve(s, P, sizeof(uint32_t));
    m->sel_w = common_carve(s, P, sizeof(float));
    m->count = common_carve(s, E, sizeof(uint32_t));
    m->offset = common_carve(s, E + 1, sizeof(uint32_t));
    m->row_pair = common_carve(s, P, sizeof(uint32_t));
    m->pair_row = common_carve(s, P, sizeof(uint32_t));
    m->tasks = common_carve(s, P + E, sizeof(struct moe_task));
    m->xg = common_carve(s, P * D, sizeof(float));
    m->hg = common_carve(s, P * m->F, sizeof(float));
    m->yg = common_carve(s, P * D, sizeof(float));
    m->hs = common_carve(s, T * m->S * m->F, sizeof(float));
    m->ffn = common_carve(s, E, sizeof(*m->ffn));
    m->wide = common_carve(s, (size_t)m->threads * m->wide_floats, sizeof(float));
    m->zipf_cdf = common_carve(s, m->routing == MOE_ROUTING_ZIPF ? E : 0, sizeof(*m->zipf_cdf));
    m->zipf_perm = common_carve(s, m->routing == MOE_ROUTING_ZIPF ? E : 0, sizeof(*m->zipf_perm));
}

/* w1, w2 of dt then fp32 b1, b2 from base; 2 F D elements of 2 or 4 bytes
 * leave b1 4-aligned. */
static struct common_ffn carve_ffn(char *base, size_t D, size_t F, int bias, enum layer_dtype dt)
{
    size_t w = F * D * common_dtype_size(dt);
    float *b1 = bias ? (float *)(void *)(base + 2 * w) : NULL;
    return (struct common_ffn){D, F, base, b1, base + w, bias ? b1 + F : NULL, dt};
}

/* Expert e is common_ffn stream e, exactly like dense's stream 0: expert 0
 * of a one-expert layer holds the dense layer's bytes (at any dtype). */
static void init_experts(struct moe *m)
{
    for (size_t e = 0; e < m->E; e++) {
        struct common_ffn *f = &m->ffn[e];
        *f = carve_ffn(m->expert_block + e * m->expert_stride, m->D, m->F, m->knobs.bias, m->dtype);
        common_ffn_init_typed(m->dtype, (void *)f->w1, (float *)f->b1, (void *)f->w2,
                              (float *)f->b2, m->D, m->F, m->seed, e);
    }
}

/* Router (D, E) and the S shared experts merged into one FFN of width S F,
 * as DeepSeek builds them (one MLP of n_shared x moe_intermediate_size):
 * the same function as S separate experts whose output biases are summed. */
static void init_dense_block(struct moe *m)
{
    struct common_rng r;
    size_t D = m->D, FS = m->S * m->F;
    m->router = m->dense_block;
    common_rng_seed(&r, m->seed, MOE_STREAM_ROUTER);
    common_rng_fill_normal(&r, m->router, D * m->E, MOE_ROUTER_STD);
    if (!m->S)
        return;
    struct common_ffn *f = &m->shared;
    *f = carve_ffn(m->shared_block, D, FS, m->knobs.bias, m->dtype);
    common_ffn_init_typed(m->dtype, (void *)f->w1, (float *)f->b1, (void *)f->w2, (float *)f->b2, D,
                          FS, m->seed, MOE_STREAM_SHARED);
}

/* Popularity of rank r is (r + 1)^-A over a seeded permutation of experts. */
static void init_zipf(struct moe *m)
{
    struct common_rng r;
    double sum = 0;
    common_rng_seed(&r, m->seed, MOE_STREAM_ZIPF);
    common_rng_permutation(&r, m->zipf_perm, m->E);
    for (size_t i = 0; i < m->E; i++) {
        sum += pow((double)(i + 1), -m->zipf_a);
        m->zipf_cdf[i] = sum;
    }
}

/* Knobs, sizes and the memory check: all that create decides before it
 * allocates, and all that check does. */
static int moe_plan(struct moe *m, const struct layer_config *cfg, char *err, size_t errlen)
{
    uint64_t set = 0;
    m->knobs = (struct moe_knobs){
        .top_k = 2, .granularity = 1, .bias = 1, .routing = "router", .dtype = "f32"};
    int rc = common_knobs_parse(&moe_knob_set, cfg->knobs, &m->knobs, &set, err, errlen);
    if (!rc)
        rc = common_dtype_parse("moe", m->knobs.dtype, &m->dtype, err, errlen);
    if (rc)
        return rc;
    rc = resolve_knobs(m, cfg, set, err, errlen);
    if (rc)
        return rc;
    m->seed = cfg->seed;
    m->threads = cfg->threads;
    m->max_tokens = cfg->max_tokens;
    m->expert_params = ffn_params(m->D, m->F, m->knobs.bias);
    m->expert_bytes = ffn_bytes(m->D, m->F, m->knobs.bias, m->dtype);
    m->expert_stride = round_up64(m->expert_bytes);
    m->dense_bytes =
        4ull * m->D * m->E + (m->S ? ffn_bytes(m->D, m->S * m->F, m->knobs.bias, m->dtype) : 0);
    /* One widened tile per worker, as large as the expert's or the shared FFN's. */
    struct common_ffn ex = {m->D, m->F, NULL, NULL, NULL, NULL, m->dtype};
    struct common_ffn sh = {m->D, m->S * m->F, NULL, NULL, NULL, NULL, m->dtype};
    m->wide_floats = common_ffn_wide_floats(&ex);
    if (m->S && common_ffn_wide_floats(&sh) > m->wide_floats)
        m->wide_floats = common_ffn_wide_floats(&sh);
    for (int b = 0; b < MOE_BLOCKS; b++)
        m->blk[b] = common_carve_plan(COMMON_ALIGN);
    moe_layout(m, m->blk);
    return common_carve_fit(m->blk, MOE_BLOCKS, "moe", &m->bytes, err, errlen);
}

static int moe_alloc(struct moe *m, char *err, size_t errlen)
{
    if (common_carve_alloc(m->blk, MOE_BLOCKS)) {
        snprintf(err, errlen, "moe: out of memory allocating %llu bytes",
                 (unsigned long long)m->bytes);
        return LAYER_ENOMEM;
    }
    moe_layout(m, m->blk);
    init_dense_block(m);
    init_experts(m);
    if (m->routing == MOE_ROUTING_ZIPF)
        init_zipf(m);
    return LAYER_OK;
}

/* ---- lifecycle ---- */

static void moe_destroy(struct layer *l)
{
    struct moe *m = (struct moe *)l;
    if (!m)
        return;
    common_pool_destroy(m->pool);
    common_carve_free(m->blk, MOE_BLOCKS);
    free(m);
}

static int moe_check(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen)
{
    struct moe m = {0};
    int rc = moe_plan(&m, cfg, err, errlen);
    if (bytes)
        *bytes = m.bytes;
    return rc;
}

static int moe_create(const struct layer_config *cfg, struct layer **out, char *err, size_t errlen)
{
    struct moe *m = calloc(1, sizeof(*m));
    int rc;
    *out = NULL;
    if (!m)
        return LAYER_ENOMEM;
    rc = moe_plan(m, cfg, err, errlen);
    if (rc)
        goto out_destroy;
    rc = moe_alloc(m, err, errlen);
    if (rc)
        goto out_destroy;
    rc = common_pool_create(&m->pool, cfg->threads);
    if (rc) {
        snprintf(err, errlen, "moe: %s", layer_strerror(rc));
        goto out_destroy;
    }
    m->base.ops = &moe_ops;
    *out = &m->base;
    return LAYER_OK;

out_destroy:
    moe_destroy(&m->base);
    return rc;
}

static void moe_describe(const struct layer *l, struct layer_info *info)
{
    const struct moe *m = (const struct moe *)l;
    uint64_t dense_params =
        (uint64_t)m->D * m->E + (m->S ? ffn_params(m->D, m->S * m->F, m->knobs.bias) : 0);
    info->params_total = dense_params + m->E * m->expert_params;
    info->params_active = dense_params + m->K * m->expert_params;
    info->unit = "expert";
    common_knobs_format(&moe_knob_set, &m->knobs, info->knobs, sizeof(info->knobs));
    info->n_regions = 2;
    info->regions[0] = (struct layer_region){m->dense_block, m->blk[MOE_DENSE].size};
    info->regions[1] = (struct layer_region){m->expert_block, m->blk[MOE_EXPERTS].size};
}

/* router (D, E) fp32, the shared FFN's tensors ("shared.w1", ...) when
 * S > 0, then every expert's ("experts.E.w1", ...), w1 and w2 of dtype,
 * biases fp32. Nothing is derived: routing
 * modes other than the router draw from the seed, not the weights. */
static int moe_param(struct layer *l, size_t i, struct layer_param *p)
{
    struct moe *m = (struct moe *)l;
    char prefix[32];
    if (i == 0)
        return common_param(p, "", "router", m->router, 2, (const uint64_t[]){m->D, m->E});
    i--;
    size_t ns = m->S ? common_ffn_n_params(&m->shared) : 0;
    if (i < ns)
        return common_ffn_param(&m->shared, "shared.", i, p);
    i -= ns;
    size_t ne = common_ffn_n_params(&m->ffn[0]);
    if (i >= ne * m->E)
        return LAYER_EINVAL;
    snprintf(prefix, sizeof(prefix), "experts.%zu.", i / ne);
    return common_ffn_param(&m->ffn[i / ne], prefix, i % ne, p);
}

static void moe_help(char *buf, size_t len)
{
    size_t used;
    common_knobs_help(&moe_knob_set, buf, len);
    used = strlen(buf);
    if (used + 1 < len)
        snprintf(buf + used, len - used,
                 "  dtype=bf16|f16 stores every expert's (and the shared experts') w1 and w2\n"
                 "  narrow, as dense does; the router and the biases stay f32\n");
}

const struct layer_ops moe_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "moe",
    .summary = "Mixture-of-Experts: softmax top-k router, dropless grouped expert GEMMs "
               "(default k = 2, E = 2 x scale, iso-compute experts)",
    .create = moe_create,
    .check = moe_check,
    .destroy = moe_destroy,
    .forward = moe_forward,
    .forward_ref = moe_forward_ref,
    .describe = moe_describe,
    .help = moe_help,
    .param = moe_param,
};
