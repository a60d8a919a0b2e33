/* claims.h - `sparsebench claims RUN_DIR` and `make claims`: every published
 * speedup claim of the sources (../shared/research/ultramem_pkm.md §1.6-1.7,
 * §3; fff.md §2.2-2.4, §4; moe.md §3-4; issues 13 and 20) as one row with a
 * verdict, derived from a run's CSVs without measuring anything.
 * Files: verdict.c (the rule), run.c (a run's tables, lookups), series.c
 * (shared helpers), derive_u.c (U1-U11), derive_f.c (F1-F7), report.c
 * (CLAIMS.md, claims.csv), plots.c (gnuplot), cmd_claims.c (the command).
 * The rows are found by the slot labels of bench/sweeps/claims*.sweep. A claim
 * whose rows are missing, skipped or failed is "not testable here" with that
 * reason, never an error. */
#ifndef SPARSEBENCH_CLAIMS_H
#define SPARSEBENCH_CLAIMS_H

#include "../table.h"

#include <stddef.h>

/* ---- verdict.c ---- */

enum claim_verdict {
    CLAIM_REPRODUCED,
    CLAIM_PARTLY,
    CLAIM_NOT_REPRODUCED,
    CLAIM_NOT_TESTABLE,
};

/* The rule as the report prints it (Markdown). */
extern const char claim_rule_text[];

const char *claim_verdict_name(enum claim_verdict v);

/* One interval [lo, hi] (our 95 % interval, or lo = hi for an exact count)
 * against the claimed range [claim_lo, claim_hi]; claim_hi = INFINITY for
 * "at or above a factor", claim_lo = 0 for "at most". Inside: reproduced;
 * overlapping: partly; entirely outside: not reproduced; a NaN end: not
 * testable. */
enum claim_verdict claim_verdict_interval(double lo, double hi, double claim_lo, double claim_hi);

/* A claim over a series of points (batch sizes, scales): every testable
 * point reproduced -> reproduced, none reproduced nor partly -> not
 * reproduced, otherwise partly; no testable point -> not testable. */
enum claim_verdict claim_verdict_series(const enum claim_verdict *v, size_t n);

/* ---- run.c ---- */

/* A growing string; on out-of-memory sb_printf sets oom and stops. */
struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};
void sb_printf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct sbuf *sb);

#define CLAIM_SWEEPS 4 /* claims.sweep in RUN_DIR, the others in RUN_DIR/<name>/ */

struct claim_run {
    char dir[512];
    struct bench_table res[CLAIM_SWEEPS];
    int have[CLAIM_SWEEPS];      /* results.csv read */
    char why[CLAIM_SWEEPS][400]; /* why not: missing, or the sweep's own message */
    struct bench_table meta;     /* key,value */
    int have_meta;
    double peak_gflops, triad_gbps, gather_gbps; /* NAN when the run had no probe */
    char cpu[160];
    int cpus;
};

/* res[] order: "claims" (RUN_DIR itself), then the subdirectories. */
extern const char *const claim_sweep_names[CLAIM_SWEEPS];

/* Read RUN_DIR/results.csv (required) and meta.csv (required), and each
 * RUN_DIR/<name>/results.csv that exists (else why[] holds the first line of
 * RUN_DIR/<name>/sweep.log, or "not run"). 0, or -1 with err naming the file. */
int claims_load(const char *dir, struct claim_run *run, char *err, size_t errlen);
void claims_free(struct claim_run *run);

/* A results row: table and row index. */
struct crow {
    const struct bench_table *t;
    size_t r;
};

/* The row of slot `label` at D, tokens and scale (0: any scale) in any of the
 * run's tables; 1 found, 0 not. */
int claim_find(const struct claim_run *run, const char *label, unsigned long d,
               unsigned long tokens, unsigned long scale, struct crow *out);
/* Every row of a slot at D, ascending tokens (or scale when by_scale), at most
 * max; returns how many. */
size_t claim_rows(const struct claim_run *run, const char *label, unsigned long d, int by_scale,
                  struct crow *out, size_t max);
double claim_num(struct crow c, const char *col);      /* NAN for NA or a missing column */
const char *claim_str(struct crow c, const char *col); /* "" when missing */
int claim_ok(struct crow c);                           /* status == ok */
/* A knob's value from the row's knobs column ("k=v,k=v"), or NAN. */
double claim_knob(struct crow c, const char *key);
/* Why a slot has no usable row: "slot X ...: status=skipped (note)", or no
 * row, with the reason its sweep (index into res[]) did not run. */
void claim_why_missing(const struct claim_run *run, int sweep, const char *label, unsigned long d,
                       unsigned long tokens, char *buf, size_t len);

/* ---- series.c, derive_u.c, derive_f.c ---- */
struct claim_row {
    char id[16];
    unsigned long d_model; /* the width the row is at; 0 when none applies */
    char claim[200];
    char source[160];
    char paper[240];
    double ours, lo, hi; /* NAN when not testable */
    char ours_text[160];
    char conditions[480];
    enum claim_verdict verdict;
    char reason[720];
    struct sbuf detail; /* the section's Markdown table */
};

#define CLAIMS_MAX 48

/* A new row (NULL when full). */
struct claim_row *claim_new(struct claim_row *rows, size_t max, size_t *n, const char *id,
                            unsigned long d, const char *claim, const char *source,
                            const char *paper);
void claim_untestable(struct claim_row *row, const char *why);
/* "<cpu>, N threads, D = d, ..." from a row and the run. */
void claim_conditions(const struct claim_run *run, struct crow c, const char *extra,
                      struct claim_row *row);
/* A paired slot over its points (tokens, or scales when by_scale; up to max_x) against
 * [clo, chi]: fills ours (the median ratio at the point of the largest one),
 * lo/hi (smallest lo, largest hi), the detail table and the verdict; writes
 * into holds the points where it holds. Returns the points found. */
size_t claim_pair_series(const struct claim_run *run, const char *label, unsigned long d,
                         int by_scale, double max_x, double clo, double chi, struct claim_row *row,
                         char *holds, size_t hl);
const char *claim_bytes(double b, char *buf, size_t len); /* "12.3 MB" */

/* Append the claims to rows[*n..max): */
void claims_derive_u(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n);
void claims_derive_f(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n);

/* ---- report.c, plots.c ---- */

/* CLAIMS.md and claims.csv into dir. 0, or -1 with err. */
int claims_write(const char *dir, const struct claim_run *run, const struct claim_row *rows,
                 size_t n, const char *plots_md, char *err, size_t errlen);
/* claims-*.dat and claims-*.png with gnuplot; appends to md the figure
 * links drawn. 0, or -1 with err (no gnuplot: the report says so). */
int claims_plot(const char *dir, const struct claim_run *run, struct sbuf *md, char *err,
                size_t errlen);

#endif
