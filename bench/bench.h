/* bench.h - (being split) the harness's remaining sections. */
#ifndef SPARSEBENCH_BENCH_H
#define SPARSEBENCH_BENCH_H

#include "cli.h"
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

/* ---- counters: counters.c (modes), papi.c, callgrind.c, cgparse.c ---- */

enum bench_counter_mode {
    BENCH_COUNTERS_NONE,
    BENCH_COUNTERS_PAPI,
    BENCH_COUNTERS_CALLGRIND,
    BENCH_COUNTERS_AUTO,
};
#define BENCH_COUNTER_CHOICES "auto|papi|callgrind|none"

/* The pinned simulated caches of every callgrind run (research/harness.md
 * section 0.3): dumps are checked against these `desc:` lines. */
#define BENCH_CG_I1       "32768,8,64"
#define BENCH_CG_D1       "32768,8,64"
#define BENCH_CG_LL       "8388608,16,64"
#define BENCH_CG_LL_DESC  "8388608 B, 64 B, 16-way associative"
#define BENCH_CG_L1_DESC  "32768 B, 64 B, 8-way associative"
#define BENCH_CG_LL_BYTES (8u << 20)
#define BENCH_CG_LINE     64

/* auto takes callgrind only for gate-sized points, about a minute or less
 * under valgrind each: at most this many parameters (creating the weights
 * runs ~100x slower there: ~4 s per million parameters for the two layers a
 * cold count needs) and parameter x token products (the simulated forwards;
 * D = 768, scale 1, 8 tokens is 3.8e7 and takes ~17 s in all). */
#define BENCH_GATE_PARAMS       1e7
#define BENCH_GATE_PARAM_TOKENS 1.6e8

struct bench_papi; /* papi.c */
struct bench_meta; /* meta.c */

/* A run's counters: what was asked, what runs, and why. */
struct bench_counters {
    enum bench_counter_mode requested, mode; /* mode is never AUTO */
    char why[512];                           /* one line: why this mode, what is NA */
    struct bench_papi *papi;                 /* mode papi */
    struct bench_hooks hooks;                /* mode papi: the per-forward readers */
    char cg_exe[4096];                       /* mode callgrind: the program valgrind runs */
    char valgrind[4096], setarch[4096];
    char cg_corename[64]; /* OpenBLAS's kernels under valgrind */
    double cg_seconds;    /* time spent under valgrind so far */
    size_t cg_points;
};

/* Whether a point is small enough for auto to count it under callgrind. */
int bench_counters_gate_sized(uint64_t d_model, uint64_t scale, uint64_t tokens);

/* Resolve the mode: papi is probed (library init, add, start, a tiny
 * workload, stop, non-zero), callgrind needs valgrind, setarch and the
 * callgrind build; auto takes papi when its hardware events count, else
 * callgrind when gate_sized, else none. papi_events may be NULL (the
 * defaults). Prints the one-line choice and reason on stderr (prefix names
 * the command). Returns 0, or -1 with err filled when an explicit
 * --counters=callgrind cannot run or papi_events is malformed. */
int bench_counters_open(struct bench_counters *c, const char *requested, const char *papi_events,
                        int gate_sized, const char *prefix, char *err, size_t errlen);
void bench_counters_close(struct bench_counters *c);
/* The hooks to put in bench_opts (NULL unless papi). */
const struct bench_hooks *bench_counters_hooks(struct bench_counters *c);
/* counters_* keys (and papi_* / callgrind_* ones) for meta.csv. */
void bench_counters_meta(const struct bench_counters *c, struct bench_meta *m);
/* The requested mode from its name, or -1. */
int bench_counters_mode(const char *name);
const char *bench_counters_mode_name(enum bench_counter_mode m);

/* Whether callgrind can run here (valgrind, setarch, build/callgrind/sparsebench,
 * the headers); fills c's tool paths, or why with the reason. */
int bench_callgrind_available(struct bench_counters *c, char *why, size_t whylen);

/* What one counted forward cost under callgrind. */
struct bench_cg_result {
    int ok;                  /* the child counted this point */
    uint64_t instructions;   /* Ir */
    uint64_t l1_misses;      /* I1mr + D1mr + D1mw */
    uint64_t ll_misses;      /* ILmr + DLmr + DLmw */
    uint64_t writebacks;     /* ILdmr + DLdmr + DLdmw: dirty lines evicted */
    uint64_t dram_bytes_est; /* 64 x (ll_misses + writebacks) */
    struct layer_stats st;   /* the counted forward's own layer_stats */
    int extra_threads;       /* threads the layer started at threads=1: not counted */
};

/* Count one forward per token count of one layer configuration (cfg; its
 * threads are ignored: one thread) under valgrind's callgrind, in one child
 * process (research/harness.md section 4.1). cold: the simulated caches are
 * emptied before each counted forward. Fills res[0..n). Returns 0, or -1
 * with err filled (the child failed; its log is quoted). stop may be NULL. */
int bench_callgrind_count(struct bench_counters *c, const struct layer_ops *ops,
                          const struct layer_config *cfg, int cold, const size_t *tokens, size_t n,
                          struct bench_cg_result *res, volatile sig_atomic_t *stop, char *err,
                          size_t errlen);
/* Copy a counted point into a row (counter_source callgrind); a result
 * whose forward read other bytes than the row's check forward adds a note. */
void bench_callgrind_fill(const struct bench_cg_result *r, struct bench_row *row);
/* The hidden `_callgrind PLAN` command the parent runs under valgrind. */
int bench_cmd_callgrind_child(int argc, char **argv);

/* papi.c. Probe every configured event and set up the event sets; never
 * fails but for memory (what does not count is NA, with reasons in why). */
int bench_papi_open(struct bench_papi **out, const char *spec, char *why, size_t whylen, char *err,
                    size_t errlen);
void bench_papi_close(struct bench_papi *p);
int bench_papi_hardware_ok(const struct bench_papi *p);          /* instructions counts */
const char *bench_papi_hardware_why(const struct bench_papi *p); /* and if not, why */
void bench_papi_hooks(struct bench_papi *p, struct bench_hooks *h);
void bench_papi_meta(const struct bench_papi *p, struct bench_meta *m);
/* The default --papi-events specification. */
extern const char bench_papi_default_events[];

/* cgparse.c: one dump of a callgrind output file. */
#define BENCH_CG_EVENTS_MAX 32
struct bench_cg_dump {
    char label[128]; /* the client request's label, or the trigger ("Program termination") */
    int client_request;
    char i1[64], d1[64], ll[64]; /* "8388608 B, 64 B, 16-way associative" */
    size_t n_events;
    char events[BENCH_CG_EVENTS_MAX][16];
    uint64_t totals[BENCH_CG_EVENTS_MAX]; /* omitted trailing counts are 0 */
    int have_totals;
};
struct bench_cg_counts {
    uint64_t instructions, l1_misses, ll_misses, writebacks, dram_bytes_est;
};

/* Every dump of a callgrind output file's text (one, or several with
 * --combine-dumps=yes) into out[0..max). name is for messages. Returns 0
 * with *n set, or -1 with err filled. */
int bench_cg_parse(const char *name, const char *text, size_t len, struct bench_cg_dump *out,
                   size_t max, size_t *n, char *err, size_t errlen);
/* One event's total, or -1 when the dump has no such event. */
int bench_cg_event(const struct bench_cg_dump *d, const char *event, uint64_t *out);
/* The counter columns of a dump; -1 when the cache or write-back events are missing. */
int bench_cg_counts(const struct bench_cg_dump *d, struct bench_cg_counts *c, char *err,
                    size_t errlen);

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
