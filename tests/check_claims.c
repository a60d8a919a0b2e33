/* check_claims.c - bench/claims/: the verdict rule on synthetic intervals and
 * series with known verdicts (table-driven), and `sparsebench claims` on a
 * small stored run (tests/data/claims-run/, made by make claims with
 * tests/data/claims-tiny.sweep on a tree without the F4/F5 layers): its
 * claims.csv must equal the stored expected one, every verdict is one of the
 * four words, and the claims whose sweeps could not run say why. Bad input:
 * a missing run directory, a results.csv that is not one. */
#include "test_util.h"
#include "../bench/claims/claims.h"
#include "../bench/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN "tests/data/claims-run"

static const struct {
    double lo, hi, clo, chi;
    enum claim_verdict want;
    const char *why;
} interval_cases[] = {
    {2.5, 4.0, 2, 6, CLAIM_REPRODUCED, "inside the range"},
    {2.0, 6.0, 2, 6, CLAIM_REPRODUCED, "the range's own ends are inside"},
    {1.5, 2.5, 2, 6, CLAIM_PARTLY, "overlaps the lower end"},
    {5.0, 7.0, 2, 6, CLAIM_PARTLY, "overlaps the upper end"},
    {1.0, 9.0, 2, 6, CLAIM_PARTLY, "wider than the range on both sides"},
    {1.0, 1.9, 2, 6, CLAIM_NOT_REPRODUCED, "entirely below"},
    {6.1, 8.0, 2, 6, CLAIM_NOT_REPRODUCED, "entirely above"},
    {80, 90, 78, INFINITY, CLAIM_REPRODUCED, "at or above a factor"},
    {70, 80, 78, INFINITY, CLAIM_PARTLY, "straddles the factor"},
    {50, 54, 78, INFINITY, CLAIM_NOT_REPRODUCED, "below the factor"},
    {0.5, 0.9, 0, 1, CLAIM_REPRODUCED, "an at-most bound"},
    {12, 12, 12, 12, CLAIM_REPRODUCED, "an exact count equal to the claim"},
    {11, 11, 12, 12, CLAIM_NOT_REPRODUCED, "an exact count off by one"},
    {4.0, 2.5, 2, 6, CLAIM_REPRODUCED, "a reversed interval is the same set"},
    {NAN, 3, 2, 6, CLAIM_NOT_TESTABLE, "no measurement"},
    {2, 3, NAN, 6, CLAIM_NOT_TESTABLE, "no claim"},
};

START_TEST(test_interval_rule)
{
    size_t i = (size_t)_i;
    enum claim_verdict v = claim_verdict_interval(interval_cases[i].lo, interval_cases[i].hi,
                                                  interval_cases[i].clo, interval_cases[i].chi);
    ck_assert_msg(v == interval_cases[i].want, "case %zu (%s): got %s, want %s", i,
                  interval_cases[i].why, claim_verdict_name(v),
                  claim_verdict_name(interval_cases[i].want));
}
END_TEST

#define R CLAIM_REPRODUCED
#define P CLAIM_PARTLY
#define N CLAIM_NOT_REPRODUCED
#define X CLAIM_NOT_TESTABLE
static const struct {
    enum claim_verdict v[6];
    size_t n;
    enum claim_verdict want;
} series_cases[] = {
    {{R, R, R}, 3, R}, {{R, N, N}, 3, P}, {{N, N, N}, 3, N}, {{N, P, N}, 3, P},
    {{R, X, R}, 3, R}, {{X, X}, 2, X},    {{N, X}, 2, N},    {{R}, 0, X},
};

START_TEST(test_series_rule)
{
    size_t i = (size_t)_i;
    enum claim_verdict v = claim_verdict_series(series_cases[i].v, series_cases[i].n);
    ck_assert_msg(v == series_cases[i].want, "series case %zu: got %s, want %s", i,
                  claim_verdict_name(v), claim_verdict_name(series_cases[i].want));
}
END_TEST

START_TEST(test_rule_text_names_every_verdict)
{
    for (int v = CLAIM_REPRODUCED; v <= CLAIM_NOT_TESTABLE; v++)
        ck_assert_ptr_nonnull(strstr(claim_rule_text, claim_verdict_name((enum claim_verdict)v)));
}
END_TEST

static struct claim_row rows[CLAIMS_MAX];

