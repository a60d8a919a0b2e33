/* sweepfile.c - declarative sweep files (bench/sweeps/NAME.sweep).
 *
 * A line-oriented INI-like format, chosen so a sweep reads like its own
 * documentation (BLIS's testsuite input files, style.md rule 13):
 *
 *   # comment (anywhere on a line)
 *   d_model = 768                  global settings first
 *   seq_len = 1..4096*4            a list: values, A..B*K (geometric), A..B+K
 *   impls   = all                  every registered layer but weak baselines
 *   [dense]                        a slot, here overriding one of `impls`
 *   scale   = 1                    ...its own settings
 *   [fff:preset=1x11]              a slot with knobs
 *   label   = fff-1x11             ...and the name its rows carry
 *   pair    = dense                ...each point timed in pairs against the
 *                                  slot labelled dense (pairs = 21 of them,
 *                                  pair_instances = 3 instances of each)
 *   weights = pkm.safetensors      ...tensors loaded over the seeded init
 *                                  (sparsebench export; reports/WEIGHTS.md)
 *
 * The sweep is the Cartesian product of each slot's lists. Every error names
 * the file, the line, the key, the bad value and what is allowed; knobs are
 * checked later, by creating the layer (plan.c). The points of the product
 * are points.c's.
 */
#include "sweep.h"
#include "../counters/counters.h"
#include "../cli.h"
#include "../measure.h"
#include "../row.h"
#include "../util.h"
#include "../../impls/layer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum key_id {
    K_IMPLS,
    K_D_MODEL,
    K_SCALE,
    K_BATCH,
    K_SEQ_LEN,
    K_THREADS,
    K_REPEATS,
    K_ROUNDS,
    K_ROUND_MS,
    K_CACHE,
    K_SEED,
    K_CHECK_TOKENS,
    K_LABEL,
    K_COUNTERS,
    K_PAIR,
    K_PAIRS,
    K_PAIR_INSTANCES,
    K_PAIR_CI,
    K_INPUTS,
    K_WEIGHTS,
    NKEYS
};

enum key_kind { KIND_WORDS, KIND_LIST, KIND_INT, KIND_REAL, KIND_CHOICE, KIND_LABEL, KIND_PATH };
enum key_scope { SCOPE_GLOBAL, SCOPE_SLOT, SCOPE_BOTH };

struct key_def {
    const char *name;
    enum key_kind kind;
    enum key_scope scope;
    double min, max;
    const char *allowed; /* for messages */
};

static const struct key_def keys[NKEYS] = {
    [K_IMPLS] = {"impls", KIND_WORDS, SCOPE_GLOBAL, 0, 0,
                 "'all' and/or slots 'impl' or 'impl:knob=v,...' separated by spaces"},
    [K_D_MODEL] = {"d_model", KIND_LIST, SCOPE_BOTH, 1, 65536, NULL},
    [K_SCALE] = {"scale", KIND_LIST, SCOPE_BOTH, 1, 4096, NULL},
    [K_BATCH] = {"batch", KIND_LIST, SCOPE_BOTH, 1, 1 << 20, NULL},
    [K_SEQ_LEN] = {"seq_len", KIND_LIST, SCOPE_BOTH, 1, 1 << 20, NULL},
    [K_THREADS] = {"threads", KIND_LIST, SCOPE_BOTH, 1, BENCH_MAX_THREADS, NULL},
    [K_REPEATS] = {"repeats", KIND_INT, SCOPE_GLOBAL, 1, 1000, NULL},
    [K_ROUNDS] = {"rounds", KIND_INT, SCOPE_BOTH, 11, 100000, NULL},
    [K_ROUND_MS] = {"round_ms", KIND_REAL, SCOPE_BOTH, 1, 10000, NULL},
    [K_CACHE] = {"cache", KIND_CHOICE, SCOPE_GLOBAL, 0, 0, "cold|warm"},
    [K_SEED] = {"seed", KIND_INT, SCOPE_GLOBAL, 0, 9007199254740992.0, NULL},
    [K_CHECK_TOKENS] = {"check_tokens", KIND_INT, SCOPE_BOTH, 1, 1024, NULL},
    [K_LABEL] = {"label", KIND_LABEL, SCOPE_SLOT, 0, 0,
                 "a name of at most 63 characters without spaces, commas, quotes or '#'"},
    [K_COUNTERS] = {"counters", KIND_CHOICE, SCOPE_GLOBAL, 0, 0, BENCH_COUNTER_CHOICES},
    [K_PAIR] = {"pair", KIND_LABEL, SCOPE_SLOT, 0, 0, "the label of another slot of this sweep"},
    [K_PAIRS] = {"pairs", KIND_INT, SCOPE_BOTH, BENCH_MIN_PAIRS, 100000, NULL},
    [K_PAIR_INSTANCES] = {"pair_instances", KIND_INT, SCOPE_BOTH, 1, BENCH_PAIR_INSTANCES_MAX,
                          NULL},
    [K_PAIR_CI] = {"pair_ci", KIND_CHOICE, SCOPE_GLOBAL, 0, 0, BENCH_CI_CHOICES},
    [K_INPUTS] = {"inputs", KIND_CHOICE, SCOPE_BOTH, 0, 0, BENCH_INPUTS_CHOICES},
    [K_WEIGHTS] = {"weights", KIND_PATH, SCOPE_BOTH, 0, 0,
                   "a weights file or .npy directory (sparsebench export), relative to the "
                   "working directory"},
};

