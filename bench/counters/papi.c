/* papi.c - hardware counters through PAPI's low-level API where the
 * hardware allows, and the kernel's own per-thread accounting for the
 * software events where PAPI cannot read them (research/harness.md
 * sections 3.1-3.5).
 *
 * Every counter column is fed by one PAPI event, or a sum of several (the
 * memory controller's CAS counts, one per channel), configurable with
 * --papi-events. An event is trusted only when, alone in an event set, add,
 * start, a tiny workload (arithmetic, four fresh pages, a 0.1 ms sleep) and
 * stop all return PAPI_OK and it counted something: VMs report events as
 * available (papi_avail, PAPI_query_event) that then fail to add or count
 * zero. What does not count is NA with the reason (PAPI_strerror, and the
 * component's own disabled reason), never 0.
 *
 * The events that pass go into one event set per PAPI component (core and
 * uncore events cannot share one), started at a point's beginning and read
 * just before and after every timed forward, so the cache flush between
 * forwards is not counted; the columns are means per forward. PAPI counts
 * the calling thread: with threads > 1 the worker threads' events are
 * missing (counter_threads = 1 says so).
 *
 * task_clock_ns, page_faults and context_switches fall back to
 * CLOCK_THREAD_CPUTIME_ID and getrusage(RUSAGE_THREAD) when their perf::
 * events fail: on the bhyve guest this was written on, PAPI disables its
 * whole perf_event component ("libpfm4 no default PMU found"), software
 * events included, while the kernel still keeps these counts.
 */
#include "papi.h"
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

#define MAX_COL_EVENTS 16
#define MAX_SETS       4
#define EVENT_NAME_LEN 128
#define WHY_LEN        320
#define CAS_BYTES      64 /* each memory-controller CAS moves one 64-byte line */

enum col_id {
    C_CYCLES,
    C_INSTRUCTIONS,
    C_L1,
    C_LL,
    C_DRAM,
    C_TASK_CLOCK,
    C_PAGE_FAULTS,
    C_CSW,
    NCOLS
};

static const struct {
    const char *name;
    int software; /* has a kernel-accounting fallback */
} col_def[NCOLS] = {
    [C_CYCLES] = {"cycles", 0},
    [C_INSTRUCTIONS] = {"instructions", 0},
    [C_L1] = {"l1_misses", 0},
    [C_LL] = {"ll_misses", 0},
    [C_DRAM] = {"dram_bytes_est", 0},
    [C_TASK_CLOCK] = {"task_clock_ns", 1},
    [C_PAGE_FAULTS] = {"page_faults", 1},
    [C_CSW] = {"context_switches", 1},
};

/* Intel Skylake-SP / Cascade Lake memory controllers: six channels, each
 * CAS one 64-byte line (research/harness.md section 3.3). Elsewhere these
 * do not exist and dram_bytes_est is NA unless --papi-events names the
 * machine's own. */
#define IMC(n)                                                                                     \
    "skx_unc_imc" #n "::UNC_M_CAS_COUNT:RD:cpu=0+skx_unc_imc" #n "::UNC_M_CAS_COUNT:WR:cpu=0"
const char bench_papi_default_events[] =
    "cycles=PAPI_TOT_CYC,instructions=PAPI_TOT_INS,l1_misses=PAPI_L1_DCM,ll_misses=PAPI_L3_TCM,"
    "dram_bytes_est=" IMC(0) "+" IMC(1) "+" IMC(2) "+" IMC(3) "+" IMC(4) "+" IMC(
        5) ","
           "task_clock_ns=perf::TASK-CLOCK,page_faults=perf::PAGE-FAULTS,"
           "context_switches=perf::CONTEXT-SWITCHES";
#undef IMC

struct event {
    char name[EVENT_NAME_LEN];
    int code, comp;
    int ok;
    char why[WHY_LEN];
    int set, idx;  /* where it is counted */
    long long acc; /* summed over the point's forwards */
};

struct column {
    size_t n;
    struct event ev[MAX_COL_EVENTS];
    int ok;       /* every event counts */
    int fallback; /* software column read from the kernel's accounting */
    char why[WHY_LEN];
};

struct evset {
    int es, comp, n;
    int dead; /* could not start with all its events: none of them is read */
    long long v0[MAX_COL_EVENTS * NCOLS], v1[MAX_COL_EVENTS * NCOLS];
};

struct bench_papi {
    int lib_ok;
    char lib_why[WHY_LEN];
    struct column col[NCOLS];
    struct evset set[MAX_SETS];
    int nsets;
    int running, failed; /* this point: sets started; a start or read failed */
    uint64_t forwards;
    double sw0[3], swacc[3]; /* kernel accounting: thread ns, faults, switches */
};

/* ---- the specification "column=EV+EV,column=..." ---- */

