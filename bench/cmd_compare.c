/* cmd_compare.c - `sparsebench compare A B`: two layers checked, then timed
 * in alternating pairs of rounds in one process (pair.c), and the median
 * of the per-pair ratios time(B) / time(A) with its 95 % interval: a CSV
 * header and two rows (A's, then B's, each paired with the other) on
 * stdout, a readable summary on stderr. */
#include "cli.h"
#include "measure.h"
#include "meta.h"
#include "pair.h"
#include "probe.h"
#include "row.h"
#include "stats.h"
#include "../impls/layer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char compare_epilog[] =
    "A and B are layers from 'sparsebench list', each with optional knobs:\n"
    "  sparsebench compare ultramem moe:preset=2in34 --scale 12 --tokens 64\n"
    "Both are created with the same D, tokens, threads, seed and cache mode (B at\n"
    "--scale-b when given) and checked against their plain-loop references; if either\n"
    "disagrees, neither is timed (status=wrong, exit 1). Then --pairs pairs of rounds\n"
    "run in one process, A B, B A, A B, ... (ABBA, so drift and the position in a pair\n"
    "cancel), both sides on the same token windows and the same number of forwards per\n"
    "round (enough that the faster side's round is >= 1 ms), each forward cold unless\n"
    "--cache warm. --inputs repeat gives both sides one input row repeated for every\n"
    "token (the published FFF benchmark's flaw, research/fff.md 2.2).\n"
    "The ratio is time(B) / time(A) per pair: how many times faster A is than B\n"
    "(> 1: A is faster; < 1: A is slower). Reported: its median over the pairs and a\n"
    "95 % confidence interval; --ci orderstat (default) is the distribution-free\n"
    "interval for a median from order statistics (exact coverage >= 95 %, 97.3 % at 21\n"
    "pairs), --ci bootstrap the percentile bootstrap over pairs (fixed seed; covers\n"
    "about 90-94 % at ~21 pairs). An interval that contains 1 means no difference was\n"
    "found at that level. Why pairs: on a shared machine one layer timed now and the\n"
    "other in a minute differ by the machine's mood; two rounds back to back see the\n"
    "same moment, and their ratio cancels it.\n"
    "stdout: the results.csv header and two rows, A's (pair_with = B, pair_ratio as\n"
    "above) and B's (the mirror, from the same rounds); columns: reports/SCHEMA.md.\n"
    "Exit status: 0 done, 1 a layer was wrong or failed, 2 bad input.\n";

/* "impl" or "impl:knobs" -> the layer, its knobs in buf. */
static const struct layer_ops *parse_side(const char *which, const char *spec, char *knobs,
                                          size_t len)
{
    const char *colon = strchr(spec, ':');
    char name[BENCH_NAME_LEN];
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0 || n >= sizeof(name))
        bench_usage_error("compare", "%s: '%s' is not 'impl' or 'impl:knob=value,...'", which,
                          spec);
    memcpy(name, spec, n);
    name[n] = '\0';
    const struct layer_ops *ops = layer_find(name);
    if (!ops) {
        char names[1024];
        bench_layer_names(names, sizeof(names));
        bench_usage_error("compare", "%s: unknown layer '%s'; allowed: %s", which, name, names);
    }
    if (colon && strlen(colon + 1) >= len)
        bench_usage_error("compare", "%s: knobs '%s' are longer than %zu characters", which,
                          colon + 1, len - 1);
    snprintf(knobs, len, "%s", colon ? colon + 1 : "");
    return ops;
}

/* Two instances of one layer differ by up to this much from process to
 * process here (placement: dense vs dense at D = 768, 64 tokens, medians
 * 0.97-1.03; reports/SCHEMA.md), which the interval does not cover. */
#define INSTANCE_SPREAD 0.05

