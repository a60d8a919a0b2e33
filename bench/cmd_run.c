/* cmd_run.c - `sparsebench run`: check and time one layer at one point and
 * print the CSV header and row on stdout, a readable summary on stderr. */
#include "cli.h"
#include "counters/counters.h"
#include "measure.h"
#include "meta.h"
#include "probe.h"
#include "row.h"
#include "../impls/layer.h"

#include <stdint.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char run_epilog[] =
    "The layer is first checked: forward on all tokens against the plain-loop\n"
    "forward_ref on a few of them; a layer whose output disagrees is not timed\n"
    "(status=wrong, exit 1). Then at least 11 rounds of at least 1 ms each are\n"
    "timed on fresh distinct random tokens; --cache cold (default) flushes the\n"
    "layer's parameters from the caches before every timed forward.\n"
    "--inputs repeat times one input row repeated for every token instead (the\n"
    "published FFF benchmark's flaw, research/fff.md 2.2): for measuring what that\n"
    "flatters, never for a real comparison.\n"
    "roofline_frac is NA unless --probe measures this machine's roofs first.\n"
    "--counters papi reads the hardware counters around every timed forward (NA\n"
    "with the reason where the machine has none); callgrind re-runs the point\n"
    "under valgrind with pinned simulated caches and counts one forward on one\n"
    "thread (deterministic; 60-150x slower, seconds for small points); auto takes\n"
    "papi if its instructions event counts, else callgrind for a gate-sized point\n"
    "(params <= 1e7 and params x tokens <= 1.6e8), else none.\n"
    "Which events fill the papi columns depends on the CPU (libpfm4 detects it):\n"
    "`sparsebench counters` lists them for this machine and why any is NA.\n"
    "--papi-events replaces columns' events (a '+' sums several): PAPI names as\n"
    "given, or kernel:PMU/TERMS/ for a PMU in /sys/bus/event_source/devices;\n"
    "dram_bytes_est events count 64-byte lines. 'COL=' drops a column: e.g.\n"
    "--papi-events ll_misses=PAPI_L2_TCM,dram_bytes_est=\n"
    "Columns: reports/SCHEMA.md (or sparsebench schema).\n"
    "Knobs of an implementation: sparsebench list --verbose.\n";

static const struct layer_ops *find_impl(const char *impl)
{
    if (!impl)
        bench_usage_error("run", "--impl is required; one of the names in 'sparsebench list'");
    const struct layer_ops *ops = layer_find(impl);
    if (!ops) {
        char names[1024];
        bench_layer_names(names, sizeof(names));
        bench_usage_error("run", "--impl: unknown layer '%s'; allowed: %s", impl, names);
    }
    return ops;
}

/* The timed point again under callgrind; a failure is the row's error. */
static int count_point(struct bench_counters *ctr, const struct layer_ops *ops,
                       const struct layer_config *cfg, const struct bench_opts *bo,
                       struct bench_row *row)
{
    struct bench_cg_result r;
    size_t T = row->tokens;
    char err[1024];
    if (bench_callgrind_count(ctr, ops, cfg, bo->cache == BENCH_CACHE_COLD, &T, 1, &r, NULL, err,
                              sizeof(err))) {
        fprintf(stderr, "sparsebench run: %s\n", err);
        bench_row_note(row, "%s", err);
        return BENCH_EXIT_FAIL;
    }
    bench_callgrind_fill(&r, row);
    fprintf(stderr, "run: callgrind took %.1f s\n", ctr->cg_seconds);
    return 0;
}

