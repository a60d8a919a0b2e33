/* dry_run.c - `sparsebench sweep FILE --dry-run`: the points a sweep would
 * run, in order, after the file and every slot's knobs were checked, each
 * with what its layer's check op says (run or skip, and the memory the layer
 * would allocate, without allocating it; a paired slot's with its partner's
 * added); with
 * --estimate-from an earlier results.csv, the seconds each point took there
 * (wall_s, plus create_s once per layer) and the totals per slot, which is
 * how a sweep is trimmed to its time budget.
 */
#include "sweep_run.h"
#include "progress.h"
#include "sweep.h"
#include "../cli.h"
#include "../measure.h"
#include "../row.h"
#include "../table.h"
#include "../../impls/layer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int row_matches(const struct bench_table *t, size_t r, const int *c,
                       const struct bench_point *p, const struct bench_sweep *sw)
{
    char v[6][32];
    snprintf(v[0], 32, "%llu", (unsigned long long)p->d_model);
    snprintf(v[1], 32, "%llu", (unsigned long long)p->scale);
    snprintf(v[2], 32, "%llu", (unsigned long long)p->batch);
    snprintf(v[3], 32, "%llu", (unsigned long long)p->seq_len);
    snprintf(v[4], 32, "%llu", (unsigned long long)p->threads);
    snprintf(v[5], 32, "%s", sw->cache == BENCH_CACHE_WARM ? "warm" : "cold");
    if (strcmp(bench_table_cell(t, r, (size_t)c[0]), p->slot->label))
        return 0;
    for (int i = 0; i < 6; i++)
        if (strcmp(bench_table_cell(t, r, (size_t)c[i + 1]), v[i]))
            return 0;
    return 1;
}

/* Seconds the point took in an earlier run (wall_s, plus create_s for the
 * first point of a layer), or -1. */
static double estimate(const struct bench_table *t, const int *c, const struct bench_point *p,
                       const struct bench_sweep *sw, int first_of_group)
{
    if (!t)
        return -1;
    for (size_t r = 0; r < t->nrows; r++) {
        if (!row_matches(t, r, c, p, sw))
            continue;
        double w = strtod(bench_table_cell(t, r, (size_t)c[7]), NULL);
        double cr = strtod(bench_table_cell(t, r, (size_t)c[8]), NULL);
        if (!(w >= 0))
            w = 0;
        return w + (first_of_group && cr >= 0 ? cr : 0);
    }
    return -1;
}

/* What the layer of the group starting at point lo would do: its check at
 * the group's largest token count, as the sweep's loop runs it. */
struct group_check {
    int rc;
    uint64_t bytes;
    char err[512];
};

static void check_group(const struct bench_sweep_run *s, size_t lo, struct group_check *gc)
{
    struct layer_config cfg;
    size_t max_t = 0;
    for (size_t i = lo; i < s->npts && s->pts[i].group == s->pts[lo].group; i++)
        if (s->pts[i].batch * s->pts[i].seq_len > max_t)
            max_t = s->pts[i].batch * s->pts[i].seq_len;
    bench_point_config(&s->pts[lo], &s->sw, &cfg);
    cfg.max_tokens = max_t;
    gc->bytes = 0;
    gc->err[0] = '\0';
    gc->rc = layer_check(s->pts[lo].slot->ops, &cfg, &gc->bytes, gc->err, sizeof(gc->err));
    struct bench_point q; /* a paired slot's partner is created beside it */
    if (gc->rc || bench_point_partner(&s->pts[lo], &s->sw, &q))
        return;
    uint64_t pbytes = 0;
    char perr[400] = "";
    bench_point_config(&q, &s->sw, &cfg);
    cfg.max_tokens = max_t;
    gc->rc = layer_check(q.slot->ops, &cfg, &pbytes, perr, sizeof(perr));
    if (gc->rc)
        snprintf(gc->err, sizeof(gc->err), "its partner %s: %s", q.slot->label, perr);
    else if (gc->bytes != UINT64_MAX)
        gc->bytes = pbytes == UINT64_MAX ? UINT64_MAX : gc->bytes + pbytes;
}

