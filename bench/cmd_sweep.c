/* cmd_sweep.c - `sparsebench sweep FILE`: every point of a sweep file into
 * reports/<run-id>/ (results.csv, meta.csv, the sweep file, plots).
 *
 * The loop creates each layer once per configuration (slot, D, scale,
 * threads, repeat) and measures all its token counts on it. Rows are
 * appended whole and flushed as each point finishes, so an interrupted sweep
 * keeps every finished point; SIGINT and SIGTERM abandon the current point
 * and leave a resumable run (sweep_dir.c reads it back). A bad knob is a bad
 * sweep file: every slot is created once before anything is measured.
 */
#include "sweep_run.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEAL_WARN_PCT    3.0
#define PASS_SPREAD_LIMIT 1.2 /* passes further apart than this are counted as disagreeing */
#define BUSY_LOAD_FRAC    0.5 /* of the online CPUs */

volatile sig_atomic_t bench_sweep_stop;

static void on_signal(int sig)
{
    bench_sweep_stop = sig;
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
    "seq_len threads rounds (>= 11) round_ms (>= 1) check_tokens; per slot: label.\n"
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
    "then runs only the missing points (give the same --threads and --cache).\n"
    "Exit: 0 done, 1 some point wrong or failed, 2 bad file or flag, 130\n"
    "interrupted. SPARSEBENCH_STOP_AFTER=N raises SIGINT after N rows (for tests).\n";

/* ---- planning ---- */

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
    if (s->estimate_from && !s->dry_run)
        bench_usage_error("sweep", "--estimate-from only goes with --dry-run");
    if (s->dry_run && s->resume)
        bench_usage_error("sweep", "--dry-run and --resume do not go together");
    const char *env = getenv("SPARSEBENCH_STOP_AFTER");
    s->stop_after = env ? atol(env) : 0;
}

static void load_plan(struct bench_sweep_run *s)
{
    char err[1024];
    if (bench_sweep_load(s->file, &s->sw, err, sizeof(err))) {
        fprintf(stderr, "sparsebench sweep: %s\n", err);
        exit(BENCH_EXIT_USAGE);
    }
    if (s->cache)
        s->sw.cache = strcmp(s->cache, "warm") ? BENCH_CACHE_COLD : BENCH_CACHE_WARM;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    ncpu = ncpu < 1 ? 1 : ncpu > BENCH_MAX_THREADS ? BENCH_MAX_THREADS : ncpu;
    if (bench_sweep_points(&s->sw, (int)ncpu, s->threads, &s->pts, &s->npts, err, sizeof(err))) {
        fprintf(stderr, "sparsebench sweep: %s\n", err);
        exit(BENCH_EXIT_USAGE);
    }
    if (s->filter) {
        size_t k = 0;
        for (size_t i = 0; i < s->npts; i++)
            if (fnmatch(s->filter, s->pts[i].slot->label, 0) == 0)
                s->pts[k++] = s->pts[i];
        s->npts = k;
        if (k == 0)
            bench_usage_error("sweep", "--filter '%s' matches no slot of %s", s->filter, s->file);
    }
    s->done = calloc(s->npts ? s->npts : 1, 1);
    if (!s->done) {
        fprintf(stderr, "sparsebench sweep: out of memory\n");
        exit(BENCH_EXIT_FAIL);
    }
}

void bench_sweep_point_config(const struct bench_point *p, const struct bench_sweep *sw,
                              struct layer_config *cfg)
{
    *cfg = (struct layer_config){
        .d_model = p->d_model,
        .scale = (unsigned)p->scale,
        .seed = sw->seed,
        .threads = (int)p->threads,
        .max_tokens = p->batch * p->seq_len,
        .knobs = p->slot->knobs,
    };
}

/* Create a slot's layer at width d and scale sc (one thread, one token) and
 * exit 2 when the layer calls its knobs bad. Returns the create status. */
