/* check_pmu.c - the per-CPU counter table (bench/counters/pmu_table.c),
 * checked without the hardware:
 *  - every row is well formed: each column has choices or a reason, every
 *    choice its source, every estimate its how; each PMU names one row;
 *  - forced PMUs: for every core PMU a row names, libpfm4 pretends to be
 *    that CPU (LIBPFM_FORCE_PMU, in a child process each) and every core
 *    event of the row must encode for perf_event (pfm_get_os_event_encoding,
 *    PFM_OS_PERF_EVENT_EXT, what PAPI asks); at least 6 models must be
 *    checked. Uncore PMUs cannot be forced on a machine without them (their
 *    perf types come from sysfs), so their events are encoded raw
 *    (PFM_OS_NONE) with LIBPFM_ENCODE_INACTIVE=1, and each raw kernel choice
 *    must equal its libpfm4 twin's encoding. A PMU this libpfm4 does not
 *    have (Debian 12's 4.13.0 lacks Zen 5, Alder Lake, the ICX and SPR
 *    uncore; an x86 build has no Arm PMUs) is listed as not checked;
 *  - the kernel sysfs reader (kpmu.c) on a fake /sys tree laid out as the
 *    kernel lays it (format fields split over config bits, named events with
 *    scale and unit, instance numbers, cpumasks), every kernel choice of the
 *    table resolves there, and, as root, a real kernel PMU (msr/tsc) counts
 *    through perf_event_open and through a whole --papi-events run.
 */
#include "test_util.h"
#include "../bench/counters/counters.h"
#include "../bench/counters/kpmu.h"
#include "../bench/counters/pmu.h"
#include "../bench/meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_PFM
#include <perfmon/pfmlib_perf_event.h>
#endif

#define MIN_FORCED_MODELS 6
#define PMU_ID_MAX        4096 /* as in pmu.c: past the headers' PFM_PMU_MAX */
#define MSG_LEN           4096

/* Every choice of every row, with the row it belongs to. */
#define FOR_EACH_CHOICE(f, c, i, ch)                                                               \
    for (size_t f = 0; f < pmu_n_families; f++)                                                    \
        for (int c = 0; c < PMU_NCOLS; c++)                                                        \
            for (int i = 0; i < PMU_MAX_CHOICES; i++)                                              \
                for (const struct pmu_choice *ch = &pmu_families[f].col[c][i]; ch && ch->events;   \
                     ch = NULL)

