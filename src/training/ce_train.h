/*
 * training/ce_train.h -- training a CrossEncoder (train_step_cross.c): the
 * checks a recipe gets before any work (num_labels against the loss, the
 * Sigmoid trap of distillation / listwise / pairwise losses, the shape of
 * every row: list lengths, margins, class ids) and one micro-batch: the
 * (query, passage) pairs the loss needs, laid out as sentence-transformers
 * lays them out, their logits from one training forward of the model (or,
 * for more pairs than one forward takes, gradient-cached chunks), the loss
 * from the loss table and its gradient back through the model.
 *
 * The trainer owns one of these per run (sbert_trainer.cross); tests drive
 * it directly with fixed batches.
 */
#ifndef SBERT_TRAINING_CE_TRAIN_H
#define SBERT_TRAINING_CE_TRAIN_H

#include <stddef.h>

#include "base/rng.h"
#include "data/dataset.h"
#include "losses/loss.h"
#include "models/model.h"

typedef struct sbert_ce_train sbert_ce_train;

typedef struct {
    const sbert_loss_def *def;       /* a CrossEncoder row of the loss table */
    const sbert_loss_values *values; /* its parameters */
    size_t default_chunk;            /* pairs per forward when the loss has no mini_batch_size (0: all) */
    int allow_activation_mismatch;   /* 1: a ranking loss may train a model whose activation is not Identity */
    const char *origin;              /* where the loss was chosen, for messages ("recipe.yaml:3") */
} sbert_ce_train_config;

/* Check model, loss and data together and keep what the steps need. The
 * dataset must outlive the handle. Messages name the file and line of a bad
 * row, or both the loss and num_labels. */
sbert_status sbert_ce_train_prepare(sbert_model *m, const sbert_dataset *ds, const sbert_ce_train_config *cfg,
                                    sbert_ce_train **out);
void sbert_ce_train_free(sbert_ce_train *c);
/* A line for the run log about what prepare resolved ("pos_weight auto = 4.9 (...)"), or "". */
const char *sbert_ce_train_note(const sbert_ce_train *c);

/* One micro-batch of dataset rows [B]: loss into *loss, parameter gradients
 * (scaled by loss_weight) accumulated in the model's table. rng: dropout
 * masks and the in-batch negatives MultipleNegativesRankingLoss samples. */
sbert_status sbert_ce_train_step(sbert_ce_train *c, const size_t *rows, size_t B, double loss_weight, sbert_rng *rng,
                                 double *loss);

#endif
