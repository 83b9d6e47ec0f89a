/*
 * mining/pyrandom.c -- MT19937 with CPython's seeding, randbelow and
 * sample (see pyrandom.h). The generator is the reference MT19937 of
 * Matsumoto and Nishimura (init_genrand, init_by_array, genrand_int32).
 */
#include "mining/pyrandom.h"

#include <math.h>
#include <stdlib.h>

#include "base/error.h"

#define MT_N 624
#define MT_M 397

static void init_genrand(sbert_pyrandom *r, uint32_t s) {
    r->mt[0] = s;
    for (int i = 1; i < MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = MT_N;
}

static void init_by_array(sbert_pyrandom *r, const uint32_t *key, size_t len) {
    init_genrand(r, 19650218u);
    size_t i = 1, j = 0;
    size_t k = MT_N > len ? MT_N : len;
    for (; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= MT_N) {
            r->mt[0] = r->mt[MT_N - 1];
            i = 1;
        }
        if (j >= len)
            j = 0;
    }
    for (k = MT_N - 1; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= MT_N) {
            r->mt[0] = r->mt[MT_N - 1];
            i = 1;
        }
    }
    r->mt[0] = 0x80000000u;
}

void sbert_pyrandom_seed(sbert_pyrandom *r, uint64_t seed) {
    /* the 32-bit words of the integer, least significant first; 0 -> one word */
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    init_by_array(r, key, key[1] ? 2 : 1);
}

uint32_t sbert_pyrandom_u32(sbert_pyrandom *r) {
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    uint32_t y;
    if (r->mti >= MT_N) {
        int kk;
        for (kk = 0; kk < MT_N - MT_M; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 1u];
        }
        for (; kk < MT_N - 1; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + (MT_M - MT_N)] ^ (y >> 1) ^ mag01[y & 1u];
        }
        y = (r->mt[MT_N - 1] & 0x80000000u) | (r->mt[0] & 0x7fffffffu);
        r->mt[MT_N - 1] = r->mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1u];
        r->mti = 0;
    }
    y = r->mt[r->mti++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

/* getrandbits(k), 0 <= k <= 32 */
static uint32_t getrandbits(sbert_pyrandom *r, unsigned k) {
    if (k == 0)
        return 0;
    return sbert_pyrandom_u32(r) >> (32 - k);
}

size_t sbert_pyrandom_below(sbert_pyrandom *r, size_t n) {
    unsigned k = 0;
    for (size_t t = n; t; t >>= 1)
        k++; /* n.bit_length() */
    uint32_t v = getrandbits(r, k);
    while (v >= n)
        v = getrandbits(r, k);
    return v;
}

sbert_status sbert_pyrandom_sample_range(sbert_pyrandom *r, size_t n, size_t k, size_t *out) {
    if (k > n)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "random.sample: sample of %zu larger than the population of %zu", k, n);
    if (n > 0xffffffffu)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "random.sample: population of %zu is above 2^32", n);
    size_t setsize = 21;
    if (k > 5)
        setsize += (size_t)pow(4.0, ceil(log((double)(k * 3)) / log(4.0)));
    if (n <= setsize) {
        size_t *pool = malloc((n ? n : 1) * sizeof *pool);
        if (!pool)
            return sbert_fail(SBERT_ERR_NOMEM, "random.sample: out of memory");
        for (size_t i = 0; i < n; i++)
            pool[i] = i;
        for (size_t i = 0; i < k; i++) {
            size_t j = sbert_pyrandom_below(r, n - i);
            out[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
        free(pool);
    } else {
        /* the selected set: k is small here (n > setsize >= ~k), a linear scan will do */
        for (size_t i = 0; i < k; i++) {
            size_t j;
            int again;
            do {
                j = sbert_pyrandom_below(r, n);
                again = 0;
                for (size_t t = 0; t < i; t++)
                    if (out[t] == j) {
                        again = 1;
                        break;
                    }
            } while (again);
            out[i] = j;
        }
    }
    return SBERT_OK;
}
