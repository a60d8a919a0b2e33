/* callgrind.h - private to bench/counters/: what the callgrind parent
 * (callgrind.c), its child under valgrind (callgrind_child.c), the dump
 * parser and the meta keys (counters.c) must agree on. */
#ifndef SPARSEBENCH_COUNTERS_CALLGRIND_H
#define SPARSEBENCH_COUNTERS_CALLGRIND_H

#include "counters.h"

#include <stddef.h>

/* The pinned simulated caches of every callgrind run (research/harness.md
 * section 0.3): dumps are checked against these `desc:` lines. */
#define BENCH_CG_I1      "32768,8,64"
#define BENCH_CG_D1      "32768,8,64"
#define BENCH_CG_LL      "8388608,16,64"
#define BENCH_CG_LL_DESC "8388608 B, 64 B, 16-way associative"
#define BENCH_CG_L1_DESC "32768 B, 64 B, 8-way associative"
#define BENCH_CG_LINE    64

/* The plan the parent writes and the child reads: this first line, then
 * "impl", "knobs", "d_model", "scale", "seed", "cache" and one
 * "point <index> <tokens>" line per counted point. */
#define BENCH_CG_PLAN_MAGIC "sparsebench-callgrind-plan 1"
/* Points one plan may hold: one layer's token counts, at most a sweep
 * slot's batch x seq_len lists (64 values each, sweep/sweep.h). */
#define BENCH_CG_PLAN_MAX   (64 * 64)

/* Whether callgrind can run here (valgrind, setarch, build/callgrind/sparsebench,
 * the headers); fills c's tool paths, or why with the reason. */
int bench_callgrind_available(struct bench_counters *c, char *why, size_t whylen);

#endif
