/* check_moe.c - impls/moe against its plain-loop reference, the dense FFN it
 * must equal with one expert, its exact stats, its routing modes and knobs,
 * at f32 and with bf16 / f16 expert weights. */
#include "test_util.h"
#include "test_narrow.h"
#include "../impls/common/common.h"
#include "../impls/moe/moe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t token_counts[] = {1, 3, 64, 257};

/* Configurations every token count runs: default routing, fine-grained
 * experts with a shared one, the draws, no bias, OLMoE's shape, and D = 40
 * (not a multiple of 16) for the vector tails; then narrow experts (the
 * reference reads the same stored bf16 / f16 weights, so the tolerance is
 * the f32 one): at T = 257 one expert with every row and two experts of 257
 * rows each run on the pool side by side take the widened-tile sgemm path
 * (each worker its own tile), the shared expert too. */
static const struct {
    size_t d;
    const char *knobs;
} ref_cases[] = {
    {64, ""},
    {64, "shared_experts=1,granularity=2"},
    {64, "routing=uniform"},
    {64, "routing=zipf:1.2,top_k=3"},
    {40, "bias=0,experts=5"},
    {64, "preset=64top8"},
    {40, "dtype=bf16,experts=1,top_k=1"},
    {40, "dtype=f16,experts=2,top_k=2"},
    {64, "dtype=bf16,shared_experts=1,granularity=2"},
    {40, "dtype=f16,bias=0,experts=5"},
    {64, "dtype=bf16,preset=64top8,routing=zipf:1.2"},
};

static struct layer *create_threads(const char *knobs, size_t d, unsigned scale, uint64_t seed,
                                    int threads, size_t max_tokens)
{
    return tu_create_threads("moe", d, scale, knobs, seed, max_tokens, threads);
}

/* Tolerance 1e-5 relative: BLAS and the plain loops sum in different orders
 * (about 1e-6 at D = 64, F <= 128); a routing flip would be O(1). */
START_TEST(test_moe_matches_ref)
{
    size_t T = token_counts[_i];
    for (size_t c = 0; c < sizeof(ref_cases) / sizeof(ref_cases[0]); c++) {
        for (int threads = 1; threads <= 2; threads++) {
            struct layer *l =
                create_threads(ref_cases[c].knobs, ref_cases[c].d, 4, 3, threads, 257);
            double err = tu_forward_vs_ref(l, ref_cases[c].d, T, 7 + T, NULL);
            ck_assert_msg(err <= 1e-5, "knobs '%s' T=%zu threads=%d: relative error %.3g",
                          ref_cases[c].knobs, T, threads, err);
            layer_destroy(l);
        }
    }
}
END_TEST

/* The optimized router must produce the reference's logits bit for bit,
 * in any batch: then forward and forward_ref cannot rank a near-tie of two
 * experts differently. D = 100, E = 24: vector tails on both axes. */
START_TEST(test_moe_router_logits_identical)
{
    const size_t D = 100, T = 37;
    struct layer *l = create_threads("experts=24", D, 1, 6, 2, T);
    struct moe *m = (struct moe *)l;
    float *x = tu_tokens(T, D, 12), *fast = tu_zeros(T * m->E), *ref = tu_zeros(m->E);
    float w[2];
    uint32_t sel[2];
    moe_route_logits(m, x, T, fast, m->pool);
    for (size_t t = 0; t < T; t++) {
        moe_ref_route_token(m, x + t * D, ref, sel, w);
        ck_assert_msg(memcmp(ref, fast + t * m->E, m->E * sizeof(float)) == 0,
                      "token %zu: router logits differ from the reference", t);
    }
    moe_route_logits(m, x + 5 * D, 1, fast, NULL);
    moe_ref_route_token(m, x + 5 * D, ref, sel, w);
    ck_assert(memcmp(ref, fast, m->E * sizeof(float)) == 0);
    layer_destroy(l);
    free(x);
    free(fast);
    free(ref);
}
END_TEST

/* zipf:3 with top-1 sends ~83% of 257 rows to one expert: more than a fair
 * share of rows per thread, so that expert's rows are split in chunks (of
 * ~107, through the streaming kernel; one thread runs all ~215 through
 * sgemm). Also at D = 40, f_e = 50: vector tails and partial row blocks. */