/* The settings of one scope: the globals, or one [slot] section. */
struct scope {
    int line[NKEYS]; /* where each key was set; 0 = not set here */
    struct bench_list list[NKEYS];
    double num[NKEYS];
    char str[NKEYS][BENCH_NAME_LEN]; /* label, pair */
    char choice[NKEYS][16];          /* cache, counters, pair_ci, inputs */
    char path[BENCH_PATH_LEN];       /* weights */
};

struct parser {
    const char *path;
    int line;
    char *err;
    size_t errlen;
    struct scope global;
    struct scope *sections; /* parallel to the slots declared by [..] */
    struct bench_sweep *sw;
    int *from_section; /* per slot: index into sections, or -1 */
    size_t cap;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *ps, const char *fmt, ...)
{
    va_list ap;
    int n = ps->line > 0 ? snprintf(ps->err, ps->errlen, "%s:%d: ", ps->path, ps->line)
                         : snprintf(ps->err, ps->errlen, "%s: ", ps->path);
    if (n < 0 || (size_t)n >= ps->errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static void key_names(enum key_scope scope, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < NKEYS && used < len; k++)
        if (keys[k].scope == SCOPE_BOTH || keys[k].scope == scope)
            used +=
                (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", keys[k].name);
}

/* ---- values ---- */

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int list_add(struct parser *ps, const struct key_def *k, struct bench_list *l, uint64_t v)
{
    if (v != 0 && ((double)v < k->min || (double)v > k->max))
        return fail(ps, "key '%s': %llu is out of range; allowed %.0f..%.0f", k->name,
                    (unsigned long long)v, k->min, k->max);
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == v)
            return fail(ps, "key '%s': %llu is listed twice", k->name, (unsigned long long)v);
    if (l->n == BENCH_LIST_MAX)
        return fail(ps, "key '%s': more than %d values", k->name, BENCH_LIST_MAX);
    l->v[l->n++] = v;
    return 0;
}

static int bad_item(struct parser *ps, const struct key_def *k, const char *item)
{
    return fail(ps,
                "key '%s': '%s' is not a value; allowed integers %.0f..%.0f%s, or ranges "
                "A..B*K (A, A*K, ... up to B) and A..B+K (A, A+K, ...)",
                k->name, item, k->min, k->max, k == &keys[K_THREADS] ? " or 'max'" : "");
}

/* "A..B*K" or "A..B+K" */
static int parse_range(struct parser *ps, const struct key_def *k, char *item, struct bench_list *l)
{
    char *dots = strstr(item, ".."), *op;
    uint64_t a, b, step;
    *dots = '\0';
    op = strpbrk(dots + 2, "*+");
    if (!op) {
        *dots = '.';
        return fail(ps, "key '%s': range '%s' has no step; write A..B*K or A..B+K", k->name, item);
    }
    char kind = *op;
    *op = '\0';
    int bad = parse_u64(item, &a) || parse_u64(dots + 2, &b) || parse_u64(op + 1, &step);
    *dots = '.';
    *op = kind;
    if (bad)
        return bad_item(ps, k, item);
    if (a == 0 || a > b)
        return fail(ps, "key '%s': range '%s' must have 1 <= A <= B", k->name, item);
    if ((kind == '*' && step < 2) || (kind == '+' && step < 1))
        return fail(ps,
                    "key '%s': range '%s' never grows; the step must be *2 or more, or +1 "
                    "or more",
                    k->name, item);
    for (uint64_t v = a; v <= b; v = kind == '*' ? v * step : v + step) {
        if (list_add(ps, k, l, v))
            return -1;
        if (v > UINT64_MAX / step / 2)
            break;
    }
    return 0;
}

static int parse_list(struct parser *ps, const struct key_def *k, char *val, struct bench_list *l)
{
    l->n = 0;
    for (char *save = NULL, *item = strtok_r(val, " \t,", &save); item;
         item = strtok_r(NULL, " \t,", &save)) {
        uint64_t v;
        if (strstr(item, "..")) {
            if (parse_range(ps, k, item, l))
                return -1;
        } else if (k == &keys[K_THREADS] && !strcmp(item, "max")) {
            if (list_add(ps, k, l, 0))
                return -1;
        } else if (parse_u64(item, &v) || v == 0) {
            return bad_item(ps, k, item);
        } else if (list_add(ps, k, l, v)) {
            return -1;
        }
    }
    /* "scale = ," (found by fuzz/fuzz_sweepfile.c): separators only would
     * leave an empty list, and a slot with no points or a read of v[0]. */
    if (l->n == 0)
        return fail(ps, "key '%s': no values; allowed: one or more of %g..%g, A..B*K or A..B+K",
                    k->name, k->min, k->max);
    return 0;
}

static int parse_number(struct parser *ps, const struct key_def *k, const char *val, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || *end || !isfinite(v) || (k->kind == KIND_INT && v != floor(v)))
        return fail(ps, "key '%s': '%s' is not %s; allowed %g..%g", k->name, val,
                    k->kind == KIND_INT ? "an integer" : "a number", k->min, k->max);
    if (v < k->min || v > k->max)
        return fail(ps, "key '%s': %s is out of range; allowed %g..%g", k->name, val, k->min,
                    k->max);
    *out = v;
    return 0;
}

