/* kpmu.c - counters the kernel exposes in /sys/bus/event_source/devices,
 * read the way `perf stat -a -e PMU/TERMS/` reads them: each PMU directory
 * gives its perf type (type), the CPUs to open it on (cpumask: one per
 * socket or CCX for uncore PMUs), how the fields of a raw event sit in the
 * config words (format/<field>, e.g. "config:0-7,32-35"), and named events
 * (events/<name>, "event=0x04,umask=0x03", with .scale and .unit).
 *
 * Uncore events count the whole socket, so they are opened system-wide
 * (pid -1), which needs perf_event_paranoid <= 0, CAP_PERFMON or root; the
 * reason says which when the kernel refuses. Counters are read with their
 * enabled and running times and scaled when the kernel multiplexed them.
 * Left out: groups (each counter is its own), hybrid PMUs' cpus files.
 */
#include "kpmu.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_INSTANCES 32
#define MAX_CPUS      KPMU_MAX_FDS

/* ---- sysfs ---- */

/* The first line of root/pmu/rel, or -1. */
static int read_line(const char *root, const char *pmu, const char *rel, char *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s", root, pmu, rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* Whether name matches pat, where '*' stands for one or more digits (so
 * "uncore_imc_*" is uncore_imc_0, _1, ... and not uncore_imc_free_running_0). */
static int match_instance(const char *pat, const char *name)
{
    for (; *pat; pat++, name++) {
        if (*pat == '*') {
            if (*name < '0' || *name > '9')
                return 0;
            while (name[1] >= '0' && name[1] <= '9')
                name++;
        } else if (*pat != *name) {
            return 0;
        }
    }
    return *name == '\0';
}

/* The instance number after the pattern's prefix, for numeric order. */
static long instance_number(const char *name)
{
    const char *p = name + strlen(name);
    while (p > name && p[-1] >= '0' && p[-1] <= '9')
        p--;
    return *p ? strtol(p, NULL, 10) : -1;
}

static int cmp_instance(const void *a, const void *b)
{
    const char *x = a, *y = b;
    long nx = instance_number(x), ny = instance_number(y);
    return nx != ny ? (nx < ny ? -1 : 1) : strcmp(x, y);
}

/* "0", "0,28", "0-3,8": the CPUs of a list; -1 when malformed. */
static int parse_cpu_list(const char *s, int *cpus, int max)
{
    int n = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s || a < 0)
            return -1;
        if (*end == '-') {
            s = end + 1;
            b = strtol(s, &end, 10);
            if (end == s || b < a)
                return -1;
        }
        for (long c = a; c <= b; c++) {
            if (n == max)
                return -1;
            cpus[n++] = (int)c;
        }
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

/* Place value into the bits a format file names ("config1:0-7,32-35":
 * the value's low bits fill the ranges in order). */
static int apply_format(const char *fmt, uint64_t value, uint64_t word[3])
{
    int w;
    const char *p;
    if (!strncmp(fmt, "config2:", 8))
        w = 2, p = fmt + 8;
    else if (!strncmp(fmt, "config1:", 8))
        w = 1, p = fmt + 8;
    else if (!strncmp(fmt, "config:", 7))
        w = 0, p = fmt + 7;
    else
        return -1;
    int shift = 0;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0 || lo > 63)
            return -1;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        if (hi < lo || hi > 63)
            return -1;
        for (long b = lo; b <= hi; b++, shift++)
            if (shift < 64 && (value >> shift) & 1)
                word[w] |= (uint64_t)1 << b;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return shift < 64 && (value >> shift) ? -1 : 0; /* bits left over do not fit */
}

/* "event=0x04,umask=0x03" (or "edge" for 1) into the config words. */
static int apply_terms(const char *root, const char *pmu, const char *terms, uint64_t word[3],
                       char *why, size_t whylen)
{
    char copy[KPMU_SPEC_LEN], *save = NULL;
    snprintf(copy, sizeof(copy), "%s", terms);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '='), fmt[128], rel[160], *end;
        uint64_t v = 1;
        if (eq) {
            *eq = '\0';
            v = strtoull(eq + 1, &end, 0);
            if (end == eq + 1 || *end) {
                snprintf(why, whylen, "%s: term %s=%s is not a number", pmu, t, eq + 1);
                return -1;
            }
        }
        snprintf(rel, sizeof(rel), "format/%s", t);
        if (read_line(root, pmu, rel, fmt, sizeof(fmt))) {
            if (!strcmp(t, "config") || !strcmp(t, "config1") || !strcmp(t, "config2")) {
                word[t[6] ? t[6] - '0' : 0] |= v;
                continue;
            }
            snprintf(why, whylen, "%s has no format field %s", pmu, t);
            return -1;
        }
        if (apply_format(fmt, v, word)) {
            snprintf(why, whylen, "%s: %s=%#llx does not fit its format '%s'", pmu, t,
                     (unsigned long long)v, fmt);
            return -1;
        }
    }
    return 0;
}

