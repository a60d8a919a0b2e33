/* check_contract.c - the layer.h contract, run against every registered
 * layer (one loop iteration per registry entry): create/destroy,
 * destroy(NULL), determinism by seed, forward == forward_ref, honest stats
 * and description, refusal of unknown knobs and oversized batches, and
 * check agreeing with create (code, message, bytes) without allocating.
 *
 * Every layer joins this suite by being in impls/registry.c. The shared
 * configuration is small (D = 64, scale 4) so every family fits it.
 */
#include "test_util.h"
#include "test_narrow.h"
#include "../impls/common/common.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define C_D      64
#define C_SCALE  4
#define C_TOKENS 16

static const struct layer_ops *ops_at(int i)
{
    const struct layer_ops *ops = layer_get((size_t)i);
    ck_assert_ptr_nonnull(ops);
    ck_assert_int_eq(ops->abi_version, LAYER_ABI_VERSION);
    ck_assert_ptr_nonnull(ops->name);
    ck_assert_ptr_nonnull(ops->summary);
    ck_assert_ptr_nonnull(ops->create);
    ck_assert_ptr_nonnull(ops->destroy);
    ck_assert_ptr_nonnull(ops->forward);
    ck_assert_ptr_nonnull(ops->forward_ref);
    ck_assert_ptr_nonnull(ops->describe);
    ck_assert_ptr_nonnull(ops->help);
    ck_assert_ptr_eq(layer_find(ops->name), ops);
    return ops;
}

START_TEST(test_create_destroy)
{
    const struct layer_ops *ops = ops_at(_i);
    struct layer *l = tu_create(ops->name, C_D, C_SCALE, "", 1, C_TOKENS);
    ck_assert_ptr_eq(l->ops, ops);
    layer_destroy(l);
    ops->destroy(NULL);
}
END_TEST

START_TEST(test_same_seed_same_output)
{
    const struct layer_ops *ops = ops_at(_i);
    struct layer *a = tu_create(ops->name, C_D, C_SCALE, "", 77, C_TOKENS);
    struct layer *b = tu_create(ops->name, C_D, C_SCALE, "", 77, C_TOKENS);
    struct layer *c = tu_create(ops->name, C_D, C_SCALE, "", 78, C_TOKENS);
    float *x = tu_tokens(C_TOKENS, C_D, 3);
    float *ya = tu_zeros(C_TOKENS * C_D), *yb = tu_zeros(C_TOKENS * C_D),
          *yc = tu_zeros(C_TOKENS * C_D);
    struct layer_stats sa, sb, sc;
    ck_assert_int_eq(a->ops->forward(a, x, ya, C_TOKENS, &sa), 0);
    ck_assert_int_eq(b->ops->forward(b, x, yb, C_TOKENS, &sb), 0);
    ck_assert_int_eq(c->ops->forward(c, x, yc, C_TOKENS, &sc), 0);
    ck_assert_msg(memcmp(ya, yb, sizeof(float) * C_TOKENS * C_D) == 0,
                  "%s: same seed, different output", ops->name);
    ck_assert_msg(memcmp(&sa, &sb, sizeof(sa)) == 0, "%s: same seed, different stats", ops->name);
    ck_assert_msg(tu_max_abs_diff(ya, yc, C_TOKENS * C_D) > 0,
                  "%s: another seed gave the same output", ops->name);
    layer_destroy(a);
    layer_destroy(b);
    layer_destroy(c);
    free(x);
    free(ya);
    free(yb);
    free(yc);
}
END_TEST

START_TEST(test_forward_matches_ref)
{
    const struct layer_ops *ops = ops_at(_i);
    struct layer *l = tu_create(ops->name, C_D, C_SCALE, "", 5, C_TOKENS);
    const size_t counts[] = {1, 3, C_TOKENS};
    for (int k = 0; k < 3; k++) {
        double err = tu_forward_vs_ref(l, C_D, counts[k], 11 + k, NULL);
        ck_assert_msg(err <= 1e-4, "%s T=%zu: forward vs forward_ref relative error %.3g",
                      ops->name, counts[k], err);
    }
    layer_destroy(l);
}
END_TEST

