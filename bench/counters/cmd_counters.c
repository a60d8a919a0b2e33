/* cmd_counters.c - `sparsebench counters`: which counter columns
 * --counters papi fills on this machine, with which events, and why the
 * others are NA (papi.c probes them as a run would); --pmu shows another
 * CPU's row without probing, --table every row (pmu_table.c). */
#include "kpmu.h"
#include "papi.h"
#include "pmu.h"
#include "../cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char counters_epilog[] =
    "Each hardware column (cycles, instructions, l1_misses, ll_misses, dram_bytes_est) has,\n"
    "per CPU family, a list of choices in order of preference; the first whose events all\n"
    "count on this machine fills it (a probe adds, starts, runs a small workload, stops, and\n"
    "needs a count > 0). The family is the table row for the core PMU libpfm4 detects.\n"
    "Events are libpfm4 names read through PAPI (a bare name is the detected PMU's), or\n"
    "kernel:PMU/TERMS/ for PMUs the kernel exposes in /sys/bus/event_source/devices\n"
    "(memory controllers: they count the whole socket and need perf_event_paranoid <= 0,\n"
    "CAP_PERFMON or root). A choice marked 'estimate' says how it estimates the column.\n"
    "--papi-events (as on run and sweep) replaces a column's choices.\n"
    "Exit status: 0 (also when columns are NA: that is the answer), 2 for bad flags.\n";

static void print_choice(int i, const struct pmu_choice *ch, const char *pmu, const char *outcome)
{
    char events[2048];
    pmu_choice_events(ch, pmu, events, sizeof(events));
    printf("  %d. %s", i + 1, events);
    if (ch->scale > 1)
        printf("   x %g", ch->scale);
    printf("\n");
    if (ch->how)
        printf("     estimate: %s\n", ch->how);
    printf("     source: %s\n", ch->src);
    if (ch->twin)
        printf("     libpfm4 twin (checked by make test): %s\n", ch->twin);
    if (outcome)
        printf("     -> %s\n", outcome);
}

/* The row for one PMU, as the table has it (no probing). */
static int show_row(const char *pmu)
{
    const struct pmu_family *f = pmu_family_find(pmu);
    if (!f) {
        fprintf(stderr,
                "sparsebench counters: --pmu %s: no table row names this libpfm4 PMU; "
                "rows:",
                pmu);
        for (size_t i = 0; i < pmu_n_families; i++)
            fprintf(stderr, " %s%s", pmu_families[i].pmus, i + 1 < pmu_n_families ? ";" : "\n");
        return BENCH_EXIT_USAGE;
    }
    printf("%s (libpfm4 PMUs: %s)\n", f->name, f->pmus);
    if (f->note)
        printf("note: %s\n", f->note);
    for (int c = 0; c < PMU_NCOLS; c++) {
        printf("\n%s\n", pmu_col_name[c]);
        int i = 0;
        for (; i < PMU_MAX_CHOICES && f->col[c][i].events; i++)
            print_choice(i, &f->col[c][i], pmu, NULL);
        if (pmu_generic.col[c][0].events)
            print_choice(i++, &pmu_generic.col[c][0], pmu, NULL);
        if (!i)
            printf("  NA: %s\n", f->na[c] ? f->na[c] : "no event");
    }
    return 0;
}

/* A Markdown cell: the choices, '<br>' between them. */
static void table_cell(const struct pmu_family *f, int c)
{
    int i = 0;
    for (; i < PMU_MAX_CHOICES && f->col[c][i].events; i++) {
        const struct pmu_choice *ch = &f->col[c][i];
        printf("%s%s`%s`%s", i ? "<br>" : "", ch->how ? "est.: " : "", ch->events,
               ch->scale > 1 ? " x 64" : "");
    }
    if (!i)
        printf("NA: %s", f->na[c]);
}

