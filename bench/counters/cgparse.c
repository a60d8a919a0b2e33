/* cgparse.c - read callgrind's output files (valgrind 3.19 "callgrind
 * format", research/harness.md section 4.2) down to what the counter columns
 * need: each dump's label, the simulated cache geometry, the event names and
 * the `totals:` line.
 *
 * A file holds one dump, or several when valgrind ran with
 * --combine-dumps=yes: each starts at a `part:` line, and header lines such
 * as `desc: LL cache:` that the first part carries apply to the later ones.
 * `totals:` is used, not `summary:`, which is off by a few instructions when
 * client requests toggle collection (iai-callgrind found the same), and a
 * cost line may leave out trailing zero counts, so missing ones are zeros.
 * Everything else (the cost lines per function) is skipped.
 */
#include "cgparse.h"
#include "callgrind.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 4096

static int starts(const char *line, const char *key)
{
    return strncmp(line, key, strlen(key)) == 0;
}

static void copy_value(char *dst, size_t len, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    snprintf(dst, len, "%s", v);
    size_t n = strlen(dst);
    while (n && isspace((unsigned char)dst[n - 1]))
        dst[--n] = '\0';
}

static int parse_events(struct bench_cg_dump *d, const char *v, char *err, size_t errlen,
                        int lineno)
{
    d->n_events = 0;
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " \t");
        if (d->n_events == BENCH_CG_EVENTS_MAX || n >= sizeof(d->events[0])) {
            snprintf(err, errlen, "line %d: more than %d events, or an event name too long", lineno,
                     BENCH_CG_EVENTS_MAX);
            return -1;
        }
        memcpy(d->events[d->n_events], p, n);
        d->events[d->n_events][n] = '\0';
        d->n_events++;
        p += n;
    }
    if (d->n_events == 0) {
        snprintf(err, errlen, "line %d: 'events:' names no event", lineno);
        return -1;
    }
    return 0;
}

/* "totals: 81924 16384 1": counts for the first events, the rest zero. */
static int parse_totals(struct bench_cg_dump *d, const char *v, char *err, size_t errlen,
                        int lineno)
{
    size_t k = 0;
    if (d->n_events == 0) {
        snprintf(err, errlen, "line %d: 'totals:' before any 'events:' line", lineno);
        return -1;
    }
    memset(d->totals, 0, sizeof(d->totals));
    for (const char *p = v; *p;) {
        char *end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '\n' || *p == '\r')
            break;
        errno = 0;
        unsigned long long x = strtoull(p, &end, 10);
        if (end == p || errno || !isdigit((unsigned char)*p)) {
            snprintf(err, errlen, "line %d: 'totals:' has '%.20s', not a count", lineno, p);
            return -1;
        }
        if (k == d->n_events) {
            snprintf(err, errlen, "line %d: 'totals:' has more counts than the %zu events", lineno,
                     d->n_events);
            return -1;
        }
        d->totals[k++] = x;
        p = end;
    }
    d->have_totals = 1;
    return 0;
}

/* A new part starts with the header of the one before: the cache geometry
 * and the event names of a combined file are written once. */
static struct bench_cg_dump *new_part(struct bench_cg_dump *out, size_t max, size_t *n)
{
    if (*n == max)
        return NULL;
    struct bench_cg_dump *d = &out[*n];
    if (*n > 0) {
        const struct bench_cg_dump *prev = &out[*n - 1];
        memset(d, 0, sizeof(*d));
        memcpy(d->i1, prev->i1, sizeof(d->i1));
        memcpy(d->d1, prev->d1, sizeof(d->d1));
        memcpy(d->ll, prev->ll, sizeof(d->ll));
        memcpy(d->events, prev->events, sizeof(d->events));
        d->n_events = prev->n_events;
    } else {
        memset(d, 0, sizeof(*d));
    }
    (*n)++;
    return d;
}

