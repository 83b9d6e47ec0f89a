/*
 * kernels/gemm_small.c -- unpacked small-T matrix product (see gemm_small.h).
 *
 * Blocking: 4 weight rows x 2 token rows = 8 AVX accumulators (8 floats each)
 * plus 4 + 2 loaded vectors, 14 of the 16 ymm registers. The k loop runs in
 * steps of 8 with FMA; a scalar loop finishes K % 8; the 8 lanes of each
 * accumulator are then added. Weight rows are the outer loop so the 4 rows
 * (4 K floats) stay in L1 while every token pair passes over them.
 * Summation order is fixed by K alone, so results are deterministic.
 */
#include "kernels/gemm_small.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define SMALL_TARGET __attribute__((target("avx2,fma")))

SMALL_TARGET static inline float hsum8(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    __m128 s = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, s);
    s = _mm_add_ss(s, sh);
    return _mm_cvtss_f32(s);
}

/* One dot product, same order as the blocked path (8 lanes, then the tail). */
SMALL_TARGET static float dot1(const float *a, const float *w, size_t K) {
    __m256 acc = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= K; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(w + k), acc);
    float s = hsum8(acc);
    float tail = 0.0f;
    for (; k < K; k++) tail += a[k] * w[k];
    return s + tail;
}

SMALL_TARGET static void gemm_small_avx2(float *out, size_t ldo, const float *in, const float *W,
                                         const float *b, size_t T, size_t K, size_t N) {
    size_t K8 = K & ~(size_t)7;
    size_t n = 0;
    for (; n + 4 <= N; n += 4) {
        const float *w0 = W + n * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        size_t t = 0;
        for (; t + 2 <= T; t += 2) {
            const float *x0 = in + t * K, *x1 = x0 + K;
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
            __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            for (size_t k = 0; k < K8; k += 8) {
                __m256 v0 = _mm256_loadu_ps(w0 + k), v1 = _mm256_loadu_ps(w1 + k);
                __m256 v2 = _mm256_loadu_ps(w2 + k), v3 = _mm256_loadu_ps(w3 + k);
                __m256 y0 = _mm256_loadu_ps(x0 + k), y1 = _mm256_loadu_ps(x1 + k);
                a00 = _mm256_fmadd_ps(y0, v0, a00);
                a01 = _mm256_fmadd_ps(y0, v1, a01);
                a02 = _mm256_fmadd_ps(y0, v2, a02);
                a03 = _mm256_fmadd_ps(y0, v3, a03);
                a10 = _mm256_fmadd_ps(y1, v0, a10);
                a11 = _mm256_fmadd_ps(y1, v1, a11);
                a12 = _mm256_fmadd_ps(y1, v2, a12);
                a13 = _mm256_fmadd_ps(y1, v3, a13);
            }
            float r[2][4] = {{hsum8(a00), hsum8(a01), hsum8(a02), hsum8(a03)},
                             {hsum8(a10), hsum8(a11), hsum8(a12), hsum8(a13)}};
            const float *ws[4] = {w0, w1, w2, w3};
            for (int i = 0; i < 2; i++) {
                const float *x = i ? x1 : x0;
                float *o = out + (t + (size_t)i) * ldo + n;
                for (int j = 0; j < 4; j++) {
                    float tail = 0.0f;
                    for (size_t k = K8; k < K; k++) tail += x[k] * ws[j][k];
                    o[j] = r[i][j] + tail + (b ? b[n + (size_t)j] : 0.0f);
                }
            }
        }
        for (; t < T; t++) {
            const float *x = in + t * K;
            float *o = out + t * ldo + n;
            o[0] = dot1(x, w0, K) + (b ? b[n] : 0.0f);
            o[1] = dot1(x, w1, K) + (b ? b[n + 1] : 0.0f);
            o[2] = dot1(x, w2, K) + (b ? b[n + 2] : 0.0f);
            o[3] = dot1(x, w3, K) + (b ? b[n + 3] : 0.0f);
        }
    }
    for (; n < N; n++) {
        const float *w = W + n * K;
        for (size_t t = 0; t < T; t++) out[t * ldo + n] = dot1(in + t * K, w, K) + (b ? b[n] : 0.0f);
    }
}

int sbert_gemm_small(float *out, size_t ldo, const float *in, const float *W, const float *b,
                     size_t T, size_t K, size_t N) {
    static int have = -1; /* benign: every thread computes the same value */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    if (!h) return 0;
    gemm_small_avx2(out, ldo, in, W, b, T, K, N);
    return 1;
}

#else

int sbert_gemm_small(float *out, size_t ldo, const float *in, const float *W, const float *b,
                     size_t T, size_t K, size_t N) {
    (void)out, (void)ldo, (void)in, (void)W, (void)b, (void)T, (void)K, (void)N;
    return 0;
}

#endif
