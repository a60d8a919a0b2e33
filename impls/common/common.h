/* common.h - shared kernels and helpers for every layer family.
 *
 * Everything here is small and dependency-free apart from libm and pthreads:
 * seeded RNG, aligned allocation, a memory-fit check and the layouts carved
 * out of those blocks, exact-erf GELU, top-k selection, the key=value knob
 * parser, a tiny thread pool and the gather-reduce used by the memory
 * layers. Each piece has its own file.
 */
#ifndef SPARSEBENCH_COMMON_H
#define SPARSEBENCH_COMMON_H

#include "../layer.h"

#include <stddef.h>
#include <stdint.h>

/* ---- alloc.c ---- */

#define COMMON_ALIGN 64

/* Zeroed, COMMON_ALIGN-aligned block; NULL on failure or bytes == 0.
 * Free with common_free (NULL is a no-op). */
void *common_alloc(size_t bytes);
void common_free(void *p);

/* A block that is allocated and never written (weights=unwritten, the
 * published FFF benchmark's flaw, research/fff.md section 2.2b): fresh
 * anonymous pages, so every read sees zeros and, until something writes,
 * all of it maps the kernel's one shared zero page. NULL on failure or
 * bytes == 0; free with common_free_unwritten and the same bytes. */
void *common_alloc_unwritten(size_t bytes);
void common_free_unwritten(void *p, size_t bytes);

/* LAYER_ETOOBIG with a message when `bytes` exceed 90% of the available
 * memory (common_mem_available);
 * checked before allocating anything big. 0 when it fits or when the
 * amount of free memory cannot be read. */
int common_mem_check(uint64_t bytes, const char *who, char *err, size_t errlen);

/* Bytes available now: the smaller of MemAvailable and what the process's
 * memory cgroup (v1 or v2) still allows; 0 if neither can be read. */
uint64_t common_mem_available(void);
/* What the memory cgroup still allows (limit - usage); UINT64_MAX for none.
 * $SPARSEBENCH_CGROUP_ROOT / $SPARSEBENCH_PROC_CGROUP replace /sys/fs/cgroup
 * and /proc/self/cgroup (for tests). */
uint64_t common_cgroup_room(void);

/* Bytes and blocks common_alloc handed out since the program started, for
 * the tests that hold check's figure against what create allocated. */
void common_alloc_counts(uint64_t *bytes, uint64_t *calls);

/* ---- carve.c: one layout sizes a block and carves it ----
 * A layout function takes every piece of a block in order with
 * common_carve. Its first run, on a carve from common_carve_plan (no
 * base), only adds the sizes up; common_carve_alloc allocates the block at
 * that size and rewinds it; the second run hands out the pieces. */

struct common_carve {
    char *base;    /* NULL in the sizing pass */
    uint64_t used; /* bytes laid out so far */
    uint64_t size; /* the block's bytes, set by common_carve_alloc */
    size_t align;  /* every piece starts on a multiple of it: a power of 2, <= COMMON_ALIGN */
    int overflow;  /* a size did not fit in 64 bits; used is then UINT64_MAX */
    int unwritten; /* common_carve_alloc takes common_alloc_unwritten: never written */
};

static inline struct common_carve common_carve_plan(size_t align)
{
    return (struct common_carve){NULL, 0, 0, align, 0, 0};
}

/* The next n x size bytes of the block, on the alignment: a pointer into
 * base, or NULL in the sizing pass and for an empty piece (n x size = 0). */
void *common_carve(struct common_carve *c, size_t n, size_t size);

/* Allocate n sized blocks (common_alloc, zeroed; common_alloc_unwritten
 * for a block marked unwritten) and rewind them for the
 * second pass; LAYER_ENOMEM when one fails (free them all the same). An
 * empty block stays NULL. */
int common_carve_alloc(struct common_carve *blocks, size_t n);
void common_carve_free(struct common_carve *blocks, size_t n); /* NULL bases are no-ops */

/* *bytes = the sum of n sized blocks, and the memory check of that sum
 * (common_mem_check, or LAYER_ETOOBIG when a size overflowed). */
int common_carve_fit(const struct common_carve *blocks, size_t n, const char *who, uint64_t *bytes,
                     char *err, size_t errlen);

/* ---- rng.c: xoshiro256** seeded by splitmix64 ---- */

struct common_rng {
    uint64_t s[4];
};

/* Independent stream `stream` of generator `seed`: each tensor draws from
 * its own stream so that its values do not depend on creation order. */
