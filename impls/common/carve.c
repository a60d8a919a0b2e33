/* carve.c - one source for each memory layout: the same function sizes a
 * block and carves it.
 *
 * A layer's create allocates a few big blocks and hands out pieces of them
 * (its parameters, its forward scratch, one slice per worker). A family
 * writes each layout once, as a function taking every piece in order with
 * common_carve. Run on carves with no base (the sizing pass) it only adds
 * the pieces up: that is what check reports and what the memory check
 * weighs. common_carve_alloc then allocates each block at exactly that size
 * and the second run hands out the pieces. No second list of sizes exists
 * to drift from the first.
 */
#include "common.h"
#include "../layer.h"

#include <stdio.h>

void *common_carve(struct common_carve *c, size_t n, size_t size)
{
    uint64_t bytes, start, end;
    if (c->overflow)
        return NULL;
    if (__builtin_mul_overflow((uint64_t)n, (uint64_t)size, &bytes))
        goto out_overflow;
    if (bytes == 0) /* an empty piece takes no room, as common_alloc(0) */
        return NULL;
    if (__builtin_add_overflow(c->used, (uint64_t)c->align - 1, &start))
        goto out_overflow;
    start &= ~((uint64_t)c->align - 1);
    if (__builtin_add_overflow(start, bytes, &end))
        goto out_overflow;
    c->used = end;
    return c->base ? c->base + start : NULL;

out_overflow:
    c->overflow = 1;
    c->used = UINT64_MAX;
    return NULL;
}

int common_carve_alloc(struct common_carve *blocks, size_t n)
{
    int rc = LAYER_OK;
    for (size_t i = 0; i < n; i++) {
        struct common_carve *c = &blocks[i];
        c->size = c->used;
        c->used = 0;
        if (!c->size)
            c->base = NULL;
        else if (c->unwritten)
            c->base = common_alloc_unwritten((size_t)c->size);
        else
            c->base = common_alloc((size_t)c->size);
        if (c->size && !c->base)
            rc = LAYER_ENOMEM;
    }
    return rc;
}

void common_carve_free(struct common_carve *blocks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (blocks[i].unwritten)
            common_free_unwritten(blocks[i].base, (size_t)blocks[i].size);
        else
            common_free(blocks[i].base);
        blocks[i].base = NULL;
    }
}

int common_carve_fit(const struct common_carve *blocks, size_t n, const char *who, uint64_t *bytes,
                     char *err, size_t errlen)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (blocks[i].overflow || __builtin_add_overflow(total, blocks[i].used, &total)) {
            *bytes = UINT64_MAX;
            snprintf(err, errlen,
                     "%s: its sizes overflow 64 bits; lower --scale, --d or the size knobs", who);
            return LAYER_ETOOBIG;
        }
    }
    *bytes = total;
    return common_mem_check(total, who, err, errlen);
}