/* val is one of the '|'-separated words of allowed. */
static int choice_ok(const char *allowed, const char *val)
{
    size_t n = strlen(val);
    for (const char *p = allowed; *p;) {
        size_t len = strcspn(p, "|");
        if (len == n && !strncmp(p, val, n))
            return 1;
        p += len + (p[len] == '|');
    }
    return 0;
}

static int label_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= BENCH_NAME_LEN)
        return 0;
    for (; *s; s++)
        if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s) || strchr(",\"'#", *s))
            return 0;
    return 1;
}

/* ---- slots ---- */

static int slot_find(const struct bench_sweep *sw, const char *spec)
{
    for (size_t i = 0; i < sw->n_slots; i++)
        if (!strcmp(sw->slots[i].spec, spec))
            return (int)i;
    return -1;
}

static int slot_add(struct parser *ps, const char *spec, int section)
{
    struct bench_sweep *sw = ps->sw;
    char name[BENCH_NAME_LEN];
    const char *colon = strchr(spec, ':');
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);

    if (nlen == 0 || nlen >= sizeof(name) || strlen(spec) >= BENCH_SPEC_LEN)
        return fail(ps, "slot '%s': expected 'impl' or 'impl:knob=value,...'", spec);
    for (const char *c = spec; *c; c++)
        if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c) || strchr("\"'#[]", *c))
            return fail(ps, "slot '%s': no spaces, quotes, '#' or brackets allowed", spec);
    memcpy(name, spec, nlen);
    name[nlen] = '\0';
    const struct layer_ops *ops = layer_find(name);
    if (!ops) {
        char names[1024];
        bench_layer_names(names, sizeof(names));
        return fail(ps, "slot '%s': unknown implementation '%s'; allowed: %s%s", spec, name, names,
                    section < 0 ? ", all" : "");
    }
    if (sw->n_slots == ps->cap) {
        size_t c = ps->cap ? 2 * ps->cap : 16;
        struct bench_slot *s = realloc(sw->slots, c * sizeof(*s));
        if (s)
            sw->slots = s;
        int *f = realloc(ps->from_section, c * sizeof(*f));
        if (f)
            ps->from_section = f;
        if (!s || !f)
            return fail(ps, "out of memory");
        ps->cap = c;
    }
    struct bench_slot *sl = &sw->slots[sw->n_slots];
    memset(sl, 0, sizeof(*sl));
    snprintf(sl->spec, sizeof(sl->spec), "%s", spec);
    snprintf(sl->knobs, sizeof(sl->knobs), "%s", colon ? colon + 1 : "");
    sl->ops = ops;
    sl->line = ps->line;
    ps->from_section[sw->n_slots] = section;
    sw->n_slots++;
    return 0;
}

