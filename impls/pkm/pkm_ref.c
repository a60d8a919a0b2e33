/* pkm_ref.c - the plain-loop PKM forward the optimized one is checked
 * against (Lample et al. 2019; research/ultramem_pkm.md section 3.1).
 *
 * Written to be read: one token at a time, the query Linear and then the
 * BatchNorm applied explicitly from its unfolded parameters, and the top-k
 * taken by brute force over all n^2 keys. The score of key (i, j) is the fp32
 * sum of its two half dot products, s1_i + s2_j, the same floats the product
 * path adds; the ranking order is the one in pkm.h. Dot products are summed
 * in double, in eight interleaved partial sums combined in a fixed order:
 * as exact as needed for an oracle, and fast enough that forward can call
 * pkm_exact_* itself to settle near ties (pkm.h). The value rows are read
 * element by element through common_dtype_at, the table's stored type
 * widened exactly (pkm.h, "dtype").
 */
#include "pkm.h"

#include <math.h>

static double dot(const float *a, const float *b, size_t n)
{
    double part[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t l = 0; l < 8; l++)
            part[l] += (double)a[i + l] * b[i + l];
    for (; i < n; i++)
        part[i % 8] += (double)a[i] * b[i];
    return ((part[0] + part[4]) + (part[1] + part[5])) +
           ((part[2] + part[6]) + (part[3] + part[7]));
}

/* q = BN(W x + b)[h d_k ...], BN(z) = (z - mean) / sqrt(var + eps) * gamma + beta. */
void pkm_exact_query_head(const struct pkm *p, const float *x, size_t h, float *q)
{
    const size_t D = p->d_model, Q = p->q_dim, dk = 2 * p->half;
    const float *gamma = p->bn, *beta = gamma + Q, *mean = beta + Q, *var = mean + Q;
    for (size_t j = 0; j < dk; j++) {
        size_t i = h * dk + j;
        double z = dot(p->wq_raw + i * D, x, D) + (double)p->bq_raw[i];
        if (p->knobs.batchnorm)
            z = (z - mean[i]) / sqrt((double)var[i] + 1e-5) * gamma[i] + beta[i];
        q[j] = (float)z;
    }
}

void pkm_exact_half_scores(const struct pkm *p, size_t h, const float *q, float *s1, float *s2)
{
    const size_t hf = p->half, n = (size_t)p->knobs.n_keys;
    const float *keys1 = p->keys + (2 * h) * n * hf, *keys2 = keys1 + n * hf;
    for (size_t i = 0; i < n; i++) {
        s1[i] = (float)dot(q, keys1 + i * hf, hf);
        s2[i] = (float)dot(q + hf, keys2 + i * hf, hf);
    }
}

void pkm_ref_select_head(const float *s1, const float *s2, size_t n, size_t k, struct pkm_pick *out)
{
    /* out[0..kept) is sorted best first; insert each key where it belongs. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            struct pkm_pick c = {s1[i] + s2[j], s1[i], s2[j], (uint32_t)(i * n + j)};
            if (kept == k && !pkm_ranks_below(&out[k - 1], &c))
                continue;
            size_t pos = kept < k ? kept++ : k - 1;
            while (pos > 0 && pkm_ranks_below(&out[pos - 1], &c)) {
                out[pos] = out[pos - 1];
                pos--;
            }
            out[pos] = c;
        }
    }
}

static void ref_softmax(const struct pkm_pick *picks, size_t k, float *w)
{
    double top = picks[0].score, total = 0;
    for (size_t i = 0; i < k; i++)
        total += exp(picks[i].score - top);
    for (size_t i = 0; i < k; i++)
        w[i] = (float)(exp(picks[i].score - top) / total);
}

int pkm_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens)
{
    struct pkm *p = (struct pkm *)l;
    if (n_tokens > p->max_tokens)
        return LAYER_EINVAL;
    const size_t D = p->d_model, H = (size_t)p->knobs.heads;
    const size_t K = (size_t)p->knobs.topk, n = (size_t)p->knobs.n_keys;
    float *s1 = p->ref_s, *s2 = p->ref_s + n;

    for (size_t t = 0; t < n_tokens; t++) {
        for (size_t d = 0; d < D; d++)
            p->ref_y[d] = 0;
        for (size_t h = 0; h < H; h++) {
            pkm_exact_query_head(p, x + t * D, h, p->ref_q);
            pkm_exact_half_scores(p, h, p->ref_q, s1, s2);
            struct pkm_pick *picks = p->ref_picks + (t * H + h) * K;
            float *w = p->ref_w + (t * H + h) * K;
            pkm_ref_select_head(s1, s2, n, K, picks);
            ref_softmax(picks, K, w);
            for (size_t slot = 0; slot < K; slot++) {
                size_t row = (size_t)picks[slot].idx * D;
                for (size_t d = 0; d < D; d++)
                    p->ref_y[d] += (double)w[slot] * common_dtype_at(p->dtype, p->values, row + d);
            }
        }
        for (size_t d = 0; d < D; d++)
            y[t * D + d] = (float)p->ref_y[d];
    }
    return LAYER_OK;
}
