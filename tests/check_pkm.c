/* check_pkm.c - impls/pkm against its brute-force reference: the same keys
 * selected, the same outputs, softmax weights that sum to one, exact stats,
 * and refusal of bad knobs.
 *
 * Tolerances: outputs within 1e-4 of the reference relative to max(1, |y|)
 * (the harness's own check); softmax weights within 1e-5 of the reference's
 * and their sums within 1e-5 of 1 (fp32 exp and sums of <= 32 terms of at
 * most 1 are good to a few 1e-7). Selected indices must be identical: the
 * two paths rank the same fp32 sums of half scores whose queries differ only
 * by rounding (~1e-7), so a flip needs two of the top-k + 1 scores within
 * that distance, which these fixed seeds do not produce; a mismatch prints
 * both scores so a true near-tie would be recognisable.
 *
 * dtype=bf16|f16 (pkm.h, "dtype") keeps the 1e-4: forward and forward_ref
 * read the same stored elements, widened exactly, so only the fp32 sum
 * orders differ, as at f32. Against the f32 layer of the same seed (same
 * selection: it never reads the values) y differs by the table's rounding,
 * 2^-9 (bf16) or 2^-12 (f16) of each element at most, mixed by softmax
 * weights (measured: 2^-9.1 and 2^-12.2..2^-12.3 of max |y| over the cases below);
 * allowed 2^-7 and 2^-10, 4x that.
 */
#include "test_util.h"
#include "../impls/common/common.h"
#include "../impls/pkm/pkm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t token_counts[] = {1, 5, 64};

struct pkm_case {
    size_t d_model;
    unsigned scale;
    const char *knobs;
    int threads;
};

/* Defaults at the contract size (n = 39); a small odd shape on two threads;
 * no BatchNorm; the scores by OpenBLAS only, and by the own kernel at every
 * T (key_dim/2 = 20: a vector and a tail; n = 21: a partial block of rows). */
static const struct pkm_case cases[] = {
    {64, 4, "", 1},
    {48, 2, "n_keys=50,heads=3,topk=8,key_dim=24", 2},
    {40, 2, "n_keys=20,heads=2,topk=5,key_dim=16,batchnorm=0", 1},
    {64, 4, "small_gemm=0", 1},
    {40, 2, "n_keys=21,heads=2,topk=6,key_dim=40,small_gemm=128", 2},
};

static struct layer *create_threads(const struct pkm_case *c, size_t max_tokens, uint64_t seed)
{
    return tu_create_threads("pkm", c->d_model, c->scale, c->knobs, seed, max_tokens, c->threads);
}

/* The k picks of one (token, head), by index. */
static void sort_by_index(const struct pkm_pick *picks, const float *w, size_t k, uint32_t *idx,
                          float *wt)
{
    for (size_t i = 0; i < k; i++) {
        size_t j = i;
        for (; j > 0 && idx[j - 1] > picks[i].idx; j--) {
            idx[j] = idx[j - 1];
            wt[j] = wt[j - 1];
        }
        idx[j] = picks[i].idx;
        wt[j] = w[i];
    }
}

/* Same selected keys, same weights per key, weights summing to one. Only the
 * set decides y; within it the two paths may order keys whose scores are a
 * rounding apart differently. */
static void check_selection(struct layer *l, size_t T, const char *what)
{
    struct pkm_selection opt, ref;
    pkm_last_selection(l, 0, &opt);
    pkm_last_selection(l, 1, &ref);
    size_t H = opt.heads, K = opt.topk;
    uint32_t *io = malloc(K * sizeof(*io)), *ir = malloc(K * sizeof(*ir));
    float *wo = malloc(K * sizeof(*wo)), *wr = malloc(K * sizeof(*wr));
    for (size_t th = 0; th < T * H; th++) {
        const struct pkm_pick *po = opt.picks + th * K, *pr = ref.picks + th * K;
        sort_by_index(po, opt.w + th * K, K, io, wo);
        sort_by_index(pr, ref.w + th * K, K, ir, wr);
        double sum_o = 0, sum_r = 0;
        for (size_t s = 0; s < K; s++) {
            ck_assert_msg(io[s] == ir[s],
                          "%s T=%zu: token %zu head %zu: forward picked key %u, reference %u "
                          "(k-th scores: forward %.9g, reference %.9g)",
                          what, T, th / H, th % H, io[s], ir[s], po[K - 1].score, pr[K - 1].score);
            ck_assert_msg(fabs(wo[s] - wr[s]) <= 1e-5, "%s: weight %.9g vs %.9g", what, wo[s],
                          wr[s]);
            ck_assert_msg(s == 0 || opt.w[th * K + s] <= opt.w[th * K + s - 1],
                          "%s: weights not descending", what);
            sum_o += wo[s];
            sum_r += wr[s];
        }
        ck_assert_msg(fabs(sum_o - 1) <= 1e-5 && fabs(sum_r - 1) <= 1e-5,
                      "%s: softmax weights sum to %.9g (forward), %.9g (reference)", what, sum_o,
                      sum_r);
    }
    free(io);
    free(ir);
    free(wo);
    free(wr);
}

