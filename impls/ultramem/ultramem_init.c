/* ultramem_init.c - UltraMem v1's weights and inference constants.
 *
 * Initialisation as the official v1 code's reset_parameters
 * (research/ultramem_pkm.md section 1.4): query and key LayerNorm weights
 * 1/Dk^0.33 (no bias, OLMo's LayerNorm), query_proj and keys N(0, Dk^-1/2),
 * values_proj N(0, (E Dv)^-1/2), values N(0, 0.02), Tucker cores U(0, 1),
 * shuffle_index a random permutation of the E N virtual values. Each tensor
 * draws from its own RNG stream; the value table, hundreds of MB, is drawn
 * in fixed chunks with one stream each so the pool can fill it in parallel
 * and the bytes do not depend on the thread count. A narrow table
 * (ultramem.h, "dtype") gets the same fp32 draws, rounded to nearest even
 * through a small buffer: no fp32 copy of it exists.
 *
 * Inference constants (section 1.3 step 2, section 7 item 5): the keys'
 * LayerNorm is applied here once, and u, v, the leading singular vectors of
 * each head's summed core, are computed here once (the code recomputes them
 * once per training step; at inference they are constant buffers). Left
 * out: the paper's "improved init" (the released code does not use it).
 */
#include "ultramem.h"

#include <math.h>
#include <string.h>

enum ultramem_stream {
    STREAM_QUERY = 1,
    STREAM_KEYS = 2,
    STREAM_CORES = 3,
    STREAM_OUT = 4,
    STREAM_SHUFFLE = 5,
    STREAM_VALUES = 0x1000, /* + chunk number */
};

#define VALUE_CHUNK  (1u << 20) /* floats per value-table RNG stream */
#define VALUE_STD    0.02f
#define JACOBI_ITERS 64

#define NARROW_BUF 1024 /* floats drawn at a time before rounding to a narrow dtype */

struct fill_job {
    void *values; /* (n) of dt */
    enum layer_dtype dt;
    size_t n;
    uint64_t seed;
};

static void fill_value_chunk(void *arg, size_t chunk, int worker)
{
    const struct fill_job *job = arg;
    struct common_rng r;
    size_t lo = chunk * VALUE_CHUNK, hi = lo + VALUE_CHUNK < job->n ? lo + VALUE_CHUNK : job->n;
    (void)worker;
    common_rng_seed(&r, job->seed, STREAM_VALUES + chunk);
    if (job->dt == LAYER_F32) {
        common_rng_fill_normal(&r, (float *)job->values + lo, hi - lo, VALUE_STD);
        return;
    }
    /* common_rng_fill_normal keeps no state beyond r: these are the same draws */
    float buf[NARROW_BUF];
    size_t es = common_dtype_size(job->dt);
    for (size_t i = lo; i < hi; i += NARROW_BUF) {
        size_t len = hi - i < NARROW_BUF ? hi - i : NARROW_BUF;
        common_rng_fill_normal(&r, buf, len, VALUE_STD);
        common_dtype_narrow(job->dt, (char *)job->values + i * es, buf, len);
    }
}

/* In place, over the last dim of len Dk: (x - mean) / sqrt(var + eps) * w. */
static void layer_norm_inplace(float *x, size_t len, float w)
{
    double mean, var;
    ultramem_ln_moments(x, len, &mean, &var);
    double scale = w / sqrt(var + ULTRAMEM_LN_EPS);
    for (size_t d = 0; d < len; d++)
        x[d] = (float)((x[d] - mean) * scale);
}

/* Eigen-decomposition of the symmetric r x r matrix a (destroyed) by cyclic
 * Jacobi rotations; vec gets the eigenvectors as columns. r <= 4, so a fixed
 * number of sweeps is far more than enough. */
static void jacobi_eigen(double a[ULTRAMEM_MAX_RANK][ULTRAMEM_MAX_RANK], size_t r,
                         double vec[ULTRAMEM_MAX_RANK][ULTRAMEM_MAX_RANK])
{
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < r; j++)
            vec[i][j] = i == j;
    for (int sweep = 0; sweep < JACOBI_ITERS; sweep++) {
        for (size_t p = 0; p < r; p++) {
            for (size_t q = p + 1; q < r; q++) {
                if (a[p][q] == 0)
                    continue;
                double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < r; k++) { /* a = a J */
                    double akp = a[k][p], akq = a[k][q];
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < r; k++) { /* a = J^T a */
                    double apk = a[p][k], aqk = a[q][k];
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < r; k++) {
                    double vkp = vec[k][p], vkq = vec[k][q];
                    vec[k][p] = c * vkp - s * vkq;
                    vec[k][q] = s * vkp + c * vkq;
                }
            }
        }
    }
}

