/* papi.h - private to bench/counters/: the papi counter mode (papi.c):
 * each column's events chosen for this CPU from the table (pmu.h), read
 * through PAPI, through the kernel's sysfs PMUs (kpmu.h) or, for the
 * software columns, from the kernel's per-thread accounting. */
#ifndef SPARSEBENCH_COUNTERS_PAPI_H
#define SPARSEBENCH_COUNTERS_PAPI_H

#include "../measure.h"

#include <stddef.h>

struct bench_papi;
struct bench_meta;
struct pmu_choice;
struct pmu_machine;

/* Detect the CPU, probe each column's choices in order and set up what
 * counts; never fails but for memory or a malformed spec (what does not
 * count is NA, with reasons in why). spec ("col=EV+EV,col=,...") replaces
 * those columns' choices; NULL: the table's. */
int bench_papi_open(struct bench_papi **out, const char *spec, char *why, size_t whylen, char *err,
                    size_t errlen);
void bench_papi_close(struct bench_papi *p);
int bench_papi_hardware_ok(const struct bench_papi *p);          /* instructions counts */
const char *bench_papi_hardware_why(const struct bench_papi *p); /* and if not, why */
void bench_papi_hooks(struct bench_papi *p, struct bench_hooks *h);
/* papi_pmu, papi_pmu_row and, per column, papi_<column>: the events (and
 * their PMUs) that fill it, how it is estimated, or why it is NA. */
void bench_papi_meta(const struct bench_papi *p, struct bench_meta *m);

/* ---- what each column got, for `sparsebench counters` ---- */

#define BENCH_PAPI_MAX_CHOICES 5

struct bench_papi_column {
    const char *name;
    int ok, fallback;
    const struct pmu_choice *chosen; /* NULL unless ok */
    const char *events;              /* ok: the events as counted, instances expanded */
    const char *why;                 /* not ok: the reason */
    const char *kernel_fallback;     /* software columns: what the kernel reads instead */
    size_t n_choices;
    const struct pmu_choice *choice[BENCH_PAPI_MAX_CHOICES];
    const char *tried[BENCH_PAPI_MAX_CHOICES]; /* each choice's outcome: "ok" or why not */
};

const struct pmu_machine *bench_papi_machine(const struct bench_papi *p);
int bench_papi_columns(void); /* hardware columns first, then the software ones */
void bench_papi_column(const struct bench_papi *p, int c, struct bench_papi_column *out);

#endif