START_TEST(test_pkm_matches_ref)
{
    size_t T = token_counts[_i];
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct layer *l = create_threads(&cases[c], 64, 3 + c);
        double err = tu_forward_vs_ref(l, cases[c].d_model, T, 7 + c, NULL);
        ck_assert_msg(err <= 1e-4, "'%s' T=%zu: relative error %.3g", cases[c].knobs, T, err);
        check_selection(l, T, cases[c].knobs[0] ? cases[c].knobs : "defaults");
        layer_destroy(l);
    }
}
END_TEST

/* ---- dtype=bf16|f16: narrow value tables ---- */

/* Awkward sizes: D = 40 and 72 are not multiples of 16 (the vector tail),
 * 37 tokens no multiple of anything; the second case on two threads. */
struct dtype_case {
    const char *dtype;
    struct pkm_case shape;
};

static const struct dtype_case dtype_cases[] = {
    {"bf16", {40, 2, "n_keys=20,heads=2,topk=5,key_dim=16", 1}},
    {"f16", {40, 2, "n_keys=20,heads=2,topk=5,key_dim=16", 1}},
    {"bf16", {72, 2, "n_keys=30,heads=3,topk=7,key_dim=24,batchnorm=0", 2}},
    {"f16", {72, 2, "n_keys=30,heads=3,topk=7,key_dim=24,batchnorm=0", 2}},
};
#define N_DTYPE_CASES (sizeof(dtype_cases) / sizeof(dtype_cases[0]))

static const size_t dtype_tokens[] = {1, 5, 37};

/* The case's layer at its dtype, or (f32 = 1) at dtype=f32. */
static struct layer *create_dtype(const struct dtype_case *c, int f32, size_t max_tokens)
{
    char knobs[256];
    snprintf(knobs, sizeof(knobs), "%s,dtype=%s", c->shape.knobs, f32 ? "f32" : c->dtype);
    return tu_create_threads("pkm", c->shape.d_model, c->shape.scale, knobs, 5, max_tokens,
                             c->shape.threads);
}

START_TEST(test_pkm_dtype_matches_ref)
{
    const struct dtype_case *c = &dtype_cases[_i];
    for (size_t k = 0; k < sizeof(dtype_tokens) / sizeof(dtype_tokens[0]); k++) {
        struct layer *l = create_dtype(c, 0, 64);
        double err = tu_forward_vs_ref(l, c->shape.d_model, dtype_tokens[k], 9, NULL);
        ck_assert_msg(err <= 1e-4, "dtype=%s '%s' T=%zu: relative error %.3g", c->dtype,
                      c->shape.knobs, dtype_tokens[k], err);
        check_selection(l, dtype_tokens[k], c->dtype);
        layer_destroy(l);
    }
}
END_TEST

/* The narrow layer stores the f32 layer's values rounded, nothing else
 * changes, its table takes half the bytes, it selects the same keys (the
 * selection never reads the values) and reads half the sparse bytes, and
 * its output is the f32 one up to the rounding. */
