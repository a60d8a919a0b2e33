/* gate.c - the gate's verdicts: each baseline point found in the fresh
 * count, its status, and every metric of gate.h's table judged by its kind
 * (research/harness.md section 4.5: a percentage limit per event, as
 * iai-callgrind's soft limits). The limit is compared in integers, so
 * +2.00 % is exactly at the edge and passes whatever the magnitudes. */
#include "gate.h"

#include "../table.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct bench_gate_metric bench_gate_metrics[] = {
    {"instructions", BENCH_GATE_COUNTED}, {"ll_misses", BENCH_GATE_COUNTED},
    {"l1_misses", BENCH_GATE_INFO},       {"dram_bytes_est", BENCH_GATE_INFO},
    {"flops", BENCH_GATE_EXACT},          {"dense_bytes", BENCH_GATE_EXACT},
    {"sparse_bytes", BENCH_GATE_EXACT},   {"units_touched", BENCH_GATE_EXACT},
};
const size_t bench_gate_n_metrics = sizeof(bench_gate_metrics) / sizeof(bench_gate_metrics[0]);

/* The columns a point is matched on; the first is its name in the table. */
static const char *const key_names[] = {"slot",    "d_model", "scale", "batch",
                                        "seq_len", "threads", "cache"};
#define N_KEYS (sizeof(key_names) / sizeof(key_names[0]))

const char *bench_gate_verdict_name(enum bench_gate_verdict v)
{
    switch (v) {
    case BENCH_GATE_OK:
        return "ok";
    case BENCH_GATE_FASTER:
        return "faster";
    case BENCH_GATE_NEW:
        return "new";
    case BENCH_GATE_SLOWER:
        return "SLOWER";
    case BENCH_GATE_CHANGED:
        return "CHANGED";
    case BENCH_GATE_STATUS:
        return "NOT OK";
    case BENCH_GATE_MISSING:
        return "MISSING";
    case BENCH_GATE_NA:
        return "NA";
    }
    return "?";
}

int bench_gate_verdict_fails(enum bench_gate_verdict v)
{
    return v == BENCH_GATE_SLOWER || v == BENCH_GATE_CHANGED || v == BENCH_GATE_STATUS ||
           v == BENCH_GATE_MISSING;
}

enum bench_gate_verdict bench_gate_judge(enum bench_gate_kind kind, uint64_t base, uint64_t now)
{
    if (kind == BENCH_GATE_INFO)
        return BENCH_GATE_OK;
    if (kind == BENCH_GATE_EXACT)
        return base == now ? BENCH_GATE_OK : BENCH_GATE_CHANGED;
    /* |now - base| x 10000 > base x limit, in 128 bits: counts reach 1e12 */
    unsigned __int128 lim = (unsigned __int128)base * BENCH_GATE_LIMIT_BP;
    if (now > base && (unsigned __int128)(now - base) * 10000u > lim)
        return BENCH_GATE_SLOWER;
    if (now < base && (unsigned __int128)(base - now) * 10000u > lim)
        return BENCH_GATE_FASTER;
    return BENCH_GATE_OK;
}

static int key_cols(const struct bench_table *t, const char *which, int *cols, char *err,
                    size_t errlen)
{
    for (size_t k = 0; k < N_KEYS; k++) {
        cols[k] = bench_table_col(t, key_names[k]);
        if (cols[k] < 0) {
            snprintf(err, errlen, "the %s has no column %s", which, key_names[k]);
            return -1;
        }
    }
    return 0;
}

static int same_point(const struct bench_table *a, size_t ra, const int *ca,
                      const struct bench_table *b, size_t rb, const int *cb)
{
    for (size_t k = 0; k < N_KEYS; k++)
        if (strcmp(bench_table_cell(a, ra, (size_t)ca[k]), bench_table_cell(b, rb, (size_t)cb[k])))
            return 0;
    return 1;
}

static void point_name(const struct bench_table *t, size_t r, char *buf, size_t len)
{
    const char *c[5];
    const char *names[] = {"slot", "d_model", "scale", "tokens", "threads"};
    for (int i = 0; i < 5; i++) {
        int col = bench_table_col(t, names[i]);
        c[i] = col < 0 ? "?" : bench_table_cell(t, r, (size_t)col);
    }
    int n = snprintf(buf, len, "%s d=%s scale=%s T=%s", c[0], c[1], c[2], c[3]);
    if (strcmp(c[4], "1") && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " threads=%s", c[4]);
}

static int add_line(struct bench_gate_result *r, const char *point, const char *metric,
                    const char *base, const char *now, double change, enum bench_gate_verdict v)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        struct bench_gate_line *p = realloc(r->lines, cap * sizeof(*p));
        if (!p)
            return -1;
        r->lines = p;
        r->cap = cap;
    }
    struct bench_gate_line *l = &r->lines[r->n++];
    snprintf(l->point, sizeof(l->point), "%s", point);
    l->metric = metric;
    snprintf(l->base, sizeof(l->base), "%s", base);
    snprintf(l->now, sizeof(l->now), "%s", now);
    l->change_pct = change;
    l->verdict = v;
    r->counts[v]++;
    return 0;
}

