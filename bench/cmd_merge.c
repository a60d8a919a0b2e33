/* cmd_merge.c - `sparsebench merge OUT DIR...`: the run directories of a
 * sharded sweep (sweep --shard I/N, one per machine) combined into one:
 * OUT/results.csv (every row, as written, with its host and shard),
 * OUT/meta.csv (the first shard's keys, so the plots find their roofs, then
 * every input's keys under dir<K>.: each host's probes and CPU model),
 * OUT/sweep.sweep and the plots.
 *
 * A ratio means something only within one machine (DESIGN.md, "Scale-out"),
 * and sweep --shard keeps every comparison group on one host, so the
 * speedups the plots take within one (D, tokens, threads) are always one
 * host's own. Machines of different kinds (CPU model, online CPUs) are
 * plotted apart, each in OUT/machines/<K>-<cpu>/ with its rows and its own
 * roofs; OUT keeps the combined CSV only.
 *
 * Refused with exit 2 and the reason: inputs of different sweeps (their
 * meta.csv sweep_hash), other columns, a row (identity columns) present in
 * two inputs, an OUT that already holds a results.csv. Missing points
 * (absent shards, interrupted ones) are listed and make the exit status 1,
 * after the merge is written. Not done: resuming a shard from here.
 */
#include "cli.h"
#include "meta.h"
#include "plot.h"
#include "row.h"
#include "table.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INPUTS   4096
#define MAX_KEY_COLS 16
#define KEY_LEN      512

struct input {
    const char *dir;
    struct bench_table t;
    struct bench_meta m;
    unsigned shard_i, shard_n; /* 0/0: an unsharded run */
    int kind;                  /* index of its machine kind */
};

struct keyed {
    char key[KEY_LEN];
    size_t in; /* the input it came from */
};

static const char merge_epilog[] =
    "DIR... are run directories of one sweep, usually its shards (sweep --shard\n"
    "I/N on N machines). OUT gets results.csv, meta.csv, sweep.sweep and the\n"
    "plots; when the inputs come from machines of different kinds (CPU model,\n"
    "online CPUs), each kind is plotted apart in OUT/machines/<K>-<cpu>/, since a\n"
    "ratio is only meaningful within one machine.\n"
    "Exit: 0 merged, 1 merged but points are missing (listed), 2 refused: inputs of\n"
    "different sweeps (sweep_hash), other columns, a row in two inputs, or an OUT\n"
    "that already has a results.csv.\n";

static const char *meta_or(const struct bench_meta *m, const char *key, const char *dflt)
{
    const char *v = bench_meta_get(m, key);
    return v && *v ? v : dflt;
}

