/* vec.h - the small vector kernels several layers share: a dot product, a
 * four-token dot against one row and an axpy (the last two on weights of
 * any dtype), a row prefetch and a fold of VL accumulators into one vector
 * of sums.
 *
 * GCC vector extensions rather than intrinsics: 16 lanes (one zmm) with
 * AVX-512, 8 (one ymm) without, and the same source builds anywhere. Every
 * caller that must agree bit for bit with another (fff and fff-token, the
 * dense small-batch path across thread counts) uses these same functions, so
 * the accumulation order is one and the same. Written first for the FFF layer.
 */
#ifndef SPARSEBENCH_COMMON_VEC_H
#define SPARSEBENCH_COMMON_VEC_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__FMA__) || defined(__AVX__)
#include <immintrin.h>
#endif

#ifdef __AVX512F__
#define COMMON_VL 16
#define COMMON_VEC_ACC                                                                             \
    4 /* accumulators a dot: FMA latency x throughput, and 4 tokens fit 32 zmm                     \
       */
#else
#define COMMON_VL      8
#define COMMON_VEC_ACC 2 /* 4 tokens x 2 fit 16 ymm */
#endif

typedef float common_vec __attribute__((vector_size(COMMON_VL * sizeof(float))));

static inline common_vec common_vec_load(const float *p)
{
    common_vec v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void common_vec_store(float *p, common_vec v)
{
    memcpy(p, &v, sizeof(v));
}

/* s in every lane. Not `v = {0}; v += s`: that is a scalar add of 0.0 (kept,
 * for -0.0) and a register broadcast on the FMA port 5, where this is one
 * broadcast from memory on a load port. */
static inline common_vec common_vec_set1(float s)
{
#if defined(__AVX512F__)
    return _mm512_set1_ps(s);
#elif defined(__AVX__)
    return _mm256_set1_ps(s);
#else
    common_vec v;
    for (int i = 0; i < COMMON_VL; i++)
        v[i] = s;
    return v;
#endif
}

/* a b + c in one rounding where the ISA has it: -std=c11 turns GCC's
 * contraction off, and these loops should run like a BLAS kernel. */
static inline common_vec common_vec_fma(common_vec a, common_vec b, common_vec c)
{
#if defined(__AVX512F__)
    return _mm512_fmadd_ps(a, b, c);
#elif defined(__FMA__)
    return _mm256_fmadd_ps(a, b, c);
#else
    return a * b + c;
#endif
}

/* Lanes summed as a tree, not a chain: a chain of COMMON_VL dependent adds is
 * the longest latency of a one-token dot. */
static inline float common_vec_hsum(const common_vec acc[COMMON_VEC_ACC])
{
    common_vec s = acc[0];
    for (int k = 1; k < COMMON_VEC_ACC; k++)
        s += acc[k];
    float v[COMMON_VL];
    memcpy(v, &s, sizeof(v));
    for (int w = COMMON_VL / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++)
            v[i] += v[i + w];
    return v[0];
}

/* w . x with COMMON_VEC_ACC accumulators over consecutive vectors, leftover
 * vectors into the first ones, a scalar tail and a tree of lanes: the order
 * every variant uses, so fff and fff-token agree bit for bit and route
 * every token identically. */
static inline float common_vec_dot(const float *w, const float *x, size_t n)
{
    common_vec acc[COMMON_VEC_ACC] = {{0}};
    size_t i = 0;
    for (; i + COMMON_VEC_ACC * COMMON_VL <= n; i += COMMON_VEC_ACC * COMMON_VL)
        for (int k = 0; k < COMMON_VEC_ACC; k++)
            acc[k] = common_vec_fma(common_vec_load(w + i + k * COMMON_VL),
                                    common_vec_load(x + i + k * COMMON_VL), acc[k]);
    for (int k = 0; i + COMMON_VL <= n; i += COMMON_VL, k++)
        acc[k] = common_vec_fma(common_vec_load(w + i), common_vec_load(x + i), acc[k]);
    float tail = 0.0f;
    for (; i < n; i++)
        tail += w[i] * x[i];
    return common_vec_hsum(acc) + tail;
}

/* ---- narrow weights (the dtype knob): widened on load, exact ---- */

/* VL bf16 values: a bf16 is the top half of its fp32, so a zero-extend and a
 * shift widen it (vpmovzxwd + vpslld). Not AVX-512 BF16's vdpbf16ps: that
 * rounds the activations to bf16 too, and they stay fp32 here. */
static inline common_vec common_vec_load_bf16(const uint16_t *p)
{
    /* Intrinsics where there are: GCC 12 lowers __builtin_convertvector of
     * 16 lanes into two ymm zero-extends and an insert per zmm (tuned for
     * this AMD host), twice the uops of vpmovzxwd zmm + vpslld; fff 1x11 at
     * bf16 measured 1.10-1.15x slower than at f16 for it, dense bf16 vs f32
     * at T = 16 1.07x before and 1.16x after. */
#if defined(__AVX512F__)
    __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
#elif defined(__AVX2__) && COMMON_VL == 8
    __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
#else
    typedef uint16_t hvec __attribute__((vector_size(COMMON_VL * sizeof(uint16_t))));
    typedef uint32_t uvec __attribute__((vector_size(COMMON_VL * sizeof(uint32_t))));
    hvec h;
    memcpy(&h, p, sizeof(h));
    uvec u = __builtin_convertvector(h, uvec) << 16;
    common_vec v;
    memcpy(&v, &u, sizeof(v));
    return v;
#endif
}

/* VL IEEE f16 values: vcvtph2ps (F16C, or AVX-512F for 16 lanes). */
static inline common_vec common_vec_load_f16(const uint16_t *p)
{
#if defined(__AVX512F__)
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
#elif defined(__F16C__) && COMMON_VL == 8
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
#else
    common_vec v;
    for (int i = 0; i < COMMON_VL; i++)
        v[i] = common_f16_to_f32(p[i]);
    return v;
#endif
}

/* VL elements of a dt array from element i. Inlined with a constant dt the
 * switch folds away, so one kernel body serves the three types. */
static inline __attribute__((always_inline)) common_vec common_vec_load_dt(enum layer_dtype dt,
                                                                           const void *p, size_t i)
{
    if (dt == LAYER_BF16)
        return common_vec_load_bf16((const uint16_t *)p + i);
    if (dt == LAYER_F16)
        return common_vec_load_f16((const uint16_t *)p + i);
    return common_vec_load((const float *)p + i);
}

/* common_vec_dot with w stored as dt: the same accumulators, order and tail,
 * so at dt = f32 it is common_vec_dot bit for bit. */
static inline __attribute__((always_inline)) float
common_vec_dot_dt(enum layer_dtype dt, const void *w, const float *x, size_t n)
{
    common_vec acc[COMMON_VEC_ACC] = {{0}};
    size_t i = 0;
    for (; i + COMMON_VEC_ACC * COMMON_VL <= n; i += COMMON_VEC_ACC * COMMON_VL)
        for (int k = 0; k < COMMON_VEC_ACC; k++)
            acc[k] = common_vec_fma(common_vec_load_dt(dt, w, i + k * COMMON_VL),
                                    common_vec_load(x + i + k * COMMON_VL), acc[k]);
    for (int k = 0; i + COMMON_VL <= n; i += COMMON_VL, k++)
        acc[k] = common_vec_fma(common_vec_load_dt(dt, w, i), common_vec_load(x + i), acc[k]);
    float tail = 0.0f;
    for (; i < n; i++)
        tail += common_dtype_at(dt, w, i) * x[i];
    return common_vec_hsum(acc) + tail;
}

/* y = a w (first node a token visits) or y += a w, w stored as dt. a is
 * broadcast as {0} + a (so -0 becomes +0), the way fff.c's output pass forms
 * its scales: fff-token's walk and fff's level kernel agree to the bit. */
static inline __attribute__((always_inline)) void
common_vec_axpy_dt(enum layer_dtype dt, float *y, float a, const void *w, size_t n, int assign)
{
    common_vec av = {0};
    av += a;
    size_t i = 0;
    if (assign) {
        for (; i + COMMON_VL <= n; i += COMMON_VL)
            common_vec_store(y + i, av * common_vec_load_dt(dt, w, i));
        for (; i < n; i++)
            y[i] = a * common_dtype_at(dt, w, i);
        return;
    }
    for (; i + COMMON_VL <= n; i += COMMON_VL)
        common_vec_store(y + i,
                         common_vec_fma(av, common_vec_load_dt(dt, w, i), common_vec_load(y + i)));
    for (; i < n; i++)
        y[i] += a * common_dtype_at(dt, w, i);
}

/* Four tokens against one row stored as dt, each with common_vec_dot_dt's
 * accumulators and order; one load of the row serves all four. */
static inline __attribute__((always_inline)) void common_vec_dot4_dt(enum layer_dtype dt,
                                                                     const void *w,
                                                                     const float *const x[4],
                                                                     size_t n, float out[4])
{
    common_vec acc[4][COMMON_VEC_ACC] = {{{0}}};
    size_t i = 0;
    for (; i + COMMON_VEC_ACC * COMMON_VL <= n; i += COMMON_VEC_ACC * COMMON_VL)
        for (int k = 0; k < COMMON_VEC_ACC; k++) {
            common_vec wv = common_vec_load_dt(dt, w, i + k * COMMON_VL);
            for (int j = 0; j < 4; j++)
                acc[j][k] =
                    common_vec_fma(wv, common_vec_load(x[j] + i + k * COMMON_VL), acc[j][k]);
        }
    for (int k = 0; i + COMMON_VL <= n; i += COMMON_VL, k++) {
        common_vec wv = common_vec_load_dt(dt, w, i);
        for (int j = 0; j < 4; j++)
            acc[j][k] = common_vec_fma(wv, common_vec_load(x[j] + i), acc[j][k]);
    }
    for (int j = 0; j < 4; j++) {
        float tail = 0.0f;
        for (size_t k = i; k < n; k++)
            tail += common_dtype_at(dt, w, k) * x[j][k];
        out[j] = common_vec_hsum(acc[j]) + tail;
    }
}

/* Pull `bytes` from p into the caches ahead of use (a hint, never a fault). */
static inline void common_prefetch_bytes(const void *p, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 64)
        __builtin_prefetch((const char *)p + i);
}

