/* plan.c - what a sweep run will do: the sweep file loaded, its points
 * expanded (with --cache, --threads and --filter applied), and every slot's
 * knobs checked before anything is measured, because a bad knob is a bad
 * sweep file (exit 2), not a row of errors at the end.
 */
#include "sweep_run.h"
#include "../weights.h"
#include "shard.h"
#include "sweep.h"
#include "../cli.h"
#include "../measure.h"
#include "../table.h"
#include "../../impls/layer.h"

#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An empty shard (more shards than groups) is a valid run of no points,
 * so a job array of any size merges. */
void bench_sweep_take_shard(struct bench_sweep_run *s)
{
    struct bench_table t;
    char err[1024];
    double *cost = malloc((s->npts ? s->npts : 1) * sizeof(*cost));
    unsigned *shard = malloc((s->npts ? s->npts : 1) * sizeof(*shard));
    int rc = -1;
    if (!cost || !shard) {
        snprintf(err, sizeof(err), "out of memory");
        goto out_free;
    }
    if (s->estimate_from && bench_table_read(s->estimate_from, &t, err, sizeof(err))) {
        free(cost);
        free(shard);
        bench_usage_error("sweep", "--estimate-from: %s", err);
    }
    rc = bench_sweep_costs(&s->sw, s->pts, s->npts, s->estimate_from ? &t : NULL, cost, err,
                           sizeof(err));
    if (s->estimate_from)
        bench_table_free(&t);
    if (rc) {
        free(cost);
        free(shard);
        bench_usage_error("sweep", "--estimate-from %s: %s", s->estimate_from, err);
    }
    if ((rc = bench_sweep_shard_of(s->pts, s->npts, cost, s->shard_n, shard)) == 0) {
        size_t k = 0;
        for (size_t i = 0; i < s->npts; i++)
            if (shard[i] == s->shard_i)
                s->pts[k++] = s->pts[i];
        s->npts = k;
    } else
        snprintf(err, sizeof(err), "out of memory");
out_free:
    free(cost);
    free(shard);
    if (rc) {
        fprintf(stderr, "sparsebench sweep: --shard: %s\n", err);
        exit(BENCH_EXIT_FAIL);
    }
}

void bench_sweep_plan(struct bench_sweep_run *s)
{
    char err[1024];
    if (bench_sweep_load(s->file, &s->sw, err, sizeof(err))) {
        fprintf(stderr, "sparsebench sweep: %s\n", err);
        exit(BENCH_EXIT_USAGE);
    }
    if (s->cache)
        s->sw.cache = strcmp(s->cache, "warm") ? BENCH_CACHE_COLD : BENCH_CACHE_WARM;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    ncpu = ncpu < 1 ? 1 : ncpu > BENCH_MAX_THREADS ? BENCH_MAX_THREADS : ncpu;
    if (bench_sweep_points(&s->sw, (int)ncpu, s->threads, &s->pts, &s->npts, err, sizeof(err))) {
        fprintf(stderr, "sparsebench sweep: %s\n", err);
        exit(BENCH_EXIT_USAGE);
    }
    if (s->filter) {
        size_t k = 0;
        for (size_t i = 0; i < s->npts; i++)
            if (fnmatch(s->filter, s->pts[i].slot->label, 0) == 0)
                s->pts[k++] = s->pts[i];
        s->npts = k;
        if (k == 0)
            bench_usage_error("sweep", "--filter '%s' matches no slot of %s", s->filter, s->file);
    }
    s->npts_sweep = s->npts;
    s->done = calloc(s->npts ? s->npts : 1, 1);
    if (!s->done) {
        fprintf(stderr, "sparsebench sweep: out of memory\n");
        exit(BENCH_EXIT_FAIL);
    }
}

/* Check a slot's layer at width d and scale sc (one thread, one token)
 * without building it, and exit 2 when the layer calls its knobs bad.
 * Returns what create would return. */
static int try_slot(const struct bench_sweep_run *s, const struct bench_slot *sl, uint64_t d,
                    uint64_t sc)
{
    struct layer_config cfg = {.d_model = d,
                               .scale = (unsigned)sc,
                               .seed = s->sw.seed,
                               .threads = 1,
                               .max_tokens = 1,
                               .knobs = sl->knobs};
    char err[512] = "";
    int rc = layer_check(sl->ops, &cfg, NULL, err, sizeof(err));
    if (rc == LAYER_EKNOB || rc == LAYER_EINVAL) {
        fprintf(stderr, "sparsebench sweep: %s:%d: slot '%s': %s\n", s->sw.path, sl->line, sl->spec,
                err);
        exit(BENCH_EXIT_USAGE);
    }
    return rc;
}

/* A bad knob is a bad sweep file: check every slot once before measuring
 * anything, at its smallest width and scale; when the layer does not support
 * that scale (a memory layer at scale 1), at its next scales. */
void bench_sweep_validate(const struct bench_sweep_run *s)
{
    for (size_t i = 0; i < s->sw.n_slots; i++) {
        const struct bench_slot *sl = &s->sw.slots[i];
        uint64_t d = UINT64_MAX, prev = 0;
        char err[1024];
        if (sl->weights[0] && bench_weights_peek(sl->weights, err, sizeof(err))) {
            fprintf(stderr, "sparsebench sweep: %s:%d: slot '%s': weights: %s\n", s->sw.path,
                    sl->line, sl->spec, err);
            exit(BENCH_EXIT_USAGE);
        }
        for (size_t k = 0; k < s->npts; k++)
            if (s->pts[k].slot == sl && s->pts[k].d_model < d)
                d = s->pts[k].d_model;
        for (;;) { /* the slot's scales in increasing order */
            uint64_t sc = UINT64_MAX;
            for (size_t k = 0; k < s->npts; k++)
                if (s->pts[k].slot == sl && s->pts[k].scale > prev && s->pts[k].scale < sc)
                    sc = s->pts[k].scale;
            if (sc == UINT64_MAX)
                break;
            int rc = try_slot(s, sl, d, sc);
            if (rc != LAYER_EUNSUPPORTED && rc != LAYER_ETOOBIG)
                break;
            prev = sc;
        }
    }
}
