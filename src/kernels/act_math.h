/*
 * kernels/act_math.h -- branch-free float approximations of erf and exp for
 * the GELU forward and backward loops, so the compiler can vectorize them
 * (a libm call in the loop body would keep them scalar).
 */
#ifndef SBERT_KERNELS_ACT_MATH_H
#define SBERT_KERNELS_ACT_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Abramowitz & Stegun 7.1.28, erf(z) = 1 - (1 + a1 z + ... + a6 z^6)^-16 for
 * z >= 0 (odd extension below), |error| <= 3e-7 in exact arithmetic, about
 * 2e-6 in fp32 near 0 where GELU multiplies it by x/2: GELU's own error stays
 * below 1e-6 absolute over all inputs (torch's fp32 GELU is off by 4e-7). */
static inline float sbert_erf_as(float z) {
    float a = fabsf(z);
    float p = 0.0000430638f;
    p = p * a + 0.0002765672f;
    p = p * a + 0.0001520143f;
    p = p * a + 0.0092705272f;
    p = p * a + 0.0422820123f;
    p = p * a + 0.0705230784f;
    p = p * a + 1.0f;
    p = p * p; /* ^2 */
    p = p * p; /* ^4 */
    p = p * p; /* ^8 */
    p = p * p; /* ^16 */
    return copysignf(1.0f - 1.0f / p, z);
}

/* exp(x) for x <= 0 (clamped at -87, where it is ~1.6e-38): x = n ln2 + r
 * with |r| <= ln2/2, a degree-6 Taylor polynomial for e^r (relative error
 * below 3e-8 before rounding) and 2^n built in the exponent bits.
 *
 * Defined for every input, without undefined behaviour: NaN gives NaN (the
 * exponent is taken from n = 0 while r, and so the result, stays NaN; the
 * float-to-int conversion of a NaN n would be undefined), -inf gives the
 * clamp's ~1.6e-38, and x above 89 (outside the intended domain) is clamped
 * there, giving +inf as before rather than overflowing the exponent shift.
 * For x <= 89 the result is bit-identical to the version without those
 * guards; they are selects, so the loops calling this still vectorize. */
static inline float sbert_exp_nonpos(float x) {
    x = x < -87.0f ? -87.0f : x; /* a NaN passes both clamps unchanged */
    x = x > 89.0f ? 89.0f : x;
    /* round to nearest by the 1.5 * 2^23 trick (rintf + an int conversion
     * becomes lrintf, which has no vector form) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145751953125f; /* ln2, high part (exact in n * hi) */
    r = r - n * 1.428606765330187e-06f;   /* ln2, low part */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    n = n == n ? n : 0.0f; /* NaN: any valid exponent; p is NaN already */
    int32_t bits = ((int32_t)n + 127) * (1 << 23); /* n in [-126, 128]: no overflow */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#endif