START_TEST(test_moe_hot_expert_split)
{
    const size_t T = 257;
    const struct {
        size_t D;
        const char *knobs;
    } shapes[] = {{64, "routing=zipf:3,top_k=1"}, {40, "routing=zipf:3,top_k=1,expert_width=50"}};
    for (int s = 0; s < 2; s++) {
        const size_t D = shapes[s].D;
        struct layer *l1 = create_threads(shapes[s].knobs, D, 4, 5, 1, T);
        struct layer *l2 = create_threads(shapes[s].knobs, D, 4, 5, 2, T);
        float *x = tu_tokens(T, D, 8), *y1 = tu_zeros(T * D), *y2 = tu_zeros(T * D);
        struct layer_stats st;
        ck_assert_int_eq(l1->ops->forward(l1, x, y1, T, &st), 0);
        ck_assert_int_eq(l2->ops->forward(l2, x, y2, T, &st), 0);
        struct moe *m = (struct moe *)l2;
        uint32_t most = 0;
        for (size_t e = 0; e < m->E; e++)
            if (m->offset[e + 1] - m->offset[e] > most)
                most = m->offset[e + 1] - m->offset[e];
        ck_assert_uint_gt(most, (T + 1) / 2);
        ck_assert_double_le(tu_max_abs_diff(y1, y2, T * D) / (1 + tu_max_abs(y1, T * D)), 1e-5);
        ck_assert_double_le(tu_forward_vs_ref(l1, D, T, 8, NULL), 1e-5);
        ck_assert_double_le(tu_forward_vs_ref(l2, D, T, 8, NULL), 1e-5);
        layer_destroy(l1);
        layer_destroy(l2);
        free(x);
        free(y1);
        free(y2);
    }
}
END_TEST

/* Every expert group size from 1 to 20 rows and past the streaming kernel's
 * token blocks: one expert (its group is all T rows, on the whole pool), and
 * three experts top-1 (groups of about T / 3, one expert per thread), at
 * D = 100 and f_e = 50 (neither a multiple of 16), T = 1..40, 1 and 2
 * threads, against the plain loops. Tolerance as test_moe_matches_ref. */
START_TEST(test_moe_group_sizes)
{
    const size_t D = 100, maxT = 40;
    const char *knobs[] = {"experts=1,top_k=1,expert_width=50",
                           "experts=3,top_k=1,expert_width=50"};
    for (int c = 0; c < 2; c++) {
        for (int threads = 1; threads <= 2; threads++) {
            struct layer *l = create_threads(knobs[c], D, 1, 4, threads, maxT);
            struct moe *m = (struct moe *)l;
            uint32_t sizes_seen = 0;
            for (size_t T = 1; T <= maxT; T++) {
                double err = tu_forward_vs_ref(l, D, T, 40 + T, NULL);
                ck_assert_msg(err <= 1e-5, "knobs '%s' T=%zu threads=%d: relative error %.3g",
                              knobs[c], T, threads, err);
                if (T > 1)
                    for (size_t e = 0; e < m->E; e++)
                        if (m->offset[e + 1] - m->offset[e] <= 20)
                            sizes_seen |= 1u << (m->offset[e + 1] - m->offset[e]);
            }
            if (c == 0)
                ck_assert_uint_eq(sizes_seen, ((1u << 21) - 1) & ~3u); /* 2..20 */
            layer_destroy(l);
        }
    }
}
END_TEST

/* The grouped forward gives a token the same floats whichever other tokens
 * share the batch (its experts' groups change, the streaming kernel's sums
 * do not): tokens 5..24 alone and inside a batch of 37. */
START_TEST(test_moe_token_independent_of_batch)
{
    const size_t D = 100, T = 37, t0 = 5, n = 20;
    struct layer *l = create_threads("expert_width=50", D, 4, 7, 2, T);
    float *x = tu_tokens(T, D, 13), *y = tu_zeros(T * D), *ys = tu_zeros(n * D);
    struct layer_stats st;
    ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
    ck_assert_int_eq(l->ops->forward(l, x + t0 * D, ys, n, &st), 0);
    ck_assert(memcmp(ys, y + t0 * D, n * D * sizeof(float)) == 0);
    layer_destroy(l);
    free(x);
    free(y);
    free(ys);
}
END_TEST

/* experts=1,top_k=1: the renormalised weight is exactly 1 and expert 0 is
 * common_ffn stream 0 like dense, so weights are the same bytes, the
 * references agree bit for bit and the fast paths to BLAS rounding. */
