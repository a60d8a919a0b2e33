/* probe.h - this machine's two roofs, sgemm GFLOP/s and STREAM-triad GB/s,
 * measured in the same run as the points (probe.c). */
#ifndef SPARSEBENCH_PROBE_H
#define SPARSEBENCH_PROBE_H

#include <stddef.h>
#include <stdint.h>

struct bench_probe {
    int threads;
    double sgemm_gflops; /* best of the square sgemms of about a second */
    size_t sgemm_n;
    double triad_gbps; /* STREAM triad, best pass after the first, 12 B per element */
    size_t triad_array_bytes;
    uint64_t llc_reported, llc_assumed; /* bytes; reported by sysconf, assumed for sizing */
    double seconds;                     /* the probe's own wall time */
};

/* The roofs a point's roofline_frac is taken against; 0 = unknown (NA). */
struct bench_roofs {
    double peak_gflops, bandwidth_gbps;
};

/* Measure this machine's sgemm peak and STREAM-triad bandwidth on `threads`
 * threads, in a few seconds. Returns 0 or LAYER_ENOMEM with err filled. */
int bench_probe_run(int threads, struct bench_probe *p, char *err, size_t errlen);

#endif
