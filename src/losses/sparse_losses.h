/*
 * losses/sparse_losses.h -- the SparseEncoder losses (sentence-transformers
 * sparse_encoder/losses, st_formats.md B.3), on embeddings of any width,
 * returning the loss and ACCUMULATING (+=) its gradient w.r.t. the
 * embeddings (NULL gradient pointers: value only). Internally in double.
 *
 *   FlopsLoss              FLOPS(E) = sum_j (mean_i E_ij)^2 over the rows of E
 *                          (rows with at most `threshold` non-zeros zeroed first
 *                          when threshold >= 0)
 *   SparseMarginMSELoss    mean_ij ((sim(q_i, p_i) - sim(q_i, n_ji)) - label_ij)^2
 *   SparseCosineSimilarityLoss  mean((cos(u_i, v_i) - label_i)^2)
 *   SparseAnglELoss        CoSENT on |cos + sin| "angle" similarities
 * SparseMultipleNegativesRankingLoss, SparseTripletLoss and SparseCoSENTLoss
 * are MNRL (scale 1, dot), TripletLoss and CoSENTLoss of losses.h with the
 * sparse defaults; SparseMSELoss and SparseDistillKLDivLoss are MSELoss and
 * DistillKLDivLoss of losses/distillation.c (loss_table.c), as in Python
 * where they subclass them. SpladeLoss = a base loss + FLOPS of the
 * documents (columns 1..) * w_d + FLOPS of the queries (column 0) * w_q.
 */
#ifndef SBERT_LOSSES_SPARSE_LOSSES_H
#define SBERT_LOSSES_SPARSE_LOSSES_H

#include <stddef.h>
#include <stdint.h>

#include "losses/losses.h"
#include "sbert.h"

/* FLOPS over the rows of several blocks laid end to end (cols[c] [B, dim],
 * c in [0, n)): value * weight is returned, weight * dFLOPS accumulated into
 * grads[c] (NULL: none). threshold < 0: none. */
double sbert_loss_flops(const float *const *cols, float *const *grads, size_t n, size_t B, size_t dim,
                        double threshold, double weight);

/* Pairwise similarity used by MarginMSE / DistillKLDiv: dot or cosine. */
typedef enum { SBERT_PAIR_DOT = 0, SBERT_PAIR_COS = 1 } sbert_pair_sim;

/* cols: q, p, n_1..n_J (n_cols = J + 2 >= 3); labels [B, label_w] with
 * label_w == J (margins) or J + 1 (scores: label[:, 0] - label[:, 1:]). */
sbert_status sbert_sparse_loss_margin_mse(const float *const *cols, size_t n_cols, size_t B, size_t dim,
                                   const float *labels, size_t label_w, sbert_pair_sim sim, float *const *grads,
                                   double *loss);

sbert_status sbert_sparse_loss_cosine_similarity(const float *u, const float *v, const float *labels, size_t B, size_t dim,
                                          float *gu, float *gv, double *loss);

sbert_status sbert_sparse_loss_angle(const float *u, const float *v, const float *labels, size_t B, size_t dim, double scale,
                              float *gu, float *gv, double *loss);

/* The regularizer weight at `step` (0-based optimizer step about to run)
 * of `total` steps, as SpladeRegularizerWeightSchedulerCallback sets it:
 * w_max * (step / warmup)^2 (linear: step / warmup) while step < warmup =
 * max(1, int(total * ratio)); w_max after (and when total is 0). */
double sbert_splade_weight(double w_max, int64_t step, int64_t total, double ratio, int quadratic);

#endif
