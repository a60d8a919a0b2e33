/* sum.c - the composite layer y = A(x) + B(x): a dense FFN and a memory layer
 * on the same input, outputs added (`dense+ultramem`, `dense+pkm`).
 *
 * This is UltraMem's skip-layer structure measured in isolation
 * (research/ultramem_pkm.md section 1.2): the memory lookup is memory-bound,
 * the dense FFN compute-bound, so the paper runs them side by side and lets
 * one hide behind the other. concurrent=1 does exactly that: each part is
 * created with one thread, part B runs on a second thread while part A runs
 * on the caller, and the outputs are added. concurrent=0 runs them one after
 * the other, each with the full thread budget.
 *
 * Knobs: `concurrent`, plus every part's own knobs behind its name,
 * `dense.width=3072,ultramem.topm=64,ultramem.preset=227m`. The scale goes to
 * both parts: dense ignores it and the memory's (s - 1) x dense-parameter
 * rule makes the composite about s x the dense FFN. The memory part is found
 * by name at create, so `dense+pkm` fails cleanly until a `pkm` layer is
 * registered. create checks both parts (layer_check) and the memory of the
 * whole before it builds either, so a memory refused at its size costs no
 * dense FFN built in vain. Left out: the skip itself (input from block a, output added
 * after block b); a layer benchmark has no blocks to skip.
 */
#include "../common/common.h"
#include "../layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct layer_ops sum_dense_ultramem_ops;
extern const struct layer_ops sum_dense_pkm_ops;

struct sum_knobs {
    int concurrent;
};

static const struct common_knob sum_knob_table[] = {
    {"concurrent", COMMON_KNOB_BOOL, offsetof(struct sum_knobs, concurrent), 0, 1,
     "run the parts side by side on two threads, one each (default 0: one after the other)"},
};

struct sum_kind {
    const struct layer_ops *ops;
    const char *part[2]; /* registry names of parts A and B */
    struct common_knob_set knob_set;
};

static const struct sum_kind sum_kinds[] = {
    {&sum_dense_ultramem_ops,
     {"dense", "ultramem"},
     {"dense+ultramem", sum_knob_table, 1, NULL, 0}},
    {&sum_dense_pkm_ops, {"dense", "pkm"}, {"dense+pkm", sum_knob_table, 1, NULL, 0}},
};

struct sum {
    struct layer base;
    const struct sum_kind *kind;
    struct sum_knobs knobs;
    struct layer *part[2];
    size_t D, max_tokens;
    char *knob_buf;            /* holds own and part_knobs, from the plan */
    char *own, *part_knobs[2]; /* cfg->knobs split: the sum's and each part's */
    struct common_carve blk;   /* the sum's own scratch: yb */
    uint64_t bytes;            /* both parts and blk: what check reports */
    float *yb;                 /* (max_tokens, D) part B's output */
    struct common_pool *pool;  /* 2 threads when concurrent, else NULL */
    char unit[32];
};

/* ---- knobs ---- */

/* Append "key=value" to a comma list in buf (len bytes). */
static void append_item(char *buf, size_t len, const char *item, size_t n)
{
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%.*s", used ? "," : "", (int)n, item);
}

/* Route each item of str to the sum (own) or to a part by its "name."
 * prefix; every buffer holds len bytes. */
static int split_knobs(const struct sum_kind *k, const char *str, char *own, char *part[2],
                       size_t len, char *err, size_t errlen)
{
    const char *p = str;
    own[0] = part[0][0] = part[1][0] = '\0';
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        const char *eq = memchr(p, '=', n), *dot = memchr(p, '.', n);
        int routed = 0;
        for (int i = 0; i < 2 && dot && (!eq || dot < eq); i++) {
            size_t plen = strlen(k->part[i]);
            if ((size_t)(dot - p) == plen && strncmp(p, k->part[i], plen) == 0) {
                append_item(part[i], len, dot + 1, n - plen - 1);
                routed = 1;
            }
        }
        if (!routed && dot && (!eq || dot < eq)) {
            snprintf(err, errlen,
                     "%s: knob '%.*s' names no part; allowed prefixes %s. and %s. (e.g. %s.%s)",
                     k->knob_set.family, (int)n, p, k->part[0], k->part[1], k->part[1],
                     "preset=NAME");
            return LAYER_EKNOB;
        }
        if (!routed && n)
            append_item(own, len, p, n);
        p = comma ? comma + 1 : NULL;
    }
    return LAYER_OK;
}

/* ---- plan: knobs and both parts checked, nothing built ---- */

/* The part's config: the composite's, its own knobs, one thread each when
 * the parts run side by side. */