void common_rng_seed(struct common_rng *r, uint64_t seed, uint64_t stream);
uint64_t common_rng_u64(struct common_rng *r);
uint64_t common_rng_below(struct common_rng *r, uint64_t n); /* uniform in [0, n), n > 0 */
double common_rng_uniform(struct common_rng *r);             /* [0, 1) */
double common_rng_normal(struct common_rng *r);              /* N(0, 1) */
void common_rng_fill_normal(struct common_rng *r, float *p, size_t n, float std);
void common_rng_fill_uniform(struct common_rng *r, float *p, size_t n, float lo, float hi);
/* p[0..n) = a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void common_rng_permutation(struct common_rng *r, uint32_t *p, size_t n);

/* ---- gelu.c: exact-erf GELU, x * Phi(x) ---- */

/* Plain libm reference: 0.5 x (1 + erff(x / sqrt 2)). */
float common_gelu_ref(float x);
/* Vectorised; within 1e-6 * max(1, |x|) of common_gelu_ref. */
void common_gelu(float *x, size_t n);
/* h[t][f] = gelu(h[t][f] + b[f]) for a (T, F) block; b may be NULL. */
void common_bias_gelu(float *h, const float *b, size_t n_tokens, size_t width);

/* ---- topk.c ---- */

/* The k largest of v[0..n) with their indices, sorted by value descending;
 * equal values are ordered by index ascending, so ties are deterministic.
 * Requires 1 <= k <= n and no NaN in v. A heap: for small k. */
void common_topk(const float *v, size_t n, size_t k, float *out_val, uint32_t *out_idx);

/* The same k as a set: their positions into pos[0..k), ascending (all n
 * when k >= n). Scratch: pos n + 16 entries, keys n. Requires 1 <= k, no
 * NaN in v. A threshold search: for k/n that is not tiny. */
void common_topk_set(const float *v, size_t n, size_t k, uint32_t *pos, uint32_t *keys);

/* Candidates for the k best of v[0..n): pos[0..c) = the positions,
 * ascending, of every value at or above a threshold no larger than the
 * k-th largest value, so the k best are among them; returns c >= min(k, n).
 * c <= k + slack unless ties at the threshold prevent it, and then the
 * threshold is exactly the k-th largest value. keys[i] is left holding
 * v[i]'s order-preserving integer image (equal floats, -0 and +0 included,
 * get equal keys). Scratch as common_topk_set. */
size_t common_topk_candidates(const float *v, size_t n, size_t k, size_t slack, uint32_t *pos,
                              uint32_t *keys);

/* ---- gemm_small.c: a few rows of A against a streamed B ---- */

/* Above this many rows of A, OpenBLAS's sgemm is the better choice (its
 * cache blocking pays for its packing; measurements: the callers). */
#define COMMON_GEMM_SMALL_MAX_M 128

/* C[m][n] (= or, accumulate != 0, +=) A[m] . B[n] for m < M, n < N: A (M,
 * K) and B (N, K) row-major with leading dimensions lda, ldb, C (M, N) with
 * ldc. Every row of B is read once. Single-threaded, no allocation. */
void common_gemm_small_nt(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B,
                          size_t ldb, float *C, size_t ldc, int accumulate);

/* ---- knobs.c: "key=value,..." strings ---- */

enum common_knob_type {
    COMMON_KNOB_INT,  /* stored as long */
    COMMON_KNOB_REAL, /* stored as double */
    COMMON_KNOB_BOOL, /* stored as int, 0 or 1 */
    COMMON_KNOB_STR,  /* stored as char[COMMON_KNOB_STR_LEN] */
};

#define COMMON_KNOB_STR_LEN 32

struct common_knob {
    const char *name;
    enum common_knob_type type;
    size_t offset;    /* of the value inside the family's knob struct */
    double min, max;  /* allowed range for INT and REAL */
    const char *help; /* one line */
};

struct common_preset {
    const char *name;
    const char *knobs; /* applied first; the user's other knobs override it */
};

struct common_knob_set {
    const char *family;
    const struct common_knob *knobs;
    size_t n_knobs;
    const struct common_preset *presets; /* may be NULL */
    size_t n_presets;
};

/* Parse `str` (NULL or "" = nothing) into the struct at dst. `preset=NAME`
 * anywhere in the string is applied first. *set_mask gets bit i for every
 * knob i given (by the user or the preset); may be NULL. Returns 0 or
 * LAYER_EKNOB with a message naming the knob, its value and what is allowed. */
