/* check_stats.c - bench/stats.c on arrays whose statistics are known by
 * hand: median and p90 by linear interpolation between closest ranks, and
 * err% as the median absolute percentage deviation (nanobench's MdAPE);
 * the paired ratio's interval: the order-statistic ranks against a table
 * computed exactly (binomial sums in rational arithmetic), the coverage of
 * both methods on synthetic pairs with a known ratio over many seeds, two
 * identical samplers, and bad input; bench/sweep/passes.c on a small
 * results table with known pass ratios. */
#include "test_util.h"
#include "../bench/stats.h"
#include "../bench/sweep/sweep.h"
#include "../bench/table.h"
#include "../impls/common/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-12 /* the statistics are a few exact operations on small doubles */

START_TEST(test_one_to_eleven)
{
    /* shuffled 1..11: median 6, min 1, p90 at rank 9 of 0..10 = 10.
     * |v - 6| / v sorted: 0, 1/7, 1/5, 2/8, 3/9, 4/10, 5/11, 2/4, 3/3, 4/2, 5/1
     * -> the 6th of 11 is 4/10: err% = 40 */
    double v[] = {7, 3, 11, 1, 9, 5, 2, 10, 6, 4, 8};
    struct bench_stats s;
    bench_stats_compute(v, 11, &s);
    ck_assert_double_eq_tol(s.median, 6, TOL);
    ck_assert_double_eq_tol(s.min, 1, TOL);
    ck_assert_double_eq_tol(s.p90, 10, TOL);
    ck_assert_double_eq_tol(s.err_pct, 40.0, 1e-9);
}
END_TEST

START_TEST(test_even_count_interpolates)
{
    /* n = 4: median at rank 1.5 -> 2.5; p90 at rank 2.7 -> 3 + 0.7 = 3.7.
     * |v - 2.5| / v: 1.5, 0.25, 1/6, 0.375 -> sorted 1/6, 0.25, 0.375, 1.5;
     * median = (0.25 + 0.375) / 2 = 0.3125 */
    double v[] = {4, 1, 3, 2};
    struct bench_stats s;
    bench_stats_compute(v, 4, &s);
    ck_assert_double_eq_tol(s.median, 2.5, TOL);
    ck_assert_double_eq_tol(s.min, 1, TOL);
    ck_assert_double_eq_tol(s.p90, 3.7, TOL);
    ck_assert_double_eq_tol(s.err_pct, 31.25, 1e-9);
}
END_TEST

START_TEST(test_constant_has_no_error)
{
    double v[13];
    for (int i = 0; i < 13; i++)
        v[i] = 2.5e-4;
    struct bench_stats s;
    bench_stats_compute(v, 13, &s);
    ck_assert_double_eq_tol(s.median, 2.5e-4, TOL);
    ck_assert_double_eq_tol(s.p90, 2.5e-4, TOL);
    ck_assert_double_eq_tol(s.err_pct, 0, TOL);
}
END_TEST

START_TEST(test_single_value)
{
    double v[] = {3e-3};
    struct bench_stats s;
    bench_stats_compute(v, 1, &s);
    ck_assert_double_eq_tol(s.median, 3e-3, TOL);
    ck_assert_double_eq_tol(s.min, 3e-3, TOL);
    ck_assert_double_eq_tol(s.p90, 3e-3, TOL);
    ck_assert_double_eq_tol(s.err_pct, 0, TOL);
}
END_TEST

START_TEST(test_one_outlier_moves_p90_not_median)
{
    /* ten rounds of 1.0 and one of 100: the median and err% ignore it, p90
     * (rank 9 of 0..10) is still 1, the mean would not be */
    double v[] = {1, 1, 1, 1, 100, 1, 1, 1, 1, 1, 1};
    struct bench_stats s;
    bench_stats_compute(v, 11, &s);
    ck_assert_double_eq_tol(s.median, 1, TOL);
    ck_assert_double_eq_tol(s.p90, 1, TOL);
    ck_assert_double_eq_tol(s.err_pct, 0, TOL);
    /* two outliers of 11 push p90 into them: rank 9 is the first 100 */
    double w[] = {1, 1, 1, 1, 100, 1, 1, 100, 1, 1, 1};
    bench_stats_compute(w, 11, &s);
    ck_assert_double_eq_tol(s.p90, 100, TOL);
}
END_TEST

