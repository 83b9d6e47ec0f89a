/*
 * kernels/attention.c -- packed multi-head self-attention, fp32 CPU
 * (contract in attention.h).
 *
 * Work item = (sequence s, head h), items numbered s * n_heads + h and split
 * into contiguous chunks by sbert_parallel_for. For one item of length L and
 * head size d the loops are
 *     Kt[d, L]  = K_h^T                     (so the score loop is unit-stride)
 *     S[i, :]   = sum_c q_i[c] * Kt[c, :]   then * scale (+ relative bias)
 *     P[i, :]   = softmax(S[i, :])
 *     out_i     = sum_j P[i, j] * v_j       (axpy over d, unit-stride)
 * Causal attention (a decoder's self-attention: sbert_attention_forward_causal)
 * computes row i over keys j <= i only and writes P[i, j > i] = 0, so the
 * backward (attention_backward.c), which works from P, needs no change.
 * Where the CPU has AVX-512F, att_item_avx512 runs these loops 16 keys per
 * register at every length. Otherwise sequences of ATT_BLAS_MIN_LEN tokens
 * or more use two sgemm calls (Q K^T, then P V) on OpenBLAS, which runs
 * single-threaded inside the pool's chunks (base/threads.c sets it to one
 * thread), and shorter ones the plain loops (AVX2 copy where available).
 * Each chunk allocates its own scratch (Kt and, unless the caller keeps the
 * probabilities, one L x L block) once, sized for its longest sequence.
 */
#include "kernels/attention.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/threads.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "kernels/attention_simd.h"
#define ATT_HAVE_AVX512_COPY 1
#endif

size_t sbert_attention_probs_size(const size_t *seq_offsets, size_t n_seq, size_t n_heads) {
    size_t total = 0;
    for (size_t s = 0; s < n_seq; s++) {
        size_t L = seq_offsets[s + 1] - seq_offsets[s];
        total += n_heads * L * L;
    }
    return total;
}

typedef struct {
    float *out, *probs;
    const float *qkv;
    const size_t *offs;
    const size_t *probs_base; /* [n_seq]: start of sequence s in probs */
    size_t n_heads, head_dim;
    float scale;
    const float *rel_bias;
    size_t rel_max_len;
    int causal; /* 1: token i attends to tokens j <= i of its sequence only */
    atomic_int failed;
    int probs_only; /* 1: only the probabilities (the output comes from the dropout pass) */
} att_ctx;

/* The loops of att_item are unit-stride axpys over j or over the head
 * dimension; an AVX2 copy (8 lanes) is picked at run time where the CPU has
 * it (a plain flag test, not an ifunc, which sanitizer runtimes dislike).
 * Lanes never mix (no reductions are vectorized, no FMA contraction in ISO C
 * mode), so both copies give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__)
#define ATT_HAVE_AVX2_COPY 1
#endif

/* Sequences at least this long use two single-threaded sgemm calls per
 * (sequence, head) for Q K^T and P V (OpenBLAS runs one thread: see
 * base/threads.c); shorter ones use the loops below, cheaper than a BLAS call.
 * Not with the AVX-512 copy: its loops (and vectorized softmax) beat the two
 * sgemm calls plus the scalar softmax at every length measured, 2-3x at
 * L = 32..256 (bench/kernels/attention_bench). */
#ifndef ATT_BLAS_MIN_LEN
#define ATT_BLAS_MIN_LEN 32
#endif

/* softmax of each row of S [L, L] in place, after scores * scale (when
 * `scale` != 1) and the relative bias for head h. */