START_TEST(test_moe_one_expert_is_dense)
{
    const size_t D = 48, W = 96, T = 5;
    const char *bias[] = {"", ",bias=0"};
    for (int b = 0; b < 2; b++) {
        char mk[128], dk[128];
        snprintf(mk, sizeof(mk), "experts=1,top_k=1,expert_width=%zu%s", W, bias[b]);
        snprintf(dk, sizeof(dk), "width=%zu%s", W, bias[b]);
        struct layer *m = tu_create("moe", D, 4, mk, 9, T);
        struct layer *d = tu_create("dense", D, 4, dk, 9, T);
        struct layer_info mi, di;
        m->ops->describe(m, &mi);
        d->ops->describe(d, &di);
        ck_assert_uint_eq(mi.params_total, di.params_total + D); /* + the D x 1 router */
        ck_assert(memcmp(mi.regions[1].base, di.regions[0].base, di.regions[0].bytes) == 0);
        float *x = tu_tokens(T, D, 2);
        float *ym = tu_zeros(T * D), *yd = tu_zeros(T * D);
        struct layer_stats st;
        for (size_t n = 1; n <= T; n += T - 1) {
            ck_assert_int_eq(m->ops->forward_ref(m, x, ym, n), 0);
            ck_assert_int_eq(d->ops->forward_ref(d, x, yd, n), 0);
            ck_assert(memcmp(ym, yd, n * D * sizeof(float)) == 0);
            ck_assert_int_eq(m->ops->forward(m, x, ym, n, &st), 0);
            ck_assert_int_eq(d->ops->forward(d, x, yd, n, &st), 0);
            ck_assert_double_le(tu_max_abs_diff(ym, yd, n * D), 1e-6 * (1 + tu_max_abs(yd, n * D)));
        }
        layer_destroy(m);
        layer_destroy(d);
        free(x);
        free(ym);
        free(yd);
    }
}
END_TEST

/* Distinct experts of the reference routing, counted the slow way. */
static size_t brute_distinct(struct layer *l, const float *x, size_t T)
{
    struct moe *m = (struct moe *)l;
    float *logits = tu_zeros(m->E), *w = tu_zeros(m->K);
    uint32_t *sel = calloc(T * m->K, sizeof(*sel));
    size_t distinct = 0;
    for (size_t t = 0; t < T; t++)
        moe_ref_route_token(m, x + t * m->D, logits, sel + t * m->K, w);
    for (size_t i = 0; i < T * m->K; i++) {
        size_t j = 0;
        while (j < i && sel[j] != sel[i])
            j++;
        distinct += j == i;
    }
    free(logits);
    free(w);
    free(sel);
    return distinct;
}

/* Bytes count w1 and w2 at their element size es (2 for bf16, f16), the
 * router and biases at 4. */
START_TEST(test_moe_stats_exact)
{
    const struct {
        const char *knobs;
        uint64_t S, es;
    } cases[] = {{"", 0, 4},
                 {"routing=uniform", 0, 4},
                 {"shared_experts=2,routing=zipf:1", 2, 4},
                 {"dtype=bf16", 0, 2},
                 {"dtype=f16,shared_experts=2,routing=zipf:1", 2, 2}};
    const size_t D = 64, F = 128, E = 8, K = 2;
    for (int c = 0; c < 5; c++) {
        struct layer *l = tu_create("moe", D, 4, cases[c].knobs, 4, 64);
        struct layer_info info;
        l->ops->describe(l, &info);
        const uint64_t S = cases[c].S, es = cases[c].es, expert = 2 * D * F + F + D;
        const uint64_t shared = S ? 2 * D * S * F + S * F + D : 0;
        const uint64_t expert_bytes = es * 2 * D * F + 4 * (F + D);
        const uint64_t shared_bytes = S ? es * 2 * D * S * F + 4 * (S * F + D) : 0;
        ck_assert_uint_eq(info.params_total, D * E + E * expert + shared);
        ck_assert_uint_eq(info.params_active, D * E + K * expert + shared);
        for (size_t T = 1; T <= 64; T *= 4) {
            float *x = tu_tokens(T, D, 30 + T);
            float *y = tu_zeros(T * D);
            struct layer_stats st;
            ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
            size_t u = brute_distinct(l, x, T);
            ck_assert_uint_eq(st.units_touched, u);
            ck_assert_uint_eq(st.units_total, E);
            ck_assert_uint_eq(st.sparse_bytes, u * expert_bytes);
            ck_assert_uint_eq(st.dense_bytes, 4 * D * E + shared_bytes);
            ck_assert_uint_eq(st.flops, 2 * T * D * E + 4 * T * K * D * F + 4 * T * D * S * F +
                                            2 * T * K * D);
            free(x);
            free(y);
        }
        ck_assert_uint_eq(tn_param_bytes(l), 4 * D * E + E * expert_bytes + shared_bytes);
        layer_destroy(l);
    }
}
END_TEST

