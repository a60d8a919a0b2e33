/* check_weights.c - bench/weights.c: export then import is bit-identical for
 * every registered layer (safetensors and .npy), at f32, bf16 and f16 for
 * every family that takes the dtype knob (the others are skipped, so the
 * test grows as families gain it); derived state is rebuilt from loaded
 * tensors; a file of one dtype loads into a layer of another (an f32 file of
 * the seeded f32 layer into a bf16 layer gives the seeded bf16 layer's
 * tensors); NumPy-written (float32 and float16) and Python-assembled files
 * load and run (tests/data/weights_np.py; skipped with the reason when
 * python3-numpy is missing); bad files, f16 overflow included, are refused
 * with their reason, never a crash. A test-only layer (typed_ops below)
 * lists an F32, a BF16 and an F16 tensor, so the typed paths are tested
 * whichever families take dtype yet.
 */
#include "test_util.h"
#include "../impls/common/common.h"
#include "../bench/cli.h"
#include "../bench/util.h"
#include "../bench/weights.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define W_D      64
#define W_SCALE  4
#define W_TOKENS 8

static char g_dir[64];

/* A fresh directory for this test (each test is its own process). */
static void make_dir(void)
{
    tu_tmpdir(g_dir, sizeof(g_dir), "weights");
}

static struct layer_config cfg_of(const char *knobs, uint64_t seed)
{
    return (struct layer_config){.d_model = W_D,
                                 .scale = W_SCALE,
                                 .seed = seed,
                                 .threads = 1,
                                 .max_tokens = W_TOKENS,
                                 .knobs = knobs};
}

/* forward and forward_ref of l on fixed tokens into y, yr (T, D). */
static void outputs(struct layer *l, float *y, float *yr)
{
    float *x = tu_tokens(W_TOKENS, W_D, 9);
    struct layer_stats st;
    ck_assert_int_eq(l->ops->forward(l, x, y, W_TOKENS, &st), 0);
    ck_assert_int_eq(l->ops->forward_ref(l, x, yr, W_TOKENS), 0);
    free(x);
}

static uint64_t param_elems(const struct layer_param *p)
{
    uint64_t n = 1;
    for (int d = 0; d < p->ndim; d++)
        n *= p->shape[d];
    return n;
}

/* Overwrite every parameter with other numbers (in its stored dtype) and
 * re-derive, so a load that missed a tensor or a derived table shows in the
 * output. */
static void scramble(struct layer *l)
{
    struct layer_param p;
    for (size_t i = 0; l->ops->param(l, i, &p) == 0; i++)
        for (uint64_t j = 0; j < param_elems(&p); j++)
            common_dtype_store(p.dtype, p.data, j,
                               common_dtype_at(p.dtype, p.data, j) * -1.25f +
                                   0.001f * (float)(j % 7));
    if (l->ops->derive)
        ck_assert_int_eq(l->ops->derive(l), 0);
}

/* Every tensor of a and b the same: names, dtypes, shapes, bytes. */
static void same_params(struct layer *a, struct layer *b, const char *what)
{
    struct layer_param p, q;
    size_t i = 0;
    for (; a->ops->param(a, i, &p) == 0; i++) {
        ck_assert_msg(b->ops->param(b, i, &q) == 0, "%s: b lacks tensor %zu", what, i);
        ck_assert_str_eq(p.name, q.name);
        ck_assert_msg(p.dtype == q.dtype && p.ndim == q.ndim, "%s: '%s' dtype or rank differs",
                      what, p.name);
        for (int d = 0; d < p.ndim; d++)
            ck_assert_uint_eq(p.shape[d], q.shape[d]);
        ck_assert_msg(memcmp(p.data, q.data, param_elems(&p) * common_dtype_size(p.dtype)) == 0,
                      "%s: tensor '%s' (%s) differs", what, p.name, common_dtype_name(p.dtype));
    }
    ck_assert_int_eq(b->ops->param(b, i, &q), LAYER_EINVAL);
}

static const enum layer_dtype all_dtypes[] = {LAYER_F32, LAYER_BF16, LAYER_F16};
#define N_DT 3

/* Does ops take knobs (a dtype)? A family without the knob yet says
 * LAYER_EKNOB: skipped, with the reason on stderr. */
static int takes_knobs(const struct layer_ops *ops, const char *knobs)
{
    struct layer_config cfg = cfg_of(knobs, 77);
    char err[512] = "";
    int rc = layer_check(ops, &cfg, NULL, err, sizeof(err));
    if (rc == LAYER_EKNOB) {
        fprintf(stderr, "check_weights: SKIP %s with %s: %s\n", ops->name, knobs, err);
        return 0;
    }
    ck_assert_msg(rc == 0, "%s with %s: %s", ops->name, knobs, err);
    return 1;
}

static const struct layer_ops *ops_at(int i)
{
    const struct layer_ops *ops = layer_get((size_t)i);
    ck_assert_ptr_nonnull(ops);
    ck_assert_msg(ops->param != NULL, "%s has no param op", ops->name);
    return ops;
}

/* Export layer (seed 77, knobs) to path, load into a scrambled twin: its
 * tensors, forward and forward_ref bit-identical to the original's. */
static void round_trip(const struct layer_ops *ops, const char *path, const char *knobs)
{
    struct layer_config cfg = cfg_of(knobs, 77);
    struct layer *a = tu_create(ops->name, W_D, W_SCALE, knobs, 77, W_TOKENS);
    struct layer *b = tu_create(ops->name, W_D, W_SCALE, knobs, 77, W_TOKENS);
    size_t n = (size_t)W_TOKENS * W_D;
    float *ya = tu_zeros(n), *yra = tu_zeros(n), *yb = tu_zeros(n), *yrb = tu_zeros(n);
    char err[1024] = "";
    outputs(a, ya, yra);
    ck_assert_msg(bench_weights_save(a, &cfg, path, err, sizeof(err)) == 0, "%s: %s", ops->name,
                  err);
    scramble(b);
    outputs(b, yb, yrb);
    ck_assert_msg(memcmp(ya, yb, n * sizeof(float)) != 0, "%s: scramble changed nothing",
                  ops->name);
    ck_assert_msg(bench_weights_load(b, path, err, sizeof(err)) == 0, "%s: %s", ops->name, err);
    same_params(a, b, ops->name);
    outputs(b, yb, yrb);
    ck_assert_msg(memcmp(ya, yb, n * sizeof(float)) == 0, "%s via %s: forward differs by %g",
                  ops->name, path, tu_max_abs_diff(ya, yb, n));
    ck_assert_msg(memcmp(yra, yrb, n * sizeof(float)) == 0, "%s via %s: forward_ref differs",
                  ops->name, path);
    free(ya);
    free(yra);
    free(yb);
    free(yrb);
    layer_destroy(a);
    layer_destroy(b);
}

