/* fff.c - the FFF forward for a batch, level by level (`fff`).
 *
 * UltraFastBERT (research/fff.md sections 1.3, 4, 9.7). A per-token walk
 * streams two node rows per visit and cannot reuse a row between tokens.
 * Here tokens move through a tree together, in tiles of up to FFF_TILE
 * tokens kept sorted by their current node, so a node's w_in row is loaded
 * once for every token of the tile standing on it and dotted with four
 * tokens at a time, while the tile's x rows stay in the core's L2 across
 * levels. Sorting costs nothing per level: a bucket's left-going tokens,
 * then its right-going ones, is again sorted by node (2n+1 < 2n+2 <
 * 2(n+1)+1). The walk only keeps each token's activations; one fused pass at
 * the end writes each y row once, summing its path's w_out rows four
 * vectors at a time (four tokens together, a row they share loaded once);
 * a y too big for the caches is written with streaming stores, which skip
 * reading each line in before it is overwritten.
 *
 * The levels are cut into phases (FFF_L2_BUDGET bytes of node rows a
 * subtree). At each phase start the whole batch is counting-sorted by node,
 * so the tiles of a phase walk one subtree after another and each subtree's
 * rows come from DRAM about once per batch rather than once per tile. Tiles
 * are the pool's tasks, on every thread whatever the batch. Tiny batches
 * take the per-token walk (fff_token.c), its tokens split over the threads:
 * there is nothing to share and bucketing only costs.
 *
 * Every dot and every y element's sum rounds exactly like common_vec_dot /
 * common_vec_axpy_dt, so this agrees with fff-token bit for bit. With
 * dtype=bf16|f16 the node rows are read narrow and widened on load (vec.h's
 * common_vec_load_dt; not AVX-512 BF16's vdpbf16ps, which would round the
 * fp32 activations to bf16 too): every kernel below is one body inlined with
 * a constant dtype, the f32 instance the same code as before the knob.
 * Leaves out: training.
 */
#include "fff.h"

#include <stdio.h>

extern const struct layer_ops fff_ops;

/* Below this many tokens the per-token walk is as fast (measured on one
 * thread, cold cache: equal at T = 2, the level kernel 20% ahead at T = 4):
 * there is next to nothing to share. Every batch, even of 2 tokens, uses
 * all threads: a cold batch waits on its node rows from DRAM, and one core
 * keeps too few row reads in flight to reach the machine's random-read
 * rate (the probe's gather: 7.6-8.6 GB/s on one thread, 16.1 on two).
 * Measured paired, 1x11, two threads over one: 1.38x at T = 2, 1.32x at
 * 4, 1.33x at 16, 1.57x at 32, 1.27-1.29x at 64. */
#define FFF_LEVEL_MIN_TOKENS 4
/* Node rows (w_in and w_out) one phase's subtree may hold: half of a 1 MiB
 * L2, the other half for the tile's tokens. */
#define FFF_L2_BUDGET        (512u << 10)
/* From this many bytes of y on, y is written with streaming stores: a y
 * half the size of the 32 MiB L3 would not be in cache for its reader
 * anyway, and a normal store first reads each line in (at 16384 tokens,
 * 48 MiB read for nothing: 18.2-18.7 ms per forward with normal stores,
 * 14.7-14.9 with streaming ones). */
#define FFF_STREAM_MIN_BYTES (16u << 20)
/* A new phase is worth its batch-wide sort when each of its subtrees gets
 * this many tokens on average. */
#define FFF_PHASE_MIN_TOKENS 4

struct level_job {
    struct fff *f;
    const float *x; /* (T, D) */
    float *y;       /* (T, D) */
    size_t n_tokens, tile, tree;
    int level0, level1; /* this phase's levels [level0, level1) */
    int stream;         /* y is written with streaming stores (FFF_STREAM_MIN_BYTES) */
};

/* The tile's per-worker arrays, carved from f->tile_scratch. */
struct tile {
    uint32_t *tok, *node;           /* (m) sorted by node */
    uint32_t *tok_next, *node_next; /* (m) the next level's order */
    float *z, *a;                   /* (m) pre-activations, activations */
};

static struct tile tile_arrays(const struct fff *f, int worker)
{
    uint32_t *p = (uint32_t *)(f->tile_scratch + (size_t)worker * f->tile_bytes);
    struct tile t = {p, p + FFF_TILE, p + 2 * FFF_TILE, p + 3 * FFF_TILE, NULL, NULL};
    t.z = (float *)(p + 4 * FFF_TILE);
    t.a = t.z + FFF_TILE;
    return t;
}