static void scores_to_probs(const att_ctx *c, size_t h, float *P, size_t L, float scale) {
    const float *bias_row = NULL;
    if (c->rel_bias) bias_row = c->rel_bias + h * (2 * c->rel_max_len - 1);
    for (size_t i = 0; i < L; i++) {
        float *row = P + i * L;
        const size_t jn = c->causal ? i + 1 : L; /* the keys token i sees */
        float mx = -INFINITY;
        if (bias_row) {
            const float *br = bias_row + (c->rel_max_len - 1) - i;
            for (size_t j = 0; j < jn; j++) {
                row[j] = row[j] * scale + br[j];
                mx = row[j] > mx ? row[j] : mx;
            }
        } else {
            for (size_t j = 0; j < jn; j++) {
                row[j] *= scale;
                mx = row[j] > mx ? row[j] : mx;
            }
        }
        float sum = 0.0f;
        for (size_t j = 0; j < jn; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        for (size_t j = 0; j < jn; j++) row[j] /= sum;
        for (size_t j = jn; j < L; j++) row[j] = 0.0f; /* masked: probability exactly 0 */
    }
}

static void att_item_blas(const att_ctx *c, size_t s, size_t h, float *P) {
    const size_t H = c->n_heads * c->head_dim, d = c->head_dim, W3 = 3 * H;
    const size_t t0 = c->offs[s], L = c->offs[s + 1] - t0;
    const float *q = c->qkv + t0 * W3 + h * d, *k = q + H, *v = q + 2 * H;
    /* S[L, L] = Q_h[L, d] . K_h[L, d]^T   (rows W3 apart in qkv) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)L, (int)L, (int)d, 1.0f, q, (int)W3, k,
                (int)W3, 0.0f, P, (int)L);
    scores_to_probs(c, h, P, L, c->scale);
    if (c->probs_only) return;
    /* out_h[L, d] = P[L, L] . V_h[L, d] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)L, (int)d, (int)L, 1.0f, P, (int)L, v,
                (int)W3, 0.0f, c->out + t0 * H + h * d, (int)H);
}

static inline __attribute__((always_inline)) void att_item_body(const att_ctx *c, size_t s,
                                                                size_t h, float *Kt, float *P) {
    const size_t H = c->n_heads * c->head_dim, d = c->head_dim, W3 = 3 * H;
    const size_t t0 = c->offs[s], L = c->offs[s + 1] - t0;
    const float *base = c->qkv + t0 * W3 + h * d;
    /* Kt[cc, j] = k_j[cc] */
    for (size_t j = 0; j < L; j++) {
        const float *k = base + j * W3 + H;
        for (size_t cc = 0; cc < d; cc++) Kt[cc * L + j] = k[cc];
    }
    const float *bias_row = NULL;
    size_t bias_w = 0;
    if (c->rel_bias) {
        bias_w = 2 * c->rel_max_len - 1;
        bias_row = c->rel_bias + h * bias_w;
    }
    for (size_t i = 0; i < L; i++) {
        const float *q = base + i * W3;
        float *row = P + i * L;
        const size_t jn = c->causal ? i + 1 : L; /* the keys token i sees */
        for (size_t j = 0; j < jn; j++) row[j] = q[0] * Kt[j];
        for (size_t cc = 1; cc < d; cc++) {
            const float a = q[cc];
            const float *kr = Kt + cc * L;
            for (size_t j = 0; j < jn; j++) row[j] += a * kr[j];
        }
        float mx = -INFINITY;
        if (bias_row) {
            /* bias index for (i, j): j - i + rel_max_len - 1 */
            const float *br = bias_row + (c->rel_max_len - 1) - i;
            for (size_t j = 0; j < jn; j++) {
                row[j] = row[j] * c->scale + br[j];
                mx = row[j] > mx ? row[j] : mx;
            }
        } else {
            for (size_t j = 0; j < jn; j++) {
                row[j] *= c->scale;
                mx = row[j] > mx ? row[j] : mx;
            }
        }
        float sum = 0.0f;
        for (size_t j = 0; j < jn; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        for (size_t j = 0; j < jn; j++) row[j] /= sum;
        for (size_t j = jn; j < L; j++) row[j] = 0.0f; /* masked: probability exactly 0 */
        if (c->probs_only) continue;
        /* out_i = sum_j P[i,j] v_j */
        float *o = c->out + (t0 + i) * H + h * d;
        for (size_t cc = 0; cc < d; cc++) o[cc] = 0.0f;
        for (size_t j = 0; j < jn; j++) {
            const float p = row[j];
            const float *v = base + j * W3 + 2 * H;
            for (size_t cc = 0; cc < d; cc++) o[cc] += p * v[cc];
        }
    }
}

static void att_item_plain(const att_ctx *c, size_t s, size_t h, float *Kt, float *P) {
    att_item_body(c, s, h, Kt, P);
}

#ifdef ATT_HAVE_AVX2_COPY
__attribute__((target("avx2"))) static void att_item_avx2(const att_ctx *c, size_t s, size_t h,
                                                          float *Kt, float *P) {
    att_item_body(c, s, h, Kt, P);
}
#endif

static int att_allow_avx512 = 1;

int sbert_attention_avx512_cap(int allow) {
    int was = att_allow_avx512;
    att_allow_avx512 = allow != 0;
    return was;
}

int sbert_attention_avx512(void) {
#ifdef ATT_HAVE_AVX512_COPY
    return att_allow_avx512 && sbert_cpu_avx512();
#else
    return 0;
#endif
}

#ifdef ATT_HAVE_AVX512_COPY
/* The AVX-512 copy of att_item_body, vectorized over the key index j in
 * 16-lane registers (a row of up to 16 keys is one register; longer rows
 * loop over 16-key chunks, the last one masked). Kt is stored with its rows
 * padded to Lp = L rounded up to 16 (zeros past L), so every score load is a
 * full one. The scores use FMAs in 4 partial sums over the head dimension,
 * exp is a polynomial (sbert_att_exp512) and the softmax sums are tree
 * reductions, so unlike the AVX2 and plain copies (which give each other's
 * bits) this copy's results differ from theirs in the last bits (within
 * 1e-5 relative, tests/test_kernels.c); it is itself deterministic, so the
 * output is the same for any thread count and with or without probs. */
#define ATT512 __attribute__((target("avx512f,avx2,fma")))

ATT512 static inline __m512 sbert_att_exp512(__m512 x) {
    /* e^x for x <= 0: x = n ln2 + r, |r| <= ln2/2, e^r by its Taylor series
     * to degree 7 (truncation < 6e-9 relative), then scaled by 2^n. */
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f)); /* e^-104 is 0 in fp32; also maps -inf */
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x); /* ln2, high part: n * it is exact */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);     /* ln2 - 0.693359375 */
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 att_mask16(size_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* Scratch: Kt [d, Lp], V [L, d] (contiguous copy), rmax [L]. The passes
 * run over all rows of the item (scores and row maxima, then exp and row
 * sums, then the division, then the output), so the rows' dependency chains
 * (horizontal max and sum, exp) overlap instead of running one after another. */
ATT512 static void att_item_avx512(const att_ctx *c, size_t s, size_t h, float *Kt, float *P) {
    const size_t H = c->n_heads * c->head_dim, d = c->head_dim, W3 = 3 * H;
    const size_t t0 = c->offs[s], L = c->offs[s + 1] - t0, Lp = (L + 15) & ~(size_t)15;
    const float *base = c->qkv + t0 * W3 + h * d;
    float *V = Kt + d * Lp, *rmax = V + L * d;
    sbert_att_transpose(Kt, Lp, base + H, W3, L, d);
    const float *bias_row = NULL;
    if (c->rel_bias) bias_row = c->rel_bias + h * (2 * c->rel_max_len - 1) + (c->rel_max_len - 1);
    const __m512 vscale = _mm512_set1_ps(c->scale), ninf = _mm512_set1_ps(-INFINITY);
    /* scores and row maxima, four query rows at a time (rows past L repeat
     * the last one and are not stored) */
    for (size_t i0 = 0; i0 < L; i0 += 4) {
        const size_t nr = L - i0 < 4 ? L - i0 : 4, jmax = c->causal ? i0 + nr : L;
        const float *q0 = base + i0 * W3, *q1 = base + (i0 + (nr > 1 ? 1 : 0)) * W3,
                    *q2 = base + (i0 + (nr > 2 ? 2 : nr - 1)) * W3, *q3 = base + (i0 + (nr > 3 ? 3 : nr - 1)) * W3;
        __m512 vmax[4] = {ninf, ninf, ninf, ninf};
        for (size_t j0 = 0; j0 < jmax; j0 += 16) {
            __m512 sc[4];
            sbert_att_dot4(sc, q0, q1, q2, q3, Kt + j0, Lp, d);
            for (size_t r = 0; r < nr; r++) {
                const size_t i = i0 + r, jn = c->causal ? i + 1 : L; /* the keys token i sees */
                if (j0 >= jn) continue;
                const __mmask16 m = att_mask16(jn - j0);
                __m512 v = _mm512_mul_ps(sc[r], vscale);
                /* bias index for (i, j): j - i + rel_max_len - 1 */
                if (bias_row) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias_row - i + j0));
                v = _mm512_mask_mov_ps(ninf, m, v);
                vmax[r] = _mm512_max_ps(vmax[r], v);
                _mm512_mask_storeu_ps(P + i * L + j0, m, v);
            }
        }
        for (size_t r = 0; r < nr; r++) rmax[i0 + r] = _mm512_reduce_max_ps(vmax[r]);
    }
    for (size_t i = 0; i < L; i++) {
        float *row = P + i * L;
        const size_t jn = c->causal ? i + 1 : L;
        const __m512 mx = _mm512_set1_ps(rmax[i]);
        __m512 vsum = _mm512_setzero_ps();
        for (size_t j0 = 0; j0 < jn; j0 += 16) {
            const __mmask16 m = att_mask16(jn - j0);
            __m512 e = _mm512_maskz_mov_ps(m, sbert_att_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j0), mx)));
            vsum = _mm512_add_ps(vsum, e);
            _mm512_mask_storeu_ps(row + j0, m, e);
        }
        rmax[i] = _mm512_reduce_add_ps(vsum); /* now the row's sum */
    }
    for (size_t i = 0; i < L; i++) {
        float *row = P + i * L;
        const size_t jn = c->causal ? i + 1 : L;
        /* divided, as the plain copy does: multiplying by 1 / sum instead
         * moves test_distill's teacher labels past their tolerance */
        const __m512 sum = _mm512_set1_ps(rmax[i]);
        for (size_t j0 = 0; j0 < jn; j0 += 16) {
            const __mmask16 m = att_mask16(jn - j0);
            _mm512_mask_storeu_ps(row + j0, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, row + j0), sum));
        }
        for (size_t j = jn; j < L; j++) row[j] = 0.0f; /* masked: probability exactly 0 */
    }
    if (c->probs_only) return;
    for (size_t j = 0; j < L; j++)
        for (size_t cb = 0; cb < d; cb += 16) {
            const __mmask16 dm = att_mask16(d - cb);
            _mm512_mask_storeu_ps(V + j * d + cb, dm, _mm512_maskz_loadu_ps(dm, base + j * W3 + 2 * H + cb));
        }
    /* out_i = sum_j P[i,j] v_j, four rows at a time (causal: P[i, j > i] = 0, so
     * the block's last row bounds the keys) */
    for (size_t i0 = 0; i0 < L; i0 += 4) {
        const size_t nr = L - i0 < 4 ? L - i0 : 4, jn = c->causal ? i0 + nr : L;
        sbert_att_out_rows(c->out + (t0 + i0) * H + h * d, H, P + i0 * L, L, nr, V, d, jn, d);
    }
}
#endif