static int show_table(void)
{
    printf("| CPU family (libpfm4 PMUs) |");
    for (int c = 0; c < PMU_NCOLS; c++)
        printf(" %s |", pmu_col_name[c]);
    printf("\n|---|");
    for (int c = 0; c < PMU_NCOLS; c++)
        printf("---|");
    printf("\n");
    for (size_t f = 0; f < pmu_n_families; f++) {
        printf("| %s (%s) |", pmu_families[f].name, pmu_families[f].pmus);
        for (int c = 0; c < PMU_NCOLS; c++) {
            printf(" ");
            table_cell(&pmu_families[f], c);
            printf(" |");
        }
        printf("\n");
    }
    printf("\nEvery row also tries perf::CYCLES and perf::INSTRUCTIONS last; a CPU with no row "
           "gets only those.\n");
    return 0;
}

static int show_machine(const char *spec)
{
    struct bench_papi *p;
    char why[512], err[512];
    if (bench_papi_open(&p, spec, why, sizeof(why), err, sizeof(err))) {
        fprintf(stderr, "sparsebench counters: %s\n", err);
        return BENCH_EXIT_USAGE;
    }
    const struct pmu_machine *m = bench_papi_machine(p);
    if (m->pmu[0])
        printf("cpu:      libpfm4 detects core PMU %s (%s)%s%s\n", m->pmu, m->pmu_desc,
               strcmp(m->pmu, m->all_core) ? "; all: " : "",
               strcmp(m->pmu, m->all_core) ? m->all_core : "");
    else
        printf("cpu:      %s\n", m->libpfm_ok ? "libpfm4 detects no core PMU" : m->why);
    printf("row:      %s\n", m->family->name);
    if (m->family->note)
        printf("note:     %s\n", m->family->note);
    printf("kernel:   PMUs in %s: %s%s\n", KPMU_SYSFS, m->kernel_pmus,
           m->kernel_hw ? "" : "; no core PMU among them, so no hardware event can count here");
    printf("access:   perf_event_paranoid = %d, running as %s: %s\n", m->paranoid,
           geteuid() == 0 ? "root" : "a user",
           geteuid() == 0 || m->paranoid <= 0
               ? "system-wide counters (memory controllers) allowed"
               : "memory-controller counters need perf_event_paranoid <= 0, CAP_PERFMON or root");
    printf("summary:  %s\n", why);
    for (int c = 0; c < bench_papi_columns(); c++) {
        struct bench_papi_column col;
        bench_papi_column(p, c, &col);
        if (col.ok)
            printf("\n%s: %s %s\n", col.name, col.chosen->how ? "ESTIMATED from" : "counted by",
                   col.events);
        else if (col.fallback)
            printf("\n%s: from the kernel's accounting (%s): %s\n", col.name, col.kernel_fallback,
                   col.why);
        else
            printf("\n%s: NA: %s\n", col.name, col.why);
        for (size_t i = 0; i < col.n_choices && i < BENCH_PAPI_MAX_CHOICES; i++)
            print_choice((int)i, col.choice[i], m->pmu, col.tried[i]);
    }
    if (!m->kernel_hw)
        printf("\nWithout hardware counters, --counters callgrind counts instructions, simulated "
               "cache misses\nand DRAM bytes of one forward under valgrind (deterministic, "
               "60-150x slower).\n");
    bench_papi_close(p);
    return 0;
}

int bench_cmd_counters(int argc, char **argv)
{
    const char *pmu = NULL, *spec = NULL;
    int table = 0;
    const struct bench_opt opts[] = {
        {"pmu", BENCH_OPT_STR, &pmu, 0, 0, NULL, "NAME",
         "show the table row for this libpfm4 PMU (skx, icx, spr, amd64_fam19h_zen4, arm_n1, ...) "
         "without probing"},
        {"table", BENCH_OPT_FLAG, &table, 0, 0, NULL, NULL,
         "every row of the table, as a Markdown table"},
        {"papi-events", BENCH_OPT_STR, &spec, 0, 0, NULL, "COL=EV[+EV],...",
         "replace columns' choices, as on run and sweep"},
    };
    const struct bench_cmd cmd = {
        .name = "counters",
        .summary = "Which counter columns --counters papi fills here, with which events, and why "
                   "the others are NA.",
        .usage = "[--pmu NAME | --table] [--papi-events COL=EV[+EV],...]",
        .epilog = counters_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    if (table)
        return show_table();
    if (pmu)
        return show_row(pmu);
    return show_machine(spec);
}