static int parse_impls(struct parser *ps, char *val)
{
    for (char *save = NULL, *w = strtok_r(val, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (!strcmp(w, "all")) {
            for (size_t i = 0; i < layer_count(); i++)
                if (bench_sweep_in_all(layer_get(i)) && slot_find(ps->sw, layer_get(i)->name) < 0 &&
                    slot_add(ps, layer_get(i)->name, -1))
                    return -1;
            continue;
        }
        if (slot_find(ps->sw, w) >= 0)
            return fail(ps, "key 'impls': slot '%s' is listed twice", w);
        if (slot_add(ps, w, -1))
            return -1;
    }
    return 0;
}

static int open_section(struct parser *ps, char *line)
{
    size_t n = strlen(line);
    if (line[n - 1] != ']')
        return fail(ps, "section '%s' has no closing ']'; write [impl] or [impl:knobs]", line);
    line[n - 1] = '\0';
    char *spec = trim(line + 1);
    if (!*spec)
        return fail(ps, "empty section []; write [impl] or [impl:knobs]");
    if (strpbrk(spec, " \t"))
        return fail(ps, "section [%s]: no spaces allowed in a slot", spec);
    size_t nsec = 0;
    for (size_t i = 0; i < ps->sw->n_slots; i++)
        nsec += ps->from_section[i] >= 0;
    int at = slot_find(ps->sw, spec);
    if (at >= 0 && ps->from_section[at] >= 0)
        return fail(ps, "section [%s] is already declared on line %d", spec,
                    ps->sw->slots[at].line);
    struct scope *sc = realloc(ps->sections, (nsec + 1) * sizeof(*sc));
    if (!sc)
        return fail(ps, "out of memory");
    ps->sections = sc;
    memset(&sc[nsec], 0, sizeof(sc[nsec]));
    if (at >= 0) { /* a slot of `impls` gets its own settings */
        ps->from_section[at] = (int)nsec;
        ps->sw->slots[at].line = ps->line;
        return 0;
    }
    return slot_add(ps, spec, (int)nsec);
}

/* ---- lines ---- */

static struct scope *current_scope(struct parser *ps, int *in_section)
{
    int last = -1;
    for (size_t i = 0; i < ps->sw->n_slots; i++)
        if (ps->from_section[i] > last)
            last = ps->from_section[i];
    *in_section = last >= 0;
    return last >= 0 ? &ps->sections[last] : &ps->global;
}

static int parse_setting(struct parser *ps, char *line)
{
    char *eq = strchr(line, '=');
    char allowed[512];
    if (!eq)
        return fail(ps, "expected 'key = value' or '[slot]', got '%s'", line);
    *eq = '\0';
    char *name = trim(line), *val = trim(eq + 1);
    int in_section, k;
    struct scope *sc = current_scope(ps, &in_section);
    for (k = 0; k < NKEYS && strcmp(keys[k].name, name); k++)
        ;
    if (k == NKEYS) {
        key_names(in_section ? SCOPE_SLOT : SCOPE_GLOBAL, allowed, sizeof(allowed));
        return fail(ps, "unknown key '%s'; allowed %s: %s", name,
                    in_section ? "in a [slot] section" : "before the first [slot]", allowed);
    }
    const struct key_def *kd = &keys[k];
    if (in_section && kd->scope == SCOPE_GLOBAL)
        return fail(ps, "key '%s' applies to the whole sweep; set it before the first [slot]",
                    name);
    if (!in_section && kd->scope == SCOPE_SLOT)
        return fail(ps, "key '%s' belongs in a [slot] section", name);
    if (sc->line[k])
        return fail(ps, "key '%s' is set twice (first on line %d)", name, sc->line[k]);
    if (!*val)
        return fail(ps, "key '%s' has no value", name);
    sc->line[k] = ps->line;
    switch (kd->kind) {
    case KIND_WORDS:
        return parse_impls(ps, val);
    case KIND_LIST:
        return parse_list(ps, kd, val, &sc->list[k]);
    case KIND_INT:
    case KIND_REAL:
        return parse_number(ps, kd, val, &sc->num[k]);
    case KIND_CHOICE:
        if (!choice_ok(kd->allowed, val))
            return fail(ps, "key '%s': '%s' is not allowed; allowed: %s", name, val, kd->allowed);
        snprintf(sc->choice[k], sizeof(sc->choice[k]), "%s", val);
        return 0;
    case KIND_LABEL:
        if (!label_ok(val))
            return fail(ps, "key '%s': '%s' is not allowed; allowed %s", name, val,
                        k == K_LABEL ? kd->allowed : keys[K_LABEL].allowed);
        snprintf(sc->str[k], sizeof(sc->str[k]), "%s", val);
        return 0;
    case KIND_PATH:
        if (strlen(val) >= sizeof(sc->path))
            return fail(ps, "key '%s': the path is %zu characters; allowed: at most %zu", name,
                        strlen(val), sizeof(sc->path) - 1);
        memcpy(sc->path, val, strlen(val) + 1);
        return 0;
    }
    return 0;
}

static int parse_line(struct parser *ps, char *raw)
{
    char *hash = strchr(raw, '#');
    if (hash)
        *hash = '\0';
    char *line = trim(raw);
    if (!*line)
        return 0;
    if (*line == '[')
        return open_section(ps, line);
    return parse_setting(ps, line);
}

/* ---- resolving each slot's lists ---- */

static void pick_list(const struct scope *sec, const struct scope *g, int k, uint64_t dflt,
                      struct bench_list *out)
{
    if (sec && sec->line[k])
        *out = sec->list[k];
    else if (g->line[k])
        *out = g->list[k];
    else
        *out = (struct bench_list){.n = 1, .v = {dflt}};
}

static double pick_num(const struct scope *sec, const struct scope *g, int k, double dflt)
{
    if (sec && sec->line[k])
        return sec->num[k];
    return g->line[k] ? g->num[k] : dflt;
}

/* "1 4 16": a list for messages. */
static void list_str(const struct bench_list *l, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%llu", i ? " " : "",
                                 (unsigned long long)l->v[i]);
}

