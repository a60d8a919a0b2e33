/* meta.c - the run's sidecar, meta.csv: key,value rows saying what ran
 * where (research/harness.md section 9.5, google/benchmark's "context").
 *
 * Build facts come from the Makefile as -D strings (flags, library versions
 * from pkg-config); machine facts from /proc, sysconf and OpenBLAS itself;
 * the git revision from `git` at run time. The file is always written to a
 * temporary name and renamed, and read back with libcsv on --resume.
 */
#include "meta.h"
#include "measure.h"
#include "probe.h"
#include "row.h"
#include "table.h"
#include "util.h"

#include <csv.h>
#include <errno.h>
#ifdef HAVE_PAPI
#include <papi.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cblas.h>

#ifndef SB_CFLAGS
#define SB_CFLAGS "unknown"
#endif
#ifndef SB_KERNEL_FLAGS
#define SB_KERNEL_FLAGS "unknown"
#endif
#ifndef SB_CG_KERNEL_FLAGS
#define SB_CG_KERNEL_FLAGS "unknown"
#endif
#ifndef SB_OPENBLAS_VERSION
#define SB_OPENBLAS_VERSION "unknown"
#endif
#ifndef SB_CHECK_VERSION
#define SB_CHECK_VERSION "unknown"
#endif

void bench_meta_set(struct bench_meta *m, const char *key, const char *fmt, ...)
{
    char *val = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&val, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->key[i], key)) {
            free(m->val[i]);
            m->val[i] = val;
            return;
        }
    if (m->n == m->cap) {
        size_t c = m->cap ? 2 * m->cap : 64;
        char **k = realloc(m->key, c * sizeof(*k));
        if (k)
            m->key = k;
        char **v = realloc(m->val, c * sizeof(*v));
        if (v)
            m->val = v;
        if (!k || !v) {
            free(val);
            return;
        }
        m->cap = c;
    }
    m->key[m->n] = strdup(key);
    m->val[m->n] = val;
    if (!m->key[m->n]) {
        free(val);
        return;
    }
    m->n++;
}

const char *bench_meta_get(const struct bench_meta *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->key[i], key))
            return m->val[i];
    return NULL;
}

void bench_meta_free(struct bench_meta *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->key[i]);
        free(m->val[i]);
    }
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof(*m));
}

int bench_meta_write(const struct bench_meta *m, const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fputs("key,value\n", f);
    for (size_t i = 0; i < m->n; i++) {
        bench_csv_write_field(f, m->key[i]);
        fputc(',', f);
        bench_csv_write_field(f, m->val[i]);
        fputc('\n', f);
    }
    fclose(f);
    int rc = bench_write_atomic(path, buf, len);
    if (rc)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    free(buf);
    return rc;
}

int bench_meta_read(struct bench_meta *m, const char *path, char *err, size_t errlen)
{
    struct bench_table t;
    if (bench_table_read(path, &t, err, errlen))
        return -1;
    if (t.ncols != 2 || strcmp(t.header[0], "key") || strcmp(t.header[1], "value")) {
        snprintf(err, errlen, "%s: expected the header 'key,value'", path);
        bench_table_free(&t);
        return -1;
    }
    for (size_t r = 0; r < t.nrows; r++)
        bench_meta_set(m, bench_table_cell(&t, r, 0), "%s", bench_table_cell(&t, r, 1));
    bench_table_free(&t);
    return 0;
}

/* First line of a command's output, or "" (never fails). */
static void command_line(const char *cmd, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    if (fgets(buf, (int)len, p))
        buf[strcspn(buf, "\r\n")] = '\0';
    else
        buf[0] = '\0';
    pclose(p);
}

/* The value of "key<sep>value" in a text file, first match, trimmed. */
static void file_field(const char *path, const char *key, char *buf, size_t len)
{
    char line[512];
    size_t klen = strlen(key);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, klen))
            continue;
        char *v = strchr(line + klen, ':');
        v = v ? v + 1 : line + klen;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\r\n")] = '\0';
        snprintf(buf, len, "%s", v);
        break;
    }
    fclose(f);
}

static void file_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(buf, (int)len, f))
        buf[strcspn(buf, "\r\n")] = '\0';
    fclose(f);
}

static void meta_git(struct bench_meta *m)
{
    char rev[128], dirty[16];
    command_line("git rev-parse HEAD 2>/dev/null", rev, sizeof(rev));
    command_line("git status --porcelain --untracked-files=no 2>/dev/null | head -n 1 | wc -l",
                 dirty, sizeof(dirty));
    bench_meta_set(m, "git_revision", "%s", rev[0] ? rev : "unknown");
    bench_meta_set(m, "git_dirty", "%s", !rev[0] ? "unknown" : atoi(dirty) ? "1" : "0");
}

