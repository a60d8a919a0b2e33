/* pkm_select.c - PKM's exact product top-k and the softmax over the winners
 * (Lample et al. 2019 section 3.1; research/ultramem_pkm.md section 3.1).
 *
 * The top-k over all n^2 keys (c_i, c'_j) lies inside I1 x I2, the per-half
 * top-k sets: each pair with a row outside I1 is beaten by the k pairs (i', j)
 * with i' in I1 (pkm_select.h explains the order that keeps this true in fp32).
 * Inside the k x k grid, sorted by rank a in I1 and b in I2, a pair (a, b)
 * is beaten by every (a', b') with a' <= a, b' <= b, so only the pairs with
 * (a + 1)(b + 1) <= k can win: sum over a = 1..k of floor(k / a) of them,
 * 119 of the 1024 at k = 32 (123 at k = 33, what forward selects: pkm.h, "Near ties").
 * XLM forms all k^2 sums; the answer is the same.
 *
 * Selection is branch-free where the data is random: a heap or an insertion
 * sort mispredicts a branch on most steps (common_topk takes ~9 us for 32 of
 * 260 here). Instead the k-th largest score is found by bisection on the
 * scores' ordered integer images (32 vectorised counting passes), the
 * winners are those above it (plus the best of those equal to it), and
 * each winner's place is the number of winners that beat it.
 */
#include "pkm_select.h"

#include <math.h>
#include <string.h>

#define PICK_SLACK 8  /* collect at most k + this many candidates to place */
#define PAD        16 /* floats per vector the placing loop is padded to */

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

/* Place = number of winners with a larger score, plus, on an equal score,
 * those that beat it on the rest of the order; only places < k are kept.
 * The counts run over b for 16 winners a at once (no horizontal sums); ws
 * is padded to whole vectors with -inf, which counts for nobody. */
static void place(const struct pkm_cands *c, const uint32_t *win, float *ws, size_t m, size_t k,
                  const struct pkm_select_scratch *sc, struct pkm_pick *out)
{
    uint32_t *above = sc->above, *equal = sc->equal;
    size_t padded = (m + PAD - 1) / PAD * PAD;
    for (size_t a = m; a < padded; a++)
        ws[a] = -INFINITY;
    for (size_t a = 0; a < padded; a++)
        above[a] = equal[a] = 0;
    for (size_t b = 0; b < m; b++) {
        float sb = ws[b];
        for (size_t a = 0; a < padded; a++) {
            above[a] += sb > ws[a];
            equal[a] += sb == ws[a];
        }
    }
    for (size_t a = 0; a < m; a++) {
        struct pkm_pick pa = pick_at(c, win[a]);
        if (equal[a] > 1) {
            for (size_t b = 0; b < m; b++) {
                struct pkm_pick pb = pick_at(c, win[b]);
                above[a] += ws[b] == ws[a] && pkm_ranks_below(&pa, &pb);
            }
        }
        if (above[a] < k)
            out[above[a]] = pa;
    }
}

/* Exact for any input, however many ties: the k-th largest score by
 * bisection on the ordered integer keys, then the ties at it. */
static void best_k_exact(const struct pkm_cands *c, size_t m, size_t k,
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
    for (size_t i = 0; i < k; i++)
        sc->ws[i] = c->score[win[i]];
    place(c, win, sc->ws, k, k, sc, out);
}

static uint32_t count_at_least(const float *v, size_t m, float t)
{
    uint32_t n = 0;
    for (size_t i = 0; i < m; i++)
        n += v[i] >= t;
    return n;
}

/* The best k of the m candidates c, best first, into out. A threshold with
 * between k and k + PICK_SLACK candidates at or above it is found by bisecting
 * the score range (a few passes for spread-out scores), those candidates are
 * collected and placed among themselves. Heavy ties leave too many: then the
 * exact path. */
static void best_k(const struct pkm_cands *c, size_t m, size_t k,
                   const struct pkm_select_scratch *sc, struct pkm_pick *out)
{
    const float *v = c->score;
    size_t limit = k + PICK_SLACK;
    float lo = v[0], hi = v[0];
    for (size_t i = 1; i < m; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    size_t at_lo = m;
    while (at_lo > limit) { /* invariant: #{v >= lo} = at_lo >= k > #{v >= hi} or hi = max */
        float mid = lo + 0.5f * (hi - lo);
        if (!(mid > lo && mid < hi))
            break;
        uint32_t n = count_at_least(v, m, mid);
        if (n >= k) {
            lo = mid;
            at_lo = n;
        } else {
            hi = mid;
        }
    }
    if (at_lo > limit) {
        best_k_exact(c, m, k, sc, out);
        return;
    }
    uint32_t *win = sc->tie;
    size_t n = 0;
    for (size_t i = 0; i < m; i++) {
        win[n] = (uint32_t)i;
        n += v[i] >= lo;
    }
    for (size_t i = 0; i < n; i++)
        sc->ws[i] = v[win[i]];
    place(c, win, sc->ws, n, k, sc, out);
}

void pkm_select_layout(struct pkm_select_scratch *sc, size_t n, size_t k, struct common_carve *c)
{
    size_t M = pkm_candidate_count(k, n), wide = n > M ? n : M, kh = k < n ? k : n;
    sc->half = common_carve(c, 2 * kh, sizeof(struct pkm_pick));
    sc->key = common_carve(c, wide, sizeof(int32_t));
    sc->ws = common_carve(c, wide + PAD, sizeof(float));
    sc->above = common_carve(c, wide + PAD, sizeof(uint32_t));
    sc->equal = common_carve(c, wide + PAD, sizeof(uint32_t));
    sc->tie = common_carve(c, wide, sizeof(uint32_t));
    sc->win = common_carve(c, k, sizeof(uint32_t));
    sc->gidx = common_carve(c, M, sizeof(uint32_t));
    sc->gs = common_carve(c, M, sizeof(float));
    sc->gs1 = common_carve(c, M, sizeof(float));
    sc->gs2 = common_carve(c, M, sizeof(float));
}

size_t pkm_candidate_count(size_t k, size_t n)
{
    size_t m = 0;
    for (size_t a = 1; a <= k && a <= n; a++)
        m += k / a < n ? k / a : n;
    return m;
}

void pkm_select_head(const float *s1, const float *s2, size_t n, size_t k,
                     const struct pkm_select_scratch *sc, struct pkm_pick *out)
{
    size_t kh = k < n ? k : n; /* K may exceed n when it is n + 1 (pkm.h, "Near ties") */
    struct pkm_pick *h1 = sc->half, *h2 = sc->half + kh;
    /* Per half, the order reduces to score, then index: pass the scores as
     * their own s1 and s2 so ties fall through to the index. */
    struct pkm_cands c1 = {s1, s1, s1, NULL}, c2 = {s2, s2, s2, NULL};
    best_k(&c1, n, kh, sc, h1);
    best_k(&c2, n, kh, sc, h2);

    size_t m = 0;
    for (size_t a = 0; a < kh; a++) {
        for (size_t b = 0; b < kh && (a + 1) * (b + 1) <= k; b++, m++) {
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
