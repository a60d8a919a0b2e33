/* check_weights.c - bench/weights.c: export then import is bit-identical for
 * every registered layer (safetensors and .npy), derived state is rebuilt
 * from loaded tensors, NumPy-written and Python-assembled files load and run
 * (tests/data/weights_np.py; skipped with the reason when python3-numpy is
 * missing), and bad files are refused with their reason, never a crash.
 */
#include "test_util.h"
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

/* Overwrite every parameter with other numbers and re-derive, so a load
 * that missed a tensor or a derived table shows in the output. */
static void scramble(struct layer *l)
{
    struct layer_param p;
    for (size_t i = 0; l->ops->param(l, i, &p) == 0; i++) {
        uint64_t n = 1;
        for (int d = 0; d < p.ndim; d++)
            n *= p.shape[d];
        for (uint64_t j = 0; j < n; j++)
            ((float *)p.data)[j] = ((float *)p.data)[j] * -1.25f + 0.001f * (float)(j % 7);
    }
    if (l->ops->derive)
        ck_assert_int_eq(l->ops->derive(l), 0);
}

static const struct layer_ops *ops_at(int i)
{
    const struct layer_ops *ops = layer_get((size_t)i);
    ck_assert_ptr_nonnull(ops);
    ck_assert_msg(ops->param != NULL, "%s has no param op", ops->name);
    return ops;
}

/* Export layer (seed 77) to path, load into a scrambled twin: forward and
 * forward_ref bit-identical to the original's. */
static void round_trip(const struct layer_ops *ops, const char *path)
{
    struct layer_config cfg = cfg_of("", 77);
    struct layer *a = tu_create(ops->name, W_D, W_SCALE, "", 77, W_TOKENS);
    struct layer *b = tu_create(ops->name, W_D, W_SCALE, "", 77, W_TOKENS);
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
    round_trip(ops, path);
}
END_TEST

START_TEST(test_round_trip_npy)
{
    const struct layer_ops *ops = ops_at(_i);
    char path[128];
    make_dir();
    snprintf(path, sizeof(path), "%s/npy", g_dir);
    round_trip(ops, path);
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
    char st[128], npy[128], rst[128], rnpy[128], cmd[1024];
    make_dir();
    snprintf(st, sizeof(st), "%s/w.safetensors", g_dir);
    snprintf(npy, sizeof(npy), "%s/np", g_dir);
    snprintf(rst, sizeof(rst), "%s/rand.safetensors", g_dir);
    snprintf(rnpy, sizeof(rnpy), "%s/rand_np", g_dir);
    struct layer_config cfg = cfg_of("", 77);
    struct layer *a = tu_create(ops->name, W_D, W_SCALE, "", 77, W_TOKENS);
    char err[1024] = "";
    ck_assert_msg(bench_weights_save(a, &cfg, st, err, sizeof(err)) == 0, "%s", err);
    layer_destroy(a);
    snprintf(cmd, sizeof(cmd), "%s tests/data/weights_np.py '%s' '%s' '%s' '%s' 5", py, st, npy,
             rst, rnpy);
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
    {"wrong dtype",
     "{" GOOD_TENS ",\"b2\":{\"dtype\":\"F16\",\"shape\":[16],"
     "\"data_offsets\":[8448,8480]}}",
     0, -1, -1, 0, "dtype F16"},
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
     "dtype '<f8'"},
    {"Fortran order", "w1", "{'descr': '<f4', 'fortran_order': True, 'shape': (64, 16), }", 4096, 0,
     "Fortran"},
    {"truncated", "w1", "{'descr': '<f4', 'fortran_order': False, 'shape': (64, 16), }", 4000, 0,
     "truncated"},
    {"wrong shape", "b1", "{'descr': '<f4', 'fortran_order': False, 'shape': (32, 2), }", 256, 0,
     "expected shape (64), found (32, 2)"},
    {"stray tensor", "extra", "{'descr': '<f4', 'fortran_order': False, 'shape': (16,), }", 64, 0,
     "extra.npy is not a parameter"},
};

static void write_npy(const char *dir, const char *name, const char *header, long data_bytes,
                      int bad_magic)
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
        fputc(0, f);
    fclose(f);
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
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("bad_files");
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, test_good_file_loads);
    tcase_add_loop_test(bad, test_bad_file, 0, (int)(sizeof(bad_files) / sizeof(bad_files[0])));
    tcase_add_loop_test(bad, test_bad_npy, 0, (int)(sizeof(bad_npys) / sizeof(bad_npys[0])));
    tcase_add_test(bad, test_run_exit_codes);
    tcase_add_exit_test(bad, test_sweep_missing_weights_exits_2, BENCH_EXIT_USAGE);
    tcase_add_test(bad, test_sweep_loads_weights);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    return tu_run_suite(weights_suite());
}
