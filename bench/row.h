/* row.h - one row of results.csv: the struct every command fills (row.c:
 * identity, notes, the readable summary), its columns, and writing it as
 * tidy CSV (csv.c). reports/SCHEMA.md documents every column. */
#ifndef SPARSEBENCH_ROW_H
#define SPARSEBENCH_ROW_H

#include "../impls/layer.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_STATUS_LEN 16
#define BENCH_NOTE_LEN   256
#define BENCH_NAME_LEN   64

/* Missing integers are stored as BENCH_NA and written as NA, like NaN for doubles. */
#define BENCH_NA UINT64_MAX

/* One row of results.csv; see reports/SCHEMA.md for every column. */
struct bench_row {
    char slot[BENCH_NAME_LEN]; /* the sweep slot's label, "impl" or "impl:knobs" */
    char impl[BENCH_NAME_LEN];
    uint64_t d_model, scale, batch, seq_len, tokens, threads, seed;
    char cache[8];
    char inputs[8]; /* random or repeat (measure.h's bench_inputs) */
    uint64_t repeat;
    char status[BENCH_STATUS_LEN]; /* ok, wrong, error, skipped */
    uint64_t params_total, params_active;
    struct layer_stats st;
    uint64_t bytes; /* st.dense_bytes + st.sparse_bytes */
    char unit[16];
    double latency_us_median, latency_us_min, latency_us_p90, err_pct;
    uint64_t noisy, rounds, iters_per_round;
    double gflops, bandwidth_gbps, intensity, roofline_frac;
    char roof[8]; /* the roof roofline_frac is against: sgemm, triad or gather; NA */
    double max_abs_err, recall;
    double create_s, wall_s;
    char counter_source[16];  /* none, papi or callgrind */
    uint64_t counter_threads; /* threads the counters saw (callgrind: 1) */
    uint64_t instructions, l1_misses, ll_misses, dram_bytes_est;
    double cycles, task_clock_ns, page_faults, context_switches; /* papi: mean per forward */
    /* Paired measurement (bench_measure_pair); NA when the row is not paired. */
    char pair_with[BENCH_NAME_LEN]; /* the partner's slot label */
    uint64_t pair_scale, pair_n;    /* the partner's scale; pairs of rounds */
    uint64_t pair_instances;        /* instances of each side the pairs rotated over */
    double pair_ratio, pair_ratio_lo, pair_ratio_hi; /* partner time / this time, 95 % interval */
    char pair_ci_method[16];                         /* orderstat or bootstrap */
    double pair_ci_coverage;       /* the interval's coverage (orderstat: exact) */
    double pair_latency_us_median; /* the partner's median round in the pairs */
    char knobs[LAYER_KNOBS_LEN];
    char note[BENCH_NOTE_LEN]; /* why, when status is not ok; noise flags otherwise */
};

/* ---- row.c ---- */

/* Fill the identity columns and set every measured column to NA.
 * slot may be NULL: then the slot is the impl name, with ":knobs" if any. */
void bench_row_init(struct bench_row *row, const char *slot, const struct layer_ops *ops,
                    const struct layer_config *cfg, size_t batch, size_t seq_len, int cold,
                    unsigned repeat);
/* Append to the row's note ("; " between parts), cut at its length. */
void bench_row_note(struct bench_row *row, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The readable one-line summary `run` and `sweep --verbose` print. */
void bench_row_summary(FILE *f, const struct bench_row *row);

/* ---- csv.c: the columns, and rows written whole and flushed ---- */

/* Column metadata, for SCHEMA.md and readers. */
struct bench_col {
    const char *name;
    const char *unit;
    const char *doc;
    int identity;       /* part of a point's key: --resume matches rows on these */
    int optional;       /* identity column a table written before it existed lacks: read as NA */
    int text;           /* free text that may hold commas; kept after every other column */
    const char *absent; /* an optional identity column a table lacks reads as this (NULL: NA) */
};
size_t bench_csv_ncols(void);
const struct bench_col *bench_csv_col(size_t i);
/* Index of a column, or -1. */
int bench_csv_col_index(const char *name);

/* Header line (column names) for the row schema. */
int bench_csv_write_header(FILE *f);
/* One row, formatted in memory, written with one fwrite and flushed. */
int bench_csv_write_row(FILE *f, const struct bench_row *row);
/* One string field, quoted only when it needs to be (libcsv rules). */
int bench_csv_write_field(FILE *f, const char *s);

#endif
