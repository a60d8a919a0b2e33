/* check_ultramem.c - impls/ultramem against its plain-loop references: the
 * filtered reference (forward_ref), the exact filter-free top-m
 * (ultramem_forward_exact), recall, the merged variant, exact stats,
 * determinism by seed, the SVD helper, knob refusal, and the
 * near-tie guard (ultramem.h, "Near ties") under stress and on constructed
 * exact and near ties.
 *
 * Tolerances: outputs are compared relative to max(1, max |y_ref|) at 1e-4,
 * the harness's own check; forward and reference sum the same products in
 * different orders (sgemm vs loops), a few ulp per dot product. Selections
 * are compared exactly: the near-tie guard makes forward pick what
 * forward_ref picks even where two scores are a few ulp apart, and a head it
 * recomputes gets forward_ref's per-core scores to the bit.
 *
 * dtype=bf16|f16 (ultramem.h, "dtype") keeps the 1e-4: both paths read the
 * same stored table elements, widened exactly, and add score x element the
 * same way; only the projection's sum order differs, as at f32. Against the
 * f32 layer of the same seed (same selection: it never reads the tables) y
 * differs by the tables' rounding, 2^-9 (bf16) or 2^-12 (f16) of each
 * element at most; the hits add with signed scores, so y's relative error
 * stays near one element's (measured: 2^-9.0..2^-9.4 and 2^-12.2..2^-12.3 of
 * max |y| over the cases below); allowed 2^-7 and 2^-10, 4x that.
 */
#include "test_util.h"
#include "../impls/ultramem/ultramem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t token_counts[] = {1, 4, 64};

/* D = 64 and a grid big enough that the filter keeps few of n' rows:
 * n = 64, E = 4 -> n' = 128, m = 16. */
#define SMALL "n_keys=64,topm=16"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double rel_diff(const float *y, const float *yr, size_t n)
{
    double scale = tu_max_abs(yr, n);
    return tu_max_abs_diff(y, yr, n) / (scale > 1 ? scale : 1);
}

/* forward's selection of token t, head hd equals the reference's (as sets). */
static void assert_same_selection(struct ultramem *u, const float *x, size_t T, int exact)
{
    uint32_t *want = calloc(u->H * u->m, sizeof(*want)), *got = calloc(u->m, sizeof(*got));
    for (size_t t = 0; t < T; t++) {
        memcpy(want, ultramem_ref_select(u, x + t * u->D, exact), u->H * u->m * sizeof(*want));
        for (size_t hd = 0; hd < u->H; hd++) {
            memcpy(got, u->sel + (t * u->H + hd) * u->m, u->m * sizeof(*got));
            qsort(got, u->m, sizeof(*got), cmp_u32);
            qsort(want + hd * u->m, u->m, sizeof(*want), cmp_u32);
            ck_assert_msg(memcmp(got, want + hd * u->m, u->m * sizeof(*got)) == 0,
                          "token %zu head %zu: forward selected other values than the %s", t, hd,
                          exact ? "exact top-m" : "filtered reference");
        }
    }
    free(want);
    free(got);
}

/* r = 1, h = 1, signed filter: C = c u v^T exactly, so top-ms and bottom-ms
 * of each side contain every pair of the exact top-m. */
START_TEST(test_rank1_signed_is_exact)
{
    size_t T = token_counts[_i];
    struct layer *l =
        tu_create("ultramem", 64, 4, SMALL ",tucker_rank=1,cores=1,filter=signed", 3, 64);
    struct ultramem *u = (struct ultramem *)l;
    float *x = tu_tokens(T, 64, 9), *y = tu_zeros(T * 64), *ye = tu_zeros(T * 64);
    float *yr = tu_zeros(T * 64);
    struct layer_stats st;
    double recall = 0;
    ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
    assert_same_selection(u, x, T, 1);
    ck_assert_int_eq(ultramem_forward_exact(l, x, ye, T), 0);
    ck_assert_int_eq(l->ops->forward_ref(l, x, yr, T), 0);
    ck_assert_double_le(rel_diff(y, ye, T * 64), 1e-4);
    ck_assert_double_le(rel_diff(y, yr, T * 64), 1e-4);
    ck_assert_int_eq(l->ops->recall(l, x, T, &recall), 0);
    ck_assert_double_eq(recall, 1.0);
    layer_destroy(l);
    free(x);
    free(y);
    free(ye);
    free(yr);
}
END_TEST

/* The v1 code's filter (top-m of a and b only) is not exact even at r = 1:
 * a bilinear score is also large where a and b are both very negative.
 * forward still equals its filtered reference; recall says how much of the
 * exact top-m it finds. Fails if the default filter silently changes. */