static void load_input(struct input *in, const char *dir)
{
    char path[PATH_MAX], err[1024];
    in->dir = dir;
    snprintf(path, sizeof(path), "%s/meta.csv", dir);
    if (bench_meta_read(&in->m, path, err, sizeof(err)))
        bench_usage_error("merge", "%s is not a run directory: %s", dir, err);
    snprintf(path, sizeof(path), "%s/results.csv", dir);
    if (bench_table_read(path, &in->t, err, sizeof(err)))
        bench_usage_error("merge", "%s is not a run directory: %s", dir, err);
    const char *sh = bench_meta_get(&in->m, "shard");
    if (sh && *sh && sscanf(sh, "%u/%u", &in->shard_i, &in->shard_n) != 2)
        bench_usage_error("merge", "%s: meta.csv shard '%s' is not I/N", dir, sh);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

/* Same sweep, same columns, no row twice. */
static void check_inputs(struct input *in, size_t n)
{
    const char *h0 = meta_or(&in[0].m, "sweep_hash", "?");
    size_t rows = 0;
    for (size_t k = 1; k < n; k++) {
        const char *h = meta_or(&in[k].m, "sweep_hash", "?");
        if (strcmp(h, h0))
            bench_usage_error("merge",
                              "%s and %s are runs of different sweeps (sweep_hash %s, %s): only "
                              "shards of one sweep file merge",
                              in[0].dir, in[k].dir, h0, h);
        int same = in[k].t.ncols == in[0].t.ncols;
        for (size_t c = 0; same && c < in[0].t.ncols; c++)
            same = !strcmp(in[k].t.header[c], in[0].t.header[c]);
        if (!same)
            bench_usage_error("merge", "%s/results.csv has other columns than %s/results.csv",
                              in[k].dir, in[0].dir);
    }
    for (size_t k = 0; k < n; k++)
        rows += in[k].t.nrows;
    struct keyed *ks = malloc((rows ? rows : 1) * sizeof(*ks));
    int cols[MAX_KEY_COLS], nc;
    char err[256];
    if (!ks) {
        fprintf(stderr, "sparsebench merge: out of memory\n");
        exit(BENCH_EXIT_FAIL);
    }
    if ((nc = bench_table_key_cols(&in[0].t, cols, MAX_KEY_COLS, err, sizeof(err))) < 0)
        bench_usage_error("merge", "%s/results.csv: %s", in[0].dir, err);
    size_t r = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < in[k].t.nrows; i++, r++) {
            bench_table_key(&in[k].t, i, cols, (size_t)nc, ks[r].key, KEY_LEN);
            ks[r].in = k;
        }
    qsort(ks, rows, sizeof(*ks), by_key);
    for (size_t i = 1; i < rows; i++)
        if (!strcmp(ks[i].key, ks[i - 1].key)) {
            fprintf(stderr,
                    "sparsebench merge: the row %s is in %s and in %s: overlapping inputs (the "
                    "same shard twice, or shards of different N?); merge each point once\n",
                    ks[i].key, in[ks[i - 1].in].dir, in[ks[i].in].dir);
            free(ks);
            exit(BENCH_EXIT_USAGE);
        }
    free(ks);
}

/* Machine kinds: the CPU model and online CPUs, in order of first input. */
static size_t assign_kinds(struct input *in, size_t n)
{
    size_t nk = 0;
    for (size_t k = 0; k < n; k++) {
        in[k].kind = -1;
        for (size_t j = 0; j < k && in[k].kind < 0; j++)
            if (!strcmp(meta_or(&in[j].m, "cpu_model", "?"), meta_or(&in[k].m, "cpu_model", "?")) &&
                !strcmp(meta_or(&in[j].m, "cpus_online", "?"),
                        meta_or(&in[k].m, "cpus_online", "?")))
                in[k].kind = in[j].kind;
        if (in[k].kind < 0)
            in[k].kind = (int)nk++;
    }
    return nk;
}

/* The points no input has: absent shards and rows short of a shard's plan.
 * Returns how many are missing. */
static size_t report_missing(const struct input *in, size_t n)
{
    size_t want = 0, have = 0, missing;
    unsigned nsh = 0;
    for (size_t k = 0; k < n; k++) {
        size_t planned = strtoull(meta_or(&in[k].m, "points_total", "0"), NULL, 10);
        size_t sweep = strtoull(meta_or(&in[k].m, "points_sweep", "0"), NULL, 10);
        if (sweep > want)
            want = sweep;
        if (in[k].shard_n > nsh)
            nsh = in[k].shard_n;
        have += in[k].t.nrows;
        if (in[k].t.nrows < planned)
            fprintf(stderr,
                    "merge: %s (shard %s) has %zu of its %zu points: resume it with sweep --resume "
                    "--out %s and the same flags, then merge again\n",
                    in[k].dir, meta_or(&in[k].m, "shard", "none"), in[k].t.nrows, planned,
                    in[k].dir);
    }
    for (unsigned i = 1; i <= nsh; i++) {
        int seen = 0;
        for (size_t k = 0; k < n; k++)
            seen |= in[k].shard_i == i && in[k].shard_n == nsh;
        if (!seen)
            fprintf(stderr, "merge: shard %u/%u is absent\n", i, nsh);
    }
    missing = want > have ? want - have : 0;
    if (missing)
        fprintf(stderr, "merge: %zu of the sweep's %zu points are missing\n", missing, want);
    return missing;
}

