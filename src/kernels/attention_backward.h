/*
 * kernels/attention_backward.h -- the backward of sbert_attention_forward
 * (kernels/attention.h): packed multi-head self-attention, fp32 CPU.
 *
 * Per (sequence, head), with P the softmax probabilities the forward saved,
 * q_i, k_j, v_j the head's slices of the qkv rows and g_i = dout_i:
 *     dv_j   += sum_i P[i,j] g_i
 *     dP[i,j] = g_i . v_j
 *     dS[i,j] = P[i,j] (dP[i,j] - sum_j' P[i,j'] dP[i,j'])      (softmax backward)
 *     dq_i   += scale * sum_j dS[i,j] k_j
 *     dk_j   += scale * sum_i dS[i,j] q_i
 *     drel_bias[h, j - i + rel_max_len - 1] += dS[i,j]          (when a bias was used)
 * The (sequence, head) items run in parallel on the sbert thread pool. Every
 * item writes its own rows x head-columns of dqkv, so those += never race; the
 * relative-bias gradient is shared by all sequences, so each item fills its
 * own partial row and the partials are summed afterwards in sequence order
 * (in double): the result does not depend on the thread count at all.
 *
 * Training-mode attention dropout (on the probabilities, as Hugging Face
 * does) has its forward here too: sbert_attention_dropout_output recomputes
 * the output from the saved probabilities and a keep mask, and
 * sbert_attention_backward_dropout is the matching backward.
 */
#ifndef SBERT_KERNELS_ATTENTION_BACKWARD_H
#define SBERT_KERNELS_ATTENTION_BACKWARD_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

/* dqkv:      [T, 3*H] (+=), laid out like qkv (q | k | v per row), H = n_heads * head_dim.
 * drel_bias: NULL, or [n_heads, 2*rel_max_len - 1] (+=); only meaningful when the
 *            forward used a relative bias (the bias values themselves are not needed).
 * dout:      [T, H], the gradient of the attention output.
 * qkv:       [T, 3*H], the forward input.
 * probs:     [sbert_attention_probs_size(...)], the probabilities the forward saved.
 * seq_offsets: [n_seq + 1]; scale as in the forward.
 * Fails only on out-of-memory for the scratch (SBERT_ERR_NOMEM), or
 * SBERT_ERR_INVALID_ARG when drel_bias is given and a sequence is longer than
 * rel_max_len. */
sbert_status sbert_attention_backward(float *dqkv, float *drel_bias, const float *dout,
                                      const float *qkv, const float *probs,
                                      const size_t *seq_offsets, size_t n_seq, size_t n_heads,
                                      size_t head_dim, float scale, size_t rel_max_len);

/* The same with dropout on the attention probabilities (training mode): the
 * forward used  out_i = sum_j P[i,j] * M[i,j] v_j  with M = keep ? keep_scale : 0
 * (keep_scale = 1 / (1 - p)), as torch's dropout(softmax(scores)) @ v.
 * keep: [sbert_attention_probs_size(...)] 0/1 flags laid out like probs, or NULL
 * (no dropout: exactly sbert_attention_backward). probs are the softmax output
 * BEFORE dropout. */
sbert_status sbert_attention_backward_dropout(float *dqkv, float *drel_bias, const float *dout,
                                              const float *qkv, const float *probs,
                                              const uint8_t *keep, float keep_scale,
                                              const size_t *seq_offsets, size_t n_seq,
                                              size_t n_heads, size_t head_dim, float scale,
                                              size_t rel_max_len);

/* sbert_attention_backward_dropout with dqkv OVERWRITTEN (=) instead of
 * accumulated: rows seq_offsets[0] .. seq_offsets[n_seq] - 1 of dqkv get
 * exactly the gradient (each element belongs to one (sequence, head) item),
 * so no zeroed buffer is needed. drel_bias still accumulates. */
sbert_status sbert_attention_backward_dropout_set(float *dqkv, float *drel_bias, const float *dout,
                                                  const float *qkv, const float *probs,
                                                  const uint8_t *keep, float keep_scale,
                                                  const size_t *seq_offsets, size_t n_seq,
                                                  size_t n_heads, size_t head_dim, float scale,
                                                  size_t rel_max_len);

/* The forward side of attention dropout: recompute the attention output from
 * the saved probabilities with the dropout mask applied,
 *     out[t, head h] = sum_j P[i,j] * (keep[i,j] ? keep_scale : 0) * v_j
 * out: [T, H] (overwritten); probs, keep: as above; qkv: [T, 3H].
 * Call it after sbert_attention_forward(..., probs, ...) in training mode.
 * Fails only on out-of-memory. */
sbert_status sbert_attention_dropout_output(float *out, const float *probs, const uint8_t *keep,
                                            float keep_scale, const float *qkv,
                                            const size_t *seq_offsets, size_t n_seq,
                                            size_t n_heads, size_t head_dim);

#endif
