/* check_sum.c - impls/sum, the composite dense + memory layer: its output is
 * the sum of its parts, concurrent or not; its reference, stats, description
 * and recall are the parts'; its knobs route to the parts by prefix.
 *
 * Tolerance 1e-5 relative for "equals the sum of its parts": the parts run
 * with other thread counts inside the composite (one each when concurrent),
 * which may change OpenBLAS's summation order by a few ulp.
 */
#include "test_util.h"
#include "../impls/common/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct layer_ops sum_dense_pkm_ops;

#define D         64
#define MEM_KNOBS "topm=16,n_keys=40"
#define SUM_KNOBS "dense.width=96,ultramem.topm=16,ultramem.n_keys=40"

static const size_t token_counts[] = {1, 5, 16};

static struct layer *create(const char *impl, const char *knobs, int threads, size_t T)
{
    return tu_create_threads(impl, D, 4, knobs, 11, T, threads);
}

START_TEST(test_sum_equals_parts)
{
    size_t T = token_counts[_i];
    struct layer *dense = create("dense", "width=96", 2, T);
    struct layer *mem = create("ultramem", MEM_KNOBS, 2, T);
    float *x = tu_tokens(T, D, 3), *ya = tu_zeros(T * D), *yb = tu_zeros(T * D);
    float *y = tu_zeros(T * D);
    struct layer_stats sa, sb, st;
    ck_assert_int_eq(dense->ops->forward(dense, x, ya, T, &sa), 0);
    ck_assert_int_eq(mem->ops->forward(mem, x, yb, T, &sb), 0);
    for (size_t i = 0; i < T * D; i++)
        ya[i] += yb[i];
    for (int concurrent = 0; concurrent < 2; concurrent++) {
        struct layer *l =
            create("dense+ultramem", concurrent ? SUM_KNOBS ",concurrent=1" : SUM_KNOBS, 2, T);
        ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
        double scale = tu_max_abs(ya, T * D);
        double err = tu_max_abs_diff(y, ya, T * D) / (scale > 1 ? scale : 1);
        ck_assert_msg(err <= 1e-5, "concurrent=%d T=%zu: differs from the parts by %.3g",
                      concurrent, T, err);
        ck_assert_uint_eq(st.flops, sa.flops + sb.flops);
        ck_assert_uint_eq(st.dense_bytes, sa.dense_bytes + sb.dense_bytes);
        ck_assert_uint_eq(st.sparse_bytes, sa.sparse_bytes + sb.sparse_bytes);
        ck_assert_uint_eq(st.units_touched, sa.units_touched + sb.units_touched);
        ck_assert_uint_eq(st.units_total, sa.units_total + sb.units_total);
        ck_assert_double_le(tu_forward_vs_ref(l, D, T, 8, NULL), 1e-4);
        layer_destroy(l);
    }
    layer_destroy(dense);
    layer_destroy(mem);
    free(x);
    free(ya);
    free(yb);
    free(y);
}
END_TEST

START_TEST(test_sum_describe_and_recall)
{
    struct layer *l = create("dense+ultramem", SUM_KNOBS ",concurrent=1", 2, 8);
    struct layer *dense = create("dense", "width=96", 1, 8);
    struct layer *mem = create("ultramem", MEM_KNOBS, 1, 8);
    struct layer_info info, a, b;
    l->ops->describe(l, &info);
    dense->ops->describe(dense, &a);
    mem->ops->describe(mem, &b);
    ck_assert_uint_eq(info.params_total, a.params_total + b.params_total);
    ck_assert_uint_eq(info.params_active, a.params_active + b.params_active);
    ck_assert_int_eq(info.n_regions, a.n_regions + b.n_regions);
    ck_assert_str_eq(info.unit, "neuron+value");
    ck_assert_str_eq(
        info.knobs, "concurrent=1,dense.width=96,dense.bias=1,dense.weights=random,dense.dtype=f32,"
                    "ultramem.heads=2,"
                    "ultramem.topm=16,"
                    "ultramem.tucker_rank=2,ultramem.cores=2,ultramem.expand=4,"
                    "ultramem.key_dim=16,ultramem.value_dim=32,ultramem.n_keys=40,"
                    "ultramem.filter=top,ultramem.small_gemm=32,ultramem.dtype=f32");
    float *x = tu_tokens(8, D, 4);
    double r_sum, r_mem;
    ck_assert_int_eq(l->ops->recall(l, x, 8, &r_sum), 0);
    ck_assert_int_eq(mem->ops->recall(mem, x, 8, &r_mem), 0);
    ck_assert_double_eq(r_sum, r_mem);
    free(x);
    layer_destroy(l);
    layer_destroy(dense);
    layer_destroy(mem);
}
END_TEST