/* Bytes per unit for the units the kernel gives byte counters. */
static double unit_bytes(const char *unit)
{
    static const struct {
        const char *name;
        double bytes;
    } units[] = {{"B", 1},      {"Bytes", 1},     {"bytes", 1},
                 {"KiB", 1024}, {"MiB", 1048576}, {"GiB", 1073741824.0}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!strcmp(unit, units[i].name))
            return units[i].bytes;
    return 0;
}

/* A named event: its terms, and scale x bytes-per-unit. */
static int named_event(const char *root, const char *pmu, const char *name, char *terms, size_t len,
                       double *scale, char *unit, size_t unitlen)
{
    char rel[200], buf[64];
    snprintf(rel, sizeof(rel), "events/%.150s", name);
    if (read_line(root, pmu, rel, terms, len))
        return -1;
    *scale = 1;
    snprintf(rel, sizeof(rel), "events/%.150s.scale", name);
    if (!read_line(root, pmu, rel, buf, sizeof(buf)))
        *scale = strtod(buf, NULL);
    snprintf(rel, sizeof(rel), "events/%.150s.unit", name);
    unit[0] = '\0';
    if (!read_line(root, pmu, rel, buf, sizeof(buf))) {
        double b = unit_bytes(buf);
        if (b > 0) {
            *scale *= b;
            snprintf(unit, unitlen, "B");
        } else {
            snprintf(unit, unitlen, "%.15s", buf);
        }
    }
    return 0;
}

static int online_cpus(int *cpus, int max)
{
    char buf[256];
    FILE *f = fopen("/sys/devices/system/cpu/online", "r");
    int n = -1;
    if (f) {
        if (fgets(buf, sizeof(buf), f)) {
            buf[strcspn(buf, "\r\n")] = '\0';
            n = parse_cpu_list(buf, cpus, max);
        }
        fclose(f);
    }
    if (n <= 0) {
        cpus[0] = 0;
        n = 1;
    }
    return n;
}

int kpmu_resolve(struct kpmu_event *e, const char *root, const char *spec, char *why, size_t whylen)
{
    char pat[64], terms[KPMU_SPEC_LEN], names[MAX_INSTANCES][48];
    size_t n_names = 0;
    memset(e, 0, sizeof(*e));
    snprintf(e->spec, sizeof(e->spec), "%s", spec);
    e->scale = 1;
    const char *slash = strchr(spec, '/');
    size_t plen = slash ? (size_t)(slash - spec) : 0;
    size_t tlen = slash ? strlen(slash + 1) : 0;
    if (!slash || plen == 0 || plen >= sizeof(pat) || tlen < 2 || slash[tlen] != '/' ||
        tlen > sizeof(terms)) {
        snprintf(why, whylen, "kernel:%s is not kernel:PMU/TERMS/", spec);
        return -1;
    }
    memcpy(pat, spec, plen);
    pat[plen] = '\0';
    memcpy(terms, slash + 1, tlen - 1);
    terms[tlen - 1] = '\0';

    DIR *d = opendir(root);
    struct dirent *de;
    if (!d) {
        snprintf(why, whylen, "no %s", root);
        return -1;
    }
    while ((de = readdir(d)) != NULL && n_names < MAX_INSTANCES)
        if (match_instance(pat, de->d_name) && strlen(de->d_name) < sizeof(names[0]))
            snprintf(names[n_names++], sizeof(names[0]), "%s", de->d_name);
    closedir(d);
    if (!n_names) {
        snprintf(why, whylen, "the kernel exposes no %s PMU (%s)", pat, root);
        return -1;
    }
    qsort(names, n_names, sizeof(names[0]), cmp_instance);

    for (size_t i = 0; i < n_names; i++) {
        char buf[256], raw[KPMU_SPEC_LEN];
        uint64_t word[3] = {0, 0, 0};
        int cpus[MAX_CPUS], ncpu;
        const char *t = terms;
        if (read_line(root, names[i], "type", buf, sizeof(buf))) {
            snprintf(why, whylen, "%s/%s has no type", root, names[i]);
            return -1;
        }
        uint32_t type = (uint32_t)strtoul(buf, NULL, 10);
        if (!strchr(terms, '=') && !strchr(terms, ',')) { /* one name: an event or a flag */
            char rel[200];
            snprintf(rel, sizeof(rel), "format/%.150s", terms);
            if (!named_event(root, names[i], terms, raw, sizeof(raw), &e->scale, e->unit,
                             sizeof(e->unit)))
                t = raw;
            else if (read_line(root, names[i], rel, buf, sizeof(buf))) {
                snprintf(why, whylen, "%s has no event %s", names[i], terms);
                return -1;
            }
        }
        if (apply_terms(root, names[i], t, word, why, whylen))
            return -1;
        ncpu = read_line(root, names[i], "cpumask", buf, sizeof(buf))
                   ? online_cpus(cpus, MAX_CPUS)
                   : parse_cpu_list(buf, cpus, MAX_CPUS);
        if (ncpu <= 0) {
            snprintf(why, whylen, "%s: cpumask '%s' is not a CPU list", names[i], buf);
            return -1;
        }
        for (int c = 0; c < ncpu; c++) {
            if (e->n == KPMU_MAX_FDS) {
                snprintf(why, whylen, "kernel:%s: more than %d instances x CPUs", spec,
                         KPMU_MAX_FDS);
                return -1;
            }
            struct kpmu_counter *k = &e->c[e->n++];
            snprintf(k->pmu, sizeof(k->pmu), "%.47s", names[i]);
            k->type = type;
            k->config = word[0];
            k->config1 = word[1];
            k->config2 = word[2];
            k->cpu = cpus[c];
            k->fd = -1;
        }
    }
    return 0;
}

