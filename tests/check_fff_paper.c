/* check_fff_paper.c - impls/fff/fff_paper.c (fff-l1, fff-l2) against the
 * FFF reference and against fff itself, and the flaw knobs of the FFF and
 * dense families (weights=unwritten, activation=0; research/fff.md
 * sections 2.2, 2.2b) on every variant.
 *
 * Tolerance: 1e-4 relative to max(1, max |y_ref|), the harness's check; a
 * token sent down another path differs by O(0.1). Sizes are awkward on
 * purpose: D not a multiple of the vector width, token counts that leave
 * a short last range per worker, several trees.
 */
#include "test_util.h"
#include "../impls/common/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const char *const fff_variants[] = {"fff", "fff-token", "fff-l1", "fff-l2"};
#define N_FFF (sizeof(fff_variants) / sizeof(fff_variants[0]))
static const char *const dense_variants[] = {"dense", "dense-l1", "dense-l2"};
#define N_DENSE (sizeof(dense_variants) / sizeof(dense_variants[0]))

struct shape {
    size_t d, tokens;
    const char *knobs;
};

static const struct shape shapes[] = {
    {100, 1, "trees=1,depth=6"},               /* one token: one range */
    {37, 67, "trees=3,depth=4,bias=0"},        /* odd D, no bias, three trees */
    {112, 130, "trees=2,depth=7"},             /* 112 = 3 x 32 + 16 */
    {64, 300, "depth=9"},                      /* the contract's tree */
    {100, 33, "trees=2,depth=5,activation=0"}, /* the GELU not applied */
};
#define N_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

static double rel_err(const float *y, const float *ref, size_t n)
{
    double scale = tu_max_abs(ref, n);
    return tu_max_abs_diff(y, ref, n) / (scale > 1 ? scale : 1);
}

/* fff-l1 and fff-l2 against the FFF reference, and against fff: the same
 * weights, the same paths, so the same output and exactly the same stats. */
START_TEST(test_paper_variants_match_ref)
{
    const struct shape *s = &shapes[_i];
    const size_t D = s->d, T = s->tokens;
    struct layer *fff = tu_create_threads("fff", D, 1, s->knobs, 42, T, 2);
    float *x = tu_tokens(T, D, 11), *yf = tu_zeros(T * D), *y = tu_zeros(T * D),
          *yr = tu_zeros(T * D);
    struct layer_stats sf, st;
    ck_assert_int_eq(fff->ops->forward(fff, x, yf, T, &sf), 0);
    ck_assert_int_eq(fff->ops->forward_ref(fff, x, yr, T), 0);
    for (size_t v = 2; v < N_FFF; v++) {
        struct layer *l = tu_create_threads(fff_variants[v], D, 1, s->knobs, 42, T, 2);
        ck_assert_ptr_nonnull(
            strstr(l->ops->summary, "paper-style weak baseline, not the default opponent"));
        memset(y, 0x7f, T * D * sizeof(*y)); /* forward must overwrite, not accumulate */
        ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
        ck_assert_msg(rel_err(y, yr, T * D) <= TOL, "%s D=%zu T=%zu '%s': error %.3g vs ref",
                      fff_variants[v], D, T, s->knobs, rel_err(y, yr, T * D));
        ck_assert_msg(rel_err(y, yf, T * D) <= TOL, "%s D=%zu T=%zu: error %.3g vs fff",
                      fff_variants[v], D, T, rel_err(y, yf, T * D));
        ck_assert(memcmp(&sf, &st, sizeof(sf)) == 0);
        /* twice: the per-forward scratch and counters are reset */
        ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
        ck_assert_double_le(rel_err(y, yr, T * D), TOL);
        ck_assert(memcmp(&sf, &st, sizeof(sf)) == 0);
        layer_destroy(l);
    }
    layer_destroy(fff);
    free(x);
    free(yf);
    free(y);
    free(yr);
}
END_TEST

/* activation=0 adds each path node's w_out row unscaled: the output is the
 * sum of the path's rows, read here off the layer's own parameters along
 * the reference's path (the path does not depend on the activation). */
START_TEST(test_activation_off_sums_rows)
{
    const size_t D = 100, T = 5, depth = 5, NN = 63;
    for (size_t v = 0; v < N_FFF; v++) {
        struct layer *l =
            tu_create_threads(fff_variants[v], D, 1, "trees=1,depth=5,activation=0", 42, T, 2);
        struct layer *g = tu_create_threads(fff_variants[v], D, 1, "trees=1,depth=5", 42, T, 2);
        struct layer_info info;
        memset(&info, 0, sizeof(info));
        l->ops->describe(l, &info);
        const float *w_in = info.regions[0].base, *w_out = w_in + NN * D, *b = w_out + NN * D;
        float *x = tu_tokens(T, D, 3), *y = tu_zeros(T * D), *yg = tu_zeros(T * D);
        float *want = tu_zeros(T * D);
        struct layer_stats st;
        for (size_t t = 0; t < T; t++) {
            size_t n = 0;
            for (size_t level = 0; level <= depth; level++) {
                double z = b[n];
                for (size_t d = 0; d < D; d++) {
                    z += (double)w_in[n * D + d] * x[t * D + d];
                    want[t * D + d] += w_out[n * D + d];
                }
                n = 2 * n + 1 + (z > 0.0);
            }
        }
        ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
        ck_assert_int_eq(g->ops->forward(g, x, yg, T, &st), 0);
        ck_assert_msg(rel_err(y, want, T * D) <= TOL, "%s: activation=0 error %.3g",
                      fff_variants[v], rel_err(y, want, T * D));
        ck_assert_msg(rel_err(y, yg, T * D) > 1e-2, "%s: activation=0 changed nothing",
                      fff_variants[v]);
        ck_assert_double_le(tu_forward_vs_ref(l, D, T, 4, NULL), TOL);
        layer_destroy(l);
        layer_destroy(g);
        free(x);
        free(y);
        free(yg);
        free(want);
    }
}
END_TEST

