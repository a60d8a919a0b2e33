/* check_fff.c - impls/fff (fff, fff-token) against the dense masked
 * reference and against a walk this file does itself on the layer's own
 * weights; exact stats; the z == 0 tie; knobs and the scale rule; and the
 * paper-style dense baselines dense-l1 / dense-l2 against dense.
 *
 * Tolerances: 1e-4 relative to max(1, max |y_ref|), the harness's check.
 * The reference sums in another order and with libm's erff, so the two
 * differ by float rounding (~1e-6 here); a token sent down another path
 * differs by O(0.1), so 1e-4 cannot hide a routing error. fff and fff-token
 * share their dot and axpy rounding, so they must agree exactly.
 *
 * dtype=bf16|f16 keeps the same 1e-4: the kernels widen the stored narrow
 * rows exactly and the reference reads the same stored rows through
 * common_dtype_at, so both compute one function in fp32 and differ by the
 * same summation-order rounding as at f32. The rounding of the weights
 * themselves (2^-9 relative for bf16) is not in that difference at all.
 */
#include "test_util.h"
#include "../impls/common/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const size_t token_counts[] = {1, 3, 64, 1000};

/* Random weights in every configuration: all-zero weights would send every
 * token down one path (research/fff.md section 2.2). */
struct shape {
    size_t d;
    unsigned scale;
    const char *knobs;
};

static const struct shape shapes[] = {
    {64, 4, ""},                 /* the contract's: one tree of depth 9 */
    {100, 1, "bias=1"},          /* D not a multiple of the vector width */
    {768, 1, "trees=2,depth=7"}, /* two trees, two phases at T >= 256 */
};

static struct layer *create(const char *impl, const struct shape *s, int threads, size_t max_t)
{
    return tu_create_threads(impl, s->d, s->scale, s->knobs, 42, max_t, threads);
}

static double rel_err(const float *y, const float *ref, size_t n)
{
    double scale = tu_max_abs(ref, n);
    return tu_max_abs_diff(y, ref, n) / (scale > 1 ? scale : 1);
}

/* ---- the test's own walk over the layer's parameter block ---- */

struct view {
    size_t D, N, NN, K, levels;
    enum layer_dtype dt; /* of w_in and w_out */
    const void *w_in, *w_out;
    const float *b;
};

/* The layer's tensors as param() lists them, checked against the layout
 * fff.h documents: w_in, w_out as dt, then the fp32 bias, in one block. */
static struct view view_of(struct layer *l, size_t D, size_t K, size_t depth)
{
    struct layer_info info;
    struct layer_param p[3];
    memset(&info, 0, sizeof(info));
    l->ops->describe(l, &info);
    struct view v = {D, 0, ((size_t)2 << depth) - 1, K, depth + 1, LAYER_F32, NULL, NULL, NULL};
    v.N = K * v.NN;
    int bias = info.params_total == v.N * (2 * D + 1);
    ck_assert(bias || info.params_total == v.N * 2 * D);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(l->ops->param(l, i, &p[i]), i < 2 || bias ? LAYER_OK : LAYER_EINVAL);
    v.dt = p[0].dtype;
    ck_assert_int_eq(p[1].dtype, v.dt);
    v.w_in = p[0].data;
    v.w_out = p[1].data;
    size_t row_pair = 2 * D * common_dtype_size(v.dt);
    ck_assert_ptr_eq(v.w_in, info.regions[0].base);
    ck_assert_ptr_eq(v.w_out, (const char *)v.w_in + v.N * D * common_dtype_size(v.dt));
    ck_assert_uint_eq(info.regions[0].bytes, v.N * (row_pair + (bias ? sizeof(float) : 0)));
    if (bias) {
        ck_assert_int_eq(p[2].dtype, LAYER_F32);
        v.b = p[2].data;
        ck_assert_ptr_eq(v.b, (const char *)v.w_in + v.N * row_pair);
    }
    return v;
}