/* Rows of the inputs of one kind (kind < 0: every input) into dir/results.csv. */
static int write_rows(const char *dir, const struct input *in, size_t n, int kind)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/results.csv", dir);
    FILE *f = fopen(path, "wx");
    if (!f)
        return -1;
    for (size_t c = 0; c < in[0].t.ncols; c++) {
        fputs(c ? "," : "", f);
        bench_csv_write_field(f, in[0].t.header[c]);
    }
    fputc('\n', f);
    for (size_t k = 0; k < n; k++) {
        if (kind >= 0 && in[k].kind != kind)
            continue;
        for (size_t r = 0; r < in[k].t.nrows; r++) {
            for (size_t c = 0; c < in[k].t.ncols; c++) {
                fputs(c ? "," : "", f);
                bench_csv_write_field(f, bench_table_cell(&in[k].t, r, c));
            }
            fputc('\n', f);
        }
    }
    return fclose(f);
}

/* meta.csv: the first input's keys (of this kind) as they are, the merge's,
 * and every input's under dir<K>. */
static int write_meta(const char *dir, const struct input *in, size_t n, int kind, size_t missing)
{
    struct bench_meta m = {0};
    char path[PATH_MAX], err[512], hosts[1024] = "";
    size_t first = 0, used = 0;
    while (kind >= 0 && in[first].kind != kind)
        first++;
    for (size_t i = 0; i < in[first].m.n; i++)
        bench_meta_set(&m, in[first].m.key[i], "%s", in[first].m.val[i]);
    for (size_t k = 0; k < n; k++) {
        const char *h = meta_or(&in[k].m, "host", meta_or(&in[k].m, "hostname", "?"));
        if ((kind < 0 || in[k].kind == kind) && !strstr(hosts, h) && used < sizeof(hosts))
            used +=
                (size_t)snprintf(hosts + used, sizeof(hosts) - used, "%s%s", used ? " " : "", h);
    }
    bench_meta_set(&m, "merge_inputs", "%zu", n);
    bench_meta_set(&m, "merge_hosts", "%s", hosts);
    bench_meta_set(&m, "merge_points_missing", "%zu", missing);
    for (size_t k = 0; k < n; k++) {
        char key[256];
        snprintf(key, sizeof(key), "dir%zu", k + 1);
        bench_meta_set(&m, key, "%s", in[k].dir);
        for (size_t i = 0; i < in[k].m.n; i++) {
            snprintf(key, sizeof(key), "dir%zu.%s", k + 1, in[k].m.key[i]);
            bench_meta_set(&m, key, "%s", in[k].m.val[i]);
        }
    }
    snprintf(path, sizeof(path), "%s/meta.csv", dir);
    int rc = bench_meta_write(&m, path, err, sizeof(err));
    if (rc)
        fprintf(stderr, "sparsebench merge: %s\n", err);
    bench_meta_free(&m);
    return rc;
}

static void copy_sweep(const char *out, const struct input *in)
{
    char path[PATH_MAX];
    size_t len;
    snprintf(path, sizeof(path), "%s/sweep.sweep", in->dir);
    char *text = bench_read_file(path, &len);
    if (!text)
        return;
    snprintf(path, sizeof(path), "%s/sweep.sweep", out);
    if (bench_write_atomic(path, text, len))
        fprintf(stderr, "merge: warning: could not write %s\n", path);
    free(text);
}

/* One output directory (OUT, or one kind's under OUT/machines/). */
static int write_dir(const char *dir, const struct input *in, size_t n, int kind, size_t missing,
                     int plot)
{
    char err[1024];
    if (bench_mkdir_p(dir) || write_rows(dir, in, n, kind)) {
        fprintf(stderr, "sparsebench merge: writing %s/results.csv: %s\n", dir, strerror(errno));
        return -1;
    }
    if (write_meta(dir, in, n, kind, missing))
        return -1;
    copy_sweep(dir, in);
    if (plot && bench_plot(dir, err, sizeof(err)))
        fprintf(stderr, "merge: plots of %s failed: %s\n", dir, err);
    return 0;
}