static size_t derive(struct claim_run *run)
{
    size_t n = 0;
    claims_derive_u(run, rows, CLAIMS_MAX, &n);
    claims_derive_f(run, rows, CLAIMS_MAX, &n);
    return n;
}

static const struct claim_row *find(size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].id, id))
            return &rows[i];
    ck_abort_msg("no claim %s", id);
    return NULL;
}

START_TEST(test_stored_run)
{
    static struct claim_run run;
    char err[512], dir[] = "/tmp/check_claims.XXXXXX", path[600];
    ck_assert_msg(claims_load(RUN, &run, err, sizeof(err)) == 0, "%s", err);
    size_t n = derive(&run);
    ck_assert_uint_eq(n, 26);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_msg(claims_write(dir, &run, rows, n, "", err, sizeof(err)) == 0, "%s", err);

    snprintf(path, sizeof(path), "%s/claims.csv", dir);
    size_t la, lb;
    char *got = bench_read_file(path, &la),
         *want = bench_read_file(RUN "/claims.expected.csv", &lb);
    ck_assert_ptr_nonnull(got);
    ck_assert_ptr_nonnull(want);
    ck_assert_msg(la == lb && !memcmp(got, want, la),
                  "%s differs from " RUN "/claims.expected.csv (regenerate it with "
                  "build/sparsebench claims " RUN " --out DIR only if the change is meant)",
                  path);
    free(got);
    free(want);

    /* what the stored numbers say, checked by hand against results.csv */
    ck_assert_int_eq(find(n, "F1")->verdict, CLAIM_REPRODUCED); /* 12 of 4095 nodes */
    ck_assert_double_eq(find(n, "F1")->ours, 12);
    ck_assert_int_eq(find(n, "U1a")->verdict, CLAIM_NOT_REPRODUCED); /* 1.2-1.5x at scale 2 */
    ck_assert_int_eq(find(n, "F6")->verdict, CLAIM_NOT_TESTABLE);
    /* the F4/F5 sweeps could not run on this tree: the reason is their message */
    ck_assert_int_eq(find(n, "F4a")->verdict, CLAIM_NOT_TESTABLE);
    ck_assert_ptr_nonnull(strstr(find(n, "F4a")->reason, "unknown implementation 'fff-l1'"));
    ck_assert_ptr_nonnull(strstr(find(n, "F5")->reason, "unknown key 'inputs'"));
    /* a width the tiny run did not measure */
    ck_assert_int_eq(find(n, "U1-2048")->verdict, CLAIM_NOT_TESTABLE);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_ge(rows[i].verdict, CLAIM_REPRODUCED);
        ck_assert_int_le(rows[i].verdict, CLAIM_NOT_TESTABLE);
        ck_assert_msg(rows[i].reason[0], "claim %s has no reason", rows[i].id);
        sb_free(&rows[i].detail);
    }
    snprintf(path, sizeof(path), "%s/CLAIMS.md", dir);
    ck_assert_int_eq(unlink(path), 0);
    snprintf(path, sizeof(path), "%s/claims.csv", dir);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    claims_free(&run);
}
END_TEST

START_TEST(test_bad_input)
{
    static struct claim_run run;
    char err[512], dir[] = "/tmp/check_claims.XXXXXX", path[600];
    ck_assert_int_eq(claims_load("/nonexistent/run", &run, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/run/results.csv"));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/results.csv", dir);
    ck_assert_int_eq(bench_write_atomic(path, "a,b\n1,2\n", 8), 0);
    snprintf(path, sizeof(path), "%s/meta.csv", dir);
    ck_assert_int_eq(bench_write_atomic(path, "key,value\n", 10), 0);
    ck_assert_int_eq(claims_load(dir, &run, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "results.csv") && strstr(err, "slot"), "%s", err);
    unlink(path);
    snprintf(path, sizeof(path), "%s/results.csv", dir);
    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *claims_suite(void)
{
    Suite *s = suite_create("claims");
    TCase *tc = tcase_create("verdict");
    tcase_add_loop_test(tc, test_interval_rule, 0,
                        (int)(sizeof(interval_cases) / sizeof(interval_cases[0])));
    tcase_add_loop_test(tc, test_series_rule, 0,
                        (int)(sizeof(series_cases) / sizeof(series_cases[0])));
    tcase_add_test(tc, test_rule_text_names_every_verdict);
    suite_add_tcase(s, tc);
    tc = tcase_create("report");
    tcase_add_test(tc, test_stored_run);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(claims_suite());
}
