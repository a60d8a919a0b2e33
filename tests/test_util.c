/* test_util.c - helpers for the Check suites. */
#include "test_util.h"
#include "../impls/common/common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct layer *tu_create_threads(const char *impl, size_t d_model, unsigned scale, const char *knobs,
                                uint64_t seed, size_t max_tokens, int threads)
{
    const struct layer_ops *ops = layer_find(impl);
    ck_assert_msg(ops != NULL, "layer '%s' is not registered", impl);
    struct layer_config cfg = {d_model, scale, seed, threads, max_tokens, knobs, NULL};
    struct layer *l = NULL;
    char err[512] = "";
    int rc = layer_create(ops, &cfg, &l, err, sizeof(err));
    ck_assert_msg(rc == 0, "create %s (d=%zu scale=%u threads=%d knobs='%s') failed: %s (%s)", impl,
                  d_model, scale, threads, knobs ? knobs : "", layer_strerror(rc), err);
    ck_assert_ptr_nonnull(l);
    return l;
}

struct layer *tu_create(const char *impl, size_t d_model, unsigned scale, const char *knobs,
                        uint64_t seed, size_t max_tokens)
{
    return tu_create_threads(impl, d_model, scale, knobs, seed, max_tokens, 1);
}

int tu_create_fails(const char *impl, size_t d_model, unsigned scale, const char *knobs, char *err,
                    size_t errlen)
{
    const struct layer_ops *ops = layer_find(impl);
    ck_assert_msg(ops != NULL, "layer '%s' is not registered", impl);
    struct layer_config cfg = {d_model, scale, 1, 1, 4, knobs, NULL};
    struct layer *l = (struct layer *)&cfg; /* must be reset to NULL */
    err[0] = '\0';
    int rc = layer_create(ops, &cfg, &l, err, errlen);
    ck_assert_msg(rc < 0, "create %s with knobs '%s' should fail", impl, knobs);
    ck_assert_ptr_null(l);
    ck_assert_msg(err[0] != '\0', "create %s with knobs '%s' failed without a message", impl,
                  knobs);
    return rc;
}

float *tu_tokens(size_t n, size_t d_model, uint64_t seed)
{
    float *x = malloc(n * d_model * sizeof(*x));
    struct common_rng r;
    ck_assert_ptr_nonnull(x);
    common_rng_seed(&r, seed, 99);
    common_rng_fill_normal(&r, x, n * d_model, 1.0f);
    return x;
}

float *tu_zeros(size_t n)
{
    float *x = calloc(n ? n : 1, sizeof(*x));
    ck_assert_ptr_nonnull(x);
    return x;
}

double tu_max_abs_diff(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= worst))
            worst = e;
    }
    return worst;
}

double tu_max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m)
            m = fabs(a[i]);
    return m;
}

double tu_forward_vs_ref(struct layer *l, size_t d_model, size_t n_tokens, uint64_t seed,
                         struct layer_stats *st)
{
    float *x = tu_tokens(n_tokens, d_model, seed);
    float *y = tu_zeros(n_tokens * d_model), *yr = tu_zeros(n_tokens * d_model);
    struct layer_stats local;
    ck_assert_int_eq(l->ops->forward(l, x, y, n_tokens, st ? st : &local), 0);
    ck_assert_int_eq(l->ops->forward_ref(l, x, yr, n_tokens), 0);
    double scale = tu_max_abs(yr, n_tokens * d_model);
    double err = tu_max_abs_diff(y, yr, n_tokens * d_model) / (scale > 1 ? scale : 1);
    free(x);
    free(y);
    free(yr);
    return err;
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- tu_broken_ops: dense with a wrong first output ---- */

struct wrapped {
    struct layer base;
    struct layer *dense;
};

static struct layer *inner(struct layer *l)
{
    return ((struct wrapped *)l)->dense;
}

static int broken_create(const struct layer_config *cfg, struct layer **out, char *err,
                         size_t errlen)
{
    struct wrapped *w = calloc(1, sizeof(*w));
    ck_assert_ptr_nonnull(w);
    int rc = layer_create(layer_find("dense"), cfg, &w->dense, err, errlen);
    if (rc) {
        free(w);
        return rc;
    }
    w->base.ops = &tu_broken_ops;
    *out = &w->base;
    return 0;
}

static void broken_destroy(struct layer *l)
{
    if (!l)
        return;
    layer_destroy(inner(l));
    free(l);
}

static int broken_forward(struct layer *l, const float *x, float *y, size_t n,
                          struct layer_stats *st)
{
    int rc = inner(l)->ops->forward(inner(l), x, y, n, st);
    y[0] += 1.0f;
    return rc;
}

static int broken_ref(struct layer *l, const float *x, float *y, size_t n)
{
    return inner(l)->ops->forward_ref(inner(l), x, y, n);
}

static void broken_describe(const struct layer *l, struct layer_info *info)
{
    const struct layer *d = ((const struct wrapped *)l)->dense;
    d->ops->describe(d, info);
}

static void broken_help(char *buf, size_t len)
{
    snprintf(buf, len, "test layer\n");
}

const struct layer_ops tu_broken_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "broken",
    .summary = "dense with a wrong first output",
    .create = broken_create,
    .destroy = broken_destroy,
    .forward = broken_forward,
    .forward_ref = broken_ref,
    .describe = broken_describe,
    .help = broken_help,
};

int tu_run_cmd(int (*cmd)(int, char **), const char *out, const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_ptr_nonnull(freopen(out, "w", stdout));
    int rc = cmd(argc, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    return rc;
}

#define TU_MAX_TMPDIRS 8 /* a suite makes one or two */

static struct {
    char path[64];
    pid_t owner;
} tu_dirs[TU_MAX_TMPDIRS];
static int tu_ndirs;

static void tu_remove_tmpdirs(void)
{
    char cmd[128];
    for (int i = 0; i < tu_ndirs; i++) {
        if (tu_dirs[i].owner != getpid())
            continue;
        if (snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tu_dirs[i].path) >= (int)sizeof(cmd) ||
            system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tu_dirs[i].path);
    }
}

void tu_tmpdir(char *dir, size_t len, const char *name)
{
    ck_assert_int_lt(tu_ndirs, TU_MAX_TMPDIRS);
    snprintf(dir, len, "/tmp/sb_%s_XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_uint_lt(strlen(dir), sizeof(tu_dirs[0].path));
    if (tu_ndirs == 0)
        atexit(tu_remove_tmpdirs);
    snprintf(tu_dirs[tu_ndirs].path, sizeof(tu_dirs[0].path), "%s", dir);
    tu_dirs[tu_ndirs].owner = getpid();
    tu_ndirs++;
}
