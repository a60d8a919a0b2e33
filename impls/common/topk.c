/* topk.c - the k largest entries of a vector, with deterministic ties, two
 * ways. The order is total everywhere: larger value first, then smaller
 * index (position) first.
 *
 * common_topk, a size-k min-heap keyed on (value, -index), costs O(n log k)
 * and returns the k sorted; for random scores almost every entry is
 * rejected by one compare with the heap root. MoE routing uses it (k <= 8
 * of E experts).
 *
 * The threshold selection (common_topk_candidates, common_topk_set) serves
 * the memory layers' top-k (research/ultramem_pkm.md section 7 item 4):
 * PKM's per-half and candidate selections (33 of 512, 33 of 123 at the xlm
 * preset) and UltraMem's three per (token, head) (80 of 1616, 80 of up to
 * 12800). A heap spends most of its time in mispredicted sift-downs when
 * k/n is not tiny, and sorts the result, which neither needs. Instead:
 *   1. map the floats to order-preserving integer keys and search a key
 *      threshold t until k <= #{key >= t} <= k + slack; each probe is one
 *      count, a loop the compiler vectorises, and interpolating the counts
 *      needs only a few probes;
 *   2. compact the positions with key >= t (AVX-512 compress where the
 *      compiler targets it, branch-free scalar otherwise): the candidates,
 *      which PKM places by its own order;
 *   3. (common_topk_set) among those few, find the exact k-th largest key
 *      the same way and keep everything above it, then its ties in
 *      position order.
 * Exact: every one of the true top k is >= the k-th largest value >= t, so
 * all are candidates, and step 3 ranks by (value desc, position asc) like
 * common_topk, so ties resolve the same way. No heap, no sort: the
 * selected set comes out in ascending position order.
 */
#include "common.h"

#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

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

/* ---- the threshold selection ---- */

/* Order-preserving map from floats to uint32 (larger float, larger key;
 * -0 and +0 share a key, as they compare equal). */
static inline uint32_t float_key(float x)
{
    uint32_t b;
    x += 0.0f; /* -0 becomes +0 */
    memcpy(&b, &x, sizeof(b));
    return b & 0x80000000u ? ~b : b | 0x80000000u;
}

/* keys[i] = float_key(v[i]); returns the smallest and largest key. */
static void make_keys(const float *restrict v, size_t n, uint32_t *restrict keys, uint32_t *kmin,
                      uint32_t *kmax)
{
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = float_key(v[i]);
        keys[i] = k;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    *kmin = lo;
    *kmax = hi;
}

static uint32_t count_at_least(const uint32_t *restrict keys, size_t n, uint32_t t)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += keys[i] >= t;
    return c;
}

/* A key threshold t with #{keys >= t} >= k, at most k + slack when the
 * values allow. Invariant: count(lo) >= k > count(hi). The next probe
 * interpolates the counts linearly (scores are smooth, so this homes in
 * within a few steps) but stays in the middle 7/8 of the bracket, so the
 * bracket shrinks geometrically whatever the values are. */
static uint32_t find_threshold(const uint32_t *keys, size_t n, size_t k, size_t slack,
                               uint32_t kmin, uint32_t kmax)
{
    uint64_t lo = kmin, hi = (uint64_t)kmax + 1;
    uint64_t clo = n, chi = 0, target = k + slack / 2;
    while (hi - lo > 1) {
        uint64_t w = hi - lo, guard = w / 16;
        uint64_t mid = lo + (uint64_t)((double)w * (double)(clo - target) / (double)(clo - chi));
        if (mid < lo + guard || mid <= lo)
            mid = lo + (guard ? guard : 1);
        if (mid > hi - guard - 1)
            mid = hi - guard - 1 > lo ? hi - guard - 1 : lo + 1;
        uint64_t c = count_at_least(keys, n, (uint32_t)mid);
        if (c >= k) {
            lo = mid;
            clo = c;
            if (c <= k + slack)
                break;
        } else {
            hi = mid;
            chi = c;
        }
    }
    return (uint32_t)lo;
}

/* pos[0..c) = the positions with keys >= t, ascending; returns c. pos needs
 * n + 16 entries. */
static size_t compact(const uint32_t *keys, size_t n, uint32_t t, uint32_t *pos)
{
    size_t c = 0, i = 0;
#ifdef __AVX512F__
    const __m512i step = _mm512_set1_epi32(16), tv = _mm512_set1_epi32((int)(t ^ 0x80000000u));
    const __m512i flip = _mm512_set1_epi32((int)0x80000000u);
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; i + 16 <= n; i += 16) {
        /* unsigned >= as a signed compare of the sign-flipped keys */
        __m512i kv = _mm512_xor_si512(_mm512_loadu_si512(keys + i), flip);
        __mmask16 m = _mm512_cmpge_epi32_mask(kv, tv);
        _mm512_storeu_si512(pos + c, _mm512_maskz_compress_epi32(m, idx));
        c += (size_t)__builtin_popcount(m);
        idx = _mm512_add_epi32(idx, step);
    }
#endif
    for (; i < n; i++) {
        pos[c] = (uint32_t)i;
        c += keys[i] >= t;
    }
    return c;
}

/* Keep in pos[0..k) the k best of the c survivors pos[0..c) (ascending
 * positions, keys sk[0..c)): all above the exact k-th largest key, then the
 * ties at it in position order. */
static void resolve_survivors(const uint32_t *sk, uint32_t *pos, size_t c, size_t k)
{
    uint32_t kmin = UINT32_MAX, kmax = 0;
    for (size_t j = 0; j < c; j++) {
        kmin = sk[j] < kmin ? sk[j] : kmin;
        kmax = sk[j] > kmax ? sk[j] : kmax;
    }
    uint32_t t = find_threshold(sk, c, k, 0, kmin, kmax);
    size_t ties = k - (t == UINT32_MAX ? 0 : count_at_least(sk, c, t + 1)), out = 0;
    for (size_t j = 0; j < c; j++) {
        if (sk[j] > t || (sk[j] == t && ties && ties--))
            pos[out++] = pos[j];
    }
}

size_t common_topk_candidates(const float *v, size_t n, size_t k, size_t slack, uint32_t *pos,
                              uint32_t *keys)
{
    uint32_t kmin, kmax;
    make_keys(v, n, keys, &kmin, &kmax);
    if (k >= n) {
        for (size_t i = 0; i < n; i++)
            pos[i] = (uint32_t)i;
        return n;
    }
    return compact(keys, n, find_threshold(keys, n, k, slack, kmin, kmax), pos);
}

void common_topk_set(const float *v, size_t n, size_t k, uint32_t *pos, uint32_t *keys)
{
    if (k >= n) {
        for (size_t i = 0; i < n; i++)
            pos[i] = (uint32_t)i;
        return;
    }
    size_t c = common_topk_candidates(v, n, k, k / 4 > 8 ? k / 4 : 8, pos, keys);
    if (c == k)
        return;
    /* In place: pos[j] >= j, so keys[pos[j]] is still unread when keys[j] is written. */
    for (size_t j = 0; j < c; j++)
        keys[j] = keys[pos[j]];
    resolve_survivors(keys, pos, c, k);
}
