/* pkm_gather.c - PKM's value read, y = sum of softmax weight x value row
 * (XLM's EmbeddingBag with per_sample_weights, research/ultramem_pkm.md
 * section 3.3), done value-major.
 *
 * A batch of T tokens makes T·H·K reads of rows of a table far larger than
 * the caches (D = 768, scale 12: 67,600 rows of 3 KB, 208 MB), and at large T
 * many rows are read by several tokens (T = 1024: 131,072 reads of 57,900
 * unique rows). So the reads are first grouped by row (a bitmap of the rows
 * seen gives them in ascending address order at a cost of N/64 words), then
 * each unique row streams from memory exactly once and is added into every
 * token that chose it; the outputs (T, D) stay in cache. The next rows are
 * software-prefetched while one is added, since a row's address is known
 * long before it is needed and the hardware prefetcher cannot guess it.
 *
 * Threads split the columns of D, not the rows: both read each row (half of
 * it each), no output is shared, and every output element is summed in the
 * same order whatever the thread count, so results do not depend on it.
 */
#include "pkm.h"

#include <math.h>
#include <string.h>

#define PREFETCH_BYTES 12288 /* bytes of rows in flight ahead of the one being added */
#define LINE_FLOATS    16    /* floats per 64-byte line */

size_t pkm_group_rows(struct pkm *p, size_t n_tokens)
{
    struct pkm_rowlist *rl = &p->rl;
    size_t n_entries = n_tokens * (size_t)p->knobs.heads * (size_t)p->knobs.topk;
    const struct pkm_pick *pk = p->picks;

    for (size_t e = 0; e < n_entries; e++)
        rl->bitmap[pk[e].idx >> 6] |= 1ull << (pk[e].idx & 63);

    /* Ascending unique rows; the bitmap is left all zero for the next call. */
    size_t u = 0, words = (p->n_values + 63) / 64;
    for (size_t wd = 0; wd < words; wd++) {
        uint64_t bits = rl->bitmap[wd];
        if (!bits)
            continue;
        rl->bitmap[wd] = 0;
        while (bits) {
            uint32_t r = (uint32_t)(wd * 64 + (size_t)__builtin_ctzll(bits));
            bits &= bits - 1;
            rl->row_uid[r] = (uint32_t)u;
            rl->row[u] = r;
            rl->start[u] = 0;
            u++;
        }
    }
    rl->n_rows = u;

    /* Counting sort of the entries by unique row, stable in (t, h, slot). */
    for (size_t e = 0; e < n_entries; e++)
        rl->start[rl->row_uid[pk[e].idx]]++;
    uint32_t sum = 0;
    for (size_t i = 0; i < u; i++) {
        uint32_t c = rl->start[i];
        rl->start[i] = sum;
        sum += c;
    }
    rl->start[u] = sum;
    size_t per_token = n_entries / (n_tokens ? n_tokens : 1);
    for (size_t e = 0; e < n_entries; e++) {
        uint32_t slot = rl->start[rl->row_uid[pk[e].idx]]++;
        rl->tok[slot] = (uint32_t)(e / per_token);
        rl->wt[slot] = p->w[e];
    }
    /* The scatter advanced each start to the next row's: shift back. */
    for (size_t i = u; i > 0; i--)
        rl->start[i] = rl->start[i - 1];
    rl->start[0] = 0;
    return u;
}

static inline void prefetch_cols(const float *row, size_t n_cols)
{
    for (size_t d = 0; d < n_cols; d += LINE_FLOATS)
        __builtin_prefetch(row + d, 0, 3);
}

/* Columns [c0, c1) of every output: zero them, then add each unique row's
 * slice into the tokens that chose it. */
static void gather_cols(const struct pkm *p, float *y, size_t n_tokens, size_t c0, size_t c1)
{
    const struct pkm_rowlist *rl = &p->rl;
    const size_t D = p->d_model, n_cols = c1 - c0, U = rl->n_rows;
    const float *table = p->values + c0;
    size_t ahead = PREFETCH_BYTES / (n_cols * sizeof(float));
    ahead = ahead < 2 ? 2 : ahead;

    for (size_t t = 0; t < n_tokens; t++)
        memset(y + t * D + c0, 0, n_cols * sizeof(float));
    for (size_t u = 0; u < U && u < ahead; u++)
        prefetch_cols(table + (size_t)rl->row[u] * D, n_cols);
    for (size_t u = 0; u < U; u++) {
        if (u + ahead < U)
            prefetch_cols(table + (size_t)rl->row[u + ahead] * D, n_cols);
        const float *restrict row = table + (size_t)rl->row[u] * D;
        for (uint32_t e = rl->start[u]; e < rl->start[u + 1]; e++) {
            float *restrict yt = y + (size_t)rl->tok[e] * D + c0;
            float w = rl->wt[e];
            for (size_t d = 0; d < n_cols; d++)
                yt[d] = fmaf(w, row[d], yt[d]);
        }
    }
}

struct gather_job {
    const struct pkm *p;
    float *y;
    size_t n_tokens, slice; /* columns per task, whole lines */
};

static void gather_task(void *arg, size_t task, int worker)
{
    const struct gather_job *j = arg;
    size_t D = j->p->d_model, c0 = task * j->slice, c1 = c0 + j->slice;
    (void)worker;
    gather_cols(j->p, j->y, j->n_tokens, c0, c1 < D ? c1 : D);
}

void pkm_gather(struct pkm *p, float *y, size_t n_tokens, int threads)
{
    /* One slice of whole lines per thread, so no line is written by two. */
    size_t D = p->d_model, lines = (D + LINE_FLOATS - 1) / LINE_FLOATS;
    size_t slice_lines = (lines + (size_t)threads - 1) / (size_t)threads;
    struct gather_job job = {p, y, n_tokens, slice_lines * LINE_FLOATS};
    size_t n_tasks = (lines + slice_lines - 1) / slice_lines;
    if (threads > 1)
        common_pool_run(p->pool, n_tasks, gather_task, &job);
    else
        for (size_t t = 0; t < n_tasks; t++)
            gather_task(&job, t, 0);
}
