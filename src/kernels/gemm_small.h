/*
 * kernels/gemm_small.h -- out = in . W^T (+ b) for FEW rows of `in`.
 *
 * For a handful of tokens (one short sentence) a BLAS sgemm spends about as
 * long packing the weight matrix as multiplying with it. This kernel never
 * packs: W [N, K] is row-major with K contiguous, so it takes dot products
 * along K, a block of 4 weight rows against a block of token rows at a
 * time, the weight rows streamed from memory once per token block and the
 * token rows re-read from L1/L2. Two copies are picked at run time (the
 * build itself targets x86-64-v2):
 *   AVX-512F   4 weight rows x 6 token rows = 24 zmm accumulators (16 lanes),
 *              K tail by masked loads;
 *   AVX2+FMA   4 weight rows x 3 token rows = 12 ymm accumulators (8 lanes),
 *              K tail by a scalar loop.
 * The 4 accumulators of one token row are reduced together (one horizontal
 * add tree) and stored as 4 adjacent outputs. Summation order depends only
 * on K and the copy in use, never on T, N or the thread split, so a result
 * is deterministic on a given CPU. Without AVX2 it reports "not handled"
 * and the caller uses BLAS.
 */
#ifndef SBERT_KERNELS_GEMM_SMALL_H
#define SBERT_KERNELS_GEMM_SMALL_H

#include <stddef.h>

/* Rows of `in` up to which the forward uses sbert_gemm_small instead of
 * sgemm with the copy in use (0: never). Measured with
 * bench/encode/gemm_bench.c on the MiniLM shapes, one thread, weights
 * streaming from memory: the AVX-512 copy is ahead of OpenBLAS's
 * Cooperlake kernels up to 256 rows and level beyond, the AVX2 copy up to
 * about 48. */
size_t sbert_gemm_small_max_rows(void);

/* out[t, n] (row stride ldo) = sum_k in[t, k] W[n, k] + (b ? b[n] : 0)
 * for t < T, n < N.   in: [T, K], W: [N, K] (row-major, unit stride), b: [N].
 * Returns 1 when done, 0 when this CPU lacks AVX2/FMA (nothing written). */
int sbert_gemm_small(float *out, size_t ldo, const float *in, const float *W, const float *b,
                     size_t T, size_t K, size_t N);

/* The copy sbert_gemm_small runs: SBERT_SMALL_NONE, _AVX2 or _AVX512 (the
 * best this CPU has, unless capped). */
enum { SBERT_SMALL_NONE = 0, SBERT_SMALL_AVX2 = 1, SBERT_SMALL_AVX512 = 2 };
int sbert_gemm_small_level(void);
/* Cap the copy at `max_level` (what the CPU has still limits it); returns
 * the level now in use. For tests and benchmarks that compare the copies;
 * not to be called while a product runs on another thread. */
int sbert_gemm_small_cap(int max_level);

#endif
