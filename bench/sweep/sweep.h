/* sweep.h - declarative sweeps, the public face of bench/sweep/: a sweep
 * file's slots and lists (sweepfile.c), the points of their Cartesian
 * product and the keys --resume matches them on (points.c), and how far a
 * run's repeated passes disagree (passes.c). The sweep command itself
 * (cmd_sweep.c, declared in ../cli.h) runs them through its private parts:
 * sweep_run.h (the plan, the loop, the run directory, its metadata, the dry
 * run) and progress.h; --shard's split of the points over machines is
 * shard.c. */
#ifndef SPARSEBENCH_SWEEP_H
#define SPARSEBENCH_SWEEP_H

#include "../../impls/layer.h"
#include "../measure.h"
#include "../row.h"
#include "../stats.h"

#include <stddef.h>
#include <stdint.h>

#define BENCH_LIST_MAX    64
#define BENCH_MAX_THREADS 256 /* threads = max is capped here */
#define BENCH_SPEC_LEN    (BENCH_NAME_LEN + LAYER_KNOBS_LEN)
/* A point's key (bench_point_key) or a results row's (bench_table_key). */
#define BENCH_KEY_LEN     (BENCH_NAME_LEN + 160)
#define BENCH_PATH_LEN    512 /* a slot's weights = path */

/* ---- sweepfile.c ---- */

/* A list of values for one sweep key; threads uses 0 for "max". */
/* Tokens per forward (batch x seq_len) a point may have: `run` and the sweep parser agree. */
#define BENCH_MAX_TOKENS (1u << 20)

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
    int pair;  /* pair = LABEL: the partner's index in bench_sweep.slots; -1 = measured alone */
    int pairs; /* pairs of rounds when paired (>= BENCH_MIN_PAIRS) */
    int pair_instances;           /* instances of each side the pairs rotate over */
    enum bench_inputs inputs;     /* inputs = random|repeat; a pair's partner shares the point's */
    char weights[BENCH_PATH_LEN]; /* weights = FILE: loaded over the seeded init; "" none */
};

struct bench_sweep {
    char path[512];
    uint64_t hash; /* of the file's text */
    struct bench_slot *slots;
    size_t n_slots;
    unsigned repeats;
    enum bench_cache_mode cache;
    uint64_t seed;
    char counters[16];            /* the file's `counters =`, "" when it has none */
    enum bench_ci_method pair_ci; /* pair_ci = orderstat|bootstrap */
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

/* Pairs. A slot with `pair = LABEL` has every point measured against the
 * slot labelled LABEL (pair.h), at the same D, batch, seq_len, threads and
 * repeat; the partner's scale is the point's when the partner lists it,
 * else the partner's only scale (a dense baseline at scale 1 against a
 * scale-12 layer); the parser rejects a partner with several scales none of
 * which is the point's. The partner's own points are measured too, alone.
 * A shard must keep a paired slot and its partner on one machine. */

/* The slot slot i is paired with, or -1. */
int bench_sweep_partner(const struct bench_sweep *sw, size_t i);
/* The scale the partner slot is created at for a point at `scale`. */
uint64_t bench_pair_scale(const struct bench_slot *partner, uint64_t scale);

/* ---- points.c ---- */

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

/* The partner's point of a paired point p: the partner slot, the same D,
 * batch, seq_len, threads, repeat and group, the scale by bench_pair_scale.
 * Returns 0, or -1 when p's slot is not paired. */
int bench_point_partner(const struct bench_point *p, const struct bench_sweep *sw,
                        struct bench_point *out);

/* The layer configuration of a point (max_tokens: the point's own tokens). */
void bench_point_config(const struct bench_point *p, const struct bench_sweep *sw,
                        struct layer_config *cfg);

/* The key --resume matches on: the identity columns of a point, in the
 * CSV's order (pair_with last: the partner's label, NA when alone), as
 * bench_table_key (../table.h) writes a results row's. */
void bench_point_key(const struct bench_point *p, const struct bench_sweep *sw, char *buf,
                     size_t len);

/* ---- passes.c ---- */

struct bench_table;

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

#endif
