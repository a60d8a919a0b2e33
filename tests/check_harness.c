/* check_harness.c - the measuring and sweeping harness end to end, on tiny
 * dense-only sweeps (D = 32, a few tokens, one thread, no probe):
 *  - a point that disagrees with its reference gets status=wrong and no time;
 *  - an unsupported configuration is a skipped row, not a failure;
 *  - a sweep interrupted (SIGINT after N rows, via SPARSEBENCH_STOP_AFTER),
 *    with a half-written row appended as a kill would leave it, and resumed
 *    twice yields exactly the rows of an uninterrupted sweep, none twice;
 *  - bad flags, bad files, bad knobs and an existing results.csv exit 2;
 *  - a finished sweep draws its plots with gnuplot.
 * Tests run from the repository root (make test), in Check's fork mode. */
#include "test_util.h"
#include "../bench/cli.h"
#include "../bench/measure.h"
#include "../bench/meta.h"
#include "../bench/probe.h"
#include "../bench/row.h"
#include "../bench/table.h"
#include "../bench/util.h"
#include "../impls/common/common.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char tiny_sweep[] = "# two dense slots, 12 points in all\n"
                                 "d_model = 32\n"
                                 "seq_len = 1 2 4\n"
                                 "threads = 1\n"
                                 "[dense]\n"
                                 "[dense:width=48]\n"
                                 "label = narrow\n"
                                 "scale = 1 2 3\n";
#define TINY_POINTS 12

static char g_dir[64];

/* A fresh directory for this test (each test is its own process), removed
 * when the process exits. */
