/* derive_u.c - the UltraMem, PKM and MoE claims (issue 13 §2 U1-U9, issue 20
 * U10, U11 and the D = 2048 rows), each from the rows of
 * bench/sweeps/claims.sweep. Sources: ../shared/research/ultramem_pkm.md
 * §1.6-1.7 and §3, moe.md §3-4. Every reason is built from the measured rows:
 * ratios and their intervals, the layers' exact byte and unit accounting, and
 * the achieved GB/s and GFLOP/s against the probed roofs in meta.csv. What it
 * leaves out: the callgrind DRAM-byte estimate of U3 (make claims does not
 * run callgrind: too slow for these layer sizes). */
#include "claims.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define U_SRC_FIG1   "UltraMem (ICLR 2025) Fig. 1b/1c and intro; research/ultramem_pkm.md §1.7"
#define U_BLOG       "Doubao team blog 2025-02-15; research/ultramem_pkm.md §1.7"
/* U1 and U2 are the paper's batch range, 1 to about 1000 (Fig. 1b); the
 * larger batches of the ultramem slot are for U7. */
#define U1_MAX_BATCH 1024
#define U_PAPER_HW   "A100-SXM-80GB, MoE-1.6B-2in34 vs UltraMem-1.6B-x12, seq len 1, KV cache 2048"

/* The width each series is measured at, and its slots. */
struct u_width {
    unsigned long d;
    const char *moe, *um, *moe_s, *um_s;
    const char *what;
};

static const struct u_width widths[] = {
    {768, "moe", "ultramem", "moe-s512", "ultramem-s512",
     "default iso pair (moe: E = 2 x scale, top-2; ultramem x scale)"},
    {2048, "moe-2in34-d2048", "ultramem-d2048", "moe-s512-d2048", "ultramem-s512-d2048",
     "D = 2048, the width secondary sources give the 1.6B models (unverified, "
     "research/ultramem_pkm.md §1.6): moe 2in34, ultramem x12, Dv = D/2, top-m 42 per head"},
};

/* "MoE read 160 MB in 2100 us (76 GB/s, 0.61 of its roofline), 3.2 GFLOP/s" */
static void describe(const char *name, struct crow c, char *buf, size_t len)
{
    char b[32];
    snprintf(buf, len, "%s read %s in %.0f us (%.3g GB/s, %.3g GFLOP/s; %.2f of its %s roof)", name,
             claim_bytes(claim_num(c, "bytes"), b, sizeof(b)), claim_num(c, "latency_us_median"),
             claim_num(c, "bandwidth_gbps"), claim_num(c, "gflops"), claim_num(c, "roofline_frac"),
             claim_str(c, "roof"));
}

static void size_line(struct crow c, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s %.3g M params (%s)", name, claim_num(c, "params_total") / 1e6,
             claim_str(c, "knobs"));
}

