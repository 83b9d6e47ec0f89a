/*
 * kernels/pooling_backward.h -- backward passes of the sentence-level
 * modules that follow the transformer in a sentence-transformers pipeline:
 * Pooling (every mode, and their concatenations), Dense (linear + activation,
 * optional residual) and Normalize.
 *
 * They mirror the forwards in modules/pooling.c, modules/dense.c and
 * modules/normalize.c, which follow sentence-transformers v6. As everywhere
 * in the backward kernels, gradients are ACCUMULATED (+=) and shapes are
 * written next to each function. Pooling gradients per mode (sequence of
 * length len, pooled tokens lo..len-1 where lo = prompt tokens masked out
 * when include_prompt is false, n = len - lo of them):
 *   cls          -> the gathered token (lo, or 0 when n = 0: Python gathers
 *                   token argmax(mask) from the unmasked embeddings);
 *   max          -> per dimension the FIRST token holding the maximum (torch's
 *                   max(dim) index); nothing when n = 0 (all -inf, masked);
 *   mean         -> every pooled token gets dout / n;
 *   mean_sqrt_len_tokens -> every pooled token gets dout / sqrt(n);
 *   weightedmean -> token t gets dout * (t+1) / sum of (t+1) over pooled t;
 *   lasttoken    -> token len-1; nothing when n = 0 (Python gathers a masked zero).
 */
#ifndef SBERT_KERNELS_POOLING_BACKWARD_H
#define SBERT_KERNELS_POOLING_BACKWARD_H

#include <stddef.h>

#include "modules/dense.h"
#include "modules/pooling.h"
#include "sbert.h"

/* Backward of sbert_pooling_forward.
 * dtok: [T, dim] (+=) with T = seq_offsets[n_seq];
 * dout: [n_seq, n_modes * dim], the gradient of the pooled output;
 * tok:  [T, dim], the forward input (only read for the max mode);
 * seq_offsets: [n_seq + 1]; prompt_length as in the forward. */
void sbert_pooling_backward(const sbert_pooling *p, float *dtok, const float *dout,
                            const float *tok, const size_t *seq_offsets, size_t n_seq,
                            size_t prompt_length);

/* The derivative of a Dense activation at the pre-activation x
 * (LeakyReLU: slope 0.01; ELU: alpha 1; GELU: exact erf, as torch.nn.GELU()). */
float sbert_activation_grad(sbert_activation a, float x);

/* Backward of the Dense module  y = act(x W^T + b)  [+ x  |  + x R^T]:
 * x:  [n, in], the forward input;      dy: [n, out];
 * W:  [out, in];  b: [out] or NULL;    R: [out, in] or NULL;
 * use_residual: 0 = none, 1 = "+ x" when R is NULL (needs in == out) or "+ x R^T";
 * dx: [n, in] (+=) or NULL; dW: [out, in] (+=) or NULL; db: [out] (+=) or NULL;
 * dR: [out, in] (+=) or NULL.
 * The pre-activation is recomputed (one sgemm over n sentence rows), so the
 * forward needs to keep nothing but x. Fails only on out-of-memory, or
 * SBERT_ERR_INVALID_ARG for use_residual without R and in != out. */
sbert_status sbert_dense_backward(float *dx, float *dW, float *db, float *dR, const float *dy,
                                  const float *x, const float *W, const float *b, const float *R,
                                  int use_residual, sbert_activation act, size_t n, size_t in,
                                  size_t out);

/* Backward of Normalize  y = x / max(||x||_2, 1e-12)  row-wise:
 *   ||x|| >= 1e-12:  dx += (dy - y (y . dy)) / ||x||
 *   ||x|| <  1e-12:  dx += dy / 1e-12    (torch: clamp_min passes no gradient to the norm)
 * dx, dy, x: [n, dim]; x is the forward INPUT (the forward normalizes in
 * place, so keep a copy); dx must not alias dy or x. */
void sbert_normalize_backward(float *dx, const float *dy, const float *x, size_t n, size_t dim);

#endif
