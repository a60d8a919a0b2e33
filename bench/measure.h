/* measure.h - measuring one point: its input tokens (tokens.h), the cold
 * cache (cache.c), the runner (runner.c): create the layer, check its
 * forward against forward_ref, then time it, with hooks a counters module
 * plugs in around every timed forward. Two layers timed in pairs: pair.h. */
#ifndef SPARSEBENCH_MEASURE_H
#define SPARSEBENCH_MEASURE_H

#include "../impls/layer.h"
#include "probe.h"
#include "row.h"
#include "stats.h"
#include "tokens.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* ---- cache.c ---- */
/* Evict a layer's parameters from every cache level (clflushopt or clflush). */
void bench_cache_evict(const struct layer_info *info);
/* Evict [p, p + bytes) from every cache level (the probe's gather rows). */
void bench_cache_evict_range(const void *p, size_t bytes);
void bench_cache_touch(const struct layer_info *info); /* fault in every parameter page */
/* "clflushopt", "clflush" or "none": what bench_cache_evict uses here. */
const char *bench_cache_method(void);

/* ---- runner.c: one measured point ---- */

enum bench_cache_mode { BENCH_CACHE_COLD, BENCH_CACHE_WARM };

/* Hooks a counters module plugs in (all may be NULL). point_begin runs after
 * the check, before the warm-up; forward_begin/_end bracket every timed
 * forward just outside the clock, inside the flush; point_end runs after the
 * last round (latency columns and noise note set) and fills the counter
 * columns (it may append to the note). */
struct bench_hooks {
    void *ctx;
    int (*point_begin)(void *ctx, const struct bench_row *row);
    void (*forward_begin)(void *ctx);
    void (*forward_end)(void *ctx);
    void (*point_end)(void *ctx, struct bench_row *row);
};

struct bench_opts {
    int min_rounds;     /* >= 11 */
    double min_round_s; /* >= 1 ms of timed forwards per round */
    int pairs;          /* bench_measure_pair: pairs of rounds, >= BENCH_MIN_PAIRS */
    enum bench_ci_method ci;
    enum bench_cache_mode cache;
    enum bench_inputs inputs;        /* bench_run_point's token pool */
    size_t check_tokens;             /* tokens checked against forward_ref */
    struct bench_roofs roofs;        /* from bench_probe_run; 0 = roofline_frac NA */
    const struct bench_hooks *hooks; /* may be NULL */
    volatile sig_atomic_t *stop;     /* may be NULL; nonzero abandons the point */
};

/* At least this many pairs: the order-statistic interval then has ranks
 * 6 and 16 (coverage 0.973); fewer would widen it to a few extreme pairs. */
#define BENCH_MIN_PAIRS 21

/* Pairs rotate over this many instances of each layer, as memory allows
 * (README, "Instances": where memory lands moves a layer by 2-3 %). */
#define BENCH_PAIR_INSTANCES     3
#define BENCH_PAIR_INSTANCES_MAX 16 /* the most a sweep file or compare may ask for */
/* Defaults: 11 rounds of >= 1 ms, 21 pairs, orderstat interval, cold cache,
 * random inputs, 4 checked tokens, no roofs. */
void bench_opts_default(struct bench_opts *o);

/* A created layer, what it says about itself and its input pool, reused by
 * every point of one configuration (impl, knobs, D, scale, threads). */
struct bench_layer {
    struct layer *l;
    struct layer_info info;
    struct bench_tokens tk;
    size_t max_tokens;
    double create_s;     /* seconds create() and the token pool took */
    const char *weights; /* the weights file loaded over the seeded init, or NULL */
};

/* The layer for up to max_tokens tokens (bench_point_fits first); 0 or LAYER_E*. */
int bench_layer_open(struct bench_layer *bl, const struct layer_ops *ops,
                     const struct layer_config *cfg, enum bench_inputs inputs, char *err,
                     size_t errlen);
