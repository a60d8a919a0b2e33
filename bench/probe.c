/* probe.c - this machine's roofs, measured in the same run as the points:
 * OpenBLAS sgemm peak GFLOP/s, STREAM-triad bandwidth GB/s (research/
 * harness.md section 5) and a second memory roof, the bandwidth of
 * random-row reads, which is what a sparse memory layer's value gather can
 * reach (the issue 4 note: a bare 2-thread read of random unique 3 KB rows
 * reached 21-30 GB/s here while triad gave 57-72).
 *
 * sgemm: square N = 2048 products (17 GFLOP each) at the sweep's thread
 * count for about a second after a warm-up, the best one. Triad:
 * a[i] = b[i] + s * c[i] on fp32 arrays of at least 4x the last-level cache
 * each, passes for about half a second (at least 10), the best pass after the
 * first, bytes counted as STREAM does (3 words per element, 12 B for fp32;
 * the write-allocate fill is not counted). Best-of over a second, not one
 * call, because on a shared machine a co-tenant can halve any single call. The cache size comes
 * from sysconf but is capped at 64 MiB, because VMs report nonsense (this KVM guest: 508 MiB of
 * L3). This is "based on a variant of" STREAM, not STREAM.
 *
 * Gather: an fp32 array of 4x the cache (as one triad array) cut into rows
 * of 3 KB (a D = 768 row, PKM's value row); a pass reads each row with
 * probability 1/8 (PKM reads 11 % of its rows at 64 tokens, UltraMem ~7 %),
 * unique and in ascending address order, as the layers' value-major
 * gathers do, summing every float so no load is dropped, with software
 * prefetch 4 rows (12 KB) ahead, as impls/pkm's gather. Four such row sets
 * take turns; each is flushed from the caches before its pass (outside the
 * clock), so every pass reads from memory. Passes for about 0.3 s (at least
 * 10), the best after the first, counting the bytes of the rows read; on
 * the probe's thread count (contiguous chunks of the row list per task) and
 * on one thread. The whole probe takes a few seconds.
 */
#include "probe.h"
#include "measure.h"
#include "util.h"
#include "../impls/common/common.h"
#include "../impls/layer.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SGEMM_N        2048
#define SGEMM_CALLS    4 /* at least, after the warm-up */
#define SGEMM_MAX      40
#define SGEMM_SECONDS  1.0 /* keep calling until this much time has passed */
#define TRIAD_PASSES   10  /* at least, the first one not counted */
#define TRIAD_MAX      100
#define TRIAD_SECONDS  0.5
#define LLC_CAP        (64ull << 20)
#define LLC_FALLBACK   (32ull << 20)
#define TRIAD_FACTOR   4 /* each array >= 4x the cache, STREAM's rule */
#define GATHER_ROW     3072
#define GATHER_ODDS    8 /* a row is read with probability 1 / GATHER_ODDS */
#define GATHER_SETS    4
#define GATHER_AHEAD   4 /* rows prefetched ahead */
#define GATHER_PASSES  10
#define GATHER_MAX     200
#define GATHER_SECONDS 0.3
#define LINE           64

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

struct gather {
    const float *base;
    const uint32_t *rows; /* ascending row indices of the current set */
    size_t nrows, chunk;
    float sink[GATHER_MAX]; /* per task, so that no load can be left out */
};

typedef float v4 __attribute__((vector_size(16)));

static void gather_task(void *arg, size_t task, int worker)
{
    struct gather *g = arg;
    const size_t F = GATHER_ROW / sizeof(float);
    size_t lo = task * g->chunk, hi = lo + g->chunk < g->nrows ? lo + g->chunk : g->nrows;
    v4 acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
    (void)worker;
    for (size_t i = lo; i < hi; i++) {
        if (i + GATHER_AHEAD < hi) {
            const char *pf = (const char *)(g->base + (size_t)g->rows[i + GATHER_AHEAD] * F);
            for (size_t off = 0; off < GATHER_ROW; off += LINE)
                __builtin_prefetch(pf + off, 0, 0);
        }
        const float *row = g->base + (size_t)g->rows[i] * F;
        for (size_t j = 0; j < F; j += 16) {
            v4 x0, x1, x2, x3;
            memcpy(&x0, row + j, sizeof(x0));
            memcpy(&x1, row + j + 4, sizeof(x1));
            memcpy(&x2, row + j + 8, sizeof(x2));
            memcpy(&x3, row + j + 12, sizeof(x3));
            acc0 += x0;
            acc1 += x1;
            acc2 += x2;
            acc3 += x3;
        }
    }
    v4 a = acc0 + acc1 + acc2 + acc3;
    g->sink[task % GATHER_MAX] = a[0] + a[1] + a[2] + a[3];
}