static void make_dir(void)
{
    tu_tmpdir(g_dir, sizeof(g_dir), "harness");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A path inside the test directory; the 16 most recent stay valid. */
static char *path_in(const char *name)
{
    static char buf[16][256];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", g_dir, name);
    return buf[k];
}

/* bench_cmd_sweep with a NULL-terminated argument list. */
static int sweep(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return bench_cmd_sweep(argc, argv);
}

/* The sorted identity keys of every row; asserts there is no duplicate. */
static char **row_keys(const char *results, size_t *n)
{
    struct bench_table t;
    char err[512], key[512];
    int cols[32];
    ck_assert_msg(bench_table_read(results, &t, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(t.good_bytes, t.file_bytes);
    int nc = bench_table_key_cols(&t, cols, 32, err, sizeof(err));
    ck_assert_int_gt(nc, 0);
    char **keys = calloc(t.nrows + 1, sizeof(*keys));
    int status = bench_table_col(&t, "status");
    for (size_t r = 0; r < t.nrows; r++) {
        bench_table_key(&t, r, cols, (size_t)nc, key, sizeof(key));
        keys[r] = strdup(key);
        ck_assert_str_eq(bench_table_cell(&t, r, (size_t)status), "ok");
    }
    qsort(keys, t.nrows, sizeof(*keys), cmp_str);
    for (size_t r = 1; r < t.nrows; r++)
        ck_assert_msg(strcmp(keys[r - 1], keys[r]), "row %s is there twice", keys[r]);
    *n = t.nrows;
    bench_table_free(&t);
    return keys;
}

static void free_keys(char **k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(k[i]);
    free(k);
}

START_TEST(test_interrupt_then_resume)
{
    make_dir();
    const char *file = path_in("tiny.sweep");
    write_text(file, tiny_sweep);
    const char *full = path_in("full"), *cut = path_in("cut");
    const char *full_csv = path_in("full/results.csv"), *cut_csv = path_in("cut/results.csv");

    ck_assert_int_eq(sweep(file, "--out", full, "--no-probe", "--no-plot", NULL), 0);
    size_t n_full, n_cut;
    char **k_full = row_keys(full_csv, &n_full);
    ck_assert_uint_eq(n_full, TINY_POINTS);

    /* stopped by SIGINT after 5 rows: exit 130, 5 rows kept */
    setenv("SPARSEBENCH_STOP_AFTER", "5", 1);
    ck_assert_int_eq(sweep(file, "--out", cut, "--no-probe", "--no-plot", NULL),
                     BENCH_EXIT_INTERRUPTED);
    char **k = row_keys(cut_csv, &n_cut);
    ck_assert_uint_eq(n_cut, 5);
    free_keys(k, n_cut);

    /* a kill in the middle of a write: half a row, no newline */
    FILE *f = fopen(cut_csv, "a");
    fputs("narrow,dense,32,3,1,4,4,1,1,cold,1,ok,123,\"unterminated", f);
    fclose(f);

    /* resumed, stopped again after 4 more rows */
    setenv("SPARSEBENCH_STOP_AFTER", "4", 1);
    ck_assert_int_eq(sweep(file, "--out", cut, "--resume", "--no-probe", "--no-plot", NULL),
                     BENCH_EXIT_INTERRUPTED);
    k = row_keys(cut_csv, &n_cut);
    ck_assert_uint_eq(n_cut, 9);
    free_keys(k, n_cut);

    /* resumed to the end: exactly the full sweep's points */
    unsetenv("SPARSEBENCH_STOP_AFTER");
    ck_assert_int_eq(sweep(file, "--out", cut, "--resume", "--no-probe", "--no-plot", NULL), 0);
    k = row_keys(cut_csv, &n_cut);
    ck_assert_uint_eq(n_cut, n_full);
    for (size_t i = 0; i < n_full; i++)
        ck_assert_str_eq(k[i], k_full[i]);
    free_keys(k, n_cut);

    /* a finished run resumed runs nothing and adds nothing */
    ck_assert_int_eq(sweep(file, "--out", cut, "--resume", "--no-probe", "--no-plot", NULL), 0);
    k = row_keys(cut_csv, &n_cut);
    ck_assert_uint_eq(n_cut, n_full);
    free_keys(k, n_cut);
    free_keys(k_full, n_full);

    struct bench_meta m = {0};
    char err[512];
    ck_assert_int_eq(bench_meta_read(&m, path_in("cut/meta.csv"), err, sizeof(err)), 0);
    ck_assert_str_eq(bench_meta_get(&m, "status"), "complete");
    ck_assert_str_eq(bench_meta_get(&m, "sessions"), "4");
    ck_assert_str_eq(bench_meta_get(&m, "points_done"), "12");
    ck_assert_ptr_nonnull(bench_meta_get(&m, "git_revision"));
    ck_assert_ptr_nonnull(bench_meta_get(&m, "steal_pct"));
    bench_meta_free(&m);
}
END_TEST

START_TEST(test_resume_with_other_threads_refused)
{
    make_dir();
    const char *file = path_in("tiny.sweep");
    write_text(file, tiny_sweep);
    setenv("SPARSEBENCH_STOP_AFTER", "1", 1);
    ck_assert_int_eq(
        sweep(file, "--out", path_in("r"), "--threads", "1", "--no-probe", "--no-plot", NULL),
        BENCH_EXIT_INTERRUPTED);
    unsetenv("SPARSEBENCH_STOP_AFTER");
    sweep(file, "--out", path_in("r"), "--resume", "--no-probe", "--no-plot", NULL); /* exits 2 */
}
END_TEST

START_TEST(test_existing_results_refused)
{
    make_dir();
    const char *file = path_in("tiny.sweep");
    write_text(file, tiny_sweep);
    ck_assert_int_eq(
        sweep(file, "--out", path_in("r"), "--filter", "dense", "--no-probe", "--no-plot", NULL),
        0);
    sweep(file, "--out", path_in("r"), "--no-probe", "--no-plot", NULL); /* exits 2 */
}
END_TEST

START_TEST(test_bad_flag_exits_2)
{
    make_dir();
    const char *file = path_in("tiny.sweep");
    write_text(file, tiny_sweep);
    sweep(file, "--threads", "0", NULL);
}
END_TEST

START_TEST(test_bad_file_exits_2)
{
    make_dir();
    const char *file = path_in("bad.sweep");
    write_text(file, "[dense]\nscale = -1\n");
    sweep(file, "--dry-run", NULL);
}
END_TEST

START_TEST(test_bad_knob_exits_2)
{
    make_dir();
    const char *file = path_in("knob.sweep");
    write_text(file, "d_model = 32\n[dense:widht=3]\n");
    sweep(file, "--dry-run", NULL);
}
END_TEST

START_TEST(test_dry_run_writes_nothing)
{
    make_dir();
    const char *file = path_in("tiny.sweep");
    write_text(file, tiny_sweep);
    ck_assert_int_eq(sweep(file, "--dry-run", "--out", path_in("nothing"), NULL), 0);
    struct stat st;
    ck_assert_int_ne(stat(path_in("nothing"), &st), 0);
}
END_TEST

/* The dry run asks each layer's check op what it would do, without
 * building it: a memory layer at scale 1 is listed as skipped with the
 * layer's own reason, the others with the memory they would allocate. */
START_TEST(test_dry_run_checks_layers)
{
    make_dir();
    const char *file = path_in("skip.sweep");
    write_text(file, "d_model = 32\nseq_len = 1 4\nthreads = 1\n[dense]\n[pkm]\nscale = 1\n");
    const char *out = path_in("dry.txt");
    ck_assert_ptr_nonnull(freopen(out, "w", stdout));
    ck_assert_int_eq(sweep(file, "--dry-run", NULL), 0);
    fflush(stdout);
    size_t len;
    char *text = bench_read_file(out, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "skip: pkm: scale 1 leaves no memory") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "checked: 2 points run, 2 skipped, 0 in error") != NULL, "%s", text);
    free(text);
}
END_TEST

START_TEST(test_sweep_draws_plots)
{
    make_dir();
    const char *file = path_in("tiny.sweep");
    write_text(file, tiny_sweep);
    ck_assert_int_eq(sweep(file, "--out", path_in("p"), "--no-probe", NULL), 0);
    const char *pngs[] = {"latency_vs_tokens.png",   "bytes_vs_tokens.png",
                          "latency_vs_scale.png",    "speedup_vs_dense.png",
                          "bandwidth_vs_tokens.png", "roofline.png"};
    char name[64];
    for (size_t i = 0; i < sizeof(pngs) / sizeof(pngs[0]); i++) {
        struct stat st;
        snprintf(name, sizeof(name), "p/%s", pngs[i]);
        ck_assert_msg(stat(path_in(name), &st) == 0 && st.st_size > 1000, "%s missing or empty",
                      name);
    }
    struct stat st;
    ck_assert_int_eq(stat(path_in("p/meta.csv"), &st), 0);
    ck_assert_int_eq(stat(path_in("p/sweep.sweep"), &st), 0);
    /* no slot was paired: no paired_speedup.png */
    ck_assert_int_ne(stat(path_in("p/paired_speedup.png"), &st), 0);
}
END_TEST

/* Rows of a results.csv text whose line starts with prefix; each must
 * contain every one of want[0..n). */
static size_t rows_with(const char *csv, const char *prefix, const char *const *want, size_t n)
{
    size_t rows = 0, pl = strlen(prefix);
    for (const char *q = csv; q && *q; q = strchr(q, '\n'), q = q ? q + 1 : NULL) {
        if (strncmp(q, prefix, pl) != 0)
            continue;
        const char *eol = strchr(q, '\n');
        char row[4096];
        snprintf(row, sizeof(row), "%.*s", (int)(eol ? eol - q : (long)strlen(q)), q);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(strstr(row, want[i]) != NULL, "row lacks '%s': %s", want[i], row);
        rows++;
    }
    return rows;
}

/* The precision axis as a sweep states it (bench/sweeps/precision.sweep): a
 * bf16 slot paired with its f32 one; its rows carry dtype=bf16 in knobs and
 * their partner, and paired_speedup.png draws their ratios. */
START_TEST(test_sweep_precision_pairs)
{
    make_dir();
    const char *file = path_in("prec.sweep");
    write_text(file, "d_model = 32\nseq_len = 1 4\nthreads = 1\nrounds = 11\nround_ms = 1\n"
                     "[dense]\n[dense:dtype=bf16]\nlabel = dense-bf16\npair = dense\n");
    ck_assert_int_eq(sweep(file, "--out", path_in("p"), "--no-probe", NULL), 0);
    struct stat st;
    ck_assert_msg(stat(path_in("p/paired_speedup.png"), &st) == 0 && st.st_size > 1000,
                  "paired_speedup.png missing or empty");
    size_t len;
    char *csv = bench_read_file(path_in("p/results.csv"), &len);
    ck_assert_ptr_nonnull(csv);
    static const char *const narrow[] = {"dense-bf16,dense,32,", ",ok,", ",orderstat,",
                                         "dtype=bf16"};
    static const char *const wide[] = {"dense,dense,32,", ",ok,", "dtype=f32"};
    ck_assert_uint_eq(rows_with(csv, "dense-bf16,", narrow, 4), 2);
    ck_assert_uint_eq(rows_with(csv, "dense,", wide, 3), 2);
    free(csv);
}
END_TEST

/* ---- single points through fake layers (tu_broken_ops: test_util.c) ---- */

static int picky_create(const struct layer_config *cfg, struct layer **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    snprintf(err, errlen, "picky: scale %u leaves no memory; use scale >= 2", cfg->scale);
    return LAYER_EUNSUPPORTED;
}
static const struct layer_ops picky_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "picky",
    .summary = "refuses everything",
    .create = picky_create,
};

