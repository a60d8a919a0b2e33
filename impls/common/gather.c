/* gather.c - weighted sum of scattered table rows, the value read of PKM
 * (Lample et al. 2019, an EmbeddingBag with per-sample weights) and of
 * UltraMem's fused lookup-reduce (research/ultramem_pkm.md section 1.3 step 8).
 *
 * The rows are random, so the cost is one DRAM round trip per row unless the
 * next rows are already in flight: software-prefetch PREFETCH_AHEAD rows ahead,
 * every cache line of them, while the current row streams through an FMA loop.
 */
#include "common.h"

#define PREFETCH_AHEAD 4
#define LINE_FLOATS    16

static inline void prefetch_row(const float *row, size_t dim)
{
    for (size_t d = 0; d < dim; d += LINE_FLOATS)
        __builtin_prefetch(row + d, 0, 0);
}

void common_gather_reduce(float *restrict y, const float *restrict table, size_t stride,
                          const uint32_t *rows, const float *w, size_t n, size_t dim)
{
    size_t ahead = n < PREFETCH_AHEAD ? n : PREFETCH_AHEAD;
    for (size_t i = 0; i < ahead; i++)
        prefetch_row(table + (size_t)rows[i] * stride, dim);
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n)
            prefetch_row(table + (size_t)rows[i + PREFETCH_AHEAD] * stride, dim);
        const float *restrict row = table + (size_t)rows[i] * stride;
        float wi = w[i];
        for (size_t d = 0; d < dim; d++)
            y[d] += wi * row[d];
    }
}

void common_gather_reduce_ref(float *y, const float *table, size_t stride, const uint32_t *rows,
                              const float *w, size_t n, size_t dim)
{
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < dim; d++)
            y[d] += w[i] * table[(size_t)rows[i] * stride + d];
}
