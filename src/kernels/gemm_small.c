/*
 * kernels/gemm_small.c -- unpacked small-T matrix product (see gemm_small.h).
 *
 * out[t, n] = <in[t, :], W[n, :]> (+ b[n]): both operands are read along K
 * with unit stride, so nothing is packed or transposed. The loops are
 *     for each block of 4 weight rows n..n+3          (streamed from memory)
 *       for each block of TB token rows t..t+TB-1     (re-read from L1/L2)
 *         TB x 4 vector accumulators over k, one FMA per (token, weight row)
 *         reduce the 4 accumulators of each token row -> 4 adjacent outputs
 * with TB <= 6 (AVX-512, 24 zmm accumulators) or <= 3 (AVX2, 12 ymm), T cut
 * into blocks of nearly equal size (13 rows = 5 + 4 + 4), and N % 4
 * leftover weight rows by plain dot products in the same lane order.
 *
 * At batch 1 the product is bound by streaming the weights (42 MB per
 * MiniLM forward, more than the L3 holds): while the first token block runs
 * over weight rows n..n+3 it prefetches rows n+4..n+7 into L2, which keeps
 * enough loads in flight to reach the memory bandwidth -- measured, one
 * thread, T = 13: 6.7 -> 3.2 ms for the 24 products of a forward
 * (bench/encode/gemm_bench.c).
 * Summation order is fixed by K and the copy in use (see gemm_small.h).
 */
#include "kernels/gemm_small.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define T2 __attribute__((target("avx2,fma")))
#define T512 __attribute__((target("avx512f,avx2,fma")))
#define INL inline __attribute__((always_inline))

/* ------------------------------------------------------------- AVX2 copy */

/* [sum(a0), sum(a1), sum(a2), sum(a3)] */
T2 static INL __m128 reduce4_256(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

T2 static INL float reduce1_256(__m256 a) {
    __m128 r = reduce4_256(a, a, a, a);
    return _mm_cvtss_f32(r);
}

/* TB token rows x 4 weight rows; K8 = K rounded down to 8, K % 8 by a
 * scalar tail added after the vector sum. */
T2 static INL void blk256(float *out, size_t ldo, const float *x, const float *w0, size_t K,
                          size_t K8, const float *b4, const float *pf, const int TB) {
    const float *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
    __m256 acc[3][4];
#pragma GCC unroll 3
    for (int i = 0; i < TB; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_ps();
    for (size_t k = 0; k < K8; k += 8) {
        if (pf && (k & 15) == 0) {
            _mm_prefetch((const char *)(pf + k), _MM_HINT_T1);
            _mm_prefetch((const char *)(pf + K + k), _MM_HINT_T1);
            _mm_prefetch((const char *)(pf + 2 * K + k), _MM_HINT_T1);
            _mm_prefetch((const char *)(pf + 3 * K + k), _MM_HINT_T1);
        }
        __m256 v0 = _mm256_loadu_ps(w0 + k), v1 = _mm256_loadu_ps(w1 + k);
        __m256 v2 = _mm256_loadu_ps(w2 + k), v3 = _mm256_loadu_ps(w3 + k);
#pragma GCC unroll 3
        for (int i = 0; i < TB; i++) {
            __m256 y = _mm256_loadu_ps(x + (size_t)i * K + k);
            acc[i][0] = _mm256_fmadd_ps(y, v0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(y, v1, acc[i][1]);
            acc[i][2] = _mm256_fmadd_ps(y, v2, acc[i][2]);
            acc[i][3] = _mm256_fmadd_ps(y, v3, acc[i][3]);
        }
    }
    const float *ws[4] = {w0, w1, w2, w3};
#pragma GCC unroll 3
    for (int i = 0; i < TB; i++) {
        __m128 r = reduce4_256(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
        if (K8 < K) {
            const float *xi = x + (size_t)i * K;
            float tail[4];
            for (int j = 0; j < 4; j++) {
                float s = 0.0f;
                for (size_t k = K8; k < K; k++) s += xi[k] * ws[j][k];
                tail[j] = s;
            }
            r = _mm_add_ps(r, _mm_loadu_ps(tail));
        }
        if (b4) r = _mm_add_ps(r, _mm_loadu_ps(b4));
        _mm_storeu_ps(out + (size_t)i * ldo, r);
    }
}

/* One dot product in the lane order of blk256. */
T2 static float dot_256(const float *x, const float *w, size_t K, size_t K8) {
    __m256 acc = _mm256_setzero_ps();
    for (size_t k = 0; k < K8; k += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), acc);
    float s = reduce1_256(acc);
    if (K8 < K) {
        float tail = 0.0f;
        for (size_t k = K8; k < K; k++) tail += x[k] * w[k];
        s += tail;
    }
    return s;
}

T2 static void gemm_small_avx2(float *out, size_t ldo, const float *in, const float *W,
                               const float *b, size_t T, size_t K, size_t N) {
    const size_t K8 = K & ~(size_t)7;
    size_t n = 0;
    for (; n + 4 <= N; n += 4) {
        const float *w0 = W + n * K, *b4 = b ? b + n : NULL;
        const float *pf = n + 8 <= N ? w0 + 4 * K : NULL;
        const size_t nblk = (T + 2) / 3;
        for (size_t i = 0, t = 0; i < nblk; i++, pf = NULL) {
            size_t tb = T / nblk + (i < T % nblk);
            float *o = out + t * ldo + n;
            const float *x = in + t * K;
            if (tb == 3) blk256(o, ldo, x, w0, K, K8, b4, pf, 3);
            else if (tb == 2) blk256(o, ldo, x, w0, K, K8, b4, pf, 2);
            else blk256(o, ldo, x, w0, K, K8, b4, pf, 1);
            t += tb;
        }
    }
    for (; n < N; n++)
        for (size_t t = 0; t < T; t++)
            out[t * ldo + n] = dot_256(in + t * K, W + n * K, K, K8) + (b ? b[n] : 0.0f);
}

/* ----------------------------------------------------------- AVX-512 copy */

T512 static INL __m256 hi256(__m512 a) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
}

T512 static INL __m256 fold512(__m512 a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), hi256(a));
}

