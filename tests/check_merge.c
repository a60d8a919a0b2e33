/* check_merge.c - `sparsebench merge OUT DIR...` (bench/cmd_merge.c) on
 * real shard runs of a small paired sweep: the shards merged have exactly
 * the unsharded run's points, with their host and shard; an absent shard
 * is reported (exit 1, the merge still written); the same shard twice
 * (overlapping rows), shards of different sweeps, a directory that is not
 * a run, an OUT that already has results, a shard resumed as another and
 * a bad --shard exit 2. */
#include "test_util.h"
#include "../bench/cli.h"
#include "../bench/row.h"
#include "../bench/table.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[64];
static const char *path_in(const char *name)
{
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", g_dir, name);
    return buf[k];
}

/* 3 comparison groups (token counts), a paired slot. */
static const char sweep_a[] = "d_model = 32\n"
                              "seq_len = 1 2 4\n"
                              "threads = 1\n"
                              "[dense]\n"
                              "label = base\n"
                              "[dense:width=48]\n"
                              "label = narrow\n"
                              "pair = base\n";
#define POINTS_A 6
static const char sweep_b[] = "d_model = 32\n"
                              "seq_len = 1\n"
                              "threads = 1\n"
                              "[dense]\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Once for the suite, in the parent: the unsharded run, shards 1..3 of 3,
 * and a run of another sweep. */
static void make_runs(void)
{
    tu_tmpdir(g_dir, sizeof(g_dir), "merge"); /* removed by this parent, not the forked tests */
    char a[256], b[256], log[256];
    snprintf(a, sizeof(a), "%s", path_in("a.sweep"));
    snprintf(b, sizeof(b), "%s", path_in("b.sweep"));
    snprintf(log, sizeof(log), "%s", path_in("log"));
    write_file(a, sweep_a);
    write_file(b, sweep_b);
    ck_assert_int_eq(tu_run_cmd(bench_cmd_sweep, log, a, "--out", path_in("full"), "--no-probe",
                                "--no-plot", NULL),
                     0);
    const char *shards[] = {"1/3", "2/3", "3/3"}, *dirs[] = {"s1", "s2", "s3"};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(tu_run_cmd(bench_cmd_sweep, log, a, "--shard", shards[i], "--out",
                                    path_in(dirs[i]), "--no-probe", "--no-plot", NULL),
                         0);
    ck_assert_int_eq(tu_run_cmd(bench_cmd_sweep, log, b, "--out", path_in("other"), "--no-probe",
                                "--no-plot", NULL),
                     0);
}

static int cmp_key(const void *x, const void *y)
{
    return strcmp(x, y);
}

/* The sorted identity keys of a results.csv. */
static size_t keys_of(const char *results, char keys[][256], struct bench_table *t)
{
    char err[512];
    int cols[32];
    ck_assert_msg(bench_table_read(results, t, err, sizeof(err)) == 0, "%s", err);
    int nc = bench_table_key_cols(t, cols, 32, err, sizeof(err));
    ck_assert_int_gt(nc, 0);
    for (size_t r = 0; r < t->nrows; r++)
        bench_table_key(t, r, cols, (size_t)nc, keys[r], 256);
    qsort(keys, t->nrows, 256, cmp_key);
    return t->nrows;
}

