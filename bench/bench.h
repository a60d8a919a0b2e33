/* bench.h - the harness: command-line options, measuring one point, sweep
 * files, the machine probe, run metadata and the tidy CSV every command
 * writes.
 *
 * Only code under bench/ may print to the terminal or exit(); impls/ returns
 * error codes. Exit status of every command: 0 done, 1 a measurement failed
 * (wrong output, layer error), 2 bad input (flag, knob, file), 130 a sweep
 * stopped by SIGINT or SIGTERM (resumable).
 */
#ifndef SPARSEBENCH_BENCH_H
#define SPARSEBENCH_BENCH_H

#include "../impls/layer.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_EXIT_FAIL        1
#define BENCH_EXIT_USAGE       2
#define BENCH_EXIT_INTERRUPTED 130

/* ---- cli.c: table-driven --flag parsing with messages that say what to fix ---- */

enum bench_opt_type {
    BENCH_OPT_SIZE,   /* size_t, integer in [min, max] */
    BENCH_OPT_UINT,   /* unsigned, integer in [min, max] */
    BENCH_OPT_INT,    /* int, integer in [min, max] */
    BENCH_OPT_U64,    /* uint64_t, any non-negative integer */
    BENCH_OPT_DOUBLE, /* double in [min, max] */
    BENCH_OPT_STR,    /* const char *, any string */
    BENCH_OPT_CHOICE, /* const char *, one of the '|'-separated `choices` */
    BENCH_OPT_FLAG,   /* int set to 1, takes no value */
};

struct bench_opt {
    const char *name; /* without the leading "--"; NULL = the positional argument */
    enum bench_opt_type type;
    void *dst;
    double min, max;
    const char *choices; /* BENCH_OPT_CHOICE: "cold|warm" */
    const char *metavar;
    const char *help;
};

struct bench_cmd {
    const char *name;    /* "run" */
    const char *summary; /* one line */
    const char *usage;   /* after "sparsebench NAME " */
    const char *epilog;  /* extra help text, may be NULL */
    const struct bench_opt *opts;
    size_t n_opts;
};

/* Parse argv (after the command name) into the table's destinations.
 * --help prints the generated help and exits 0; any bad flag or value exits 2
 * with a message naming the flag, the value and what is allowed. */
void bench_parse_args(const struct bench_cmd *cmd, int argc, char **argv);

/* Print "sparsebench CMD: <message>" and the --help hint, exit 2. */
void bench_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* argv[0] of the program, for messages that show a command (NULL: "sparsebench"). */
extern const char *bench_argv0;

/* "a, b, c": every registered layer's name, for "allowed:" messages. */
void bench_layer_names(char *buf, size_t len);

/* ---- stats.c ---- */

struct bench_stats {
    double median, min, p90, err_pct; /* err%: median absolute percentage deviation */
};

/* Statistics of v[0..n); v is reordered. n >= 1. */
void bench_stats_compute(double *v, size_t n, struct bench_stats *out);

/* ---- tokens.c: inputs ---- */

struct bench_tokens {
    float *x; /* (n, D) distinct N(0, 1) tokens */
    size_t n, d_model;
};

int bench_tokens_create(struct bench_tokens *tk, size_t n, size_t d_model, uint64_t seed);
void bench_tokens_destroy(struct bench_tokens *tk);
/* The i-th window of `count` consecutive tokens; windows rotate through the pool. */
const float *bench_tokens_window(const struct bench_tokens *tk, size_t i, size_t count);

/* ---- cache.c ---- */

/* Evict a layer's parameter memory from every cache level (clflushopt where
 * the CPU has it, clflush otherwise). */
void bench_cache_evict(const struct layer_info *info);
/* Read one byte of every page of the parameters so none faults while timed. */
void bench_cache_touch(const struct layer_info *info);
/* "clflushopt", "clflush" or "none": what bench_cache_evict uses here. */
const char *bench_cache_method(void);

/* ---- the results row (csv.c writes it; reports/SCHEMA.md documents it) ---- */

#define BENCH_STATUS_LEN 16
#define BENCH_NOTE_LEN   256
#define BENCH_NAME_LEN   64

/* Missing integers are stored as BENCH_NA and written as NA, like NaN for doubles. */
#define BENCH_NA UINT64_MAX

