/* gate.h - the performance gate's comparison (issue 14), the public face of
 * bench/gate/: a fresh count of the gate points (bench/sweeps/gate.sweep,
 * one forward per point under callgrind's simulated machine) set against the
 * committed baseline (reports/baseline/gate.csv), one verdict per point and
 * metric (gate.c), and `sparsebench gate` and `sparsebench ab-ratio`
 * (cmd_gate.c). Deterministic counts instead of wall clock, as iai-callgrind
 * and CodSpeed gate (research/harness.md sections 4.5, 4.6): on a shared VM
 * the same point moves 2x in minutes, its instruction count does not move.
 *
 * THE THRESHOLDS LIVE HERE, and only here (README "Performance gate"). */
#ifndef SPARSEBENCH_GATE_H
#define SPARSEBENCH_GATE_H

#include <stddef.h>
#include <stdint.h>

struct bench_table;

/* A counted metric (instructions, last-level misses) more than this many
 * basis points above the baseline fails the gate (+2.00 % passes, +2.01 %
 * fails); more than this many below is reported "faster" (and passes). */
#define BENCH_GATE_LIMIT_BP 200

enum bench_gate_kind {
    BENCH_GATE_COUNTED, /* simulated count: judged against BENCH_GATE_LIMIT_BP */
    BENCH_GATE_EXACT,   /* the layer's own accounting: any change fails */
    BENCH_GATE_INFO,    /* shown, never judged (follows from the counted ones) */
};

/* The metrics, by results.csv column (reports/SCHEMA.md), in table order. */
struct bench_gate_metric {
    const char *column;
    enum bench_gate_kind kind;
};
extern const struct bench_gate_metric bench_gate_metrics[];
extern const size_t bench_gate_n_metrics;

enum bench_gate_verdict {
    BENCH_GATE_OK,      /* within the limit, or exact and equal, or info */
    BENCH_GATE_FASTER,  /* counted, below by more than the limit: passes */
    BENCH_GATE_NEW,     /* a point the baseline lacks: passes, reported */
    BENCH_GATE_SLOWER,  /* counted, above by more than the limit: fails */
    BENCH_GATE_CHANGED, /* exact, differs: fails (the algorithm changed) */
    BENCH_GATE_STATUS,  /* the point's status is not ok: fails */
    BENCH_GATE_MISSING, /* a baseline point the fresh count lacks: fails */
    BENCH_GATE_NA,      /* a value is not a count (NA): cannot compare */
};

/* The verdict's word in the table and the CSV ("ok", "SLOWER", ...). */
const char *bench_gate_verdict_name(enum bench_gate_verdict v);
/* Whether it fails the gate. */
int bench_gate_verdict_fails(enum bench_gate_verdict v);

/* One metric's verdict from two counts. */
enum bench_gate_verdict bench_gate_judge(enum bench_gate_kind kind, uint64_t base, uint64_t now);

#define BENCH_GATE_POINT_LEN 160
#define BENCH_GATE_CELL_LEN  32

struct bench_gate_line {
    char point[BENCH_GATE_POINT_LEN]; /* "moe d=256 scale=4 T=16" */
    const char *metric;               /* a column name, or "status" / "point" */
    char base[BENCH_GATE_CELL_LEN], now[BENCH_GATE_CELL_LEN];
    double change_pct; /* (now - base) / base x 100; NAN when not a number or base 0 */
    enum bench_gate_verdict verdict;
};

struct bench_gate_result {
    struct bench_gate_line *lines;
    size_t n, cap;
    size_t points;                    /* baseline points */
    size_t counts[BENCH_GATE_NA + 1]; /* lines per verdict */
};

/* Compare a fresh count with the baseline, both results tables (the
 * baseline may hold only the gate's columns). Points are matched on slot,
 * d_model, scale, batch, seq_len, threads and cache. Returns 0, or -1 with
 * err naming the missing column or out of memory. */
int bench_gate_compare(const struct bench_table *base, const struct bench_table *now,
                       struct bench_gate_result *out, char *err, size_t errlen);
void bench_gate_result_free(struct bench_gate_result *r);

/* 0 pass, 1 a failing verdict, 2 nothing failed but something could not be
 * compared (the CLI's exit statuses). */
int bench_gate_status(const struct bench_gate_result *r);

/* The result as CSV (point,metric,baseline,now,change_pct,verdict), every line. */
int bench_gate_write_csv(const struct bench_gate_result *r, const char *path, char *err,
                         size_t errlen);

#endif
