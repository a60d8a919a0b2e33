/* stats.h - the statistics of one point's round times (stats.c). */
#ifndef SPARSEBENCH_STATS_H
#define SPARSEBENCH_STATS_H

#include <stddef.h>

struct bench_stats {
    double median, min, p90, err_pct; /* err%: median absolute percentage deviation */
};

/* Statistics of v[0..n); v is reordered. n >= 1. */
void bench_stats_compute(double *v, size_t n, struct bench_stats *out);

#endif
