/* pkm_gather.c - PKM's value read, y = sum of softmax weight x value row
 * (XLM's EmbeddingBag with per_sample_weights, research/ultramem_pkm.md
 * section 3.3), done value-major.
 *
 * A batch of T tokens makes T·H·K reads of rows of a table far larger than
 * the caches (D = 768, scale 12: 67,600 rows of 3 KB, 208 MB), and at large T
 * many rows are read by several tokens (T = 1024: 131,072 reads of 54,649
 * unique rows). So the reads are first grouped by row (a bitmap of the rows
 * seen gives them in ascending address order at a cost of N/64 words), then
 * each unique row streams from memory exactly once and is added into every
 * token that chose it; the outputs (T, D) stay in cache. The next rows are
 * software-prefetched while one is added, since a row's address is known
 * long before it is needed and the hardware prefetcher cannot guess it.
 *
 * Threads split the unique rows, each adding into its own (T, D) partial
 * output, which are then summed. Splitting the columns of D instead (no
 * partial outputs) measured half as fast at T >= 512 (D = 768, scale 12:
 * 12.6 vs 23.9 GB/s at T = 1024): both threads then fetch every row, half of
 * it each, at different times. The sum order, so the last bits of y, depends
 * on the thread count; for one thread count it is fixed.
 *
 * dtype=bf16|f16 (pkm.h): the rows are stored narrow and widened on load
 * (vec.h: a shift for bf16, vcvtph2ps for f16), then added with the same
 * fused multiply-add per element as at f32, so y is the fp32 sum of the
 * exactly widened elements. Not AVX-512 BF16's dot instructions: they
 * round the other operand to bf16 too, and y stays fp32. One body serves
 * the three types, inlined with a constant dtype; at f32 its inner loop is
 * the scalar fmaf loop GCC vectorises, as before. Rows in flight are
 * counted in bytes, so a narrow table keeps twice the rows ahead.
 */
#include "pkm.h"
#include "../common/vec.h"

#include <math.h>
#include <string.h>

#define PREFETCH_BYTES 12288 /* bytes of rows in flight ahead of the one being added */

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

/* yt[0..D) += w row[0..D), one fused multiply-add per element. */
static inline __attribute__((always_inline)) void
add_row(enum layer_dtype dt, float *restrict yt, float w, const void *restrict row, size_t D)
{
    if (dt == LAYER_F32) {
        const float *restrict r = row;
        for (size_t d = 0; d < D; d++)
            yt[d] = fmaf(w, r[d], yt[d]);
        return;
    }
    common_vec wv = common_vec_set1(w);
    size_t d = 0;
    for (; d + COMMON_VL <= D; d += COMMON_VL)
        common_vec_store(
            yt + d, common_vec_fma(wv, common_vec_load_dt(dt, row, d), common_vec_load(yt + d)));
    for (; d < D; d++)
        yt[d] = fmaf(w, common_dtype_at(dt, row, d), yt[d]);
}

/* out (T, D) = the contributions of unique rows [u0, u1), the table stored
 * as dt. */
static inline __attribute__((always_inline)) void gather_rows_dt(enum layer_dtype dt,
                                                                 const struct pkm *p, float *out,
                                                                 size_t n_tokens, size_t u0,
                                                                 size_t u1)
{
    const struct pkm_rowlist *rl = &p->rl;
    const size_t D = p->d_model, row_bytes = D * common_dtype_size(dt);
    const char *values = p->values;
    size_t ahead = PREFETCH_BYTES / row_bytes;
    ahead = ahead < 2 ? 2 : ahead;

    memset(out, 0, n_tokens * D * sizeof(float));
    for (size_t u = u0; u < u1 && u < u0 + ahead; u++)
        common_prefetch_bytes(values + (size_t)rl->row[u] * row_bytes, row_bytes);
    for (size_t u = u0; u < u1; u++) {
        if (u + ahead < u1)
            common_prefetch_bytes(values + (size_t)rl->row[u + ahead] * row_bytes, row_bytes);
        const void *row = values + (size_t)rl->row[u] * row_bytes;
        for (uint32_t e = rl->start[u]; e < rl->start[u + 1]; e++)
            add_row(dt, out + (size_t)rl->tok[e] * D, rl->wt[e], row, D);
    }
}

static void gather_rows(const struct pkm *p, float *out, size_t n_tokens, size_t u0, size_t u1)
{
    if (p->dtype == LAYER_BF16)
        gather_rows_dt(LAYER_BF16, p, out, n_tokens, u0, u1);
    else if (p->dtype == LAYER_F16)
        gather_rows_dt(LAYER_F16, p, out, n_tokens, u0, u1);
    else
        gather_rows_dt(LAYER_F32, p, out, n_tokens, u0, u1);
}

struct gather_job {
    struct pkm *p;
    float *y;
    size_t n_tokens, parts;
};

/* Part i of the unique rows, into y (part 0) or its own partial output. */
static void gather_task(void *arg, size_t part, int worker)
{
    const struct gather_job *j = arg;
    size_t U = j->p->rl.n_rows;
    float *out = part ? j->p->y_part + (part - 1) * j->n_tokens * j->p->d_model : j->y;
    (void)worker;
    gather_rows(j->p, out, j->n_tokens, U * part / j->parts, U * (part + 1) / j->parts);
}

/* y += the other parts' partial outputs, for slice i of the tokens. */
static void reduce_task(void *arg, size_t slice, int worker)
{
    const struct gather_job *j = arg;
    const size_t D = j->p->d_model, T = j->n_tokens;
    size_t a = T * slice / j->parts * D, b = T * (slice + 1) / j->parts * D;
    (void)worker;
    for (size_t part = 1; part < j->parts; part++) {
        const float *src = j->p->y_part + (part - 1) * T * D;
        for (size_t i = a; i < b; i++)
            j->y[i] += src[i];
    }
}

void pkm_gather(struct pkm *p, float *y, size_t n_tokens, int threads)
{
    struct gather_job job = {p, y, n_tokens, (size_t)threads};
    if (threads == 1) {
        gather_rows(p, y, n_tokens, 0, p->rl.n_rows);
        return;
    }
    common_pool_run(p->pool, job.parts, gather_task, &job);
    common_pool_run(p->pool, job.parts, reduce_task, &job);
}
