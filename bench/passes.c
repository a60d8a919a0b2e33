/* passes.c - how far a sweep's repeated passes disagree.
 *
 * A sweep with repeats = N measures every point N times, in separate passes
 * over the whole sweep (bench/sweeps/, the .sweep files). On a shared machine a pass can
 * catch a slow moment; the plots then take the faster pass (scripts/plot/
 * agg.awk). This says, at the end of a run, how often that mattered: the
 * ratio slowest / fastest median latency of each ok point measured more than
 * once, and the worst one, so the reader knows how much to trust one pass.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

/* The columns that name a point apart from its repeat (row keys,
 * sweepfile.c), in results.csv's header names. */
static const char *const key_cols[] = {"slot",    "d_model", "scale", "batch",
                                       "seq_len", "threads", "seed",  "cache"};
#define N_KEY (sizeof(key_cols) / sizeof(key_cols[0]))

struct spread_entry {
    char key[BENCH_NOTE_LEN];
    double lo, hi;
    unsigned n;
};

static void row_key(const struct bench_table *t, size_t r, const int *kc, char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t k = 0; k < N_KEY && at < len; k++)
        at += (size_t)snprintf(out + at, len - at, "%s%s=%s", k ? " " : "", key_cols[k],
                               bench_table_cell(t, r, (size_t)kc[k]));
}

static int find_or_add(struct spread_entry *e, size_t *n, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(e[i].key, key))
            return (int)i;
    snprintf(e[*n].key, sizeof(e[*n].key), "%s", key);
    e[*n].n = 0;
    return (int)(*n)++;
}

int bench_pass_spread(const struct bench_table *t, double limit, struct bench_spread *out)
{
    int kc[N_KEY], c_status = bench_table_col(t, "status"),
                   c_lat = bench_table_col(t, "latency_us_median");
    memset(out, 0, sizeof(*out));
    if (c_status < 0 || c_lat < 0)
        return -1;
    for (size_t k = 0; k < N_KEY; k++)
        if ((kc[k] = bench_table_col(t, key_cols[k])) < 0)
            return -1;
    struct spread_entry *e = calloc(t->nrows ? t->nrows : 1, sizeof(*e));
    if (!e)
        return -1;
    size_t n = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        char key[BENCH_NOTE_LEN], *end;
        double lat = strtod(bench_table_cell(t, r, (size_t)c_lat), &end);
        if (strcmp(bench_table_cell(t, r, (size_t)c_status), "ok") || *end || !(lat > 0))
            continue;
        row_key(t, r, kc, key, sizeof(key));
        struct spread_entry *x = &e[find_or_add(e, &n, key)];
        x->lo = x->n && x->lo < lat ? x->lo : lat;
        x->hi = x->n && x->hi > lat ? x->hi : lat;
        x->n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (e[i].n < 2)
            continue;
        double ratio = e[i].hi / e[i].lo;
        out->n_points++;
        out->n_over += ratio > limit;
        if (ratio > out->worst) {
            out->worst = ratio;
            snprintf(out->worst_key, sizeof(out->worst_key), "%s", e[i].key);
        }
    }
    free(e);
    return 0;
}
