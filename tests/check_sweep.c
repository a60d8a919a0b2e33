/* check_sweep.c - the sweep-file parser (bench/sweep/sweepfile.c, points.c) on good files
 * (lists, ranges, sections overriding globals, impls = all, labels, the
 * Cartesian product and its order) and on a table of bad files, each of
 * which must fail with the file, the right line number and a message that
 * names the key or slot and what is allowed. */
#include "test_util.h"
#include "../bench/measure.h"
#include "../bench/row.h"
#include "../bench/sweep/sweep.h"
#include "../bench/table.h"

#include <stdlib.h>
#include <string.h>

static const char good[] = "# a good sweep\n"
                           "d_model = 64 128   # two widths\n"
                           "scale   = 1..8*2\n"
                           "batch   = 1, 2\n"
                           "seq_len = 1..64*4\n"
                           "threads = 1\n"
                           "repeats = 2\n"
                           "seed    = 7\n"
                           "cache   = warm\n"
                           "rounds  = 13\n"
                           "\n"
                           "impls = dense\n"
                           "[dense]\n"
                           "scale = 1      # dense ignores scale\n"
                           "d_model = 64\n"
                           "[dense:width=100,bias=0]\n"
                           "label = narrow\n"
                           "seq_len = 2..10+4\n"
                           "threads = max\n"
                           "round_ms = 2.5\n"
                           "check_tokens = 2\n";

static void parse_ok(const char *text, struct bench_sweep *sw)
{
    char err[1024] = "";
    int rc = bench_sweep_parse("good.sweep", text, sw, err, sizeof(err));
    ck_assert_msg(rc == 0, "parse failed: %s", err);
}

