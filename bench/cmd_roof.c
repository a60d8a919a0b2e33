/* cmd_roof.c - `sparsebench roof`: how close each layer runs to this
 * machine's limits. Probes the roofs (probe.c), measures every layer at
 * every token count as `run` does, probes again, and prints one Markdown
 * table: each point's time against the sgemm peak (its flops), STREAM
 * triad (its streamed bytes) and the gather roof (its gathered bytes: small
 * sparse units such as value rows and tree nodes), and roofline_frac with
 * the roof that sets it (runner.c, bench_roof_terms; README "The machine's
 * roofs"). It measures nothing the harness does not; it puts the three
 * roofs side by side for a set of points in one process.
 */
#include "cli.h"
#include "measure.h"
#include "meta.h"
#include "probe.h"
#include "row.h"
#include "../impls/layer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LAYERS     16
#define MAX_TOKENS     16
#define DEFAULT_LAYERS "dense moe pkm ultramem fff"

static const char roof_epilog[] =
    "LAYER is a name from `sparsebench list`, optionally with knobs: fff:preset=1x11\n"
    "(default: " DEFAULT_LAYERS "). Each point is checked against its reference and\n"
    "timed as `run` times it (cold cache by default). The roofs are probed before the\n"
    "first point and after the last, and each fraction is taken against the better\n"
    "of the two probes of that roof (a fraction against a slow moment would flatter).\n"
    "Columns: of_sgemm = flops / sgemm peak / time; of_triad = streamed bytes / triad\n"
    "/ time; of_gather = gathered bytes (sparse units under 64 KiB: value rows, tree\n"
    "nodes) / gather / time; roofline_frac = max(flops / peak, streamed / triad +\n"
    "gathered / gather) / time, and binds names its largest term (README, \"The\n"
    "machine's roofs\"). stdout: the Markdown table; stderr: the probes and each\n"
    "point's summary. Exit status: 0 done, 1 a point was wrong or failed, 2 bad input.\n";

struct roof_layer {
    const struct layer_ops *ops;
    char knobs[LAYER_KNOBS_LEN];
};

/* "impl" or "impl:knob=value,..." */
static void parse_layer(const char *spec, struct roof_layer *out)
{
    const char *colon = strchr(spec, ':');
    char name[BENCH_NAME_LEN];
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0 || n >= sizeof(name))
        bench_usage_error("roof", "layer '%s' is not 'impl' or 'impl:knob=value,...'", spec);
    memcpy(name, spec, n);
    name[n] = '\0';
    out->ops = layer_find(name);
    if (!out->ops) {
        char names[1024];
        bench_layer_names(names, sizeof(names));
        bench_usage_error("roof", "unknown layer '%s'; allowed: %s", name, names);
    }
    if (colon && strlen(colon + 1) >= sizeof(out->knobs))
        bench_usage_error("roof", "layer '%s': knobs longer than %zu characters", spec,
                          sizeof(out->knobs) - 1);
    snprintf(out->knobs, sizeof(out->knobs), "%s", colon ? colon + 1 : "");
}

/* "1,64,1024" -> tokens[0..n) */
static size_t parse_tokens(const char *list, size_t *tokens)
{
    size_t n = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[32], *stop;
        if (len == 0 || len >= sizeof(item))
            bench_usage_error("roof",
                              "--tokens: '%s' has an empty or overlong item; allowed: "
                              "comma-separated integers 1..1048576",
                              list);
        memcpy(item, p, len);
        item[len] = '\0';
        errno = 0;
        unsigned long long v = strtoull(item, &stop, 10);
        if (*stop || item[0] == '-' || errno || v < 1 || v > (1u << 20))
            bench_usage_error("roof", "--tokens: '%s' in '%s' is not an integer in 1..1048576",
                              item, list);
        if (n == MAX_TOKENS)
            bench_usage_error("roof", "--tokens: '%s' has more than %d counts", list, MAX_TOKENS);
        tokens[n++] = (size_t)v;
        if (!end)
            return n;
        p = end + 1;
    }
}

