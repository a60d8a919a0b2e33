/* rng.c - seeded, portable random numbers: xoshiro256** (Blackman & Vigna)
 * seeded through splitmix64, Box-Muller for Gaussians.
 *
 * Every tensor gets its own stream so weights do not depend on the order in
 * which a layer happens to initialise them.
 */
#include "common.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void common_rng_seed(struct common_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t common_rng_u64(struct common_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Lemire's nearly-divisionless bounded draw, without modulo bias. */
uint64_t common_rng_below(struct common_rng *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)common_rng_u64(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = -n % n;
        while (lo < threshold) {
            m = (unsigned __int128)common_rng_u64(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double common_rng_uniform(struct common_rng *r)
{
    return (common_rng_u64(r) >> 11) * 0x1.0p-53;
}

double common_rng_normal(struct common_rng *r)
{
    double u1 = 1.0 - common_rng_uniform(r); /* (0, 1], keeps log finite */
    double u2 = common_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void common_rng_fill_normal(struct common_rng *r, float *p, size_t n, float std)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(common_rng_normal(r) * std);
}

void common_rng_fill_uniform(struct common_rng *r, float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(lo + (hi - lo) * common_rng_uniform(r));
}

void common_rng_permutation(struct common_rng *r, uint32_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = common_rng_below(r, i);
        uint32_t t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
}
