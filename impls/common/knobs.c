/* knobs.c - the "key=value,..." family knobs every create() accepts.
 *
 * A family describes its knobs once in a table (name, type, offset into its
 * knob struct, range, help); this file parses, validates, formats and
 * documents them from that table. `preset=NAME` applies a named knob string
 * first, and every other knob the user gives overrides it.
 */
#include "common.h"
#include "../layer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct span {
    const char *p;
    size_t n;
};

static struct span trim(const char *p, size_t n)
{
    while (n && isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    return (struct span){p, n};
}

static int span_eq(struct span s, const char *lit)
{
    return strlen(lit) == s.n && memcmp(s.p, lit, s.n) == 0;
}

static void list_names(const struct common_knob_set *ks, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ks->n_knobs && used < len; i++)
        used += snprintf(buf + used, len - used, "%s%s", i ? ", " : "", ks->knobs[i].name);
    if (ks->n_presets && used < len)
        snprintf(buf + used, len - used, "%spreset", used ? ", " : "");
}

static void list_presets(const struct common_knob_set *ks, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ks->n_presets && used < len; i++)
        used += snprintf(buf + used, len - used, "%s%s", i ? ", " : "", ks->presets[i].name);
}

static int bad_value(const struct common_knob_set *ks, const struct common_knob *k, struct span v,
                     const char *why, char *err, size_t errlen)
{
    switch (k->type) {
    case COMMON_KNOB_INT:
        snprintf(err, errlen, "%s: knob %s=%.*s %s; allowed integers %.0f..%.0f", ks->family,
                 k->name, (int)v.n, v.p, why, k->min, k->max);
        break;
    case COMMON_KNOB_REAL:
        snprintf(err, errlen, "%s: knob %s=%.*s %s; allowed numbers %g..%g", ks->family, k->name,
                 (int)v.n, v.p, why, k->min, k->max);
        break;
    case COMMON_KNOB_BOOL:
        snprintf(err, errlen, "%s: knob %s=%.*s %s; allowed 0 or 1", ks->family, k->name, (int)v.n,
                 v.p, why);
        break;
    case COMMON_KNOB_STR:
        snprintf(err, errlen, "%s: knob %s=%.*s %s; allowed at most %d characters", ks->family,
                 k->name, (int)v.n, v.p, why, COMMON_KNOB_STR_LEN - 1);
        break;
    }
    return LAYER_EKNOB;
}

static int parse_value(const struct common_knob_set *ks, const struct common_knob *k, struct span v,
                       void *dst, char *err, size_t errlen)
{
    char buf[64];
    char *end;
    if (v.n == 0)
        return bad_value(ks, k, v, "is empty", err, errlen);
    if (k->type != COMMON_KNOB_STR && v.n >= sizeof(buf))
        return bad_value(ks, k, v, "is too long", err, errlen);
    memcpy(buf, v.p, v.n < sizeof(buf) ? v.n : sizeof(buf) - 1);
    buf[v.n < sizeof(buf) ? v.n : sizeof(buf) - 1] = '\0';
    char *field = (char *)dst + k->offset;

    switch (k->type) {
    case COMMON_KNOB_INT: {
        errno = 0;
        long x = strtol(buf, &end, 10);
        if (*end || errno)
            return bad_value(ks, k, v, "is not an integer", err, errlen);
        if (x < k->min || x > k->max)
            return bad_value(ks, k, v, "is out of range", err, errlen);
        memcpy(field, &x, sizeof(x));
        return 0;
    }
    case COMMON_KNOB_REAL: {
        errno = 0;
        double x = strtod(buf, &end);
        if (*end || errno || !isfinite(x))
            return bad_value(ks, k, v, "is not a number", err, errlen);
        if (x < k->min || x > k->max)
            return bad_value(ks, k, v, "is out of range", err, errlen);
        memcpy(field, &x, sizeof(x));
        return 0;
    }
    case COMMON_KNOB_BOOL: {
        int x;
        if (!strcasecmp(buf, "1") || !strcasecmp(buf, "true") || !strcasecmp(buf, "on") ||
            !strcasecmp(buf, "yes"))
            x = 1;
        else if (!strcasecmp(buf, "0") || !strcasecmp(buf, "false") || !strcasecmp(buf, "off") ||
                 !strcasecmp(buf, "no"))
            x = 0;
        else
            return bad_value(ks, k, v, "is not a boolean", err, errlen);
        memcpy(field, &x, sizeof(x));
        return 0;
    }
    case COMMON_KNOB_STR:
        if (v.n >= COMMON_KNOB_STR_LEN)
            return bad_value(ks, k, v, "is too long", err, errlen);
        memcpy(field, v.p, v.n);
        field[v.n] = '\0';
        return 0;
    }
    return LAYER_EINVAL;
}