START_TEST(test_noisy_threshold)
{
    /* a spread of +-10 % around 1: err% is 10 * (median of |d| / v) > 5, so
     * the runner would flag it; half the rounds at +-1 % stay under 5 */
    double v[] = {0.9, 1.1, 0.9, 1.1, 1.0, 0.9, 1.1, 0.9, 1.1, 0.9, 1.1};
    struct bench_stats s;
    bench_stats_compute(v, 11, &s);
    ck_assert_double_eq_tol(s.median, 1.0, TOL);
    ck_assert_double_ge(s.err_pct, 5.0);
    double w[] = {0.99, 1.01, 0.99, 1.01, 1.0, 0.99, 1.01, 0.99, 1.01, 0.99, 1.01};
    bench_stats_compute(w, 11, &s);
    ck_assert_double_lt(s.err_pct, 5.0);
}
END_TEST

/* ---- paired ratios ---- */

/* n -> the ranks of the narrowest distribution-free 95 % interval for a
 * median and its exact coverage 1 - 2 P(Bin(n, 1/2) <= lo - 1), computed
 * with exact fractions (Python's fractions.Fraction and math.comb); they
 * agree with the published sign-test tables (n = 10: x_(2), x_(9); n = 20:
 * x_(6), x_(15)). */
static const struct {
    size_t n, lo, hi;
    double coverage;
} ranks95[] = {
    {6, 1, 6, 0.96875},
    {7, 1, 7, 0.984375},
    {8, 1, 8, 0.9921875},
    {9, 2, 8, 0.9609375},
    {10, 2, 9, 0.978515625},
    {11, 2, 10, 0.98828125},
    {12, 3, 10, 0.96142578125},
    {13, 3, 11, 0.9775390625},
    {14, 3, 12, 0.987060546875},
    {15, 4, 12, 0.96484375},
    {16, 4, 13, 0.978729248046875},
    {17, 5, 13, 0.950958251953125},
    {18, 5, 14, 0.9691162109375},
    {19, 5, 15, 0.9807891845703125},
    {20, 6, 15, 0.9586105346679688},
    {21, 6, 16, 0.9733963012695312},
    {22, 6, 17, 0.9830994606018066},
    {25, 8, 18, 0.9567147493362427},
    {30, 10, 21, 0.9572260547429323},
    {31, 10, 22, 0.9705506265163422},
    {40, 14, 27, 0.9615226917157997},
    {51, 19, 33, 0.9511261076817297},
    {100, 40, 61, 0.9647997997822951},
    {101, 41, 61, 0.9539559330706572},
    {1000, 469, 532, 0.9537088026395019},
};

START_TEST(test_orderstat_ranks_table)
{
    for (size_t i = 0; i < sizeof(ranks95) / sizeof(ranks95[0]); i++) {
        size_t lo, hi;
        double cov;
        ck_assert_int_eq(bench_median_ci_ranks(ranks95[i].n, 0.95, &lo, &hi, &cov), 0);
        ck_assert_msg(lo == ranks95[i].lo && hi == ranks95[i].hi, "n = %zu: ranks %zu, %zu",
                      ranks95[i].n, lo, hi);
        /* lgamma/exp sums: 1e-9 is far below the 1e-3 steps between
         * neighbouring coverages, far above their rounding */
        ck_assert_double_eq_tol(cov, ranks95[i].coverage, 1e-9);
    }
    size_t lo, hi;
    double cov;
    /* n = 5: even [x_(1), x_(5)] covers only 1 - 2/32 = 0.9375 */
    ck_assert_int_eq(bench_median_ci_ranks(5, 0.95, &lo, &hi, &cov), -1);
    ck_assert_uint_eq(bench_ci_min_pairs(0.95), 6);
    /* 99 %: [x_(1), x_(8)] of 8 covers 1 - 2/256 = 0.992; of 7 only 0.984 */
    ck_assert_uint_eq(bench_ci_min_pairs(0.99), 8);
}
END_TEST

