/* check_contract.c - the layer.h contract, run against every registered
 * layer (one loop iteration per registry entry): create/destroy,
 * destroy(NULL), determinism by seed, forward == forward_ref, honest stats
 * and description, refusal of unknown knobs and oversized batches.
 *
 * Every layer joins this suite by being in impls/registry.c. The shared
 * configuration is small (D = 64, scale 4) so every family fits it.
 */
#include "test_util.h"

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
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(contract_suite());
}
