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
        .summary = "Measure this machine's sgemm peak GFLOP/s and STREAM-triad GB/s.",
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
    fprintf(stderr,
            "probe (%d thread%s): sgemm %.1f GFLOP/s (N = %zu), STREAM triad %.1f GB/s "
            "(3 arrays of %zu MiB; LLC reported %llu MiB, assumed %llu MiB), %.1f s\n",
            threads, threads == 1 ? "" : "s", p.sgemm_gflops, p.sgemm_n, p.triad_gbps,
            p.triad_array_bytes >> 20, (unsigned long long)(p.llc_reported >> 20),
            (unsigned long long)(p.llc_assumed >> 20), p.seconds);
    bench_meta_free(&m);
    return 0;
}
