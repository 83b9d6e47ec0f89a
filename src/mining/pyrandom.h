/*
 * mining/pyrandom.h -- Python's `random` module, as far as
 * mine_hard_negatives uses it: random.seed(int) and
 * random.sample(range(n), k).
 *
 * sentence-transformers draws the negatives of sampling_strategy="random"
 * with the global `random` module (one random.sample call per unique query,
 * in query order). Python's generator is MT19937 seeded through
 * init_by_array with the 32-bit words of |seed| (CPython
 * Modules/_randommodule.c), getrandbits(k) is the top k bits of one 32-bit
 * output (k <= 32), randbelow(n) redraws getrandbits(n.bit_length()) until
 * the value is below n, and sample() either shuffles a pool (small n) or
 * redraws into a set (Lib/random.py, CPython 3.11). Replayed here, a run
 * with seed S draws exactly what `random.seed(S); mine_hard_negatives(...)`
 * draws.
 */
#ifndef SBERT_MINING_PYRANDOM_H
#define SBERT_MINING_PYRANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef struct {
    uint32_t mt[624];
    int mti;
} sbert_pyrandom;

/* random.seed(seed) for a non-negative integer seed. */
void sbert_pyrandom_seed(sbert_pyrandom *r, uint64_t seed);
/* random.getrandbits(32) */
uint32_t sbert_pyrandom_u32(sbert_pyrandom *r);
/* random._randbelow(n), n >= 1 */
size_t sbert_pyrandom_below(sbert_pyrandom *r, size_t n);
/* out[0..k) = random.sample(range(n), k), 0 <= k <= n < 2^32. */
sbert_status sbert_pyrandom_sample_range(sbert_pyrandom *r, size_t n, size_t k, size_t *out);

#endif