static int col_index(const char *name, size_t len)
{
    for (int c = 0; c < NCOLS; c++)
        if (strlen(col_def[c].name) == len && !strncmp(col_def[c].name, name, len))
            return c;
    return -1;
}

static int apply_spec(struct bench_papi *p, const char *spec, char *err, size_t errlen)
{
    char *copy = strdup(spec), *save = NULL;
    int rc = 0;
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        int c = eq ? col_index(item, (size_t)(eq - item)) : -1;
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
        col->n = 0;
        char *esave = NULL;
        for (char *ev = strtok_r(eq + 1, "+", &esave); ev; ev = strtok_r(NULL, "+", &esave)) {
            if (col->n == MAX_COL_EVENTS || strlen(ev) >= EVENT_NAME_LEN) {
                snprintf(err, errlen,
                         "--papi-events: column %s: more than %d events or a name "
                         "longer than %d characters",
                         col_def[c].name, MAX_COL_EVENTS, EVENT_NAME_LEN - 1);
                rc = -1;
                break;
            }
            snprintf(col->ev[col->n++].name, EVENT_NAME_LEN, "%s", ev);
        }
    }
    free(copy);
    return rc;
}

/* ---- probing ---- */

/* Enough of everything that every default event counts something. */
static void probe_workload(void)
{
    volatile double x = 0;
    for (int i = 0; i < 200000; i++)
        x += i * 0.5;
    size_t bytes = 4 * 4096;
    char *pg = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pg != MAP_FAILED) {
        for (size_t off = 0; off < bytes; off += 4096)
            pg[off] = 1;
        munmap(pg, bytes);
    }
    struct timespec ts = {0, 100000}; /* sleeping switches this thread out */
    nanosleep(&ts, NULL);
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

static void probe_event(struct event *e)
{
    int es = PAPI_NULL, rc;
    long long v = 0;
    e->ok = 0;
    e->comp = -1;
    rc = PAPI_event_name_to_code(e->name, &e->code);
    if (rc != PAPI_OK) {
        /* libpfm4 resolves the names of the component that would count it */
        int comp =
            PAPI_get_component_index(strstr(e->name, "_unc") ? "perf_event_uncore" : "perf_event");
        papi_why(e->why, sizeof(e->why), "unknown event", e->name, rc, comp);
        return;
    }
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
        snprintf(e->why, sizeof(e->why), "%s: counted %lld in the probe (needs > 0)", e->name, v);
        goto out_cleanup;
    }
    e->ok = 1;
    snprintf(e->why, sizeof(e->why), "%s: ok (%lld in the probe)", e->name, v);
out_cleanup:
    PAPI_cleanup_eventset(es);
out_destroy:
    PAPI_destroy_eventset(&es);
}

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

/* The events that count alone go into one set per component. */
static void build_sets(struct bench_papi *p)
{
    for (int c = 0; c < NCOLS; c++)
        for (size_t i = 0; i < p->col[c].n; i++) {
            struct event *e = &p->col[c].ev[i];
            if (!e->ok)
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
            for (size_t i = 0; i < p->col[c].n; i++)
                if (p->col[c].ev[i].ok && p->col[c].ev[i].set == s) {
                    p->col[c].ev[i].ok = 0;
                    papi_why(p->col[c].ev[i].why, WHY_LEN, "starting its event set",
                             p->col[c].ev[i].name, rc, p->set[s].comp);
                }
    }
}

static void probe_all(struct bench_papi *p)
{
    int rc = PAPI_library_init(PAPI_VER_CURRENT);
    if (rc != PAPI_VER_CURRENT) {
        snprintf(p->lib_why, sizeof(p->lib_why), "PAPI_library_init: %s",
                 rc > 0 ? "header and library versions differ" : PAPI_strerror(rc));
        return;
    }
    p->lib_ok = 1;
    for (int c = 0; c < NCOLS; c++)
        for (size_t i = 0; i < p->col[c].n; i++)
            probe_event(&p->col[c].ev[i]);
    build_sets(p);
}
#else
static void probe_all(struct bench_papi *p)
{
    snprintf(p->lib_why, sizeof(p->lib_why),
             "built without PAPI (pkg-config found no papi when make ran)");
}
#endif

/* A column counts when all its events do; its reason is the first failure. */
static void resolve_columns(struct bench_papi *p)
{
    for (int c = 0; c < NCOLS; c++) {
        struct column *col = &p->col[c];
        col->ok = col->n > 0 && p->lib_ok;
        if (col->n == 0)
            snprintf(col->why, sizeof(col->why), "no event configured");
        else if (!p->lib_ok)
            snprintf(col->why, sizeof(col->why), "%s", p->lib_why);
        for (size_t i = 0; i < col->n && col->ok; i++)
            if (!col->ev[i].ok) {
                col->ok = 0;
                snprintf(col->why, sizeof(col->why), "%s", col->ev[i].why);
            }
        col->fallback = !col->ok && col_def[c].software;
    }
}

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

