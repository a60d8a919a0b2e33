/* stats.c - the per-point statistics of the round times: median, min, p90,
 * and nanobench's err% (median absolute percentage deviation), which says how
 * stable this one measurement was, not how it compares to another. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between closest ranks, on sorted v. */
static double quantile(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (pos - (double)lo) * (v[hi] - v[lo]);
}

void bench_stats_compute(double *v, size_t n, struct bench_stats *out)
{
    qsort(v, n, sizeof(*v), cmp_double);
    out->min = v[0];
    out->median = quantile(v, n, 0.5);
    out->p90 = quantile(v, n, 0.9);
    for (size_t i = 0; i < n; i++)
        v[i] = v[i] > 0 ? fabs(v[i] - out->median) / v[i] : 0.0;
    qsort(v, n, sizeof(*v), cmp_double);
    out->err_pct = 100.0 * quantile(v, n, 0.5);
}
