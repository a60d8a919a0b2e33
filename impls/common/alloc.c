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

static uint64_t meminfo_available(void)
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

/* One number from a cgroup file ("max" is no limit): 0 and *v, or -1. */
static int read_cg(const char *dir, const char *name, uint64_t *v)
{
    char path[1024], buf[64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(buf, sizeof(buf), f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    if (!strncmp(buf, "max", 3)) {
        *v = UINT64_MAX;
        return 0;
    }
    char *end;
    unsigned long long x = strtoull(buf, &end, 10);
    if (end == buf)
        return -1;
    *v = x;
    return 0;
}

/* limit - usage of the cgroup at dir, UINT64_MAX without a limit; -1 when
 * dir has no such files. v1 reports "no limit" as a huge page-rounded
 * number, which the min below makes harmless. */
static int cg_room(const char *dir, const char *limit, const char *usage, uint64_t *room)
{
    uint64_t l, u;
    if (read_cg(dir, limit, &l) || read_cg(dir, usage, &u))
        return -1;
    *room = l == UINT64_MAX ? UINT64_MAX : l > u ? l - u : 0;
    return 0;
}

/* The memory a container's cgroup still allows (v2 memory.max -
 * memory.current, v1 memory.limit_in_bytes - memory.usage_in_bytes),
 * UINT64_MAX when there is no limit or none can be read. Inside a container
 * /proc/self/cgroup names the host's path while /sys/fs/cgroup is the
 * container's own, so the named path is tried first and the mount's root
 * second. SPARSEBENCH_CGROUP_ROOT and SPARSEBENCH_PROC_CGROUP move both
 * files, so the tests can fake a limited container. */
uint64_t common_cgroup_room(void)
{
    const char *root = getenv("SPARSEBENCH_CGROUP_ROOT");
    const char *self = getenv("SPARSEBENCH_PROC_CGROUP");
    char line[1024], dir[2048];
    uint64_t best = UINT64_MAX, room;
    if (!root || !*root)
        root = "/sys/fs/cgroup";
    FILE *f = fopen(self && *self ? self : "/proc/self/cgroup", "r");
    if (!f)
        return best;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = '\0';
        const char *ctl = c1 + 1, *path = c2 + 1;
        int v2 = !strcmp(line, "0") && !*ctl;
        int v1 = strstr(ctl, "memory") != NULL;
        if (!v1 && !v2)
            continue;
        const char *sub = v1 ? "/memory" : "";
        const char *lim = v1 ? "memory.limit_in_bytes" : "memory.max";
        const char *use = v1 ? "memory.usage_in_bytes" : "memory.current";
        snprintf(dir, sizeof(dir), "%s%s%s", root, sub, strcmp(path, "/") ? path : "");
        if (cg_room(dir, lim, use, &room)) {
            snprintf(dir, sizeof(dir), "%s%s", root, sub);
            if (cg_room(dir, lim, use, &room))
                continue;
        }
        if (room < best)
            best = room;
    }
    fclose(f);
    return best;
}

uint64_t common_mem_available(void)
{
    uint64_t avail = meminfo_available(), room = common_cgroup_room();
    if (room == UINT64_MAX)
        return avail;
    /* A cgroup with no room left reads as 1 byte, not as "unknown" (0). */
    if (avail == 0 || room < avail)
        return room ? room : 1;
    return avail;
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