START_TEST(test_ratio_ci_known)
{
    /* 1..21 shuffled: median 11, interval [x_(6), x_(16)] = [6, 16] */
    double r[21];
    for (int i = 0; i < 21; i++)
        r[i] = (double)((i * 8) % 21 + 1); /* 8 is coprime to 21: a permutation */
    struct bench_ratio q;
    char err[256];
    ck_assert_int_eq(bench_ratio_ci(r, 21, BENCH_CI_ORDERSTAT, 0.95, 0, &q, err, sizeof(err)), 0);
    ck_assert_double_eq_tol(q.median, 11, TOL);
    ck_assert_double_eq_tol(q.lo, 6, TOL);
    ck_assert_double_eq_tol(q.hi, 16, TOL);
    ck_assert_uint_eq(q.lo_rank, 6);
    ck_assert_uint_eq(q.hi_rank, 16);
    ck_assert_uint_eq(q.n, 21);
    ck_assert_double_eq_tol(q.coverage, 0.9733963012695312, 1e-9);
    ck_assert_str_eq(bench_ci_method_name(q.method), "orderstat");
    ck_assert_double_eq_tol(r[0], 1, TOL); /* the input is not reordered */
    /* even n: the median is the mean of the middle two */
    double e[] = {6, 1, 5, 2, 4, 3};
    ck_assert_int_eq(bench_ratio_ci(e, 6, BENCH_CI_ORDERSTAT, 0.95, 0, &q, err, sizeof(err)), 0);
    ck_assert_double_eq_tol(q.median, 3.5, TOL);
    ck_assert_double_eq_tol(q.lo, 1, TOL);
    ck_assert_double_eq_tol(q.hi, 6, TOL);
    /* the bootstrap's interval lies within the data and around the median */
    ck_assert_int_eq(bench_ratio_ci(r, 21, BENCH_CI_BOOTSTRAP, 0.95, 7, &q, err, sizeof(err)), 0);
    ck_assert_double_eq_tol(q.median, 11, TOL);
    ck_assert(q.lo >= 1 && q.lo <= 11 && q.hi >= 11 && q.hi <= 21);
    ck_assert_uint_eq(q.lo_rank, 0);
    ck_assert_str_eq(bench_ci_method_name(q.method), "bootstrap");
}
END_TEST

START_TEST(test_paired_direction)
{
    /* B takes three times as long as A in every pair: A is 3x faster */
    double a[21], b[21];
    for (int i = 0; i < 21; i++) {
        a[i] = 1e-3 * (1 + 0.01 * i);
        b[i] = 3 * a[i];
    }
    struct bench_ratio q;
    char err[256];
    ck_assert_int_eq(
        bench_paired_ratio(a, b, 21, BENCH_CI_ORDERSTAT, 0.95, 0, &q, err, sizeof(err)), 0);
    ck_assert_double_eq_tol(q.median, 3, 1e-12);
    ck_assert_double_eq_tol(q.lo, 3, 1e-12);
    ck_assert_double_eq_tol(q.hi, 3, 1e-12);
}
END_TEST

/* Synthetic pairs: round i of A takes t_i = base_i * e^(sigma z1), B takes
 * ratio * base_i * e^(sigma z2), with a shared per-pair base (the machine's
 * moment) that moves both and z1, z2 independent N(0, 1). log(t_b / t_a) is
 * symmetric about log(ratio), so the true median of the per-pair ratio is
 * exactly `ratio`. Returns the fraction of `reps` intervals containing it. */
static double coverage(enum bench_ci_method m, size_t n, size_t reps, double ratio, double sigma,
                       uint64_t seed)
{
    double *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));
    struct common_rng rng;
    size_t hit = 0;
    char err[256];
    ck_assert(a && b);
    common_rng_seed(&rng, seed, 1);
    for (size_t k = 0; k < reps; k++) {
        for (size_t i = 0; i < n; i++) {
            double base = 1e-3 * exp(0.5 * common_rng_normal(&rng)); /* a noisy host */
            a[i] = base * exp(sigma * common_rng_normal(&rng));
            b[i] = ratio * base * exp(sigma * common_rng_normal(&rng));
        }
        struct bench_ratio q;
        ck_assert_int_eq(bench_paired_ratio(a, b, n, m, 0.95, k, &q, err, sizeof(err)), 0);
        hit += q.lo <= ratio && ratio <= q.hi;
    }
    free(a);
    free(b);
    return (double)hit / (double)reps;
}

START_TEST(test_orderstat_coverage)
{
    /* At n = 21 the interval's exact coverage is 0.9734 for any continuous
     * i.i.d. ratios. Over 2000 replications the observed fraction has a
     * standard deviation of sqrt(0.973 * 0.027 / 2000) = 0.0036; the bounds
     * are 5 of those either side, and the seeds are fixed, so this is a
     * check of the method, not a coin toss. */
    double c = coverage(BENCH_CI_ORDERSTAT, 21, 2000, 2.0, 0.1, 11);
    fprintf(stderr, "orderstat coverage, n = 21, 2000 seeds: %.4f (exact 0.9734)\n", c);
    ck_assert_double_ge(c, 0.955);
    ck_assert_double_le(c, 0.991);
    /* n = 25: exact 0.9567 */
    c = coverage(BENCH_CI_ORDERSTAT, 25, 2000, 0.25, 0.3, 12);
    ck_assert_double_ge(c, 0.94);
    ck_assert_double_le(c, 0.975);
}
END_TEST

