/* probe.h - this machine's roofs, sgemm GFLOP/s and two memory roofs:
 * STREAM-triad GB/s and the bandwidth of random-row reads (gathers),
 * measured in the same run as the points (probe.c). */
#ifndef SPARSEBENCH_PROBE_H
#define SPARSEBENCH_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct bench_probe {
    int threads;
    double sgemm_gflops; /* best of the square sgemms of about a second */
    size_t sgemm_n;
    double triad_gbps; /* STREAM triad, best pass after the first, 12 B per element */
    size_t triad_array_bytes;
    /* Random-row reads: unique rows of gather_row_bytes at random addresses
     * (about one in GATHER_FRACTION of an array of gather_array_bytes), read
     * in ascending order, flushed before every pass; best pass after the
     * first, the bytes of the rows read. On `threads` and on 1 thread. */
    double gather_gbps, gather_gbps_1t;
    size_t gather_row_bytes, gather_array_bytes, gather_rows; /* rows read per pass */
    uint64_t llc_reported, llc_assumed; /* bytes; reported by sysconf, assumed for sizing */
    double seconds;                     /* the probe's own wall time */
};

/* The roofs a point's roofline_frac is taken against; 0 = unknown (NA).
 * bandwidth_gbps is the triad's; gather_gbps (0: charge gathers at triad
 * speed) bounds the sparse bytes of layers whose units are small rows. */
struct bench_roofs {
    double peak_gflops, bandwidth_gbps, gather_gbps;
};

/* Measure this machine's sgemm peak, STREAM-triad bandwidth and gather
 * bandwidth on `threads` threads (gather also on 1), in a few seconds.
 * Returns 0 or LAYER_ENOMEM with err filled. */
int bench_probe_run(int threads, struct bench_probe *p, char *err, size_t errlen);
/* The roofs a probe measured. */
struct bench_roofs bench_probe_roofs(const struct bench_probe *p);
/* What `run --probe` and `compare --probe` do: probe on `threads`, print
 * the summary on stderr and set *roofs; on failure say "sparsebench CMD:
 * probe failed: ..." on stderr and return -1. */
int bench_probe_for_roofs(const char *cmd, int threads, struct bench_roofs *roofs);
/* "WHO (2 threads): sgemm ... GFLOP/s, STREAM triad ... GB/s, gather ... GB/s
 * (1 thread ...), N s" and a newline, on f. */
void bench_probe_print(FILE *f, const char *who, const struct bench_probe *p);

#endif
