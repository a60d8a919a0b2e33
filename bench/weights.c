/* weights.c - safetensors and .npy files of a layer's parameters (weights.h).
 *
 * safetensors as Hugging Face specifies it (huggingface/safetensors README):
 * u64 little-endian N, N bytes of UTF-8 JSON {"NAME": {"dtype", "shape",
 * "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the data;
 * offsets are relative to the end of the header. The header is padded with
 * spaces to a multiple of 8 bytes, as the Python writer does, so every
 * tensor's data is 8-byte aligned in the file. .npy as NumPy's format
 * document (numpy/lib/format.py) defines it: magic "\x93NUMPY", major and
 * minor version, a u16 (1.0) or u32 (2.0, 3.0) header length, a Python
 * dict literal with descr, fortran_order and shape.
 *
 * Dtypes: a tensor is written in the dtype the layer stores it in
 * (struct layer_param's dtype): safetensors "F32", "BF16", "F16"; .npy
 * '<f4' and '<f2', and a bf16 tensor as '<f4' widened exactly, because
 * NumPy has no bfloat16 (loading it back narrows exactly, so the round trip
 * is bit-identical). A file tensor of any of the three loads into a tensor
 * of any stored dtype through impls/common/dtype.c: widening is exact,
 * narrowing rounds to nearest even (what casting an fp32 checkpoint to
 * deploy in bf16 does), and a value that is NaN or infinite after the
 * conversion (an f16 overflow: |x| >= 65520) is refused by file, tensor,
 * element index and value, never stored as infinity.
 *
 * Leaves out: other dtypes (F64, integers, F8: no layer stores them),
 * big-endian hosts (the data is copied as is), and tensors a layer derives
 * (its param op does not list them; derive recomputes them).
 */
#include "weights.h"
#include "util.h"
#include "../impls/common/common.h"
#include "../impls/layer.h"

#include <jansson.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAGIC     "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN     64   /* numpy pads the magic, length and header to this */
#define CONV_CHUNK    4096 /* elements converted per read: a 16 KiB buffer */

/* ---- dtypes: safetensors' names for layer.h's ---- */

static const struct {
    enum layer_dtype dt;
    const char *st; /* safetensors' dtype string */
} dtypes[] = {
    {LAYER_F32, "F32"},
    {LAYER_BF16, "BF16"},
    {LAYER_F16, "F16"},
};
#define N_DTYPES (sizeof(dtypes) / sizeof(dtypes[0]))

static const char *st_dtype_name(enum layer_dtype dt)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].dt == dt)
            return dtypes[i].st;
    return "F32";
}

/* The type a tensor of dt is written to .npy as: NumPy has no bfloat16, so
 * bf16 goes out widened to '<f4' (exact). */
static enum layer_dtype npy_dtype(enum layer_dtype dt)
{
    return dt == LAYER_F16 ? LAYER_F16 : LAYER_F32;
}

/* ---- shapes ---- */

static void shape_str(char *buf, size_t len, int ndim, const uint64_t *shape)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%" PRIu64, i ? ", " : "", shape[i]);
    if (used < len)
        snprintf(buf + used, len - used, ")");
}

/* Elements of a shape, 0 when the count overflows 62 bits (bytes must fit 64). */
static uint64_t shape_elems(int ndim, const uint64_t *shape, int *overflow)
{
    uint64_t n = 1;
    *overflow = 0;
    for (int i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(n, shape[i], &n) || n > (UINT64_MAX >> 2))
            *overflow = 1;
    return *overflow ? 0 : n;
}

static int same_shape(const struct layer_param *p, int ndim, const uint64_t *shape)
{
    if (p->ndim != ndim)
        return 0;
    for (int i = 0; i < ndim; i++)
        if (p->shape[i] != shape[i])
            return 0;
    return 1;
}

/* ---- the safetensors header ---- */

void bench_st_free(struct bench_st_header *h)
{
    free(h->t);
    h->t = NULL;
    h->n = 0;
}

