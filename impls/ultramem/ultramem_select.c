/* ultramem_select.c - UltraMem v1's retrieval, optimized, per (token, head):
 * the rank-1 filter, multi-core candidate scoring and the top-m
 * (research/ultramem_pkm.md section 1.3 steps 3-6, section 1.9), and the
 * near-tie guard that keeps its choices equal to forward_ref's (ultramem.h,
 * "Near ties").
 *
 *   a = S_row u, b = S_col v; rows = top-ms(a), columns = top-ms(b)
 *   (filter=signed: also the bottom-ms); each kept pair's total score
 *   S_row[i]^T (sum_c C_c) S_col[j], r multiply-adds per pair since
 *   w_i = S_row[i]^T C_sum is formed once per row; top-m of the totals;
 *   then each core's own score, only for the m winners.
 * Kept rows and columns are enumerated in ascending index order, so the
 * candidate position order is the virtual-index order and the top-k's
 * tie-break (lower position first) is the reference's (lower index first).
 *
 * Each selection takes one more than it keeps, so the last kept and the
 * first left out are known. The keys whose rank-1 score lies within the
 * margin of a row or column boundary (its window) are the only ones whose
 * status forward_ref could see differently; if none of their pairs comes
 * within the total margin of the m-th total, whatever forward_ref keeps
 * there cannot change its top-m, and nothing is redone. A head is redone
 * when the m-th total leads the (m+1)-th by at most the margin, or a window
 * reaches that far: its query with the reference's functions
 * (ultramem_exact.c), then the exact key scores of only the keys that matter
 * (those in a reaching window, then those of the candidates within the
 * margin of the m-th total, a superset of forward_ref's top-m), their exact
 * totals and the top-m among them; if the reaching windows change the kept
 * rows or columns, the exact totals of every kept pair instead.
 */
#include "ultramem.h"

#include <math.h>
#include <string.h>

/* Near-tie margins relative to the bounds (ultramem.h, "Near ties"). */
#define TIE_MARGIN_RANK1 0x1p-18f
#define TIE_MARGIN_TOTAL 0x1p-20f

/* One selection's boundary: the k-th best value (the last kept) and the
 * (k+1)-th (the first left out); cut = 0 when all were kept. */
struct boundary {
    float kth, next;
    int cut;
};

/* A kept set of rows or columns, ascending. */
struct kept_set {
    uint32_t *idx; /* (2 ms) */
    uint8_t *flag; /* (2 ms) bit 0: kept as a top key, bit 1: as a bottom one */
    size_t n;
};

/* One side (rows or columns) of a (token, head). */
struct side {
    int id;                /* 0 rows, 1 columns */
    float *s;              /* (np, r) key scores; the exact path rewrites some in place */
    float *v;              /* (np) fast rank-1 scores */
    const float *dir;      /* (r) u or v */
    const float *bound;    /* (r) the total bound's weights h or g */
    uint8_t *mark;         /* (np) zeroed scratch */
    uint8_t *exact;        /* (np) 1 where s holds the reference's key scores */
    struct kept_set set;   /* the kept keys */
    struct boundary bd[2]; /* of the top-ms of v, and (signed filter) of -v */
    float margin;          /* TIE_MARGIN_RANK1 x bound_rank1 */
    float reach;           /* largest fast total of a pair of a window key */
};

/* ---- the three selections ---- */

/* out[i] = s[i][.] . dir, for the np keys of one side. */
static void rank1_scores(const float *s /* (np, r) */, const float *dir /* (r) */, size_t np,
                         size_t r, float *out /* (np) */)
{
    if (r == 2) { /* the default; lets the compiler vectorise */
        float d0 = dir[0], d1 = dir[1];
        for (size_t i = 0; i < np; i++)
            out[i] = s[2 * i] * d0 + s[2 * i + 1] * d1;
        return;
    }
    for (size_t i = 0; i < np; i++) {
        float acc = 0;
        for (size_t k = 0; k < r; k++)
            acc += s[i * r + k] * dir[k];
        out[i] = acc;
    }
}

/* The best k of v[0..n) into w->surv_pos[0..k), ascending. With k < n it
 * selects k + 1 and drops the worst of them (smallest value, then largest
 * position: the (k+1)-th in the ranking), so the boundary is known. */