START_TEST(test_rank1_top_filter_matches_ref_not_exact)
{
    size_t T = token_counts[_i];
    struct layer *l = tu_create("ultramem", 64, 4, SMALL ",tucker_rank=1,cores=1", 3, 64);
    struct ultramem *u = (struct ultramem *)l;
    float *x = tu_tokens(T, 64, 9), *y = tu_zeros(T * 64), *yr = tu_zeros(T * 64);
    struct layer_stats st;
    double recall = 0;
    ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
    assert_same_selection(u, x, T, 0);
    ck_assert_int_eq(l->ops->forward_ref(l, x, yr, T), 0);
    ck_assert_double_le(rel_diff(y, yr, T * 64), 1e-4);
    ck_assert_int_eq(l->ops->recall(l, x, T, &recall), 0);
    fprintf(stderr, "ultramem r=1 h=1 filter=top T=%zu: recall %.3f (seed 3)\n", T, recall);
    ck_assert_double_lt(recall, 0.9);
    layer_destroy(l);
    free(x);
    free(y);
    free(yr);
}
END_TEST

/* Defaults r = 2, h = 2 on random weights, seed 3, 64 tokens. */
START_TEST(test_recall_defaults)
{
    const size_t T = 64;
    float *x = tu_tokens(T, 64, 5);
    double rec_top = 0, rec_signed = 0;
    struct layer *l = tu_create("ultramem", 64, 4, SMALL, 3, T);
    ck_assert_int_eq(l->ops->recall(l, x, T, &rec_top), 0);
    layer_destroy(l);
    l = tu_create("ultramem", 64, 4, SMALL ",filter=signed", 3, T);
    ck_assert_int_eq(l->ops->recall(l, x, T, &rec_signed), 0);
    layer_destroy(l);
    fprintf(stderr, "ultramem r=2 h=2 n'=128 m=16 seed 3: recall filter=top %.3f, signed %.3f\n",
            rec_top, rec_signed);
    ck_assert_double_ge(rec_signed, 0.9);
    ck_assert_double_gt(rec_top, 0.2);
    free(x);
}
END_TEST

START_TEST(test_matches_ref_defaults)
{
    const char *knobs[] = {"",
                           "filter=signed",
                           "expand=9,tucker_rank=3,cores=4,heads=1",
                           "expand=1,topm=200",
                           SMALL ",filter=signed,tucker_rank=4",
                           "small_gemm=0",
                           "small_gemm=128,key_dim=20"};
    for (size_t k = 0; k < sizeof(knobs) / sizeof(knobs[0]); k++) {
        struct layer *l = tu_create("ultramem", 64, 4, knobs[k], 2, 64);
        double err = tu_forward_vs_ref(l, 64, token_counts[_i], 17, NULL);
        ck_assert_msg(err <= 1e-4, "knobs '%s' T=%zu: relative error %.3g", knobs[k],
                      token_counts[_i], err);
        layer_destroy(l);
    }
}
END_TEST

START_TEST(test_merged_equals_unmerged)
{
    const size_t T = 16;
    const char *knobs[] = {"", "filter=signed,cores=4,expand=9"};
    float *x = tu_tokens(T, 64, 21), *y = tu_zeros(T * 64), *ym = tu_zeros(T * 64);
    struct layer_stats st;
    for (int k = 0; k < 2; k++) {
        struct layer *a = tu_create("ultramem", 64, 4, knobs[k], 4, T);
        struct layer *b = tu_create("ultramem-merged", 64, 4, knobs[k], 4, T);
        ck_assert_int_eq(a->ops->forward(a, x, y, T, &st), 0);
        ck_assert_int_eq(b->ops->forward(b, x, ym, T, &st), 0);
        ck_assert_msg(rel_diff(ym, y, T * 64) <= 1e-4, "knobs '%s': merged differs by %.3g",
                      knobs[k], rel_diff(ym, y, T * 64));
        ck_assert_double_le(tu_forward_vs_ref(b, 64, T, 22, NULL), 1e-4);
        layer_destroy(a);
        layer_destroy(b);
    }
    free(x);
    free(y);
    free(ym);
}
END_TEST

static void assert_regions(struct layer *a, struct layer *b, int equal)
{
    struct layer_info ia, ib;
    a->ops->describe(a, &ia);
    b->ops->describe(b, &ib);
    ck_assert_int_eq(ia.n_regions, ib.n_regions);
    for (int i = 0; i < ia.n_regions; i++) {
        ck_assert_uint_eq(ia.regions[i].bytes, ib.regions[i].bytes);
        int same = memcmp(ia.regions[i].base, ib.regions[i].base, ia.regions[i].bytes) == 0;
        ck_assert_msg(same == equal, "region %d: %s", i,
                      equal ? "differs for the same seed" : "equal for another seed");
    }
}

