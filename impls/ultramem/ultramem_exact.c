/* ultramem_exact.c - the arithmetic UltraMem's reference and its optimized
 * forward share bit for bit (research/ultramem_pkm.md sections 1.3, 1.9):
 * the query in plain loops (W_q x, then each half's LayerNorm in double),
 * the key scores of listed rows, a rank-1 filter score and a pair's grid
 * total over the cores.
 *
 * forward_ref (ultramem_ref.c) computes everything with these; forward
 * (ultramem_select.c) recomputes a near tie with them, so that its choices
 * there rank the very floats forward_ref ranks (ultramem.h, "Near ties").
 * A leaf: it calls nothing else of the family.
 */
#include "ultramem.h"

#include <math.h>
#include <string.h>

static void exact_layer_norm(float *x, const float *w, size_t len)
{
    double mean, var;
    ultramem_ln_moments(x, len, &mean, &var);
    for (size_t d = 0; d < len; d++)
        x[d] = (float)((x[d] - mean) / sqrt(var + ULTRAMEM_LN_EPS)) * w[d];
}

/* out8[b] = p[b] . x (len) for b < 8, each dot summed in float in the order
 * d = 0, 1, ..., as a one-vector loop would. Eight go together only so
 * that their eight chains of dependent adds overlap (the compiler runs them
 * in the lanes of one vector): forward recomputes near ties with this
 * (ultramem_select.c), and a single chain runs at one add per add latency. */
static void exact_dot8(const float *const *p, size_t len, const float *x, float *out8)
{
    float acc[8] = {0};
    for (size_t d = 0; d < len; d++)
        for (size_t b = 0; b < 8; b++)
            acc[b] += p[b][d] * x[d];
    memcpy(out8, acc, sizeof(acc));
}

static float exact_dot(const float *p, size_t len, const float *x)
{
    float acc = 0;
    for (size_t d = 0; d < len; d++)
        acc += p[d] * x[d];
    return acc;
}

void ultramem_exact_query(const struct ultramem *u, const float *x /* (D) */, float *q /* (2 Dk) */)
{
    size_t Q = 2 * u->Dk;
    /* q = W_q x as a sum of W_q's columns, which are the rows of wq_t: every
     * q[o] still adds its D products in the order d = 0, 1, ..., and the
     * inner loop runs along contiguous memory, so it vectorises. */
    for (size_t o = 0; o < Q; o++)
        q[o] = 0;
    for (size_t d = 0; d < u->D; d++)
        for (size_t o = 0; o < Q; o++)
            q[o] += u->wq_t[d * Q + o] * x[d];
    exact_layer_norm(q, u->q_ln, u->Dk);
    exact_layer_norm(q + u->Dk, u->q_ln, u->Dk);
}

/* s[i][rank] = q_side . keys[side][hd][i][rank] for the listed rows i */
void ultramem_exact_key_scores(const struct ultramem *u, size_t hd, int side, const float *q,
                               const uint32_t *rows, size_t n_rows, float *s /* (np, r) */)
{
    const float *keys = u->keys + ((size_t)side * u->H + hd) * u->np * u->r * u->Dk;
    const float *vec[8];
    float *out[8], res[8];
    size_t nv = 0;
    n_rows = rows ? n_rows : u->np;
    for (size_t k = 0; k < n_rows; k++) {
        size_t i = rows ? rows[k] : k;
        for (size_t rank = 0; rank < u->r; rank++) {
            vec[nv] = keys + (i * u->r + rank) * u->Dk;
            out[nv++] = s + i * u->r + rank;
            if (nv == 8) {
                exact_dot8(vec, u->Dk, q, res);
                for (size_t b = 0; b < 8; b++)
                    *out[b] = res[b];
                nv = 0;
            }
        }
    }
    for (size_t b = 0; b < nv; b++)
        *out[b] = exact_dot(vec[b], u->Dk, q);
}

float ultramem_exact_rank1(const struct ultramem *u, const float *si /* (r) */,
                           const float *dir /* (r) */)
{
    float a = 0;
    for (size_t k = 0; k < u->r; k++)
        a += si[k] * dir[k];
    return a;
}

float ultramem_exact_pair_score(const struct ultramem *u, size_t hd, const float *si /* (r) */,
                                const float *sj /* (r) */)
{
    size_t r = u->r;
    float tot = 0;
    for (size_t c = 0; c < u->h; c++)
        tot += ultramem_core_score(si, u->cores + (c * u->H + hd) * r * r, sj, r);
    return tot;
}
