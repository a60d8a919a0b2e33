/* check_dense.c - impls/dense against its plain-loop reference, its exact
 * stats, and its knobs. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

static const size_t token_counts[] = {1, 2, 7, 13, 15, 16, 64, 257};

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
    ck_assert_str_eq(info.knobs, "width=50,bias=0");
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
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(dense_suite());
}
