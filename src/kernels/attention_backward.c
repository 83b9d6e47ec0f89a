/*
 * kernels/attention_backward.c -- backward of packed multi-head
 * self-attention, fp32 CPU (contract and math in attention_backward.h).
 *
 * Work item = (sequence s, head h), numbered s * n_heads + h like the
 * forward, split into contiguous chunks by sbert_parallel_for. For one item
 * of length L and head size d, row i at a time:
 *     dP[j]  = g_i . v_j                   (L dot products of length d)
 *     dv_j  += P[i,j] g_i                  (axpy over d)
 *     dS[j]  = P[i,j] (dP[j] - P[i,:].dP)
 *     dq_i  += scale * sum_j dS[j] k_j,  dk_j += scale * dS[j] q_i
 * dq, dK, dV are built in per-chunk scratch and added to the item's own rows
 * and head columns of dqkv at the end (so `+=` adds exactly the gradient). The
 * per-item relative-bias partials live in one zeroed buffer [items, 2R-1]
 * and are reduced over sequences, in order, after the parallel loop.
 * With attention dropout (keep flags M, scale 1/(1-p)) the forward output is
 * (P*M) V, so dv uses P*M, dP is multiplied by M, and the softmax backward
 * uses the undropped P. sbert_attention_dropout_output (end of the file) is
 * that forward, recomputed from the saved probabilities.
 */
#include "kernels/attention_backward.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/threads.h"
#include "kernels/simd.h"
#include "kernels/attention.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "kernels/attention_simd.h"
#define ATTB_HAVE_AVX512_COPY 1
#endif

typedef struct {
    float *dqkv;
    float *bias_part; /* [n_seq * n_heads, bias_w] or NULL */
    const float *dout, *qkv, *probs;
    const uint8_t *keep; /* dropout keep flags laid out like probs, or NULL */
    float keep_scale;
    const size_t *offs;
    const size_t *probs_base; /* [n_seq]: start of sequence s in probs */
    size_t n_heads, head_dim, bias_w, rel_max_len;
    float scale;
    int set; /* 1: dqkv is overwritten (every element belongs to exactly one item) */
    atomic_int failed;
} attb_ctx;

/* One (sequence, head). Scratch: dP [L], dq [d], dK [L, d], dV [L, d].
 * The item's gradient is built in the scratch and then added to dqkv once,
 * so dqkv_after = dqkv_before + g exactly, whatever dqkv held. */
