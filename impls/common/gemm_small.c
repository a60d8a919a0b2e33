/* gemm_small.c - C (M, N) = A (M, K) B^T for a few rows of A, the query and
 * sub-key scoring of the memory layers (PKM: research/ultramem_pkm.md
 * section 3.1; UltraMem's TDQKR scores: section 1.3 steps 1-2), without
 * OpenBLAS.
 *
 * At these shapes (M = tokens of a small batch, B a weight or key matrix of
 * 0.1-3 MB read once per batch) OpenBLAS's sgemm packs B on every call,
 * which costs about as much as the multiply (impls/common/ffn.c measured the
 * same for the dense FFN below 128 tokens). Here every row of B is read
 * once, front to back, and dotted with every row of A while it is in
 * registers: UP_ROWS rows of B x BLOCK_M rows of A = COMMON_VL dot
 * products, one vector accumulator each, folded at the end, as in ffn.c's
 * up pass. It leaves out GEMM's cache blocking over K and M: A's rows
 * (M x K floats) are re-read from L1/L2 for every block of B's rows, so it
 * is meant for M <= COMMON_GEMM_SMALL_MAX_M only. Single-threaded: callers
 * split N (or their heads) over their own pool.
 */
#include "common.h"
#include "vec.h"

#define BLOCK_M       4
#define UP_ROWS       (COMMON_VL / BLOCK_M)
#define PREFETCH_ROWS 16 /* rows of B ahead of the block being dotted */
#define PREFETCH_L2   2  /* __builtin_prefetch locality: prefetcht1 */

/* z[m UP_ROWS + r] = a[m] . b[r] for r < R, m < NM. Constant R and NM at
 * the call sites keep the accumulators in registers. */
static inline __attribute__((always_inline)) void dot_block(const float *a, size_t lda,
                                                            const float *b, size_t ldb, size_t K,
                                                            int R, int NM, const float *pf,
                                                            float z[COMMON_VL])
{
    common_vec acc[COMMON_VL] = {{0}};
    size_t k = 0;
    for (; k + COMMON_VL <= K; k += COMMON_VL) {
        common_vec av[BLOCK_M];
        for (int m = 0; m < NM; m++)
            av[m] = common_vec_load(a + m * lda + k);
        if (pf) /* a vector is one 64-byte line of each row */
            for (int r = 0; r < R; r++)
                __builtin_prefetch(pf + r * ldb + k, 0, PREFETCH_L2);
        for (int r = 0; r < R; r++) {
            common_vec bv = common_vec_load(b + r * ldb + k);
            for (int m = 0; m < NM; m++)
                acc[m * UP_ROWS + r] = common_vec_fma(bv, av[m], acc[m * UP_ROWS + r]);
        }
    }
    common_vec_store(z, common_vec_fold(acc));
    for (; k < K; k++)
        for (int m = 0; m < NM; m++)
            for (int r = 0; r < R; r++)
                z[m * UP_ROWS + r] += b[r * ldb + k] * a[m * lda + k];
}

static void dot_rows(const float *a, size_t lda, const float *b, size_t ldb, size_t K, int R,
                     int NM, const float *pf, float z[COMMON_VL])
{
    if (R < UP_ROWS)
        dot_block(a, lda, b, ldb, K, R, NM, NULL, z);
    else if (NM == 4)
        dot_block(a, lda, b, ldb, K, UP_ROWS, 4, pf, z);
    else if (NM == 3)
        dot_block(a, lda, b, ldb, K, UP_ROWS, 3, pf, z);
    else if (NM == 2)
        dot_block(a, lda, b, ldb, K, UP_ROWS, 2, pf, z);
    else
        dot_block(a, lda, b, ldb, K, UP_ROWS, 1, pf, z);
}

void common_gemm_small_nt(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B,
                          size_t ldb, float *C, size_t ldc, int accumulate)
{
    float z[COMMON_VL];
    for (size_t n = 0; n < N; n += UP_ROWS) {
        const int R = N - n < UP_ROWS ? (int)(N - n) : UP_ROWS;
        const float *b = B + n * ldb;
        const float *pf = n + PREFETCH_ROWS + (size_t)R <= N ? b + PREFETCH_ROWS * ldb : NULL;
        for (size_t m = 0; m < M; m += BLOCK_M) {
            const int NM = M - m < BLOCK_M ? (int)(M - m) : BLOCK_M;
            dot_rows(A + m * lda, lda, b, ldb, K, R, NM, m == 0 ? pf : NULL, z);
            for (int i = 0; i < NM; i++)
                for (int r = 0; r < R; r++) {
                    float *c = C + (m + (size_t)i) * ldc + n + (size_t)r;
                    *c = accumulate ? *c + z[i * UP_ROWS + r] : z[i * UP_ROWS + r];
                }
        }
    }
}