static int json_u64(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* One tensor entry; returns 0 or LAYER_EWEIGHTS. */
static int parse_tensor(const char *name, const json_t *v, uint64_t data_len,
                        struct bench_st_tensor *t, char *err, size_t errlen)
{
    const json_t *dtype = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape");
    const json_t *off = json_object_get(v, "data_offsets");
    int overflow;
    if (strlen(name) >= LAYER_PARAM_NAME_LEN) {
        snprintf(err, errlen, "tensor name '%.40s...' is %zu bytes, at most %d allowed", name,
                 strlen(name), LAYER_PARAM_NAME_LEN - 1);
        return LAYER_EWEIGHTS;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    if (!json_is_object(v) || !json_is_string(dtype) || !json_is_array(shape) ||
        !json_is_array(off)) {
        snprintf(err, errlen,
                 "tensor '%s': needs \"dtype\" (a string), \"shape\" and "
                 "\"data_offsets\" (arrays)",
                 name);
        return LAYER_EWEIGHTS;
    }
    size_t k = 0;
    while (k < N_DTYPES && strcmp(json_string_value(dtype), dtypes[k].st) != 0)
        k++;
    if (k == N_DTYPES) {
        snprintf(err, errlen, "tensor '%s': dtype %.16s; allowed: F32, BF16, F16", name,
                 json_string_value(dtype));
        return LAYER_EWEIGHTS;
    }
    t->dtype = dtypes[k].dt;
    size_t nd = json_array_size(shape);
    if (nd < 1 || nd > LAYER_PARAM_MAX_DIMS) {
        snprintf(err, errlen, "tensor '%s': %zu dimensions, allowed 1..%d", name, nd,
                 LAYER_PARAM_MAX_DIMS);
        return LAYER_EWEIGHTS;
    }
    t->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++)
        if (json_u64(json_array_get(shape, i), &t->shape[i])) {
            snprintf(err, errlen, "tensor '%s': shape entry %zu is not a non-negative integer",
                     name, i);
            return LAYER_EWEIGHTS;
        }
    if (json_array_size(off) != 2 || json_u64(json_array_get(off, 0), &t->begin) ||
        json_u64(json_array_get(off, 1), &t->end)) {
        snprintf(err, errlen,
                 "tensor '%s': data_offsets must be [begin, end], two "
                 "non-negative integers",
                 name);
        return LAYER_EWEIGHTS;
    }
    uint64_t elems = shape_elems(t->ndim, t->shape, &overflow);
    if (overflow) {
        snprintf(err, errlen, "tensor '%s': shape overflows 64-bit sizes", name);
        return LAYER_EWEIGHTS;
    }
    if (t->begin > t->end || t->end > data_len) {
        snprintf(err, errlen,
                 "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] outside the %" PRIu64
                 " bytes of data (the file may be truncated)",
                 name, t->begin, t->end, data_len);
        return LAYER_EWEIGHTS;
    }
    uint64_t bytes = common_dtype_size(t->dtype) * elems;
    if (t->end - t->begin != bytes) {
        char s[160];
        shape_str(s, sizeof(s), t->ndim, t->shape);
        snprintf(err, errlen,
                 "tensor '%s': data_offsets span %" PRIu64 " bytes, shape %s %s needs %" PRIu64,
                 name, t->end - t->begin, s, dtypes[k].st, bytes);
        return LAYER_EWEIGHTS;
    }
    return 0;
}

static int check_metadata(const json_t *v, char *err, size_t errlen)
{
    const char *key;
    json_t *val;
    if (!json_is_object(v)) {
        snprintf(err, errlen, "__metadata__ must be an object of strings");
        return LAYER_EWEIGHTS;
    }
    json_object_foreach((json_t *)v, key, val)
    {
        if (!json_is_string(val)) {
            snprintf(err, errlen, "__metadata__ '%.64s' is not a string", key);
            return LAYER_EWEIGHTS;
        }
    }
    return 0;
}

int bench_st_parse_header(const char *json, size_t hlen, uint64_t file_size,
                          struct bench_st_header *h, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = NULL;
    const char *key;
    json_t *val;
    int rc = LAYER_EWEIGHTS;

    memset(h, 0, sizeof(*h));
    if (hlen > BENCH_ST_MAX_HEADER || 8 + (uint64_t)hlen > file_size) {
        snprintf(err, errlen,
                 "header length %zu is larger than the file (%" PRIu64 " bytes) allows%s", hlen,
                 file_size, hlen > BENCH_ST_MAX_HEADER ? " or over 100 MiB" : "");
        return LAYER_EWEIGHTS;
    }
    h->data_start = 8 + (uint64_t)hlen;
    h->data_len = file_size - h->data_start;
    /* Duplicate names would make "which one is loaded" the parser's whim. */
    root = json_loadb(json, hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "header is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                 je.column);
        return LAYER_EWEIGHTS;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "header is JSON but not an object of tensors");
        goto out;
    }
    h->t = calloc(json_object_size(root) + 1, sizeof(*h->t));
    if (!h->t) {
        snprintf(err, errlen, "out of memory for %zu tensor entries", json_object_size(root));
        rc = LAYER_ENOMEM;
        goto out;
    }
    json_object_foreach(root, key, val)
    {
        int r = strcmp(key, "__metadata__") == 0
                    ? check_metadata(val, err, errlen)
                    : parse_tensor(key, val, h->data_len, &h->t[h->n++], err, errlen);
        if (r)
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    if (rc)
        bench_st_free(h);
    return rc;
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int bench_st_parse(const unsigned char *buf, size_t len, struct bench_st_header *h, char *err,
                   size_t errlen)
{
    memset(h, 0, sizeof(*h));
    if (len < 8) {
        snprintf(err, errlen, "file is %zu bytes, shorter than the 8-byte header length", len);
        return LAYER_EWEIGHTS;
    }
    uint64_t hlen = get_le64(buf);
    if (hlen > len - 8) {
        snprintf(err, errlen, "header length %" PRIu64 " is larger than the file (%zu bytes)", hlen,
                 len);
        return LAYER_EWEIGHTS;
    }
    return bench_st_parse_header((const char *)buf + 8, (size_t)hlen, len, h, err, errlen);
}

/* ---- the .npy header ---- */

/* The value after 'key': in a dict literal, or NULL. */
static const char *npy_value(const char *hdr, const char *key)
{
    const char *p = strstr(hdr, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

int bench_npy_parse(const unsigned char *buf, size_t len, enum layer_dtype *dtype, int *ndim,
                    uint64_t *shape, size_t *data_off, char *err, size_t errlen)
{
    char hdr[4096];
    size_t hl, pre;
    if (len < NPY_MAGIC_LEN + 4 || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        snprintf(err, errlen, "not an .npy file (no \\x93NUMPY magic)");
        return LAYER_EWEIGHTS;
    }
    if (buf[6] == 1) {
        hl = (size_t)buf[8] | (size_t)buf[9] << 8;
        pre = 10;
    } else if ((buf[6] == 2 || buf[6] == 3) && len >= 12) {
        hl = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        pre = 12;
    } else {
        snprintf(err, errlen, ".npy format version %u.%u, allowed 1.0, 2.0, 3.0", buf[6], buf[7]);
        return LAYER_EWEIGHTS;
    }
    if (hl >= sizeof(hdr) || pre + hl > len) {
        snprintf(err, errlen, ".npy header length %zu larger than the file (%zu bytes) or 4 KiB",
                 hl, len);
        return LAYER_EWEIGHTS;
    }
    memcpy(hdr, buf + pre, hl);
    hdr[hl] = '\0';
    const char *descr = npy_value(hdr, "'descr'"), *fo = npy_value(hdr, "'fortran_order'");
    const char *sh = npy_value(hdr, "'shape'");
    if (!descr || !fo || !sh) {
        snprintf(err, errlen, ".npy header lacks descr, fortran_order or shape: %.200s", hdr);
        return LAYER_EWEIGHTS;
    }
    if (strncmp(descr, "'<f4'", 5) == 0) {
        *dtype = LAYER_F32;
    } else if (strncmp(descr, "'<f2'", 5) == 0) {
        *dtype = LAYER_F16;
    } else {
        const char *q = *descr == '\'' ? strchr(descr + 1, '\'') : NULL;
        int dl = q && q - descr < 16 ? (int)(q - descr + 1) : 8; /* the quoted descr */
        snprintf(err, errlen,
                 ".npy dtype %.*s; allowed: '<f4' (little-endian float32), '<f2' (float16)", dl,
                 descr);
        return LAYER_EWEIGHTS;
    }
    if (strncmp(fo, "False", 5) != 0) {
        snprintf(err, errlen, ".npy is in Fortran order; save it C-contiguous");
        return LAYER_EWEIGHTS;
    }
    if (*sh != '(') {
        snprintf(err, errlen, ".npy shape is not a tuple: %.40s", sh);
        return LAYER_EWEIGHTS;
    }
    *ndim = 0;
    for (const char *p = sh + 1;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || errno || *p == '-' || *ndim == LAYER_PARAM_MAX_DIMS) {
            snprintf(err, errlen, ".npy shape %.60s: want 1..%d non-negative integers", sh,
                     LAYER_PARAM_MAX_DIMS);
            return LAYER_EWEIGHTS;
        }
        shape[(*ndim)++] = v;
        p = end;
    }
    if (*ndim == 0) {
        snprintf(err, errlen, ".npy holds a scalar; a tensor of 1..%d dims is needed",
                 LAYER_PARAM_MAX_DIMS);
        return LAYER_EWEIGHTS;
    }
    *data_off = pre + hl;
    return 0;
}

/* ---- loading ---- */

/* The layer's tensor count. */
static size_t param_count(struct layer *l)
{
    struct layer_param p;
    size_t n = 0;
    while (l->ops->param(l, n, &p) == LAYER_OK)
        n++;
    return n;
}

static int shape_mismatch(const char *path, const struct layer_param *p, int ndim,
                          const uint64_t *shape, char *err, size_t errlen)
{
    char want[160], got[160];
    shape_str(want, sizeof(want), p->ndim, p->shape);
    shape_str(got, sizeof(got), ndim, shape);
    snprintf(err, errlen, "%s: tensor '%s': expected shape %s, found %s", path, p->name, want, got);
    return LAYER_EWEIGHTS;
}

static int read_at(FILE *f, uint64_t off, void *dst, uint64_t n)
{
    if (fseeko(f, (off_t)off, SEEK_SET) != 0)
        return -1;
    return fread(dst, 1, (size_t)n, f) == n ? 0 : -1;
}

/* Element i of p, read from the file as v (a value of the file's dtype
 * fdt), is not finite once stored in p's dtype: say which and why. */
static int not_finite(const char *file, const struct layer_param *p, uint64_t i,
                      enum layer_dtype fdt, float v, char *err, size_t errlen)
{
    if (isnan(v) || isinf(v))
        snprintf(err, errlen, "%s: tensor '%s': element %" PRIu64 " is %s; weights must be finite",
                 file, p->name, i, isnan(v) ? "NaN" : "infinite");
    else
        snprintf(err, errlen,
                 "%s: tensor '%s': element %" PRIu64 " is %.9g (%s in the file), which overflows "
                 "the layer's %s (largest finite %s); weights must be finite after rounding",
                 file, p->name, i, (double)v, st_dtype_name(fdt), common_dtype_name(p->dtype),
                 p->dtype == LAYER_F16 ? "65504" : "3.39e38");
    return LAYER_EWEIGHTS;
}

/* p's elements from f at byte off, stored there as fdt: copied when the
 * dtypes agree (bit for bit), else widened to fp32 and rounded to p's dtype
 * (common_dtype_store: nearest even); every stored element must read back
 * finite. Returns 0 or LAYER_EWEIGHTS. */
static int read_tensor(FILE *f, uint64_t off, enum layer_dtype fdt, const struct layer_param *p,
                       const char *file, char *err, size_t errlen)
{
    unsigned char buf[CONV_CHUNK * sizeof(float)];
    size_t fsz = common_dtype_size(fdt), psz = common_dtype_size(p->dtype);
    int overflow;
    uint64_t n = shape_elems(p->ndim, p->shape, &overflow);
    if (fseeko(f, (off_t)off, SEEK_SET) != 0)
        goto read_failed;
    for (uint64_t i0 = 0; i0 < n; i0 += CONV_CHUNK) {
        size_t m = n - i0 < CONV_CHUNK ? (size_t)(n - i0) : CONV_CHUNK;
        unsigned char *dst = (unsigned char *)p->data + i0 * psz;
        if (fread(buf, fsz, m, f) != m)
            goto read_failed;
        if (fdt == p->dtype)
            memcpy(dst, buf, m * psz);
        else
            for (size_t k = 0; k < m; k++)
                common_dtype_store(p->dtype, dst, k, common_dtype_at(fdt, buf, k));
        for (size_t k = 0; k < m; k++)
            if (!isfinite(common_dtype_at(p->dtype, dst, k)))
                return not_finite(file, p, i0 + k, fdt, common_dtype_at(fdt, buf, k), err, errlen);
    }
    return 0;
read_failed:
    snprintf(err, errlen, "%s: tensor '%s': read failed (truncated file?)", file, p->name);
    return LAYER_EWEIGHTS;
}

static int load_safetensors(struct layer *l, const char *path, FILE *f, uint64_t size, char *err,
                            size_t errlen)
{
    unsigned char len8[8];
    struct bench_st_header h = {0};
    char *json = NULL, msg[512];
    unsigned char *used = NULL;
    int rc = LAYER_EWEIGHTS;

    if (size < 8 || read_at(f, 0, len8, 8)) {
        snprintf(err, errlen,
                 "%s: file is %" PRIu64 " bytes, shorter than the 8-byte header "
                 "length",
                 path, size);
        return LAYER_EWEIGHTS;
    }
    uint64_t hlen = get_le64(len8);
    if (hlen > size - 8 || hlen > BENCH_ST_MAX_HEADER) {
        snprintf(err, errlen,
                 "%s: header length %" PRIu64 " is larger than the file (%" PRIu64 " bytes)%s",
                 path, hlen, size, hlen > BENCH_ST_MAX_HEADER ? " or 100 MiB" : "");
        return LAYER_EWEIGHTS;
    }
    json = malloc((size_t)hlen + 1);
    if (!json || read_at(f, 8, json, hlen)) {
        snprintf(err, errlen, "%s: %s reading the %" PRIu64 "-byte header", path,
                 json ? "I/O error" : "out of memory", hlen);
        rc = json ? LAYER_EWEIGHTS : LAYER_ENOMEM;
        goto out;
    }
    rc = bench_st_parse_header(json, (size_t)hlen, size, &h, msg, sizeof(msg));
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, msg);
        goto out;
    }
    rc = LAYER_EWEIGHTS;
    used = calloc(h.n + 1, 1);
    if (!used) {
        rc = LAYER_ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    struct layer_param p;
    for (size_t i = 0; l->ops->param(l, i, &p) == LAYER_OK; i++) {
        size_t j = 0;
        while (j < h.n && strcmp(h.t[j].name, p.name) != 0)
            j++;
        if (j == h.n) {
            char want[160];
            shape_str(want, sizeof(want), p.ndim, p.shape);
            snprintf(err, errlen,
                     "%s: tensor '%s' missing (%s expects shape %s, F32, BF16 or F16; stored as "
                     "%s)",
                     path, p.name, l->ops->name, want, common_dtype_name(p.dtype));
            goto out;
        }
        used[j] = 1;
        if (!same_shape(&p, h.t[j].ndim, h.t[j].shape)) {
            rc = shape_mismatch(path, &p, h.t[j].ndim, h.t[j].shape, err, errlen);
            goto out;
        }
        rc = read_tensor(f, h.data_start + h.t[j].begin, h.t[j].dtype, &p, path, err, errlen);
        if (rc)
            goto out;
        rc = LAYER_EWEIGHTS;
    }
    for (size_t j = 0; j < h.n; j++)
        if (!used[j]) {
            snprintf(err, errlen,
                     "%s: tensor '%s' is not a parameter of %s (%zu are; "
                     "reports/WEIGHTS.md)",
                     path, h.t[j].name, l->ops->name, param_count(l));
            goto out;
        }
    rc = 0;
out:
    free(used);
    free(json);
    bench_st_free(&h);
    return rc;
}

/* One NAME.npy into p. */
static int load_npy_file(const char *path, const char *dir, struct layer_param *p, char *err,
                         size_t errlen)
{
    char file[4096], msg[512];
    unsigned char head[4096 + 16];
    int ndim, rc = LAYER_EWEIGHTS;
    uint64_t shape[LAYER_PARAM_MAX_DIMS];
    size_t off;
    enum layer_dtype fdt;
    snprintf(file, sizeof(file), "%s/%s.npy", dir, p->name);
    FILE *f = fopen(file, "rb");
    if (!f) {
        char want[160];
        shape_str(want, sizeof(want), p->ndim, p->shape);
        snprintf(err, errlen, "%s: tensor '%s' missing: cannot open %s (%s); shape %s expected",
                 path, p->name, file, strerror(errno), want);
        return LAYER_EWEIGHTS;
    }
    size_t got = fread(head, 1, sizeof(head), f);
    if (bench_npy_parse(head, got, &fdt, &ndim, shape, &off, msg, sizeof(msg))) {
        snprintf(err, errlen, "%s: %s", file, msg);
        goto out;
    }
    if (!same_shape(p, ndim, shape)) {
        rc = shape_mismatch(file, p, ndim, shape, err, errlen);
        goto out;
    }
    int overflow;
    uint64_t bytes = common_dtype_size(fdt) * shape_elems(ndim, shape, &overflow);
    struct stat st;
    if (fstat(fileno(f), &st) || (uint64_t)st.st_size != off + bytes) {
        snprintf(err, errlen, "%s: %lld bytes, header and shape say %" PRIu64 " (truncated?)", file,
                 (long long)st.st_size, (uint64_t)off + bytes);
        goto out;
    }
    rc = read_tensor(f, off, fdt, p, file, err, errlen);
out:
    fclose(f);
    return rc;
}

static int load_npy_dir(struct layer *l, const char *path, char *err, size_t errlen)
{
    struct layer_param p;
    size_t n = 0;
    for (size_t i = 0; l->ops->param(l, i, &p) == LAYER_OK; i++, n++) {
        int rc = load_npy_file(path, path, &p, err, errlen);
        if (rc)
            return rc;
    }
    /* Every .npy there must be one of ours: a stray one is a misnamed tensor. */
    DIR *d = opendir(path);
    struct dirent *e;
    int rc = 0;
    while (d && !rc && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".npy") != 0)
            continue;
        int found = 0;
        for (size_t i = 0; !found && l->ops->param(l, i, &p) == LAYER_OK; i++)
            found = strlen(p.name) == len - 4 && strncmp(p.name, e->d_name, len - 4) == 0;
        if (!found) {
            snprintf(err, errlen, "%s: %s is not a parameter of %s (%zu are; reports/WEIGHTS.md)",
                     path, e->d_name, l->ops->name, n);
            rc = LAYER_EWEIGHTS;
        }
    }
    if (d)
        closedir(d);
    return rc;
}