static void att_item(const att_ctx *c, size_t s, size_t h, float *Kt, float *P) {
#ifdef ATT_HAVE_AVX512_COPY
    if (sbert_attention_avx512()) {
        att_item_avx512(c, s, h, Kt, P);
        return;
    }
#endif
#ifdef ATT_HAVE_AVX2_COPY
    static int have = -1; /* every thread computes the same value */
    int a = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (a < 0) {
        __builtin_cpu_init();
        a = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&have, a, __ATOMIC_RELAXED);
    }
    if (a) {
        att_item_avx2(c, s, h, Kt, P);
        return;
    }
#endif
    att_item_plain(c, s, h, Kt, P);
}

static void att_chunk(void *vctx, size_t i0, size_t i1) {
    att_ctx *c = vctx;
    size_t maxL = 0;
    for (size_t it = i0; it < i1; it++) {
        size_t s = it / c->n_heads;
        size_t L = c->offs[s + 1] - c->offs[s];
        if (L > maxL) maxL = L;
    }
    if (maxL == 0) return;
    /* Kt [head_dim, maxL rounded up to 16] (the AVX-512 copy pads its rows),
     * then (AVX-512 copy) V [maxL, head_dim] and rmax [maxL] */
    const size_t kt_size = ((maxL + 15) & ~(size_t)15) * c->head_dim + maxL * c->head_dim + maxL;
    size_t need = kt_size + (c->probs ? 0 : maxL * maxL);
    float *scratch = malloc(need * sizeof(float));
    if (!scratch) {
        atomic_store(&c->failed, 1);
        return;
    }
    float *Kt = scratch, *P = scratch + kt_size;
    const int wide = sbert_attention_avx512();
    for (size_t it = i0; it < i1; it++) {
        size_t s = it / c->n_heads, h = it % c->n_heads;
        size_t L = c->offs[s + 1] - c->offs[s];
        if (L == 0) continue;
        float *Pi = c->probs ? c->probs + c->probs_base[s] + h * L * L : P;
        if (it + 1 < i1) { /* the next item's q, k, v and output rows */
            const size_t s1 = (it + 1) / c->n_heads, h1 = (it + 1) % c->n_heads, d = c->head_dim;
            const size_t u0 = c->offs[s1], L1 = c->offs[s1 + 1] - u0, H = c->n_heads * d;
            for (int part = 0; part < 3; part++) sbert_att_prefetch(c->qkv, 3 * H, u0, L1, part * H + h1 * d, d, 0);
            if (!c->probs_only) sbert_att_prefetch(c->out, H, u0, L1, h1 * d, d, 1);
        }
        if (L >= ATT_BLAS_MIN_LEN && !wide)
            att_item_blas(c, s, h, Pi);
        else
            att_item(c, s, h, Kt, Pi);
    }
    free(scratch);
}