/* Pre-activations of the m tokens standing on node `row`, four at a time.
 * At a phase's first level (fetch_x) the x rows come from DRAM, and the
 * next four tokens' rows are fetched meanwhile; at the other levels they
 * are in L2 and the fetch instructions only queue behind the dots' own
 * misses (measured paired, 1x11 at T = 16384: 1.037x [1.032, 1.049]
 * faster without them there). */
static inline __attribute__((always_inline)) void bucket_dots(enum layer_dtype dt,
                                                              const struct fff *f, const float *x,
                                                              const uint32_t *tok, size_t m,
                                                              size_t row, float *z, int fetch_x)
{
    const size_t D = f->d_model;
    const void *w = fff_row(f, f->w_in, row);
    const float bias = f->b ? f->b[row] : 0.0f;
    size_t q = 0;
    for (; q + 4 <= m; q += 4) {
        if (fetch_x)
            for (size_t r = q + 4; r < q + 8 && r < m; r++)
                common_prefetch_row(x + tok[r] * D, D);
        const float *xs[4] = {x + tok[q] * D, x + tok[q + 1] * D, x + tok[q + 2] * D,
                              x + tok[q + 3] * D};
        common_vec_dot4_dt(dt, w, xs, D, z + q);
    }
    for (; q < m; q++)
        z[q] = common_vec_dot_dt(dt, w, x + tok[q] * D, D);
    for (q = 0; q < m; q++)
        z[q] += bias;
}

/* Left-going tokens of the bucket, then right-going ones, each in order. */
static void bucket_split(const struct tile *t, size_t i, size_t j)
{
    size_t out = i;
    uint32_t left = 2 * t->node[i] + 1;
    for (size_t q = i; q < j; q++)
        if (!(t->z[q] > 0.0f)) {
            t->tok_next[out] = t->tok[q];
            t->node_next[out++] = left;
        }
    for (size_t q = i; q < j; q++)
        if (t->z[q] > 0.0f) {
            t->tok_next[out] = t->tok[q];
            t->node_next[out++] = left + 1;
        }
}

static size_t bucket_end(const struct tile *t, size_t i, size_t m)
{
    size_t j = i + 1;
    while (j < m && t->node[j] == t->node[i])
        j++;
    return j;
}

/* One level of one tile: every bucket's dots and GELUs, the activations
 * kept for the output pass, and the split into the next level's order. The
 * next bucket's w_in row is fetched while this one runs. Its w_out row is
 * not fetched ahead for the output pass: in a cold batch those fetches
 * compete with the walk's own w_in reads for the same few misses in
 * flight, and the output pass reads its rows as streams anyway (measured
 * paired, 1x11, without them: 1.10x [1.02, 1.18] at T = 64, 1.09x
 * [0.98, 1.21] at 1024, 1.02x [1.00, 1.05] at 16384). */
static inline __attribute__((always_inline)) size_t tile_level(enum layer_dtype dt, struct fff *f,
                                                               const struct level_job *job,
                                                               struct tile *t, size_t m, int level,
                                                               unsigned char *marks)
{
    const size_t base = job->tree * f->tree_nodes;
    const size_t levels = (size_t)f->knobs.depth + 1;
    size_t i = 0, j = bucket_end(t, 0, m);
    while (i < m) {
        size_t row = base + t->node[i], next = j < m ? bucket_end(t, j, m) : m;
        if (j < m)
            common_prefetch_bytes(fff_row(f, f->w_in, base + t->node[j]), f->row_bytes);
        bucket_dots(dt, f, job->x, t->tok + i, j - i, row, t->z + i, level == job->level0);
        marks[row] = 1;
        bucket_split(t, i, j);
        i = j;
        j = next;
    }
    /* One GELU call for the whole level: deep buckets hold one or two
     * tokens, too few for the vector GELU's lanes. activation=0 (the
     * published fff_l2's flaw) adds each path row unscaled. */
    if (f->knobs.activation) {
        memcpy(t->a, t->z, m * sizeof(*t->a));
        common_gelu(t->a, m);
    } else {
        for (size_t q = 0; q < m; q++)
            t->a[q] = 1.0f;
    }
    for (size_t q = 0; q < m; q++)
        f->acts[(size_t)t->tok[q] * levels + (size_t)level] = t->a[q];
    return m;
}