/* y = the FFF of x in double; the root goes right when root_right, else
 * by the rule (z > 0). Marks every node visited. */
static void walk(const struct view *v, const float *x, float *y, int root_right,
                 unsigned char *seen)
{
    double acc[1024] = {0};
    ck_assert_uint_le(v->D, 1024);
    for (size_t k = 0; k < v->K; k++) {
        size_t n = 0;
        for (size_t level = 0; level < v->levels; level++) {
            size_t row = k * v->NN + n;
            double z = v->b ? v->b[row] : 0.0;
            for (size_t d = 0; d < v->D; d++)
                z += (double)common_dtype_at(v->dt, v->w_in, row * v->D + d) * x[d];
            double a = 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
            for (size_t d = 0; d < v->D; d++)
                acc[d] += a * common_dtype_at(v->dt, v->w_out, row * v->D + d);
            if (seen)
                seen[row] = 1;
            n = 2 * n + 1 + ((level == 0 && root_right) || z > 0.0);
        }
    }
    for (size_t d = 0; d < v->D; d++)
        y[d] = (float)acc[d];
}

/* ---- tests ---- */

START_TEST(test_fff_variants_match_ref)
{
    size_t T = token_counts[_i];
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        const size_t D = shapes[s].d;
        struct layer *fast = create("fff", &shapes[s], 2, T);
        struct layer *token = create("fff-token", &shapes[s], 2, T);
        float *x = tu_tokens(T, D, 5 + s), *y = tu_zeros(T * D), *yt = tu_zeros(T * D),
              *yr = tu_zeros(T * D);
        struct layer_stats st;
        ck_assert_int_eq(fast->ops->forward(fast, x, y, T, &st), 0);
        ck_assert_int_eq(token->ops->forward(token, x, yt, T, &st), 0);
        ck_assert_int_eq(fast->ops->forward_ref(fast, x, yr, T), 0);
        ck_assert_msg(rel_err(y, yr, T * D) <= TOL, "fff D=%zu T=%zu: error %.3g", D, T,
                      rel_err(y, yr, T * D));
        ck_assert_msg(rel_err(yt, yr, T * D) <= TOL, "fff-token D=%zu T=%zu: error %.3g", D, T,
                      rel_err(yt, yr, T * D));
        ck_assert_msg(memcmp(y, yt, T * D * sizeof(*y)) == 0,
                      "D=%zu T=%zu: fff and fff-token differ by %.3g", D, T,
                      tu_max_abs_diff(y, yt, T * D));
        layer_destroy(fast);
        layer_destroy(token);
        free(x);
        free(y);
        free(yt);
        free(yr);
    }
}
END_TEST

/* Stats are counted during the forward, so a dropped or repeated visit
 * shows: flops must be exactly 4 D per node, K (Dp + 1) nodes per token,
 * and the unique nodes must be those of the test's own walk; the bytes are
 * the stored ones (two rows of the dtype and an fp32 bias a node). D = 112
 * takes the kernels' odd-vector paths (112 = 3 x 32 + 16). */