int bench_sweep_dry_run(struct bench_sweep_run *s)
{
    struct bench_table t, *tp = NULL;
    int c[9];
    const char *names[9] = {"slot",    "d_model", "scale",  "batch",   "seq_len",
                            "threads", "cache",   "wall_s", "create_s"};
    char err[1024];
    if (s->estimate_from) {
        if (bench_table_read(s->estimate_from, &t, err, sizeof(err))) {
            fprintf(stderr, "sparsebench sweep: --estimate-from: %s\n", err);
            return BENCH_EXIT_USAGE;
        }
        tp = &t;
        for (int i = 0; i < 9; i++)
            if ((c[i] = bench_table_col(&t, names[i])) < 0) {
                fprintf(stderr, "sparsebench sweep: --estimate-from: %s has no column '%s'\n",
                        s->estimate_from, names[i]);
                bench_table_free(&t);
                return BENCH_EXIT_USAGE;
            }
        /* The cells the estimate reads, checked as --resume checks a row: a
         * non-numeric, negative, infinite or huge wall_s would otherwise
         * turn into 0 s or a nonsense total. */
        char why[256];
        for (size_t r = 0; r < t.nrows; r++)
            for (int i = 0; i < 9; i++)
                if (bench_csv_check_cell((size_t)bench_csv_col_index(names[i]),
                                         bench_table_cell(&t, r, (size_t)c[i]), why, sizeof(why))) {
                    fprintf(stderr, "sparsebench sweep: --estimate-from: %s:%zu: column %s: %s\n",
                            s->estimate_from, t.row_line[r], names[i], why);
                    bench_table_free(&t);
                    return BENCH_EXIT_USAGE;
                }
    }
    printf("%s: %zu slots, %zu points, %u repeat%s, %s cache\n", s->sw.path, s->sw.n_slots, s->npts,
           s->sw.repeats, s->sw.repeats == 1 ? "" : "s",
           s->sw.cache == BENCH_CACHE_WARM ? "warm" : "cold");
    printf("%6s %-24s %7s %5s %6s %7s %7s %7s %6s %9s %9s %s\n", "point", "slot", "d_model",
           "scale", "batch", "seq_len", "tokens", "threads", "repeat", "est_s", "layer_MiB",
           "check");
    double total = 0, slot_total = 0, peak = 0;
    size_t known = 0, n_skip = 0, n_bad = 0;
    struct group_check gc = {0};
    char last_err[512] = "";
    for (size_t i = 0; i < s->npts; i++) {
        const struct bench_point *p = &s->pts[i];
        int first = i == 0 || s->pts[i - 1].group != p->group;
        if (first)
            check_group(s, i, &gc);
        double e = estimate(tp, c, p, &s->sw, first);
        char est[32] = "?";
        if (e >= 0) {
            snprintf(est, sizeof(est), "%.2f", e);
            total += e;
            slot_total += e;
            known++;
        }
        const char *verdict = gc.rc == 0                                              ? "ok"
                              : gc.rc == LAYER_EUNSUPPORTED || gc.rc == LAYER_ETOOBIG ? "skip"
                                                                                      : "error";
        char mib[32] = "-";
        if (gc.bytes && gc.bytes != UINT64_MAX)
            snprintf(mib, sizeof(mib), "%.1f", gc.bytes / 1048576.0);
        if (gc.rc == 0 && gc.bytes != UINT64_MAX && gc.bytes / 1048576.0 > peak)
            peak = gc.bytes / 1048576.0;
        n_skip += gc.rc == LAYER_EUNSUPPORTED || gc.rc == LAYER_ETOOBIG;
        n_bad += gc.rc && gc.rc != LAYER_EUNSUPPORTED && gc.rc != LAYER_ETOOBIG;
        printf("%6zu %-24s %7llu %5llu %6llu %7llu %7llu %7llu %6u %9s %9s %s", i + 1,
               p->slot->label, (unsigned long long)p->d_model, (unsigned long long)p->scale,
               (unsigned long long)p->batch, (unsigned long long)p->seq_len,
               (unsigned long long)(p->batch * p->seq_len), (unsigned long long)p->threads,
               p->repeat, est, mib, verdict);
        /* The reason once per run of points that share it, as the sweep says it. */
        if (gc.rc && strcmp(gc.err, last_err)) {
            printf(": %s", gc.err);
            snprintf(last_err, sizeof(last_err), "%s", gc.err);
        }
        struct bench_point q;
        if (bench_point_partner(p, &s->sw, &q) == 0)
            printf(" [paired with %s at scale %llu, %d pairs]", q.slot->label,
                   (unsigned long long)q.scale, p->slot->pairs);
        printf("\n");
        if (tp && (i + 1 == s->npts || s->pts[i + 1].slot != p->slot)) {
            char d[32];
            bench_format_duration(slot_total, d, sizeof(d));
            printf("       %-24s subtotal %s (%.1f s)\n", p->slot->label, d, slot_total);
            slot_total = 0;
        }
    }
    printf("checked: %zu points run, %zu skipped, %zu in error; the largest layer allocates "
           "%.1f MiB\n",
           s->npts - n_skip - n_bad, n_skip, n_bad, peak);
    if (tp) {
        char d[32];
        bench_format_duration(total, d, sizeof(d));
        printf("estimated: %s (%.0f s) for the %zu of %zu points found in %s, plus the probe "
               "(~5 s per thread count)\n",
               d, total, known, s->npts, s->estimate_from);
        bench_table_free(&t);
    }
    return 0;
}
