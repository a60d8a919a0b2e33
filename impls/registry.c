/* registry.c - the table of every layer sparsebench knows, and the few
 * functions of layer.h that are not per family.
 *
 * An explicit table rather than constructor self-registration: a linker may
 * drop an unreferenced object file from a static library and the layer would
 * silently vanish (google/benchmark #1498). Adding a layer is one line here.
 */
#include "layer.h"
#include "common/common.h"

#include <stdio.h>
#include <string.h>

extern const struct layer_ops dense_ops;
extern const struct layer_ops moe_ops;
extern const struct layer_ops pkm_ops;
extern const struct layer_ops ultramem_ops;
extern const struct layer_ops ultramem_merged_ops;
extern const struct layer_ops fff_ops;
extern const struct layer_ops fff_token_ops;
extern const struct layer_ops sum_dense_ultramem_ops;
extern const struct layer_ops sum_dense_pkm_ops;
extern const struct layer_ops dense_l1_ops;
extern const struct layer_ops dense_l2_ops;
extern const struct layer_ops fff_l1_ops;
extern const struct layer_ops fff_l2_ops;

/* The real layers first; the paper-style weak baselines last. One per line. */
/* clang-format off */
static const struct layer_ops *const layer_table[] = {
    &dense_ops,
    &moe_ops,
    &pkm_ops,
    &ultramem_ops,
    &ultramem_merged_ops,
    &fff_ops,
    &fff_token_ops,
    &sum_dense_ultramem_ops,
    &sum_dense_pkm_ops,
    &dense_l1_ops,
    &dense_l2_ops,
    &fff_l1_ops,
    &fff_l2_ops,
};
/* clang-format on */

size_t layer_count(void)
{
    return sizeof(layer_table) / sizeof(layer_table[0]);
}

const struct layer_ops *layer_get(size_t i)
{
    return i < layer_count() ? layer_table[i] : NULL;
}

const struct layer_ops *layer_find(const char *name)
{
    for (size_t i = 0; name && i < layer_count(); i++)
        if (strcmp(layer_table[i]->name, name) == 0)
            return layer_table[i];
    return NULL;
}

const char *layer_strerror(int err)
{
    switch (err) {
    case LAYER_OK:
        return "success";
#define LAYER_ERR_CASE(name, code, msg)                                                            \
    case LAYER_##name:                                                                             \
        return msg;
        LAYER_ERRNO_MAP(LAYER_ERR_CASE)
#undef LAYER_ERR_CASE
    }
    return "unknown error";
}

/* What every create and check refuses alike, before the family sees cfg. */
static int check_config(const struct layer_ops *ops, const struct layer_config *cfg, char *err,
                        size_t errlen)
{
    if (ops->abi_version != LAYER_ABI_VERSION) {
        snprintf(err, errlen, "%s: built for layer ABI %d, this program speaks %d", ops->name,
                 ops->abi_version, LAYER_ABI_VERSION);
        return LAYER_EABI;
    }
    if (cfg->d_model < 1 || cfg->scale < 1 || cfg->threads < 1 || cfg->max_tokens < 1) {
        snprintf(err, errlen,
                 "%s: d_model=%zu, scale=%u, threads=%d, max_tokens=%zu; each must be >= 1",
                 ops->name, cfg->d_model, cfg->scale, cfg->threads, cfg->max_tokens);
        return LAYER_EINVAL;
    }
    return LAYER_OK;
}

int layer_create(const struct layer_ops *ops, const struct layer_config *cfg, struct layer **out,
                 char *err, size_t errlen)
{
    *out = NULL;
    int rc = check_config(ops, cfg, err, errlen);
    return rc ? rc : ops->create(cfg, out, err, errlen);
}

int layer_check(const struct layer_ops *ops, const struct layer_config *cfg, uint64_t *bytes,
                char *err, size_t errlen)
{
    uint64_t b0, b1, calls;
    struct layer *l = NULL;
    if (bytes)
        *bytes = 0;
    int rc = check_config(ops, cfg, err, errlen);
    if (rc)
        return rc;
    if (ops->check)
        return ops->check(cfg, bytes, err, errlen);
    /* No check op: the only exact answer is create's own. */
    common_alloc_counts(&b0, &calls);
    rc = ops->create(cfg, &l, err, errlen);
    common_alloc_counts(&b1, &calls);
    if (bytes && rc == LAYER_OK)
        *bytes = b1 - b0;
    layer_destroy(l);
    return rc;
}

void layer_destroy(struct layer *l)
{
    if (l)
        l->ops->destroy(l);
}

uint64_t layer_dense_params(size_t d_model)
{
    return 8ull * d_model * d_model; /* W1 and W2 of a D x 4D FFN, biases left out */
}