START_TEST(test_fff_stats_exact)
{
    const char *impls[] = {"fff", "fff-token"};
    static const struct {
        const char *knobs;
        size_t elem; /* bytes of a w_in / w_out element */
    } types[] = {{"trees=3,depth=5", 4},
                 {"trees=3,depth=5,dtype=bf16", 2},
                 {"trees=3,depth=5,dtype=f16", 2}};
    const struct shape sh = {112, 1, types[_i].knobs};
    const size_t D = 112, K = 3, depth = 5, counts[] = {1, 5, 64, 300};
    for (int i = 0; i < 2; i++) {
        for (int c = 0; c < 4; c++) {
            size_t T = counts[c];
            struct layer *l = create(impls[i], &sh, 2, T);
            struct view v = view_of(l, D, K, depth);
            float *x = tu_tokens(T, D, 9), *y = tu_zeros(T * D), *yw = tu_zeros(D);
            unsigned char *seen = calloc(v.N, 1);
            struct layer_stats st;
            ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
            for (size_t t = 0; t < T; t++) {
                walk(&v, x + t * D, yw, 0, seen);
                ck_assert_double_le(rel_err(y + t * D, yw, D), TOL);
            }
            uint64_t touched = 0;
            for (size_t n = 0; n < v.N; n++)
                touched += seen[n];
            ck_assert_uint_eq(st.flops, 4ull * D * K * (depth + 1) * T);
            ck_assert_uint_eq(st.units_touched, touched);
            ck_assert_uint_eq(st.units_total, v.N);
            ck_assert_uint_eq(st.sparse_bytes, touched * (2 * D * types[_i].elem + 4));
            ck_assert_uint_eq(st.dense_bytes, 0);
            if (T == 1)
                ck_assert_uint_eq(st.units_touched, K * (depth + 1));
            layer_destroy(l);
            free(x);
            free(y);
            free(yw);
            free(seen);
        }
    }
}
END_TEST

/* A token whose root pre-activation is exactly 0 must go left, alone
 * (the per-token path) and inside a batch (the level kernel), at every
 * dtype (w0 w1 + w1 (-w0) with the stored, widened w0 and w1). */
START_TEST(test_fff_zero_goes_left)
{
    const char *impls[] = {"fff", "fff-token"};
    static const char *const knobs[] = {"trees=1,depth=6,bias=0",
                                        "trees=1,depth=6,bias=0,dtype=bf16",
                                        "trees=1,depth=6,bias=0,dtype=f16"};
    const struct shape sh = {64, 1, knobs[_i]};
    const size_t D = 64, T = 16, at = 5;
    for (int i = 0; i < 2; i++) {
        struct layer *l = create(impls[i], &sh, 2, T);
        struct view v = view_of(l, D, 1, 6);
        float *x = tu_tokens(T, D, 3), *y = tu_zeros(T * D), *yr = tu_zeros(T * D);
        float left[64], right[64];
        /* w0 w1 + w1 (-w0): both products round alike, so z is exactly 0. */
        float *xz = x + at * D;
        memset(xz, 0, D * sizeof(*xz));
        xz[0] = common_dtype_at(v.dt, v.w_in, 1);
        xz[1] = -common_dtype_at(v.dt, v.w_in, 0);
        walk(&v, xz, left, 0, NULL);
        walk(&v, xz, right, 1, NULL);
        ck_assert_msg(tu_max_abs_diff(left, right, D) > 1e-3,
                      "left and right subtrees give the same output: the test cannot tell");
        struct layer_stats st;
        size_t sizes[] = {1, T};
        for (int b = 0; b < 2; b++) {
            const float *xb = sizes[b] == 1 ? xz : x;
            float *yz = sizes[b] == 1 ? y : y + at * D;
            ck_assert_int_eq(l->ops->forward(l, xb, y, sizes[b], &st), 0);
            ck_assert_int_eq(l->ops->forward_ref(l, xb, yr, sizes[b]), 0);
            float *yrz = sizes[b] == 1 ? yr : yr + at * D;
            ck_assert_msg(rel_err(yz, left, D) <= TOL, "%s T=%zu: z = 0 did not go left", impls[i],
                          sizes[b]);
            ck_assert_msg(rel_err(yrz, left, D) <= TOL, "reference T=%zu: z = 0 did not go left",
                          sizes[b]);
        }
        layer_destroy(l);
        free(x);
        free(y);
        free(yr);
    }
}
END_TEST

