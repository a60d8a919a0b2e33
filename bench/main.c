/* main.c - the sparsebench command line: one word picks the command. */
#include "cli.h"
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"list", bench_cmd_list, "every registered layer with a one-line summary"},
    {"run", bench_cmd_run, "check and time one layer at one point, print a CSV row"},
    {"compare", bench_cmd_compare,
     "time two layers in alternating pairs: the ratio and its 95% interval"},
    {"sweep", bench_cmd_sweep, "run a sweep file into reports/<run-id>/: CSV, metadata, plots"},
    {"merge", bench_cmd_merge, "combine the run directories of a sharded sweep, per machine"},
    {"probe", bench_cmd_probe, "this machine's sgemm peak, STREAM-triad and gather bandwidth"},
    {"roof", bench_cmd_roof, "each layer's time against the sgemm, triad and gather roofs"},
    {"schema", bench_cmd_schema, "the results.csv columns as a Markdown table"},
    {"claims", bench_cmd_claims, "derive every published claim's verdict from a make claims run"},
    {"counters", bench_cmd_counters, "which counter columns --counters papi fills here, and why"},
    {"gate", bench_cmd_gate, "a fresh callgrind count of the gate points against the baseline"},
    {"ab-ratio", bench_cmd_ab_ratio, "per point, the ratio of paired times and its 95% interval"},
    {"export", bench_cmd_export,
     "write a layer's weights to safetensors or .npy (--weights loads)"},
};

/* The commands that time something, and so need OpenBLAS at full speed. */
static int times_blas(const char *cmd)
{
    return !strcmp(cmd, "run") || !strcmp(cmd, "compare") || !strcmp(cmd, "sweep") ||
           !strcmp(cmd, "probe") || !strcmp(cmd, "roof");
}

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: sparsebench COMMAND [options]\n\n"
               "Is this sparse layer really faster, on this machine, and why?\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'sparsebench COMMAND --help' describes each command.\n");
}

/* OpenBLAS picks its kernels for the CPU when the library loads, before
 * main, unless OPENBLAS_CORETYPE names a core. An environment that pins an
 * AVX2 core on an AVX-512 CPU (the image this was built on sets
 * OPENBLAS_CORETYPE=Haswell) halves every sgemm: measured here, sgemm 217
 * vs 412 GFLOP/s and the dense FFN 1.55x (T = 64) to 1.9x (T = 1024)
 * slower, while our own kernels use AVX-512. That is the weaker opponent
 * the benchmark must not give anyone, so a timing command restarts itself
 * once without the variable (SPARSEBENCH_KEEP_CORETYPE=1 keeps it; then
 * `run` and `sweep` warn). After the restart the variable is unset, so this
 * cannot loop; if exec fails, the command runs as it is, with the warning. */
static void blas_full_speed(char **argv)
{
    char msg[512];
    const char *env = getenv("OPENBLAS_CORETYPE");
    if (!env || getenv("SPARSEBENCH_KEEP_CORETYPE") || !bench_blas_below_native(msg, sizeof(msg)))
        return;
    setenv("SPARSEBENCH_DROPPED_CORETYPE", env, 1);
    unsetenv("OPENBLAS_CORETYPE");
    execv("/proc/self/exe", argv);
    setenv("OPENBLAS_CORETYPE", getenv("SPARSEBENCH_DROPPED_CORETYPE"), 1);
    unsetenv("SPARSEBENCH_DROPPED_CORETYPE");
}

int main(int argc, char **argv)
{
    bench_argv0 = argv[0];
    if (argc < 2) {
        usage(stderr);
        return BENCH_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "_callgrind")) /* internal: what --counters=callgrind runs */
        return bench_cmd_callgrind_child(argc - 2, argv + 2);
    if (!strcmp(argv[1], "_cpuid")) /* internal: the gate's fingerprint */
        return bench_cmd_cpuid(argc - 2, argv + 2);
    if (times_blas(argv[1]))
        blas_full_speed(argv);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "sparsebench: unknown command '%s'; allowed:", argv[1]);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(stderr, " %s", commands[i].name);
    fprintf(stderr, "\nTry 'sparsebench --help'.\n");
    return BENCH_EXIT_USAGE;
}
