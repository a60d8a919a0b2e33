/* csv.c - the tidy results row: one table of columns drives the header, the
 * writer, `sparsebench schema`, --resume's point keys and the check that
 * reports/SCHEMA.md documents exactly these columns.
 *
 * Strings go through libcsv's csv_fwrite only when they need quoting
 * (commas, quotes, newlines, edge spaces), so ordinary rows stay friendly to
 * awk and cut; numbers are written plainly, missing values as NA (never 0).
 * The free-text columns (knobs, note) come last, so a plain `awk -F,` still
 * finds every other column by its header position. Each row is formatted
 * into memory and written with one fwrite and a flush, so a crash never
 * leaves half a row behind a finished one.
 */
#include "row.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum col_type { COL_STR, COL_U64, COL_F64 };

struct col {
    struct bench_col meta;
    enum col_type type;
    size_t offset;
};

/* ID: identity (part of a point's key); OPT: an identity column added
 * later, which older tables lack (read as NA); TX: free text, kept last. */
#define ID  1
#define OPT 2
#define TX  1
#define COL(type, field, off, unit, id, text, doc)                                                 \
    {                                                                                              \
        {#field, unit, doc, id != 0, id == OPT, text, NULL}, type, off                             \
    }
#define STR(f, id, unit, doc) COL(COL_STR, f, offsetof(struct bench_row, f), unit, id, 0, doc)
#define TXT(f, unit, doc)     COL(COL_STR, f, offsetof(struct bench_row, f), unit, 0, TX, doc)
#define U64(f, id, unit, doc) COL(COL_U64, f, offsetof(struct bench_row, f), unit, id, 0, doc)
#define F64(f, unit, doc)     COL(COL_F64, f, offsetof(struct bench_row, f), unit, 0, 0, doc)
#define ST(f, unit, doc)      COL(COL_U64, f, offsetof(struct bench_row, st.f), unit, 0, 0, doc)

static const struct col cols[] = {
    STR(slot, ID, "", "the sweep slot: its label, by default the implementation with its knobs"),
    STR(impl, 0, "", "layer name from the registry"),
    U64(d_model, ID, "", "model width D"),
    U64(scale, ID, "", "sparse-parameter scale s (total params ~ s x dense FFN)"),
    U64(batch, ID, "", "sequences per forward"),
    U64(seq_len, ID, "", "tokens per sequence"),
    U64(tokens, 0, "", "tokens per forward, batch x seq_len"),
    U64(threads, ID, "", "threads the layer may use"),
    U64(seed, ID, "", "weight and input seed"),
    STR(cache, ID, "", "cold: parameters flushed before every timed forward; warm: not"),
    /* Added after results.csv files existed: a table without it was all random. */
    {{"inputs", "",
      "random: every forward on fresh distinct N(0, 1) tokens; repeat: one input row repeated "
      "for every token (the published FFF benchmark's flaw, research/fff.md 2.2)",
      1, 1, 0, "random"},
     COL_STR,
     offsetof(struct bench_row, inputs)},
    U64(repeat, ID, "", "which repetition of the sweep, 1..repeats"),
    STR(status, 0, "",
        "ok; wrong (output disagrees with the reference: not timed); error; skipped "
        "(configuration unsupported or too big)"),
    U64(params_total, 0, "params", "parameters stored"),
    U64(params_active, 0, "params", "parameters one token reads"),
    ST(flops, "flop", "2 x multiply-adds of one forward, routing included"),
    ST(dense_bytes, "B", "parameter bytes every forward reads"),
    ST(sparse_bytes, "B", "unique sparse parameter bytes this batch touched"),
    U64(bytes, 0, "B", "dense_bytes + sparse_bytes: parameter bytes one forward reads"),
    ST(units_touched, "", "unique experts / values / nodes this batch touched"),
    ST(units_total, "", "experts / values / nodes the layer has"),
    STR(unit, 0, "", "what units_* count"),
    F64(latency_us_median, "us", "median over rounds of the mean forward time"),
    F64(latency_us_min, "us", "fastest round"),
    F64(latency_us_p90, "us", "90th percentile round"),
    F64(err_pct, "%", "median absolute percentage deviation of the rounds"),
    U64(noisy, 0, "", "1 when err_pct >= 5 (the median is not trustworthy), else 0"),
    U64(rounds, 0, "", "timed rounds"),
    U64(iters_per_round, 0, "", "most forwards in one round (each round >= 1 ms)"),
    F64(gflops, "GFLOP/s", "flops / median latency"),
    F64(bandwidth_gbps, "GB/s", "bytes / median latency (parameter bytes only)"),
    F64(intensity, "flop/B", "flops / bytes: arithmetic intensity on parameter bytes"),
    F64(roofline_frac, "",
        "the fastest time the roofs allow / the measured time: max(flops / sgemm peak, "
        "streamed bytes / triad GB/s + gathered bytes / gather GB/s) / latency; NA without a "
        "probe"),
    STR(roof, 0, "",
        "which roof bounds this row's roofline_frac: sgemm (compute), triad (streamed "
        "parameters) or gather (random-row reads of small sparse units); NA without a probe"),
    F64(max_abs_err, "",
        "largest absolute difference of forward and forward_ref on the checked tokens"),
    F64(recall, "", "fraction of the exact top selections found; NA when exact"),
    F64(create_s, "s", "creating the layer and its input pool (shared by the points of one layer)"),
    F64(wall_s, "s", "wall time of this point: check, warm-up, flushes and rounds"),
    STR(counter_source, 0, "",
        "where the counter columns come from: none, papi (hardware/OS counters, mean per timed "
        "forward) or callgrind (one simulated forward)"),
    U64(counter_threads, 0, "",
        "threads the counters saw: callgrind runs the counted forward on 1 thread; papi counts "
        "the calling thread only"),
    U64(instructions, 0, "",
        "instructions of one forward (callgrind Ir; papi instructions event, mean)"),
    U64(l1_misses, 0, "",
        "L1 misses of one forward (callgrind I1mr + D1mr + D1mw; papi L1 data misses)"),
    U64(ll_misses, 0, "",
        "last-level cache misses of one forward (callgrind ILmr + DLmr + DLmw in the pinned 8 "
        "MiB LL; papi last-level misses)"),
    U64(dram_bytes_est, 0, "B",
        "memory traffic of one forward: callgrind 64 x (LL misses + write-backs); papi the "
        "memory controllers' CAS counts x 64 B, or the CPU's estimate (meta.csv "
        "papi_dram_bytes_est says which)"),
    F64(cycles, "", "papi: core cycles per forward, mean"),
    F64(task_clock_ns, "ns", "papi: on-CPU time of the calling thread per forward, mean"),
    F64(page_faults, "", "papi: page faults per forward, mean"),
    F64(context_switches, "", "papi: context switches per forward, mean"),
    STR(pair_with, OPT, "",
        "paired rows (compare, or a sweep slot's pair = LABEL): the partner's slot label; NA "
        "when the row was measured alone"),
    U64(pair_scale, 0, "", "the scale the partner was created at"),
    U64(pair_n, 0, "", "pairs of rounds, this row's and the partner's, alternated ABBA"),
    U64(pair_instances, 0, "",
        "instances of each layer the pairs rotated over (two pairs, AB and BA, per instance in "
        "turn), so the interval covers where each layer's memory landed, not one placement"),
    F64(pair_ratio, "x",
        "median over pairs of the partner's round time / this row's: how many times faster "
        "this slot is than its partner (> 1 faster, < 1 slower)"),
    F64(pair_ratio_lo, "x", "lower end of pair_ratio's 95 % confidence interval"),
    F64(pair_ratio_hi, "x", "upper end of pair_ratio's 95 % confidence interval"),
    STR(pair_ci_method, 0, "",
        "how the interval was computed: orderstat (distribution-free, from order statistics) or "
        "bootstrap (percentile, over pairs, fixed seed)"),
    F64(pair_ci_coverage, "",
        "the interval's coverage: orderstat its exact value (>= 0.95, e.g. 0.9734 for 21 "
        "pairs); bootstrap the nominal 0.95"),
    F64(pair_latency_us_median, "us", "the partner's median round time in the pairs"),
    STR(host, 0, "",
        "the machine's short hostname: a ratio or speedup is only taken between rows of one "
        "host (sparsebench merge keeps them apart)"),
    STR(shard, 0, "", "I/N: which shard of sweep --shard I/N measured the row; NA unsharded"),
    TXT(knobs, "",
        "every knob after presets and defaults (the requested ones if not created); the "
        "precision axis is its dtype=f32|bf16|f16 (a row without dtype: f32)"),
    TXT(note, "", "why the status, or a noise warning"),
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

int bench_csv_col_index(const char *name)
{
    for (size_t i = 0; i < NCOLS; i++)
        if (!strcmp(cols[i].meta.name, name))
            return (int)i;
    return -1;
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

static void write_cell(FILE *m, const struct col *c, const struct bench_row *row)
{
    const char *p = (const char *)row + c->offset;
    if (c->type == COL_STR) {
        bench_csv_write_field(m, p);
    } else if (c->type == COL_U64) {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        if (v == BENCH_NA)
            fputs("NA", m);
        else
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

int bench_csv_write_row(FILE *f, const struct bench_row *row)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return -1;
    for (size_t i = 0; i < NCOLS; i++) {
        if (i)
            fputc(',', m);
        write_cell(m, &cols[i], row);
    }
    fputc('\n', m);
    fclose(m);
    int ok = fwrite(buf, 1, len, f) == len && fflush(f) == 0;
    free(buf);
    return ok ? 0 : -1;
}

/* ---- read back: could this cell have come from bench_csv_write_row? ---- */

#define CELL_MAX_VALUE 1e15 /* above any latency, count or byte figure a row holds */
#define CELL_MAX_SECS  1e6  /* 11.6 days: no point's wall or create time is near it */

static int printable_key(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '|')
            return 0;
    return 1;
}

int bench_csv_check_cell(size_t i, const char *cell, char *why, size_t len)
{
    if (i >= NCOLS) {
        snprintf(why, len, "no such column");
        return -1;
    }
    const struct col *c = &cols[i];
    if (c->type == COL_STR) {
        const char *name = c->meta.name;
        if (!strcmp(name, "cache") && strcmp(cell, "cold") && strcmp(cell, "warm")) {
            snprintf(why, len, "'%.40s' is not a cache mode; allowed: cold, warm", cell);
            return -1;
        }
        if (!strcmp(name, "status") && strcmp(cell, "ok") && strcmp(cell, "wrong") &&
            strcmp(cell, "error") && strcmp(cell, "skipped")) {
            snprintf(why, len, "'%.40s' is not a status; allowed: ok, wrong, error, skipped", cell);
            return -1;
        }
        if (c->meta.identity && !printable_key(cell)) {
            snprintf(why, len,
                     "'%.40s' is not an identity value (empty, a control byte, non-ASCII or '|')",
                     cell);
            return -1;
        }
        return 0;
    }
    if (!strcmp(cell, "NA")) {
        if (c->meta.identity) {
            snprintf(why, len, "NA in an identity column; allowed: a non-negative integer");
            return -1;
        }
        return 0;
    }
    char *end;
    errno = 0;
    if (c->type == COL_U64) {
        if (!*cell || strspn(cell, "0123456789") != strlen(cell) || strlen(cell) > 20 ||
            (strtoull(cell, &end, 10), errno)) {
            snprintf(why, len, "'%.40s' is not a non-negative integer or NA", cell);
            return -1;
        }
        return 0;
    }
    double v = strtod(cell, &end);
    if (!*cell || *end || errno == ERANGE || !isfinite(v) || v < 0) {
        snprintf(why, len, "'%.40s' is not a finite non-negative number or NA", cell);
        return -1;
    }
    double max = !strcmp(c->meta.unit, "s") ? CELL_MAX_SECS : CELL_MAX_VALUE;
    if (v > max) {
        snprintf(why, len, "'%.40s' is larger than %g, more than any row holds", cell, max);
        return -1;
    }
    return 0;
}