START_TEST(test_fff_threads_agree)
{
    const struct shape sh = {768, 1, "trees=1,depth=8"};
    const size_t D = 768, T = 700;
    struct layer *a = create("fff", &sh, 1, T), *b = create("fff", &sh, 2, T);
    float *x = tu_tokens(T, D, 4), *ya = tu_zeros(T * D), *yb = tu_zeros(T * D);
    struct layer_stats sa, sb;
    ck_assert_int_eq(a->ops->forward(a, x, ya, T, &sa), 0);
    ck_assert_int_eq(b->ops->forward(b, x, yb, T, &sb), 0);
    ck_assert(memcmp(ya, yb, T * D * sizeof(*ya)) == 0);
    ck_assert(memcmp(&sa, &sb, sizeof(sa)) == 0);
    layer_destroy(a);
    layer_destroy(b);
    free(x);
    free(ya);
    free(yb);
}
END_TEST

/* A y of 16 MiB or more is written with streaming stores (fff.c's
 * FFF_STREAM_MIN_BYTES): that path must agree with fff-token bit for bit,
 * with y aligned (streamed) and one float off (normal stores), at every
 * dtype. */
START_TEST(test_fff_streamed_y)
{
    static const char *const knobs[] = {"trees=1,depth=4", "trees=1,depth=4,dtype=bf16",
                                        "trees=1,depth=4,dtype=f16"};
    const struct shape sh = {64, 1, knobs[_i]};
    const size_t D = 64, T = (16u << 20) / (64 * sizeof(float));
    struct layer *fast = create("fff", &sh, 2, T), *token = create("fff-token", &sh, 2, T);
    float *x = tu_tokens(T, D, 9), *y = tu_zeros(T * D + 1), *yt = tu_zeros(T * D);
    struct layer_stats st;
    ck_assert_int_eq(token->ops->forward(token, x, yt, T, &st), 0);
    for (size_t off = 0; off < 2; off++) {
        ck_assert_int_eq(fast->ops->forward(fast, x, y + off, T, &st), 0);
        ck_assert_msg(memcmp(y + off, yt, T * D * sizeof(*y)) == 0,
                      "%s offset %zu: fff and fff-token differ by %.3g", knobs[_i], off,
                      tu_max_abs_diff(y + off, yt, T * D));
    }
    layer_destroy(fast);
    layer_destroy(token);
    free(x);
    free(y);
    free(yt);
}
END_TEST

static void expect_knob_error(const char *knobs, const char *needle, int code)
{
    char err[512];
    ck_assert_int_eq(tu_create_fails("fff", 64, 1, knobs, err, sizeof(err)), code);
    ck_assert_msg(strstr(err, needle) != NULL, "knobs '%s': message '%s' lacks '%s'", knobs, err,
                  needle);
}