START_TEST(test_stats_and_describe)
{
    const struct layer_ops *ops = ops_at(_i);
    struct layer *l = tu_create(ops->name, C_D, C_SCALE, "", 5, C_TOKENS);
    struct layer_stats st;
    memset(&st, 0xff, sizeof(st));
    tu_forward_vs_ref(l, C_D, C_TOKENS, 1, &st);
    ck_assert_msg(st.flops > 0, "%s: zero flops", ops->name);
    ck_assert_msg(st.units_total > 0, "%s: zero units_total", ops->name);
    ck_assert_msg(st.units_touched <= st.units_total, "%s: touched %llu of %llu units", ops->name,
                  (unsigned long long)st.units_touched, (unsigned long long)st.units_total);
    ck_assert_msg(st.dense_bytes + st.sparse_bytes > 0, "%s: reads no bytes", ops->name);
    struct layer_info info;
    memset(&info, 0, sizeof(info));
    l->ops->describe(l, &info);
    ck_assert_msg(info.params_total > 0, "%s: no parameters", ops->name);
    ck_assert_msg(info.params_active <= info.params_total, "%s: active > total", ops->name);
    ck_assert_ptr_nonnull(info.unit);
    ck_assert_msg(info.n_regions >= 1 && info.n_regions <= LAYER_MAX_REGIONS, "%s: %d regions",
                  ops->name, info.n_regions);
    uint64_t bytes = 0;
    for (int i = 0; i < info.n_regions; i++)
        bytes += info.regions[i].bytes;
    ck_assert_msg(bytes >= 4 * info.params_total, "%s: regions hold %llu bytes for %llu parameters",
                  ops->name, (unsigned long long)bytes, (unsigned long long)info.params_total);
    char help[4096] = "";
    ops->help(help, sizeof(help));
    layer_destroy(l);
}
END_TEST

START_TEST(test_unknown_knob_refused)
{
    const struct layer_ops *ops = ops_at(_i);
    char err[512];
    int rc = tu_create_fails(ops->name, C_D, C_SCALE, "no_such_knob=1", err, sizeof(err));
    ck_assert_int_eq(rc, LAYER_EKNOB);
    ck_assert_msg(strstr(err, "no_such_knob") != NULL, "%s: message '%s' does not name the knob",
                  ops->name, err);
}
END_TEST

START_TEST(test_too_many_tokens_refused)
{
    const struct layer_ops *ops = ops_at(_i);
    struct layer *l = tu_create(ops->name, C_D, C_SCALE, "", 5, 2);
    float *x = tu_zeros(3 * C_D), *y = tu_zeros(3 * C_D);
    struct layer_stats st;
    ck_assert_int_eq(l->ops->forward(l, x, y, 3, &st), LAYER_EINVAL);
    ck_assert_int_eq(l->ops->forward_ref(l, x, y, 3), LAYER_EINVAL);
    layer_destroy(l);
    free(x);
    free(y);
}
END_TEST

START_TEST(test_registry)
{
    ck_assert_uint_ge(layer_count(), 1);
    ck_assert_ptr_null(layer_get(layer_count()));
    ck_assert_ptr_null(layer_find("no-such-layer"));
    ck_assert_ptr_null(layer_find(NULL));
    for (size_t i = 0; i < layer_count(); i++)
        for (size_t j = i + 1; j < layer_count(); j++)
            ck_assert_str_ne(layer_get(i)->name, layer_get(j)->name);
    ck_assert_str_eq(layer_strerror(LAYER_EKNOB), "bad knob");
    ck_assert_str_eq(layer_strerror(12345), "unknown error");
}
END_TEST

/* ---- check agrees with create ---- */

/* The grid every layer is checked on; each case is small enough to build
 * in milliseconds or far too big for any machine, so the test stays fast:
 * D = 2^20 is 32 TiB of dense weights, 2^36 tokens terabytes of scratch,
 * scale 2^20 at D = 512 more experts, sub-keys or tree memory than any
 * layer allows or any machine holds (dense ignores the scale and fits). */
static const struct check_case {
    size_t d_model;
    unsigned scale;
    int threads;
    size_t max_tokens;
    const char *knobs;
} check_grid[] = {
    {64, 4, 1, 16, ""},              /* the contract's own configuration */
    {96, 2, 2, 5, ""},               /* another width, two workers */
    {48, 8, 1, 1, ""},               /* one token */
    {64, 1, 1, 4, ""},               /* scale 1: memory layers have no memory left */
    {64, 4, 1, 4, "no_such_knob=1"}, /* a bad knob */
    {64, 4, 1, 4, "no_equals_sign"}, /* a knob without a value */
    {64, 4, 1, 4, "preset=no_such"}, /* an unknown preset (or no presets at all) */
    {64, 4, 1, 4, "concurrent=1"},   /* a composite's two threads, with one */
    {1 << 20, 4, 1, 1, ""},          /* weights far beyond memory */
    {64, 4, 1, (size_t)1 << 36, ""}, /* scratch far beyond memory */
    {512, 1u << 20, 1, 1, ""},       /* a scale no memory layer reaches */
};