START_TEST(test_bootstrap_coverage)
{
    /* The percentile bootstrap of a median undercovers at small n (the
     * resampled medians take few distinct values): 0.90 here, 0.91-0.94 at
     * n = 21-31 in a separate simulation, for a nominal 0.95. Bounded at
     * 300 replications (sd ~0.017): above 0.85 says the method works,
     * below 0.99 says it is not secretly the order-statistic interval. */
    double c = coverage(BENCH_CI_BOOTSTRAP, 21, 300, 2.0, 0.1, 13);
    fprintf(stderr, "bootstrap coverage, n = 21, 300 seeds: %.4f (nominal 0.95)\n", c);
    ck_assert_double_ge(c, 0.85);
    ck_assert_double_le(c, 0.99);
}
END_TEST

START_TEST(test_identical_samplers_contain_one)
{
    /* Two samplers with the same distribution: the ratio's median is 1, so
     * the interval contains 1 for a fraction >= its coverage of seeds (the
     * 5-sigma bound of test_orderstat_coverage), and for this fixed seed. */
    double c = coverage(BENCH_CI_ORDERSTAT, 21, 2000, 1.0, 0.2, 14);
    ck_assert_double_ge(c, 0.955);
    double a[31], b[31];
    struct common_rng rng;
    common_rng_seed(&rng, 5, 2);
    for (int i = 0; i < 31; i++) {
        a[i] = 1e-3 * exp(0.2 * common_rng_normal(&rng));
        b[i] = 1e-3 * exp(0.2 * common_rng_normal(&rng));
    }
    struct bench_ratio q;
    char err[256];
    ck_assert_int_eq(
        bench_paired_ratio(a, b, 31, BENCH_CI_ORDERSTAT, 0.95, 0, &q, err, sizeof(err)), 0);
    ck_assert_msg(q.lo <= 1 && 1 <= q.hi, "[%g, %g]", q.lo, q.hi);
    ck_assert_int_eq(
        bench_paired_ratio(a, b, 31, BENCH_CI_BOOTSTRAP, 0.95, 9, &q, err, sizeof(err)), 0);
    ck_assert_msg(q.lo <= 1 && 1 <= q.hi, "[%g, %g]", q.lo, q.hi);
}
END_TEST

START_TEST(test_bootstrap_reproducible)
{
    double r[25];
    struct common_rng rng;
    common_rng_seed(&rng, 3, 3);
    for (int i = 0; i < 25; i++)
        r[i] = exp(common_rng_normal(&rng));
    struct bench_ratio q1, q2;
    char err[256];
    ck_assert_int_eq(bench_ratio_ci(r, 25, BENCH_CI_BOOTSTRAP, 0.95, BENCH_BOOTSTRAP_SEED, &q1, err,
                                    sizeof(err)),
                     0);
    ck_assert_int_eq(bench_ratio_ci(r, 25, BENCH_CI_BOOTSTRAP, 0.95, BENCH_BOOTSTRAP_SEED, &q2, err,
                                    sizeof(err)),
                     0);
    ck_assert(q1.lo == q2.lo && q1.hi == q2.hi); /* bit for bit: same seed, same draws */
}
END_TEST

