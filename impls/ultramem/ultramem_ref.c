/* ultramem_ref.c - UltraMem v1 in plain loops, one token at a time: the
 * oracle the optimized forward is checked against (research/ultramem_pkm.md
 * section 1.9) and the exact filter-free layer recall is measured against.
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
 *     the filter approximates. recall (ultramem_forward.c) compares
 *     forward's selection with it.
 * Every ranking is "larger score first, then smaller index first", the
 * order the optimized path ranks by (common_topk_set). Scratch comes from
 * create. The query, key scores, rank-1 scores and pair totals are
 * ultramem_exact.c's, the functions forward recomputes a near tie with, so
 * that it gets forward_ref's bits (ultramem.h, "Near ties"). The value
 * and folded tables are read element by element through common_dtype_at,
 * their stored type widened exactly (ultramem.h, "dtype").
 */
#include "ultramem.h"

#include <math.h>
#include <string.h>

/* ---- the grid ---- */

static void ref_grid(const struct ultramem *u, size_t hd, const float *sr, const float *sc,
                     float *grid /* (np, np) */)
{
    for (size_t i = 0; i < u->np; i++)
        for (size_t j = 0; j < u->np; j++)
            grid[i * u->np + j] = ultramem_exact_pair_score(u, hd, sr + i * u->r, sc + j * u->r);
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
    for (size_t i = 0; i < u->np; i++)
        rs->a[i] = ultramem_exact_rank1(u, s + i * u->r, dir);
    memset(keep, 0, u->np);
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
    ultramem_exact_query(u, x, rs->q);
    for (size_t hd = 0; hd < u->H; hd++) {
        ultramem_exact_key_scores(u, hd, 0, rs->q, NULL, 0, rs->sr);
        ultramem_exact_key_scores(u, hd, 1, rs->q + u->Dk, NULL, 0, rs->sc);
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
                rs->score[(hd * u->m + k) * u->h + c] = ultramem_core_score(
                    rs->sr + (vidx / np) * r, u->cores + (c * u->H + hd) * r * r,
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
            size_t row = (size_t)u->shuffle[rs->vidx[k]] * u->h * u->D;
            for (size_t c = 0; c < u->h; c++)
                for (size_t d = 0; d < u->D; d++)
                    y[d] += rs->score[k * u->h + c] *
                            common_dtype_at(u->dtype, u->folded, row + c * u->D + d);
        }
        return;
    }
    memset(rs->pooled, 0, u->E * u->Dv * sizeof(float));
    for (size_t k = 0; k < hm; k++) {
        uint32_t t = u->shuffle[rs->vidx[k]];
        size_t value = (size_t)(t % u->N) * u->Dv;
        float *dst = rs->pooled + (size_t)(t / u->N) * u->Dv;
        for (size_t c = 0; c < u->h; c++)
            for (size_t d = c * u->Dc; d < (c + 1) * u->Dc; d++)
                dst[d] += rs->score[k * u->h + c] * common_dtype_at(u->dtype, u->values, value + d);
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

const uint32_t *ultramem_ref_select(struct ultramem *u, const float *x, int exact)
{
    ref_token(u, x, exact);
    return u->ref.vidx;
}
