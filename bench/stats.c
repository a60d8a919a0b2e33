/* stats.c - the per-point statistics of the round times: median, min, p90,
 * and nanobench's err% (median absolute percentage deviation), which says how
 * stable this one measurement was, not how it compares to another; and the
 * median of paired ratios with a confidence interval (stats.h says which
 * and why): the binomial order-statistic interval for a median, or a
 * percentile bootstrap over pairs. Left out: BCa and other corrected
 * bootstraps, and tests for a difference (the interval is the answer). */
#include "stats.h"
#include "../impls/common/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- paired ratios ---- */

static double median_sorted(const double *s, size_t n)
{
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

const char *bench_ci_method_name(enum bench_ci_method m)
{
    return m == BENCH_CI_BOOTSTRAP ? "bootstrap" : "orderstat";
}

int bench_ci_method_parse(const char *name, enum bench_ci_method *m)
{
    if (!strcmp(name, "orderstat"))
        *m = BENCH_CI_ORDERSTAT;
    else if (!strcmp(name, "bootstrap"))
        *m = BENCH_CI_BOOTSTRAP;
    else
        return -1;
    return 0;
}

/* P(Binomial(n, 1/2) = j), in logs so that 2^-n does not underflow. */
static double binom_half_pmf(size_t n, size_t j)
{
    double nn = (double)n, jj = (double)j;
    return exp(lgamma(nn + 1) - lgamma(jj + 1) - lgamma(nn - jj + 1) - nn * log(2.0));
}

/* The sorted sample's k-th smallest is below the median with probability
 * P(B >= k), B ~ Binomial(n, 1/2) the count of values below it; so
 * [x_(k), x_(n+1-k)] misses it with probability 2 P(B <= k - 1). The
 * largest k whose coverage is still >= level gives the narrowest interval.
 * The slack absorbs rounding when a coverage equals the level exactly. */
int bench_median_ci_ranks(size_t n, double level, size_t *lo, size_t *hi, double *coverage)
{
    double tail = 0; /* P(B <= k - 1) */
    size_t best = 0;
    double best_cov = 0;
    for (size_t k = 1; 2 * k <= n + 1; k++) {
        tail += binom_half_pmf(n, k - 1);
        double cov = 1 - 2 * tail;
        if (cov < level - 1e-12)
            break;
        best = k;
        best_cov = cov;
    }
    if (!best)
        return -1;
    *lo = best;
    *hi = n + 1 - best;
    *coverage = best_cov;
    return 0;
}

size_t bench_ci_min_pairs(double level)
{
    size_t lo, hi;
    double cov;
    for (size_t n = 1; n < 1000000; n++)
        if (bench_median_ci_ranks(n, level, &lo, &hi, &cov) == 0)
            return n;
    return 0;
}

/* Percentile bootstrap: resample the n ratios with replacement, take each
 * resample's median, and read the (1 - level) / 2 and (1 + level) / 2
 * quantiles of those medians (as order statistics of the sorted medians). */
static int bootstrap(const double *r, size_t n, double level, uint64_t seed,
                     struct bench_ratio *out)
{
    const size_t B = BENCH_BOOTSTRAP_RESAMPLES;
    double *meds = malloc(B * sizeof(*meds)), *tmp = malloc(n * sizeof(*tmp));
    struct common_rng rng;
    int rc = -1;
    if (!meds || !tmp)
        goto out_free;
    common_rng_seed(&rng, seed, 0x626f6f74ull); /* "boot": a stream of its own */
    for (size_t b = 0; b < B; b++) {
        for (size_t j = 0; j < n; j++)
            tmp[j] = r[common_rng_below(&rng, n)];
        qsort(tmp, n, sizeof(*tmp), cmp_double);
        meds[b] = median_sorted(tmp, n);
    }
    qsort(meds, B, sizeof(*meds), cmp_double);
    size_t ilo = (size_t)floor((1 - level) / 2 * (double)B);
    size_t ihi = (size_t)ceil((1 + level) / 2 * (double)B);
    ihi = ihi > 0 ? ihi - 1 : 0;
    out->lo = meds[ilo < B ? ilo : B - 1];
    out->hi = meds[ihi < B ? ihi : B - 1];
    out->coverage = level;
    out->lo_rank = out->hi_rank = 0;
    rc = 0;
out_free:
    free(tmp);
    free(meds);
    return rc;
}

int bench_ratio_ci(const double *r, size_t n, enum bench_ci_method method, double level,
                   uint64_t seed, struct bench_ratio *out, char *err, size_t errlen)
{
    double *s = NULL;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    out->median = out->lo = out->hi = NAN;
    out->n = n;
    out->method = method;
    out->level = level;
    if (!(level > 0 && level < 1)) {
        snprintf(err, errlen, "confidence level %g is not between 0 and 1", level);
        return -1;
    }
    size_t need = method == BENCH_CI_ORDERSTAT ? bench_ci_min_pairs(level) : 2;
    if (n < need) {
        snprintf(err, errlen, "%zu pairs are too few for a %g %% %s interval; at least %zu", n,
                 100 * level, bench_ci_method_name(method), need);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!(isfinite(r[i]) && r[i] > 0)) {
            snprintf(err, errlen, "ratio %zu of %zu is %g; every ratio must be finite and > 0",
                     i + 1, n, r[i]);
            return -1;
        }
    s = malloc(n * sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory for %zu ratios", n);
        return -1;
    }
    memcpy(s, r, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    out->median = median_sorted(s, n);
    if (method == BENCH_CI_ORDERSTAT) {
        bench_median_ci_ranks(n, level, &out->lo_rank, &out->hi_rank, &out->coverage);
        out->lo = s[out->lo_rank - 1];
        out->hi = s[out->hi_rank - 1];
        rc = 0;
    } else if ((rc = bootstrap(s, n, level, seed, out)) != 0) {
        snprintf(err, errlen, "out of memory for %d bootstrap resamples",
                 BENCH_BOOTSTRAP_RESAMPLES);
    }
    free(s);
    return rc;
}

int bench_paired_ratio(const double *time_a, const double *time_b, size_t n,
                       enum bench_ci_method method, double level, uint64_t seed,
                       struct bench_ratio *out, char *err, size_t errlen)
{
    double *r = malloc((n ? n : 1) * sizeof(*r));
    if (!r) {
        memset(out, 0, sizeof(*out));
        snprintf(err, errlen, "out of memory for %zu ratios", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        r[i] = time_b[i] / time_a[i]; /* a zero or NaN time fails the check below */
    int rc = bench_ratio_ci(r, n, method, level, seed, out, err, errlen);
    free(r);
    return rc;
}
