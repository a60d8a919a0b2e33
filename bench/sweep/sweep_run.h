/* sweep_run.h - private to bench/sweep/: the state of one `sparsebench
 * sweep` run, shared by the files of the sweep command: cmd_sweep.c (flags,
 * order, summary), plan.c, loop.c, run_dir.c, run_meta.c and dry_run.c.
 * Every function here prints its own message and exits 1 or 2 on a
 * failure it cannot report otherwise. */
#ifndef SPARSEBENCH_SWEEP_RUN_H
#define SPARSEBENCH_SWEEP_RUN_H

#include "sweep.h"
#include "../counters/counters.h"
#include "../meta.h"
#include "../row.h"

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

/* One sweep run: its flags, the plan, and the files it writes. */
struct bench_sweep_run {
    /* flags */
    const char *file, *out, *cache, *counters, *papi_events, *estimate_from, *filter, *shard;
    unsigned shard_i, shard_n; /* --shard I/N; 0/0 without */
    int resume, threads, dry_run, no_probe, no_plot, verbose;
    /* the plan */
    struct bench_sweep sw;
    struct bench_point *pts;
    size_t npts;
    size_t npts_sweep;   /* points before --shard: what all shards together run */
    unsigned char *done; /* per point: results.csv already has its row */
    size_t ndone;
    /* the run */
    volatile sig_atomic_t *stop; /* raised by SIGINT / SIGTERM: abandon the point, stop */
    char dir[PATH_MAX - 32];
    char results[PATH_MAX], meta_path[PATH_MAX];
    int default_dir;
    struct bench_meta meta;
    char host[64]; /* the host column: this machine's short hostname */
    FILE *csv;
    size_t written, n_ok, n_wrong, n_error, n_skipped;
    long stop_after; /* SPARSEBENCH_STOP_AFTER: raise SIGINT after this many rows (tests) */
    int argc;
    char **argv;
    char last_skip[BENCH_NOTE_LEN];
    struct bench_counters ctr; /* what fills the counter columns */
    size_t n_counter_failed;   /* groups whose callgrind run failed */
};

/* ---- plan.c ---- */

/* Load the sweep file and expand its points (--cache, --threads, --filter
 * and --shard applied); exits 2 on a bad file. */
void bench_sweep_plan(struct bench_sweep_run *s);
/* Keep only the points of --shard I/N (shard.c), costed by --estimate-from
 * when given; after bench_sweep_validate, so every slot is checked. */
void bench_sweep_take_shard(struct bench_sweep_run *s);
/* Create every slot once, at its smallest width and first supported scale;
 * exits 2 naming the slot's line when the layer calls its knobs bad. */
void bench_sweep_validate(const struct bench_sweep_run *s);

/* ---- loop.c ---- */

/* Measure every point not done yet, appending its row to s->csv. Returns 0
 * (also when stopped), or -1 when a row could not be written. */
int bench_sweep_run_points(struct bench_sweep_run *s);

/* ---- dry_run.c ---- */

/* List the points (and their times in --estimate-from); returns an exit status. */
int bench_sweep_dry_run(struct bench_sweep_run *s);

/* ---- run_dir.c ---- */

/* A new run: create the directory, results.csv with its header (never over
 * an existing one), a copy of the sweep file, and reports/latest. */
void bench_sweep_open_new(struct bench_sweep_run *s);
/* An earlier run: read results.csv back, cut a half-written last row, mark
 * the points it holds as done, load meta.csv, refuse other --threads/--cache. */
void bench_sweep_open_resume(struct bench_sweep_run *s);
/* "resume with: ..." on stderr: this command with --out DIR and --resume. */
void bench_sweep_resume_hint(const struct bench_sweep_run *s);

/* ---- run_meta.c ---- */

void bench_sweep_meta_start(struct bench_sweep_run *s, int argc, char **argv);
void bench_sweep_meta_end(struct bench_sweep_run *s, const struct bench_ticks *t0, double wall,
                          const char *status);
int bench_sweep_write_meta(struct bench_sweep_run *s); /* 0, or -1 said on stderr */
/* The roofs for every thread count still to run, unless meta.csv has them. */
void bench_sweep_probe_roofs(struct bench_sweep_run *s);
/* The roofs again after the points, with a warning when they moved. */
void bench_sweep_probe_again(struct bench_sweep_run *s);

#endif