START_TEST(test_weights_and_shuffle_by_seed)
{
    struct layer *a = tu_create("ultramem", 64, 4, "", 7, 4);
    struct layer *b = tu_create("ultramem", 64, 4, "", 7, 4);
    struct layer *c = tu_create("ultramem", 64, 4, "", 8, 4);
    struct ultramem *u = (struct ultramem *)a;
    assert_regions(a, b, 1);
    assert_regions(a, c, 0);
    /* the shuffle is a permutation of the E N virtual values */
    size_t V = u->E * u->N;
    uint8_t *seen = calloc(V, 1);
    for (size_t i = 0; i < V; i++) {
        ck_assert_uint_lt(u->shuffle[i], V);
        ck_assert_msg(!seen[u->shuffle[i]], "shuffle repeats %u", u->shuffle[i]);
        seen[u->shuffle[i]] = 1;
    }
    free(seen);
    /* the thread count does not change the weights */
    const struct layer_ops *ops = layer_find("ultramem");
    struct layer_config cfg = {64, 4, 7, 2, 4, "", NULL};
    struct layer *d;
    char err[256];
    ck_assert_int_eq(layer_create(ops, &cfg, &d, err, sizeof(err)), 0);
    assert_regions(a, d, 1);
    layer_destroy(a);
    layer_destroy(b);
    layer_destroy(c);
    layer_destroy(d);
}
END_TEST

/* Distinct physical (or folded) rows of forward's own selections (u->sel):
 * that the selections equal the reference's is tested above. */
static uint64_t forward_units(const struct ultramem *u, size_t T)
{
    uint8_t *seen = calloc(u->n_units, 1);
    uint64_t n = 0;
    for (size_t k = 0; k < T * u->H * u->m; k++) {
        uint32_t unit = u->shuffle[u->sel[k]];
        unit = u->merged ? unit : unit % (uint32_t)u->N;
        n += !seen[unit];
        seen[unit] = 1;
    }
    free(seen);
    return n;
}

/* Multiply-adds of a forward over T tokens with filter=top, near ties
 * aside: the query and key scores; per head the rank-1 filter, the ms^2
 * candidate totals (r^2 per kept row, r per pair), the near-tie bound (r
 * per kept row and column) and the m winners' per-core scores; the gather
 * and, unmerged, the projection. */
static uint64_t expected_macs(const struct ultramem *u, uint64_t T)
{
    uint64_t D = u->D, Dk = u->Dk, Dv = u->Dv, H = u->H, np = u->np, r = u->r, h = u->h;
    uint64_t m = u->m, ms = u->ms, E = u->E;
    uint64_t per_head = 2 * np * r + ms * r * r + ms * ms * r + 2 * ms * r + m * h * (r * r + r);
    uint64_t macs = T * (2 * Dk * D + 2 * H * np * r * Dk) + T * H * per_head;
    return macs + (u->merged ? T * H * m * h * D : T * H * m * Dv + T * E * Dv * D);
}

/* T = 130: tokens share rows, so units_touched < T H m. */
START_TEST(test_stats_exact)
{
    const size_t T = _i ? 130 : 9, D = 64;
    for (int merged = 0; merged < 2; merged++) {
        struct layer *l = tu_create(merged ? "ultramem-merged" : "ultramem", D, 4, SMALL, 1, T);
        struct ultramem *u = (struct ultramem *)l;
        size_t Dk = 16, Dv = 32, H = 2, np = 128, r = 2, h = 2, E = 4, m = 16, ms = 16;
        struct layer_stats st;
        ck_assert_uint_eq(u->Dk, Dk);
        ck_assert_uint_eq(u->Dv, Dv);
        ck_assert_uint_eq(u->np, np);
        ck_assert_uint_eq(u->m, m);
        ck_assert_uint_eq(u->ms, ms);
        tu_forward_vs_ref(l, D, T, 31, &st);
        uint64_t dense =
            2 * H * np * r * Dk + 2 * Dk * D + Dk + h * H * r * r + H * r * r + 2 * H * r;
        if (!merged)
            dense += D * E * Dv;
        ck_assert_uint_eq(st.flops, 2 * (expected_macs(u, T) + u->last_tie_macs));
        ck_assert_uint_eq(st.dense_bytes, 4 * dense);
        ck_assert_uint_eq(st.units_total, merged ? E * 64 * 64 : 64 * 64);
        ck_assert_uint_eq(st.units_touched, forward_units(u, T));
        ck_assert_uint_eq(st.sparse_bytes, st.units_touched * 4 * (merged ? h * D : Dv));
        layer_destroy(l);
    }
}
END_TEST

