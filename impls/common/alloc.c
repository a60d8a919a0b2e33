/* alloc.c - aligned zeroed allocation and the "does it fit in memory" check.
 *
 * Parameters live in a few big 64-byte-aligned blocks (llm.c's single
 * parameter allocation) so cache-line flushes and prefetches line up. Big
 * blocks are advised into transparent huge pages: the memory layers gather
 * random rows from hundreds of MB and would otherwise pay a TLB miss per row.
 */
#include "common.h"
#include "../layer.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_ADVICE_MIN (4u << 20)

/* Only create allocates, so the counts cost nothing where it matters. */
static atomic_uint_fast64_t alloc_bytes, alloc_calls;

void *common_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0)
        return NULL;
    size_t rounded = (bytes + COMMON_ALIGN - 1) / COMMON_ALIGN * COMMON_ALIGN;
    if (rounded >= HUGE_ADVICE_MIN) {
        size_t huge = 2u << 20;
        rounded = (rounded + huge - 1) / huge * huge;
        if (posix_memalign(&p, huge, rounded) != 0)
            return NULL;
#ifdef MADV_HUGEPAGE
        madvise(p, rounded, MADV_HUGEPAGE);
#endif
    } else if (posix_memalign(&p, COMMON_ALIGN, rounded) != 0) {
        return NULL;
    }
    memset(p, 0, rounded);
    atomic_fetch_add_explicit(&alloc_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
    return p;
}

void *common_alloc_unwritten(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    /* mmap, not malloc: a recycled heap block may hold old values, and
     * the point is memory nobody ever wrote. No huge-page advice either:
     * the flaw being reproduced is ordinary zero pages. */
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    atomic_fetch_add_explicit(&alloc_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
    return p;
}

void common_free_unwritten(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes);
}

void common_alloc_counts(uint64_t *bytes, uint64_t *calls)
{
    *bytes = atomic_load_explicit(&alloc_bytes, memory_order_relaxed);
    *calls = atomic_load_explicit(&alloc_calls, memory_order_relaxed);
}

void common_free(void *p)
{
    free(p);
}

uint64_t common_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    }
    fclose(f);
    return (uint64_t)kb * 1024;
}

int common_mem_check(uint64_t bytes, const char *who, char *err, size_t errlen)
{
    uint64_t avail = common_mem_available();
    if (avail == 0 || bytes <= avail / 10 * 9)
        return 0;
    snprintf(err, errlen,
             "%s: needs %.2f GiB for parameters and scratch but only %.2f GiB is available; "
             "lower --scale, --d or the size knobs",
             who, bytes / 1073741824.0, avail / 1073741824.0);
    return LAYER_ETOOBIG;
}
