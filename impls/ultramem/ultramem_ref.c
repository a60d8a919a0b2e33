/* ultramem_ref.c - UltraMem v1 in plain loops, one token at a time: the
 * oracle the optimized forward is checked against (research/ultramem_pkm.md
 * section 1.9), the exact filter-free layer, and recall.
 *
 * For every head it computes the full Tucker score grid over all n'^2 pairs
 * by brute force, every pair and every core: grid[i][j] = sum_c
 * S_row[i]^T C_c S_col[j]. Then (lead's decision, issue 5 note):
 *   - forward_ref applies the rank-1 filter with plain loops (rows = top-ms
 *     of a = S_row u, columns = top-ms of b = S_col v, plus the bottom-ms
 *     with filter=signed) and takes the top-m of the grid restricted to the
 *     kept pairs: the same function as forward, which the harness requires
 *     before it times anything;
 *   - forward_exact takes the top-m of the whole grid, no filter: the layer
 *     the filter approximates. recall compares forward's selection with it.
 * Every ranking is "larger score first, then smaller index first", the
 * order the optimized path ranks by (ultramem_topk.c). Scratch comes from create.
 */
#include "ultramem.h"

#include <math.h>
#include <string.h>

#define LN_EPS 1e-5

/* ---- query and key scores ---- */

static void ref_layer_norm(float *x, const float *w, size_t len)
{
    double mean = 0, var = 0;
    for (size_t d = 0; d < len; d++)
        mean += x[d];
    mean /= (double)len;
    for (size_t d = 0; d < len; d++)
        var += (x[d] - mean) * (x[d] - mean);
    var /= (double)len;
    for (size_t d = 0; d < len; d++)
        x[d] = (float)((x[d] - mean) / sqrt(var + LN_EPS)) * w[d];
}

static void ref_query(const struct ultramem *u, const float *x /* (D) */, float *q /* (2 Dk) */)
{
    for (size_t o = 0; o < 2 * u->Dk; o++) {
        float acc = 0;
        for (size_t d = 0; d < u->D; d++)
            acc += u->wq[o * u->D + d] * x[d];
        q[o] = acc;
    }
    ref_layer_norm(q, u->q_ln, u->Dk);
    ref_layer_norm(q + u->Dk, u->q_ln, u->Dk);
}

/* s[i][rank] = q_side . keys[side][hd][i][rank] */
static void ref_key_scores(const struct ultramem *u, size_t hd, int side, const float *q,
                           float *s /* (np, r) */)
{
    for (size_t i = 0; i < u->np; i++) {
        for (size_t k = 0; k < u->r; k++) {
            const float *key =
                u->keys + ((((size_t)side * u->H + hd) * u->np + i) * u->r + k) * u->Dk;
            float acc = 0;
            for (size_t d = 0; d < u->Dk; d++)
                acc += q[d] * key[d];
            s[i * u->r + k] = acc;
        }
    }
}

/* ---- the grid ---- */

static float ref_core_score(const float *si, const float *core, const float *sj, size_t r)
{
    float s = 0;
    for (size_t y = 0; y < r; y++) {
        float t = 0;
        for (size_t x = 0; x < r; x++)
            t += si[x] * core[x * r + y];
        s += t * sj[y];
    }
    return s;
}

static void ref_grid(const struct ultramem *u, size_t hd, const float *sr, const float *sc,
                     float *grid /* (np, np) */)
{
    size_t r = u->r;
    for (size_t i = 0; i < u->np; i++) {
        for (size_t j = 0; j < u->np; j++) {
            float tot = 0;
            for (size_t c = 0; c < u->h; c++)
                tot +=
                    ref_core_score(sr + i * r, u->cores + (c * u->H + hd) * r * r, sc + j * r, r);
            grid[i * u->np + j] = tot;
        }
    }
}

/* ---- ranking ---- */

static int ranks_above(float va, uint32_t ia, float vb, uint32_t ib)
{
    return va > vb || (va == vb && ia < ib);
}

/* Insert (v, i) into the best-first list of *len <= cap entries. */
static void list_insert(float *val, uint32_t *idx, size_t *len, size_t cap, float v, uint32_t i)
{
    if (*len == cap && !ranks_above(v, i, val[cap - 1], idx[cap - 1]))
        return;
    size_t pos = *len < cap ? (*len)++ : cap - 1;
    while (pos > 0 && ranks_above(v, i, val[pos - 1], idx[pos - 1])) {
        val[pos] = val[pos - 1];
        idx[pos] = idx[pos - 1];
        pos--;
    }
    val[pos] = v;
    idx[pos] = i;
}

/* The rank-1 filter of one side: keep bit 0 for the top-ms of s dir, bit 1
 * for its bottom-ms (signed filter only). */
static void ref_keep(struct ultramem *u, const float *s, const float *dir, uint8_t *keep)
{
    struct ultramem_ref_scratch *rs = &u->ref;
    size_t len = 0;
    for (size_t i = 0; i < u->np; i++) {
        rs->a[i] = 0;
        for (size_t k = 0; k < u->r; k++)
            rs->a[i] += s[i * u->r + k] * dir[k];
        keep[i] = 0;
    }
    for (size_t i = 0; i < u->np; i++)
        list_insert(rs->list_val, rs->list_idx, &len, u->ms, rs->a[i], (uint32_t)i);
    for (size_t k = 0; k < len; k++)
        keep[rs->list_idx[k]] |= 1;
    if (!u->signed_filter)
        return;
    len = 0;
    for (size_t i = 0; i < u->np; i++)
        list_insert(rs->list_val, rs->list_idx, &len, u->ms, -rs->a[i], (uint32_t)i);
    for (size_t k = 0; k < len; k++)
        keep[rs->list_idx[k]] |= 2;
}