START_TEST(test_round_trip_safetensors)
{
    const struct layer_ops *ops = ops_at(_i);
    char path[128];
    make_dir();
    snprintf(path, sizeof(path), "%s/w.safetensors", g_dir);
    round_trip(ops, path, "");
}
END_TEST

START_TEST(test_round_trip_npy)
{
    const struct layer_ops *ops = ops_at(_i);
    char path[128];
    make_dir();
    snprintf(path, sizeof(path), "%s/npy", g_dir);
    round_trip(ops, path, "");
}
END_TEST

/* Family _i / 3 at dtype _i % 3: the round trip in both formats (bf16 goes
 * to .npy widened and comes back exactly). */
START_TEST(test_round_trip_dtype)
{
    const struct layer_ops *ops = ops_at(_i / N_DT);
    char knobs[32], path[128];
    snprintf(knobs, sizeof(knobs), "dtype=%s", common_dtype_name(all_dtypes[_i % N_DT]));
    if (!takes_knobs(ops, knobs))
        return;
    make_dir();
    snprintf(path, sizeof(path), "%s/w.safetensors", g_dir);
    round_trip(ops, path, knobs);
    snprintf(path, sizeof(path), "%s/npy", g_dir);
    round_trip(ops, path, knobs);
}
END_TEST

/* An f32 file of the seeded f32 layer loaded into a narrow layer gives the
 * seeded narrow layer (the seeded init draws fp32 and rounds to nearest
 * even, as loading does): tensors and outputs. Family _i / 2, bf16 or f16. */
START_TEST(test_cross_dtype)
{
    const struct layer_ops *ops = ops_at(_i / 2);
    enum layer_dtype dt = _i % 2 ? LAYER_F16 : LAYER_BF16;
    char knobs[32], path[2][128], err[1024] = "";
    snprintf(knobs, sizeof(knobs), "dtype=%s", common_dtype_name(dt));
    if (!takes_knobs(ops, knobs))
        return;
    make_dir();
    snprintf(path[0], sizeof(path[0]), "%s/f32.safetensors", g_dir);
    snprintf(path[1], sizeof(path[1]), "%s/f32npy", g_dir);
    struct layer_config cfg = cfg_of("", 77);
    struct layer *f = tu_create(ops->name, W_D, W_SCALE, "", 77, W_TOKENS);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(bench_weights_save(f, &cfg, path[k], err, sizeof(err)) == 0, "%s", err);
    layer_destroy(f);
    size_t n = (size_t)W_TOKENS * W_D;
    float *ya = tu_zeros(n), *yra = tu_zeros(n), *yb = tu_zeros(n), *yrb = tu_zeros(n);
    struct layer *a = tu_create(ops->name, W_D, W_SCALE, knobs, 77, W_TOKENS);
    outputs(a, ya, yra);
    for (int k = 0; k < 2; k++) {
        struct layer *b = tu_create(ops->name, W_D, W_SCALE, knobs, 77, W_TOKENS);
        scramble(b);
        ck_assert_msg(bench_weights_load(b, path[k], err, sizeof(err)) == 0, "%s: %s", ops->name,
                      err);
        same_params(a, b, knobs);
        outputs(b, yb, yrb);
        ck_assert_msg(memcmp(ya, yb, n * sizeof(float)) == 0, "%s %s from %s: forward differs",
                      ops->name, knobs, path[k]);
        ck_assert_msg(memcmp(yra, yrb, n * sizeof(float)) == 0, "%s %s: forward_ref differs",
                      ops->name, knobs);
        layer_destroy(b);
    }
    layer_destroy(a);
    free(ya);
    free(yra);
    free(yb);
    free(yrb);
}
END_TEST

/* Names unique, shapes non-empty, and every tensor sized as it claims. */
START_TEST(test_param_list)
{
    const struct layer_ops *ops = ops_at(_i);
    struct layer *l = tu_create(ops->name, W_D, W_SCALE, "", 1, W_TOKENS);
    struct layer_param p, q;
    size_t n = 0;
    for (; l->ops->param(l, n, &p) == 0; n++) {
        ck_assert_int_ge(p.ndim, 1);
        ck_assert_int_le(p.ndim, LAYER_PARAM_MAX_DIMS);
        ck_assert_ptr_nonnull(p.data);
        for (size_t j = 0; j < n; j++) {
            ck_assert_int_eq(l->ops->param(l, j, &q), 0);
            ck_assert_msg(strcmp(p.name, q.name) != 0, "%s: '%s' listed twice", ops->name, p.name);
        }
    }
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(l->ops->param(l, n + 5, &p), LAYER_EINVAL);
    layer_destroy(l);
}
END_TEST

/* ---- the independent side: NumPy and a hand-assembled file ---- */

static const char *find_numpy_python(void)
{
    static const char *const cands[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "%s -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0)
            return cands[i];
    }
    return NULL;
}

/* Load path into a fresh layer of ops; outputs into y, yr. */
static void load_run(const struct layer_ops *ops, const char *path, float *y, float *yr)
{
    struct layer *l = tu_create(ops->name, W_D, W_SCALE, "", 3, W_TOKENS);
    char err[1024] = "";
    ck_assert_msg(bench_weights_load(l, path, err, sizeof(err)) == 0, "%s: %s", ops->name, err);
    outputs(l, y, yr);
    layer_destroy(l);
}

