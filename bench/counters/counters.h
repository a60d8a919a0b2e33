/* counters.h - the counter columns of a run, the public face of
 * bench/counters/: which source fills them (counters.c: auto, papi,
 * callgrind or none, and why), the per-forward hooks PAPI plugs into the
 * runner (papi.c), and deterministic counts of one forward under valgrind
 * (callgrind.c, which runs callgrind_child.c's hidden command and reads its
 * dumps with cgparse.c). Private parts: papi.h, callgrind.h, cgparse.h. */
#ifndef SPARSEBENCH_COUNTERS_H
#define SPARSEBENCH_COUNTERS_H

#include "../../impls/layer.h"
#include "../measure.h"
#include "../row.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

enum bench_counter_mode {
    BENCH_COUNTERS_NONE,
    BENCH_COUNTERS_PAPI,
    BENCH_COUNTERS_CALLGRIND,
    BENCH_COUNTERS_AUTO,
};
#define BENCH_COUNTER_CHOICES "auto|papi|callgrind|none"

/* auto takes callgrind only for gate-sized points, about a minute or less
 * under valgrind each: at most this many parameters (creating the weights
 * runs ~100x slower there: ~4 s per million parameters for the two layers a
 * cold count needs) and parameter x token products (the simulated forwards;
 * D = 768, scale 1, 8 tokens is 3.8e7 and takes ~17 s in all). */
#define BENCH_GATE_PARAMS       1e7
#define BENCH_GATE_PARAM_TOKENS 1.6e8

struct bench_papi; /* papi.c */
struct bench_meta; /* ../meta.h */

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

/* ---- counters.c ---- */

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

/* ---- callgrind.c: the parent ---- */

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

#endif