START_TEST(test_wrong_point_gets_no_time)
{
    struct bench_opts o;
    struct bench_row row;
    char err[512] = "";
    struct layer_config cfg = {.d_model = 32, .scale = 1, .seed = 1, .threads = 1};
    bench_opts_default(&o);
    int rc = bench_run_point(&tu_broken_ops, &cfg, 1, 4, &o, &row, err, sizeof(err));
    ck_assert_int_eq(rc, BENCH_WRONG);
    ck_assert_str_eq(row.status, "wrong");
    ck_assert(isnan(row.latency_us_median));
    ck_assert(isnan(row.gflops));
    ck_assert_uint_eq(row.rounds, BENCH_NA);
    ck_assert_double_ge(row.max_abs_err, 0.99);
    ck_assert_msg(strstr(row.note, "disagrees") != NULL, "note: %s", row.note);
}
END_TEST

START_TEST(test_unsupported_is_skipped)
{
    struct bench_opts o;
    struct bench_row row;
    char err[512] = "";
    struct layer_config cfg = {.d_model = 32, .scale = 1, .seed = 1, .threads = 1};
    bench_opts_default(&o);
    int rc = bench_run_point(&picky_ops, &cfg, 1, 4, &o, &row, err, sizeof(err));
    ck_assert_int_eq(rc, LAYER_EUNSUPPORTED);
    ck_assert_str_eq(row.status, "skipped");
    ck_assert_msg(strstr(row.note, "scale >= 2") != NULL, "note: %s", row.note);
    ck_assert_uint_eq(row.params_total, BENCH_NA);
}
END_TEST

