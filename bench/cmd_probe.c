/* cmd_probe.c - `sparsebench probe`: this machine's roofs, as meta.csv
 * records them. */
#include "cli.h"
#include "meta.h"
#include "probe.h"
#include "row.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char probe_epilog[] =
    "sgemm: OpenBLAS, square 2048 x 2048 products for ~1 s after a warm-up, the best.\n"
    "STREAM triad: fp32 a = b + s*c over arrays of 4x the last-level cache each\n"
    "(the reported size capped at 64 MiB: VMs misreport it), the best pass of ~0.5 s\n"
    "after the first, 12 B per element as STREAM counts (write-allocate not counted).\n"
    "Gather: random-row reads, the second memory roof: unique 3 KB rows at random\n"
    "addresses (1 in 8 of an array as large as one triad array) read in ascending\n"
    "order, flushed from the caches before each pass, the best pass of ~0.3 s after\n"
    "the first, counting the bytes of the rows read; on --threads and on 1 thread.\n"
    "Sparse memory layers read their values this way; roofline_frac charges their\n"
    "sparse bytes at this speed (reports/SCHEMA.md).\n"
    "Every sweep runs this at its start (its figures give roofline_frac) and at its\n"
    "end, and records both in meta.csv.\n";

int bench_cmd_probe(int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ncpu > 0 ? (int)ncpu : 1;
    const struct bench_opt opts[] = {
        {"threads", BENCH_OPT_INT, &threads, 1, 256, NULL, "N", "threads (all online CPUs)"},
    };
    const struct bench_cmd cmd = {
        .name = "probe",
        .summary = "Measure this machine's sgemm peak GFLOP/s, STREAM-triad GB/s and gather GB/s.",
        .usage = "[--threads N]",
        .epilog = probe_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    struct bench_probe p;
    char err[512];
    if (bench_probe_run(threads, &p, err, sizeof(err))) {
        fprintf(stderr, "sparsebench probe: %s\n", err);
        return BENCH_EXIT_FAIL;
    }
    struct bench_meta m = {0};
    bench_meta_probe(&m, &p, "probe");
    bench_meta_set(&m, "probe_llc_reported_mib", "%llu",
                   (unsigned long long)(p.llc_reported >> 20));
    printf("key,value\n");
    for (size_t i = 0; i < m.n; i++) {
        bench_csv_write_field(stdout, m.key[i]);
        fputc(',', stdout);
        bench_csv_write_field(stdout, m.val[i]);
        fputc('\n', stdout);
    }
    bench_probe_print(stderr, "probe", &p);
    fprintf(stderr,
            "  sgemm N = %zu; triad 3 arrays of %zu MiB (LLC reported %llu MiB, assumed %llu "
            "MiB); gather %zu rows of %zu B per pass from %zu MiB\n",
            p.sgemm_n, p.triad_array_bytes >> 20, (unsigned long long)(p.llc_reported >> 20),
            (unsigned long long)(p.llc_assumed >> 20), p.gather_rows, p.gather_row_bytes,
            p.gather_array_bytes >> 20);
    bench_meta_free(&m);
    return 0;
}
