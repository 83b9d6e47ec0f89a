/*
 * base/rng.h -- the seeded, deterministic random number generator used for
 * shuffling, initialisation and the seeds of the dropout masks
 * (kernels/dropout.h): xoshiro256** seeded through splitmix64. The whole state is 32 bytes, so checkpoints store it as is and
 * a resumed run draws exactly the numbers an uninterrupted one would.
 */
#ifndef SBERT_BASE_RNG_H
#define SBERT_BASE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} sbert_rng;

void sbert_rng_seed(sbert_rng *r, uint64_t seed);
uint64_t sbert_rng_next(sbert_rng *r);

/* Uniform in [0, 1) with 53 random bits / 24 random bits. */
double sbert_rng_uniform(sbert_rng *r);
float sbert_rng_uniform_f(sbert_rng *r);
/* Uniform integer in [0, n) without modulo bias (n > 0). */
uint64_t sbert_rng_below(sbert_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double sbert_rng_normal(sbert_rng *r);
/* perm[0..n) = a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void sbert_rng_permutation(sbert_rng *r, size_t *perm, size_t n);

#endif
