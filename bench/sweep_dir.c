/* sweep_dir.c - a sweep's run directory: creating it, resuming it, and its
 * metadata and probes.
 *
 * results.csv is only ever appended to: a new run refuses to open an
 * existing one, and --resume reads it back with libcsv, truncates a
 * half-written last row (a kill during a write), and marks every point that
 * has a row as done, keyed on the identity columns. meta.csv, the copy of
 * the sweep file and reports/latest are replaced by rename.
 */
#include "sweep_run.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MOVED_LO 0.8 /* end / start probe ratios outside [LO, HI]: warn */
#define PROBE_MOVED_HI 1.25

/* ---- the run directory ---- */

static void make_run_id(const struct bench_sweep_run *s, char *buf, size_t len)
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

static void set_paths(struct bench_sweep_run *s)
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

static void mark_done(struct bench_sweep_run *s, const struct bench_table *t)
{
    int cols[32];
    char err[256], key[BENCH_KEY_LEN], pkey[BENCH_KEY_LEN];
    int nc = bench_table_key_cols(t, cols, 32, err, sizeof(err));
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

void bench_sweep_open_resume(struct bench_sweep_run *s)
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
        snprintf(s->dir, sizeof(s->dir), "%s%s", target[0] == '/' ? "" : "reports/", target);
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

static void copy_sweep_file(const struct bench_sweep_run *s)
{
    char path[PATH_MAX];
    size_t len;
    char *text = bench_read_file(s->file, &len);
    snprintf(path, sizeof(path), "%s/sweep.sweep", s->dir);
    if (!text || bench_write_atomic(path, text, len))
        fprintf(stderr, "sweep: warning: could not copy %s to %s\n", s->file, path);
    free(text);
}

void bench_sweep_open_new(struct bench_sweep_run *s)
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

/* "1 2": the distinct thread counts of the points. */
static void meta_threads(struct bench_sweep_run *s)
{
    char th[256] = "";
    int seen[BENCH_MAX_THREADS + 1] = {0};
    size_t used = 0;
    for (size_t i = 0; i < s->npts && used < sizeof(th); i++)
        if (!seen[s->pts[i].threads]++)
            used += (size_t)snprintf(th + used, sizeof(th) - used, "%s%llu", used ? " " : "",
                                     (unsigned long long)s->pts[i].threads);
    bench_meta_set(&s->meta, "threads", "%s", th);
}

void bench_sweep_meta_start(struct bench_sweep_run *s, int argc, char **argv)
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
    bench_counters_meta(&s->ctr, &s->meta);
    bench_meta_set(&s->meta, "threads_flag", "%d", s->threads);
    meta_threads(s);
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

void bench_sweep_meta_end(struct bench_sweep_run *s, const struct bench_ticks *t0, double wall,
                          const char *status)
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
    bench_counters_meta(&s->ctr, &s->meta);
    bench_meta_set(&s->meta, "status", "%s", status);
}

void bench_sweep_write_meta(struct bench_sweep_run *s)
{
    char err[1024];
    if (bench_meta_write(&s->meta, s->meta_path, err, sizeof(err)))
        fprintf(stderr, "sweep: warning: %s\n", err);
}

/* Probe every thread count still to run, unless an earlier session did. */
void bench_sweep_probe_roofs(struct bench_sweep_run *s)
{
    int seen[BENCH_MAX_THREADS + 1] = {0};
    char err[512];
    if (s->no_probe) {
        bench_meta_set(&s->meta, "probe", "%s", "skipped (--no-probe): roofline_frac is NA");
        return;
    }
    for (size_t i = 0; i < s->npts && !bench_sweep_stop; i++) {
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
void bench_sweep_probe_again(struct bench_sweep_run *s)
{
    char err[512], key[64];
    for (int th = 1; th <= BENCH_MAX_THREADS && !s->no_probe && !bench_sweep_stop; th++) {
        struct bench_roofs start = bench_meta_roofs(&s->meta, th);
        struct bench_probe p;
        if (start.peak_gflops <= 0 || bench_probe_run(th, &p, err, sizeof(err)))
            continue;
        bench_meta_probe(&s->meta, &p, "probe_end");
        snprintf(key, sizeof(key), "probe_end_t%d_vs_start", th);
        double fs = p.sgemm_gflops / start.peak_gflops, ft = p.triad_gbps / start.bandwidth_gbps;
        bench_meta_set(&s->meta, key, "sgemm x%.2f, triad x%.2f", fs, ft);
        if (fs < PROBE_MOVED_LO || fs > PROBE_MOVED_HI || ft < PROBE_MOVED_LO ||
            ft > PROBE_MOVED_HI)
            fprintf(stderr,
                    "sweep: warning: the machine changed during the run (%d threads: sgemm "
                    "%.1f -> %.1f GFLOP/s, triad %.1f -> %.1f GB/s); other tenants? "
                    "roofline_frac uses the start figures\n",
                    th, start.peak_gflops, p.sgemm_gflops, start.bandwidth_gbps, p.triad_gbps);
    }
}

/* The same command with --out DIR and --resume: flags such as --threads
 * change the points' keys, so a resume must repeat them. */
void bench_sweep_resume_hint(const struct bench_sweep_run *s)
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