START_TEST(test_numpy_files)
{
    const struct layer_ops *ops = ops_at(_i);
    const char *py = find_numpy_python();
    if (!py) {
        fprintf(stderr,
                "check_weights: SKIP NumPy round trip for %s: no python3 with numpy "
                "(apt-get install python3-numpy; scripts/deps.sh installs it)\n",
                ops->name);
        return;
    }
    char st[128], npy[128], rst[128], rnpy[128], h16[128], h16st[128], cmd[1024];
    make_dir();
    snprintf(st, sizeof(st), "%s/w.safetensors", g_dir);
    snprintf(npy, sizeof(npy), "%s/np", g_dir);
    snprintf(rst, sizeof(rst), "%s/rand.safetensors", g_dir);
    snprintf(rnpy, sizeof(rnpy), "%s/rand_np", g_dir);
    snprintf(h16, sizeof(h16), "%s/np16", g_dir);
    snprintf(h16st, sizeof(h16st), "%s/np16.safetensors", g_dir);
    struct layer_config cfg = cfg_of("", 77);
    struct layer *a = tu_create(ops->name, W_D, W_SCALE, "", 77, W_TOKENS);
    char err[1024] = "";
    ck_assert_msg(bench_weights_save(a, &cfg, st, err, sizeof(err)) == 0, "%s", err);
    snprintf(cmd, sizeof(cmd), "%s tests/data/weights_np.py '%s' '%s' '%s' '%s' 5 '%s' '%s'", py,
             st, npy, rst, rnpy, h16, h16st);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);

    size_t n = (size_t)W_TOKENS * W_D;
    float *y1 = tu_zeros(n), *r1 = tu_zeros(n), *y2 = tu_zeros(n), *r2 = tu_zeros(n);
    /* numpy.save's files against sparsebench's own export of the same layer */
    load_run(ops, st, y1, r1);
    load_run(ops, npy, y2, r2);
    ck_assert_msg(memcmp(y1, y2, n * sizeof(float)) == 0, "%s: numpy.save files differ by %g",
                  ops->name, tu_max_abs_diff(y1, y2, n));
    /* fresh NumPy tensors: the Python-assembled file runs, agrees with its
     * reference and with the same tensors through numpy.save */
    load_run(ops, rst, y1, r1);
    load_run(ops, rnpy, y2, r2);
    ck_assert_msg(memcmp(y1, y2, n * sizeof(float)) == 0, "%s: assembled file vs npy: %g",
                  ops->name, tu_max_abs_diff(y1, y2, n));
    double scale = tu_max_abs(r1, n) > 1 ? tu_max_abs(r1, n) : 1;
    ck_assert_msg(tu_max_abs_diff(y1, r1, n) / scale < 1e-4,
                  "%s: forward vs ref %g on fresh "
                  "weights",
                  ops->name, tu_max_abs_diff(y1, r1, n));
    ck_assert_msg(tu_max_abs(y1, n) > 0, "%s: all-zero output", ops->name);
    /* numpy's astype(float16) (.npy '<f2', and an F16 safetensors file built
     * from the same arrays) loaded into the fp32 layer: each element is the
     * seeded one rounded to f16 by our nearest-even rule, bit for bit. */
    for (int k = 0; k < 2; k++) {
        struct layer *h = tu_create(ops->name, W_D, W_SCALE, "", 3, W_TOKENS);
        struct layer_param p, q;
        ck_assert_msg(bench_weights_load(h, k ? h16st : h16, err, sizeof(err)) == 0, "%s: %s",
                      ops->name, err);
        for (size_t i = 0; a->ops->param(a, i, &p) == 0; i++) {
            ck_assert_int_eq(h->ops->param(h, i, &q), 0);
            for (uint64_t j = 0; j < param_elems(&p); j++) {
                float want = common_dtype_round(LAYER_F16, common_dtype_at(p.dtype, p.data, j));
                float got = common_dtype_at(q.dtype, q.data, j);
                ck_assert_msg(memcmp(&want, &got, sizeof(float)) == 0,
                              "%s: numpy float16 '%s'[%" PRIu64 "] = %a, ours %a", ops->name,
                              p.name, j, (double)got, (double)want);
            }
        }
        layer_destroy(h);
    }
    layer_destroy(a);
    free(y1);
    free(r1);
    free(y2);
    free(r2);
}
END_TEST

/* ---- bad files ---- */

/* dense at D = 16, width 64: w1 (64, 16), w2 (64, 16), b1 (64), b2 (16). */
#define BD    16
#define BF    64
#define BDATA (4 * (2 * BF * BD + BF + BD))
#define GOOD_TENS                                                                                  \
    "\"w1\":{\"dtype\":\"F32\",\"shape\":[64,16],\"data_offsets\":[0,4096]},"                      \
    "\"w2\":{\"dtype\":\"F32\",\"shape\":[64,16],\"data_offsets\":[4096,8192]},"                   \
    "\"b1\":{\"dtype\":\"F32\",\"shape\":[64],\"data_offsets\":[8192,8448]}"
#define B2_OK "\"b2\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[8448,8512]}"

struct bad_file {
    const char *what;
    const char *header; /* NULL: raw bytes below */
    long raw_len;       /* header NULL: the file is this many bytes of a good file; */
    long data_len;      /* bytes of data after the header (-1: BDATA) */
    long poison;        /* >= 0: float index set to NaN (or inf when poison_inf) */
    int poison_inf;
    const char *expect; /* in the message */
};

