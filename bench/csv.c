/* csv.c - the tidy results row: one table of columns drives the header, the
 * writer and reports/SCHEMA.md's checks.
 *
 * Strings go through libcsv's csv_fwrite only when they need quoting
 * (commas, quotes, newlines, edge spaces), so ordinary rows stay friendly to
 * awk and cut; numbers are written plainly, missing values as NA. Each row is
 * formatted into memory and written with one fwrite and a flush, so a crash
 * never leaves half a row behind a finished one.
 */
#include "bench.h"

#include <csv.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum col_type { COL_STR, COL_U64, COL_F64 };

struct col {
    struct bench_col meta;
    enum col_type type;
    size_t offset;
};

#define STR(f, unit, doc)                                                                          \
    {                                                                                              \
        {#f, unit, doc}, COL_STR, offsetof(struct bench_row, f)                                    \
    }
#define U64(f, unit, doc)                                                                          \
    {                                                                                              \
        {#f, unit, doc}, COL_U64, offsetof(struct bench_row, f)                                    \
    }
#define F64(f, unit, doc)                                                                          \
    {                                                                                              \
        {#f, unit, doc}, COL_F64, offsetof(struct bench_row, f)                                    \
    }
#define ST(f, unit, doc)                                                                           \
    {                                                                                              \
        {#f, unit, doc}, COL_U64, offsetof(struct bench_row, st.f)                                 \
    }

static const struct col cols[] = {
    STR(impl, "", "layer name from the registry"),
    U64(d_model, "", "model width D"),
    U64(scale, "", "sparse-parameter scale s (total params ~ s x dense FFN)"),
    U64(batch, "", "sequences per forward"),
    U64(seq_len, "", "tokens per sequence"),
    U64(tokens, "", "tokens per forward, batch x seq_len"),
    U64(threads, "", "threads the layer may use"),
    U64(seed, "", "weight and input seed"),
    STR(cache, "", "cold: parameters flushed before every timed forward; warm: not"),
    STR(knobs, "", "every knob after presets and defaults"),
    U64(params_total, "params", "parameters stored"),
    U64(params_active, "params", "parameters one token reads"),
    ST(flops, "flop", "2 x multiply-adds of one forward, routing included"),
    ST(dense_bytes, "B", "parameter bytes every forward reads"),
    ST(sparse_bytes, "B", "unique sparse parameter bytes this batch touched"),
    ST(units_touched, "", "unique experts / values / nodes this batch touched"),
    ST(units_total, "", "experts / values / nodes the layer has"),
    STR(unit, "", "what units_* count"),
    F64(latency_us_median, "us", "median over rounds of the mean forward time"),
    F64(latency_us_min, "us", "fastest round"),
    F64(latency_us_p90, "us", "90th percentile round"),
    F64(err_pct, "%", "median absolute percentage deviation of the rounds"),
    U64(rounds, "", "timed rounds"),
    U64(iters_per_round, "", "most forwards in one round (each round >= 1 ms)"),
    F64(gflops, "GFLOP/s", "flops / median latency"),
    F64(max_abs_err, "", "largest |forward - forward_ref| over the checked tokens"),
    F64(recall, "", "fraction of the exact top selections found; NA when exact"),
    STR(status, "", "ok, wrong (output disagrees; not timed), error, skipped"),
    STR(note, "", "why the status, or a noise warning"),
};

#define NCOLS (sizeof(cols) / sizeof(cols[0]))

size_t bench_csv_ncols(void)
{
    return NCOLS;
}

const struct bench_col *bench_csv_col(size_t i)
{
    return i < NCOLS ? &cols[i].meta : NULL;
}

static int needs_quotes(const char *s)
{
    size_t n = strlen(s);
    if (n && (s[0] == ' ' || s[n - 1] == ' ' || s[0] == '\t' || s[n - 1] == '\t'))
        return 1;
    return strpbrk(s, ",\"\r\n") != NULL;
}

int bench_csv_write_field(FILE *f, const char *s)
{
    if (needs_quotes(s))
        return csv_fwrite(f, s, strlen(s)) == 0 ? 0 : -1;
    return fputs(s, f) >= 0 ? 0 : -1;
}

int bench_csv_write_header(FILE *f)
{
    for (size_t i = 0; i < NCOLS; i++) {
        if (i)
            fputc(',', f);
        bench_csv_write_field(f, cols[i].meta.name);
    }
    fputc('\n', f);
    return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

int bench_csv_write_row(FILE *f, const struct bench_row *row)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return -1;
    for (size_t i = 0; i < NCOLS; i++) {
        const char *p = (const char *)row + cols[i].offset;
        if (i)
            fputc(',', m);
        if (cols[i].type == COL_STR) {
            bench_csv_write_field(m, p);
        } else if (cols[i].type == COL_U64) {
            uint64_t v;
            memcpy(&v, p, sizeof(v));
            fprintf(m, "%llu", (unsigned long long)v);
        } else {
            double v;
            memcpy(&v, p, sizeof(v));
            if (isfinite(v))
                fprintf(m, "%.6g", v);
            else
                fputs("NA", m);
        }
    }
    fputc('\n', m);
    fclose(m);
    int ok = fwrite(buf, 1, len, f) == len && fflush(f) == 0;
    free(buf);
    return ok ? 0 : -1;
}
