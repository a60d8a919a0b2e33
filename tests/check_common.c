/* check_common.c - the shared kernels of impls/common: GELU accuracy, RNG
 * determinism, top-k against a full sort, the knob parser on good and bad
 * input, the thread pool, the gather-reduce and the FFN block. */
#include "test_util.h"
#include "../impls/common/common.h"

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- GELU ---- */

START_TEST(test_gelu_matches_erff)
{
    double worst = 0;
    for (double x = -12.0; x <= 12.0; x += 1.0 / 4096) {
        float v = (float)x, fast = v;
        common_gelu(&fast, 1);
        double e = fabs((double)fast - common_gelu_ref(v)) / fmax(1.0, fabs(v));
        if (e > worst)
            worst = e;
    }
    ck_assert_msg(worst <= 1e-6, "GELU off by %.3g (allowed 1e-6 * max(1, |x|))", worst);
}
END_TEST

START_TEST(test_gelu_special_values)
{
    float v[] = {0.0f, -0.0f, 100.0f, -100.0f, 1e-30f, -1e-30f, 88.0f, -88.0f};
    float expect[] = {0.0f, 0.0f, 100.0f, 0.0f, 0.5e-30f, -0.5e-30f, 88.0f, 0.0f};
    common_gelu(v, 8);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(fabsf(v[i] - expect[i]) <= 1e-6f * fmaxf(1, fabsf(expect[i])),
                      "gelu case %d: got %g want %g", i, v[i], expect[i]);
}
END_TEST

START_TEST(test_bias_gelu)
{
    float h[6] = {-1, 0, 1, 2, 3, 4}, b[3] = {0.5f, -0.5f, 0};
    float want[6];
    for (int i = 0; i < 6; i++)
        want[i] = common_gelu_ref(h[i] + b[i % 3]);
    common_bias_gelu(h, b, 2, 3);
    ck_assert_double_le(tu_max_abs_diff(h, want, 6), 1e-6);
}
END_TEST

/* ---- RNG ---- */

START_TEST(test_rng_deterministic)
{
    struct common_rng a, b, c;
    common_rng_seed(&a, 42, 7);
    common_rng_seed(&b, 42, 7);
    common_rng_seed(&c, 42, 8);
    int differs = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = common_rng_u64(&a), y = common_rng_u64(&b), z = common_rng_u64(&c);
        ck_assert_uint_eq(x, y);
        differs |= x != z;
    }
    ck_assert_msg(differs, "different streams gave identical sequences");
}
END_TEST

START_TEST(test_rng_normal_moments)
{
    struct common_rng r;
    common_rng_seed(&r, 1, 0);
    double s = 0, s2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = common_rng_normal(&r);
        s += x;
        s2 += x * x;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    /* Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the
     * variance; 5 sigma bounds. */
    ck_assert_msg(fabs(mean) < 0.011, "mean %g", mean);
    ck_assert_msg(fabs(var - 1) < 0.016, "variance %g", var);
}
END_TEST

START_TEST(test_rng_below_and_permutation)
{
    struct common_rng r;
    common_rng_seed(&r, 3, 0);
    int count[5] = {0};
    for (int i = 0; i < 50000; i++) {
        uint64_t v = common_rng_below(&r, 5);
        ck_assert_uint_lt(v, 5);
        count[v]++;
    }
    for (int i = 0; i < 5; i++) /* expected 10000, sd ~89 */
        ck_assert_msg(abs(count[i] - 10000) < 500, "bucket %d has %d", i, count[i]);
    uint32_t p[1000];
    char seen[1000] = {0};
    common_rng_permutation(&r, p, 1000);
    for (int i = 0; i < 1000; i++) {
        ck_assert_uint_lt(p[i], 1000);
        ck_assert_msg(!seen[p[i]], "value %u twice", p[i]);
        seen[p[i]] = 1;
    }
}
END_TEST

/* ---- top-k ---- */

struct vi {
    float v;
    uint32_t i;
};