/* Family knobs each refused or accepted for its own reason: out of range,
 * sizes that do not fit together, the largest legal sizes. A layer whose
 * knobs these are not refuses them as unknown, which must agree too. */
static const char *const check_knobs[] = {
    "width=100,bias=0",                  /* dense */
    "dtype=bf16,width=700",              /* dense: narrow w1, w2 and the widened tile */
    "dtype=f16,shared_experts=1",        /* moe: narrow experts, per-worker tiles */
    "dtype=fp8",                         /* every family: not a dtype */
    "top_k=9,experts=8",                 /* moe: more active than experts */
    "granularity=3",                     /* moe: does not divide the width */
    "routing=zipf:1.2,shared_experts=1", /* moe: the Zipf tables */
    "preset=2in34",                      /* moe */
    "key_dim=3",                         /* pkm: odd */
    "topk=8,heads=2,key_dim=32",         /* pkm */
    "topk=4000,n_keys=100",              /* pkm: more than the sub-keys */
    "preset=xlm",                        /* pkm: 2^18 value rows */
    "expand=5",                          /* ultramem: not a square */
    "filter=signed,tucker_rank=3",       /* ultramem */
    "value_dim=33,cores=2",              /* ultramem: not divisible */
    "dtype=bf16,topk=8",                 /* pkm: a narrow value table */
    "dtype=f16,topm=16",                 /* ultramem (merged: narrow tables and fold slab) */
    "trees=1048576,depth=24",            /* fff: a parameter block beyond memory */
    "trees=4,depth=3,bias=0",            /* fff */
    "preset=1x11",                       /* fff */
    "trees=4,depth=3,dtype=f16",         /* fff: narrow rows, fp32 biases */
    "trees=2,dtype=bf16,depth=3",        /* fff-l1/fff-l2 refuse it, check too */
    "concurrent=1,pkm.topk=8",           /* sum: side by side, two threads */
    "pkm.key_dim=3",                     /* sum: a part's bad knob */
    "ultramem.topm=16,dense.width=96",   /* sum: both parts' knobs */
};

/* The free-memory figure of a LAYER_ETOOBIG message may move between two
 * calls; everything else must be equal. */
static void mask_available(char *msg)
{
    char *p = strstr(msg, "only ");
    for (p = p ? p + 5 : NULL; p && *p && *p != ' '; p++)
        if (isdigit((unsigned char)*p))
            *p = '#';
}

static void check_agrees(const struct layer_ops *ops, const struct layer_config *cfg)
{
    char cerr[512] = "", err[512] = "";
    uint64_t bytes = 12345, b0, b1, c0, c1, nb0, nb1;
    struct layer *l = NULL;

    common_alloc_counts(&b0, &c0);
    int crc = layer_check(ops, cfg, &bytes, cerr, sizeof(cerr));
    common_alloc_counts(&b1, &c1);
    ck_assert_msg(c1 == c0, "%s D=%zu scale=%u knobs='%s': check allocated %llu blocks", ops->name,
                  cfg->d_model, cfg->scale, cfg->knobs, (unsigned long long)(c1 - c0));
    char nerr[512] = "";
    ck_assert_int_eq(layer_check(ops, cfg, NULL, nerr, sizeof(nerr)), crc); /* bytes may be NULL */

    common_alloc_counts(&nb0, &c0);
    int rc = layer_create(ops, cfg, &l, err, sizeof(err));
    common_alloc_counts(&nb1, &c1);
    ck_assert_msg(rc == crc, "%s D=%zu scale=%u T=%zu knobs='%s': check %d (%s), create %d (%s)",
                  ops->name, cfg->d_model, cfg->scale, cfg->max_tokens, cfg->knobs, crc, cerr, rc,
                  err);
    if (rc == LAYER_OK) {
        /* Every block is asked for at its exact size; common_alloc's
         * rounding to 64 bytes (or 2 MiB) is the only padding it adds. */
        uint64_t got = nb1 - nb0;
        ck_assert_msg(bytes == got,
                      "%s D=%zu scale=%u T=%zu knobs='%s': check says %llu bytes, create "
                      "allocated %llu in %llu blocks",
                      ops->name, cfg->d_model, cfg->scale, cfg->max_tokens, cfg->knobs,
                      (unsigned long long)bytes, (unsigned long long)got,
                      (unsigned long long)(c1 - c0));
        struct layer_info info;
        memset(&info, 0, sizeof(info));
        l->ops->describe(l, &info);
        /* At least the parameters, each at its dtype's element size. */
        ck_assert_uint_ge(bytes, l->ops->param ? tn_param_bytes(l) : 4 * info.params_total);
        layer_destroy(l);
        return;
    }
    ck_assert_ptr_null(l);
    mask_available(cerr);
    mask_available(err);
    ck_assert_msg(strcmp(cerr, err) == 0, "%s knobs='%s': check says '%s', create '%s'", ops->name,
                  cfg->knobs, cerr, err);
    if (rc == LAYER_ETOOBIG)
        ck_assert_msg(bytes > 0, "%s: too big, but check names no size", ops->name);
    else
        ck_assert_msg(bytes == 0, "%s: refused with %d, but check names %llu bytes", ops->name, rc,
                      (unsigned long long)bytes);
}