START_TEST(test_threads_agree)
{
    const size_t T = 33, D = 64;
    const struct layer_ops *ops = layer_find("ultramem");
    float *x = tu_tokens(T, D, 4), *y1 = tu_zeros(T * D), *y2 = tu_zeros(T * D);
    struct layer *l1, *l2;
    struct layer_config c1 = {D, 4, 5, 1, T, "", NULL}, c2 = {D, 4, 5, 2, T, "", NULL};
    char err[256];
    struct layer_stats s1, s2;
    ck_assert_int_eq(layer_create(ops, &c1, &l1, err, sizeof(err)), 0);
    ck_assert_int_eq(layer_create(ops, &c2, &l2, err, sizeof(err)), 0);
    for (size_t n = 1; n <= T; n += 32) {
        ck_assert_int_eq(l1->ops->forward(l1, x, y1, n, &s1), 0);
        ck_assert_int_eq(l2->ops->forward(l2, x, y2, n, &s2), 0);
        ck_assert_double_le(tu_max_abs_diff(y1, y2, n * D), 1e-5);
        ck_assert_uint_eq(s1.flops, s2.flops);
        ck_assert_uint_eq(s1.units_touched, s2.units_touched);
    }
    layer_destroy(l1);
    layer_destroy(l2);
    free(x);
    free(y1);
    free(y2);
}
END_TEST

static void expect_refusal(unsigned scale, const char *knobs, int code, const char *needle)
{
    char err[512];
    int rc = tu_create_fails("ultramem", 64, scale, knobs, err, sizeof(err));
    ck_assert_msg(rc == code, "knobs '%s': got %s, want %s (%s)", knobs, layer_strerror(rc),
                  layer_strerror(code), err);
    ck_assert_msg(strstr(err, needle) != NULL, "knobs '%s': message '%s' lacks '%s'", knobs, err,
                  needle);
}

START_TEST(test_bad_knobs)
{
    expect_refusal(4, "expand=3", LAYER_EKNOB, "expand=3 is not a perfect square");
    expect_refusal(4, "expand=8", LAYER_EKNOB, "expand=8");
    expect_refusal(4, "n_keys=4,expand=1,topm=17", LAYER_EKNOB, "topm=17 exceeds");
    expect_refusal(4, "value_dim=33", LAYER_EKNOB, "value_dim=33 is not divisible by cores=2");
    expect_refusal(4, "cores=3", LAYER_EKNOB, "cores=3");
    expect_refusal(4, "heads=3", LAYER_EKNOB, "heads=3");
    expect_refusal(4, "tucker_rank=5", LAYER_EKNOB, "tucker_rank=5");
    expect_refusal(4, "filter=best", LAYER_EKNOB, "filter=best");
    expect_refusal(4, "dtype=f64", LAYER_EKNOB, "dtype=f64");
    expect_refusal(1, "", LAYER_EUNSUPPORTED, "scale 1 leaves no memory");
    /* a 70 TB value table, a 549 GB folded one: refused before allocating */
    expect_refusal(4, "n_keys=16383,value_dim=65536", LAYER_ETOOBIG, "GiB");
    char err[512];
    ck_assert_int_eq(tu_create_fails("ultramem-merged", 64, 4, "n_keys=16383", err, sizeof(err)),
                     LAYER_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err, "ultramem-merged"));
    /* topm above n' but within n'^2 keeps every row and column */
    struct layer *l = tu_create("ultramem", 64, 1, "n_keys=4,expand=1,topm=16", 1, 4);
    ck_assert_double_le(tu_forward_vs_ref(l, 64, 4, 3, NULL), 1e-4);
    double recall;
    float *x = tu_tokens(4, 64, 3);
    ck_assert_int_eq(l->ops->recall(l, x, 4, &recall), 0);
    ck_assert_double_eq(recall, 1.0);
    free(x);
    layer_destroy(l);
}
END_TEST

START_TEST(test_resolved_knobs)
{
    struct layer *l = tu_create("ultramem", 64, 4, "", 1, 1);
    struct layer_info info;
    l->ops->describe(l, &info);
    /* n = round(sqrt(3 x 8 x 64^2 / 32)) = 55, n' = 110, m = min(80, 110) */
    ck_assert_str_eq(info.knobs, "heads=2,topm=80,tucker_rank=2,cores=2,expand=4,key_dim=16,"
                                 "value_dim=32,n_keys=55,filter=top,small_gemm=32,dtype=f32");
    ck_assert_uint_eq(info.params_total, 2 * 2 * 110 * 2 * 16 + 2 * 16 * 64 + 16 + 2 * 2 * 4 +
                                             55 * 55 * 32 + 64 * 4 * 32);
    layer_destroy(l);
}
END_TEST