static int not_regular(const char *path, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "%s: not a regular file (a FIFO or device); give a .safetensors file or a directory "
             "of .npy files",
             path);
    return LAYER_EWEIGHTS;
}

int bench_weights_peek(const char *path, char *err, size_t errlen)
{
    struct stat st;
    unsigned char len8[8];
    char msg[512];
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return LAYER_EWEIGHTS;
    }
    if (S_ISDIR(st.st_mode))
        return 0;
    if (!S_ISREG(st.st_mode)) /* a FIFO or device has no size to check offsets against */
        return not_regular(path, err, errlen);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return LAYER_EWEIGHTS;
    }
    int rc = LAYER_EWEIGHTS;
    uint64_t size = (uint64_t)st.st_size, hlen = 0;
    char *json = NULL;
    if (size < 8 || read_at(f, 0, len8, 8)) {
        snprintf(err, errlen,
                 "%s: file is %" PRIu64 " bytes, shorter than the 8-byte header "
                 "length",
                 path, size);
        goto out;
    }
    hlen = get_le64(len8);
    if (hlen > size - 8 || hlen > BENCH_ST_MAX_HEADER) {
        snprintf(err, errlen,
                 "%s: header length %" PRIu64 " is larger than the file (%" PRIu64 " bytes)", path,
                 hlen, size);
        goto out;
    }
    json = malloc((size_t)hlen + 1);
    if (!json || read_at(f, 8, json, hlen)) {
        snprintf(err, errlen, "%s: cannot read the %" PRIu64 "-byte header", path, hlen);
        goto out;
    }
    struct bench_st_header h;
    rc = bench_st_parse_header(json, (size_t)hlen, size, &h, msg, sizeof(msg));
    if (rc)
        snprintf(err, errlen, "%s: %s", path, msg);
    else
        bench_st_free(&h);