SBERT_BODY void attb_item_body(const attb_ctx *c, size_t s, size_t h, float *dP, float *dq, float *dK,
                      float *dV) {
    const size_t H = c->n_heads * c->head_dim, d = c->head_dim, W3 = 3 * H;
    const size_t t0 = c->offs[s], L = c->offs[s + 1] - t0;
    const float *base = c->qkv + t0 * W3 + h * d;
    float *dbase = c->dqkv + t0 * W3 + h * d;
    const float *P = c->probs + c->probs_base[s] + h * L * L;
    const uint8_t *keep = c->keep ? c->keep + c->probs_base[s] + h * L * L : NULL;
    float *bpart = c->bias_part ? c->bias_part + (s * c->n_heads + h) * c->bias_w : NULL;
    memset(dK, 0, L * d * sizeof(float));
    memset(dV, 0, L * d * sizeof(float));
    for (size_t i = 0; i < L; i++) {
        const float *g = c->dout + (t0 + i) * H + h * d;
        const float *Pi = P + i * L;
        const uint8_t *ki = keep ? keep + i * L : NULL;
        /* dP[j] = g . v_j; dv_j += P[i,j] g  (with dropout: the kept, rescaled P) */
        double dot = 0.0;
        for (size_t j = 0; j < L; j++) {
            const float *v = base + j * W3 + 2 * H;
            float *dv = dV + j * d;
            const float m = ki ? (ki[j] ? c->keep_scale : 0.0f) : 1.0f;
            const float p = Pi[j] * m;
            /* g . v_j in 8 fixed partial sums (so the AVX2 copy vectorizes it) */
            float part[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
            size_t cc = 0;
            for (; cc + 8 <= d; cc += 8)
                for (int l = 0; l < 8; l++) part[l] += g[cc + (size_t)l] * v[cc + (size_t)l];
            float acc = ((part[0] + part[1]) + (part[2] + part[3])) +
                        ((part[4] + part[5]) + (part[6] + part[7]));
            for (; cc < d; cc++) acc += g[cc] * v[cc];
            for (cc = 0; cc < d; cc++) dv[cc] += p * g[cc];
            dP[j] = acc * m;
            dot += (double)Pi[j] * dP[j];
        }
        const float fdot = (float)dot;
        /* dS[j] = P (dP - dot), kept in dP */
        for (size_t j = 0; j < L; j++) dP[j] = Pi[j] * (dP[j] - fdot);
        if (bpart) {
            /* bias index for (i, j): j - i + rel_max_len - 1 */
            float *br = bpart + (c->rel_max_len - 1) - i;
            for (size_t j = 0; j < L; j++) br[j] += dP[j];
        }
        const float *q = base + i * W3;
        memset(dq, 0, d * sizeof(float));
        for (size_t j = 0; j < L; j++) {
            const float ds = dP[j] * c->scale;
            if (ds == 0.0f) continue;
            const float *k = base + j * W3 + H;
            float *dk = dK + j * d;
            for (size_t cc = 0; cc < d; cc++) {
                dq[cc] += ds * k[cc];
                dk[cc] += ds * q[cc];
            }
        }
        float *dqo = dbase + i * W3;
        if (c->set)
            for (size_t cc = 0; cc < d; cc++) dqo[cc] = dq[cc];
        else
            for (size_t cc = 0; cc < d; cc++) dqo[cc] += dq[cc];
    }
    for (size_t j = 0; j < L; j++) {
        float *dko = dbase + j * W3 + H, *dvo = dbase + j * W3 + 2 * H;
        if (c->set) {
            memcpy(dko, dK + j * d, d * sizeof(float));
            memcpy(dvo, dV + j * d, d * sizeof(float));
            continue;
        }
        for (size_t cc = 0; cc < d; cc++) {
            dko[cc] += dK[j * d + cc];
            dvo[cc] += dV[j * d + cc];
        }
    }
}
SBERT_AVX2_COPIES(static void, attb_item,
                  (const attb_ctx *c, size_t s, size_t h, float *dP, float *dq, float *dK, float *dV),
                  (c, s, h, dP, dq, dK, dV))

#ifdef ATTB_HAVE_AVX512_COPY
/* The AVX-512 copy of attb_item_body. Two passes over the item:
 *   1. row i at a time, vectorized over the key index j (16 keys per
 *      register, the last chunk masked; Vt is V^T with rows padded to
 *      Lp = L rounded up to 16, zeros past L):
 *          dP[i, :] = sum_c g_i[c] Vt[c, :]       (FMAs in 4 partial sums)
 *          PM[i, :] = P[i, :] * M[i, :],  dP[i, :] *= M[i, :]
 *          DS[i, :] = P[i, :] * (dP[i, :] - P[i, :] . dP[i, :])
 *      with the keep flags M (keep_scale or 0; 1 without dropout) applied by
 *      multiplication, no branch per element;
 *   2. over head-dimension rows, 16 columns at a time (the last masked):
 *          dq_i = scale sum_j DS[i, j] k_j
 *          dk_j = scale sum_i DS[i, j] q_i,   dv_j = sum_i PM[i, j] g_i
 *      each written (set) or added to dqkv once.
 * Scratch: Vt [d, Lp], PM [L, Lp], DS [L, Lp], then contiguous [L, d]
 * copies of the item's q, k and output-gradient rows (their rows in qkv and
 * dout are far apart and share few cache sets). Sums are in another order
 * than the portable copies' (and fused), so the results differ from theirs
 * in the last bits; this copy is itself deterministic. */
#define ATTB512 __attribute__((target("avx512f,avx2,fma")))

static inline __mmask16 attb_mask16(size_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* keep_scale where flag != 0, else 0, for n <= 16 flags (n < 16: the rest 0) */
ATTB512 static inline __m512 attb_keep16(const uint8_t *flags, size_t n, float keep_scale) {
    __mmask16 k;
    if (n >= 16) {
        __m512i w = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)flags));
        k = _mm512_test_epi32_mask(w, w);
    } else {
        unsigned bits = 0;
        for (size_t t = 0; t < n; t++) bits |= (unsigned)(flags[t] != 0) << t;
        k = (__mmask16)bits;
    }
    return _mm512_maskz_mov_ps(k, _mm512_set1_ps(keep_scale));
}

