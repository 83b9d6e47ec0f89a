/*
 * kernels/dropout.c -- counter-based dropout masks (see dropout.h).
 *
 * u_i >= p is tested on integers: u_i * 2^24 >= ceil(p * 2^24), exactly the
 * same decision as the float comparison (u_i * 2^24 and p * 2^24 are exact in
 * double). The generator drawn sequentially (xoshiro256**, one uniform after
 * another per chunk) took ~2% of a MiniLM fine-tuning step's CPU time.
 */
#include "kernels/dropout.h"

#include <math.h>

#include "base/threads.h"
#include "kernels/simd.h"

/* Elements per chunk of the parallel loop. */
#define DROP_CHUNK 16384
#define DROP_GOLDEN 0x9e3779b97f4a7c15ULL

typedef struct {
    uint8_t *keep;
    float *x; /* NULL: only the mask */
    size_t n;
    uint32_t thr; /* keep when the 24-bit draw >= thr */
    float ks;
    uint64_t seed;
} drop_ctx;

/* splitmix64's output function */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

SBERT_BODY void drop_range_body(const drop_ctx *c, size_t i0, size_t i1) {
    uint8_t *keep = c->keep;
    const uint64_t seed = c->seed;
    const uint32_t thr = c->thr;
    if (c->x) {
        float *x = c->x;
        const float ks = c->ks;
        for (size_t i = i0; i < i1; i++) {
            uint8_t k = (uint32_t)(mix64(seed + (uint64_t)(i + 1) * DROP_GOLDEN) >> 40) >= thr;
            keep[i] = k;
            x[i] = k ? x[i] * ks : 0.0f;
        }
    } else {
        for (size_t i = i0; i < i1; i++)
            keep[i] = (uint32_t)(mix64(seed + (uint64_t)(i + 1) * DROP_GOLDEN) >> 40) >= thr;
    }
}
SBERT_AVX512_COPIES(static void, drop_range, (const drop_ctx *c, size_t i0, size_t i1), (c, i0, i1))

static void drop_chunks(void *vctx, size_t c0, size_t c1) {
    const drop_ctx *c = vctx;
    size_t i1 = c1 * DROP_CHUNK < c->n ? c1 * DROP_CHUNK : c->n;
    drop_range(c, c0 * DROP_CHUNK, i1);
}

void sbert_dropout_draw(uint8_t *keep, float *x, size_t n, float p, float ks, uint64_t seed) {
    drop_ctx c = {keep, x, n, (uint32_t)ceil((double)p * 16777216.0), ks, seed};
    sbert_parallel_for((n + DROP_CHUNK - 1) / DROP_CHUNK, drop_chunks, &c);
}

void sbert_dropout_apply(float *x, const uint8_t *keep, float ks, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = keep[i] ? x[i] * ks : 0.0f;
}