/* --inputs repeat: one row of the random pool, everywhere; random: distinct rows. */
START_TEST(test_tokens_repeat)
{
    struct bench_tokens rnd, rep;
    const size_t n = 50, D = 19;
    ck_assert_int_eq(bench_tokens_create(&rnd, n, D, 3, BENCH_INPUTS_RANDOM), 0);
    ck_assert_int_eq(bench_tokens_create(&rep, n, D, 3, BENCH_INPUTS_REPEAT), 0);
    ck_assert(memcmp(rnd.x, rep.x, D * sizeof(float)) == 0);
    for (size_t t = 1; t < n; t++) {
        ck_assert(memcmp(rep.x + t * D, rep.x, D * sizeof(float)) == 0);
        ck_assert(memcmp(rnd.x + t * D, rnd.x, D * sizeof(float)) != 0);
    }
    ck_assert_str_eq(bench_inputs_name(BENCH_INPUTS_REPEAT), "repeat");
    ck_assert_int_eq(bench_inputs_parse("repeat"), BENCH_INPUTS_REPEAT);
    ck_assert_int_eq(bench_inputs_parse("random"), BENCH_INPUTS_RANDOM);
    bench_tokens_destroy(&rnd);
    bench_tokens_destroy(&rep);
}
END_TEST