ATTB512 static void attb_item_avx512(const attb_ctx *c, size_t s, size_t h, float *Vt, float *PM, float *DS) {
    const size_t H = c->n_heads * c->head_dim, d = c->head_dim, W3 = 3 * H;
    const size_t t0 = c->offs[s], L = c->offs[s + 1] - t0, Lp = (L + 15) & ~(size_t)15;
    const float *base = c->qkv + t0 * W3 + h * d;
    float *dbase = c->dqkv + t0 * W3 + h * d;
    const float *P = c->probs + c->probs_base[s] + h * L * L;
    const uint8_t *keep = c->keep ? c->keep + c->probs_base[s] + h * L * L : NULL;
    float *bpart = c->bias_part ? c->bias_part + (s * c->n_heads + h) * c->bias_w : NULL;
    /* Vt[cc * Lp + j] = v_j[cc], zero-padded */
    sbert_att_transpose(Vt, Lp, base + 2 * H, W3, L, d);
    /* dP rows four at a time (rows past L repeat the last one, unused) */
    for (size_t i0 = 0; i0 < L; i0 += 4) {
        const size_t nr = L - i0 < 4 ? L - i0 : 4;
        const float *g0 = c->dout + (t0 + i0) * H + h * d;
        const float *g1 = g0 + (nr > 1 ? 1 : 0) * H, *g2 = g0 + (nr > 2 ? 2 : nr - 1) * H,
                    *g3 = g0 + (nr > 3 ? 3 : nr - 1) * H;
        __m512 vdot[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        for (size_t j0 = 0; j0 < Lp; j0 += 16) {
            const __mmask16 m = attb_mask16(L - j0);
            __m512 dps[4];
            sbert_att_dot4(dps, g0, g1, g2, g3, Vt + j0, Lp, d);
            for (size_t r = 0; r < nr; r++) {
                const size_t i = i0 + r;
                __m512 dp = dps[r];
                const __m512 p = _mm512_maskz_loadu_ps(m, P + i * L + j0); /* 0 past L */
                if (keep) {
                    const __m512 mk = attb_keep16(keep + i * L + j0, L - j0, c->keep_scale);
                    _mm512_storeu_ps(PM + i * Lp + j0, _mm512_mul_ps(p, mk));
                    dp = _mm512_mul_ps(dp, mk);
                } else {
                    _mm512_storeu_ps(PM + i * Lp + j0, p);
                }
                vdot[r] = _mm512_fmadd_ps(p, dp, vdot[r]);
                _mm512_storeu_ps(DS + i * Lp + j0, dp);
            }
        }
        for (size_t r = 0; r < nr; r++) {
            const size_t i = i0 + r;
            const __m512 dot = _mm512_set1_ps(_mm512_reduce_add_ps(vdot[r]));
            /* dS = P (dP - dot); bias index for (i, j): j - i + rel_max_len - 1 */
            float *br = bpart ? bpart + (c->rel_max_len - 1) - i : NULL, *ds = DS + i * Lp;
            for (size_t j0 = 0; j0 < Lp; j0 += 16) {
                const __mmask16 m = attb_mask16(L - j0);
                const __m512 p = _mm512_maskz_loadu_ps(m, P + i * L + j0);
                const __m512 v = _mm512_mul_ps(p, _mm512_sub_ps(_mm512_loadu_ps(ds + j0), dot));
                _mm512_storeu_ps(ds + j0, v);
                if (br) _mm512_mask_storeu_ps(br + j0, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, br + j0), v));
            }
        }
    }
    /* contiguous [L, d] copies of the item's q, k and output-gradient rows */
    float *Qc = DS + L * Lp, *Kc = Qc + L * d, *Gc = Kc + L * d;
    for (size_t i = 0; i < L; i++)
        for (size_t cb = 0; cb < d; cb += 16) {
            const __mmask16 dm = attb_mask16(d - cb);
            _mm512_mask_storeu_ps(Qc + i * d + cb, dm, _mm512_maskz_loadu_ps(dm, base + i * W3 + cb));
            _mm512_mask_storeu_ps(Kc + i * d + cb, dm, _mm512_maskz_loadu_ps(dm, base + i * W3 + H + cb));
            _mm512_mask_storeu_ps(Gc + i * d + cb, dm, _mm512_maskz_loadu_ps(dm, c->dout + (t0 + i) * H + h * d + cb));
        }
    /* dq_i = scale sum_j DS[i, j] k_j, four rows i at a time */
    for (size_t i0 = 0; i0 < L; i0 += 4)
        sbert_att_rows_scaled(dbase + i0 * W3, W3, DS + i0 * Lp, Lp, L - i0 < 4 ? L - i0 : 4, Kc, d, L, d, 1, c->scale,
                              !c->set);
    const __m512 vscale = _mm512_set1_ps(c->scale);
    for (size_t cb = 0; cb < d; cb += 16) {
        const __mmask16 dm = attb_mask16(d - cb);
        /* dk_j = scale sum_i DS[i, j] q_i,  dv_j = sum_i PM[i, j] g_i, four keys j
         * at a time (DS and PM are 0 in the padding columns L .. Lp-1) */
        for (size_t j0 = 0; j0 < L; j0 += 4) {
            const size_t nj = L - j0 < 4 ? L - j0 : 4;
            __m512 k0 = _mm512_setzero_ps(), k1 = k0, k2 = k0, k3 = k0, v0 = k0, v1 = k0, v2 = k0, v3 = k0;
            for (size_t i = 0; i < L; i++) {
                const __m512 q = _mm512_maskz_loadu_ps(dm, Qc + i * d + cb);
                const __m512 g = _mm512_maskz_loadu_ps(dm, Gc + i * d + cb);
                const float *sr = DS + i * Lp + j0, *pr = PM + i * Lp + j0;
                k0 = _mm512_fmadd_ps(_mm512_set1_ps(sr[0]), q, k0);
                k1 = _mm512_fmadd_ps(_mm512_set1_ps(sr[1]), q, k1);
                k2 = _mm512_fmadd_ps(_mm512_set1_ps(sr[2]), q, k2);
                k3 = _mm512_fmadd_ps(_mm512_set1_ps(sr[3]), q, k3);
                v0 = _mm512_fmadd_ps(_mm512_set1_ps(pr[0]), g, v0);
                v1 = _mm512_fmadd_ps(_mm512_set1_ps(pr[1]), g, v1);
                v2 = _mm512_fmadd_ps(_mm512_set1_ps(pr[2]), g, v2);
                v3 = _mm512_fmadd_ps(_mm512_set1_ps(pr[3]), g, v3);
            }
            const __m512 kr[4] = {k0, k1, k2, k3}, vr[4] = {v0, v1, v2, v3};
            for (size_t t = 0; t < nj; t++) {
                float *dko = dbase + (j0 + t) * W3 + H + cb, *dvo = dbase + (j0 + t) * W3 + 2 * H + cb;
                __m512 ak = _mm512_mul_ps(kr[t], vscale), av = vr[t];
                if (!c->set) {
                    ak = _mm512_add_ps(ak, _mm512_maskz_loadu_ps(dm, dko));
                    av = _mm512_add_ps(av, _mm512_maskz_loadu_ps(dm, dvo));
                }
                _mm512_mask_storeu_ps(dko, dm, ak);
                _mm512_mask_storeu_ps(dvo, dm, av);
            }
        }
    }
}
#endif

