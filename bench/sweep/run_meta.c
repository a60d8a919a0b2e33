/* run_meta.c - a sweep run's meta.csv: what ran where and when (the
 * build and machine facts of meta.h, the flags, the points, steal time and
 * load), and the machine's roofs probed at the start for every thread count
 * still to run and again at the end, with a warning when they moved. The
 * file is rewritten whole, by rename, at the start, after the probes and at
 * the end, so a killed run keeps a meta.csv a resume can read.
 */
#include "sweep_run.h"
#include "sweep.h"
#include "../counters/counters.h"
#include "../measure.h"
#include "../meta.h"
#include "../probe.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROBE_MOVED_LO 0.8 /* end / start probe ratios outside [LO, HI]: warn */
#define PROBE_MOVED_HI 1.25

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
    bench_meta_set(&s->meta, "points_sweep", "%zu", s->npts_sweep);
    if (s->shard_n)
        bench_meta_set(&s->meta, "shard", "%u/%u", s->shard_i, s->shard_n);
    else
        bench_meta_set(&s->meta, "shard", "%s", "");
    bench_meta_set(&s->meta, "host", "%s", s->host);
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

int bench_sweep_write_meta(struct bench_sweep_run *s)
{
    char err[1024];
    if (bench_meta_write(&s->meta, s->meta_path, err, sizeof(err))) {
        fprintf(stderr, "sweep: writing meta.csv failed (the old one, if any, is kept): %s\n", err);
        return -1;
    }
    return 0;
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
    for (size_t i = 0; i < s->npts && !*s->stop; i++) {
        int th = (int)s->pts[i].threads;
        if (s->done[i] || seen[th]++ || bench_meta_roofs(&s->meta, th).peak_gflops > 0)
            continue;
        struct bench_probe p;
        if (bench_probe_run(th, &p, err, sizeof(err))) {
            fprintf(stderr, "sweep: warning: probe failed (%s); roofline_frac is NA\n", err);
            continue;
        }
        bench_meta_probe(&s->meta, &p, "probe");
        bench_probe_print(stderr, "probe", &p);
    }
}

/* The roofs again after the points, for every thread count probed at the
 * start: a big change says co-tenants came or went during the run. */
void bench_sweep_probe_again(struct bench_sweep_run *s)
{
    char err[512], key[64];
    for (int th = 1; th <= BENCH_MAX_THREADS && !s->no_probe && !*s->stop; th++) {
        struct bench_roofs start = bench_meta_roofs(&s->meta, th);
        struct bench_probe p;
        if (start.peak_gflops <= 0 || bench_probe_run(th, &p, err, sizeof(err)))
            continue;
        bench_meta_probe(&s->meta, &p, "probe_end");
        snprintf(key, sizeof(key), "probe_end_t%d_vs_start", th);
        double fs = p.sgemm_gflops / start.peak_gflops, ft = p.triad_gbps / start.bandwidth_gbps;
        if (start.gather_gbps > 0)
            bench_meta_set(&s->meta, key, "sgemm x%.2f, triad x%.2f, gather x%.2f", fs, ft,
                           p.gather_gbps / start.gather_gbps);
        else
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
