/* check_dtype.c - impls/common/dtype.c and vec.h's narrow loads: fp32 ->
 * bf16 and f16 rounding against independent references (GCC's _Float16
 * conversion, which the x86 psABI rounds to nearest even; for bf16 the exact
 * nearest-even rule computed in double), every one of the 65536 narrow
 * values widened and narrowed back unchanged, the vector loads equal to the
 * scalar widening, and the dtype knob's parser. */
#include "test_util.h"
#include "../impls/common/common.h"
#include "../impls/common/vec.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

/* Floats that probe every rounding case: ties both ways, carries into the
 * exponent, the f16 overflow edge (65504, 65519.99, 65520), subnormals of
 * both types, zeros of both signs, infinities. */
static const float edge_cases[] = {
    0.0f,          -0.0f,      1.0f,          -1.0f,         1.00390625f, 1.005859375f,  65504.0f,
    65519.99f,     65520.0f,   -65520.0f,     6.1035156e-5f, 6.0e-8f,     2.9802322e-8f, 2.98e-8f,
    5.9604645e-8f, 1e-40f,     3.3895314e38f, 3.4028235e38f, INFINITY,    -INFINITY,     0.1f,
    -0.3f,         1.9999999f, 2049.0f,       2051.0f,       0.02f,
};

START_TEST(test_f16_matches_float16_cast)
{
    /* Every edge case, then 2^22 floats spread over every exponent. */
    size_t bad = 0;
    for (size_t i = 0; i < sizeof(edge_cases) / sizeof(edge_cases[0]) + (1u << 22); i++) {
        float f = i < sizeof(edge_cases) / sizeof(edge_cases[0])
                      ? edge_cases[i]
                      : from_bits((uint32_t)(i * 2654435761u) & 0xff7fffffu);
        if (isnan(f))
            continue;
        _Float16 h = (_Float16)f;
        uint16_t want;
        memcpy(&want, &h, sizeof(want));
        if (common_f32_to_f16(f) != want && bad++ < 5)
            fprintf(stderr, "f16(%a) = 0x%04x, _Float16 says 0x%04x\n", (double)f,
                    common_f32_to_f16(f), want);
    }
    ck_assert_msg(bad == 0, "%zu floats rounded to another f16 than GCC's _Float16", bad);
}
END_TEST

/* The bf16 nearest-even rule in double arithmetic, a different route from
 * dtype.c's integer trick: the two bf16 neighbours of f and the closer one. */
static float bf16_nearest_even(float f)
{
    uint32_t u = bits(f);
    float lo = from_bits(u & 0xffff0000u), hi = from_bits((u & 0xffff0000u) + 0x10000u);
    double dl = fabs((double)f - lo), dh = fabs((double)f - hi);
    if (dl < dh)
        return lo;
    if (dh < dl)
        return hi;
    return ((u >> 16) & 1u) ? hi : lo;
}

START_TEST(test_bf16_nearest_even)
{
    size_t bad = 0;
    for (size_t i = 0; i < sizeof(edge_cases) / sizeof(edge_cases[0]) + (1u << 22); i++) {
        float f = i < sizeof(edge_cases) / sizeof(edge_cases[0])
                      ? edge_cases[i]
                      : from_bits((uint32_t)(i * 2654435761u) & 0xff7fffffu);
        if (isnan(f) || isinf(f) || fabsf(f) > 3.38e38f) /* the top binade: hi is inf */
            continue;
        float got = common_bf16_to_f32(common_f32_to_bf16(f)), want = bf16_nearest_even(f);
        if (bits(got) != bits(want) && bad++ < 5)
            fprintf(stderr, "bf16(%a) = %a, nearest even is %a\n", (double)f, (double)got,
                    (double)want);
    }
    ck_assert_msg(bad == 0, "%zu floats rounded to a bf16 other than the nearest even one", bad);
    ck_assert(isinf(common_bf16_to_f32(common_f32_to_bf16(3.4028235e38f))));
    ck_assert(isnan(common_bf16_to_f32(common_f32_to_bf16(NAN))));
    ck_assert(isnan(common_f16_to_f32(common_f32_to_f16(NAN))));
}
END_TEST

START_TEST(test_every_narrow_value_round_trips)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float b = common_bf16_to_f32((uint16_t)h), f = common_f16_to_f32((uint16_t)h);
        if (!isnan(b))
            ck_assert_uint_eq(common_f32_to_bf16(b), h);
        if (!isnan(f))
            ck_assert_uint_eq(common_f32_to_f16(f), h);
        _Float16 ref; /* the f16 widening against GCC's too */
        uint16_t hh = (uint16_t)h;
        memcpy(&ref, &hh, sizeof(ref));
        if (!isnan(f))
            ck_assert_uint_eq(bits(f), bits((float)ref));
    }
}
END_TEST