/* Pull a row into the caches ahead of use (a hint, never a fault). */
static inline void common_prefetch_row(const float *row, size_t n)
{
    for (size_t i = 0; i < n; i += 64 / sizeof(float))
        __builtin_prefetch(row + i);
}

/* Fold COMMON_VL accumulators into one vector: lane j of the result is the
 * lane sum of v[j], by common_vec_hsum's tree (lane i plus lane i + VL/2,
 * then + VL/4, ...), so it equals common_vec_hsum of {v[j], 0, ...} bit for
 * bit. Each level adds the low and high halves of blocks of two vectors at
 * once, one 2-source shuffle each; after log2(VL) levels lane l holds
 * v[bitrev(l)] and one permute puts lane j in place. 2 VL - 1 shuffles and
 * VL - 1 adds for VL sums, against ~VL^2 scalar adds one hsum at a time:
 * for the streaming FFN's 16 dot products per block that was as many
 * instructions as the multiply itself. v is overwritten. */
typedef int common_ivec __attribute__((vector_size(COMMON_VL * sizeof(int))));

static inline common_vec common_vec_fold(common_vec v[COMMON_VL])
{
#if COMMON_VL == 16
    static const common_ivec lo[4] = {{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
                                      {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
                                      {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
                                      {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30}};
    static const common_ivec hi[4] = {
        {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31},
        {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31},
        {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31},
        {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31}};
    static const common_ivec bitrev = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    enum { levels = 4 };
#else
    static const common_ivec lo[3] = {
        {0, 1, 2, 3, 8, 9, 10, 11}, {0, 1, 8, 9, 4, 5, 12, 13}, {0, 8, 2, 10, 4, 12, 6, 14}};
    static const common_ivec hi[3] = {
        {4, 5, 6, 7, 12, 13, 14, 15}, {2, 3, 10, 11, 6, 7, 14, 15}, {1, 9, 3, 11, 5, 13, 7, 15}};
    static const common_ivec bitrev = {0, 4, 2, 6, 1, 5, 3, 7};
    enum { levels = 3 };
#endif
    int m = COMMON_VL;
    for (int lev = 0; lev < levels; lev++) {
        m /= 2;
        for (int j = 0; j < m; j++)
            v[j] = __builtin_shuffle(v[2 * j], v[2 * j + 1], lo[lev]) +
                   __builtin_shuffle(v[2 * j], v[2 * j + 1], hi[lev]);
    }
    return __builtin_shuffle(v[0], bitrev);
}

#endif