out:
    free(json);
    fclose(f);
    return rc;
}

int bench_weights_load(struct layer *l, const char *path, char *err, size_t errlen)
{
    struct stat st;
    int rc;
    if (!l->ops->param) {
        snprintf(err, errlen, "%s: this layer lists no parameters; it cannot load %s", l->ops->name,
                 path);
        return LAYER_EUNSUPPORTED;
    }
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return LAYER_EWEIGHTS;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = load_npy_dir(l, path, err, errlen);
    } else if (!S_ISREG(st.st_mode)) {
        rc = not_regular(path, err, errlen);
    } else {
        FILE *f = fopen(path, "rb");
        if (!f) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            return LAYER_EWEIGHTS;
        }
        rc = load_safetensors(l, path, f, (uint64_t)st.st_size, err, errlen);
        fclose(f);
    }
    if (rc == 0 && l->ops->derive)
        rc = l->ops->derive(l);
    return rc;
}

/* ---- saving ---- */

static json_t *shape_json(const struct layer_param *p)
{
    json_t *a = json_array();
    for (int i = 0; a && i < p->ndim; i++)
        json_array_append_new(a, json_integer((json_int_t)p->shape[i]));
    return a;
}

static json_t *metadata_json(struct layer *l, const struct layer_config *cfg)
{
    struct layer_info info;
    char num[32];
    json_t *m = json_object();
    l->ops->describe(l, &info);
    json_object_set_new(m, "format", json_string("pt"));
    json_object_set_new(m, "sparsebench_impl", json_string(l->ops->name));
    json_object_set_new(m, "sparsebench_knobs", json_string(info.knobs));
    snprintf(num, sizeof(num), "%zu", cfg->d_model);
    json_object_set_new(m, "sparsebench_d_model", json_string(num));
    snprintf(num, sizeof(num), "%u", cfg->scale);
    json_object_set_new(m, "sparsebench_scale", json_string(num));
    snprintf(num, sizeof(num), "%" PRIu64, cfg->seed);
    json_object_set_new(m, "sparsebench_seed", json_string(num));
    return m;
}

