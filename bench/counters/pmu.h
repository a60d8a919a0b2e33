/* pmu.h - private to bench/counters/: which events feed each hardware
 * counter column on which CPU (the table, pmu_table.c), and what this
 * machine has (pmu.c): the core PMU libpfm4 detects, whether the kernel
 * exposes any hardware PMU, and the event names a table row means on it. */
#ifndef SPARSEBENCH_COUNTERS_PMU_H
#define SPARSEBENCH_COUNTERS_PMU_H

#include <stddef.h>

/* The hardware columns, in the order papi.c keeps them. */
enum pmu_col { PMU_CYCLES, PMU_INSTRUCTIONS, PMU_L1, PMU_LL, PMU_DRAM, PMU_NCOLS };
extern const char *const pmu_col_name[PMU_NCOLS]; /* "cycles", ..., "dram_bytes_est" */

#define PMU_MAX_CHOICES 4

/* One way to fill a column: events whose counts are summed, times scale.
 * An event is
 *   - a libpfm4 name, read through PAPI. A bare name ("INST_RETIRED:ANY_P")
 *     is the detected core PMU's and is qualified with its name
 *     ("clx::INST_RETIRED:ANY_P"); "pmu::EVENT" names a PMU. In an uncore
 *     PMU's name '*' stands for every instance 0, 1, ... this machine has
 *     ("skx_unc_imc*::UNC_M_CAS_COUNT:RD:cpu=0").
 *   - "kernel:PMU/TERMS/": a PMU the kernel exposes in
 *     /sys/bus/event_source/devices, opened with perf_event_open (kpmu.c);
 *     '*' in PMU is any instance number. TERMS is one of the PMU's named
 *     events ("data_reads", scaled by its .scale and .unit) or its raw
 *     format fields ("event=0x04,umask=0x03").
 * twin: for a raw kernel choice, the libpfm4 event that encodes to the same
 * fields; the Check test compares the two (tests/check_pmu.c). */
struct pmu_choice {
    const char *events; /* "EV+EV" */
    double scale;       /* 0 = 1; dram_bytes_est: bytes per count */
    const char *how;    /* NULL: a direct count; else how it estimates the column */
    const char *src;    /* the documentation or source the events are from */
    const char *twin;
};

/* A CPU family: the libpfm4 core PMUs it stands for and, per column, its
 * choices in order of preference; na says why a column has none. */
struct pmu_family {
    const char *name; /* "Intel Skylake-SP / Cascade Lake" */
    const char *pmus; /* libpfm4 core PMU names, space-separated: "skx clx" */
    const char *note; /* NULL, or what else a user should know */
    struct pmu_choice col[PMU_NCOLS][PMU_MAX_CHOICES];
    const char *na[PMU_NCOLS];
};

/* ---- pmu_table.c ---- */

extern const struct pmu_family pmu_families[];
extern const size_t pmu_n_families;
/* For a core PMU no row names: the kernel's generic cycles and instructions. */
extern const struct pmu_family pmu_generic;
/* The row naming this libpfm4 PMU, or NULL. */
const struct pmu_family *pmu_family_find(const char *pmu);

/* ---- pmu.c: this machine ---- */

struct pmu_machine {
    int libpfm_ok;                   /* pfm_initialize worked */
    char libpfm[32];                 /* its version, "4.13" */
    char pmu[64];                    /* the core PMU libpfm4 detects ("" none) */
    char pmu_desc[128];              /* its description ("Intel Skylake X") */
    char all_core[256];              /* every core PMU it detects ("adl_glc adl_grt") */
    const struct pmu_family *family; /* the table's row, or &pmu_generic */
    int kernel_hw;                   /* the kernel exposes a hardware PMU */
    char kernel_pmus[512];           /* /sys/bus/event_source/devices, listed */
    int paranoid;                    /* /proc/sys/kernel/perf_event_paranoid, or -9 */
    char why[320];                   /* one line: what was found */
};

/* What this machine has. LIBPFM_FORCE_PMU, if set, is honoured as libpfm4
 * honours it (the table row follows the forced PMU). */
void pmu_machine_detect(struct pmu_machine *m);
/* Room for one concrete event name. Qualified Zen 4/5 fill events run to
 * about 140 characters, past PAPI_MAX_STR_LEN (128); PAPI itself takes
 * names up to PAPI_2MAX_STR_LEN (256) in its event info. */
#define PMU_EVENT_NAME_LEN 256

/* Expand one event of a choice for the core PMU `pmu` into its concrete
 * name: a bare libpfm4 name is qualified "pmu::NAME"; the others are
 * returned as they are. Returns 0, or -1 when it does not fit. */
int pmu_event_name(const char *event, const char *pmu, char *out, size_t len);
/* A choice's events as names for `pmu`, '+'-joined (truncated to fit). */
void pmu_choice_events(const struct pmu_choice *ch, const char *pmu, char *out, size_t len);
/* Split "EV+EV+..." into at most max events; returns how many, or -1 when
 * one is empty or there are more. The events point into buf (copied). */
int pmu_split(const char *events, char *buf, size_t buflen, char **ev, int max);
/* Whether an event is a kernel sysfs event ("kernel:..."). */
int pmu_is_kernel(const char *event);

#endif
