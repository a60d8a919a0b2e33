/* series.c - what the claim derivations share: a new claim row, its
 * conditions line, and a paired slot's ratios over a series of points (batch
 * sizes or scales) judged point by point with the verdict rule. */
#include "claims.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct claim_row *claim_new(struct claim_row *rows, size_t max, size_t *n, const char *id,
                            unsigned long d, const char *claim, const char *source,
                            const char *paper)
{
    if (*n >= max)
        return NULL;
    struct claim_row *row = &rows[(*n)++];
    memset(row, 0, sizeof(*row));
    snprintf(row->id, sizeof(row->id), "%s", id);
    row->d_model = d;
    snprintf(row->claim, sizeof(row->claim), "%s", claim);
    snprintf(row->source, sizeof(row->source), "%s", source);
    snprintf(row->paper, sizeof(row->paper), "%s", paper);
    row->ours = row->lo = row->hi = NAN;
    row->verdict = CLAIM_NOT_TESTABLE;
    return row;
}

void claim_untestable(struct claim_row *row, const char *why)
{
    row->verdict = CLAIM_NOT_TESTABLE;
    row->ours = row->lo = row->hi = NAN;
    snprintf(row->ours_text, sizeof(row->ours_text), "-");
    snprintf(row->reason, sizeof(row->reason), "%s", why);
}

const char *claim_bytes(double b, char *buf, size_t len)
{
    if (isnan(b))
        snprintf(buf, len, "NA");
    else if (b >= 1e9)
        snprintf(buf, len, "%.2f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(buf, len, "%.1f MB", b / 1e6);
    else
        snprintf(buf, len, "%.1f KB", b / 1e3);
    return buf;
}

void claim_conditions(const struct claim_run *run, struct crow c, const char *extra,
                      struct claim_row *row)
{
    snprintf(row->conditions, sizeof(row->conditions),
             "%s, %.0f threads, fp32, %s cache, D = %.0f, scale %.0f%s%s", run->cpu,
             claim_num(c, "threads"), claim_str(c, "cache"), claim_num(c, "d_model"),
             claim_num(c, "scale"), *extra ? ", " : "", extra);
}

size_t claim_pair_series(const struct claim_run *run, const char *label, unsigned long d,
                         int by_scale, double max_x, double clo, double chi, struct claim_row *row,
                         char *holds, size_t hl)
{
    struct crow pts[64];
    enum claim_verdict v[64];
    size_t n = claim_rows(run, label, d, by_scale, pts, 64), nh = 0;
    const char *key = by_scale ? "scale" : "tokens";
    while (n && claim_num(pts[n - 1], key) > max_x) /* ascending: drop the tail */
        n--;
    double best = -1;
    holds[0] = '\0';
    row->lo = INFINITY;
    row->hi = -INFINITY;
    sb_printf(&row->detail, "| %s | %s against %s | 95 %% interval | verdict | %s us | %s us |\n",
              by_scale ? "scale" : "batch", label, n ? claim_str(pts[0], "pair_with") : "-", label,
              n ? claim_str(pts[0], "pair_with") : "partner");
    sb_printf(&row->detail, "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < n; i++) {
        double r = claim_num(pts[i], "pair_ratio"), lo = claim_num(pts[i], "pair_ratio_lo"),
               hi = claim_num(pts[i], "pair_ratio_hi");
        v[i] = claim_ok(pts[i]) ? claim_verdict_interval(lo, hi, clo, chi) : CLAIM_NOT_TESTABLE;
        sb_printf(&row->detail, "| %.0f | %.3g | %.3g-%.3g | %s | %.1f | %.1f |\n",
                  claim_num(pts[i], key), r, lo, hi,
                  claim_ok(pts[i]) ? claim_verdict_name(v[i]) : claim_str(pts[i], "status"),
                  claim_num(pts[i], "latency_us_median"),
                  claim_num(pts[i], "pair_latency_us_median"));
        if (v[i] == CLAIM_NOT_TESTABLE)
            continue;
        if (lo < row->lo)
            row->lo = lo;
        if (hi > row->hi)
            row->hi = hi;
        if (r > best) {
            best = r;
            row->ours = r;
        }
        if (v[i] == CLAIM_REPRODUCED) {
            size_t k = strlen(holds);
            snprintf(holds + k, hl - k, "%s%.0f", nh++ ? ", " : "", claim_num(pts[i], key));
        }
    }
    row->verdict = claim_verdict_series(v, n);
    if (row->verdict == CLAIM_NOT_TESTABLE)
        row->ours = row->lo = row->hi = NAN;
    if (!nh)
        snprintf(holds, hl, "none");
    return n;
}
