/* stats.h - statistics (stats.c): one point's round times, and the ratio of
 * two layers measured in pairs, with its confidence interval. */
#ifndef SPARSEBENCH_STATS_H
#define SPARSEBENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

struct bench_stats {
    double median, min, p90, err_pct; /* err%: median absolute percentage deviation */
};

/* Statistics of v[0..n); v is reordered. n >= 1. */
void bench_stats_compute(double *v, size_t n, struct bench_stats *out);

/* ---- paired ratios ----
 *
 * A ratio that matters is measured in pairs: round i of A and round i of B
 * run back to back on the same inputs, r_i = time_b[i] / time_a[i], and the
 * result is the median of the r_i with an interval for it. The median of
 * per-pair ratios, not the ratio of two medians: each r_i compares two
 * rounds that saw the same moment of a shared machine, so a slow minute
 * moves both sides of it and cancels. */

enum bench_ci_method {
    /* "orderstat", the default: the distribution-free interval for a
     * median, [r_(k), r_(n+1-k)] of the sorted ratios with k from the
     * binomial (the sign test's interval): coverage >= the level exactly,
     * for any continuous distribution of independent ratios, and no
     * randomness. Needs n >= 6 at 95 %. */
    BENCH_CI_ORDERSTAT,
    /* "bootstrap": the percentile bootstrap over pairs (the pairs are
     * resampled, BENCH_BOOTSTRAP_RESAMPLES times, with a fixed seed so a
     * report is reproducible). For a median at n ~ 20 it covers less than
     * it says (about 90-94 % for a nominal 95 %, measured in
     * tests/check_stats.c), because a resampled median takes only a few
     * distinct values. Offered for comparison with other tools. */
    BENCH_CI_BOOTSTRAP,
};

#define BENCH_CI_CHOICES          "orderstat|bootstrap"
#define BENCH_CI_LEVEL            0.95
#define BENCH_BOOTSTRAP_RESAMPLES 10000
#define BENCH_BOOTSTRAP_SEED      20240611u /* any fixed value: a report must not move */

struct bench_ratio {
    double median;   /* median of the ratios (mean of the two middle ones for even n) */
    double lo, hi;   /* the interval at `level` */
    double level;    /* asked for, e.g. 0.95 */
    double coverage; /* orderstat: the interval's exact coverage (>= level); bootstrap: level */
    size_t n;        /* pairs */
    size_t lo_rank, hi_rank; /* orderstat: 1-based ranks of lo and hi; bootstrap: 0 */
    enum bench_ci_method method;
};

/* "orderstat" or "bootstrap". */
const char *bench_ci_method_name(enum bench_ci_method m);
/* 0 and *m set, or -1 for a name that is not one of BENCH_CI_CHOICES. */
int bench_ci_method_parse(const char *name, enum bench_ci_method *m);

/* The distribution-free interval for the median of n independent values:
 * the 1-based ranks lo <= hi = n + 1 - lo of the narrowest such interval
 * whose coverage 1 - 2 P(Binomial(n, 1/2) <= lo - 1) is >= level.
 * Returns 0, or -1 when n is too small for any (n < 6 at 95 %). */
int bench_median_ci_ranks(size_t n, double level, size_t *lo, size_t *hi, double *coverage);

/* The smallest n for which bench_median_ci_ranks has an interval at level. */
size_t bench_ci_min_pairs(double level);

/* Median of r[0..n) (not modified) and its interval at level (0 < level <
 * 1) by method; seed drives the bootstrap only. Every r_i must be finite
 * and > 0. Returns 0, or -1 with err saying why (too few values for the
 * level, a bad value, no memory). */
int bench_ratio_ci(const double *r, size_t n, enum bench_ci_method method, double level,
                   uint64_t seed, struct bench_ratio *out, char *err, size_t errlen);

/* The same on paired times: r_i = time_b[i] / time_a[i], how many times
 * faster A is than B (> 1: A is faster). Both arrays hold n > 0 seconds. */
int bench_paired_ratio(const double *time_a, const double *time_b, size_t n,
                       enum bench_ci_method method, double level, uint64_t seed,
                       struct bench_ratio *out, char *err, size_t errlen);

#endif