static struct boundary best_k(struct ultramem_work *w, const float *v, size_t n, size_t k)
{
    uint32_t *pos = w->surv_pos;
    if (k >= n) {
        common_topk_set(v, n, k, pos, w->surv_key);
        return (struct boundary){0, 0, 0};
    }
    common_topk_set(v, n, k + 1, pos, w->surv_key);
    size_t worst = 0;
    float next = v[pos[0]], kth = INFINITY;
    for (size_t j = 1; j <= k; j++) {
        float x = v[pos[j]];
        if (x <= next) { /* on a tie the larger position ranks lower */
            kth = next;
            next = x;
            worst = j;
        } else if (x < kth) {
            kth = x;
        }
    }
    memmove(pos + worst, pos + worst + 1, (k - worst) * sizeof(*pos));
    return (struct boundary){kth, next, 1};
}

/* Keep the top-ms of sd->v (and, for the signed filter, the bottom-ms) in
 * sd->set and note the boundaries. */
static void keep_side(const struct ultramem *u, struct ultramem_work *w, struct side *sd)
{
    size_t nk = 0;
    sd->bd[0] = best_k(w, sd->v, u->np, u->ms);
    for (size_t k = 0; k < u->ms; k++)
        sd->mark[w->surv_pos[k]] |= 1;
    sd->bd[1] = (struct boundary){0, 0, 0};
    if (u->signed_filter) {
        for (size_t i = 0; i < u->np; i++)
            w->neg[i] = -sd->v[i];
        sd->bd[1] = best_k(w, w->neg, u->np, u->ms);
        for (size_t k = 0; k < u->ms; k++)
            sd->mark[w->surv_pos[k]] |= 2;
    }
    for (size_t i = 0; i < u->np; i++) {
        if (sd->mark[i]) {
            sd->set.idx[nk] = (uint32_t)i;
            sd->set.flag[nk++] = sd->mark[i];
            sd->mark[i] = 0;
        }
    }
    sd->set.n = nk;
}

/* Total score of every kept pair into w->cand_val (and, for the signed
 * filter, w->cand_vidx), row-major over (rows, cols); returns how many.
 * *bound: how far a total can move per unit of the key scores' relative
 * error (ultramem.h, "Near ties"), the largest sum_x |S_row[i][x]| h_x over
 * the kept rows plus the largest sum_y |S_col[j][y]| g_y over the kept
 * columns. */
static size_t score_candidates(const struct ultramem *u, struct ultramem_work *w, size_t hd,
                               const struct side *rs, const struct side *cs, float bound[2],
                               uint64_t *macs)
{
    size_t r = u->r, n = 0, nr = rs->set.n, nc = cs->set.n;
    const float *csum = u->core_sum + hd * r * r;
    bound[0] = bound[1] = 0;
    for (size_t y = 0; y < r; y++)
        for (size_t k = 0; k < nc; k++)
            w->col_score[y * nc + k] = cs->s[cs->set.idx[k] * r + y];
    for (size_t k = 0; k < nc; k++) {
        float b = 0;
        for (size_t y = 0; y < r; y++)
            b += fabsf(w->col_score[y * nc + k]) * cs->bound[y];
        bound[1] = b > bound[1] ? b : bound[1];
    }
    for (size_t kr = 0; kr < nr; kr++) {
        const float *si = rs->s + rs->set.idx[kr] * r;
        float wsum[ULTRAMEM_MAX_RANK], b = 0;
        for (size_t y = 0; y < r; y++) {
            wsum[y] = 0;
            for (size_t x = 0; x < r; x++)
                wsum[y] += si[x] * csum[x * r + y];
            b += fabsf(si[y]) * rs->bound[y];
        }
        bound[0] = b > bound[0] ? b : bound[0];
        float *dst = u->signed_filter ? w->row_buf : w->cand_val + n;
        for (size_t k = 0; k < nc; k++)
            dst[k] = wsum[0] * w->col_score[k];
        for (size_t y = 1; y < r; y++)
            for (size_t k = 0; k < nc; k++)
                dst[k] += wsum[y] * w->col_score[y * nc + k];
        if (!u->signed_filter) {
            n += nc;
            continue;
        }
        uint32_t base = rs->set.idx[kr] * (uint32_t)u->np;
        for (size_t k = 0; k < nc; k++) {
            if (rs->set.flag[kr] & cs->set.flag[k]) {
                w->cand_val[n] = dst[k];
                w->cand_vidx[n++] = base + cs->set.idx[k];
            }
        }
    }
    *macs += nr * r * r + nr * nc * r + (nr + nc) * r;
    return n;
}

/* ---- near ties: which keys are in doubt, and how far they reach ---- */

static int ambiguous(const struct boundary *bd, float margin)
{
    return bd->cut && bd->kth - bd->next <= margin;
}

/* Whether x lies in the window of boundary bd: within the margin of both
 * the last kept and the first left out, so forward_ref may rank it on
 * either side. */
