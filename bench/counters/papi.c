/* papi.c - hardware counters through PAPI's low-level API where the
 * hardware allows, memory controllers the kernel exposes but PAPI's libpfm4
 * does not know through perf_event_open (kpmu.c), and the kernel's own
 * per-thread accounting for the software events where PAPI cannot read
 * them (research/harness.md sections 3.1-3.5).
 *
 * Which events feed a hardware column depends on the CPU: the table row for
 * the core PMU libpfm4 detects (pmu_table.c) lists each column's choices in
 * order of preference, and the first whose events all count wins. An event
 * counts only when, alone in an event set, add, start, a small workload
 * (arithmetic, fresh pages, a sleep, a buffer read back from DRAM) and stop
 * all return PAPI_OK and it counted something: VMs report events as
 * available (papi_avail, PAPI_query_event) that then fail to add or count
 * zero. A column with no choice that counts is NA with the reason, never
 * 0; one filled by an estimate says how (meta.csv, the row's note).
 * --papi-events replaces a column's choices with the user's events.
 *
 * The PAPI events that pass go into one event set per PAPI component (core
 * and uncore events cannot share one), started at a point's beginning and
 * read just before and after every timed forward, so the cache flush
 * between forwards is not counted; the columns are means per forward.
 * PAPI counts the calling thread: with threads > 1 the worker threads'
 * events are missing (counter_threads = 1 says so); memory-controller
 * events count the whole socket.
 *
 * task_clock_ns, page_faults and context_switches fall back to
 * CLOCK_THREAD_CPUTIME_ID and getrusage(RUSAGE_THREAD) when their perf::
 * events fail: on the bhyve guest this was written on, PAPI disables its
 * whole perf_event component ("libpfm4 no default PMU found"), software
 * events included, while the kernel still keeps these counts.
 */
#include "papi.h"
#include "kpmu.h"
#include "pmu.h"
#include "../measure.h"
#include "../meta.h"
#include "../row.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#ifdef HAVE_PAPI
#include <papi.h>
#endif

/* A choice's events once '*' expands: 12 memory controllers x RD and WR. */
#define MAX_COL_EVENTS 32
#define MAX_TERMS      16                    /* '+'-separated events of one choice */
#define MAX_INSTANCES  16                    /* uncore instances tried for a '*' */
#define MAX_CHOICES    (PMU_MAX_CHOICES + 1) /* the row's, then the generic one */
#define MAX_SETS       4
#define EVENT_NAME_LEN PMU_EVENT_NAME_LEN
#define WHY_LEN        320
#define LIST_LEN       1024
#define NO_HW          "no hardware PMU: the kernel exposes no core PMU"

enum col_id {
    C_CYCLES = PMU_CYCLES,
    C_INSTRUCTIONS = PMU_INSTRUCTIONS,
    C_L1 = PMU_L1,
    C_LL = PMU_LL,
    C_DRAM = PMU_DRAM,
    C_TASK_CLOCK = PMU_NCOLS,
    C_PAGE_FAULTS,
    C_CSW,
    NCOLS
};

static const struct {
    const char *name;
    const char *software; /* its perf:: event, with a kernel-accounting fallback */
} col_def[NCOLS] = {
    [C_CYCLES] = {"cycles", NULL},
    [C_INSTRUCTIONS] = {"instructions", NULL},
    [C_L1] = {"l1_misses", NULL},
    [C_LL] = {"ll_misses", NULL},
    [C_DRAM] = {"dram_bytes_est", NULL},
    [C_TASK_CLOCK] = {"task_clock_ns", "perf::TASK-CLOCK"},
    [C_PAGE_FAULTS] = {"page_faults", "perf::PAGE-FAULTS"},
    [C_CSW] = {"context_switches", "perf::CONTEXT-SWITCHES"},
};

struct event {
    char name[EVENT_NAME_LEN];
    struct kpmu_event *k; /* a kernel event (kpmu.c), else a PAPI one */
    int code, comp;
    int ok;
    char why[WHY_LEN];
    int set, idx;  /* where PAPI counts it */
    long long acc; /* PAPI: summed over the point's forwards */
};

