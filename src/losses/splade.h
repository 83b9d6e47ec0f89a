/*
 * losses/splade.h -- the loss-table adapters of the SparseEncoder losses
 * (splade.c): SpladeLoss / CachedSpladeLoss around a base loss, and the
 * base losses themselves.
 */
#ifndef SBERT_LOSSES_SPLADE_H
#define SBERT_LOSSES_SPLADE_H

#include "losses/loss.h"

sbert_status sbert_loss_splade(const sbert_loss_batch *b, double *loss);
/* FlopsLoss chosen as the loss: the Python error (it is SpladeLoss's regularizer). */
sbert_status sbert_loss_flops_standalone(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_sparse_mnrl_adapter(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_sparse_margin_mse_adapter(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_sparse_triplet_adapter(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_sparse_cosent_adapter(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_sparse_angle_adapter(const sbert_loss_batch *b, double *loss);
sbert_status sbert_loss_sparse_cosine_adapter(const sbert_loss_batch *b, double *loss);

#endif
