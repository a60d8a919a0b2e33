/* ultramem_merged.c - the inference-time merge of UltraMem's implicit value
 * expansion (research/ultramem_pkm.md section 1.3, "IVE": o = sum_p W_p^T
 * (V^T s_p)): fold each virtual block's projection into its own table.
 *
 * With multi-core scoring each core weights its own slice of a value, so the
 * fold is per (block p, core c): folded[p N + row][c] = V[row, slice c]
 * W_p[slice c, :], a (N, D) table for each of the E h pairs, stored so that
 * virtual value t = p N + row is one contiguous run of h D floats, the h
 * slices the forward reads together. Cost: E h N D floats instead of
 * N Dv + E Dv D, i.e. E h D / Dv times the value table (16 x at the
 * defaults: 3.3 GB at D = 768, scale 12; 16 GB for the 227m preset), and
 * h D floats read per hit instead of Dv, in exchange for no output
 * projection (E Dv D multiply-adds and the whole of W_o per forward).
 *
 * Narrow tables (dtype=bf16|f16) are folded from the same fp32 values and
 * W_o, ULTRAMEM_FOLD_ROWS rows at a time into an fp32 slab, and each slab is
 * rounded into the table: the f32 layer's tables rounded, with no fp32
 * table of E h N D floats ever held.
 */
#include "ultramem.h"

#include <cblas.h>

/* C (rows, D) at stride ldc = values[row0.., slice c] W_o[:, p Dv + slice c]^T */
static void fold_slab(const struct ultramem *u, size_t p, size_t c, size_t row0, size_t rows,
                      float *dst, size_t ldc)
{
    size_t Dv = u->Dv, Dc = u->Dc, K = u->E * Dv;
    const float *values = u->values;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)u->D, (int)Dc, 1.0f,
                values + row0 * Dv + c * Dc, (int)Dv, u->wo + p * Dv + c * Dc, (int)K, 0.0f, dst,
                (int)ldc);
}

void ultramem_merged_fold(struct ultramem *u)
{
    size_t N = u->N, D = u->D, h = u->h, es = common_dtype_size(u->dtype);
    for (size_t p = 0; p < u->E; p++) {
        for (size_t c = 0; c < h; c++) {
            if (u->dtype == LAYER_F32) { /* the (N, D) slab in place, row stride h D */
                fold_slab(u, p, c, 0, N, (float *)u->folded + p * N * h * D + c * D, h * D);
                continue;
            }
            for (size_t r0 = 0; r0 < N; r0 += ULTRAMEM_FOLD_ROWS) {
                size_t rows = N - r0 < ULTRAMEM_FOLD_ROWS ? N - r0 : ULTRAMEM_FOLD_ROWS;
                fold_slab(u, p, c, r0, rows, u->fold_tmp, D);
                for (size_t i = 0; i < rows; i++)
                    common_dtype_narrow(u->dtype,
                                        (char *)u->folded + ((p * N + r0 + i) * h + c) * D * es,
                                        u->fold_tmp + i * D, D);
            }
        }
    }
}
