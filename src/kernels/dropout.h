/*
 * kernels/dropout.h -- dropout masks for the transformer's training forward.
 *
 * A mask of n elements is a function of one 64-bit seed (the caller draws it
 * from its seeded generator): element i is kept when u_i >= p, where u_i is
 * the top 24 bits of output i of splitmix64 started at the seed,
 * mix64(seed + (i + 1) * 0x9e3779b97f4a7c15), read as a fraction of 2^24.
 * No element depends on another, so a mask is the same for any number of
 * threads and the loop vectorizes (AVX-512 DQ's 64-bit multiplies: ~0.3 ns
 * per element). Builds before 2026-11-30 drew other masks for a seed.
 */
#ifndef SBERT_KERNELS_DROPOUT_H
#define SBERT_KERNELS_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

/* keep[i] = (u_i >= p) for i < n, p in [0, 1); when x is not NULL also
 * x[i] = keep[i] ? x[i] * ks : 0. Split over the sbert thread pool. */
void sbert_dropout_draw(uint8_t *keep, float *x, size_t n, float p, float ks, uint64_t seed);

/* x[i] = keep[i] ? x[i] * ks : 0 for i < n (in place). */
void sbert_dropout_apply(float *x, const uint8_t *keep, float ks, size_t n);

#endif
