/*
 * kernels/cpu_ops.h -- the fp32 CPU building blocks of the encoder forward
 * pass, one function per op in the style of llm.c: plain row-major arrays,
 * shapes in the comment next to each function, outputs first.
 *
 * Every op keeps in its arguments what its backward (next issue) will need:
 * LayerNorm can save its per-row mean and 1/std, linear+activation can keep the
 * pre-activation, residual adds can keep the sum. Pass NULL for a saved
 * buffer when only the forward result matters (inference).
 *
 * Matrix products go to OpenBLAS (cblas_sgemm, split over the sbert pool); row-wise and
 * element-wise ops run on the sbert thread pool (base/threads.h). Results are
 * deterministic for a given thread count.
 */
#ifndef SBERT_KERNELS_CPU_OPS_H
#define SBERT_KERNELS_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

/* Activation functions, as transformers' ACT2FN names them. */
typedef enum {
    SBERT_ACT_IDENTITY = 0,
    SBERT_ACT_GELU,      /* "gelu", "gelu_python": 0.5 x (1 + erf(x / sqrt 2)) */
    SBERT_ACT_GELU_TANH, /* "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
                            0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    SBERT_ACT_RELU,      /* "relu" */
    SBERT_ACT_SILU,      /* "silu", "swish": x sigmoid(x) */
    SBERT_ACT_QUICK_GELU /* "quick_gelu": x sigmoid(1.702 x) */
} sbert_act;

/* Map a config name ("gelu", "gelu_new", "relu", ...) to sbert_act.
 * Unknown names: SBERT_ERR_UNSUPPORTED naming the activation and the supported ones. */
sbert_status sbert_act_from_name(const char *name, sbert_act *out);
const char *sbert_act_name(sbert_act act);

/* One value: y = act(x). */
float sbert_act_apply(sbert_act act, float x);

/* out[T,C] += table[ids[t], :] for every t.  ids: [T] (caller checked < V); table: [V,C]. */
void sbert_embedding_add(float *out, const int32_t *ids, const float *table, size_t T, size_t C);

/* C[M,N] = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm, with the M
 * rows of C split over the sbert thread pool (OpenBLAS runs single-threaded
 * inside each chunk). op(A) is A[M,K] (trans_a 0) or A[K,M]^T (trans_a 1);
 * op(B) is B[K,N] or B[N,K]^T. Each row block of C is computed by one thread with
 * OpenBLAS's kernels for the row blocks; the split depends only on M and the
 * thread count, so results are deterministic for a given thread count (and
 * agree with one cblas_sgemm call to rounding). */
void sbert_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                 const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                 size_t ldc);
/* The same in double precision (cblas_dgemm), for the losses' similarity
 * matrices. */
void sbert_dgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha,
                 const double *A, size_t lda, const double *B, size_t ldb, double beta, double *C,
                 size_t ldc);

/* out[T,N] = in[T,K] . W[N,K]^T + b[N]   (b may be NULL). Columns split over
 * the pool; few rows go to kernels/gemm_small.h, more to cblas_sgemm.
 * out must not alias in. */
void sbert_linear_forward(float *out, const float *in, const float *W, const float *b, size_t T,
                          size_t K, size_t N);

/* pre[T,N] = in[T,K] . W[N,K]^T + b[N];  out[T,N] = act(pre).
 * pre may equal out (inference: the pre-activation is then not kept).
 * The activation is the product's epilogue: each thread applies it to its
 * block of columns right after computing them. */
void sbert_linear_act_forward(float *out, float *pre, const float *in, const float *W,
                              const float *b, size_t T, size_t K, size_t N, sbert_act act);

/* out[n] = act(in[n]); out may equal in. */
void sbert_act_forward(float *out, const float *in, size_t n, sbert_act act);

/* out[n] = a[n] + b[n]; out may equal a or b. */
void sbert_add_forward(float *out, const float *a, const float *b, size_t n);

/* LayerNorm over the last dimension:
 *   out[t,:] = (in[t,:] - mean_t) * rstd_t * w[C] + b[C],  rstd_t = 1 / sqrt(var_t + eps)
 * with the biased variance, as torch.nn.LayerNorm. in: [T,C]; out may equal in.
 * mean, rstd: [T] each, saved for the backward; either may be NULL. */
void sbert_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w,
                             const float *b, size_t T, size_t C, float eps);

/* Residual + LayerNorm in one pass:  sum = a + r;  out = LayerNorm(sum).
 * a, r, out: [T,C].  sum: [T,C] (kept for the backward) or NULL; out may equal a or r. */
void sbert_add_layernorm_forward(float *out, float *sum, float *mean, float *rstd, const float *a,
                                 const float *r, const float *w, const float *b, size_t T,
                                 size_t C, float eps);

/* Row softmax: out[R,C] = softmax(in[R,C]) along C (max-subtracted). out may equal in. */
void sbert_softmax_forward(float *out, const float *in, size_t R, size_t C);

#endif