/* "2.87x faster", "1.25x slower" or "no difference", with the interval in the same terms. */
static void verdict(FILE *f, const struct bench_row *ra, const struct bench_row *rb)
{
    double m = ra->pair_ratio, lo = ra->pair_ratio_lo, hi = ra->pair_ratio_hi;
    if (lo > 1)
        fprintf(f, "  => %s is %.3gx faster than %s (95 %% interval %.3g-%.3gx)\n", ra->slot, m,
                rb->slot, lo, hi);
    else if (hi < 1)
        fprintf(f, "  => %s is %.3gx slower than %s (95 %% interval %.3g-%.3gx)\n", ra->slot, 1 / m,
                rb->slot, 1 / hi, 1 / lo);
    else
        fprintf(f,
                "  => no difference found at 95 %%: the interval [%.3g, %.3g] contains 1 "
                "(median %.3g)\n",
                lo, hi, m);
    if ((lo > 1 || hi < 1) && fabs(m - 1) < INSTANCE_SPREAD)
        fprintf(f,
                "  (within %.0f %% of 1: two instances of one layer can differ this much on "
                "this kind of machine; repeat the compare before calling a difference)\n",
                100 * INSTANCE_SPREAD);
}

static void side_summary(FILE *f, const char *tag, const struct bench_row *r)
{
    fprintf(f, "  %s %-20s %10.1f us median (min %.1f, p90 %.1f, err %.1f%%), %.2f GFLOP/s%s%s\n",
            tag, r->slot, r->latency_us_median, r->latency_us_min, r->latency_us_p90, r->err_pct,
            r->gflops, r->note[0] ? "; " : "", r->note);
}

static void summary(FILE *f, const struct bench_row *ra, const struct bench_row *rb)
{
    fprintf(f, "compare: A = %s, B = %s; D = %llu, scale %llu", ra->slot, rb->slot,
            (unsigned long long)ra->d_model, (unsigned long long)ra->scale);
    if (rb->scale != ra->scale)
        fprintf(f, " (B: %llu)", (unsigned long long)rb->scale);
    fprintf(f, ", T = %llu (batch %llu x %llu), %llu thread%s, %s cache\n",
            (unsigned long long)ra->tokens, (unsigned long long)ra->batch,
            (unsigned long long)ra->seq_len, (unsigned long long)ra->threads,
            ra->threads == 1 ? "" : "s", ra->cache);
    if (!strcmp(ra->inputs, "repeat"))
        fprintf(f, "  inputs: one row repeated for every token (--inputs repeat)\n");
    if (strcmp(ra->status, "ok") || strcmp(rb->status, "ok")) {
        fprintf(f, "  A: status %s: %s\n  B: status %s: %s\n", ra->status, ra->note, rb->status,
                rb->note);
        return;
    }
    fprintf(f,
            "  checked: max_abs_err A %.2g, B %.2g; %llu pairs (ABBA) over %llu instance%s of "
            "each, %llu forward%s per round\n",
            ra->max_abs_err, rb->max_abs_err, (unsigned long long)ra->pair_n,
            (unsigned long long)ra->pair_instances, ra->pair_instances == 1 ? "" : "s",
            (unsigned long long)ra->iters_per_round, ra->iters_per_round == 1 ? "" : "s");
    side_summary(f, "A", ra);
    side_summary(f, "B", rb);
    fprintf(f, "  time(B) / time(A) = %.4g, 95 %% interval [%.4g, %.4g] (%s", ra->pair_ratio,
            ra->pair_ratio_lo, ra->pair_ratio_hi, ra->pair_ci_method);
    if (!strcmp(ra->pair_ci_method, "orderstat")) {
        size_t lo, hi;
        double cov;
        if (bench_median_ci_ranks((size_t)ra->pair_n, BENCH_CI_LEVEL, &lo, &hi, &cov) == 0)
            fprintf(f, ": ratios ranked %zu and %zu of %llu, exact coverage %.1f %%", lo, hi,
                    (unsigned long long)ra->pair_n, 100 * cov);
    } else {
        fprintf(f, ": %d resamples of the pairs, seed %u", BENCH_BOOTSTRAP_RESAMPLES,
                BENCH_BOOTSTRAP_SEED);
    }
    fprintf(f, ")\n");
    verdict(f, ra, rb);
}

