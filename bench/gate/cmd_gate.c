/* cmd_gate.c - `sparsebench gate BASELINE NOW`: the gate's table (point,
 * metric, baseline, now, change, verdict; coloured on a terminal) on
 * stdout, every line as CSV with --out, exit 0 / 1 / 2 (gate.h); and
 * `sparsebench ab-ratio TIMES`: the wall-clock A/B's per-point ratio with
 * its 95 % interval, from the interleaved times scripts/ab.sh collects,
 * through the same paired-ratio statistics as `compare` (stats.h). What
 * runs the counts, the fingerprint and the rebuild is scripts/gate.sh. */
#include "gate.h"

#include "../cli.h"
#include "../stats.h"
#include "../table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const char gate_epilog[] =
    "BASELINE is reports/baseline/gate.csv (or any results.csv), NOW a fresh count of the\n"
    "same points (bench/sweeps/gate.sweep under --counters callgrind); points are matched\n"
    "on slot, d_model, scale, batch, seq_len, threads and cache. Per point:\n"
    "  instructions, ll_misses    more than +2.00 % fails (SLOWER), more than -2.00 % is\n"
    "                             reported (faster: `make gate-update` to keep it)\n"
    "  flops, dense_bytes, sparse_bytes, units_touched\n"
    "                             any change fails (CHANGED: the algorithm changed)\n"
    "  l1_misses, dram_bytes_est  shown, not judged\n"
    "  status                     anything but ok on either side fails (NOT OK)\n"
    "A baseline point the count lacks fails (MISSING); a new point passes (new).\n"
    "The limit is BENCH_GATE_LIMIT_BP in bench/gate/gate.h. The table shows the judged\n"
    "counts of every point and any line that is not ok (--all: every line).\n"
    "Exit status: 0 pass, 1 a regression, 2 cannot compare (a file, a column, an NA count).\n"
    "`make gate` runs the count and this (README \"Performance gate\").";

static const char *color_of(enum bench_gate_verdict v)
{
    if (bench_gate_verdict_fails(v) || v == BENCH_GATE_NA)
        return "\033[1;31m";
    return v == BENCH_GATE_FASTER || v == BENCH_GATE_NEW ? "\033[32m" : "";
}

static void print_table(const struct bench_gate_result *r, int all, int color)
{
    printf("%-36s %-14s %14s %14s %9s  %s\n", "point", "metric", "baseline", "now", "change",
           "verdict");
    for (size_t i = 0; i < r->n; i++) {
        const struct bench_gate_line *l = &r->lines[i];
        int judged = !strcmp(l->metric, "instructions") || !strcmp(l->metric, "ll_misses");
        if (!all && !judged && l->verdict == BENCH_GATE_OK)
            continue;
        char change[32] = "";
        if (!isnan(l->change_pct))
            snprintf(change, sizeof(change), "%+.2f%%", l->change_pct);
        const char *on = color ? color_of(l->verdict) : "";
        printf("%-36s %-14s %14s %14s %9s  %s%s%s\n", l->point, l->metric, l->base, l->now, change,
               on, bench_gate_verdict_name(l->verdict), *on ? "\033[0m" : "");
    }
}

