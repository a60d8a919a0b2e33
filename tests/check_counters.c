/* check_counters.c - the counter columns:
 *  - the callgrind parser on saved valgrind 3.19 outputs (tests/data/callgrind/,
 *    made by fixture.c and two small programs): `totals:` with omitted trailing
 *    zeros, not `summary:`; several dumps in one combined file with the header
 *    carried over; write-backs in dram_bytes_est; an unpinned LL and missing
 *    write-back events refused; cut-short and foreign files refused;
 *  - the PAPI probe never crashes and never writes a silent zero: on a machine
 *    without hardware counters (this VM) it says why and keeps the software
 *    columns; an event that does not exist is NA with its name in the reason;
 *  - callgrind end to end on a tiny dense layer (D = 32): two runs of the same
 *    point give identical counts, a cold forward misses on every parameter line
 *    and a warm one on almost none, and a sweep fills counter_source and meta;
 *  - --counters / `counters =` parsing and auto's gate-size rule.
 * Runs from the repository root (make test), which also builds
 * build/callgrind/sparsebench, the program valgrind runs. */
#include "test_util.h"
#include "../bench/cli.h"
#include "../bench/counters/callgrind.h"
#include "../bench/counters/cgparse.h"
#include "../bench/counters/counters.h"
#include "../bench/counters/papi.h"
#include "../bench/measure.h"
#include "../bench/meta.h"
#include "../bench/row.h"
#include "../bench/sweep/sweep.h"
#include "../bench/table.h"
#include "../bench/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DATA "tests/data/callgrind/"

static char *fixture(const char *name, size_t *len)
{
    char *text = bench_read_file(name, len);
    ck_assert_msg(text != NULL, "%s not readable (run from the repository root)", name);
    return text;
}

/* ---- the parser ---- */

