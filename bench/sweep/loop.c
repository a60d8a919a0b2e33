/* loop.c - the points of a sweep run, measured: each layer is created once
 * per configuration (slot, D, scale, threads, repeat) and all its token
 * counts are measured on it (counted under callgrind first, when that is
 * the counter mode). A paired slot's partner is created beside it for the
 * same group and every point is measured in pairs (pair.h). Rows are
 * appended whole and flushed as each point finishes, so an interrupted
 * sweep keeps every finished point; a raised stop flag abandons the
 * current point.
 */
#include "sweep_run.h"
#include "progress.h"
#include "sweep.h"
#include "../counters/counters.h"
#include "../measure.h"
#include "../meta.h"
#include "../pair.h"
#include "../row.h"
#include "../util.h"
#include "../../impls/layer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_row(struct bench_sweep_run *s, const struct bench_row *row)
{
    if (bench_csv_write_row(s->csv, row)) {
        fprintf(stderr, "sparsebench sweep: writing %s: %s\n", s->results, strerror(errno));
        return -1;
    }
    s->written++;
    if (!strcmp(row->status, "ok"))
        s->n_ok++;
    else if (!strcmp(row->status, "wrong"))
        s->n_wrong++;
    else if (!strcmp(row->status, "skipped"))
        s->n_skipped++;
    else
        s->n_error++;
    if (s->stop_after > 0 && s->written == (size_t)s->stop_after)
        raise(SIGINT);
    return 0;
}

static void init_row(const struct bench_sweep_run *s, const struct bench_point *p,
                     struct bench_row *row)
{
    struct layer_config cfg;
    bench_point_config(p, &s->sw, &cfg);
    bench_row_init(row, p->slot->label, p->slot->ops, &cfg, p->batch, p->seq_len,
                   s->sw.cache == BENCH_CACHE_COLD, p->repeat);
    snprintf(row->inputs, sizeof(row->inputs), "%s", bench_inputs_name(p->slot->inputs));
    struct bench_point q;
    if (bench_point_partner(p, &s->sw, &q) == 0) { /* part of the point's key */
        snprintf(row->pair_with, sizeof(row->pair_with), "%s", q.slot->label);
        row->pair_scale = q.scale;
    }
}

/* The layer failed its check or could not be created: one row per point,
 * the reason once. */
