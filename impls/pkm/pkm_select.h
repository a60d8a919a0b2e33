/* pkm_select.h - PKM's exact product top-k and the softmax over the winners
 * (pkm_select.c), the seam between the selection and the layer: nothing
 * here knows struct pkm. pkm.h includes it; tests/check_pkm.c tests it
 * alone against the brute force of pkm_ref.c.
 *
 * ---- The ranking order (both paths, and the reason for it) ----
 * Keys are ranked by score = s1_i + s2_j (an fp32 add) descending; an exact
 * tie of that sum goes to the larger s1_i, then the larger s2_j, then the
 * smaller index i*n + j. The two middle keys only ever matter when two fp32
 * sums round to the same float. They make the product argument hold in
 * floating point: with score first and index second only, s1_i' > s1_i could
 * round to an equal sum and the pair (i', j) lose on its larger index, so a
 * row outside the per-half top-k could enter the answer and the fast path
 * would no longer equal the brute force.
 */
#ifndef SPARSEBENCH_PKM_SELECT_H
#define SPARSEBENCH_PKM_SELECT_H

#include "../common/common.h"

#include <stddef.h>
#include <stdint.h>

/* One (token, head) selection record: score and index of the k winners. */
struct pkm_pick {
    float score; /* s1_i + s2_j */
    float s1, s2;
    uint32_t idx; /* i * n + j */
};

/* 1 when pick a ranks below pick b in the order above. */
static inline int pkm_ranks_below(const struct pkm_pick *a, const struct pkm_pick *b)
{
    if (a->score != b->score)
        return a->score < b->score;
    if (a->s1 != b->s1)
        return a->s1 < b->s1;
    if (a->s2 != b->s2)
        return a->s2 < b->s2;
    return a->idx > b->idx;
}

/* A list of m candidates, structure of arrays; idx NULL means idx[i] = i. */
struct pkm_cands {
    const float *score, *s1, *s2;
    const uint32_t *idx;
};

/* Scratch of pkm_select_head for up to K keys of n per half; M =
 * pkm_candidate_count(K, n). */
struct pkm_select_scratch {
    uint32_t *key;           /* (max(n, M)) ordered integer images of scores */
    uint32_t *win, *tie;     /* (K), (max(n, M) + 16) candidate numbers */
    float *ws;               /* (max(n, M) + 16) scores of the collected candidates */
    uint32_t *above, *equal; /* (max(n, M) + 16) their places */
    struct pkm_pick *half;   /* (2, min(K, n)) the per-half top-k, best first */
    float *gs, *gs1, *gs2;   /* (M) each: the candidate grid */
    uint32_t *gidx;          /* (M) */
};

/* Lay out (common_carve: size, then carve) the scratch of pkm_select_head
 * for the top k of n sub-keys per half. */
void pkm_select_layout(struct pkm_select_scratch *sc, size_t n, size_t k, struct common_carve *c);

/* Candidate sums pkm_select_head forms for the top K with n sub-keys per
 * half: the pairs of per-half ranks (a, b), counted from 1, a, b <= n,
 * a b <= K. */
size_t pkm_candidate_count(size_t k, size_t n);

/* The top K keys (K <= n^2) of one head from its per-half scores s1 (n) and
 * s2 (n), in the order above, best first, into out (K). */
void pkm_select_head(const float *s1, const float *s2, size_t n, size_t k,
                     const struct pkm_select_scratch *sc, struct pkm_pick *out);

/* w (K) = softmax over the K scores of picks (sorted, best first). */
void pkm_softmax(const struct pkm_pick *picks, size_t k, float *w);

#endif