/* Best GB/s of passes over the row sets on `threads` threads. */
static double gather_passes(struct gather *g, uint32_t *const *sets, const size_t *nset,
                            int threads)
{
    struct common_pool *pool = NULL;
    double best = 0;
    if (common_pool_create(&pool, threads))
        return 0;
    size_t tasks = 16 * (size_t)threads; /* small chunks balance the workers */
    double start = bench_now();
    for (int i = 0; i < GATHER_MAX && (i < GATHER_PASSES || bench_now() - start < GATHER_SECONDS);
         i++) {
        int k = i % GATHER_SETS;
        g->rows = sets[k];
        g->nrows = nset[k];
        g->chunk = (g->nrows + tasks - 1) / tasks;
        for (size_t r = 0; r < g->nrows; r++)
            bench_cache_evict_range(g->base + (size_t)g->rows[r] * (GATHER_ROW / sizeof(float)),
                                    GATHER_ROW);
        double t0 = bench_now();
        common_pool_run(pool, tasks, gather_task, g);
        double gbps = (double)g->nrows * GATHER_ROW / ((bench_now() - t0) * 1e9);
        if (i > 0 && gbps > best)
            best = gbps;
    }
    common_pool_destroy(pool);
    return best;
}

static int probe_gather(int threads, struct bench_probe *p, char *err, size_t errlen)
{
    size_t nrows_all = p->gather_array_bytes / GATHER_ROW;
    float *base = common_alloc(nrows_all * GATHER_ROW);
    uint32_t *sets[GATHER_SETS] = {0};
    size_t nset[GATHER_SETS] = {0}, total = 0;
    struct gather *g = calloc(1, sizeof(*g));
    int rc = LAYER_ENOMEM, sets_ok = 1;
    for (int k = 0; k < GATHER_SETS; k++)
        sets_ok &= (sets[k] = malloc(nrows_all * sizeof(uint32_t))) != NULL;
    if (!base || !g || !sets_ok) {
        snprintf(err, errlen, "probe: out of memory for the %zu MiB gather array",
                 p->gather_array_bytes >> 20);
        goto out_free;
    }
    /* Written, so that every page is its own (an untouched page reads as the
     * one shared zero page); the values do not matter (0x3c3c3c3c = 0.0115f). */
    memset(base, 0x3c, nrows_all * GATHER_ROW);
    struct common_rng r;
    common_rng_seed(&r, 1, 0x676174686572ull); /* "gather" */
    for (int k = 0; k < GATHER_SETS; k++) {
        for (size_t i = 0; i < nrows_all; i++) /* ascending by construction, each row once */
            if (common_rng_below(&r, GATHER_ODDS) == 0)
                sets[k][nset[k]++] = (uint32_t)i;
        total += nset[k];
    }
    g->base = base;
    p->gather_rows = total / GATHER_SETS;
    p->gather_gbps = gather_passes(g, sets, nset, threads);
    p->gather_gbps_1t = threads == 1 ? p->gather_gbps : gather_passes(g, sets, nset, 1);
    rc = p->gather_gbps > 0 && p->gather_gbps_1t > 0 ? 0 : LAYER_ENOMEM;
    if (rc)
        snprintf(err, errlen, "probe: out of memory for the gather's thread pool");
out_free:
    for (int k = 0; k < GATHER_SETS; k++)
        free(sets[k]);
    free(g);
    common_free(base);
    return rc;
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
    p->gather_row_bytes = GATHER_ROW;
    p->gather_array_bytes = p->triad_array_bytes;
    if (probe_gather(threads, p, err, errlen))
        return LAYER_ENOMEM;
    p->seconds = bench_now() - t0;
    return 0;
}

struct bench_roofs bench_probe_roofs(const struct bench_probe *p)
{
    return (struct bench_roofs){p->sgemm_gflops, p->triad_gbps, p->gather_gbps};
}

void bench_probe_print(FILE *f, const char *who, const struct bench_probe *p)
{
    fprintf(f, "%s (%d thread%s): sgemm %.1f GFLOP/s, STREAM triad %.1f GB/s, gather %.1f GB/s",
            who, p->threads, p->threads == 1 ? "" : "s", p->sgemm_gflops, p->triad_gbps,
            p->gather_gbps);
    if (p->threads != 1)
        fprintf(f, " (1 thread: %.1f)", p->gather_gbps_1t);
    fprintf(f, ", %.1f s\n", p->seconds);
}

int bench_probe_for_roofs(const char *cmd, int threads, struct bench_roofs *roofs)
{
    struct bench_probe p;
    char err[512];
    if (bench_probe_run(threads, &p, err, sizeof(err))) {
        fprintf(stderr, "sparsebench %s: probe failed: %s\n", cmd, err);
        return -1;
    }
    *roofs = bench_probe_roofs(&p);
    bench_probe_print(stderr, "probe", &p);
    return 0;
}