static int cmp_vi(const void *a, const void *b)
{
    const struct vi *x = a, *y = b;
    if (x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static void check_topk(const float *v, size_t n, size_t k)
{
    struct vi *all = malloc(n * sizeof(*all));
    float *val = malloc(k * sizeof(*val));
    uint32_t *idx = malloc(k * sizeof(*idx));
    for (size_t i = 0; i < n; i++)
        all[i] = (struct vi){v[i], (uint32_t)i};
    qsort(all, n, sizeof(*all), cmp_vi);
    common_topk(v, n, k, val, idx);
    for (size_t j = 0; j < k; j++) {
        ck_assert_msg(idx[j] == all[j].i && val[j] == all[j].v,
                      "n=%zu k=%zu rank %zu: got (%g, %u) want (%g, %u)", n, k, j, val[j], idx[j],
                      all[j].v, all[j].i);
    }
    free(all);
    free(val);
    free(idx);
}

START_TEST(test_topk_vs_sort)
{
    struct common_rng r;
    common_rng_seed(&r, 5, 0);
    size_t ns[] = {1, 2, 7, 64, 1000, 6400};
    size_t ks[] = {1, 2, 3, 32, 80};
    for (size_t a = 0; a < 6; a++) {
        float *v = malloc(ns[a] * sizeof(*v));
        common_rng_fill_normal(&r, v, ns[a], 1.0f);
        for (size_t b = 0; b < 5; b++)
            if (ks[b] <= ns[a])
                check_topk(v, ns[a], ks[b]);
        free(v);
    }
}
END_TEST

START_TEST(test_topk_ties_lower_index_first)
{
    float v[] = {1, 3, 3, 2, 3, 1, 3};
    float val[4];
    uint32_t idx[4];
    common_topk(v, 7, 4, val, idx);
    uint32_t want[] = {1, 2, 4, 6};
    for (int j = 0; j < 4; j++)
        ck_assert_uint_eq(idx[j], want[j]);
    check_topk(v, 7, 5);
    float flat[50];
    for (int i = 0; i < 50; i++)
        flat[i] = 0.25f;
    check_topk(flat, 50, 10);
}
END_TEST

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The threshold top-k equals common_topk as a set, ties included; its
 * candidates hold the k best, at most k + slack of them unless the
 * threshold is exactly the k-th largest value. */
START_TEST(test_topk_set)
{
    const size_t sizes[][2] = {{1, 1},    {7, 3},     {110, 80},   {736, 80}, {6400, 80},
                               {6400, 1}, {333, 333}, {1000, 999}, {512, 33}, {123, 33}};
    struct common_rng rng;
    common_rng_seed(&rng, 5, 5);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s][0], k = sizes[s][1];
        float *v = malloc(n * sizeof(*v)), *tv = malloc(k * sizeof(*tv));
        uint32_t *ti = malloc(k * sizeof(*ti)), *pos = malloc((n + 16) * sizeof(*pos));
        uint32_t *keys = malloc(n * sizeof(*keys));
        for (int kind = 0; kind < 4; kind++) {
            for (size_t i = 0; i < n; i++) {
                double g = common_rng_normal(&rng);
                v[i] = kind == 0   ? (float)g
                       : kind == 1 ? (float)(int)(g * 3)        /* many ties */
                       : kind == 2 ? (i % 2 ? 0.0f : -0.0f)     /* all tied */
                                   : (float)(g * 1e-30 * 1e-8); /* subnormals */
            }
            common_topk(v, n, k, tv, ti);
            qsort(ti, k, sizeof(*ti), cmp_u32);
            size_t c = common_topk_candidates(v, n, k, 8, pos, keys), j = 0;
            ck_assert_uint_ge(c, k);
            for (size_t p = 0; p < c && j < k; p++) /* both ascending: ti within pos */
                j += pos[p] == ti[j];
            ck_assert_msg(j == k, "n=%zu k=%zu kind=%d: a top-k position is no candidate", n, k,
                          kind);
            if (c > k + 8) { /* only ties at the threshold, the k-th value, allow that */
                for (size_t p = 0; p < c; p++)
                    ck_assert(v[pos[p]] >= tv[k - 1]);
            }
            common_topk_set(v, n, k, pos, keys);
            for (j = 0; j < k; j++)
                ck_assert_msg(pos[j] == ti[j], "n=%zu k=%zu kind=%d: slot %zu is %u, want %u", n, k,
                              kind, j, pos[j], ti[j]);
        }
        free(v);
        free(tv);
        free(ti);
        free(pos);
        free(keys);
    }
}
END_TEST

/* ---- knobs ---- */

struct tk {
    long n;
    double x;
    int on;
    char mode[COMMON_KNOB_STR_LEN];
};

