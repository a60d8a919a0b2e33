/* tokens.c - the inputs a point is timed on.
 *
 * A pool of distinct N(0, 1) tokens, and windows that rotate through it, so
 * every forward routes fresh tokens the way decoding does. Timing one token
 * over and over flatters every sparse layer: the same experts, paths and
 * value rows stay in cache (llama.cpp PR #4480; research/fff.md section 2.2).
 * `--inputs repeat` does exactly that on purpose: one row for every token,
 * as the published FFF CPU benchmark does by mistake (section 2.2 item 2),
 * so its effect on a ratio can be measured alone.
 */
#include "tokens.h"
#include "../impls/layer.h"
#include "../impls/common/common.h"

#include <string.h>

const char *bench_inputs_name(enum bench_inputs in)
{
    return in == BENCH_INPUTS_REPEAT ? "repeat" : "random";
}

enum bench_inputs bench_inputs_parse(const char *s)
{
    return s && strcmp(s, "repeat") == 0 ? BENCH_INPUTS_REPEAT : BENCH_INPUTS_RANDOM;
}

int bench_tokens_create(struct bench_tokens *tk, size_t n, size_t d_model, uint64_t seed,
                        enum bench_inputs inputs)
{
    struct common_rng r;
    tk->n = n;
    tk->d_model = d_model;
    tk->x = common_alloc(n * d_model * sizeof(float));
    if (!tk->x)
        return LAYER_ENOMEM;
    /* A stream no layer uses for its weights. */
    common_rng_seed(&r, seed, 0x746f6b656e73ull);
    if (inputs == BENCH_INPUTS_REPEAT) {
        /* The first row of the random pool, everywhere: the same draw. */
        common_rng_fill_normal(&r, tk->x, d_model, 1.0f);
        for (size_t t = 1; t < n; t++)
            memcpy(tk->x + t * d_model, tk->x, d_model * sizeof(float));
        return 0;
    }
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