static const struct bad_file bad_files[] = {
    {"empty file", NULL, 0, -1, -1, 0, "shorter than the 8-byte"},
    {"5 bytes", NULL, 5, -1, -1, 0, "shorter than the 8-byte"},
    {"truncated in the header", NULL, 40, -1, -1, 0, "larger than the file"},
    {"header larger than file", "HUGE", 0, -1, -1, 0, "larger than the file"},
    {"not JSON", "{\"w1\": [", 0, -1, -1, 0, "not valid JSON"},
    {"JSON but an array", "[1, 2]", 0, -1, -1, 0, "not an object"},
    {"unknown dtype F64",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"F64\",\"shape\":[16],"
     "\"data_offsets\":[8448,8576]}}",
     0, -1, -1, 0, "dtype F64; allowed: F32, BF16, F16"},
    {"dtype in lower case",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"bf16\",\"shape\":[16],"
     "\"data_offsets\":[8448,8480]}}",
     0, -1, -1, 0, "dtype bf16; allowed"},
    {"dtype not a string",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":16,\"shape\":[16],"
     "\"data_offsets\":[8448,8480]}}",
     0, -1, -1, 0, "needs \"dtype\" (a string)"},
    {"BF16 with F32's byte size",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"BF16\",\"shape\":[16],"
     "\"data_offsets\":[8448,8512]}}",
     0, -1, -1, 0, "span 64 bytes, shape (16) BF16 needs 32"},
    {"F16 an element short",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"F16\",\"shape\":[16],"
     "\"data_offsets\":[8448,8478]}}",
     0, -1, -1, 0, "span 30 bytes, shape (16) F16 needs 32"},
    {"F32 with F16's byte size",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"F32\",\"shape\":[16],"
     "\"data_offsets\":[8448,8480]}}",
     0, -1, -1, 0, "span 32 bytes, shape (16) F32 needs 64"},
    {"truncated data", "{" GOOD_TENS "," B2_OK "}", 0, BDATA - 100, -1, 0, "outside the"},
    {"offsets outside data",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"F32\",\"shape\":[16],"
     "\"data_offsets\":[9000,9064]}}",
     0, -1, -1, 0, "outside the"},
    {"begin after end",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"F32\",\"shape\":[16],"
     "\"data_offsets\":[8512,8448]}}",
     0, -1, -1, 0, "outside the"},
    {"span not the shape's size",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"F32\",\"shape\":[16],"
     "\"data_offsets\":[8448,8508]}}",
     0, -1, -1, 0, "span 60 bytes"},
    {"duplicate names", "{" GOOD_TENS "," B2_OK "," B2_OK "}", 0, -1, -1, 0, "duplicate"},
    {"NaN weight", "{" GOOD_TENS "," B2_OK "}", 0, -1, 100, 0, "is NaN"},
    {"infinite weight", "{" GOOD_TENS "," B2_OK "}", 0, -1, 2100, 1, "infinite"},
    {"wrong shape",
     "{\"w1\":{\"dtype\":\"F32\",\"shape\":[16,64],\"data_offsets\":[0,4096]},"
     "\"w2\":{\"dtype\":\"F32\",\"shape\":[64,16],\"data_offsets\":[4096,8192]},"
     "\"b1\":{\"dtype\":\"F32\",\"shape\":[64],\"data_offsets\":[8192,8448]}," B2_OK "}",
     0, -1, -1, 0, "expected shape (64, 16), found (16, 64)"},
    {"missing tensor", "{" GOOD_TENS "}", 0, -1, -1, 0, "'b2' missing"},
    {"extra tensor",
     "{" GOOD_TENS "," B2_OK ",\"b3\":{\"dtype\":\"F32\",\"shape\":[16],"
     "\"data_offsets\":[8448,8512]}}",
     0, -1, -1, 0, "'b3' is not a parameter"},
    {"entry without dtype", "{" GOOD_TENS ",\"b2\":{\"shape\":[16],\"data_offsets\":[8448,8512]}}",
     0, -1, -1, 0, "needs \"dtype\""},
    {"negative shape",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"F32\",\"shape\":[-16],"
     "\"data_offsets\":[8448,8512]}}",
     0, -1, -1, 0, "not a non-negative integer"},
    {"metadata not strings", "{\"__metadata__\":{\"a\":1}," GOOD_TENS "," B2_OK "}", 0, -1, -1, 0,
     "not a string"},
    {"seven dimensions",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,16],"
     "\"data_offsets\":[8448,8512]}}",
     0, -1, -1, 0, "7 dimensions"},
};

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The bytes of bad file b; *len its size. */
static unsigned char *build_bad(const struct bad_file *b, size_t *len)
{
    /* A good file first: the raw cases cut it, the others replace its header. */
    const char *good = "{" GOOD_TENS "," B2_OK "}";
    const char *hdr = b->header ? b->header : good;
    int huge = b->header && strcmp(b->header, "HUGE") == 0;
    size_t hl = huge ? 2 : strlen(hdr), dl = b->data_len >= 0 ? (size_t)b->data_len : BDATA;
    unsigned char *buf = calloc(8 + hl + BDATA, 1);
    ck_assert_ptr_nonnull(buf);
    put_le64(buf, huge ? 1ull << 40 : hl);
    memcpy(buf + 8, huge ? "{}" : hdr, hl);
    float *data = (float *)(buf + 8 + hl); /* hl is not a multiple of 4: memcpy below */
    for (size_t i = 0; i < BDATA / 4; i++) {
        float v = 0.01f * (float)(i % 13);
        if ((long)i == b->poison)
            v = b->poison_inf ? 1.0f / 0.0f : __builtin_nanf("");
        memcpy((unsigned char *)data + 4 * i, &v, 4);
    }
    *len = b->header ? 8 + hl + dl : (size_t)b->raw_len;
    return buf;
}

START_TEST(test_bad_file)
{
    const struct bad_file *b = &bad_files[_i];
    char path[128], err[1024] = "";
    size_t len;
    make_dir();
    snprintf(path, sizeof(path), "%s/bad.safetensors", g_dir);
    unsigned char *buf = build_bad(b, &len);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
    struct layer *l = tu_create("dense", BD, 1, "width=64", 1, 4);
    int rc = bench_weights_load(l, path, err, sizeof(err));
    ck_assert_msg(rc == LAYER_EWEIGHTS, "%s: rc %d (%s)", b->what, rc, err);
    ck_assert_msg(strstr(err, b->expect) != NULL, "%s: message '%s' lacks '%s'", b->what, err,
                  b->expect);
    ck_assert_msg(strstr(err, path) != NULL, "%s: message '%s' does not name the file", b->what,
                  err);
    /* The in-memory parser (the fuzz entry) refuses the header kinds too, and never reads out
     * of bounds whatever the length (ASan checks under SAN=1). */
    struct bench_st_header h;
    for (size_t cut = 0; cut <= len; cut += len / 7 + 1)
        if (bench_st_parse(buf, cut, &h, err, sizeof(err)) == 0)
            bench_st_free(&h);
    layer_destroy(l);
    free(buf);
}
END_TEST

