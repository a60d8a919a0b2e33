/* cmd_sweep.c - `sparsebench sweep FILE`: every point of a sweep file into
 * reports/<run-id>/ (results.csv, meta.csv, the sweep file, plots).
 *
 * The command in order: its flags, the plan (plan.c: the file, the points,
 * every slot's knobs checked before anything is measured), the dry run
 * (dry_run.c) or the counter mode, the run directory (run_dir.c: new, or
 * --resume), metadata and probes (run_meta.c), the points (loop.c), and the
 * summary, plots and exit status. SIGINT and SIGTERM raise the run's stop
 * flag: the current point is abandoned and the run is left resumable.
 */
#include "sweep_run.h"
#include "progress.h"
#include "shard.h"
#include "sweep.h"
#include "../cli.h"
#include "../counters/counters.h"
#include "../meta.h"
#include "../plot.h"
#include "../table.h"
#include "../util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEAL_WARN_PCT    3.0
#define PASS_SPREAD_LIMIT 1.2 /* passes further apart than this are counted as disagreeing */
#define BUSY_LOAD_FRAC    0.5 /* of the online CPUs */

/* Set by SIGINT / SIGTERM: the current point is abandoned, the run stops. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static const char sweep_epilog[] =
    "FILE is a sweep file (bench/sweeps/*.sweep):\n"
    "  # comments anywhere               key = value settings, then [slot] sections\n"
    "  d_model = 768                     lists: '1 2 4', or ranges A..B*K, A..B+K\n"
    "  scale   = 1..16*2\n"
    "  batch   = 1\n"
    "  seq_len = 1..4096*4               tokens per forward = batch x seq_len\n"
    "  threads = max                     'max' = every online CPU\n"
    "  impls   = all                     every registered layer but weak baselines\n"
    "  [dense]                           a slot (here: one of impls) with its own\n"
    "  scale   = 1                       settings; [impl:knob=v,...] adds a slot\n"
    "  [fff:preset=1x11]\n"
    "  label   = fff-1x11                the name in the slot column\n"
    "Global keys: impls repeats cache seed counters; global or per slot: d_model scale batch\n"
    "seq_len threads rounds (>= 11) round_ms (>= 1) check_tokens inputs (random|repeat:\n"
    "one input row for every token, the published FFF benchmark's flaw); per slot: label.\n"
    "The sweep is each slot's Cartesian product; configurations a layer does not\n"
    "support become status=skipped rows, with the reason on stderr. 'impls = all'\n"
    "leaves out layers whose summary says \"weak baseline\" (name them to run them).\n\n"
    "counters = auto|papi|callgrind|none (or --counters): papi reads hardware\n"
    "counters around every timed forward; callgrind counts one forward per point\n"
    "under valgrind (one valgrind run per layer, 60-150x slower: gate-sized\n"
    "sweeps only); auto takes papi where its instructions event counts, else\n"
    "callgrind when every point is gate-sized (params <= 1e7, params x tokens\n"
    "<= 1.6e8), else none, and says why.\n\n"
    "Output: reports/<run-id>/ (or --out DIR): results.csv (one row per point,\n"
    "columns in reports/SCHEMA.md), meta.csv, sweep.sweep, *.png; reports/latest\n"
    "points at the newest default-located run. A progress line is drawn when\n"
    "stderr is a terminal; otherwise the sweep is quiet (--verbose: a line per\n"
    "point). Ctrl-C or SIGTERM stops after abandoning the current point; --resume\n"
    "then runs only the missing points (give the same --threads and --cache).\n\n"
    "--shard I/N runs one machine's share: the points are cut into comparison\n"
    "groups (one d_model, batch, seq_len and threads: every slot, every repeat,\n"
    "the dense baseline and pair partners with them, since a ratio is only\n"
    "meaningful within one machine), and the groups are dealt to N shards by cost\n"
    "(--estimate-from CSV: an earlier run's wall_s + create_s; else a model from\n"
    "each layer's flops and bytes). Every shard of one N together runs each point\n"
    "once; `sparsebench merge` combines their run directories.\n"
    "Exit: 0 done, 1 some point wrong or failed, 2 bad file or flag, 130\n"
    "interrupted. SPARSEBENCH_STOP_AFTER=N raises SIGINT after N rows (for tests).\n";

static void parse_flags(struct bench_sweep_run *s, int argc, char **argv)
{
    const struct bench_opt opts[] = {
        {NULL, BENCH_OPT_STR, &s->file, 0, 0, NULL, "FILE", "the sweep file"},
        {"out", BENCH_OPT_STR, &s->out, 0, 0, NULL, "DIR",
         "run directory (default reports/<date>-<time>-<sweep>)"},
        {"resume", BENCH_OPT_FLAG, &s->resume, 0, 0, NULL, NULL,
         "continue the run in --out DIR (default reports/latest): only missing points"},
        {"cache", BENCH_OPT_CHOICE, &s->cache, 0, 0, "cold|warm", NULL,
         "override the file's cache mode (default cold)"},
        {"threads", BENCH_OPT_INT, &s->threads, 1, BENCH_MAX_THREADS, NULL, "N",
         "override every slot's thread list"},
        {"counters", BENCH_OPT_CHOICE, &s->counters, 0, 0, BENCH_COUNTER_CHOICES, NULL,
         "counter columns (overrides the file's counters =; default none)"},
        {"papi-events", BENCH_OPT_STR, &s->papi_events, 0, 0, NULL, "COL=EV[+EV],...",
         "events per counter column, over this CPU's (sparsebench counters)"},
        {"filter", BENCH_OPT_STR, &s->filter, 0, 0, NULL, "GLOB",
         "run only the slots whose label matches (fnmatch)"},
        {"shard", BENCH_OPT_STR, &s->shard, 0, 0, NULL, "I/N",
         "run only shard I (1..N) of N: whole comparison groups, balanced by cost"},
        {"dry-run", BENCH_OPT_FLAG, &s->dry_run, 0, 0, NULL, NULL,
         "check the file and the knobs, list the points, measure nothing"},
        {"estimate-from", BENCH_OPT_STR, &s->estimate_from, 0, 0, NULL, "CSV",
         "with --dry-run: time per point from an earlier results.csv"},
        {"no-probe", BENCH_OPT_FLAG, &s->no_probe, 0, 0, NULL, NULL,
         "skip the machine probe (roofline_frac NA)"},
        {"no-plot", BENCH_OPT_FLAG, &s->no_plot, 0, 0, NULL, NULL, "skip the gnuplot plots"},
        {"verbose", BENCH_OPT_FLAG, &s->verbose, 0, 0, NULL, NULL,
         "a summary line per point on stderr instead of the progress line"},
    };
    const struct bench_cmd cmd = {
        .name = "sweep",
        .summary = "Check and time every point of a sweep file; write CSV, metadata, plots.",
        .usage = "FILE [--out DIR] [--resume] [--cache cold|warm] [--threads N] [options]",
        .epilog = sweep_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    if (s->estimate_from && !s->dry_run && !s->shard)
        bench_usage_error("sweep", "--estimate-from only goes with --dry-run or --shard");
    if (s->shard && bench_shard_parse(s->shard, &s->shard_i, &s->shard_n))
        bench_usage_error("sweep", "--shard '%s': expected I/N with 1 <= I <= N <= %d (e.g. 2/4)",
                          s->shard, BENCH_MAX_SHARDS);
    if (s->dry_run && s->resume)
        bench_usage_error("sweep", "--dry-run and --resume do not go together");
    const char *env = getenv("SPARSEBENCH_STOP_AFTER");
    s->stop_after = env ? atol(env) : 0;
}

/* ---- the command ---- */