static int try_slot(const struct bench_sweep_run *s, const struct bench_slot *sl, uint64_t d,
                    uint64_t sc)
{
    struct layer_config cfg = {.d_model = d,
                               .scale = (unsigned)sc,
                               .seed = s->sw.seed,
                               .threads = 1,
                               .max_tokens = 1,
                               .knobs = sl->knobs};
    struct layer *l = NULL;
    char err[512] = "";
    int rc = layer_create(sl->ops, &cfg, &l, err, sizeof(err));
    layer_destroy(l);
    if (rc == LAYER_EKNOB || rc == LAYER_EINVAL) {
        fprintf(stderr, "sparsebench sweep: %s:%d: slot '%s': %s\n", s->sw.path, sl->line, sl->spec,
                err);
        exit(BENCH_EXIT_USAGE);
    }
    return rc;
}

/* A bad knob is a bad sweep file: create every slot once before measuring
 * anything, at its smallest width and scale; when the layer does not support
 * that scale (a memory layer at scale 1), at its next scales. */
static void validate_slots(const struct bench_sweep_run *s)
{
    for (size_t i = 0; i < s->sw.n_slots; i++) {
        const struct bench_slot *sl = &s->sw.slots[i];
        uint64_t d = UINT64_MAX, prev = 0;
        for (size_t k = 0; k < s->npts; k++)
            if (s->pts[k].slot == sl && s->pts[k].d_model < d)
                d = s->pts[k].d_model;
        for (;;) { /* the slot's scales in increasing order */
            uint64_t sc = UINT64_MAX;
            for (size_t k = 0; k < s->npts; k++)
                if (s->pts[k].slot == sl && s->pts[k].scale > prev && s->pts[k].scale < sc)
                    sc = s->pts[k].scale;
            if (sc == UINT64_MAX)
                break;
            int rc = try_slot(s, sl, d, sc);
            if (rc != LAYER_EUNSUPPORTED && rc != LAYER_ETOOBIG)
                break;
            prev = sc;
        }
    }
}

/* ---- the loop ---- */

static int write_row(struct bench_sweep_run *s, const struct bench_row *row)
{
    if (bench_csv_write_row(s->csv, row)) {
        fprintf(stderr, "sparsebench sweep: writing %s: %s\n", s->results, strerror(errno));
        return -1;
    }
    s->written++;
    if (!strcmp(row->status, "ok"))
        s->n_ok++;
    else if (!strcmp(row->status, "wrong"))
        s->n_wrong++;
    else if (!strcmp(row->status, "skipped"))
        s->n_skipped++;
    else
        s->n_error++;
    if (s->stop_after > 0 && s->written == (size_t)s->stop_after)
        raise(SIGINT);
    return 0;
}

static void init_row(const struct bench_sweep_run *s, const struct bench_point *p,
                     struct bench_row *row)
{
    struct layer_config cfg;
    bench_sweep_point_config(p, &s->sw, &cfg);
    bench_row_init(row, p->slot->label, p->slot->ops, &cfg, p->batch, p->seq_len,
                   s->sw.cache == BENCH_CACHE_COLD, p->repeat);
}