/* ---- dtype=bf16|f16: narrow value (merged: folded) tables ---- */

/* Awkward sizes: D = 88 and Dv = 36 (core slices of 18) or 40 (slices of 10)
 * are not multiples of 16, T = 37 no multiple of anything. */
struct dtype_case {
    const char *impl, *dtype, *knobs;
    size_t d_model;
    int threads;
};

static const struct dtype_case dtype_cases[] = {
    {"ultramem", "bf16", "n_keys=24,topm=12,value_dim=36", 88, 1},
    {"ultramem", "f16", "n_keys=24,topm=12,value_dim=36", 88, 2},
    {"ultramem", "bf16", "n_keys=20,topm=10,expand=9,cores=4,value_dim=40,filter=signed", 64, 2},
    {"ultramem-merged", "bf16", "n_keys=24,topm=12,value_dim=36", 88, 2},
    {"ultramem-merged", "f16", "n_keys=20,topm=10,expand=9,cores=4,value_dim=40", 64, 1},
};
#define N_DTYPE_CASES (sizeof(dtype_cases) / sizeof(dtype_cases[0]))

static struct layer *create_dtype(const struct dtype_case *c, int f32, size_t max_tokens)
{
    char knobs[256];
    snprintf(knobs, sizeof(knobs), "%s,dtype=%s", c->knobs, f32 ? "f32" : c->dtype);
    return tu_create_threads(c->impl, c->d_model, 4, knobs, 3, max_tokens, c->threads);
}

START_TEST(test_dtype_matches_ref)
{
    const struct dtype_case *c = &dtype_cases[_i];
    const size_t tokens[] = {1, 5, 37};
    for (size_t k = 0; k < sizeof(tokens) / sizeof(tokens[0]); k++) {
        struct layer *l = create_dtype(c, 0, 64);
        struct layer_stats st;
        float *x = tu_tokens(tokens[k], c->d_model, 13);
        double err = tu_forward_vs_ref(l, c->d_model, tokens[k], 13, &st);
        ck_assert_msg(err <= 1e-4, "%s dtype=%s '%s' T=%zu: relative error %.3g", c->impl, c->dtype,
                      c->knobs, tokens[k], err);
        assert_same_selection((struct ultramem *)l, x, tokens[k], 0);
        free(x);
        layer_destroy(l);
    }
}
END_TEST

/* The tensor (values or folded) the case narrows. */
static int narrowed(const char *name)
{
    return strcmp(name, "values") == 0 || strcmp(name, "folded") == 0;
}

/* The narrow layer stores the f32 layer's table rounded (merged: the f32
 * fold rounded), every other tensor equal and fp32, its table region half
 * the bytes; it selects the same values, reads half the sparse bytes, and y
 * is the f32 one up to the rounding. */
START_TEST(test_dtype_rounds_f32)
{
    const struct dtype_case *c = &dtype_cases[_i];
    const size_t T = 37, D = c->d_model;
    enum layer_dtype dt = strcmp(c->dtype, "bf16") ? LAYER_F16 : LAYER_BF16;
    struct layer *a = create_dtype(c, 1, T), *b = create_dtype(c, 0, T);
    struct layer_param pa, pb;
    for (size_t i = 0; a->ops->param(a, i, &pa) == LAYER_OK; i++) {
        ck_assert_int_eq(b->ops->param(b, i, &pb), LAYER_OK);
        ck_assert_str_eq(pa.name, pb.name);
        size_t n = 1;
        for (int d = 0; d < pa.ndim; d++)
            n *= (size_t)pa.shape[d];
        ck_assert_int_eq(pa.dtype, LAYER_F32);
        ck_assert_int_eq(pb.dtype, narrowed(pa.name) ? dt : LAYER_F32);
        if (!narrowed(pa.name)) {
            ck_assert_msg(memcmp(pa.data, pb.data, n * sizeof(float)) == 0, "%s differs", pa.name);
            continue;
        }
        for (size_t e = 0; e < n; e++) {
            float f = ((const float *)pa.data)[e];
            uint16_t want = dt == LAYER_BF16 ? common_f32_to_bf16(f) : common_f32_to_f16(f);
            ck_assert_msg(((const uint16_t *)pb.data)[e] == want,
                          "%s[%zu] = 0x%04x, f32 %.9g rounds to 0x%04x", pa.name, e,
                          ((const uint16_t *)pb.data)[e], f, want);
        }
    }
    struct layer_info ia, ib;
    const struct ultramem *ub = (const struct ultramem *)b;
    const void *table = ub->merged ? ub->folded : ub->values;
    a->ops->describe(a, &ia);
    b->ops->describe(b, &ib);
    ck_assert_int_eq(ia.n_regions, ib.n_regions);
    for (int i = 0; i < ia.n_regions; i++)
        ck_assert_uint_eq(ib.regions[i].bytes * (ib.regions[i].base == table ? 2 : 1),
                          ia.regions[i].bytes);

    float *x = tu_tokens(T, D, 11), *ya = tu_zeros(T * D), *yb = tu_zeros(T * D);
    struct layer_stats sa, sb;
    ck_assert_int_eq(a->ops->forward(a, x, ya, T, &sa), 0);
    ck_assert_int_eq(b->ops->forward(b, x, yb, T, &sb), 0);
    const struct ultramem *ua = (const struct ultramem *)a;
    ck_assert(memcmp(ua->sel, ub->sel, T * ua->H * ua->m * sizeof(uint32_t)) == 0);
    ck_assert_uint_eq(sb.units_touched, sa.units_touched);
    ck_assert_uint_eq(2 * sb.sparse_bytes, sa.sparse_bytes);
    ck_assert_uint_eq(sb.dense_bytes, sa.dense_bytes);
    double tol = (dt == LAYER_BF16 ? 0x1p-7 : 0x1p-10) * tu_max_abs(ya, T * D);
    ck_assert_msg(tu_max_abs_diff(ya, yb, T * D) <= tol, "%s dtype=%s: |y - y_f32| = %.3g > %.3g",
                  c->impl, c->dtype, tu_max_abs_diff(ya, yb, T * D), tol);
    fprintf(stderr, "%s dtype=%s: max |y - y_f32| / max |y_f32| = 2^%.1f\n", c->impl, c->dtype,
            log2(tu_max_abs_diff(ya, yb, T * D) / tu_max_abs(ya, T * D)));
    free(x);
    free(ya);
    free(yb);
    layer_destroy(a);
    layer_destroy(b);
}
END_TEST

