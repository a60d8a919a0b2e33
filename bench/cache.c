/* cache.c - cold-cache state for timing.
 *
 * In a model, the layer before this one has streamed its own weights through
 * the caches, so this layer's weights arrive from DRAM. Cold timing
 * reproduces that by flushing exactly the layer's parameter memory before
 * each timed forward (outside the timed region): stricter than flushing the
 * last-level cache once per round. Flushing costs about 10-20 us/MB here,
 * and unlike sweeping an eviction buffer it does not need the last-level
 * cache size, which a VM often misreports (this KVM guest claims 508 MiB of
 * L3). The harness is built without -march=native, so clflushopt (weakly
 * ordered, several in flight) is chosen at run time from CPUID.
 */
#include "measure.h"
#include "../impls/layer.h"

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define LINE 64
#define PAGE 4096

#ifdef HAVE_X86
__attribute__((target("clflushopt"))) static void flush_opt(const char *p, const char *end)
{
    for (; p < end; p += LINE)
        _mm_clflushopt((void *)p);
    _mm_sfence();
}

static void flush_plain(const char *p, const char *end)
{
    for (; p < end; p += LINE)
        _mm_clflush(p);
    _mm_mfence();
}

static int have_clflushopt(void)
{
    static int known = -1;
    unsigned a, b, c, d;
    if (known < 0)
        known = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 23));
    return known;
}
#endif

const char *bench_cache_method(void)
{
#ifdef HAVE_X86
    return have_clflushopt() ? "clflushopt" : "clflush";
#else
    return "none";
#endif
}

static void flush_range(const void *base, size_t bytes)
{
    const char *p = (const char *)((uintptr_t)base & ~(uintptr_t)(LINE - 1));
    const char *end = (const char *)base + bytes;
#ifdef HAVE_X86
    if (have_clflushopt())
        flush_opt(p, end);
    else
        flush_plain(p, end);
#else
    (void)p;
    (void)end;
#endif
}

void bench_cache_evict_range(const void *p, size_t bytes)
{
    flush_range(p, bytes);
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