void ultramem_svd_leading(const float *c, size_t r, float *u_out, float *v_out, float *s_out)
{
    double ctc[ULTRAMEM_MAX_RANK][ULTRAMEM_MAX_RANK], vec[ULTRAMEM_MAX_RANK][ULTRAMEM_MAX_RANK];
    double v[ULTRAMEM_MAX_RANK], u[ULTRAMEM_MAX_RANK], s = 0, sum = 0;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < r; j++) {
            ctc[i][j] = 0;
            for (size_t k = 0; k < r; k++)
                ctc[i][j] += (double)c[k * r + i] * c[k * r + j];
        }
    jacobi_eigen(ctc, r, vec);
    size_t best = 0;
    for (size_t i = 1; i < r; i++)
        if (ctc[i][i] > ctc[best][best])
            best = i;
    for (size_t i = 0; i < r; i++)
        v[i] = vec[i][best];
    for (size_t i = 0; i < r; i++) { /* u = C v / s */
        u[i] = 0;
        for (size_t k = 0; k < r; k++)
            u[i] += (double)c[i * r + k] * v[k];
        s += u[i] * u[i];
    }
    s = sqrt(s);
    for (size_t i = 0; i < r; i++) {
        u[i] = s > 0 ? u[i] / s : (double)(i == 0);
        sum += u[i];
    }
    /* torch.svd's sign is LAPACK's whim and the official code keeps whatever
     * the first training step gave. A trained model fixes it; for fresh
     * weights we take the sign with sum(u) >= 0, which for the non-negative
     * U(0, 1) cores makes u and v the non-negative Perron vectors. */
    double sign = sum < 0 ? -1 : 1;
    for (size_t i = 0; i < r; i++) {
        u_out[i] = (float)(sign * u[i]);
        v_out[i] = (float)(sign * v[i]);
    }
    *s_out = (float)s;
}

static void init_keys(struct ultramem *u, uint64_t seed)
{
    struct common_rng rng;
    size_t n_vec = 2 * u->H * u->np * u->r;
    float w = (float)(1.0 / pow((double)u->Dk, 0.33));
    common_rng_seed(&rng, seed, STREAM_KEYS);
    common_rng_fill_normal(&rng, u->keys, n_vec * u->Dk, (float)(1.0 / sqrt((double)u->Dk)));
    for (size_t k = 0; k < n_vec; k++)
        layer_norm_inplace(u->keys + k * u->Dk, u->Dk, w);
}

static void init_cores(struct ultramem *u, uint64_t seed)
{
    struct common_rng rng;
    common_rng_seed(&rng, seed, STREAM_CORES);
    common_rng_fill_uniform(&rng, u->cores, u->h * u->H * u->r * u->r, 0.0f, 1.0f);
}

/* The summed core of each head and its leading singular vectors u, v. */
static void derive_cores(struct ultramem *u)
{
    size_t rr = u->r * u->r;
    float sigma;
    memset(u->core_sum, 0, u->H * rr * sizeof(float));
    for (size_t c = 0; c < u->h; c++)
        for (size_t k = 0; k < u->H * rr; k++)
            u->core_sum[k] += u->cores[c * u->H * rr + k];
    for (size_t hd = 0; hd < u->H; hd++)
        ultramem_svd_leading(u->core_sum + hd * rr, u->r, u->u + hd * u->r, u->v + hd * u->r,
                             &sigma);
}

/* Largest |key| of each rank k of side `side`, head hd, into kmax (r), and
 * the largest sum over k of |key_ik| |dir_k| over the rows i. */