static void attb_chunk(void *vctx, size_t i0, size_t i1) {
    attb_ctx *c = vctx;
    size_t maxL = 0;
    for (size_t it = i0; it < i1; it++) {
        size_t s = it / c->n_heads;
        size_t L = c->offs[s + 1] - c->offs[s];
        if (L > maxL) maxL = L;
    }
    if (maxL == 0) return;
    const size_t d = c->head_dim, maxLp = (maxL + 15) & ~(size_t)15;
#ifdef ATTB_HAVE_AVX512_COPY
    const int wide = sbert_attention_avx512();
#else
    const int wide = 0;
#endif
    /* portable: dP [maxL], dq [d], dK, dV [maxL, d]; AVX-512: Vt [d, maxLp], PM, DS [maxL, maxLp],
     * Q, K, G [maxL, d] */
    size_t need = wide ? maxLp * (d + 2 * maxL) + 3 * maxL * d : maxL + d + 2 * maxL * d;
    float *dP = malloc(need * sizeof(float));
    if (!dP) {
        atomic_store(&c->failed, 1);
        return;
    }
    for (size_t it = i0; it < i1; it++) {
        size_t s = it / c->n_heads, h = it % c->n_heads;
        if (c->offs[s + 1] == c->offs[s]) continue;
        if (it + 1 < i1) { /* the next item's q, k, v, output-gradient and dqkv rows */
            const size_t s1 = (it + 1) / c->n_heads, h1 = (it + 1) % c->n_heads, H = c->n_heads * d;
            const size_t u0 = c->offs[s1], L1 = c->offs[s1 + 1] - u0;
            for (int part = 0; part < 3; part++) {
                sbert_att_prefetch(c->qkv, 3 * H, u0, L1, part * H + h1 * d, d, 0);
                sbert_att_prefetch(c->dqkv, 3 * H, u0, L1, part * H + h1 * d, d, 1);
            }
            sbert_att_prefetch(c->dout, H, u0, L1, h1 * d, d, 0);
        }
#ifdef ATTB_HAVE_AVX512_COPY
        if (wide) {
            size_t Lp = ((c->offs[s + 1] - c->offs[s]) + 15) & ~(size_t)15;
            attb_item_avx512(c, s, h, dP, dP + d * Lp, dP + d * Lp + maxL * Lp);
            continue;
        }
#endif
        attb_item(c, s, h, dP, dP + maxL, dP + maxL + d, dP + maxL + d + maxL * d);
    }
    free(dP);
}