static void u1(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n,
               const char *id, unsigned long d, const char *um, const char *moe, const char *what)
{
    struct claim_row *row =
        claim_new(rows, max, n, id, d,
                  "UltraMem is 2-6x faster than MoE at the same parameters and compute, decoding "
                  "(one token per sequence), varying with batch size",
                  U_SRC_FIG1, "2-6x over batch 1-1000; " U_PAPER_HW);
    if (!row)
        return;
    char holds[256], why[400];
    claim_pair_series(run, um, d, 0, U1_MAX_BATCH, 2, 6, row, holds, sizeof(holds));
    struct crow pts[64];
    size_t k = claim_rows(run, um, d, 0, pts, 64);
    while (k && claim_num(pts[k - 1], "tokens") > U1_MAX_BATCH)
        k--;
    if (row->verdict == CLAIM_NOT_TESTABLE || !k) {
        claim_why_missing(run, 0, um, d, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    double rmin = INFINITY, bmin = 0, bmax = 0;
    struct crow last = pts[0];
    for (size_t i = 0; i < k; i++) {
        if (!claim_ok(pts[i]))
            continue;
        double r = claim_num(pts[i], "pair_ratio");
        if (r < rmin) {
            rmin = r;
            bmin = claim_num(pts[i], "tokens");
        }
        if (r == row->ours)
            bmax = claim_num(pts[i], "tokens");
        last = pts[i];
    }
    snprintf(row->ours_text, sizeof(row->ours_text),
             "%.2f-%.2fx (lowest at batch %.0f, highest at %.0f)", rmin, row->ours, bmin, bmax);
    char cond[720], s1[160], s2[160] = "";
    struct crow mc;
    int have_m = claim_find(run, moe, d, (unsigned long)claim_num(last, "tokens"), 0, &mc);
    size_line(last, um, s1, sizeof(s1));
    if (have_m)
        size_line(mc, moe, s2, sizeof(s2));
    snprintf(cond, sizeof(cond), "%s; batch %.0f-%.0f at one token each; %s; %s", what,
             claim_num(pts[0], "tokens"), claim_num(last, "tokens"), s1, have_m ? s2 : "");
    claim_conditions(run, last, cond, row);
    char a[240] = "", b[240] = "";
    describe("UltraMem", last, a, sizeof(a));
    if (have_m && claim_ok(mc))
        describe("MoE", mc, b, sizeof(b));
    snprintf(row->reason, sizeof(row->reason),
             "inside 2-6x at batch: %s; %.2fx at batch %.0f, %.2fx at batch %.0f; at batch %.0f "
             "%s, %s",
             holds, rmin, bmin, row->ours, bmax, claim_num(last, "tokens"), a,
             *b ? b : "MoE row missing");
}

static void u2(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n,
               unsigned long d, const char *um)
{
    struct claim_row *row =
        claim_new(rows, max, n, "U2", d, "up to 83 % lower inference cost than MoE (= 1 - 1/6)",
                  U_BLOG, "up to 83 % (the 6x latency ratio restated as cost)");
    if (!row)
        return;
    struct crow pts[64], best = {0};
    size_t k = claim_rows(run, um, d, 0, pts, 64);
    double r = -1;
    while (k && claim_num(pts[k - 1], "tokens") > U1_MAX_BATCH)
        k--;
    for (size_t i = 0; i < k; i++)
        if (claim_ok(pts[i]) && claim_num(pts[i], "pair_ratio") > r) {
            r = claim_num(pts[i], "pair_ratio");
            best = pts[i];
        }
    if (r <= 0) {
        char why[400];
        claim_why_missing(run, 0, um, d, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    double lo = claim_num(best, "pair_ratio_lo"), hi = claim_num(best, "pair_ratio_hi");
    row->ours = 1 - 1 / r;
    row->lo = 1 - 1 / lo;
    row->hi = 1 - 1 / hi;
    row->verdict = claim_verdict_interval(row->lo, row->hi, 0.83, 1);
    snprintf(row->ours_text, sizeof(row->ours_text), "%.0f %% (1 - 1/%.2f at batch %.0f)",
             100 * row->ours, r, claim_num(best, "tokens"));
    claim_conditions(run, best, "cost read as latency: 1 - 1/(largest U1 ratio)", row);
    snprintf(row->reason, sizeof(row->reason),
             "the largest paired ratio of U1 is %.2fx (interval %.2f-%.2f) at batch %.0f, so "
             "the cost saved is %.0f-%.0f %%; 83 %% needs 6x",
             r, lo, hi, claim_num(best, "tokens"), 100 * row->lo, 100 * row->hi);
}

/* One exact ratio of a series: widen [*rmin, *rmax] and, when it holds,
 * add its batch to the comma list `holds` (u3, u6). NaN leaves both. */
static void range_add(double r, enum claim_verdict v, double batch, double *rmin, double *rmax,
                      char *holds, size_t hl)
{
    if (isnan(r))
        return;
    *rmin = fmin(*rmin, r);
    *rmax = fmax(*rmax, r);
    if (v == CLAIM_REPRODUCED) {
        size_t l = strlen(holds);
        snprintf(holds + l, hl - l, "%s%.0f", l ? ", " : "", batch);
    }
}

static void u3(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n,
               const struct u_width *w)
{
    struct claim_row *row = claim_new(
        rows, max, n, w->d == 768 ? "U3" : "U3-2048", w->d,
        "MoE's memory access is 13-18.8x UltraMem's", U_SRC_FIG1 " (annotations of Fig. 1c)",
        "18.1x, 18.8x, 17.3x, 13.0x at annotated batch sizes; " U_PAPER_HW);
    if (!row)
        return;
    struct crow pts[64];
    enum claim_verdict v[64];
    size_t k = claim_rows(run, w->um, w->d, 0, pts, 64), nv = 0;
    char holds[256] = "", bm[32], bu[32];
    while (k && claim_num(pts[k - 1], "tokens") > U1_MAX_BATCH)
        k--;
    double rmin = INFINITY, rmax = -INFINITY;
    sb_printf(&row->detail, "| batch | MoE bytes | UltraMem bytes | ratio | sparse bytes only | "
                            "experts / values touched | verdict |\n| --- | --- | --- | --- | --- "
                            "| --- | --- |\n");
    for (size_t i = 0; i < k; i++) {
        struct crow mc;
        double t = claim_num(pts[i], "tokens");
        if (t > U1_MAX_BATCH || !claim_find(run, w->moe, w->d, (unsigned long)t, 0, &mc))
            continue;
        double bmoe = claim_num(mc, "bytes"), bum = claim_num(pts[i], "bytes");
        double r = bmoe / bum;
        double sr = claim_num(mc, "sparse_bytes") / claim_num(pts[i], "sparse_bytes");
        v[nv] = claim_verdict_interval(r, r, 13, 18.8);
        sb_printf(&row->detail, "| %.0f | %s | %s | %.3g | %.3g | %.0f / %.0f | %s |\n", t,
                  claim_bytes(bmoe, bm, sizeof(bm)), claim_bytes(bum, bu, sizeof(bu)), r, sr,
                  claim_num(mc, "units_touched"), claim_num(pts[i], "units_touched"),
                  claim_verdict_name(v[nv]));
        range_add(r, v[nv], t, &rmin, &rmax, holds, sizeof(holds));
        nv++;
    }
    row->verdict = claim_verdict_series(v, nv);
    if (row->verdict == CLAIM_NOT_TESTABLE) {
        char why[400];
        claim_why_missing(run, 0, w->um, w->d, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    row->lo = rmin;
    row->hi = rmax;
    row->ours = rmax;
    snprintf(row->ours_text, sizeof(row->ours_text), "%.3g-%.3gx over batch %.0f-%.0f", rmin, rmax,
             claim_num(pts[0], "tokens"), claim_num(pts[k - 1], "tokens"));
    claim_conditions(run, pts[k - 1],
                     "bytes = parameter bytes one forward reads, from the layers' exact "
                     "accounting (dense + unique sparse); the callgrind DRAM estimate is not "
                     "part of make claims",
                     row);
    snprintf(row->reason, sizeof(row->reason),
             "inside 13-18.8x at batch: %s; the ratio runs "
             "from %.3g to %.3g",
             *holds ? holds : "none", rmin, rmax);
    struct crow mc;
    if (claim_find(run, w->moe, w->d, (unsigned long)claim_num(pts[k - 1], "tokens"), 0, &mc))
        snprintf(row->reason, sizeof(row->reason),
                 "inside 13-18.8x at batch: %s; the ratio runs from %.3g to %.3g: MoE reads "
                 "whole experts (%.0f of %.0f at batch %.0f) while UltraMem reads its keys and "
                 "projections once per forward plus %.0f value rows of %.0f",
                 *holds ? holds : "none", rmin, rmax, claim_num(mc, "units_touched"),
                 claim_num(mc, "units_total"), claim_num(pts[k - 1], "tokens"),
                 claim_num(pts[k - 1], "units_touched"), claim_num(pts[k - 1], "units_total"));
}

static void u4(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n,
               const struct u_width *w)
{
    struct claim_row *row = claim_new(
        rows, max, n, w->d == 768 ? "U4" : "U4-2048", w->d,
        "at small batch MoE activates nearly all its experts",
        "UltraMem (ICLR 2025) §3; research/ultramem_pkm.md §1.7, moe.md §3.1",
        "no number; judged here: >= 90 % of experts touched by batch 64 (the batch of the "
        "6x point, research/ultramem_pkm.md §1.7)");
    if (!row)
        return;
    struct crow pts[64];
    size_t k = claim_rows(run, w->moe, w->d, 0, pts, 64);
    double b50 = INFINITY, b90 = INFINITY;
    sb_printf(&row->detail,
              "| batch | experts touched | of | fraction |\n| --- | --- | --- | --- |\n");
    for (size_t i = 0; i < k; i++) {
        double f = claim_num(pts[i], "units_touched") / claim_num(pts[i], "units_total");
        double t = claim_num(pts[i], "tokens");
        sb_printf(&row->detail, "| %.0f | %.0f | %.0f | %.3f |\n", t,
                  claim_num(pts[i], "units_touched"), claim_num(pts[i], "units_total"), f);
        if (f >= 0.5 && isinf(b50))
            b50 = t;
        if (f >= 0.9 && isinf(b90))
            b90 = t;
    }
    if (!k || isnan(claim_num(pts[0], "units_total"))) {
        char why[400];
        claim_why_missing(run, 0, w->moe, w->d, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    row->ours = b90;
    row->lo = b50;
    row->hi = b90;
    row->verdict = claim_verdict_interval(b50, b90, 0, 64);
    snprintf(row->ours_text, sizeof(row->ours_text), "50 %% at batch %.0f, 90 %% at batch %.0f",
             b50, b90);
    char cond[240];
    snprintf(cond, sizeof(cond), "%s, %.0f experts (%s), the router on N(0,1) tokens", w->moe,
             claim_num(pts[0], "units_total"), claim_str(pts[0], "knobs"));
    claim_conditions(run, pts[0], cond, row);
    snprintf(row->reason, sizeof(row->reason),
             "the batch touches %.0f of %.0f experts at batch 1 and %.0f at batch %.0f; half "
             "of them from batch %.0f, 90 %% from batch %.0f%s",
             claim_num(pts[0], "units_touched"), claim_num(pts[0], "units_total"),
             claim_num(pts[k - 1], "units_touched"), claim_num(pts[k - 1], "tokens"), b50, b90,
             isinf(b90) ? " (never, in the measured range)" : "");
}

/* Least-squares slope of log(latency) on log(scale), the latency from
 * column `col`: "latency_us_median", or "pair_latency_us_median" for the
 * partner timed in the same rounds. */
static double loglog_slope(const struct crow *p, size_t k, const char *col)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        double x = log(claim_num(p[i], "scale")), y = log(claim_num(p[i], col));
        if (!claim_ok(p[i]) || isnan(y))
            continue;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
        m++;
    }
    if (m < 2)
        return NAN;
    return ((double)m * sxy - sx * sy) / ((double)m * sxx - sx * sx);
}

/* A paired slot over scales: the growth of its ratio from the smallest to the
 * largest scale, with the conservative interval [lo_big / hi_small, hi_big / lo_small]. */
static int growth(const struct crow *p, size_t k, double *g, double *lo, double *hi)
{
    const struct crow *a = NULL, *b = NULL;
    for (size_t i = 0; i < k; i++)
        if (claim_ok(p[i]) && !isnan(claim_num(p[i], "pair_ratio"))) {
            if (!a)
                a = &p[i];
            b = &p[i];
        }
    if (!a || a == b)
        return -1;
    *g = claim_num(*b, "pair_ratio") / claim_num(*a, "pair_ratio");
    *lo = claim_num(*b, "pair_ratio_lo") / claim_num(*a, "pair_ratio_hi");
    *hi = claim_num(*b, "pair_ratio_hi") / claim_num(*a, "pair_ratio_lo");
    return 0;
}

static void u5(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n,
               const struct u_width *w)
{
    struct claim_row *row = claim_new(
        rows, max, n, w->d == 768 ? "U5" : "U5-2048", w->d,
        "at batch 512 UltraMem's time stays nearly constant as sparse parameters grow, while "
        "MoE's grows",
        "UltraMem (ICLR 2025) Fig. 6c; research/ultramem_pkm.md §1.7",
        "qualitative; judged here: UltraMem's speedup over MoE grows (x >= 1) from the "
        "smallest to the largest scale; 1.6B activated, A100");
    if (!row)
        return;
    struct crow pu[16];
    size_t ku = claim_rows(run, w->um_s, w->d, 1, pu, 16);
    double g, lo, hi;
    char holds[128];
    struct claim_row tmp = {0};
    claim_pair_series(run, w->um_s, w->d, 1, INFINITY, 0, INFINITY, &tmp, holds, sizeof(holds));
    row->detail = tmp.detail;
    if (growth(pu, ku, &g, &lo, &hi)) {
        char why[400];
        claim_why_missing(run, 0, w->um_s, w->d, 512, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    /* Both slopes from the paired rows: MoE's own slot is timed alone,
     * minutes apart, and one slow moment of this machine bends its line
     * (the reference run's MoE alone: 52 ms at scale 4, 33 ms paired). */
    double su = loglog_slope(pu, ku, "latency_us_median"),
           sm = loglog_slope(pu, ku, "pair_latency_us_median");
    row->ours = g;
    row->lo = lo;
    row->hi = hi;
    row->verdict = claim_verdict_interval(lo, hi, 1, INFINITY);
    snprintf(row->ours_text, sizeof(row->ours_text),
             "speedup x%.2f from scale %.0f to %.0f; slopes d log t / d log s: UltraMem %.2f, "
             "MoE %.2f",
             g, claim_num(pu[0], "scale"), claim_num(pu[ku - 1], "scale"), su, sm);
    char cond[200];
    snprintf(cond, sizeof(cond), "%.0f tokens (one per sequence), scale %.0f-%.0f",
             claim_num(pu[0], "tokens"), claim_num(pu[0], "scale"), claim_num(pu[ku - 1], "scale"));
    claim_conditions(run, pu[0], cond, row);
    snprintf(row->reason, sizeof(row->reason),
             "UltraMem's latency grows as scale^%.2f and MoE's as scale^%.2f (least squares over "
             "%zu scales, both from the same paired rounds); the paired speedup goes from %.2fx "
             "at scale %.0f to %.2fx at scale %.0f",
             su, sm, ku, claim_num(pu[0], "pair_ratio"), claim_num(pu[0], "scale"),
             claim_num(pu[ku - 1], "pair_ratio"), claim_num(pu[ku - 1], "scale"));
}

static void u6(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row = claim_new(
        rows, max, n, "U6", 768,
        "UltraMem's memory access is about that of a compute-matched dense model at common "
        "batch sizes",
        U_BLOG, "\"almost equal\"; judged here: within 1.5x either way (0.67-1.5)");
    if (!row)
        return;
    struct crow pts[64];
    enum claim_verdict v[64];
    size_t k = claim_rows(run, "ultramem", 768, 0, pts, 64), nv = 0;
    char holds[256] = "", bu[32], bd[32];
    double rmin = INFINITY, rmax = -INFINITY;
    struct crow last = {0};
    sb_printf(&row->detail, "| batch | UltraMem bytes | dense bytes | ratio | verdict |\n| --- "
                            "| --- | --- | --- | --- |\n");
    for (size_t i = 0; i < k; i++) {
        struct crow dc;
        double t = claim_num(pts[i], "tokens");
        if (t > U1_MAX_BATCH || !claim_find(run, "dense", 768, (unsigned long)t, 0, &dc))
            continue;
        double r = claim_num(pts[i], "bytes") / claim_num(dc, "bytes");
        v[nv] = claim_verdict_interval(r, r, 1 / 1.5, 1.5);
        sb_printf(&row->detail, "| %.0f | %s | %s | %.3g | %s |\n", t,
                  claim_bytes(claim_num(pts[i], "bytes"), bu, sizeof(bu)),
                  claim_bytes(claim_num(dc, "bytes"), bd, sizeof(bd)), r,
                  claim_verdict_name(v[nv]));
        if (!isnan(r))
            last = pts[i];
        range_add(r, v[nv], t, &rmin, &rmax, holds, sizeof(holds));
        nv++;
    }
    row->verdict = claim_verdict_series(v, nv);
    if (row->verdict == CLAIM_NOT_TESTABLE) {
        char why[400];
        claim_why_missing(run, 0, "dense", 768, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    row->ours = rmax;
    row->lo = rmin;
    row->hi = rmax;
    snprintf(row->ours_text, sizeof(row->ours_text), "%.3g-%.3gx", rmin, rmax);
    claim_conditions(run, last, "ultramem against dense F = 4D, exact byte accounting", row);
    snprintf(row->reason, sizeof(row->reason),
             "within 1.5x at batch: %s; UltraMem reads %.3g-%.3g times the dense FFN's "
             "parameter bytes (keys, projections and the value rows the batch touches, %.0f "
             "rows at batch %.0f)",
             *holds ? holds : "none", rmin, rmax, claim_num(last, "units_touched"),
             claim_num(last, "tokens"));
}

static void u7(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n,
               const struct u_width *w)
{
    struct claim_row *row =
        claim_new(rows, max, n, w->d == 768 ? "U7" : "U7-2048", w->d,
                  "MoE catches up with UltraMem only at batch sizes in the tens of thousands",
                  U_BLOG "; explainer's model ~131,072 (unverified)",
                  "crossover batch >= 10,000 (explainer: ~131,072)");
    if (!row)
        return;
    struct crow pts[64];
    size_t k = claim_rows(run, w->um, w->d, 0, pts, 64);
    double prev = NAN, cross = NAN, bmax = NAN, rcross = NAN;
    sb_printf(&row->detail,
              "| batch | time(%s) / time(%s) | 95 %% interval |\n| --- | --- | --- |\n", w->moe,
              w->um);
    for (size_t i = 0; i < k; i++)
        sb_printf(&row->detail, "| %.0f | %.3g | %.3g-%.3g |\n", claim_num(pts[i], "tokens"),
                  claim_num(pts[i], "pair_ratio"), claim_num(pts[i], "pair_ratio_lo"),
                  claim_num(pts[i], "pair_ratio_hi"));
    for (size_t i = 0; i < k; i++) {
        if (!claim_ok(pts[i]) || isnan(claim_num(pts[i], "pair_ratio")))
            continue;
        double t = claim_num(pts[i], "tokens");
        if (claim_num(pts[i], "pair_ratio") <= 1) {
            cross = t;
            rcross = claim_num(pts[i], "pair_ratio");
            break;
        }
        prev = t;
        bmax = t;
    }
    if (isnan(cross) && isnan(bmax)) {
        char why[400];
        claim_why_missing(run, 0, w->um, w->d, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    claim_conditions(run, pts[0], "paired ratios of U1 (one token per sequence)", row);
    if (isnan(cross)) {
        row->ours = row->lo = bmax;
        row->hi = INFINITY;
        row->verdict = claim_verdict_interval(bmax, INFINITY, 1e4, INFINITY);
        snprintf(row->ours_text, sizeof(row->ours_text), "> %.0f (beyond the measured range)",
                 bmax);
        snprintf(row->reason, sizeof(row->reason),
                 "UltraMem is still faster at the largest measured batch, %.0f (%.2fx): the "
                 "crossover lies beyond the measured range%s",
                 bmax, claim_num(pts[k - 1], "pair_ratio"),
                 bmax < 1e4 ? ", which ends below the claimed tens of thousands" : "");
        return;
    }
    row->ours = cross;
    row->lo = isnan(prev) ? 1 : prev;
    row->hi = cross;
    row->verdict = claim_verdict_interval(row->lo, row->hi, 1e4, INFINITY);
    snprintf(row->ours_text, sizeof(row->ours_text), "between batch %.0f and %.0f", row->lo, cross);
    snprintf(row->reason, sizeof(row->reason),
             "the paired ratio falls to %.2f (MoE as fast or faster) at batch %.0f, after %s",
             rcross, cross,
             isnan(prev) ? "no batch above 1" : "being above 1 at every smaller batch");
}

static void u8(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row =
        claim_new(rows, max, n, "U8", 768,
                  "skip-layer: the memory layer's lookup overlaps the dense layer's compute",
                  "UltraMem (ICLR 2025) §3; research/ultramem_pkm.md §1.2",
                  "no number; judged here: dense+ultramem run side by side at least as fast as one "
                  "after the other (ratio >= 1)");
    if (!row)
        return;
    char holds[256], why[400];
    claim_pair_series(run, "dense+ultramem-concurrent", 768, 0, INFINITY, 1, INFINITY, row, holds,
                      sizeof(holds));
    struct crow pts[16];
    size_t k = claim_rows(run, "dense+ultramem-concurrent", 768, 0, pts, 16);
    if (row->verdict == CLAIM_NOT_TESTABLE || !k) {
        claim_why_missing(run, 0, "dense+ultramem-concurrent", 768, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    struct crow last = pts[k - 1], dc, uc;
    double t = claim_num(last, "tokens");
    snprintf(row->ours_text, sizeof(row->ours_text), "%.2fx at best", row->ours);
    claim_conditions(run, last,
                     "sequential: each part on every thread in turn; concurrent: "
                     "one thread per part",
                     row);
    if (claim_find(run, "dense", 768, (unsigned long)t, 0, &dc) &&
        claim_find(run, "ultramem", 768, (unsigned long)t, 0, &uc)) {
        double td = claim_num(dc, "latency_us_median"), tu = claim_num(uc, "latency_us_median");
        snprintf(row->reason, sizeof(row->reason),
                 "concurrent at least as fast at batch %s; at batch %.0f the parts alone take "
                 "%.0f us (dense) and %.0f us (ultramem), so full overlap could give at most "
                 "%.2fx; measured %.2fx (interval %.2f-%.2f)",
                 holds, t, td, tu, (td + tu) / fmax(td, tu), claim_num(last, "pair_ratio"),
                 claim_num(last, "pair_ratio_lo"), claim_num(last, "pair_ratio_hi"));
    } else
        snprintf(row->reason, sizeof(row->reason), "concurrent at least as fast at batch %s",
                 holds);
}

static void u9(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row = claim_new(
        rows, max, n, "U9", 768, "PKM touches few values but scales poorly (against UltraMem)",
        "UltraMem (ICLR 2025) §2-3; research/ultramem_pkm.md §3",
        "qualitative; judged here: PKM's speed relative to UltraMem falls (x <= 1) from the "
        "smallest to the largest scale");
    if (!row)
        return;
    struct crow pp[16], pu[16];
    size_t kp = claim_rows(run, "pkm-s512", 768, 1, pp, 16);
    size_t ku = claim_rows(run, "ultramem-s512", 768, 1, pu, 16);
    char holds[128];
    struct claim_row tmp = {0};
    claim_pair_series(run, "pkm-s512", 768, 1, INFINITY, 0, INFINITY, &tmp, holds, sizeof(holds));
    row->detail = tmp.detail;
    double g, lo, hi;
    if (growth(pp, kp, &g, &lo, &hi)) {
        char why[400];
        claim_why_missing(run, 0, "pkm-s512", 768, 512, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    row->ours = g;
    row->lo = lo;
    row->hi = hi;
    row->verdict = claim_verdict_interval(lo, hi, 0, 1);
    snprintf(row->ours_text, sizeof(row->ours_text),
             "PKM's speed vs UltraMem x%.2f from scale %.0f to %.0f", g, claim_num(pp[0], "scale"),
             claim_num(pp[kp - 1], "scale"));
    char cond[200];
    snprintf(cond, sizeof(cond), "%.0f tokens, pkm default knobs against ultramem at each scale",
             claim_num(pp[0], "tokens"));
    claim_conditions(run, pp[0], cond, row);
    char bp[32], bu[32];
    snprintf(row->reason, sizeof(row->reason),
             "PKM's latency grows as scale^%.2f, UltraMem's as scale^%.2f; PKM is %.2fx "
             "UltraMem's speed at scale %.0f and %.2fx at %.0f, reading %s against %s there",
             loglog_slope(pp, kp, "latency_us_median"),
             loglog_slope(pp, kp, "pair_latency_us_median"), claim_num(pp[0], "pair_ratio"),
             claim_num(pp[0], "scale"), claim_num(pp[kp - 1], "pair_ratio"),
             claim_num(pp[kp - 1], "scale"), claim_bytes(claim_num(pp[kp - 1], "bytes"), bp, 32),
             ku ? claim_bytes(claim_num(pu[ku - 1], "bytes"), bu, 32) : "NA");
}

static void u10(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row = claim_new(
        rows, max, n, "U10", 768,
        "implicit value expansion: the virtual memory is 4x the physical; each Linear can be "
        "merged with the physical table",
        "UltraMem (ICLR 2025) §3.3; research/ultramem_pkm.md §1.3",
        "virtual = 4x physical (E = 4); merging is exact; judged here: merged at least as "
        "fast (ratio >= 1)");
    if (!row)
        return;
    char holds[256], why[400];
    claim_pair_series(run, "ultramem-merged", 768, 0, INFINITY, 1, INFINITY, row, holds,
                      sizeof(holds));
    struct crow pts[16], uc;
    size_t k = claim_rows(run, "ultramem-merged", 768, 0, pts, 16);
    if (row->verdict == CLAIM_NOT_TESTABLE || !k) {
        claim_why_missing(run, 0, "ultramem-merged", 768, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    struct crow first = pts[0], last = pts[k - 1];
    snprintf(row->ours_text, sizeof(row->ours_text), "%.2f-%.2fx", row->lo, row->hi);
    claim_conditions(run, last, "ultramem-merged against ultramem at each batch", row);
    if (!claim_find(run, "ultramem", 768, (unsigned long)claim_num(first, "tokens"), 0, &uc)) {
        snprintf(row->reason, sizeof(row->reason), "merged at least as fast at batch %s", holds);
        return;
    }
    char m1[32], u1b[32];
    snprintf(row->reason, sizeof(row->reason),
             "virtual / physical = E = %.0f; merged holds %.2fx the parameters (%.3g M against "
             "%.3g M), reads %s against %s at batch %.0f, agrees with its reference within "
             "%.2g; at least as fast at batch %s",
             claim_knob(first, "expand"),
             claim_num(first, "params_total") / claim_num(uc, "params_total"),
             claim_num(first, "params_total") / 1e6, claim_num(uc, "params_total") / 1e6,
             claim_bytes(claim_num(first, "bytes"), m1, 32),
             claim_bytes(claim_num(uc, "bytes"), u1b, 32), claim_num(first, "tokens"),
             claim_num(first, "max_abs_err"), holds);
}

/* U11's phase model: per token, the query projection 2 Dk D and the output
 * projection E Dv D (ultramem_score.c, ultramem_gather.c), the gather H m Dv;
 * key scoring is what the layer's own FLOP count leaves (the sub-key GEMM,
 * the rank-1 filter, the Tucker core). The time of each phase is estimated as
 * max(its FLOPs / sgemm peak, its bytes / the matching roof). */
static void u11_phases(const struct claim_run *run, struct crow c, struct sbuf *sb)
{
    double T = claim_num(c, "tokens"), D = claim_num(c, "d_model");
    double Dk = claim_knob(c, "key_dim"), Dv = claim_knob(c, "value_dim"),
           H = claim_knob(c, "heads"), m = claim_knob(c, "topm"), E = claim_knob(c, "expand"),
           r = claim_knob(c, "tucker_rank"), nk = claim_knob(c, "n_keys");
    double fl = claim_num(c, "flops"), np = sqrt(E) * nk;
    double f_proj = 2 * T * (2 * Dk * D + E * Dv * D), f_gat = 2 * T * H * m * Dv;
    double f_key = fl - f_proj - f_gat;
    double b_key = 2 * H * np * r * Dk * 4, b_proj = (2 * Dk * D + E * Dv * D) * 4;
    double b_gat = claim_num(c, "sparse_bytes");
    double pk = run->peak_gflops * 1e3, tr = run->triad_gbps * 1e3, ga = run->gather_gbps * 1e3;
    double t_key = fmax(f_key / pk, b_key / tr), t_proj = fmax(f_proj / pk, b_proj / tr),
           t_gat = fmax(f_gat / pk, b_gat / ga); /* us: flop / (MFLOP/us) */
    double lat = claim_num(c, "latency_us_median");
    sb_printf(sb, "| %.0f | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", r, T,
              f_key / fl, f_gat / fl, f_proj / fl, t_key, t_gat, t_proj,
              fmax(0, lat - t_key - t_gat - t_proj), lat);
}

static void u11(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    struct claim_row *row = claim_new(
        rows, max, n, "U11", 768,
        "Tucker-decomposed query-key retrieval: each score multiplies and adds r row and r "
        "column scores, so its cost grows with the rank r",
        "UltraMem (ICLR 2025) §3.2; research/ultramem_pkm.md §1.3",
        "qualitative; judged here: rank 4 slower than rank 1 (ratio time(r1)/time(r4) <= 1)");
    if (!row)
        return;
    char holds[256], why[400];
    claim_pair_series(run, "ultramem-r4", 768, 0, INFINITY, 0, 1, row, holds, sizeof(holds));
    struct crow pts[16];
    size_t k = claim_rows(run, "ultramem-r4", 768, 0, pts, 16);
    if (row->verdict == CLAIM_NOT_TESTABLE || !k) {
        claim_why_missing(run, 0, "ultramem-r4", 768, 1, why, sizeof(why));
        claim_untestable(row, why);
        return;
    }
    snprintf(row->ours_text, sizeof(row->ours_text), "r = 4 runs at %.2f-%.2fx the speed of r = 1",
             row->lo, row->hi);
    claim_conditions(run, pts[k - 1], "tucker_rank 1, 2 (the ultramem slot) and 4", row);
    sb_printf(&row->detail,
              "\nWhere UltraMem's FLOPs and time go. No per-phase timer exists in the layer: "
              "the FLOP shares come from the layer's exact count minus the closed-form "
              "projection and gather counts, the times are a model, max(FLOPs / sgemm peak, "
              "bytes / roof) per phase, with the remainder of the measured latency as \"rest\".\n\n"
              "| r | batch | FLOPs keys | FLOPs gather | FLOPs proj | us keys | us gather | us "
              "proj | us rest | us measured |\n| --- | --- | --- | --- | --- | --- | --- | --- | "
              "--- | --- |\n");
    const char *labels[3] = {"ultramem-r1", "ultramem", "ultramem-r4"};
    double share_lo = NAN, share_hi = NAN;
    for (int li = 0; li < 3; li++) {
        struct crow p[16];
        size_t kk = claim_rows(run, labels[li], 768, 0, p, 16);
        for (size_t i = 0; i < kk; i++) {
            if (!claim_ok(p[i]))
                continue;
            if (li != 1 || claim_num(p[i], "tokens") == claim_num(pts[0], "tokens") ||
                claim_num(p[i], "tokens") == claim_num(pts[k - 1], "tokens") ||
                claim_num(p[i], "tokens") == 16 || claim_num(p[i], "tokens") == 256)
                u11_phases(run, p[i], &row->detail);
        }
        if (kk && claim_ok(p[kk - 1])) {
            struct crow c = p[kk - 1];
            double T = claim_num(c, "tokens"), D = claim_num(c, "d_model");
            double fp = 2 * T *
                        (2 * claim_knob(c, "key_dim") * D +
                         claim_knob(c, "expand") * claim_knob(c, "value_dim") * D);
            double fg =
                2 * T * claim_knob(c, "heads") * claim_knob(c, "topm") * claim_knob(c, "value_dim");
            double s = 1 - (fp + fg) / claim_num(c, "flops");
            if (li == 0)
                share_lo = s;
            if (li == 2)
                share_hi = s;
        }
    }
    snprintf(row->reason, sizeof(row->reason),
             "r = 4 against r = 1: %.2f-%.2fx, slower at batch %s; key scoring is %.0f %% of "
             "the FLOPs at r = 1 and %.0f %% at r = 4 (batch %.0f)",
             row->lo, row->hi, holds, 100 * share_lo, 100 * share_hi,
             claim_num(pts[k - 1], "tokens"));
}

void claims_derive_u(const struct claim_run *run, struct claim_row *rows, size_t max, size_t *n)
{
    u1(run, rows, max, n, "U1a", 768, "ultramem", "moe", widths[0].what);
    u1(run, rows, max, n, "U1b", 768, "ultramem-227m", "moe-2in34",
       "the papers' presets: ultramem 227m (n = 808, Dk 192, Dv 384, m 80, r 2) vs moe 2in34");
    u1(run, rows, max, n, "U1-2048", 2048, widths[1].um, widths[1].moe, widths[1].what);
    u2(run, rows, max, n, 768, "ultramem");
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
        u3(run, rows, max, n, &widths[i]);
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
        u4(run, rows, max, n, &widths[i]);
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
        u5(run, rows, max, n, &widths[i]);
    u6(run, rows, max, n);
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
        u7(run, rows, max, n, &widths[i]);
    u8(run, rows, max, n);
    u9(run, rows, max, n);
    u10(run, rows, max, n);
    u11(run, rows, max, n);
}