START_TEST(test_vector_loads_equal_scalar)
{
    uint16_t h[COMMON_VL];
    for (uint32_t base = 0; base < 65536; base += COMMON_VL) {
        for (int i = 0; i < COMMON_VL; i++)
            h[i] = (uint16_t)(base + (uint32_t)i);
        common_vec vb = common_vec_load_dt(LAYER_BF16, h, 0);
        common_vec vf = common_vec_load_dt(LAYER_F16, h, 0);
        for (int i = 0; i < COMMON_VL; i++) {
            ck_assert_uint_eq(bits(vb[i]), bits(common_bf16_to_f32(h[i])));
            ck_assert_uint_eq(bits(vf[i]), bits(common_f16_to_f32(h[i])));
        }
    }
}
END_TEST

/* The typed dot and axpy against plain loops on the widened weights, at
 * lengths that leave every kind of tail; at f32 the dot is common_vec_dot
 * bit for bit (fff relies on that to route alike). */
START_TEST(test_dot_axpy_dt)
{
    enum { N = 1000 };
    float w[N], x[N], y[N], want[N];
    uint16_t wb[N], wh[N];
    for (int i = 0; i < N; i++) {
        w[i] = (float)sin(i * 0.37) * 0.5f;
        x[i] = (float)cos(i * 0.11);
        wb[i] = common_f32_to_bf16(w[i]);
        wh[i] = common_f32_to_f16(w[i]);
    }
    static const size_t lens[] = {1, 15, 16, 17, 63, 64, 65, 768, 1000};
    for (size_t c = 0; c < sizeof(lens) / sizeof(lens[0]); c++) {
        size_t n = lens[c];
        ck_assert_uint_eq(bits(common_vec_dot_dt(LAYER_F32, w, x, n)),
                          bits(common_vec_dot(w, x, n)));
        const void *ws[2] = {wb, wh};
        enum layer_dtype dts[2] = {LAYER_BF16, LAYER_F16};
        for (int d = 0; d < 2; d++) {
            double ref = 0, mag = 0;
            for (size_t i = 0; i < n; i++) {
                ref += (double)common_dtype_at(dts[d], ws[d], i) * x[i];
                mag += fabs((double)common_dtype_at(dts[d], ws[d], i) * x[i]);
            }
            /* fp32 sums of n products in another order: n ulps of the magnitude */
            double got = common_vec_dot_dt(dts[d], ws[d], x, n);
            ck_assert_msg(fabs(got - ref) <= 1e-6 * (double)n * fmax(mag, 1e-30),
                          "%s dot n=%zu: %g vs %g", common_dtype_name(dts[d]), n, got, ref);
            for (size_t i = 0; i < n; i++)
                y[i] = want[i] = (float)i;
            common_vec_axpy_dt(dts[d], y, 0.75f, ws[d], n, 0);
            for (size_t i = 0; i < n; i++)
                want[i] += 0.75f * common_dtype_at(dts[d], ws[d], i);
            /* one fused vs two roundings per element: 1 ulp */
            ck_assert(tu_max_abs_diff(y, want, n) <= 1e-6 * (double)(n + 1));
        }
    }
}
END_TEST

START_TEST(test_dtype_knob)
{
    enum layer_dtype dt = LAYER_F32;
    char err[256] = "";
    ck_assert_int_eq(common_dtype_parse("moe", "bf16", &dt, err, sizeof(err)), 0);
    ck_assert_int_eq(dt, LAYER_BF16);
    ck_assert_int_eq(common_dtype_parse("moe", "f16", &dt, err, sizeof(err)), 0);
    ck_assert_int_eq(dt, LAYER_F16);
    ck_assert_int_eq(common_dtype_parse("moe", "f32", &dt, err, sizeof(err)), 0);
    ck_assert_int_eq(dt, LAYER_F32);
    ck_assert_int_eq(common_dtype_parse("moe", "fp16", &dt, err, sizeof(err)), LAYER_EKNOB);
    ck_assert_msg(strstr(err, "dtype=fp16") && strstr(err, "bf16"), "message: %s", err);
    ck_assert_uint_eq(common_dtype_size(LAYER_BF16), 2);
    ck_assert_uint_eq(common_dtype_size(LAYER_F32), 4);
    float v[3] = {0.1f, 70000.0f, -2.0f};
    uint16_t n[3];
    common_dtype_narrow(LAYER_F16, n, v, 3);
    ck_assert(isinf(common_f16_to_f32(n[1])));
    float back[3];
    common_dtype_widen(LAYER_F16, back, n, 3);
    ck_assert_float_eq(back[2], -2.0f);
    ck_assert_float_eq(back[0], common_dtype_round(LAYER_F16, 0.1f));
}
END_TEST

static Suite *dtype_suite(void)
{
    Suite *s = suite_create("dtype");
    TCase *tc = tcase_create("dtype");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_f16_matches_float16_cast);
    tcase_add_test(tc, test_bf16_nearest_even);
    tcase_add_test(tc, test_every_narrow_value_round_trips);
    tcase_add_test(tc, test_vector_loads_equal_scalar);
    tcase_add_test(tc, test_dot_axpy_dt);
    tcase_add_test(tc, test_dtype_knob);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(dtype_suite());
}