static const struct common_knob tk_table[] = {
    {"n", COMMON_KNOB_INT, offsetof(struct tk, n), 1, 100, "a count"},
    {"x", COMMON_KNOB_REAL, offsetof(struct tk, x), 0, 1, "a fraction"},
    {"on", COMMON_KNOB_BOOL, offsetof(struct tk, on), 0, 1, "a switch"},
    {"mode", COMMON_KNOB_STR, offsetof(struct tk, mode), 0, 0, "a word"},
};
static const struct common_preset tk_presets[] = {{"big", "n=100,x=0.5"}};
static const struct common_knob_set tk_set = {"fam", tk_table, 4, tk_presets, 1};

static int parse(const char *s, struct tk *out, uint64_t *mask, char *err)
{
    memset(out, 0, sizeof(*out));
    return common_knobs_parse(&tk_set, s, out, mask, err, 256);
}

START_TEST(test_knobs_good)
{
    struct tk k;
    uint64_t mask;
    char err[256];
    ck_assert_int_eq(parse(" n = 5 , x=0.25,on=1,mode=zipf:1.2", &k, &mask, err), 0);
    ck_assert_int_eq(k.n, 5);
    ck_assert_double_eq(k.x, 0.25);
    ck_assert_int_eq(k.on, 1);
    ck_assert_str_eq(k.mode, "zipf:1.2");
    ck_assert_uint_eq(mask, 0xf);
    ck_assert_int_eq(parse("", &k, &mask, err), 0);
    ck_assert_uint_eq(mask, 0);
    ck_assert_int_eq(parse(NULL, &k, &mask, err), 0);
    /* The preset applies first wherever it is written; the user's knob wins. */
    ck_assert_int_eq(parse("n=7,preset=big", &k, &mask, err), 0);
    ck_assert_int_eq(k.n, 7);
    ck_assert_double_eq(k.x, 0.5);
    ck_assert_uint_eq(mask, 0x3);
    char buf[128];
    common_knobs_format(&tk_set, &k, buf, sizeof(buf));
    ck_assert_str_eq(buf, "n=7,x=0.5,on=0,mode=");
}
END_TEST

static void expect_bad(const char *s, const char *must_contain)
{
    struct tk k;
    char err[256] = "";
    ck_assert_int_eq(parse(s, &k, NULL, err), LAYER_EKNOB);
    ck_assert_msg(strstr(err, must_contain) != NULL, "for '%s' the message '%s' lacks '%s'", s, err,
                  must_contain);
    ck_assert_msg(strncmp(err, "fam: ", 5) == 0, "message '%s' does not name the family", err);
}

START_TEST(test_knobs_bad)
{
    expect_bad("bogus=1", "unknown knob 'bogus'; allowed: n, x, on, mode, preset");
    expect_bad("n=0", "knob n=0 is out of range; allowed integers 1..100");
    expect_bad("n=101", "n=101 is out of range");
    expect_bad("n=-3", "n=-3 is out of range");
    expect_bad("n=abc", "n=abc is not an integer");
    expect_bad("n=2.5", "n=2.5 is not an integer");
    expect_bad("x=1.5", "x=1.5 is out of range; allowed numbers 0..1");
    expect_bad("x=nan", "x=nan is not a number");
    expect_bad("on=maybe", "on=maybe is not a boolean");
    expect_bad("n", "knob 'n' has no value");
    expect_bad("n=", "n= is empty");
    expect_bad("n=1,n=2", "knob 'n' given twice");
    expect_bad("preset=small", "unknown preset 'small'; allowed: big");
    expect_bad("mode=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "is too long");
}
END_TEST

START_TEST(test_knobs_help_lists_everything)
{
    char buf[1024];
    common_knobs_help(&tk_set, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "n "));
    ck_assert_ptr_nonnull(strstr(buf, "1..100"));
    ck_assert_ptr_nonnull(strstr(buf, "preset=big"));
}
END_TEST

/* ---- pool ---- */

struct pool_probe {
    atomic_int hits[1000];
};

static void pool_task(void *arg, size_t task, int worker)
{
    struct pool_probe *p = arg;
    (void)worker;
    atomic_fetch_add(&p->hits[task], 1);
}

