/* pair.c - two layers measured in pairs of rounds, for the ratio of their
 * times with a confidence interval.
 *
 * nanobench's compare() (research/harness.md section 2.5) is the model:
 * the same number of forwards for both sides, their rounds interleaved in
 * one process, the position in a pair balanced (ABBA), and a ratio with a
 * 95 % interval, never two medians taken minutes apart. Here:
 *  - both layers are checked against their references first; if either
 *    disagrees neither is timed;
 *  - both are warmed up, then one calibration round each (>= min_round_s,
 *    not kept) sets the forwards per round: enough that the faster side's
 *    round is >= min_round_s; the slower side runs as many;
 *  - pair i times one round of each, A first in even pairs and B first in
 *    odd ones, both on the same token windows (A's pool), each forward
 *    flushed cold as in runner.c;
 *  - the ratio is stats.c's median of per-pair time_b / time_a.
 * Left out: more than two alternatives (nanobench's Latin squares) and
 * calibrating again during the pairs.
 */
#include "pair.h"
#include "measure.h"
#include "row.h"
#include "stats.h"
#include "util.h"
#include "../impls/common/common.h"
#include "../impls/layer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_partner(struct bench_row *row, const struct bench_row *partner)
{
    snprintf(row->pair_with, sizeof(row->pair_with), "%s", partner->slot);
    row->pair_scale = partner->scale;
}

/* A row whose partner failed its check or its creation is not timed. */
static void partner_failed(struct bench_row *row, int rc, const struct bench_row *partner,
                           int partner_rc, const char *partner_err)
{
    if (rc) /* its own failure says more */
        return;
    if (partner_rc == BENCH_WRONG)
        bench_row_note(row, "not timed: its partner %s disagrees with its reference (%s)",
                       partner->slot, partner->note);
    else
        bench_row_note(row, "not timed: its partner %s failed: %s", partner->slot, partner_err);
    snprintf(row->status, sizeof(row->status), "%s", partner_rc == BENCH_WRONG ? "wrong" : "error");
}

static int checks(struct bench_layer *a, struct bench_layer *b, const struct bench_opts *opts,
                  struct bench_row *ra, struct bench_row *rb, char *err, size_t errlen)
{
    char err_b[512] = "";
    int rc_a = bench_check(a, opts, ra, err, errlen);
    int rc_b = bench_check(b, opts, rb, err_b, sizeof(err_b));
    if (!rc_a && !rc_b)
        return 0;
    bench_row_status(ra, rc_a, err);
    bench_row_status(rb, rc_b, err_b);
    partner_failed(ra, rc_a, rb, rc_b, err_b);
    partner_failed(rb, rc_b, ra, rc_a, err);
    if (rc_a && rc_a != BENCH_WRONG)
        return rc_a;
    if (rc_b && rc_b != BENCH_WRONG) {
        snprintf(err, errlen, "%s", err_b);
        return rc_b;
    }
    return BENCH_WRONG;
}

static void fill_ratio(struct bench_row *row, const struct bench_ratio *q,
                       const struct bench_row *partner)
{
    row->pair_n = q->n;
    row->pair_ratio = q->median;
    row->pair_ratio_lo = q->lo;
    row->pair_ratio_hi = q->hi;
    row->pair_ci_coverage = q->coverage;
    snprintf(row->pair_ci_method, sizeof(row->pair_ci_method), "%s",
             bench_ci_method_name(q->method));
    row->pair_latency_us_median = partner->latency_us_median;
}

