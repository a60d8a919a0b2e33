/* sweep_run.h - the state of one `sparsebench sweep` run, shared by the
 * files of the sweep command (cmd_sweep.c: plan and loop, sweep_dir.c: run
 * directory, resume and metadata, sweep_dry.c: --dry-run). Not part of the
 * harness's interface (bench.h). */
#ifndef SPARSEBENCH_SWEEP_RUN_H
#define SPARSEBENCH_SWEEP_RUN_H

#include "bench.h"

#include <limits.h>
#include <signal.h>

#define BENCH_KEY_LEN (BENCH_NAME_LEN + 160)

/* Set by SIGINT / SIGTERM: the current point is abandoned, the run stops. */
extern volatile sig_atomic_t bench_sweep_stop;

/* One sweep run: its flags, the plan, and the files it writes. */
struct bench_sweep_run {
    /* flags */
    const char *file, *out, *cache, *counters, *papi_events, *estimate_from, *filter;
    int resume, threads, dry_run, no_probe, no_plot, verbose;
    /* the plan */
    struct bench_sweep sw;
    struct bench_point *pts;
    size_t npts;
    unsigned char *done; /* per point: results.csv already has its row */
    size_t ndone;
    /* the run */
    char dir[PATH_MAX - 32];
    char results[PATH_MAX], meta_path[PATH_MAX];
    int default_dir;
    struct bench_meta meta;
    FILE *csv;
    size_t written, n_ok, n_wrong, n_error, n_skipped;
    long stop_after; /* SPARSEBENCH_STOP_AFTER: raise SIGINT after this many rows (tests) */
    int argc;
    char **argv;
    char last_skip[BENCH_NOTE_LEN];
    struct bench_counters ctr; /* what fills the counter columns */
    size_t n_counter_failed;   /* groups whose callgrind run failed */
};

/* The layer configuration of a point (max_tokens: the point's own tokens). */
void bench_sweep_point_config(const struct bench_point *p, const struct bench_sweep *sw,
                              struct layer_config *cfg);

/* ---- sweep_dry.c ---- */

/* List the points (and their times in --estimate-from); returns an exit status. */
int bench_sweep_dry_run(struct bench_sweep_run *s);

/* ---- sweep_dir.c: the run directory; each exits 1 or 2 on failure ---- */

/* A new run: create the directory, results.csv with its header (never over
 * an existing one), a copy of the sweep file, and reports/latest. */
void bench_sweep_open_new(struct bench_sweep_run *s);
/* An earlier run: read results.csv back, cut a half-written last row, mark
 * the points it holds as done, load meta.csv, refuse other --threads/--cache. */
void bench_sweep_open_resume(struct bench_sweep_run *s);
void bench_sweep_meta_start(struct bench_sweep_run *s, int argc, char **argv);
void bench_sweep_meta_end(struct bench_sweep_run *s, const struct bench_ticks *t0, double wall,
                          const char *status);
void bench_sweep_write_meta(struct bench_sweep_run *s);
/* The roofs for every thread count still to run, unless meta.csv has them. */
void bench_sweep_probe_roofs(struct bench_sweep_run *s);
/* The roofs again after the points, with a warning when they moved. */
void bench_sweep_probe_again(struct bench_sweep_run *s);
/* "resume with: ..." on stderr: this command with --out DIR and --resume. */
void bench_sweep_resume_hint(const struct bench_sweep_run *s);

#endif
