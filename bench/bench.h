/* bench.h - (being split) the harness's remaining sections. */
#ifndef SPARSEBENCH_BENCH_H
#define SPARSEBENCH_BENCH_H

#include "cli.h"
#include "counters/callgrind.h"
#include "counters/cgparse.h"
#include "counters/counters.h"
#include "counters/papi.h"
#include "meta.h"
#include "measure.h"
#include "plot.h"
#include "probe.h"
#include "row.h"
#include "stats.h"
#include "table.h"
#include "util.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- passes.c: how far repeated passes of a sweep disagree ---- */

struct bench_spread {
    size_t n_points;                /* ok points measured in more than one pass */
    size_t n_over;                  /* of them, slowest / fastest median above the limit */
    double worst;                   /* the largest ratio (0 when n_points is 0) */
    char worst_key[BENCH_NOTE_LEN]; /* "slot=... d_model=... ..." of that point */
};

/* Over the ok rows of a results table: group by point (every key column
 * but repeat) and compare the median latencies of its passes. Returns 0, or
 * -1 when a column is missing or memory runs out. */
int bench_pass_spread(const struct bench_table *t, double limit, struct bench_spread *out);

/* ---- sweepfile.c: declarative sweeps ---- */

#define BENCH_LIST_MAX    64
#define BENCH_MAX_THREADS 256 /* threads = max is capped here */
#define BENCH_SPEC_LEN    (BENCH_NAME_LEN + LAYER_KNOBS_LEN)

/* A list of values for one sweep key; threads uses 0 for "max". */
struct bench_list {
    size_t n;
    uint64_t v[BENCH_LIST_MAX];
};

/* One implementation slot: a layer with its knobs and its own lists. */
struct bench_slot {
    char spec[BENCH_SPEC_LEN];   /* as written: "impl" or "impl:knobs" */
    char label[BENCH_NAME_LEN];  /* the slot column; spec with ',' -> ';' by default */
    char knobs[LAYER_KNOBS_LEN]; /* after the ':' */
    const struct layer_ops *ops;
    int line; /* where it was declared (0: from impls = all) */
    struct bench_list d_model, scale, batch, seq_len, threads;
    int rounds;
    double round_ms;
    size_t check_tokens;
};

struct bench_sweep {
    char path[512];
    uint64_t hash; /* of the file's text */
    struct bench_slot *slots;
    size_t n_slots;
    unsigned repeats;
    enum bench_cache_mode cache;
    uint64_t seed;
    char counters[16]; /* the file's `counters =`, "" when it has none */
};

/* Parse a sweep file's text. Returns 0, or -1 with "PATH:LINE: ..." in err
 * naming the key, the bad value and what is allowed. */
int bench_sweep_parse(const char *path, const char *text, struct bench_sweep *sw, char *err,
                      size_t errlen);
/* Read and parse a file. */
int bench_sweep_load(const char *path, struct bench_sweep *sw, char *err, size_t errlen);
void bench_sweep_free(struct bench_sweep *sw);
/* Whether `impls = all` takes this layer: every one but the paper-style weak
 * baselines, whose summary says "weak baseline". */
int bench_sweep_in_all(const struct layer_ops *ops);

/* One point of the Cartesian product. */
struct bench_point {
    const struct bench_slot *slot;
    uint64_t d_model, scale, batch, seq_len, threads;
    unsigned repeat; /* 1..repeats */
    size_t group;    /* points sharing one layer (slot, D, scale, threads, repeat) */
};

/* Expand the sweep into points in run order (repeat, slot, D, scale,
 * threads, batch, seq_len); threads 0 ("max") becomes online_cpus and
 * threads_override (when > 0) replaces every thread list. Caller frees
 * *out. Returns 0, or -1 with err filled (too many points). */
int bench_sweep_points(const struct bench_sweep *sw, int online_cpus, int threads_override,
                       struct bench_point **out, size_t *n, char *err, size_t errlen);

/* The key --resume matches on: the identity columns of a point. */
void bench_point_key(const struct bench_point *p, const struct bench_sweep *sw, char *buf,
                     size_t len);

/* ---- progress.c: the line on stderr ---- */

struct bench_progress {
    int tty;     /* stderr is a terminal: draw the line */
    int verbose; /* one summary line per point instead */
    size_t total, done;
    double w_total, w_done; /* work weights of the points, for the time left */
    double t0;
    int drawn;
};

/* A point's rough share of the work: bigger batches take longer. */
double bench_progress_weight(const struct bench_point *p);
void bench_progress_start(struct bench_progress *pr, size_t total, double w_total, int verbose);
/* Before a point starts: "[i/n] slot D=... T=... | elapsed, ~left". */
void bench_progress_show(struct bench_progress *pr, const struct bench_point *p);
/* After a point: count it; in verbose mode print its summary. */
void bench_progress_done(struct bench_progress *pr, const struct bench_point *p,
                         const struct bench_row *row);
/* Erase the line before other output. */
void bench_progress_clear(struct bench_progress *pr);
/* "12:34" */
void bench_format_duration(double s, char *buf, size_t len);

#endif