static void meta_machine(struct bench_meta *m)
{
    char buf[512];
    struct utsname u;
    file_field("/proc/cpuinfo", "model name", buf, sizeof(buf));
    bench_meta_set(m, "cpu_model", "%s", buf[0] ? buf : "unknown");
    bench_meta_set(m, "cpus_online", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    if (uname(&u) == 0) {
        bench_meta_set(m, "hostname", "%s", u.nodename);
        bench_meta_set(m, "kernel", "%s %s %s", u.sysname, u.release, u.machine);
    }
    file_field("/proc/meminfo", "MemTotal", buf, sizeof(buf));
    bench_meta_set(m, "mem_total", "%s", buf);
    file_line("/proc/sys/kernel/randomize_va_space", buf, sizeof(buf));
    bench_meta_set(m, "aslr", "%s", buf[0] ? buf : "unknown");
    bench_meta_set(m, "cpufreq_governor", "%s",
                   access("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", R_OK) == 0
                       ? "present"
                       : "absent (no cpufreq: a VM, or fixed frequency)");
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    bench_meta_set(m, "llc_reported_bytes", "%ld", l3 > 0 ? l3 : 0);
    bench_meta_set(m, "cache_flush", "%s", bench_cache_method());
}

void bench_meta_environment(struct bench_meta *m)
{
    char blas_msg[512];
    const char *env;
    meta_git(m);
#ifdef __VERSION__
    bench_meta_set(m, "compiler", "%s", __VERSION__);
#endif
    bench_meta_set(m, "cflags_harness", "%s", SB_CFLAGS);
    bench_meta_set(m, "cflags_kernels", "%s %s", SB_CFLAGS, SB_KERNEL_FLAGS);
    bench_meta_set(m, "cflags_kernels_callgrind", "%s", SB_CG_KERNEL_FLAGS);
    bench_meta_set(m, "build_time", "%s %s", __DATE__, __TIME__);
    bench_meta_set(m, "openblas_version", "%s", SB_OPENBLAS_VERSION);
    bench_meta_set(m, "openblas_config", "%s", openblas_get_config());
    bench_meta_set(m, "openblas_corename", "%s", openblas_get_corename());
    env = getenv("OPENBLAS_CORETYPE");
    bench_meta_set(m, "openblas_coretype_env", "%s", env ? env : "");
    bench_meta_set(m, "openblas_below_native", "%s",
                   bench_blas_below_native(blas_msg, sizeof(blas_msg)) ? blas_msg : "no");
    env = getenv("SPARSEBENCH_DROPPED_CORETYPE");
    bench_meta_set(m, "openblas_coretype_dropped", "%s", env ? env : "");
    env = getenv("OPENBLAS_NUM_THREADS");
    bench_meta_set(m, "openblas_num_threads_env", "%s", env ? env : "");
    bench_meta_set(m, "libcsv_version", "%d.%d.%d", CSV_MAJOR, CSV_MINOR, CSV_RELEASE);
#ifdef HAVE_PAPI
    bench_meta_set(m, "papi_version", "%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION),
                   PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION));
#else
    bench_meta_set(m, "papi_version", "%s", "none (built without PAPI)");
#endif
    bench_meta_set(m, "check_version", "%s", SB_CHECK_VERSION);
    meta_machine(m);
}

void bench_meta_probe(struct bench_meta *m, const struct bench_probe *p, const char *prefix)
{
    char k[64];
#define PROBE_KEY(name) (snprintf(k, sizeof(k), "%s_" name "_t%d", prefix, p->threads), k)
    bench_meta_set(m, PROBE_KEY("sgemm_gflops"), "%.2f", p->sgemm_gflops);
    bench_meta_set(m, PROBE_KEY("sgemm_n"), "%zu", p->sgemm_n);
    bench_meta_set(m, PROBE_KEY("triad_gbps"), "%.2f", p->triad_gbps);
    bench_meta_set(m, PROBE_KEY("triad_array_mib"), "%zu", p->triad_array_bytes >> 20);
    bench_meta_set(m, PROBE_KEY("gather_gbps"), "%.2f", p->gather_gbps);
    bench_meta_set(m, PROBE_KEY("seconds"), "%.2f", p->seconds);
#undef PROBE_KEY
    if (p->threads != 1) { /* the 1-thread gather, measured in the same probe */
        snprintf(k, sizeof(k), "%s_gather_gbps_t1", prefix);
        bench_meta_set(m, k, "%.2f", p->gather_gbps_1t);
    }
    bench_meta_set(m, "probe_gather_row_bytes", "%zu", p->gather_row_bytes);
    bench_meta_set(m, "probe_gather_rows", "%zu", p->gather_rows);
    bench_meta_set(m, "probe_gather_array_mib", "%zu", p->gather_array_bytes >> 20);
    bench_meta_set(m, "probe_llc_assumed_mib", "%llu", (unsigned long long)(p->llc_assumed >> 20));
    bench_meta_set(m, "probe_rule", "%s",
                   "sgemm: best square N x N product over ~1 s (>= 4) after one warm-up; "
                   "triad: fp32 a = b + s*c, each array >= 4x min(reported LLC, 64 MiB), best "
                   "pass over ~0.5 s (>= 10) after the first, 12 B per element "
                   "(write-allocate not counted); gather: unique random 3 KB rows (1 in 8 of an "
                   "array as large as one triad array) read in ascending order, flushed before "
                   "each pass, best pass over ~0.3 s (>= 10) after the first, bytes of the rows "
                   "read");
}

struct bench_roofs bench_meta_roofs(const struct bench_meta *m, int threads)
{
    char k[64];
    struct bench_roofs r = {0, 0, 0};
    snprintf(k, sizeof(k), "probe_sgemm_gflops_t%d", threads);
    const char *v = bench_meta_get(m, k);
    r.peak_gflops = v ? strtod(v, NULL) : 0;
    snprintf(k, sizeof(k), "probe_triad_gbps_t%d", threads);
    v = bench_meta_get(m, k);
    r.bandwidth_gbps = v ? strtod(v, NULL) : 0;
    snprintf(k, sizeof(k), "probe_gather_gbps_t%d", threads);
    v = bench_meta_get(m, k);
    r.gather_gbps = v ? strtod(v, NULL) : 0;
    return r;
}
