/* runner.c - measure one point: correctness first, then time.
 *
 * The order is fixed. Create the layer (once per configuration; every token
 * count of a sweep reuses it); run forward on the full batch and forward_ref
 * on a few of those tokens, and refuse to time a layer whose output
 * disagrees (status=wrong, no latency). Then fault in every parameter page,
 * warm up, and time at least 11 rounds of at least 1 ms of forwards, each
 * forward on a fresh window of distinct tokens and, in cold mode, with the
 * parameters flushed from the caches just before (outside the clock).
 * The steps are exported (measure.h) so that pair.c times two layers in
 * alternating rounds with the same code.
 */
#include "measure.h"
#include "probe.h"
#include "row.h"
#include "stats.h"
#include "util.h"
#include "weights.h"
#include "../impls/common/common.h"
#include "../impls/layer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_TOL     1e-4 /* relative to max(1, max |y_ref|) */
#define WARMUP_CALLS  2
#define NOISY_ERR_PCT 5.0
#define POOL_MIN      1024 /* distinct tokens in the input pool, at least */

void bench_opts_default(struct bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->min_rounds = 11;
    o->min_round_s = 1e-3;
    o->pairs = BENCH_MIN_PAIRS;
    o->ci = BENCH_CI_ORDERSTAT;
    o->cache = BENCH_CACHE_COLD;
    o->check_tokens = 4;
}

uint64_t bench_point_input_bytes(size_t max_tokens, size_t d_model)
{
    /* The token pool (3T or POOL_MIN), the check's output and its two
     * reference buffers (at most T each), the timing's output: every
     * harness allocation of a point, so a large --tokens is refused, not
     * met by an allocation failure or the OOM killer. */
    uint64_t pool = 3 * (uint64_t)max_tokens > POOL_MIN ? 3 * (uint64_t)max_tokens : POOL_MIN;
    return (pool + 4 * (uint64_t)max_tokens) * d_model * sizeof(float);
}

int bench_point_fits(const struct layer_ops *ops, const struct layer_config *cfg,
                     unsigned instances, char *err, size_t errlen)
{
    uint64_t layer = 0;
    int rc = layer_check(ops, cfg, &layer, err, errlen);
    if (rc)
        return rc;
    uint64_t in = bench_point_input_bytes(cfg->max_tokens, cfg->d_model);
    uint64_t avail = common_mem_available();
    if (layer == UINT64_MAX || in > UINT64_MAX / 2 || layer > (UINT64_MAX - in) / instances / 2) {
        snprintf(err, errlen, "%s: the layer's size overflows 64 bits; lower --scale or --d",
                 ops->name);
        return LAYER_ETOOBIG;
    }
    uint64_t need = (layer + in) * instances;
    if (avail == 0 || need <= avail / 10 * 9)
        return 0;
    snprintf(err, errlen,
             "%s: needs %.2f GiB (layer %.2f GiB + input tokens %.2f GiB%s) but only %.2f GiB is "
             "available (MemAvailable or the cgroup limit, whichever is less); lower --scale, "
             "--d, --tokens/--batch or the size knobs",
             ops->name, need / 1073741824.0, layer / 1073741824.0, in / 1073741824.0,
             instances > 1 ? ", per instance" : "", avail / 1073741824.0);
    return LAYER_ETOOBIG;
}