sbert_status sbert_attention_backward(float *dqkv, float *drel_bias, const float *dout,
                                      const float *qkv, const float *probs,
                                      const size_t *seq_offsets, size_t n_seq, size_t n_heads,
                                      size_t head_dim, float scale, size_t rel_max_len) {
    return sbert_attention_backward_dropout(dqkv, drel_bias, dout, qkv, probs, NULL, 1.0f,
                                            seq_offsets, n_seq, n_heads, head_dim, scale,
                                            rel_max_len);
}

static sbert_status attb_run(float *dqkv, int set, float *drel_bias, const float *dout, const float *qkv,
                             const float *probs, const uint8_t *keep, float keep_scale,
                             const size_t *seq_offsets, size_t n_seq, size_t n_heads, size_t head_dim,
                             float scale, size_t rel_max_len) {
    if (n_seq == 0 || n_heads == 0) return SBERT_OK;
    size_t bias_w = 0;
    if (drel_bias) {
        if (rel_max_len == 0)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "attention backward: a relative-bias gradient needs rel_max_len > 0");
        bias_w = 2 * rel_max_len - 1;
        for (size_t s = 0; s < n_seq; s++) {
            if (seq_offsets[s + 1] - seq_offsets[s] > rel_max_len)
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "attention backward: sequence %zu has %zu tokens, more than the "
                                  "%zu the relative position bias table covers",
                                  s, seq_offsets[s + 1] - seq_offsets[s], rel_max_len);
        }
    }
    size_t *pbase = sbert_attention_probs_base(seq_offsets, n_seq, n_heads);
    float *part = drel_bias ? calloc(n_seq * n_heads * bias_w, sizeof(float)) : NULL;
    if (!pbase || (drel_bias && !part)) {
        free(pbase);
        free(part);
        return sbert_fail(SBERT_ERR_NOMEM, "attention backward: out of memory");
    }
    attb_ctx c = {dqkv, part, dout, qkv, probs, keep, keep_scale, seq_offsets, pbase, n_heads,
                  head_dim, bias_w, rel_max_len, scale, set, 0};
    size_t *cum = sbert_attention_item_costs(seq_offsets, n_seq, n_heads);
    if (cum)
        sbert_parallel_for_cost(n_seq * n_heads, cum, 0, attb_chunk, &c);
    else
        attb_chunk(&c, 0, n_seq * n_heads);
    free(cum);
    if (part && !atomic_load(&c.failed)) {
        /* fixed-order reduction over sequences, per head and bias slot */
        for (size_t h = 0; h < n_heads; h++) {
            for (size_t k = 0; k < bias_w; k++) {
                double sum = 0.0;
                for (size_t s = 0; s < n_seq; s++) sum += part[(s * n_heads + h) * bias_w + k];
                drel_bias[h * bias_w + k] += (float)sum;
            }
        }
    }
    free(part);
    free(pbase);
    if (atomic_load(&c.failed))
        return sbert_fail(SBERT_ERR_NOMEM, "attention backward: out of memory for the scratch");
    return SBERT_OK;
}

