/* run.c - what `sparsebench claims` reads: a run directory's results.csv and
 * meta.csv (the probe's roofs, the CPU), the extra sweeps' results in
 * RUN_DIR/<name>/ (bench/sweeps/claims-*.sweep; when one could not run, the
 * first line of its sweep.log says why), and the lookups the derivations use.
 * Nothing here measures. */
#include "claims.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const claim_sweep_names[CLAIM_SWEEPS] = {"claims", "paper", "flaws", "repeat"};

void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
    if (sb->oom)
        return;
    for (;;) {
        size_t room = sb->cap - sb->n;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(sb->p ? sb->p + sb->n : NULL, sb->p ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            sb->oom = 1;
            return;
        }
        if (sb->p && (size_t)k < room) {
            sb->n += (size_t)k;
            return;
        }
        size_t cap = (sb->cap + (size_t)k + 1) * 2;
        char *p = realloc(sb->p, cap);
        if (!p) {
            sb->oom = 1;
            return;
        }
        if (!sb->p)
            p[0] = '\0';
        sb->p = p;
        sb->cap = cap;
    }
}

void sb_free(struct sbuf *sb)
{
    free(sb->p);
    memset(sb, 0, sizeof(*sb));
}

static const char *meta_value(const struct bench_table *m, const char *key)
{
    int kc = bench_table_col(m, "key"), vc = bench_table_col(m, "value");
    if (kc < 0 || vc < 0)
        return NULL;
    for (size_t r = 0; r < m->nrows; r++)
        if (!strcmp(bench_table_cell(m, r, (size_t)kc), key))
            return bench_table_cell(m, r, (size_t)vc);
    return NULL;
}

static double meta_num(const struct bench_table *m, const char *key)
{
    const char *v = meta_value(m, key);
    char *end;
    if (!v || !*v)
        return NAN;
    double x = strtod(v, &end);
    return *end ? NAN : x;
}

/* A probed roof: meta.csv holds it per thread count (probe_<what>_t<N>, as
 * run_meta.c writes it); the one at the most threads is the run's roof. */
static double meta_probe(const struct bench_table *m, const char *prefix)
{
    int kc = bench_table_col(m, "key"), vc = bench_table_col(m, "value");
    double best = NAN;
    long best_t = -1;
    size_t pl = strlen(prefix);
    for (size_t r = 0; r < m->nrows; r++) {
        const char *k = bench_table_cell(m, r, (size_t)kc);
        char *end;
        if (strncmp(k, prefix, pl))
            continue;
        long t = strtol(k + pl, &end, 10);
        double v = strtod(bench_table_cell(m, r, (size_t)vc), NULL);
        if (!*end && t > best_t && v > 0) {
            best_t = t;
            best = v;
        }
    }
    return best;
}

/* The first line of a sweep's log, which holds its message when it refused
 * the file (an unknown layer or knob on a tree without them). */
static void log_reason(const char *dir, const char *name, char *buf, size_t len)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s/sweep.log", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(buf, len, "sweep %s was not run (no %s/results.csv, no sweep.log)", name, name);
        return;
    }
    char line[400] = "";
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "sparsebench"))
            break;
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    snprintf(buf, len, "sweep claims-%s.sweep did not run: %s", name,
             *line ? line : "its log is empty");
}

int claims_load(const char *dir, struct claim_run *run, char *err, size_t errlen)
{
    char path[700];
    memset(run, 0, sizeof(*run));
    snprintf(run->dir, sizeof(run->dir), "%s", dir);
    snprintf(path, sizeof(path), "%s/results.csv", dir);
    if (bench_table_read(path, &run->res[0], err, errlen))
        return -1;
    run->have[0] = 1;
    snprintf(path, sizeof(path), "%s/meta.csv", dir);
    if (bench_table_read(path, &run->meta, err, errlen))
        goto fail;
    run->have_meta = 1;
    if (bench_table_col(&run->meta, "key") < 0 || bench_table_col(&run->meta, "value") < 0) {
        snprintf(err, errlen, "%s: no key,value header (is it a meta.csv?)", path);
        goto fail;
    }
    if (bench_table_col(&run->res[0], "slot") < 0 ||
        bench_table_col(&run->res[0], "pair_ratio") < 0) {
        snprintf(err, errlen,
                 "%s/results.csv: no slot or pair_ratio column (not a results.csv "
                 "of this sparsebench)",
                 dir);
        goto fail;
    }
    for (int i = 1; i < CLAIM_SWEEPS; i++) {
        char e2[300];
        snprintf(path, sizeof(path), "%s/%s/results.csv", dir, claim_sweep_names[i]);
        FILE *f = fopen(path, "r");
        if (!f) {
            log_reason(dir, claim_sweep_names[i], run->why[i], sizeof(run->why[i]));
            continue;
        }
        fclose(f);
        if (bench_table_read(path, &run->res[i], e2, sizeof(e2)))
            snprintf(run->why[i], sizeof(run->why[i]), "%s", e2);
        else
            run->have[i] = 1;
    }
    run->peak_gflops = meta_probe(&run->meta, "probe_sgemm_gflops_t");
    run->triad_gbps = meta_probe(&run->meta, "probe_triad_gbps_t");
    run->gather_gbps = meta_probe(&run->meta, "probe_gather_gbps_t");
    const char *cpu = meta_value(&run->meta, "cpu_model");
    snprintf(run->cpu, sizeof(run->cpu), "%s", cpu && *cpu ? cpu : "unknown CPU");
    double n = meta_num(&run->meta, "cpus_online");
    run->cpus = isnan(n) ? 0 : (int)n;
    return 0;
fail:
    claims_free(run);
    return -1;
}

