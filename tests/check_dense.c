/* check_dense.c - impls/dense against its plain-loop reference, its exact
 * stats, and its knobs, at f32 and with bf16 / f16 weights; the FFN block's
 * streaming kernel and its widened-tile sgemm path (impls/common/ffn.c,
 * which dense and every MoE expert run) at awkward shapes. */
#include "test_util.h"
#include "test_narrow.h"
#include "../impls/common/common.h"

#include <math.h>

#include <stdlib.h>
#include <string.h>

static const size_t token_counts[] = {1, 2, 7, 13, 15, 16, 64, 128, 129, 257};

/* D = 100 and 37 are not multiples of 16: the vector tails must be right. */
START_TEST(test_dense_matches_ref)
{
    size_t T = token_counts[_i];
    const size_t dims[] = {100, 37};
    for (int k = 0; k < 2; k++) {
        struct layer *l = tu_create("dense", dims[k], 1, "", 3, 257);
        double err = tu_forward_vs_ref(l, dims[k], T, 7, NULL);
        ck_assert_msg(err <= 1e-5, "D=%zu T=%zu: relative error %.3g", dims[k], T, err);
        layer_destroy(l);
    }
}
END_TEST

START_TEST(test_dense_no_bias_and_width)
{
    struct layer *l = tu_create("dense", 48, 1, "width=50,bias=0", 1, 8);
    struct layer_info info;
    l->ops->describe(l, &info);
    ck_assert_uint_eq(info.params_total, 2 * 48 * 50);
    ck_assert_str_eq(info.knobs, "width=50,bias=0,weights=random,dtype=f32");
    ck_assert_double_le(tu_forward_vs_ref(l, 48, 8, 2, NULL), 1e-5);
    layer_destroy(l);
}
END_TEST

START_TEST(test_dense_stats_exact)
{
    const size_t D = 64, F = 256, T = 9;
    struct layer *l = tu_create("dense", D, 1, "", 1, T);
    struct layer_stats st;
    tu_forward_vs_ref(l, D, T, 1, &st);
    ck_assert_uint_eq(st.flops, 4ull * T * D * F);
    ck_assert_uint_eq(st.dense_bytes, 4ull * (2 * D * F + D + F));
    ck_assert_uint_eq(st.sparse_bytes, 0);
    ck_assert_uint_eq(st.units_touched, F);
    ck_assert_uint_eq(st.units_total, F);
    struct layer_info info;
    l->ops->describe(l, &info);
    ck_assert_uint_eq(info.params_total, 2 * D * F + D + F);
    ck_assert_uint_eq(info.params_active, info.params_total);
    ck_assert_int_eq(info.n_regions, 1);
    ck_assert_uint_eq(info.regions[0].bytes, st.dense_bytes);
    layer_destroy(l);
}
END_TEST

