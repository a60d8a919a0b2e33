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
 */
#include "ultramem.h"

#include <cblas.h>

void ultramem_merged_fold(struct ultramem *u)
{
    size_t N = u->N, D = u->D, Dv = u->Dv, Dc = u->Dc, h = u->h, K = u->E * Dv;
    for (size_t p = 0; p < u->E; p++) {
        for (size_t c = 0; c < h; c++) {
            /* (N, D) slab, row stride h D = values[:, slice c] W_o[:, p Dv + slice c]^T */
            float *dst = u->folded + p * N * h * D + c * D;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)D, (int)Dc, 1.0f,
                        u->values + c * Dc, (int)Dv, u->wo + p * Dv + c * Dc, (int)K, 0.0f, dst,
                        (int)(h * D));
        }
    }
}
