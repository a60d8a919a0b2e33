/* cli.c - table-driven --flag parsing for every sparsebench command.
 *
 * Each command lists its flags once (name, type, destination, range, help);
 * this file turns the table into parsing, range checks, and --help text, so
 * every bad input gets the same kind of message: the flag, the value, and
 * what is allowed, with exit status 2.
 */
#include "cli.h"
#include "../impls/layer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bench_argv0;

void bench_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "sparsebench %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'sparsebench %s --help'.\n", cmd);
    exit(BENCH_EXIT_USAGE);
}

static const char *type_metavar(const struct bench_opt *o)
{
    if (o->metavar)
        return o->metavar;
    switch (o->type) {
    case BENCH_OPT_DOUBLE:
        return "X";
    case BENCH_OPT_STR:
    case BENCH_OPT_CHOICE:
        return "S";
    case BENCH_OPT_FLAG:
        return "";
    default:
        return "N";
    }
}

static void print_help(const struct bench_cmd *cmd)
{
    printf("usage: sparsebench %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->usage, cmd->summary);
    for (size_t i = 0; i < cmd->n_opts; i++) {
        const struct bench_opt *o = &cmd->opts[i];
        char left[64];
        if (!o->name)
            snprintf(left, sizeof(left), "%s", type_metavar(o));
        else if (o->type == BENCH_OPT_FLAG)
            snprintf(left, sizeof(left), "--%s", o->name);
        else if (o->type == BENCH_OPT_CHOICE)
            snprintf(left, sizeof(left), "--%s %s", o->name, o->choices);
        else
            snprintf(left, sizeof(left), "--%s %s", o->name, type_metavar(o));
        printf("  %-26s %s\n", left, o->help);
    }
    printf("  %-26s %s\n", "--help", "show this help and exit");
    if (cmd->epilog)
        printf("\n%s", cmd->epilog);
}

static int choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, v, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

static void range_error(const struct bench_cmd *cmd, const struct bench_opt *o, const char *v,
                        const char *why)
{
    if (o->type == BENCH_OPT_DOUBLE)
        bench_usage_error(cmd->name, "--%s: '%s' %s; allowed %g..%g", o->name, v, why, o->min,
                          o->max);
    if (o->type == BENCH_OPT_U64)
        bench_usage_error(cmd->name, "--%s: '%s' %s; allowed a non-negative integer", o->name, v,
                          why);
    bench_usage_error(cmd->name, "--%s: '%s' %s; allowed integers %.0f..%.0f", o->name, v, why,
                      o->min, o->max);
}

static void set_value(const struct bench_cmd *cmd, const struct bench_opt *o, const char *v)
{
    char *end;
    const char *flag = o->name ? o->name : type_metavar(o);
    errno = 0;
    switch (o->type) {
    case BENCH_OPT_SIZE:
    case BENCH_OPT_UINT:
    case BENCH_OPT_INT: {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno)
            range_error(cmd, o, v, "is not an integer");
        if (x < o->min || x > o->max)
            range_error(cmd, o, v, "is out of range");
        if (o->type == BENCH_OPT_SIZE)
            *(size_t *)o->dst = (size_t)x;
        else if (o->type == BENCH_OPT_UINT)
            *(unsigned *)o->dst = (unsigned)x;
        else
            *(int *)o->dst = (int)x;
        return;
    }
    case BENCH_OPT_U64: {
        if (*v == '-')
            range_error(cmd, o, v, "is negative");
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || errno)
            range_error(cmd, o, v, "is not an integer");
        *(uint64_t *)o->dst = x;
        return;
    }
    case BENCH_OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x))
            range_error(cmd, o, v, "is not a number");
        if (x < o->min || x > o->max)
            range_error(cmd, o, v, "is out of range");
        *(double *)o->dst = x;
        return;
    }
    case BENCH_OPT_CHOICE:
        if (!choice_ok(o->choices, v))
            bench_usage_error(cmd->name, "--%s: '%s' is not allowed; allowed: %s", flag, v,
                              o->choices);
        /* fall through */
    case BENCH_OPT_STR:
        *(const char **)o->dst = v;
        return;
    case BENCH_OPT_FLAG:
        *(int *)o->dst = 1;
        return;
    }
}

static const struct bench_opt *find_opt(const struct bench_cmd *cmd, const char *name, size_t len)
{
    for (size_t i = 0; i < cmd->n_opts; i++) {
        const char *n = cmd->opts[i].name;
        if (n && strlen(n) == len && memcmp(n, name, len) == 0)
            return &cmd->opts[i];
    }
    return NULL;
}

/* Every flag of the command, then --help (always there, so a command
 * without flags still says what it takes). */
static void list_flags(const struct bench_cmd *cmd, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < cmd->n_opts && used < len; i++)
        if (cmd->opts[i].name)
            used += (size_t)snprintf(buf + used, len - used, "%s--%s", used ? ", " : "",
                                     cmd->opts[i].name);
    if (used < len)
        snprintf(buf + used, len - used, "%s--help", used ? ", " : "");
}

void bench_parse_args(const struct bench_cmd *cmd, int argc, char **argv)
{
    const struct bench_opt *positional[8];
    size_t n_positional = 0, have_positional = 0;
    /* A flag given twice is refused rather than the last one silently
     * winning: `--scale 8 ... --scale 64` is more often a pasted command
     * than an intended override. */
    unsigned char seen[BENCH_MAX_OPTS] = {0};
    if (cmd->n_opts > BENCH_MAX_OPTS) {
        fprintf(stderr, "sparsebench %s: %zu flags, more than the parser's %d\n", cmd->name,
                cmd->n_opts, BENCH_MAX_OPTS);
        exit(BENCH_EXIT_FAIL);
    }
    for (size_t i = 0; i < cmd->n_opts && n_positional < 8; i++)
        if (!cmd->opts[i].name)
            positional[n_positional++] = &cmd->opts[i];

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(cmd);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) {
            if (have_positional == n_positional)
                bench_usage_error(cmd->name, "unexpected argument '%s'", a);
            set_value(cmd, positional[have_positional++], a);
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct bench_opt *o = find_opt(cmd, name, len);
        if (!o) {
            char flags[512];
            list_flags(cmd, flags, sizeof(flags));
            bench_usage_error(cmd->name, "unknown flag '--%.*s'; allowed: %s", (int)len, name,
                              flags);
        }
        if (seen[o - cmd->opts]++)
            bench_usage_error(cmd->name, "--%s given twice; give each flag once", o->name);
        if (o->type == BENCH_OPT_FLAG) {
            if (eq)
                bench_usage_error(cmd->name, "--%s takes no value (got '%s')", o->name, eq + 1);
            set_value(cmd, o, "");
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v)
            bench_usage_error(cmd->name, "--%s needs a value (%s)", o->name, o->help);
        set_value(cmd, o, v);
    }
    if (have_positional < n_positional)
        bench_usage_error(cmd->name, "missing %s (%s)", type_metavar(positional[have_positional]),
                          positional[have_positional]->help);
}

void bench_layer_names(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < layer_count() && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", layer_get(i)->name);
}