int common_knobs_parse(const struct common_knob_set *ks, const char *str, void *dst,
                       uint64_t *set_mask, char *err, size_t errlen);

/* The `weights` knob of the dense and FFF families: "random" (seeded, as
 * always) or "unwritten" (allocated, never written). *unwritten = 0 or 1;
 * LAYER_EKNOB with a message naming the value otherwise. */
#define COMMON_WEIGHTS_HELP                                                                        \
    "random (default) | unwritten: allocated, never written (zero pages; research/fff.md 2.2b)"
int common_weights_parse(const char *family, const char *value, int *unwritten, char *err,
                         size_t errlen);

/* "name=value,..." for every knob, into buf. */
void common_knobs_format(const struct common_knob_set *ks, const void *src, char *buf, size_t len);

/* Allowed knobs and presets, one per line, for --help and `list -v`. */
void common_knobs_help(const struct common_knob_set *ks, char *buf, size_t len);

/* ---- dtype.c: the narrow parameter types (the dtype knob) ----
 * Rounding is to nearest even; widening is exact. */

#define COMMON_DTYPE_HELP                                                                          \
    "f32 (default) | bf16 | f16: the stored type of the parameter tensors the kernels stream; "    \
    "activations and sums stay fp32"

uint16_t common_f32_to_bf16(float f);
float common_bf16_to_f32(uint16_t h);
uint16_t common_f32_to_f16(float f); /* beyond f16's range: infinity */
float common_f16_to_f32(uint16_t h);

size_t common_dtype_size(enum layer_dtype dt);      /* bytes per element: 4 or 2 */
const char *common_dtype_name(enum layer_dtype dt); /* "f32", "bf16", "f16" */
/* value "f32" | "bf16" | "f16" into *dt; LAYER_EKNOB with a message otherwise. */
int common_dtype_parse(const char *family, const char *value, enum layer_dtype *dt, char *err,
                       size_t errlen);
/* f rounded to dt and widened back: what a stored element of dt reads as. */
float common_dtype_round(enum layer_dtype dt, float f);
/* Element i of a dt array, widened (the references' load; vec.h has the
 * kernels' vector loads). */
static inline float common_dtype_at(enum layer_dtype dt, const void *p, size_t i)
{
    if (dt == LAYER_BF16)
        return common_bf16_to_f32(((const uint16_t *)p)[i]);
    if (dt == LAYER_F16)
        return common_f16_to_f32(((const uint16_t *)p)[i]);
    return ((const float *)p)[i];
}
void common_dtype_store(enum layer_dtype dt, void *dst, size_t i, float f); /* rounded */
/* dst[0..n) = src rounded to dt; dst may be src itself (in-place narrowing). */
void common_dtype_narrow(enum layer_dtype dt, void *dst, const float *src, size_t n);
/* dst[0..n) = src widened to fp32. */
void common_dtype_widen(enum layer_dtype dt, float *dst, const void *src, size_t n);

/* ---- pool.c: a fixed set of worker threads ---- */

struct common_pool;

/* A task body: task is in [0, n_tasks), worker in [0, threads). */
typedef void (*common_pool_fn)(void *arg, size_t task, int worker);

/* threads counts the caller: threads == 1 starts no thread at all. */
int common_pool_create(struct common_pool **out, int threads);
void common_pool_destroy(struct common_pool *p); /* NULL is a no-op */
int common_pool_threads(const struct common_pool *p);
/* Run fn for every task, the caller included as worker 0; returns when all
 * tasks are done. Tasks are claimed dynamically, in increasing order. */
void common_pool_run(struct common_pool *p, size_t n_tasks, common_pool_fn fn, void *arg);

/* ---- gather.c: the memory layers' value read ---- */

/* y[0..dim) += sum_i w[i] * table[rows[i] * stride + 0..dim), streaming each
 * row once and prefetching the next ones. */
void common_gather_reduce(float *y, const float *table, size_t stride, const uint32_t *rows,
                          const float *w, size_t n, size_t dim);
/* Plain-loop twin of common_gather_reduce. */
void common_gather_reduce_ref(float *y, const float *table, size_t stride, const uint32_t *rows,
                              const float *w, size_t n, size_t dim);

/* ---- ffn.c: the GELU feed-forward block, y = W2 gelu(W1 x + b1) + b2 ----
 * Shared by the dense layer and every MoE expert. Weights are neuron rows:
 * w1 is (F, D) like a PyTorch Linear weight, w2 is (F, D) so neuron f's
 * output vector is one contiguous row (as FFF stores its nodes). w1 and w2
 * are stored as dtype (the dtype knob); the biases stay fp32. */

