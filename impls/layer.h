/* layer.h - THE interface every sparsebench layer implements.
 *
 * One `struct layer_ops` per family (dense, moe, pkm, ultramem, fff, ...), one
 * exported const symbol per ops table, listed in impls/registry.c. The harness
 * only ever talks to a layer through this header.
 *
 * Dimensions use fixed letters everywhere in the tree:
 *   T tokens in one forward, D model width (d_model), F dense inner width,
 *   E experts, K top-k, N keys / values / nodes.
 * Activations are fp32, row-major; shapes are written next to pointers.
 * Parameter tensors are fp32 unless a family's dtype knob narrows them
 * (enum layer_dtype; accumulation stays fp32 either way).
 *
 * ---- Ownership rules ----
 *  - The caller owns x and y. x is (T, D), y is (T, D); forward overwrites y.
 *  - A layer owns its weights, its scratch memory and its worker threads. All
 *    of it is allocated in create(), sized for cfg->max_tokens tokens.
 *  - forward() and forward_ref() never allocate and never free. A call with
 *    n_tokens > max_tokens returns LAYER_EINVAL.
 *  - create() either succeeds, sets *out and the caller must call destroy(),
 *    or fails, frees everything it took, sets *out = NULL and writes a
 *    one-line message into err naming the bad input, its value and what is
 *    allowed.
 *  - check() (optional) answers what create() would, allocating nothing.
 *  - destroy(NULL) is a harmless no-op.
 *  - A layer is not re-entrant: one forward at a time per layer object.
 *  - Weights are a pure function of (cfg, knobs, seed): same inputs, same
 *    bytes, on every machine, until the caller overwrites them through
 *    param() and calls derive() (a loaded weights file, bench/weights.h).
 *
 * ---- Errors ----
 * Functions return 0 (LAYER_OK) or a negative LAYER_E* code; layer_strerror()
 * names it. Nothing below bench/ calls exit().
 */
#ifndef SPARSEBENCH_LAYER_H
#define SPARSEBENCH_LAYER_H

#include <stddef.h>
#include <stdint.h>

#define LAYER_ABI_VERSION                                                                          \
    4 /* 2: the check op; 3: the param and derive ops, cfg weights; 4: typed params */

/* One list makes both the enum and the messages (libuv's UV_ERRNO_MAP). */
#define LAYER_ERRNO_MAP(XX)                                                                        \
    XX(EINVAL, -1, "invalid argument")                                                             \
    XX(ENOMEM, -2, "out of memory")                                                                \
    XX(EKNOB, -3, "bad knob")                                                                      \
    XX(ETOOBIG, -4, "configuration larger than available memory")                                  \
    XX(EUNSUPPORTED, -5, "configuration not supported by this layer")                              \
    XX(ETHREAD, -6, "could not start a worker thread")                                             \
    XX(EABI, -7, "layer built against another ABI version")                                        \
    XX(EWEIGHTS, -8, "bad weights file")

enum layer_err {
    LAYER_OK = 0,
#define LAYER_ERR_ENUM(name, code, msg) LAYER_##name = (code),
    LAYER_ERRNO_MAP(LAYER_ERR_ENUM)
#undef LAYER_ERR_ENUM
};

/* Message for a LAYER_* code; never NULL. */
const char *layer_strerror(int err);

/* What every family's create() receives. */
struct layer_config {
    size_t d_model;    /* D */
    unsigned scale;    /* sparse-parameter scale s >= 1: total params ~ s x dense FFN */
    uint64_t seed;     /* weights are a pure function of the config and this */
    int threads;       /* worker threads forward may use (>= 1) */
    size_t max_tokens; /* scratch is sized for forwards of up to this many tokens */
    const char *knobs; /* "key=value,..." family knobs, may be NULL or "" */
    /* A weights file (bench/weights.h) the harness loads after create, over
     * the seeded init; NULL = seeded. Layers never read it: the harness does,
     * through param() and derive(). */
    const char *weights;
};

/* Filled by every forward: exact counts for that call, not estimates. */
struct layer_stats {
    uint64_t flops;         /* 2 x multiply-adds executed, routing/scoring included */
    uint64_t dense_bytes;   /* parameter bytes every forward reads whatever x is */
    uint64_t sparse_bytes;  /* unique expert / value / node bytes touched by this batch */
    uint64_t units_touched; /* unique experts / value rows / tree nodes touched */
    uint64_t units_total;   /* how many such units the layer has */
};

#define LAYER_MAX_REGIONS 8
#define LAYER_KNOBS_LEN   512

/* A contiguous block of parameter memory; the harness evicts these from the
 * caches for cold-cache timing. */
struct layer_region {
    const void *base;
    size_t bytes;
};

/* What describe() reports: sizes and every knob after presets and defaults. */
struct layer_info {
    uint64_t params_total;       /* every parameter the layer stores */
    uint64_t params_active;      /* parameters one token reads (top-k experts, path, ...) */
    const char *unit;            /* what units_* count: "neuron", "expert", "value", "node" */
    char knobs[LAYER_KNOBS_LEN]; /* resolved knobs, "key=value,..." */
    int n_regions;               /* parameter memory, for cache eviction */
    struct layer_region regions[LAYER_MAX_REGIONS];
};

