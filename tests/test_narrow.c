/* test_narrow.c - see test_narrow.h. */
#include "test_narrow.h"
#include "test_util.h"
#include "../impls/common/common.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

static uint64_t elements(const struct layer_param *p)
{
    uint64_t n = 1;
    for (int d = 0; d < p->ndim; d++)
        n *= p->shape[d];
    return n;
}

uint64_t tn_param_bytes(struct layer *l)
{
    uint64_t bytes = 0;
    struct layer_param p;
    for (size_t i = 0; l->ops->param(l, i, &p) == LAYER_OK; i++)
        bytes += elements(&p) * common_dtype_size(p.dtype);
    return bytes;
}

/* Element j of the narrow tensor b against f32 tensor a, rounded. */
static void expect_rounded(const struct layer_param *a, const struct layer_param *b,
                           enum layer_dtype dt)
{
    const float *fa = a->data;
    const uint16_t *hb = b->data;
    uint64_t n = elements(a);
    for (uint64_t j = 0; j < n; j++) {
        uint16_t want = dt == LAYER_BF16 ? common_f32_to_bf16(fa[j]) : common_f32_to_f16(fa[j]);
        ck_assert_msg(hb[j] == want,
                      "%s[%llu]: stored 0x%04x, the f32 layer's %.9g rounds to 0x%04x", b->name,
                      (unsigned long long)j, hb[j], (double)fa[j], want);
    }
}

size_t tn_expect_rounded_params(const char *impl, size_t d_model, unsigned scale,
                                const char *knobs_f32, const char *knobs_narrow,
                                enum layer_dtype dt)
{
    struct layer *a = tu_create(impl, d_model, scale, knobs_f32, 5, 4);
    struct layer *b = tu_create(impl, d_model, scale, knobs_narrow, 5, 4);
    size_t narrow = 0;
    for (size_t i = 0;; i++) {
        struct layer_param pa, pb;
        int ra = a->ops->param(a, i, &pa), rb = b->ops->param(b, i, &pb);
        ck_assert_int_eq(ra, rb);
        if (ra != LAYER_OK)
            break;
        ck_assert_str_eq(pa.name, pb.name);
        ck_assert_int_eq(pa.ndim, pb.ndim);
        for (int d = 0; d < pa.ndim; d++)
            ck_assert_uint_eq(pa.shape[d], pb.shape[d]);
        ck_assert_int_eq(pa.dtype, LAYER_F32);
        if (pb.dtype == LAYER_F32) {
            ck_assert_msg(memcmp(pa.data, pb.data, elements(&pa) * sizeof(float)) == 0,
                          "%s: an fp32 tensor of the %s layer differs from the f32 layer's",
                          pa.name, knobs_narrow);
            continue;
        }
        ck_assert_int_eq(pb.dtype, dt);
        expect_rounded(&pa, &pb, dt);
        narrow++;
    }
    layer_destroy(a);
    layer_destroy(b);
    return narrow;
}
