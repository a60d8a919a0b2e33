/* check_stats.c - bench/stats.c on arrays whose statistics are known by
 * hand: median and p90 by linear interpolation between closest ranks, and
 * err% as the median absolute percentage deviation (nanobench's MdAPE);
 * bench/sweep/passes.c on a small results table with known pass ratios. */
#include "test_util.h"
#include "../bench/stats.h"
#include "../bench/sweep/sweep.h"
#include "../bench/table.h"

#include <math.h>
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
    return s;
}

int main(void)
{
    return tu_run_suite(stats_suite());
}