/* The layer could not be created: one row per point, the reason once. */
static int group_failed(struct bench_sweep_run *s, size_t lo, size_t hi, int rc, const char *err,
                        struct bench_progress *pr)
{
    bench_progress_clear(pr);
    if (strcmp(err, s->last_skip)) {
        fprintf(stderr, "sweep: %s %s: %s\n",
                rc == LAYER_EUNSUPPORTED || rc == LAYER_ETOOBIG ? "skipping" : "error in",
                s->pts[lo].slot->label, err);
        snprintf(s->last_skip, sizeof(s->last_skip), "%s", err);
    }
    for (size_t i = lo; i < hi; i++) {
        if (s->done[i])
            continue;
        struct bench_row row;
        init_row(s, &s->pts[i], &row);
        snprintf(row.status, sizeof(row.status), "%s",
                 rc == LAYER_EUNSUPPORTED || rc == LAYER_ETOOBIG ? "skipped" : "error");
        snprintf(row.note, sizeof(row.note), "%s", err);
        for (char *c = row.note; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        if (write_row(s, &row))
            return -1;
        bench_progress_done(pr, &s->pts[i], NULL);
    }
    return 0;
}

/* The group's points still to run, counted under callgrind before they
 * are timed: res[i - lo] for point i; 0 when every one was counted. */
static int count_group(struct bench_sweep_run *s, size_t lo, size_t hi,
                       const struct layer_config *cfg, struct bench_cg_result *res,
                       struct bench_progress *pr)
{
    size_t *tokens = calloc(hi - lo, sizeof(*tokens)), n = 0, *at = calloc(hi - lo, sizeof(*at));
    struct bench_cg_result *got = calloc(hi - lo, sizeof(*got));
    char err[1024];
    double t0 = bench_now();
    int rc = -1;
    if (!tokens || !at || !got) {
        snprintf(err, sizeof(err), "callgrind: out of memory");
        goto out_report;
    }
    for (size_t i = lo; i < hi; i++)
        if (!s->done[i]) {
            at[n] = i - lo;
            tokens[n++] = s->pts[i].batch * s->pts[i].seq_len;
        }
    rc = bench_callgrind_count(&s->ctr, s->pts[lo].slot->ops, cfg, s->sw.cache == BENCH_CACHE_COLD,
                               tokens, n, got, &bench_sweep_stop, err, sizeof(err));
    for (size_t k = 0; k < n && rc == 0; k++)
        res[at[k]] = got[k];
out_report:
    if (rc && !bench_sweep_stop) {
        bench_progress_clear(pr);
        fprintf(stderr, "sweep: %s D=%llu scale=%llu: %s\n", s->pts[lo].slot->label,
                (unsigned long long)s->pts[lo].d_model, (unsigned long long)s->pts[lo].scale, err);
        s->n_counter_failed++;
    } else if (rc == 0 && s->verbose) {
        bench_progress_clear(pr);
        fprintf(stderr, "callgrind: %s D=%llu scale=%llu: %zu point%s counted in %.1f s\n",
                s->pts[lo].slot->label, (unsigned long long)s->pts[lo].d_model,
                (unsigned long long)s->pts[lo].scale, n, n == 1 ? "" : "s", bench_now() - t0);
    }
    free(got);
    free(at);
    free(tokens);
    return rc;
}

/* Points lo..hi share one layer. Returns 0, or -1 when a row could not be written. */
static int run_group(struct bench_sweep_run *s, size_t lo, size_t hi, struct bench_progress *pr)
{
    const struct bench_point *p0 = &s->pts[lo];
    struct layer_config cfg;
    struct bench_layer bl;
    char err[512] = "";
    size_t max_t = 0;

    for (size_t i = lo; i < hi; i++)
        if (!s->done[i] && s->pts[i].batch * s->pts[i].seq_len > max_t)
            max_t = s->pts[i].batch * s->pts[i].seq_len;
    if (max_t == 0)
        return 0;
    bench_sweep_point_config(p0, &s->sw, &cfg);
    cfg.max_tokens = max_t;
    bench_progress_show(pr, p0);
    int rc = bench_layer_open(&bl, p0->slot->ops, &cfg, err, sizeof(err));
    if (rc)
        return group_failed(s, lo, hi, rc, err, pr);

    struct bench_opts bo;
    bench_opts_default(&bo);
    bo.min_rounds = p0->slot->rounds;
    bo.min_round_s = p0->slot->round_ms * 1e-3;
    bo.check_tokens = p0->slot->check_tokens;
    bo.cache = s->sw.cache;
    bo.roofs = bench_meta_roofs(&s->meta, (int)p0->threads);
    bo.stop = &bench_sweep_stop;
    bo.hooks = bench_counters_hooks(&s->ctr);
    struct bench_cg_result *cg = NULL;
    int cg_failed = 0;
    if (s->ctr.mode == BENCH_COUNTERS_CALLGRIND) {
        cg = calloc(hi - lo, sizeof(*cg));
        cg_failed = !cg || count_group(s, lo, hi, &cfg, cg, pr);
    }
    for (size_t i = lo; i < hi && !bench_sweep_stop; i++) {
        struct bench_row row;
        if (s->done[i])
            continue;
        bench_progress_show(pr, &s->pts[i]);
        init_row(s, &s->pts[i], &row);
        err[0] = '\0';
        rc = bench_measure(&bl, &bo, &row, err, sizeof(err));
        if (rc == BENCH_INTERRUPTED)
            break;
        if (cg && !cg_failed)
            bench_callgrind_fill(&cg[i - lo], &row);
        else if (cg_failed && !strcmp(row.status, "ok"))
            bench_row_note(&row, "callgrind failed for this layer (see stderr)");
        bench_progress_clear(pr);
        if (rc && rc != BENCH_WRONG)
            fprintf(stderr, "sweep: error in %s T=%llu: %s\n", row.slot,
                    (unsigned long long)row.tokens, err);
        else if (rc == BENCH_WRONG)
            fprintf(stderr, "sweep: WRONG %s T=%llu: %s\n", row.slot,
                    (unsigned long long)row.tokens, row.note);
        if (write_row(s, &row)) {
            free(cg);
            bench_layer_close(&bl);
            return -1;
        }
        bench_progress_done(pr, &s->pts[i], &row);
    }
    free(cg);
    bench_layer_close(&bl);
    return 0;
}

static int run_points(struct bench_sweep_run *s)
{
    struct bench_progress pr;
    double w = 0;
    for (size_t i = 0; i < s->npts; i++)
        if (!s->done[i])
            w += bench_progress_weight(&s->pts[i]);
    bench_progress_start(&pr, s->npts - s->ndone, w, s->verbose);
    for (size_t lo = 0; lo < s->npts && !bench_sweep_stop;) {
        size_t hi = lo + 1;
        while (hi < s->npts && s->pts[hi].group == s->pts[lo].group)
            hi++;
        if (run_group(s, lo, hi, &pr)) {
            bench_progress_clear(&pr);
            return -1;
        }
        lo = hi;
    }
    bench_progress_clear(&pr);
    return 0;
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
    if (bench_sweep_stop || failed) {
        bench_sweep_meta_end(s, t0, wall, bench_sweep_stop ? "interrupted" : "failed");
        bench_sweep_write_meta(s);
        fprintf(stderr, "sweep: %s after %zu of %zu points; every finished row is in %s\n",
                bench_sweep_stop ? "interrupted" : "stopped", s->ndone + s->written, s->npts,
                s->results);
        bench_sweep_resume_hint(s);
        return bench_sweep_stop ? BENCH_EXIT_INTERRUPTED : BENCH_EXIT_FAIL;
    }
    bench_sweep_meta_end(s, t0, wall, "complete");
    bench_sweep_write_meta(s);
    const char *steal = bench_meta_get(&s->meta, "steal_pct");
    if (steal && strtod(steal, NULL) > STEAL_WARN_PCT)
        fprintf(stderr,
                "sweep: warning: %.1f%% of the CPU time was stolen by other guests; the "
                "timings are noisy\n",
                strtod(steal, NULL));
    if (!s->no_plot && bench_plot(s->dir, err, sizeof(err))) {
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
    parse_flags(&s, argc, argv);
    load_plan(&s);
    validate_slots(&s);
    if (s.dry_run) {
        rc = bench_sweep_dry_run(&s);
        goto out_free;
    }
    open_counters(&s);
    bench_sweep_stop = 0;
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
    int failed = run_points(&s) != 0;
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