#define LAYER_PARAM_NAME_LEN 64
#define LAYER_PARAM_MAX_DIMS 6

/* The element type a parameter tensor is stored in: the `dtype` knob every
 * family takes. bf16 is the top half of an fp32 (8-bit exponent, 7-bit
 * mantissa), f16 IEEE binary16; both round to nearest even from fp32. */
enum layer_dtype {
    LAYER_F32 = 0,
    LAYER_BF16 = 1,
    LAYER_F16 = 2,
};

/* One parameter tensor as param() lists it: row-major, contiguous, in its
 * stored type, writable in place (the caller then calls derive()). */
struct layer_param {
    char name[LAYER_PARAM_NAME_LEN]; /* unique in the layer: "w1", "experts.3.w2", ... */
    int ndim;                        /* 1 .. LAYER_PARAM_MAX_DIMS */
    uint64_t shape[LAYER_PARAM_MAX_DIMS];
    enum layer_dtype dtype; /* the element type of data */
    void *data;             /* shape's product elements of dtype */
};

/* Every layer object starts with this (SQLite's sqlite3_file pattern). */
struct layer {
    const struct layer_ops *ops;
};

struct layer_ops {
    int abi_version;     /* LAYER_ABI_VERSION */
    const char *name;    /* unique: "dense", "moe", ...; a CSV column value */
    const char *summary; /* one line for `sparsebench list` */

    /* Build a layer: parse and validate cfg->knobs (unknown key or out-of-range
     * value -> LAYER_EKNOB with a message), refuse sizes beyond free memory
     * (LAYER_ETOOBIG), allocate and initialise everything. */
    int (*create)(const struct layer_config *cfg, struct layer **out, char *err, size_t errlen);

    /* Free everything create() took. NULL is a no-op. */
    void (*destroy)(struct layer *l);

    /* y = layer(x) with the optimized kernels; fills *st (may not be NULL).
     * x: (T, D), y: (T, D). */
    int (*forward)(struct layer *l, const float *x, float *y, size_t n_tokens,
                   struct layer_stats *st);

    /* The same function in plain loops: the oracle forward is checked against. */
    int (*forward_ref)(struct layer *l, const float *x, float *y, size_t n_tokens);

    /* Sizes and resolved knobs. Can't fail. */
    void (*describe)(const struct layer *l, struct layer_info *info);

    /* The family's knobs and presets, one per line, for --help. Can't fail. */
    void (*help)(char *buf, size_t len);

    /* Optional (NULL = retrieval is exact): for layers whose optimized
     * selection approximates an exact one, the fraction of the exact
     * top selections that forward() finds for these tokens, in [0, 1]. */
    int (*recall)(struct layer *l, const float *x, size_t n_tokens, double *out);

    /* Optional (NULL: layer_check creates and destroys the layer instead):
     * what create() would return for cfg, with the same message, without
     * allocating anything: knobs, resolved sizes, the memory check. *bytes
     * (when not NULL) gets the bytes create() would allocate (weights,
     * derived tables, scratch, every part of a composite; exact up to
     * alignment padding) when the sizes resolve, on success and on
     * LAYER_ETOOBIG (UINT64_MAX when they overflow 64 bits), else 0. create() runs the same code
     * first, so the two agree by construction; only a failing allocation or thread start
     * (LAYER_ENOMEM, LAYER_ETHREAD) is create's alone. */
    int (*check)(const struct layer_config *cfg, uint64_t *bytes, char *err, size_t errlen);

    /* Optional (NULL: the layer cannot be exported or loaded): parameter
     * tensor i into *p, for i = 0, 1, ... until it returns LAYER_EINVAL.
     * The list is every tensor the seeded init draws and forward reads
     * through derived state or directly; derived state itself (folded
     * BatchNorm, singular vectors, bounds) is not listed. Names and shapes
     * per family: reports/WEIGHTS.md. Can't fail otherwise. */
    int (*param)(struct layer *l, size_t i, struct layer_param *p);

    /* Optional (NULL: nothing is derived): after the caller rewrote tensors
     * through param(), recompute every derived table exactly as create
     * computes it from the seeded ones. Never allocates. */
    int (*derive)(struct layer *l);
};

/* ---- registry (impls/registry.c) ---- */

size_t layer_count(void);
const struct layer_ops *layer_get(size_t i);          /* NULL past the end */
const struct layer_ops *layer_find(const char *name); /* NULL if unknown */

/* Create through the registry, checking the ABI version. */
int layer_create(const struct layer_ops *ops, const struct layer_config *cfg, struct layer **out,
                 char *err, size_t errlen);

/* What layer_create would return for cfg, without building the layer: the
 * same ABI and size checks, then ops->check. A layer without a check op is
 * created and destroyed (slow; *bytes then counts what it allocated). The
 * cheap way to validate a sweep or decide a skip. bytes may be NULL. */
int layer_check(const struct layer_ops *ops, const struct layer_config *cfg, uint64_t *bytes,
                char *err, size_t errlen);
void layer_destroy(struct layer *l);

/* The dense FFN's parameter count at width D, F = 4D: the unit of `scale`. */
uint64_t layer_dense_params(size_t d_model);

#endif
