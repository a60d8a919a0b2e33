/* check_gate.c - bench/gate/gate.c on synthetic results tables: every
 * verdict, the limit exactly at and one count past the edge (small and
 * 1e12-sized counts), the gate's exit status for each kind of difference,
 * what cannot be compared, and the CSV it writes read back. The end-to-end
 * gate (counts under valgrind, the rebuild path) is scripts/test-gate.sh. */
#include "test_util.h"
#include "../bench/gate/gate.h"
#include "../bench/table.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char header[] = "slot,d_model,scale,batch,seq_len,tokens,threads,cache,status,"
                             "flops,dense_bytes,sparse_bytes,units_touched,instructions,"
                             "l1_misses,ll_misses,dram_bytes_est\n";

/* One row: the slot and token count name the point; the rest as given. */
struct row {
    const char *slot;
    int tokens;
    const char *status;
    const char *flops, *instructions, *ll_misses;
};

static void table_of(const struct row *rows, size_t n, struct bench_table *t)
{
    static char text[8192];
    size_t len = (size_t)snprintf(text, sizeof(text), "%s", header);
    for (size_t i = 0; i < n; i++)
        len +=
            (size_t)snprintf(text + len, sizeof(text) - len,
                             "%s,256,4,1,%d,%d,1,cold,%s,%s,2102272,0,1024,%s,33100,%s,2106688\n",
                             rows[i].slot, rows[i].tokens, rows[i].tokens, rows[i].status,
                             rows[i].flops, rows[i].instructions, rows[i].ll_misses);
    char err[256];
    ck_assert_msg(bench_table_parse("synthetic", text, len, t, err, sizeof(err)) == 0, "%s", err);
}

static const struct row base_rows[] = {
    {"dense", 1, "ok", "1048576", "639339", "32917"},
    {"moe", 16, "ok", "16859136", "6106541", "133947"},
};

/* The gate on base_rows against `now`; returns its status, *r kept. */
static int gate_on(const struct row *now, size_t n, struct bench_gate_result *r)
{
    struct bench_table b, t;
    char err[256];
    table_of(base_rows, 2, &b);
    table_of(now, n, &t);
    ck_assert_msg(bench_gate_compare(&b, &t, r, err, sizeof(err)) == 0, "%s", err);
    bench_table_free(&b);
    bench_table_free(&t);
    return bench_gate_status(r);
}

static const struct bench_gate_line *line_of(const struct bench_gate_result *r, const char *point,
                                             const char *metric)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->lines[i].point, point) && !strcmp(r->lines[i].metric, metric))
            return &r->lines[i];
    return NULL;
}