/* ---- counting ---- */

static void paranoid_hint(char *buf, size_t len)
{
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    int v;
    buf[0] = '\0';
    if (f) {
        if (fscanf(f, "%d", &v) == 1)
            snprintf(buf, len,
                     " (perf_event_paranoid = %d; system-wide counters need <= 0, "
                     "CAP_PERFMON or root)",
                     v);
        fclose(f);
    }
}

int kpmu_open(struct kpmu_event *e, char *why, size_t whylen)
{
    for (size_t i = 0; i < e->n; i++) {
        struct kpmu_counter *k = &e->c[i];
        struct perf_event_attr a;
        memset(&a, 0, sizeof(a));
        a.size = sizeof(a);
        a.type = k->type;
        a.config = k->config;
        a.config1 = k->config1;
        a.config2 = k->config2;
        a.disabled = 1;
        a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
        k->fd = (int)syscall(SYS_perf_event_open, &a, -1, k->cpu, -1, PERF_FLAG_FD_CLOEXEC);
        if (k->fd < 0) {
            int err = errno;
            char hint[160] = "";
            if (err == EACCES || err == EPERM)
                paranoid_hint(hint, sizeof(hint));
            snprintf(why, whylen, "perf_event_open %s config %#llx on CPU %d: %s%s", k->pmu,
                     (unsigned long long)k->config, k->cpu, strerror(err), hint);
            kpmu_close(e);
            return -1;
        }
    }
    return 0;
}

int kpmu_enable(struct kpmu_event *e, int on)
{
    int rc = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (e->c[i].fd < 0)
            continue;
        if (on && ioctl(e->c[i].fd, PERF_EVENT_IOC_RESET, 0))
            rc = -1;
        if (ioctl(e->c[i].fd, on ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE, 0))
            rc = -1;
    }
    return rc;
}

static int read_counter(const struct kpmu_counter *k, uint64_t v[3])
{
    return k->fd >= 0 && read(k->fd, v, 3 * sizeof(uint64_t)) == (ssize_t)(3 * sizeof(uint64_t))
               ? 0
               : -1;
}

int kpmu_mark(struct kpmu_event *e)
{
    for (size_t i = 0; i < e->n; i++)
        if (read_counter(&e->c[i], e->c[i].mark))
            return -1;
    return 0;
}

int kpmu_accumulate(struct kpmu_event *e)
{
    for (size_t i = 0; i < e->n; i++) {
        uint64_t v[3];
        if (read_counter(&e->c[i], v))
            return -1;
        for (int k = 0; k < 3; k++)
            e->c[i].acc[k] += v[k] - e->c[i].mark[k];
    }
    return 0;
}

void kpmu_clear(struct kpmu_event *e)
{
    for (size_t i = 0; i < e->n; i++)
        memset(e->c[i].acc, 0, sizeof(e->c[i].acc));
}

int kpmu_total(const struct kpmu_event *e, double *count, int *multiplexed)
{
    double sum = 0;
    for (size_t i = 0; i < e->n; i++) {
        const uint64_t *a = e->c[i].acc;
        if (a[1] == 0)
            continue; /* nothing was accumulated */
        if (a[2] == 0)
            return -1; /* enabled but never scheduled: no estimate possible */
        double v = (double)a[0];
        if (a[2] < a[1]) {
            v *= (double)a[1] / (double)a[2];
            *multiplexed = 1;
        }
        sum += v;
    }
    *count = sum * e->scale;
    return 0;
}

void kpmu_close(struct kpmu_event *e)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->c[i].fd >= 0) {
            close(e->c[i].fd);
            e->c[i].fd = -1;
        }
}