START_TEST(test_fff_bad_knobs)
{
    expect_knob_error("depth=0", "depth=0", LAYER_EKNOB);
    expect_knob_error("depth=25", "depth=25", LAYER_EKNOB);
    expect_knob_error("depth=25", "1..24", LAYER_EKNOB);
    expect_knob_error("trees=0", "trees=0", LAYER_EKNOB);
    expect_knob_error("bias=2", "bias=2", LAYER_EKNOB);
    expect_knob_error("preset=2x10", "1x11", LAYER_EKNOB);
    expect_knob_error("leaf=4", "unknown knob 'leaf'", LAYER_EKNOB);
    expect_knob_error("trees=1048576,depth=24", "GiB", LAYER_ETOOBIG);
    expect_knob_error("dtype=f8", "dtype=f8", LAYER_EKNOB);
    expect_knob_error("dtype=f8", "f32, bf16, f16", LAYER_EKNOB);
    /* The BLAS-composed baselines read fp32 rows only; check says so too. */
    const char *paper[] = {"fff-l1", "fff-l2"};
    for (int i = 0; i < 2; i++) {
        char err[512] = "", cerr[512] = "";
        struct layer_config bf = {64, 1, 1, 1, 4, "dtype=bf16", NULL};
        uint64_t bytes = 1;
        ck_assert_int_eq(tu_create_fails(paper[i], 64, 1, "dtype=bf16", err, sizeof(err)),
                         LAYER_EKNOB);
        ck_assert_ptr_nonnull(strstr(err, "dtype=bf16"));
        ck_assert_ptr_nonnull(strstr(err, "allowed: f32"));
        ck_assert_int_eq(layer_check(layer_find(paper[i]), &bf, &bytes, cerr, sizeof(cerr)),
                         LAYER_EKNOB);
        ck_assert_str_eq(cerr, err);
        ck_assert_uint_eq(bytes, 0);
    }
    /* 2^45 nodes of 2 x 65536 floats: the parameter bytes overflow 64 bits;
     * check says so as create does, with the size it cannot count. */
    struct layer_config cfg = {65536, 1, 1, 1, 1, "trees=1048576,depth=24", NULL};
    char err[512] = "";
    uint64_t bytes = 0;
    ck_assert_int_eq(layer_check(layer_find("fff"), &cfg, &bytes, err, sizeof(err)), LAYER_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err, "overflow 64 bits"));
    ck_assert_uint_eq(bytes, UINT64_MAX);
    char cerr[512] = "";
    ck_assert_int_eq(tu_create_fails("fff", 65536, 1, cfg.knobs, cerr, sizeof(cerr)),
                     LAYER_ETOOBIG);
    ck_assert_str_eq(cerr, err);
}
END_TEST

static void expect_knobs(size_t D, unsigned scale, const char *knobs, const char *resolved)
{
    struct layer *l = tu_create("fff", D, scale, knobs, 1, 2);
    struct layer_info info;
    l->ops->describe(l, &info);
    ck_assert_msg(strcmp(info.knobs, resolved) == 0, "D=%zu s=%u '%s' -> '%s', expected '%s'", D,
                  scale, knobs, info.knobs, resolved);
    ck_assert_str_eq(info.unit, "node");
    layer_destroy(l);
}

START_TEST(test_fff_scale_rule)
{
    expect_knobs(768, 1, "",
                 "trees=1,depth=11,bias=1,weights=random,activation=1,dtype=f32"); /* 4095 ~ 3072 */
    expect_knobs(64, 4, "",
                 "trees=1,depth=9,bias=1,weights=random,activation=1,dtype=f32"); /* 1023 ~ 1024 */
    expect_knobs(64, 4, "depth=5", "trees=16,depth=5,bias=1,weights=random,activation=1,dtype=f32");
    expect_knobs(64, 4, "trees=4", "trees=4,depth=7,bias=1,weights=random,activation=1,dtype=f32");
    expect_knobs(64, 1, "preset=1x11,bias=0,dtype=bf16",
                 "trees=1,depth=11,bias=0,weights=random,activation=1,dtype=bf16");
    struct layer *l = tu_create("fff", 768, 1, "preset=1x11", 1, 2);
    struct layer_info info;
    l->ops->describe(l, &info);
    ck_assert_uint_eq(info.params_total, 4095ull * (2 * 768 + 1));
    ck_assert_uint_eq(info.params_active, 12ull * (2 * 768 + 1));
    layer_destroy(l);
}
END_TEST

/* ---- dtype=bf16|f16 ---- */

/* Awkward sizes for the narrow kernels: D not a multiple of 16 (the
 * vector tails and group_output's scalar tail), T not a multiple of the
 * 64-token tile, a deep tree with about one token per leaf, two phases and
 * two trees, the per-token path (T < 4) and one thread. */