int bench_cmd_compare(int argc, char **argv)
{
    const char *spec_a = NULL, *spec_b = NULL, *cache = "cold", *counters = "none";
    const char *ci = "orderstat", *inputs = "random";
    size_t d_model = 768, tokens = 1, batch = 1;
    unsigned scale = 1, scale_b = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ncpu > 0 ? (int)ncpu : 1, pairs = BENCH_MIN_PAIRS, probe = 0;
    int instances = BENCH_PAIR_INSTANCES;
    uint64_t seed = 1;
    const char *weights = NULL, *weights_a = NULL, *weights_b = NULL;
    const struct bench_opt opts[] = {
        {NULL, BENCH_OPT_STR, &spec_a, 0, 0, NULL, "A", "the first layer, impl[:knobs]"},
        {NULL, BENCH_OPT_STR, &spec_b, 0, 0, NULL, "B", "the second layer, impl[:knobs]"},
        {"d", BENCH_OPT_SIZE, &d_model, 1, 65536, NULL, "D", "model width d_model (768)"},
        {"scale", BENCH_OPT_UINT, &scale, 1, 4096, NULL, "S",
         "sparse-parameter scale of both: total params ~ S x dense FFN (1)"},
        {"scale-b", BENCH_OPT_UINT, &scale_b, 1, 4096, NULL, "S", "B's scale (--scale)"},
        {"tokens", BENCH_OPT_SIZE, &tokens, 1, 1 << 20, NULL, "T",
         "tokens per sequence (1); tokens per forward = batch x T"},
        {"batch", BENCH_OPT_SIZE, &batch, 1, 1 << 20, NULL, "B", "sequences per forward (1)"},
        {"threads", BENCH_OPT_INT, &threads, 1, 256, NULL, "N", "threads (all online CPUs)"},
        {"seed", BENCH_OPT_U64, &seed, 0, 0, NULL, "N", "weight and input seed (1)"},
        {"cache", BENCH_OPT_CHOICE, &cache, 0, 0, "cold|warm", NULL,
         "flush parameters before each timed forward (cold) or not"},
        {"inputs", BENCH_OPT_CHOICE, &inputs, 0, 0, BENCH_INPUTS_CHOICES, NULL,
         "distinct random tokens (random) or one row repeated (repeat), both sides"},
        {"pairs", BENCH_OPT_INT, &pairs, BENCH_MIN_PAIRS, 100000, NULL, "N",
         "pairs of rounds (21)"},
        {"instances", BENCH_OPT_INT, &instances, 1, BENCH_PAIR_INSTANCES_MAX, NULL, "K",
         "instances of each layer the pairs rotate over, as memory allows (3)"},
        {"ci", BENCH_OPT_CHOICE, &ci, 0, 0, BENCH_CI_CHOICES, NULL,
         "how the 95 % interval is computed (orderstat)"},
        {"counters", BENCH_OPT_CHOICE, &counters, 0, 0, "none", NULL,
         "none: counters are for run and sweep, one layer at a time"},
        {"probe", BENCH_OPT_FLAG, &probe, 0, 0, NULL, NULL,
         "measure this machine's roofs first (a few seconds) to fill roofline_frac"},
        {"weights", BENCH_OPT_STR, &weights, 0, 0, NULL, "FILE",
         "load both layers' tensors from FILE (sparsebench export) instead of the seed"},
        {"weights-a", BENCH_OPT_STR, &weights_a, 0, 0, NULL, "FILE", "A's weights (--weights)"},
        {"weights-b", BENCH_OPT_STR, &weights_b, 0, 0, NULL, "FILE", "B's weights (--weights)"},
    };
    const struct bench_cmd cmd = {
        .name = "compare",
        .summary = "Check two layers, time them in alternating pairs of rounds, and report\n"
                   "how many times faster A is than B (time B / time A) with a 95 % interval.",
        .usage = "A B [options]",
        .epilog = compare_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    char knobs_a[LAYER_KNOBS_LEN], knobs_b[LAYER_KNOBS_LEN];
    const struct layer_ops *ops_a = parse_side("A", spec_a, knobs_a, sizeof(knobs_a));
    const struct layer_ops *ops_b = parse_side("B", spec_b, knobs_b, sizeof(knobs_b));
    if ((uint64_t)batch * tokens > (1u << 20))
        bench_usage_error("compare",
                          "--batch %zu x --tokens %zu is more than %u tokens per forward", batch,
                          tokens, 1u << 20);

    struct bench_opts bo;
    bench_opts_default(&bo);
    bo.pairs = pairs;
    bench_ci_method_parse(ci, &bo.ci);
    bo.cache = strcmp(cache, "warm") ? BENCH_CACHE_COLD : BENCH_CACHE_WARM;
    bo.inputs = bench_inputs_parse(inputs);
    char err[512] = "";
    bench_blas_report("compare");
    if (probe && bench_probe_for_roofs("compare", threads, &bo.roofs))
        return BENCH_EXIT_FAIL;
    size_t T = batch * tokens;
    struct layer_config ca = {.d_model = d_model,
                              .scale = scale,
                              .seed = seed,
                              .threads = threads,
                              .max_tokens = T,
                              .knobs = knobs_a,
                              .weights = weights_a ? weights_a : weights};
    struct layer_config cb = ca;
    cb.scale = scale_b ? scale_b : scale;
    cb.knobs = knobs_b;
    cb.weights = weights_b ? weights_b : weights;
    struct bench_row ra, rb;
    bench_row_init(&ra, NULL, ops_a, &ca, batch, tokens, bo.cache == BENCH_CACHE_COLD, 1);
    bench_row_init(&rb, NULL, ops_b, &cb, batch, tokens, bo.cache == BENCH_CACHE_COLD, 1);
    snprintf(ra.inputs, sizeof(ra.inputs), "%s", bench_inputs_name(bo.inputs));
    snprintf(rb.inputs, sizeof(rb.inputs), "%s", bench_inputs_name(bo.inputs));
    /* k instances of each side, as many as memory allows (pair.h). */
    uint64_t bytes_a = 0, bytes_b = 0;
    int rc = layer_check(ops_a, &ca, &bytes_a, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "sparsebench compare: A: %s\n", err);
        return rc == LAYER_ENOMEM || rc == LAYER_ETHREAD ? BENCH_EXIT_FAIL : BENCH_EXIT_USAGE;
    }
    rc = layer_check(ops_b, &cb, &bytes_b, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "sparsebench compare: B: %s\n", err);
        return rc == LAYER_ENOMEM || rc == LAYER_ETHREAD ? BENCH_EXIT_FAIL : BENCH_EXIT_USAGE;
    }
    size_t k = bench_pair_instances_fit((size_t)instances, bytes_a, bytes_b);
    if (k < (size_t)instances)
        fprintf(stderr,
                "compare: %zu instance%s of each layer, not %d: %d x %.1f MiB would not fit in "
                "memory\n",
                k, k == 1 ? "" : "s", instances, instances, (bytes_a + bytes_b) / 1048576.0);
    struct bench_layer la[BENCH_PAIR_INSTANCES_MAX], lb[BENCH_PAIR_INSTANCES_MAX];
    rc = bench_layer_open_n(la, k, ops_a, &ca, bo.inputs, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "sparsebench compare: A: %s\n", err);
        return rc == LAYER_ENOMEM || rc == LAYER_ETHREAD ? BENCH_EXIT_FAIL : BENCH_EXIT_USAGE;
    }
    rc = bench_layer_open_n(lb, k, ops_b, &cb, bo.inputs, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "sparsebench compare: B: %s\n", err);
        bench_layer_close_n(la, k);
        return rc == LAYER_ENOMEM || rc == LAYER_ETHREAD ? BENCH_EXIT_FAIL : BENCH_EXIT_USAGE;
    }
    rc = bench_measure_pair_n(la, lb, k, &bo, &ra, &rb, err, sizeof(err));
    bench_layer_close_n(lb, k);
    bench_layer_close_n(la, k);
    bench_csv_write_header(stdout);
    bench_csv_write_row(stdout, &ra);
    bench_csv_write_row(stdout, &rb);
    summary(stderr, &ra, &rb);
    return rc ? BENCH_EXIT_FAIL : 0;
}