int bench_cmd_run(int argc, char **argv)
{
    const char *impl = NULL, *knobs = "", *cache = "cold", *counters = "none", *inputs = "random";
    const char *papi_events = NULL, *weights = NULL;
    size_t d_model = 768, tokens = 1, batch = 1;
    unsigned scale = 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ncpu > 0 ? (int)ncpu : 1, rounds = 11, probe = 0;
    uint64_t seed = 1;
    const struct bench_opt opts[] = {
        {"impl", BENCH_OPT_STR, &impl, 0, 0, NULL, "NAME", "layer to run (sparsebench list)"},
        {"d", BENCH_OPT_SIZE, &d_model, 1, 65536, NULL, "D", "model width d_model (768)"},
        {"scale", BENCH_OPT_UINT, &scale, 1, 4096, NULL, "S",
         "sparse-parameter scale: total params ~ S x dense FFN (1)"},
        {"tokens", BENCH_OPT_SIZE, &tokens, 1, 1 << 20, NULL, "T",
         "tokens per sequence (1); tokens per forward = batch x T"},
        {"batch", BENCH_OPT_SIZE, &batch, 1, 1 << 20, NULL, "B", "sequences per forward (1)"},
        {"threads", BENCH_OPT_INT, &threads, 1, 256, NULL, "N", "threads (all online CPUs)"},
        {"knobs", BENCH_OPT_STR, &knobs, 0, 0, NULL, "K=V,...", "family knobs, preset=NAME"},
        {"seed", BENCH_OPT_U64, &seed, 0, 0, NULL, "N", "weight and input seed (1)"},
        {"cache", BENCH_OPT_CHOICE, &cache, 0, 0, "cold|warm", NULL,
         "flush parameters before each timed forward (cold) or not"},
        {"inputs", BENCH_OPT_CHOICE, &inputs, 0, 0, BENCH_INPUTS_CHOICES, NULL,
         "distinct random tokens (random) or one row repeated (repeat)"},
        {"rounds", BENCH_OPT_INT, &rounds, 11, 100000, NULL, "N", "timed rounds (11)"},
        {"counters", BENCH_OPT_CHOICE, &counters, 0, 0, BENCH_COUNTER_CHOICES, NULL,
         "what fills the counter columns (none)"},
        {"papi-events", BENCH_OPT_STR, &papi_events, 0, 0, NULL, "COL=EV[+EV],...",
         "events per counter column, over this CPU's (below)"},
        {"probe", BENCH_OPT_FLAG, &probe, 0, 0, NULL, NULL,
         "measure this machine's roofs first (a few seconds) to fill roofline_frac"},
        {"weights", BENCH_OPT_STR, &weights, 0, 0, NULL, "FILE",
         "load the layer's tensors from FILE (sparsebench export) instead of the seed"},
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
    const struct layer_ops *ops = find_impl(impl);
    if ((uint64_t)batch * tokens > (1u << 20))
        bench_usage_error("run", "--batch %zu x --tokens %zu is more than %u tokens per forward",
                          batch, tokens, 1u << 20);

    struct bench_opts bo;
    bench_opts_default(&bo);
    bo.min_rounds = rounds;
    bo.cache = strcmp(cache, "warm") ? BENCH_CACHE_COLD : BENCH_CACHE_WARM;
    bo.inputs = bench_inputs_parse(inputs);
    char err[512] = "";
    bench_blas_report("run");
    if (probe && bench_probe_for_roofs("run", threads, &bo.roofs))
        return BENCH_EXIT_FAIL;
    struct layer_config cfg = {.d_model = d_model,
                               .scale = scale,
                               .seed = seed,
                               .threads = threads,
                               .knobs = knobs,
                               .weights = weights};
    struct bench_counters ctr;
    if (bench_counters_open(&ctr, counters, papi_events,
                            bench_counters_gate_sized(d_model, scale, batch * tokens), "run", err,
                            sizeof(err)))
        bench_usage_error("run", "%s", err);
    if (weights && ctr.mode == BENCH_COUNTERS_CALLGRIND) {
        bench_counters_close(&ctr);
        bench_usage_error("run", "--counters callgrind does not load --weights yet (its child "
                                 "builds the seeded layer); use papi or none");
    }
    bo.hooks = bench_counters_hooks(&ctr);
    struct bench_row row;
    int rc = bench_run_point(ops, &cfg, batch, tokens, &bo, &row, err, sizeof(err));
    if (rc == LAYER_EKNOB || rc == LAYER_EINVAL || rc == LAYER_EUNSUPPORTED ||
        rc == LAYER_ETOOBIG || rc == LAYER_EWEIGHTS) {
        fprintf(stderr, "sparsebench run: %s\n", err);
        bench_counters_close(&ctr);
        return BENCH_EXIT_USAGE;
    }
    if (rc == 0 && ctr.mode == BENCH_COUNTERS_CALLGRIND) {
        rc = count_point(&ctr, ops, &cfg, &bo, &row);
        if (bo.inputs == BENCH_INPUTS_REPEAT)
            bench_row_note(&row, "callgrind counted distinct random inputs, not repeat");
    }
    bench_csv_write_header(stdout);
    bench_csv_write_row(stdout, &row);
    bench_row_summary(stderr, &row);
    bench_counters_close(&ctr);
    return rc ? BENCH_EXIT_FAIL : 0;
}
