/* bench.h - the harness: command-line options, measuring one point, and the
 * tidy CSV row every command writes.
 *
 * Only code under bench/ may print to the terminal or exit(); impls/ returns
 * error codes. Exit status of every command: 0 done, 1 a measurement failed
 * (wrong output, layer error), 2 bad input (flag, knob, file).
 */
#ifndef SPARSEBENCH_BENCH_H
#define SPARSEBENCH_BENCH_H

#include "../impls/layer.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_EXIT_FAIL  1
#define BENCH_EXIT_USAGE 2

/* ---- cli.c: table-driven --flag parsing with messages that say what to fix ---- */

enum bench_opt_type {
    BENCH_OPT_SIZE,   /* size_t, integer in [min, max] */
    BENCH_OPT_UINT,   /* unsigned, integer in [min, max] */
    BENCH_OPT_INT,    /* int, integer in [min, max] */
    BENCH_OPT_U64,    /* uint64_t, any non-negative integer */
    BENCH_OPT_DOUBLE, /* double in [min, max] */
    BENCH_OPT_STR,    /* const char *, any string */
    BENCH_OPT_CHOICE, /* const char *, one of the '|'-separated `choices` */
    BENCH_OPT_FLAG,   /* int set to 1, takes no value */
};

struct bench_opt {
    const char *name; /* without the leading "--"; NULL = the positional argument */
    enum bench_opt_type type;
    void *dst;
    double min, max;
    const char *choices; /* BENCH_OPT_CHOICE: "cold|warm" */
    const char *metavar;
    const char *help;
};

struct bench_cmd {
    const char *name;    /* "run" */
    const char *summary; /* one line */
    const char *usage;   /* after "sparsebench NAME " */
    const char *epilog;  /* extra help text, may be NULL */
    const struct bench_opt *opts;
    size_t n_opts;
};

/* Parse argv (after the command name) into the table's destinations.
 * --help prints the generated help and exits 0; any bad flag or value exits 2
 * with a message naming the flag, the value and what is allowed. */
void bench_parse_args(const struct bench_cmd *cmd, int argc, char **argv);

/* Print "sparsebench CMD: <message>" and the --help hint, exit 2. */
void bench_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* ---- stats.c ---- */

struct bench_stats {
    double median, min, p90, err_pct; /* err%: median absolute percentage deviation */
};

/* Statistics of v[0..n); v is reordered. n >= 1. */
void bench_stats_compute(double *v, size_t n, struct bench_stats *out);

/* ---- tokens.c: inputs ---- */

struct bench_tokens {
    float *x; /* (n, D) distinct N(0, 1) tokens */
    size_t n, d_model;
};

int bench_tokens_create(struct bench_tokens *tk, size_t n, size_t d_model, uint64_t seed);
void bench_tokens_destroy(struct bench_tokens *tk);
/* The i-th window of `count` consecutive tokens; windows rotate through the pool. */
const float *bench_tokens_window(const struct bench_tokens *tk, size_t i, size_t count);

/* ---- cache.c ---- */

/* Evict a layer's parameter memory from every cache level (clflushopt). */
void bench_cache_evict(const struct layer_info *info);
/* Read one byte of every page of the parameters so none faults while timed. */
void bench_cache_touch(const struct layer_info *info);

/* ---- runner.c: one measured point ---- */

enum bench_cache_mode { BENCH_CACHE_COLD, BENCH_CACHE_WARM };

struct bench_opts {
    int min_rounds;     /* >= 11 */
    double min_round_s; /* >= 1 ms of timed forwards per round */
    enum bench_cache_mode cache;
    size_t check_tokens; /* tokens checked against forward_ref */
    int verbose;
};

#define BENCH_STATUS_LEN 16
#define BENCH_NOTE_LEN   256
#define BENCH_NAME_LEN   64

/* One row of results.csv; see reports/SCHEMA.md for every column. */
struct bench_row {
    char impl[BENCH_NAME_LEN];
    char knobs[LAYER_KNOBS_LEN];
    uint64_t d_model, scale, batch, seq_len, tokens, threads, seed;
    char cache[8];
    uint64_t params_total, params_active;
    struct layer_stats st;
    char unit[16];
    double latency_us_median, latency_us_min, latency_us_p90, err_pct;
    uint64_t rounds, iters_per_round;
    double gflops, max_abs_err, recall;
    char status[BENCH_STATUS_LEN]; /* ok, wrong, error, skipped */
    char note[BENCH_NOTE_LEN];     /* why, when status is not ok; noise flags otherwise */
};

/* What to measure. */
struct bench_point {
    const struct layer_ops *ops;
    struct layer_config cfg; /* max_tokens is set from tokens */
    size_t batch, seq_len;   /* tokens = batch x seq_len */
};

/* Create the layer, check forward against forward_ref, time it, fill row.
 * Returns 0 when the row is ok; a layer error (bad knob: LAYER_EKNOB...) with
 * err filled and row->status "error"; BENCH_WRONG when the output is wrong. */
#define BENCH_WRONG 1
int bench_run_point(const struct bench_point *pt, const struct bench_opts *opts,
                    struct bench_row *row, char *err, size_t errlen);

/* Defaults: 11 rounds of >= 1 ms, cold cache, 4 checked tokens. */
void bench_opts_default(struct bench_opts *o);

/* Seconds on the monotonic clock. */
double bench_now(void);

/* ---- csv.c: results rows, written whole and flushed ---- */

/* Header line (column names) for the row schema. */
int bench_csv_write_header(FILE *f);
/* One row; flushed before returning. */
int bench_csv_write_row(FILE *f, const struct bench_row *row);
/* One string field, quoted only when it needs to be (libcsv rules). */
int bench_csv_write_field(FILE *f, const char *s);

/* Column metadata, for SCHEMA.md checks and readers. */
struct bench_col {
    const char *name;
    const char *unit;
    const char *doc;
};
size_t bench_csv_ncols(void);
const struct bench_col *bench_csv_col(size_t i);

/* ---- commands ---- */

int bench_cmd_list(int argc, char **argv);
int bench_cmd_run(int argc, char **argv);

#endif