/* The seeded narrow experts (and shared experts) are the f32 layer's
 * rounded to nearest even; the router and the biases stay fp32 and equal,
 * so both route alike up to the experts' rounding. */
START_TEST(test_moe_narrow_is_rounded_f32)
{
    /* 8 experts x (w1, w2); with a shared one, 2 more. */
    ck_assert_uint_eq(tn_expect_rounded_params("moe", 40, 4, "", "dtype=bf16", LAYER_BF16), 16);
    ck_assert_uint_eq(tn_expect_rounded_params("moe", 40, 4, "shared_experts=1,bias=0",
                                               "shared_experts=1,bias=0,dtype=f16", LAYER_F16),
                      18);
    char err[512];
    ck_assert_int_eq(tu_create_fails("moe", 64, 4, "dtype=f64", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_ptr_nonnull(strstr(err, "dtype=f64"));
}
END_TEST

START_TEST(test_moe_top_k_all_experts)
{
    const size_t D = 32, T = 9, E = 6;
    struct layer *l = tu_create("moe", D, 1, "experts=6,top_k=6", 2, T);
    struct moe *m = (struct moe *)l;
    float *x = tu_tokens(T, D, 1);
    float logits[6], w[6];
    uint32_t sel[6];
    for (size_t t = 0; t < T; t++) {
        unsigned seen = 0;
        float sum = 0;
        moe_ref_route_token(m, x + t * D, logits, sel, w);
        for (size_t j = 0; j < E; j++) {
            seen |= 1u << sel[j];
            sum += w[j];
        }
        ck_assert_uint_eq(seen, (1u << E) - 1);
        ck_assert_float_eq_tol(sum, 1.0f, 1e-6f);
    }
    struct layer_stats st;
    for (size_t n = 1; n <= T; n += T - 1) {
        ck_assert_double_le(tu_forward_vs_ref(l, D, n, 3, &st), 1e-5);
        ck_assert_uint_eq(st.units_touched, E);
    }
    layer_destroy(l);
    free(x);
}
END_TEST

/* Mean distinct experts over `batches` batches of T fresh tokens. */
static double mean_touched(const char *knobs, size_t E, size_t K, size_t T, int batches)
{
    const size_t D = 16;
    char buf[128];
    snprintf(buf, sizeof(buf), "experts=%zu,top_k=%zu,expert_width=8,%s", E, K, knobs);
    struct layer *l = tu_create("moe", D, 1, buf, 11, T);
    float *x = tu_tokens((size_t)batches * T, D, 77), *y = tu_zeros(T * D);
    double sum = 0;
    for (int b = 0; b < batches; b++) {
        struct layer_stats st;
        ck_assert_int_eq(l->ops->forward(l, x + (size_t)b * T * D, y, T, &st), 0);
        sum += (double)st.units_touched;
    }
    layer_destroy(l);
    free(x);
    free(y);
    return sum / batches;
}

/* routing=uniform draws k distinct experts uniformly per token, so E[U] =
 * E (1 - (1 - k/E)^T) (research/moe.md 3.1). U is a sum of E negatively
 * correlated indicators, Var U <= E/4, so the mean of 400 batches has a
 * standard error <= sqrt(E/4/400) = 0.1 at E = 16; the tolerance 0.5 is 5
 * of them (the seeds are fixed, so the test is deterministic anyway). */
START_TEST(test_moe_uniform_coverage)
{
    const struct {
        size_t E, K, T;
    } cases[] = {{16, 2, 8}, {16, 4, 3}, {8, 1, 5}, {16, 2, 1}};
    for (int c = 0; c < 4; c++) {
        double E = (double)cases[c].E, k = (double)cases[c].K;
        double expect = E * (1 - pow(1 - k / E, (double)cases[c].T));
        double got = mean_touched("routing=uniform", cases[c].E, cases[c].K, cases[c].T, 400);
        ck_assert_msg(fabs(got - expect) <= 0.5, "E=%zu k=%zu T=%zu: mean U %.3f, expected %.3f",
                      cases[c].E, cases[c].K, cases[c].T, got, expect);
    }
    /* Skewed popularity touches fewer experts than uniform (concavity, 3.1). */
    double zipf = mean_touched("routing=zipf:1.5", 16, 2, 8, 400);
    double unif = mean_touched("routing=uniform", 16, 2, 8, 400);
    ck_assert_msg(zipf < unif - 1, "zipf:1.5 mean U %.2f not below uniform %.2f", zipf, unif);
}
END_TEST

START_TEST(test_moe_defaults_presets_granularity)
{
    const struct {
        size_t d;
        unsigned scale;
        const char *knobs, *resolved;
        size_t E, K, F;
    } cases[] = {
        {64, 3, "",
         "experts=6,top_k=2,expert_width=128,shared_experts=0,granularity=1,bias=1,"
         "routing=router,dtype=f32",
         6, 2, 128},
        {64, 4, "preset=2in34",
         "experts=34,top_k=2,expert_width=128,shared_experts=0,"
         "granularity=1,bias=1,routing=router,dtype=f32",
         34, 2, 128},
        {64, 4, "preset=64top8",
         "experts=64,top_k=8,expert_width=32,shared_experts=0,"
         "granularity=1,bias=1,routing=router,dtype=f32",
         64, 8, 32},
        {64, 4, "granularity=4",
         "experts=8,top_k=2,expert_width=128,shared_experts=0,"
         "granularity=4,bias=1,routing=router,dtype=f32",
         32, 8, 32},
        {64, 4, "preset=2in34,top_k=1",
         "experts=34,top_k=1,expert_width=256,shared_experts=0,"
         "granularity=1,bias=1,routing=router,dtype=f32",
         34, 1, 256},
    };
    for (int c = 0; c < 5; c++) {
        struct layer *l = tu_create("moe", cases[c].d, cases[c].scale, cases[c].knobs, 1, 4);
        struct moe *m = (struct moe *)l;
        struct layer_info info;
        l->ops->describe(l, &info);
        ck_assert_str_eq(info.knobs, cases[c].resolved);
        ck_assert_uint_eq(m->E, cases[c].E);
        ck_assert_uint_eq(m->K, cases[c].K);
        ck_assert_uint_eq(m->F, cases[c].F);
        ck_assert_str_eq(info.unit, "expert");
        layer_destroy(l);
    }
}
END_TEST

static void fails_naming(const char *knobs, const char *needle)
{
    char err[512];
    ck_assert_int_eq(tu_create_fails("moe", 64, 4, knobs, err, sizeof(err)), LAYER_EKNOB);
    ck_assert_msg(strstr(err, needle) != NULL, "knobs '%s': message '%s' lacks '%s'", knobs, err,
                  needle);
}

START_TEST(test_moe_bad_knobs)
{
    fails_naming("experts=4,top_k=5", "top_k=5");
    fails_naming("experts=0", "experts=0");
    fails_naming("expert_width=0", "expert_width=0");
    fails_naming("expert_width=-8", "expert_width=-8");
    fails_naming("routing=hash", "routing=hash");
    fails_naming("routing=zipf:-1", "routing=zipf:-1");
    fails_naming("routing=zipf:", "routing=zipf:");
    fails_naming("granularity=3", "granularity=3");
    fails_naming("top_k=0", "top_k=0");
    fails_naming("preset=8x7b", "8x7b");
    fails_naming("width=10", "unknown knob 'width'");
}
END_TEST

static Suite *moe_suite(void)
{
    Suite *s = suite_create("moe");
    TCase *tc = tcase_create("moe");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_moe_matches_ref, 0,
                        sizeof(token_counts) / sizeof(token_counts[0]));
    tcase_add_test(tc, test_moe_router_logits_identical);
    tcase_add_test(tc, test_moe_hot_expert_split);
    tcase_add_test(tc, test_moe_group_sizes);
    tcase_add_test(tc, test_moe_token_independent_of_batch);
    tcase_add_test(tc, test_moe_one_expert_is_dense);
    tcase_add_test(tc, test_moe_stats_exact);
    tcase_add_test(tc, test_moe_narrow_is_rounded_f32);
    tcase_add_test(tc, test_moe_top_k_all_experts);
    tcase_add_test(tc, test_moe_uniform_coverage);
    tcase_add_test(tc, test_moe_defaults_presets_granularity);
    tcase_add_test(tc, test_moe_bad_knobs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(moe_suite());
}