enum pass {
    PASS_FIND_PRESET, /* only note preset=NAME */
    PASS_PRESET,      /* a preset's own knob string */
    PASS_USER,        /* the user's knobs, preset=NAME skipped */
};

struct parse_state {
    uint64_t set;  /* knobs given by the preset or the user */
    uint64_t user; /* knobs given by the user */
    struct span preset;
};

static int apply_item(const struct common_knob_set *ks, struct span key, struct span val, void *dst,
                      enum pass pass, struct parse_state *ps, char *err, size_t errlen)
{
    char names[256];
    if (span_eq(key, "preset")) {
        if (pass == PASS_USER)
            return 0;
        if (pass == PASS_PRESET || ks->n_presets == 0) {
            list_names(ks, names, sizeof(names));
            snprintf(err, errlen, "%s: has no presets; allowed knobs: %s", ks->family, names);
            return LAYER_EKNOB;
        }
        if (ps->preset.p) {
            snprintf(err, errlen, "%s: knob 'preset' given twice", ks->family);
            return LAYER_EKNOB;
        }
        ps->preset = val;
        return 0;
    }
    if (pass == PASS_FIND_PRESET)
        return 0;
    size_t i = 0;
    while (i < ks->n_knobs && !span_eq(key, ks->knobs[i].name))
        i++;
    if (i == ks->n_knobs) {
        list_names(ks, names, sizeof(names));
        snprintf(err, errlen, "%s: unknown knob '%.*s'; allowed: %s", ks->family, (int)key.n, key.p,
                 names);
        return LAYER_EKNOB;
    }
    if (pass == PASS_USER && (ps->user >> i & 1)) {
        snprintf(err, errlen, "%s: knob '%s' given twice", ks->family, ks->knobs[i].name);
        return LAYER_EKNOB;
    }
    int rc = parse_value(ks, &ks->knobs[i], val, dst, err, errlen);
    if (rc)
        return rc;
    ps->set |= 1ull << i;
    if (pass == PASS_USER)
        ps->user |= 1ull << i;
    return 0;
}