/* fwrite everything or fail. */
static int write_all(FILE *f, const void *p, uint64_t n)
{
    return fwrite(p, 1, (size_t)n, f) == n ? 0 : -1;
}

static int save_safetensors(struct layer *l, const struct layer_config *cfg, const char *path,
                            char *err, size_t errlen)
{
    json_t *root = json_object();
    struct layer_param p;
    uint64_t off = 0;
    char *hdr = NULL, tmp[4096];
    FILE *f = NULL;
    int rc = LAYER_EINVAL, overflow;

    json_object_set_new(root, "__metadata__", metadata_json(l, cfg));
    for (size_t i = 0; l->ops->param(l, i, &p) == LAYER_OK; i++) {
        uint64_t bytes = common_dtype_size(p.dtype) * shape_elems(p.ndim, p.shape, &overflow);
        json_t *t = json_object(), *o = json_array();
        json_object_set_new(t, "dtype", json_string(st_dtype_name(p.dtype)));
        json_object_set_new(t, "shape", shape_json(&p));
        json_array_append_new(o, json_integer((json_int_t)off));
        json_array_append_new(o, json_integer((json_int_t)(off + bytes)));
        json_object_set_new(t, "data_offsets", o);
        json_object_set_new(root, p.name, t);
        off += bytes;
    }
    hdr = json_dumps(root, JSON_COMPACT);
    if (!hdr) {
        snprintf(err, errlen, "%s: out of memory for the header", path);
        rc = LAYER_ENOMEM;
        goto out;
    }
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f || write_all(f, len8, 8) || write_all(f, hdr, hl) ||
        write_all(f, "        ", padded - hl)) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t i = 0; l->ops->param(l, i, &p) == LAYER_OK; i++)
        if (write_all(f, p.data,
                      common_dtype_size(p.dtype) * shape_elems(p.ndim, p.shape, &overflow))) {
            snprintf(err, errlen, "%s: cannot write tensor '%s': %s", tmp, p.name, strerror(errno));
            goto out;
        }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        f = NULL;
        snprintf(err, errlen, "%s: cannot finish: %s", path, strerror(errno));
        goto out;
    }
    f = NULL;
    rc = 0;
