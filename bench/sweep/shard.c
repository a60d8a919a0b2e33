/* shard.c - `sweep --shard I/N`: which points of a sweep one machine of N
 * runs. A ratio means something only within one machine (DESIGN.md,
 * "Scale-out"), so the unit handed out is a comparison group: every point
 * at one d_model, batch, seq_len and threads, of every slot and every
 * repeat, so the dense baseline, each layer compared with it, any `pair =`
 * partner (which shares those four by construction, points.c) and both
 * passes land on one machine. Groups go to shards by longest-processing-
 * time-first (the costliest group to the least loaded shard, ties to the
 * lower index), a pure function of the sweep and the costs, so every
 * shard computes the same split on its own.
 *
 * Costs are seconds per point: an earlier run's wall_s + create_s
 * (--estimate-from) where it has the point, else a model from the layer's
 * work: the dense-equal compute of every layer (16 D^2 flops per token, the
 * iso-compute rule of DESIGN.md) and the bytes its check op says it would
 * allocate, at nominal roofs, over the slot's rounds (or pairs), each
 * flushed. The model only ranks groups; it is not a prediction.
 * Not done: splitting one group that is larger than a fair share.
 */
#include "shard.h"
#include "sweep.h"
#include "../table.h"
#include "../../impls/layer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_FLOPS   1e11 /* flop/s: nominal, the order of a 2-core sgemm here */
#define MODEL_BW      1e10 /* B/s: nominal streaming and flush bandwidth */
#define MODEL_CREATE  1e9  /* B/s: filling weights at creation */
#define MODEL_SKIPPED 0.01 /* s: a skipped point writes a row and nothing else */
#define MAX_KEY_COLS  16

int bench_shard_parse(const char *spec, unsigned *i, unsigned *n)
{
    char *end;
    unsigned long a, b;
    if (!spec || !*spec || *spec == '-' || *spec == '+')
        return -1;
    a = strtoul(spec, &end, 10);
    if (end == spec || *end != '/' || end[1] == '-' || end[1] == '+')
        return -1;
    const char *s2 = end + 1;
    b = strtoul(s2, &end, 10);
    if (end == s2 || *end || b < 1 || b > BENCH_MAX_SHARDS || a < 1 || a > b)
        return -1;
    *i = (unsigned)a;
    *n = (unsigned)b;
    return 0;
}

/* The model's seconds for one forward-and-flush of a layer holding `bytes`
 * at d_model d and t tokens. */
static double model_forward(uint64_t d, uint64_t t, uint64_t bytes)
{
    return 16.0 * (double)d * (double)d * (double)t / MODEL_FLOPS + 2.0 * (double)bytes / MODEL_BW;
}

static double model_point(const struct bench_point *p, const struct bench_sweep *sw)
{
    struct layer_config cfg;
    uint64_t bytes = 0, pbytes = 0;
    char err[256];
    bench_point_config(p, sw, &cfg);
    if (layer_check(p->slot->ops, &cfg, &bytes, err, sizeof(err)) || bytes == UINT64_MAX)
        return MODEL_SKIPPED;
    uint64_t t = p->batch * p->seq_len;
    double round = p->slot->round_ms * 1e-3, f = model_forward(p->d_model, t, bytes);
    struct bench_point q;
    if (bench_point_partner(p, sw, &q) == 0) {
        bench_point_config(&q, sw, &cfg);
        if (layer_check(q.slot->ops, &cfg, &pbytes, err, sizeof(err)) || pbytes == UINT64_MAX)
            return MODEL_SKIPPED;
        double g = model_forward(q.d_model, t, pbytes);
        return 2.0 * p->slot->pairs * ((f > round ? f : round) + (g > round ? g : round)) +
               (double)(bytes + pbytes) / MODEL_CREATE;
    }
    return p->slot->rounds * (f > round ? f : round) + (double)bytes / MODEL_CREATE;
}

int bench_sweep_costs(const struct bench_sweep *sw, const struct bench_point *pts, size_t n,
                      const struct bench_table *est, double *cost, char *err, size_t errlen)
{
    int kc[MAX_KEY_COLS], nk = 0, cw = -1, cc = -1;
    char pk[BENCH_KEY_LEN], rk[BENCH_KEY_LEN];
    if (est) {
        if ((nk = bench_table_key_cols(est, kc, MAX_KEY_COLS, err, errlen)) < 0)
            return -1;
        cw = bench_table_col(est, "wall_s");
        cc = bench_table_col(est, "create_s");
        if (cw < 0 || cc < 0) {
            snprintf(err, errlen, "no column '%s'", cw < 0 ? "wall_s" : "create_s");
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        cost[i] = -1;
        bench_point_key(&pts[i], sw, pk, sizeof(pk));
        for (size_t r = 0; est && r < est->nrows && cost[i] < 0; r++) {
            bench_table_key(est, r, kc, (size_t)nk, rk, sizeof(rk));
            if (strcmp(pk, rk))
                continue;
            double w = strtod(bench_table_cell(est, r, (size_t)cw), NULL);
            double c = strtod(bench_table_cell(est, r, (size_t)cc), NULL);
            cost[i] = (w >= 0 ? w : 0) + (c >= 0 ? c : 0);
        }
        if (cost[i] < 0)
            cost[i] = model_point(&pts[i], sw);
    }
    return 0;
}

static int same_group(const struct bench_point *a, const struct bench_point *b)
{
    return a->d_model == b->d_model && a->batch == b->batch && a->seq_len == b->seq_len &&
           a->threads == b->threads;
}

struct group {
    size_t first; /* index of its first point: the tie-break, and the group's name */
    double cost;
};

static int by_cost_desc(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    if (a->cost != b->cost)
        return a->cost > b->cost ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

int bench_sweep_shard_of(const struct bench_point *pts, size_t n, const double *cost,
                         unsigned nshards, unsigned *shard)
{
    size_t *gid = malloc((n ? n : 1) * sizeof(*gid)), ng = 0;
    struct group *g = malloc((n ? n : 1) * sizeof(*g));
    double *load = calloc(nshards ? nshards : 1, sizeof(*load));
    unsigned *gshard = malloc((n ? n : 1) * sizeof(*gshard));
    int rc = -1;
    if (!gid || !g || !load || !gshard)
        goto out_free;
    /* Groups in order of their first point (quadratic in the groups: a
     * sweep has at most a few thousand). */
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < ng && !same_group(&pts[g[k].first], &pts[i]))
            k++;
        if (k == ng)
            g[ng++] = (struct group){.first = i, .cost = 0};
        gid[i] = k;
        g[k].cost += cost[i];
    }
    struct group *sorted = malloc((ng ? ng : 1) * sizeof(*sorted));
    if (!sorted)
        goto out_free;
    memcpy(sorted, g, ng * sizeof(*g));
    qsort(sorted, ng, sizeof(*sorted), by_cost_desc);
    for (size_t k = 0; k < ng; k++) {
        unsigned best = 0;
        for (unsigned s = 1; s < nshards; s++)
            if (load[s] < load[best])
                best = s;
        load[best] += sorted[k].cost;
        gshard[gid[sorted[k].first]] = best + 1;
    }
    free(sorted);
    for (size_t i = 0; i < n; i++)
        shard[i] = gshard[gid[i]];
    rc = 0;
out_free:
    free(gshard);
    free(load);
    free(g);
    free(gid);
    return rc;
}