static void assert_list(const struct bench_list *l, const uint64_t *v, size_t n, const char *what)
{
    ck_assert_msg(l->n == n, "%s: %zu values, expected %zu", what, l->n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(l->v[i] == v[i], "%s[%zu] = %llu, expected %llu", what, i,
                      (unsigned long long)l->v[i], (unsigned long long)v[i]);
}

START_TEST(test_good_file)
{
    struct bench_sweep sw;
    parse_ok(good, &sw);
    ck_assert_uint_eq(sw.repeats, 2);
    ck_assert_uint_eq(sw.seed, 7);
    ck_assert_int_eq(sw.cache, BENCH_CACHE_WARM);
    ck_assert_uint_eq(sw.n_slots, 2); /* dense (from impls, with its section) and narrow */

    const struct bench_slot *d = &sw.slots[0], *n = &sw.slots[1];
    ck_assert_str_eq(d->spec, "dense");
    ck_assert_str_eq(d->label, "dense");
    ck_assert_int_eq(d->line, 13);
    assert_list(&d->d_model, (uint64_t[]){64}, 1, "dense d_model");
    assert_list(&d->scale, (uint64_t[]){1}, 1, "dense scale");
    assert_list(&d->batch, (uint64_t[]){1, 2}, 2, "dense batch");
    assert_list(&d->seq_len, (uint64_t[]){1, 4, 16, 64}, 4, "dense seq_len");
    assert_list(&d->threads, (uint64_t[]){1}, 1, "dense threads");
    ck_assert_int_eq(d->rounds, 13);
    ck_assert_double_eq(d->round_ms, 1.0);
    ck_assert_uint_eq(d->check_tokens, 4);

    ck_assert_str_eq(n->spec, "dense:width=100,bias=0");
    ck_assert_str_eq(n->knobs, "width=100,bias=0");
    ck_assert_str_eq(n->label, "narrow");
    ck_assert_int_eq(n->line, 16);
    assert_list(&n->d_model, (uint64_t[]){64, 128}, 2, "narrow d_model");
    assert_list(&n->scale, (uint64_t[]){1, 2, 4, 8}, 4, "narrow scale");
    assert_list(&n->seq_len, (uint64_t[]){2, 6, 10}, 3, "narrow seq_len");
    assert_list(&n->threads, (uint64_t[]){0}, 1, "narrow threads (max)");
    ck_assert_double_eq(n->round_ms, 2.5);
    ck_assert_uint_eq(n->check_tokens, 2);
    bench_sweep_free(&sw);
}
END_TEST

START_TEST(test_points_product_and_order)
{
    struct bench_sweep sw;
    struct bench_point *p;
    size_t n;
    char err[256];
    parse_ok(good, &sw);
    ck_assert_int_eq(bench_sweep_points(&sw, 3, 0, &p, &n, err, sizeof(err)), 0);
    /* per repeat: dense 1 x 1 x 1 thread x 2 batch x 4 seq = 8;
     * narrow 2 d x 4 scales x 1 thread x 2 batch x 3 seq = 48 */
    ck_assert_uint_eq(n, 2 * (8 + 48));
    ck_assert_ptr_eq(p[0].slot, &sw.slots[0]);
    ck_assert_uint_eq(p[0].repeat, 1);
    ck_assert_uint_eq(p[0].threads, 1);
    ck_assert_uint_eq(p[1].seq_len, 4); /* seq_len is the innermost loop */
    ck_assert_uint_eq(p[4].batch, 2);
    ck_assert_ptr_eq(p[8].slot, &sw.slots[1]);
    ck_assert_uint_eq(p[8].threads, 3); /* max = the online CPUs given */
    ck_assert_uint_eq(p[56].repeat, 2); /* repeats are the outermost loop */
    /* a group is one layer: same slot, D, scale, threads, repeat */
    for (size_t i = 1; i < n; i++) {
        int same = p[i].slot == p[i - 1].slot && p[i].d_model == p[i - 1].d_model &&
                   p[i].scale == p[i - 1].scale && p[i].threads == p[i - 1].threads &&
                   p[i].repeat == p[i - 1].repeat;
        ck_assert_msg(same == (p[i].group == p[i - 1].group), "point %zu: group %zu vs %zu", i,
                      p[i].group, p[i - 1].group);
    }
    free(p);
    /* --threads overrides every thread list */
    ck_assert_int_eq(bench_sweep_points(&sw, 3, 2, &p, &n, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(p[i].threads, 2);
    free(p);
    bench_sweep_free(&sw);
}
END_TEST

START_TEST(test_defaults_and_sections_only)
{
    struct bench_sweep sw;
    parse_ok("[dense]\n", &sw);
    ck_assert_uint_eq(sw.n_slots, 1);
    ck_assert_uint_eq(sw.repeats, 1);
    ck_assert_int_eq(sw.cache, BENCH_CACHE_COLD);
    assert_list(&sw.slots[0].d_model, (uint64_t[]){768}, 1, "default d_model");
    assert_list(&sw.slots[0].threads, (uint64_t[]){0}, 1, "default threads");
    ck_assert_int_eq(sw.slots[0].rounds, 11);
    bench_sweep_free(&sw);
    /* a long spec without a label is refused, with a label it is fine */
    char text[512];
    snprintf(text, sizeof(text), "[dense:width=%s]\nlabel = short\n",
             "100000,bias=1,bias=1,bias=1,bias=1,bias=1,bias=1,bias=1,bias=1");
    parse_ok(text, &sw);
    ck_assert_str_eq(sw.slots[0].label, "short");
    bench_sweep_free(&sw);
}
END_TEST

/* The point key and the key read back from a written row must agree, or
 * --resume would run finished points again. */
START_TEST(test_point_key_matches_row_key)
{
    struct bench_sweep sw;
    struct bench_point *p;
    size_t n;
    char err[256], pk[512], rk[512];
    parse_ok(good, &sw);
    ck_assert_int_eq(bench_sweep_points(&sw, 2, 0, &p, &n, err, sizeof(err)), 0);
    const struct bench_point *q = &p[n - 1];
    struct layer_config cfg = {.d_model = q->d_model,
                               .scale = (unsigned)q->scale,
                               .seed = sw.seed,
                               .threads = (int)q->threads,
                               .knobs = q->slot->knobs};
    struct bench_row row;
    bench_row_init(&row, q->slot->label, q->slot->ops, &cfg, q->batch, q->seq_len,
                   sw.cache == BENCH_CACHE_COLD, q->repeat);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bench_csv_write_header(f);
    bench_csv_write_row(f, &row);
    fclose(f);
    struct bench_table t;
    ck_assert_int_eq(bench_table_parse("k.csv", buf, len, &t, err, sizeof(err)), 0);
    int cols[32];
    int nc = bench_table_key_cols(&t, cols, 32, err, sizeof(err));
    ck_assert_int_gt(nc, 0);
    bench_table_key(&t, 0, cols, (size_t)nc, rk, sizeof(rk));
    bench_point_key(q, &sw, pk, sizeof(pk));
    ck_assert_str_eq(pk, rk);
    bench_point_key(&p[0], &sw, pk, sizeof(pk));
    ck_assert_str_ne(pk, rk);
    bench_table_free(&t);
    free(buf);
    free(p);
    bench_sweep_free(&sw);
}
END_TEST

/* pair = LABEL: the partner found by label, the scale rule (the point's
 * scale when the partner lists it, else the partner's only one), the pair
 * count and interval method, and the partner's label in the point key. */
static const char paired[] = "d_model = 64\n"
                             "seq_len = 1 8\n"
                             "threads = 1\n"
                             "pair_ci = bootstrap\n"
                             "[dense]\n"
                             "[dense:width=100]\n"
                             "label = wide\n"
                             "scale = 4 12\n"
                             "[moe]\n"
                             "scale = 4 12\n"
                             "pair = dense\n"
                             "pairs = 25\n"
                             "[pkm]\n"
                             "scale = 4 12\n"
                             "pair = wide\n";

START_TEST(test_pairs)
{
    struct bench_sweep sw;
    struct bench_point *p;
    size_t n;
    char err[256], key[512];
    parse_ok(paired, &sw);
    ck_assert_uint_eq(sw.n_slots, 4);
    ck_assert_int_eq(sw.pair_ci, BENCH_CI_BOOTSTRAP);
    ck_assert_int_eq(bench_sweep_partner(&sw, 0), -1);
    ck_assert_int_eq(bench_sweep_partner(&sw, 1), -1);
    ck_assert_int_eq(bench_sweep_partner(&sw, 2), 0);
    ck_assert_int_eq(bench_sweep_partner(&sw, 3), 1);
    ck_assert_int_eq(bench_sweep_partner(&sw, 4), -1); /* no such slot */
    ck_assert_int_eq(sw.slots[2].pairs, 25);
    ck_assert_int_eq(sw.slots[3].pairs, BENCH_MIN_PAIRS);
    ck_assert_int_eq(bench_sweep_points(&sw, 2, 0, &p, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 2 + 4 + 4 + 4);
    size_t paired_points = 0;
    for (size_t i = 0; i < n; i++) {
        struct bench_point q;
        int rc = bench_point_partner(&p[i], &sw, &q);
        bench_point_key(&p[i], &sw, key, sizeof(key));
        if (p[i].slot->pair < 0) {
            ck_assert_int_eq(rc, -1);
            ck_assert_str_eq(strrchr(key, '|'), "|NA");
            continue;
        }
        paired_points++;
        ck_assert_int_eq(rc, 0);
        ck_assert_ptr_eq(q.slot, &sw.slots[p[i].slot->pair]);
        ck_assert_uint_eq(q.d_model, p[i].d_model);
        ck_assert_uint_eq(q.batch, p[i].batch);
        ck_assert_uint_eq(q.seq_len, p[i].seq_len);
        ck_assert_uint_eq(q.threads, p[i].threads);
        ck_assert_uint_eq(q.repeat, p[i].repeat);
        /* moe at 4 and 12 against dense's only scale 1; pkm against wide's own 4 and 12 */
        ck_assert_uint_eq(q.scale, !strcmp(p[i].slot->label, "moe") ? 1 : p[i].scale);
        ck_assert_str_eq(strrchr(key, '|') + 1, q.slot->label);
    }
    ck_assert_uint_eq(paired_points, 8);
    free(p);
    bench_sweep_free(&sw);
}
END_TEST

/* inputs = random|repeat, global and per slot (the slot wins); it is part
 * of the point's key, as the row's inputs column is of the row's. */
START_TEST(test_inputs_key)
{
    struct bench_sweep sw;
    struct bench_point *p;
    size_t n;
    char err[256], pk[512], rk[512];
    parse_ok("d_model = 64\nthreads = 1\ninputs = repeat\n[dense]\n[fff]\ninputs = random\n"
             "[fff:depth=4]\nlabel = fff-rep\n",
             &sw);
    ck_assert_int_eq(sw.slots[0].inputs, BENCH_INPUTS_REPEAT);
    ck_assert_int_eq(sw.slots[1].inputs, BENCH_INPUTS_RANDOM);
    ck_assert_int_eq(sw.slots[2].inputs, BENCH_INPUTS_REPEAT);
    bench_sweep_free(&sw);
    parse_ok("[dense]\n", &sw);
    ck_assert_int_eq(sw.slots[0].inputs, BENCH_INPUTS_RANDOM); /* the default */
    bench_sweep_free(&sw);
    parse_ok("d_model = 64\nthreads = 1\n[dense]\ninputs = repeat\n", &sw);
    ck_assert_int_eq(bench_sweep_points(&sw, 2, 0, &p, &n, err, sizeof(err)), 0);
    bench_point_key(&p[0], &sw, pk, sizeof(pk));
    ck_assert_ptr_nonnull(strstr(pk, "|cold|repeat|1|"));
    struct layer_config cfg = {.d_model = 64, .scale = 1, .seed = sw.seed, .threads = 1};
    struct bench_row row;
    bench_row_init(&row, p[0].slot->label, p[0].slot->ops, &cfg, p[0].batch, p[0].seq_len, 1,
                   p[0].repeat);
    snprintf(row.inputs, sizeof(row.inputs), "repeat");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bench_csv_write_header(f);
    bench_csv_write_row(f, &row);
    fclose(f);
    struct bench_table t;
    ck_assert_int_eq(bench_table_parse("k.csv", buf, len, &t, err, sizeof(err)), 0);
    int cols[32];
    int nc = bench_table_key_cols(&t, cols, 32, err, sizeof(err));
    bench_table_key(&t, 0, cols, (size_t)nc, rk, sizeof(rk));
    ck_assert_str_eq(pk, rk);
    bench_table_free(&t);
    free(buf);
    free(p);
    bench_sweep_free(&sw);
}
END_TEST

/* `impls = all` is every registered layer but the weak baselines, in registry order,
 * whatever the registry holds when the test runs. */
START_TEST(test_impls_all_follows_registry)
{
    struct bench_sweep sw;
    parse_ok("impls = all\n", &sw);
    size_t j = 0;
    for (size_t i = 0; i < layer_count(); i++) {
        if (!bench_sweep_in_all(layer_get(i)))
            continue;
        ck_assert_msg(j < sw.n_slots, "only %zu slots", sw.n_slots);
        ck_assert_str_eq(sw.slots[j].spec, layer_get(i)->name);
        j++;
    }
    ck_assert_uint_eq(sw.n_slots, j);
    bench_sweep_free(&sw);
}
END_TEST

START_TEST(test_weak_baselines_not_in_all)
{
    struct layer_ops weak = {.name = "dense-l1",
                             .summary = "dense via BLAS level 1 (paper-style "
                                        "Weak Baseline)"};
    struct layer_ops strong = {.name = "x", .summary = "a real layer"};
    ck_assert_int_eq(bench_sweep_in_all(&weak), 0);
    ck_assert_int_eq(bench_sweep_in_all(&strong), 1);
    ck_assert_int_eq(bench_sweep_in_all(layer_find("dense")), 1);
}
END_TEST

struct bad_case {
    const char *text;
    int line;            /* expected in "bad.sweep:LINE:", 0 = no line */
    const char *needle1; /* must appear in the message */
    const char *needle2;
};

static const struct bad_case bad[] = {
    {"d_model = 64\nscael = 2\n[dense]\n", 2, "unknown key 'scael'", "scale"},
    {"[dense]\nscale = 0\n", 2, "key 'scale'", "1..4096"},
    {"[dense]\nscale = 5000\n", 2, "out of range", "1..4096"},
    {"[dense]\nseq_len = 1 two 4\n", 2, "'two' is not a value", "A..B*K"},
    {"[dense]\nseq_len = 1..64\n", 2, "has no step", "A..B*K"},
    {"[dense]\nseq_len = 64..1*2\n", 2, "1 <= A <= B", "seq_len"},
    {"[dense]\nseq_len = 1..64*1\n", 2, "never grows", "*2"},
    {"[dense]\nbatch = 1 2 1\n", 2, "listed twice", "batch"},
    {"seed = 1\nseed = 2\n[dense]\n", 2, "set twice", "line 1"},
    {"[dense]\n\n[dense]\n", 3, "already declared on line 1", "dense"},
    {"impls = dense nosuch\n", 1, "unknown implementation 'nosuch'", "allowed: dense"},
    {"[dnese]\n", 1, "unknown implementation 'dnese'", "allowed: dense"},
    {"[dense]\nrepeats = 2\n", 2, "key 'repeats'", "before the first [slot]"},
    {"label = x\n[dense]\n", 1, "key 'label'", "[slot] section"},
    {"[dense]\nlabel = has space\n", 2, "key 'label'", "without spaces"},
    {"[dense\n", 1, "no closing ']'", "[impl]"},
    {"[]\n", 1, "empty section", "[impl]"},
    {"# nothing\nd_model = 64\n", 0, "no implementations", "impls = all"},
    {"[dense]\njust words\n", 2, "expected 'key = value'", "[slot]"},
    {"[dense]\nscale =\n", 2, "key 'scale' has no value", "scale"},
    {"[dense]\nrounds = 5\n", 2, "key 'rounds'", "11..100000"},
    {"[dense]\nround_ms = 0.5\n", 2, "key 'round_ms'", "1..10000"},
    {"cache = hot\n[dense]\n", 1, "'hot' is not allowed", "cold|warm"},
    {"[dense]\nthreads = 1 maxi\n", 2, "'maxi' is not a value", "'max'"},
    {"[dense]\nlabel = a\n[dense:width=8]\nlabel = a\n", 3, "label 'a' is already used", "label"},
    {"impls = dense dense\n", 1, "listed twice", "dense"},
    {"[dense:width=\"8\"]\n", 1, "no spaces, quotes", "dense"},
    /* pairs */
    {"[dense]\npair = nosuch\n", 2, "no slot is labelled 'nosuch'", "(no other slot)"},
    {"[dense]\n[moe]\nscale = 4\npair = nosuch\n", 4, "no slot is labelled 'nosuch'",
     "allowed: dense"},
    {"[dense]\n[moe]\npair = dense\npair = dense\n", 4, "key 'pair' is set twice", "line 3"},
    {"pair = dense\n[dense]\n", 1, "key 'pair'", "[slot] section"},
    {"[dense]\npair = dense\n", 2, "cannot be paired with itself", "label = dense-b"},
    {"[dense]\nscale = 1 2\n[moe]\nscale = 4 2\npair = dense\n", 5, "scale 4",
     "not list (scales 1 2)"},
    {"[dense]\n[moe]\nscale = 4\npair = dense\npairs = 20\n", 5, "key 'pairs'", "21..100000"},
    {"[dense]\npair_ci = bootstrap\n", 2, "key 'pair_ci'", "before the first [slot]"},
    {"pair_ci = median\n[dense]\n", 1, "'median' is not allowed", "orderstat|bootstrap"},
    {"[dense]\n[moe]\npair = de,nse\n", 3, "key 'pair'", "without spaces, commas"},
    /* inputs */
    {"inputs = same\n[dense]\n", 1, "key 'inputs': 'same' is not allowed", "random|repeat"},
    {"[dense]\ninputs = zero\n", 2, "'zero' is not allowed", "random|repeat"},
};
#define NBAD (sizeof(bad) / sizeof(bad[0]))

START_TEST(test_bad_files)
{
    const struct bad_case *c = &bad[_i];
    struct bench_sweep sw;
    char err[1024] = "", at[64];
    int rc = bench_sweep_parse("bad.sweep", c->text, &sw, err, sizeof(err));
    ck_assert_msg(rc == -1, "case %d parsed but should fail:\n%s", _i, c->text);
    if (c->line)
        snprintf(at, sizeof(at), "bad.sweep:%d: ", c->line);
    else
        snprintf(at, sizeof(at), "bad.sweep: ");
    ck_assert_msg(!strncmp(err, at, strlen(at)), "case %d: message '%s' does not start with '%s'",
                  _i, err, at);
    ck_assert_msg(strstr(err, c->needle1), "case %d: '%s' not in '%s'", _i, c->needle1, err);
    ck_assert_msg(strstr(err, c->needle2), "case %d: '%s' not in '%s'", _i, c->needle2, err);
    ck_assert_ptr_null(sw.slots);
}
END_TEST

START_TEST(test_load_missing_file)
{
    struct bench_sweep sw;
    char err[512];
    ck_assert_int_eq(bench_sweep_load("/no/such/file.sweep", &sw, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "/no/such/file.sweep") != NULL, "%s", err);
}
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("parser");
    tcase_add_test(tc, test_good_file);
    tcase_add_test(tc, test_points_product_and_order);
    tcase_add_test(tc, test_defaults_and_sections_only);
    tcase_add_test(tc, test_point_key_matches_row_key);
    tcase_add_test(tc, test_impls_all_follows_registry);
    tcase_add_test(tc, test_weak_baselines_not_in_all);
    tcase_add_test(tc, test_pairs);
    tcase_add_test(tc, test_inputs_key);
    tcase_add_loop_test(tc, test_bad_files, 0, (int)NBAD);
    tcase_add_test(tc, test_load_missing_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(sweep_suite());
}