int bench_layer_open(struct bench_layer *bl, const struct layer_ops *ops,
                     const struct layer_config *cfg, enum bench_inputs inputs, char *err,
                     size_t errlen)
{
    double t0 = bench_now();
    size_t T = cfg->max_tokens;
    int rc;

    memset(bl, 0, sizeof(*bl));
    bl->max_tokens = T;
    rc = bench_point_fits(ops, cfg, 1, err, errlen);
    if (rc)
        return rc;
    rc = layer_create(ops, cfg, &bl->l, err, errlen);
    if (rc)
        return rc;
    /* A weights file replaces the seeded init before anything reads it. */
    if (cfg->weights && (rc = bench_weights_load(bl->l, cfg->weights, err, errlen)) != 0) {
        layer_destroy(bl->l);
        bl->l = NULL;
        return rc;
    }
    bl->weights = cfg->weights;
    bl->l->ops->describe(bl->l, &bl->info);
    /* Enough distinct tokens that consecutive forwards never repeat a window. */
    rc = bench_tokens_create(&bl->tk, 3 * T > POOL_MIN ? 3 * T : POOL_MIN, cfg->d_model, cfg->seed,
                             inputs);
    if (rc) {
        snprintf(err, errlen, "%s: out of memory for %zu input tokens", ops->name, 3 * T);
        layer_destroy(bl->l);
        bl->l = NULL;
        return rc;
    }
    bl->create_s = bench_now() - t0;
    return 0;
}

void bench_layer_close(struct bench_layer *bl)
{
    bench_tokens_destroy(&bl->tk);
    layer_destroy(bl->l);
    bl->l = NULL;
}

void bench_layer_close_n(struct bench_layer *bl, size_t k)
{
    while (k)
        bench_layer_close(&bl[--k]);
}

