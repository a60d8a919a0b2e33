/* kpmu.h - private to bench/counters/: counters of PMUs the kernel exposes
 * in sysfs but PAPI's libpfm4 may not know (memory controllers of newer
 * Intel servers, AMD's UMC and data fabric, Intel client IMCs), opened
 * with perf_event_open on every CPU of each instance's cpumask (kpmu.c). */
#ifndef SPARSEBENCH_COUNTERS_KPMU_H
#define SPARSEBENCH_COUNTERS_KPMU_H

#include <stddef.h>
#include <stdint.h>

#define KPMU_SYSFS    "/sys/bus/event_source/devices"
#define KPMU_MAX_FDS  128 /* instances x CPUs of one event: 12 IMCs x 8 sockets */
#define KPMU_SPEC_LEN 160

/* One counter: a PMU instance on one CPU. */
struct kpmu_counter {
    char pmu[48];
    uint32_t type;
    uint64_t config, config1, config2;
    int cpu, fd;
    uint64_t mark[3]; /* value, time enabled, time running at kpmu_mark */
    uint64_t acc[3];  /* their increments summed by kpmu_accumulate */
};

/* One event of a column: "PMU/TERMS/" (pmu.h says what they may be),
 * summed over every matching instance and CPU. */
struct kpmu_event {
    char spec[KPMU_SPEC_LEN];
    double scale; /* the named event's .scale, in bytes where .unit is one; else 1 */
    char unit[16];
    size_t n;
    struct kpmu_counter c[KPMU_MAX_FDS];
};

/* Resolve spec against the PMUs under root (KPMU_SYSFS, or a test's tree):
 * each instance's type, the fields its format files place, the CPUs of its
 * cpumask (every online CPU without one). 0, or -1 with why. */
int kpmu_resolve(struct kpmu_event *e, const char *root, const char *spec, char *why,
                 size_t whylen);
/* Open every counter disabled, system-wide on its CPU. 0, or -1 with why
 * (what the kernel said, and perf_event_paranoid where it is permissions);
 * on failure nothing stays open. */
int kpmu_open(struct kpmu_event *e, char *why, size_t whylen);
/* Start (reset and enable) or stop counting; -1 when an ioctl fails. */
int kpmu_enable(struct kpmu_event *e, int on);
/* Remember every counter's value now (before a forward), then add what
 * it counted since to its sums (after it). -1 when a read fails. */
int kpmu_mark(struct kpmu_event *e);
int kpmu_accumulate(struct kpmu_event *e);
void kpmu_clear(struct kpmu_event *e); /* the sums back to 0 */
/* The summed count, each counter scaled by its time enabled over time
 * running (the kernel multiplexes when counters are short; *multiplexed is
 * then set), times scale. -1 when a counter was enabled but never ran. */
int kpmu_total(const struct kpmu_event *e, double *count, int *multiplexed);
void kpmu_close(struct kpmu_event *e);

#endif
