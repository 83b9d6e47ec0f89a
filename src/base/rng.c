/*
 * base/rng.c -- xoshiro256** (Blackman & Vigna) seeded with splitmix64.
 */
#include "base/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sbert_rng_seed(sbert_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

/* xoshiro256** */
uint64_t sbert_rng_next(sbert_rng *r) {
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

double sbert_rng_uniform(sbert_rng *r) { return (double)(sbert_rng_next(r) >> 11) * 0x1.0p-53; }

float sbert_rng_uniform_f(sbert_rng *r) { return (float)(sbert_rng_next(r) >> 40) * 0x1.0p-24f; }

uint64_t sbert_rng_below(sbert_rng *r, uint64_t n) {
    /* Rejection sampling on the top of the range keeps it unbiased. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = sbert_rng_next(r);
    while (x >= limit);
    return x % n;
}

double sbert_rng_normal(sbert_rng *r) {
    double u1 = sbert_rng_uniform(r), u2 = sbert_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void sbert_rng_permutation(sbert_rng *r, size_t *perm, size_t n) {
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)sbert_rng_below(r, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
