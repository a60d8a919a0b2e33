/* cmd_sweep.c - `sparsebench sweep FILE`: every point of a sweep file into
 * reports/<run-id>/ (results.csv, meta.csv, the sweep file, plots).
 *
 * The loop creates each layer once per configuration (slot, D, scale,
 * threads, repeat) and measures all its token counts on it. Rows are
 * appended whole and flushed as each point finishes, so an interrupted sweep
 * keeps every finished point; SIGINT and SIGTERM abandon the current point
 * and leave a resumable run. --resume reads results.csv back, cuts a
 * half-written last row, and runs only the missing points. meta.csv, the
 * plots and reports/latest are replaced by rename, never rewritten in place.
 */
#include "bench.h"

#include <errno.h>
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STEAL_WARN_PCT 3.0
#define KEY_LEN        (BENCH_NAME_LEN + 160)

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    g_stop = sig;
}

struct sweep {
    /* flags */
    const char *file, *out, *cache, *counters, *estimate_from, *filter;
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
};

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
    "Global keys: impls repeats cache seed; global or per slot: d_model scale batch\n"
    "seq_len threads rounds (>= 11) round_ms (>= 1) check_tokens; per slot: label.\n"
    "The sweep is each slot's Cartesian product; configurations a layer does not\n"
    "support become status=skipped rows, with the reason on stderr. 'impls = all'\n"
    "leaves out layers whose summary says \"weak baseline\" (name them to run them).\n\n"
    "Output: reports/<run-id>/ (or --out DIR): results.csv (one row per point,\n"
    "columns in reports/SCHEMA.md), meta.csv, sweep.sweep, *.png; reports/latest\n"
    "points at the newest default-located run. A progress line is drawn when\n"
    "stderr is a terminal; otherwise the sweep is quiet (--verbose: a line per\n"
    "point). Ctrl-C or SIGTERM stops after abandoning the current point; --resume\n"
    "then runs only the missing points (give the same --threads and --cache).\n"
    "Exit: 0 done, 1 some point wrong or failed, 2 bad file or flag, 130\n"
    "interrupted. SPARSEBENCH_STOP_AFTER=N raises SIGINT after N rows (for tests).\n";

/* ---- planning ---- */

