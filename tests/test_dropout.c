/*
 * tests/test_dropout.c -- the transformer's dropout masks (kernels/dropout.h).
 *
 * Checks the contract, not one implementation against itself:
 *   - element i follows the documented formula (output i of splitmix64 from
 *     the seed, written out here from its published definition, top 24 bits,
 *     kept when >= p), including p on an exact 2^-24 boundary;
 *   - the mask and the scaled values are the same at 1, 2 and 3 threads and
 *     for any split of the range (the vectorized copy and the scalar tail);
 *   - the keep rate is 1 - p within 5 standard deviations over 2^21
 *     elements, neighbours are uncorrelated, and two seeds differ;
 *   - p = 0 keeps everything; sbert_dropout_apply replays a mask.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/threads.h"
#include "kernels/dropout.h"
#include "test_util.h"

/* splitmix64: state += 0x9e3779b97f4a7c15, then the output function. */
static uint64_t splitmix64_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void test_formula(void) {
    const size_t n = 100003; /* not a multiple of any vector width or chunk */
    uint8_t *keep = malloc(n);
    const float ps[] = {0.1f, 0.5f, 3.0f / 16777216.0f, 0.25f};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        const uint64_t seed = 0x1234567890abcdefULL + k;
        sbert_dropout_draw(keep, NULL, n, ps[k], 1.0f, seed);
        uint64_t st = seed;
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            float u = (float)(splitmix64_next(&st) >> 40) * 0x1.0p-24f;
            bad += keep[i] != (u >= ps[k]);
        }
        CHECK(bad == 0, "p=%g: %zu of %zu elements differ from the documented formula", (double)ps[k], bad, n);
    }
    free(keep);
}

static void test_threads_and_values(void) {
    const size_t n = 3 * 16384 + 77;
    uint8_t *k1 = malloc(n), *k2 = malloc(n);
    float *x1 = malloc(n * sizeof(float)), *x2 = malloc(n * sizeof(float));
    const float p = 0.3f, ks = 1.0f / (1.0f - p);
    int same = 1, values = 1;
    sbert_set_num_threads(1);
    for (size_t i = 0; i < n; i++) x1[i] = (float)i * 0.5f - 7.0f;
    sbert_dropout_draw(k1, x1, n, p, ks, 99);
    for (int th = 2; th <= 3; th++) {
        sbert_set_num_threads(th);
        for (size_t i = 0; i < n; i++) x2[i] = (float)i * 0.5f - 7.0f;
        sbert_dropout_draw(k2, x2, n, p, ks, 99);
        same &= memcmp(k1, k2, n) == 0 && memcmp(x1, x2, n * sizeof(float)) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        float x0 = (float)i * 0.5f - 7.0f;
        values &= x1[i] == (k1[i] ? x0 * ks : 0.0f);
    }
    /* the mask alone equals the mask drawn with values */
    sbert_dropout_draw(k2, NULL, n, p, ks, 99);
    CHECK(memcmp(k1, k2, n) == 0, "mask without values differs from the mask with values");
    CHECK(same, "mask or values differ between 1, 2 and 3 threads");
    CHECK(values, "kept values are not x * ks, or dropped ones not 0");
    /* replaying the mask with sbert_dropout_apply gives the same values */
    for (size_t i = 0; i < n; i++) x2[i] = (float)i * 0.5f - 7.0f;
    sbert_dropout_apply(x2, k1, ks, n);
    CHECK(memcmp(x1, x2, n * sizeof(float)) == 0, "sbert_dropout_apply does not replay the mask");
    sbert_set_num_threads(0);
    free(k1), free(k2), free(x1), free(x2);
}

static void test_statistics(void) {
    const size_t n = (size_t)1 << 21;
    uint8_t *k = malloc(n), *k2 = malloc(n);
    const float ps[] = {0.1f, 0.5f};
    for (size_t j = 0; j < 2; j++) {
        const double p = ps[j];
        sbert_dropout_draw(k, NULL, n, ps[j], 1.0f, 7 + j);
        size_t kept = 0, both = 0;
        for (size_t i = 0; i < n; i++) kept += k[i];
        for (size_t i = 0; i + 1 < n; i++) both += k[i] & k[i + 1];
        double rate = (double)kept / (double)n, sd = sqrt(p * (1 - p) / (double)n);
        CHECK(fabs(rate - (1 - p)) < 5 * sd, "p=%g: keep rate %.5f, expected %.5f +- %.5f", p, rate, 1 - p, 5 * sd);
        double pair = (double)both / (double)(n - 1), want = (1 - p) * (1 - p);
        CHECK(fabs(pair - want) < 5 * sqrt(want * (1 - want) / (double)n) * 2,
              "p=%g: neighbours kept together %.5f, independent draws give %.5f", p, pair, want);
        printf("p=%.1f: keep rate %.5f (want %.5f), pairs %.5f (want %.5f)\n", p, rate, 1 - p, pair, want);
    }
    sbert_dropout_draw(k, NULL, n, 0.5f, 1.0f, 1);
    sbert_dropout_draw(k2, NULL, n, 0.5f, 1.0f, 2);
    CHECK(memcmp(k, k2, n) != 0, "two seeds give the same mask");
    sbert_dropout_draw(k, NULL, n, 0.0f, 1.0f, 3);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) kept += k[i];
    CHECK(kept == n, "p = 0 dropped %zu elements", n - kept);
    free(k), free(k2);
}

int main(void) {
    test_formula();
    test_threads_and_values();
    test_statistics();
    return test_summary();
}
