/* tokens.c - the inputs a point is timed on.
 *
 * A pool of distinct N(0, 1) tokens, and windows that rotate through it, so
 * every forward routes fresh tokens the way decoding does. Timing one token
 * over and over flatters every sparse layer: the same experts, paths and
 * value rows stay in cache (llama.cpp PR #4480; research/fff.md section 2.2).
 */
#include "measure.h"
#include "../impls/common/common.h"

int bench_tokens_create(struct bench_tokens *tk, size_t n, size_t d_model, uint64_t seed)
{
    struct common_rng r;
    tk->n = n;
    tk->d_model = d_model;
    tk->x = common_alloc(n * d_model * sizeof(float));
    if (!tk->x)
        return LAYER_ENOMEM;
    /* A stream no layer uses for its weights. */
    common_rng_seed(&r, seed, 0x746f6b656e73ull);
    common_rng_fill_normal(&r, tk->x, n * d_model, 1.0f);
    return 0;
}

void bench_tokens_destroy(struct bench_tokens *tk)
{
    common_free(tk->x);
    tk->x = NULL;
}

const float *bench_tokens_window(const struct bench_tokens *tk, size_t i, size_t count)
{
    size_t starts = tk->n - count + 1;
    size_t start = (i * count) % starts;
    return tk->x + start * tk->d_model;
}