static void check_svd(const float *c, size_t r)
{
    float u[ULTRAMEM_MAX_RANK], v[ULTRAMEM_MAX_RANK], s, sum = 0, nu = 0, nv = 0;
    ultramem_svd_leading(c, r, u, v, &s);
    for (size_t i = 0; i < r; i++) {
        float cv = 0, ctu = 0;
        for (size_t k = 0; k < r; k++) {
            cv += c[i * r + k] * v[k];
            ctu += c[k * r + i] * u[k];
        }
        ck_assert_float_eq_tol(cv, s * u[i], 1e-5);
        ck_assert_float_eq_tol(ctu, s * v[i], 1e-5);
        sum += u[i];
        nu += u[i] * u[i];
        nv += v[i] * v[i];
    }
    ck_assert_float_eq_tol(nu, 1, 1e-5);
    ck_assert_float_eq_tol(nv, 1, 1e-5);
    ck_assert_float_ge(sum, 0);
    /* s is the largest gain: no random unit vector does better */
    struct common_rng rng;
    common_rng_seed(&rng, 1, 1);
    for (int t = 0; t < 200; t++) {
        float x[ULTRAMEM_MAX_RANK], n = 0, g = 0;
        common_rng_fill_normal(&rng, x, r, 1);
        for (size_t i = 0; i < r; i++)
            n += x[i] * x[i];
        for (size_t i = 0; i < r; i++) {
            float cx = 0;
            for (size_t k = 0; k < r; k++)
                cx += c[i * r + k] * x[k];
            g += cx * cx;
        }
        ck_assert_float_le(sqrtf(g / n), s * (1 + 1e-5f));
    }
}

START_TEST(test_svd_leading)
{
    const float diag[] = {3, 0, 0, 1}, mixed[] = {1, 2, 3, 4}, one[] = {0.7f};
    const float neg[] = {-1, -2, -3, -4};
    float u[2], v[2], s;
    ultramem_svd_leading(diag, 2, u, v, &s);
    ck_assert_float_eq_tol(s, 3, 1e-6);
    ck_assert_float_eq_tol(u[0], 1, 1e-6);
    ck_assert_float_eq_tol(v[0], 1, 1e-6);
    ultramem_svd_leading(mixed, 2, u, v, &s);
    ck_assert_float_eq_tol(s, 5.4649857f, 1e-5);
    check_svd(mixed, 2);
    check_svd(neg, 2);
    ultramem_svd_leading(one, 1, u, v, &s);
    ck_assert_float_eq_tol(s, 0.7f, 1e-7);
    ck_assert_float_eq(u[0], 1);
    ck_assert_float_eq(v[0], 1);
    struct common_rng rng;
    common_rng_seed(&rng, 3, 3);
    for (size_t r = 1; r <= ULTRAMEM_MAX_RANK; r++) {
        float c[ULTRAMEM_MAX_RANK * ULTRAMEM_MAX_RANK];
        for (int t = 0; t < 20; t++) {
            common_rng_fill_uniform(&rng, c, r * r, t % 2 ? -1.0f : 0.0f, 1.0f);
            check_svd(c, r);
        }
    }
}
END_TEST