START_TEST(test_ratio_bad_input)
{
    double r[21], a[21], b[21];
    for (int i = 0; i < 21; i++)
        r[i] = a[i] = b[i] = 1;
    struct bench_ratio q;
    char err[256];
    ck_assert_int_eq(bench_ratio_ci(r, 5, BENCH_CI_ORDERSTAT, 0.95, 0, &q, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "at least 6"));
    ck_assert(isnan(q.median));
    ck_assert_int_eq(bench_ratio_ci(r, 21, BENCH_CI_ORDERSTAT, 1.5, 0, &q, err, sizeof(err)), -1);
    ck_assert_int_eq(bench_ratio_ci(r, 1, BENCH_CI_BOOTSTRAP, 0.95, 0, &q, err, sizeof(err)), -1);
    a[3] = 0; /* a zero time would make an infinite ratio */
    ck_assert_int_eq(
        bench_paired_ratio(a, b, 21, BENCH_CI_ORDERSTAT, 0.95, 0, &q, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "ratio 4 of 21"));
    b[3] = NAN;
    a[3] = 1;
    ck_assert_int_eq(
        bench_paired_ratio(a, b, 21, BENCH_CI_ORDERSTAT, 0.95, 0, &q, err, sizeof(err)), -1);
    enum bench_ci_method m;
    ck_assert_int_eq(bench_ci_method_parse("bootstrap", &m), 0);
    ck_assert_int_eq(m, BENCH_CI_BOOTSTRAP);
    ck_assert_int_eq(bench_ci_method_parse("orderstat", &m), 0);
    ck_assert_int_eq(m, BENCH_CI_ORDERSTAT);
    ck_assert_int_eq(bench_ci_method_parse("student", &m), -1);
}
END_TEST

/* Three points in two passes: 1.0x, 1.5x and 3.0x apart; a wrong row and a
 * point measured once are left out; the worst is named. */
START_TEST(test_pass_spread)
{
    static const char text[] =
        "slot,d_model,scale,batch,seq_len,threads,seed,cache,repeat,status,latency_us_median\n"
        "dense,768,1,1,1,2,1,cold,1,ok,100\n"
        "dense,768,1,1,4,2,1,cold,1,ok,200\n"
        "moe,768,4,1,4,2,1,cold,1,ok,300\n"
        "moe,768,4,1,8,2,1,cold,1,wrong,NA\n"
        "fff,768,1,1,1,2,1,cold,1,ok,5\n"
        "dense,768,1,1,1,2,1,cold,2,ok,100\n"
        "dense,768,1,1,4,2,1,cold,2,ok,300\n"
        "moe,768,4,1,4,2,1,cold,2,ok,900\n"
        "moe,768,4,1,8,2,1,cold,2,ok,50\n";
    struct bench_table t;
    struct bench_spread sp;
    char err[256];
    ck_assert_int_eq(bench_table_parse("r.csv", text, sizeof(text) - 1, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(bench_pass_spread(&t, 1.2, &sp), 0);
    ck_assert_uint_eq(sp.n_points, 3);
    ck_assert_uint_eq(sp.n_over, 2);
    ck_assert_double_eq_tol(sp.worst, 3.0, TOL);
    ck_assert_ptr_nonnull(strstr(sp.worst_key, "slot=moe"));
    ck_assert_ptr_nonnull(strstr(sp.worst_key, "seq_len=4"));
    bench_table_free(&t);
}
END_TEST

/* A table without the latency column cannot be compared. */
START_TEST(test_pass_spread_missing_column)
{
    static const char text[] = "slot,status\ndense,ok\n";
    struct bench_table t;
    struct bench_spread sp;
    char err[256];
    ck_assert_int_eq(bench_table_parse("r.csv", text, sizeof(text) - 1, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(bench_pass_spread(&t, 1.2, &sp), -1);
    bench_table_free(&t);
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("known arrays");
    tcase_add_test(tc, test_one_to_eleven);
    tcase_add_test(tc, test_even_count_interpolates);
    tcase_add_test(tc, test_constant_has_no_error);
    tcase_add_test(tc, test_single_value);
    tcase_add_test(tc, test_one_outlier_moves_p90_not_median);
    tcase_add_test(tc, test_noisy_threshold);
    tcase_add_test(tc, test_pass_spread);
    tcase_add_test(tc, test_pass_spread_missing_column);
    suite_add_tcase(s, tc);
    TCase *pr = tcase_create("paired ratios");
    tcase_add_test(pr, test_orderstat_ranks_table);
    tcase_add_test(pr, test_ratio_ci_known);
    tcase_add_test(pr, test_paired_direction);
    tcase_add_test(pr, test_orderstat_coverage);
    tcase_add_test(pr, test_bootstrap_coverage);
    tcase_add_test(pr, test_identical_samplers_contain_one);
    tcase_add_test(pr, test_bootstrap_reproducible);
    tcase_add_test(pr, test_ratio_bad_input);
    tcase_set_timeout(pr, 60); /* the bootstrap coverage: ~1 s, ~10 s under ASan */
    suite_add_tcase(s, pr);
    return s;
}

int main(void)
{
    return tu_run_suite(stats_suite());
}
