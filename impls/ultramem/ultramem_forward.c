/* ultramem_forward.c - UltraMem v1's optimized forward, the same for both
 * variants (research/ultramem_pkm.md section 1.3), its exact stats, and
 * recall against the filter-free layer.
 *
 * The steps live in their own files: the retrieval (ultramem_score.c over
 * the batch, ultramem_select.c per (token, head)), then the value read and
 * output projection (ultramem_gather.c). recall runs the same retrieval and
 * compares its selections with the exact top-m of the whole grid, which the
 * plain-loop reference computes (ultramem_ref.c).
 */
#include "ultramem.h"

#include <string.h>

/* Distinct units (physical rows, or folded rows) the batch touched. */
static uint64_t count_touched(struct ultramem *u, size_t T)
{
    size_t n = T * u->H * u->m;
    uint64_t count = 0;
    memset(u->touched, 0, (u->n_units + 63) / 64 * sizeof(uint64_t));
    for (size_t k = 0; k < n; k++) {
        uint32_t row = u->hit_row[k];
        uint64_t bit = 1ull << (row & 63);
        if (!(u->touched[row >> 6] & bit)) {
            u->touched[row >> 6] |= bit;
            count++;
        }
    }
    return count;
}

int ultramem_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                     struct layer_stats *st)
{
    struct ultramem *u = (struct ultramem *)l;
    if (n_tokens > u->max_tokens)
        return LAYER_EINVAL;
    memset(st, 0, sizeof(*st));
    st->units_total = u->n_units;
    if (n_tokens == 0)
        return LAYER_OK;

    ultramem_select_batch(u, x, n_tokens);
    ultramem_gather(u, y, n_tokens);
    st->units_touched = count_touched(u, n_tokens);

    /* flops: every multiply-add of the BLAS calls, the rank-1 filter, the
     * candidate and per-core scores, the near-tie bound, near-tie windows and
     * recomputations (u->last_tie_macs) and the gather; LayerNorm and top-k
     * comparisons are not multiply-adds. dense_bytes: the dense block (keys,
     * W_q, the LN weight, the cores and their derived sum, u and v) and W_o.
     * The shuffle entries read per hit (4 bytes each) are an index, not
     * parameters, and are not counted. */
    uint64_t macs = 0;
    for (int k = 0; k < u->threads; k++)
        macs += u->work[k].macs;
    st->flops = 2 * macs;
    size_t es = common_dtype_size(u->dtype); /* the stored tables' element */
    if (u->merged) {
        st->dense_bytes = u->dense_bytes;
        st->sparse_bytes = st->units_touched * u->h * u->D * es;
    } else {
        st->dense_bytes = u->dense_bytes + u->D * u->E * u->Dv * sizeof(float);
        st->sparse_bytes = st->units_touched * u->Dv * es;
    }
    return LAYER_OK;
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
        const uint32_t *exact = ultramem_ref_select(u, x + t * u->D, 1);
        for (size_t hd = 0; hd < u->H; hd++) {
            const uint32_t *got = u->sel + t * hm + hd * u->m, *want = exact + hd * u->m;
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