static double best(double a, double b)
{
    return a > b ? a : b;
}

static int probe(int threads, struct bench_probe *p, const char *when)
{
    char err[512] = "";
    if (bench_probe_run(threads, p, err, sizeof(err))) {
        fprintf(stderr, "sparsebench roof: probe failed: %s\n", err);
        return -1;
    }
    bench_probe_print(stderr, when, p);
    return 0;
}

static void print_table(const struct bench_row *rows, size_t n, const struct bench_roofs *r,
                        int threads)
{
    printf("roofs (best of the probes before and after, %d threads): sgemm %.1f GFLOP/s, "
           "triad %.2f GB/s, gather %.2f GB/s\n\n",
           threads, r->peak_gflops, r->bandwidth_gbps, r->gather_gbps);
    printf("| layer | T | us | GFLOP/s | of_sgemm | streamed GB/s | of_triad | gathered GB/s | "
           "of_gather | roofline_frac | binds |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (size_t i = 0; i < n; i++) {
        const struct bench_row *row = &rows[i];
        struct bench_roof_terms t;
        if (strcmp(row->status, "ok") || bench_roof_terms(row, r, &t)) {
            printf("| %s | %zu | %s | | | | | | | | |\n", row->slot, row->tokens, row->status);
            continue;
        }
        double s = row->latency_us_median * 1e-6;
        printf("| %s | %zu | %.1f | %.2f | %.3f | %.2f | %.3f | %.2f | %.3f | %.3f | %s |\n",
               row->slot, row->tokens, row->latency_us_median, row->gflops, t.compute_frac,
               t.streamed_bytes / s * 1e-9, t.stream_frac, t.gathered_bytes / s * 1e-9,
               t.gather_frac, t.roofline_frac, t.roof);
    }
}

/* Flags (with their values) into flags[], layer specs into specs[]; every
 * flag of roof takes a value except --help. */
static void split_args(int argc, char **argv, char **flags, int *n_flags, const char **specs,
                       size_t *n_specs)
{
    *n_flags = 0;
    *n_specs = 0;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "--", 2) || !strcmp(argv[i], "-h")) {
            flags[(*n_flags)++] = argv[i];
            if (strcmp(argv[i], "--help") && strcmp(argv[i], "-h") && !strchr(argv[i], '=') &&
                i + 1 < argc)
                flags[(*n_flags)++] = argv[++i];
            continue;
        }
        if (*n_specs == MAX_LAYERS)
            bench_usage_error("roof", "more than %d layers (at '%s')", MAX_LAYERS, argv[i]);
        specs[(*n_specs)++] = argv[i];
    }
}

