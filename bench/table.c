/* table.c - reading a CSV file back with libcsv, for --resume, meta.csv
 * and the tests, and the keys that name a results table's rows.
 *
 * The parser runs strict (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) and
 * is fed one line at a time, so after every row we know the byte offset where
 * it ended. A kill can leave the last row half written; that tail is not a
 * row, and good_bytes tells the caller where to cut the file. Rows are
 * checked for the header's field count, with the line number in the message.
 */
#include "table.h"
#include "row.h"
#include "util.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    struct bench_table *t;
    char **fields; /* the row being read */
    size_t nfields, cap;
    size_t cells_cap; /* rows t->cells has room for */
    size_t rows_seen; /* header included */
    size_t line;      /* physical line where the current row started */
    int bad;          /* field count mismatch */
    size_t bad_line, bad_count;
    int oom;
};

static int push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        char **nv = realloc(*v, c * sizeof(**v));
        if (!nv)
            return -1;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = s;
    return 0;
}

static void on_field(void *s, size_t len, void *data)
{
    struct reader *r = data;
    char *copy = malloc(len + 1);
    if (!copy) {
        r->oom = 1;
        return;
    }
    if (len)
        memcpy(copy, s, len);
    copy[len] = '\0';
    if (push(&r->fields, &r->nfields, &r->cap, copy)) {
        free(copy);
        r->oom = 1;
    }
}

static void drop_fields(struct reader *r)
{
    for (size_t i = 0; i < r->nfields; i++)
        free(r->fields[i]);
    r->nfields = 0;
}

static void on_row(int c, void *data)
{
    struct reader *r = data;
    struct bench_table *t = r->t;
    (void)c;
    if (r->rows_seen == 0) {
        t->header = r->fields;
        t->ncols = r->nfields;
        r->fields = NULL;
        r->nfields = r->cap = 0;
    } else if (r->nfields != t->ncols) {
        if (!r->bad) {
            r->bad = 1;
            r->bad_line = r->line;
            r->bad_count = r->nfields;
        }
        drop_fields(r);
    } else {
        if (t->nrows == r->cells_cap) {
            size_t c = r->cells_cap ? 2 * r->cells_cap : 64;
            char **cells = realloc(t->cells, c * t->ncols * sizeof(*cells));
            if (!cells) {
                r->oom = 1;
                drop_fields(r);
                r->rows_seen++;
                return;
            }
            t->cells = cells;
            r->cells_cap = c;
        }
        memcpy(t->cells + t->nrows * t->ncols, r->fields, t->ncols * sizeof(*t->cells));
        t->nrows++;
        r->nfields = 0;
    }
    r->rows_seen++;
}

void bench_table_free(struct bench_table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        free(t->header[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->header);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

int bench_table_parse(const char *path, const char *text, size_t len, struct bench_table *t,
                      char *err, size_t errlen)
{
    struct csv_parser p;
    struct reader r = {.t = t, .line = 1};
    size_t off = 0, lines = 0; /* newlines before off: each segment ends at one */
    int rc = -1;

    memset(t, 0, sizeof(*t));
    t->file_bytes = len;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)) {
        snprintf(err, errlen, "%s: cannot start the CSV parser", path);
        return -1;
    }
    while (off < len) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t seg = nl ? (size_t)(nl - (text + off)) + 1 : len - off;
        size_t before = r.rows_seen;
        if (csv_parse(&p, text + off, seg, on_field, on_row, &r) != seg) {
            if (!nl) /* a cut-off last line: not a row */
                break;
            snprintf(err, errlen, "%s:%zu: not valid CSV: %s", path, lines + 1,
                     csv_strerror(csv_error(&p)));
            goto out;
        }
        if (r.oom) {
            snprintf(err, errlen, "%s: out of memory reading it", path);
            goto out;
        }
        off += seg;
        lines++;
        if (r.rows_seen != before) {
            t->good_bytes = off;
            r.line = lines + 1;
        }
    }
    if (r.rows_seen == 0) {
        snprintf(err, errlen, "%s: no header line", path);
        goto out;
    }
    if (r.bad) {
        snprintf(err, errlen, "%s:%zu: %zu fields, the header has %zu", path, r.bad_line,
                 r.bad_count, t->ncols);
        goto out;
    }
    rc = 0;
out:
    drop_fields(&r);
    free(r.fields);
    csv_free(&p);
    if (rc)
        bench_table_free(t);
    return rc;
}

int bench_table_read(const char *path, struct bench_table *t, char *err, size_t errlen)
{
    size_t len;
    char *text = bench_read_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        memset(t, 0, sizeof(*t));
        return -1;
    }
    int rc = bench_table_parse(path, text, len, t, err, errlen);
    free(text);
    return rc;
}

int bench_table_col(const struct bench_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (!strcmp(t->header[i], name))
            return (int)i;
    return -1;
}

const char *bench_table_cell(const struct bench_table *t, size_t row, size_t col)
{
    return row < t->nrows && col < t->ncols ? t->cells[row * t->ncols + col] : NULL;
}

/* ---- row keys: the identity columns row.h marks, joined by '|' ---- */

int bench_table_key_cols(const struct bench_table *t, int *cols, size_t max, char *err,
                         size_t errlen)
{
    size_t n = 0;
    for (size_t i = 0; i < bench_csv_ncols(); i++) {
        const struct bench_col *c = bench_csv_col(i);
        if (!c->identity)
            continue;
        if (n == max) {
            snprintf(err, errlen, "more than %zu identity columns", max);
            return -1;
        }
        cols[n] = bench_table_col(t, c->name);
        if (cols[n] < 0 && !c->optional) {
            snprintf(err, errlen, "no column '%s'", c->name);
            return -1;
        }
        n++;
    }
    return (int)n;
}

void bench_table_key(const struct bench_table *t, size_t r, const int *cols, size_t ncols,
                     char *buf, size_t len)
{
    size_t used = 0, i = 0;
    buf[0] = '\0';
    /* The identity columns again, in the same order, for what an absent
     * one reads as. */
    for (size_t c = 0; c < bench_csv_ncols() && i < ncols && used < len; c++) {
        const struct bench_col *col = bench_csv_col(c);
        if (!col->identity)
            continue;
        const char *absent = col->absent ? col->absent : "NA";
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "|" : "",
                                 cols[i] < 0 ? absent : bench_table_cell(t, r, (size_t)cols[i]));
        i++;
    }
}