/* A count: a non-negative decimal integer and nothing else (NA is not). */
static int parse_count(const char *s, uint64_t *v)
{
    if (!*s || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

/* Every metric of one matched point. */
static int judge_point(const struct bench_table *base, size_t rb, const struct bench_table *now,
                       size_t rn, const char *point, struct bench_gate_result *out, char *err,
                       size_t errlen)
{
    int sb = bench_table_col(base, "status"), sn = bench_table_col(now, "status");
    if (sb < 0 || sn < 0) {
        snprintf(err, errlen, "the %s has no column status", sb < 0 ? "baseline" : "fresh count");
        return -1;
    }
    const char *stb = bench_table_cell(base, rb, (size_t)sb);
    const char *stn = bench_table_cell(now, rn, (size_t)sn);
    if (strcmp(stb, "ok") || strcmp(stn, "ok"))
        return add_line(out, point, "status", stb, stn, NAN, BENCH_GATE_STATUS);
    for (size_t m = 0; m < bench_gate_n_metrics; m++) {
        const struct bench_gate_metric *g = &bench_gate_metrics[m];
        int cb = bench_table_col(base, g->column), cn = bench_table_col(now, g->column);
        if (cb < 0 || cn < 0) {
            snprintf(err, errlen, "the %s has no column %s", cb < 0 ? "baseline" : "fresh count",
                     g->column);
            return -1;
        }
        const char *vb = bench_table_cell(base, rb, (size_t)cb);
        const char *vn = bench_table_cell(now, rn, (size_t)cn);
        uint64_t b, n;
        enum bench_gate_verdict v;
        double change = NAN;
        if (parse_count(vb, &b) || parse_count(vn, &n)) {
            v = BENCH_GATE_NA;
        } else {
            v = bench_gate_judge(g->kind, b, n);
            if (b > 0)
                change = ((double)n - (double)b) / (double)b * 100.0;
        }
        if (add_line(out, point, g->column, vb, vn, change, v))
            return -1;
    }
    return 0;
}

int bench_gate_compare(const struct bench_table *base, const struct bench_table *now,
                       struct bench_gate_result *out, char *err, size_t errlen)
{
    int cb[N_KEYS], cn[N_KEYS];
    char point[BENCH_GATE_POINT_LEN];
    memset(out, 0, sizeof(*out));
    if (key_cols(base, "baseline", cb, err, errlen) ||
        key_cols(now, "fresh count", cn, err, errlen))
        return -1;
    unsigned char *seen = calloc(now->nrows + 1, 1);
    if (!seen)
        goto oom;
    for (size_t rb = 0; rb < base->nrows; rb++) {
        point_name(base, rb, point, sizeof(point));
        out->points++;
        size_t rn = 0;
        while (rn < now->nrows && (seen[rn] || !same_point(base, rb, cb, now, rn, cn)))
            rn++;
        if (rn == now->nrows) {
            if (add_line(out, point, "point", "counted", "absent", NAN, BENCH_GATE_MISSING))
                goto oom;
            continue;
        }
        seen[rn] = 1;
        err[0] = '\0';
        if (judge_point(base, rb, now, rn, point, out, err, errlen)) {
            if (!err[0])
                goto oom;
            goto fail;
        }
    }
    for (size_t rn = 0; rn < now->nrows; rn++) {
        if (seen[rn])
            continue;
        point_name(now, rn, point, sizeof(point));
        if (add_line(out, point, "point", "absent", "counted", NAN, BENCH_GATE_NEW))
            goto oom;
    }
    free(seen);
    return 0;
oom:
    snprintf(err, errlen, "out of memory comparing the gate's tables");
fail:
    free(seen);
    bench_gate_result_free(out);
    return -1;
}

void bench_gate_result_free(struct bench_gate_result *r)
{
    free(r->lines);
    memset(r, 0, sizeof(*r));
}

int bench_gate_status(const struct bench_gate_result *r)
{
    for (int v = 0; v <= BENCH_GATE_NA; v++)
        if (r->counts[v] && bench_gate_verdict_fails((enum bench_gate_verdict)v))
            return 1;
    return r->counts[BENCH_GATE_NA] || r->points == 0 ? 2 : 0;
}

int bench_gate_write_csv(const struct bench_gate_result *r, const char *path, char *err,
                         size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "point,metric,baseline,now,change_pct,verdict\n");
    for (size_t i = 0; i < r->n; i++) {
        const struct bench_gate_line *l = &r->lines[i];
        char change[32] = "NA";
        if (!isnan(l->change_pct))
            snprintf(change, sizeof(change), "%.4f", l->change_pct);
        fprintf(f, "%s,%s,%s,%s,%s,%s\n", l->point, l->metric, l->base, l->now, change,
                bench_gate_verdict_name(l->verdict));
    }
    if (fclose(f)) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