int bench_layer_open_n(struct bench_layer *bl, size_t k, const struct layer_ops *ops,
                       const struct layer_config *cfg, enum bench_inputs inputs, char *err,
                       size_t errlen)
{
    for (size_t j = 0; j < k; j++) {
        int rc = bench_layer_open(&bl[j], ops, cfg, inputs, err, errlen);
        if (rc) {
            bench_layer_close_n(bl, j);
            return rc;
        }
    }
    return 0;
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

/* One forward, timed alone; the cache flush and the counter hooks happen
 * outside the clock, and the hooks see only the forwards that are timed
 * (counted), not the warm-up. */
static double timed_forward(struct layer *l, const struct layer_info *info,
                            const struct bench_opts *opts, const float *x, float *y, size_t T,
                            int counted)
{
    const struct bench_hooks *h = counted ? opts->hooks : NULL;
    struct layer_stats st;
    if (opts->cache == BENCH_CACHE_COLD)
        bench_cache_evict(info);
    if (h && h->forward_begin)
        h->forward_begin(h->ctx);
    double t0 = bench_now();
    l->ops->forward(l, x, y, T, &st);
    double dt = bench_now() - t0;
    if (h && h->forward_end)
        h->forward_end(h->ctx);
    return dt;
}

static int stopped(const struct bench_opts *opts)
{
    return opts->stop && *opts->stop;
}

/* Sparse units smaller than this are read as random rows: the hardware
 * prefetchers follow a stream only within a 4 KiB page and need a few
 * lines to start, so a unit of a page or two (PKM's 3 KB value rows,
 * UltraMem's values, FFF's nodes) is a gather, while a unit of 16 pages or
 * more (an MoE expert: megabytes) streams like an array. */
#define GATHER_UNIT_MAX (64u << 10)

/* The roofs allow a forward no less than max(flops / peak, streamed bytes
 * / triad + gathered bytes / gather): the memory terms add, because a
 * layer reads its dense and its sparse parameters one after the other.
 * roofline_frac is that time over the measured one; roof names the term
 * that sets it. Without a gather figure (a meta.csv from before the gather
 * probe) gathered bytes are charged at triad speed. For a layer without
 * gathered bytes this is gflops / min(peak, intensity x triad), as before. */
int bench_roof_terms(const struct bench_row *row, const struct bench_roofs *roofs,
                     struct bench_roof_terms *t)
{
    double s = row->latency_us_median * 1e-6;
    if (!(roofs->peak_gflops > 0 && roofs->bandwidth_gbps > 0 && row->bytes > 0 && s > 0))
        return -1;
    uint64_t sparse = row->st.sparse_bytes == BENCH_NA ? 0 : row->st.sparse_bytes;
    uint64_t units = row->st.units_touched;
    int gathered = sparse > 0 && units != BENCH_NA && units > 0 && sparse / units < GATHER_UNIT_MAX;
    double gather_bw = roofs->gather_gbps > 0 ? roofs->gather_gbps : roofs->bandwidth_gbps;
    t->streamed_bytes = (double)(row->bytes - (gathered ? sparse : 0));
    t->gathered_bytes = gathered ? (double)sparse : 0;
    double t_compute = (double)row->st.flops / (roofs->peak_gflops * 1e9);
    double t_stream = t->streamed_bytes / (roofs->bandwidth_gbps * 1e9);
    double t_gather = t->gathered_bytes / (gather_bw * 1e9);
    double t_roof = t_compute > t_stream + t_gather ? t_compute : t_stream + t_gather;
    t->roof = t_compute >= t_stream + t_gather                ? "sgemm"
              : t_gather > t_stream && roofs->gather_gbps > 0 ? "gather"
                                                              : "triad";
    t->compute_frac = t_compute / s;
    t->stream_frac = t_stream / s;
    t->gather_frac = t_gather / s;
    t->roofline_frac = t_roof / s;
    return 0;
}

static void derive(struct bench_row *row, const struct bench_roofs *roofs)
{
    double s = row->latency_us_median * 1e-6;
    struct bench_roof_terms t;
    row->gflops = (double)row->st.flops / (s * 1e9);
    row->bandwidth_gbps = (double)row->bytes / (s * 1e9);
    if (bench_roof_terms(row, roofs, &t))
        return;
    row->roofline_frac = t.roofline_frac;
    snprintf(row->roof, sizeof(row->roof), "%s", t.roof);
}

void bench_warm_up(struct bench_layer *bl, const struct bench_tokens *tk, size_t T,
                   const struct bench_opts *opts, float *y, size_t *window)
{
    bench_cache_touch(&bl->info);
    for (int i = 0; i < WARMUP_CALLS; i++)
        timed_forward(bl->l, &bl->info, opts, bench_tokens_window(tk, (*window)++, T), y, T, 0);
}

int bench_time_round(struct bench_layer *bl, const struct bench_tokens *tk, size_t T,
                     const struct bench_opts *opts, float *y, size_t *window, uint64_t iters,
                     double *mean_s, uint64_t *done)
{
    double total = 0;
    uint64_t n = 0;
    while (iters ? n < iters : total < opts->min_round_s) {
        if (stopped(opts))
            return BENCH_INTERRUPTED;
        total +=
            timed_forward(bl->l, &bl->info, opts, bench_tokens_window(tk, (*window)++, T), y, T, 1);
        n++;
    }
    *mean_s = total / (double)n;
    *done = n;
    return 0;
}

void bench_row_rounds(struct bench_row *row, double *v, size_t n, const struct bench_roofs *roofs)
{
    struct bench_stats s;
    bench_stats_compute(v, n, &s);
    row->rounds = (uint64_t)n;
    row->latency_us_median = s.median * 1e6;
    row->latency_us_min = s.min * 1e6;
    row->latency_us_p90 = s.p90 * 1e6;
    row->err_pct = s.err_pct;
    row->noisy = s.err_pct >= NOISY_ERR_PCT;
    if (row->noisy)
        bench_row_note(row, "noisy: err%% %.1f >= %.0f", s.err_pct, NOISY_ERR_PCT);
    derive(row, roofs);
}

static int time_point(struct bench_layer *bl, size_t T, const struct bench_opts *opts,
                      struct bench_row *row)
{
    const struct bench_hooks *h = opts->hooks;
    float *y = common_alloc(T * bl->tk.d_model * sizeof(float));
    double *rounds = calloc((size_t)opts->min_rounds, sizeof(double));
    size_t window = 1; /* window 0 was the correctness check's */
    int rc = 0;
    if (!y || !rounds) {
        rc = LAYER_ENOMEM;
        goto out_free;
    }
    if (h && h->point_begin && (rc = h->point_begin(h->ctx, row)) != 0)
        goto out_free;
    bench_warm_up(bl, &bl->tk, T, opts, y, &window);
    row->iters_per_round = 0;
    for (int r = 0; r < opts->min_rounds; r++) {
        uint64_t iters;
        rc = bench_time_round(bl, &bl->tk, T, opts, y, &window, 0, &rounds[r], &iters);
        if (rc)
            goto out_free;
        if (iters > row->iters_per_round)
            row->iters_per_round = iters;
    }
    bench_row_rounds(row, rounds, (size_t)opts->min_rounds, &opts->roofs);
    if (h && h->point_end)
        h->point_end(h->ctx, row);
out_free:
    common_free(y);
    free(rounds);
    return rc;
}

static void fill_layer_columns(const struct bench_layer *bl, struct bench_row *row)
{
    row->params_total = bl->info.params_total;
    row->params_active = bl->info.params_active;
    snprintf(row->knobs, sizeof(row->knobs), "%s", bl->info.knobs);
    snprintf(row->unit, sizeof(row->unit), "%s", bl->info.unit ? bl->info.unit : "");
    row->create_s = bl->create_s;
}

void bench_row_status(struct bench_row *row, int rc, const char *err)
{
    if (rc == BENCH_WRONG) {
        snprintf(row->status, sizeof(row->status), "wrong");
    } else if (rc == LAYER_EUNSUPPORTED || rc == LAYER_ETOOBIG) {
        snprintf(row->status, sizeof(row->status), "skipped");
        snprintf(row->note, sizeof(row->note), "%s", err);
    } else if (rc) {
        snprintf(row->status, sizeof(row->status), "error");
        snprintf(row->note, sizeof(row->note), "%s", err);
    } else {
        snprintf(row->status, sizeof(row->status), "ok");
    }
    for (char *c = row->note; *c; c++) /* one physical line per row, for awk and gnuplot */
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

int bench_check(struct bench_layer *bl, const struct bench_opts *opts, struct bench_row *row,
                char *err, size_t errlen)
{
    size_t T = row->tokens;
    fill_layer_columns(bl, row);
    if (bl->weights)
        bench_row_note(row, "weights %s", bl->weights);
    if (T > bl->max_tokens) {
        snprintf(err, errlen, "%s: %zu tokens, the layer was created for %zu", row->impl, T,
                 bl->max_tokens);
        return LAYER_EINVAL;
    }
    int rc = check_point(bl->l, bench_tokens_window(&bl->tk, 0, T), T, bl->tk.d_model,
                         opts->check_tokens, row, err, errlen);
    if (rc == 0 || rc == BENCH_WRONG)
        row->bytes = row->st.dense_bytes + row->st.sparse_bytes;
    if (rc == 0)
        row->intensity = row->bytes ? (double)row->st.flops / (double)row->bytes : NAN;
    return rc;
}

int bench_measure(struct bench_layer *bl, const struct bench_opts *opts, struct bench_row *row,
                  char *err, size_t errlen)
{
    double t0 = bench_now();
    int rc = bench_check(bl, opts, row, err, errlen);
    if (rc == 0) {
        rc = time_point(bl, row->tokens, opts, row);
        if (rc == LAYER_ENOMEM)
            snprintf(err, errlen, "%s: out of memory while timing", row->impl);
    }
    row->wall_s = bench_now() - t0;
    bench_row_status(row, rc, err);
    return rc;
}

int bench_run_point(const struct layer_ops *ops, const struct layer_config *cfg, size_t batch,
                    size_t seq_len, const struct bench_opts *opts, struct bench_row *row, char *err,
                    size_t errlen)
{
    struct layer_config c = *cfg;
    struct bench_layer bl;
    int rc;

    bench_row_init(row, NULL, ops, cfg, batch, seq_len, opts->cache == BENCH_CACHE_COLD, 1);
    c.max_tokens = batch * seq_len;
    snprintf(row->inputs, sizeof(row->inputs), "%s", bench_inputs_name(opts->inputs));
    rc = bench_layer_open(&bl, ops, &c, opts->inputs, err, errlen);
    if (rc) {
        bench_row_status(row, rc, err);
        return rc;
    }
    rc = bench_measure(&bl, opts, row, err, errlen);
    bench_layer_close(&bl);
    return rc;
}