/* One row of results.csv; see reports/SCHEMA.md for every column. */
struct bench_row {
    char slot[BENCH_NAME_LEN]; /* the sweep slot's label, "impl" or "impl:knobs" */
    char impl[BENCH_NAME_LEN];
    uint64_t d_model, scale, batch, seq_len, tokens, threads, seed;
    char cache[8];
    uint64_t repeat;
    char status[BENCH_STATUS_LEN]; /* ok, wrong, error, skipped */
    uint64_t params_total, params_active;
    struct layer_stats st;
    uint64_t bytes; /* st.dense_bytes + st.sparse_bytes */
    char unit[16];
    double latency_us_median, latency_us_min, latency_us_p90, err_pct;
    uint64_t noisy, rounds, iters_per_round;
    double gflops, bandwidth_gbps, intensity, roofline_frac;
    double max_abs_err, recall;
    double create_s, wall_s;
    char counter_source[16];  /* none, papi or callgrind */
    uint64_t counter_threads; /* threads the counters saw (callgrind: 1) */
    uint64_t instructions, l1_misses, ll_misses, dram_bytes_est;
    double cycles, task_clock_ns, page_faults, context_switches; /* papi: mean per forward */
    char knobs[LAYER_KNOBS_LEN];
    char note[BENCH_NOTE_LEN]; /* why, when status is not ok; noise flags otherwise */
};

/* Fill the identity columns and set every measured column to NA.
 * slot may be NULL: then the slot is the impl name, with ":knobs" if any. */
void bench_row_init(struct bench_row *row, const char *slot, const struct layer_ops *ops,
                    const struct layer_config *cfg, size_t batch, size_t seq_len, int cold,
                    unsigned repeat);