void claims_free(struct claim_run *run)
{
    for (int i = 0; i < CLAIM_SWEEPS; i++)
        if (run->have[i])
            bench_table_free(&run->res[i]);
    if (run->have_meta)
        bench_table_free(&run->meta);
    memset(run->have, 0, sizeof(run->have));
    run->have_meta = 0;
}

double claim_num(struct crow c, const char *col)
{
    int k = bench_table_col(c.t, col);
    if (k < 0)
        return NAN;
    const char *v = bench_table_cell(c.t, c.r, (size_t)k);
    char *end;
    if (!v || !*v || !strcmp(v, "NA"))
        return NAN;
    double x = strtod(v, &end);
    return *end ? NAN : x;
}

const char *claim_str(struct crow c, const char *col)
{
    int k = bench_table_col(c.t, col);
    return k < 0 ? "" : bench_table_cell(c.t, c.r, (size_t)k);
}

int claim_ok(struct crow c)
{
    return !strcmp(claim_str(c, "status"), "ok");
}

double claim_knob(struct crow c, const char *key)
{
    const char *s = claim_str(c, "knobs");
    size_t kl = strlen(key);
    while (*s) {
        if (!strncmp(s, key, kl) && s[kl] == '=')
            return strtod(s + kl + 1, NULL);
        s += strcspn(s, ",;");
        s += *s != '\0';
    }
    return NAN;
}

static int row_is(struct crow c, const char *label, unsigned long d)
{
    return !strcmp(claim_str(c, "slot"), label) && claim_num(c, "d_model") == (double)d;
}

int claim_find(const struct claim_run *run, const char *label, unsigned long d,
               unsigned long tokens, unsigned long scale, struct crow *out)
{
    int found = 0;
    for (int i = 0; i < CLAIM_SWEEPS; i++) {
        if (!run->have[i])
            continue;
        for (size_t r = 0; r < run->res[i].nrows; r++) {
            struct crow c = {&run->res[i], r};
            if (!row_is(c, label, d) || claim_num(c, "tokens") != (double)tokens)
                continue;
            if (scale && claim_num(c, "scale") != (double)scale)
                continue;
            /* several repeats: an ok row wins over a failed one */
            if (!found || (claim_ok(c) && !claim_ok(*out))) {
                *out = c;
                found = 1;
            }
        }
    }
    return found;
}

size_t claim_rows(const struct claim_run *run, const char *label, unsigned long d, int by_scale,
                  struct crow *out, size_t max)
{
    size_t n = 0;
    const char *key = by_scale ? "scale" : "tokens";
    for (int i = 0; i < CLAIM_SWEEPS; i++) {
        if (!run->have[i])
            continue;
        for (size_t r = 0; r < run->res[i].nrows && n < max; r++) {
            struct crow c = {&run->res[i], r};
            if (!row_is(c, label, d))
                continue;
            double v = claim_num(c, key);
            size_t j = 0;
            while (j < n && claim_num(out[j], key) != v)
                j++;
            if (j < n) { /* a repeat of a point already held: keep an ok one */
                if (claim_ok(c) && !claim_ok(out[j]))
                    out[j] = c;
                continue;
            }
            for (j = n; j > 0 && claim_num(out[j - 1], key) > v; j--)
                out[j] = out[j - 1];
            out[j] = c;
            n++;
        }
    }
    return n;
}

void claim_why_missing(const struct claim_run *run, int sweep, const char *label, unsigned long d,
                       unsigned long tokens, char *buf, size_t len)
{
    struct crow c;
    if (claim_find(run, label, d, tokens, 0, &c)) {
        snprintf(buf, len, "slot %s at D = %lu, %lu tokens: status=%s (%s)", label, d, tokens,
                 claim_str(c, "status"), claim_str(c, "note"));
        return;
    }
    if (sweep > 0 && sweep < CLAIM_SWEEPS && !run->have[sweep]) {
        snprintf(buf, len, "no row of slot %s; %s", label, run->why[sweep]);
        return;
    }
    snprintf(buf, len, "no row of slot %s at D = %lu, %lu tokens in %s", label, d, tokens,
             run->dir);
}