static struct layer_config part_config(const struct sum *s, int i, const struct layer_config *cfg)
{
    struct layer_config pc = *cfg;
    pc.knobs = s->part_knobs[i];
    pc.threads = s->knobs.concurrent ? 1 : cfg->threads;
    return pc;
}

static int check_part(struct sum *s, int i, const struct layer_config *cfg, uint64_t *bytes,
                      char *err, size_t errlen)
{
    const char *fam = s->kind->knob_set.family, *name = s->kind->part[i];
    const struct layer_ops *ops = layer_find(name);
    char part_err[512] = "";
    if (!ops) {
        snprintf(err, errlen,
                 "%s: this build has no '%s' layer to add; run %s alone or another "
                 "composite",
                 fam, name, s->kind->part[0]);
        return LAYER_EUNSUPPORTED;
    }
    struct layer_config pc = part_config(s, i, cfg);
    int rc = layer_check(ops, &pc, bytes, part_err, sizeof(part_err));
    if (rc)
        snprintf(err, errlen, "%s: part %s: %s", fam, name, part_err);
    return rc;
}

/* Knobs, both parts' checks and the memory check of the whole: all that
 * create decides before it builds anything (a part refused at its size is
 * refused before the other is built), and all that check does. */
static int sum_plan(struct sum *s, const struct sum_kind *kind, const struct layer_config *cfg,
                    char *err, size_t errlen)
{
    size_t len = (cfg->knobs ? strlen(cfg->knobs) : 0) + 1;
    const char *fam = kind->knob_set.family;
    uint64_t part_bytes[2] = {0, 0};
    s->kind = kind;
    s->D = cfg->d_model;
    s->max_tokens = cfg->max_tokens;
    s->knob_buf = calloc(3, len);
    if (!s->knob_buf)
        return LAYER_ENOMEM;
    s->own = s->knob_buf;
    s->part_knobs[0] = s->knob_buf + len;
    s->part_knobs[1] = s->knob_buf + 2 * len;
    int rc = split_knobs(kind, cfg->knobs, s->own, s->part_knobs, len, err, errlen);
    if (rc)
        return rc;
    rc = common_knobs_parse(&kind->knob_set, s->own, &s->knobs, NULL, err, errlen);
    if (rc) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - used, "; a part's knobs take its name: %s.KEY=V, %s.KEY=V",
                 kind->part[0], kind->part[1]);
        return rc;
    }
    if (s->knobs.concurrent && cfg->threads < 2) {
        snprintf(err, errlen,
                 "%s: concurrent=1 runs the two parts on two threads, one each; give threads "
                 ">= 2 or concurrent=0",
                 fam);
        return LAYER_EUNSUPPORTED;
    }
    for (int i = 0; i < 2; i++) {
        rc = check_part(s, i, cfg, &part_bytes[i], err, errlen);
        if (rc) {
            s->bytes = rc == LAYER_ETOOBIG ? part_bytes[i] : 0;
            return rc;
        }
    }
    uint64_t own;
    s->blk = common_carve_plan(COMMON_ALIGN);
    s->yb = common_carve(&s->blk, cfg->max_tokens * cfg->d_model, sizeof(float));
    rc = common_carve_fit(&s->blk, 1, fam, &own, err, errlen);
    s->bytes = own + part_bytes[0] + part_bytes[1];
    return rc ? rc : common_mem_check(s->bytes, fam, err, errlen);
}

/* ---- lifecycle ---- */

static void sum_destroy(struct layer *l)
{
    struct sum *s = (struct sum *)l;
    if (!s)
        return;
    common_pool_destroy(s->pool);
    common_carve_free(&s->blk, 1);
    layer_destroy(s->part[1]);
    layer_destroy(s->part[0]);
    free(s->knob_buf);
    free(s);
}

static int sum_check(const struct sum_kind *kind, const struct layer_config *cfg, uint64_t *bytes,
                     char *err, size_t errlen)
{
    struct sum s;
    memset(&s, 0, sizeof(s));
    int rc = sum_plan(&s, kind, cfg, err, errlen);
    free(s.knob_buf);
    if (bytes)
        *bytes = s.bytes;
    return rc;
}

static int create_part(struct sum *s, int i, const struct layer_config *cfg, char *err,
                       size_t errlen)
{
    char part_err[512] = "";
    struct layer_config pc = part_config(s, i, cfg);
    int rc =
        layer_create(layer_find(s->kind->part[i]), &pc, &s->part[i], part_err, sizeof(part_err));
    if (rc)
        snprintf(err, errlen, "%s: part %s: %s", s->kind->knob_set.family, s->kind->part[i],
                 part_err);
    return rc;
}