static int parse_line(struct bench_cg_dump *d, const char *line, char *err, size_t errlen,
                      int lineno)
{
    if (starts(line, "desc: Trigger: Client Request:")) {
        copy_value(d->label, sizeof(d->label), line + strlen("desc: Trigger: Client Request:"));
        d->client_request = 1;
    } else if (starts(line, "desc: Trigger:")) {
        copy_value(d->label, sizeof(d->label), line + strlen("desc: Trigger:"));
    } else if (starts(line, "desc: I1 cache:")) {
        copy_value(d->i1, sizeof(d->i1), line + strlen("desc: I1 cache:"));
    } else if (starts(line, "desc: D1 cache:")) {
        copy_value(d->d1, sizeof(d->d1), line + strlen("desc: D1 cache:"));
    } else if (starts(line, "desc: LL cache:")) {
        copy_value(d->ll, sizeof(d->ll), line + strlen("desc: LL cache:"));
    } else if (starts(line, "events:")) {
        return parse_events(d, line + strlen("events:"), err, errlen, lineno);
    } else if (starts(line, "totals:")) {
        return parse_totals(d, line + strlen("totals:"), err, errlen, lineno);
    }
    return 0;
}

int bench_cg_parse(const char *name, const char *text, size_t len, struct bench_cg_dump *out,
                   size_t max, size_t *n_out, char *err, size_t errlen)
{
    char line[LINE_MAX_LEN], why[256];
    size_t n = 0;
    int lineno = 0;
    struct bench_cg_dump *d = new_part(out, max, &n);

    *n_out = 0;
    if (!d) {
        snprintf(err, errlen, "%s: no room for a dump", name);
        return -1;
    }
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t ll = nl ? (size_t)(nl - (text + at)) : len - at;
        lineno++;
        size_t keep = ll < sizeof(line) - 1 ? ll : sizeof(line) - 1; /* cost lines can be long */
        memcpy(line, text + at, keep);
        line[keep] = '\0';
        at += ll + (nl ? 1 : 0);
        if (lineno == 1 && !starts(line, "# callgrind format") && !starts(line, "version:") &&
            !starts(line, "creator:")) {
            snprintf(err, errlen, "%s: not a callgrind output file (first line '%.40s')", name,
                     line);
            return -1;
        }
        if (starts(line, "part:") && (d->n_events || d->have_totals || d->label[0])) {
            if (!(d = new_part(out, max, &n))) {
                snprintf(err, errlen, "%s: more than %zu dumps", name, max);
                return -1;
            }
            continue;
        }
        if (parse_line(d, line, why, sizeof(why), lineno)) {
            snprintf(err, errlen, "%s: %s", name, why);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!out[i].have_totals) {
            snprintf(err, errlen, "%s: dump %zu ('%s') has no 'totals:' line (cut short?)", name,
                     i + 1, out[i].label);
            return -1;
        }
    *n_out = n;
    return 0;
}

int bench_cg_event(const struct bench_cg_dump *d, const char *event, uint64_t *out)
{
    for (size_t i = 0; i < d->n_events; i++)
        if (!strcmp(d->events[i], event)) {
            *out = d->totals[i];
            return 0;
        }
    return -1;
}

static int sum_events(const struct bench_cg_dump *d, const char *const *names, uint64_t *out,
                      char *err, size_t errlen)
{
    *out = 0;
    for (const char *const *e = names; *e; e++) {
        uint64_t v;
        if (bench_cg_event(d, *e, &v)) {
            snprintf(err, errlen,
                     "dump '%s' has no event %s (needs --cache-sim=yes --simulate-wb=yes)",
                     d->label, *e);
            return -1;
        }
        *out += v;
    }
    return 0;
}

int bench_cg_counts(const struct bench_cg_dump *d, struct bench_cg_counts *c, char *err,
                    size_t errlen)
{
    static const char *const ir[] = {"Ir", NULL};
    static const char *const l1[] = {"I1mr", "D1mr", "D1mw", NULL};
    static const char *const ll[] = {"ILmr", "DLmr", "DLmw", NULL};
    static const char *const wb[] = {"ILdmr", "DLdmr", "DLdmw", NULL};
    uint64_t writebacks;
    if (sum_events(d, ir, &c->instructions, err, errlen) ||
        sum_events(d, l1, &c->l1_misses, err, errlen) ||
        sum_events(d, ll, &c->ll_misses, err, errlen) ||
        sum_events(d, wb, &writebacks, err, errlen))
        return -1;
    c->writebacks = writebacks;
    c->dram_bytes_est = BENCH_CG_LINE * (c->ll_misses + writebacks);
    return 0;
}
