/* passes.c - how far a sweep's repeated passes disagree.
 *
 * A sweep with repeats = N measures every point N times, in separate passes
 * over the whole sweep (the .sweep files in bench/sweeps/). On a shared
 * machine a pass can catch a slow moment; the plots then take the faster
 * pass (scripts/plot/agg.awk). This says, at the end of a run, how often that
 * mattered: the ratio slowest / fastest median latency of each ok point
 * measured more than once, and the worst one, so the reader knows how much
 * to trust one pass. A point is its identity columns (bench_table_key_cols, as
 * --resume matches rows) without `repeat`.
 */
#include "sweep.h"
#include "../table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY_COLS 32

struct keyed_row {
    char key[BENCH_KEY_LEN];
    size_t row;
    double latency;
};

static int cmp_keyed(const void *a, const void *b)
{
    return strcmp(((const struct keyed_row *)a)->key, ((const struct keyed_row *)b)->key);
}

/* "slot=moe d_model=768 ..." for the message: the key columns of row r. */
static void describe_row(const struct bench_table *t, size_t r, const int *cols, size_t n,
                         char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t k = 0; k < n && at < len; k++)
        if (cols[k] >= 0) /* an optional column the table lacks says nothing */
            at += (size_t)snprintf(out + at, len - at, "%s%s=%s", at ? " " : "", t->header[cols[k]],
                                   bench_table_cell(t, r, (size_t)cols[k]));
}

/* The identity columns but repeat: what names a point across passes. */
static int point_cols(const struct bench_table *t, int *cols)
{
    char err[128];
    int n = bench_table_key_cols(t, cols, MAX_KEY_COLS, err, sizeof(err)), k = 0;
    int c_repeat = bench_table_col(t, "repeat");
    for (int i = 0; i < n; i++)
        if (cols[i] != c_repeat)
            cols[k++] = cols[i];
    return n < 0 ? -1 : k;
}

int bench_pass_spread(const struct bench_table *t, double limit, struct bench_spread *out)
{
    int cols[MAX_KEY_COLS], c_status = bench_table_col(t, "status"),
                            c_lat = bench_table_col(t, "latency_us_median");
    int ncols = point_cols(t, cols);
    memset(out, 0, sizeof(*out));
    if (c_status < 0 || c_lat < 0 || ncols < 0)
        return -1;
    struct keyed_row *rows = calloc(t->nrows ? t->nrows : 1, sizeof(*rows));
    if (!rows)
        return -1;
    size_t n = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        char *end;
        double lat = strtod(bench_table_cell(t, r, (size_t)c_lat), &end);
        if (strcmp(bench_table_cell(t, r, (size_t)c_status), "ok") || *end || !(lat > 0))
            continue;
        bench_table_key(t, r, cols, (size_t)ncols, rows[n].key, sizeof(rows[n].key));
        rows[n].row = r;
        rows[n++].latency = lat;
    }
    qsort(rows, n, sizeof(*rows), cmp_keyed);
    for (size_t i = 0, j; i < n; i = j) {
        double lo = rows[i].latency, hi = lo;
        for (j = i + 1; j < n && !strcmp(rows[j].key, rows[i].key); j++) {
            lo = rows[j].latency < lo ? rows[j].latency : lo;
            hi = rows[j].latency > hi ? rows[j].latency : hi;
        }
        if (j - i < 2)
            continue;
        out->n_points++;
        out->n_over += hi / lo > limit;
        if (hi / lo > out->worst) {
            out->worst = hi / lo;
            describe_row(t, rows[i].row, cols, (size_t)ncols, out->worst_key,
                         sizeof(out->worst_key));
        }
    }
    free(rows);
    return 0;
}