START_TEST(test_table_well_formed)
{
    ck_assert_uint_ge(pmu_n_families, 10);
    for (size_t f = 0; f < pmu_n_families; f++) {
        const struct pmu_family *fam = &pmu_families[f];
        ck_assert_msg(fam->name && fam->pmus && fam->pmus[0], "row %zu", f);
        for (int c = 0; c < PMU_NCOLS; c++)
            ck_assert_msg(fam->col[c][0].events || (fam->na[c] && fam->na[c][0]),
                          "%s: %s has no choice and no reason", fam->name, pmu_col_name[c]);
        char pmus[256], *save = NULL;
        snprintf(pmus, sizeof(pmus), "%s", fam->pmus);
        for (char *p = strtok_r(pmus, " ", &save); p; p = strtok_r(NULL, " ", &save))
            ck_assert_msg(pmu_family_find(p) == fam, "%s: PMU %s finds another row", fam->name, p);
    }
    ck_assert_ptr_null(pmu_family_find("skx_unc_imc0"));
    ck_assert_ptr_null(pmu_family_find("sk"));
    ck_assert_ptr_null(pmu_family_find(""));
    FOR_EACH_CHOICE(f, c, i, ch)
    {
        char buf[1024], *ev[16];
        const char *row = pmu_families[f].name;
        ck_assert_msg(pmu_split(ch->events, buf, sizeof(buf), ev, 16) > 0, "%s: %s: '%s'", row,
                      pmu_col_name[c], ch->events);
        ck_assert_msg(ch->src && strlen(ch->src) > 10, "%s: %s: no source", row, ch->events);
        /* bytes come from lines or CAS commands (x 64) or from a byte unit (x 1) */
        if (c == PMU_DRAM)
            ck_assert_msg(ch->scale == 64 || (ch->scale <= 1 && strstr(ch->events, "data_")),
                          "%s: %s: scale %g", row, ch->events, ch->scale);
        if (ch->how)
            ck_assert_msg(strlen(ch->how) > 20, "%s: %s: an estimate must say how", row,
                          ch->events);
        if (ch->twin)
            ck_assert_msg(pmu_is_kernel(ch->events), "%s: a twin belongs to a kernel choice", row);
    }
    char out[64];
    ck_assert_int_eq(pmu_event_name("INST_RETIRED:ANY_P", "clx", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "clx::INST_RETIRED:ANY_P");
    ck_assert_int_eq(pmu_event_name("adl_grt::INST_RETIRED:ANY_P", "adl_glc", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "adl_grt::INST_RETIRED:ANY_P");
    ck_assert_int_eq(pmu_event_name("kernel:amd_umc_*/event=0x0a/", "x", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "kernel:amd_umc_*/event=0x0a/");
    ck_assert_int_eq(pmu_event_name("INST_RETIRED:ANY_P", "clx", out, 8), -1);
    char *ev[4], buf[64];
    ck_assert_int_eq(pmu_split("A+B", buf, sizeof(buf), ev, 4), 2);
    ck_assert_str_eq(ev[1], "B");
    ck_assert_int_eq(pmu_split("A++B", buf, sizeof(buf), ev, 4), -1);
    ck_assert_int_eq(pmu_split("A+B+C", buf, sizeof(buf), ev, 2), -1);
}
END_TEST

/* ---- libpfm4, in child processes: its configuration is read once at
 * pfm_initialize from the environment ---- */

#ifdef HAVE_PFM
/* Run fn(arg, msg) in a child with the environment set; its exit status
 * (0 ok, 1 failures described in msg, 77 skipped with msg the reason). */
static int in_child(const char *force, int inactive, int (*fn)(const char *, char *),
                    const char *arg, char *msg)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char out[MSG_LEN] = "";
        close(fd[0]);
        if (force)
            setenv("LIBPFM_FORCE_PMU", force, 1);
        else
            unsetenv("LIBPFM_FORCE_PMU");
        if (inactive)
            setenv("LIBPFM_ENCODE_INACTIVE", "1", 1);
        int rc = pfm_initialize() == PFM_SUCCESS ? fn(arg, out) : 2;
        if (rc == 2)
            snprintf(out, sizeof(out), "pfm_initialize failed");
        ssize_t w = write(fd[1], out, strlen(out));
        (void)w;
        _exit(rc);
    }
    close(fd[1]);
    ssize_t n = read(fd[0], msg, MSG_LEN - 1), more;
    char skip[256];
    while (n >= 0 && (more = read(fd[0], skip, sizeof(skip))) > 0)
        ;
    msg[n > 0 ? n : 0] = '\0';
    close(fd[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st), "child for %s died", force ? force : "(unforced)");
    return WEXITSTATUS(st);
}

/* Whether this libpfm4 has a PMU of that name (present here or not). */
static int have_pmu(const char *name)
{
    /* not pfm_for_all_pmus: its bound is the PMU count of the headers this
     * was built with, and a newer libpfm4 at run time has more */
    for (int p = 0; p < PMU_ID_MAX; p++) {
        pfm_pmu_info_t info;
        memset(&info, 0, sizeof(info));
        info.size = sizeof(info);
        if (pfm_get_pmu_info((pfm_pmu_t)p, &info) == PFM_SUCCESS && info.name &&
            !strcmp(info.name, name))
            return 1;
    }
    return 0;
}

static int encode_perf(const char *name, char *msg)
{
    struct perf_event_attr attr;
    pfm_perf_encode_arg_t arg;
    memset(&attr, 0, sizeof(attr));
    memset(&arg, 0, sizeof(arg));
    attr.size = sizeof(attr);
    arg.size = sizeof(arg);
    arg.attr = &attr;
    int rc = pfm_get_os_event_encoding(name, PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
    if (rc != PFM_SUCCESS) {
        size_t used = strlen(msg);
        snprintf(msg + used, MSG_LEN - used, "  %s: %s\n", name, pfm_strerror(rc));
        return 1;
    }
    return 0;
}

/* Whether an event name belongs to pmu: bare names are the forced PMU's,
 * qualified ones only when the qualifier is pmu. */
static int belongs(const char *ev, const char *pmu)
{
    const char *colons = strstr(ev, "::");
    if (pmu_is_kernel(ev) || strchr(ev, '*'))
        return 0;
    if (!colons)
        return pmu[0] != '\0';
    return strlen(pmu) == (size_t)(colons - ev) && !strncmp(ev, pmu, strlen(pmu));
}

/* Every core event of pmu's row (and the generic ones when pmu is "") encodes. */
static int encode_row(const char *pmu, char *msg)
{
    if (pmu[0] && !have_pmu(pmu)) {
        snprintf(msg, MSG_LEN, "not in this libpfm4");
        return 77;
    }
    const struct pmu_family *f = pmu[0] ? pmu_family_find(pmu) : &pmu_generic;
    int bad = 0, n = 0;
    for (int c = 0; c < PMU_NCOLS; c++)
        for (int i = 0; i < PMU_MAX_CHOICES && f->col[c][i].events; i++) {
            char buf[1024], *ev[16], name[PMU_EVENT_NAME_LEN];
            int k = pmu_split(f->col[c][i].events, buf, sizeof(buf), ev, 16);
            for (int t = 0; t < k; t++) {
                if (!belongs(ev[t], pmu) && !(!pmu[0] && strstr(ev[t], "perf::")))
                    continue;
                if (pmu_event_name(ev[t], pmu, name, sizeof(name)))
                    return 1;
                bad |= encode_perf(name, msg);
                n++;
            }
        }
    size_t used = strlen(msg);
    if (!bad)
        snprintf(msg + used, MSG_LEN - used, "%d", n);
    return bad;
}

/* The raw code of a libpfm4 event (PFM_OS_NONE: no perf type needed), the
 * perf-only ":cpu=N" modifier left out; -1 when it does not encode. */
static long long raw_code(const char *name, char *why, size_t len)
{
    char plain[256];
    pfm_pmu_encode_arg_t arg;
    uint64_t *codes = NULL;
    snprintf(plain, sizeof(plain), "%s", name);
    char *cpu = strstr(plain, ":cpu=");
    if (cpu)
        *cpu = '\0';
    memset(&arg, 0, sizeof(arg));
    arg.size = sizeof(arg);
    int rc = pfm_get_os_event_encoding(plain, PFM_PLM3, PFM_OS_NONE, &arg);
    codes = arg.codes;
    if (rc != PFM_SUCCESS || arg.count < 1) {
        snprintf(why, len, "  %s: %s\n", plain, pfm_strerror(rc));
        free(codes);
        return -1;
    }
    long long v = (long long)codes[0];
    free(codes);
    return v;
}

/* One field of a raw kernel term ("uncore_imc_*\/event=0x04,umask=0x03/"). */
static long long term_field(const char *term, const char *field)
{
    char key[32];
    snprintf(key, sizeof(key), "%s=", field);
    const char *p = strstr(term, key);
    return p ? strtoll(p + strlen(key), NULL, 0) : -1;
}

/* Uncore events of every row ('*' instances up to the first this libpfm4
 * lacks) encode, and every raw kernel choice equals its twin. */
static int encode_uncore(const char *unused, char *msg)
{
    int bad = 0, n = 0, missing = 0;
    (void)unused;
    FOR_EACH_CHOICE(f, c, i, ch)
    {
        char buf[1024], *ev[16], why[512];
        int k = pmu_split(ch->events, buf, sizeof(buf), ev, 16);
        for (int t = 0; t < k; t++) {
            char *star = strchr(ev[t], '*');
            if (pmu_is_kernel(ev[t]) || !star)
                continue;
            for (int inst = 0;; inst++) {
                char name[PMU_EVENT_NAME_LEN], pmu[64];
                snprintf(name, sizeof(name), "%.*s%d%s", (int)(star - ev[t]), ev[t], inst,
                         star + 1);
                snprintf(pmu, sizeof(pmu), "%.*s", (int)(strstr(name, "::") - name), name);
                if (!have_pmu(pmu)) {
                    missing += inst == 0;
                    if (inst == 0) {
                        size_t used = strlen(msg);
                        snprintf(msg + used, MSG_LEN - used, "  (no %s)\n", pmu);
                    }
                    break;
                }
                if (raw_code(name, why, sizeof(why)) < 0) {
                    size_t used = strlen(msg);
                    snprintf(msg + used, MSG_LEN - used, "%s", why);
                    bad = 1;
                }
                n++;
            }
        }
        if (!ch->twin)
            continue;
        char tbuf[1024], *tw[16];
        int nt = pmu_split(ch->twin, tbuf, sizeof(tbuf), tw, 16);
        ck_assert_int_eq(nt, k);
        for (int t = 0; t < k; t++) {
            char pmu[64];
            snprintf(pmu, sizeof(pmu), "%.*s", (int)(strstr(tw[t], "::") - tw[t]), tw[t]);
            if (!have_pmu(pmu))
                continue;
            long long code = raw_code(tw[t], why, sizeof(why));
            long long want = term_field(ev[t], "event") | term_field(ev[t], "umask") << 8;
            if (code < 0 || (code & 0xffff) != want) {
                size_t used = strlen(msg);
                snprintf(msg + used, MSG_LEN - used, "  %s is %#llx, its twin %s %#llx\n", ev[t],
                         want, tw[t], code);
                bad = 1;
            }
            n++;
        }
    }
    size_t used = strlen(msg);
    if (!bad)
        snprintf(msg + used, MSG_LEN - used, "%d", n);
    (void)missing;
    return bad;
}
#endif

/* The acceptance test of the table: every libpfm4 name in it encodes on
 * the CPU it is meant for, checked here on whatever CPU runs the tests. */
START_TEST(test_forced_pmus_encode)
{
#ifndef HAVE_PFM
    fprintf(stderr, "pmu: built without libpfm4 (libpfm4-dev): forced-PMU checks skipped\n");
    ck_abort_msg("libpfm4-dev is a dependency (scripts/deps.sh); this build has no "
                 "<perfmon/pfmlib_perf_event.h>");
#else
    char checked[1024] = "", skipped[1024] = "", msg[MSG_LEN], failures[4 * MSG_LEN] = "";
    int models = 0, events = 0;
    for (size_t f = 0; f < pmu_n_families; f++) {
        char pmus[256], *save = NULL;
        snprintf(pmus, sizeof(pmus), "%s", pmu_families[f].pmus);
        for (char *p = strtok_r(pmus, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
            /* ix86arch takes its events from this CPU's CPUID leaf 0xA: only
             * an Intel host can stand in for it */
            int rc = in_child(p, 0, encode_row, p, msg);
            if (rc == 77 || (rc && !strcmp(p, "ix86arch"))) {
                snprintf(skipped + strlen(skipped), sizeof(skipped) - strlen(skipped), " %s", p);
                continue;
            }
            if (rc) {
                snprintf(failures + strlen(failures), sizeof(failures) - strlen(failures),
                         "LIBPFM_FORCE_PMU=%s (row '%s'):\n%s", p, pmu_families[f].name, msg);
                continue;
            }
            models++;
            events += atoi(msg);
            snprintf(checked + strlen(checked), sizeof(checked) - strlen(checked), " %s", p);
        }
    }
    if (in_child(NULL, 0, encode_row, "", msg))
        snprintf(failures + strlen(failures), sizeof(failures) - strlen(failures),
                 "generic events:\n%s", msg);
    else
        events += atoi(msg);
    int uncore = 0;
    if (in_child(NULL, 1, encode_uncore, NULL, msg))
        snprintf(failures + strlen(failures), sizeof(failures) - strlen(failures),
                 "uncore events and kernel twins (LIBPFM_ENCODE_INACTIVE=1):\n%s", msg);
    else
        uncore = atoi(strrchr(msg, '\n') ? strrchr(msg, '\n') + 1 : msg);
    ck_assert_msg(!failures[0], "table events that do not encode:\n%s", failures);
    fprintf(stderr,
            "pmu: %d core events encode on %d forced PMU models (%s); %d uncore events and "
            "kernel twins encode; not in this libpfm4:%s\n",
            events, models, checked + 1, uncore, skipped[0] ? skipped : " none");
    ck_assert_msg(models >= MIN_FORCED_MODELS, "only %d PMU models checked (%s), want >= %d",
                  models, checked, MIN_FORCED_MODELS);
#endif
}
END_TEST

/* ---- the kernel's sysfs PMUs (kpmu.c) ---- */

static void put(const char *root, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *slash = path + strlen(root) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
        *slash = '\0'; /* every directory on the way */
        ck_assert(mkdir(path, 0755) == 0 || errno == EEXIST);
        *slash = '/';
    }
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n", text);
    fclose(f);
}

/* A /sys/bus/event_source/devices as the kernel lays it out, with the
 * format fields and named events of linux arch/x86/events/intel/uncore*.c
 * and amd/uncore.c; the IMC instances 0, 1 and 10 test the numeric order. */
#define MIB_EVENT(pmu, name, terms)                                                                \
    {pmu "/events/" name, terms}, {pmu "/events/" name ".scale", "6.103515625e-5"},                \
    {                                                                                              \
        pmu "/events/" name ".unit", "MiB"                                                         \
    }
#define IMC(n, type)                                                                               \
    {"uncore_imc_" n "/type", type}, {"uncore_imc_" n "/cpumask", "0,28"},                         \
        {"uncore_imc_" n "/format/event", "config:0-7"},                                           \
        {"uncore_imc_" n "/format/umask", "config:8-15"},                                          \
        MIB_EVENT("uncore_imc_" n, "cas_count_read", "event=0x04,umask=0x03")
static const struct {
    const char *rel, *text;
} fake_files[] = {
    IMC("0", "20"),
    IMC("1", "21"),
    IMC("10", "30"),
    {"uncore_imc_free_running_0/type", "25"},
    {"uncore_imc_free_running_0/cpumask", "0"},
    {"uncore_imc_free_running_0/format/event", "config:0-7"},
    {"uncore_imc_free_running_0/format/umask", "config:8-15"},
    MIB_EVENT("uncore_imc_free_running_0", "data_read", "event=0xff,umask=0x20"),
    MIB_EVENT("uncore_imc_free_running_0", "data_write", "event=0xff,umask=0x30"),
    {"uncore_imc/type", "26"},
    {"uncore_imc/cpumask", "0"},
    {"uncore_imc/format/event", "config:0-7"},
    MIB_EVENT("uncore_imc", "data_reads", "event=0x01"),
    MIB_EVENT("uncore_imc", "data_writes", "event=0x02"),
    {"amd_df/type", "11"},
    {"amd_df/cpumask", "0-1,8"},
    {"amd_df/format/event", "config:0-7,32-35"},
    {"amd_df/format/umask", "config:8-15"},
    {"amd_umc_0/type", "12"},
    {"amd_umc_0/cpumask", "0"},
    {"amd_umc_0/format/event", "config:0-7"},
    {"amd_umc_0/format/rdwrmask", "config:8-9"},
    {"amd_umc_1/type", "13"},
    {"amd_umc_1/cpumask", "64"},
    {"amd_umc_1/format/event", "config:0-7"},
    {"amd_umc_1/format/rdwrmask", "config:8-9"},
};

static void fake_sysfs(const char *root)
{
    for (size_t i = 0; i < sizeof(fake_files) / sizeof(fake_files[0]); i++)
        put(root, fake_files[i].rel, fake_files[i].text);
}

START_TEST(test_kpmu_fake_sysfs)
{
    char root[] = "/tmp/sparsebench-kpmu-XXXXXX", why[512] = "", cmd[128];
    ck_assert_ptr_nonnull(mkdtemp(root));
    fake_sysfs(root);
    struct kpmu_event *e = malloc(sizeof(*e));
    ck_assert_ptr_nonnull(e);

    /* raw fields; '*' is numbers only (not _free_running_0), in numeric order */
    ck_assert_msg(kpmu_resolve(e, root, "uncore_imc_*/event=0x04,umask=0x0c/", why, sizeof(why)) ==
                      0,
                  "%s", why);
    ck_assert_uint_eq(e->n, 6); /* 3 instances x CPUs 0 and 28 */
    ck_assert_str_eq(e->c[0].pmu, "uncore_imc_0");
    ck_assert_str_eq(e->c[2].pmu, "uncore_imc_1");
    ck_assert_str_eq(e->c[4].pmu, "uncore_imc_10");
    ck_assert_int_eq(e->c[1].cpu, 28);
    ck_assert_uint_eq(e->c[4].type, 30);
    ck_assert_uint_eq(e->c[0].config, 0x0c04);
    ck_assert(e->scale == 1);
    /* a named event: its terms, and 6.103515625e-5 MiB = 64 bytes per count */
    ck_assert_msg(kpmu_resolve(e, root, "uncore_imc_*/cas_count_read/", why, sizeof(why)) == 0,
                  "%s", why);
    ck_assert_uint_eq(e->c[5].config, 0x0304);
    ck_assert(e->scale == 64.0);
    ck_assert_str_eq(e->unit, "B");
    /* a field split over two ranges: event 0x107 is bits 0-7 and 32 */
    ck_assert_msg(kpmu_resolve(e, root, "amd_df/event=0x107,umask=0x38/", why, sizeof(why)) == 0,
                  "%s", why);
    ck_assert_uint_eq(e->n, 3); /* cpumask 0-1,8 */
    ck_assert_int_eq(e->c[2].cpu, 8);
    ck_assert_uint_eq(e->c[0].config, 0x07ull | 0x38ull << 8 | 1ull << 32);
    ck_assert_msg(kpmu_resolve(e, root, "amd_umc_*/event=0x0a,rdwrmask=0x1/", why, sizeof(why)) ==
                      0,
                  "%s", why);
    ck_assert_uint_eq(e->n, 2);
    ck_assert_uint_eq(e->c[1].config, 0x10a);
    ck_assert_int_eq(e->c[1].cpu, 64);

    /* what cannot be counted says why */
    static const struct {
        const char *spec, *why;
    } bad[] = {
        {"nosuch_*/event=1/", "no nosuch_* PMU"},
        {"uncore_imc_*/bogus=1/", "no format field bogus"},
        {"uncore_imc_*/umask=0x1ff/", "does not fit"},
        {"amd_df/event=0x1000/", "does not fit"},
        {"uncore_imc_*/event=zz/", "not a number"},
        {"uncore_imc_*/no_such_event/", "has no event no_such_event"},
        {"uncore_imc_0", "not kernel:PMU/TERMS/"},
        {"uncore_imc_0/event=1", "not kernel:PMU/TERMS/"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        ck_assert_int_eq(kpmu_resolve(e, root, bad[i].spec, why, sizeof(why)), -1);
        ck_assert_msg(strstr(why, bad[i].why), "%s: '%s'", bad[i].spec, why);
    }

    /* every kernel choice of the table names fields those PMUs have */
    int n = 0;
    FOR_EACH_CHOICE(f, c, i, ch)
    {
        char buf[1024], *ev[16];
        int k = pmu_split(ch->events, buf, sizeof(buf), ev, 16);
        for (int t = 0; t < k; t++) {
            if (!pmu_is_kernel(ev[t]))
                continue;
            ck_assert_msg(kpmu_resolve(e, root, ev[t] + 7, why, sizeof(why)) == 0, "%s: %s: %s",
                          pmu_families[f].name, ev[t], why);
            n++;
        }
    }
    ck_assert_int_ge(n, 10);
    free(e);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A kernel PMU this machine really has (msr's time-stamp counter, on x86
 * VMs too) counts through perf_event_open, alone and as a --papi-events
 * column of a whole run. System-wide counting needs root (or CAP_PERFMON,
 * perf_event_paranoid <= 0): without it the test checks the refusal's
 * reason instead. */
START_TEST(test_kpmu_real_counter)
{
    struct kpmu_event *e = malloc(sizeof(*e));
    char why[512] = "";
    ck_assert_ptr_nonnull(e);
    if (kpmu_resolve(e, KPMU_SYSFS, "msr/tsc/", why, sizeof(why))) {
        fprintf(stderr, "pmu: no msr PMU here (%s): real-counter test skipped\n", why);
        free(e);
        return;
    }
    if (kpmu_open(e, why, sizeof(why))) {
        /* refused: not root (the reason names perf_event_paranoid), or a
         * sandbox that filters perf_event_open even for root */
        ck_assert_msg(strstr(why, "perf_event_open msr") &&
                          (strstr(why, "perf_event_paranoid") || geteuid() == 0),
                      "%s", why);
        fprintf(stderr, "pmu: msr/tsc refused here (%s): real-counter test skipped\n", why);
        free(e);
        return;
    }
    double v = 0;
    int mux = 0;
    kpmu_clear(e);
    ck_assert_int_eq(kpmu_enable(e, 1), 0);
    ck_assert_int_eq(kpmu_mark(e), 0);
    usleep(2000);
    ck_assert_int_eq(kpmu_accumulate(e), 0);
    ck_assert_int_eq(kpmu_total(e, &v, &mux), 0);
    ck_assert_msg(v > 1e5, "msr/tsc counted %g in 2 ms", v); /* >= 50 MHz x 2 ms */
    kpmu_close(e);
    free(e);

    struct bench_counters c;
    struct bench_opts o;
    struct bench_row row;
    char err[512];
    struct layer_config cfg = {.d_model = 32, .scale = 1, .seed = 1, .threads = 1};
    ck_assert_int_eq(bench_counters_open(&c, "papi", "dram_bytes_est=kernel:msr/tsc/", 1, "test",
                                         err, sizeof(err)),
                     0);
    bench_opts_default(&o);
    o.hooks = bench_counters_hooks(&c);
    ck_assert_int_eq(bench_run_point(layer_find("dense"), &cfg, 1, 4, &o, &row, err, sizeof(err)),
                     0);
    ck_assert_msg(row.dram_bytes_est != BENCH_NA && row.dram_bytes_est > 0, "%llu",
                  (unsigned long long)row.dram_bytes_est);
    struct bench_meta m = {0};
    bench_counters_meta(&c, &m);
    const char *d = bench_meta_get(&m, "papi_dram_bytes_est");
    ck_assert_msg(d && strstr(d, "ok: kernel:msr/tsc/") && strstr(d, "--papi-events"), "%s", d);
    bench_meta_free(&m);
    bench_counters_close(&c);
}
END_TEST

static Suite *pmu_suite(void)
{
    Suite *s = suite_create("pmu");
    TCase *t = tcase_create("table");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_table_well_formed);
    tcase_add_test(t, test_forced_pmus_encode);
    suite_add_tcase(s, t);
    TCase *k = tcase_create("kernel sysfs PMUs");
    tcase_set_timeout(k, 60);
    tcase_add_test(k, test_kpmu_fake_sysfs);
    tcase_add_test(k, test_kpmu_real_counter);
    suite_add_tcase(s, k);
    return s;
}

int main(void)
{
    return tu_run_suite(pmu_suite());
}