sbert_status sbert_attention_backward_dropout(float *dqkv, float *drel_bias, const float *dout,
                                              const float *qkv, const float *probs,
                                              const uint8_t *keep, float keep_scale,
                                              const size_t *seq_offsets, size_t n_seq,
                                              size_t n_heads, size_t head_dim, float scale,
                                              size_t rel_max_len) {
    return attb_run(dqkv, 0, drel_bias, dout, qkv, probs, keep, keep_scale, seq_offsets, n_seq, n_heads,
                    head_dim, scale, rel_max_len);
}

sbert_status sbert_attention_backward_dropout_set(float *dqkv, float *drel_bias, const float *dout,
                                                  const float *qkv, const float *probs,
                                                  const uint8_t *keep, float keep_scale,
                                                  const size_t *seq_offsets, size_t n_seq,
                                                  size_t n_heads, size_t head_dim, float scale,
                                                  size_t rel_max_len) {
    return attb_run(dqkv, 1, drel_bias, dout, qkv, probs, keep, keep_scale, seq_offsets, n_seq, n_heads,
                    head_dim, scale, rel_max_len);
}

/* ------------------------------------------------------------------------ */
/* attention output with dropout on the probabilities */

typedef struct {
    float *out;
    const float *qkv, *probs;
    const uint8_t *keep;
    float keep_scale;
    const size_t *offs, *probs_base;
    size_t n_heads, head_dim;
} attd_ctx;

/* Item `it` = (sequence, head): its head, first token, length, probabilities
 * and keep flags. */
typedef struct {
    size_t h, t0, L;
    const float *P;
    const uint8_t *K;
} attd_item;

static inline attd_item attd_item_at(const attd_ctx *c, size_t it) {
    const size_t s = it / c->n_heads, h = it % c->n_heads, t0 = c->offs[s], L = c->offs[s + 1] - t0;
    const size_t base = c->probs_base[s] + h * L * L;
    return (attd_item){h, t0, L, c->probs + base, c->keep + base};
}

SBERT_BODY void attd_chunk_body(void *vctx, size_t i0, size_t i1) {
    const attd_ctx *c = vctx;
    const size_t H = c->n_heads * c->head_dim, d = c->head_dim, W3 = 3 * H;
    for (size_t it = i0; it < i1; it++) {
        const attd_item e = attd_item_at(c, it);
        for (size_t i = 0; i < e.L; i++) {
            float *o = c->out + (e.t0 + i) * H + e.h * d;
            for (size_t cc = 0; cc < d; cc++) o[cc] = 0.0f;
            for (size_t j = 0; j < e.L; j++) {
                if (!e.K[i * e.L + j]) continue;
                const float p = e.P[i * e.L + j] * c->keep_scale;
                const float *v = c->qkv + (e.t0 + j) * W3 + 2 * H + e.h * d;
                for (size_t cc = 0; cc < d; cc++) o[cc] += p * v[cc];
            }
        }
    }
}
SBERT_AVX2_COPIES(static void, attd_chunk, (void *vctx, size_t i0, size_t i1), (vctx, i0, i1))

#ifdef ATTB_HAVE_AVX512_COPY
/* The AVX-512 copy: out_i = sum_j (P[i, j] * M[i, j]) v_j over 16 columns
 * of the head at a time, the weight P * (keep_scale or 0) chosen without a
 * branch (a dropped key adds 0 * v_j). */