static int apply_items(const struct common_knob_set *ks, const char *str, void *dst, enum pass pass,
                       struct parse_state *ps, char *err, size_t errlen)
{
    const char *p = str;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        struct span item = trim(p, n);
        p = comma ? comma + 1 : NULL;
        if (item.n == 0)
            continue;
        const char *eq = memchr(item.p, '=', item.n);
        if (!eq) {
            snprintf(err, errlen, "%s: knob '%.*s' has no value; write %.*s=VALUE", ks->family,
                     (int)item.n, item.p, (int)item.n, item.p);
            return LAYER_EKNOB;
        }
        struct span key = trim(item.p, (size_t)(eq - item.p));
        struct span val = trim(eq + 1, item.n - (size_t)(eq - item.p) - 1);
        int rc = apply_item(ks, key, val, dst, pass, ps, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

int common_knobs_parse(const struct common_knob_set *ks, const char *str, void *dst,
                       uint64_t *set_mask, char *err, size_t errlen)
{
    struct parse_state ps = {0, 0, {NULL, 0}};
    int rc;

    if (ks->n_knobs > 64) {
        snprintf(err, errlen, "%s: more than 64 knobs", ks->family);
        return LAYER_EINVAL;
    }
    rc = apply_items(ks, str, dst, PASS_FIND_PRESET, &ps, err, errlen);
    if (rc)
        return rc;
    if (ps.preset.p) {
        size_t i = 0;
        while (i < ks->n_presets && !span_eq(ps.preset, ks->presets[i].name))
            i++;
        if (i == ks->n_presets) {
            char names[256];
            list_presets(ks, names, sizeof(names));
            snprintf(err, errlen, "%s: unknown preset '%.*s'; allowed: %s", ks->family,
                     (int)ps.preset.n, ps.preset.p, names);
            return LAYER_EKNOB;
        }
        rc = apply_items(ks, ks->presets[i].knobs, dst, PASS_PRESET, &ps, err, errlen);
        if (rc)
            return rc;
    }
    rc = apply_items(ks, str, dst, PASS_USER, &ps, err, errlen);
    if (rc)
        return rc;
    if (set_mask)
        *set_mask = ps.set;
    return 0;
}

static size_t format_value(const struct common_knob *k, const void *src, char *buf, size_t len)
{
    const char *field = (const char *)src + k->offset;
    long l;
    double d;
    int b;
    switch (k->type) {
    case COMMON_KNOB_INT:
        memcpy(&l, field, sizeof(l));
        return (size_t)snprintf(buf, len, "%ld", l);
    case COMMON_KNOB_REAL:
        memcpy(&d, field, sizeof(d));
        return (size_t)snprintf(buf, len, "%g", d);
    case COMMON_KNOB_BOOL:
        memcpy(&b, field, sizeof(b));
        return (size_t)snprintf(buf, len, "%d", b);
    case COMMON_KNOB_STR:
        return (size_t)snprintf(buf, len, "%s", field);
    }
    return 0;
}

void common_knobs_format(const struct common_knob_set *ks, const void *src, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < ks->n_knobs && used + 1 < len; i++) {
        used += (size_t)snprintf(buf + used, len - used, "%s%s=", i ? "," : "", ks->knobs[i].name);
        if (used < len)
            used += format_value(&ks->knobs[i], src, buf + used, len - used);
    }
}

static const char *type_name(enum common_knob_type t)
{
    static const char *const names[] = {"int", "real", "bool", "string"};
    return names[t];
}

void common_knobs_help(const struct common_knob_set *ks, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < ks->n_knobs && used + 1 < len; i++) {
        const struct common_knob *k = &ks->knobs[i];
        char range[48] = "";
        if (k->type == COMMON_KNOB_INT)
            snprintf(range, sizeof(range), "%.0f..%.0f", k->min, k->max);
        else if (k->type == COMMON_KNOB_REAL)
            snprintf(range, sizeof(range), "%g..%g", k->min, k->max);
        else if (k->type == COMMON_KNOB_BOOL)
            snprintf(range, sizeof(range), "0|1");
        used += (size_t)snprintf(buf + used, len - used, "  %-16s %-6s %-14s %s\n", k->name,
                                 type_name(k->type), range, k->help);
    }
    for (size_t i = 0; i < ks->n_presets && used + 1 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "  preset=%-9s %s\n", ks->presets[i].name,
                                 ks->presets[i].knobs);
}

int common_weights_parse(const char *family, const char *value, int *unwritten, char *err,
                         size_t errlen)
{
    if (strcmp(value, "random") == 0 || strcmp(value, "unwritten") == 0) {
        *unwritten = value[0] == 'u';
        return 0;
    }
    snprintf(err, errlen, "%s: knob weights=%s is not valid; allowed: random, unwritten", family,
             value);
    return LAYER_EKNOB;
}