/* The good file of the table loads (so the table's failures are its own). */
START_TEST(test_good_file_loads)
{
    struct bad_file good = {"good", "{" GOOD_TENS "," B2_OK "}", 0, -1, -1, 0, ""};
    char path[128], err[1024] = "";
    size_t len;
    make_dir();
    snprintf(path, sizeof(path), "%s/good.safetensors", g_dir);
    unsigned char *buf = build_bad(&good, &len);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
    struct layer *l = tu_create("dense", BD, 1, "width=64", 1, 4);
    ck_assert_msg(bench_weights_load(l, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(bench_weights_peek(path, err, sizeof(err)), 0);
    layer_destroy(l);
    free(buf);
}
END_TEST

/* .npy files: bad magic, dtype, order, truncation, shape, a stray file. */
struct bad_npy {
    const char *what;
    const char *file;   /* which tensor's file is broken */
    const char *header; /* dict literal */
    long data_bytes;
    int bad_magic;
    const char *expect;
};

static const struct bad_npy bad_npys[] = {
    {"bad magic", "b2", "{'descr': '<f4', 'fortran_order': False, 'shape': (16,), }", 64, 1,
     "no \\x93NUMPY"},
    {"float64", "b2", "{'descr': '<f8', 'fortran_order': False, 'shape': (16,), }", 128, 0,
     "dtype '<f8'; allowed"},
    {"big-endian float16", "b2", "{'descr': '>f2', 'fortran_order': False, 'shape': (16,), }", 32,
     0, "dtype '>f2'"},
    {"float16 with float32's size", "b2",
     "{'descr': '<f2', 'fortran_order': False, 'shape': (16,), }", 64, 0, "header and shape say"},
    {"Fortran order", "w1", "{'descr': '<f4', 'fortran_order': True, 'shape': (64, 16), }", 4096, 0,
     "Fortran"},
    {"truncated", "w1", "{'descr': '<f4', 'fortran_order': False, 'shape': (64, 16), }", 4000, 0,
     "truncated"},
    {"wrong shape", "b1", "{'descr': '<f4', 'fortran_order': False, 'shape': (32, 2), }", 256, 0,
     "expected shape (64), found (32, 2)"},
    {"stray tensor", "extra", "{'descr': '<f4', 'fortran_order': False, 'shape': (16,), }", 64, 0,
     "extra.npy is not a parameter"},
};

/* dir/name.npy: version 1.0, this header, then data_bytes of data (zeros
 * when data is NULL). */
static void write_npy_raw(const char *dir, const char *name, const char *header, const void *data,
                          long data_bytes, int bad_magic)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s.npy", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    size_t hl = strlen(header);
    pre[8] = (unsigned char)hl;
    if (bad_magic)
        pre[1] = 'X';
    fwrite(pre, 1, 10, f);
    fwrite(header, 1, hl, f);
    for (long i = 0; i < data_bytes; i++)
        fputc(data ? ((const unsigned char *)data)[i] : 0, f);
    fclose(f);
}

static void write_npy(const char *dir, const char *name, const char *header, long data_bytes,
                      int bad_magic)
{
    write_npy_raw(dir, name, header, NULL, data_bytes, bad_magic);
}

static void write_npy_data(const char *dir, const char *name, const char *header, const void *data,
                           size_t bytes)
{
    write_npy_raw(dir, name, header, data, (long)bytes, 0);
}

START_TEST(test_bad_npy)
{
    const struct bad_npy *b = &bad_npys[_i];
    char dir[128], err[1024] = "";
    make_dir();
    snprintf(dir, sizeof(dir), "%s/npy", g_dir);
    struct layer *l = tu_create("dense", BD, 1, "width=64", 1, 4);
    struct layer_config cfg = {.d_model = BD, .scale = 1, .seed = 1, .threads = 1};
    ck_assert_int_eq(bench_weights_save(l, &cfg, dir, err, sizeof(err)), 0);
    ck_assert_int_eq(bench_weights_load(l, dir, err, sizeof(err)), 0);
    write_npy(dir, b->file, b->header, b->data_bytes, b->bad_magic);
    int rc = bench_weights_load(l, dir, err, sizeof(err));
    ck_assert_msg(rc == LAYER_EWEIGHTS, "%s: rc %d (%s)", b->what, rc, err);
    ck_assert_msg(strstr(err, b->expect) != NULL, "%s: message '%s' lacks '%s'", b->what, err,
                  b->expect);
    layer_destroy(l);
}
END_TEST

/* ---- the typed paths on a test-only layer ---- */

/* typed_ops: three tensors, "a" F32 (3, 4), "b" BF16 (5), "c" F16 (2, 3),
 * drawn fp32 from the seed and rounded to nearest even as the families'
 * seeded init does. Forward is y = 0 (nothing here times or checks it). */
struct typed {
    struct layer base;
    float a[12];
    uint16_t b[5];
    uint16_t c[6];
};

static const struct layer_ops typed_ops;

static int typed_create(const struct layer_config *cfg, struct layer **out, char *err,
                        size_t errlen)
{
    (void)err;
    (void)errlen;
    struct typed *t = calloc(1, sizeof(*t));
    ck_assert_ptr_nonnull(t);
    t->base.ops = &typed_ops;
    uint64_t r = cfg->seed * 0x9e3779b97f4a7c15ull + 1;
    float v[23];
    for (int i = 0; i < 23; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(r >> 11) * 0x1p-53 * 4.0 - 2.0);
    }
    memcpy(t->a, v, sizeof(t->a));
    common_dtype_narrow(LAYER_BF16, t->b, v + 12, 5);
    common_dtype_narrow(LAYER_F16, t->c, v + 17, 6);
    *out = &t->base;
    return 0;
}

static void typed_destroy(struct layer *l)
{
    free(l);
}

static int typed_forward(struct layer *l, const float *x, float *y, size_t n,
                         struct layer_stats *st)
{
    (void)l;
    (void)x;
    memset(st, 0, sizeof(*st));
    memset(y, 0, n * W_D * sizeof(float));
    return 0;
}

static int typed_ref(struct layer *l, const float *x, float *y, size_t n)
{
    struct layer_stats st;
    return typed_forward(l, x, y, n, &st);
}

static void typed_describe(const struct layer *l, struct layer_info *info)
{
    (void)l;
    memset(info, 0, sizeof(*info));
    info->unit = "tensor";
}

static void typed_help(char *buf, size_t len)
{
    snprintf(buf, len, "test layer\n");
}

static int typed_param(struct layer *l, size_t i, struct layer_param *p)
{
    struct typed *t = (struct typed *)l;
    static const uint64_t sa[] = {3, 4}, sb[] = {5}, sc[] = {2, 3};
    switch (i) {
    case 0:
        return common_param_typed(p, "", "a", t->a, LAYER_F32, 2, sa);
    case 1:
        return common_param_typed(p, "", "b", t->b, LAYER_BF16, 1, sb);
    case 2:
        return common_param_typed(p, "", "c", t->c, LAYER_F16, 2, sc);
    }
    return LAYER_EINVAL;
}

static const struct layer_ops typed_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "typed",
    .summary = "an F32, a BF16 and an F16 tensor",
    .create = typed_create,
    .destroy = typed_destroy,
    .forward = typed_forward,
    .forward_ref = typed_ref,
    .describe = typed_describe,
    .help = typed_help,
    .param = typed_param,
};

static struct typed *typed_new(uint64_t seed)
{
    struct layer_config cfg = cfg_of("", seed);
    struct layer *l = NULL;
    char err[256];
    ck_assert_int_eq(layer_create(&typed_ops, &cfg, &l, err, sizeof(err)), 0);
    return (struct typed *)l;
}

/* Export, scramble, load: every tensor's bits back, in both formats; the
 * safetensors header names BF16 and F16, .npy has '<f4' for bf16 (widened)
 * and '<f2' for f16. */