static inline void stream_store(float *p, common_vec v)
{
#if defined(__AVX512F__)
    _mm512_stream_ps(p, (__m512)v);
#elif defined(__AVX__)
    _mm256_stream_ps(p, (__m256)v);
#else
    common_vec_store(p, v);
#endif
}

/* Vectors of each token's y a pass of group_output keeps in registers: four
 * tokens x 4 = 16 accumulators, plus the 4 vectors of a shared row. */
#define FFF_OUT_BLOCK 4

/* y (+)= sum over the path of a[level] w_out[node] for a group of up to
 * four tokens, FFF_OUT_BLOCK vectors at a time through all levels: each y
 * element sees exactly common_vec_axpy_dt's sequence of operations, so the
 * sum is the per-token walk's to the bit, but each y row is written once
 * instead of read and written once per level. A level whose node the four
 * tokens share (the top of the tree, and most of a path at large batches,
 * where a node-sorted group often ends in one leaf) loads its row once for
 * all four: loads, not FMAs, bound this loop (measured paired, 1x11,
 * against two vectors a pass and every row loaded per token: 1.15x
 * [1.08, 1.21] at T = 64, 1.06x [0.98, 1.11] at 1024, 1.02x [1.01, 1.09]
 * at 16384). end_node is where a walk stopped, one level below its last
 * node. */
static inline __attribute__((always_inline)) void
group_output(enum layer_dtype dt, const struct fff *f, size_t tree, const uint32_t *end_node,
             const float *const a[4], float *const y[4], int g, int job_streams)
{
    const size_t D = f->d_model, base = tree * f->tree_nodes;
    const int levels = (int)f->knobs.depth + 1, first = tree == 0;
    const int stream = first && f->knobs.trees == 1 && D % (2 * COMMON_VL) == 0 && job_streams &&
                       ((uintptr_t)y[0] | (uintptr_t)y[1 < g ? 1 : 0] |
                        (uintptr_t)y[2 < g ? 2 : 0] | (uintptr_t)y[3 < g ? 3 : 0]) %
                               sizeof(common_vec) ==
                           0;
    const void *rows[FFF_MAX_DEPTH + 1][4];
    float as[FFF_MAX_DEPTH + 1][4]; /* 0 + a, as common_vec_axpy_dt broadcasts it */
    uint32_t shared = 0;
    for (int j = 0; j < 4; j++) {
        /* A short group computes its first token again in the empty
         * slots, so the loops below have no branch; only g rows are stored. */
        int src = j < g ? j : 0;
        uint32_t n = end_node[src];
        for (int l = levels - 1; l >= 0; l--) {
            n = (n - 1) / 2;
            rows[l][j] = fff_row(f, f->w_out, base + n);
            as[l][j] = 0.0f + a[src][l];
        }
    }
    for (int l = 0; l < levels; l++)
        if (rows[l][0] == rows[l][1] && rows[l][0] == rows[l][2] && rows[l][0] == rows[l][3])
            shared |= 1u << l;
    size_t i = 0;
    for (; i + FFF_OUT_BLOCK * COMMON_VL <= D; i += FFF_OUT_BLOCK * COMMON_VL) {
        common_vec v[4][FFF_OUT_BLOCK];
        for (int j = 0; j < 4; j++) {
            common_vec av = common_vec_set1(as[0][j]);
            for (int c = 0; c < FFF_OUT_BLOCK; c++) {
                common_vec w = common_vec_load_dt(dt, rows[0][j], i + c * COMMON_VL);
                v[j][c] = first ? av * w
                                : common_vec_fma(
                                      av, w, common_vec_load(y[j < g ? j : 0] + i + c * COMMON_VL));
            }
        }
        for (int l = 1; l < levels; l++) {
            if (shared >> l & 1) {
                common_vec w[FFF_OUT_BLOCK];
                for (int c = 0; c < FFF_OUT_BLOCK; c++)
                    w[c] = common_vec_load_dt(dt, rows[l][0], i + c * COMMON_VL);
                for (int j = 0; j < 4; j++) {
                    common_vec av = common_vec_set1(as[l][j]);
                    for (int c = 0; c < FFF_OUT_BLOCK; c++)
                        v[j][c] = common_vec_fma(av, w[c], v[j][c]);
                }
            } else {
                for (int j = 0; j < 4; j++) {
                    common_vec av = common_vec_set1(as[l][j]);
                    for (int c = 0; c < FFF_OUT_BLOCK; c++)
                        v[j][c] = common_vec_fma(
                            av, common_vec_load_dt(dt, rows[l][j], i + c * COMMON_VL), v[j][c]);
                }
            }
        }
        for (int j = 0; j < g; j++)
            for (int c = 0; c < FFF_OUT_BLOCK; c++) {
                if (stream)
                    stream_store(y[j] + i + c * COMMON_VL, v[j][c]);
                else
                    common_vec_store(y[j] + i + c * COMMON_VL, v[j][c]);
            }
    }
    for (; i + COMMON_VL <= D; i += COMMON_VL)
        for (int j = 0; j < g; j++) {
            common_vec av0 = common_vec_set1(as[0][j]);
            common_vec w = common_vec_load_dt(dt, rows[0][j], i);
            common_vec v = first ? av0 * w : common_vec_fma(av0, w, common_vec_load(y[j] + i));
            for (int l = 1; l < levels; l++)
                v = common_vec_fma(common_vec_set1(as[l][j]), common_vec_load_dt(dt, rows[l][j], i),
                                   v);
            common_vec_store(y[j] + i, v);
        }
    for (; i < D; i++)
        for (int j = 0; j < g; j++) {
            float w0 = common_dtype_at(dt, rows[0][j], i);
            float v = first ? a[j][0] * w0 : y[j][i] + a[j][0] * w0;
            for (int l = 1; l < levels; l++)
                v += a[j][l] * common_dtype_at(dt, rows[l][j], i);
            y[j][i] = v;
        }
}

