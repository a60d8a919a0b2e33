/* cmd_export.c - `sparsebench export`: write a layer's parameter tensors to a
 * safetensors file or a directory of .npy files (weights.h), for a user to
 * inspect, replace with trained ones, and load back with --weights. */
#include "cli.h"
#include "weights.h"
#include "../impls/layer.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char export_epilog[] =
    "Creates the layer exactly as run would (same --d, --scale, --seed, --knobs)\n"
    "and writes every tensor its param op lists, each in its stored dtype (the\n"
    "dtype knob): one safetensors file when --out ends in .safetensors (F32, BF16,\n"
    "F16; metadata: impl, resolved knobs, d_model, scale, seed), else a directory\n"
    "of NAME.npy files ('<f4', '<f2'; bf16 as '<f4' widened exactly: NumPy has no\n"
    "bfloat16). A file of any of these dtypes loads into a layer of any dtype:\n"
    "widened exactly or rounded to nearest even; a value the layer's dtype cannot\n"
    "hold (f16 beyond 65504) is refused. Derived tables (PKM's folded\n"
    "BatchNorm, UltraMem's singular vectors and bounds) are not written: loading\n"
    "recomputes them. --weights FILE on run, compare and in sweep slots loads such\n"
    "a file instead of the seeded init. Names and shapes per family:\n"
    "reports/WEIGHTS.md. --weights here re-exports a loaded file (a format change).\n";

int bench_cmd_export(int argc, char **argv)
{
    const char *impl = NULL, *knobs = "", *out = NULL, *weights = NULL;
    size_t d_model = 768;
    unsigned scale = 1;
    uint64_t seed = 1;
    const struct bench_opt opts[] = {
        {"impl", BENCH_OPT_STR, &impl, 0, 0, NULL, "NAME", "layer to export (sparsebench list)"},
        {"d", BENCH_OPT_SIZE, &d_model, 1, 65536, NULL, "D", "model width d_model (768)"},
        {"scale", BENCH_OPT_UINT, &scale, 1, 4096, NULL, "S",
         "sparse-parameter scale: total params ~ S x dense FFN (1)"},
        {"knobs", BENCH_OPT_STR, &knobs, 0, 0, NULL, "K=V,...", "family knobs, preset=NAME"},
        {"seed", BENCH_OPT_U64, &seed, 0, 0, NULL, "N", "weight seed (1)"},
        {"weights", BENCH_OPT_STR, &weights, 0, 0, NULL, "FILE",
         "start from this weights file instead of the seeded init"},
        {"out", BENCH_OPT_STR, &out, 0, 0, NULL, "FILE",
         "FILE.safetensors, or a directory for .npy files"},
    };
    const struct bench_cmd cmd = {
        .name = "export",
        .summary = "Write a layer's parameter tensors to safetensors or .npy files.",
        .usage = "--impl NAME [options] --out FILE.safetensors|DIR",
        .epilog = export_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!impl)
        bench_usage_error("export", "--impl is required; one of the names in 'sparsebench list'");
    if (!out || !*out)
        bench_usage_error("export", "--out is required: FILE.safetensors or a directory");
    const struct layer_ops *ops = layer_find(impl);
    if (!ops) {
        char names[1024];
        bench_layer_names(names, sizeof(names));
        bench_usage_error("export", "--impl: unknown layer '%s'; allowed: %s", impl, names);
    }
    struct layer_config cfg = {.d_model = d_model,
                               .scale = scale,
                               .seed = seed,
                               .threads = ncpu > 0 ? (int)ncpu : 1, /* fills big tables faster */
                               .max_tokens = 1,
                               .knobs = knobs,
                               .weights = weights};
    struct layer *l = NULL;
    char err[1024] = "";
    int rc = layer_create(ops, &cfg, &l, err, sizeof(err));
    if (rc == 0 && weights)
        rc = bench_weights_load(l, weights, err, sizeof(err));
    if (rc == 0)
        rc = bench_weights_save(l, &cfg, out, err, sizeof(err));
    layer_destroy(l);
    if (rc) {
        fprintf(stderr, "sparsebench export: %s\n", err);
        return rc == LAYER_ENOMEM || rc == LAYER_ETHREAD ? BENCH_EXIT_FAIL : BENCH_EXIT_USAGE;
    }
    fprintf(stderr, "export: %s written\n", out);
    return 0;
}
