/* runner.c - measure one point: correctness first, then time.
 *
 * The order is fixed. Create the layer; run forward on the full batch and
 * forward_ref on a few of those tokens, and refuse to time a layer whose
 * output disagrees (status=wrong, no latency). Then fault in every parameter
 * page, warm up, and time at least 11 rounds of at least 1 ms of forwards,
 * each forward on a fresh window of distinct tokens and, in cold mode, with
 * the parameters flushed from the caches just before (outside the clock).
 */
#include "bench.h"
#include "../impls/common/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK_TOL     1e-4 /* relative to max(1, max |y_ref|) */
#define WARMUP_CALLS  2
#define NOISY_ERR_PCT 5.0

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_opts_default(struct bench_opts *o)
{
    o->min_rounds = 11;
    o->min_round_s = 1e-3;
    o->cache = BENCH_CACHE_COLD;
    o->check_tokens = 4;
    o->verbose = 0;
}

static void row_identity(const struct bench_point *pt, const struct bench_opts *opts,
                         struct bench_row *row)
{
    memset(row, 0, sizeof(*row));
    snprintf(row->impl, sizeof(row->impl), "%s", pt->ops->name);
    snprintf(row->knobs, sizeof(row->knobs), "%s", pt->cfg.knobs ? pt->cfg.knobs : "");
    row->d_model = pt->cfg.d_model;
    row->scale = pt->cfg.scale;
    row->batch = pt->batch;
    row->seq_len = pt->seq_len;
    row->tokens = pt->batch * pt->seq_len;
    row->threads = (uint64_t)pt->cfg.threads;
    row->seed = pt->cfg.seed;
    snprintf(row->cache, sizeof(row->cache), "%s",
             opts->cache == BENCH_CACHE_COLD ? "cold" : "warm");
    row->latency_us_median = row->latency_us_min = row->latency_us_p90 = NAN;
    row->err_pct = row->gflops = row->max_abs_err = row->recall = NAN;
}

/* forward on all T tokens, forward_ref on up to C of them spread over the
 * batch; the largest absolute difference goes to row->max_abs_err. */
static int check_point(struct layer *l, const float *x, size_t T, size_t D, size_t C,
                       struct bench_row *row, char *err, size_t errlen)
{
    int rc = LAYER_ENOMEM;
    if (C > T)
        C = T;
    float *y = common_alloc(T * D * sizeof(float));
    float *xc = common_alloc(C * D * sizeof(float));
    float *yc = common_alloc(C * D * sizeof(float));
    if (!y || !xc || !yc) {
        snprintf(err, errlen, "%s: out of memory for the correctness check", row->impl);
        goto out_free;
    }
    rc = l->ops->forward(l, x, y, T, &row->st);
    if (rc) {
        snprintf(err, errlen, "%s: forward failed: %s", row->impl, layer_strerror(rc));
        goto out_free;
    }
    for (size_t j = 0; j < C; j++) {
        size_t t = C == 1 ? 0 : j * (T - 1) / (C - 1);
        memcpy(xc + j * D, x + t * D, D * sizeof(float));
    }
    rc = l->ops->forward_ref(l, xc, yc, C);
    if (rc) {
        snprintf(err, errlen, "%s: forward_ref failed: %s", row->impl, layer_strerror(rc));
        goto out_free;
    }
    double worst = 0, scale = 1;
    for (size_t j = 0; j < C; j++) {
        size_t t = C == 1 ? 0 : j * (T - 1) / (C - 1);
        for (size_t d = 0; d < D; d++) {
            double a = y[t * D + d], b = yc[j * D + d];
            double e = fabs(a - b);
            if (!(e <= worst)) /* NaN sticks */
                worst = e;
            if (fabs(b) > scale)
                scale = fabs(b);
        }
    }
    row->max_abs_err = worst;
    if (!(worst <= CHECK_TOL * scale)) {
        snprintf(row->note, sizeof(row->note),
                 "forward disagrees with forward_ref: max_abs_err %.3g > tolerance %.3g", worst,
                 CHECK_TOL * scale);
        rc = BENCH_WRONG;
        goto out_free;
    }
    if (l->ops->recall) {
        rc = l->ops->recall(l, xc, C, &row->recall);
        if (rc) {
            snprintf(err, errlen, "%s: recall failed: %s", row->impl, layer_strerror(rc));
            goto out_free;
        }
    }
    rc = 0;
out_free:
    common_free(yc);
    common_free(xc);
    common_free(y);
    return rc;
}

