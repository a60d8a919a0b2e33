/* blas.c - the one place that touches OpenBLAS's global thread count. */
#include "common.h"

#include <cblas.h>

void common_blas_threads(int threads)
{
    if (openblas_get_num_threads() != threads)
        openblas_set_num_threads(threads);
}