/* The flag, else the file's `counters =`, else none; auto looks at every
 * point of the plan, so a resumed run decides the same way. */
static void open_counters(struct bench_sweep_run *s)
{
    char err[1024];
    const char *want = s->counters ? s->counters : s->sw.counters[0] ? s->sw.counters : "none";
    int gate = 1;
    for (size_t i = 0; i < s->npts; i++)
        gate &= bench_counters_gate_sized(s->pts[i].d_model, s->pts[i].scale,
                                          s->pts[i].batch * s->pts[i].seq_len);
    if (bench_counters_open(&s->ctr, want, s->papi_events, gate, "sweep", err, sizeof(err)))
        bench_usage_error("sweep", "%s", err);
}

/* Before the sweep starts its own work, a load average above half the
 * CPUs means other processes compete for the cores: every multi-threaded
 * time will be stretched by scheduling waits (steal time does not show it). */
static void warn_busy(void)
{
    double load;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return;
    int n = fscanf(f, "%lf", &load);
    fclose(f);
    if (n == 1 && ncpu > 0 && load > BUSY_LOAD_FRAC * (double)ncpu)
        fprintf(stderr,
                "sweep: warning: load average %.2f on %ld CPUs before the sweep started: other "
                "processes compete for the cores, timings will be noisy\n",
                load, ncpu);
}

/* With repeats, how far the passes disagree (passes.c): the reader learns
 * whether one pass could be trusted, and that the plots took the faster. */
static void report_passes(const struct bench_sweep_run *s)
{
    struct bench_table t;
    struct bench_spread sp;
    char err[256];
    if (s->sw.repeats < 2)
        return;
    if (bench_table_read(s->results, &t, err, sizeof(err))) {
        fprintf(stderr, "sweep: passes not compared: %s\n", err);
        return;
    }
    if (bench_pass_spread(&t, PASS_SPREAD_LIMIT, &sp) == 0 && sp.n_points > 0)
        fprintf(stderr,
                "sweep: %zu of %zu points differ by more than %.1fx between passes (worst %.2fx: "
                "%s); the plots use each point's faster pass\n",
                sp.n_over, sp.n_points, PASS_SPREAD_LIMIT, sp.worst, sp.worst_key);
    bench_table_free(&t);
}

