/* probe.c - this machine's two roofs, measured in the same run as the
 * points: OpenBLAS sgemm peak GFLOP/s and STREAM-triad bandwidth GB/s
 * (research/harness.md section 5).
 *
 * sgemm: square N = 2048 products (17 GFLOP each) at the sweep's thread
 * count for about a second after a warm-up, the best one. Triad:
 * a[i] = b[i] + s * c[i] on fp32 arrays of at least 4x the last-level cache
 * each, passes for about half a second (at least 10), the best pass after the
 * first, bytes counted as STREAM does (3 words per element, 12 B for fp32;
 * the write-allocate fill is not counted). Best-of over a second, not one
 * call, because on a shared machine a co-tenant can halve any single call. The cache size comes
 * from sysconf but is capped at 64 MiB, because VMs report nonsense (this KVM guest: 508 MiB of
 * L3). This is "based on a variant of" STREAM, not STREAM. The whole probe takes a few seconds.
 */
#include "probe.h"
#include "util.h"
#include "../impls/common/common.h"
#include "../impls/layer.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SGEMM_N       2048
#define SGEMM_CALLS   4 /* at least, after the warm-up */
#define SGEMM_MAX     40
#define SGEMM_SECONDS 1.0 /* keep calling until this much time has passed */
#define TRIAD_PASSES  10  /* at least, the first one not counted */
#define TRIAD_MAX     100
#define TRIAD_SECONDS 0.5
#define LLC_CAP       (64ull << 20)
#define LLC_FALLBACK  (32ull << 20)
#define TRIAD_FACTOR  4 /* each array >= 4x the cache, STREAM's rule */

static double probe_sgemm(int threads, size_t n, char *err, size_t errlen)
{
    float *a = common_alloc(n * n * sizeof(float));
    float *b = common_alloc(n * n * sizeof(float));
    float *c = common_alloc(n * n * sizeof(float));
    double best = 0;
    if (!a || !b || !c) {
        snprintf(err, errlen, "probe: out of memory for three %zux%zu matrices", n, n);
        goto out_free;
    }
    struct common_rng r;
    common_rng_seed(&r, 1, 0x70726f6265ull);
    common_rng_fill_uniform(&r, a, n * n, -1, 1);
    common_rng_fill_uniform(&r, b, n * n, -1, 1);
    common_blas_threads(threads);
    double start = bench_now();
    for (int i = 0; i <= SGEMM_MAX && (i <= SGEMM_CALLS || bench_now() - start < SGEMM_SECONDS);
         i++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a,
                    (int)n, b, (int)n, 0.0f, c, (int)n);
        double gf = 2.0 * (double)n * (double)n * (double)n / ((bench_now() - t0) * 1e9);
        if (i > 0 && gf > best) /* the first call pays for thread start-up */
            best = gf;
    }
out_free:
    common_free(c);
    common_free(b);
    common_free(a);
    return best;
}

struct triad {
    float *a, *b, *c;
    size_t n, chunk;
    int init;
};

static void triad_task(void *arg, size_t task, int worker)
{
    struct triad *t = arg;
    size_t lo = task * t->chunk, hi = lo + t->chunk < t->n ? lo + t->chunk : t->n;
    (void)worker;
    if (t->init) { /* first touch by the thread that will stream the chunk */
        for (size_t i = lo; i < hi; i++) {
            t->a[i] = 0.0f;
            t->b[i] = 1.0f;
            t->c[i] = 2.0f;
        }
        return;
    }
    float *restrict a = t->a;
    const float *restrict b = t->b, *restrict c = t->c;
    const float s = 3.0f;
    for (size_t i = lo; i < hi; i++)
        a[i] = b[i] + s * c[i];
}

static double probe_triad(int threads, size_t array_bytes, char *err, size_t errlen)
{
    struct triad t = {.n = array_bytes / sizeof(float)};
    struct common_pool *pool = NULL;
    double best = 0;
    size_t tasks = 16 * (size_t)threads; /* small chunks balance the two workers */
    t.chunk = (t.n + tasks - 1) / tasks;
    t.a = common_alloc(array_bytes);
    t.b = common_alloc(array_bytes);
    t.c = common_alloc(array_bytes);
    if (!t.a || !t.b || !t.c || common_pool_create(&pool, threads)) {
        snprintf(err, errlen, "probe: out of memory for three %zu MiB triad arrays",
                 array_bytes >> 20);
        goto out_free;
    }
    t.init = 1;
    common_pool_run(pool, tasks, triad_task, &t);
    t.init = 0;
    double start = bench_now();
    for (int i = 0; i < TRIAD_MAX && (i < TRIAD_PASSES || bench_now() - start < TRIAD_SECONDS);
         i++) {
        double t0 = bench_now();
        common_pool_run(pool, tasks, triad_task, &t);
        double gbps = 3.0 * (double)array_bytes / ((bench_now() - t0) * 1e9);
        if (i > 0 && gbps > best)
            best = gbps;
    }
out_free:
    common_pool_destroy(pool);
    common_free(t.c);
    common_free(t.b);
    common_free(t.a);
    return best;
}

int bench_probe_run(int threads, struct bench_probe *p, char *err, size_t errlen)
{
    double t0 = bench_now();
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);

    memset(p, 0, sizeof(*p));
    p->threads = threads;
    p->llc_reported = l3 > 0 ? (uint64_t)l3 : 0;
    p->llc_assumed = p->llc_reported ? p->llc_reported : LLC_FALLBACK;
    if (p->llc_assumed > LLC_CAP)
        p->llc_assumed = LLC_CAP;
    p->triad_array_bytes = TRIAD_FACTOR * p->llc_assumed;
    uint64_t need = 3ull * p->triad_array_bytes;
    if (common_mem_check(need, "probe", err, errlen))
        return LAYER_ENOMEM;
    p->sgemm_n = SGEMM_N;
    p->sgemm_gflops = probe_sgemm(threads, SGEMM_N, err, errlen);
    if (p->sgemm_gflops <= 0)
        return LAYER_ENOMEM;
    p->triad_gbps = probe_triad(threads, p->triad_array_bytes, err, errlen);
    if (p->triad_gbps <= 0)
        return LAYER_ENOMEM;
    p->seconds = bench_now() - t0;
    return 0;
}