static inline __attribute__((always_inline)) void tile_output(enum layer_dtype dt,
                                                              const struct fff *f,
                                                              const struct level_job *job,
                                                              const struct tile *t, size_t m)
{
    const size_t D = f->d_model, levels = (size_t)f->knobs.depth + 1;
    for (size_t q = 0; q < m; q += 4) {
        int g = m - q < 4 ? (int)(m - q) : 4;
        const float *a[4];
        float *y[4];
        for (int j = 0; j < g; j++) {
            a[j] = f->acts + (size_t)t->tok[q + j] * levels;
            y[j] = job->y + (size_t)t->tok[q + j] * D;
        }
        /* The next group's y rows are fetched for writing, unless y is
         * streamed: then the fetch reads from DRAM the very lines the
         * streaming stores exist not to read (measured paired, 1x11 at
         * T = 16384: 1.057-1.083x faster without it). */
        if (!job->stream)
            for (size_t r = q + 4; r < q + 8 && r < m; r++)
                for (size_t i = 0; i < D; i += 64 / sizeof(float))
                    __builtin_prefetch(job->y + t->tok[r] * D + i, 1);
        group_output(dt, f, job->tree, t->node + q, a, y, g, job->stream);
    }
    if (job->stream)
        _mm_sfence(); /* the streamed rows are visible before the pool's join */
}

static inline __attribute__((always_inline)) void tile_task_dt(enum layer_dtype dt, void *arg,
                                                               size_t task, int worker)
{
    const struct level_job *job = arg;
    struct fff *f = job->f;
    struct tile t = tile_arrays(f, worker);
    const int last_phase = job->level1 == (int)f->knobs.depth + 1;
    size_t p0 = task * job->tile;
    size_t m = job->n_tokens - p0 < job->tile ? job->n_tokens - p0 : job->tile;
    size_t visits = 0;
    unsigned char *marks = f->marks + (size_t)worker * f->n_nodes;
    for (size_t q = 0; q < m; q++) {
        t.tok[q] = job->level0 == 0 ? (uint32_t)(p0 + q) : f->order[p0 + q];
        t.node[q] = job->level0 == 0 ? 0 : f->node_of[t.tok[q]];
    }
    for (int level = job->level0; level < job->level1; level++) {
        visits += tile_level(dt, f, job, &t, m, level, marks);
        struct tile swapped = {t.tok_next, t.node_next, t.tok, t.node, t.z, t.a};
        t = swapped;
    }
    if (last_phase)
        tile_output(dt, f, job, &t, m);
    else
        for (size_t q = 0; q < m; q++)
            f->node_of[t.tok[q]] = t.node[q];
    f->visits[(size_t)worker * 8] += visits;
}

