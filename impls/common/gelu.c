/* gelu.c - exact-erf GELU, gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
 *
 * The dense baseline evaluates T x F of these per forward; a scalar erff()
 * there costs about twice the GEMM itself (research/fff.md section 8), which
 * would hand every sparse layer a free speedup. So the kernel is branch-free
 * float arithmetic that GCC vectorises: erfc by the Numerical Recipes
 * Chebyshev fit (fractional error < 1.2e-7 everywhere) and exp by range
 * reduction and a degree-7 polynomial. No tanh approximation: UltraFastBERT
 * and BERT use the erf form.
 */
#include "common.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

float common_gelu_ref(float x)
{
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

/* e^a for a in [-87, 0]; relative error ~1e-7. */
static inline float exp_nonpos(float a)
{
    a = a < -87.0f ? -87.0f : a;
    float k = a * 1.44269504088896341f;
    k = (k + 12582912.0f) - 12582912.0f; /* round to nearest, vectorisable */
    float r = a - k * 0.693145751953125f - k * 1.428606765330187e-06f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}

static inline float gelu_fast(float x)
{
    float z = fabsf(x) * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float erfc_z = t * exp_nonpos(p - z * z);        /* erfc(|x| / sqrt 2) */
    float phi2 = x >= 0.0f ? 2.0f - erfc_z : erfc_z; /* 2 Phi(x) */
    return 0.5f * x * phi2;
}

void common_gelu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = gelu_fast(x[i]);
}

void common_bias_gelu(float *h, const float *b, size_t n_tokens, size_t width)
{
    for (size_t t = 0; t < n_tokens; t++) {
        float *row = h + t * width;
        if (b) {
            for (size_t f = 0; f < width; f++)
                row[f] = gelu_fast(row[f] + b[f]);
        } else {
            for (size_t f = 0; f < width; f++)
                row[f] = gelu_fast(row[f]);
        }
    }
}
