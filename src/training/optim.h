/*
 * training/optim.h -- AdamW (torch semantics, decoupled weight decay), the
 * Hugging Face learning-rate schedules, and global-norm gradient clipping.
 *
 * Parameters, gradients and the two moment buffers are flat fp32 arrays
 * (DESIGN.md); `segments` say which ranges get weight decay (biases and
 * LayerNorm weights do not, as transformers' get_decay_parameter_names).
 */
#ifndef SBERT_TRAINING_OPTIM_H
#define SBERT_TRAINING_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef struct {
    double beta1, beta2, eps, weight_decay; /* HF defaults: 0.9, 0.999, 1e-8, 0.0 */
} sbert_adamw_config;

sbert_adamw_config sbert_adamw_config_default(void);

/* A contiguous range of the flat parameter buffer and whether it decays.
 * A segment of rows (an embedding table) may carry `live`, one flag per row
 * of row_dim elements (size a multiple of row_dim), under the invariant
 * live[r] == 0 => every moment of row r is exactly 0. Such a row whose
 * gradient is all zero gets exactly what the full update computes -- m and v
 * stay 0, and p moves by -step * (0 / eps) = 0 -- so only p * (1 - lr*wd) is
 * applied and m, v (and the zero gradient) are not touched: the vocabulary
 * rows no batch has used yet cost a third of the memory traffic. A row whose
 * gradient is not all zero is marked live and updated in full from then on.
 * live == NULL: every element is updated in full. */
typedef struct {
    size_t offset, size;
    int decay;
    size_t row_dim;
    unsigned char *live;
} sbert_param_segment;

typedef struct {
    size_t n;
    float *m, *v; /* [n] first and second moments */
    int64_t step; /* optimizer steps taken */
} sbert_adamw_state;

sbert_status sbert_adamw_init(sbert_adamw_state *s, size_t n);
void sbert_adamw_free(sbert_adamw_state *s);

/* One AdamW step at learning rate `lr` over params [n] with grads [n]:
 *   p <- p * (1 - lr*wd)                        (decay segments only)
 *   m <- m + (1-b1) (g - m);  v <- b2 v + (1-b2) g^2
 *   p <- p - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * Ranges not covered by a segment are not updated (frozen). */
void sbert_adamw_step(sbert_adamw_state *s, const sbert_adamw_config *cfg, double lr, float *params,
                      const float *grads, const sbert_param_segment *segs, size_t n_segs);

/* The same step with the gradient clipping and zeroing folded in: every
 * gradient is read as grads[i] * grad_scale (the clip coefficient, 1 for none:
 * the same bits as scaling the buffer first), and set to 0 afterwards when
 * zero_grads is nonzero. Both functions run over the thread pool; results do
 * not depend on the thread count. */
void sbert_adamw_step_fused(sbert_adamw_state *s, const sbert_adamw_config *cfg, double lr,
                            float *params, float *grads, float grad_scale, int zero_grads,
                            const sbert_param_segment *segs, size_t n_segs);

/* Sum of squares of grads [n] in double: fixed blocks of 4096 summed in
 * order, so the value does not depend on the thread count. */
double sbert_grad_sumsq(const float *grads, size_t n);
/* Global L2 norm of grads [n]: sqrt(sbert_grad_sumsq). */
double sbert_grad_norm(const float *grads, size_t n);
/* torch clip_grad_norm_: scale grads by min(1, max_norm / (norm + 1e-6)).
 * Returns the norm before clipping. max_norm <= 0 disables clipping. */
double sbert_clip_grad_norm(float *grads, size_t n, double max_norm);

typedef enum {
    SBERT_SCHED_LINEAR = 0,
    SBERT_SCHED_COSINE,
    SBERT_SCHED_CONSTANT,
    SBERT_SCHED_CONSTANT_WITH_WARMUP
} sbert_lr_scheduler_type;

/* Parse "linear", "cosine", "constant", "constant_with_warmup". */
sbert_status sbert_lr_scheduler_parse(const char *name, sbert_lr_scheduler_type *out);
/* The LambdaLR factor for scheduler step `step` (0 for the first update). */
double sbert_lr_lambda(sbert_lr_scheduler_type type, int64_t step, int64_t warmup_steps,
                       int64_t total_steps);
/* warmup_steps given as a count (>= 1) or a fraction in [0, 1) of total. */
int64_t sbert_warmup_steps(double warmup, int64_t total_steps);

#endif