START_TEST(test_merge_equals_unsharded)
{
    static char k_full[16][256], k_merged[16][256];
    struct bench_table tf, tm;
    char host[64];
    ck_assert_int_eq(tu_run_cmd(bench_cmd_merge, path_in("log"), path_in("m"), path_in("s1"),
                                path_in("s2"), path_in("s3"), "--no-plot", NULL),
                     0);
    ck_assert_uint_eq(keys_of(path_in("full/results.csv"), k_full, &tf), POINTS_A);
    ck_assert_uint_eq(keys_of(path_in("m/results.csv"), k_merged, &tm), POINTS_A);
    for (size_t i = 0; i < POINTS_A; i++)
        ck_assert_str_eq(k_merged[i], k_full[i]);
    bench_row_host(host, sizeof(host));
    int ch = bench_table_col(&tm, "host"), cs = bench_table_col(&tm, "shard");
    ck_assert_int_ge(ch, 0);
    ck_assert_int_ge(cs, 0);
    for (size_t r = 0; r < tm.nrows; r++) {
        ck_assert_str_eq(bench_table_cell(&tm, r, (size_t)ch), host);
        const char *sh = bench_table_cell(&tm, r, (size_t)cs);
        ck_assert_msg(!strcmp(sh, "1/3") || !strcmp(sh, "2/3") || !strcmp(sh, "3/3"), "%s", sh);
    }
    ck_assert_str_eq(bench_table_cell(&tf, 0, (size_t)bench_table_col(&tf, "shard")), "NA");
    bench_table_free(&tf);
    bench_table_free(&tm);
    /* meta.csv: every input's keys under dir<K>. */
    struct bench_table mt;
    char err[512];
    ck_assert_msg(bench_table_read(path_in("m/meta.csv"), &mt, err, sizeof(err)) == 0, "%s", err);
    int found = 0;
    for (size_t r = 0; r < mt.nrows; r++)
        found += !strcmp(bench_table_cell(&mt, r, 0), "dir3.cpu_model") ||
                 !strcmp(bench_table_cell(&mt, r, 0), "dir2.shard");
    ck_assert_int_eq(found, 2);
    bench_table_free(&mt);
}
END_TEST

START_TEST(test_absent_shard_reported)
{
    ck_assert_int_eq(tu_run_cmd(bench_cmd_merge, path_in("log"), path_in("m2"), path_in("s1"),
                                path_in("s3"), "--no-plot", NULL),
                     BENCH_EXIT_FAIL);
    ck_assert_int_eq(access(path_in("m2/results.csv"), R_OK), 0);
}
END_TEST

/* Each of these exits 2 (tcase_add_exit_test). */
START_TEST(test_same_shard_twice)
{
    tu_run_cmd(bench_cmd_merge, path_in("log"), path_in("x1"), path_in("s1"), path_in("s1"),
               "--no-plot", NULL);
}
END_TEST

START_TEST(test_shard_overlaps_full_run)
{
    tu_run_cmd(bench_cmd_merge, path_in("log"), path_in("x2"), path_in("full"), path_in("s2"),
               "--no-plot", NULL);
}
END_TEST

START_TEST(test_different_sweeps)
{
    tu_run_cmd(bench_cmd_merge, path_in("log"), path_in("x3"), path_in("s1"), path_in("other"),
               "--no-plot", NULL);
}
END_TEST

START_TEST(test_not_a_run)
{
    tu_run_cmd(bench_cmd_merge, path_in("log"), path_in("x4"), path_in("s1"), path_in("nothing"),
               "--no-plot", NULL);
}
END_TEST

START_TEST(test_out_exists)
{
    tu_run_cmd(bench_cmd_merge, path_in("log"), path_in("full"), path_in("s1"), "--no-plot", NULL);
}
END_TEST

/* A shard resumed as another shard (or unsharded) would mix their points. */
START_TEST(test_resume_as_other_shard)
{
    tu_run_cmd(bench_cmd_sweep, path_in("log"), path_in("a.sweep"), "--shard", "2/3", "--resume",
               "--out", path_in("s1"), "--no-probe", "--no-plot", NULL);
}
END_TEST

START_TEST(test_bad_shard_spec)
{
    tu_run_cmd(bench_cmd_sweep, path_in("log"), path_in("a.sweep"), "--shard", "4/3", "--out",
               path_in("x5"), "--no-probe", "--no-plot", NULL);
}
END_TEST

static Suite *merge_suite(void)
{
    Suite *s = suite_create("merge");
    TCase *tc = tcase_create("merge");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, make_runs, NULL);
    tcase_add_test(tc, test_merge_equals_unsharded);
    tcase_add_test(tc, test_absent_shard_reported);
    tcase_add_exit_test(tc, test_same_shard_twice, BENCH_EXIT_USAGE);
    tcase_add_exit_test(tc, test_shard_overlaps_full_run, BENCH_EXIT_USAGE);
    tcase_add_exit_test(tc, test_different_sweeps, BENCH_EXIT_USAGE);
    tcase_add_exit_test(tc, test_not_a_run, BENCH_EXIT_USAGE);
    tcase_add_exit_test(tc, test_out_exists, BENCH_EXIT_USAGE);
    tcase_add_exit_test(tc, test_resume_as_other_shard, BENCH_EXIT_USAGE);
    tcase_add_exit_test(tc, test_bad_shard_spec, BENCH_EXIT_USAGE);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(merge_suite());
}
