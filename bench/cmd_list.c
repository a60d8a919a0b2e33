/* cmd_list.c - `sparsebench list`: what the registry holds. */
#include "cli.h"
#include "../impls/layer.h"

#include <stdio.h>

int bench_cmd_list(int argc, char **argv)
{
    int verbose = 0;
    const struct bench_opt opts[] = {
        {"verbose", BENCH_OPT_FLAG, &verbose, 0, 0, NULL, NULL, "also list every knob and preset"},
    };
    const struct bench_cmd cmd = {
        .name = "list",
        .summary = "List every registered layer with a one-line summary.",
        .usage = "[--verbose]",
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    for (size_t i = 0; i < layer_count(); i++) {
        const struct layer_ops *ops = layer_get(i);
        printf("%-18s %s\n", ops->name, ops->summary);
        if (verbose && ops->help) {
            char buf[4096];
            ops->help(buf, sizeof(buf));
            printf("%s", buf);
        }
    }
    return 0;
}