static const struct dtype_case {
    const char *dtype;
    size_t d, tokens;
    int threads;
    const char *knobs;
} dtype_cases[] = {
    {"bf16", 100, 67, 2, "trees=2,depth=7"},   /* D % 16 = 4, T = 64 + 3 */
    {"f16", 100, 67, 2, "trees=2,depth=7"},    /* the same in f16 */
    {"bf16", 36, 1000, 2, "trees=1,depth=10"}, /* 2048 leaves: ~1 token a leaf */
    {"f16", 36, 1000, 1, "trees=1,depth=10"},  /* ... on one thread */
    {"bf16", 768, 300, 2, "trees=2,depth=7"},  /* two phases, the pool */
    {"f16", 768, 300, 2, "trees=1,depth=11"},  /* the 1x11 tree */
    {"bf16", 24, 3, 2, "trees=3,depth=4"},     /* the per-token path; D < 32 */
    {"f16", 50, 129, 2, "trees=1,depth=6"},    /* T = 2 x 64 + 1 */
};

START_TEST(test_fff_dtype_match_ref)
{
    const struct dtype_case *c = &dtype_cases[_i];
    char knobs[128];
    snprintf(knobs, sizeof(knobs), "%s,dtype=%s", c->knobs, c->dtype);
    const struct shape sh = {c->d, 1, knobs};
    const size_t D = c->d, T = c->tokens;
    struct layer *fast = create("fff", &sh, c->threads, T);
    struct layer *token = create("fff-token", &sh, c->threads, T);
    float *x = tu_tokens(T, D, 11), *y = tu_zeros(T * D), *yt = tu_zeros(T * D),
          *yr = tu_zeros(T * D);
    struct layer_stats st;
    ck_assert_int_eq(fast->ops->forward(fast, x, y, T, &st), 0);
    ck_assert_int_eq(token->ops->forward(token, x, yt, T, &st), 0);
    ck_assert_int_eq(fast->ops->forward_ref(fast, x, yr, T), 0);
    ck_assert_msg(rel_err(y, yr, T * D) <= TOL, "fff %s D=%zu T=%zu: error %.3g", knobs, D, T,
                  rel_err(y, yr, T * D));
    ck_assert_msg(memcmp(y, yt, T * D * sizeof(*y)) == 0,
                  "%s D=%zu T=%zu: fff-token differs by %.3g", knobs, D, T,
                  tu_max_abs_diff(y, yt, T * D));
    layer_destroy(fast);
    layer_destroy(token);
    free(x);
    free(y);
    free(yt);
    free(yr);
}
END_TEST

/* Narrow storage is the only storage: param() lists w_in and w_out as the
 * dtype and the bias as f32; the seeded narrow weights are the f32 layer's
 * of the same seed rounded to nearest even, element for element; the
 * bias is the same; the parameter block is the f32 one less half of its
 * rows, and check says create's bytes exactly. */
START_TEST(test_fff_dtype_storage)
{
    static const enum layer_dtype dts[] = {LAYER_BF16, LAYER_F16};
    const enum layer_dtype dt = dts[_i];
    const size_t D = 100, N = 127;
    char knobs[64];
    snprintf(knobs, sizeof(knobs), "trees=1,depth=6,dtype=%s", common_dtype_name(dt));
    struct layer *wide = tu_create("fff", D, 1, "trees=1,depth=6", 1, 2);
    struct layer *narrow = tu_create("fff", D, 1, knobs, 1, 2);
    struct view vw = view_of(wide, D, 1, 6), vn = view_of(narrow, D, 1, 6);
    ck_assert_int_eq(vw.dt, LAYER_F32);
    ck_assert_int_eq(vn.dt, dt);
    for (size_t i = 0; i < N * D; i++) {
        const float *in = vw.w_in, *out = vw.w_out;
        const uint16_t *nin = vn.w_in, *nout = vn.w_out;
        uint16_t win = dt == LAYER_BF16 ? common_f32_to_bf16(in[i]) : common_f32_to_f16(in[i]);
        uint16_t wout = dt == LAYER_BF16 ? common_f32_to_bf16(out[i]) : common_f32_to_f16(out[i]);
        ck_assert_msg(nin[i] == win && nout[i] == wout, "element %zu: %04x %04x, want %04x %04x", i,
                      nin[i], nout[i], win, wout);
    }
    ck_assert(memcmp(vw.b, vn.b, N * sizeof(float)) == 0);
    struct layer_info iw, in;
    wide->ops->describe(wide, &iw);
    narrow->ops->describe(narrow, &in);
    ck_assert_uint_eq(iw.regions[0].bytes, N * (2 * D * 4 + 4));
    ck_assert_uint_eq(in.regions[0].bytes, N * (2 * D * 2 + 4));
    ck_assert_uint_eq(in.params_total, iw.params_total);
    struct layer_config cw = {D, 1, 1, 2, 1, "trees=1,depth=6", NULL};
    struct layer_config cn = {D, 1, 1, 2, 1, knobs, NULL};
    uint64_t bw = 0, bn = 0;
    char err[256];
    ck_assert_int_eq(layer_check(layer_find("fff"), &cw, &bw, err, sizeof(err)), 0);
    ck_assert_int_eq(layer_check(layer_find("fff"), &cn, &bn, err, sizeof(err)), 0);
    ck_assert_uint_ge(bw - bn, 2 * N * D * 2); /* the narrow rows, less alignment padding */
    ck_assert_uint_le(bw - bn, 2 * N * D * 2 + 2 * COMMON_ALIGN);
    layer_destroy(wide);
    layer_destroy(narrow);
}
END_TEST