START_TEST(test_pool_runs_every_task_once)
{
    for (int threads = 1; threads <= 3; threads++) {
        struct common_pool *pool;
        ck_assert_int_eq(common_pool_create(&pool, threads), 0);
        ck_assert_int_eq(common_pool_threads(pool), threads);
        for (int rep = 0; rep < 50; rep++) {
            static struct pool_probe probe;
            memset(&probe, 0, sizeof(probe));
            size_t n = (size_t)(rep * 37 % 1000);
            common_pool_run(pool, n, pool_task, &probe);
            for (size_t i = 0; i < 1000; i++)
                ck_assert_int_eq(atomic_load(&probe.hits[i]), i < n ? 1 : 0);
        }
        common_pool_destroy(pool);
    }
    common_pool_destroy(NULL);
}
END_TEST

/* ---- gather-reduce and the FFN block ---- */

START_TEST(test_gather_reduce_vs_ref)
{
    struct common_rng r;
    common_rng_seed(&r, 9, 0);
    const size_t N = 500, stride = 40, dim = 33, n = 57;
    float *table = malloc(N * stride * sizeof(float)), w[57], y[33] = {0}, yr[33] = {0};
    uint32_t rows[57];
    common_rng_fill_normal(&r, table, N * stride, 1.0f);
    common_rng_fill_normal(&r, w, n, 1.0f);
    for (size_t i = 0; i < n; i++)
        rows[i] = (uint32_t)common_rng_below(&r, N);
    common_gather_reduce(y, table, stride, rows, w, n, dim);
    common_gather_reduce_ref(yr, table, stride, rows, w, n, dim);
    ck_assert_double_le(tu_max_abs_diff(y, yr, dim), 1e-5);
    free(table);
}
END_TEST

/* Every block shape: M not a multiple of 4 rows, N of 4, K of a vector;
 * leading dimensions wider than the rows; both assign and accumulate. */
START_TEST(test_gemm_small_vs_loops)
{
    const size_t Ms[] = {1, 3, 4, 7, 33}, Ns[] = {1, 5, 23, 70}, Ks[] = {1, 15, 37};
    const size_t lda = 41, ldb = 39, ldc = 73;
    float *A = tu_tokens(33, lda, 3), *B = tu_tokens(70, ldb, 4), *C = malloc(33 * ldc * 4);
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t c = 0; c < 3; c++)
                for (int acc = 0; acc < 2; acc++) {
                    size_t M = Ms[a], N = Ns[b], K = Ks[c];
                    for (size_t i = 0; i < 33 * ldc; i++)
                        C[i] = (float)(i % 97);
                    common_gemm_small_nt(M, N, K, A, lda, B, ldb, C, ldc, acc);
                    for (size_t m = 0; m < 33; m++)
                        for (size_t n = 0; n < ldc; n++) {
                            double want = (double)((m * ldc + n) % 97);
                            if (m < M && n < N) {
                                double dot = 0;
                                for (size_t k = 0; k < K; k++)
                                    dot += (double)A[m * lda + k] * B[n * ldb + k];
                                want = acc ? want + dot : dot;
                            }
                            ck_assert_msg(fabs(C[m * ldc + n] - want) <= 1e-4 * (1 + fabs(want)),
                                          "M %zu N %zu K %zu acc %d: C[%zu][%zu] = %.9g, want %.9g",
                                          M, N, K, acc, m, n, C[m * ldc + n], want);
                        }
                }
    free(A);
    free(B);
    free(C);
}
END_TEST

START_TEST(test_ffn_blas_vs_loops)
{
    const size_t D = 37, F = 91, T = 5;
    float *w1 = malloc(F * D * 4), *w2 = malloc(F * D * 4), b1[91], b2[37];
    common_ffn_init(w1, b1, w2, b2, D, F, 11, 0);
    struct common_ffn ffn = {D, F, w1, b1, w2, b2, LAYER_F32};
    float *x = tu_tokens(T, D, 1), *h = malloc(T * F * 4), y[5 * 37], yr[5 * 37];
    for (size_t t = 1; t <= T; t++) {
        common_ffn_forward(&ffn, x, t, h, y, NULL, NULL);
        common_ffn_forward_ref(&ffn, x, t, yr);
        ck_assert_double_le(tu_max_abs_diff(y, yr, t * D), 1e-5);
    }
    ck_assert_uint_eq(common_ffn_flops(&ffn, 3), 4ull * 3 * D * F);
    ck_assert_uint_eq(common_ffn_params(&ffn), 2 * D * F + D + F);
    free(w1);
    free(w2);
    free(x);
    free(h);
}
END_TEST

