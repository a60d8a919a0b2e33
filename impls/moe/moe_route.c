/* moe_route.c - MoE routing: router logits, the k experts of every token and
 * their combine weights, and the counting sort that groups (token, slot)
 * pairs by expert (research/moe.md section 0 item 1, section 1.5).
 *
 * Router logits are computed with the experts in the vector lanes and the
 * sum over d in increasing order, one product at a time: the same floats as
 * the plain-loop reference's dot products, whatever the batch size. So
 * forward and forward_ref never disagree on a near-tie between two experts,
 * and a token routes the same way in any batch. An sgemm would be faster
 * here, but its blocked summation order could flip a top-k choice between
 * the two paths; at E <= 64 the router is under 2% of the layer's FLOPs.
 *
 * routing=uniform and zipf:A draw the k experts from a generator seeded by
 * the token's bytes and the layer seed (a pure function of the token), and
 * weigh them with the router's softmax restricted to the drawn experts, so
 * only *which* experts run changes, not the cost of routing or how x
 * enters the weights. Zipf draws are successive sampling without
 * replacement with rank-r popularity (r + 1)^-A over a seeded permutation
 * of the experts, like trained routers' skewed loads.
 */
#include "moe.h"

#include <math.h>
#include <string.h>

#define MOE_STREAM_TOKEN  0x746f6b656e0000ull /* "token": per-token routing draws */
#define LOGIT_TOKEN_BLOCK 4                   /* tokens sharing one pass over the router */
#define LOGIT_TASK_TOKENS 32

/* ---- router logits ---- */

static void logits_block(const struct moe *m, const float *x, size_t n, float *logits)
{
    const size_t D = m->D, E = m->E;
    const float *restrict w = m->router; /* (D, E) */
    float *restrict z = logits;          /* (n, E) */
    for (size_t i = 0; i < n * E; i++)
        z[i] = 0.0f;
    for (size_t d = 0; d < D; d++) {
        const float *restrict wd = w + d * E;
        for (size_t t = 0; t < n; t++) {
            float xd = x[t * D + d];
            float *restrict zt = z + t * E;
            for (size_t e = 0; e < E; e++)
                zt[e] += wd[e] * xd;
        }
    }
}

struct logits_job {
    const struct moe *m;
    const float *x;
    float *logits;
    size_t n_tokens;
};

static void logits_task(void *arg, size_t task, int worker)
{
    const struct logits_job *j = arg;
    size_t t0 = task * LOGIT_TASK_TOKENS, t1 = t0 + LOGIT_TASK_TOKENS;
    (void)worker;
    if (t1 > j->n_tokens)
        t1 = j->n_tokens;
    for (size_t t = t0; t < t1; t += LOGIT_TOKEN_BLOCK) {
        size_t n = t1 - t < LOGIT_TOKEN_BLOCK ? t1 - t : LOGIT_TOKEN_BLOCK;
        logits_block(j->m, j->x + t * j->m->D, n, j->logits + t * j->m->E);
    }
}

void moe_route_logits(const struct moe *m, const float *x, size_t n_tokens, float *logits,
                      struct common_pool *pool)
{
    struct logits_job job = {m, x, logits, n_tokens};
    size_t tasks = (n_tokens + LOGIT_TASK_TOKENS - 1) / LOGIT_TASK_TOKENS;
    common_pool_run(pool, tasks, logits_task, &job);
}

/* ---- uniform / zipf draws ---- */

/* Four independent FNV-1a lanes over the token's 32-bit words: a pure
 * function of its bytes, cheap next to the router's D x E products. */
static uint64_t token_hash(const float *x, size_t D)
{
    uint64_t h[4] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 0x9e3779b97f4a7c15ull,
                     0xbf58476d1ce4e5b9ull};
    for (size_t d = 0; d < D; d++) {
        uint32_t u;
        memcpy(&u, x + d, sizeof(u));
        h[d & 3] = (h[d & 3] ^ u) * 0x100000001b3ull;
    }
    return h[0] ^ (h[1] << 1 | h[1] >> 63) ^ (h[2] << 2 | h[2] >> 62) ^ (h[3] << 3 | h[3] >> 61);
}

static int already_drawn(const uint32_t *out, size_t n, uint32_t e)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] == e)
            return 1;
    return 0;
}

