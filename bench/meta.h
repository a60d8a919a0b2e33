/* meta.h - what ran where: the run's key,value sidecar meta.csv (meta.c),
 * the probes it records, whether OpenBLAS runs at this CPU's full speed
 * (blas.c), and the CPU time /proc/stat counts, for steal time (ticks.c). */
#ifndef SPARSEBENCH_META_H
#define SPARSEBENCH_META_H

#include "probe.h"

#include <stddef.h>
#include <stdint.h>

/* ---- meta.c ---- */

struct bench_meta {
    size_t n, cap;
    char **key, **val;
};

void bench_meta_set(struct bench_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *bench_meta_get(const struct bench_meta *m, const char *key); /* NULL if absent */
void bench_meta_free(struct bench_meta *m);
/* Written to a temporary name and renamed over path. */
int bench_meta_write(const struct bench_meta *m, const char *path, char *err, size_t errlen);
int bench_meta_read(struct bench_meta *m, const char *path, char *err, size_t errlen);
/* Build and machine facts: git revision, compiler and flags, library
 * versions, CPU model, online CPUs, kernel, OpenBLAS configuration. */
void bench_meta_environment(struct bench_meta *m);
/* Record a probe under keys <prefix>_*_t<threads> ("probe" at the start of
 * a run, "probe_end" after it). */
void bench_meta_probe(struct bench_meta *m, const struct bench_probe *p, const char *prefix);
/* The roofs recorded for `threads`, or {0, 0}. */
struct bench_roofs bench_meta_roofs(const struct bench_meta *m, int threads);

/* ---- blas.c ---- */

/* 1 with a one-line message when OpenBLAS runs kernels older than this CPU
 * (AVX2 kernels on an AVX-512 CPU, e.g. forced by OPENBLAS_CORETYPE), else 0. */
int bench_blas_below_native(char *msg, size_t len);
/* On stderr, prefixed by cmd: that warning, or that main left out an
 * OPENBLAS_CORETYPE that pinned older kernels (bench/main.c), or nothing. */
void bench_blas_report(const char *cmd);

/* ---- ticks.c ---- */

/* CPU time counters from /proc/stat, for steal time over a run. */
struct bench_ticks {
    uint64_t steal, total;
};
int bench_ticks_read(struct bench_ticks *t);

#endif
