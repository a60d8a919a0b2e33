/* check_csv.c - the results CSV: awkward strings written and read back
 * through libcsv, NA for missing numbers, a half-written last row, strict
 * parse errors with line numbers, meta.csv round trips, and the rule that
 * reports/SCHEMA.md documents exactly the columns the code writes. */
#include "test_util.h"
#include "../bench/meta.h"
#include "../bench/row.h"
#include "../bench/table.h"
#include "../bench/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const awkward[] = {
    "plain",
    "with,comma",
    "say \"hi\"",
    "two\nlines",
    "crlf\r\ninside",
    " leading space",
    "trailing space ",
    "",
    ",,,",
    "\"",
    "\"quoted, then\nnewline\"",
    "tab\tinside",
};
#define NAWK (sizeof(awkward) / sizeof(awkward[0]))

/* A file of `rows` rows, each every awkward string, header h0..hN. */
static char *write_awkward(size_t rows, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < NAWK; i++)
        fprintf(f, "%sh%zu", i ? "," : "", i);
    fputc('\n', f);
    for (size_t r = 0; r < rows; r++) {
        for (size_t i = 0; i < NAWK; i++) {
            if (i)
                fputc(',', f);
            ck_assert_int_eq(bench_csv_write_field(f, awkward[(i + r) % NAWK]), 0);
        }
        fputc('\n', f);
    }
    fclose(f);
    return buf;
}

START_TEST(test_awkward_strings_round_trip)
{
    size_t len;
    char *text = write_awkward(3, &len);
    struct bench_table t;
    char err[512] = "";
    int rc = bench_table_parse("awkward.csv", text, len, &t, err, sizeof(err));
    ck_assert_msg(rc == 0, "parse failed: %s", err);
    ck_assert_uint_eq(t.ncols, NAWK);
    ck_assert_uint_eq(t.nrows, 3);
    ck_assert_uint_eq(t.good_bytes, len);
    for (size_t r = 0; r < 3; r++)
        for (size_t i = 0; i < NAWK; i++)
            ck_assert_msg(!strcmp(bench_table_cell(&t, r, i), awkward[(i + r) % NAWK]),
                          "row %zu col %zu: wrote '%s', read '%s'", r, i, awkward[(i + r) % NAWK],
                          bench_table_cell(&t, r, i));
    bench_table_free(&t);
    free(text);
}
END_TEST

START_TEST(test_plain_fields_stay_unquoted)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bench_csv_write_field(f, "dense");
    fputc('|', f);
    bench_csv_write_field(f, "a,b");
    fclose(f);
    ck_assert_str_eq(buf, "dense|\"a,b\"");
    free(buf);
}
END_TEST

/* A cut anywhere inside the last row leaves the earlier rows and reports
 * where the good part ends. */
START_TEST(test_partial_last_row_dropped)
{
    size_t len;
    char *text = write_awkward(2, &len);
    size_t full = len;
    char *more = write_awkward(3, &len); /* the same plus one more row */
    ck_assert_uint_gt(len, full);
    for (size_t cut = full + 1; cut < len; cut++) {
        struct bench_table t;
        char err[512] = "";
        int rc = bench_table_parse("cut.csv", more, cut, &t, err, sizeof(err));
        ck_assert_msg(rc == 0, "cut at %zu of %zu: %s", cut, len, err);
        ck_assert_msg(t.nrows == 2, "cut at %zu: %zu rows", cut, t.nrows);
        ck_assert_uint_eq(t.good_bytes, full);
        ck_assert_uint_eq(t.file_bytes, cut);
        bench_table_free(&t);
    }
    free(text);
    free(more);
}
END_TEST

START_TEST(test_errors_name_the_line)
{
    struct bench_table t;
    char err[512];
    const char *short_row = "a,b,c\n1,2,3\n4,5\n";
    ck_assert_int_eq(bench_table_parse("f.csv", short_row, strlen(short_row), &t, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "f.csv:3:") && strstr(err, "2 fields"), "message: %s", err);
    const char *bad_quote = "a,b\n1,\"x\"y\n";
    ck_assert_int_eq(bench_table_parse("g.csv", bad_quote, strlen(bad_quote), &t, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "g.csv:2:"), "message: %s", err);
    ck_assert_int_eq(bench_table_parse("h.csv", "", 0, &t, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "no header"), "message: %s", err);
}
END_TEST