static int create_kind(const struct sum_kind *kind, const struct layer_config *cfg,
                       struct layer **out, char *err, size_t errlen)
{
    struct sum *s = calloc(1, sizeof(*s));
    int rc;
    *out = NULL;
    if (!s)
        return LAYER_ENOMEM;
    rc = sum_plan(s, kind, cfg, err, errlen);
    if (rc)
        goto out_destroy;
    rc = create_part(s, 0, cfg, err, errlen);
    if (!rc)
        rc = create_part(s, 1, cfg, err, errlen);
    if (rc)
        goto out_destroy;
    if (common_carve_alloc(&s->blk, 1)) {
        snprintf(err, errlen, "%s: out of memory for the second output", kind->knob_set.family);
        rc = LAYER_ENOMEM;
        goto out_destroy;
    }
    s->yb = common_carve(&s->blk, cfg->max_tokens * cfg->d_model, sizeof(float));
    if (s->knobs.concurrent) {
        rc = common_pool_create(&s->pool, 2);
        if (rc) {
            snprintf(err, errlen, "%s: %s", kind->knob_set.family, layer_strerror(rc));
            goto out_destroy;
        }
    }
    struct layer_info a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    s->part[0]->ops->describe(s->part[0], &a);
    s->part[1]->ops->describe(s->part[1], &b);
    snprintf(s->unit, sizeof(s->unit), "%s+%s", a.unit, b.unit);
    s->base.ops = kind->ops;
    *out = &s->base;
    return LAYER_OK;

out_destroy:
    sum_destroy(&s->base);
    return rc;
}

static int sum_dense_ultramem_create(const struct layer_config *cfg, struct layer **out, char *err,
                                     size_t errlen)
{
    return create_kind(&sum_kinds[0], cfg, out, err, errlen);
}

static int sum_dense_pkm_create(const struct layer_config *cfg, struct layer **out, char *err,
                                size_t errlen)
{
    return create_kind(&sum_kinds[1], cfg, out, err, errlen);
}

static int sum_dense_ultramem_check(const struct layer_config *cfg, uint64_t *bytes, char *err,
                                    size_t errlen)
{
    return sum_check(&sum_kinds[0], cfg, bytes, err, errlen);
}

static int sum_dense_pkm_check(const struct layer_config *cfg, uint64_t *bytes, char *err,
                               size_t errlen)
{
    return sum_check(&sum_kinds[1], cfg, bytes, err, errlen);
}

/* ---- forward ---- */

struct sum_job {
    struct sum *s;
    const float *x;
    float *out[2];
    size_t n_tokens;
    struct layer_stats st[2];
    int rc[2];
};

static void part_task(void *arg, size_t task, int worker)
{
    struct sum_job *job = arg;
    struct layer *p = job->s->part[task];
    (void)worker;
    job->rc[task] = p->ops->forward(p, job->x, job->out[task], job->n_tokens, &job->st[task]);
}

static void add_into(float *restrict y, const float *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += b[i];
}

static int sum_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                       struct layer_stats *st)
{
    struct sum *s = (struct sum *)l;
    if (n_tokens > s->max_tokens)
        return LAYER_EINVAL;
    struct sum_job job = {s, x, {y, s->yb}, n_tokens, {{0}}, {0, 0}};
    /* Concurrent: the caller and the pool's one worker take a part each.
     * Sequential: no pool, the parts run in order on the caller. */
    common_pool_run(s->pool, 2, part_task, &job);
    if (job.rc[0] || job.rc[1])
        return job.rc[0] ? job.rc[0] : job.rc[1];
    add_into(y, s->yb, n_tokens * s->D);
    st->flops = job.st[0].flops + job.st[1].flops;
    st->dense_bytes = job.st[0].dense_bytes + job.st[1].dense_bytes;
    st->sparse_bytes = job.st[0].sparse_bytes + job.st[1].sparse_bytes;
    st->units_touched = job.st[0].units_touched + job.st[1].units_touched;
    st->units_total = job.st[0].units_total + job.st[1].units_total;
    return LAYER_OK;
}

static int sum_forward_ref(struct layer *l, const float *x, float *y, size_t n_tokens)
{
    struct sum *s = (struct sum *)l;
    if (n_tokens > s->max_tokens)
        return LAYER_EINVAL;
    int rc = s->part[0]->ops->forward_ref(s->part[0], x, y, n_tokens);
    if (!rc)
        rc = s->part[1]->ops->forward_ref(s->part[1], x, s->yb, n_tokens);
    if (rc)
        return rc;
    for (size_t i = 0; i < n_tokens * s->D; i++)
        y[i] += s->yb[i];
    return LAYER_OK;
}