static int in_window(float x, const struct boundary *bd, float margin)
{
    return x >= bd->kth - margin && x <= bd->next + margin;
}

/* Whether a window of sd has a pair that reaches the m-th total's floor. */
static int reaches(const struct side *sd, float floor)
{
    return sd->reach != -INFINITY && sd->reach >= floor;
}

/* The keys of sd whose status forward_ref could see differently (its
 * windows), ascending, into list; returns how many. */
static size_t window_keys(const struct ultramem *u, const struct side *sd, uint32_t *list)
{
    size_t n = 0;
    int top = ambiguous(&sd->bd[0], sd->margin), bottom = ambiguous(&sd->bd[1], sd->margin);
    if (!top && !bottom)
        return 0;
    for (size_t i = 0; i < u->np; i++) {
        list[n] = (uint32_t)i;
        n += (top && in_window(sd->v[i], &sd->bd[0], sd->margin)) ||
             (bottom && in_window(-sd->v[i], &sd->bd[1], sd->margin));
    }
    return n;
}

/* Fast total (score_candidates' arithmetic) of row si against column sj. */
static float fast_total(const struct ultramem *u, size_t hd, const float *si, const float *sj)
{
    size_t r = u->r;
    const float *csum = u->core_sum + hd * r * r;
    float wsum[ULTRAMEM_MAX_RANK] = {0}, t;
    for (size_t y = 0; y < r; y++) {
        for (size_t x = 0; x < r; x++)
            wsum[y] += si[x] * csum[x * r + y];
    }
    t = wsum[0] * sj[0];
    for (size_t y = 1; y < r; y++)
        t += wsum[y] * sj[y];
    return t;
}

/* For each side with a window: sd->reach = the largest fast total of a
 * window key against the other side's kept and window keys (-INFINITY
 * without a window), and bound[] raised to cover the window keys. */
static void window_reach(const struct ultramem *u, struct ultramem_work *w, size_t hd,
                         struct side *sd[2], float bound[2], uint64_t *macs)
{
    size_t r = u->r, n_win[2];
    uint32_t *win[2] = {w->near_idx, w->near_idx + u->np};
    for (int k = 0; k < 2; k++) {
        n_win[k] = window_keys(u, sd[k], win[k]);
        sd[k]->reach = -INFINITY;
        for (size_t p = 0; p < n_win[k]; p++) {
            float b = 0;
            for (size_t y = 0; y < r; y++)
                b += fabsf(sd[k]->s[win[k][p] * r + y]) * sd[k]->bound[y];
            bound[k] = b > bound[k] ? b : bound[k];
        }
        *macs += n_win[k] * r;
    }
    for (int k = 0; k < 2; k++) {
        const struct side *mine = sd[k], *other = sd[1 - k];
        for (size_t p = 0; p < n_win[k]; p++) {
            size_t n_other = other->set.n + n_win[1 - k];
            for (size_t q = 0; q < n_other; q++) {
                uint32_t j = q < other->set.n ? other->set.idx[q] : win[1 - k][q - other->set.n];
                const float *si = (k ? other : mine)->s + (k ? j : win[k][p]) * r;
                const float *sj = (k ? mine : other)->s + (k ? win[k][p] : j) * r;
                float t = fast_total(u, hd, si, sj);
                sd[k]->reach = t > sd[k]->reach ? t : sd[k]->reach;
            }
            *macs += n_other * (r * r + r);
        }
    }
}

/* ---- near ties: the exact path ---- */

/* Note key i of sd for make_exact unless it has the reference's key scores
 * already. */
static void want_exact(struct side *sd, uint32_t i, uint32_t *todo, size_t *n)
{
    todo[*n] = i;
    *n += !sd->exact[i];
    sd->exact[i] = 1;
}

/* Give the noted keys todo[0..n) of sd the reference's key scores. */
static void make_exact(const struct ultramem *u, struct ultramem_work *w, size_t hd,
                       struct side *sd, const uint32_t *todo, size_t n, uint64_t *macs)
{
    ultramem_exact_key_scores(u, hd, sd->id, w->q_exact + sd->id * u->Dk, todo, n, sd->s);
    *macs += n * u->r * u->Dk;
}

/* Choose sd's kept set again as forward_ref does: the keys outside its
 * windows keep their status, and each window's places go to its best keys
 * by the reference's rank-1 scores. Returns 1 when the set changed. */