/* "1-Intel-R-Xeon-R-Platinum-8375C": a directory name for a machine kind. */
static void kind_dir(char *buf, size_t len, const char *out, int kind, const char *cpu)
{
    size_t used = (size_t)snprintf(buf, len, "%s/machines/%d-", out, kind + 1);
    for (const char *c = cpu; *c && used + 1 < len && used < 200; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
        if (ok || (used > 0 && buf[used - 1] != '-'))
            buf[used++] = ok ? *c : '-';
    }
    buf[used] = '\0';
}

int bench_cmd_merge(int argc, char **argv)
{
    const char *out = NULL, *first_dir = NULL;
    int no_plot = 0;
    const struct bench_opt opts[] = {
        {NULL, BENCH_OPT_STR, &out, 0, 0, NULL, "OUT", "the merged run directory (new)"},
        {NULL, BENCH_OPT_STR, &first_dir, 0, 0, NULL, "DIR...", "the run directories to merge"},
        {"no-plot", BENCH_OPT_FLAG, &no_plot, 0, 0, NULL, NULL, "skip the gnuplot plots"},
    };
    const struct bench_cmd cmd = {
        .name = "merge",
        .summary = "Combine the run directories of a sharded sweep into one, per machine.",
        .usage = "OUT DIR... [--no-plot]",
        .epilog = merge_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    /* bench_parse_args takes a fixed number of positionals: hand it OUT and
     * the first DIR with the flags, and keep the other DIRs here. */
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    const char **dirs = calloc((size_t)argc + 1, sizeof(*dirs));
    int na = 0, npos = 0;
    size_t nd = 0;
    if (!args || !dirs) {
        fprintf(stderr, "sparsebench merge: out of memory\n");
        return BENCH_EXIT_FAIL;
    }
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-' || npos++ < 2)
            args[na++] = argv[i];
        else
            dirs[++nd] = argv[i];
    bench_parse_args(&cmd, na, args);
    dirs[0] = first_dir;
    nd++;
    if (nd > MAX_INPUTS)
        bench_usage_error("merge", "%zu directories, more than the %d allowed", nd, MAX_INPUTS);
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/results.csv", out);
    if (stat(path, &st) == 0)
        bench_usage_error("merge", "%s already exists; merge into a new directory", path);
    struct input *in = calloc(nd, sizeof(*in));
    if (!in) {
        fprintf(stderr, "sparsebench merge: out of memory\n");
        return BENCH_EXIT_FAIL;
    }
    for (size_t k = 0; k < nd; k++)
        load_input(&in[k], dirs[k]);
    check_inputs(in, nd);
    size_t nkinds = assign_kinds(in, nd), missing = report_missing(in, nd), rows = 0;
    int rc = write_dir(out, in, nd, -1, missing, !no_plot && nkinds == 1);
    for (int kd = 0; rc == 0 && nkinds > 1 && kd < (int)nkinds; kd++) {
        size_t k = 0;
        while (in[k].kind != kd)
            k++;
        kind_dir(path, sizeof(path), out, kd, meta_or(&in[k].m, "cpu_model", "unknown"));
        fprintf(stderr, "merge: machines of kind %d (%s, %s CPUs): %s\n", kd + 1,
                meta_or(&in[k].m, "cpu_model", "?"), meta_or(&in[k].m, "cpus_online", "?"), path);
        rc = write_dir(path, in, nd, kd, missing, !no_plot);
    }
    for (size_t k = 0; k < nd; k++)
        rows += in[k].t.nrows;
    if (rc == 0)
        fprintf(stderr, "merge: %zu rows from %zu directories on %zu machine kind%s into %s\n",
                rows, nd, nkinds, nkinds == 1 ? "" : "s", out);
    for (size_t k = 0; k < nd; k++) {
        bench_table_free(&in[k].t);
        bench_meta_free(&in[k].m);
    }
    free(in);
    free(args);
    free(dirs);
    if (rc == 0)
        printf("report: %s\n", out);
    return rc ? BENCH_EXIT_FAIL : missing ? BENCH_EXIT_FAIL : 0;
}