/* Every `pair = LABEL`: a label of another slot, and a scale rule that
 * gives every point of the slot one partner scale (bench_pair_scale). */
static int resolve_pairs(struct parser *ps)
{
    struct bench_sweep *sw = ps->sw;
    for (size_t i = 0; i < sw->n_slots; i++) {
        struct bench_slot *sl = &sw->slots[i];
        const struct scope *sec =
            ps->from_section[i] >= 0 ? &ps->sections[ps->from_section[i]] : NULL;
        if (!sec || !sec->line[K_PAIR])
            continue;
        ps->line = sec->line[K_PAIR];
        const char *want = sec->str[K_PAIR];
        for (size_t j = 0; j < sw->n_slots; j++)
            if (!strcmp(sw->slots[j].label, want))
                sl->pair = (int)j;
        if (sl->pair == (int)i)
            return fail(ps,
                        "key 'pair': slot '%s' cannot be paired with itself; add a second slot "
                        "with its own label (e.g. [dense] label = dense-b)",
                        sl->label);
        if (sl->pair < 0) {
            char labels[1024];
            size_t used = 0;
            labels[0] = '\0';
            for (size_t j = 0; j < sw->n_slots && used < sizeof(labels); j++)
                if (j != i)
                    used += (size_t)snprintf(labels + used, sizeof(labels) - used, "%s%s",
                                             used ? ", " : "", sw->slots[j].label);
            return fail(ps, "key 'pair': no slot is labelled '%s'; allowed: %s", want,
                        used ? labels : "(no other slot)");
        }
        const struct bench_slot *p = &sw->slots[sl->pair];
        for (size_t k = 0; k < sl->scale.n; k++) {
            int listed = 0;
            for (size_t q = 0; q < p->scale.n; q++)
                listed |= p->scale.v[q] == sl->scale.v[k];
            if (!listed && p->scale.n > 1) {
                char mine[256], theirs[256];
                list_str(&sl->scale, mine, sizeof(mine));
                list_str(&p->scale, theirs, sizeof(theirs));
                return fail(ps,
                            "key 'pair': slot '%s' has scale %llu, which its partner '%s' does "
                            "not list (scales %s); give the partner every scale of '%s' (%s) "
                            "or a single one",
                            sl->label, (unsigned long long)sl->scale.v[k], p->label, theirs,
                            sl->label, mine);
            }
        }
    }
    return 0;
}