static int reselect_side(const struct ultramem *u, struct ultramem_work *w, size_t hd,
                         struct side *sd, uint64_t *macs)
{
    uint32_t *win = w->near_idx, *todo = w->near_idx + u->np;
    size_t r = u->r, nk = 0;
    int changed = 0;
    for (size_t k = 0; k < sd->set.n; k++)
        sd->mark[sd->set.idx[k]] = sd->set.flag[k];
    for (int b = 0; b < 2; b++) {
        if (!ambiguous(&sd->bd[b], sd->margin))
            continue;
        float sign = b ? -1 : 1;
        uint8_t bit = (uint8_t)(1 << b);
        size_t n = 0, n_todo = 0, places = 0;
        for (size_t i = 0; i < u->np; i++) {
            win[n] = (uint32_t)i;
            n += in_window(sign * sd->v[i], &sd->bd[b], sd->margin);
        }
        for (size_t k = 0; k < n; k++)
            want_exact(sd, win[k], todo, &n_todo);
        make_exact(u, w, hd, sd, todo, n_todo, macs);
        for (size_t k = 0; k < n; k++) {
            places += (sd->mark[win[k]] & bit) != 0;
            sd->mark[win[k]] &= (uint8_t)~bit;
            w->near_val[k] = sign * ultramem_exact_rank1(u, sd->s + win[k] * r, sd->dir);
        }
        *macs += n * r;
        if (!places) /* the last kept fell outside its own window by a rounding */
            continue;
        common_topk_set(w->near_val, n, places, w->surv_pos, w->surv_key);
        for (size_t k = 0; k < places; k++)
            sd->mark[win[w->surv_pos[k]]] |= bit;
    }
    for (size_t i = 0; i < u->np; i++) {
        if (sd->mark[i]) {
            changed |= nk >= sd->set.n || sd->set.idx[nk] != i || sd->set.flag[nk] != sd->mark[i];
            sd->set.idx[nk] = (uint32_t)i;
            sd->set.flag[nk++] = sd->mark[i];
            sd->mark[i] = 0;
        }
    }
    changed |= nk != sd->set.n;
    sd->set.n = nk;
    return changed;
}

/* The fast candidates p[0..n) with a total >= floor, as indices compacted
 * into w->cand_vidx; returns how many. */
static size_t near_candidates(const struct ultramem *u, struct ultramem_work *w,
                              const struct side *rs, const struct side *cs, size_t n, float floor)
{
    size_t nc = cs->set.n, out = 0;
    for (size_t p = 0; p < n; p++) {
        if (w->cand_val[p] < floor)
            continue;
        w->cand_vidx[out++] = u->signed_filter
                                  ? w->cand_vidx[p]
                                  : rs->set.idx[p / nc] * (uint32_t)u->np + cs->set.idx[p % nc];
    }
    return out;
}

/* Every kept pair's index into w->cand_vidx, row-major; returns how many. */
static size_t all_candidates(const struct ultramem *u, struct ultramem_work *w,
                             const struct side *rs, const struct side *cs)
{
    size_t n = 0;
    for (size_t kr = 0; kr < rs->set.n; kr++) {
        for (size_t k = 0; k < cs->set.n; k++) {
            if (u->signed_filter && !(rs->set.flag[kr] & cs->set.flag[k]))
                continue;
            w->cand_vidx[n++] = rs->set.idx[kr] * (uint32_t)u->np + cs->set.idx[k];
        }
    }
    return n;
}

/* The exact totals of the n candidates in w->cand_vidx into w->cand_val,
 * after giving their rows and columns the reference's key scores. */
static void exact_totals(const struct ultramem *u, struct ultramem_work *w, size_t hd,
                         struct side *rs, struct side *cs, size_t n, uint64_t *macs)
{
    size_t r = u->r, np = u->np;
    uint32_t *todo = w->near_idx;
    for (int k = 0; k < 2; k++) {
        size_t n_todo = 0;
        for (size_t p = 0; p < n; p++)
            want_exact(k ? cs : rs,
                       k ? w->cand_vidx[p] % (uint32_t)np : w->cand_vidx[p] / (uint32_t)np, todo,
                       &n_todo);
        make_exact(u, w, hd, k ? cs : rs, todo, n_todo, macs);
    }
    for (size_t p = 0; p < n; p++) {
        uint32_t vidx = w->cand_vidx[p];
        w->cand_val[p] =
            ultramem_exact_pair_score(u, hd, rs->s + (vidx / np) * r, cs->s + (vidx % np) * r);
    }
    *macs += n * u->h * (r * r + r);
}

/* Redo head hd of token x_t as forward_ref does, from the fast pass's
 * n_fast candidates and the m-th total's floor; the winners' positions end
 * in w->surv_pos[0..m), their indices in w->cand_vidx. */