START_TEST(test_mem_check)
{
    char err[256] = "";
    ck_assert_int_eq(common_mem_check(1 << 20, "t", err, sizeof(err)), 0);
    if (common_mem_available() > 0) {
        ck_assert_int_eq(common_mem_check(UINT64_MAX / 2, "t", err, sizeof(err)), LAYER_ETOOBIG);
        ck_assert_ptr_nonnull(strstr(err, "GiB"));
    }
}
END_TEST

/* The sizing pass and the carving pass agree: pieces on the alignment, in
 * order, inside the block, empty pieces NULL; an overflowing size is caught
 * and refused by common_carve_fit, which weighs the sum of the blocks. */
START_TEST(test_carve)
{
    struct common_carve blk[2] = {common_carve_plan(COMMON_ALIGN), common_carve_plan(4)};
    char *p[4];
    for (int pass = 0; pass < 2; pass++) {
        p[0] = common_carve(&blk[0], 3, 1);
        p[1] = common_carve(&blk[0], 0, 8); /* empty */
        p[2] = common_carve(&blk[0], 5, sizeof(float));
        p[3] = common_carve(&blk[1], 3, sizeof(float));
        if (pass == 0) {
            ck_assert_uint_eq(blk[0].used, 64 + 20); /* the second piece starts a new line */
            ck_assert_uint_eq(blk[1].used, 12);      /* no gaps at 4 */
            for (int i = 0; i < 4; i++)
                ck_assert_ptr_null(p[i]);
            ck_assert_int_eq(common_carve_alloc(blk, 2), 0);
            ck_assert_uint_eq(blk[0].size, 84);
            ck_assert_uint_eq(blk[0].used, 0);
        }
    }
    ck_assert_ptr_eq(p[0], blk[0].base);
    ck_assert_ptr_null(p[1]);
    ck_assert_ptr_eq(p[2], blk[0].base + 64);
    ck_assert_ptr_eq(p[3], blk[1].base);
    ck_assert_uint_eq(blk[0].used, blk[0].size);
    common_carve_free(blk, 2);
    ck_assert_ptr_null(blk[0].base);

    char err[256] = "";
    uint64_t bytes = 0;
    struct common_carve big = common_carve_plan(COMMON_ALIGN);
    common_carve(&big, SIZE_MAX / 2, 4);
    ck_assert(big.overflow);
    ck_assert_ptr_null(common_carve(&big, 1, 1));
    ck_assert_int_eq(common_carve_fit(&big, 1, "t", &bytes, err, sizeof(err)), LAYER_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err, "overflow"));
    struct common_carve two[2] = {common_carve_plan(8), common_carve_plan(8)};
    common_carve(&two[0], 10, 1);
    common_carve(&two[1], 7, 1);
    ck_assert_int_eq(common_carve_fit(two, 2, "t", &bytes, err, sizeof(err)), 0);
    ck_assert_uint_eq(bytes, 17);
}
END_TEST

/* common_alloc counts what it hands out, so check's figures can be held
 * against create's. */
START_TEST(test_alloc_counts)
{
    uint64_t b0, c0, b1, c1;
    common_alloc_counts(&b0, &c0);
    void *p = common_alloc(100), *q = common_alloc(0);
    common_alloc_counts(&b1, &c1);
    ck_assert_uint_eq(b1 - b0, 100);
    ck_assert_uint_eq(c1 - c0, 1);
    ck_assert_ptr_null(q);
    common_free(p);
}
END_TEST

static Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_gelu_matches_erff);
    tcase_add_test(tc, test_gelu_special_values);
    tcase_add_test(tc, test_bias_gelu);
    tcase_add_test(tc, test_rng_deterministic);
    tcase_add_test(tc, test_rng_normal_moments);
    tcase_add_test(tc, test_rng_below_and_permutation);
    tcase_add_test(tc, test_topk_vs_sort);
    tcase_add_test(tc, test_topk_ties_lower_index_first);
    tcase_add_test(tc, test_topk_set);
    tcase_add_test(tc, test_knobs_good);
    tcase_add_test(tc, test_knobs_bad);
    tcase_add_test(tc, test_knobs_help_lists_everything);
    tcase_add_test(tc, test_pool_runs_every_task_once);
    tcase_add_test(tc, test_gather_reduce_vs_ref);
    tcase_add_test(tc, test_gemm_small_vs_loops);
    tcase_add_test(tc, test_ffn_blas_vs_loops);
    tcase_add_test(tc, test_mem_check);
    tcase_add_test(tc, test_carve);
    tcase_add_test(tc, test_alloc_counts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(common_suite());
}