/* ---- near ties ---- */

/* forward on T tokens, then forward_ref one token at a time: every (token,
 * head) must keep the same values and every token's y agree within 1e-4.
 * With scores set, every head must have been recomputed and hold
 * forward_ref's per-core scores to the bit. Returns the heads forward
 * recomputed. */
static uint64_t check_against_ref(struct layer *l, const float *x, size_t T, int scores,
                                  const char *what)
{
    struct ultramem *u = (struct ultramem *)l;
    size_t D = u->D, H = u->H, m = u->m, h = u->h, hm = H * m;
    float *y = tu_zeros(T * D), *yr = tu_zeros(D);
    uint32_t *got = calloc(m, sizeof(*got)), *want = calloc(m, sizeof(*want));
    struct layer_stats st;
    ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
    uint64_t n_exact = u->last_exact;
    if (scores)
        ck_assert_uint_eq(n_exact, T * H);
    for (size_t t = 0; t < T; t++) {
        ck_assert_int_eq(l->ops->forward_ref(l, x + t * D, yr, 1), 0);
        for (size_t hd = 0; hd < H; hd++) {
            const uint32_t *sel = u->sel + t * hm + hd * m, *ref = u->ref.vidx + hd * m;
            memcpy(got, sel, m * sizeof(*got));
            memcpy(want, ref, m * sizeof(*want));
            qsort(got, m, sizeof(*got), cmp_u32);
            qsort(want, m, sizeof(*want), cmp_u32);
            ck_assert_msg(memcmp(got, want, m * sizeof(*got)) == 0,
                          "%s: token %zu head %zu: forward kept other values than forward_ref",
                          what, t, hd);
            for (size_t k = 0; scores && k < m; k++) {
                size_t j = 0;
                while (ref[j] != sel[k])
                    j++;
                const float *fs = u->sel_score + (t * hm + hd * m + k) * h;
                const float *rs = u->ref.score + (hd * m + j) * h;
                ck_assert_msg(memcmp(fs, rs, h * sizeof(float)) == 0,
                              "%s: token %zu head %zu value %u: recomputed score %.9g, "
                              "forward_ref's %.9g",
                              what, t, hd, sel[k], fs[0], rs[0]);
            }
        }
        double err = rel_diff(y + t * D, yr, D);
        ck_assert_msg(err <= 1e-4, "%s: token %zu: relative error %.3g", what, t, err);
    }
    free(y);
    free(yr);
    free(got);
    free(want);
    return n_exact;
}

/* Near copies: key i of every head's given side becomes key (i mod groups)
 * scaled by 1 + (i / groups) 2^-22, so each group's keys score a few ulp
 * apart, below the two paths' rounding differences, and near ties crowd
 * every boundary. */
static void near_copies(struct ultramem *u, int side, size_t groups)
{
    size_t vec = u->r * u->Dk;
    for (size_t hd = 0; hd < u->H; hd++) {
        float *keys = u->keys + ((size_t)side * u->H + hd) * u->np * vec;
        for (size_t i = groups; i < u->np; i++)
            for (size_t e = 0; e < vec; e++)
                keys[i * vec + e] =
                    keys[(i % groups) * vec + e] * (1 + (float)(i / groups) * 0x1p-22f);
    }
    ultramem_init_tie_bounds(u);
}

/* 2,000 token-heads of random tokens on random keys, then 500 on near
 * copies (where, without the guard, forward and forward_ref disagree on
 * most heads): 24 groups per side put the row and column boundaries inside
 * groups and crowd the top-m with near-equal totals; then 2 groups of rows
 * make the kept rows 80 of 128 near copies that hold the best pairs, so the
 * recomputation keeps other rows than the fast pass. Both filters. */
#define STRESS_SIZE "n_keys=128,topm=80" /* D = 256: Dk 64, n' = 256, 6,400 candidates */

