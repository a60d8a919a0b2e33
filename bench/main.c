/* main.c - the sparsebench command line: one word picks the command. */
#include "bench.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"list", bench_cmd_list, "every registered layer with a one-line summary"},
    {"run", bench_cmd_run, "check and time one layer at one point, print a CSV row"},
    {"sweep", bench_cmd_sweep, "run a sweep file into reports/<run-id>/: CSV, metadata, plots"},
    {"probe", bench_cmd_probe, "this machine's sgemm peak and STREAM-triad bandwidth"},
    {"schema", bench_cmd_schema, "the results.csv columns as a Markdown table"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: sparsebench COMMAND [options]\n\n"
               "Is this sparse layer really faster, on this machine, and why?\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'sparsebench COMMAND --help' describes each command.\n");
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
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "sparsebench: unknown command '%s'; allowed:", argv[1]);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(stderr, " %s", commands[i].name);
    fprintf(stderr, "\nTry 'sparsebench --help'.\n");
    return BENCH_EXIT_USAGE;
}
