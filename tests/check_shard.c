/* check_shard.c - sweep --shard I/N (bench/sweep/shard.c): for several N,
 * N larger than the number of groups included, the shards together take
 * every point exactly once; a comparison group (one d_model, batch, seq_len
 * and threads: every slot, every repeat, pair partners) never spans two
 * shards; the split is the same on every call; longest-first keeps the
 * loads within one group of each other; and bad I/N specs are refused. */
#include "test_util.h"
#include "../bench/sweep/shard.h"
#include "../bench/sweep/sweep.h"
#include "../bench/row.h"
#include "../bench/table.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* 2 widths x 4 token counts x 2 thread counts = 16 groups; a paired slot. */
static const char sweep_text[] = "d_model = 32 64\n"
                                 "seq_len = 1 4 16 64\n"
                                 "threads = 1 2\n"
                                 "repeats = 2\n"
                                 "[dense]\n"
                                 "[moe]\n"
                                 "scale = 4 8\n"
                                 "pair = dense\n"
                                 "[pkm]\n"
                                 "scale = 4\n";
#define N_GROUPS 16

static const unsigned shard_counts[] = {1, 2, 3, 4, 5, 7, 16, 17, 40};
#define N_COUNTS (sizeof(shard_counts) / sizeof(shard_counts[0]))