static void sample_row(struct bench_row *row)
{
    const struct layer_ops *ops = layer_find("dense");
    struct layer_config cfg = {
        .d_model = 64, .scale = 2, .seed = 9, .threads = 1, .knobs = "width=100,bias=1"};
    bench_row_init(row, NULL, ops, &cfg, 2, 8, 1, 3);
    snprintf(row->status, sizeof(row->status), "ok");
    snprintf(row->note, sizeof(row->note), "a note, with \"quotes\"");
    row->st.flops = 12345;
    row->latency_us_median = 1.5;
}

/* One row written with the header, and read back into t. */
static void written_row(const struct bench_row *row, struct bench_table *t)
{
    char *buf = NULL, err[512];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(bench_csv_write_header(f), 0);
    ck_assert_int_eq(bench_csv_write_row(f, row), 0);
    fclose(f);
    ck_assert_msg(bench_table_parse("row.csv", buf, len, t, err, sizeof(err)) == 0, "%s", err);
    free(buf);
}

/* Row 0 of t has each expect[i][1] in column expect[i][0]. */
static void expect_cells(const struct bench_table *t, const char *const (*expect)[2], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int c = bench_table_col(t, expect[i][0]);
        ck_assert_msg(c >= 0, "no column %s", expect[i][0]);
        ck_assert_msg(!strcmp(bench_table_cell(t, 0, (size_t)c), expect[i][1]),
                      "%s: expected '%s', got '%s'", expect[i][0], expect[i][1],
                      bench_table_cell(t, 0, (size_t)c));
    }
}

START_TEST(test_row_round_trip_and_na)
{
    struct bench_row row;
    sample_row(&row);
    struct bench_table t;
    written_row(&row, &t);
    ck_assert_uint_eq(t.ncols, bench_csv_ncols());
    ck_assert_uint_eq(t.nrows, 1);
    const char *const expect[][2] = {
        {"slot", "dense:width=100;bias=1"}, /* commas never reach the slot column */
        {"impl", "dense"},
        {"tokens", "16"},
        {"batch", "2"},
        {"seq_len", "8"},
        {"repeat", "3"},
        {"knobs", "width=100,bias=1"},
        {"note", "a note, with \"quotes\""},
        {"flops", "12345"},
        {"latency_us_median", "1.5"},
        {"params_total", "NA"}, /* missing integers are NA, never 0 */
        {"sparse_bytes", "NA"},
        {"roofline_frac", "NA"},
        {"recall", "NA"},
        {"counter_source", "none"},
        {"roof", "NA"},      /* no probe */
        {"pair_with", "NA"}, /* measured alone: every pair column NA */
        {"pair_scale", "NA"},
        {"pair_n", "NA"},
        {"pair_ratio", "NA"},
        {"pair_ratio_lo", "NA"},
        {"pair_ratio_hi", "NA"},
        {"pair_ci_method", "NA"},
        {"pair_ci_coverage", "NA"},
        {"pair_latency_us_median", "NA"},
    };
    expect_cells(&t, expect, sizeof(expect) / sizeof(expect[0]));
    bench_table_free(&t);
}
END_TEST

