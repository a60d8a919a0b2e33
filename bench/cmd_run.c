/* cmd_run.c - `sparsebench run`: check and time one layer at one point and
 * print the CSV header and row on stdout, a readable summary on stderr. */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char run_epilog[] =
    "The layer is first checked: forward on all tokens against the plain-loop\n"
    "forward_ref on a few of them; a layer whose output disagrees is not timed\n"
    "(status=wrong, exit 1). Then at least 11 rounds of at least 1 ms each are\n"
    "timed on fresh distinct random tokens; --cache cold (default) flushes the\n"
    "layer's parameters from the caches before every timed forward.\n"
    "Knobs of an implementation: sparsebench list --verbose.\n";

static void print_summary(const struct bench_row *r)
{
    if (!strcmp(r->status, "ok"))
        fprintf(stderr,
                "%s d=%llu scale=%llu T=%llu threads=%llu %s: %.1f us median "
                "(min %.1f, p90 %.1f, err %.1f%%), %.2f GFLOP/s, max_abs_err %.2g%s%s\n",
                r->impl, (unsigned long long)r->d_model, (unsigned long long)r->scale,
                (unsigned long long)r->tokens, (unsigned long long)r->threads, r->cache,
                r->latency_us_median, r->latency_us_min, r->latency_us_p90, r->err_pct, r->gflops,
                r->max_abs_err, r->note[0] ? "; " : "", r->note);
    else
        fprintf(stderr, "%s: status %s: %s\n", r->impl, r->status, r->note);
}

int bench_cmd_run(int argc, char **argv)
{
    const char *impl = NULL, *knobs = "", *cache = "cold";
    size_t d_model = 768, tokens = 1;
    unsigned scale = 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ncpu > 0 ? (int)ncpu : 1, rounds = 11;
    uint64_t seed = 1;
    const struct bench_opt opts[] = {
        {"impl", BENCH_OPT_STR, &impl, 0, 0, NULL, "NAME", "layer to run (sparsebench list)"},
        {"d", BENCH_OPT_SIZE, &d_model, 1, 65536, NULL, "D", "model width d_model (768)"},
        {"scale", BENCH_OPT_UINT, &scale, 1, 4096, NULL, "S",
         "sparse-parameter scale: total params ~ S x dense FFN (1)"},
        {"tokens", BENCH_OPT_SIZE, &tokens, 1, 1 << 20, NULL, "T", "tokens per forward (1)"},
        {"threads", BENCH_OPT_INT, &threads, 1, 256, NULL, "N", "threads (all online CPUs)"},
        {"knobs", BENCH_OPT_STR, &knobs, 0, 0, NULL, "K=V,...", "family knobs, preset=NAME"},
        {"seed", BENCH_OPT_U64, &seed, 0, 0, NULL, "N", "weight and input seed (1)"},
        {"cache", BENCH_OPT_CHOICE, &cache, 0, 0, "cold|warm", NULL,
         "flush parameters before each timed forward (cold) or not"},
        {"rounds", BENCH_OPT_INT, &rounds, 11, 100000, NULL, "N", "timed rounds (11)"},
    };
    const struct bench_cmd cmd = {
        .name = "run",
        .summary = "Check one layer against its reference, time it, print a CSV row.",
        .usage = "--impl NAME [options]",
        .epilog = run_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    if (!impl)
        bench_usage_error("run", "--impl is required; one of the names in 'sparsebench list'");
    const struct layer_ops *ops = layer_find(impl);
    if (!ops) {
        char names[1024] = "";
        size_t used = 0;
        for (size_t i = 0; i < layer_count() && used < sizeof(names); i++)
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
                                     layer_get(i)->name);
        bench_usage_error("run", "--impl: unknown layer '%s'; allowed: %s", impl, names);
    }

    struct bench_opts bo;
    bench_opts_default(&bo);
    bo.min_rounds = rounds;
    bo.cache = strcmp(cache, "warm") ? BENCH_CACHE_COLD : BENCH_CACHE_WARM;
    struct bench_point pt = {
        .ops = ops,
        .cfg =
            {.d_model = d_model, .scale = scale, .seed = seed, .threads = threads, .knobs = knobs},
        .batch = 1,
        .seq_len = tokens,
    };
    struct bench_row row;
    char err[512] = "";
    int rc = bench_run_point(&pt, &bo, &row, err, sizeof(err));
    if (rc == LAYER_EKNOB || rc == LAYER_EINVAL || rc == LAYER_EUNSUPPORTED ||
        rc == LAYER_ETOOBIG) {
        fprintf(stderr, "sparsebench run: %s\n", err);
        return BENCH_EXIT_USAGE;
    }
    bench_csv_write_header(stdout);
    bench_csv_write_row(stdout, &row);
    print_summary(&row);
    return rc ? BENCH_EXIT_FAIL : 0;
}