static int finish(struct bench_sweep_run *s, const struct bench_ticks *t0, double t_start,
                  int failed)
{
    double wall = bench_now() - t_start;
    char d[32], err[1024];
    int rc = 0;
    if (*s->stop || failed) {
        bench_sweep_meta_end(s, t0, wall, *s->stop ? "interrupted" : "failed");
        bench_sweep_write_meta(s);
        fprintf(stderr, "sweep: %s after %zu of %zu points; every finished row is in %s\n",
                *s->stop ? "interrupted" : "stopped", s->ndone + s->written, s->npts, s->results);
        bench_sweep_resume_hint(s);
        return *s->stop ? BENCH_EXIT_INTERRUPTED : BENCH_EXIT_FAIL;
    }
    bench_sweep_meta_end(s, t0, wall, "complete");
    if (bench_sweep_write_meta(s))
        rc = BENCH_EXIT_FAIL; /* a run whose metadata is not on disk did not finish */
    const char *steal = bench_meta_get(&s->meta, "steal_pct");
    if (steal && strtod(steal, NULL) > STEAL_WARN_PCT)
        fprintf(stderr,
                "sweep: warning: %.1f%% of the CPU time was stolen by other guests; the "
                "timings are noisy\n",
                strtod(steal, NULL));
    if (s->npts == 0) /* a shard of more shards than groups: nothing to plot */
        fprintf(stderr, "sweep: shard %u/%u has no points (more shards than comparison groups)\n",
                s->shard_i, s->shard_n);
    else if (!s->no_plot && bench_plot(s->dir, err, sizeof(err))) {
        fprintf(stderr, "sweep: plots failed: %s\n", err);
        rc = BENCH_EXIT_FAIL;
    }
    bench_format_duration(wall, d, sizeof(d));
    fprintf(stderr, "sweep: %zu points in %s: %zu ok, %zu wrong, %zu error, %zu skipped%s\n",
            s->written, d, s->n_ok, s->n_wrong, s->n_error, s->n_skipped,
            s->ndone ? " (the rest were done before)" : "");
    report_passes(s);
    printf("report: %s\n", s->dir);
    fflush(stdout);
    if (s->ctr.mode == BENCH_COUNTERS_CALLGRIND) {
        bench_format_duration(s->ctr.cg_seconds, d, sizeof(d));
        fprintf(stderr, "sweep: callgrind counted %zu points in %s%s\n", s->ctr.cg_points, d,
                s->n_counter_failed ? "; some layers failed (see above)" : "");
    }
    if (s->n_wrong || s->n_error || s->n_counter_failed)
        rc = BENCH_EXIT_FAIL;
    return rc;
}

int bench_cmd_sweep(int argc, char **argv)
{
    struct bench_sweep_run s = {0};
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND}, old_int, old_term;
    struct bench_ticks t0;
    int rc;

    s.argc = argc;
    s.argv = argv;
    s.stop = &stop_signal;
    parse_flags(&s, argc, argv);
    bench_row_host(s.host, sizeof(s.host));
    bench_sweep_plan(&s);
    bench_sweep_validate(&s);
    if (s.shard_n)
        bench_sweep_take_shard(&s);
    if (s.dry_run) {
        rc = bench_sweep_dry_run(&s);
        goto out_free;
    }
    open_counters(&s);
    for (size_t i = 0; s.ctr.mode == BENCH_COUNTERS_CALLGRIND && i < s.sw.n_slots; i++)
        if (s.sw.slots[i].weights[0]) {
            fprintf(stderr,
                    "sparsebench sweep: %s:%d: slot '%s': counters = callgrind does not "
                    "load weights yet (its child builds the seeded layer); use papi or none\n",
                    s.sw.path, s.sw.slots[i].line, s.sw.slots[i].spec);
            exit(BENCH_EXIT_USAGE);
        }
    stop_signal = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (s.resume)
        bench_sweep_open_resume(&s);
    else
        bench_sweep_open_new(&s);
    double t_start = bench_now();
    if (bench_ticks_read(&t0))
        memset(&t0, 0, sizeof(t0));
    bench_sweep_meta_start(&s, argc, argv);
    fprintf(stderr, "sweep %s: %zu points, %zu to run; output %s\n", s.file, s.npts,
            s.npts - s.ndone, s.dir);
    warn_busy();
    bench_blas_report("sweep");
    bench_sweep_probe_roofs(&s);
    bench_sweep_write_meta(&s);
    int failed = bench_sweep_run_points(&s) != 0;
    if (!failed && s.written)
        bench_sweep_probe_again(&s);
    if (fclose(s.csv)) {
        fprintf(stderr, "sparsebench sweep: closing %s: %s\n", s.results, strerror(errno));
        failed = 1;
    }
    rc = finish(&s, &t0, t_start, failed);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
out_free:
    bench_counters_close(&s.ctr);
    bench_meta_free(&s.meta);
    free(s.done);
    free(s.pts);
    bench_sweep_free(&s.sw);
    return rc;
}