START_TEST(test_typed_round_trip)
{
    char path[2][128], err[1024] = "";
    make_dir();
    snprintf(path[0], sizeof(path[0]), "%s/t.safetensors", g_dir);
    snprintf(path[1], sizeof(path[1]), "%s/tnpy", g_dir);
    struct layer_config cfg = cfg_of("", 5);
    struct typed *a = typed_new(5);
    for (int k = 0; k < 2; k++) {
        struct typed *b = typed_new(6);
        ck_assert_msg(bench_weights_save(&a->base, &cfg, path[k], err, sizeof(err)) == 0, "%s",
                      err);
        ck_assert(memcmp(a->b, b->b, sizeof(a->b)) != 0);
        ck_assert_msg(bench_weights_load(&b->base, path[k], err, sizeof(err)) == 0, "%s", err);
        same_params(&a->base, &b->base, path[k]);
        layer_destroy(&b->base);
    }
    size_t len;
    char *st = bench_read_file(path[0], &len), file[160];
    ck_assert_ptr_nonnull(st);
    struct bench_st_header h;
    ck_assert_msg(bench_st_parse((unsigned char *)st, len, &h, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(h.n, 3);
    static const enum layer_dtype want[] = {LAYER_F32, LAYER_BF16, LAYER_F16};
    static const uint64_t bytes[] = {48, 10, 12};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(h.t[i].dtype, want[i]);
        ck_assert_uint_eq(h.t[i].end - h.t[i].begin, bytes[i]);
    }
    ck_assert_ptr_nonnull(strstr(st + 8, "\"dtype\":\"BF16\"")); /* after the length */
    bench_st_free(&h);
    free(st);
    static const char *const npy_descr[] = {"'<f4'", "'<f4'", "'<f2'"};
    static const char *const npy_name[] = {"a", "b", "c"};
    static const long npy_bytes[] = {48, 20, 12};
    for (int i = 0; i < 3; i++) {
        snprintf(file, sizeof(file), "%s/%s.npy", path[1], npy_name[i]);
        char *t = bench_read_file(file, &len);
        ck_assert_ptr_nonnull(t);
        ck_assert_msg(strstr(t + 10, npy_descr[i]) != NULL, "%s: not %s", file, npy_descr[i]);
        ck_assert_uint_eq(len % 64, (size_t)npy_bytes[i] % 64);
        free(t);
    }
    /* the bf16 tensor's .npy holds its values widened exactly */
    snprintf(file, sizeof(file), "%s/b.npy", path[1]);
    char *t = bench_read_file(file, &len);
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < 5; i++) {
        float v;
        memcpy(&v, t + len - 20 + 4 * i, 4);
        ck_assert_float_eq(v, common_bf16_to_f32(a->b[i]));
    }
    free(t);
    layer_destroy(&a->base);
}
END_TEST

/* A hand-built safetensors file: tensors named, dtyped, shaped, with data. */
struct st_tensor {
    const char *name, *dtype, *shape; /* shape: a JSON array */
    const void *data;
    size_t bytes;
};

static void write_st(const char *path, const struct st_tensor *t, int n)
{
    char hdr[2048];
    size_t used = (size_t)snprintf(hdr, sizeof(hdr), "{"), off = 0;
    for (int i = 0; i < n; i++) {
        used += (size_t)snprintf(
            hdr + used, sizeof(hdr) - used,
            "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}", i ? "," : "",
            t[i].name, t[i].dtype, t[i].shape, off, off + t[i].bytes);
        off += t[i].bytes;
    }
    used += (size_t)snprintf(hdr + used, sizeof(hdr) - used, "}");
    unsigned char len8[8];
    put_le64(len8, used);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(len8, 1, 8, f), 8);
    ck_assert_uint_eq(fwrite(hdr, 1, used, f), used);
    for (int i = 0; i < n; i++)
        ck_assert_uint_eq(fwrite(t[i].data, 1, t[i].bytes, f), t[i].bytes);
    fclose(f);
}

/* Values with a known rounding: ties to even both ways, and a value each
 * type only just holds. */
