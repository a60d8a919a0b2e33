/* shard.h - sweep --shard I/N (shard.c): the points cut into comparison
 * groups (everything compared with each other runs on one machine: issue 16,
 * "a ratio is only meaningful within one machine") and the groups balanced
 * over N shards by cost. */
#ifndef SPARSEBENCH_SWEEP_SHARD_H
#define SPARSEBENCH_SWEEP_SHARD_H

#include "sweep.h" /* struct bench_table, bench_point */

#define BENCH_MAX_SHARDS 4096

/* "I/N" with 1 <= I <= N <= BENCH_MAX_SHARDS: returns 0, else -1. */
int bench_shard_parse(const char *spec, unsigned *i, unsigned *n);
/* Seconds per point: est's wall_s + create_s for a row with the point's key
 * (est may be NULL), else a model from the layer's flops and bytes. */
int bench_sweep_costs(const struct bench_sweep *sw, const struct bench_point *pts, size_t n,
                      const struct bench_table *est, double *cost, char *err, size_t errlen);
/* shard[i] in 1..nshards for every point: whole comparison groups (one
 * d_model, batch, seq_len and threads) balanced by cost. -1: no memory. */
int bench_sweep_shard_of(const struct bench_point *pts, size_t n, const double *cost,
                         unsigned nshards, unsigned *shard);

#endif
