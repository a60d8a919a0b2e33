/* param.c - filling struct layer_param for layer_ops.param (layer.h), and
 * the GELU FFN's tensors that dense, the MoE experts and the sum's dense
 * part list alike. Names follow PyTorch's state_dict dots; shapes are the
 * layouts forward reads, documented in reports/WEIGHTS.md. */
#include "common.h"
#include "../layer.h"

#include <stdio.h>

int common_param_typed(struct layer_param *p, const char *prefix, const char *name, void *data,
                       enum layer_dtype dt, int ndim, const uint64_t *shape)
{
    snprintf(p->name, sizeof(p->name), "%s%s", prefix ? prefix : "", name);
    p->ndim = ndim;
    for (int i = 0; i < LAYER_PARAM_MAX_DIMS; i++)
        p->shape[i] = i < ndim ? shape[i] : 0;
    p->dtype = dt;
    p->data = data;
    return LAYER_OK;
}

int common_param(struct layer_param *p, const char *prefix, const char *name, float *data, int ndim,
                 const uint64_t *shape)
{
    return common_param_typed(p, prefix, name, data, LAYER_F32, ndim, shape);
}

size_t common_ffn_n_params(const struct common_ffn *ffn)
{
    return ffn->b1 ? 4 : 2;
}

int common_ffn_param(const struct common_ffn *ffn, const char *prefix, size_t i,
                     struct layer_param *p)
{
    size_t D = ffn->d_model, F = ffn->width;
    /* Cast away const: the owner allocated these writable; forward only reads. */
    switch (i < common_ffn_n_params(ffn) ? i : 4) {
    case 0:
        return common_param_typed(p, prefix, "w1", (void *)ffn->w1, ffn->dtype, 2,
                                  (const uint64_t[]){F, D});
    case 1:
        return common_param_typed(p, prefix, "w2", (void *)ffn->w2, ffn->dtype, 2,
                                  (const uint64_t[]){F, D});
    case 2:
        return common_param(p, prefix, "b1", (float *)ffn->b1, 1, (const uint64_t[]){F});
    case 3:
        return common_param(p, prefix, "b2", (float *)ffn->b2, 1, (const uint64_t[]){D});
    }
    return LAYER_EINVAL;
}