/* The pairs themselves: ta[i], tb[i] the mean forward times of pair i. */
static int time_pairs(struct bench_layer *a, struct bench_layer *b, const struct bench_opts *opts,
                      size_t T, float *y, double *ta, double *tb, uint64_t *iters_out)
{
    struct bench_opts quiet = *opts; /* B's forwards and the calibration are not counted */
    quiet.hooks = NULL;
    const struct bench_tokens *tk = &a->tk;
    size_t wa = 1, wb = 1; /* window 0 was the correctness check's */
    double ma, mb;
    uint64_t na, nb, done;
    int rc;
    bench_warm_up(a, tk, T, &quiet, y, &wa);
    bench_warm_up(b, tk, T, &quiet, y, &wb);
    if ((rc = bench_time_round(a, tk, T, &quiet, y, &wa, 0, &ma, &na)) != 0 ||
        (rc = bench_time_round(b, tk, T, &quiet, y, &wb, 0, &mb, &nb)) != 0)
        return rc;
    double fastest = ma < mb ? ma : mb;
    uint64_t iters = (uint64_t)ceil(opts->min_round_s / fastest);
    if (iters < 1)
        iters = 1;
    size_t w = wa > wb ? wa : wb;
    for (int i = 0; i < opts->pairs; i++) {
        for (int side = 0; side < 2; side++) {
            int is_b = side ^ (i & 1); /* A B, B A, A B, ... */
            size_t wi = w;             /* both sides on the same windows */
            rc = is_b ? bench_time_round(b, tk, T, &quiet, y, &wi, iters, &tb[i], &done)
                      : bench_time_round(a, tk, T, opts, y, &wi, iters, &ta[i], &done);
            if (rc)
                return rc;
        }
        w += iters;
    }
    *iters_out = iters;
    return 0;
}

int bench_measure_pair(struct bench_layer *a, struct bench_layer *b, const struct bench_opts *opts,
                       struct bench_row *ra, struct bench_row *rb, char *err, size_t errlen)
{
    const struct bench_hooks *h = opts->hooks;
    size_t T = ra->tokens, n = opts->pairs > 0 ? (size_t)opts->pairs : 0;
    double t0 = bench_now();
    float *y = NULL;
    double *ta = NULL, *tb = NULL, *v = NULL;
    uint64_t iters = 0;
    int rc;

    set_partner(ra, rb);
    set_partner(rb, ra);
    if (a->tk.d_model != b->tk.d_model || rb->tokens != T) {
        snprintf(err, errlen, "%s and %s: a pair needs the same D and tokens (D %zu vs %zu)",
                 ra->slot, rb->slot, a->tk.d_model, b->tk.d_model);
        rc = LAYER_EINVAL;
        goto out_status;
    }
    rc = checks(a, b, opts, ra, rb, err, errlen);
    if (rc)
        goto out_wall;
    y = common_alloc(T * a->tk.d_model * sizeof(float));
    ta = calloc(n ? n : 1, sizeof(*ta));
    tb = calloc(n ? n : 1, sizeof(*tb));
    v = calloc(n ? n : 1, sizeof(*v));
    if (!y || !ta || !tb || !v) {
        snprintf(err, errlen, "%s vs %s: out of memory while timing", ra->slot, rb->slot);
        rc = LAYER_ENOMEM;
        goto out_status;
    }
    if (h && h->point_begin && (rc = h->point_begin(h->ctx, ra)) != 0) {
        snprintf(err, errlen, "%s: the counters could not start", ra->slot);
        goto out_status;
    }
    rc = time_pairs(a, b, opts, T, y, ta, tb, &iters);
    if (rc)
        goto out_status;
    memcpy(v, ta, n * sizeof(*v));
    bench_row_rounds(ra, v, n, &opts->roofs);
    memcpy(v, tb, n * sizeof(*v));
    bench_row_rounds(rb, v, n, &opts->roofs);
    ra->iters_per_round = rb->iters_per_round = iters;
    struct bench_ratio qa, qb;
    if (bench_paired_ratio(ta, tb, n, opts->ci, BENCH_CI_LEVEL, BENCH_BOOTSTRAP_SEED, &qa, err,
                           errlen) ||
        bench_paired_ratio(tb, ta, n, opts->ci, BENCH_CI_LEVEL, BENCH_BOOTSTRAP_SEED, &qb, err,
                           errlen)) {
        rc = LAYER_EINVAL;
        goto out_status;
    }
    fill_ratio(ra, &qa, rb);
    fill_ratio(rb, &qb, ra);
    if (h && h->point_end)
        h->point_end(h->ctx, ra);
out_status:
    bench_row_status(ra, rc, err);
    bench_row_status(rb, rc, err);
out_wall:
    ra->wall_s = rb->wall_s = bench_now() - t0;
    common_free(y);
    free(ta);
    free(tb);
    free(v);
    return rc;
}