static int resolve(struct parser *ps)
{
    struct bench_sweep *sw = ps->sw;
    const struct scope *g = &ps->global;
    if (sw->n_slots == 0) {
        ps->line = 0;
        return fail(ps, "no implementations; add 'impls = all' or a [slot] section such as "
                        "[dense]");
    }
    sw->repeats = (unsigned)pick_num(NULL, g, K_REPEATS, 1);
    sw->seed = (uint64_t)pick_num(NULL, g, K_SEED, 1);
    sw->cache = g->line[K_CACHE] && !strcmp(g->choice[K_CACHE], "warm") ? BENCH_CACHE_WARM
                                                                        : BENCH_CACHE_COLD;
    snprintf(sw->counters, sizeof(sw->counters), "%s",
             g->line[K_COUNTERS] ? g->choice[K_COUNTERS] : "");
    sw->pair_ci = BENCH_CI_ORDERSTAT;
    if (g->line[K_PAIR_CI])
        bench_ci_method_parse(g->choice[K_PAIR_CI], &sw->pair_ci);
    for (size_t i = 0; i < sw->n_slots; i++) {
        struct bench_slot *sl = &sw->slots[i];
        const struct scope *sec =
            ps->from_section[i] >= 0 ? &ps->sections[ps->from_section[i]] : NULL;
        pick_list(sec, g, K_D_MODEL, 768, &sl->d_model);
        pick_list(sec, g, K_SCALE, 1, &sl->scale);
        pick_list(sec, g, K_BATCH, 1, &sl->batch);
        pick_list(sec, g, K_SEQ_LEN, 1, &sl->seq_len);
        pick_list(sec, g, K_THREADS, 0, &sl->threads);
        /* The same limit as `run --batch x --tokens`, here at parse time, so
         * a sweep never starts on a point whose token buffers cannot exist. */
        uint64_t bmax = 0, tmax = 0;
        for (size_t k = 0; k < sl->batch.n; k++)
            bmax = sl->batch.v[k] > bmax ? sl->batch.v[k] : bmax;
        for (size_t k = 0; k < sl->seq_len.n; k++)
            tmax = sl->seq_len.v[k] > tmax ? sl->seq_len.v[k] : tmax;
        if (bmax * tmax > BENCH_MAX_TOKENS) {
            ps->line = sl->line;
            return fail(ps,
                        "slot '%s': batch %llu x seq_len %llu is more than %u tokens per "
                        "forward (the limit of `run` too); lower batch or seq_len",
                        sl->spec, (unsigned long long)bmax, (unsigned long long)tmax,
                        BENCH_MAX_TOKENS);
        }
        sl->rounds = (int)pick_num(sec, g, K_ROUNDS, 11);
        sl->round_ms = pick_num(sec, g, K_ROUND_MS, 1);
        sl->check_tokens = (size_t)pick_num(sec, g, K_CHECK_TOKENS, 4);
        sl->pairs = (int)pick_num(sec, g, K_PAIRS, BENCH_MIN_PAIRS);
        sl->pair_instances = (int)pick_num(sec, g, K_PAIR_INSTANCES, BENCH_PAIR_INSTANCES);
        sl->inputs = bench_inputs_parse(sec && sec->line[K_INPUTS] ? sec->choice[K_INPUTS]
                                        : g->line[K_INPUTS]        ? g->choice[K_INPUTS]
                                                                   : "random");
        sl->pair = -1;
        /* The file is opened when the slot's layer is built: a bad one is its error. */
        snprintf(sl->weights, sizeof(sl->weights), "%s",
                 sec && sec->line[K_WEIGHTS] ? sec->path
                 : g->line[K_WEIGHTS]        ? g->path
                                             : "");
        if (sec && sec->line[K_LABEL]) {
            snprintf(sl->label, sizeof(sl->label), "%s", sec->str[K_LABEL]);
        } else if (strlen(sl->spec) < sizeof(sl->label)) {
            memcpy(sl->label, sl->spec, strlen(sl->spec) + 1);
        } else {
            ps->line = sl->line;
            return fail(ps, "slot '%s' is longer than %zu characters; give it a label = NAME",
                        sl->spec, sizeof(sl->label) - 1);
        }
        for (char *c = sl->label; *c; c++)
            if (*c == ',')
                *c = ';';
        for (size_t j = 0; j < i; j++)
            if (!strcmp(sw->slots[j].label, sl->label)) {
                ps->line = sl->line;
                return fail(ps,
                            "slot '%s': its label '%s' is already used by slot '%s'; set "
                            "label = NAME",
                            sl->spec, sl->label, sw->slots[j].spec);
            }
    }
    return resolve_pairs(ps);
}