/* Floyd's algorithm: a uniform k-subset of E in K draws. */
static void draw_uniform(struct common_rng *r, size_t E, size_t K, uint32_t *out)
{
    size_t n = 0;
    for (size_t j = E - K; j < E; j++) {
        uint32_t t = (uint32_t)common_rng_below(r, j + 1);
        out[n] = already_drawn(out, n, t) ? (uint32_t)j : t;
        n++;
    }
}

/* Successive sampling without replacement: each draw picks an untaken rank
 * with probability proportional to its popularity. taken (K) holds the
 * drawn ranks in increasing order so one walk skips them. */
static void draw_zipf(const struct moe *m, struct common_rng *r, uint32_t *out, uint32_t *taken)
{
    const double *cdf = m->zipf_cdf;
    double left = cdf[m->E - 1];
    for (size_t n = 0; n < m->K; n++) {
        double u = common_rng_uniform(r) * left, acc = 0;
        size_t rank = m->E, skip = 0;
        for (size_t i = 0; i < m->E; i++) {
            if (skip < n && taken[skip] == i) {
                skip++;
                continue;
            }
            double p = cdf[i] - (i ? cdf[i - 1] : 0.0);
            rank = i; /* rounding can leave u just past the last untaken rank */
            acc += p;
            if (u < acc)
                break;
        }
        left -= cdf[rank] - (rank ? cdf[rank - 1] : 0.0);
        size_t at = n;
        while (at > 0 && taken[at - 1] > rank) {
            taken[at] = taken[at - 1];
            at--;
        }
        taken[at] = (uint32_t)rank;
        out[n] = m->zipf_perm[rank];
    }
}

void moe_route_draw(const struct moe *m, const float *x, uint32_t *out)
{
    struct common_rng r;
    common_rng_seed(&r, m->seed ^ token_hash(x, m->D), MOE_STREAM_TOKEN);
    if (m->routing == MOE_ROUTING_UNIFORM) {
        draw_uniform(&r, m->E, m->K, out);
    } else {
        uint32_t taken[MOE_ZIPF_MAX_K]; /* create refuses zipf with K above this */
        draw_zipf(m, &r, out, taken);
    }
}

/* ---- selection and weights ---- */

/* w_j = softmax over the chosen experts' logits: for the router's own top-k
 * this is the full softmax renormalised over the k (research/moe.md 1.4). */
static void restricted_softmax(const float *logits, const uint32_t *sel, size_t K, float *w)
{
    float mx = logits[sel[0]], sum = 0.0f;
    for (size_t j = 1; j < K; j++)
        mx = logits[sel[j]] > mx ? logits[sel[j]] : mx;
    for (size_t j = 0; j < K; j++) {
        w[j] = expf(logits[sel[j]] - mx);
        sum += w[j];
    }
    for (size_t j = 0; j < K; j++)
        w[j] /= sum;
}

void moe_route_select(const struct moe *m, const float *x, const float *logits, size_t n_tokens,
                      uint32_t *sel, float *sel_w)
{
    const size_t E = m->E, K = m->K;
    for (size_t t = 0; t < n_tokens; t++) {
        const float *lt = logits + t * E;
        if (m->routing == MOE_ROUTING_ROUTER)
            common_topk(lt, E, K, sel_w + t * K, sel + t * K);
        else
            moe_route_draw(m, x + t * m->D, sel + t * K);
        restricted_softmax(lt, sel + t * K, K, sel_w + t * K);
    }
}

/* ---- grouping ---- */

size_t moe_route_group(struct moe *m, size_t n_tokens)
{
    const size_t E = m->E, P = n_tokens * m->K;
    uint32_t *count = m->count, *offset = m->offset;
    size_t touched = 0;
    memset(count, 0, E * sizeof(*count));
    for (size_t p = 0; p < P; p++)
        count[m->sel[p]]++;
    offset[0] = 0;
    for (size_t e = 0; e < E; e++) {
        offset[e + 1] = offset[e] + count[e];
        touched += count[e] != 0;
        count[e] = offset[e]; /* from here on: the next free row of expert e */
    }
    for (size_t p = 0; p < P; p++) {
        uint32_t row = count[m->sel[p]]++;
        m->row_pair[row] = (uint32_t)p;
        m->pair_row[p] = row;
    }
    return touched;
}