/* A point timed on one repeated row says so in its inputs column, and an
 * FFF tree then walks one path for the whole batch. */
START_TEST(test_repeat_point)
{
    struct bench_opts o;
    struct bench_row row;
    char err[512] = "";
    struct layer_config cfg = {
        .d_model = 32, .scale = 1, .seed = 1, .threads = 1, .knobs = "trees=1,depth=6"};
    bench_opts_default(&o);
    o.min_round_s = 1e-4;
    ck_assert_int_eq(bench_run_point(layer_find("fff"), &cfg, 1, 16, &o, &row, err, sizeof(err)),
                     0);
    ck_assert_str_eq(row.inputs, "random");
    ck_assert_uint_gt(row.st.units_touched, 7);
    o.inputs = BENCH_INPUTS_REPEAT;
    ck_assert_int_eq(bench_run_point(layer_find("fff"), &cfg, 1, 16, &o, &row, err, sizeof(err)),
                     0);
    ck_assert_str_eq(row.status, "ok");
    ck_assert_str_eq(row.inputs, "repeat");
    ck_assert_uint_eq(row.st.units_touched, 7); /* depth + 1 */
}
END_TEST

START_TEST(test_bad_inputs_exits_2)
{
    char *argv[] = {"run", "--impl", "dense", "--inputs", "same", NULL};
    bench_cmd_run(5, argv);
}
END_TEST