START_TEST(test_pkm_dtype_rounds_f32)
{
    const struct dtype_case *c = &dtype_cases[_i];
    const size_t T = 37, D = c->shape.d_model;
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
        if (strcmp(pa.name, "values")) { /* every other tensor stays fp32, equal */
            ck_assert_int_eq(pb.dtype, LAYER_F32);
            ck_assert_msg(memcmp(pa.data, pb.data, n * sizeof(float)) == 0, "%s differs", pa.name);
            continue;
        }
        ck_assert_int_eq(pb.dtype, dt);
        for (size_t e = 0; e < n; e++) {
            float f = ((const float *)pa.data)[e];
            uint16_t want = dt == LAYER_BF16 ? common_f32_to_bf16(f) : common_f32_to_f16(f);
            ck_assert_msg(((const uint16_t *)pb.data)[e] == want,
                          "values[%zu] = 0x%04x, f32 %.9g rounds to 0x%04x", e,
                          ((const uint16_t *)pb.data)[e], f, want);
        }
    }
    struct layer_info ia, ib;
    a->ops->describe(a, &ia);
    b->ops->describe(b, &ib);
    ck_assert_uint_eq(ib.regions[0].bytes, ia.regions[0].bytes);
    ck_assert_uint_eq(2 * ib.regions[1].bytes, ia.regions[1].bytes);
    ck_assert_str_eq(strstr(ib.knobs, "dtype="), dt == LAYER_BF16 ? "dtype=bf16" : "dtype=f16");

    float *x = tu_tokens(T, D, 11), *ya = tu_zeros(T * D), *yb = tu_zeros(T * D);
    struct layer_stats sa, sb;
    ck_assert_int_eq(a->ops->forward(a, x, ya, T, &sa), 0);
    ck_assert_int_eq(b->ops->forward(b, x, yb, T, &sb), 0);
    struct pkm_selection la, lb;
    pkm_last_selection(a, 0, &la);
    pkm_last_selection(b, 0, &lb);
    for (size_t e = 0; e < T * la.heads * la.topk; e++)
        ck_assert_uint_eq(lb.picks[e].idx, la.picks[e].idx);
    ck_assert_uint_eq(sb.units_touched, sa.units_touched);
    ck_assert_uint_eq(2 * sb.sparse_bytes, sa.sparse_bytes);
    ck_assert_uint_eq(sb.dense_bytes, sa.dense_bytes);
    double tol = (dt == LAYER_BF16 ? 0x1p-7 : 0x1p-10) * tu_max_abs(ya, T * D);
    ck_assert_msg(tu_max_abs_diff(ya, yb, T * D) <= tol, "dtype=%s: |y - y_f32| = %.3g > %.3g",
                  c->dtype, tu_max_abs_diff(ya, yb, T * D), tol);
    fprintf(stderr, "pkm dtype=%s: max |y - y_f32| / max |y_f32| = 2^%.1f\n", c->dtype,
            log2(tu_max_abs_diff(ya, yb, T * D) / tu_max_abs(ya, T * D)));
    free(x);
    free(ya);
    free(yb);
    layer_destroy(a);
    layer_destroy(b);
}
END_TEST

/* ---- the selection kernel alone, against the n^2 brute force ---- */

static void check_select(const float *s1, const float *s2, size_t n, size_t k, const char *what)
{
    /* The scratch as forward lays it out: sized, then carved. */
    struct pkm_select_scratch sc;
    struct common_carve c = common_carve_plan(COMMON_ALIGN);
    pkm_select_layout(&sc, n, k, &c);
    ck_assert_int_eq(common_carve_alloc(&c, 1), 0);
    pkm_select_layout(&sc, n, k, &c);
    struct pkm_pick *got = malloc(k * sizeof(*got)), *want = malloc(k * sizeof(*want));
    pkm_select_head(s1, s2, n, k, &sc, got);
    pkm_ref_select_head(s1, s2, n, k, want);
    for (size_t i = 0; i < k; i++)
        ck_assert_msg(got[i].idx == want[i].idx && got[i].score == want[i].score,
                      "%s n=%zu k=%zu slot %zu: product top-k %u (%.9g), brute force %u (%.9g)",
                      what, n, k, i, got[i].idx, got[i].score, want[i].idx, want[i].score);
    free(got);
    free(want);
    common_carve_free(&c, 1);
}

