/* derive_f.c - the UltraFastBERT claims (issue 13 §2 F1-F6, issue 20 F7) from
 * the rows of bench/sweeps/claims.sweep and, for F4 and F5, of
 * claims-paper.sweep, claims-flaws.sweep and claims-repeat.sweep (the
 * paper-style fff-l1 / fff-l2 layers, the weights=unwritten and activation=0
 * knobs, the repeated-input mode). Source: ../shared/research/fff.md §2.2-2.4
 * and §4. Leaves out F6 (PyTorch on a GPU): not testable here. */
#include "claims.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define F_SRC "UltraFastBERT (Belcak & Wattenhofer 2023) §3.3; research/fff.md"

/* A slot's row at `tokens`, or (tokens 0) at the most tokens it was run at:
 * the claims' token counts live in the sweep files, not here. */
static int find_at(const struct claim_run *run, const char *label, unsigned long d,
                   unsigned long tokens, struct crow *out)
{
    struct crow p[64];
    if (tokens)
        return claim_find(run, label, d, tokens, 0, out);
    size_t k = claim_rows(run, label, d, 0, p, 64);
    if (k)
        *out = p[k - 1];
    return k > 0;
}

/* One paired point against a claimed range, the common shape of F2 and F4. */
static void pair_point(const struct claim_run *run, struct claim_row *row, int sweep,
                       const char *label, unsigned long d, unsigned long tokens, double clo,
                       double chi, const char *cond)
{
    struct crow c;
    char why[400];
    if (!find_at(run, label, d, tokens, &c) || !claim_ok(c) || isnan(claim_num(c, "pair_ratio"))) {
        claim_why_missing(run, sweep, label, d, tokens, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    row->ours = claim_num(c, "pair_ratio");
    row->lo = claim_num(c, "pair_ratio_lo");
    row->hi = claim_num(c, "pair_ratio_hi");
    row->verdict = claim_verdict_interval(row->lo, row->hi, clo, chi);
    snprintf(row->ours_text, sizeof(row->ours_text), "%.3gx (%.3g-%.3g)", row->ours, row->lo,
             row->hi);
    char full[480];
    snprintf(full, sizeof(full), "%.0f tokens, %s", claim_num(c, "tokens"), cond);
    claim_conditions(run, c, full, row);
    snprintf(row->reason, sizeof(row->reason),
             "%s: %.0f us at %.3g GFLOP/s and %.3g GB/s; %s: %.0f us; %.0f pairs", label,
             claim_num(c, "latency_us_median"), claim_num(c, "gflops"),
             claim_num(c, "bandwidth_gbps"), claim_str(c, "pair_with"),
             claim_num(c, "pair_latency_us_median"), claim_num(c, "pair_n"));
}

static void f1(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row = claim_new(rows, max, n, "F1", 768,
                                      "UltraFastBERT uses 12 of its 4095 neurons per token (0.3 %)",
                                      F_SRC " §1, §4", "12 of 4095 = 0.29 %; BERT-base, D = 768");
    struct crow c, big;
    char why[400];
    if (!row)
        return;
    if (!claim_find(run, "fff-1x11", 768, 1, 0, &c) || isnan(claim_num(c, "units_touched"))) {
        claim_why_missing(run, 0, "fff-1x11", 768, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    double u = claim_num(c, "units_touched"), tot = claim_num(c, "units_total");
    row->ours = row->lo = row->hi = u;
    row->verdict = claim_verdict_interval(u, u, 12, 12);
    snprintf(row->ours_text, sizeof(row->ours_text), "%.0f of %.0f (%.3f %%)", u, tot,
             100 * u / tot);
    claim_conditions(run, c, "fff preset 1x11 (one tree, depth 11), one token", row);
    if (find_at(run, "fff-1x11", 768, 0, &big) && claim_num(big, "tokens") > 1)
        snprintf(row->reason, sizeof(row->reason),
                 "one token walks %.0f nodes of %.0f, a root-to-leaf path; %.0f tokens touch "
                 "%.0f distinct nodes, %.0f per token",
                 u, tot, claim_num(big, "tokens"), claim_num(big, "units_touched"), u);
    else
        snprintf(row->reason, sizeof(row->reason), "one token walks %.0f nodes of %.0f", u, tot);
}

static void f2_f3(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row =
        claim_new(rows, max, n, "F2", 768,
                  "UltraFastBERT's FFF is 78x faster than the optimized feed-forward on CPU",
                  F_SRC " §2.3-2.4",
                  "78x: FF-L3 (MKL sgemm, 4095 wide) / FFF-L2, B = 16384, H = 768, i7-6700HQ");
    if (!row)
        return;
    pair_point(run, row, 0, "fff-1x11", 768, 0, 78, INFINITY,
               "fff 1x11 (our batched tree) against dense width 4095 at full-speed "
               "sgemm, both on distinct random tokens and written weights");
    double f2 = row->ours, f2lo = row->lo, f2hi = row->hi;
    row = claim_new(rows, max, n, "F3", 768,
                    "341x is the theoretical limit (4095 / 12 neurons: the FLOP ratio)",
                    F_SRC " §4", "341.25x");
    if (!row)
        return;
    struct crow fc, dc;
    char why[400];
    if (!find_at(run, "fff-1x11", 768, 0, &fc) ||
        !claim_find(run, "dense-4095", 768, (unsigned long)claim_num(fc, "tokens"), 0, &dc) ||
        isnan(claim_num(fc, "flops"))) {
        claim_why_missing(run, 0, "dense-4095", 768, 16384, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    double fr = claim_num(dc, "flops") / claim_num(fc, "flops");
    row->ours = row->lo = row->hi = fr;
    row->verdict = claim_verdict_interval(fr, fr, 341.25 / 1.05, 341.25 * 1.05);
    snprintf(row->ours_text, sizeof(row->ours_text),
             "FLOP ratio %.1fx; time ratio %.3g = %.1f %% of it", fr, f2, 100 * f2 / fr);
    char cond[200];
    snprintf(cond, sizeof(cond),
             "%.0f tokens, FLOPs of one forward from the layers' own counts (biases included)",
             claim_num(fc, "tokens"));
    claim_conditions(run, fc, cond, row);
    snprintf(row->reason, sizeof(row->reason),
             "the measured %.3gx (%.3g-%.3g) reaches %.1f %% of the %.1fx FLOP ratio: dense runs "
             "at %.3g GFLOP/s (%.2f of the %.3g GFLOP/s sgemm peak) while the tree runs at %.3g "
             "GFLOP/s and %.3g GB/s (%.2f of its %s roof): its per-token, per-level dot and axpy "
             "cannot reuse weights the way a GEMM does",
             f2, f2lo, f2hi, 100 * f2 / fr, fr, claim_num(dc, "gflops"),
             claim_num(dc, "gflops") / run->peak_gflops, run->peak_gflops, claim_num(fc, "gflops"),
             claim_num(fc, "bandwidth_gbps"), claim_num(fc, "roofline_frac"),
             claim_str(fc, "roof"));
}

static void f4(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row = claim_new(rows, max, n, "F4a", 768,
                                      "FFF-L1 is 130.7x faster than FF-L1 (same BLAS-1 primitives)",
                                      F_SRC " Table 2, §2.3", "130.7x; MKL, i7-6700HQ, B = 16384");
    if (row)
        pair_point(run, row, 1, "fff-l1-1x11", 768, 0, 130.7, INFINITY,
                   "fewer tokens than the paper's 16384 (the L1 loops do not batch: time per "
                   "token is flat in T), "
                   "fff-l1 1x11 against dense-l1 width 4095, paper-style weak baselines");
    row = claim_new(rows, max, n, "F4b", 768,
                    "FFF-L2 is 255.1x faster than FF-L2 (same BLAS-2 primitives)",
                    F_SRC " Table 2, §2.3", "255.1x; MKL batched gemv, i7-6700HQ, B = 16384");
    if (row)
        pair_point(run, row, 1, "fff-l2-1x11", 768, 0, 255.1, INFINITY,
                   "fff-l2 1x11 against dense-l2 width 4095, paper-style weak "
                   "baselines");
    row = claim_new(rows, max, n, "F4c", 768, "FF-3072 is 1.33-1.74x faster than FF-4095",
                    F_SRC " Table 2, §2.3", "1.33x (limit), 1.39x (L3) - 1.74x (L2)");
    if (row)
        pair_point(run, row, 1, "dense-3072", 768, 0, 1.33, 1.74,
                   "dense width 3072 against 4095, full-speed sgemm");
}

static void f5(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row = claim_new(
        rows, max, n, "F5", 768,
        "the published 78x comes from the benchmark's conditions: unwritten weights, one "
        "repeated input row, no activation",
        "research/fff.md §2.2, §2.2b (the committed benchmark_cpu)",
        "78x under those conditions; research/fff.md §2.2b measured 116-121x (FFF-L1) and "
        "7.1-7.7x (FFF-L2) for them here");
    if (!row)
        return;
    static const struct {
        const char *label, *what;
        int sweep;
    } v[] = {
        {"f5-honest", "FFF-L2, written random weights, distinct tokens, GELU", 2},
        {"f5-unwritten", "+ weights allocated, never written (zero pages)", 2},
        {"f5-noact", "+ no activation", 2},
        {"f5-repeat", "+ one input row for every token", 3},
        {"f5-all", "all three: the published conditions", 3},
    };
    sb_printf(&row->detail,
              "| variant | conditions | dense-4095 / variant | 95 %% interval | us |\n"
              "| --- | --- | --- | --- | --- |\n");
    char moved[400] = "";
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct crow c;
        char why[400];
        if (find_at(run, v[i].label, 768, 0, &c) && claim_ok(c)) {
            sb_printf(&row->detail, "| %s | %s | %.3g | %.3g-%.3g | %.0f |\n", v[i].label,
                      v[i].what, claim_num(c, "pair_ratio"), claim_num(c, "pair_ratio_lo"),
                      claim_num(c, "pair_ratio_hi"), claim_num(c, "latency_us_median"));
            size_t l = strlen(moved);
            snprintf(moved + l, sizeof(moved) - l, "%s%s %.3gx", l ? ", " : "", v[i].label,
                     claim_num(c, "pair_ratio"));
        } else {
            claim_why_missing(run, v[i].sweep, v[i].label, 768, 16384, why, sizeof(why));
            sb_printf(&row->detail, "| %s | %s | - | - | not measured: %s |\n", v[i].label,
                      v[i].what, why);
        }
    }
    pair_point(run, row, 3, "f5-all", 768, 0, 78, INFINITY,
               "FFF-L2 1x11 under the published benchmark's conditions against "
               "dense width 4095 at full-speed sgemm");
    if (row->verdict != CLAIM_NOT_TESTABLE && *moved) {
        size_t l = strlen(row->reason);
        snprintf(row->reason + l, sizeof(row->reason) - l, "; one flaw at a time: %s", moved);
    }
}

static void f6(struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row =
        claim_new(rows, max, n, "F6", 0,
                  "the PyTorch implementation is 40x faster than the batched feed-forward",
                  F_SRC " §2.3, §3.1", "40x; PyTorch BMM, RTX A6000");
    if (row)
        claim_untestable(row, "a PyTorch / GPU measurement: this suite is C on the CPU, and "
                              "has no PyTorch implementation to time");
}

static void f7(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row =
        claim_new(rows, max, n, "F7", 12288,
                  "at GPT-3's size an FFF would use about 0.03 % of the neurons per inference",
                  "UltraFastBERT seed 001; research/fff.md §4",
                  "0.03 %: depth-15 tree, 65,535 nodes, 16 used = 0.024 %; D = 12288");
    if (!row)
        return;
    struct crow c1, c16;
    char why[400];
    if (!claim_find(run, "fff-d15-d12288", 12288, 1, 0, &c1) || !claim_ok(c1)) {
        claim_why_missing(run, 0, "fff-d15-d12288", 12288, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    double f = claim_num(c1, "units_touched") / claim_num(c1, "units_total");
    row->ours = row->lo = row->hi = f;
    row->verdict = claim_verdict_interval(f, f, 0, 0.0003);
    snprintf(row->ours_text, sizeof(row->ours_text),
             "%.0f of %.0f nodes = %.4f %%; %.3gx faster "
             "than dense 4D at 1 token",
             claim_num(c1, "units_touched"), claim_num(c1, "units_total"), 100 * f,
             claim_num(c1, "pair_ratio"));
    claim_conditions(run, c1, "fff trees=1, depth=15 against dense F = 4D = 49152, 1 and 16 tokens",
                     row);
    struct crow dc;
    char bf[32], bd[32];
    int have16 = claim_find(run, "fff-d15-d12288", 12288, 16, 0, &c16) && claim_ok(c16);
    int haved = claim_find(run, "dense-d12288", 12288, 1, 0, &dc);
    snprintf(row->reason, sizeof(row->reason),
             "one token walks %.0f of %.0f nodes; the FLOP ratio is %.0fx, the time ratio "
             "%.3gx (%.3g-%.3g) at 1 token and %.3gx at 16 tokens; memory: fff %s, dense %s of "
             "parameters",
             claim_num(c1, "units_touched"), claim_num(c1, "units_total"),
             haved ? claim_num(dc, "flops") / claim_num(c1, "flops") : NAN,
             claim_num(c1, "pair_ratio"), claim_num(c1, "pair_ratio_lo"),
             claim_num(c1, "pair_ratio_hi"), have16 ? claim_num(c16, "pair_ratio") : NAN,
             claim_bytes(4 * claim_num(c1, "params_total"), bf, sizeof(bf)),
             haved ? claim_bytes(4 * claim_num(dc, "params_total"), bd, sizeof(bd)) : "NA");
}

void claims_derive_f(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    f1(run, rows, max, n);
    f2_f3(run, rows, max, n);
    f4(run, rows, max, n);
    f5(run, rows, max, n);
    f6(rows, max, n);
    f7(run, rows, max, n);
}