out:
    if (f) {
        fclose(f);
        remove(tmp);
    }
    free(hdr);
    json_decref(root);
    return rc;
}

/* p's elements as .npy data: as stored, or (bf16) widened to fp32, exactly. */
static int write_npy_data(FILE *f, const struct layer_param *p)
{
    int overflow;
    uint64_t n = shape_elems(p->ndim, p->shape, &overflow);
    if (npy_dtype(p->dtype) == p->dtype)
        return write_all(f, p->data, common_dtype_size(p->dtype) * n);
    float buf[CONV_CHUNK];
    for (uint64_t i0 = 0; i0 < n; i0 += CONV_CHUNK) {
        size_t m = n - i0 < CONV_CHUNK ? (size_t)(n - i0) : CONV_CHUNK;
        common_dtype_widen(p->dtype, buf, (const uint16_t *)p->data + i0, m);
        if (write_all(f, buf, m * sizeof(float)))
            return -1;
    }
    return 0;
}

static int save_npy(const char *dir, const struct layer_param *p, char *err, size_t errlen)
{
    char file[4096], shape[200], hdr[512];
    size_t used = 0;
    if (p->ndim == 1)
        snprintf(shape, sizeof(shape), "(%" PRIu64 ",)", p->shape[0]);
    else
        shape_str(shape, sizeof(shape), p->ndim, p->shape);
    used =
        (size_t)snprintf(hdr, sizeof(hdr), "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                         npy_dtype(p->dtype) == LAYER_F16 ? "<f2" : "<f4", shape);
    /* Pad with spaces and a newline so magic + length + header is a multiple of 64. */
    size_t total = (NPY_MAGIC_LEN + 4 + used + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t hl = total - NPY_MAGIC_LEN - 4;
    memset(hdr + used, ' ', hl - 1 - used);
    hdr[hl - 1] = '\n';
    unsigned char pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    snprintf(file, sizeof(file), "%s/%s.npy", dir, p->name);
    FILE *f = fopen(file, "wb");
    int bad = !f || write_all(f, pre, 10) || write_all(f, hdr, hl) || write_npy_data(f, p);
    if (f && fclose(f) != 0)
        bad = 1;
    if (bad) {
        snprintf(err, errlen, "%s: cannot write: %s", file, strerror(errno));
        return LAYER_EINVAL;
    }
    return 0;
}

int bench_weights_save(struct layer *l, const struct layer_config *cfg, const char *path, char *err,
                       size_t errlen)
{
    size_t len = strlen(path);
    struct layer_param p;
    if (!l->ops->param) {
        snprintf(err, errlen, "%s: this layer lists no parameters to export", l->ops->name);
        return LAYER_EUNSUPPORTED;
    }
    if (len > 12 && strcmp(path + len - 12, ".safetensors") == 0)
        return save_safetensors(l, cfg, path, err, errlen);
    if (bench_mkdir_p(path) != 0) {
        snprintf(err, errlen, "%s: cannot create the directory: %s", path, strerror(errno));
        return LAYER_EINVAL;
    }
    for (size_t i = 0; l->ops->param(l, i, &p) == LAYER_OK; i++) {
        int rc = save_npy(path, &p, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}