START_TEST(test_pkm_select_exact)
{
    const size_t n = 40, ks[] = {1, 2, 7, 32, 40, 41, 100, 1600};
    float s1[40], s2[40];
    struct common_rng r;
    common_rng_seed(&r, 11, 1);
    for (int round = 0; round < 20; round++) {
        for (size_t k = 0; k < sizeof(ks) / sizeof(ks[0]); k++) {
            /* continuous scores */
            common_rng_fill_normal(&r, s1, n, 1);
            common_rng_fill_normal(&r, s2, n, 1);
            check_select(s1, s2, n, ks[k], "normal");
            /* exact ties everywhere (sums of quarters are exact): the index decides */
            for (size_t i = 0; i < n; i++) {
                s1[i] = 0.25f * (float)common_rng_below(&r, 4);
                s2[i] = 0.25f * (float)common_rng_below(&r, 4);
            }
            check_select(s1, s2, n, ks[k], "quarters");
            /* a few exact ties of sums whose halves differ: s1 then s2 decide */
            for (size_t i = 0; i < n; i++) {
                s1[i] = (float)common_rng_below(&r, 200) / 16;
                s2[i] = (float)common_rng_below(&r, 200) / 16;
            }
            check_select(s1, s2, n, ks[k], "sixteenths");
            /* distinct halves whose sums round to the same float: the rest of
             * the order (pkm.h) must keep the product top-k exact */
            for (size_t i = 0; i < n; i++) {
                s1[i] = ldexpf(1.0f, -20) * (float)common_rng_below(&r, 3);
                s2[i] = 1024.0f + (float)common_rng_below(&r, 3);
            }
            check_select(s1, s2, n, ks[k], "rounding ties (s2 large)");
            check_select(s2, s1, n, ks[k], "rounding ties (s1 large)");
        }
    }
}
END_TEST

START_TEST(test_pkm_candidate_count)
{
    const size_t ns[] = {1, 5, 40};
    for (int i = 0; i < 3; i++) {
        size_t n = ns[i];
        for (size_t k = 1; k <= n * n && k <= 80; k++) {
            size_t pairs = 0;
            for (size_t a = 1; a <= n; a++)
                for (size_t b = 1; b <= n; b++)
                    pairs += a * b <= k;
            ck_assert_uint_eq(pkm_candidate_count(k, n), pairs);
        }
    }
    ck_assert_uint_eq(pkm_candidate_count(32, 260), 119);
    ck_assert_uint_eq(pkm_candidate_count(33, 260), 123);
}
END_TEST

/* ---- stats ---- */

static uint64_t brute_unique(const struct pkm_selection *s, size_t T)
{
    size_t N = s->n_keys * s->n_keys, n = 0;
    char *seen = calloc(N, 1);
    for (size_t e = 0; e < T * s->heads * s->topk; e++) {
        n += !seen[s->picks[e].idx];
        seen[s->picks[e].idx] = 1;
    }
    free(seen);
    return n;
}

START_TEST(test_pkm_units_touched)
{
    const size_t D = 64, T = token_counts[_i];
    struct layer *l = tu_create("pkm", D, 4, "", 9, 64);
    struct layer_stats st;
    tu_forward_vs_ref(l, D, T, 21, &st);
    struct pkm_selection opt, ref;
    pkm_last_selection(l, 0, &opt);
    pkm_last_selection(l, 1, &ref);
    ck_assert_uint_eq(st.units_touched, brute_unique(&ref, T));
    ck_assert_uint_eq(st.units_touched, brute_unique(&opt, T));
    ck_assert_uint_eq(st.sparse_bytes, st.units_touched * D * sizeof(float));
    ck_assert_uint_eq(st.units_total, 39 * 39);
    layer_destroy(l);
}
END_TEST

START_TEST(test_pkm_stats_exact)
{
    const uint64_t D = 64, T = 9, H = 4, K = 32, dk = 256, n = 39;
    struct layer *l = tu_create("pkm", D, 4, "", 1, T);
    struct layer_stats st;
    tu_forward_vs_ref(l, D, T, 1, &st);
    struct pkm_selection sel;
    pkm_last_selection(l, 0, &sel);
    uint64_t query = 2 * T * D * H * dk, subkeys = 2 * T * H * n * dk;
    uint64_t sums = T * H * 123, norms = 2 * T * H * dk, values = 2 * T * H * K * D;
    uint64_t rescore = sel.n_exact * (2 * dk * D + 2 * n * dk + 119);
    ck_assert_uint_eq(st.flops, query + subkeys + sums + norms + rescore + values);
    ck_assert_uint_eq(st.dense_bytes, 4 * (H * dk * D + H * dk + H * n * dk));

    struct layer_info info;
    l->ops->describe(l, &info);
    ck_assert_str_eq(info.knobs,
                     "heads=4,topk=32,key_dim=256,n_keys=39,batchnorm=1,small_gemm=16,dtype=f32");
    ck_assert_str_eq(info.unit, "value");
    uint64_t qp = H * dk * D + H * dk + 4 * H * dk; /* Linear + BN's four vectors */
    ck_assert_uint_eq(info.params_total, qp + H * n * dk + n * n * D);
    ck_assert_uint_eq(info.params_active, qp + H * n * dk + H * K * D);
    ck_assert_int_eq(info.n_regions, 2);
    ck_assert_uint_eq(info.regions[1].bytes, 4 * n * n * D);
    layer_destroy(l);
}
END_TEST

