/* row.c - a results row: its identity columns with every measured one NA
 * until measured, its note, and the readable one-line summary `run` and
 * `sweep --verbose` print. csv.c writes it. */
#include "row.h"
#include "../impls/layer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bench_row_init(struct bench_row *row, const char *slot, const struct layer_ops *ops,
                    const struct layer_config *cfg, size_t batch, size_t seq_len, int cold,
                    unsigned repeat)
{
    const char *knobs = cfg->knobs ? cfg->knobs : "";
    memset(row, 0, sizeof(*row));
    if (slot)
        snprintf(row->slot, sizeof(row->slot), "%s", slot);
    else
        snprintf(row->slot, sizeof(row->slot), "%s%s%s", ops->name, *knobs ? ":" : "", knobs);
    for (char *c = row->slot; *c; c++) /* keep the slot column free of commas */
        if (*c == ',')
            *c = ';';
    snprintf(row->impl, sizeof(row->impl), "%s", ops->name);
    snprintf(row->knobs, sizeof(row->knobs), "%s", knobs);
    row->d_model = cfg->d_model;
    row->scale = cfg->scale;
    row->batch = batch;
    row->seq_len = seq_len;
    row->tokens = batch * seq_len;
    row->threads = (uint64_t)cfg->threads;
    row->seed = cfg->seed;
    snprintf(row->cache, sizeof(row->cache), "%s", cold ? "cold" : "warm");
    snprintf(row->inputs, sizeof(row->inputs), "random"); /* the caller sets repeat */
    row->repeat = repeat;
    row->params_total = row->params_active = BENCH_NA;
    row->st.flops = row->st.dense_bytes = row->st.sparse_bytes = BENCH_NA;
    row->st.units_touched = row->st.units_total = BENCH_NA;
    row->bytes = row->noisy = row->rounds = row->iters_per_round = BENCH_NA;
    row->latency_us_median = row->latency_us_min = row->latency_us_p90 = NAN;
    row->err_pct = row->gflops = row->bandwidth_gbps = row->intensity = NAN;
    row->roofline_frac = row->max_abs_err = row->recall = NAN;
    row->create_s = row->wall_s = NAN;
    snprintf(row->counter_source, sizeof(row->counter_source), "none");
    row->counter_threads = row->instructions = row->l1_misses = row->ll_misses = BENCH_NA;
    row->dram_bytes_est = BENCH_NA;
    row->cycles = row->task_clock_ns = row->page_faults = row->context_switches = NAN;
    snprintf(row->roof, sizeof(row->roof), "NA");
    snprintf(row->pair_with, sizeof(row->pair_with), "NA");
    snprintf(row->pair_ci_method, sizeof(row->pair_ci_method), "NA");
    row->pair_scale = row->pair_n = row->pair_instances = BENCH_NA;
    row->pair_ratio = row->pair_ratio_lo = row->pair_ratio_hi = NAN;
    row->pair_ci_coverage = row->pair_latency_us_median = NAN;
}

void bench_row_note(struct bench_row *row, const char *fmt, ...)
{
    size_t used = strlen(row->note);
    va_list ap;
    if (used + 3 >= sizeof(row->note))
        return;
    if (used) {
        memcpy(row->note + used, "; ", 3);
        used += 2;
    }
    va_start(ap, fmt);
    vsnprintf(row->note + used, sizeof(row->note) - used, fmt, ap);
    va_end(ap);
    for (char *c = row->note; *c; c++) /* one physical line per row */
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

/* "123" or "NA" */
static const char *count_str(uint64_t v, char *buf, size_t len)
{
    if (v == BENCH_NA)
        snprintf(buf, len, "NA");
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
    return buf;
}

static const char *real_str(double v, char *buf, size_t len)
{
    if (isfinite(v))
        snprintf(buf, len, "%.4g", v);
    else
        snprintf(buf, len, "NA");
    return buf;
}

static void counters_summary(FILE *f, const struct bench_row *r)
{
    char a[32], b[32], c[32], d[32];
    fprintf(f,
            "  %s counters (%llu thread): instructions %s, l1_misses %s, ll_misses %s, "
            "dram_bytes_est %s",
            r->counter_source, (unsigned long long)r->counter_threads,
            count_str(r->instructions, a, sizeof(a)), count_str(r->l1_misses, b, sizeof(b)),
            count_str(r->ll_misses, c, sizeof(c)), count_str(r->dram_bytes_est, d, sizeof(d)));
    if (r->dram_bytes_est != BENCH_NA && r->bytes != BENCH_NA && r->bytes > 0)
        fprintf(f, " (%.3f x bytes)", (double)r->dram_bytes_est / (double)r->bytes);
    if (!strcmp(r->counter_source, "papi"))
        fprintf(f, ", cycles %s, task_clock_ns %s, page_faults %s, context_switches %s",
                real_str(r->cycles, a, sizeof(a)), real_str(r->task_clock_ns, b, sizeof(b)),
                real_str(r->page_faults, c, sizeof(c)),
                real_str(r->context_switches, d, sizeof(d)));
    fprintf(f, "\n");
}

void bench_row_summary(FILE *f, const struct bench_row *r)
{
    if (!strcmp(r->status, "ok"))
        fprintf(f,
                "%s d=%llu scale=%llu T=%llu threads=%llu %s%s: %.1f us median "
                "(min %.1f, p90 %.1f, err %.1f%%), %.2f GFLOP/s, %.2f GB/s, max_abs_err %.2g%s%s\n",
                r->slot, (unsigned long long)r->d_model, (unsigned long long)r->scale,
                (unsigned long long)r->tokens, (unsigned long long)r->threads, r->cache,
                strcmp(r->inputs, "repeat") ? "" : ", one input row repeated", r->latency_us_median,
                r->latency_us_min, r->latency_us_p90, r->err_pct, r->gflops, r->bandwidth_gbps,
                r->max_abs_err, r->note[0] ? "; " : "", r->note);
    else
        fprintf(f, "%s d=%llu scale=%llu T=%llu: status %s: %s\n", r->slot,
                (unsigned long long)r->d_model, (unsigned long long)r->scale,
                (unsigned long long)r->tokens, r->status, r->note);
    if (strcmp(r->counter_source, "none"))
        counters_summary(f, r);
}