int bench_sweep_parse(const char *path, const char *text, struct bench_sweep *sw, char *err,
                      size_t errlen)
{
    struct parser ps = {.path = path, .err = err, .errlen = errlen, .sw = sw};
    char line[4096];
    int rc = 0;

    memset(sw, 0, sizeof(*sw));
    snprintf(sw->path, sizeof(sw->path), "%s", path);
    sw->hash = bench_hash(text, strlen(text));
    for (const char *p = text; *p && !rc;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        ps.line++;
        if (n >= sizeof(line)) {
            rc = fail(&ps, "line longer than %zu characters", sizeof(line) - 1);
            break;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        rc = parse_line(&ps, line);
        p = nl ? nl + 1 : p + n;
    }
    if (!rc)
        rc = resolve(&ps);
    free(ps.sections);
    free(ps.from_section);
    if (rc)
        bench_sweep_free(sw);
    return rc;
}

int bench_sweep_load(const char *path, struct bench_sweep *sw, char *err, size_t errlen)
{
    size_t len;
    char *text = bench_read_file(path, &len);
    if (!text) {
        memset(sw, 0, sizeof(*sw));
        snprintf(err, errlen, "%s: %s", path, bench_read_strerror(errno));
        return -1;
    }
    /* The parser reads a C string: a NUL byte would silently end the file there. */
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        size_t line = 1;
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        memset(sw, 0, sizeof(*sw));
        snprintf(err, errlen, "%s:%zu: a NUL byte (byte %zu); a sweep file is text", path, line,
                 (size_t)(nul - text) + 1);
        free(text);
        return -1;
    }
    int rc = bench_sweep_parse(path, text, sw, err, errlen);
    free(text);
    return rc;
}

void bench_sweep_free(struct bench_sweep *sw)
{
    free(sw->slots);
    sw->slots = NULL;
    sw->n_slots = 0;
}

int bench_sweep_in_all(const struct layer_ops *ops)
{
    return !ops->summary || !strcasestr(ops->summary, "weak baseline");
}

int bench_sweep_partner(const struct bench_sweep *sw, size_t i)
{
    return i < sw->n_slots ? sw->slots[i].pair : -1;
}

uint64_t bench_pair_scale(const struct bench_slot *partner, uint64_t scale)
{
    for (size_t i = 0; i < partner->scale.n; i++)
        if (partner->scale.v[i] == scale)
            return scale;
    return partner->scale.v[0]; /* the parser let only a one-scale partner get here */
}