struct column {
    size_t n_choices;
    struct pmu_choice choice[MAX_CHOICES];
    char tried[MAX_CHOICES][WHY_LEN]; /* each choice's outcome, for listings */
    char user[LIST_LEN];              /* --papi-events' events for this column */
    const char *na;                   /* why there is no choice at all */
    int chosen;                       /* index into choice, or -1 */
    size_t n;
    struct event ev[MAX_COL_EVENTS]; /* the chosen choice's events */
    int ok;                          /* every event counts */
    int fallback;                    /* software column read from the kernel's accounting */
    int multiplexed;                 /* this point: a kernel counter was time-shared */
    char why[WHY_LEN];
    char events[LIST_LEN]; /* the chosen events, as counted */
};

struct evset {
    int es, comp, n;
    int dead; /* could not start with all its events: none of them is read */
    long long v0[MAX_COL_EVENTS * NCOLS], v1[MAX_COL_EVENTS * NCOLS];
};

struct bench_papi {
    struct pmu_machine machine;
    int lib_ok;
    char lib_why[WHY_LEN];
    struct column col[NCOLS];
    struct evset set[MAX_SETS];
    int nsets;
    int running, failed; /* this point: sets started; a start or read failed */
    uint64_t forwards;
    double sw0[3], swacc[3]; /* kernel accounting: thread ns, faults, switches */
};