static void select_exact(const struct ultramem *u, struct ultramem_work *w, const float *x_t,
                         size_t hd, struct side *rs, struct side *cs, size_t n_fast, float floor,
                         uint64_t *macs)
{
    struct side *sd[2] = {rs, cs};
    int changed = 0, done[2] = {0, 0};
    size_t n;
    ultramem_exact_query(u, x_t, w->q_exact);
    *macs += 2 * u->Dk * u->D;
    for (int k = 0; k < 2; k++) {
        if (reaches(sd[k], floor)) {
            changed |= reselect_side(u, w, hd, sd[k], macs);
            done[k] = 1;
        }
    }
    /* A changed set moves the m-th total, so a window that did not reach
     * the old floor may matter now: make every kept set forward_ref's. */
    for (int k = 0; k < 2 && changed; k++)
        if (!done[k] && sd[k]->reach != -INFINITY)
            reselect_side(u, w, hd, sd[k], macs);
    n = changed ? all_candidates(u, w, rs, cs) : near_candidates(u, w, rs, cs, n_fast, floor);
    exact_totals(u, w, hd, rs, cs, n, macs);
    best_k(w, w->cand_val, n, u->m);
    memset(rs->exact, 0, u->np);
    memset(cs->exact, 0, u->np);
    w->n_exact++;
}

/* ---- one (token, head) ---- */

void ultramem_select_head(struct ultramem *u, struct ultramem_work *w, const float *x_t, size_t t,
                          size_t hd)
{
    size_t r = u->r, rr = r * r, np = u->np, off = t * u->H * np * r + hd * np * r;
    uint32_t *sel = u->sel + (t * u->H + hd) * u->m;
    float *score = u->sel_score + (t * u->H + hd) * u->m * u->h, bound[2];
    struct side rows = {.id = 0,
                        .s = u->sr + off,
                        .v = w->a,
                        .dir = u->u + hd * r,
                        .bound = u->bound_row[hd],
                        .mark = w->row_flag,
                        .exact = w->exact_key,
                        .set = {w->rows, w->rowf, 0},
                        .reach = -INFINITY};
    struct side cols = {.id = 1,
                        .s = u->sc + off,
                        .v = w->b,
                        .dir = u->v + hd * r,
                        .bound = u->bound_col[hd],
                        .mark = w->col_flag,
                        .exact = w->exact_key + np,
                        .set = {w->cols, w->colf, 0},
                        .reach = -INFINITY};
    struct side *sd[2] = {&rows, &cols};
    uint64_t macs = 2 * np * r, tie = 0; /* tie: the near-tie part */

    rank1_scores(rows.s, rows.dir, np, r, rows.v);
    rank1_scores(cols.s, cols.dir, np, r, cols.v);
    keep_side(u, w, &rows);
    keep_side(u, w, &cols);
    size_t n = score_candidates(u, w, hd, &rows, &cols, bound, &macs);
    struct boundary top = best_k(w, w->cand_val, n, u->m);
    rows.margin = TIE_MARGIN_RANK1 * u->bound_rank1[0][hd];
    cols.margin = TIE_MARGIN_RANK1 * u->bound_rank1[1][hd];
    if (ambiguous(&rows.bd[0], rows.margin) || ambiguous(&rows.bd[1], rows.margin) ||
        ambiguous(&cols.bd[0], cols.margin) || ambiguous(&cols.bd[1], cols.margin))
        window_reach(u, w, hd, sd, bound, &tie);
    float margin = TIE_MARGIN_TOTAL * (bound[0] + bound[1]);
    float floor = top.cut ? top.kth - margin : -INFINITY;
    /* The winners by position: the exact path and the signed filter list
     * every candidate's index, the top filter's are the rows x cols grid. */
    int listed = u->signed_filter;
    if (ambiguous(&top, margin) || reaches(&rows, floor) || reaches(&cols, floor)) {
        select_exact(u, w, x_t, hd, &rows, &cols, n, floor, &tie);
        listed = 1;
    }
    for (size_t k = 0; k < u->m; k++) {
        size_t p = w->surv_pos[k];
        uint32_t vidx =
            listed ? w->cand_vidx[p]
                   : rows.set.idx[p / cols.set.n] * (uint32_t)np + cols.set.idx[p % cols.set.n];
        const float *si = rows.s + (vidx / np) * r, *sj = cols.s + (vidx % np) * r;
        sel[k] = vidx;
        for (size_t c = 0; c < u->h; c++)
            score[k * u->h + c] = ultramem_core_score(si, u->cores + (c * u->H + hd) * rr, sj, r);
    }
    macs += u->m * u->h * (rr + r);
    w->macs += macs + tie;
    w->tie_macs += tie;
}