/* ---- one token ---- */

/* Fill u->ref.vidx (H, m) and u->ref.score (H, m, h) for token x. */
static void ref_token(struct ultramem *u, const float *x, int exact)
{
    struct ultramem_ref_scratch *rs = &u->ref;
    size_t r = u->r, np = u->np;
    ref_query(u, x, rs->q);
    for (size_t hd = 0; hd < u->H; hd++) {
        ref_key_scores(u, hd, 0, rs->q, rs->sr);
        ref_key_scores(u, hd, 1, rs->q + u->Dk, rs->sc);
        ref_grid(u, hd, rs->sr, rs->sc, rs->grid);
        if (!exact) {
            ref_keep(u, rs->sr, u->u + hd * r, rs->rkeep);
            ref_keep(u, rs->sc, u->v + hd * r, rs->ckeep);
        }
        size_t len = 0;
        for (size_t i = 0; i < np; i++)
            for (size_t j = 0; j < np; j++)
                if (exact || (rs->rkeep[i] & rs->ckeep[j]))
                    list_insert(rs->list_val, rs->list_idx, &len, u->m, rs->grid[i * np + j],
                                (uint32_t)(i * np + j));
        for (size_t k = 0; k < u->m; k++) {
            uint32_t vidx = rs->list_idx[k];
            rs->vidx[hd * u->m + k] = vidx;
            for (size_t c = 0; c < u->h; c++)
                rs->score[(hd * u->m + k) * u->h + c] =
                    ref_core_score(rs->sr + (vidx / np) * r, u->cores + (c * u->H + hd) * r * r,
                                   rs->sc + (vidx % np) * r, r);
        }
    }
}

/* y (D) from u->ref's selections: the shuffled lookup into pooled[E][Dv],
 * each core weighting its slice, then values_proj; or the folded rows. */
static void ref_output(struct ultramem *u, float *y)
{
    struct ultramem_ref_scratch *rs = &u->ref;
    size_t hm = u->H * u->m;
    if (u->merged) {
        memset(y, 0, u->D * sizeof(float));
        for (size_t k = 0; k < hm; k++) {
            const float *row = u->folded + (size_t)u->shuffle[rs->vidx[k]] * u->h * u->D;
            for (size_t c = 0; c < u->h; c++)
                for (size_t d = 0; d < u->D; d++)
                    y[d] += rs->score[k * u->h + c] * row[c * u->D + d];
        }
        return;
    }
    memset(rs->pooled, 0, u->E * u->Dv * sizeof(float));
    for (size_t k = 0; k < hm; k++) {
        uint32_t t = u->shuffle[rs->vidx[k]];
        const float *value = u->values + (size_t)(t % u->N) * u->Dv;
        float *dst = rs->pooled + (size_t)(t / u->N) * u->Dv;
        for (size_t c = 0; c < u->h; c++)
            for (size_t d = c * u->Dc; d < (c + 1) * u->Dc; d++)
                dst[d] += rs->score[k * u->h + c] * value[d];
    }
    for (size_t o = 0; o < u->D; o++) {
        float acc = 0;
        for (size_t j = 0; j < u->E * u->Dv; j++)
            acc += u->wo[o * u->E * u->Dv + j] * rs->pooled[j];
        y[o] = acc;
    }
}

/* ---- entry points ---- */

static int ref_forward(struct layer *l, const float *x, float *y, size_t n_tokens, int exact)
{
    struct ultramem *u = (struct ultramem *)l;
    if (n_tokens > u->max_tokens)
        return LAYER_EINVAL;
    for (size_t t = 0; t < n_tokens; t++) {
        ref_token(u, x + t * u->D, exact);
        ref_output(u, y + t * u->D);
    }
    return LAYER_OK;
}

int ultramem_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens)
{
    return ref_forward(l, x, y, n_tokens, 0);
}

int ultramem_forward_exact(struct layer *l, const float *x, float *y, size_t n_tokens)
{
    return ref_forward(l, x, y, n_tokens, 1);
}

void ultramem_ref_select(struct ultramem *u, const float *x, int exact, uint32_t *vidx)
{
    ref_token(u, x, exact);
    memcpy(vidx, u->ref.vidx, u->H * u->m * sizeof(uint32_t));
}

int ultramem_recall(struct layer *l, const float *x, size_t n_tokens, double *out)
{
    struct ultramem *u = (struct ultramem *)l;
    size_t found = 0, hm = u->H * u->m;
    if (n_tokens > u->max_tokens)
        return LAYER_EINVAL;
    if (n_tokens == 0) {
        *out = 1;
        return LAYER_OK;
    }
    ultramem_select_batch(u, x, n_tokens);
    for (size_t t = 0; t < n_tokens; t++) {
        ref_token(u, x + t * u->D, 1);
        for (size_t hd = 0; hd < u->H; hd++) {
            const uint32_t *got = u->sel + t * hm + hd * u->m, *want = u->ref.vidx + hd * u->m;
            for (size_t a = 0; a < u->m; a++)
                for (size_t b = 0; b < u->m; b++)
                    if (want[a] == got[b]) {
                        found++;
                        break;
                    }
        }
    }
    *out = (double)found / (double)(n_tokens * hm);
    return LAYER_OK;
}
