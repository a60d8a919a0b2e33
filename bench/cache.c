/* cache.c - cold-cache state for timing.
 *
 * In a model, the layer before this one has streamed its own weights through
 * the caches, so this layer's weights arrive from DRAM. Cold timing
 * reproduces that by flushing exactly the layer's parameter memory before
 * each timed forward (outside the timed region). clflushopt costs about
 * 12 us/MB here, and unlike sweeping an eviction buffer it does not need the
 * last-level cache size, which a VM often misreports (this KVM guest claims
 * 508 MiB of L3).
 */
#include "bench.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define LINE 64
#define PAGE 4096

static void flush_range(const void *base, size_t bytes)
{
    const char *p = (const char *)((uintptr_t)base & ~(uintptr_t)(LINE - 1));
    const char *end = (const char *)base + bytes;
#if defined(__CLFLUSHOPT__)
    for (; p < end; p += LINE)
        _mm_clflushopt((void *)p);
    _mm_sfence();
#elif defined(__x86_64__) || defined(__i386__)
    for (; p < end; p += LINE)
        _mm_clflush(p);
    _mm_mfence();
#else
    (void)p;
    (void)end;
#endif
}

void bench_cache_evict(const struct layer_info *info)
{
    for (int i = 0; i < info->n_regions; i++)
        flush_range(info->regions[i].base, info->regions[i].bytes);
}

void bench_cache_touch(const struct layer_info *info)
{
    volatile unsigned char sink = 0;
    for (int i = 0; i < info->n_regions; i++) {
        const unsigned char *p = info->regions[i].base;
        for (size_t off = 0; off < info->regions[i].bytes; off += PAGE)
            sink ^= p[off];
    }
    (void)sink;
}