size_t *sbert_attention_probs_base(const size_t *seq_offsets, size_t n_seq, size_t n_heads) {
    size_t *pbase = malloc((n_seq ? n_seq : 1) * sizeof *pbase);
    if (!pbase) return NULL;
    size_t acc = 0;
    for (size_t s = 0; s < n_seq; s++) {
        size_t L = seq_offsets[s + 1] - seq_offsets[s];
        pbase[s] = acc;
        acc += n_heads * L * L;
    }
    return pbase;
}

size_t *sbert_attention_item_costs(const size_t *seq_offsets, size_t n_seq, size_t n_heads) {
    size_t *cum = malloc((n_seq * n_heads + 1) * sizeof *cum);
    if (!cum) return NULL;
    size_t acc = 0, it = 0;
    cum[0] = 0;
    for (size_t s = 0; s < n_seq; s++) {
        size_t L = seq_offsets[s + 1] - seq_offsets[s];
        for (size_t h = 0; h < n_heads; h++) cum[++it] = acc += L * (L + 1);
    }
    return cum;
}

static sbert_status att_run(float *out, float *probs, int probs_only, const float *qkv, const size_t *seq_offsets,
                            size_t n_seq, size_t n_heads, size_t head_dim, float scale, const float *rel_bias,
                            size_t rel_max_len, int causal) {
    if (n_seq == 0 || n_heads == 0) return SBERT_OK;
    if (rel_bias) {
        for (size_t s = 0; s < n_seq; s++) {
            if (seq_offsets[s + 1] - seq_offsets[s] > rel_max_len)
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "attention: sequence %zu has %zu tokens, more than the %zu the "
                                  "relative position bias table covers",
                                  s, seq_offsets[s + 1] - seq_offsets[s], rel_max_len);
        }
    }
    size_t *pbase = NULL;
    if (probs) {
        pbase = sbert_attention_probs_base(seq_offsets, n_seq, n_heads);
        if (!pbase) return sbert_fail(SBERT_ERR_NOMEM, "attention: out of memory");
    }
    att_ctx c = {out, probs, qkv, seq_offsets, pbase, n_heads, head_dim, scale, rel_bias,
                 rel_max_len, causal != 0, 0, probs_only};
    /* Threads get equal shares of the L^2 work (one cost unit ~ 2 head_dim
     * multiply-adds plus a share of the softmax); with the pool polling, a
     * split costs a microsecond or two, so it pays from ~2^14 multiply-adds
     * per thread: one short sentence (12 heads x 15 tokens, ~35 us of
     * attention per layer) is split, a 3-token one is not. */
    size_t items = n_seq * n_heads;
    size_t *cum = sbert_attention_item_costs(seq_offsets, n_seq, n_heads);
    if (cum)
        sbert_parallel_for_cost(items, cum, ((size_t)1 << 14) / (head_dim ? head_dim : 1), att_chunk, &c);
    else
        att_chunk(&c, 0, items);
    free(cum);
    free(pbase);
    if (atomic_load(&c.failed))
        return sbert_fail(SBERT_ERR_NOMEM, "attention: out of memory for the score scratch");
    return SBERT_OK;
}