/* Append to the row's note ("; " between parts), cut at its length. */
void bench_row_note(struct bench_row *row, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The readable one-line summary `run` and `sweep --verbose` print. */
void bench_row_summary(FILE *f, const struct bench_row *row);

/* ---- runner.c: one measured point ---- */

enum bench_cache_mode { BENCH_CACHE_COLD, BENCH_CACHE_WARM };

/* Hooks a counters module plugs in (all members may be NULL). point_begin
 * runs after the correctness check, before the warm-up; forward_begin and
 * forward_end bracket every timed forward (not the warm-up ones) just
 * outside the clock and inside the cache flush; point_end runs after the
 * last round, once the latency columns and the noise note are set, and
 * fills the row's counter columns (it may append to the note). */
struct bench_hooks {
    void *ctx;
    int (*point_begin)(void *ctx, const struct bench_row *row);
    void (*forward_begin)(void *ctx);
    void (*forward_end)(void *ctx);
    void (*point_end)(void *ctx, struct bench_row *row);
};

/* The machine's roofs, from bench_probe_run; 0 = unknown (roofline_frac NA). */
struct bench_roofs {
    double peak_gflops, bandwidth_gbps;
};

struct bench_opts {
    int min_rounds;     /* >= 11 */
    double min_round_s; /* >= 1 ms of timed forwards per round */
    enum bench_cache_mode cache;
    size_t check_tokens; /* tokens checked against forward_ref */
    struct bench_roofs roofs;
    const struct bench_hooks *hooks; /* may be NULL */
    volatile sig_atomic_t *stop;     /* may be NULL; nonzero abandons the point */
};

/* A created layer, what it says about itself, and its pool of input tokens,
 * reused by every point of one configuration (impl, knobs, D, scale, threads). */
struct bench_layer {
    struct layer *l;
    struct layer_info info;
    struct bench_tokens tk;
    size_t max_tokens;
    double create_s; /* seconds create() and the token pool took */
};

/* Create the layer for forwards of up to max_tokens tokens. Returns 0 or a
 * LAYER_E* code with err filled. */
int bench_layer_open(struct bench_layer *bl, const struct layer_ops *ops,
                     const struct layer_config *cfg, char *err, size_t errlen);
void bench_layer_close(struct bench_layer *bl);

#define BENCH_WRONG       1 /* forward disagrees with forward_ref: not timed */
#define BENCH_INTERRUPTED 2 /* opts->stop was raised: the row is incomplete */

/* Check forward against forward_ref at row->tokens tokens, then time it.
 * row holds the identity (bench_row_init). Returns 0 (status ok), BENCH_WRONG
 * (status wrong, no time), BENCH_INTERRUPTED, or a LAYER_E* code (status
 * error, err filled). */
int bench_measure(struct bench_layer *bl, const struct bench_opts *opts, struct bench_row *row,
                  char *err, size_t errlen);

/* What `run` does: open, measure, close, with the status and note set for
 * every outcome (a create failure is status error, or skipped when the layer
 * said the configuration is unsupported or too big). */
int bench_run_point(const struct layer_ops *ops, const struct layer_config *cfg, size_t batch,
                    size_t seq_len, const struct bench_opts *opts, struct bench_row *row, char *err,
                    size_t errlen);

/* Defaults: 11 rounds of >= 1 ms, cold cache, 4 checked tokens, no roofs. */
void bench_opts_default(struct bench_opts *o);

/* Seconds on the monotonic clock. */
double bench_now(void);

/* ---- counters: counters.c (modes), papi.c, callgrind.c, cgparse.c ---- */

enum bench_counter_mode {
    BENCH_COUNTERS_NONE,
    BENCH_COUNTERS_PAPI,
    BENCH_COUNTERS_CALLGRIND,
    BENCH_COUNTERS_AUTO,
};
#define BENCH_COUNTER_CHOICES "auto|papi|callgrind|none"

/* The pinned simulated caches of every callgrind run (research/harness.md
 * section 0.3): dumps are checked against these `desc:` lines. */
#define BENCH_CG_I1       "32768,8,64"
#define BENCH_CG_D1       "32768,8,64"
#define BENCH_CG_LL       "8388608,16,64"
#define BENCH_CG_LL_DESC  "8388608 B, 64 B, 16-way associative"
#define BENCH_CG_L1_DESC  "32768 B, 64 B, 8-way associative"
#define BENCH_CG_LL_BYTES (8u << 20)
#define BENCH_CG_LINE     64

/* auto takes callgrind only for gate-sized points, about a minute or less
 * under valgrind each: at most this many parameters (creating the weights
 * runs ~100x slower there: ~4 s per million parameters for the two layers a
 * cold count needs) and parameter x token products (the simulated forwards;
 * D = 768, scale 1, 8 tokens is 3.8e7 and takes ~17 s in all). */
#define BENCH_GATE_PARAMS       1e7
#define BENCH_GATE_PARAM_TOKENS 1.6e8

struct bench_papi; /* papi.c */
struct bench_meta; /* meta.c */

/* A run's counters: what was asked, what runs, and why. */
struct bench_counters {
    enum bench_counter_mode requested, mode; /* mode is never AUTO */
    char why[512];                           /* one line: why this mode, what is NA */
    struct bench_papi *papi;                 /* mode papi */
    struct bench_hooks hooks;                /* mode papi: the per-forward readers */
    char cg_exe[4096];                       /* mode callgrind: the program valgrind runs */
    char valgrind[4096], setarch[4096];
    char cg_corename[64]; /* OpenBLAS's kernels under valgrind */
    double cg_seconds;    /* time spent under valgrind so far */
    size_t cg_points;
};

/* Whether a point is small enough for auto to count it under callgrind. */
int bench_counters_gate_sized(uint64_t d_model, uint64_t scale, uint64_t tokens);

/* Resolve the mode: papi is probed (library init, add, start, a tiny
 * workload, stop, non-zero), callgrind needs valgrind, setarch and the
 * callgrind build; auto takes papi when its hardware events count, else
 * callgrind when gate_sized, else none. papi_events may be NULL (the
 * defaults). Prints the one-line choice and reason on stderr (prefix names
 * the command). Returns 0, or -1 with err filled when an explicit
 * --counters=callgrind cannot run or papi_events is malformed. */
int bench_counters_open(struct bench_counters *c, const char *requested, const char *papi_events,
                        int gate_sized, const char *prefix, char *err, size_t errlen);
void bench_counters_close(struct bench_counters *c);
/* The hooks to put in bench_opts (NULL unless papi). */
const struct bench_hooks *bench_counters_hooks(struct bench_counters *c);
/* counters_* keys (and papi_* / callgrind_* ones) for meta.csv. */
void bench_counters_meta(const struct bench_counters *c, struct bench_meta *m);
/* The requested mode from its name, or -1. */
int bench_counters_mode(const char *name);
const char *bench_counters_mode_name(enum bench_counter_mode m);

/* Whether callgrind can run here (valgrind, setarch, build/callgrind/sparsebench,
 * the headers); fills c's tool paths, or why with the reason. */
int bench_callgrind_available(struct bench_counters *c, char *why, size_t whylen);

/* What one counted forward cost under callgrind. */
struct bench_cg_result {
    int ok;                  /* the child counted this point */
    uint64_t instructions;   /* Ir */
    uint64_t l1_misses;      /* I1mr + D1mr + D1mw */
    uint64_t ll_misses;      /* ILmr + DLmr + DLmw */
    uint64_t writebacks;     /* ILdmr + DLdmr + DLdmw: dirty lines evicted */
    uint64_t dram_bytes_est; /* 64 x (ll_misses + writebacks) */
    struct layer_stats st;   /* the counted forward's own layer_stats */
    int extra_threads;       /* threads the layer started at threads=1: not counted */
};

/* Count one forward per token count of one layer configuration (cfg; its
 * threads are ignored: one thread) under valgrind's callgrind, in one child
 * process (research/harness.md section 4.1). cold: the simulated caches are
 * emptied before each counted forward. Fills res[0..n). Returns 0, or -1
 * with err filled (the child failed; its log is quoted). stop may be NULL. */
int bench_callgrind_count(struct bench_counters *c, const struct layer_ops *ops,
                          const struct layer_config *cfg, int cold, const size_t *tokens, size_t n,
                          struct bench_cg_result *res, volatile sig_atomic_t *stop, char *err,
                          size_t errlen);
/* Copy a counted point into a row (counter_source callgrind); a result
 * whose forward read other bytes than the row's check forward adds a note. */
void bench_callgrind_fill(const struct bench_cg_result *r, struct bench_row *row);
/* The hidden `_callgrind PLAN` command the parent runs under valgrind. */
int bench_cmd_callgrind_child(int argc, char **argv);

/* papi.c. Probe every configured event and set up the event sets; never
 * fails but for memory (what does not count is NA, with reasons in why). */
int bench_papi_open(struct bench_papi **out, const char *spec, char *why, size_t whylen, char *err,
                    size_t errlen);
void bench_papi_close(struct bench_papi *p);
int bench_papi_hardware_ok(const struct bench_papi *p);          /* instructions counts */
const char *bench_papi_hardware_why(const struct bench_papi *p); /* and if not, why */
void bench_papi_hooks(struct bench_papi *p, struct bench_hooks *h);
void bench_papi_meta(const struct bench_papi *p, struct bench_meta *m);
/* The default --papi-events specification. */
extern const char bench_papi_default_events[];

/* cgparse.c: one dump of a callgrind output file. */
#define BENCH_CG_EVENTS_MAX 32
struct bench_cg_dump {
    char label[128]; /* the client request's label, or the trigger ("Program termination") */
    int client_request;
    char i1[64], d1[64], ll[64]; /* "8388608 B, 64 B, 16-way associative" */
    size_t n_events;
    char events[BENCH_CG_EVENTS_MAX][16];
    uint64_t totals[BENCH_CG_EVENTS_MAX]; /* omitted trailing counts are 0 */
    int have_totals;
};
struct bench_cg_counts {
    uint64_t instructions, l1_misses, ll_misses, writebacks, dram_bytes_est;
};

/* Every dump of a callgrind output file's text (one, or several with
 * --combine-dumps=yes) into out[0..max). name is for messages. Returns 0
 * with *n set, or -1 with err filled. */
int bench_cg_parse(const char *name, const char *text, size_t len, struct bench_cg_dump *out,
                   size_t max, size_t *n, char *err, size_t errlen);
/* One event's total, or -1 when the dump has no such event. */
int bench_cg_event(const struct bench_cg_dump *d, const char *event, uint64_t *out);
/* The counter columns of a dump; -1 when the cache or write-back events are missing. */
int bench_cg_counts(const struct bench_cg_dump *d, struct bench_cg_counts *c, char *err,
                    size_t errlen);

/* ---- csv.c: results rows, written whole and flushed ---- */

/* Header line (column names) for the row schema. */
int bench_csv_write_header(FILE *f);
/* One row, formatted in memory, written with one fwrite and flushed. */
int bench_csv_write_row(FILE *f, const struct bench_row *row);
/* One string field, quoted only when it needs to be (libcsv rules). */
int bench_csv_write_field(FILE *f, const char *s);

/* Column metadata, for SCHEMA.md and readers. */
struct bench_col {
    const char *name;
    const char *unit;
    const char *doc;
    int identity; /* part of a point's key: --resume matches rows on these */
    int text;     /* free text that may hold commas; kept after every other column */
};
size_t bench_csv_ncols(void);
const struct bench_col *bench_csv_col(size_t i);
/* Index of a column, or -1. */
int bench_csv_col_index(const char *name);

/* ---- csvread.c: reading a CSV back with libcsv ---- */

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

/* ---- passes.c: how far repeated passes of a sweep disagree ---- */

struct bench_spread {
    size_t n_points;                /* ok points measured in more than one pass */
    size_t n_over;                  /* of them, slowest / fastest median above the limit */
    double worst;                   /* the largest ratio (0 when n_points is 0) */
    char worst_key[BENCH_NOTE_LEN]; /* "slot=... d_model=... ..." of that point */
};

/* Over the ok rows of a results table: group by point (every key column
 * but repeat) and compare the median latencies of its passes. Returns 0, or
 * -1 when a column is missing or memory runs out. */
int bench_pass_spread(const struct bench_table *t, double limit, struct bench_spread *out);

/* ---- stats of the machine: probe.c ---- */

struct bench_probe {
    int threads;
    double sgemm_gflops; /* best of the square sgemms of about a second */
    size_t sgemm_n;
    double triad_gbps; /* STREAM triad, best pass after the first, 12 B per element */
    size_t triad_array_bytes;
    uint64_t llc_reported, llc_assumed; /* bytes; reported by sysconf, assumed for sizing */
    double seconds;                     /* the probe's own wall time */
};

/* Measure this machine's sgemm peak and STREAM-triad bandwidth on `threads`
 * threads, in a few seconds. Returns 0 or LAYER_ENOMEM with err filled. */
int bench_probe_run(int threads, struct bench_probe *p, char *err, size_t errlen);

/* ---- meta.c: the run's key,value sidecar ---- */

struct bench_meta {
    size_t n, cap;
    char **key, **val;
};

void bench_meta_set(struct bench_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *bench_meta_get(const struct bench_meta *m, const char *key); /* NULL if absent */
void bench_meta_free(struct bench_meta *m);
/* Written to a temporary name and renamed over path. */
int bench_meta_write(const struct bench_meta *m, const char *path, char *err, size_t errlen);
int bench_meta_read(struct bench_meta *m, const char *path, char *err, size_t errlen);
/* Build and machine facts: git revision, compiler and flags, library
 * versions, CPU model, online CPUs, kernel, OpenBLAS configuration. */
void bench_meta_environment(struct bench_meta *m);
/* 1 with a one-line message when OpenBLAS runs kernels older than this CPU
 * (AVX2 kernels on an AVX-512 CPU, e.g. forced by OPENBLAS_CORETYPE), else 0. */
int bench_blas_below_native(char *msg, size_t len);
/* On stderr, prefixed by cmd: that warning, or that main left out an
 * OPENBLAS_CORETYPE that pinned older kernels (bench/main.c), or nothing. */
void bench_blas_report(const char *cmd);
/* Record a probe under keys <prefix>_*_t<threads> ("probe" at the start of
 * a run, "probe_end" after it). */
void bench_meta_probe(struct bench_meta *m, const struct bench_probe *p, const char *prefix);
/* The roofs recorded for `threads`, or {0, 0}. */
struct bench_roofs bench_meta_roofs(const struct bench_meta *m, int threads);

/* CPU time counters from /proc/stat, for steal time over a run. */
struct bench_ticks {
    uint64_t steal, total;
};
int bench_ticks_read(struct bench_ticks *t);

/* ---- util.c: files ---- */

/* mkdir -p; 0 or -1 with errno. */
int bench_mkdir_p(const char *path);
/* Write len bytes to path through a temporary file, fsync and rename. */
int bench_write_atomic(const char *path, const void *data, size_t len);
/* Point `link` at `target` (a relative name), replacing an older link atomically. */
int bench_symlink_replace(const char *target, const char *link);
/* The whole file, NUL-terminated (caller frees), or NULL with errno. */
char *bench_read_file(const char *path, size_t *len);
/* FNV-1a 64 of a byte string. */
uint64_t bench_hash(const void *p, size_t n);
/* An executable shipped with the program: the environment variable `env`
 * when set (0 if it names an executable), else the first of rel[0..n)
 * (each "/..."-prefixed, relative to the directory of /proc/self/exe) that
 * is executable, made absolute into buf. 0, or -1 when none is. */
int bench_find_beside_exe(const char *env, const char *const *rel, size_t n, char *buf, size_t len);

/* ---- sweepfile.c: declarative sweeps ---- */

#define BENCH_LIST_MAX    64
#define BENCH_MAX_THREADS 256 /* threads = max is capped here */
#define BENCH_SPEC_LEN    (BENCH_NAME_LEN + LAYER_KNOBS_LEN)

/* A list of values for one sweep key; threads uses 0 for "max". */
struct bench_list {
    size_t n;
    uint64_t v[BENCH_LIST_MAX];
};

/* One implementation slot: a layer with its knobs and its own lists. */
struct bench_slot {
    char spec[BENCH_SPEC_LEN];   /* as written: "impl" or "impl:knobs" */
    char label[BENCH_NAME_LEN];  /* the slot column; spec with ',' -> ';' by default */
    char knobs[LAYER_KNOBS_LEN]; /* after the ':' */
    const struct layer_ops *ops;
    int line; /* where it was declared (0: from impls = all) */
    struct bench_list d_model, scale, batch, seq_len, threads;
    int rounds;
    double round_ms;
    size_t check_tokens;
};

struct bench_sweep {
    char path[512];
    uint64_t hash; /* of the file's text */
    struct bench_slot *slots;
    size_t n_slots;
    unsigned repeats;
    enum bench_cache_mode cache;
    uint64_t seed;
    char counters[16]; /* the file's `counters =`, "" when it has none */
};

/* Parse a sweep file's text. Returns 0, or -1 with "PATH:LINE: ..." in err
 * naming the key, the bad value and what is allowed. */
int bench_sweep_parse(const char *path, const char *text, struct bench_sweep *sw, char *err,
                      size_t errlen);
/* Read and parse a file. */
int bench_sweep_load(const char *path, struct bench_sweep *sw, char *err, size_t errlen);
void bench_sweep_free(struct bench_sweep *sw);
/* Whether `impls = all` takes this layer: every one but the paper-style weak
 * baselines, whose summary says "weak baseline". */
int bench_sweep_in_all(const struct layer_ops *ops);

/* One point of the Cartesian product. */
struct bench_point {
    const struct bench_slot *slot;
    uint64_t d_model, scale, batch, seq_len, threads;
    unsigned repeat; /* 1..repeats */
    size_t group;    /* points sharing one layer (slot, D, scale, threads, repeat) */
};

/* Expand the sweep into points in run order (repeat, slot, D, scale,
 * threads, batch, seq_len); threads 0 ("max") becomes online_cpus and
 * threads_override (when > 0) replaces every thread list. Caller frees
 * *out. Returns 0, or -1 with err filled (too many points). */
int bench_sweep_points(const struct bench_sweep *sw, int online_cpus, int threads_override,
                       struct bench_point **out, size_t *n, char *err, size_t errlen);

/* The key --resume matches on: the identity columns of a point, or of row r
 * of a results table (cols from bench_key_cols). */
void bench_point_key(const struct bench_point *p, const struct bench_sweep *sw, char *buf,
                     size_t len);
int bench_key_cols(const struct bench_table *t, int *cols, size_t max, char *err, size_t errlen);
void bench_table_key(const struct bench_table *t, size_t r, const int *cols, size_t ncols,
                     char *buf, size_t len);

/* ---- progress.c: the line on stderr ---- */

struct bench_progress {
    int tty;     /* stderr is a terminal: draw the line */
    int verbose; /* one summary line per point instead */
    size_t total, done;
    double w_total, w_done; /* work weights of the points, for the time left */
    double t0;
    int drawn;
};

/* A point's rough share of the work: bigger batches take longer. */
double bench_progress_weight(const struct bench_point *p);
void bench_progress_start(struct bench_progress *pr, size_t total, double w_total, int verbose);
/* Before a point starts: "[i/n] slot D=... T=... | elapsed, ~left". */
void bench_progress_show(struct bench_progress *pr, const struct bench_point *p);
/* After a point: count it; in verbose mode print its summary. */
void bench_progress_done(struct bench_progress *pr, const struct bench_point *p,
                         const struct bench_row *row);
/* Erase the line before other output. */
void bench_progress_clear(struct bench_progress *pr);
/* "12:34" */
void bench_format_duration(double s, char *buf, size_t len);

/* ---- plot.c ---- */

/* Run scripts/plot.sh on a run directory (found next to the executable,
 * or $SPARSEBENCH_PLOT). Returns 0 or -1 with err filled. */
int bench_plot(const char *dir, char *err, size_t errlen);

/* ---- commands ---- */

int bench_cmd_list(int argc, char **argv);
int bench_cmd_run(int argc, char **argv);
int bench_cmd_sweep(int argc, char **argv);
int bench_cmd_probe(int argc, char **argv);
int bench_cmd_schema(int argc, char **argv);

#endif