T512 static INL __m128 reduce4_512(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(fold512(a0), fold512(a1)),
                              _mm256_hadd_ps(fold512(a2), fold512(a3)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* TB token rows x 4 weight rows; K16 = K rounded down to 16, the rest by one
 * masked step (mask != 0). */
T512 static INL void blk512(float *out, size_t ldo, const float *x, const float *w0, size_t K,
                            size_t K16, __mmask16 mask, const float *b4, const float *pf,
                            const int TB) {
    const float *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int i = 0; i < TB; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    for (size_t k = 0; k < K16; k += 16) {
        if (pf) {
            _mm_prefetch((const char *)(pf + k), _MM_HINT_T1);
            _mm_prefetch((const char *)(pf + K + k), _MM_HINT_T1);
            _mm_prefetch((const char *)(pf + 2 * K + k), _MM_HINT_T1);
            _mm_prefetch((const char *)(pf + 3 * K + k), _MM_HINT_T1);
        }
        __m512 v0 = _mm512_loadu_ps(w0 + k), v1 = _mm512_loadu_ps(w1 + k);
        __m512 v2 = _mm512_loadu_ps(w2 + k), v3 = _mm512_loadu_ps(w3 + k);
#pragma GCC unroll 6
        for (int i = 0; i < TB; i++) {
            __m512 y = _mm512_loadu_ps(x + (size_t)i * K + k);
            acc[i][0] = _mm512_fmadd_ps(y, v0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(y, v1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(y, v2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(y, v3, acc[i][3]);
        }
    }
    if (mask) {
        const size_t k = K16;
        __m512 v0 = _mm512_maskz_loadu_ps(mask, w0 + k), v1 = _mm512_maskz_loadu_ps(mask, w1 + k);
        __m512 v2 = _mm512_maskz_loadu_ps(mask, w2 + k), v3 = _mm512_maskz_loadu_ps(mask, w3 + k);
#pragma GCC unroll 6
        for (int i = 0; i < TB; i++) {
            __m512 y = _mm512_maskz_loadu_ps(mask, x + (size_t)i * K + k);
            acc[i][0] = _mm512_fmadd_ps(y, v0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(y, v1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(y, v2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(y, v3, acc[i][3]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < TB; i++) {
        __m128 r = reduce4_512(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
        if (b4) r = _mm_add_ps(r, _mm_loadu_ps(b4));
        _mm_storeu_ps(out + (size_t)i * ldo, r);
    }
}

T512 static float dot_512(const float *x, const float *w, size_t K16, __mmask16 mask) {
    __m512 acc = _mm512_setzero_ps();
    for (size_t k = 0; k < K16; k += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(w + k), acc);
    if (mask)
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + K16),
                              _mm512_maskz_loadu_ps(mask, w + K16), acc);
    return _mm_cvtss_f32(reduce4_512(acc, acc, acc, acc));
}

T512 static void gemm_small_avx512(float *out, size_t ldo, const float *in, const float *W,
                                   const float *b, size_t T, size_t K, size_t N) {
    const size_t K16 = K & ~(size_t)15;
    const __mmask16 mask = (__mmask16)((1u << (K & 15)) - 1u);
    size_t n = 0;
    for (; n + 4 <= N; n += 4) {
        const float *w0 = W + n * K, *b4 = b ? b + n : NULL;
        /* the first token block also pulls the next 4 weight rows into L2 */
        const float *pf = n + 8 <= N ? w0 + 4 * K : NULL;
        /* ceil(T / 6) token blocks of nearly equal size (13 = 5 + 4 + 4) */
        const size_t nblk = (T + 5) / 6;
        for (size_t i = 0, t = 0; i < nblk; i++, pf = NULL) {
            size_t tb = T / nblk + (i < T % nblk);
            float *o = out + t * ldo + n;
            const float *x = in + t * K;
            switch (tb) {
            case 6: blk512(o, ldo, x, w0, K, K16, mask, b4, pf, 6); break;
            case 5: blk512(o, ldo, x, w0, K, K16, mask, b4, pf, 5); break;
            case 4: blk512(o, ldo, x, w0, K, K16, mask, b4, pf, 4); break;
            case 3: blk512(o, ldo, x, w0, K, K16, mask, b4, pf, 3); break;
            case 2: blk512(o, ldo, x, w0, K, K16, mask, b4, pf, 2); break;
            default: blk512(o, ldo, x, w0, K, K16, mask, b4, pf, 1); break;
            }
            t += tb;
        }
    }
    for (; n < N; n++)
        for (size_t t = 0; t < T; t++)
            out[t * ldo + n] = dot_512(in + t * K, W + n * K, K16, mask) + (b ? b[n] : 0.0f);
}

/* ------------------------------------------------------------- dispatch */

static int cpu_level = -1; /* what the CPU has; every thread computes the same value */
static int cap_level = SBERT_SMALL_AVX512;

static int detect(void) {
    int l = __atomic_load_n(&cpu_level, __ATOMIC_RELAXED);
    if (l < 0) {
        __builtin_cpu_init();
        l = SBERT_SMALL_NONE;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
            l = SBERT_SMALL_AVX2;
            if (__builtin_cpu_supports("avx512f")) l = SBERT_SMALL_AVX512;
        }
        __atomic_store_n(&cpu_level, l, __ATOMIC_RELAXED);
    }
    return l;
}

int sbert_gemm_small_level(void) {
    int l = detect(), c = __atomic_load_n(&cap_level, __ATOMIC_RELAXED);
    return l < c ? l : c;
}

size_t sbert_gemm_small_max_rows(void) {
    switch (sbert_gemm_small_level()) {
    case SBERT_SMALL_AVX512: return 256;
    case SBERT_SMALL_AVX2: return 48;
    default: return 0;
    }
}

int sbert_gemm_small_cap(int max_level) {
    __atomic_store_n(&cap_level, max_level, __ATOMIC_RELAXED);
    return sbert_gemm_small_level();
}

/* Token rows per pass over W: the block of `in` that every weight row meets
 * stays in L2 (about 384 KB), a multiple of 6 rows. */
static size_t row_block(size_t K) {
    size_t r = (size_t)98304 / (K ? K : 1);
    r -= r % 6;
    return r < 6 ? 6 : r;
}

int sbert_gemm_small(float *out, size_t ldo, const float *in, const float *W, const float *b,
                     size_t T, size_t K, size_t N) {
    int level = sbert_gemm_small_level();
    if (level == SBERT_SMALL_NONE) return 0;
    const size_t rb = row_block(K);
    for (size_t t0 = 0; t0 < T; t0 += rb) {
        size_t tn = T - t0 < rb ? T - t0 : rb;
        if (level == SBERT_SMALL_AVX512)
            gemm_small_avx512(out + t0 * ldo, ldo, in + t0 * K, W, b, tn, K, N);
        else
            gemm_small_avx2(out + t0 * ldo, ldo, in + t0 * K, W, b, tn, K, N);
    }
    return 1;
}

#else

int sbert_gemm_small_level(void) { return SBERT_SMALL_NONE; }
size_t sbert_gemm_small_max_rows(void) { return 0; }
int sbert_gemm_small_cap(int max_level) {
    (void)max_level;
    return SBERT_SMALL_NONE;
}
int sbert_gemm_small(float *out, size_t ldo, const float *in, const float *W, const float *b,
                     size_t T, size_t K, size_t N) {
    (void)out, (void)ldo, (void)in, (void)W, (void)b, (void)T, (void)K, (void)N;
    return 0;
}

#endif