static void load(struct bench_sweep *sw, struct bench_point **p, size_t *n, double **cost)
{
    char err[512];
    ck_assert_msg(bench_sweep_parse("shard.sweep", sweep_text, sw, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(bench_sweep_points(sw, 2, 0, p, n, err, sizeof(err)), 0);
    ck_assert_uint_eq(*n, 2 * 2 * 4 * 2 * (1 + 2 + 1));
    *cost = malloc(*n * sizeof(**cost));
    ck_assert_int_eq(bench_sweep_costs(sw, *p, *n, NULL, *cost, err, sizeof(err)), 0);
    for (size_t i = 0; i < *n; i++)
        ck_assert_msg((*cost)[i] > 0, "point %zu costs %g", i, (*cost)[i]);
}

static int same_group(const struct bench_point *a, const struct bench_point *b)
{
    return a->d_model == b->d_model && a->batch == b->batch && a->seq_len == b->seq_len &&
           a->threads == b->threads;
}

START_TEST(test_every_point_once)
{
    unsigned nsh = shard_counts[_i];
    struct bench_sweep sw;
    struct bench_point *p;
    size_t n;
    double *cost;
    load(&sw, &p, &n, &cost);
    unsigned *sh = malloc(n * sizeof(*sh)), *again = malloc(n * sizeof(*again));
    unsigned *taken = calloc(n, sizeof(*taken));
    double *loads = calloc(nsh, sizeof(*loads)), biggest = 0;
    ck_assert_int_eq(bench_sweep_shard_of(p, n, cost, nsh, sh), 0);
    ck_assert_int_eq(bench_sweep_shard_of(p, n, cost, nsh, again), 0);
    ck_assert_int_eq(memcmp(sh, again, n * sizeof(*sh)), 0); /* deterministic */
    /* Each shard I takes the points with sh == I: count how often each point is taken. */
    for (unsigned s = 1; s <= nsh; s++)
        for (size_t i = 0; i < n; i++)
            if (sh[i] == s) {
                taken[i]++;
                loads[s - 1] += cost[i];
            }
    unsigned used = 0;
    for (unsigned s = 0; s < nsh; s++)
        used += loads[s] > 0;
    ck_assert_uint_eq(used, nsh < N_GROUPS ? nsh : N_GROUPS); /* N > groups: some shards empty */
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(taken[i] == 1, "N = %u: point %zu taken %u times", nsh, i, taken[i]);
        double g = 0;
        for (size_t j = 0; j < n; j++) {
            if (!same_group(&p[i], &p[j]))
                continue;
            ck_assert_msg(sh[i] == sh[j], "N = %u: points %zu and %zu of one group apart", nsh, i,
                          j);
            g += cost[j];
        }
        biggest = g > biggest ? g : biggest;
        struct bench_point q; /* the partner's own point is on the same shard */
        if (bench_point_partner(&p[i], &sw, &q) == 0) {
            size_t j = 0;
            while (j < n && !(p[j].slot == q.slot && p[j].scale == q.scale &&
                              same_group(&p[j], &q) && p[j].repeat == q.repeat))
                j++;
            ck_assert_uint_lt(j, n);
            ck_assert_uint_eq(sh[j], sh[i]);
        }
    }
    /* Longest-first: no shard carries more than the lightest plus one group. */
    double lo = loads[0], hi = loads[0];
    for (unsigned s = 1; s < nsh; s++) {
        lo = loads[s] < lo ? loads[s] : lo;
        hi = loads[s] > hi ? loads[s] : hi;
    }
    ck_assert_msg(hi <= lo + biggest * (1 + 1e-9), "N = %u: loads %g..%g, biggest group %g", nsh,
                  lo, hi, biggest);
    free(sh);
    free(again);
    free(taken);
    free(loads);
    free(cost);
    free(p);
    bench_sweep_free(&sw);
}
END_TEST

/* --estimate-from: a row of an earlier run with the point's key sets its
 * cost (wall_s + create_s); points it lacks keep the model's. */
START_TEST(test_costs_from_estimate)
{
    struct bench_sweep sw;
    struct bench_point *p;
    size_t n;
    double *cost, *est_cost;
    char err[512], key[BENCH_KEY_LEN], csv[4096];
    load(&sw, &p, &n, &cost);
    bench_point_key(&p[3], &sw, key, sizeof(key));
    /* the identity columns in order (row.h's, so the test follows the
     * schema), then the two times */
    int len = 0;
    for (size_t i = 0; i < bench_csv_ncols(); i++)
        if (bench_csv_col(i)->identity)
            len += snprintf(csv + len, sizeof(csv) - (size_t)len, "%s,", bench_csv_col(i)->name);
    len += snprintf(csv + len, sizeof(csv) - (size_t)len, "wall_s,create_s\n");
    for (char *k = key; *k; k++)
        csv[len++] = *k == '|' ? ',' : *k;
    len += snprintf(csv + len, sizeof(csv) - (size_t)len, ",7.5,0.25\n");
    struct bench_table t;
    ck_assert_msg(bench_table_parse("est.csv", csv, (size_t)len, &t, err, sizeof(err)) == 0, "%s",
                  err);
    est_cost = malloc(n * sizeof(*est_cost));
    ck_assert_int_eq(bench_sweep_costs(&sw, p, n, &t, est_cost, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++)
        if (i == 3)
            ck_assert_double_eq_tol(est_cost[i], 7.75, 1e-12);
        else
            ck_assert_double_eq_tol(est_cost[i], cost[i], 1e-12);
    bench_table_free(&t);
    free(est_cost);
    free(cost);
    free(p);
    bench_sweep_free(&sw);
}
END_TEST

static const struct {
    const char *spec;
    int ok;
    unsigned i, n;
} specs[] = {
    {"1/1", 1, 1, 1}, {"2/4", 1, 2, 4},  {"4/4", 1, 4, 4},    {"0/4", 0, 0, 0}, {"5/4", 0, 0, 0},
    {"1/0", 0, 0, 0}, {"-1/4", 0, 0, 0}, {"1/-4", 0, 0, 0},   {"2", 0, 0, 0},   {"2/4x", 0, 0, 0},
    {"/4", 0, 0, 0},  {"", 0, 0, 0},     {"1/5000", 0, 0, 0},
};
#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

START_TEST(test_parse_spec)
{
    unsigned i = 99, n = 99;
    int rc = bench_shard_parse(specs[_i].spec, &i, &n);
    ck_assert_msg((rc == 0) == specs[_i].ok, "'%s': rc %d", specs[_i].spec, rc);
    if (specs[_i].ok) {
        ck_assert_uint_eq(i, specs[_i].i);
        ck_assert_uint_eq(n, specs[_i].n);
    }
}
END_TEST

static Suite *shard_suite(void)
{
    Suite *s = suite_create("shard");
    TCase *tc = tcase_create("shard");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_every_point_once, 0, (int)N_COUNTS);
    tcase_add_test(tc, test_costs_from_estimate);
    tcase_add_loop_test(tc, test_parse_spec, 0, (int)N_SPECS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(shard_suite());
}
