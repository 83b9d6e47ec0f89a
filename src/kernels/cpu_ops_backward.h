/*
 * kernels/cpu_ops_backward.h -- the backward passes of the fp32 CPU ops in
 * kernels/cpu_ops.h, one function per forward op, llm.c style.
 *
 * Conventions shared by every function here:
 *   - every gradient output is ACCUMULATED (+=), never overwritten, so a
 *     tensor used twice (a residual stream, a tied weight) simply receives
 *     both contributions; the caller zeroes gradient buffers once per step;
 *   - a gradient output may be NULL when that gradient is not needed (a
 *     frozen parameter, the input of the first layer, ...);
 *   - the backward uses what the forward saved: the op input, the
 *     pre-activation, LayerNorm's per-row mean and 1/std, the residual sum,
 *     the softmax output;
 *   - results are deterministic for a given thread count: parameter
 *     gradients (reductions over rows) are computed column-wise so that no
 *     two threads ever add into the same element, and the order of every
 *     sum is fixed.
 * Shapes are row-major and written next to each function.
 */
#ifndef SBERT_KERNELS_CPU_OPS_BACKWARD_H
#define SBERT_KERNELS_CPU_OPS_BACKWARD_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu_ops.h"

/* The derivative act'(x) at one point (x = the pre-activation). */
float sbert_act_grad(sbert_act act, float x);

/* Backward of sbert_embedding_add:
 *   dtable[ids[t], :] += dout[t, :] for every t (scatter-add).
 * dtable: [V, C]; ids: [T] (each < V); dout: [T, C].
 * Repeated ids are summed in token order; columns are split over threads. */
void sbert_embedding_backward(float *dtable, const int32_t *ids, const float *dout, size_t T,
                              size_t C);

/* Backward of out[T,N] = in[T,K] . W[N,K]^T + b[N]:
 *   din[T,K] += dout[T,N] . W[N,K]
 *   dW[N,K]  += dout[T,N]^T . in[T,K]
 *   db[N]    += sum_t dout[t, :]
 * Any of din, dW, db may be NULL. din must not alias dout, in or W. */
void sbert_linear_backward(float *din, float *dW, float *db, const float *dout, const float *in,
                           const float *W, size_t T, size_t K, size_t N);

/* sbert_linear_backward with din OVERWRITTEN: din[T,K] = dout[T,N] . W[N,K]
 * (dW, db still accumulate): no zeroed buffer needed. */
void sbert_linear_backward_set(float *din, float *dW, float *db, const float *dout, const float *in,
                               const float *W, size_t T, size_t K, size_t N);

/* Backward of out = act(pre):  dpre[n] += dout[n] * act'(pre[n]).
 * dpre must not alias dout (accumulation needs a separate, zeroed buffer). */
void sbert_act_backward(float *dpre, const float *dout, const float *pre, size_t n, sbert_act act);

/* Backward of sbert_linear_act_forward (pre = in . W^T + b; out = act(pre)):
 *   dpre_scratch[T,N] = dout * act'(pre)   (overwritten, caller-owned scratch)
 *   then the linear backward above into din [T,K], dW [N,K], db [N] (+=, each may be NULL).
 * pre: [T,N] as saved by the forward; in: [T,K]; W: [N,K]. */
void sbert_linear_act_backward(float *din, float *dW, float *db, float *dpre_scratch,
                               const float *dout, const float *pre, const float *in,
                               const float *W, size_t T, size_t K, size_t N, sbert_act act);

/* Backward of out = a + b:  da[n] += dout[n], db[n] += dout[n] (either may be NULL;
 * da == db is allowed and receives twice dout). */
void sbert_add_backward(float *da, float *db, const float *dout, size_t n);

/* Backward of sbert_layernorm_forward. With xhat = (in - mean_t) * rstd_t and
 * g = dout * w:
 *   din[t,:] += rstd_t * (g - mean(g) - xhat * mean(g * xhat))
 *   dw[C]    += sum_t dout[t,:] * xhat[t,:]
 *   db[C]    += sum_t dout[t,:]
 * dout, in, din: [T,C]; w: [C]; mean, rstd: [T] (saved by the forward).
 * din, dw, db may each be NULL; din must not alias dout or in. */
void sbert_layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                              const float *w, const float *mean, const float *rstd, size_t T,
                              size_t C);

/* Backward of sbert_add_layernorm_forward (sum = a + r; out = LayerNorm(sum)):
 * the LayerNorm backward above with in = sum, its input gradient added to
 * both da and dr. da, dr: [T,C] (+=, either may be NULL, da == dr allowed,
 * neither may alias dout or sum); dw, db: [C]. */
void sbert_add_layernorm_backward(float *da, float *dr, float *dw, float *db, const float *dout,
                                  const float *sum, const float *w, const float *mean,
                                  const float *rstd, size_t T, size_t C);

/* sbert_add_layernorm_backward with da and dr OVERWRITTEN (=) instead of
 * accumulated, and da then multiplied by a dropout mask when keep_a is given
 * (da = keep_a ? v * keep_scale : 0, the same values as the accumulating call on
 * zeroed buffers followed by the mask). dw, db still accumulate. keep_a: [T,C]. */
void sbert_add_layernorm_backward_set(float *da, const uint8_t *keep_a, float keep_scale, float *dr,
                                      float *dw, float *db, const float *dout, const float *sum,
                                      const float *w, const float *mean, const float *rstd, size_t T,
                                      size_t C);

/* Backward of out = softmax(in) along rows:
 *   din[r,:] += out[r,:] * (dout[r,:] - sum_j dout[r,j] * out[r,j])
 * din, dout, out: [R,C]; din must not alias dout or out. */
void sbert_softmax_backward(float *din, const float *dout, const float *out, size_t R, size_t C);

#endif