START_TEST(test_stress_matches_ref)
{
    const size_t T = 1000, T_copies = 250, D = 256;
    const char *knobs = _i ? STRESS_SIZE ",filter=signed" : STRESS_SIZE;
    float *x = tu_tokens(T, D, 41);
    struct layer *l = tu_create("ultramem", D, 4, knobs, 6, T);
    struct ultramem *u = (struct ultramem *)l;
    uint64_t n[3];
    n[0] = check_against_ref(l, x, T, 0, "random keys");
    near_copies(u, 0, 24);
    near_copies(u, 1, 24);
    n[1] = check_against_ref(l, x, T_copies, 0, "near copies, 24 groups");
    near_copies(u, 0, 2);
    n[2] = check_against_ref(l, x, T_copies, 0, "near copies, 2 row groups");
    fprintf(stderr,
            "ultramem %s: recomputed %llu of %zu token-heads (random keys), %llu and %llu of "
            "%zu (near copies)\n",
            knobs, (unsigned long long)n[0], T * u->H, (unsigned long long)n[1],
            (unsigned long long)n[2], T_copies * u->H);
    ck_assert_uint_gt(n[1], T_copies * u->H / 10);
    ck_assert_uint_gt(n[2], T_copies * u->H / 10);
    layer_destroy(l);
    free(x);
}
END_TEST

/* The 227m preset's retrieval (D 768, Dk 192, n' 1616, m 80), with a small
 * value table so the test stays light: 200 token-heads. */
START_TEST(test_stress_227m_like)
{
    const size_t T = 100, D = 768;
    float *x = tu_tokens(T, D, 43);
    struct layer *l = tu_create("ultramem", D, 12, "preset=227m,value_dim=8", 8, T);
    uint64_t n = check_against_ref(l, x, T, 0, "227m-like");
    fprintf(stderr, "ultramem 227m-like: %llu of %zu token-heads recomputed\n",
            (unsigned long long)n, 2 * T);
    layer_destroy(l);
    free(x);
}
END_TEST

/* Exact ties, built in: identical keys on one side of every head. _i = 0:
 * every column alike and m > n', so every row and column is kept and each
 * row's totals tie across all columns: the m-th total ties the (m+1)-th.
 * _i = 1: every row alike and m < n': the rank-1 row scores all tie at the
 * row boundary (and the totals across rows). Every head must be recomputed
 * and end with forward_ref's values and per-core scores, its work counted
 * in the flops. */
START_TEST(test_exact_ties)
{
    const size_t T = 8, D = 64;
    const char *knobs = _i ? "n_keys=32,topm=16" : "n_keys=16,expand=1,topm=100";
    float *x = tu_tokens(T, D, 45);
    struct layer *l = tu_create("ultramem", D, 4, knobs, 9, T);
    struct ultramem *u = (struct ultramem *)l;
    size_t vec = u->r * u->Dk, side = _i ? 0 : 1;
    struct layer_stats st;
    ck_assert(_i ? u->ms < u->np : u->ms == u->np && u->m % u->np != 0);
    for (size_t hd = 0; hd < u->H; hd++) {
        float *keys = u->keys + (side * u->H + hd) * u->np * vec;
        for (size_t i = 1; i < u->np; i++)
            memcpy(keys + i * vec, keys, vec * sizeof(float));
    }
    ultramem_init_tie_bounds(u);
    check_against_ref(l, x, T, 1, _i ? "identical rows" : "identical columns");
    float *y = tu_zeros(T * D);
    ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
    /* at least the reference's query per recomputed head, and nothing
     * uncounted beside the fast pass */
    ck_assert_uint_ge(u->last_tie_macs, u->last_exact * 2 * u->Dk * u->D);
    ck_assert_uint_eq(st.flops, 2 * (expected_macs(u, T) + u->last_tie_macs));
    layer_destroy(l);
    free(x);
    free(y);
}
END_TEST

static Suite *ultramem_suite(void)
{
    Suite *s = suite_create("ultramem");
    TCase *tc = tcase_create("ultramem");
    int n_counts = (int)(sizeof(token_counts) / sizeof(token_counts[0]));
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_rank1_signed_is_exact, 0, n_counts);
    tcase_add_loop_test(tc, test_rank1_top_filter_matches_ref_not_exact, 0, n_counts);
    tcase_add_test(tc, test_recall_defaults);
    tcase_add_loop_test(tc, test_matches_ref_defaults, 0, n_counts);
    tcase_add_test(tc, test_merged_equals_unmerged);
    tcase_add_test(tc, test_weights_and_shuffle_by_seed);
    tcase_add_loop_test(tc, test_stats_exact, 0, 2);
    tcase_add_test(tc, test_threads_agree);
    tcase_add_test(tc, test_bad_knobs);
    tcase_add_test(tc, test_resolved_knobs);
    tcase_add_test(tc, test_svd_leading);
    tcase_add_loop_test(tc, test_dtype_matches_ref, 0, N_DTYPE_CASES);
    tcase_add_loop_test(tc, test_dtype_rounds_f32, 0, N_DTYPE_CASES);
    tcase_add_loop_test(tc, test_stress_matches_ref, 0, 2);
    tcase_add_test(tc, test_stress_227m_like);
    tcase_add_loop_test(tc, test_exact_ties, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(ultramem_suite());
}
