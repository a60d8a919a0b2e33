/* table.h - a CSV file read back with libcsv (results.csv for --resume and
 * --estimate-from, meta.csv, the tests), and the keys that name its rows
 * (table.c). */
#ifndef SPARSEBENCH_TABLE_H
#define SPARSEBENCH_TABLE_H

#include <stddef.h>

struct bench_table {
    size_t ncols;      /* fields in the header */
    char **header;     /* ncols names */
    size_t nrows;      /* complete data rows */
    char **cells;      /* nrows x ncols, row-major */
    size_t good_bytes; /* the file up to the end of the last complete row */
    size_t file_bytes; /* the whole file; more than good_bytes = a partial last row */
};

/* Read a CSV file with a header row (CSV_STRICT | CSV_STRICT_FINI |
 * CSV_APPEND_NULL). A last line without its newline (a write cut short by a
 * kill) is left out of the rows and reported through good_bytes. Every row
 * must have as many fields as the header. Returns 0, or -1 with a message
 * naming the file and line. */
int bench_table_read(const char *path, struct bench_table *t, char *err, size_t errlen);
/* The same on a string (for tests); path names it in messages. */
int bench_table_parse(const char *path, const char *text, size_t len, struct bench_table *t,
                      char *err, size_t errlen);
void bench_table_free(struct bench_table *t);
int bench_table_col(const struct bench_table *t, const char *name); /* index or -1 */
const char *bench_table_cell(const struct bench_table *t, size_t row, size_t col);

/* The identity columns of a results table (the ones row.h's columns mark,
 * in their order) into cols[0..max): returns how many, or -1 with err
 * naming a missing column. An optional identity column the table lacks (a
 * table written before it existed) is -1, and its cells read as its
 * `absent` value (inputs: random) or NA. */
int bench_table_key_cols(const struct bench_table *t, int *cols, size_t max, char *err,
                         size_t errlen);
/* Row r's key on those columns: the cells joined by '|', as bench_point_key
 * (sweep/sweep.h) writes a point's. */
void bench_table_key(const struct bench_table *t, size_t r, const int *cols, size_t ncols,
                     char *buf, size_t len);

#endif