/* A paired row carries its partner, the ratio, its interval and method. */
START_TEST(test_paired_row_columns)
{
    struct bench_row row;
    sample_row(&row);
    snprintf(row.pair_with, sizeof(row.pair_with), "moe-2in34");
    snprintf(row.pair_ci_method, sizeof(row.pair_ci_method), "orderstat");
    snprintf(row.roof, sizeof(row.roof), "gather");
    row.pair_scale = 12;
    row.pair_n = 21;
    row.pair_ratio = 2.5;
    row.pair_ratio_lo = 2.25;
    row.pair_ratio_hi = 2.75;
    row.pair_ci_coverage = 0.973396;
    row.pair_latency_us_median = 7750.5;
    struct bench_table t;
    char err[512];
    written_row(&row, &t);
    const char *const expect[][2] = {
        {"pair_with", "moe-2in34"},
        {"pair_scale", "12"},
        {"pair_n", "21"},
        {"pair_ratio", "2.5"},
        {"pair_ratio_lo", "2.25"},
        {"pair_ratio_hi", "2.75"},
        {"pair_ci_method", "orderstat"},
        {"pair_ci_coverage", "0.973396"},
        {"pair_latency_us_median", "7750.5"},
        {"roof", "gather"},
    };
    expect_cells(&t, expect, sizeof(expect) / sizeof(expect[0]));
    /* pair_with is the last key column */
    int cols[32];
    char key[512];
    int n = bench_table_key_cols(&t, cols, 32, err, sizeof(err));
    ck_assert_int_gt(n, 0);
    bench_table_key(&t, 0, cols, (size_t)n, key, sizeof(key));
    ck_assert_msg(strstr(key, "|moe-2in34") && !strcmp(strrchr(key, '|'), "|moe-2in34"), "%s", key);
    bench_table_free(&t);
}
END_TEST

/* A results table written before pairing and input modes existed has no
 * pair_with and no inputs column: its keys still work, with NA for
 * pair_with (a point measured alone) and random for inputs (all there was),
 * so --resume on it skips the finished points. */
START_TEST(test_key_without_pair_column)
{
    static const char text[] = "slot,d_model,scale,batch,seq_len,threads,seed,cache,repeat\n"
                               "dense,768,1,1,4,2,1,cold,1\n";
    struct bench_table t;
    char err[256], key[256];
    int cols[32];
    ck_assert_int_eq(bench_table_parse("old.csv", text, sizeof(text) - 1, &t, err, sizeof(err)), 0);
    int n = bench_table_key_cols(&t, cols, 32, err, sizeof(err));
    ck_assert_msg(n == 11, "%d: %s", n, err);
    ck_assert_int_eq(cols[8], -1);
    ck_assert_int_eq(cols[10], -1);
    bench_table_key(&t, 0, cols, (size_t)n, key, sizeof(key));
    ck_assert_str_eq(key, "dense|768|1|1|4|2|1|cold|random|1|NA");
    /* a table that has the column keys on its cells */
    static const char with[] = "slot,d_model,scale,batch,seq_len,threads,seed,cache,inputs,repeat\n"
                               "dense,768,1,1,4,2,1,cold,repeat,1\n";
    bench_table_free(&t);
    ck_assert_int_eq(bench_table_parse("new.csv", with, sizeof(with) - 1, &t, err, sizeof(err)), 0);
    n = bench_table_key_cols(&t, cols, 32, err, sizeof(err));
    bench_table_key(&t, 0, cols, (size_t)n, key, sizeof(key));
    ck_assert_str_eq(key, "dense|768|1|1|4|2|1|cold|repeat|1|NA");
    /* a required key column missing is still an error */
    static const char bad[] = "slot,d_model\ndense,768\n";
    bench_table_free(&t);
    ck_assert_int_eq(bench_table_parse("bad.csv", bad, sizeof(bad) - 1, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(bench_table_key_cols(&t, cols, 32, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "scale"));
    bench_table_free(&t);
}
END_TEST

/* awk -F, and gnuplot split on bare commas: every column that may hold one
 * must come after all the others. */
START_TEST(test_text_columns_last)
{
    int seen_text = 0;
    for (size_t i = 0; i < bench_csv_ncols(); i++) {
        const struct bench_col *c = bench_csv_col(i);
        if (c->text)
            seen_text = 1;
        else
            ck_assert_msg(!seen_text, "column %s comes after a free-text column", c->name);
        ck_assert_int_eq(bench_csv_col_index(c->name), (int)i);
    }
    ck_assert(seen_text);
    ck_assert_int_eq(bench_csv_col_index("no_such_column"), -1);
}
END_TEST

START_TEST(test_identity_columns)
{
    const char *want[] = {"slot", "d_model", "scale",  "batch",  "seq_len",  "threads",
                          "seed", "cache",   "inputs", "repeat", "pair_with"};
    size_t k = 0;
    for (size_t i = 0; i < bench_csv_ncols(); i++) {
        const struct bench_col *c = bench_csv_col(i);
        if (!c->identity)
            continue;
        ck_assert_uint_lt(k, sizeof(want) / sizeof(want[0]));
        ck_assert_str_eq(c->name, want[k]);
        k++;
    }
    ck_assert_uint_eq(k, sizeof(want) / sizeof(want[0]));
}
END_TEST

/* Every "| `name` | unit | ..." line of reports/SCHEMA.md's results.csv
 * table, in order, must be exactly the code's columns and units. */
START_TEST(test_schema_md_matches_code)
{
    size_t len;
    char *text = bench_read_file("reports/SCHEMA.md", &len);
    ck_assert_msg(text != NULL, "reports/SCHEMA.md not readable (run from the repository root)");
    const char *start = strstr(text, "<!-- columns:begin -->");
    const char *end = strstr(text, "<!-- columns:end -->");
    ck_assert_msg(start && end && start < end, "SCHEMA.md has no columns:begin/end markers");
    size_t k = 0;
    for (const char *p = start; p && p < end; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "| `", 3))
            continue;
        char name[64], unit[32];
        ck_assert_msg(sscanf(p, "| `%63[^`]` | %31[^| ] |", name, unit) == 2,
                      "SCHEMA.md: cannot read the line '%.60s'", p);
        ck_assert_msg(k < bench_csv_ncols(), "SCHEMA.md documents an extra column %s", name);
        const struct bench_col *c = bench_csv_col(k);
        ck_assert_msg(!strcmp(name, c->name), "SCHEMA.md column %zu is %s, the code writes %s", k,
                      name, c->name);
        ck_assert_msg(!strcmp(unit, c->unit[0] ? c->unit : "-"),
                      "SCHEMA.md: %s has unit '%s', the code says '%s'", name, unit,
                      c->unit[0] ? c->unit : "-");
        k++;
    }
    ck_assert_msg(k == bench_csv_ncols(), "SCHEMA.md documents %zu columns, the code writes %zu", k,
                  bench_csv_ncols());
    free(text);
}
END_TEST