/* dense-l1 and dense-l2 are dense with other primitives: same weights,
 * same output. */
START_TEST(test_dense_paper_matches_dense)
{
    const char *impls[] = {"dense-l1", "dense-l2"};
    const struct shape sh = {100, 1, "width=300"};
    const size_t D = 100, counts[] = {1, 5};
    for (int c = 0; c < 2; c++) {
        size_t T = counts[c];
        struct layer *dense = create("dense", &sh, 2, T);
        float *x = tu_tokens(T, D, 8), *yd = tu_zeros(T * D), *y = tu_zeros(T * D);
        struct layer_stats sd, st;
        ck_assert_int_eq(dense->ops->forward(dense, x, yd, T, &sd), 0);
        for (int i = 0; i < 2; i++) {
            struct layer *l = create(impls[i], &sh, 2, T);
            ck_assert_ptr_nonnull(
                strstr(l->ops->summary, "paper-style weak baseline, not the default opponent"));
            ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
            ck_assert_msg(rel_err(y, yd, T * D) <= 1e-5, "%s T=%zu: error %.3g vs dense", impls[i],
                          T, rel_err(y, yd, T * D));
            ck_assert(memcmp(&sd, &st, sizeof(sd)) == 0);
            ck_assert_double_le(tu_forward_vs_ref(l, D, T, 3, NULL), 1e-5);
            layer_destroy(l);
        }
        layer_destroy(dense);
        free(x);
        free(yd);
        free(y);
    }
}
END_TEST

static Suite *fff_suite(void)
{
    Suite *s = suite_create("fff");
    TCase *tc = tcase_create("fff");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_fff_variants_match_ref, 0,
                        sizeof(token_counts) / sizeof(token_counts[0]));
    tcase_add_loop_test(tc, test_fff_stats_exact, 0, 3);
    tcase_add_loop_test(tc, test_fff_zero_goes_left, 0, 3);
    tcase_add_test(tc, test_fff_threads_agree);
    tcase_add_loop_test(tc, test_fff_streamed_y, 0, 3);
    tcase_add_loop_test(tc, test_fff_dtype_match_ref, 0,
                        sizeof(dtype_cases) / sizeof(dtype_cases[0]));
    tcase_add_loop_test(tc, test_fff_dtype_storage, 0, 2);
    tcase_add_test(tc, test_fff_bad_knobs);
    tcase_add_test(tc, test_fff_scale_rule);
    tcase_add_test(tc, test_dense_paper_matches_dense);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(fff_suite());
}