/* Resident set in bytes (/proc/self/statm), 0 when unreadable. */
static size_t rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * 4096;
}

/* Read every page of a layer's parameters; the sum of what was read. */
static double read_params(const struct layer *l, size_t *bytes)
{
    struct layer_info info;
    memset(&info, 0, sizeof(info));
    l->ops->describe(l, &info);
    double sum = 0;
    const float *p = info.regions[0].base;
    *bytes = info.regions[0].bytes;
    for (size_t i = 0; i < *bytes / sizeof(float); i++)
        sum += fabsf(p[i]);
    return sum;
}

/* weights=unwritten: every parameter reads 0, reading them all does not
 * make them resident (zero pages: nothing was ever written), every token
 * takes the leftmost path (all logits 0, and 0 goes left), the output is
 * 0 and the reference agrees. */
START_TEST(test_fff_unwritten)
{
    const size_t D = 768, T = 40, depth = 11;
    const char *v = fff_variants[_i];
    size_t bytes, rss0 = rss_bytes();
    struct layer *l = tu_create_threads(v, D, 1, "preset=1x11,weights=unwritten", 42, T, 2);
    ck_assert_double_eq(read_params(l, &bytes), 0.0);
    ck_assert_uint_ge(bytes, 4095 * 2 * D * 4);
    size_t grown = rss_bytes() - rss0;
    ck_assert_msg(rss0 == 0 || grown < bytes / 4,
                  "%s: creating and reading %zu unwritten bytes made %zu resident", v, bytes,
                  grown);
    float *x = tu_tokens(T, D, 5), *y = tu_tokens(T, D, 6);
    struct layer_stats st;
    ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
    ck_assert_double_eq(tu_max_abs(y, T * D), 0.0);
    ck_assert_uint_eq(st.units_touched, depth + 1); /* one path for all 40 tokens */
    ck_assert_uint_eq(st.flops, 4ull * D * (depth + 1) * T);
    ck_assert_double_eq(tu_forward_vs_ref(l, D, T, 7, NULL), 0.0);
    layer_destroy(l);
    /* The same tree with its weights written touches many paths. */
    l = tu_create_threads(v, D, 1, "preset=1x11", 42, T, 2);
    ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
    ck_assert_uint_gt(st.units_touched, 4 * (depth + 1));
    ck_assert_double_gt(tu_max_abs(y, T * D), 0.0);
    layer_destroy(l);
    free(x);
    free(y);
}
END_TEST

/* weights=unwritten on the dense side too (the published benchmark's
 * FF never writes its weights either): zeros, output 0, same bytes. */
START_TEST(test_dense_unwritten)
{
    const size_t D = 100, T = 7;
    const char *v = dense_variants[_i];
    struct layer *l = tu_create_threads(v, D, 1, "width=300,weights=unwritten", 42, T, 2);
    struct layer *w = tu_create_threads(v, D, 1, "width=300", 42, T, 2);
    size_t bytes, wbytes;
    ck_assert_double_eq(read_params(l, &bytes), 0.0);
    ck_assert_double_gt(read_params(w, &wbytes), 0.0);
    ck_assert_uint_eq(bytes, wbytes);
    float *x = tu_tokens(T, D, 5), *y = tu_tokens(T, D, 6);
    struct layer_stats st, sw;
    ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
    ck_assert_double_eq(tu_max_abs(y, T * D), 0.0);
    ck_assert_int_eq(w->ops->forward(w, x, y, T, &sw), 0);
    ck_assert(memcmp(&st, &sw, sizeof(st)) == 0);
    ck_assert_double_eq(tu_forward_vs_ref(l, D, T, 7, NULL), 0.0);
    layer_destroy(l);
    layer_destroy(w);
    free(x);
    free(y);
}
END_TEST

static void expect_knob_error(const char *impl, const char *knobs, const char *needle)
{
    char err[512];
    ck_assert_int_eq(tu_create_fails(impl, 64, 1, knobs, err, sizeof(err)), LAYER_EKNOB);
    ck_assert_msg(strstr(err, needle) != NULL, "%s '%s': message '%s' lacks '%s'", impl, knobs, err,
                  needle);
}

START_TEST(test_flaw_knobs_refused)
{
    for (size_t v = 0; v < N_FFF; v++) {
        expect_knob_error(fff_variants[v], "weights=zero", "weights=zero");
        expect_knob_error(fff_variants[v], "weights=zero", "random, unwritten");
        expect_knob_error(fff_variants[v], "activation=2", "activation=2");
    }
    for (size_t v = 0; v < N_DENSE; v++) {
        expect_knob_error(dense_variants[v], "weights=Random", "weights=Random");
        expect_knob_error(dense_variants[v], "activation=0", "unknown knob 'activation'");
    }
}
END_TEST

static Suite *fff_paper_suite(void)
{
    Suite *s = suite_create("fff_paper");
    TCase *tc = tcase_create("fff_paper");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_paper_variants_match_ref, 0, N_SHAPES);
    tcase_add_test(tc, test_activation_off_sums_rows);
    tcase_add_loop_test(tc, test_fff_unwritten, 0, N_FFF);
    tcase_add_loop_test(tc, test_dense_unwritten, 0, N_DENSE);
    tcase_add_test(tc, test_flaw_knobs_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(fff_paper_suite());
}