/* The memory part's recall; a part without one retrieves exactly. */
static int sum_recall(struct layer *l, const float *x, size_t n_tokens, double *out)
{
    struct sum *s = (struct sum *)l;
    if (n_tokens > s->max_tokens)
        return LAYER_EINVAL;
    if (!s->part[1]->ops->recall) {
        *out = 1;
        return LAYER_OK;
    }
    return s->part[1]->ops->recall(s->part[1], x, n_tokens, out);
}

/* ---- description ---- */

/* "name.k1=v1,name.k2=v2" from a part's resolved "k1=v1,k2=v2". */
static void prefix_knobs(char *buf, size_t len, const char *name, const char *knobs)
{
    const char *p = knobs;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p), used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s.%.*s", used ? "," : "", name, (int)n, p);
        p = comma ? comma + 1 : NULL;
    }
}

static void sum_describe(const struct layer *l, struct layer_info *info)
{
    const struct sum *s = (const struct sum *)l;
    struct layer_info part[2];
    memset(part, 0, sizeof(part));
    info->params_total = info->params_active = 0;
    info->n_regions = 0;
    common_knobs_format(&s->kind->knob_set, &s->knobs, info->knobs, sizeof(info->knobs));
    for (int i = 0; i < 2; i++) {
        s->part[i]->ops->describe(s->part[i], &part[i]);
        info->params_total += part[i].params_total;
        info->params_active += part[i].params_active;
        prefix_knobs(info->knobs, sizeof(info->knobs), s->kind->part[i], part[i].knobs);
        for (int r = 0; r < part[i].n_regions && info->n_regions < LAYER_MAX_REGIONS; r++)
            info->regions[info->n_regions++] = part[i].regions[r];
    }
    info->unit = s->unit;
}

/* ---- parameters: each part's, under its registry name ("dense.w1",
 * "ultramem.keys", ...) ---- */

static int sum_param(struct layer *l, size_t i, struct layer_param *p)
{
    struct sum *s = (struct sum *)l;
    for (int k = 0; k < 2; k++) {
        struct layer *part = s->part[k];
        int rc = part->ops->param ? part->ops->param(part, i, p) : LAYER_EINVAL;
        if (rc == LAYER_OK) {
            char name[2 * LAYER_PARAM_NAME_LEN];
            int n = snprintf(name, sizeof(name), "%s.%s", s->kind->part[k], p->name);
            if (n < 0 || (size_t)n >= sizeof(p->name))
                return LAYER_EINVAL; /* no name of a part is that long */
            memcpy(p->name, name, (size_t)n + 1);
            return LAYER_OK;
        }
        size_t n = 0; /* this part's count: the first index it refuses */
        struct layer_param unused;
        while (part->ops->param && part->ops->param(part, n, &unused) == LAYER_OK)
            n++;
        i -= n;
    }
    return LAYER_EINVAL;
}

static int sum_derive(struct layer *l)
{
    struct sum *s = (struct sum *)l;
    for (int k = 0; k < 2; k++) {
        int rc = s->part[k]->ops->derive ? s->part[k]->ops->derive(s->part[k]) : LAYER_OK;
        if (rc)
            return rc;
    }
    return LAYER_OK;
}

static void help_kind(const struct sum_kind *k, char *buf, size_t len)
{
    common_knobs_help(&k->knob_set, buf, len);
    size_t used = strlen(buf);
    snprintf(buf + used, len - used,
             "  %s.KEY=V, %s.KEY=V  knobs of a part (sparsebench list --verbose), e.g. %s.%s\n",
             k->part[0], k->part[1], k->part[1], "preset=NAME");
}

static void sum_dense_ultramem_help(char *buf, size_t len)
{
    help_kind(&sum_kinds[0], buf, len);
}

static void sum_dense_pkm_help(char *buf, size_t len)
{
    help_kind(&sum_kinds[1], buf, len);
}

const struct layer_ops sum_dense_ultramem_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "dense+ultramem",
    .summary = "dense FFN + UltraMem on the same input, outputs added (concurrent=1: overlapped)",
    .create = sum_dense_ultramem_create,
    .check = sum_dense_ultramem_check,
    .destroy = sum_destroy,
    .forward = sum_forward,
    .forward_ref = sum_forward_ref,
    .describe = sum_describe,
    .help = sum_dense_ultramem_help,
    .recall = sum_recall,
    .param = sum_param,
    .derive = sum_derive,
};

const struct layer_ops sum_dense_pkm_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "dense+pkm",
    .summary = "dense FFN + PKM on the same input, outputs added (concurrent=1: overlapped)",
    .create = sum_dense_pkm_create,
    .check = sum_dense_pkm_check,
    .destroy = sum_destroy,
    .forward = sum_forward,
    .forward_ref = sum_forward_ref,
    .describe = sum_describe,
    .help = sum_dense_pkm_help,
    .recall = sum_recall,
    .param = sum_param,
    .derive = sum_derive,
};