static int group_failed(struct bench_sweep_run *s, size_t lo, size_t hi, int rc, const char *err,
                        struct bench_progress *pr)
{
    bench_progress_clear(pr);
    if (strcmp(err, s->last_skip)) {
        fprintf(stderr, "sweep: %s %s: %s\n",
                rc == LAYER_EUNSUPPORTED || rc == LAYER_ETOOBIG ? "skipping" : "error in",
                s->pts[lo].slot->label, err);
        snprintf(s->last_skip, sizeof(s->last_skip), "%s", err);
    }
    for (size_t i = lo; i < hi; i++) {
        if (s->done[i])
            continue;
        struct bench_row row;
        init_row(s, &s->pts[i], &row);
        snprintf(row.status, sizeof(row.status), "%s",
                 rc == LAYER_EUNSUPPORTED || rc == LAYER_ETOOBIG ? "skipped" : "error");
        snprintf(row.note, sizeof(row.note), "%s", err);
        for (char *c = row.note; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        if (write_row(s, &row))
            return -1;
        bench_progress_done(pr, &s->pts[i], NULL);
    }
    return 0;
}

/* The group's points still to run, counted under callgrind before they
 * are timed: res[i - lo] for point i; 0 when every one was counted. */
static int count_group(struct bench_sweep_run *s, size_t lo, size_t hi,
                       const struct layer_config *cfg, struct bench_cg_result *res,
                       struct bench_progress *pr)
{
    size_t *tokens = calloc(hi - lo, sizeof(*tokens)), n = 0, *at = calloc(hi - lo, sizeof(*at));
    struct bench_cg_result *got = calloc(hi - lo, sizeof(*got));
    char err[1024];
    double t0 = bench_now();
    int rc = -1;
    if (!tokens || !at || !got) {
        snprintf(err, sizeof(err), "callgrind: out of memory");
        goto out_report;
    }
    for (size_t i = lo; i < hi; i++)
        if (!s->done[i]) {
            at[n] = i - lo;
            tokens[n++] = s->pts[i].batch * s->pts[i].seq_len;
        }
    rc = bench_callgrind_count(&s->ctr, s->pts[lo].slot->ops, cfg, s->sw.cache == BENCH_CACHE_COLD,
                               tokens, n, got, s->stop, err, sizeof(err));
    for (size_t k = 0; k < n && rc == 0; k++)
        res[at[k]] = got[k];
out_report:
    if (rc && !*s->stop) {
        bench_progress_clear(pr);
        fprintf(stderr, "sweep: %s D=%llu scale=%llu: %s\n", s->pts[lo].slot->label,
                (unsigned long long)s->pts[lo].d_model, (unsigned long long)s->pts[lo].scale, err);
        s->n_counter_failed++;
    } else if (rc == 0 && s->verbose) {
        bench_progress_clear(pr);
        fprintf(stderr, "callgrind: %s D=%llu scale=%llu: %zu point%s counted in %.1f s\n",
                s->pts[lo].slot->label, (unsigned long long)s->pts[lo].d_model,
                (unsigned long long)s->pts[lo].scale, n, n == 1 ? "" : "s", bench_now() - t0);
    }
    free(got);
    free(at);
    free(tokens);
    return rc;
}

/* Points lo..hi share one layer. Returns 0, or -1 when a row could not be written. */
static int run_group(struct bench_sweep_run *s, size_t lo, size_t hi, struct bench_progress *pr)
{
    const struct bench_point *p0 = &s->pts[lo];
    struct layer_config cfg;
    char err[512] = "";
    size_t max_t = 0;

    for (size_t i = lo; i < hi; i++)
        if (!s->done[i] && s->pts[i].batch * s->pts[i].seq_len > max_t)
            max_t = s->pts[i].batch * s->pts[i].seq_len;
    if (max_t == 0)
        return 0;
    bench_point_config(p0, &s->sw, &cfg);
    cfg.max_tokens = max_t;
    bench_progress_show(pr, p0);
    /* Decide a skip without building anything: a configuration too big for
     * this machine costs nothing but the check; a paired slot's partner is
     * checked as well, and created beside the slot's layer. */
    uint64_t bytes = 0, pbytes = 0;
    int rc = layer_check(p0->slot->ops, &cfg, &bytes, err, sizeof(err));
    struct bench_point q0;
    struct layer_config pc;
    int paired = bench_point_partner(p0, &s->sw, &q0) == 0;
    char perr[400] = "";
    if (paired) {
        bench_point_config(&q0, &s->sw, &pc);
        pc.max_tokens = max_t;
        if (rc == 0 && (rc = layer_check(q0.slot->ops, &pc, &pbytes, perr, sizeof(perr))) != 0)
            snprintf(err, sizeof(err), "its partner %s: %s", q0.slot->label, perr);
    }
    if (rc)
        return group_failed(s, lo, hi, rc, err, pr);
    /* A paired group holds k instances of both layers, rotated over by the
     * pairs (pair.h); as many as memory allows, at least one. */
    size_t k =
        paired ? bench_pair_instances_fit((size_t)p0->slot->pair_instances, bytes, pbytes) : 1;
    struct bench_layer bls[BENCH_PAIR_INSTANCES_MAX], partners[BENCH_PAIR_INSTANCES_MAX];
    /* The partner times on the point's token windows (pair.h), so it gets
     * the point's inputs for its check too. */
    rc = bench_layer_open_n(bls, k, p0->slot->ops, &cfg, p0->slot->inputs, err, sizeof(err));
    if (rc == 0 && paired &&
        (rc = bench_layer_open_n(partners, k, q0.slot->ops, &pc, p0->slot->inputs, perr,
                                 sizeof(perr))) != 0) {
        bench_layer_close_n(bls, k);
        snprintf(err, sizeof(err), "its partner %s: %s", q0.slot->label, perr);
    }
    if (rc)
        return group_failed(s, lo, hi, rc, err, pr);
    struct bench_layer *pl = paired ? partners : NULL;

    struct bench_opts bo;
    bench_opts_default(&bo);
    bo.min_rounds = p0->slot->rounds;
    bo.min_round_s = p0->slot->round_ms * 1e-3;
    bo.check_tokens = p0->slot->check_tokens;
    bo.cache = s->sw.cache;
    bo.roofs = bench_meta_roofs(&s->meta, (int)p0->threads);
    bo.pairs = p0->slot->pairs;
    bo.ci = s->sw.pair_ci;
    bo.stop = s->stop;
    bo.hooks = bench_counters_hooks(&s->ctr);
    struct bench_cg_result *cg = NULL;
    int cg_failed = 0, write_failed = 0;
    if (s->ctr.mode == BENCH_COUNTERS_CALLGRIND) {
        cg = calloc(hi - lo, sizeof(*cg));
        cg_failed = !cg || count_group(s, lo, hi, &cfg, cg, pr);
    }
    for (size_t i = lo; i < hi && !*s->stop; i++) {
        struct bench_row row;
        if (s->done[i])
            continue;
        bench_progress_show(pr, &s->pts[i]);
        init_row(s, &s->pts[i], &row);
        err[0] = '\0';
        if (pl) {
            struct bench_point q;
            struct bench_row prow; /* the partner's mirror row is not written */
            bench_point_partner(&s->pts[i], &s->sw, &q);
            init_row(s, &q, &prow);
            rc = bench_measure_pair_n(bls, pl, k, &bo, &row, &prow, err, sizeof(err));
        } else {
            rc = bench_measure(&bls[0], &bo, &row, err, sizeof(err));
        }
        if (rc == BENCH_INTERRUPTED)
            break;
        if (cg && !cg_failed) {
            bench_callgrind_fill(&cg[i - lo], &row);
            if (p0->slot->inputs == BENCH_INPUTS_REPEAT)
                bench_row_note(&row, "callgrind counted distinct random inputs, not repeat");
        } else if (cg_failed && !strcmp(row.status, "ok"))
            bench_row_note(&row, "callgrind failed for this layer (see stderr)");
        bench_progress_clear(pr);
        if (rc && rc != BENCH_WRONG)
            fprintf(stderr, "sweep: error in %s T=%llu: %s\n", row.slot,
                    (unsigned long long)row.tokens, err);
        else if (rc == BENCH_WRONG)
            fprintf(stderr, "sweep: WRONG %s T=%llu: %s\n", row.slot,
                    (unsigned long long)row.tokens, row.note);
        if (write_row(s, &row)) {
            write_failed = 1;
            break;
        }
        bench_progress_done(pr, &s->pts[i], &row);
    }
    free(cg);
    if (paired)
        bench_layer_close_n(partners, k);
    bench_layer_close_n(bls, k);
    return write_failed ? -1 : 0;
}

int bench_sweep_run_points(struct bench_sweep_run *s)
{
    struct bench_progress pr;
    double w = 0;
    for (size_t i = 0; i < s->npts; i++)
        if (!s->done[i])
            w += bench_progress_weight(&s->pts[i]);
    bench_progress_start(&pr, s->npts - s->ndone, w, s->verbose);
    for (size_t lo = 0; lo < s->npts && !*s->stop;) {
        size_t hi = lo + 1;
        while (hi < s->npts && s->pts[hi].group == s->pts[lo].group)
            hi++;
        if (run_group(s, lo, hi, &pr)) {
            bench_progress_clear(&pr);
            return -1;
        }
        lo = hi;
    }
    bench_progress_clear(&pr);
    return 0;
}
