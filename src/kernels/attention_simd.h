/*
 * kernels/attention_simd.h -- AVX-512 helpers shared by the attention
 * kernels (attention.c, attention_backward.c); included only where the
 * AVX-512 copies are compiled (x86-64, GCC or Clang).
 */
#ifndef SBERT_KERNELS_ATTENTION_SIMD_H
#define SBERT_KERNELS_ATTENTION_SIMD_H

#include <immintrin.h>
#include <stddef.h>

#define SBERT_ATT512 __attribute__((target("avx512f,avx2,fma")))

/* lanes 0 .. n-1 (all 16 when n >= 16) */
static inline __mmask16 sbert_att_mask16(size_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* Xt[cc * ldt + j] = X[j * ldx + cc] for j < L, cc < d, and 0 for
 * L <= j < Lp (Lp: L rounded up to 16, ldt >= Lp): 16 x 16 tiles transposed
 * in registers (unpack, then shuffles of 64-bit pairs, then of 128-bit
 * lanes twice). */
SBERT_ATT512 static inline void sbert_att_transpose(float *Xt, size_t ldt, const float *X, size_t ldx, size_t L,
                                                     size_t d) {
    const size_t Lp = (L + 15) & ~(size_t)15;
    for (size_t j0 = 0; j0 < Lp; j0 += 16) {
        for (size_t c0 = 0; c0 < d; c0 += 16) {
            const __mmask16 dm = sbert_att_mask16(d - c0);
            __m512 r[16], t[16];
            for (int k = 0; k < 16; k++)
                r[k] = j0 + (size_t)k < L ? _mm512_maskz_loadu_ps(dm, X + (j0 + (size_t)k) * ldx + c0)
                                          : _mm512_setzero_ps();
            for (int k = 0; k < 16; k += 2) {
                t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);     /* a0 b0 a1 b1 | per 128-bit lane */
                t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]); /* a2 b2 a3 b3 */
            }
            for (int k = 0; k < 16; k += 4) {
                r[k] = _mm512_shuffle_ps(t[k], t[k + 2], 0x44);     /* a0 b0 c0 d0 */
                r[k + 1] = _mm512_shuffle_ps(t[k], t[k + 2], 0xEE); /* a1 b1 c1 d1 */
                r[k + 2] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0x44);
                r[k + 3] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
            }
            /* r[4g + e]: column 4l + e of rows 4g .. 4g+3, in 128-bit lane l */
            for (int k = 0; k < 8; k++) {
                const int g = k < 4 ? 0 : 2, e = k & 3;
                t[k] = _mm512_shuffle_f32x4(r[4 * g + e], r[4 * (g + 1) + e], 0x88);      /* lanes 0,2 | 0,2 */
                t[k + 8] = _mm512_shuffle_f32x4(r[4 * g + e], r[4 * (g + 1) + e], 0xDD);  /* lanes 1,3 | 1,3 */
            }
            /* t[e] (g = 0): [rows 0-3 col e, rows 0-3 col 8+e, rows 4-7 col e, rows 4-7 col 8+e];
             * t[4+e] the same for rows 8-15; t[8+e], t[12+e]: columns 4+e and 12+e */
            for (int e = 0; e < 4; e++) {
                for (int hi = 0; hi < 2; hi++) {
                    const __m512 a = t[hi * 8 + e], b = t[hi * 8 + 4 + e];
                    const __m512 lo = _mm512_shuffle_f32x4(a, b, 0x88); /* a lanes 0,2 then b lanes 0,2 */
                    const __m512 up = _mm512_shuffle_f32x4(a, b, 0xDD);
                    const size_t col_lo = (size_t)(hi * 4 + e), col_up = col_lo + 8;
                    if (c0 + col_lo < d) _mm512_storeu_ps(Xt + (c0 + col_lo) * ldt + j0, lo);
                    if (c0 + col_up < d) _mm512_storeu_ps(Xt + (c0 + col_up) * ldt + j0, up);
                }
            }
        }
    }
}

/* For one 16-key chunk: o[r] = sum_{cc < d} a_r[cc] * Bt[cc * ldb + 0..15],
 * r = 0..3: four rows' products at once, sharing the loads of Bt (one
 * partial sum per row). */
SBERT_ATT512 static inline void sbert_att_dot4(__m512 o[4], const float *a0, const float *a1, const float *a2,
                                                const float *a3, const float *Bt, size_t ldb, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t cc = 0; cc < d; cc++) {
        const __m512 b = _mm512_loadu_ps(Bt + cc * ldb);
        s0 = _mm512_fmadd_ps(_mm512_set1_ps(a0[cc]), b, s0);
        s1 = _mm512_fmadd_ps(_mm512_set1_ps(a1[cc]), b, s1);
        s2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[cc]), b, s2);
        s3 = _mm512_fmadd_ps(_mm512_set1_ps(a3[cc]), b, s3);
    }
    o[0] = s0, o[1] = s1, o[2] = s2, o[3] = s3;
}

/* out rows i0 .. i0+nr-1 (nr <= 4): out_i[0..d) = sum_{j < jn} P[i, j] v_j
 * (sbert_att_rows_scaled: times `scale` when `scaled`, added to out_i when
 * `accumulate`),
 * v_j = V + j * ldv; four rows at a time share the loads of
 * v_j and keep four independent sums (rows past nr repeat the last one and
 * are not stored). */
SBERT_ATT512 static inline void sbert_att_rows_scaled(float *out, size_t ldo, const float *P, size_t ldp, size_t nr,
                                                       const float *V, size_t ldv, size_t jn, size_t d, int scaled,
                                                       float scale, int accumulate) {
    const float *p0 = P, *p1 = P + (nr > 1 ? 1 : 0) * ldp, *p2 = P + (nr > 2 ? 2 : nr - 1) * ldp,
                *p3 = P + (nr > 3 ? 3 : nr - 1) * ldp;
    const __m512 vs = _mm512_set1_ps(scale);
    for (size_t cb = 0; cb < d; cb += 16) {
        const __mmask16 dm = sbert_att_mask16(d - cb);
        __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        for (size_t j = 0; j < jn; j++) {
            const __m512 v = _mm512_maskz_loadu_ps(dm, V + j * ldv + cb);
            a[0] = _mm512_fmadd_ps(_mm512_set1_ps(p0[j]), v, a[0]);
            a[1] = _mm512_fmadd_ps(_mm512_set1_ps(p1[j]), v, a[1]);
            a[2] = _mm512_fmadd_ps(_mm512_set1_ps(p2[j]), v, a[2]);
            a[3] = _mm512_fmadd_ps(_mm512_set1_ps(p3[j]), v, a[3]);
        }
        for (size_t t = 0; t < nr; t++) {
            float *o = out + t * ldo + cb;
            __m512 r = scaled ? _mm512_mul_ps(a[t], vs) : a[t];
            if (accumulate) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(dm, o));
            _mm512_mask_storeu_ps(o, dm, r);
        }
    }
}

SBERT_ATT512 static inline void sbert_att_out_rows(float *out, size_t ldo, const float *P, size_t ldp, size_t nr,
                                                    const float *V, size_t ldv, size_t jn, size_t d) {
    sbert_att_rows_scaled(out, ldo, P, ldp, nr, V, ldv, jn, d, 0, 1.0f, 0);
}

#endif
