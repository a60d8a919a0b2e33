/* blas.c - whether OpenBLAS runs at this CPU's full speed.
 *
 * OpenBLAS picks its kernels for the CPU when it loads, unless
 * OPENBLAS_CORETYPE names a core. On an AVX-512 CPU a pre-AVX-512 core
 * (Haswell, Zen: AVX2) makes every sgemm, the dense baseline's above all,
 * slower than a user of this machine would get, while sparsebench's own
 * kernels, built -march=native, use AVX-512: an unfair opponent. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>

int bench_blas_below_native(char *msg, size_t len)
{
    static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    const char *core = openblas_get_corename(), *env = getenv("OPENBLAS_CORETYPE");
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        return 0;
    for (size_t i = 0; i < sizeof(avx512_cores) / sizeof(avx512_cores[0]); i++)
        if (!strcasecmp(core, avx512_cores[i]))
            return 0;
    snprintf(msg, len,
             "OpenBLAS runs its %s kernels on this AVX-512 CPU%s%s%s, while sparsebench's own "
             "kernels use AVX-512: the dense baseline and every sgemm run below this machine's "
             "full speed. For a fair baseline, unset OPENBLAS_CORETYPE or set it to SkylakeX",
             core, env ? " (OPENBLAS_CORETYPE=" : "", env ? env : "", env ? " is set)" : "");
    return 1;
}

void bench_blas_report(const char *cmd)
{
    char msg[512];
    const char *dropped = getenv("SPARSEBENCH_DROPPED_CORETYPE");
    if (bench_blas_below_native(msg, sizeof(msg)))
        fprintf(stderr, "%s: warning: %s\n", cmd, msg);
    else if (dropped)
        fprintf(stderr,
                "%s: OPENBLAS_CORETYPE=%s left out (AVX2 kernels on this AVX-512 CPU): OpenBLAS "
                "runs its %s kernels, at this machine's full speed (SPARSEBENCH_KEEP_CORETYPE=1 "
                "keeps the variable)\n",
                cmd, dropped, openblas_get_corename());
}