/* One line: which columns are NA and why, which come from the kernel. */
static void summarise(const struct bench_papi *p, char *why, size_t whylen)
{
    char na[160] = "", fb[160] = "";
    const char *reason = NULL;
    for (int c = 0; c < NCOLS; c++) {
        const struct column *col = &p->col[c];
        if (col->ok)
            continue;
        append(col->fallback ? fb : na, sizeof(na), "%s%s", (col->fallback ? fb : na)[0] ? " " : "",
               col_def[c].name);
        if (!reason && !col->fallback)
            reason = col->why;
    }
    snprintf(why, whylen, "papi:");
    if (!na[0] && !fb[0])
        append(why, whylen, " every configured event counts");
    if (na[0])
        append(why, whylen, " %s NA (%s)", na, reason);
    if (fb[0])
        append(why, whylen,
               "%s %s from the kernel's per-thread accounting (their perf:: events "
               "do not count)",
               na[0] ? ";" : "", fb);
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
    if (apply_spec(p, bench_papi_default_events, err, errlen) ||
        (spec && apply_spec(p, spec, err, errlen))) {
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

static void stop_sets(struct bench_papi *p)
{
#ifdef HAVE_PAPI
    for (int s = 0; s < p->nsets && p->running; s++) {
        long long v[MAX_COL_EVENTS * NCOLS];
        if (!p->set[s].dead)
            PAPI_stop(p->set[s].es, v);
    }
#endif
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
    for (int c = 0; c < NCOLS; c++)
        for (size_t i = 0; i < p->col[c].n; i++)
            p->col[c].ev[i].acc = 0;
#ifdef HAVE_PAPI
    for (int s = 0; s < p->nsets; s++)
        if (!p->set[s].dead && PAPI_start(p->set[s].es) != PAPI_OK)
            p->failed = 1;
#endif
    p->running = 1;
    return 0;
}

static void forward_begin(void *ctx)
{
    struct bench_papi *p = ctx;
    if (any_fallback(p))
        kernel_read(p->sw0, 1);
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
    for (int c = 0; c < NCOLS; c++)
        for (size_t i = 0; i < p->col[c].n; i++) {
            struct event *e = &p->col[c].ev[i];
            if (e->ok)
                e->acc += p->set[e->set].v1[e->idx] - p->set[e->set].v0[e->idx];
        }
#endif
    if (any_fallback(p)) {
        double v[3];
        kernel_read(v, 0);
        for (int k = 0; k < 3; k++)
            p->swacc[k] += v[k] - p->sw0[k];
    }
    p->forwards++;
}

/* Mean per forward of a column, or NAN. */
static double column_mean(const struct bench_papi *p, int c)
{
    const struct column *col = &p->col[c];
    if (p->forwards == 0)
        return NAN;
    if (col->fallback)
        return p->swacc[c - C_TASK_CLOCK] / (double)p->forwards;
    if (!col->ok || p->failed)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < col->n; i++)
        sum += (double)col->ev[i].acc;
    if (c == C_DRAM)
        sum *= CAS_BYTES;
    return sum / (double)p->forwards;
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
    char na[160] = "";
    for (int c = 0; c < NCOLS; c++)
        if (!p->col[c].ok && !p->col[c].fallback) {
            size_t used = strlen(na);
            snprintf(na + used, sizeof(na) - used, "%s%s", used ? " " : "", col_def[c].name);
        }
    if (p->failed)
        snprintf(na, sizeof(na), "every PAPI column (a read failed during the point)");
    if (na[0])
        bench_row_note(row, "papi NA: %s", na);
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

void bench_papi_meta(const struct bench_papi *p, struct bench_meta *m)
{
    char k[64], events[1024];
    bench_meta_set(m, "papi_library", "%s", p->lib_ok ? "initialised" : p->lib_why);
    for (int c = 0; c < NCOLS; c++) {
        const struct column *col = &p->col[c];
        size_t used = 0;
        events[0] = '\0';
        for (size_t i = 0; i < col->n && used < sizeof(events); i++)
            used += (size_t)snprintf(events + used, sizeof(events) - used, "%s%s", i ? "+" : "",
                                     col->ev[i].name);
        snprintf(k, sizeof(k), "papi_%s", col_def[c].name);
        if (col->ok)
            bench_meta_set(m, k, "ok: %s", events);
        else if (col->fallback)
            bench_meta_set(m, k, "kernel accounting (%s); %s",
                           c == C_TASK_CLOCK    ? "CLOCK_THREAD_CPUTIME_ID"
                           : c == C_PAGE_FAULTS ? "getrusage minflt + majflt"
                                                : "getrusage nvcsw + nivcsw",
                           col->why);
        else
            bench_meta_set(m, k, "NA: %s", col->why);
    }
}