/* One forward, timed alone; the cache flush happens before the clock starts. */
static double timed_forward(struct layer *l, const struct layer_info *info, int cold,
                            const float *x, float *y, size_t T)
{
    struct layer_stats st;
    if (cold)
        bench_cache_evict(info);
    double t0 = bench_now();
    l->ops->forward(l, x, y, T, &st);
    return bench_now() - t0;
}

static int time_point(struct layer *l, const struct layer_info *info, const struct bench_tokens *tk,
                      size_t T, const struct bench_opts *opts, struct bench_row *row)
{
    int cold = opts->cache == BENCH_CACHE_COLD;
    float *y = common_alloc(T * tk->d_model * sizeof(float));
    double *rounds = calloc((size_t)opts->min_rounds, sizeof(double));
    size_t call = 1;
    if (!y || !rounds) {
        common_free(y);
        free(rounds);
        return LAYER_ENOMEM;
    }
    bench_cache_touch(info);
    for (int i = 0; i < WARMUP_CALLS; i++)
        timed_forward(l, info, cold, bench_tokens_window(tk, call++, T), y, T);
    for (int r = 0; r < opts->min_rounds; r++) {
        double total = 0;
        uint64_t iters = 0;
        while (total < opts->min_round_s) {
            total += timed_forward(l, info, cold, bench_tokens_window(tk, call++, T), y, T);
            iters++;
        }
        rounds[r] = total / (double)iters;
        if (iters > row->iters_per_round)
            row->iters_per_round = iters;
    }
    struct bench_stats s;
    bench_stats_compute(rounds, (size_t)opts->min_rounds, &s);
    row->rounds = (uint64_t)opts->min_rounds;
    row->latency_us_median = s.median * 1e6;
    row->latency_us_min = s.min * 1e6;
    row->latency_us_p90 = s.p90 * 1e6;
    row->err_pct = s.err_pct;
    row->gflops = (double)row->st.flops / (s.median * 1e9);
    if (s.err_pct >= NOISY_ERR_PCT)
        snprintf(row->note, sizeof(row->note), "noisy: err%% %.1f >= %.0f", s.err_pct,
                 NOISY_ERR_PCT);
    common_free(y);
    free(rounds);
    return 0;
}

int bench_run_point(const struct bench_point *pt, const struct bench_opts *opts,
                    struct bench_row *row, char *err, size_t errlen)
{
    struct layer_config cfg = pt->cfg;
    struct layer *l = NULL;
    struct layer_info info;
    struct bench_tokens tk = {0};
    size_t T = pt->batch * pt->seq_len;
    int rc;

    row_identity(pt, opts, row);
    cfg.max_tokens = T;
    rc = layer_create(pt->ops, &cfg, &l, err, errlen);
    if (rc)
        goto out_status;
    memset(&info, 0, sizeof(info));
    l->ops->describe(l, &info);
    row->params_total = info.params_total;
    row->params_active = info.params_active;
    snprintf(row->knobs, sizeof(row->knobs), "%s", info.knobs);
    snprintf(row->unit, sizeof(row->unit), "%s", info.unit ? info.unit : "");

    /* Enough distinct tokens that consecutive forwards never repeat a window. */
    rc = bench_tokens_create(&tk, T * 3 > 1024 ? T * 3 : 1024, cfg.d_model, cfg.seed);
    if (rc) {
        snprintf(err, errlen, "%s: out of memory for %zu input tokens", row->impl, T * 3);
        goto out_destroy;
    }
    rc = check_point(l, bench_tokens_window(&tk, 0, T), T, cfg.d_model, opts->check_tokens, row,
                     err, errlen);
    if (rc)
        goto out_tokens;
    rc = time_point(l, &info, &tk, T, opts, row);
    if (rc)
        snprintf(err, errlen, "%s: out of memory while timing", row->impl);

out_tokens:
    bench_tokens_destroy(&tk);
out_destroy:
    layer_destroy(l);
out_status:
    if (rc == BENCH_WRONG) {
        snprintf(row->status, sizeof(row->status), "wrong");
    } else if (rc) {
        snprintf(row->status, sizeof(row->status), "error");
        snprintf(row->note, sizeof(row->note), "%s", err);
    } else {
        snprintf(row->status, sizeof(row->status), "ok");
    }
    return rc;
}
