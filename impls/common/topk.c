/* topk.c - the k largest entries of a vector, with deterministic ties.
 *
 * Used for MoE routing (k <= 8 of E), PKM's per-half and candidate top-k
 * (32 of 512, 32 of 1024) and UltraMem's top-m (80 of 1616, 80 of 6400).
 * A size-k min-heap keyed on (value, -index) costs O(n log k); for random
 * scores almost every entry is rejected by one compare with the heap root.
 * The order is total: larger value first, then smaller index first.
 */
#include "common.h"

/* a ranks below b: smaller value, or equal value and larger index. */
static inline int ranks_below(float va, uint32_t ia, float vb, uint32_t ib)
{
    return va < vb || (va == vb && ia > ib);
}

static void sift_down(float *val, uint32_t *idx, size_t k, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && ranks_below(val[l], idx[l], val[m], idx[m]))
            m = l;
        if (r < k && ranks_below(val[r], idx[r], val[m], idx[m]))
            m = r;
        if (m == i)
            return;
        float tv = val[i];
        uint32_t ti = idx[i];
        val[i] = val[m];
        idx[i] = idx[m];
        val[m] = tv;
        idx[m] = ti;
        i = m;
    }
}

void common_topk(const float *v, size_t n, size_t k, float *out_val, uint32_t *out_idx)
{
    /* Heap of the best k so far, worst at the root. */
    for (size_t i = 0; i < k; i++) {
        out_val[i] = v[i];
        out_idx[i] = (uint32_t)i;
    }
    for (size_t i = k / 2; i-- > 0;)
        sift_down(out_val, out_idx, k, i);
    for (size_t i = k; i < n; i++) {
        /* Later indices lose ties, so only a strictly larger value enters. */
        if (v[i] > out_val[0]) {
            out_val[0] = v[i];
            out_idx[0] = (uint32_t)i;
            sift_down(out_val, out_idx, k, 0);
        }
    }
    /* Heapsort in place: repeatedly move the worst to the back. */
    for (size_t end = k; end > 1; end--) {
        float tv = out_val[0];
        uint32_t ti = out_idx[0];
        out_val[0] = out_val[end - 1];
        out_idx[0] = out_idx[end - 1];
        out_val[end - 1] = tv;
        out_idx[end - 1] = ti;
        sift_down(out_val, out_idx, end - 1, 0);
    }
}