static void expect_refusal(const char *knobs, int threads, int code, const char *needle)
{
    struct layer_config cfg = {D, 4, 1, threads, 4, knobs, NULL};
    struct layer *l = (struct layer *)&cfg;
    char err[512] = "";
    int rc = layer_create(layer_find("dense+ultramem"), &cfg, &l, err, sizeof(err));
    ck_assert_msg(rc == code, "knobs '%s': got %s, want %s (%s)", knobs, layer_strerror(rc),
                  layer_strerror(code), err);
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(err, needle) != NULL, "knobs '%s': message '%s' lacks '%s'", knobs, err,
                  needle);
}

START_TEST(test_sum_knobs)
{
    expect_refusal("foo.x=1", 1, LAYER_EKNOB, "'foo.x=1' names no part");
    expect_refusal("no_such_knob=1", 1, LAYER_EKNOB, "no_such_knob");
    expect_refusal("ultramem.expand=3", 1, LAYER_EKNOB, "part ultramem: ultramem: knob expand=3");
    expect_refusal("dense.width=0", 1, LAYER_EKNOB, "part dense: dense: knob width=0");
    expect_refusal("concurrent=1", 1, LAYER_EUNSUPPORTED, "threads >= 2");
    expect_refusal("concurrent=2", 2, LAYER_EKNOB, "concurrent=2");
    /* items may carry spaces; each reaches its part */
    struct layer *l = create("dense+ultramem", " ultramem.filter=signed , dense.bias=0", 1, 2);
    struct layer_info info;
    l->ops->describe(l, &info);
    ck_assert_ptr_nonnull(strstr(info.knobs, "dense.bias=0"));
    ck_assert_ptr_nonnull(strstr(info.knobs, "ultramem.filter=signed"));
    layer_destroy(l);
}
END_TEST

/* The pkm part is looked up by name: until a pkm layer is registered the
 * composite refuses with a message; once it is, it must work. */
START_TEST(test_dense_pkm)
{
    struct layer_config cfg = {D, 4, 1, 1, 4, "", NULL};
    struct layer *l = NULL;
    char err[512] = "";
    int rc = layer_create(&sum_dense_pkm_ops, &cfg, &l, err, sizeof(err));
    if (!layer_find("pkm")) {
        ck_assert_int_eq(rc, LAYER_EUNSUPPORTED);
        ck_assert_ptr_null(l);
        ck_assert_ptr_nonnull(strstr(err, "no 'pkm' layer"));
        return;
    }
    ck_assert_msg(rc == 0, "dense+pkm: %s", err);
    ck_assert_double_le(tu_forward_vs_ref(l, D, 4, 2, NULL), 1e-4);
    layer_destroy(l);
}
END_TEST

/* A part refused at its size is refused before the other is built: the
 * memory check of pkm at D = 8192, scale 512 (a TiB of values) used to
 * come after 2 GiB of dense weights were drawn (issue 12). Also the whole
 * is weighed: check's bytes are both parts' and the second output's. */
START_TEST(test_refused_part_builds_nothing)
{
    struct layer_config big = {8192, 512, 1, 1, 1, "", NULL}, small = {D, 4, 1, 1, 8, "", NULL};
    struct layer *l = NULL;
    char err[512] = "";
    uint64_t b0, b1, calls, whole = 0, part[2] = {0, 0};
    common_alloc_counts(&b0, &calls);
    int rc = layer_create(layer_find("dense+pkm"), &big, &l, err, sizeof(err));
    common_alloc_counts(&b1, &calls);
    ck_assert_int_eq(rc, LAYER_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err, "part pkm"));
    ck_assert_uint_eq(b1 - b0, 0);
    ck_assert_int_eq(layer_check(layer_find("dense+pkm"), &small, &whole, err, sizeof(err)), 0);
    ck_assert_int_eq(layer_check(layer_find("dense"), &small, &part[0], err, sizeof(err)), 0);
    ck_assert_int_eq(layer_check(layer_find("pkm"), &small, &part[1], err, sizeof(err)), 0);
    ck_assert_uint_eq(whole, part[0] + part[1] + 8 * D * sizeof(float));
}
END_TEST

static Suite *sum_suite(void)
{
    Suite *s = suite_create("sum");
    TCase *tc = tcase_create("sum");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_sum_equals_parts, 0,
                        sizeof(token_counts) / sizeof(token_counts[0]));
    tcase_add_test(tc, test_sum_describe_and_recall);
    tcase_add_test(tc, test_sum_knobs);
    tcase_add_test(tc, test_dense_pkm);
    tcase_add_test(tc, test_refused_part_builds_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(sum_suite());
}