/* n_keys = round(sqrt((s - 1) 8 D^2 / D)): the memory is (s - 1) dense FFNs. */
START_TEST(test_pkm_derived_n_keys)
{
    const unsigned scales[] = {2, 4, 12};
    const char *want[] = {"n_keys=23", "n_keys=39", "n_keys=75"};
    for (int i = 0; i < 3; i++) {
        struct layer *l = tu_create("pkm", 64, scales[i], "topk=8", 1, 1);
        struct layer_info info;
        l->ops->describe(l, &info);
        ck_assert_msg(strstr(info.knobs, want[i]) != NULL, "scale %u: %s", scales[i], info.knobs);
        layer_destroy(l);
    }
    struct layer *l = tu_create("pkm", 16, 1, "preset=xlm,topk=16", 1, 1);
    struct layer_info info;
    l->ops->describe(l, &info);
    ck_assert_str_eq(info.knobs,
                     "heads=4,topk=16,key_dim=256,n_keys=512,batchnorm=1,small_gemm=16,dtype=f32");
    layer_destroy(l);
}
END_TEST

START_TEST(test_pkm_bad_knobs)
{
    char err[512];
    ck_assert_int_eq(tu_create_fails("pkm", 64, 4, "topk=40", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_msg(strstr(err, "topk=40") && strstr(err, "n_keys=39"), "%s", err);
    ck_assert_int_eq(tu_create_fails("pkm", 16, 2, "", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_msg(strstr(err, "topk=32") && strstr(err, "n_keys=11"), "%s", err);
    ck_assert_int_eq(tu_create_fails("pkm", 64, 4, "key_dim=255", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_msg(strstr(err, "key_dim=255") && strstr(err, "even"), "%s", err);
    ck_assert_int_eq(tu_create_fails("pkm", 64, 4, "heads=0", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_msg(strstr(err, "heads=0") != NULL, "%s", err);
    ck_assert_int_eq(tu_create_fails("pkm", 64, 1, "", err, sizeof(err)), LAYER_EUNSUPPORTED);
    ck_assert_msg(strstr(err, "scale >= 2") && strstr(err, "n_keys=N"), "%s", err);
    ck_assert_int_eq(tu_create_fails("pkm", 64, 4, "batchnorm=2", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_int_eq(tu_create_fails("pkm", 64, 4, "preset=big", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_msg(strstr(err, "xlm") != NULL, "%s", err);
    ck_assert_int_eq(tu_create_fails("pkm", 64, 4, "dtype=fp8", err, sizeof(err)), LAYER_EKNOB);
    ck_assert_msg(strstr(err, "dtype=fp8") && strstr(err, "bf16"), "%s", err);
    /* scale 1 is fine once the memory size is given */
    layer_destroy(tu_create("pkm", 16, 1, "n_keys=10,topk=4", 1, 1));
}
END_TEST

/* Tokens with a near tie at the top-k boundary, found with the reference's
 * own scoring: there forward's fp32 scores (~1e-6 off the reference's) could
 * pick the other key of the tie (a few percent of such heads do), unless
 * forward rescores the head as the reference does (pkm.h). So on those heads
 * forward's scores must be the reference's, bit for bit. */
START_TEST(test_pkm_near_ties)
{
    const size_t D = 64, T_max = 64, K = 32, n = 39, scan = 30000;
    struct layer *l = tu_create("pkm", D, 4, "", 13, T_max);
    const struct pkm *p = (const struct pkm *)l;
    float *pool = tu_tokens(scan, D, 77), *x = tu_zeros(T_max * D);
    float q[256], s1[39], s2[39];
    struct pkm_pick picks[33];
    int tie[64][4];
    size_t T = 0;
    for (size_t t = 0; t < scan && T < T_max; t++) {
        int any = 0;
        for (size_t h = 0; h < 4; h++) {
            pkm_exact_query_head(p, pool + t * D, h, q);
            pkm_exact_half_scores(p, h, q, s1, s2);
            pkm_ref_select_head(s1, s2, n, K + 1, picks);
            tie[T][h] = picks[K - 1].score - picks[K].score < 3e-6f;
            any |= tie[T][h];
        }
        if (any)
            memcpy(x + T++ * D, pool + t * D, D * sizeof(float));
    }
    ck_assert_msg(T >= 8, "only %zu near ties in %zu tokens", T, scan);
    float *y = tu_zeros(T * D), *yr = tu_zeros(T * D);
    struct layer_stats st;
    ck_assert_int_eq(l->ops->forward(l, x, y, T, &st), 0);
    ck_assert_int_eq(l->ops->forward_ref(l, x, yr, T), 0);
    check_selection(l, T, "near ties");
    ck_assert_double_le(tu_max_abs_diff(y, yr, T * D), 1e-4);
    struct pkm_selection opt, ref;
    pkm_last_selection(l, 0, &opt);
    pkm_last_selection(l, 1, &ref);
    ck_assert_uint_ge(opt.n_exact, T);
    for (size_t t = 0; t < T; t++)
        for (size_t h = 0; h < 4; h++)
            for (size_t s = 0; tie[t][h] && s < K; s++)
                ck_assert_msg(
                    opt.picks[(t * 4 + h) * K + s].score == ref.picks[(t * 4 + h) * K + s].score,
                    "token %zu head %zu slot %zu: near tie not rescored: %.9g vs %.9g", t, h, s,
                    opt.picks[(t * 4 + h) * K + s].score, ref.picks[(t * 4 + h) * K + s].score);
    free(pool);
    free(x);
    free(y);
    free(yr);
    layer_destroy(l);
}
END_TEST

/* Threads split tokens x heads and the unique value rows: the same keys and,
 * up to the order of the final sums, the same output. */
START_TEST(test_pkm_threads_agree)
{
    const size_t D = 96, T = 64;
    const struct pkm_case c1 = {D, 3, "topk=16", 1}, c2 = {D, 3, "topk=16", 2};
    float *x = tu_tokens(T, D, 4), *y1 = tu_zeros(T * D), *y2 = tu_zeros(T * D);
    struct layer *l1 = create_threads(&c1, T, 5), *l2 = create_threads(&c2, T, 5);
    struct layer_stats s1, s2;
    ck_assert_int_eq(l1->ops->forward(l1, x, y1, T, &s1), 0);
    ck_assert_int_eq(l2->ops->forward(l2, x, y2, T, &s2), 0);
    ck_assert_double_le(tu_max_abs_diff(y1, y2, T * D), 1e-6);
    ck_assert_msg(memcmp(&s1, &s2, sizeof(s1)) == 0, "threads change the stats");
    layer_destroy(l1);
    layer_destroy(l2);
    free(x);
    free(y1);
    free(y2);
}
END_TEST

/* The BatchNorm statistics are not the identity, so folding them matters. */
START_TEST(test_pkm_batchnorm_matters)
{
    const size_t D = 64, T = 4;
    struct layer *a = tu_create("pkm", D, 4, "", 2, T);
    struct layer *b = tu_create("pkm", D, 4, "batchnorm=0", 2, T);
    float *x = tu_tokens(T, D, 8), *ya = tu_zeros(T * D), *yb = tu_zeros(T * D);
    struct layer_stats st;
    ck_assert_int_eq(a->ops->forward(a, x, ya, T, &st), 0);
    ck_assert_int_eq(b->ops->forward(b, x, yb, T, &st), 0);
    ck_assert_double_gt(tu_max_abs_diff(ya, yb, T * D), 1e-3);
    layer_destroy(a);
    layer_destroy(b);
    free(x);
    free(ya);
    free(yb);
}
END_TEST

static Suite *pkm_suite(void)
{
    Suite *s = suite_create("pkm");
    TCase *tc = tcase_create("pkm");
    int n_counts = (int)(sizeof(token_counts) / sizeof(token_counts[0]));
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_pkm_matches_ref, 0, n_counts);
    tcase_add_test(tc, test_pkm_select_exact);
    tcase_add_test(tc, test_pkm_candidate_count);
    tcase_add_loop_test(tc, test_pkm_units_touched, 0, n_counts);
    tcase_add_test(tc, test_pkm_stats_exact);
    tcase_add_test(tc, test_pkm_derived_n_keys);
    tcase_add_test(tc, test_pkm_bad_knobs);
    tcase_add_test(tc, test_pkm_near_ties);
    tcase_add_test(tc, test_pkm_threads_agree);
    tcase_add_test(tc, test_pkm_batchnorm_matters);
    tcase_add_loop_test(tc, test_pkm_dtype_matches_ref, 0, N_DTYPE_CASES);
    tcase_add_loop_test(tc, test_pkm_dtype_rounds_f32, 0, N_DTYPE_CASES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(pkm_suite());
}