int bench_cmd_roof(int argc, char **argv)
{
    const char *tokens_list = "1,64,1024", *cache = "cold";
    size_t d_model = 768;
    unsigned scale = 12;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ncpu > 0 ? (int)ncpu : 1, rounds = 11;
    uint64_t seed = 1;
    const struct bench_opt opts[] = {
        {"tokens", BENCH_OPT_STR, &tokens_list, 0, 0, NULL, "T,T,...",
         "tokens per forward, comma-separated (1,64,1024)"},
        {"d", BENCH_OPT_SIZE, &d_model, 1, 65536, NULL, "D", "model width d_model (768)"},
        {"scale", BENCH_OPT_UINT, &scale, 1, 4096, NULL, "S",
         "sparse-parameter scale of every layer (12; dense ignores it)"},
        {"threads", BENCH_OPT_INT, &threads, 1, 256, NULL, "N", "threads (all online CPUs)"},
        {"seed", BENCH_OPT_U64, &seed, 0, 0, NULL, "N", "weight and input seed (1)"},
        {"cache", BENCH_OPT_CHOICE, &cache, 0, 0, "cold|warm", NULL,
         "flush parameters before each timed forward (cold) or not"},
        {"rounds", BENCH_OPT_INT, &rounds, 11, 100000, NULL, "N", "timed rounds per point (11)"},
    };
    const struct bench_cmd cmd = {
        .name = "roof",
        .summary = "Each layer's time against the sgemm, triad and gather roofs, as a table.",
        .usage = "[options] [LAYER[:K=V,...] ...]",
        .epilog = roof_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    char **flags = calloc((size_t)argc + 1, sizeof(*flags));
    const char *specs[MAX_LAYERS];
    struct roof_layer layers[MAX_LAYERS];
    size_t n_specs, tokens[MAX_TOKENS];
    int n_flags, rc = 0;
    if (!flags) {
        fprintf(stderr, "sparsebench roof: out of memory\n");
        return BENCH_EXIT_FAIL;
    }
    split_args(argc, argv, flags, &n_flags, specs, &n_specs);
    bench_parse_args(&cmd, n_flags, flags);
    free(flags);
    size_t n_tok = parse_tokens(tokens_list, tokens);
    char defaults[] = DEFAULT_LAYERS;
    if (n_specs == 0)
        for (char *tok = strtok(defaults, " "); tok; tok = strtok(NULL, " "))
            specs[n_specs++] = tok;
    for (size_t i = 0; i < n_specs; i++)
        parse_layer(specs[i], &layers[i]);

    for (size_t i = 0; i < n_specs; i++) /* bad knobs refused before anything is measured */
        for (size_t k = 0; k < n_tok; k++) {
            struct layer_config cfg = {.d_model = d_model,
                                       .scale = scale,
                                       .seed = seed,
                                       .threads = threads,
                                       .max_tokens = tokens[k],
                                       .knobs = layers[i].knobs};
            char err[512] = "";
            int crc = bench_point_fits(layers[i].ops, &cfg, 1, err, sizeof(err));
            if (crc == LAYER_EKNOB || crc == LAYER_EINVAL || crc == LAYER_ETOOBIG)
                bench_usage_error("roof", "%s", err);
        }

    struct bench_opts bo;
    bench_opts_default(&bo);
    bo.min_rounds = rounds;
    bo.cache = strcmp(cache, "warm") ? BENCH_CACHE_COLD : BENCH_CACHE_WARM;
    bench_blas_report("roof");
    struct bench_probe before, after;
    if (probe(threads, &before, "roof, before"))
        return BENCH_EXIT_FAIL;
    struct bench_row *rows = calloc(n_specs * n_tok, sizeof(*rows));
    if (!rows) {
        fprintf(stderr, "sparsebench roof: out of memory\n");
        return BENCH_EXIT_FAIL;
    }
    size_t n_rows = 0;
    for (size_t i = 0; i < n_specs; i++)
        for (size_t k = 0; k < n_tok; k++) {
            struct layer_config cfg = {.d_model = d_model,
                                       .scale = scale,
                                       .seed = seed,
                                       .threads = threads,
                                       .knobs = layers[i].knobs};
            char err[512] = "";
            struct bench_row *row = &rows[n_rows++];
            int prc =
                bench_run_point(layers[i].ops, &cfg, 1, tokens[k], &bo, row, err, sizeof(err));
            if (prc == LAYER_EKNOB || prc == LAYER_EINVAL) {
                fprintf(stderr, "sparsebench roof: %s\n", err);
                free(rows);
                return BENCH_EXIT_USAGE;
            }
            if (prc && prc != LAYER_EUNSUPPORTED) /* unsupported: a skipped row, said so */
                rc = BENCH_EXIT_FAIL;
            bench_row_summary(stderr, row);
        }
    if (probe(threads, &after, "roof, after")) {
        free(rows);
        return BENCH_EXIT_FAIL;
    }
    struct bench_roofs r = {best(before.sgemm_gflops, after.sgemm_gflops),
                            best(before.triad_gbps, after.triad_gbps),
                            best(before.gather_gbps, after.gather_gbps)};
    print_table(rows, n_rows, &r, threads);
    free(rows);
    return rc;
}
