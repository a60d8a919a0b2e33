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
 * 260 here). Instead the threshold search UltraMem uses too
 * (common_topk_candidates: vectorised counts over the scores' ordered
 * integer images) collects a few more candidates than k, and each one's
 * place is the number of candidates that beat it in the order above. Every
 * step is exact, so the picks are the brute force's whatever the scores.
 */
#include "pkm_select.h"

#include <math.h>
#include <string.h>

#define PICK_SLACK 8  /* collect at most k + this many candidates to place */
#define PAD        16 /* floats per vector the placing loop is padded to (and the compaction's) */

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

/* Heavy ties: more than k + PICK_SLACK candidates, all at or above a
 * threshold that is then exactly the k-th largest key (common.h). The
 * winners are those above it, then the best of those at it by the rest of
 * the order. surv[0..m) are the candidates, key[] the keys of all scores. */
static void best_k_tied(const struct pkm_cands *c, const uint32_t *key, uint32_t *surv, size_t m,
                        size_t k, const struct pkm_select_scratch *sc, struct pkm_pick *out)
{
    uint32_t *win = sc->win, *tie = surv, kth = UINT32_MAX;
    for (size_t j = 0; j < m; j++)
        kth = key[surv[j]] < kth ? key[surv[j]] : kth;
    size_t n_win = 0, n_tie = 0;
    for (size_t j = 0; j < m; j++) { /* in place: n_tie <= j */
        uint32_t i = surv[j];
        if (key[i] > kth)
            win[n_win++] = i;
        else
            tie[n_tie++] = i;
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

/* The best k of the m candidates c, best first, into out: the shared
 * threshold search collects between k and k + PICK_SLACK candidates
 * (common_topk_candidates), which are placed among themselves by the full
 * order. Heavy ties leave too many: then best_k_tied. */
static void best_k(const struct pkm_cands *c, size_t m, size_t k,
                   const struct pkm_select_scratch *sc, struct pkm_pick *out)
{
    uint32_t *surv = sc->tie;
    size_t n = common_topk_candidates(c->score, m, k, PICK_SLACK, surv, sc->key);
    if (n > k + PICK_SLACK) {
        best_k_tied(c, sc->key, surv, n, k, sc, out);
        return;
    }
    for (size_t i = 0; i < n; i++)
        sc->ws[i] = c->score[surv[i]];
    place(c, surv, sc->ws, n, k, sc, out);
}

void pkm_select_layout(struct pkm_select_scratch *sc, size_t n, size_t k, struct common_carve *c)
{
    size_t M = pkm_candidate_count(k, n), wide = n > M ? n : M, kh = k < n ? k : n;
    sc->half = common_carve(c, 2 * kh, sizeof(struct pkm_pick));
    sc->key = common_carve(c, wide, sizeof(uint32_t));
    sc->ws = common_carve(c, wide + PAD, sizeof(float));
    sc->above = common_carve(c, wide + PAD, sizeof(uint32_t));
    sc->equal = common_carve(c, wide + PAD, sizeof(uint32_t));
    sc->tie = common_carve(c, wide + PAD, sizeof(uint32_t));
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