START_TEST(test_check_agrees_with_create)
{
    const struct layer_ops *ops = ops_at(_i);
    ck_assert_ptr_nonnull(ops->check); /* every registered layer has one */
    for (size_t k = 0; k < sizeof(check_grid) / sizeof(check_grid[0]); k++) {
        const struct check_case *c = &check_grid[k];
        struct layer_config cfg = {c->d_model,    c->scale, 3,   c->threads,
                                   c->max_tokens, c->knobs, NULL};
        check_agrees(ops, &cfg);
    }
    for (size_t k = 0; k < sizeof(check_knobs) / sizeof(check_knobs[0]); k++) {
        struct layer_config cfg = {C_D, C_SCALE, 3, 2, 8, check_knobs[k], NULL};
        check_agrees(ops, &cfg);
    }
}
END_TEST

/* A layer without a check op is created and destroyed by layer_check, and
 * the bytes are what it allocated. */
START_TEST(test_check_fallback_creates)
{
    struct layer_ops nocheck = *layer_find("dense");
    nocheck.check = NULL;
    struct layer_config good = {C_D, C_SCALE, 1, 1, 4, "", NULL},
                        bad = {C_D, C_SCALE, 1, 1, 4, "x=1", NULL};
    uint64_t bytes = 0, want = 0;
    char err[512] = "";
    ck_assert_int_eq(layer_check(&nocheck, &good, &bytes, err, sizeof(err)), 0);
    ck_assert_int_eq(layer_check(layer_find("dense"), &good, &want, err, sizeof(err)), 0);
    ck_assert_uint_eq(bytes, want);
    ck_assert_int_eq(layer_check(&nocheck, &bad, &bytes, err, sizeof(err)), LAYER_EKNOB);
    ck_assert_uint_eq(bytes, 0);
    nocheck.abi_version = LAYER_ABI_VERSION - 1;
    ck_assert_int_eq(layer_check(&nocheck, &good, &bytes, err, sizeof(err)), LAYER_EABI);
    struct layer_config zero = {0, C_SCALE, 1, 1, 4, "", NULL};
    ck_assert_int_eq(layer_check(layer_find("dense"), &zero, &bytes, err, sizeof(err)),
                     LAYER_EINVAL);
}
END_TEST

static Suite *contract_suite(void)
{
    Suite *s = suite_create("contract");
    TCase *tc = tcase_create("every layer");
    int n = (int)layer_count();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_registry);
    tcase_add_loop_test(tc, test_create_destroy, 0, n);
    tcase_add_loop_test(tc, test_same_seed_same_output, 0, n);
    tcase_add_loop_test(tc, test_forward_matches_ref, 0, n);
    tcase_add_loop_test(tc, test_stats_and_describe, 0, n);
    tcase_add_loop_test(tc, test_unknown_knob_refused, 0, n);
    tcase_add_loop_test(tc, test_too_many_tokens_refused, 0, n);
    tcase_add_loop_test(tc, test_check_agrees_with_create, 0, n);
    tcase_add_test(tc, test_check_fallback_creates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(contract_suite());
}
