/*
 * losses/st_losses.h -- the SentenceTransformer losses added through the
 * loss table (loss.h) that take an sbert_loss_batch directly, with the
 * checks and state functions the table rows point to. One file per family:
 *   cosine_similarity.c  CosineSimilarityLoss
 *   angle.c              AnglELoss
 *   contrastive_distance.c  ContrastiveLoss, OnlineContrastiveLoss
 *   batch_triplet.c      BatchAll/BatchHard/BatchSemiHard/BatchHardSoftMargin TripletLoss
 *   distillation.c       MSELoss, MarginMSELoss, DistillKLDivLoss
 *   mega_batch_margin.c  MegaBatchMarginLoss
 *   gor.c                GlobalOrthogonalRegularizationLoss
 *   gist.c               GISTEmbedLoss, CachedGISTEmbedLoss
 *   contrastive_tension.c  ContrastiveTensionLoss(+InBatchNegatives)
 *   softmax_loss.c       SoftmaxLoss
 *   matryoshka.c, loss_spec.c  the wrappers
 * Parameter positions (LU_P(b, i)) follow each row's parameter list in
 * loss_table.c.
 */
#ifndef SBERT_LOSSES_ST_LOSSES_H
#define SBERT_LOSSES_ST_LOSSES_H

#include "losses/loss.h"

sbert_status sbert_loss_cosine_similarity(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_angle(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_contrastive(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_online_contrastive(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_batch_all_triplet(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_batch_hard_triplet(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_batch_semi_hard_triplet(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_batch_hard_soft_margin_triplet(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_mse(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_margin_mse(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_distill_kl(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_mega_batch_margin(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_gor(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_gist(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_contrastive_tension(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_contrastive_tension_inbatch(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_softmax(const sbert_loss_batch *b, double *loss);

const char *sbert_loss_mse_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w, size_t dim);
const char *sbert_loss_margin_mse_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w,
                                        size_t dim);
const char *sbert_loss_distill_kl_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w,
                                        size_t dim);
const char *sbert_loss_softmax_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w,
                                     size_t dim);

size_t sbert_loss_ct_inbatch_state_size(const sbert_loss_values *v, size_t dim, size_t n_labels);
sbert_status sbert_loss_ct_inbatch_state_init(const sbert_loss_values *v, size_t dim, size_t n_labels, sbert_rng *rng,
                                              float *data, sbert_param_table *t);
size_t sbert_loss_softmax_state_size(const sbert_loss_values *v, size_t dim, size_t n_labels);
sbert_status sbert_loss_softmax_state_init(const sbert_loss_values *v, size_t dim, size_t n_labels, sbert_rng *rng,
                                           float *data, sbert_param_table *t);
/* SoftmaxLoss's logits [B, num_labels] for the pairs (u, w) [B, D]
 * (LabelAccuracyEvaluator). */
sbert_status sbert_loss_softmax_logits(const sbert_loss_values *v, const sbert_param_table *state, const float *u,
                                       const float *w, size_t B, size_t D, double *logits);

#endif