ATTB512 static void attd_chunk_avx512(void *vctx, size_t i0, size_t i1) {
    const attd_ctx *c = vctx;
    const size_t H = c->n_heads * c->head_dim, d = c->head_dim, W3 = 3 * H;
    for (size_t it = i0; it < i1; it++) {
        const attd_item e = attd_item_at(c, it);
        const size_t h = e.h, t0 = e.t0, L = e.L;
        const float *P = e.P;
        const uint8_t *K = e.K;
        const float *v = c->qkv + t0 * W3 + 2 * H + h * d;
        if (it + 1 < i1) { /* the next item's v and output rows */
            const size_t s1 = (it + 1) / c->n_heads, h1 = (it + 1) % c->n_heads;
            const size_t u0 = c->offs[s1], L1 = c->offs[s1 + 1] - u0;
            sbert_att_prefetch(c->qkv, W3, u0, L1, 2 * H + h1 * d, d, 0);
            sbert_att_prefetch(c->out, H, u0, L1, h1 * d, d, 1);
        }
        if (L <= 256) {
            /* four rows at a time: their weights P * M, then the rows' sums
             * sharing the loads of v_j */
            float w[4 * 256];
            for (size_t b0 = 0; b0 < L; b0 += 4) {
                const size_t nr = L - b0 < 4 ? L - b0 : 4;
                for (size_t r = 0; r < nr; r++)
                    for (size_t j0 = 0; j0 < L; j0 += 16) {
                        const __mmask16 m = attb_mask16(L - j0);
                        const __m512 p = _mm512_maskz_loadu_ps(m, P + (b0 + r) * L + j0);
                        const __m512 mk = attb_keep16(K + (b0 + r) * L + j0, L - j0, c->keep_scale);
                        _mm512_mask_storeu_ps(w + r * L + j0, m, _mm512_mul_ps(p, mk));
                    }
                sbert_att_out_rows(c->out + (t0 + b0) * H + h * d, H, w, L, nr, v, W3, L, d);
            }
            continue;
        }
        for (size_t i = 0; i < L; i++) {
            const float *Pi = P + i * L;
            const uint8_t *Ki = K + i * L;
            float *o = c->out + (t0 + i) * H + h * d;
            for (size_t cb = 0; cb < d; cb += 16) {
                const __mmask16 dm = attb_mask16(d - cb);
                __m512 a0 = _mm512_setzero_ps(), a1 = a0;
                const float *r = v + cb;
                size_t j = 0;
                for (; j + 2 <= L; j += 2) {
                    const float w0 = Pi[j] * (Ki[j] ? c->keep_scale : 0.0f);
                    const float w1 = Pi[j + 1] * (Ki[j + 1] ? c->keep_scale : 0.0f);
                    a0 = _mm512_fmadd_ps(_mm512_set1_ps(w0), _mm512_maskz_loadu_ps(dm, r + j * W3), a0);
                    a1 = _mm512_fmadd_ps(_mm512_set1_ps(w1), _mm512_maskz_loadu_ps(dm, r + (j + 1) * W3), a1);
                }
                if (j < L) {
                    const float w0 = Pi[j] * (Ki[j] ? c->keep_scale : 0.0f);
                    a0 = _mm512_fmadd_ps(_mm512_set1_ps(w0), _mm512_maskz_loadu_ps(dm, r + j * W3), a0);
                }
                _mm512_mask_storeu_ps(o + cb, dm, _mm512_add_ps(a0, a1));
            }
        }
    }
}
#endif

static void attd_run_chunk(void *vctx, size_t i0, size_t i1) {
#ifdef ATTB_HAVE_AVX512_COPY
    if (sbert_attention_avx512()) {
        attd_chunk_avx512(vctx, i0, i1);
        return;
    }
#endif
    attd_chunk(vctx, i0, i1);
}

sbert_status sbert_attention_dropout_output(float *out, const float *probs, const uint8_t *keep,
                                            float keep_scale, const float *qkv,
                                            const size_t *seq_offsets, size_t n_seq,
                                            size_t n_heads, size_t head_dim) {
    if (n_seq == 0 || n_heads == 0) return SBERT_OK;
    size_t *pbase = sbert_attention_probs_base(seq_offsets, n_seq, n_heads);
    if (!pbase) return sbert_fail(SBERT_ERR_NOMEM, "attention dropout: out of memory");
    attd_ctx c = {out, qkv, probs, keep, keep_scale, seq_offsets, pbase, n_heads, head_dim};
    size_t *cum = sbert_attention_item_costs(seq_offsets, n_seq, n_heads);
    if (cum)
        sbert_parallel_for_cost(n_seq * n_heads, cum, 0, attd_run_chunk, &c);
    else
        attd_run_chunk(&c, 0, n_seq * n_heads);
    free(cum);
    free(pbase);
    return SBERT_OK;
}