START_TEST(test_judge_edges)
{
    static const struct {
        enum bench_gate_kind kind;
        uint64_t base, now;
        enum bench_gate_verdict want;
    } cases[] = {
        {BENCH_GATE_COUNTED, 10000, 10000, BENCH_GATE_OK},
        {BENCH_GATE_COUNTED, 10000, 10200, BENCH_GATE_OK},     /* +2.00 %: at the edge */
        {BENCH_GATE_COUNTED, 10000, 10201, BENCH_GATE_SLOWER}, /* +2.01 % */
        {BENCH_GATE_COUNTED, 10000, 9800, BENCH_GATE_OK},      /* -2.00 % */
        {BENCH_GATE_COUNTED, 10000, 9799, BENCH_GATE_FASTER},  /* -2.01 % */
        {BENCH_GATE_COUNTED, 1000000000000ull, 1020000000000ull, BENCH_GATE_OK},
        {BENCH_GATE_COUNTED, 1000000000000ull, 1020000000001ull, BENCH_GATE_SLOWER},
        {BENCH_GATE_COUNTED, 1000000000000ull, 979999999999ull, BENCH_GATE_FASTER},
        {BENCH_GATE_COUNTED, 50, 51, BENCH_GATE_OK},     /* exactly +2 % of 50 */
        {BENCH_GATE_COUNTED, 49, 50, BENCH_GATE_SLOWER}, /* +2.04 % */
        {BENCH_GATE_COUNTED, 0, 0, BENCH_GATE_OK},
        {BENCH_GATE_COUNTED, 0, 1, BENCH_GATE_SLOWER}, /* from none: any is more */
        {BENCH_GATE_COUNTED, 1, 0, BENCH_GATE_FASTER},
        {BENCH_GATE_EXACT, 1048576, 1048576, BENCH_GATE_OK},
        {BENCH_GATE_EXACT, 1048576, 1048577, BENCH_GATE_CHANGED},
        {BENCH_GATE_EXACT, 1048576, 1048575, BENCH_GATE_CHANGED}, /* fewer flops fails too */
        {BENCH_GATE_INFO, 100, 1000, BENCH_GATE_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum bench_gate_verdict v = bench_gate_judge(cases[i].kind, cases[i].base, cases[i].now);
        ck_assert_msg(v == cases[i].want, "case %zu: %" PRIu64 " -> %" PRIu64 ": %s, want %s", i,
                      cases[i].base, cases[i].now, bench_gate_verdict_name(v),
                      bench_gate_verdict_name(cases[i].want));
    }
}
END_TEST

START_TEST(test_verdicts_and_status)
{
    /* Each case changes one thing in base_rows' second point (or drops it, or adds one). */
    static const struct {
        const char *what;
        struct row now[3];
        size_t n;
        const char *point, *metric; /* the line that says so */
        enum bench_gate_verdict verdict;
        int status;
    } cases[] = {
        {"identical",
         {base_rows[0], base_rows[1]},
         2,
         "moe d=256 scale=4 T=16",
         "instructions",
         BENCH_GATE_OK,
         0},
        {"+2.00 % instructions",
         {base_rows[0], {"moe", 16, "ok", "16859136", "6228671", "133947"}},
         2,
         "moe d=256 scale=4 T=16",
         "instructions",
         BENCH_GATE_OK,
         0}, /* 6106541 x 1.02 = 6228671.8 */
        {"+2.01 % instructions",
         {base_rows[0], {"moe", 16, "ok", "16859136", "6229283", "133947"}},
         2,
         "moe d=256 scale=4 T=16",
         "instructions",
         BENCH_GATE_SLOWER,
         1},
        {"+5 % ll_misses",
         {base_rows[0], {"moe", 16, "ok", "16859136", "6106541", "140645"}},
         2,
         "moe d=256 scale=4 T=16",
         "ll_misses",
         BENCH_GATE_SLOWER,
         1},
        {"-5 % instructions",
         {base_rows[0], {"moe", 16, "ok", "16859136", "5801214", "133947"}},
         2,
         "moe d=256 scale=4 T=16",
         "instructions",
         BENCH_GATE_FASTER,
         0},
        {"one more flop",
         {base_rows[0], {"moe", 16, "ok", "16859137", "6106541", "133947"}},
         2,
         "moe d=256 scale=4 T=16",
         "flops",
         BENCH_GATE_CHANGED,
         1},
        {"status wrong",
         {base_rows[0], {"moe", 16, "wrong", "NA", "NA", "NA"}},
         2,
         "moe d=256 scale=4 T=16",
         "status",
         BENCH_GATE_STATUS,
         1},
        {"point missing",
         {base_rows[0]},
         1,
         "moe d=256 scale=4 T=16",
         "point",
         BENCH_GATE_MISSING,
         1},
        {"point new",
         {base_rows[0], base_rows[1], {"fff", 1, "ok", "1", "2", "3"}},
         3,
         "fff d=256 scale=4 T=1",
         "point",
         BENCH_GATE_NEW,
         0},
        {"count NA",
         {base_rows[0], {"moe", 16, "ok", "16859136", "NA", "133947"}},
         2,
         "moe d=256 scale=4 T=16",
         "instructions",
         BENCH_GATE_NA,
         2},
        {"NA and a regression: the regression wins",
         {{"dense", 1, "ok", "1048576", "NA", "32917"},
          {"moe", 16, "ok", "16859136", "7000000", "133947"}},
         2,
         "moe d=256 scale=4 T=16",
         "instructions",
         BENCH_GATE_SLOWER,
         1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bench_gate_result r;
        int status = gate_on(cases[i].now, cases[i].n, &r);
        const struct bench_gate_line *l = line_of(&r, cases[i].point, cases[i].metric);
        ck_assert_msg(l, "%s: no line %s %s", cases[i].what, cases[i].point, cases[i].metric);
        ck_assert_msg(l->verdict == cases[i].verdict, "%s: %s, want %s", cases[i].what,
                      bench_gate_verdict_name(l->verdict),
                      bench_gate_verdict_name(cases[i].verdict));
        ck_assert_msg(status == cases[i].status, "%s: status %d, want %d", cases[i].what, status,
                      cases[i].status);
        ck_assert_uint_eq(r.points, 2);
        bench_gate_result_free(&r);
    }
}
END_TEST

START_TEST(test_change_is_reported)
{
    struct row now[] = {base_rows[0], {"moe", 16, "ok", "16859136", "5801214", "133947"}};
    struct bench_gate_result r;
    gate_on(now, 2, &r);
    const struct bench_gate_line *l = line_of(&r, "moe d=256 scale=4 T=16", "instructions");
    ck_assert_ptr_nonnull(l);
    ck_assert_double_eq_tol(l->change_pct, (5801214.0 - 6106541.0) / 6106541.0 * 100, 1e-9);
    ck_assert_str_eq(l->base, "6106541");
    ck_assert_str_eq(l->now, "5801214");
    ck_assert_uint_eq(r.counts[BENCH_GATE_FASTER], 1);
    bench_gate_result_free(&r);
}
END_TEST

START_TEST(test_cannot_compare)
{
    struct bench_table b, t;
    struct bench_gate_result r;
    char err[256];
    table_of(base_rows, 2, &b);
    const char text[] = "slot,d_model,scale,batch,seq_len,threads,status\n"
                        "dense,256,4,1,1,1,ok\n";
    ck_assert_int_eq(bench_table_parse("nocache", text, sizeof(text) - 1, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(bench_gate_compare(&b, &t, &r, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "fresh count has no column cache"), "%s", err);
    bench_table_free(&t);

    /* a baseline without points: nothing was compared */
    const char empty[] = "slot,d_model,scale,batch,seq_len,threads,cache\n";
    ck_assert_int_eq(bench_table_parse("empty", empty, sizeof(empty) - 1, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(bench_gate_compare(&t, &b, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(bench_gate_status(&r), 2);
    bench_gate_result_free(&r);
    bench_table_free(&t);
    bench_table_free(&b);
}
END_TEST

START_TEST(test_csv_reads_back)
{
    struct row now[] = {base_rows[0], {"moe", 16, "ok", "16859137", "6229283", "133947"}};
    struct bench_gate_result r;
    gate_on(now, 2, &r);
    char path[] = "/tmp/check_gate_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char err[256];
    ck_assert_msg(bench_gate_write_csv(&r, path, err, sizeof(err)) == 0, "%s", err);
    struct bench_table t;
    ck_assert_msg(bench_table_read(path, &t, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(t.nrows, r.n);
    ck_assert_uint_eq(t.nrows, 2 * bench_gate_n_metrics);
    int cv = bench_table_col(&t, "verdict"), cm = bench_table_col(&t, "metric");
    ck_assert_int_ge(cv, 0);
    size_t slower = 0, changed = 0;
    for (size_t i = 0; i < t.nrows; i++) {
        slower += !strcmp(bench_table_cell(&t, i, (size_t)cv), "SLOWER") &&
                  !strcmp(bench_table_cell(&t, i, (size_t)cm), "instructions");
        changed += !strcmp(bench_table_cell(&t, i, (size_t)cv), "CHANGED") &&
                   !strcmp(bench_table_cell(&t, i, (size_t)cm), "flops");
    }
    ck_assert_uint_eq(slower, 1);
    ck_assert_uint_eq(changed, 1);
    bench_table_free(&t);
    bench_gate_result_free(&r);
    unlink(path);
}
END_TEST

static Suite *gate_suite(void)
{
    Suite *s = suite_create("gate");
    TCase *tc = tcase_create("verdicts");
    tcase_add_test(tc, test_judge_edges);
    tcase_add_test(tc, test_verdicts_and_status);
    tcase_add_test(tc, test_change_is_reported);
    tcase_add_test(tc, test_cannot_compare);
    tcase_add_test(tc, test_csv_reads_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(gate_suite());
}
