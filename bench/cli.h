/* cli.h - the command line: exit statuses, table-driven --flag parsing with
 * messages that say what to fix (cli.c), and every command's entry point,
 * the table main.c dispatches on.
 *
 * Only code under bench/ may print to the terminal or exit(); impls/ returns
 * error codes. Exit status of every command: 0 done, 1 a measurement failed
 * (wrong output, layer error), 2 bad input (flag, knob, file), 130 a sweep
 * stopped by SIGINT or SIGTERM (resumable).
 */
#ifndef SPARSEBENCH_CLI_H
#define SPARSEBENCH_CLI_H

#include <stddef.h>

#define BENCH_EXIT_FAIL        1
#define BENCH_EXIT_USAGE       2
#define BENCH_EXIT_INTERRUPTED 130

enum bench_opt_type {
    BENCH_OPT_SIZE,   /* size_t, integer in [min, max] */
    BENCH_OPT_UINT,   /* unsigned, integer in [min, max] */
    BENCH_OPT_INT,    /* int, integer in [min, max] */
    BENCH_OPT_U64,    /* uint64_t, any non-negative integer */
    BENCH_OPT_DOUBLE, /* double in [min, max] */
    BENCH_OPT_STR,    /* const char *, any string */
    BENCH_OPT_CHOICE, /* const char *, one of the '|'-separated `choices` */
    BENCH_OPT_FLAG,   /* int set to 1, takes no value */
};

struct bench_opt {
    const char *name; /* without the leading "--"; NULL = a positional argument, in order */
    enum bench_opt_type type;
    void *dst;
    double min, max;
    const char *choices; /* BENCH_OPT_CHOICE: "cold|warm" */
    const char *metavar;
    const char *help;
};

/* The most flags one command may have (bench_parse_args tracks which were given). */
#define BENCH_MAX_OPTS 64

struct bench_cmd {
    const char *name;    /* "run" */
    const char *summary; /* one line */
    const char *usage;   /* after "sparsebench NAME " */
    const char *epilog;  /* extra help text, may be NULL */
    const struct bench_opt *opts;
    size_t n_opts;
};

/* Parse argv (after the command name) into the table's destinations.
 * --help prints the generated help and exits 0; any bad flag or value exits 2
 * with a message naming the flag, the value and what is allowed. */
void bench_parse_args(const struct bench_cmd *cmd, int argc, char **argv);

/* Print "sparsebench CMD: <message>" and the --help hint, exit 2. */
void bench_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* argv[0] of the program, for messages that show a command (NULL: "sparsebench"). */
extern const char *bench_argv0;

/* "a, b, c": every registered layer's name, for "allowed:" messages. */
void bench_layer_names(char *buf, size_t len);

/* ---- the commands: argv after the command's name; each returns its exit status ---- */

int bench_cmd_list(int argc, char **argv);     /* cmd_list.c */
int bench_cmd_run(int argc, char **argv);      /* cmd_run.c */
int bench_cmd_compare(int argc, char **argv);  /* cmd_compare.c */
int bench_cmd_probe(int argc, char **argv);    /* cmd_probe.c */
int bench_cmd_schema(int argc, char **argv);   /* cmd_schema.c */
int bench_cmd_sweep(int argc, char **argv);    /* sweep/cmd_sweep.c */
int bench_cmd_merge(int argc, char **argv);    /* cmd_merge.c */
int bench_cmd_counters(int argc, char **argv); /* counters/cmd_counters.c */
int bench_cmd_claims(int argc, char **argv);   /* claims/cmd_claims.c */
int bench_cmd_gate(int argc, char **argv);     /* gate/cmd_gate.c */
int bench_cmd_ab_ratio(int argc, char **argv); /* gate/cmd_gate.c */
int bench_cmd_export(int argc, char **argv);   /* cmd_export.c */
int bench_cmd_roof(int argc, char **argv);     /* cmd_roof.c */
/* The hidden `_callgrind PLAN` command the callgrind parent runs under
 * valgrind (counters/callgrind_child.c). */
int bench_cmd_callgrind_child(int argc, char **argv);
/* The hidden `_cpuid`: the CPU as CPUID shows it and OpenBLAS's kernels, for
 * the gate's fingerprint under valgrind (gate/cmd_gate.c). */
int bench_cmd_cpuid(int argc, char **argv);

#endif
