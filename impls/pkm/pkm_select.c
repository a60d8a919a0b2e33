/* pkm_select.c - PKM's exact product top-k and the softmax over the winners
 * (Lample et al. 2019 section 3.1; research/ultramem_pkm.md section 3.1).
 *
 * The top-k over all n^2 keys (c_i, c'_j) lies inside I1 x I2, the per-half
 * top-k sets: each pair with a row outside I1 is beaten by the k pairs (i', j)
 * with i' in I1 (pkm.h explains the order that keeps this true in fp32).
 * Inside the k x k grid, sorted by rank a in I1 and b in I2, a pair (a, b)
 * is beaten by every (a', b') with a' <= a, b' <= b, so only the pairs with
 * (a + 1)(b + 1) <= k can win: sum over a = 1..k of floor(k / a) of them,
 * 119 of the 1024 at k = 32. XLM forms all k^2 sums; the answer is the same.
 *
 * Selection is branch-free where the data is random: a heap or an insertion
 * sort mispredicts a branch on most steps (common_topk takes ~9 us for 32 of
 * 260 here). Instead the k-th largest score is found by bisection on the
 * scores' ordered integer images (32 vectorised counting passes), the
 * winners are those above it (plus the best of those equal to it), and
 * each winner's place is the number of winners that beat it.
 */
#include "pkm.h"

#include <math.h>
#include <string.h>

/* An integer that orders like the float (NaN excluded); -0 is folded onto +0
 * so that equal floats get equal keys. */
static inline int32_t float_key(float f)
{
    int32_t b;
    f += 0.0f;
    memcpy(&b, &f, sizeof(b));
    return b ^ (int32_t)((uint32_t)(b >> 31) >> 1);
}

/* The k-th largest of key[0..m): the largest t with #{key >= t} >= k. */
static int32_t kth_largest(const int32_t *key, size_t m, size_t k)
{
    int32_t lo = key[0], hi = key[0];
    for (size_t i = 1; i < m; i++) {
        lo = key[i] < lo ? key[i] : lo;
        hi = key[i] > hi ? key[i] : hi;
    }
    while (lo < hi) {
        int32_t mid = (int32_t)(((int64_t)lo + (int64_t)hi + 1) >> 1);
        uint32_t c = 0;
        for (size_t i = 0; i < m; i++)
            c += key[i] >= mid;
        if (c >= k)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static inline struct pkm_pick pick_at(const struct pkm_cands *c, uint32_t i)
{
    return (struct pkm_pick){c->score[i], c->s1[i], c->s2[i], c->idx ? c->idx[i] : i};
}

/* The best k of the m candidates c, best first, into out. */
static void best_k(const struct pkm_cands *c, size_t m, size_t k,
                   const struct pkm_select_scratch *sc, struct pkm_pick *out)
{
    int32_t *key = sc->key;
    uint32_t *win = sc->win, *tie = sc->tie;
    for (size_t i = 0; i < m; i++)
        key[i] = float_key(c->score[i]);
    int32_t kth = kth_largest(key, m, k);

    size_t n_win = 0, n_tie = 0;
    for (size_t i = 0; i < m; i++) {
        win[n_win] = tie[n_tie] = (uint32_t)i;
        n_win += key[i] > kth;
        n_tie += key[i] == kth;
    }
    /* Usually one candidate sits at the k-th score; with ties, the rest of
     * the order decides which of them get the last places. */
    for (size_t need = k - n_win; need > 0; need--) {
        size_t best = 0;
        for (size_t t = 1; t < n_tie; t++) {
            struct pkm_pick a = pick_at(c, tie[best]), b = pick_at(c, tie[t]);
            if (pkm_ranks_below(&a, &b))
                best = t;
        }
        win[n_win++] = tie[best];
        tie[best] = tie[--n_tie];
    }

    /* Place = number of winners with a larger score, plus, on an equal
     * score, those that beat it on the rest of the order. */
    for (size_t a = 0; a < k; a++) {
        int32_t ka = key[win[a]];
        uint32_t above = 0, equal = 0;
        for (size_t b = 0; b < k; b++) {
            above += key[win[b]] > ka;
            equal += key[win[b]] == ka;
        }
        struct pkm_pick pa = pick_at(c, win[a]);
        if (equal > 1) {
            for (size_t b = 0; b < k; b++) {
                struct pkm_pick pb = pick_at(c, win[b]);
                above += key[win[b]] == ka && pkm_ranks_below(&pa, &pb);
            }
        }
        out[above] = pa;
    }
}

size_t pkm_candidate_count(size_t k)
{
    size_t m = 0;
    for (size_t a = 1; a <= k; a++)
        m += k / a;
    return m;
}

void pkm_select_head(const float *s1, const float *s2, size_t n, size_t k,
                     const struct pkm_select_scratch *sc, struct pkm_pick *out)
{
    struct pkm_pick *h1 = sc->half, *h2 = sc->half + k;
    /* Per half, the order reduces to score, then index: pass the scores as
     * their own s1 and s2 so ties fall through to the index. */
    struct pkm_cands c1 = {s1, s1, s1, NULL}, c2 = {s2, s2, s2, NULL};
    best_k(&c1, n, k, sc, h1);
    best_k(&c2, n, k, sc, h2);

    size_t m = 0;
    for (size_t a = 0; a < k; a++) {
        for (size_t b = 0; (a + 1) * (b + 1) <= k; b++, m++) {
            sc->gs[m] = h1[a].score + h2[b].score;
            sc->gs1[m] = h1[a].score;
            sc->gs2[m] = h2[b].score;
            sc->gidx[m] = h1[a].idx * (uint32_t)n + h2[b].idx;
        }
    }
    struct pkm_cands g = {sc->gs, sc->gs1, sc->gs2, sc->gidx};
    best_k(&g, m, k, sc, out);
}

void pkm_softmax(const struct pkm_pick *picks, size_t k, float *w)
{
    float top = picks[0].score, total = 0;
    for (size_t i = 0; i < k; i++) {
        w[i] = expf(picks[i].score - top);
        total += w[i];
    }
    float inv = 1.0f / total;
    for (size_t i = 0; i < k; i++)
        w[i] *= inv;
}
