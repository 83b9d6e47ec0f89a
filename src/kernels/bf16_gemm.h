/*
 * kernels/bf16_gemm.h -- bf16 matrix products with fp32 accumulation, for
 * `--precision bf16` (inference) and `bf16: true` (training, as torch's
 * autocast runs nn.Linear).
 *
 * The products go to oneDNN's matmul (the library torch itself uses on CPU),
 * bf16 inputs, fp32 accumulation and fp32 output; everything around them
 * (bias, activation, LayerNorm, softmax, residuals) stays fp32. They are used
 * only when the CPU multiplies bf16 natively -- AVX512-BF16 or AMX-BF16,
 * found at run time from CPUID and confirmed by oneDNN's own ISA detection --
 * and when the build has oneDNN (CMake option SBERT_ONEDNN, on when
 * libdnnl-dev is installed). Otherwise sbert_bf16_unavailable() says why and
 * callers stay in fp32; the functions below then compute in fp32 (sgemm), so
 * calling them is never wrong, only not bf16.
 *
 * The environment variable SBERT_BF16_DISABLE=1 makes bf16 unavailable, to
 * exercise the fp32 fallback on a CPU that has bf16.
 *
 * bf16 values are uint16_t (the top half of an IEEE float); conversion rounds
 * to nearest even, as torch's .to(torch.bfloat16) and VCVTNEPS2BF16 do.
 *
 * Row blocks of the output are split over the sbert thread pool (oneDNN runs
 * one thread inside each block), so results depend only on the shapes and
 * the thread count.
 */
#ifndef SBERT_KERNELS_BF16_GEMM_H
#define SBERT_KERNELS_BF16_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu_ops.h"

/* What the CPU offers for bf16 products (CPUID, OS-enabled state). */
typedef enum {
    SBERT_BF16_ISA_NONE = 0,
    SBERT_BF16_ISA_AVX512_BF16, /* AVX512-BF16 (VDPBF16PS): AMD Zen 4/5, Intel Cooper Lake+ */
    SBERT_BF16_ISA_AMX_BF16     /* AMX-BF16 tiles (+ AVX512-BF16): Intel Sapphire Rapids+ */
} sbert_bf16_isa;

sbert_bf16_isa sbert_bf16_cpu_isa(void);
const char *sbert_bf16_isa_name(sbert_bf16_isa isa);

/* NULL when bf16 products run here; otherwise one sentence saying why not
 * (no oneDNN in this build, and how to get it; the CPU lacks AVX512-BF16 and
 * AMX-BF16; SBERT_BF16_DISABLE is set). Decided once per process. */
const char *sbert_bf16_unavailable(void);
/* 1 when this build links oneDNN. */
int sbert_bf16_built_with_onednn(void);

/* dst[n] = bf16(src[n]) (round to nearest even; NaN stays NaN). */
void sbert_f32_to_bf16(uint16_t *dst, const float *src, size_t n);
/* dst[n] = float(src[n]) (exact). */
void sbert_bf16_to_f32(float *dst, const uint16_t *src, size_t n);

/* out[T,N] = bf16(in[T,K]) . Wb[N,K]^T + b[N]   (b may be NULL; fp32 bias added
 * to the fp32 accumulator). Wb: bf16 weights, row-major [N,K] (converted once
 * by the caller). out must not alias in. */
void sbert_bf16_linear_forward(float *out, const float *in, const uint16_t *Wb, const float *b,
                               size_t T, size_t K, size_t N);

/* pre[T,N] = bf16(in) . Wb^T + b;  out[T,N] = act(pre)  (pre may equal out),
 * as sbert_linear_act_forward. */
void sbert_bf16_linear_act_forward(float *out, float *pre, const float *in, const uint16_t *Wb,
                                   const float *b, size_t T, size_t K, size_t N, sbert_act act);

/* C[M,N] = op(A) . op(B) + beta C, row-major as cblas_sgemm (alpha 1), with
 * A and B fp32 rounded to bf16 before the product, fp32 accumulation.
 * op(A): A[M,K] (trans_a 0) or A[K,M]^T (trans_a 1); op(B): B[K,N] or B[N,K]^T.
 * Bb variant: B already bf16 (e.g. a layer's converted weights). */
void sbert_bf16_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, const float *A,
                     size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
void sbert_bf16_gemm_bb(int trans_a, int trans_b, size_t M, size_t N, size_t K, const float *A,
                        size_t lda, const uint16_t *Bb, size_t ldb, float beta, float *C,
                        size_t ldc);

/* Backward of sbert_bf16_linear_forward, as torch's autocast differentiates
 * a bf16 nn.Linear: both products in bf16 (fp32 accumulation), the bias
 * gradient in fp32. Shapes and += rules as sbert_linear_backward
 * (kernels/cpu_ops_backward.h): din[T,K] += dout . W, dW[N,K] += dout^T . in,
 * db[N] += sum_t dout; each of din, dW, db may be NULL. */
void sbert_bf16_linear_backward(float *din, float *dW, float *db, const float *dout,
                                const float *in, const uint16_t *Wb, size_t T, size_t K, size_t N);
/* The same after an activation (as sbert_linear_act_backward):
 * dpre_scratch[T,N] = dout * act'(pre) (overwritten), then the linear backward. */
void sbert_bf16_linear_act_backward(float *din, float *dW, float *db, float *dpre_scratch,
                                    const float *dout, const float *pre, const float *in,
                                    const uint16_t *Wb, size_t T, size_t K, size_t N, sbert_act act);

#endif
