/* callgrind_child.c - `sparsebench _callgrind PLAN`, the hidden command
 * the callgrind parent (callgrind.c) runs under valgrind in a fresh
 * directory: one counted forward per point of the plan (research/harness.md
 * section 4.1).
 *
 * The child creates the layer with one thread (callgrind's collection state
 * is per thread; one thread also runs OpenBLAS in the caller), switches
 * instrumentation on once the weights exist (creating them simulated would
 * take minutes), and per point runs one warm-up forward on other tokens.
 * Cold mode then reproduces the model's situation that cold timing stands
 * for (bench/cache.c): the previous layer has just run. valgrind 3.19 executes
 * clflush without evicting its simulated lines and stops on clflushopt
 * (SIGILL), so the child empties the simulated caches by reading a 32 MiB
 * buffer (4x the simulated LL), runs a second layer of the same
 * configuration (the "previous layer": same code, its own weights) and
 * re-reads x and y: the counted layer's weights and scratch are cold, its
 * code and input warm. Then CALLGRIND_TOGGLE_COLLECT around exactly one
 * forward on the tokens the parent checked, and
 * CALLGRIND_DUMP_STATS_AT("point <i> ..."). Each counted forward's
 * layer_stats go to the file `stats`, for the parent.
 */
#include "callgrind.h"
#include "../cli.h"
#include "../measure.h"
#include "../row.h"
#include "../../impls/common/common.h"
#include "../../impls/layer.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#ifdef HAVE_VALGRIND
#include <valgrind/callgrind.h>
#include <valgrind/valgrind.h>
#endif

#define EVICT_BYTES (32u << 20) /* 4x the simulated LL */

struct plan {
    const struct layer_ops *ops;
    char knobs[LAYER_KNOBS_LEN];
    struct layer_config cfg;
    int cold;
    size_t n, max_tokens;
    size_t idx[BENCH_CG_PLAN_MAX], tokens[BENCH_CG_PLAN_MAX];
};

