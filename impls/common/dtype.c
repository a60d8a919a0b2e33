/* dtype.c - the narrow parameter types of the `dtype` knob (layer.h's enum
 * layer_dtype): parsing the knob, rounding fp32 to bf16 and IEEE f16 (round
 * to nearest even, as PyTorch's .to(torch.bfloat16) and numpy's astype
 * float16 do), and widening back. Widening is exact for both types, so a
 * kernel that widens on load and accumulates in fp32 computes the same
 * function as the plain-loop reference reading the same stored elements.
 * Scalar and portable; the vector loads the kernels use live in vec.h.
 */
#include "common.h"
#include "../layer.h"

#include <stdio.h>
#include <string.h>

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

uint16_t common_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it a (quiet) NaN */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float common_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

/* IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
uint16_t common_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN */
        return (uint16_t)(sign | 0x7e00u);
    if (a >= 0x477ff000u) /* >= 65520 rounds past the largest f16, 65504: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {   /* below 2^-14: an f16 subnormal (or zero) */
        if (a < 0x33000000u) /* below half the smallest subnormal, 2^-25: zero */
            return sign;
        uint32_t exp = a >> 23;
        uint32_t mant = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - exp; /* 14..24: puts the 2^-24 unit at bit 0 */
        uint32_t q = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    /* Normal: rebias the exponent (127 -> 15) and round off 13 mantissa bits;
     * a carry out of the mantissa correctly bumps the exponent. */
    uint32_t r = a - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

float common_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) /* infinity, or a NaN made quiet as vcvtph2ps makes it */
        return bits_f32(sign | 0x7f800000u | ((mant ? mant | 0x200u : 0) << 13));
    if (exp != 0)
        return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
    /* zero or subnormal: mant x 2^-24, exact in fp32 */
    float v = (float)mant * 0x1p-24f;
    return sign ? -v : v;
}

size_t common_dtype_size(enum layer_dtype dt)
{
    return dt == LAYER_F32 ? 4 : 2;
}

const char *common_dtype_name(enum layer_dtype dt)
{
    switch (dt) {
    case LAYER_BF16:
        return "bf16";
    case LAYER_F16:
        return "f16";
    case LAYER_F32:
        break;
    }
    return "f32";
}

int common_dtype_parse(const char *family, const char *value, enum layer_dtype *dt, char *err,
                       size_t errlen)
{
    static const enum layer_dtype all[] = {LAYER_F32, LAYER_BF16, LAYER_F16};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(value, common_dtype_name(all[i])) == 0) {
            *dt = all[i];
            return 0;
        }
    snprintf(err, errlen, "%s: knob dtype=%s is not valid; allowed: f32, bf16, f16", family, value);
    return LAYER_EKNOB;
}

float common_dtype_round(enum layer_dtype dt, float f)
{
    switch (dt) {
    case LAYER_BF16:
        return common_bf16_to_f32(common_f32_to_bf16(f));
    case LAYER_F16:
        return common_f16_to_f32(common_f32_to_f16(f));
    case LAYER_F32:
        break;
    }
    return f;
}

void common_dtype_store(enum layer_dtype dt, void *dst, size_t i, float f)
{
    switch (dt) {
    case LAYER_BF16:
        ((uint16_t *)dst)[i] = common_f32_to_bf16(f);
        return;
    case LAYER_F16:
        ((uint16_t *)dst)[i] = common_f32_to_f16(f);
        return;
    case LAYER_F32:
        break;
    }
    ((float *)dst)[i] = f;
}

void common_dtype_narrow(enum layer_dtype dt, void *dst, const float *src, size_t n)
{
    if (dt == LAYER_F32) {
        if (dst != (const void *)src)
            memmove(dst, src, n * sizeof(float));
        return;
    }
    /* Front to back, so dst may alias src (the narrow copy is never longer). */
    for (size_t i = 0; i < n; i++)
        common_dtype_store(dt, dst, i, src[i]);
}

void common_dtype_widen(enum layer_dtype dt, float *dst, const void *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = common_dtype_at(dt, src, i);
}