void bench_layer_close(struct bench_layer *bl);
/* k instances of one configuration (pair.h): 0 with all open, or none left open. */
int bench_layer_open_n(struct bench_layer *bl, size_t k, const struct layer_ops *ops,
                       const struct layer_config *cfg, enum bench_inputs inputs, char *err,
                       size_t errlen);
void bench_layer_close_n(struct bench_layer *bl, size_t k);
/* The bytes a point allocates besides its layer (tokens, outputs); fits:
 * LAYER_ETOOBIG (err filled) unless instances x (layer_check's bytes, every
 * part of a composite, + those) fit in 90% of common_mem_available. */
uint64_t bench_point_input_bytes(size_t max_tokens, size_t d_model);
int bench_point_fits(const struct layer_ops *ops, const struct layer_config *cfg,
                     unsigned instances, char *err, size_t errlen);

#define BENCH_WRONG       1 /* forward disagrees with forward_ref: not timed */
#define BENCH_INTERRUPTED 2 /* opts->stop was raised: the row is incomplete */
/* Check forward against forward_ref at row->tokens tokens, then time it
 * (row holds the identity: bench_row_init). 0 (status ok), BENCH_WRONG (no
 * time), BENCH_INTERRUPTED, or a LAYER_E* code (status error, err filled). */
int bench_measure(struct bench_layer *bl, const struct bench_opts *opts, struct bench_row *row,
                  char *err, size_t errlen);

/* ---- runner.c: the steps of bench_measure, for pair.c (pair.h) ---- */

/* Fill the row's layer columns and check forward against forward_ref at
 * row->tokens tokens (flops, bytes, max_abs_err, recall). Returns 0,
 * BENCH_WRONG (the row's note says by how much) or a LAYER_E* code. */
int bench_check(struct bench_layer *bl, const struct bench_opts *opts, struct bench_row *row,
                char *err, size_t errlen);
/* Fault in the parameters, warm up (untimed) on windows *window, ... of tk. */
void bench_warm_up(struct bench_layer *bl, const struct bench_tokens *tk, size_t T,
                   const struct bench_opts *opts, float *y, size_t *window);
/* One timed round: `iters` forwards, or (iters = 0) forwards until their
 * summed time is >= opts->min_round_s, each on the next window of tk and
 * timed alone (flush and opts->hooks outside the clock). *mean_s = the mean
 * forward time, *done = forwards run. Returns 0 or BENCH_INTERRUPTED. */
int bench_time_round(struct bench_layer *bl, const struct bench_tokens *tk, size_t T,
                     const struct bench_opts *opts, float *y, size_t *window, uint64_t iters,
                     double *mean_s, uint64_t *done);
/* The latency columns from n round times (v is reordered), the noise flag,
 * note, rates and roofline_frac against roofs. */
void bench_row_rounds(struct bench_row *row, double *v, size_t n, const struct bench_roofs *roofs);
void bench_row_status(struct bench_row *row, int rc, const char *err); /* status, note from rc */

/* A row's median time against each roof (roofline_frac's terms): the time
 * the roof allows for its flops, streamed bytes (at triad) or gathered
 * bytes (small sparse units, at the gather roof) over the measured time.
 * Returns 0, or -1 (t untouched) without roofs, bytes or a time. */
struct bench_roof_terms {
    double streamed_bytes, gathered_bytes;
    double compute_frac, stream_frac, gather_frac, roofline_frac;
    const char *roof; /* the term roofline_frac is set by: sgemm, triad or gather */
};
int bench_roof_terms(const struct bench_row *row, const struct bench_roofs *roofs,
                     struct bench_roof_terms *t);

/* What `run` does: open, measure, close, with the status and note set for
 * every outcome (a create failure is status error, or skipped when the layer
 * said the configuration is unsupported or too big). */
int bench_run_point(const struct layer_ops *ops, const struct layer_config *cfg, size_t batch,
                    size_t seq_len, const struct bench_opts *opts, struct bench_row *row, char *err,
                    size_t errlen);

#endif
