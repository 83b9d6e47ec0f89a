/*
 * kernels/attention.h -- multi-head self-attention over packed sequences.
 *
 * The batch is T tokens laid end to end: sequence s is rows
 * seq_offsets[s] .. seq_offsets[s+1]-1 (seq_offsets: [n_seq + 1], offsets[0] = 0).
 * Each token attends only to the tokens of its own sequence, so there is no
 * padding and no mask. Per (sequence, head):
 *     scores[i,j] = q_i . k_j * scale  (+ rel_bias[h, j - i])
 *     P = softmax_j(scores);   out_i = sum_j P[i,j] v_j
 * The (sequence, head) pairs are spread over the sbert thread pool; each pair
 * is computed on its calling thread: plain loops for short sequences,
 * single-threaded sgemm calls for long ones.
 */
#ifndef SBERT_KERNELS_ATTENTION_H
#define SBERT_KERNELS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

/* Number of floats that the saved probabilities take: sum_s n_heads * L_s^2.
 * Layout: sequence s, then head h, then [L_s, L_s] row-major. */
/* Cumulative cost of the (sequence, head) work items in their order
 * (item = s * n_heads + h, cost L * (L + 1)): n_seq * n_heads + 1 entries,
 * for sbert_parallel_for_cost. malloc'd; NULL when out of memory. */
size_t *sbert_attention_item_costs(const size_t *seq_offsets, size_t n_seq, size_t n_heads);

/* Offset of each sequence's probabilities in the packed [np] buffer
 * (sequence s starts at the sum of n_heads * L^2 over the sequences before
 * it): n_seq entries, malloc'd; NULL when out of memory. */
size_t *sbert_attention_probs_base(const size_t *seq_offsets, size_t n_seq, size_t n_heads);

size_t sbert_attention_probs_size(const size_t *seq_offsets, size_t n_seq, size_t n_heads);

/* qkv: [T, 3*H] with H = n_heads * head_dim; row t = q (H) | k (H) | v (H), head h
 *      using columns h*head_dim .. (h+1)*head_dim-1 of each part.
 * out: [T, H], head h written to columns h*head_dim...
 * probs: NULL, or [sbert_attention_probs_size(...)] to keep the softmax output
 *      (for the backward).
 * rel_bias: NULL, or [n_heads, 2*rel_max_len - 1]: the bias added to
 *      scores[i,j] is rel_bias[h*(2*rel_max_len-1) + (j - i + rel_max_len - 1)];
 *      every sequence must then be at most rel_max_len long.
 * scale: usually 1/sqrt(head_dim).
 * Fails only on out-of-memory for the per-thread scratch (SBERT_ERR_NOMEM). */
sbert_status sbert_attention_forward(float *out, float *probs, const float *qkv,
                                     const size_t *seq_offsets, size_t n_seq, size_t n_heads,
                                     size_t head_dim, float scale, const float *rel_bias,
                                     size_t rel_max_len);

/* The same; causal != 0 masks the future as a decoder (BertLMHeadModel with
 * is_decoder) does: token i of a sequence attends to tokens 0..i of it only
 * (P[i, j > i] = 0 exactly, so sbert_attention_backward applies unchanged). */
sbert_status sbert_attention_forward_causal(float *out, float *probs, const float *qkv,
                                            const size_t *seq_offsets, size_t n_seq, size_t n_heads,
                                            size_t head_dim, float scale, const float *rel_bias,
                                            size_t rel_max_len, int causal);

/* Only the probabilities of sbert_attention_forward (probs required, no
 * output): for training with attention dropout, where the output is
 * sbert_attention_dropout_output's. Same probabilities, bit for bit. */
sbert_status sbert_attention_probs(float *probs, const float *qkv, const size_t *seq_offsets, size_t n_seq,
                                   size_t n_heads, size_t head_dim, float scale, const float *rel_bias,
                                   size_t rel_max_len);

/* The attention kernels here and in attention_backward.c have an AVX-512
 * copy, used where the CPU has AVX-512F (sbert_attention_avx512() says
 * whether it is in use), and portable ones. sbert_attention_avx512_cap(0)
 * keeps them to the portable copies, (1) allows AVX-512 again (the
 * default); returns the previous setting. For tests and benchmarks that
 * compare the copies; not to be called while attention runs on another
 * thread. */
int sbert_attention_avx512_cap(int allow);

/* Software prefetch of columns col .. col+n-1 of rows t0 .. t0+L-1 of a
 * row-major float matrix with rows ld apart (write: for writing). The
 * kernels call it for the next (sequence, head) item while working on one:
 * an item's rows are far apart, which the hardware prefetchers do not
 * follow. */
static inline void sbert_att_prefetch(const float *m, size_t ld, size_t t0, size_t L, size_t col, size_t n,
                                      int write) {
    for (size_t r = 0; r < L; r++) {
        const char *a = (const char *)(m + (t0 + r) * ld + col), *e = a + n * sizeof(float);
        for (const char *p = (const char *)((uintptr_t)a & ~(uintptr_t)63); p < e; p += 64) {
            if (write) __builtin_prefetch(p, 1, 3);
            else __builtin_prefetch(p, 0, 3);
        }
    }
}
int sbert_attention_avx512(void);

#endif