int bench_cmd_gate(int argc, char **argv)
{
    const char *base_path = NULL, *now_path = NULL, *out = NULL, *color = "auto";
    int all = 0;
    const struct bench_opt opts[] = {
        {NULL, BENCH_OPT_STR, &base_path, 0, 0, NULL, "BASELINE", "the baseline results CSV"},
        {NULL, BENCH_OPT_STR, &now_path, 0, 0, NULL, "NOW", "the fresh count's results CSV"},
        {"out", BENCH_OPT_STR, &out, 0, 0, NULL, "CSV", "also write every line as CSV here"},
        {"color", BENCH_OPT_CHOICE, &color, 0, 0, "auto|always|never", "WHEN",
         "colour the verdicts (auto: when stdout is a terminal)"},
        {"all", BENCH_OPT_FLAG, &all, 0, 0, NULL, NULL, "print every metric of every point"},
    };
    const struct bench_cmd cmd = {
        .name = "gate",
        .summary = "Compare a fresh callgrind count of the gate points with the baseline: a "
                   "verdict per point and metric.",
        .usage = "BASELINE NOW [--out CSV] [--color auto|always|never] [--all]",
        .epilog = gate_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    if (!base_path || !now_path)
        bench_usage_error("gate", "needs BASELINE and NOW (two results CSV files)");

    char err[512];
    struct bench_table base = {0}, now = {0};
    struct bench_gate_result r = {0};
    int rc = BENCH_EXIT_USAGE;
    if (bench_table_read(base_path, &base, err, sizeof(err)) ||
        bench_table_read(now_path, &now, err, sizeof(err))) {
        fprintf(stderr, "gate: cannot compare: %s\n", err);
        goto cleanup;
    }
    if (bench_gate_compare(&base, &now, &r, err, sizeof(err))) {
        fprintf(stderr, "gate: cannot compare %s with %s: %s\n", base_path, now_path, err);
        goto cleanup;
    }
    int use_color = !strcmp(color, "always") || (!strcmp(color, "auto") && isatty(1));
    print_table(&r, all, use_color);
    if (out && bench_gate_write_csv(&r, out, err, sizeof(err))) {
        fprintf(stderr, "gate: %s\n", err);
        goto cleanup;
    }
    rc = bench_gate_status(&r);
    size_t bad = 0;
    for (int v = 0; v <= BENCH_GATE_NA; v++)
        if (bench_gate_verdict_fails((enum bench_gate_verdict)v))
            bad += r.counts[v];
    printf("gate: %s: %zu points; %zu slower, %zu changed, %zu not ok, %zu missing, %zu NA; "
           "%zu faster, %zu new\n",
           rc == 0   ? "PASS"
           : rc == 1 ? "FAIL"
                     : "CANNOT COMPARE",
           r.points, r.counts[BENCH_GATE_SLOWER], r.counts[BENCH_GATE_CHANGED],
           r.counts[BENCH_GATE_STATUS], r.counts[BENCH_GATE_MISSING], r.counts[BENCH_GATE_NA],
           r.counts[BENCH_GATE_FASTER], r.counts[BENCH_GATE_NEW]);
    if (r.points == 0)
        printf("gate: the baseline %s has no points\n", base_path);
    if (r.counts[BENCH_GATE_FASTER] && !bad)
        printf("gate: faster; `make gate-update` to keep it as the baseline\n");
cleanup:
    bench_gate_result_free(&r);
    bench_table_free(&base);
    bench_table_free(&now);
    return rc;
}

/* ---- ab-ratio ---- */

static const char ab_epilog[] =
    "TIMES is a CSV with columns point, time_a, time_b (seconds or any one unit), one row\n"
    "per pair of runs taken back to back (scripts/ab.sh alternates A B, B A, ...). Per\n"
    "point, in the order first seen: the median of time_b / time_a over its pairs (> 1: A\n"
    "is faster) and its 95 % interval (--ci orderstat, the default, needs >= 6 pairs;\n"
    "bootstrap: 10000 resamples, fixed seed), as `sparsebench compare` reports.";

int bench_cmd_ab_ratio(int argc, char **argv)
{
    const char *path = NULL, *ci = "orderstat";
    const struct bench_opt opts[] = {
        {NULL, BENCH_OPT_STR, &path, 0, 0, NULL, "TIMES", "the paired times CSV"},
        {"ci", BENCH_OPT_CHOICE, &ci, 0, 0, "orderstat|bootstrap", "METHOD",
         "the interval's method"},
    };
    const struct bench_cmd cmd = {
        .name = "ab-ratio",
        .summary = "Per point, the median ratio of paired times B / A and its 95% interval.",
        .usage = "TIMES [--ci orderstat|bootstrap]",
        .epilog = ab_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    if (!path)
        bench_usage_error("ab-ratio", "needs TIMES (a CSV of point,time_a,time_b)");
    enum bench_ci_method method;
    if (bench_ci_method_parse(ci, &method))
        bench_usage_error("ab-ratio", "--ci %s: allowed orderstat, bootstrap", ci);

    char err[512];
    struct bench_table t = {0};
    double *a = NULL, *b = NULL;
    unsigned char *done = NULL;
    int rc = BENCH_EXIT_USAGE;
    if (bench_table_read(path, &t, err, sizeof(err))) {
        fprintf(stderr, "ab-ratio: %s\n", err);
        goto cleanup;
    }
    int cp = bench_table_col(&t, "point"), ca = bench_table_col(&t, "time_a"),
        cb = bench_table_col(&t, "time_b");
    if (cp < 0 || ca < 0 || cb < 0) {
        fprintf(stderr, "ab-ratio: %s: needs columns point, time_a, time_b\n", path);
        goto cleanup;
    }
    a = malloc((t.nrows + 1) * sizeof(*a));
    b = malloc((t.nrows + 1) * sizeof(*b));
    done = calloc(t.nrows + 1, 1);
    if (!a || !b || !done) {
        fprintf(stderr, "ab-ratio: out of memory\n");
        goto cleanup;
    }
    rc = 0;
    printf("%-32s %5s %10s %21s  %s\n", "point", "pairs", "B/A", "95% interval", "reading");
    for (size_t i = 0; i < t.nrows; i++) {
        if (done[i])
            continue;
        const char *pt = bench_table_cell(&t, i, (size_t)cp);
        size_t n = 0;
        for (size_t j = i; j < t.nrows; j++) {
            if (done[j] || strcmp(bench_table_cell(&t, j, (size_t)cp), pt))
                continue;
            done[j] = 1;
            char *e1, *e2;
            a[n] = strtod(bench_table_cell(&t, j, (size_t)ca), &e1);
            b[n] = strtod(bench_table_cell(&t, j, (size_t)cb), &e2);
            if (*e1 || *e2 || !(a[n] > 0) || !(b[n] > 0)) {
                fprintf(stderr, "ab-ratio: %s line %zu: a time is not a positive number\n", path,
                        j + 2);
                rc = BENCH_EXIT_USAGE;
                goto cleanup;
            }
            n++;
        }
        struct bench_ratio r;
        if (bench_paired_ratio(a, b, n, method, 0.95, 1, &r, err, sizeof(err))) {
            printf("%-32s %5zu %10s %21s  %s\n", pt, n, "NA", "", err);
            rc = BENCH_EXIT_FAIL;
            continue;
        }
        const char *reading = r.lo > 1   ? "A (new) faster"
                              : r.hi < 1 ? "A (new) slower"
                                         : "no difference found";
        printf("%-32s %5zu %10.4f   [%8.4f, %8.4f]  %s\n", pt, n, r.median, r.lo, r.hi, reading);
    }
cleanup:
    free(a);
    free(b);
    free(done);
    bench_table_free(&t);
    return rc;
}

/* ---- _cpuid ---- */

/* The hidden `_cpuid` command: the CPU as this process sees it (CPUID's
 * vendor, brand string, family, model, stepping) and OpenBLAS's kernels.
 * scripts/gate.sh runs it under valgrind for the fingerprint, because
 * valgrind presents its own CPUID (feature bits masked) and that, not the
 * host's /proc/cpuinfo, is what OpenBLAS and the counts see. */
int bench_cmd_cpuid(int argc, char **argv)
{
    (void)argc;
    (void)argv;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    char vendor[13] = {0}, brand[49] = {0};
    __cpuid(0, a, b, c, d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    __cpuid(1, a, b, c, d);
    unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf, stepping = a & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    if (family >= 6)
        model |= ((a >> 16) & 0xf) << 4;
    __cpuid(0x80000000u, a, b, c, d);
    if (a >= 0x80000004u) {
        for (unsigned i = 0; i < 3; i++) {
            __cpuid(0x80000002u + i, a, b, c, d);
            memcpy(brand + 16 * i, &a, 4);
            memcpy(brand + 16 * i + 4, &b, 4);
            memcpy(brand + 16 * i + 8, &c, 4);
            memcpy(brand + 16 * i + 12, &d, 4);
        }
    }
    const char *s = brand;
    while (*s == ' ')
        s++;
    printf("cpu_vendor=%s\ncpu_model=%s\ncpu_family_model_stepping=%u/%u/%u\n", vendor, s, family,
           model, stepping);
#else
    printf("cpu_vendor=unknown (not x86)\n");
#endif
    printf("openblas_corename=%s\n", openblas_get_corename());
    return 0;
}