__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t len, const char *fmt,
                                                         ...)
{
    size_t used = strlen(buf);
    va_list ap;
    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* An event's outcome; formatted apart first because the message often
 * quotes the event's own name. */
__attribute__((format(printf, 2, 3))) static void set_why(struct event *e, const char *fmt, ...)
{
    char buf[WHY_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    memcpy(e->why, buf, sizeof(buf));
}

/* ---- the choices: the table's, or --papi-events' ---- */

static int col_index(const char *name, size_t len)
{
    for (int c = 0; c < NCOLS; c++)
        if (strlen(col_def[c].name) == len && !strncmp(col_def[c].name, name, len))
            return c;
    return -1;
}

static void default_choices(struct bench_papi *p)
{
    const struct pmu_family *f = p->machine.family;
    for (int c = 0; c < NCOLS; c++) {
        struct column *col = &p->col[c];
        col->chosen = -1;
        if (col_def[c].software) {
            col->choice[col->n_choices++] =
                (struct pmu_choice){col_def[c].software, 1, NULL,
                                    "libpfm4 lib/pfmlib_perf_event_pmu.c (kernel software "
                                    "event)",
                                    NULL};
            continue;
        }
        for (int i = 0; i < PMU_MAX_CHOICES && f->col[c][i].events; i++)
            col->choice[col->n_choices++] = f->col[c][i];
        if (f != &pmu_generic && pmu_generic.col[c][0].events)
            col->choice[col->n_choices++] = pmu_generic.col[c][0];
        col->na = f->na[c];
    }
}

/* The next "col=..." item of a spec: up to a ',' that is not inside a
 * kernel event's "/TERMS/" (those hold commas of their own). */
static char *next_item(char **s)
{
    char *start = *s, *p = start;
    int slashes = 0;
    if (!*start)
        return NULL;
    for (; *p && (*p != ',' || slashes % 2); p++)
        slashes += *p == '/';
    *s = *p ? p + 1 : p;
    *p = '\0';
    return start;
}

static int apply_spec(struct bench_papi *p, const char *spec, char *err, size_t errlen)
{
    char *copy = strdup(spec), *rest = copy;
    int rc = 0;
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (char *item; !rc && (item = next_item(&rest)) != NULL;) {
        char *eq = strchr(item, '='), buf[LIST_LEN], *ev[MAX_TERMS];
        int c = eq ? col_index(item, (size_t)(eq - item)) : -1;
        if (!*item)
            continue;
        if (c < 0) {
            snprintf(err, errlen,
                     "--papi-events: '%s' is not column=EVENT[+EVENT...]; columns: cycles, "
                     "instructions, l1_misses, ll_misses, dram_bytes_est (events count 64-byte "
                     "lines), task_clock_ns, page_faults, context_switches",
                     item);
            rc = -1;
            break;
        }
        struct column *col = &p->col[c];
        col->n_choices = 0;
        col->na = "dropped by --papi-events";
        if (!eq[1])
            continue;
        if (strlen(eq + 1) >= sizeof(col->user) ||
            pmu_split(eq + 1, buf, sizeof(buf), ev, MAX_TERMS) < 0) {
            snprintf(err, errlen,
                     "--papi-events: column %s: an empty event, more than %d events or more "
                     "than %d characters",
                     col_def[c].name, MAX_TERMS, (int)sizeof(col->user) - 1);
            rc = -1;
            break;
        }
        snprintf(col->user, sizeof(col->user), "%s", eq + 1);
        col->choice[col->n_choices++] =
            (struct pmu_choice){col->user, c == C_DRAM ? 64 : 1, NULL, "--papi-events", NULL};
    }
    free(copy);
    return rc;
}

/* ---- probing ---- */

/* Enough of everything that every table event counts something: cycles
 * and instructions, fresh pages (faults), a sleep (a context switch), and
 * a buffer written, flushed and read back, so its lines come from DRAM. */
static void probe_workload(void)
{
    static const size_t bytes = 4 << 20;
    volatile double x = 0;
    for (int i = 0; i < 200000; i++)
        x += i * 0.5;
    char *pg = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pg != MAP_FAILED) {
        struct layer_info info = {.n_regions = 1, .regions = {{pg, bytes}}};
        volatile unsigned char sink = 0;
        memset(pg, 1, bytes);
        bench_cache_evict(&info);
        for (size_t off = 0; off < bytes; off += 64)
            sink ^= (unsigned char)pg[off];
        (void)sink;
        munmap(pg, bytes);
    }
    struct timespec ts = {0, 100000}; /* sleeping switches this thread out */
    nanosleep(&ts, NULL);
}

static void kernel_probe(struct event *e)
{
    double v = 0;
    int mux = 0;
    if (kpmu_open(e->k, e->why, sizeof(e->why)))
        return;
    kpmu_clear(e->k);
    if (kpmu_enable(e->k, 1) || kpmu_mark(e->k)) {
        set_why(e, "%s: enabling it failed", e->name);
        goto out_close;
    }
    probe_workload();
    if (kpmu_accumulate(e->k) || kpmu_total(e->k, &v, &mux)) {
        set_why(e, "%s: reading it failed", e->name);
        goto out_close;
    }
    kpmu_enable(e->k, 0);
    if (v <= 0) {
        set_why(e, "%s: counted %.0f in the probe (needs > 0)", e->name, v);
        goto out_close;
    }
    e->ok = 1;
    set_why(e, "%s: ok (%.0f in the probe)", e->name, v);
    return;
out_close:
    kpmu_close(e->k);
}

#ifdef HAVE_PAPI
/* PAPI's message, and the component's reason when it is disabled. */
static void papi_why(char *buf, size_t len, const char *what, const char *ev, int rc, int comp)
{
    const char *msg = rc > 0 ? "some events could not be added" : PAPI_strerror(rc);
    const PAPI_component_info_t *ci = comp >= 0 ? PAPI_get_component_info(comp) : NULL;
    if (ci && ci->disabled)
        snprintf(buf, len, "%.64s: %.32s: %.64s (component %.32s disabled: %.80s)", ev, what,
                 msg ? msg : "error", ci->name, ci->disabled_reason);
    else
        snprintf(buf, len, "%s: %s: %s", ev, what, msg ? msg : "error");
}

static int papi_resolve(struct event *e)
{
    int rc = PAPI_event_name_to_code(e->name, &e->code);
    if (rc == PAPI_OK)
        return 0;
    /* libpfm4 resolves the names of the component that would count it */
    int comp =
        PAPI_get_component_index(strstr(e->name, "_unc") ? "perf_event_uncore" : "perf_event");
    papi_why(e->why, sizeof(e->why), "unknown event", e->name, rc, comp);
    return -1;
}

static void papi_probe(struct event *e)
{
    int es = PAPI_NULL, rc;
    long long v = 0;
    e->comp = PAPI_get_event_component(e->code);
    if ((rc = PAPI_create_eventset(&es)) != PAPI_OK) {
        papi_why(e->why, sizeof(e->why), "create_eventset", e->name, rc, e->comp);
        return;
    }
    if ((rc = PAPI_add_event(es, e->code)) != PAPI_OK) {
        papi_why(e->why, sizeof(e->why), "add", e->name, rc, e->comp);
        goto out_destroy;
    }
    if ((rc = PAPI_start(es)) != PAPI_OK) {
        papi_why(e->why, sizeof(e->why), "start", e->name, rc, e->comp);
        goto out_cleanup;
    }
    probe_workload();
    if ((rc = PAPI_stop(es, &v)) != PAPI_OK) {
        papi_why(e->why, sizeof(e->why), "stop", e->name, rc, e->comp);
        goto out_cleanup;
    }
    if (v <= 0) {
        set_why(e, "%s: counted %lld in the probe (needs > 0)", e->name, v);
        goto out_cleanup;
    }
    e->ok = 1;
    set_why(e, "%s: ok (%lld in the probe)", e->name, v);
out_cleanup:
    PAPI_cleanup_eventset(es);
out_destroy:
    PAPI_destroy_eventset(&es);
}
#else
static int papi_resolve(struct event *e)
{
    set_why(e, "%s: built without PAPI (pkg-config found no papi when make ran)", e->name);
    return -1;
}

static void papi_probe(struct event *e)
{
    (void)e;
}
#endif

static void free_events(struct column *col)
{
    for (size_t i = 0; i < col->n; i++)
        if (col->ev[i].k) {
            kpmu_close(col->ev[i].k);
            free(col->ev[i].k);
            col->ev[i].k = NULL;
        }
    col->n = 0;
}

static struct event *new_event(struct column *col, const char *name)
{
    if (col->n == MAX_COL_EVENTS)
        return NULL;
    struct event *e = &col->ev[col->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->comp = -1;
    return e;
}

/* One term of a choice into the column's events: a kernel event, one PAPI
 * event, or every instance of an uncore PMU that this machine has. A bare
 * table name is the detected PMU's (qualify); the user's names are PAPI's
 * as given (presets, "perf::...", a default-PMU name). Fills why and
 * returns -1 when it cannot be counted. */
static int add_term(struct bench_papi *p, struct column *col, const char *term, int qualify,
                    char *why, size_t whylen)
{
    char name[EVENT_NAME_LEN];
    struct event *e;
    if (pmu_event_name(term, qualify ? p->machine.pmu : NULL, name, sizeof(name)) ||
        !(e = new_event(col, name))) {
        snprintf(why, whylen, "%s: too long, or too many events", term);
        return -1;
    }
    if (pmu_is_kernel(name)) {
        if (!(e->k = malloc(sizeof(*e->k)))) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        if (kpmu_resolve(e->k, KPMU_SYSFS, name + 7, why, whylen))
            return -1;
        kernel_probe(e);
        if (!e->ok)
            snprintf(why, whylen, "%s", e->why);
        return e->ok ? 0 : -1;
    }
    char *star = strchr(name, '*'), *colons = strstr(name, "::");
    if (!star || (colons && star > colons)) {
        if (!p->lib_ok) {
            snprintf(why, whylen, "%s", p->lib_why);
            return -1;
        }
        if (papi_resolve(e) == 0)
            papi_probe(e);
        if (!e->ok)
            snprintf(why, whylen, "%s", e->why);
        return e->ok ? 0 : -1;
    }
    col->n--; /* the pattern itself is not an event; its instances are */
    int found = 0;
    for (int i = 0; i < MAX_INSTANCES; i++) {
        char inst[EVENT_NAME_LEN];
        snprintf(inst, sizeof(inst), "%.*s%d%s", (int)(star - name), name, i, star + 1);
        if (!(e = new_event(col, inst))) {
            snprintf(why, whylen, "%s: more than %d events", term, MAX_COL_EVENTS);
            return -1;
        }
        if (!p->lib_ok || papi_resolve(e)) {
            if (!found)
                snprintf(why, whylen, "%s", p->lib_ok ? e->why : p->lib_why);
            col->n--; /* this machine has no such instance */
            continue;
        }
        found++;
        papi_probe(e);
        if (!e->ok) {
            snprintf(why, whylen, "%s", e->why);
            return -1;
        }
    }
    return found ? 0 : -1;
}

/* The first choice whose events all count; each one's outcome in tried. */
static void choose(struct bench_papi *p, struct column *col)
{
    for (size_t i = 0; i < col->n_choices; i++) {
        char buf[LIST_LEN], *terms[MAX_TERMS], why[WHY_LEN] = "";
        int n = pmu_split(col->choice[i].events, buf, sizeof(buf), terms, MAX_TERMS), rc = n < 0;
        if (n < 0)
            snprintf(why, sizeof(why), "%s: not EV+EV+...", col->choice[i].events);
        for (int t = 0; t < n && !rc; t++)
            rc = add_term(p, col, terms[t], col->choice[i].events != col->user, why, sizeof(why));
        if (!rc) {
            col->chosen = (int)i;
            snprintf(col->tried[i], WHY_LEN, "ok");
            return;
        }
        snprintf(col->tried[i], WHY_LEN, "%s", why);
        free_events(col);
    }
}

#ifdef HAVE_PAPI
static struct evset *set_for(struct bench_papi *p, int comp)
{
    for (int s = 0; s < p->nsets; s++)
        if (p->set[s].comp == comp)
            return &p->set[s];
    if (p->nsets == MAX_SETS)
        return NULL;
    struct evset *set = &p->set[p->nsets];
    set->es = PAPI_NULL;
    set->comp = comp;
    set->n = 0;
    if (PAPI_create_eventset(&set->es) != PAPI_OK)
        return NULL;
    p->nsets++;
    return set;
}

/* The PAPI events that count alone go into one set per component. */
static void build_sets(struct bench_papi *p)
{
    for (int c = 0; c < NCOLS; c++)
        for (size_t i = 0; i < p->col[c].n; i++) {
            struct event *e = &p->col[c].ev[i];
            if (!e->ok || e->k)
                continue;
            struct evset *set = set_for(p, e->comp);
            int rc = set ? PAPI_add_event(set->es, e->code) : PAPI_ENOMEM;
            if (rc != PAPI_OK) {
                e->ok = 0;
                papi_why(e->why, sizeof(e->why), "counting it with the others", e->name, rc,
                         e->comp);
                continue;
            }
            e->set = (int)(set - p->set);
            e->idx = set->n++;
        }
    for (int s = 0; s < p->nsets; s++) { /* the whole set must start and stop too */
        long long v[MAX_COL_EVENTS * NCOLS];
        int rc = PAPI_start(p->set[s].es);
        if (rc == PAPI_OK)
            rc = PAPI_stop(p->set[s].es, v);
        if (rc == PAPI_OK)
            continue;
        p->set[s].dead = 1;
        for (int c = 0; c < NCOLS; c++)
            for (size_t i = 0; i < p->col[c].n; i++) {
                struct event *e = &p->col[c].ev[i];
                if (e->ok && !e->k && e->set == s) {
                    e->ok = 0;
                    papi_why(e->why, WHY_LEN, "starting its event set", e->name, rc,
                             p->set[s].comp);
                }
            }
    }
}
#endif

static void probe_all(struct bench_papi *p)
{
#ifdef HAVE_PAPI
    int rc = PAPI_library_init(PAPI_VER_CURRENT);
    if (rc != PAPI_VER_CURRENT)
        snprintf(p->lib_why, sizeof(p->lib_why), "PAPI_library_init: %s",
                 rc > 0 ? "header and library versions differ" : PAPI_strerror(rc));
    else
        p->lib_ok = 1;
#else
    snprintf(p->lib_why, sizeof(p->lib_why),
             "built without PAPI (pkg-config found no papi when make ran)");
#endif
    for (int c = 0; c < NCOLS; c++)
        choose(p, &p->col[c]);
#ifdef HAVE_PAPI
    if (p->lib_ok)
        build_sets(p);
#endif
}

/* The chosen events as counted: names, instances expanded. */
static void list_events(struct column *col)
{
    col->events[0] = '\0';
    for (size_t i = 0; i < col->n; i++) {
        append(col->events, sizeof(col->events), "%s%s", i ? "+" : "", col->ev[i].name);
        if (col->ev[i].k) {
            const struct kpmu_event *k = col->ev[i].k;
            append(col->events, sizeof(col->events), " [%s", k->c[0].pmu);
            if (k->n > 1)
                append(col->events, sizeof(col->events), " .. %s", k->c[k->n - 1].pmu);
            append(col->events, sizeof(col->events), ": %zu counter%s]", k->n,
                   k->n == 1 ? "" : "s");
        }
    }
}

/* A column counts when a choice's events all do; else its reason: the
 * machine's when it has no hardware PMU, else the first choice's failure. */
static void resolve_columns(struct bench_papi *p)
{
    for (int c = 0; c < NCOLS; c++) {
        struct column *col = &p->col[c];
        col->ok = col->chosen >= 0;
        for (size_t i = 0; i < col->n && col->ok; i++)
            if (!col->ev[i].ok) {
                col->ok = 0;
                snprintf(col->tried[col->chosen], WHY_LEN, "%s", col->ev[i].why);
            }
        if (col->ok) {
            list_events(col);
            continue;
        }
        if (col->n_choices == 0)
            snprintf(col->why, sizeof(col->why), "%s", col->na ? col->na : "no event configured");
        else if (!p->machine.kernel_hw && !col_def[c].software && !col->user[0])
            snprintf(col->why, sizeof(col->why), "%s", NO_HW);
        else
            snprintf(col->why, sizeof(col->why), "%s", col->tried[0]);
        col->fallback = col_def[c].software != NULL;
    }
}

/* One line: which columns are NA and why, which are estimated, which come
 * from the kernel. */
static void summarise(const struct bench_papi *p, char *why, size_t whylen)
{
    char na[160] = "", fb[160] = "", est[160] = "";
    const char *reason = NULL;
    for (int c = 0; c < NCOLS; c++) {
        const struct column *col = &p->col[c];
        if (col->ok && col->choice[col->chosen].how)
            append(est, sizeof(est), "%s%s", est[0] ? " " : "", col_def[c].name);
        if (col->ok)
            continue;
        append(col->fallback ? fb : na, sizeof(na), "%s%s", (col->fallback ? fb : na)[0] ? " " : "",
               col_def[c].name);
        if (!reason && !col->fallback)
            reason = col->why;
    }
    snprintf(why, whylen, "papi (%s):", p->machine.pmu[0] ? p->machine.pmu : "no core PMU");
    if (!na[0] && !fb[0])
        append(why, whylen, " every column counts");
    if (na[0] && reason && !strcmp(reason, NO_HW))
        append(why, whylen, " %s NA (no hardware PMU: %s)", na, p->machine.why);
    else if (na[0])
        append(why, whylen, " %s NA (%s)", na, reason);
    if (est[0])
        append(why, whylen, "%s %s estimated (meta.csv papi_* says how)", na[0] ? ";" : "", est);
    if (fb[0])
        append(why, whylen,
               "%s %s from the kernel's per-thread accounting (their perf:: events "
               "do not count)",
               na[0] || est[0] ? ";" : "", fb);
}

int bench_papi_open(struct bench_papi **out, const char *spec, char *why, size_t whylen, char *err,
                    size_t errlen)
{
    struct bench_papi *p = calloc(1, sizeof(*p));
    *out = NULL;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pmu_machine_detect(&p->machine);
    default_choices(p);
    if (spec && apply_spec(p, spec, err, errlen)) {
        free(p);
        return -1;
    }
    probe_all(p);
    resolve_columns(p);
    summarise(p, why, whylen);
    *out = p;
    return 0;
}

void bench_papi_close(struct bench_papi *p)
{
    if (!p)
        return;
    for (int c = 0; c < NCOLS; c++)
        free_events(&p->col[c]);
#ifdef HAVE_PAPI
    for (int s = 0; s < p->nsets; s++) {
        long long v[MAX_COL_EVENTS * NCOLS];
        if (p->running && !p->set[s].dead)
            PAPI_stop(p->set[s].es, v);
        PAPI_cleanup_eventset(p->set[s].es);
        PAPI_destroy_eventset(&p->set[s].es);
    }
    if (p->lib_ok)
        PAPI_shutdown();
#endif
    free(p);
}

int bench_papi_hardware_ok(const struct bench_papi *p)
{
    return p && p->col[C_INSTRUCTIONS].ok;
}

const char *bench_papi_hardware_why(const struct bench_papi *p)
{
    return p->col[C_INSTRUCTIONS].why;
}

/* ---- per point and per forward ---- */

static int any_fallback(const struct bench_papi *p)
{
    for (int c = 0; c < NCOLS; c++)
        if (p->col[c].fallback)
            return 1;
    return 0;
}

/* The thread's CPU time, faults and switches; the clock is read nearest
 * the forward (last before it, first after it), so the window holds no
 * getrusage call. */
static void kernel_read(double v[3], int before)
{
    struct timespec ts;
    struct rusage ru;
    if (!before)
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    getrusage(RUSAGE_THREAD, &ru);
    if (before)
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    v[0] = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
    v[1] = (double)(ru.ru_minflt + ru.ru_majflt);
    v[2] = (double)(ru.ru_nvcsw + ru.ru_nivcsw);
}

/* Start (on) or stop every counted kernel event; -1 when one fails. */
static int kernel_enable(struct bench_papi *p, int on)
{
    int rc = 0;
    for (int c = 0; c < NCOLS; c++)
        for (size_t i = 0; p->col[c].ok && i < p->col[c].n; i++)
            if (p->col[c].ev[i].k) {
                if (on)
                    kpmu_clear(p->col[c].ev[i].k);
                if (kpmu_enable(p->col[c].ev[i].k, on))
                    rc = -1;
            }
    return rc;
}

static void stop_sets(struct bench_papi *p)
{
#ifdef HAVE_PAPI
    for (int s = 0; s < p->nsets && p->running; s++) {
        long long v[MAX_COL_EVENTS * NCOLS];
        if (!p->set[s].dead)
            PAPI_stop(p->set[s].es, v);
    }
#endif
    if (p->running)
        kernel_enable(p, 0);
    p->running = 0;
}

static int point_begin(void *ctx, const struct bench_row *row)
{
    struct bench_papi *p = ctx;
    (void)row;
    stop_sets(p); /* an interrupted point never reached point_end */
    p->forwards = 0;
    p->failed = 0;
    memset(p->swacc, 0, sizeof(p->swacc));
    for (int c = 0; c < NCOLS; c++) {
        p->col[c].multiplexed = 0;
        for (size_t i = 0; i < p->col[c].n; i++)
            p->col[c].ev[i].acc = 0;
    }
#ifdef HAVE_PAPI
    for (int s = 0; s < p->nsets; s++)
        if (!p->set[s].dead && PAPI_start(p->set[s].es) != PAPI_OK)
            p->failed = 1;
#endif
    if (kernel_enable(p, 1))
        p->failed = 1;
    p->running = 1;
    return 0;
}

static void forward_begin(void *ctx)
{
    struct bench_papi *p = ctx;
    if (any_fallback(p))
        kernel_read(p->sw0, 1);
    for (int c = 0; c < NCOLS; c++)
        for (size_t i = 0; p->col[c].ok && i < p->col[c].n; i++)
            if (p->col[c].ev[i].k && kpmu_mark(p->col[c].ev[i].k))
                p->failed = 1;
#ifdef HAVE_PAPI
    for (int s = 0; s < p->nsets; s++)
        if (!p->set[s].dead && PAPI_read(p->set[s].es, p->set[s].v0) != PAPI_OK)
            p->failed = 1;
#endif
}

static void forward_end(void *ctx)
{
    struct bench_papi *p = ctx;
#ifdef HAVE_PAPI
    for (int s = 0; s < p->nsets; s++)
        if (!p->set[s].dead && PAPI_read(p->set[s].es, p->set[s].v1) != PAPI_OK)
            p->failed = 1;
#endif
    for (int c = 0; c < NCOLS; c++)
        for (size_t i = 0; p->col[c].ok && i < p->col[c].n; i++) {
            struct event *e = &p->col[c].ev[i];
            if (e->k) {
                if (kpmu_accumulate(e->k))
                    p->failed = 1;
            }
#ifdef HAVE_PAPI
            else if (e->ok) {
                e->acc += p->set[e->set].v1[e->idx] - p->set[e->set].v0[e->idx];
            }
#endif
        }
    if (any_fallback(p)) {
        double v[3];
        kernel_read(v, 0);
        for (int k = 0; k < 3; k++)
            p->swacc[k] += v[k] - p->sw0[k];
    }
    p->forwards++;
}

/* Mean per forward of a column, or NAN. */
static double column_mean(struct bench_papi *p, int c)
{
    struct column *col = &p->col[c];
    if (p->forwards == 0)
        return NAN;
    if (col->fallback)
        return p->swacc[c - C_TASK_CLOCK] / (double)p->forwards;
    if (!col->ok || p->failed)
        return NAN;
    /* kernel events with a byte unit are bytes already; the rest are
     * counts of the choice's unit (64-byte lines for dram_bytes_est) */
    double counts = 0, bytes = 0, scale = col->choice[col->chosen].scale;
    for (size_t i = 0; i < col->n; i++) {
        const struct kpmu_event *k = col->ev[i].k;
        double v = 0;
        if (!k)
            v = (double)col->ev[i].acc;
        else if (kpmu_total(k, &v, &col->multiplexed))
            return NAN;
        *(k && !strcmp(k->unit, "B") ? &bytes : &counts) += v;
    }
    return (counts * (scale > 0 ? scale : 1) + bytes) / (double)p->forwards;
}

static uint64_t as_count(double v)
{
    return isfinite(v) ? (uint64_t)llround(v) : BENCH_NA;
}

static void point_end(void *ctx, struct bench_row *row)
{
    struct bench_papi *p = ctx;
    stop_sets(p);
    snprintf(row->counter_source, sizeof(row->counter_source), "papi");
    row->counter_threads = 1;
    row->cycles = column_mean(p, C_CYCLES);
    row->instructions = as_count(column_mean(p, C_INSTRUCTIONS));
    row->l1_misses = as_count(column_mean(p, C_L1));
    row->ll_misses = as_count(column_mean(p, C_LL));
    row->dram_bytes_est = as_count(column_mean(p, C_DRAM));
    row->task_clock_ns = column_mean(p, C_TASK_CLOCK);
    row->page_faults = column_mean(p, C_PAGE_FAULTS);
    row->context_switches = column_mean(p, C_CSW);
    char na[160] = "", est[160] = "";
    for (int c = 0; c < NCOLS; c++) {
        const struct column *col = &p->col[c];
        if (!col->ok && !col->fallback)
            append(na, sizeof(na), "%s%s", na[0] ? " " : "", col_def[c].name);
        else if (col->ok && (col->choice[col->chosen].how || col->multiplexed))
            append(est, sizeof(est), "%s%s", est[0] ? " " : "", col_def[c].name);
    }
    if (p->failed)
        snprintf(na, sizeof(na), "every PAPI column (a read failed during the point)");
    if (na[0])
        bench_row_note(row, "papi NA: %s", na);
    if (est[0] && !p->failed)
        bench_row_note(row, "papi estimated: %s", est);
}

void bench_papi_hooks(struct bench_papi *p, struct bench_hooks *h)
{
    *h = (struct bench_hooks){
        .ctx = p,
        .point_begin = point_begin,
        .forward_begin = forward_begin,
        .forward_end = forward_end,
        .point_end = point_end,
    };
}

/* ---- what was chosen, for meta.csv and `sparsebench counters` ---- */

const struct pmu_machine *bench_papi_machine(const struct bench_papi *p)
{
    return &p->machine;
}

int bench_papi_columns(void)
{
    return NCOLS;
}

void bench_papi_column(const struct bench_papi *p, int c, struct bench_papi_column *out)
{
    const struct column *col = &p->col[c];
    memset(out, 0, sizeof(*out));
    out->name = col_def[c].name;
    out->ok = col->ok;
    out->fallback = col->fallback;
    out->why = col->why;
    out->events = col->events;
    out->n_choices = col->n_choices;
    for (size_t i = 0; i < col->n_choices && i < BENCH_PAPI_MAX_CHOICES; i++) {
        out->choice[i] = &col->choice[i];
        out->tried[i] = col->tried[i][0] ? col->tried[i] : "not tried (an earlier choice counts)";
    }
    out->chosen = col->ok ? &col->choice[col->chosen] : NULL;
    out->kernel_fallback = c == C_TASK_CLOCK    ? "CLOCK_THREAD_CPUTIME_ID"
                           : c == C_PAGE_FAULTS ? "getrusage minflt + majflt"
                           : c == C_CSW         ? "getrusage nvcsw + nivcsw"
                                                : NULL;
}

void bench_papi_meta(const struct bench_papi *p, struct bench_meta *m)
{
    char k[64];
    bench_meta_set(m, "papi_library", "%s", p->lib_ok ? "initialised" : p->lib_why);
    bench_meta_set(m, "papi_pmu", "%s", p->machine.why);
    bench_meta_set(m, "papi_pmu_row", "%s", p->machine.family->name);
    for (int c = 0; c < NCOLS; c++) {
        struct bench_papi_column info;
        bench_papi_column(p, c, &info);
        snprintf(k, sizeof(k), "papi_%s", info.name);
        char scale[32] = "";
        if (info.ok && info.chosen->scale > 1)
            snprintf(scale, sizeof(scale), " x %g", info.chosen->scale);
        if (info.ok && info.chosen->how)
            bench_meta_set(m, k, "estimate (%s): %s%s; %s", info.chosen->how, info.events, scale,
                           info.chosen->src);
        else if (info.ok)
            bench_meta_set(m, k, "ok: %s%s; %s", info.events, scale, info.chosen->src);
        else if (info.fallback)
            bench_meta_set(m, k, "kernel accounting (%s); %s", info.kernel_fallback, info.why);
        else {
            char tried[LIST_LEN] = "", ev[LIST_LEN];
            for (size_t i = 0; i < info.n_choices && i < BENCH_PAPI_MAX_CHOICES; i++) {
                pmu_choice_events(info.choice[i], p->machine.pmu, ev, sizeof(ev));
                append(tried, sizeof(tried), "%s%s", i ? ", " : "; tried ", ev);
            }
            bench_meta_set(m, k, "NA: %s%s", info.why, tried);
        }
    }
}