static double key_norms(const struct ultramem *u, int side, size_t hd, const float *dir,
                        double *kmax)
{
    double best = 0;
    for (size_t k = 0; k < u->r; k++)
        kmax[k] = 0;
    for (size_t i = 0; i < u->np; i++) {
        double along = 0;
        for (size_t k = 0; k < u->r; k++) {
            const float *key =
                u->keys + ((((size_t)side * u->H + hd) * u->np + i) * u->r + k) * u->Dk;
            double sq = 0;
            for (size_t d = 0; d < u->Dk; d++)
                sq += (double)key[d] * key[d];
            kmax[k] = sqrt(sq) > kmax[k] ? sqrt(sq) : kmax[k];
            along += sqrt(sq) * fabs(dir[k]);
        }
        best = along > best ? along : best;
    }
    return best;
}

/* The near-tie bounds (ultramem.h, "Near ties"). Each query half is
 * LN(.) w with sum over d of LN(.)_d^2 = Dk var / (var + eps) <= Dk, so
 * |q_half| <= Q = sqrt(Dk) max |w| and |S[i][k]| <= Q |key_ik|; then
 * |a_i| <= Q sum_k |key_ik| |u_k| (bound_rank1), and with K_x, K'_y the
 * largest key norms per rank of the two sides and |C| = sum_c |C_c|,
 * g_y = Q sum_x K_x |C|_xy (bound_col) and h_x = Q sum_y |C|_xy K'_y
 * (bound_row). */
void ultramem_init_tie_bounds(struct ultramem *u)
{
    double wmax = 0, kr[ULTRAMEM_MAX_RANK], kc[ULTRAMEM_MAX_RANK];
    size_t r = u->r;
    for (size_t d = 0; d < u->Dk; d++)
        wmax = fabs(u->q_ln[d]) > wmax ? fabs(u->q_ln[d]) : wmax;
    double Q = sqrt((double)u->Dk) * wmax;
    for (size_t hd = 0; hd < u->H; hd++) {
        u->bound_rank1[0][hd] = (float)(Q * key_norms(u, 0, hd, u->u + hd * r, kr));
        u->bound_rank1[1][hd] = (float)(Q * key_norms(u, 1, hd, u->v + hd * r, kc));
        for (size_t x = 0; x < r; x++) {
            double g = 0, h = 0;
            for (size_t y = 0; y < r; y++) {
                double cxy = 0, cyx = 0;
                for (size_t c = 0; c < u->h; c++) {
                    const float *core = u->cores + (c * u->H + hd) * r * r;
                    cxy += fabs(core[x * r + y]);
                    cyx += fabs(core[y * r + x]);
                }
                h += cxy * kc[y];
                g += kr[y] * cyx;
            }
            u->bound_row[hd][x] = (float)(Q * h);
            u->bound_col[hd][x] = (float)(Q * g);
        }
    }
}

void ultramem_init_derive(struct ultramem *u)
{
    derive_cores(u);
    ultramem_init_tie_bounds(u);
}

void ultramem_init_weights(struct ultramem *u, uint64_t seed)
{
    struct common_rng rng;
    float ln_w = (float)(1.0 / pow((double)u->Dk, 0.33));

    /* query_proj.weight (2 Dk, D), drawn in that order as common_rng_fill_normal
     * would, stored transposed */
    float wq_std = (float)(1.0 / sqrt((double)u->Dk));
    common_rng_seed(&rng, seed, STREAM_QUERY);
    for (size_t o = 0; o < 2 * u->Dk; o++)
        for (size_t d = 0; d < u->D; d++)
            u->wq_t[d * 2 * u->Dk + o] = (float)(common_rng_normal(&rng) * wq_std);
    for (size_t d = 0; d < u->Dk; d++)
        u->q_ln[d] = ln_w;
    init_keys(u, seed);
    init_cores(u, seed);
    ultramem_init_derive(u);
    common_rng_seed(&rng, seed, STREAM_OUT);
    common_rng_fill_normal(&rng, u->wo, u->D * u->E * u->Dv,
                           (float)(1.0 / sqrt((double)(u->E * u->Dv))));
    common_rng_seed(&rng, seed, STREAM_SHUFFLE);
    common_rng_permutation(&rng, u->shuffle, u->E * u->N);

    /* merged: the values are only folded, in fp32 (ultramem.h, "dtype") */
    struct fill_job job = {u->values, u->merged ? LAYER_F32 : u->dtype, u->N * u->Dv, seed};
    common_pool_run(u->pool, (job.n + VALUE_CHUNK - 1) / VALUE_CHUNK, fill_value_chunk, &job);
}