static const float a_vals[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
/* bf16: 1 + 2^-8 (a tie, even below: 1), 1 + 3 x 2^-8 (a tie, even above:
 * 1 + 2^-6), 3.3895314e38 (bf16's largest), -0.5, 1e-3 */
static const float b_vals[5] = {1.00390625f, 1.01171875f, 3.3895314e38f, -0.5f, 1e-3f};
static const uint16_t b_bits[5] = {0x3f80, 0x3f82, 0x7f7f, 0xbf00, 0x3a83};
/* f16: 1 + 2^-11 (tie, down), 1 + 3 x 2^-11 (tie, up), 65519 (to 65504),
 * -2, 2^-24 (the smallest subnormal), 0.1 */
static const float c_vals[6] = {1.00048828125f, 1.00146484375f, 65519.0f, -2.0f, 0x1p-24f, 0.1f};
static const uint16_t c_bits[6] = {0x3c00, 0x3c02, 0x7bff, 0xc000, 0x0001, 0x2e66};

/* An all-F32 file into the typed layer: a copied exactly, b and c rounded
 * to nearest even (the bits above); an F16 file into the F32 and BF16
 * tensors widens (and for bf16 rounds again). */
START_TEST(test_typed_cross_load)
{
    char path[128], err[1024] = "";
    make_dir();
    snprintf(path, sizeof(path), "%s/f32.safetensors", g_dir);
    const struct st_tensor f32[] = {{"a", "F32", "[3,4]", a_vals, sizeof(a_vals)},
                                    {"b", "F32", "[5]", b_vals, sizeof(b_vals)},
                                    {"c", "F32", "[2,3]", c_vals, sizeof(c_vals)}};
    write_st(path, f32, 3);
    struct typed *t = typed_new(1);
    ck_assert_msg(bench_weights_load(&t->base, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert(memcmp(t->a, a_vals, sizeof(a_vals)) == 0);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(t->b[i] == b_bits[i], "b[%d] = %#x, want %#x", i, t->b[i], b_bits[i]);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(t->c[i] == c_bits[i], "c[%d] = %#x, want %#x", i, t->c[i], c_bits[i]);
    /* F16 everywhere: a widened exactly, b from f16 through fp32 to bf16 */
    uint16_t ha[12], hb[5] = {0x3c01, 0x3e00, 0xc000, 0x0001, 0x7bff};
    for (int i = 0; i < 12; i++)
        ha[i] = common_f32_to_f16(a_vals[i] + 0.5f);
    const struct st_tensor f16[] = {{"a", "F16", "[3,4]", ha, sizeof(ha)},
                                    {"b", "F16", "[5]", hb, sizeof(hb)},
                                    {"c", "F16", "[2,3]", c_bits, sizeof(c_bits)}};
    snprintf(path, sizeof(path), "%s/f16.safetensors", g_dir);
    write_st(path, f16, 3);
    ck_assert_msg(bench_weights_load(&t->base, path, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(t->a[i], a_vals[i] + 0.5f);
    /* 1 + 2^-10 -> 1 (bf16 keeps 7 bits), 1.5, -2, 2^-24, 65504 -> 65536 */
    static const uint16_t hb_bf16[5] = {0x3f80, 0x3fc0, 0xc000, 0x3380, 0x4780};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(t->b[i] == hb_bf16[i], "b[%d] = %#x, want %#x", i, t->b[i], hb_bf16[i]);
    ck_assert(memcmp(t->c, c_bits, sizeof(c_bits)) == 0);
    /* BF16 into the F16 tensor: 1.5 stays, bf16 0x3f81 (1 + 2^-7) is exact in f16 */
    uint16_t bc[6] = {0x3fc0, 0x3f81, 0xc000, 0x3f80, 0x0000, 0x8000};
    const struct st_tensor bf[] = {{"a", "F32", "[3,4]", a_vals, sizeof(a_vals)},
                                   {"b", "BF16", "[5]", b_bits, sizeof(b_bits)},
                                   {"c", "BF16", "[2,3]", bc, sizeof(bc)}};
    snprintf(path, sizeof(path), "%s/bf16.safetensors", g_dir);
    write_st(path, bf, 3);
    ck_assert_msg(bench_weights_load(&t->base, path, err, sizeof(err)) == 0, "%s", err);
    static const uint16_t bc_f16[6] = {0x3e00, 0x3c08, 0xc000, 0x3c00, 0x0000, 0x8000};
    for (int i = 0; i < 6; i++)
        ck_assert_msg(t->c[i] == bc_f16[i], "c[%d] = %#x, want %#x", i, t->c[i], bc_f16[i]);
    ck_assert(memcmp(t->b, b_bits, sizeof(b_bits)) == 0);
    layer_destroy(&t->base);
}
END_TEST

/* A value the stored dtype cannot hold is refused, naming file, tensor,
 * element and value: f16's 65520 and 70000 (F32 files), bf16's FLT_MAX. */
struct overflow_case {
    const char *tensor;
    int index;
    float value;
    const char *expect;
};

static const struct overflow_case overflows[] = {
    {"c", 4, 70000.0f, "element 4 is 70000 (F32 in the file), which overflows the layer's f16"},
    {"c", 0, -65520.0f, "element 0 is -65520"},
    {"b", 2, 3.4028235e38f,
     "element 2 is 3.40282347e+38 (F32 in the file), which overflows the "
     "layer's bf16"},
    {"c", 1, __builtin_inff(), "element 1 is infinite"},
    {"b", 3, __builtin_nanf(""), "element 3 is NaN"},
};

START_TEST(test_typed_overflow)
{
    const struct overflow_case *o = &overflows[_i];
    char path[128], dir[128], err[1024] = "";
    float b[5], c[6];
    memcpy(b, b_vals, sizeof(b));
    memcpy(c, c_vals, sizeof(c));
    (o->tensor[0] == 'b' ? b : c)[o->index] = o->value;
    make_dir();
    snprintf(path, sizeof(path), "%s/over.safetensors", g_dir);
    const struct st_tensor f32[] = {{"a", "F32", "[3,4]", a_vals, sizeof(a_vals)},
                                    {"b", "F32", "[5]", b, sizeof(b)},
                                    {"c", "F32", "[2,3]", c, sizeof(c)}};
    write_st(path, f32, 3);
    struct typed *t = typed_new(1);
    int rc = bench_weights_load(&t->base, path, err, sizeof(err));
    ck_assert_msg(rc == LAYER_EWEIGHTS, "rc %d (%s)", rc, err);
    ck_assert_msg(strstr(err, o->expect) && strstr(err, path), "message '%s' lacks '%s' or %s", err,
                  o->expect, path);
    char tq[16];
    snprintf(tq, sizeof(tq), "'%s'", o->tensor);
    ck_assert_msg(strstr(err, tq) != NULL, "message '%s' does not name %s", err, tq);
    /* the same through .npy files ('<f4') */
    snprintf(dir, sizeof(dir), "%s/npy", g_dir);
    struct layer_config cfg = cfg_of("", 1);
    ck_assert_int_eq(bench_weights_save(&t->base, &cfg, dir, err, sizeof(err)), 0);
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }",
             o->tensor[0] == 'b' ? "5," : "2, 3");
    write_npy_data(dir, o->tensor, hdr, o->tensor[0] == 'b' ? b : c,
                   o->tensor[0] == 'b' ? sizeof(b) : sizeof(c));
    rc = bench_weights_load(&t->base, dir, err, sizeof(err));
    ck_assert_msg(rc == LAYER_EWEIGHTS && strstr(err, o->expect), "npy: rc %d (%s)", rc, err);
    layer_destroy(&t->base);
}
END_TEST

/* A '<f2' .npy into the bf16 tensor (through fp32, rounded) and into the
 * f32 tensor (widened), as numpy.save writes float16. */
START_TEST(test_typed_npy_f16)
{
    char dir[128], err[1024] = "";
    make_dir();
    snprintf(dir, sizeof(dir), "%s/npy", g_dir);
    struct typed *t = typed_new(1);
    struct layer_config cfg = cfg_of("", 1);
    ck_assert_int_eq(bench_weights_save(&t->base, &cfg, dir, err, sizeof(err)), 0);
    uint16_t hb[5] = {0x3c01, 0x3e00, 0xc000, 0x0001, 0x7bff}, ha[12];
    for (int i = 0; i < 12; i++)
        ha[i] = common_f32_to_f16(-a_vals[i]);
    write_npy_data(dir, "b", "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }", hb,
                   sizeof(hb));
    write_npy_data(dir, "a", "{'descr': '<f2', 'fortran_order': False, 'shape': (3, 4), }", ha,
                   sizeof(ha));
    ck_assert_msg(bench_weights_load(&t->base, dir, err, sizeof(err)) == 0, "%s", err);
    static const uint16_t hb_bf16[5] = {0x3f80, 0x3fc0, 0xc000, 0x3380, 0x4780};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(t->b[i] == hb_bf16[i], "b[%d] = %#x, want %#x", i, t->b[i], hb_bf16[i]);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(t->a[i], -a_vals[i]);
    layer_destroy(&t->base);
}
END_TEST

/* `run --weights BAD` exits 2 with the reason; a good file runs. */
START_TEST(test_run_exit_codes)
{
    char path[128], good[128], d[8];
    make_dir();
    snprintf(path, sizeof(path), "%s/bad.safetensors", g_dir);
    snprintf(good, sizeof(good), "%s/good.safetensors", g_dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("nonsense", f);
    fclose(f);
    snprintf(d, sizeof(d), "%d", BD);
    char *bad_argv[] = {"--impl", "dense", "--d", d, "--weights", path, "--rounds", "11", NULL};
    ck_assert_int_eq(bench_cmd_run(8, bad_argv), BENCH_EXIT_USAGE);
    struct layer *l = tu_create("dense", BD, 1, "", 1, 4);
    struct layer_config cfg = {.d_model = BD, .scale = 1, .seed = 1, .threads = 1};
    char err[512];
    ck_assert_int_eq(bench_weights_save(l, &cfg, good, err, sizeof(err)), 0);
    layer_destroy(l);
    char *good_argv[] = {"--impl", "dense", "--d", d, "--weights", good, "--threads", "1", NULL};
    ck_assert_int_eq(bench_cmd_run(8, good_argv), 0);
}
END_TEST

/* `run --knobs dtype=f16 --weights F32_FILE` with a value beyond f16 exits 2
 * (the file, tensor, element and value on stderr); the same file runs at
 * bf16, whose range is fp32's. Skipped while dense lacks the knob. */
START_TEST(test_run_f16_overflow_exits_2)
{
    if (!takes_knobs(layer_find("dense"), "dtype=f16"))
        return;
    char path[128], d[8], err[512];
    make_dir();
    snprintf(path, sizeof(path), "%s/big.safetensors", g_dir);
    snprintf(d, sizeof(d), "%d", BD);
    struct layer *l = tu_create("dense", BD, 1, "", 1, 4);
    struct layer_param p;
    ck_assert_int_eq(l->ops->param(l, 0, &p), 0);
    ck_assert_int_eq(p.dtype, LAYER_F32);
    ((float *)p.data)[7] = 70000.0f;
    struct layer_config cfg = {.d_model = BD, .scale = 1, .seed = 1, .threads = 1};
    ck_assert_int_eq(bench_weights_save(l, &cfg, path, err, sizeof(err)), 0);
    layer_destroy(l);
    char *f16[] = {"--impl",    "dense", "--d",       d,   "--knobs", "dtype=f16",
                   "--weights", path,    "--threads", "1", NULL};
    ck_assert_int_eq(bench_cmd_run(10, f16), BENCH_EXIT_USAGE);
    char *bf16[] = {"--impl",    "dense", "--d",       d,   "--knobs", "dtype=bf16",
                    "--weights", path,    "--threads", "1", NULL};
    ck_assert_int_eq(bench_cmd_run(10, bf16), 0);
}
END_TEST

/* A sweep slot's weights = FILE: a missing file stops the sweep before it
 * measures (exit 2); a good one is loaded and its rows say so. */
static void write_sweep(const char *path, const char *weights)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "d_model = %d\nseq_len = 1 2\nthreads = 1\nrounds = 11\nround_ms = 1\n"
            "[dense]\nweights = %s\n",
            BD, weights);
    fclose(f);
}

START_TEST(test_sweep_missing_weights_exits_2)
{
    char file[128], out[128];
    make_dir();
    snprintf(file, sizeof(file), "%s/w.sweep", g_dir);
    snprintf(out, sizeof(out), "%s/out", g_dir);
    write_sweep(file, "/nonexistent/w.safetensors");
    char *argv[] = {file, "--dry-run", "--out", out, NULL};
    bench_cmd_sweep(4, argv);
}
END_TEST

START_TEST(test_sweep_loads_weights)
{
    char file[128], out[128], w[128], csv[160], err[512];
    make_dir();
    snprintf(file, sizeof(file), "%s/w.sweep", g_dir);
    snprintf(out, sizeof(out), "%s/out", g_dir);
    snprintf(w, sizeof(w), "%s/dense.safetensors", g_dir);
    struct layer *l = tu_create("dense", BD, 1, "", 1, 4);
    struct layer_config cfg = {.d_model = BD, .scale = 1, .seed = 1, .threads = 1};
    ck_assert_int_eq(bench_weights_save(l, &cfg, w, err, sizeof(err)), 0);
    layer_destroy(l);
    write_sweep(file, w);
    char *argv[] = {file, "--out", out, "--no-probe", "--no-plot", NULL};
    ck_assert_int_eq(bench_cmd_sweep(5, argv), 0);
    snprintf(csv, sizeof(csv), "%s/results.csv", out);
    size_t len;
    char *text = bench_read_file(csv, &len);
    ck_assert_ptr_nonnull(text);
    size_t rows = 0;
    for (const char *p = text; (p = strstr(p, "weights /tmp/sb_weights_")) != NULL; p++)
        rows++;
    ck_assert_uint_eq(rows, 2);
    free(text);
}
END_TEST

static Suite *weights_suite(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("round_trip");
    int n = (int)layer_count();
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_param_list, 0, n);
    tcase_add_loop_test(tc, test_round_trip_safetensors, 0, n);
    tcase_add_loop_test(tc, test_round_trip_npy, 0, n);
    tcase_add_loop_test(tc, test_numpy_files, 0, n);
    tcase_add_loop_test(tc, test_round_trip_dtype, 0, n * N_DT);
    tcase_add_loop_test(tc, test_cross_dtype, 0, n * 2);
    suite_add_tcase(s, tc);
    TCase *typed = tcase_create("typed");
    tcase_add_test(typed, test_typed_round_trip);
    tcase_add_test(typed, test_typed_cross_load);
    tcase_add_loop_test(typed, test_typed_overflow, 0,
                        (int)(sizeof(overflows) / sizeof(overflows[0])));
    tcase_add_test(typed, test_typed_npy_f16);
    suite_add_tcase(s, typed);
    TCase *bad = tcase_create("bad_files");
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, test_good_file_loads);
    tcase_add_loop_test(bad, test_bad_file, 0, (int)(sizeof(bad_files) / sizeof(bad_files[0])));
    tcase_add_loop_test(bad, test_bad_npy, 0, (int)(sizeof(bad_npys) / sizeof(bad_npys[0])));
    tcase_add_test(bad, test_run_exit_codes);
    tcase_add_test(bad, test_run_f16_overflow_exits_2);
    tcase_add_exit_test(bad, test_sweep_missing_weights_exits_2, BENCH_EXIT_USAGE);
    tcase_add_test(bad, test_sweep_loads_weights);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    return tu_run_suite(weights_suite());
}