START_TEST(test_dense_bad_knobs)
{
    char err[512];
    ck_assert_int_eq(tu_create_fails("dense", 64, 1, "width=-3", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_ptr_nonnull(strstr(err, "width=-3"));
    ck_assert_int_eq(tu_create_fails("dense", 64, 1, "bias=2", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_int_eq(tu_create_fails("dense", 64, 1, "experts=2", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_ptr_nonnull(strstr(err, "unknown knob 'experts'"));
}
END_TEST

START_TEST(test_dense_refuses_too_many_tokens)
{
    struct layer *l = tu_create("dense", 16, 1, "", 1, 4);
    float *x = tu_zeros(5 * 16), *y = tu_zeros(5 * 16);
    struct layer_stats st;
    ck_assert_int_eq(l->ops->forward(l, x, y, 5, &st), LAYER_EINVAL);
    ck_assert_int_eq(l->ops->forward_ref(l, x, y, 5), LAYER_EINVAL);
    free(x);
    free(y);
    layer_destroy(l);
}
END_TEST

START_TEST(test_dense_threads_agree)
{
    const size_t D = 96;
    const size_t counts[] = {1, 4, 13, 33};
    struct layer *l1 = tu_create_threads("dense", D, 1, "", 5, 33, 1);
    struct layer *l2 = tu_create_threads("dense", D, 1, "", 5, 33, 2);
    float *x = tu_tokens(33, D, 4), *y1 = tu_zeros(33 * D), *y2 = tu_zeros(33 * D);
    struct layer_stats st;
    for (int k = 0; k < 3; k++) {
        size_t T = counts[k];
        ck_assert_int_eq(l1->ops->forward(l1, x, y1, T, &st), 0);
        ck_assert_int_eq(l2->ops->forward(l2, x, y2, T, &st), 0);
        ck_assert_msg(tu_max_abs_diff(y1, y2, T * D) <= 1e-5, "T=%zu: threads disagree", T);
    }
    layer_destroy(l1);
    layer_destroy(l2);
    free(x);
    free(y1);
    free(y2);
}
END_TEST

/* ---- the FFN block's small-batch streaming kernel, called directly ---- */

struct ffn_fixture {
    struct common_ffn ffn;
    float *w;    /* one block holding w1, w2 (of dt) then b1, b2 */
    float *wide; /* common_ffn_wide_floats, NULL at f32 */
};

static const enum layer_dtype fixture_types[] = {LAYER_F32, LAYER_BF16, LAYER_F16};

static void ffn_fixture_init(struct ffn_fixture *fx, size_t D, size_t F, int bias, uint64_t seed,
                             enum layer_dtype dt)
{
    fx->w = tu_zeros(2 * D * F + F + D); /* room for f32; narrow uses the first half of it */
    char *w1 = (char *)fx->w, *w2 = w1 + D * F * common_dtype_size(dt);
    float *b1 = bias ? (float *)(void *)(w2 + D * F * common_dtype_size(dt)) : NULL;
    float *b2 = bias ? b1 + F : NULL;
    common_ffn_init_typed(dt, w1, b1, w2, b2, D, F, seed, 0);
    fx->ffn = (struct common_ffn){D, F, w1, b1, w2, b2, dt};
    size_t nw = common_ffn_wide_floats(&fx->ffn);
    fx->wide = nw ? tu_zeros(nw) : NULL;
}

static void ffn_fixture_free(struct ffn_fixture *fx)
{
    free(fx->w);
    free(fx->wide);
}

/* max |y - ref| / max |ref|. */
static double rel_err(const float *y, const float *ref, size_t n)
{
    double scale = tu_max_abs(ref, n);
    return tu_max_abs_diff(y, ref, n) / (scale > 0 ? scale : 1);
}

/* Shapes chosen against the kernel's blocking: D = 100 (one 64-column chunk,
 * two single vectors, a 4-column scalar tail), 37 (no chunk), 770 (12 chunks
 * and a 2-column tail); F = 50, 100, 131 (not a multiple of the 4-row up
 * blocks or the 8- or 16-row down blocks, and long enough for the prefetch
 * 16 rows ahead to run). T = 1..20, 33, 67 and 128 cover partial
 * token blocks, the prefetch's burst (<= 2 token blocks) and spread (>= 3)
 * regimes, and the cutoff; 129 and 200 are sgemm (narrow weights: widened
 * tiles, F = 600 one full 512-neuron tile and a partial one). Each of f32,
 * bf16 and f16 (_i); the narrow kernels and the reference read the same
 * stored elements and widen them exactly, so the tolerance stays the f32
 * one. Tolerance 1e-5 of the output's magnitude: the kernel and the plain
 * loops sum up to 770 products in different orders (measured <= 1.5e-6);
 * one neuron missing moves the output by ~5e-2 of it. */
START_TEST(test_ffn_stream_matches_ref)
{
    const struct {
        size_t D, F;
        int bias;
    } shapes[] = {{100, 50, 1}, {37, 131, 1}, {770, 100, 0}, {770, 131, 1}, {100, 600, 0}};
    const size_t extra_T[] = {33, 67, 128, 129, 200};
    const enum layer_dtype dt = fixture_types[_i];
    struct common_pool *pool2;
    ck_assert_int_eq(common_pool_create(&pool2, 2), 0);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        const size_t D = shapes[s].D, F = shapes[s].F, maxT = 200;
        struct ffn_fixture fx;
        ffn_fixture_init(&fx, D, F, shapes[s].bias, 11 + s, dt);
        float *x = tu_tokens(maxT, D, 5 + s), *h = tu_zeros(maxT * F);
        float *y = tu_zeros(maxT * D), *ref = tu_zeros(maxT * D);
        for (size_t k = 0; k < 20 + sizeof(extra_T) / sizeof(extra_T[0]); k++) {
            size_t T = k < 20 ? k + 1 : extra_T[k - 20];
            common_ffn_forward_ref(&fx.ffn, x, T, ref);
            for (int threads = 1; threads <= 2; threads++) {
                common_blas_threads(threads);
                common_ffn_forward(&fx.ffn, x, T, h, y, fx.wide, threads == 1 ? NULL : pool2);
                double err = rel_err(y, ref, T * D);
                ck_assert_msg(err <= 1e-5, "%s D=%zu F=%zu T=%zu threads=%d: relative error %.3g",
                              common_dtype_name(dt), D, F, T, threads, err);
            }
        }
        free(x);
        free(h);
        free(y);
        free(ref);
        ffn_fixture_free(&fx);
    }
    common_pool_destroy(pool2);
}
END_TEST

/* Every output of the streaming kernel is one fixed chain of operations
 * whatever the blocking: the same floats on one thread or split over the
 * pool (so dense's small batches agree across thread counts), and a token's
 * output the same whichever other tokens share its forward (so an MoE
 * token's expert output does not depend on its group). T = 2..40 and 128
 * at D = 770, F = 131 take every partial token block, both down-block
 * heights and both prefetch regimes; f32, bf16 and f16 (_i). */
START_TEST(test_ffn_stream_blocking_invariant)
{
    const size_t D = 770, F = 131, maxT = 128;
    struct ffn_fixture fx;
    struct common_pool *pool2;
    ck_assert_int_eq(common_pool_create(&pool2, 2), 0);
    ffn_fixture_init(&fx, D, F, 1, 3, fixture_types[_i]);
    float *x = tu_tokens(maxT, D, 9), *h = tu_zeros(maxT * F);
    float *y1 = tu_zeros(maxT * D), *y2 = tu_zeros(maxT * D), *alone = tu_zeros(D);
    for (size_t T = 2; T <= maxT; T = T == 40 ? maxT : T + 1) {
        common_ffn_forward(&fx.ffn, x, T, h, y1, NULL, NULL);
        common_ffn_forward(&fx.ffn, x, T, h, y2, NULL, pool2);
        ck_assert_msg(memcmp(y1, y2, T * D * sizeof(float)) == 0,
                      "T=%zu: one thread and the pool differ", T);
        for (size_t t = 0; t < T; t += T / 3 + 1) {
            common_ffn_forward(&fx.ffn, x + t * D, 1, h, alone, NULL, NULL);
            ck_assert_msg(memcmp(alone, y1 + t * D, D * sizeof(float)) == 0,
                          "T=%zu: token %zu differs from the same token alone", T, t);
        }
    }
    free(x);
    free(h);
    free(y1);
    free(y2);
    free(alone);
    ffn_fixture_free(&fx);
    common_pool_destroy(pool2);
}
END_TEST

/* ---- narrow weights: dtype=bf16 | f16 ---- */

/* forward against forward_ref on the same stored narrow weights, both
 * widening them exactly and summing in fp32, so the f32 tolerance holds
 * (only the order of the sums differs). D = 100 and 37 (vector tails);
 * T = 1 (streamed on the pool, no narrow sgemv), 7 and 13 (partial token
 * blocks), 128 (the cutoff), 129 and 257 (widened tiles and sgemm: F = 400
 * and 148 one partial 512-neuron tile, 700 a full one and a partial one),
 * with and without biases, on 1 and 2 threads. */
static const struct {
    size_t d;
    const char *knobs;
} narrow_cases[] = {
    {100, "dtype=bf16"},
    {100, "dtype=f16"},
    {37, "dtype=bf16,bias=0"},
    {37, "dtype=f16"},
    {100, "dtype=f16,width=700,bias=0"},
    {37, "dtype=bf16,width=700"},
};

START_TEST(test_dense_narrow_matches_ref)
{
    const size_t counts[] = {1, 7, 13, 128, 129, 257};
    size_t D = narrow_cases[_i].d;
    for (int threads = 1; threads <= 2; threads++) {
        struct layer *l = tu_create_threads("dense", D, 1, narrow_cases[_i].knobs, 3, 257, threads);
        for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
            double err = tu_forward_vs_ref(l, D, counts[k], 7, NULL);
            ck_assert_msg(err <= 1e-5, "D=%zu '%s' T=%zu threads=%d: relative error %.3g", D,
                          narrow_cases[_i].knobs, counts[k], threads, err);
        }
        layer_destroy(l);
    }
}
END_TEST

/* The stored bytes are the narrow ones: w1 and w2 at 2 bytes, the biases
 * at 4, in the stats, the region, param() and check's figure (parameters
 * + hidden scratch + one widened 512 x D tile, which f32 does not need). */
START_TEST(test_dense_narrow_bytes)
{
    const size_t D = 64, F = 640, T = 9;
    const char *const knobs[] = {"width=640,dtype=bf16", "width=640,dtype=f16"};
    const char *const resolved[] = {"width=640,bias=1,weights=random,dtype=bf16",
                                    "width=640,bias=1,weights=random,dtype=f16"};
    for (int k = 0; k < 2; k++) {
        struct layer *l = tu_create("dense", D, 1, knobs[k], 1, T);
        struct layer_stats st;
        struct layer_info info;
        uint64_t bytes, params = 2 * 2 * D * F + 4 * (D + F);
        char err[256];
        tu_forward_vs_ref(l, D, T, 1, &st);
        ck_assert_uint_eq(st.dense_bytes, params);
        ck_assert_uint_eq(tn_param_bytes(l), params);
        l->ops->describe(l, &info);
        ck_assert_str_eq(info.knobs, resolved[k]);
        ck_assert_uint_eq(info.params_total, 2 * D * F + D + F);
        ck_assert_uint_eq(info.regions[0].bytes, params);
        struct layer_config cfg = {D, 1, 1, 1, T, knobs[k], NULL};
        ck_assert_int_eq(layer_check(l->ops, &cfg, &bytes, err, sizeof(err)), 0);
        ck_assert_uint_eq(bytes, params + 4 * T * F + 4 * 512 * D);
        layer_destroy(l);
    }
}
END_TEST

/* The seeded bf16 / f16 weights are the f32 layer's rounded to nearest
 * even, biases fp32 and equal: one model at two precisions. */
START_TEST(test_dense_narrow_is_rounded_f32)
{
    ck_assert_uint_eq(tn_expect_rounded_params("dense", 40, 1, "", "dtype=bf16", LAYER_BF16), 2);
    ck_assert_uint_eq(tn_expect_rounded_params("dense", 40, 1, "", "dtype=f16", LAYER_F16), 2);
    ck_assert_uint_eq(
        tn_expect_rounded_params("dense", 37, 1, "bias=0", "bias=0,dtype=bf16", LAYER_BF16), 2);
}
END_TEST

START_TEST(test_dense_narrow_bad_knobs)
{
    char err[512];
    ck_assert_int_eq(tu_create_fails("dense", 64, 1, "dtype=fp8", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_ptr_nonnull(strstr(err, "dtype=fp8"));
    ck_assert_int_eq(tu_create_fails("dense-l1", 64, 1, "dtype=bf16", err, sizeof(err)),
                     LAYER_EKNOB);
    ck_assert_ptr_nonnull(strstr(err, "dtype=bf16"));
    ck_assert_ptr_nonnull(strstr(err, "allowed f32"));
    ck_assert_int_eq(tu_create_fails("dense-l2", 64, 1, "dtype=f16", err, sizeof(err)),
                     LAYER_EKNOB);
    struct layer *l = tu_create("dense-l2", 32, 1, "dtype=f32", 1, 2); /* f32 is taken */
    layer_destroy(l);
}
END_TEST

static Suite *dense_suite(void)
{
    Suite *s = suite_create("dense");
    TCase *tc = tcase_create("dense");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_dense_matches_ref, 0,
                        sizeof(token_counts) / sizeof(token_counts[0]));
    tcase_add_test(tc, test_dense_no_bias_and_width);
    tcase_add_test(tc, test_dense_stats_exact);
    tcase_add_test(tc, test_dense_bad_knobs);
    tcase_add_test(tc, test_dense_refuses_too_many_tokens);
    tcase_add_test(tc, test_dense_threads_agree);
    tcase_add_loop_test(tc, test_ffn_stream_matches_ref, 0, 3);
    tcase_add_loop_test(tc, test_ffn_stream_blocking_invariant, 0, 3);
    tcase_add_loop_test(tc, test_dense_narrow_matches_ref, 0,
                        sizeof(narrow_cases) / sizeof(narrow_cases[0]));
    tcase_add_test(tc, test_dense_narrow_bytes);
    tcase_add_test(tc, test_dense_narrow_is_rounded_f32);
    tcase_add_test(tc, test_dense_narrow_bad_knobs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(dense_suite());
}
