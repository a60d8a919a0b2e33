/* test_narrow.h - checks shared by the suites of families with a dtype
 * knob (issue 18): the narrow layer of a seed is the f32 layer rounded. */
#ifndef SPARSEBENCH_TEST_NARROW_H
#define SPARSEBENCH_TEST_NARROW_H

#include "../impls/layer.h"

#include <stddef.h>

/* Create impl twice with one seed, with knobs_f32 and with knobs_narrow,
 * and walk param(): the same names and shapes; every tensor of the narrow
 * layer stored as dt holds the f32 layer's values rounded to nearest even
 * (common_f32_to_bf16 / _f16), every other tensor is fp32 and bit-equal.
 * Returns the number of narrow tensors (the caller asserts how many). */
size_t tn_expect_rounded_params(const char *impl, size_t d_model, unsigned scale,
                                const char *knobs_f32, const char *knobs_narrow,
                                enum layer_dtype dt);

/* Bytes of the tensors param() lists, each at its dtype's element size. */
uint64_t tn_param_bytes(struct layer *l);

#endif
