/* pmu.c - what this machine's counters are: the core PMU libpfm4 detects
 * from CPUID or /proc/cpuinfo (the same libpfm4 PAPI resolves event names
 * with), the table row for it (pmu_table.c), and whether the kernel
 * exposes a hardware PMU at all, which decides whether any of it can count
 * (a VM without a virtual PMU has only software PMUs in sysfs, while
 * libpfm4 still detects the CPU model).
 */
#include "pmu.h"
#include "kpmu.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_PFM
#include <perfmon/pfmlib.h>
#endif

#define PMU_ID_MAX 4096 /* past any libpfm4's pfm_pmu_t (4.13 has 500 or so) */

/* The kernel's names for core PMUs: x86 ("cpu", hybrid "cpu_core" and
 * "cpu_atom") and Arm ("armv8_pmuv3_0", "armv8_neoverse_n1", ...). */
static int is_core_pmu_dir(const char *name)
{
    return !strcmp(name, "cpu") || !strcmp(name, "cpu_core") || !strcmp(name, "cpu_atom") ||
           !strncmp(name, "armv8_", 6) || !strncmp(name, "armv9_", 6);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The PMUs in sysfs, sorted and space-separated; whether one is a core PMU. */
static void kernel_pmus(struct pmu_machine *m)
{
    char *names[256];
    size_t n = 0, used = 0;
    DIR *d = opendir(KPMU_SYSFS);
    struct dirent *de;
    m->kernel_pmus[0] = '\0';
    if (!d) {
        snprintf(m->kernel_pmus, sizeof(m->kernel_pmus), "(no %s)", KPMU_SYSFS);
        return;
    }
    while ((de = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0]))
        if (de->d_name[0] != '.' && (names[n] = strdup(de->d_name)) != NULL)
            n++;
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (is_core_pmu_dir(names[i]))
            m->kernel_hw = 1;
        if (used < sizeof(m->kernel_pmus))
            used += (size_t)snprintf(m->kernel_pmus + used, sizeof(m->kernel_pmus) - used, "%s%s",
                                     i ? " " : "", names[i]);
        free(names[i]);
    }
}

static int read_int_file(const char *path, int dflt)
{
    FILE *f = fopen(path, "r");
    int v = dflt;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = dflt;
        fclose(f);
    }
    return v;
}

#ifdef HAVE_PFM
/* The present core PMUs; the first the table knows is the one. */
static void libpfm_detect(struct pmu_machine *m)
{
    int rc = pfm_initialize(), v;
    size_t used = 0;
    if (rc != PFM_SUCCESS) {
        snprintf(m->why, sizeof(m->why), "libpfm4: pfm_initialize: %s", pfm_strerror(rc));
        return;
    }
    m->libpfm_ok = 1;
    v = pfm_get_version();
    snprintf(m->libpfm, sizeof(m->libpfm), "%d.%d", PFM_MAJ_VERSION(v), PFM_MIN_VERSION(v));
    /* not pfm_for_all_pmus: its bound is the PMU count of the headers this
     * was built with, and a newer libpfm4 at run time knows more PMUs */
    for (int p = 0; p < PMU_ID_MAX; p++) {
        pfm_pmu_info_t info;
        memset(&info, 0, sizeof(info));
        info.size = sizeof(info);
        if (pfm_get_pmu_info((pfm_pmu_t)p, &info) != PFM_SUCCESS || !info.is_present ||
            info.type != PFM_PMU_TYPE_CORE)
            continue;
        if (used < sizeof(m->all_core))
            used += (size_t)snprintf(m->all_core + used, sizeof(m->all_core) - used, "%s%s",
                                     used ? " " : "", info.name);
        if (!m->pmu[0] || (!pmu_family_find(m->pmu) && pmu_family_find(info.name))) {
            snprintf(m->pmu, sizeof(m->pmu), "%s", info.name);
            snprintf(m->pmu_desc, sizeof(m->pmu_desc), "%s", info.desc ? info.desc : "");
        }
    }
}
#endif

void pmu_machine_detect(struct pmu_machine *m)
{
    memset(m, 0, sizeof(*m));
    m->paranoid = read_int_file("/proc/sys/kernel/perf_event_paranoid", -9);
    kernel_pmus(m);
#ifdef HAVE_PFM
    libpfm_detect(m);
#else
    snprintf(m->why, sizeof(m->why),
             "built without libpfm4 (no <perfmon/pfmlib.h> when make ran): the CPU is unknown");
#endif
    const struct pmu_family *f = pmu_family_find(m->pmu);
    m->family = f ? f : &pmu_generic;
    if (!m->libpfm_ok)
        return;
    size_t used = (size_t)snprintf(m->why, sizeof(m->why), "libpfm4 detects ");
    if (m->pmu[0])
        used += (size_t)snprintf(m->why + used, sizeof(m->why) - used, "core PMU %s (%s): %s",
                                 m->pmu, m->pmu_desc, f ? f->name : "no table row, generic events");
    else
        used += (size_t)snprintf(m->why + used, sizeof(m->why) - used,
                                 "no core PMU: generic events only");
    if (!m->kernel_hw && used < sizeof(m->why))
        snprintf(m->why + used, sizeof(m->why) - used,
                 "; the kernel exposes no core PMU (%s has %.150s): no hardware events count here",
                 KPMU_SYSFS, m->kernel_pmus);
}

int pmu_is_kernel(const char *event)
{
    return !strncmp(event, "kernel:", 7);
}

int pmu_event_name(const char *event, const char *pmu, char *out, size_t len)
{
    int n;
    if (pmu_is_kernel(event) || strstr(event, "::") || !pmu || !pmu[0])
        n = snprintf(out, len, "%s", event);
    else
        n = snprintf(out, len, "%s::%s", pmu, event);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int pmu_split(const char *events, char *buf, size_t buflen, char **ev, int max)
{
    int n = 0;
    if (snprintf(buf, buflen, "%s", events) >= (int)buflen)
        return -1;
    for (char *p = buf;;) {
        char *plus = strchr(p, '+');
        if (plus)
            *plus = '\0';
        if (!*p || n == max)
            return -1;
        ev[n++] = p;
        if (!plus)
            return n;
        p = plus + 1;
    }
}

void pmu_choice_events(const struct pmu_choice *ch, const char *pmu, char *out, size_t len)
{
    char buf[1024], *ev[32], name[PMU_EVENT_NAME_LEN];
    int n = pmu_split(ch->events, buf, sizeof(buf), ev, 32);
    size_t used = 0;
    out[0] = '\0';
    for (int t = 0; t < n && used < len; t++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", t ? "+" : "",
                                 pmu_event_name(ev[t], pmu, name, sizeof(name)) ? ev[t] : name);
    if (n < 0)
        snprintf(out, len, "%s", ch->events);
}