/* tile_task_dt's three instances, one per dtype: the pool's task bodies. */
static void tile_task_f32(void *arg, size_t task, int worker)
{
    tile_task_dt(LAYER_F32, arg, task, worker);
}

static void tile_task_bf16(void *arg, size_t task, int worker)
{
    tile_task_dt(LAYER_BF16, arg, task, worker);
}

static void tile_task_f16(void *arg, size_t task, int worker)
{
    tile_task_dt(LAYER_F16, arg, task, worker);
}

/* Stable counting sort of all tokens by their node at `level` into order. */
static void sort_by_node(struct fff *f, size_t n_tokens, int level)
{
    const uint32_t first = (1u << level) - 1, buckets = 1u << level;
    uint32_t *c = f->counts;
    memset(c, 0, (buckets + 1) * sizeof(*c));
    for (size_t t = 0; t < n_tokens; t++)
        c[f->node_of[t] - first + 1]++;
    for (uint32_t b = 0; b < buckets; b++)
        c[b + 1] += c[b];
    for (size_t t = 0; t < n_tokens; t++)
        f->order[c[f->node_of[t] - first]++] = (uint32_t)t;
}

/* Levels per phase: the deepest subtree whose rows fit FFF_L2_BUDGET. */
static int phase_levels(const struct fff *f)
{
    size_t row_pair = 2 * f->d_model * sizeof(float), nodes = FFF_L2_BUDGET / row_pair;
    int p = 1;
    while (((size_t)2 << p) - 1 <= nodes && p < FFF_MAX_DEPTH)
        p++;
    return p;
}

static void forward_levels(struct fff *f, const float *x, float *y, size_t n_tokens)
{
    const int levels = (int)f->knobs.depth + 1;
    const int per_phase = phase_levels(f);
    size_t tile = (n_tokens + (size_t)f->threads - 1) / (size_t)f->threads;
    tile = tile < FFF_TILE ? tile : FFF_TILE;
    size_t n_tiles = (n_tokens + tile - 1) / tile;
    const common_pool_fn tile_task = f->dt == LAYER_BF16  ? tile_task_bf16
                                     : f->dt == LAYER_F16 ? tile_task_f16
                                                          : tile_task_f32;
    for (size_t k = 0; k < (size_t)f->knobs.trees; k++) {
        for (int level0 = 0; level0 < levels;) {
            int level1 = level0 + per_phase < levels ? level0 + per_phase : levels;
            size_t subtrees = (size_t)1 << level1;
            if (level1 < levels &&
                (subtrees > f->sort_buckets || n_tokens < FFF_PHASE_MIN_TOKENS * subtrees))
                level1 = levels;
            if (level0 > 0)
                sort_by_node(f, n_tokens, level0);
            struct level_job job = {
                f,        x,      y,
                n_tokens, tile,   k,
                level0,   level1, n_tokens * f->d_model * sizeof(float) >= FFF_STREAM_MIN_BYTES};
            common_pool_run(f->pool, n_tiles, tile_task, &job);
            level0 = level1;
        }
    }
}

static int fff_create(const struct layer_config *cfg, struct layer **out, char *err, size_t errlen)
{
    struct fff *f;
    int rc = fff_create_layer(cfg, &fff_ops, 1, &f, err, errlen);
    *out = rc ? NULL : &f->base;
    return rc;
}

static int fff_forward(struct layer *l, const float *x, float *y, size_t n_tokens,
                       struct layer_stats *st)
{
    struct fff *f = (struct fff *)l;
    if (n_tokens > f->max_tokens)
        return LAYER_EINVAL;
    fff_stats_begin(f);
    if (n_tokens < FFF_LEVEL_MIN_TOKENS)
        fff_walk_parallel(f, x, y, n_tokens);
    else
        forward_levels(f, x, y, n_tokens);
    fff_stats_end(f, n_tokens, st);
    return LAYER_OK;
}

const struct layer_ops fff_ops = {
    .abi_version = LAYER_ABI_VERSION,
    .name = "fff",
    .summary = "UltraFastBERT FFF, level-by-level over node-sorted token tiles (preset=1x11)",
    .create = fff_create,
    .check = fff_check_level,
    .destroy = fff_destroy,
    .forward = fff_forward,
    .forward_ref = fff_forward_ref,
    .describe = fff_describe,
    .help = fff_help,
    .param = fff_param,
};