START_TEST(test_meta_round_trip)
{
    char dir[] = "/tmp/sb_meta_XXXXXX", path[128], err[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/meta.csv", dir);
    struct bench_meta m = {0}, back = {0};
    bench_meta_set(&m, "plain", "%d", 42);
    bench_meta_set(&m, "awkward", "%s", "a,b \"c\"\nd");
    bench_meta_set(&m, "plain", "%d", 43); /* replaces */
    ck_assert_int_eq(bench_meta_write(&m, path, err, sizeof(err)), 0);
    ck_assert_int_eq(bench_meta_read(&back, path, err, sizeof(err)), 0);
    ck_assert_uint_eq(back.n, 2);
    ck_assert_str_eq(bench_meta_get(&back, "plain"), "43");
    ck_assert_str_eq(bench_meta_get(&back, "awkward"), "a,b \"c\"\nd");
    ck_assert_ptr_null(bench_meta_get(&back, "missing"));
    bench_meta_free(&m);
    bench_meta_free(&back);
    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_awkward_strings_round_trip);
    tcase_add_test(tc, test_plain_fields_stay_unquoted);
    tcase_add_test(tc, test_partial_last_row_dropped);
    tcase_add_test(tc, test_errors_name_the_line);
    tcase_add_test(tc, test_row_round_trip_and_na);
    tcase_add_test(tc, test_paired_row_columns);
    tcase_add_test(tc, test_key_without_pair_column);
    tcase_add_test(tc, test_text_columns_last);
    tcase_add_test(tc, test_identity_columns);
    tcase_add_test(tc, test_schema_md_matches_code);
    tcase_add_test(tc, test_meta_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(csv_suite());
}
