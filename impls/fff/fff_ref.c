/* fff_ref.c - the FFF oracle: UltraFastBERT's own "masking" forward in
 * plain loops (research/fff.md section 1.3, training/cramming/architectures/
 * fff.py).
 *
 * Every node's pre-activation is computed densely, the path is read off the
 * signs (z > 0 goes right, exactly 0 goes left, as the training code and
 * benchmark_cpu do), and only the path's gelu(z) w_out[n] terms are summed.
 * It shares nothing with the fast kernels but the weights and libm's erff,
 * so a routing or accumulation bug in either shows up as a disagreement.
 * activation=0 adds the path's w_out rows unscaled, as the fast kernels.
 * Narrow rows (dtype=bf16|f16) are read element by element through
 * common_dtype_at, the exact widening the kernels' vector loads do, so the
 * reference computes the same function of the same stored values and the
 * check's tolerance is the fp32 one at every dtype.
 * Its work is all N nodes per token, not the layer's: stats come from
 * forward.
 */
#include "fff.h"

int fff_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens)
{
    struct fff *f = (struct fff *)l;
    const size_t D = f->d_model, N = f->n_nodes, NN = f->tree_nodes;
    const size_t K = (size_t)f->knobs.trees, levels = (size_t)f->knobs.depth + 1;
    float *z = f->ref_z; /* (N) */
    if (n_tokens > f->max_tokens)
        return LAYER_EINVAL;
    for (size_t t = 0; t < n_tokens; t++) {
        const float *xt = x + t * D;
        float *yt = y + t * D;
        for (size_t n = 0; n < N; n++) {
            float acc = f->b ? f->b[n] : 0.0f;
            for (size_t d = 0; d < D; d++)
                acc += common_dtype_at(f->dt, f->w_in, n * D + d) * xt[d];
            z[n] = acc;
        }
        for (size_t d = 0; d < D; d++)
            yt[d] = 0.0f;
        for (size_t k = 0; k < K; k++) {
            size_t node = 0; /* heap index inside tree k */
            for (size_t level = 0; level < levels; level++) {
                size_t row = k * NN + node;
                float a = f->knobs.activation ? common_gelu_ref(z[row]) : 1.0f;
                for (size_t d = 0; d < D; d++)
                    yt[d] += a * common_dtype_at(f->dt, f->w_out, row * D + d);
                node = 2 * node + 1 + (z[row] > 0.0f ? 1 : 0);
            }
        }
    }
    return LAYER_OK;
}
