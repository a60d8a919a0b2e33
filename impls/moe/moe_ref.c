/* moe_ref.c - the MoE forward in plain loops, one token at a time: the
 * oracle moe_forward is tested against (research/style.md rule 5).
 *
 *   logits = x . Wr                          (D x E router, no bias)
 *   p      = softmax(logits)
 *   S      = the k largest logits (ties: lower expert index first), or the
 *            k experts routing=uniform|zipf:A draws for this token
 *   y      = shared(x) + sum_{e in S} p_e / (sum_{e' in S} p_e') . expert_e(x)
 *
 * The renormalised weight is computed as exp(l_e - max_S l) / sum_S, the
 * same number without underflow. The uniform/zipf draw is the routing
 * specification itself (moe_route_draw), not an optimization, so both
 * forwards share it. Everything else here is independent of moe_forward.c.
 */
#include "moe.h"

#include <math.h>

void moe_ref_route_token(const struct moe *m, const float *x, float *logits, uint32_t *sel,
                         float *sel_w)
{
    const size_t D = m->D, E = m->E, K = m->K;
    for (size_t e = 0; e < E; e++) {
        float z = 0.0f;
        for (size_t d = 0; d < D; d++)
            z += m->router[d * E + e] * x[d];
        logits[e] = z;
    }
    if (m->routing == MOE_ROUTING_ROUTER) {
        for (size_t j = 0; j < K; j++) {
            size_t best = E;
            for (size_t e = 0; e < E; e++) {
                int taken = 0;
                for (size_t i = 0; i < j; i++)
                    taken |= sel[i] == e;
                if (!taken && (best == E || logits[e] > logits[best]))
                    best = e;
            }
            sel[j] = (uint32_t)best;
        }
    } else {
        moe_route_draw(m, x, sel);
    }
    float mx = logits[sel[0]], sum = 0.0f;
    for (size_t j = 1; j < K; j++)
        if (logits[sel[j]] > mx)
            mx = logits[sel[j]];
    for (size_t j = 0; j < K; j++) {
        sel_w[j] = expf(logits[sel[j]] - mx);
        sum += sel_w[j];
    }
    for (size_t j = 0; j < K; j++)
        sel_w[j] /= sum;
}

int moe_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens)
{
    struct moe *m = (struct moe *)l;
    const size_t D = m->D, K = m->K;
    if (n_tokens > m->max_tokens)
        return LAYER_EINVAL;
    float *out = m->yg; /* (D) one expert's output */
    for (size_t t = 0; t < n_tokens; t++) {
        const float *xt = x + t * D;
        float *yt = y + t * D;
        uint32_t *sel = m->sel + t * K;
        float *w = m->sel_w + t * K;
        moe_ref_route_token(m, xt, m->logits, sel, w);
        if (m->S) {
            common_ffn_forward_ref(&m->shared, xt, 1, yt);
        } else {
            for (size_t d = 0; d < D; d++)
                yt[d] = 0.0f;
        }
        for (size_t j = 0; j < K; j++) {
            common_ffn_forward_ref(&m->ffn[sel[j]], xt, 1, out);
            for (size_t d = 0; d < D; d++)
                yt[d] += w[j] * out[d];
        }
    }
    return LAYER_OK;
}
