/*
 * kernels/gemm_small.h -- out = in . W^T (+ b) for FEW rows of `in`.
 *
 * For a handful of tokens (one short sentence) a BLAS sgemm spends about as
 * long packing the weight matrix as multiplying with it. This kernel never
 * packs: it streams each weight row once and takes dot products with all
 * token rows held in L1, using AVX2+FMA when the CPU has them (selected at
 * run time; the build itself targets x86-64-v2). Without AVX2 it reports
 * "not handled" and the caller uses BLAS.
 */
#ifndef SBERT_KERNELS_GEMM_SMALL_H
#define SBERT_KERNELS_GEMM_SMALL_H

#include <stddef.h>

/* Rows of `in` up to which sbert_gemm_small is used instead of sgemm. */
#define SBERT_GEMM_SMALL_MAX_T 24

/* out[t, n] (row stride ldo) = sum_k in[t, k] W[n, k] + (b ? b[n] : 0)
 * for t < T, n < N.   in: [T, K], W: [N, K] (row-major, unit stride), b: [N].
 * Returns 1 when done, 0 when this CPU lacks AVX2/FMA (nothing written). */
int sbert_gemm_small(float *out, size_t ldo, const float *in, const float *W, const float *b,
                     size_t T, size_t K, size_t N);

#endif