struct common_ffn {
    size_t d_model;         /* D */
    size_t width;           /* F */
    const void *w1;         /* (F, D) of dtype */
    const float *b1;        /* (F), or NULL for no bias */
    const void *w2;         /* (F, D) of dtype */
    const float *b2;        /* (D), or NULL for no bias */
    enum layer_dtype dtype; /* of w1 and w2; LAYER_F32 (0) when left out of an initializer */
};

/* Draw w1, w2 (and b1, b2 when not NULL) from N(0, 0.02), the BERT/GPT init,
 * from streams derived from `stream`: two calls with equal arguments give
 * equal bytes whatever else the caller initialised before. */
void common_ffn_init(float *w1, float *b1, float *w2, float *b2, size_t d_model, size_t width,
                     uint64_t seed, uint64_t stream);
/* The same draws with w1 and w2 stored as dt: each fp32 value as
 * common_ffn_init draws it, rounded to nearest even, so an f32 and a bf16
 * layer of one seed are the same model up to that rounding. */
void common_ffn_init_typed(enum layer_dtype dt, void *w1, float *b1, void *w2, float *b2,
                           size_t d_model, size_t width, uint64_t seed, uint64_t stream);

/* Floats of the `wide` scratch common_ffn_forward needs for this FFN: 0 at
 * f32; for narrow weights one tile of neuron rows widened to fp32 for
 * sgemm (above 128 tokens). */
size_t common_ffn_wide_floats(const struct common_ffn *ffn);

/* y (T, D) = ffn(x (T, D)): up to 128 tokens the weights stream once
 * through ffn.c's register-blocked kernel, split over pool, or on the
 * caller's thread when pool is NULL or has one thread (there also at
 * T = 1); otherwise OpenBLAS, sgemv at T = 1 and sgemm above. Narrow
 * weights (bf16, f16) stream at every T up to 128, T = 1 included, widened
 * on load; above, tile by tile of neurons widened into `wide`
 * (common_ffn_wide_floats; may be NULL at f32) and one sgemm each way per
 * tile. h is (T, F) scratch. pool also runs the bias+GELU pass; the caller
 * has set OpenBLAS's thread count. Every streamed output is the same floats
 * whatever the thread count or the other tokens in the call. */
void common_ffn_forward(const struct common_ffn *ffn, const float *x, size_t n_tokens, float *h,
                        float *y, float *wide, struct common_pool *pool);

/* The same in plain loops, one neuron at a time, reading the stored
 * (narrow) weights through common_dtype_at; needs no scratch. */
void common_ffn_forward_ref(const struct common_ffn *ffn, const float *x, size_t n_tokens,
                            float *y);

/* 2 x multiply-adds of one forward over T tokens. */
uint64_t common_ffn_flops(const struct common_ffn *ffn, size_t n_tokens);
/* Parameter count (weights and biases present). */
uint64_t common_ffn_params(const struct common_ffn *ffn);
/* Their bytes as stored: w1 and w2 of dtype, fp32 biases. */
uint64_t common_ffn_bytes(const struct common_ffn *ffn);

/* ---- param.c: the tensors layer_ops.param lists ---- */

/* *p = {name (prefix then name), ndim, shape[0..ndim), LAYER_F32, data}; LAYER_OK. */
int common_param(struct layer_param *p, const char *prefix, const char *name, float *data, int ndim,
                 const uint64_t *shape);
/* The same for a tensor stored as dt. */
int common_param_typed(struct layer_param *p, const char *prefix, const char *name, void *data,
                       enum layer_dtype dt, int ndim, const uint64_t *shape);
/* Tensors of a GELU FFN: w1 (F, D), w2 (F, D), then b1 (F), b2 (D) when it
 * has biases. */
size_t common_ffn_n_params(const struct common_ffn *ffn);
/* Tensor i of them, named prefix + "w1" etc.; LAYER_EINVAL past the end.
 * The FFN's tensors are const for forward; the owner made them writable. */
int common_ffn_param(const struct common_ffn *ffn, const char *prefix, size_t i,
                     struct layer_param *p);

/* ---- blas.c ---- */

/* OpenBLAS's thread count is process-global; every BLAS-using forward sets
 * it to its own budget first (cheap when unchanged). */
void common_blas_threads(int threads);

#endif