/* summary: 81935 ..., totals: 81924 16384 1 1 16384 1 1 (7 of 12 events) */
START_TEST(test_parse_one_dump_pads_totals)
{
    size_t len, n;
    char *text = fixture(DATA "one_dump.out", &len), err[512];
    struct bench_cg_dump d[2];
    ck_assert_msg(bench_cg_parse("one", text, len, d, 2, &n, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(n, 1);
    ck_assert(d[0].client_request);
    ck_assert_str_eq(d[0].label, "m");
    ck_assert_str_eq(d[0].ll, BENCH_CG_LL_DESC);
    ck_assert_str_eq(d[0].i1, BENCH_CG_L1_DESC);
    ck_assert_uint_eq(d[0].n_events, 12);
    uint64_t v;
    ck_assert_int_eq(bench_cg_event(&d[0], "Ir", &v), 0);
    ck_assert_uint_eq(v, 81924); /* totals, not summary's 81935 */
    ck_assert_int_eq(bench_cg_event(&d[0], "ILmr", &v), 0);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(bench_cg_event(&d[0], "DLmr", &v), 0); /* omitted: zero */
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(bench_cg_event(&d[0], "DLdmw", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(bench_cg_event(&d[0], "Bc", &v), -1);
    struct bench_cg_counts c;
    ck_assert_int_eq(bench_cg_counts(&d[0], &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.instructions, 81924);
    ck_assert_uint_eq(c.l1_misses, 1 + 16384 + 1);
    ck_assert_uint_eq(c.ll_misses, 1);
    ck_assert_uint_eq(c.dram_bytes_est, 64);
    free(text);
}
END_TEST

/* Three labelled dumps and the program's end in one --combine-dumps file;
 * only the first part has the cache lines. */
START_TEST(test_parse_combined_dumps)
{
    size_t len, n;
    char *text = fixture(DATA "combined.out", &len), err[512];
    struct bench_cg_dump d[8];
    ck_assert_msg(bench_cg_parse("combined", text, len, d, 8, &n, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_uint_eq(n, 4);
    const char *labels[] = {"point 0 read 1 MiB", "point 1 read 4 MiB", "point 2 write 16 MiB",
                            "Program termination"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_str_eq(d[i].label, labels[i]);
        ck_assert_int_eq(d[i].client_request, i < 3);
        ck_assert_str_eq(d[i].ll, BENCH_CG_LL_DESC); /* carried over from part 1 */
        ck_assert_uint_eq(d[i].n_events, 12);
    }
    struct bench_cg_counts c;
    /* totals: 81927 16384 1 1 16383 0 1 16383 */
    ck_assert_int_eq(bench_cg_counts(&d[0], &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.instructions, 81927);
    ck_assert_uint_eq(c.ll_misses, 1 + 16383);
    ck_assert_uint_eq(c.writebacks, 0);
    /* totals: 327687 65536 1 1 65536 1 1 65536: 4 MiB read, every line from memory */
    ck_assert_int_eq(bench_cg_counts(&d[1], &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.ll_misses, 1 + 65536);
    ck_assert_uint_eq(c.dram_bytes_est, 64ull * 65537);
    /* totals: 1048579 1 262145 1 0 262144 1 0 245760 0 0 131693: write misses
     * and the dirty lines they pushed out */
    ck_assert_int_eq(bench_cg_counts(&d[2], &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.instructions, 1048579);
    ck_assert_uint_eq(c.l1_misses, 1 + 262144);
    ck_assert_uint_eq(c.ll_misses, 1 + 245760);
    ck_assert_uint_eq(c.writebacks, 131693);
    ck_assert_uint_eq(c.dram_bytes_est, 64ull * (245761 + 131693));
    /* totals: 0 */
    ck_assert_int_eq(bench_cg_counts(&d[3], &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.instructions, 0);
    ck_assert_uint_eq(c.dram_bytes_est, 0);
    /* too little room is an error, not a silent cut */
    ck_assert_int_eq(bench_cg_parse("combined", text, len, d, 3, &n, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "more than 3 dumps"), "%s", err);
    free(text);
}
END_TEST

/* An unpinned run simulates the host's L3 (here 512 MiB, 2-way) and, without
 * --simulate-wb, has no write-back events: neither may become a row. */
START_TEST(test_parse_refuses_unpinned_and_no_writebacks)
{
    size_t len, n;
    char *text = fixture(DATA "host_ll.out", &len), err[512];
    struct bench_cg_dump d[2];
    ck_assert_msg(bench_cg_parse("host", text, len, d, 2, &n, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_ne(d[0].ll, BENCH_CG_LL_DESC);
    ck_assert_uint_eq(d[0].n_events, 9);
    struct bench_cg_counts c;
    ck_assert_int_eq(bench_cg_counts(&d[0], &c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "ILdmr") && strstr(err, "simulate-wb"), "%s", err);
    free(text);
}
END_TEST

START_TEST(test_parse_bad_files)
{
    size_t len, n;
    char *text = fixture(DATA "combined.out", &len), err[512];
    struct bench_cg_dump d[8];
    /* cut before the last part's totals: a killed valgrind */
    const char *last = strstr(text, "totals: 0");
    ck_assert_ptr_nonnull(last);
    ck_assert_int_eq(bench_cg_parse("cut", text, (size_t)(last - text), d, 8, &n, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "no 'totals:'") && strstr(err, "Program termination"), "%s", err);
    const char *notcg = "slot,impl\ndense,dense\n";
    ck_assert_int_eq(bench_cg_parse("csv", notcg, strlen(notcg), d, 8, &n, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "not a callgrind output"), "%s", err);
    const char *toomany = "# callgrind format\nevents: Ir Dr\ntotals: 1 2 3\n";
    ck_assert_int_eq(bench_cg_parse("x", toomany, strlen(toomany), d, 8, &n, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "more counts than the 2 events"), "%s", err);
    const char *garbage = "# callgrind format\nevents: Ir Dr\ntotals: 1 x\n";
    ck_assert_int_eq(bench_cg_parse("x", garbage, strlen(garbage), d, 8, &n, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "not a count"), "%s", err);
    free(text);
}
END_TEST

/* ---- PAPI ---- */

static void measure_dense(struct bench_counters *c, struct bench_row *row)
{
    struct bench_opts o;
    char err[512] = "";
    struct layer_config cfg = {.d_model = 32, .scale = 1, .seed = 1, .threads = 1};
    bench_opts_default(&o);
    o.hooks = bench_counters_hooks(c);
    ck_assert_ptr_nonnull(o.hooks);
    int rc = bench_run_point(layer_find("dense"), &cfg, 1, 4, &o, row, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
}

/* Here (a VM without a PMU) the hardware columns are NA with the reason and
 * the software ones are measured; on a machine with counters they count.
 * Either way: no crash, and no column is a silent zero. */
START_TEST(test_papi_probe_says_why)
{
    struct bench_counters c;
    struct bench_row row;
    char err[512];
    ck_assert_int_eq(bench_counters_open(&c, "papi", NULL, 1, "test", err, sizeof(err)), 0);
    ck_assert_int_eq(c.mode, BENCH_COUNTERS_PAPI);
    measure_dense(&c, &row);
    ck_assert_str_eq(row.counter_source, "papi");
    ck_assert_uint_eq(row.counter_threads, 1);
    ck_assert(row.task_clock_ns > 0); /* PAPI's perf::TASK-CLOCK or the kernel's clock */
    ck_assert(row.page_faults >= 0 && row.context_switches >= 0);
    if (bench_papi_hardware_ok(c.papi)) {
        ck_assert(row.instructions != BENCH_NA && row.instructions > 0);
    } else {
        const char *why = bench_papi_hardware_why(c.papi);
        /* the machine's reason (no hardware PMU), or the event that failed */
        ck_assert_msg((strstr(why, "no hardware PMU") || strstr(why, "INST")) && strlen(why) > 20,
                      "reason: %s", why);
        ck_assert_msg(strstr(c.why, "instructions") && strstr(c.why, "NA ("), "%s", c.why);
        ck_assert_uint_eq(row.instructions, BENCH_NA);
        ck_assert_uint_eq(row.ll_misses, BENCH_NA);
        ck_assert(isnan(row.cycles));
        ck_assert_msg(strstr(row.note, "papi NA:") && strstr(row.note, "instructions"), "note: %s",
                      row.note);
    }
    struct bench_meta m = {0};
    bench_counters_meta(&c, &m);
    ck_assert_str_eq(bench_meta_get(&m, "counters"), "papi");
    ck_assert_ptr_nonnull(bench_meta_get(&m, "papi_instructions"));
    ck_assert_ptr_nonnull(bench_meta_get(&m, "papi_task_clock_ns"));
    bench_meta_free(&m);
    bench_counters_close(&c);
}
END_TEST

/* An event no machine has is NA with its name in the reason; the other
 * columns are unaffected. */
START_TEST(test_papi_unknown_event_is_na)
{
    struct bench_counters c;
    struct bench_row row;
    char err[512];
    ck_assert_int_eq(bench_counters_open(&c, "papi", "l1_misses=NO_SUCH_EVENT_XYZ,cycles=", 1,
                                         "test", err, sizeof(err)),
                     0);
    measure_dense(&c, &row);
    ck_assert_uint_eq(row.l1_misses, BENCH_NA);
    ck_assert(isnan(row.cycles));
    struct bench_meta m = {0};
    bench_counters_meta(&c, &m);
    const char *l1 = bench_meta_get(&m, "papi_l1_misses");
    ck_assert_msg(l1 && strstr(l1, "NA") && strstr(l1, "NO_SUCH_EVENT_XYZ"), "%s", l1);
    const char *cyc = bench_meta_get(&m, "papi_cycles");
    ck_assert_msg(cyc && strstr(cyc, "NA: dropped by --papi-events"), "%s", cyc);
    ck_assert(row.task_clock_ns > 0);
    bench_meta_free(&m);
    bench_counters_close(&c);
}
END_TEST

START_TEST(test_papi_bad_spec)
{
    struct bench_counters c;
    char err[512];
    ck_assert_int_eq(bench_counters_open(&c, "papi", "flops=PAPI_DP_OPS", 1, "t", err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "flops=PAPI_DP_OPS") && strstr(err, "columns:"), "%s", err);
    ck_assert_int_eq(bench_counters_open(&c, "papi", "cycles", 1, "t", err, sizeof(err)), -1);
    ck_assert_int_eq(bench_counters_open(&c, "fast", NULL, 1, "t", err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "'fast'") && strstr(err, BENCH_COUNTER_CHOICES), "%s", err);
}
END_TEST

/* ---- modes ---- */

START_TEST(test_gate_rule_and_auto)
{
    ck_assert(bench_counters_gate_sized(64, 1, 16));
    ck_assert(bench_counters_gate_sized(768, 1, 8));
    ck_assert(!bench_counters_gate_sized(768, 1, 4096)); /* too many param x tokens */
    ck_assert(!bench_counters_gate_sized(768, 16, 1));   /* too many params */
    struct bench_counters c;
    char err[512];
    ck_assert_int_eq(bench_counters_open(&c, "auto", NULL, 0, "test", err, sizeof(err)), 0);
    if (bench_papi_hardware_ok(c.papi)) {
        ck_assert_int_eq(c.mode, BENCH_COUNTERS_PAPI);
    } else {
        ck_assert_int_eq(c.mode, BENCH_COUNTERS_NONE);
        ck_assert_msg(strstr(c.why, "auto chose none") && strstr(c.why, "too big"), "%s", c.why);
    }
    bench_counters_close(&c);
    ck_assert_int_eq(bench_counters_open(&c, "none", NULL, 1, "test", err, sizeof(err)), 0);
    ck_assert_int_eq(c.mode, BENCH_COUNTERS_NONE);
    ck_assert_ptr_null(bench_counters_hooks(&c));
    bench_counters_close(&c);
}
END_TEST

START_TEST(test_sweep_file_counters_key)
{
    struct bench_sweep sw;
    char err[512];
    const char *good = "counters = callgrind\n[dense]\n";
    ck_assert_msg(bench_sweep_parse("g.sweep", good, &sw, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(sw.counters, "callgrind");
    bench_sweep_free(&sw);
    const char *none = "[dense]\n";
    ck_assert_int_eq(bench_sweep_parse("n.sweep", none, &sw, err, sizeof(err)), 0);
    ck_assert_str_eq(sw.counters, "");
    bench_sweep_free(&sw);
    const char *bad = "counters = fast\n[dense]\n";
    ck_assert_int_eq(bench_sweep_parse("b.sweep", bad, &sw, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "b.sweep:1:") && strstr(err, "'fast'") &&
                      strstr(err, BENCH_COUNTER_CHOICES),
                  "%s", err);
    const char *in_slot = "[dense]\ncounters = none\n";
    ck_assert_int_eq(bench_sweep_parse("s.sweep", in_slot, &sw, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "whole sweep"), "%s", err);
}
END_TEST

/* ---- callgrind end to end (about a second per valgrind run) ---- */

static void open_callgrind(struct bench_counters *c)
{
    char err[512];
    ck_assert_msg(bench_counters_open(c, "callgrind", NULL, 1, "test", err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(c->mode, BENCH_COUNTERS_CALLGRIND);
}

static void count(struct bench_counters *c, int cold, const size_t *tokens, size_t n,
                  struct bench_cg_result *res)
{
    struct layer_config cfg = {.d_model = 32, .scale = 1, .seed = 3, .threads = 2};
    char err[1024];
    int rc = bench_callgrind_count(c, layer_find("dense"), &cfg, cold, tokens, n, res, NULL, err,
                                   sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    for (size_t i = 0; i < n; i++)
        ck_assert(res[i].ok);
}

/* The point of callgrind: the same point, counted twice, gives the same numbers. */
START_TEST(test_callgrind_deterministic)
{
    struct bench_counters c;
    struct bench_cg_result a[2], b[2];
    const size_t tokens[] = {1, 3};
    open_callgrind(&c);
    count(&c, 1, tokens, 2, a);
    count(&c, 1, tokens, 2, b);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_uint_gt(a[i].instructions, 1000);
        ck_assert_uint_eq(a[i].instructions, b[i].instructions);
        ck_assert_uint_eq(a[i].l1_misses, b[i].l1_misses);
        ck_assert_uint_eq(a[i].ll_misses, b[i].ll_misses);
        ck_assert_uint_eq(a[i].writebacks, b[i].writebacks);
        ck_assert_uint_eq(a[i].dram_bytes_est, b[i].dram_bytes_est);
        ck_assert_uint_eq(a[i].dram_bytes_est, 64 * (a[i].ll_misses + a[i].writebacks));
    }
    ck_assert_uint_gt(a[1].instructions, a[0].instructions); /* more tokens, more work */
    ck_assert_uint_eq(c.cg_points, 4);
    bench_counters_close(&c);
}
END_TEST

/* Cold: every parameter line comes from memory (and little else: code and x
 * stay warm); warm: the 33 KB of parameters sit in the 8 MiB LL. */
START_TEST(test_callgrind_cold_and_warm)
{
    struct bench_counters c;
    struct bench_cg_result cold, warm;
    const size_t T = 2;
    open_callgrind(&c);
    count(&c, 1, &T, 1, &cold);
    count(&c, 0, &T, 1, &warm);
    uint64_t bytes = cold.st.dense_bytes + cold.st.sparse_bytes;
    ck_assert_uint_gt(bytes, 30000);
    ck_assert_uint_eq(cold.instructions, warm.instructions);
    ck_assert_msg(cold.dram_bytes_est >= bytes && cold.dram_bytes_est < bytes * 5 / 4,
                  "cold: %llu simulated bytes for %llu parameter bytes",
                  (unsigned long long)cold.dram_bytes_est, (unsigned long long)bytes);
    ck_assert_msg(warm.dram_bytes_est < bytes / 10, "warm: %llu simulated bytes",
                  (unsigned long long)warm.dram_bytes_est);
    bench_counters_close(&c);
}
END_TEST

/* A sweep with `counters = callgrind`: every row says where its counts come
 * from, meta.csv records how they were taken. */
START_TEST(test_callgrind_sweep)
{
    char dir[] = "/tmp/sb_counters_XXXXXX", file[128], out[160], err[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/t.sweep", dir);
    snprintf(out, sizeof(out), "%s/run", dir);
    FILE *f = fopen(file, "w");
    fputs("d_model = 32\nseq_len = 1 2\nthreads = 1\ncounters = callgrind\n[dense]\n", f);
    fclose(f);
    char *argv[] = {file, "--out", out, "--no-probe", "--no-plot", NULL};
    ck_assert_int_eq(bench_cmd_sweep(5, argv), 0);
    struct bench_table t;
    char results[200], meta[200];
    snprintf(results, sizeof(results), "%s/results.csv", out);
    snprintf(meta, sizeof(meta), "%s/meta.csv", out);
    ck_assert_msg(bench_table_read(results, &t, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(t.nrows, 2);
    int src = bench_table_col(&t, "counter_source"), ins = bench_table_col(&t, "instructions");
    int dram = bench_table_col(&t, "dram_bytes_est"), th = bench_table_col(&t, "counter_threads");
    for (size_t r = 0; r < t.nrows; r++) {
        ck_assert_str_eq(bench_table_cell(&t, r, (size_t)src), "callgrind");
        ck_assert_str_eq(bench_table_cell(&t, r, (size_t)th), "1");
        ck_assert(strtoull(bench_table_cell(&t, r, (size_t)ins), NULL, 10) > 0);
        ck_assert(strtoull(bench_table_cell(&t, r, (size_t)dram), NULL, 10) > 0);
    }
    bench_table_free(&t);
    struct bench_meta m = {0};
    ck_assert_int_eq(bench_meta_read(&m, meta, err, sizeof(err)), 0);
    ck_assert_str_eq(bench_meta_get(&m, "counters"), "callgrind");
    ck_assert_str_eq(bench_meta_get(&m, "callgrind_points"), "2");
    ck_assert_msg(strstr(bench_meta_get(&m, "callgrind_cache"), BENCH_CG_LL), "%s",
                  bench_meta_get(&m, "callgrind_cache"));
    bench_meta_free(&m);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *counters_suite(void)
{
    Suite *s = suite_create("counters");
    TCase *parse = tcase_create("callgrind parser");
    tcase_add_test(parse, test_parse_one_dump_pads_totals);
    tcase_add_test(parse, test_parse_combined_dumps);
    tcase_add_test(parse, test_parse_refuses_unpinned_and_no_writebacks);
    tcase_add_test(parse, test_parse_bad_files);
    suite_add_tcase(s, parse);

    TCase *papi = tcase_create("papi and modes");
    tcase_set_timeout(papi, 60);
    tcase_add_test(papi, test_papi_probe_says_why);
    tcase_add_test(papi, test_papi_unknown_event_is_na);
    tcase_add_test(papi, test_papi_bad_spec);
    tcase_add_test(papi, test_gate_rule_and_auto);
    tcase_add_test(papi, test_sweep_file_counters_key);
    suite_add_tcase(s, papi);

    /* valgrind: seconds each on a shared 2-core machine; generous timeouts */
    TCase *cg = tcase_create("callgrind");
    tcase_set_timeout(cg, 300);
    tcase_add_test(cg, test_callgrind_deterministic);
    tcase_add_test(cg, test_callgrind_cold_and_warm);
    tcase_add_test(cg, test_callgrind_sweep);
    suite_add_tcase(s, cg);
    return s;
}

int main(void)
{
    return tu_run_suite(counters_suite());
}