sbert_status sbert_attention_forward(float *out, float *probs, const float *qkv,
                                     const size_t *seq_offsets, size_t n_seq, size_t n_heads,
                                     size_t head_dim, float scale, const float *rel_bias,
                                     size_t rel_max_len) {
    return att_run(out, probs, 0, qkv, seq_offsets, n_seq, n_heads, head_dim, scale, rel_bias, rel_max_len, 0);
}

sbert_status sbert_attention_forward_causal(float *out, float *probs, const float *qkv,
                                            const size_t *seq_offsets, size_t n_seq, size_t n_heads,
                                            size_t head_dim, float scale, const float *rel_bias,
                                            size_t rel_max_len, int causal) {
    return att_run(out, probs, 0, qkv, seq_offsets, n_seq, n_heads, head_dim, scale, rel_bias, rel_max_len,
                   causal);
}

sbert_status sbert_attention_probs(float *probs, const float *qkv, const size_t *seq_offsets, size_t n_seq,
                                   size_t n_heads, size_t head_dim, float scale, const float *rel_bias,
                                   size_t rel_max_len) {
    if (!probs) return sbert_fail(SBERT_ERR_INVALID_ARG, "attention: probs is NULL");
    return att_run(NULL, probs, 1, qkv, seq_offsets, n_seq, n_heads, head_dim, scale, rel_bias, rel_max_len, 0);
}
