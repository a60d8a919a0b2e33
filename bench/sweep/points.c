/* points.c - the points of a sweep: the Cartesian product of each slot's
 * lists in run order, grouped so the points that share one layer (slot, D,
 * scale, threads, repeat) run on one creation of it; the layer
 * configuration of a point; a paired point's partner; and the key --resume
 * matches a point on.
 */
#include "sweep.h"
#include "../measure.h"
#include "../../impls/layer.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_POINTS 100000

static size_t count_points(const struct bench_sweep *sw, int threads_override)
{
    size_t n = 0;
    for (size_t i = 0; i < sw->n_slots; i++) {
        const struct bench_slot *s = &sw->slots[i];
        size_t nt = threads_override > 0 ? 1 : s->threads.n;
        n += s->d_model.n * s->scale.n * nt * s->batch.n * s->seq_len.n;
    }
    return n * sw->repeats;
}

int bench_sweep_points(const struct bench_sweep *sw, int online_cpus, int threads_override,
                       struct bench_point **out, size_t *n, char *err, size_t errlen)
{
    size_t total = count_points(sw, threads_override), k = 0, group = 0;
    *out = NULL;
    *n = 0;
    if (total > MAX_POINTS) {
        snprintf(err, errlen, "%s: %zu points, more than the %d a sweep may have", sw->path, total,
                 MAX_POINTS);
        return -1;
    }
    struct bench_point *p = calloc(total ? total : 1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "%s: out of memory for %zu points", sw->path, total);
        return -1;
    }
    const struct bench_list one = {.n = 1, .v = {(uint64_t)threads_override}};
    for (unsigned r = 1; r <= sw->repeats; r++)
        for (size_t i = 0; i < sw->n_slots; i++) {
            const struct bench_slot *s = &sw->slots[i];
            const struct bench_list *th = threads_override > 0 ? &one : &s->threads;
            for (size_t d = 0; d < s->d_model.n; d++)
                for (size_t c = 0; c < s->scale.n; c++)
                    for (size_t t = 0; t < th->n; t++, group++)
                        for (size_t b = 0; b < s->batch.n; b++)
                            for (size_t q = 0; q < s->seq_len.n; q++)
                                p[k++] = (struct bench_point){
                                    .slot = s,
                                    .d_model = s->d_model.v[d],
                                    .scale = s->scale.v[c],
                                    .batch = s->batch.v[b],
                                    .seq_len = s->seq_len.v[q],
                                    .threads = th->v[t] ? th->v[t] : (uint64_t)online_cpus,
                                    .repeat = r,
                                    .group = group,
                                };
        }
    *out = p;
    *n = k;
    return 0;
}

void bench_point_config(const struct bench_point *p, const struct bench_sweep *sw,
                        struct layer_config *cfg)
{
    *cfg = (struct layer_config){
        .d_model = p->d_model,
        .scale = (unsigned)p->scale,
        .seed = sw->seed,
        .threads = (int)p->threads,
        .max_tokens = p->batch * p->seq_len,
        .knobs = p->slot->knobs,
        .weights = p->slot->weights[0] ? p->slot->weights : NULL,
    };
}

int bench_point_partner(const struct bench_point *p, const struct bench_sweep *sw,
                        struct bench_point *out)
{
    if (p->slot->pair < 0 || (size_t)p->slot->pair >= sw->n_slots)
        return -1;
    *out = *p;
    out->slot = &sw->slots[p->slot->pair];
    out->scale = bench_pair_scale(out->slot, p->scale);
    return 0;
}

/* ---- point keys, for --resume ---- */

/* The identity columns, in the CSV's order (csv.c marks them): slot,
 * d_model, scale, batch, seq_len, threads, seed, cache, inputs, repeat,
 * pair_with. */
void bench_point_key(const struct bench_point *p, const struct bench_sweep *sw, char *buf,
                     size_t len)
{
    const char *partner = p->slot->pair >= 0 ? sw->slots[p->slot->pair].label : "NA";
    snprintf(buf, len, "%s|%llu|%llu|%llu|%llu|%llu|%llu|%s|%s|%u|%s", p->slot->label,
             (unsigned long long)p->d_model, (unsigned long long)p->scale,
             (unsigned long long)p->batch, (unsigned long long)p->seq_len,
             (unsigned long long)p->threads, (unsigned long long)sw->seed,
             sw->cache == BENCH_CACHE_WARM ? "warm" : "cold", bench_inputs_name(p->slot->inputs),
             p->repeat, partner);
}