static void parse_flags(struct sweep *s, int argc, char **argv)
{
    const struct bench_opt opts[] = {
        {NULL, BENCH_OPT_STR, &s->file, 0, 0, NULL, "FILE", "the sweep file"},
        {"out", BENCH_OPT_STR, &s->out, 0, 0, NULL, "DIR",
         "run directory (default reports/<date>-<time>-<sweep>)"},
        {"resume", BENCH_OPT_FLAG, &s->resume, 0, 0, NULL, NULL,
         "continue the run in --out DIR (default reports/latest): only missing points"},
        {"cache", BENCH_OPT_CHOICE, &s->cache, 0, 0, "cold|warm", NULL,
         "override the file's cache mode (default cold)"},
        {"threads", BENCH_OPT_INT, &s->threads, 1, 256, NULL, "N",
         "override every slot's thread list"},
        {"counters", BENCH_OPT_CHOICE, &s->counters, 0, 0, "none", NULL,
         "hardware counters (only none for now)"},
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

static void load_plan(struct sweep *s)
{
    char err[1024];
    if (bench_sweep_load(s->file, &s->sw, err, sizeof(err))) {
        fprintf(stderr, "sparsebench sweep: %s\n", err);
        exit(BENCH_EXIT_USAGE);
    }
    if (s->cache)
        s->sw.cache = strcmp(s->cache, "warm") ? BENCH_CACHE_COLD : BENCH_CACHE_WARM;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (bench_sweep_points(&s->sw, ncpu > 0 ? (int)ncpu : 1, s->threads, &s->pts, &s->npts, err,
                           sizeof(err))) {
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

static void point_config(const struct bench_point *p, const struct bench_sweep *sw,
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

/* A bad knob is a bad sweep file: create every slot once, at its smallest
 * configuration, before measuring anything. */
static void validate_slots(struct sweep *s)
{
    for (size_t i = 0; i < s->sw.n_slots; i++) {
        const struct bench_slot *sl = &s->sw.slots[i];
        const struct bench_point *first = NULL;
        uint64_t d = UINT64_MAX, sc = UINT64_MAX;
        for (size_t k = 0; k < s->npts; k++)
            if (s->pts[k].slot == sl) {
                first = &s->pts[k];
                d = s->pts[k].d_model < d ? s->pts[k].d_model : d;
                sc = s->pts[k].scale < sc ? s->pts[k].scale : sc;
            }
        if (!first)
            continue;
        struct layer_config cfg;
        point_config(first, &s->sw, &cfg);
        cfg.d_model = d;
        cfg.scale = (unsigned)sc;
        cfg.threads = 1;
        cfg.max_tokens = 1;
        struct layer *l = NULL;
        char err[512] = "";
        int rc = layer_create(sl->ops, &cfg, &l, err, sizeof(err));
        layer_destroy(l);
        if (rc == LAYER_EKNOB || rc == LAYER_EINVAL) {
            fprintf(stderr, "sparsebench sweep: %s:%d: slot '%s': %s\n", s->sw.path, sl->line,
                    sl->spec, err);
            exit(BENCH_EXIT_USAGE);
        }
    }
}

/* ---- dry run ---- */

static int row_matches(const struct bench_table *t, size_t r, const int *c,
                       const struct bench_point *p, const struct bench_sweep *sw)
{
    char v[6][32];
    snprintf(v[0], 32, "%llu", (unsigned long long)p->d_model);
    snprintf(v[1], 32, "%llu", (unsigned long long)p->scale);
    snprintf(v[2], 32, "%llu", (unsigned long long)p->batch);
    snprintf(v[3], 32, "%llu", (unsigned long long)p->seq_len);
    snprintf(v[4], 32, "%llu", (unsigned long long)p->threads);
    snprintf(v[5], 32, "%s", sw->cache == BENCH_CACHE_WARM ? "warm" : "cold");
    if (strcmp(bench_table_cell(t, r, (size_t)c[0]), p->slot->label))
        return 0;
    for (int i = 0; i < 6; i++)
        if (strcmp(bench_table_cell(t, r, (size_t)c[i + 1]), v[i]))
            return 0;
    return 1;
}

/* Seconds the point took in an earlier run (wall_s, plus create_s for the
 * first point of a layer), or -1. */
static double estimate(const struct bench_table *t, const int *c, const struct bench_point *p,
                       const struct bench_sweep *sw, int first_of_group)
{
    if (!t)
        return -1;
    for (size_t r = 0; r < t->nrows; r++) {
        if (!row_matches(t, r, c, p, sw))
            continue;
        double w = strtod(bench_table_cell(t, r, (size_t)c[7]), NULL);
        double cr = strtod(bench_table_cell(t, r, (size_t)c[8]), NULL);
        if (!(w >= 0))
            w = 0;
        return w + (first_of_group && cr >= 0 ? cr : 0);
    }
    return -1;
}

static int dry_run(struct sweep *s)
{
    struct bench_table t, *tp = NULL;
    int c[9];
    const char *names[9] = {"slot",    "d_model", "scale",  "batch",   "seq_len",
                            "threads", "cache",   "wall_s", "create_s"};
    char err[1024];
    if (s->estimate_from) {
        if (bench_table_read(s->estimate_from, &t, err, sizeof(err))) {
            fprintf(stderr, "sparsebench sweep: --estimate-from: %s\n", err);
            return BENCH_EXIT_USAGE;
        }
        tp = &t;
        for (int i = 0; i < 9; i++)
            if ((c[i] = bench_table_col(&t, names[i])) < 0) {
                fprintf(stderr, "sparsebench sweep: --estimate-from: %s has no column '%s'\n",
                        s->estimate_from, names[i]);
                bench_table_free(&t);
                return BENCH_EXIT_USAGE;
            }
    }
    printf("%s: %zu slots, %zu points, %u repeat%s, %s cache\n", s->sw.path, s->sw.n_slots, s->npts,
           s->sw.repeats, s->sw.repeats == 1 ? "" : "s",
           s->sw.cache == BENCH_CACHE_WARM ? "warm" : "cold");
    printf("%6s %-24s %7s %5s %6s %7s %7s %7s %6s %9s\n", "point", "slot", "d_model", "scale",
           "batch", "seq_len", "tokens", "threads", "repeat", "est_s");
    double total = 0, slot_total = 0;
    size_t known = 0;
    for (size_t i = 0; i < s->npts; i++) {
        const struct bench_point *p = &s->pts[i];
        int first = i == 0 || s->pts[i - 1].group != p->group;
        double e = estimate(tp, c, p, &s->sw, first);
        char est[32] = "?";
        if (e >= 0) {
            snprintf(est, sizeof(est), "%.2f", e);
            total += e;
            slot_total += e;
            known++;
        }
        printf("%6zu %-24s %7llu %5llu %6llu %7llu %7llu %7llu %6u %9s\n", i + 1, p->slot->label,
               (unsigned long long)p->d_model, (unsigned long long)p->scale,
               (unsigned long long)p->batch, (unsigned long long)p->seq_len,
               (unsigned long long)(p->batch * p->seq_len), (unsigned long long)p->threads,
               p->repeat, est);
        if (tp && (i + 1 == s->npts || s->pts[i + 1].slot != p->slot)) {
            char d[32];
            bench_format_duration(slot_total, d, sizeof(d));
            printf("       %-24s subtotal %s (%.1f s)\n", p->slot->label, d, slot_total);
            slot_total = 0;
        }
    }
    if (tp) {
        char d[32];
        bench_format_duration(total, d, sizeof(d));
        printf("estimated: %s (%.0f s) for the %zu of %zu points found in %s, plus the probe "
               "(~5 s per thread count)\n",
               d, total, known, s->npts, s->estimate_from);
        bench_table_free(&t);
    }
    return 0;
}

/* ---- the run directory ---- */

static void make_run_id(const struct sweep *s, char *buf, size_t len)
{
    char base[256], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(base, sizeof(base), "%s", s->file);
    char *b = basename(base), *dot = strrchr(b, '.');
    if (dot && dot != b)
        *dot = '\0';
    for (int k = 1;; k++) {
        struct stat st;
        if (k == 1)
            snprintf(buf, len, "%s-%s", stamp, b);
        else
            snprintf(buf, len, "%s-%s-%d", stamp, b, k);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "reports/%s", buf);
        if (stat(path, &st) != 0)
            return;
    }
}

static void set_paths(struct sweep *s)
{
    snprintf(s->results, sizeof(s->results), "%s/results.csv", s->dir);
    snprintf(s->meta_path, sizeof(s->meta_path), "%s/meta.csv", s->dir);
}

/* A header written by this program: the same columns in the same order. */
static int header_matches(const struct bench_table *t)
{
    if (t->ncols != bench_csv_ncols())
        return 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->header[i], bench_csv_col(i)->name))
            return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void mark_done(struct sweep *s, const struct bench_table *t)
{
    int cols[32];
    char err[256], key[KEY_LEN], pkey[KEY_LEN];
    int nc = bench_key_cols(t, cols, 32, err, sizeof(err));
    char **keys = calloc(t->nrows ? t->nrows : 1, sizeof(*keys));
    if (nc < 0 || !keys) {
        fprintf(stderr, "sparsebench sweep: %s: %s\n", s->results, nc < 0 ? err : "no memory");
        exit(BENCH_EXIT_FAIL);
    }
    for (size_t r = 0; r < t->nrows; r++) {
        bench_table_key(t, r, cols, (size_t)nc, key, sizeof(key));
        keys[r] = strdup(key);
        if (!keys[r]) {
            fprintf(stderr, "sparsebench sweep: out of memory\n");
            exit(BENCH_EXIT_FAIL);
        }
    }
    qsort(keys, t->nrows, sizeof(*keys), cmp_str);
    for (size_t i = 0; i < s->npts; i++) {
        const char *k = pkey;
        bench_point_key(&s->pts[i], &s->sw, pkey, sizeof(pkey));
        if (bsearch(&k, keys, t->nrows, sizeof(*keys), cmp_str)) {
            s->done[i] = 1;
            s->ndone++;
        }
    }
    for (size_t r = 0; r < t->nrows; r++)
        free(keys[r]);
    free(keys);
}

static void open_resume(struct sweep *s)
{
    struct bench_table t;
    char err[1024];
    if (s->out) {
        snprintf(s->dir, sizeof(s->dir), "%s", s->out);
    } else {
        char target[256];
        ssize_t n = readlink("reports/latest", target, sizeof(target) - 1);
        if (n <= 0)
            bench_usage_error("sweep",
                              "--resume without --out needs reports/latest; give --out DIR");
        target[n] = '\0';
        snprintf(s->dir, sizeof(s->dir), "reports/%s", target);
        s->default_dir = 1;
    }
    set_paths(s);
    if (bench_table_read(s->results, &t, err, sizeof(err)))
        bench_usage_error("sweep", "--resume: %s", err);
    if (!header_matches(&t)) {
        bench_table_free(&t);
        bench_usage_error("sweep",
                          "--resume: %s has other columns than this sparsebench writes; start a "
                          "new run instead",
                          s->results);
    }
    if (t.good_bytes < t.file_bytes) {
        if (truncate(s->results, (off_t)t.good_bytes)) {
            fprintf(stderr, "sparsebench sweep: truncate %s: %s\n", s->results, strerror(errno));
            exit(BENCH_EXIT_FAIL);
        }
        fprintf(stderr, "sweep: dropped a half-written last row (%zu bytes) from %s\n",
                t.file_bytes - t.good_bytes, s->results);
    }
    mark_done(s, &t);
    bench_table_free(&t);
    if (access(s->meta_path, R_OK) == 0 &&
        bench_meta_read(&s->meta, s->meta_path, err, sizeof(err)))
        fprintf(stderr, "sweep: warning: %s; writing a new one\n", err);
    const char *tf = bench_meta_get(&s->meta, "threads_flag");
    const char *cf = bench_meta_get(&s->meta, "cache_flag");
    if ((tf && atoi(tf) != s->threads) || (cf && strcmp(cf, s->cache ? s->cache : ""))) {
        char now[16] = "(none)";
        if (s->threads)
            snprintf(now, sizeof(now), "%d", s->threads);
        bench_usage_error("sweep",
                          "--resume: %s was started with --threads %s --cache %s but resumed "
                          "with --threads %s --cache %s; these change the points, give the same",
                          s->dir, tf && atoi(tf) ? tf : "(none)", cf && *cf ? cf : "(none)", now,
                          s->cache ? s->cache : "(none)");
    }
    const char *h = bench_meta_get(&s->meta, "sweep_hash");
    char mine[32];
    snprintf(mine, sizeof(mine), "%016llx", (unsigned long long)s->sw.hash);
    if (h && strcmp(h, mine))
        fprintf(stderr,
                "sweep: warning: %s changed since the run started; rows of points no "
                "longer in it stay\n",
                s->file);
    s->csv = fopen(s->results, "a");
    if (!s->csv) {
        fprintf(stderr, "sparsebench sweep: %s: %s\n", s->results, strerror(errno));
        exit(BENCH_EXIT_FAIL);
    }
}

static void copy_sweep_file(const struct sweep *s)
{
    char path[PATH_MAX];
    size_t len;
    char *text = bench_read_file(s->file, &len);
    snprintf(path, sizeof(path), "%s/sweep.sweep", s->dir);
    if (!text || bench_write_atomic(path, text, len))
        fprintf(stderr, "sweep: warning: could not copy %s to %s\n", s->file, path);
    free(text);
}

static void open_new(struct sweep *s)
{
    if (s->out) {
        snprintf(s->dir, sizeof(s->dir), "%s", s->out);
    } else {
        char id[256];
        make_run_id(s, id, sizeof(id));
        snprintf(s->dir, sizeof(s->dir), "reports/%s", id);
        s->default_dir = 1;
    }
    set_paths(s);
    if (bench_mkdir_p(s->dir)) {
        fprintf(stderr, "sparsebench sweep: cannot create %s: %s\n", s->dir, strerror(errno));
        exit(BENCH_EXIT_FAIL);
    }
    s->csv = fopen(s->results, "wx"); /* never replace an earlier run's rows */
    if (!s->csv) {
        if (errno == EEXIST)
            bench_usage_error("sweep",
                              "%s already exists; continue it with --resume or choose another "
                              "--out",
                              s->results);
        fprintf(stderr, "sparsebench sweep: %s: %s\n", s->results, strerror(errno));
        exit(BENCH_EXIT_FAIL);
    }
    if (bench_csv_write_header(s->csv)) {
        fprintf(stderr, "sparsebench sweep: %s: %s\n", s->results, strerror(errno));
        exit(BENCH_EXIT_FAIL);
    }
    copy_sweep_file(s);
    if (s->default_dir && bench_symlink_replace(s->dir + strlen("reports/"), "reports/latest"))
        fprintf(stderr, "sweep: warning: could not point reports/latest at %s: %s\n", s->dir,
                strerror(errno));
}

/* ---- metadata ---- */

static void now_string(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

static void loadavg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = '\0';
    if (f) {
        if (fgets(buf, (int)len, f))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
}

static void meta_start(struct sweep *s, int argc, char **argv)
{
    char buf[4096], t[64];
    size_t used = snprintf(buf, sizeof(buf), "sparsebench sweep");
    for (int i = 0; i < argc && used < sizeof(buf); i++)
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, " %s", argv[i]);
    const char *sessions = bench_meta_get(&s->meta, "sessions");
    int n = sessions ? atoi(sessions) + 1 : 1;
    bench_meta_environment(&s->meta);
    bench_meta_set(&s->meta, "run_dir", "%s", s->dir);
    bench_meta_set(&s->meta, "sweep_file", "%s", s->file);
    bench_meta_set(&s->meta, "sweep_hash", "%016llx", (unsigned long long)s->sw.hash);
    bench_meta_set(&s->meta, "command", "%s", buf);
    bench_meta_set(&s->meta, "sessions", "%d", n);
    bench_meta_set(&s->meta, "cache", "%s", s->sw.cache == BENCH_CACHE_WARM ? "warm" : "cold");
    bench_meta_set(&s->meta, "counters", "%s", "none");
    bench_meta_set(&s->meta, "threads_flag", "%d", s->threads);
    bench_meta_set(&s->meta, "cache_flag", "%s", s->cache ? s->cache : "");
    bench_meta_set(&s->meta, "repeats", "%u", s->sw.repeats);
    bench_meta_set(&s->meta, "seed", "%llu", (unsigned long long)s->sw.seed);
    bench_meta_set(&s->meta, "points_total", "%zu", s->npts);
    now_string(t, sizeof(t));
    if (!bench_meta_get(&s->meta, "start_time"))
        bench_meta_set(&s->meta, "start_time", "%s", t);
    bench_meta_set(&s->meta, "session_start_time", "%s", t);
    loadavg(buf, sizeof(buf));
    if (!bench_meta_get(&s->meta, "loadavg_start"))
        bench_meta_set(&s->meta, "loadavg_start", "%s", buf);
    bench_meta_set(&s->meta, "status", "running");
}

static uint64_t meta_u64(const struct bench_meta *m, const char *key)
{
    const char *v = bench_meta_get(m, key);
    return v ? strtoull(v, NULL, 10) : 0;
}

static void meta_end(struct sweep *s, const struct bench_ticks *t0, double wall, const char *status)
{
    struct bench_ticks t1;
    char buf[128];
    uint64_t steal = meta_u64(&s->meta, "steal_ticks"), total = meta_u64(&s->meta, "cpu_ticks");
    if (bench_ticks_read(&t1) == 0 && t0->total) {
        steal += t1.steal - t0->steal;
        total += t1.total - t0->total;
    }
    double wall_total = wall;
    const char *w = bench_meta_get(&s->meta, "wall_s");
    if (w)
        wall_total += strtod(w, NULL);
    bench_meta_set(&s->meta, "steal_ticks", "%llu", (unsigned long long)steal);
    bench_meta_set(&s->meta, "cpu_ticks", "%llu", (unsigned long long)total);
    bench_meta_set(&s->meta, "steal_pct", "%.2f", total ? 100.0 * (double)steal / total : 0.0);
    bench_meta_set(&s->meta, "wall_s", "%.1f", wall_total);
    now_string(buf, sizeof(buf));
    bench_meta_set(&s->meta, "end_time", "%s", buf);
    loadavg(buf, sizeof(buf));
    bench_meta_set(&s->meta, "loadavg_end", "%s", buf);
    bench_meta_set(&s->meta, "points_done", "%zu", s->ndone + s->written);
    bench_meta_set(&s->meta, "status", "%s", status);
}

static void write_meta(struct sweep *s)
{
    char err[1024];
    if (bench_meta_write(&s->meta, s->meta_path, err, sizeof(err)))
        fprintf(stderr, "sweep: warning: %s\n", err);
}

/* Probe every thread count still to run, unless an earlier session did. */
static void probe_roofs(struct sweep *s)
{
    int seen[257] = {0};
    char err[512];
    if (s->no_probe) {
        bench_meta_set(&s->meta, "probe", "%s", "skipped (--no-probe): roofline_frac is NA");
        return;
    }
    for (size_t i = 0; i < s->npts && !g_stop; i++) {
        int th = (int)s->pts[i].threads;
        if (s->done[i] || seen[th]++ || bench_meta_roofs(&s->meta, th).peak_gflops > 0)
            continue;
        struct bench_probe p;
        if (bench_probe_run(th, &p, err, sizeof(err))) {
            fprintf(stderr, "sweep: warning: probe failed (%s); roofline_frac is NA\n", err);
            continue;
        }
        bench_meta_probe(&s->meta, &p, "probe");
        fprintf(stderr,
                "probe (%d thread%s): sgemm %.1f GFLOP/s, STREAM triad %.1f GB/s (%.1f s)\n", th,
                th == 1 ? "" : "s", p.sgemm_gflops, p.triad_gbps, p.seconds);
    }
}

/* The roofs again after the points, for every thread count probed at the
 * start: a big change says co-tenants came or went during the run. */
static void probe_again(struct sweep *s)
{
    char err[512], key[64];
    for (int th = 1; th <= 256 && !s->no_probe && !g_stop; th++) {
        struct bench_roofs start = bench_meta_roofs(&s->meta, th);
        struct bench_probe p;
        if (start.peak_gflops <= 0 || bench_probe_run(th, &p, err, sizeof(err)))
            continue;
        bench_meta_probe(&s->meta, &p, "probe_end");
        snprintf(key, sizeof(key), "probe_end_t%d_vs_start", th);
        double fs = p.sgemm_gflops / start.peak_gflops, ft = p.triad_gbps / start.bandwidth_gbps;
        bench_meta_set(&s->meta, key, "sgemm x%.2f, triad x%.2f", fs, ft);
        if (fs < 0.8 || fs > 1.25 || ft < 0.8 || ft > 1.25)
            fprintf(stderr,
                    "sweep: warning: the machine changed during the run (%d threads: sgemm "
                    "%.1f -> %.1f GFLOP/s, triad %.1f -> %.1f GB/s); other tenants? "
                    "roofline_frac uses the start figures\n",
                    th, start.peak_gflops, p.sgemm_gflops, start.bandwidth_gbps, p.triad_gbps);
    }
}

/* ---- the loop ---- */

static int write_row(struct sweep *s, const struct bench_row *row)
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

static void init_row(const struct sweep *s, const struct bench_point *p, struct bench_row *row)
{
    struct layer_config cfg;
    point_config(p, &s->sw, &cfg);
    bench_row_init(row, p->slot->label, p->slot->ops, &cfg, p->batch, p->seq_len,
                   s->sw.cache == BENCH_CACHE_COLD, p->repeat);
}

/* The layer could not be created: one row per point, the reason once. */
static int group_failed(struct sweep *s, size_t lo, size_t hi, int rc, const char *err,
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

/* Points lo..hi share one layer. Returns 0, or -1 when a row could not be written. */
static int run_group(struct sweep *s, size_t lo, size_t hi, struct bench_progress *pr)
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
    point_config(p0, &s->sw, &cfg);
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
    bo.stop = &g_stop;
    for (size_t i = lo; i < hi && !g_stop; i++) {
        struct bench_row row;
        if (s->done[i])
            continue;
        bench_progress_show(pr, &s->pts[i]);
        init_row(s, &s->pts[i], &row);
        err[0] = '\0';
        rc = bench_measure(&bl, &bo, &row, err, sizeof(err));
        if (rc == BENCH_INTERRUPTED)
            break;
        bench_progress_clear(pr);
        if (rc && rc != BENCH_WRONG)
            fprintf(stderr, "sweep: error in %s T=%llu: %s\n", row.slot,
                    (unsigned long long)row.tokens, err);
        else if (rc == BENCH_WRONG)
            fprintf(stderr, "sweep: WRONG %s T=%llu: %s\n", row.slot,
                    (unsigned long long)row.tokens, row.note);
        if (write_row(s, &row)) {
            bench_layer_close(&bl);
            return -1;
        }
        bench_progress_done(pr, &s->pts[i], &row);
    }
    bench_layer_close(&bl);
    return 0;
}

static int run_points(struct sweep *s)
{
    struct bench_progress pr;
    double w = 0;
    for (size_t i = 0; i < s->npts; i++)
        if (!s->done[i])
            w += bench_progress_weight(&s->pts[i]);
    bench_progress_start(&pr, s->npts - s->ndone, w, s->verbose);
    for (size_t lo = 0; lo < s->npts && !g_stop;) {
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

/* The same command with --out DIR and --resume: flags such as --threads
 * change the points' keys, so a resume must repeat them. */
static void resume_hint(const struct sweep *s)
{
    int has_out = 0;
    fprintf(stderr, "resume with: %s sweep", bench_argv0 ? bench_argv0 : "sparsebench");
    for (int i = 0; i < s->argc; i++) {
        if (!strcmp(s->argv[i], "--resume"))
            continue;
        has_out |= !strcmp(s->argv[i], "--out") || !strncmp(s->argv[i], "--out=", 6);
        fprintf(stderr, " %s", s->argv[i]);
    }
    if (!has_out)
        fprintf(stderr, " --out %s", s->dir);
    fprintf(stderr, " --resume\n");
}

static int finish(struct sweep *s, const struct bench_ticks *t0, double t_start, int failed)
{
    double wall = bench_now() - t_start;
    char d[32], err[1024];
    int rc = 0;
    if (g_stop || failed) {
        meta_end(s, t0, wall, g_stop ? "interrupted" : "failed");
        write_meta(s);
        fprintf(stderr, "sweep: %s after %zu of %zu points; every finished row is in %s\n",
                g_stop ? "interrupted" : "stopped", s->ndone + s->written, s->npts, s->results);
        resume_hint(s);
        return g_stop ? BENCH_EXIT_INTERRUPTED : BENCH_EXIT_FAIL;
    }
    meta_end(s, t0, wall, "complete");
    write_meta(s);
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
    printf("report: %s\n", s->dir);
    fflush(stdout);
    if (s->n_wrong || s->n_error)
        rc = BENCH_EXIT_FAIL;
    return rc;
}

int bench_cmd_sweep(int argc, char **argv)
{
    struct sweep s = {.filter = NULL};
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND}, old_int, old_term;
    struct bench_ticks t0;
    int rc;

    s.argc = argc;
    s.argv = argv;
    parse_flags(&s, argc, argv);
    load_plan(&s);
    validate_slots(&s);
    if (s.dry_run) {
        rc = dry_run(&s);
        goto out_free;
    }
    g_stop = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (s.resume)
        open_resume(&s);
    else
        open_new(&s);
    double t_start = bench_now();
    if (bench_ticks_read(&t0))
        memset(&t0, 0, sizeof(t0));
    meta_start(&s, argc, argv);
    fprintf(stderr, "sweep %s: %zu points, %zu to run; output %s\n", s.file, s.npts,
            s.npts - s.ndone, s.dir);
    probe_roofs(&s);
    write_meta(&s);
    int failed = run_points(&s) != 0;
    if (!failed && s.written)
        probe_again(&s);
    if (fclose(s.csv)) {
        fprintf(stderr, "sparsebench sweep: closing %s: %s\n", s.results, strerror(errno));
        failed = 1;
    }
    rc = finish(&s, &t0, t_start, failed);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
out_free:
    bench_meta_free(&s.meta);
    free(s.done);
    free(s.pts);
    bench_sweep_free(&s.sw);
    return rc;
}