static int read_plan(const char *path, struct plan *p)
{
    char line[1024], impl[BENCH_NAME_LEN] = "", cache[8] = "";
    unsigned long long v;
    FILE *f = fopen(path, "r");
    memset(p, 0, sizeof(*p));
    if (!f || !fgets(line, sizeof(line), f) ||
        strncmp(line, BENCH_CG_PLAN_MAGIC, strlen(BENCH_CG_PLAN_MAGIC))) {
        fprintf(stderr, "sparsebench _callgrind: %s is not a plan\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        size_t i, t;
        if (sscanf(line, "impl %63s", impl) == 1)
            continue;
        if (!strncmp(line, "knobs ", 6))
            snprintf(p->knobs, sizeof(p->knobs), "%.*s", (int)sizeof(p->knobs) - 1, line + 6);
        else if (sscanf(line, "d_model %llu", &v) == 1)
            p->cfg.d_model = (size_t)v;
        else if (sscanf(line, "scale %llu", &v) == 1)
            p->cfg.scale = (unsigned)v;
        else if (sscanf(line, "seed %llu", &v) == 1)
            p->cfg.seed = v;
        else if (sscanf(line, "cache %7s", cache) == 1)
            p->cold = !strcmp(cache, "cold");
        else if (sscanf(line, "point %zu %zu", &i, &t) == 2 && p->n < BENCH_CG_PLAN_MAX) {
            p->idx[p->n] = i;
            p->tokens[p->n++] = t;
            if (t > p->max_tokens)
                p->max_tokens = t;
        }
    }
    fclose(f);
    p->ops = layer_find(impl);
    if (!p->ops || !p->n || !p->cfg.d_model) {
        fprintf(stderr, "sparsebench _callgrind: %s: no layer '%s' or no points\n", path, impl);
        return -1;
    }
    p->cfg.threads = 1;
    p->cfg.max_tokens = p->max_tokens;
    p->cfg.knobs = p->knobs;
    return 0;
}

#ifdef HAVE_VALGRIND
/* Threads of this process (/proc/self/task), or -1. */
static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static volatile unsigned char read_sink;

/* Read one byte of every line: the simulated caches then hold only this. */
static void read_lines(const void *p, size_t bytes)
{
    const unsigned char *c = p;
    unsigned char s = 0;
    for (size_t off = 0; off < bytes; off += BENCH_CG_LINE)
        s ^= c[off];
    read_sink = s;
}

/* l is counted; other (cold mode) is a second layer of the same
 * configuration, the model's previous layer: its forward after the caches
 * were emptied brings the code back (and its own weights), not l's. */
static int count_points(const struct plan *p, struct layer *l, struct layer *other, FILE *out)
{
    const size_t D = p->cfg.d_model;
    struct bench_tokens tk;
    unsigned char *evict = common_alloc(EVICT_BYTES);
    float *y = common_alloc(p->max_tokens * D * sizeof(float));
    int rc = LAYER_ENOMEM;
    if (!evict || !y ||
        bench_tokens_create(&tk, 2 * p->max_tokens, D, p->cfg.seed, BENCH_INPUTS_RANDOM)) {
        fprintf(out, "point 0 error out of memory\n");
        goto out_free;
    }
    memset(evict, 1, EVICT_BYTES);
    /* under valgrind's CPUID OpenBLAS may pick other kernels than natively */
    fprintf(out, "corename %s\n", openblas_get_corename());
    CALLGRIND_START_INSTRUMENTATION;
    for (size_t i = 0; i < p->n; i++) {
        size_t T = p->tokens[i];
        const float *x = bench_tokens_window(&tk, 0, T); /* the tokens the parent checked */
        struct layer_stats st, warm;
        char label[160];
        l->ops->forward(l, bench_tokens_window(&tk, 1, T), y, T, &warm);
        if (p->cold) {
            read_lines(evict, EVICT_BYTES);
            other->ops->forward(other, bench_tokens_window(&tk, 1, T), y, T, &warm);
            read_lines(x, T * D * sizeof(float));
            read_lines(y, T * D * sizeof(float));
        }
        CALLGRIND_TOGGLE_COLLECT;
        rc = l->ops->forward(l, x, y, T, &st);
        CALLGRIND_TOGGLE_COLLECT;
        snprintf(label, sizeof(label), "point %zu %s d=%zu scale=%u T=%zu %s", p->idx[i],
                 p->ops->name, D, p->cfg.scale, T, p->cold ? "cold" : "warm");
        CALLGRIND_DUMP_STATS_AT(label);
        if (rc) {
            fprintf(out, "point %zu error forward: %s\n", p->idx[i], layer_strerror(rc));
            goto out_tokens;
        }
        fprintf(out, "point %zu ok %llu %llu %llu %llu %llu\n", p->idx[i],
                (unsigned long long)st.flops, (unsigned long long)st.dense_bytes,
                (unsigned long long)st.sparse_bytes, (unsigned long long)st.units_touched,
                (unsigned long long)st.units_total);
    }
    rc = 0;
out_tokens:
    bench_tokens_destroy(&tk);
out_free:
    common_free(y);
    common_free(evict);
    return rc;
}
#endif

int bench_cmd_callgrind_child(int argc, char **argv)
{
#ifndef HAVE_VALGRIND
    (void)argc;
    (void)argv;
    fprintf(stderr, "sparsebench _callgrind: built without valgrind's headers\n");
    return BENCH_EXIT_USAGE;
#else
    static struct plan p; /* large; not on the stack whose layout the counts see */
    struct layer *l = NULL, *other = NULL;
    char err[512] = "";
    if (argc != 1 || !RUNNING_ON_VALGRIND) {
        fprintf(stderr, "sparsebench _callgrind PLAN: internal; runs under valgrind only (use "
                        "--counters=callgrind)\n");
        return BENCH_EXIT_USAGE;
    }
    if (read_plan(argv[0], &p))
        return BENCH_EXIT_USAGE;
    FILE *out = fopen("stats", "w");
    if (!out) {
        fprintf(stderr, "sparsebench _callgrind: stats: %s\n", strerror(errno));
        return BENCH_EXIT_FAIL;
    }
    int before = count_threads();
    int rc = layer_create(p.ops, &p.cfg, &l, err, sizeof(err));
    /* callgrind collects the calling thread only: say when the layer keeps
     * threads of its own even with a budget of one */
    int after = count_threads();
    if (!rc && before > 0 && after > before)
        fprintf(out, "threads %d\n", after - before);
    if (!rc && p.cold)
        rc = layer_create(p.ops, &p.cfg, &other, err, sizeof(err));
    if (rc) {
        for (char *c = err; *c; c++)
            if (*c == '\n')
                *c = ' ';
        fprintf(out, "point 0 error create: %s\n", err);
    } else {
        rc = count_points(&p, l, other, out);
    }
    layer_destroy(other);
    layer_destroy(l);
    if (fclose(out) || rc)
        return BENCH_EXIT_FAIL;
    return 0;
#endif
}