START_TEST(test_ok_point_columns)
{
    struct bench_opts o;
    struct bench_row row;
    char err[512] = "";
    struct layer_config cfg = {.d_model = 32, .scale = 1, .seed = 1, .threads = 1};
    bench_opts_default(&o);
    o.roofs = (struct bench_roofs){100.0, 10.0, 2.0};
    int rc = bench_run_point(layer_find("dense"), &cfg, 3, 2, &o, &row, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(row.status, "ok");
    ck_assert_uint_eq(row.tokens, 6);
    ck_assert_uint_eq(row.rounds, 11);
    ck_assert_uint_eq(row.bytes, row.st.dense_bytes + row.st.sparse_bytes);
    ck_assert_double_eq_tol(row.intensity, (double)row.st.flops / (double)row.bytes, 1e-9);
    /* dense gathers nothing: the classic roofline against triad, gather unused */
    double roof = fmin(100.0, row.intensity * 10.0);
    ck_assert_double_eq_tol(row.roofline_frac, row.gflops / roof, 1e-9);
    ck_assert_str_eq(row.roof, roof < 100.0 ? "triad" : "sgemm");
    ck_assert_str_eq(row.pair_with, "NA");
    ck_assert_str_eq(row.inputs, "random");
    ck_assert(isnan(row.pair_ratio));
    ck_assert(row.latency_us_min <= row.latency_us_median);
    ck_assert(row.latency_us_median <= row.latency_us_p90);
    ck_assert(row.noisy == (row.err_pct >= 5.0));
    ck_assert(row.wall_s > 0 && row.create_s > 0);
    ck_assert_str_eq(row.knobs, "width=128,bias=1,weights=random,dtype=f32");
}
END_TEST

/* PKM's values are rows of D floats (128 B at D = 32): gathered bytes. At
 * 8 tokens with roofs of 100 GFLOP/s, 10 GB/s triad and 2 GB/s gather, the
 * fastest forward the roofs allow is max(flops / 100e9, dense_bytes / 10e9
 * + sparse_bytes / 2e9), and roofline_frac is that over the latency. */
START_TEST(test_gather_roof)
{
    struct bench_opts o;
    struct bench_row row;
    char err[512] = "";
    struct layer_config cfg = {.d_model = 64, .scale = 4, .seed = 1, .threads = 1};
    bench_opts_default(&o);
    o.roofs = (struct bench_roofs){100.0, 10.0, 2.0};
    int rc = bench_run_point(layer_find("pkm"), &cfg, 1, 8, &o, &row, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_gt(row.st.sparse_bytes, 0);
    ck_assert_uint_lt(row.st.sparse_bytes / row.st.units_touched, 64 << 10);
    double t_mem = (double)row.st.dense_bytes / 10e9 + (double)row.st.sparse_bytes / 2e9;
    double t_roof = fmax((double)row.st.flops / 100e9, t_mem);
    ck_assert_double_eq_tol(row.roofline_frac, t_roof / (row.latency_us_median * 1e-6), 1e-9);
    ck_assert_str_eq(row.roof, t_roof > t_mem                                  ? "sgemm"
                               : (double)row.st.sparse_bytes / 2e9 > t_mem / 2 ? "gather"
                                                                               : "triad");
    /* without a gather figure the gathered bytes are charged at triad speed */
    o.roofs.gather_gbps = 0;
    rc = bench_run_point(layer_find("pkm"), &cfg, 1, 8, &o, &row, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    t_roof = fmax((double)row.st.flops / 100e9, (double)row.bytes / 10e9);
    ck_assert_double_eq_tol(row.roofline_frac, t_roof / (row.latency_us_median * 1e-6), 1e-9);
    ck_assert(strcmp(row.roof, "gather"));
}
END_TEST

static Suite *harness_suite(void)
{
    Suite *s = suite_create("harness");
    TCase *pt = tcase_create("points");
    tcase_set_timeout(pt, 60);
    tcase_add_test(pt, test_wrong_point_gets_no_time);
    tcase_add_test(pt, test_unsupported_is_skipped);
    tcase_add_test(pt, test_ok_point_columns);
    tcase_add_test(pt, test_tokens_repeat);
    tcase_add_test(pt, test_repeat_point);
    tcase_add_exit_test(pt, test_bad_inputs_exits_2, BENCH_EXIT_USAGE);
    tcase_add_test(pt, test_gather_roof);
    suite_add_tcase(s, pt);

    TCase *sw = tcase_create("sweeps");
    tcase_set_timeout(sw, 120);
    tcase_add_test(sw, test_interrupt_then_resume);
    tcase_add_exit_test(sw, test_resume_with_other_threads_refused, BENCH_EXIT_USAGE);
    tcase_add_exit_test(sw, test_existing_results_refused, BENCH_EXIT_USAGE);
    tcase_add_exit_test(sw, test_bad_flag_exits_2, BENCH_EXIT_USAGE);
    tcase_add_exit_test(sw, test_bad_file_exits_2, BENCH_EXIT_USAGE);
    tcase_add_exit_test(sw, test_bad_knob_exits_2, BENCH_EXIT_USAGE);
    tcase_add_test(sw, test_dry_run_writes_nothing);
    tcase_add_test(sw, test_dry_run_checks_layers);
    tcase_add_test(sw, test_sweep_draws_plots);
    tcase_add_test(sw, test_sweep_precision_pairs);
    suite_add_tcase(s, sw);
    return s;
}

int main(void)
{
    return tu_run_suite(harness_suite());
}
